//! Certificate profiles and the one place certificates get signed.
//!
//! Three kinds, one type each: [`RootCa`] (self-signed trust anchor, e.g. an ISO/IEC 18013-5
//! IACA), [`Issued`] (an end-entity or sub-CA certificate signed by a CA certificate we hold,
//! e.g. a Document Signer), and [`Generic`] (the free-form certificate of the walt.id API).
//! Each is built from a plain-data spec, validated up front, and implements x509-cert's
//! `BuilderProfile`. All extensions, SKI and AKI included, are computed before signing, since
//! both keys are known by then.

use der::referenced::OwnedToRef;
use spki::SignatureBitStringEncoding;
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, IssuerAltName, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

use super::cert::{ParsedCertificate, public_key_of, reparse};
use super::error::{X509Error, enc};
use super::ext::{
    AltNames, ExtensionView, KeyUsageName, check_ec_key_usage, crl_distribution_points, extension,
    key_usage_flags, parse_oids,
};
use super::name::{DnFields, StringEncoding};
use super::serial::random_serial;
use super::validity::validity;
use crate::crypto::{DigestSigner, KeySigner, PublicKey, SignatureAlgorithm};

/// Default lifetime of a [`Generic`] certificate when the caller gives no notAfter.
pub const GENERIC_DEFAULT_DAYS: i64 = 365;

/// A self-signed CA certificate.
#[derive(Debug, Clone)]
pub struct RootCaSpec {
    pub subject: DnFields,
    pub string_encoding: StringEncoding,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// basicConstraints pathLenConstraint; ISO/IEC 18013-5 Table B.1 sets 0 for an IACA.
    pub path_len: Option<u8>,
    /// Add digitalSignature to keyCertSign + cRLSign (for a CA that also signs OCSP etc.).
    pub digital_signature: bool,
    /// ISO/IEC 18013-5 B.1.2 requires issuerAltName (an e-mail or URI) in an IACA.
    pub issuer_alt_names: Option<AltNames>,
    pub crl_distribution_point_uri: Option<String>,
}

/// What an [`Issued`] certificate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuedKind {
    /// basicConstraints cA=FALSE.
    EndEntity,
    /// basicConstraints cA=TRUE with an optional pathLenConstraint.
    SubCa { path_len: Option<u8> },
}

/// A certificate signed by a CA whose certificate we hold.
#[derive(Debug, Clone)]
pub struct IssuedSpec {
    pub subject: DnFields,
    pub string_encoding: StringEncoding,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub kind: IssuedKind,
    /// Must not be empty; must include KeyCertSign exactly when `kind` is a CA.
    pub key_usage: Vec<KeyUsageName>,
    /// Dotted OIDs, e.g. `1.0.18013.5.1.2` (mdlDS). Empty: no extension.
    pub extended_key_usage: Vec<String>,
    /// ISO/IEC 18013-5 Table B.3 marks the Document Signer's extKeyUsage critical.
    pub extended_key_usage_critical: bool,
    pub subject_alt_names: Option<AltNames>,
    pub issuer_alt_names: Option<AltNames>,
    pub crl_distribution_point_uri: Option<String>,
}

/// The walt.id "generic certificate": every knob exposed, self-signed or CA-signed.
#[derive(Debug, Clone, Default)]
pub struct GenericSpec {
    pub subject_name: DnFields,
    /// Defaults to the subject (self-signed) or the issuer certificate's subject.
    pub issuer_name: Option<DnFields>,
    pub string_encoding: StringEncoding,
    /// Default: `now`.
    pub not_before: Option<OffsetDateTime>,
    /// Default: notBefore + 365 days.
    pub not_after: Option<OffsetDateTime>,
    pub is_certificate_authority: bool,
    /// Only valid when `is_certificate_authority`.
    pub path_length_constraint: Option<u8>,
    /// API names: DigitalSignature, NonRepudiation/ContentCommitment, KeyEncipherment, ...
    pub key_usage: Vec<String>,
    pub extended_key_usage_oids: Vec<String>,
    pub subject_alternative_names: Option<AltNames>,
    pub crl_distribution_point_uri: Option<String>,
}

/// Who signs a [`Generic`] certificate.
pub struct IssuerSpec<'a, K: DigestSigner> {
    /// The signing key (a token key in production).
    pub key: &'a K,
    /// The issuer's certificate; `None` for a self-signed certificate.
    pub certificate: Option<&'a Certificate>,
    /// Default: the key's default (`KeyAlgorithm::default_signature`); e.g. RSA-PSS here.
    pub signature_algorithm: Option<SignatureAlgorithm>,
}

/// Names and extensions of a certificate, validated and ready to sign.
#[derive(Debug, Clone)]
struct Plan {
    subject: Name,
    issuer: Name,
    extensions: Vec<Extension>,
}

macro_rules! profile_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone)]
        pub struct $name {
            plan: Plan,
        }

        impl BuilderProfile for $name {
            fn get_issuer(&self, _subject: &Name) -> Name {
                self.plan.issuer.clone()
            }

            fn get_subject(&self) -> Name {
                self.plan.subject.clone()
            }

            fn build_extensions(
                &self,
                _spk: spki::SubjectPublicKeyInfoRef<'_>,
                _issuer_spk: spki::SubjectPublicKeyInfoRef<'_>,
                _tbs: &TbsCertificate,
            ) -> x509_cert::builder::Result<Vec<Extension>> {
                Ok(self.plan.extensions.clone())
            }
        }
    };
}

profile_type!(
    /// Self-signed CA: basicConstraints cA (critical), keyUsage keyCertSign+cRLSign
    /// (critical), SKI, AKI = SKI, optional issuerAltName and cRLDistributionPoints.
    RootCa
);
profile_type!(
    /// CA-signed end entity or sub-CA: issuer = the CA certificate's subject, AKI = the CA's
    /// SKI, basicConstraints and keyUsage critical, optional EKU/SAN/IAN/CRL DP.
    Issued
);
profile_type!(
    /// The walt.id generic certificate, self-signed or CA-signed.
    Generic
);

/// RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING contents.
pub fn key_identifier(key: &PublicKey) -> Result<Vec<u8>, X509Error> {
    let ski = SubjectKeyIdentifier::try_from(key.spki().owned_to_ref()).map_err(enc)?;
    Ok(ski.0.as_bytes().to_vec())
}

/// The keyIdentifier an issued certificate's AKI must carry: the issuer certificate's own SKI
/// when it has one (RFC 5280 4.2.1.1: "the value of the keyIdentifier field ... SHOULD be
/// derived from ... the subject key identifier of the issuer's certificate"), else computed.
pub fn issuer_key_identifier(issuer: &Certificate) -> Result<Vec<u8>, X509Error> {
    let exts = issuer
        .tbs_certificate()
        .extensions()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    match ExtensionView(exts).subject_key_identifier()? {
        Some(ski) => Ok(ski),
        None => key_identifier(&public_key_of(issuer)?),
    }
}

/// Extensions in a stable order; `None` entries are skipped.
#[derive(Default)]
struct ExtSet {
    basic: Option<BasicConstraints>,
    key_usage: Option<KeyUsage>,
    eku: Option<(bool, ExtendedKeyUsage)>,
    ski: Option<Vec<u8>>,
    aki: Option<Vec<u8>>,
    san: Option<SubjectAltName>,
    ian: Option<IssuerAltName>,
    crl_dp: Option<x509_cert::ext::pkix::CrlDistributionPoints>,
}

impl ExtSet {
    fn into_extensions(self) -> Result<Vec<Extension>, X509Error> {
        let mut out = Vec::new();
        // RFC 5280 4.2.1.9: basicConstraints MUST be critical in CA certificates; marking it
        // critical in end-entity ones too is allowed ("MAY appear as critical").
        if let Some(b) = &self.basic {
            out.push(extension(true, b)?);
        }
        // RFC 5280 4.2.1.3: "conforming CAs SHOULD mark this extension as critical".
        if let Some(k) = &self.key_usage {
            out.push(extension(true, k)?);
        }
        if let Some((critical, e)) = &self.eku {
            out.push(extension(*critical, e)?);
        }
        // RFC 5280 4.2.1.1 / 4.2.1.2: SKI and AKI "MUST be marked as non-critical".
        if let Some(ski) = self.ski {
            let v = SubjectKeyIdentifier(der::asn1::OctetString::new(ski).map_err(enc)?);
            out.push(extension(false, &v)?);
        }
        if let Some(aki) = self.aki {
            let v = AuthorityKeyIdentifier {
                key_identifier: Some(der::asn1::OctetString::new(aki).map_err(enc)?),
                ..Default::default()
            };
            out.push(extension(false, &v)?);
        }
        // RFC 5280 4.2.1.6: with a non-empty subject, "conforming CAs SHOULD mark the
        // subjectAltName extension as non-critical" (subjects are never empty here).
        if let Some(s) = &self.san {
            out.push(extension(false, s)?);
        }
        // RFC 5280 4.2.1.7: issuerAltName "SHOULD NOT be marked critical".
        if let Some(i) = &self.ian {
            out.push(extension(false, i)?);
        }
        // RFC 5280 4.2.1.13: "SHOULD be non-critical".
        if let Some(c) = &self.crl_dp {
            out.push(extension(false, c)?);
        }
        Ok(out)
    }
}

fn subject_name(fields: &DnFields, enc: StringEncoding, field: &str) -> Result<Name, X509Error> {
    // RFC 5280 4.1.2.6: an empty subject is only allowed with a critical subjectAltName;
    // this daemon always names its subjects.
    if fields.is_empty() {
        return Err(X509Error::invalid(
            field,
            "must contain at least one attribute",
        ));
    }
    fields.to_name(enc, field)
}

fn alt_names(
    names: &Option<AltNames>,
    field: &str,
) -> Result<Option<Vec<x509_cert::ext::pkix::name::GeneralName>>, X509Error> {
    match names {
        Some(n) if !n.is_empty() => Ok(Some(n.to_general_names(field)?)),
        _ => Ok(None),
    }
}

fn crl_dp(
    uri: &Option<String>,
    field: &str,
) -> Result<Option<x509_cert::ext::pkix::CrlDistributionPoints>, X509Error> {
    uri.as_deref()
        .map(|u| crl_distribution_points(u, field))
        .transpose()
}

/// RFC 5280 4.2.1.9: "If the cA boolean is not asserted, then the keyCertSign bit in the key
/// usage extension MUST NOT be asserted."
fn check_ca_key_usage(
    ca: bool,
    flags: der::flagset::FlagSet<KeyUsages>,
    field: &str,
) -> Result<(), X509Error> {
    if !ca && flags.contains(KeyUsages::KeyCertSign) {
        return Err(X509Error::invalid(
            field,
            "KeyCertSign requires a CA certificate (RFC 5280 4.2.1.9)",
        ));
    }
    // RFC 5280 4.2.1.3: CAs "MUST include this extension in certificates that contain public
    // keys that are used to validate digital signatures on other public key certificates or
    // CRLs".
    if ca && flags.is_empty() {
        return Err(X509Error::invalid(
            field,
            "a CA certificate needs a key usage (e.g. KeyCertSign, CRLSign)",
        ));
    }
    Ok(())
}

/// The issuer certificate must be a CA allowed to sign certificates, and `issuer_key` must be
/// the key it certifies (a wrong token handle is caught here, before anything is signed).
fn check_issuer(
    issuer: &Certificate,
    issuer_key: &PublicKey,
    child_path_len: Option<Option<u8>>,
) -> Result<(), X509Error> {
    let exts = issuer
        .tbs_certificate()
        .extensions()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let view = ExtensionView(exts);
    let bc = view.basic_constraints()?;
    let Some(bc) = bc.filter(|b| b.value.ca) else {
        return Err(X509Error::invalid(
            "issuer",
            "the issuer certificate is not a CA certificate (basicConstraints cA)",
        ));
    };
    if let Some(ku) = view.key_usage()?
        && !ku.value.contains(&KeyUsageName::KeyCertSign)
    {
        return Err(X509Error::invalid(
            "issuer",
            "the issuer certificate's key usage lacks KeyCertSign",
        ));
    }
    // RFC 5280 4.2.1.9: pathLenConstraint "gives the maximum number of non-self-issued
    // intermediate certificates that may follow this certificate in a valid certification
    // path".
    if let (Some(child), Some(max)) = (child_path_len, bc.value.path_len_constraint) {
        if max == 0 {
            return Err(X509Error::invalid(
                "issuer",
                "the issuer's pathLenConstraint is 0: it cannot issue CA certificates",
            ));
        }
        if child.is_none_or(|c| c >= max) {
            return Err(X509Error::invalid(
                "pathLengthConstraint",
                format!("must be below the issuer's pathLenConstraint ({max})"),
            ));
        }
    }
    let certified = public_key_of(issuer)?;
    if certified.to_spki_der() != issuer_key.to_spki_der() {
        return Err(X509Error::invalid(
            "issuer",
            "the signing key is not the key of the issuer certificate",
        ));
    }
    Ok(())
}

impl RootCa {
    pub fn new(spec: &RootCaSpec, key: &PublicKey) -> Result<Self, X509Error> {
        let subject = subject_name(&spec.subject, spec.string_encoding, "subjectName")?;
        let mut ku = KeyUsages::KeyCertSign | KeyUsages::CRLSign;
        if spec.digital_signature {
            ku |= KeyUsages::DigitalSignature;
        }
        let ski = key_identifier(key)?;
        let exts = ExtSet {
            basic: Some(BasicConstraints {
                ca: true,
                path_len_constraint: spec.path_len,
            }),
            key_usage: Some(KeyUsage(ku)),
            // RFC 5280 4.2.1.1 lets a self-signed certificate omit AKI; CA/B BR 7.1.2.1.3
            // RECOMMENDS it equal to the SKI, as x509-cert's cabf::Root does and as the
            // ISO/IEC 18013-5 reference IACAs carry it.
            aki: Some(ski.clone()),
            ski: Some(ski),
            ian: alt_names(&spec.issuer_alt_names, "issuerAlternativeNames")?.map(IssuerAltName),
            crl_dp: crl_dp(&spec.crl_distribution_point_uri, "crlDistributionPointUri")?,
            ..Default::default()
        };
        Ok(RootCa {
            plan: Plan {
                issuer: subject.clone(),
                subject,
                extensions: exts.into_extensions()?,
            },
        })
    }
}

impl Issued {
    pub fn new(
        spec: &IssuedSpec,
        subject_key: &PublicKey,
        issuer: &Certificate,
    ) -> Result<Self, X509Error> {
        let subject = subject_name(&spec.subject, spec.string_encoding, "subjectName")?;
        let (ca, path_len) = match spec.kind {
            IssuedKind::EndEntity => (false, None),
            IssuedKind::SubCa { path_len } => (true, path_len),
        };
        let flags = key_usage_flags(&spec.key_usage, "keyUsage")?;
        if flags.is_empty() {
            return Err(X509Error::invalid(
                "keyUsage",
                "must name at least one usage",
            ));
        }
        check_ca_key_usage(ca, flags, "keyUsage")?;
        if subject_key.algorithm().is_ec() {
            check_ec_key_usage(flags, "keyUsage")?;
        }
        if ca && !flags.contains(KeyUsages::KeyCertSign) {
            return Err(X509Error::invalid(
                "keyUsage",
                "a sub-CA certificate must include KeyCertSign",
            ));
        }
        let eku = parse_oids(&spec.extended_key_usage, "extendedKeyUsage")?;
        let exts = ExtSet {
            basic: Some(BasicConstraints {
                ca,
                path_len_constraint: path_len,
            }),
            key_usage: Some(KeyUsage(flags)),
            eku: (!eku.is_empty())
                .then_some((spec.extended_key_usage_critical, ExtendedKeyUsage(eku))),
            ski: Some(key_identifier(subject_key)?),
            aki: Some(issuer_key_identifier(issuer)?),
            san: alt_names(&spec.subject_alt_names, "subjectAlternativeNames")?.map(SubjectAltName),
            ian: alt_names(&spec.issuer_alt_names, "issuerAlternativeNames")?.map(IssuerAltName),
            crl_dp: crl_dp(&spec.crl_distribution_point_uri, "crlDistributionPointUri")?,
        };
        Ok(Issued {
            plan: Plan {
                subject,
                // RFC 5280 4.1.2.4: the issuer field names the CA; byte-exact copy of the CA
                // certificate's subject so that path building matches it.
                issuer: issuer.tbs_certificate().subject().clone(),
                extensions: exts.into_extensions()?,
            },
        })
    }
}

impl Generic {
    /// `issuer`: the issuer certificate, or `None` when self-signed (then `subject_key` must
    /// be the signing key, `issuer_key`).
    pub fn new(
        spec: &GenericSpec,
        subject_key: &PublicKey,
        issuer_key: &PublicKey,
        issuer: Option<&Certificate>,
    ) -> Result<Self, X509Error> {
        let subject = subject_name(&spec.subject_name, spec.string_encoding, "subjectName")?;
        let ca = spec.is_certificate_authority;
        if spec.path_length_constraint.is_some() && !ca {
            return Err(X509Error::invalid(
                "pathLengthConstraint",
                "only allowed when isCertificateAuthority is true (RFC 5280 4.2.1.9)",
            ));
        }
        let usages = KeyUsageName::parse_list(&spec.key_usage, "keyUsage")?;
        let flags = key_usage_flags(&usages, "keyUsage")?;
        check_ca_key_usage(ca, flags, "keyUsage")?;
        if subject_key.algorithm().is_ec() {
            check_ec_key_usage(flags, "keyUsage")?;
        }
        let eku = parse_oids(&spec.extended_key_usage_oids, "extendedKeyUsageOids")?;
        let (issuer_name, aki) = match issuer {
            None => {
                if subject_key.to_spki_der() != issuer_key.to_spki_der() {
                    return Err(X509Error::invalid(
                        "issuer",
                        "a self-signed certificate must be signed with the subject's own key",
                    ));
                }
                let name = match &spec.issuer_name {
                    Some(f) => subject_name(f, spec.string_encoding, "issuerName")?,
                    None => subject.clone(),
                };
                (name, key_identifier(subject_key)?)
            }
            Some(cert) => {
                let actual = cert.tbs_certificate().subject();
                if let Some(f) = &spec.issuer_name
                    && DnFields::from_name(actual)? != *f
                {
                    return Err(X509Error::invalid(
                        "issuerName",
                        "must equal the issuer certificate's subject (RFC 5280 4.1.2.4)",
                    ));
                }
                (actual.clone(), issuer_key_identifier(cert)?)
            }
        };
        let exts = ExtSet {
            basic: Some(BasicConstraints {
                ca,
                path_len_constraint: spec.path_length_constraint,
            }),
            key_usage: (!flags.is_empty()).then_some(KeyUsage(flags)),
            eku: (!eku.is_empty()).then_some((false, ExtendedKeyUsage(eku))),
            ski: Some(key_identifier(subject_key)?),
            aki: Some(aki),
            san: alt_names(&spec.subject_alternative_names, "subjectAlternativeNames")?
                .map(SubjectAltName),
            ian: None,
            crl_dp: crl_dp(&spec.crl_distribution_point_uri, "crlDistributionPointUri")?,
        };
        Ok(Generic {
            plan: Plan {
                subject,
                issuer: issuer_name,
                extensions: exts.into_extensions()?,
            },
        })
    }
}

/// Sign a certificate for `subject_key` under `profile` with `issuer_key`, then parse the
/// result back and verify its signature with the issuer's public key (KeySigner already
/// verified the raw signature; this also covers the assembled DER).
pub fn sign_certificate<P: BuilderProfile, K: DigestSigner>(
    profile: P,
    serial: SerialNumber,
    validity: Validity,
    subject_key: &PublicKey,
    issuer_key: &K,
    signature_algorithm: Option<SignatureAlgorithm>,
) -> Result<ParsedCertificate, X509Error> {
    let signer = match signature_algorithm {
        Some(alg) => KeySigner::new(issuer_key, alg)?,
        None => KeySigner::with_default_algorithm(issuer_key),
    };
    let mut builder =
        CertificateBuilder::new(profile, serial, validity, subject_key.spki().clone())?;
    // `Builder::build` is finalize + try_sign + assemble; spelled out so that we keep the
    // exact bytes that were signed. `KeySigner::try_sign` verifies the token's signature over
    // them with the issuer's public key (ARCHITECTURE.md: every token signature is verified
    // in Rust before use). Verifying the reparsed certificate again would repeat that
    // elliptic-curve verification (the most expensive step of an issuance); instead the
    // reparsed certificate must carry byte for byte the verified tbsCertificate and
    // signature, which proves the same thing.
    let tbs = builder.finalize(&signer)?;
    let signature = signature::Signer::try_sign(&signer, &tbs).map_err(X509Error::Signing)?;
    let cert = builder.assemble(signature.to_bitstring().map_err(enc)?, &signer)?;
    let parsed = reparse(&cert)?;
    if !parsed.carries_signed(&tbs, signature.to_der()) {
        return Err(enc(
            "built certificate differs from the tbsCertificate and signature that were verified",
        ));
    }
    if !parsed.has_public_key(subject_key) {
        return Err(enc("built certificate does not carry the subject key"));
    }
    Ok(parsed)
}

/// Build and sign a self-signed CA certificate with `key`.
pub fn build_root_ca<K: DigestSigner>(
    spec: &RootCaSpec,
    key: &K,
    signature_algorithm: Option<SignatureAlgorithm>,
) -> Result<ParsedCertificate, X509Error> {
    let profile = RootCa::new(spec, key.public_key())?;
    let validity = validity(spec.not_before, spec.not_after)?;
    sign_certificate(
        profile,
        random_serial()?,
        validity,
        key.public_key(),
        key,
        signature_algorithm,
    )
}

/// Build a certificate for `subject_key`, signed by `issuer_key` whose certificate is
/// `issuer_cert`.
pub fn build_issued<K: DigestSigner>(
    spec: &IssuedSpec,
    subject_key: &PublicKey,
    issuer_key: &K,
    issuer_cert: &Certificate,
    signature_algorithm: Option<SignatureAlgorithm>,
) -> Result<ParsedCertificate, X509Error> {
    let child_path = match spec.kind {
        IssuedKind::EndEntity => None,
        IssuedKind::SubCa { path_len } => Some(path_len),
    };
    check_issuer(issuer_cert, issuer_key.public_key(), child_path)?;
    let profile = Issued::new(spec, subject_key, issuer_cert)?;
    let validity = validity(spec.not_before, spec.not_after)?;
    sign_certificate(
        profile,
        random_serial()?,
        validity,
        subject_key,
        issuer_key,
        signature_algorithm,
    )
}

/// Build a walt.id generic certificate. `now` fills in defaults for the validity window.
pub fn build_generic<K: DigestSigner>(
    spec: &GenericSpec,
    subject_key: &PublicKey,
    issuer: IssuerSpec<'_, K>,
    now: OffsetDateTime,
) -> Result<ParsedCertificate, X509Error> {
    if let Some(cert) = issuer.certificate {
        let child_path = spec
            .is_certificate_authority
            .then_some(spec.path_length_constraint);
        check_issuer(cert, issuer.key.public_key(), child_path)?;
    }
    let profile = Generic::new(
        spec,
        subject_key,
        issuer.key.public_key(),
        issuer.certificate,
    )?;
    let not_before = spec.not_before.unwrap_or(now);
    let not_after = spec
        .not_after
        .unwrap_or(not_before + time::Duration::days(GENERIC_DEFAULT_DAYS));
    let validity = validity(not_before, not_after)?;
    sign_certificate(
        profile,
        random_serial()?,
        validity,
        subject_key,
        issuer.key,
        issuer.signature_algorithm,
    )
}
