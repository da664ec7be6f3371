//! Checks on certificates a client uploads: an offline (unmanaged) root CA, and a signer
//! certificate the offline root issued for a CSR we made.
//!
//! Pure: the caller passes `now`. Each failed rule is an [`X509Error::Invalid`] whose field is
//! the request field (`certificatePem`) and whose rule names what is wrong, so the service can
//! answer a 400 that says which rule failed.

use const_oid::ObjectIdentifier;
use time::OffsetDateTime;
use x509_cert::certificate::Version;

use super::cert::ParsedCertificate;
use super::error::X509Error;
use super::ext::KeyUsageName;
use super::name::{DnFields, is_iso3166_alpha2};
use crate::crypto::PublicKey;

/// id-mdl-kp-mdlVICAL, ISO/IEC 18013-5 C.1.7.2 (extended key usage of a VICAL signer).
pub const VICAL_SIGNER_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.0.18013.5.1.8");

/// The ISO/IEC 18013-5 extended key usage arc (id-mdl-kp, C.1.7): mDL document signer, VICAL
/// signer, and so on. A wallet attestation signer is none of these.
pub const MDL_EKU_ARC: &str = "1.0.18013.5.1.";

/// The request field every rule below reports against.
pub const CERTIFICATE_FIELD: &str = "certificatePem";

/// RFC 5280 4.1.2.2: "Conforming CAs MUST NOT use serialNumber values longer than 20 octets."
pub const MAX_SERIAL_OCTETS: usize = 20;

/// Which signer profile an uploaded signer certificate must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignerProfile {
    /// ISO/IEC 18013-5 VICAL signer: digitalSignature and the VICAL EKU.
    Vical,
    /// Wallet attestation signer: digitalSignature and an EC key.
    WalletAttestation,
    /// Status list signer (draft-ietf-oauth-status-list, under an IACA): digitalSignature
    /// and an EC key (its tokens are COSE ES256/384/512), no mDL usage (it signs no mDL
    /// artefact). The draft's own EKU (id-kp-oauthStatusSigning) has no number yet.
    StatusList,
}

fn rule(msg: impl Into<String>) -> X509Error {
    X509Error::invalid(CERTIFICATE_FIELD, msg)
}

/// Parse exactly one PEM certificate (surrounding whitespace only).
pub fn parse_uploaded(pem: &str) -> Result<ParsedCertificate, X509Error> {
    ParsedCertificate::from_pem(pem.as_bytes()).map_err(|e| match e {
        X509Error::Invalid { rule: r, .. } => rule(r),
        other => rule(format!(
            "must be a single PEM-encoded X.509 certificate: {other}"
        )),
    })
}

/// The subject fields, reported against the upload field.
fn subject_of(cert: &ParsedCertificate) -> Result<DnFields, X509Error> {
    cert.subject()
        .map_err(|e| rule(format!("subject cannot be read: {e}")))
}

/// RFC 5280's SIZE (1..MAX) constraints on the extensions, which the decoder leaves to us.
fn check_extension_sizes(cert: &ParsedCertificate) -> Result<(), X509Error> {
    cert.ext().check_sizes().map_err(|e| match e {
        X509Error::Invalid { rule: r, .. } => rule(r),
        other => rule(other.to_string()),
    })
}

fn non_empty(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !s.trim().is_empty())
}

/// Check an offline root CA certificate: every rule of the upload contract, in the order a
/// human would fix them. Returns the parsed certificate.
pub fn check_uploaded_root(pem: &str, now: OffsetDateTime) -> Result<ParsedCertificate, X509Error> {
    let cert = parse_uploaded(pem)?;
    let tbs = cert.certificate().tbs_certificate();
    if tbs.version() != Version::V3 {
        return Err(rule("must be an X.509 v3 certificate"));
    }
    // RFC 5280 4.1.2.2: the serial "MUST be a positive integer" of at most 20 octets.
    let serial = tbs.serial_number().as_bytes();
    if serial.is_empty() || serial[0] & 0x80 != 0 || serial.iter().all(|b| *b == 0) {
        return Err(rule(
            "serialNumber must be a positive integer (RFC 5280 4.1.2.2)",
        ));
    }
    if serial.len() > MAX_SERIAL_OCTETS {
        return Err(rule(
            "serialNumber must be at most 20 octets (RFC 5280 4.1.2.2)",
        ));
    }
    if !cert.is_self_issued() {
        return Err(rule(
            "must be self-signed: issuer must equal subject (a root CA certificate)",
        ));
    }
    let key = cert
        .public_key()
        .map_err(|e| rule(format!("subject public key is not supported: {e}")))?;
    cert.verify_signed_by(&key)
        .map_err(|_| rule("self-signature does not verify with the certificate's own key"))?;
    cert.check_valid_at(now).map_err(|e| match e {
        X509Error::OutsideValidity(why) => rule(format!("must be currently valid ({why})")),
        other => rule(other.to_string()),
    })?;
    check_extension_sizes(&cert)?;
    let ext = cert.ext();
    let bc = ext
        .basic_constraints()
        .map_err(|e| rule(e.to_string()))?
        .map(|f| f.value.ca);
    if bc != Some(true) {
        return Err(rule(
            "must be a CA certificate: basicConstraints cA must be true (RFC 5280 4.2.1.9)",
        ));
    }
    let ku = ext
        .key_usage()
        .map_err(|e| rule(e.to_string()))?
        .map(|f| f.value)
        .unwrap_or_default();
    if !ku.contains(&KeyUsageName::KeyCertSign) {
        return Err(rule(
            "must be a CA certificate: keyUsage must include keyCertSign (RFC 5280 4.2.1.3)",
        ));
    }
    let subject = subject_of(&cert)?;
    match subject.country.as_deref() {
        Some(c) if is_iso3166_alpha2(c) => {}
        Some(_) => {
            return Err(rule(
                "subject countryName must be an ISO 3166-1 alpha-2 code",
            ));
        }
        None => return Err(rule("subject countryName (C) is required")),
    }
    if !non_empty(&subject.common_name) {
        return Err(rule(
            "subject commonName (CN) is required and must not be empty",
        ));
    }
    if !non_empty(&subject.organization) {
        return Err(rule(
            "subject organizationName (O) is required and must not be empty",
        ));
    }
    // ISO/IEC 18013-5 B.1.2 (IACA profile, followed for every root here): issuerAltName
    // carries a contact, an rfc822Name or a URI.
    let ian = ext
        .issuer_alt_names()
        .map_err(|e| rule(e.to_string()))?
        .map(|f| f.value)
        .unwrap_or_default();
    if ian.emails.is_empty() && ian.uris.is_empty() {
        return Err(rule(
            "issuerAltName with an email address or a URI is required (ISO/IEC 18013-5 B.1.2)",
        ));
    }
    if ext
        .subject_key_identifier()
        .map_err(|e| rule(e.to_string()))?
        .is_none()
    {
        return Err(rule(
            "subjectKeyIdentifier is required in a CA certificate (RFC 5280 4.2.1.2)",
        ));
    }
    Ok(cert)
}

/// Check a signer certificate issued by `root` for the key `signer_key` under `profile`.
pub fn check_signer_certificate(
    pem: &str,
    signer_key: &PublicKey,
    root: &ParsedCertificate,
    profile: SignerProfile,
    now: OffsetDateTime,
) -> Result<ParsedCertificate, X509Error> {
    let cert = parse_uploaded(pem)?;
    if !cert.has_public_key(signer_key) {
        return Err(rule(
            "does not carry this signer's public key (the key of its CSR)",
        ));
    }
    if cert.is_self_issued() {
        return Err(rule("must not be self-signed: the root CA issues it"));
    }
    let root_subject = root.certificate().tbs_certificate().subject();
    if cert.certificate().tbs_certificate().issuer() != root_subject {
        return Err(rule("issuer must be the root CA's subject"));
    }
    let root_key = root
        .public_key()
        .map_err(|e| rule(format!("root public key: {e}")))?;
    cert.verify_signed_by(&root_key)
        .map_err(|_| rule("signature does not verify with the root CA's public key"))?;
    cert.check_valid_at(now).map_err(|e| match e {
        X509Error::OutsideValidity(why) => rule(format!("must be currently valid ({why})")),
        other => rule(other.to_string()),
    })?;
    if cert.not_before() < root.not_before() || cert.not_after() > root.not_after() {
        return Err(rule("validity must lie within the root CA's validity"));
    }
    check_extension_sizes(&cert)?;
    let ext = cert.ext();
    if ext
        .basic_constraints()
        .map_err(|e| rule(e.to_string()))?
        .is_some_and(|f| f.value.ca)
    {
        return Err(rule(
            "must not be a CA certificate (basicConstraints cA must be false)",
        ));
    }
    let ku = ext
        .key_usage()
        .map_err(|e| rule(e.to_string()))?
        .map(|f| f.value)
        .unwrap_or_default();
    if !ku.contains(&KeyUsageName::DigitalSignature) {
        return Err(rule("keyUsage must include digitalSignature"));
    }
    if ku.contains(&KeyUsageName::KeyCertSign) {
        return Err(rule("keyUsage must not include keyCertSign"));
    }
    match profile {
        SignerProfile::Vical => {
            let eku = ext
                .extended_key_usage()
                .map_err(|e| rule(e.to_string()))?
                .map(|f| f.value)
                .unwrap_or_default();
            if !eku.contains(&VICAL_SIGNER_EKU) {
                return Err(rule(
                    "extendedKeyUsage must include 1.0.18013.5.1.8 \
                     (id-mdl-kp-mdlVICAL, ISO/IEC 18013-5 C.1.7.2)",
                ));
            }
        }
        SignerProfile::WalletAttestation | SignerProfile::StatusList => {
            let what = match profile {
                SignerProfile::StatusList => "a status list signer",
                _ => "a wallet attestation signer",
            };
            if !signer_key.algorithm().is_ec() {
                return Err(rule(format!("{what} must have an EC key")));
            }
            let eku = ext
                .extended_key_usage()
                .map_err(|e| rule(e.to_string()))?
                .map(|f| f.value)
                .unwrap_or_default();
            if let Some(oid) = eku.iter().find(|o| o.to_string().starts_with(MDL_EKU_ARC)) {
                return Err(rule(format!(
                    "extendedKeyUsage must not include the mDL usage {oid}: \
                     {what} signs no mDL artefact"
                )));
            }
        }
    }
    Ok(cert)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::DigestSigner;
    use crate::crypto::testkeys::SoftEcKey;
    use crate::x509::{
        AltNames, IssuedKind, IssuedSpec, RootCaSpec, StringEncoding, build_issued, build_root_ca,
    };
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2027-01-01 00:00:00 UTC);

    fn root_spec(ian: bool) -> RootCaSpec {
        RootCaSpec {
            subject: DnFields {
                common_name: Some("Offline Root".into()),
                country: Some("NZ".into()),
                organization: Some("Example Ltd".into()),
                ..Default::default()
            },
            string_encoding: StringEncoding::Printable,
            not_before: datetime!(2026-01-01 00:00:00 UTC),
            not_after: datetime!(2036-01-01 00:00:00 UTC),
            // No pathLenConstraint, so the test can also issue a (refused) CA certificate.
            path_len: None,
            digital_signature: false,
            issuer_alt_names: ian.then(|| AltNames {
                uris: vec!["https://example.com".into()],
                ..Default::default()
            }),
            crl_distribution_point_uri: None,
        }
    }

    fn signer_spec(eku: bool, kind: IssuedKind) -> IssuedSpec {
        IssuedSpec {
            subject: DnFields {
                common_name: Some("Example Ltd VICAL Signer".into()),
                country: Some("NZ".into()),
                organization: Some("Example Ltd".into()),
                ..Default::default()
            },
            string_encoding: StringEncoding::Printable,
            not_before: datetime!(2026-06-01 00:00:00 UTC),
            not_after: datetime!(2028-01-01 00:00:00 UTC),
            kind,
            key_usage: if kind == IssuedKind::EndEntity {
                vec![KeyUsageName::DigitalSignature]
            } else {
                vec![KeyUsageName::KeyCertSign, KeyUsageName::DigitalSignature]
            },
            extended_key_usage: if eku {
                vec!["1.0.18013.5.1.8".into()]
            } else {
                vec![]
            },
            extended_key_usage_critical: false,
            subject_alt_names: None,
            issuer_alt_names: None,
            crl_distribution_point_uri: None,
        }
    }

    /// A root certificate for `spec` with one more extension than the profile adds.
    fn with_extra_extension<T>(spec: RootCaSpec, key: &SoftEcKey, extra: &T) -> String
    where
        T: const_oid::AssociatedOid + der::Encode,
    {
        use crate::crypto::{KeySigner, VerifiedSignature};
        use crate::x509::{RootCa, random_serial, validity};
        use x509_cert::builder::{Builder, CertificateBuilder};
        let mut builder = CertificateBuilder::new(
            RootCa::new(&spec, key.public_key()).unwrap(),
            random_serial().unwrap(),
            validity(spec.not_before, spec.not_after).unwrap(),
            key.public_key().spki().clone(),
        )
        .unwrap();
        builder.add_extension((false, extra)).unwrap();
        let cert = builder
            .build::<_, VerifiedSignature>(&KeySigner::with_default_algorithm(key))
            .unwrap();
        crate::x509::pem::encode("CERTIFICATE", &der::Encode::to_der(&cert).unwrap()).unwrap()
    }

    fn rule_of(e: X509Error) -> String {
        match e {
            X509Error::Invalid { field, rule } => {
                assert_eq!(field, CERTIFICATE_FIELD);
                rule
            }
            other => panic!("not a rule failure: {other:?}"),
        }
    }

    #[test]
    fn uploaded_root_rules() {
        let key = SoftEcKey::p256(7);
        let root = build_root_ca(&root_spec(true), &key, None).unwrap();
        let pem = root.to_pem().unwrap();
        check_uploaded_root(&pem, NOW).unwrap();
        // Expired, not yet valid.
        let r = rule_of(check_uploaded_root(&pem, datetime!(2040-01-01 00:00:00 UTC)).unwrap_err());
        assert!(r.contains("expired"), "{r}");
        // No issuerAltName.
        let no_ian = build_root_ca(&root_spec(false), &key, None).unwrap();
        let r = rule_of(check_uploaded_root(&no_ian.to_pem().unwrap(), NOW).unwrap_err());
        assert!(r.contains("issuerAltName"), "{r}");
        // Missing O.
        let mut spec = root_spec(true);
        spec.subject.organization = None;
        let no_o = build_root_ca(&spec, &key, None).unwrap();
        let r = rule_of(check_uploaded_root(&no_o.to_pem().unwrap(), NOW).unwrap_err());
        assert!(r.contains("organizationName"), "{r}");
        // Not self-signed: an end-entity certificate issued by the root.
        let leaf = SoftEcKey::p256(9);
        let issued = build_issued(
            &signer_spec(true, IssuedKind::EndEntity),
            leaf.public_key(),
            &key,
            root.certificate(),
            None,
        )
        .unwrap();
        let r = rule_of(check_uploaded_root(&issued.to_pem().unwrap(), NOW).unwrap_err());
        assert!(r.contains("self-signed"), "{r}");
        // A duplicated extension (the profile adds an SKI; this makes two).
        {
            use crate::crypto::{KeySigner, VerifiedSignature};
            use crate::x509::{RootCa, random_serial, validity};
            use x509_cert::builder::{Builder, CertificateBuilder};
            use x509_cert::ext::pkix::SubjectKeyIdentifier;
            let spec = root_spec(true);
            let mut builder = CertificateBuilder::new(
                RootCa::new(&spec, key.public_key()).unwrap(),
                random_serial().unwrap(),
                validity(spec.not_before, spec.not_after).unwrap(),
                key.public_key().spki().clone(),
            )
            .unwrap();
            let ski = SubjectKeyIdentifier(der::asn1::OctetString::new(vec![1u8; 20]).unwrap());
            builder.add_extension(&ski).unwrap();
            let cert = builder
                .build::<_, VerifiedSignature>(&KeySigner::with_default_algorithm(&key))
                .unwrap();
            let pem = crate::x509::pem::encode("CERTIFICATE", &der::Encode::to_der(&cert).unwrap())
                .unwrap();
            let r = rule_of(check_uploaded_root(&pem, NOW).unwrap_err());
            assert!(r.contains("more than once"), "{r}");
        }
        // SEQUENCE SIZE (1..MAX) lists that are empty: x509-cert decodes them; we refuse.
        {
            use x509_cert::ext::pkix::name::GeneralName;
            use x509_cert::ext::pkix::{ExtendedKeyUsage, IssuerAltName, SubjectAltName};
            let empty_ian = with_extra_extension(root_spec(false), &key, &IssuerAltName(vec![]));
            let r = rule_of(check_uploaded_root(&empty_ian, NOW).unwrap_err());
            assert!(
                r.contains("issuerAltName") && r.contains("SIZE (1..MAX)"),
                "{r}"
            );
            let empty_san = with_extra_extension(root_spec(true), &key, &SubjectAltName(vec![]));
            let r = rule_of(check_uploaded_root(&empty_san, NOW).unwrap_err());
            assert!(r.contains("subjectAltName"), "{r}");
            let empty_eku = with_extra_extension(root_spec(true), &key, &ExtendedKeyUsage(vec![]));
            let r = rule_of(check_uploaded_root(&empty_eku, NOW).unwrap_err());
            assert!(r.contains("extKeyUsage"), "{r}");
            // A non-empty SAN is fine (positive control for the helper).
            let uri = der::asn1::Ia5String::new("https://root.example").unwrap();
            let san = SubjectAltName(vec![GeneralName::UniformResourceIdentifier(uri)]);
            check_uploaded_root(&with_extra_extension(root_spec(true), &key, &san), NOW).unwrap();
        }
        // Two certificates, garbage.
        let two = format!("{pem}{pem}");
        rule_of(check_uploaded_root(&two, NOW).unwrap_err());
        rule_of(check_uploaded_root("nonsense", NOW).unwrap_err());
    }

    #[test]
    fn uploaded_signer_rules() {
        let root_key = SoftEcKey::p256(7);
        let root = build_root_ca(&root_spec(true), &root_key, None).unwrap();
        let signer = SoftEcKey::p256(11);
        let good = build_issued(
            &signer_spec(true, IssuedKind::EndEntity),
            signer.public_key(),
            &root_key,
            root.certificate(),
            None,
        )
        .unwrap()
        .to_pem()
        .unwrap();
        let check = |pem: &str, key: &PublicKey, p| {
            check_signer_certificate(pem, key, &root, p, NOW).map_err(rule_of)
        };
        check(&good, signer.public_key(), SignerProfile::Vical).unwrap();
        // The VICAL EKU is an mDL usage: not for a wallet attestation signer.
        let r = check(&good, signer.public_key(), SignerProfile::WalletAttestation).unwrap_err();
        assert!(r.contains("mDL"), "{r}");
        // Wrong key.
        let other = SoftEcKey::p256(12);
        let r = check(&good, other.public_key(), SignerProfile::Vical).unwrap_err();
        assert!(r.contains("public key"), "{r}");
        // Missing EKU.
        let no_eku = build_issued(
            &signer_spec(false, IssuedKind::EndEntity),
            signer.public_key(),
            &root_key,
            root.certificate(),
            None,
        )
        .unwrap()
        .to_pem()
        .unwrap();
        let r = check(&no_eku, signer.public_key(), SignerProfile::Vical).unwrap_err();
        assert!(r.contains("1.0.18013.5.1.8"), "{r}");
        check(
            &no_eku,
            signer.public_key(),
            SignerProfile::WalletAttestation,
        )
        .unwrap();
        // A CA certificate.
        let ca = build_issued(
            &signer_spec(true, IssuedKind::SubCa { path_len: None }),
            signer.public_key(),
            &root_key,
            root.certificate(),
            None,
        )
        .unwrap()
        .to_pem()
        .unwrap();
        let r = check(&ca, signer.public_key(), SignerProfile::Vical).unwrap_err();
        assert!(r.contains("CA"), "{r}");
        // Wrong issuer: another root with another key and name.
        let other_root_key = SoftEcKey::p256(13);
        let mut spec = root_spec(true);
        spec.subject.common_name = Some("Other Root".into());
        let other_root = build_root_ca(&spec, &other_root_key, None).unwrap();
        let foreign = build_issued(
            &signer_spec(true, IssuedKind::EndEntity),
            signer.public_key(),
            &other_root_key,
            other_root.certificate(),
            None,
        )
        .unwrap()
        .to_pem()
        .unwrap();
        let r = check(&foreign, signer.public_key(), SignerProfile::Vical).unwrap_err();
        assert!(r.contains("issuer"), "{r}");
        // An empty issuerAltName (GeneralNames is SIZE (1..MAX)) in a signer certificate.
        {
            use crate::crypto::{KeySigner, VerifiedSignature};
            use crate::x509::{Issued, random_serial, validity};
            use x509_cert::builder::{Builder, CertificateBuilder};
            use x509_cert::ext::pkix::IssuerAltName;
            let spec = signer_spec(true, IssuedKind::EndEntity);
            let mut builder = CertificateBuilder::new(
                Issued::new(&spec, signer.public_key(), root.certificate()).unwrap(),
                random_serial().unwrap(),
                validity(spec.not_before, spec.not_after).unwrap(),
                signer.public_key().spki().clone(),
            )
            .unwrap();
            builder
                .add_extension((false, &IssuerAltName(vec![])))
                .unwrap();
            let cert = builder
                .build::<_, VerifiedSignature>(&KeySigner::with_default_algorithm(&root_key))
                .unwrap();
            let pem = crate::x509::pem::encode("CERTIFICATE", &der::Encode::to_der(&cert).unwrap())
                .unwrap();
            let r = check(&pem, signer.public_key(), SignerProfile::Vical).unwrap_err();
            assert!(
                r.contains("issuerAltName") && r.contains("SIZE (1..MAX)"),
                "{r}"
            );
        }
        // Expired at the time checked.
        let r = check_signer_certificate(
            &good,
            signer.public_key(),
            &root,
            SignerProfile::Vical,
            datetime!(2030-01-01 00:00:00 UTC),
        )
        .map_err(rule_of)
        .unwrap_err();
        assert!(r.contains("expired"), "{r}");
    }
}
