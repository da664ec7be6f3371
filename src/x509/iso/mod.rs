//! ISO/IEC 18013-5 Annex B profiles: the IACA (Issuing Authority Certificate Authority,
//! Table B.1) and the Document Signer (Table B.3), as builders and as validators.
//!
//! Both builders check every Annex B rule before anything is signed and name the API field
//! that breaks it (`certificateData.notAfter`, `iacaKeyDesc`, ...). The validators check
//! certificates made elsewhere: an IACA handed in as PEM is validated before it is used to
//! issue, and every Document Signer built here is validated again against its IACA before it
//! is returned (check where written and where read back).
//!
//! Real-world IACAs vary (the three US state IACAs in `tests/data/iso/` put L after CN, use
//! `US-OH` as stateOrProvinceName, carry OU; walt.id's has no CRL distribution point), so
//! the validators check the rules of Annex B, not one issuer's layout.

use der::Tagged;
use der::asn1::ObjectIdentifier;
use time::OffsetDateTime;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, ExtendedKeyUsage, IssuerAltName, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::name::Name;

use super::cert::ParsedCertificate;
use super::error::{X509Error, enc};
use super::ext::{AltNames, KeyUsageName, crl_distribution_points, extension};
use super::name::{DnFields, StringEncoding};
use super::profile::{RootCa, RootCaSpec, key_identifier, sign_certificate};
use super::serial::random_serial;
use super::validity::validity;
use crate::crypto::{DigestSigner, PublicKey};

mod check;
mod status_list;

use check::check_ds;
pub use check::{check_document_signer, check_iaca};
pub use status_list::build_status_list_signer;

/// ISO/IEC 18013-5 Table B.1: IACA validity "maximum 20 years".
pub const IACA_MAX_YEARS: i32 = 20;
/// ISO/IEC 18013-5 Table B.3: Document Signer validity "maximum 457 days".
pub const DS_MAX_DAYS: i64 = 457;
/// ISO/IEC 18013-5 B.1.1 / Table B.3: id-mdlDS, the Document Signer extended key usage.
pub const MDL_DS_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.0.18013.5.1.2");

/// What an IACA certifies; the API's `certificateData` of `POST .../iso/iacas`.
#[derive(Debug, Clone)]
pub struct IacaSpec {
    pub country: String,
    pub common_name: String,
    pub state_or_province: Option<String>,
    pub organization: Option<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// issuerAlternativeNameConf: `uris` and/or `emails`, at least one entry.
    pub issuer_alt_names: AltNames,
    pub crl_distribution_point_uri: Option<String>,
}

/// What a Document Signer certifies; `certificateData` of `POST .../iso/document-signers`.
#[derive(Debug, Clone)]
pub struct DocumentSignerSpec {
    pub country: String,
    pub common_name: String,
    pub state_or_province: Option<String>,
    pub organization: Option<String>,
    pub locality: Option<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub crl_distribution_point_uri: String,
}

/// What a Document Signer takes from its IACA: the IACA certificate's subject (the DS's
/// issuer), its SKI (the DS's AKI), its issuerAltName (copied into the DS), its validity
/// (which must contain the DS's) and its country and state. Made from an IACA certificate
/// or from the IACA's data and key, as the API's two `iacaSigner` kinds provide.
#[derive(Debug, Clone)]
pub struct IacaView {
    pub subject: Name,
    pub fields: DnFields,
    pub key_identifier: Vec<u8>,
    pub issuer_alt_names: AltNames,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub public_key: PublicKey,
}

/// The name of an `X509Error` field as the API spells it (`DnFields` uses short names).
fn api_field(e: X509Error, prefix: &str) -> X509Error {
    match e {
        X509Error::Invalid { field, rule } => {
            let field = field
                .replace(".stateOrProvince", ".stateOrProvinceName")
                .replace(".organization", ".organizationName")
                .replace(".locality", ".localityName");
            let field = match field.split_once('.') {
                Some((_, rest)) if !prefix.is_empty() => format!("{prefix}.{rest}"),
                _ => field,
            };
            X509Error::Invalid { field, rule }
        }
        other => other,
    }
}

/// ISO/IEC 18013-5 9.1.2.4 / B.1.1: IACA and Document Signer keys are ECDSA keys; of the
/// curves this daemon's tokens hold, P-256, P-384 and P-521.
fn require_ec(key: &PublicKey, field: &str) -> Result<(), X509Error> {
    if key.algorithm().curve().is_none() {
        return Err(X509Error::invalid(
            field,
            format!(
                "ISO/IEC 18013-5 Annex B requires an EC key (P-256, P-384 or P-521), got {}",
                key.algorithm().name()
            ),
        ));
    }
    Ok(())
}

/// `t` plus `years` calendar years (29 February becomes 28 February in a common year).
pub fn add_years(t: OffsetDateTime, years: i32) -> OffsetDateTime {
    let y = t.year() + years;
    t.replace_year(y)
        .or_else(|_| (t - time::Duration::days(1)).replace_year(y))
        .unwrap_or(t)
}

impl IacaSpec {
    fn subject(&self) -> DnFields {
        DnFields {
            common_name: Some(self.common_name.clone()),
            country: Some(self.country.clone()),
            organization: self.organization.clone(),
            state_or_province: self.state_or_province.clone(),
            ..Default::default()
        }
    }

    fn check(&self, prefix: &str) -> Result<(), X509Error> {
        let f = |name: &str| format!("{prefix}.{name}");
        if self.issuer_alt_names.uris.is_empty() && self.issuer_alt_names.emails.is_empty() {
            return Err(X509Error::invalid(
                f("issuerAlternativeNameConf"),
                "ISO/IEC 18013-5 Table B.1: issuerAltName needs a uri or an email",
            ));
        }
        if self.not_after > add_years(self.not_before, IACA_MAX_YEARS) {
            return Err(X509Error::invalid(
                f("notAfter"),
                "ISO/IEC 18013-5 Table B.1: an IACA is valid for at most 20 years",
            ));
        }
        Ok(())
    }

    /// The view a Document Signer needs, without signing anything: the same name encoding
    /// and key identifier an IACA issued from this data carries.
    pub fn view(&self, key: &PublicKey, prefix: &str) -> Result<IacaView, X509Error> {
        self.check(prefix)?;
        require_ec(key, "iacaKeyDesc")?;
        validity(self.not_before, self.not_after).map_err(|e| api_field_at(e, prefix))?;
        let fields = self.subject();
        let subject = fields
            .to_name(StringEncoding::Utf8, prefix)
            .map_err(|e| api_field(e, prefix))?;
        Ok(IacaView {
            subject,
            fields,
            key_identifier: key_identifier(key)?,
            issuer_alt_names: self.issuer_alt_names.clone(),
            not_before: self.not_before,
            not_after: self.not_after,
            public_key: key.clone(),
        })
    }
}

/// Prefix a bare `notBefore`/`notAfter` field from `validity` with the request object.
fn api_field_at(e: X509Error, prefix: &str) -> X509Error {
    match e {
        X509Error::Invalid { field, rule } if !field.contains('.') => X509Error::Invalid {
            field: format!("{prefix}.{field}"),
            rule,
        },
        other => other,
    }
}

/// The IACA profile (ISO/IEC 18013-5 Table B.1): self-signed; basicConstraints critical,
/// cA, pathLenConstraint 0; keyUsage critical keyCertSign + cRLSign; SKI (and AKI = SKI);
/// issuerAltName; cRLDistributionPoints when given.
#[derive(Debug, Clone)]
pub struct Iaca(RootCa);

impl Iaca {
    pub fn new(spec: &IacaSpec, key: &PublicKey) -> Result<Self, X509Error> {
        spec.check("certificateData")?;
        require_ec(key, "iacaKeyDesc")?;
        let root = RootCaSpec {
            subject: spec.subject(),
            string_encoding: StringEncoding::Utf8,
            not_before: spec.not_before,
            not_after: spec.not_after,
            path_len: Some(0),
            digital_signature: false,
            issuer_alt_names: Some(spec.issuer_alt_names.clone()),
            crl_distribution_point_uri: spec.crl_distribution_point_uri.clone(),
        };
        RootCa::new(&root, key)
            .map(Iaca)
            .map_err(|e| api_field(e, "certificateData"))
            .map_err(|e| rename_root_fields(e, "certificateData"))
    }
}

/// RootCa names its inputs `issuerAlternativeNames` and `crlDistributionPointUri`.
fn rename_root_fields(e: X509Error, prefix: &str) -> X509Error {
    match e {
        X509Error::Invalid { field, rule }
            if field.starts_with("issuerAlternativeNames")
                || field.starts_with("crlDistributionPointUri") =>
        {
            X509Error::Invalid {
                field: format!(
                    "{prefix}.{}",
                    field.replace("issuerAlternativeNames", "issuerAlternativeNameConf")
                ),
                rule,
            }
        }
        other => other,
    }
}

impl BuilderProfile for Iaca {
    fn get_issuer(&self, subject: &Name) -> Name {
        self.0.get_issuer(subject)
    }
    fn get_subject(&self) -> Name {
        self.0.get_subject()
    }
    fn build_extensions(
        &self,
        spk: spki::SubjectPublicKeyInfoRef<'_>,
        issuer_spk: spki::SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        self.0.build_extensions(spk, issuer_spk, tbs)
    }
}

/// Build and sign an IACA with `key` (a token key), then validate the result.
pub fn build_iaca<K: DigestSigner>(
    spec: &IacaSpec,
    key: &K,
) -> Result<ParsedCertificate, X509Error> {
    let profile = Iaca::new(spec, key.public_key())?;
    let v = validity(spec.not_before, spec.not_after)
        .map_err(|e| api_field_at(e, "certificateData"))?;
    let cert = sign_certificate(profile, random_serial()?, v, key.public_key(), key, None)?;
    check_iaca(&cert, "certificate")?;
    Ok(cert)
}

/// The Document Signer profile (ISO/IEC 18013-5 Table B.3): issuer = the IACA's subject,
/// AKI = the IACA's SKI, SKI, keyUsage critical digitalSignature only, extKeyUsage critical
/// exactly id-mdlDS, issuerAltName copied from the IACA, cRLDistributionPoints required, no
/// basicConstraints (not a CA, RFC 5280 4.2.1.9: absent means cA FALSE).
#[derive(Debug, Clone)]
pub struct DocumentSigner {
    subject: Name,
    issuer: Name,
    extensions: Vec<Extension>,
}

impl DocumentSigner {
    pub fn new(
        spec: &DocumentSignerSpec,
        subject_key: &PublicKey,
        iaca: &IacaView,
    ) -> Result<Self, X509Error> {
        Self::with_eku(spec, subject_key, iaca, Some(MDL_DS_EKU))
    }

    /// The Table B.3 profile with `eku` as its critical extKeyUsage, or none: a status list
    /// signer under an IACA (`status_list.rs`) is a Document Signer's sibling in every rule
    /// but the usage.
    fn with_eku(
        spec: &DocumentSignerSpec,
        subject_key: &PublicKey,
        iaca: &IacaView,
        eku: Option<ObjectIdentifier>,
    ) -> Result<Self, X509Error> {
        const P: &str = "certificateData";
        require_ec(subject_key, "dsPublicKeySource")?;
        check_ds_rules(
            &DnFields {
                country: Some(spec.country.clone()),
                state_or_province: spec.state_or_province.clone(),
                ..Default::default()
            },
            spec.not_before,
            spec.not_after,
            iaca,
            P,
        )?;
        let fields = DnFields {
            common_name: Some(spec.common_name.clone()),
            country: Some(spec.country.clone()),
            organization: spec.organization.clone(),
            state_or_province: spec.state_or_province.clone(),
            locality: spec.locality.clone(),
            ..Default::default()
        };
        let subject = fields
            .to_name(StringEncoding::Utf8, P)
            .map_err(|e| api_field(e, P))?;
        if iaca.issuer_alt_names.is_empty() {
            return Err(X509Error::invalid(
                "iacaSigner",
                "ISO/IEC 18013-5 Table B.3: the IACA has no issuerAltName to copy",
            ));
        }
        let ian = iaca
            .issuer_alt_names
            .to_general_names("iacaSigner.issuerAlternativeNameConf")?;
        let crl = crl_distribution_points(
            &spec.crl_distribution_point_uri,
            "certificateData.crlDistributionPointUri",
        )?;
        let ski = SubjectKeyIdentifier(
            der::asn1::OctetString::new(key_identifier(subject_key)?).map_err(enc)?,
        );
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(
                der::asn1::OctetString::new(iaca.key_identifier.clone()).map_err(enc)?,
            ),
            ..Default::default()
        };
        let mut extensions = vec![
            // Table B.3: keyUsage critical, digitalSignature only.
            extension(true, &KeyUsage(KeyUsages::DigitalSignature.into()))?,
        ];
        if let Some(eku) = eku {
            // Table B.3: extKeyUsage critical, id-mdlDS only.
            extensions.push(extension(true, &ExtendedKeyUsage(vec![eku]))?);
        }
        extensions.extend([
            // RFC 5280 4.2.1.1 / 4.2.1.2: non-critical.
            extension(false, &ski)?,
            extension(false, &aki)?,
            // RFC 5280 4.2.1.7: "SHOULD NOT be marked critical".
            extension(false, &IssuerAltName(ian))?,
            // RFC 5280 4.2.1.13: "SHOULD be non-critical".
            extension(false, &crl)?,
        ]);
        Ok(DocumentSigner {
            subject,
            issuer: iaca.subject.clone(),
            extensions,
        })
    }
}

impl BuilderProfile for DocumentSigner {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        _spk: spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: spki::SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(self.extensions.clone())
    }
}

/// Validity, country and state rules a Document Signer must meet against its IACA.
fn check_ds_rules(
    subject: &DnFields,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    iaca: &IacaView,
    prefix: &str,
) -> Result<(), X509Error> {
    let f = |name: &str| format!("{prefix}.{name}");
    // An expired IACA (or a notBefore past its end) is named first: a defaulted notAfter,
    // cut at the IACA's notAfter, would otherwise only say "before notBefore".
    if not_before >= iaca.not_after {
        return Err(X509Error::invalid(
            f("notBefore"),
            "must be before the IACA's notAfter (the DS must lie inside the IACA's validity)",
        ));
    }
    if not_after <= not_before {
        return Err(X509Error::invalid(
            f("notAfter"),
            "must be later than notBefore",
        ));
    }
    if not_after - not_before > time::Duration::days(DS_MAX_DAYS) {
        return Err(X509Error::invalid(
            f("notAfter"),
            "ISO/IEC 18013-5 Table B.3: a Document Signer is valid for at most 457 days",
        ));
    }
    if not_before < iaca.not_before {
        return Err(X509Error::invalid(
            f("notBefore"),
            "must not be before the IACA's notBefore (the DS must lie inside the IACA's validity)",
        ));
    }
    if not_after > iaca.not_after {
        return Err(X509Error::invalid(
            f("notAfter"),
            "must not be after the IACA's notAfter (the DS must lie inside the IACA's validity)",
        ));
    }
    // ISO/IEC 18013-5 Table B.3: countryName "shall be the same as in the IACA
    // certificate", and stateOrProvinceName likewise when present in either.
    if subject.country != iaca.fields.country {
        return Err(X509Error::invalid(
            f("country"),
            format!(
                "ISO/IEC 18013-5 Table B.3: must equal the IACA's countryName ({})",
                iaca.fields.country.as_deref().unwrap_or("absent")
            ),
        ));
    }
    if subject.state_or_province != iaca.fields.state_or_province {
        return Err(X509Error::invalid(
            f("stateOrProvinceName"),
            format!(
                "ISO/IEC 18013-5 Table B.3: must equal the IACA's stateOrProvinceName ({})",
                iaca.fields.state_or_province.as_deref().unwrap_or("absent")
            ),
        ));
    }
    Ok(())
}

/// Build and sign a Document Signer certificate with the IACA's key, then validate it
/// against the IACA.
pub fn build_document_signer<K: DigestSigner>(
    spec: &DocumentSignerSpec,
    subject_key: &PublicKey,
    iaca: &IacaView,
    iaca_key: &K,
) -> Result<ParsedCertificate, X509Error> {
    if iaca_key.public_key() != &iaca.public_key {
        return Err(X509Error::invalid(
            "iacaSigner.iacaKeyDesc",
            "is not the key of the IACA certificate",
        ));
    }
    let profile = DocumentSigner::new(spec, subject_key, iaca)?;
    let v = validity(spec.not_before, spec.not_after)
        .map_err(|e| api_field_at(e, "certificateData"))?;
    let cert = sign_certificate(profile, random_serial()?, v, subject_key, iaca_key, None)?;
    // sign_certificate verified the signature with `iaca_key`'s public key, which is the
    // IACA's (checked above): every Table B.3 rule is re-checked, the signature not twice.
    check_ds(&cert, iaca, "certificate", false)?;
    Ok(cert)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::testkeys::{SoftEcKey, SoftP384Key};
    use time::macros::datetime;

    const OH: &[u8] = include_bytes!("../../../tests/data/iso/us-oh-2024.pem");
    const HI: &[u8] = include_bytes!("../../../tests/data/iso/us-hi-2024.pem");
    const AZ: &[u8] = include_bytes!("../../../tests/data/iso/us-az-2024.pem");
    const WALT_IACA: &[u8] = include_bytes!("../../../tests/data/iso/waltid-iaca.der");
    const WALT_DS: &[u8] = include_bytes!("../../../tests/data/iso/waltid-ds.der");

    fn iaca_spec() -> IacaSpec {
        IacaSpec {
            country: "US".into(),
            common_name: "Example IACA".into(),
            state_or_province: Some("US-OH".into()),
            organization: None,
            not_before: datetime!(2026-01-01 00:00:00 UTC),
            not_after: datetime!(2046-01-01 00:00:00 UTC),
            issuer_alt_names: AltNames {
                uris: vec!["https://iaca.example.com".into()],
                ..Default::default()
            },
            crl_distribution_point_uri: None,
        }
    }

    fn ds_spec() -> DocumentSignerSpec {
        DocumentSignerSpec {
            country: "US".into(),
            common_name: "Example DS".into(),
            state_or_province: Some("US-OH".into()),
            organization: None,
            locality: None,
            not_before: datetime!(2026-02-01 00:00:00 UTC),
            not_after: datetime!(2026-02-01 00:00:00 UTC) + time::Duration::days(457),
            crl_distribution_point_uri: "https://crl.example.com".into(),
        }
    }

    #[test]
    fn real_iacas_and_the_waltid_pair_pass_the_validators() {
        for (name, input) in [("oh", OH), ("hi", HI), ("az", AZ), ("walt", WALT_IACA)] {
            let cert = ParsedCertificate::parse(input).unwrap();
            check_iaca(&cert, "iaca").unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let iaca = check_iaca(&ParsedCertificate::parse(WALT_IACA).unwrap(), "iaca").unwrap();
        let ds = ParsedCertificate::parse(WALT_DS).unwrap();
        check_document_signer(&ds, &iaca, "ds").unwrap();
        // A state IACA is not the walt.id DS's issuer.
        let oh = check_iaca(&ParsedCertificate::parse(OH).unwrap(), "iaca").unwrap();
        assert!(check_document_signer(&ds, &oh, "ds").is_err());
        // And a DS is not an IACA.
        assert!(check_iaca(&ds, "iaca").is_err());
    }

    #[test]
    fn iaca_and_document_signer_round_trip() {
        let iaca_key = SoftEcKey::p256(11);
        let ds_key = SoftP384Key::new(12);
        let iaca = build_iaca(&iaca_spec(), &iaca_key).unwrap();
        let view = check_iaca(&iaca, "iaca").unwrap();
        // The view built from data matches the one read from the certificate.
        let from_data = iaca_spec()
            .view(iaca_key.public_key(), "iacaSigner.certificateData")
            .unwrap();
        assert_eq!(from_data.subject, view.subject);
        assert_eq!(from_data.key_identifier, view.key_identifier);
        let ds = build_document_signer(&ds_spec(), ds_key.public_key(), &view, &iaca_key).unwrap();
        check_document_signer(&ds, &view, "ds").unwrap();
        assert_eq!(
            ds.issuer().unwrap().common_name.as_deref(),
            Some("Example IACA")
        );
    }

    #[test]
    fn the_iaca_validator_refuses_what_table_b1_forbids() {
        use crate::x509::{RootCaSpec, build_root_ca};
        let key = SoftEcKey::p256(21);
        let base = RootCaSpec {
            subject: DnFields {
                common_name: Some("X".into()),
                country: Some("US".into()),
                ..Default::default()
            },
            string_encoding: StringEncoding::Utf8,
            not_before: datetime!(2026-01-01 00:00:00 UTC),
            not_after: datetime!(2036-01-01 00:00:00 UTC),
            path_len: Some(0),
            digital_signature: false,
            issuer_alt_names: Some(AltNames {
                uris: vec!["https://x.example".into()],
                ..Default::default()
            }),
            crl_distribution_point_uri: None,
        };
        let check = |spec: &RootCaSpec| {
            check_iaca(
                &build_root_ca(spec, &key, None).unwrap(),
                "iacaSigner.certificatePEM",
            )
        };
        check(&base).unwrap();
        let cases: [(RootCaSpec, &str); 5] = [
            (
                RootCaSpec {
                    issuer_alt_names: None,
                    ..base.clone()
                },
                "issuerAltName",
            ),
            (
                RootCaSpec {
                    path_len: None,
                    ..base.clone()
                },
                "pathLenConstraint 0",
            ),
            (
                RootCaSpec {
                    digital_signature: true,
                    ..base.clone()
                },
                "keyUsage",
            ),
            (
                RootCaSpec {
                    not_after: datetime!(2046-01-01 00:00:01 UTC),
                    ..base.clone()
                },
                "20 years",
            ),
            (
                RootCaSpec {
                    subject: DnFields {
                        common_name: Some("X".into()),
                        ..Default::default()
                    },
                    ..base.clone()
                },
                "countryName",
            ),
        ];
        for (spec, rule) in cases {
            let e = check(&spec).unwrap_err();
            assert_eq!(e.field(), Some("iacaSigner.certificatePEM"));
            assert!(e.to_string().contains(rule), "{rule}: {e}");
        }
    }

    #[test]
    fn annex_b_violations_name_the_field() {
        let iaca_key = SoftEcKey::p256(11);
        let ds_key = SoftEcKey::p256(13);
        let view = iaca_spec().view(iaca_key.public_key(), "iaca").unwrap();
        let err = |spec: DocumentSignerSpec| {
            build_document_signer(&spec, ds_key.public_key(), &view, &iaca_key)
                .unwrap_err()
                .field()
                .map(str::to_owned)
        };
        let mut s = ds_spec();
        s.not_after = s.not_before + time::Duration::days(458);
        assert_eq!(err(s).as_deref(), Some("certificateData.notAfter"));
        let mut s = ds_spec();
        s.not_before = datetime!(2025-12-01 00:00:00 UTC);
        s.not_after = datetime!(2026-03-01 00:00:00 UTC);
        assert_eq!(err(s).as_deref(), Some("certificateData.notBefore"));
        let mut s = ds_spec();
        s.country = "DE".into();
        assert_eq!(err(s).as_deref(), Some("certificateData.country"));
        let mut s = ds_spec();
        s.state_or_province = None;
        assert_eq!(
            err(s).as_deref(),
            Some("certificateData.stateOrProvinceName")
        );

        let mut i = iaca_spec();
        i.not_after = add_years(i.not_before, 20) + time::Duration::seconds(1);
        let e = Iaca::new(&i, iaca_key.public_key()).unwrap_err();
        assert_eq!(e.field(), Some("certificateData.notAfter"));
        let mut i = iaca_spec();
        i.issuer_alt_names = AltNames::default();
        let e = Iaca::new(&i, iaca_key.public_key()).unwrap_err();
        assert_eq!(e.field(), Some("certificateData.issuerAlternativeNameConf"));
        let mut i = iaca_spec();
        i.country = "USA".into();
        let e = Iaca::new(&i, iaca_key.public_key()).unwrap_err();
        assert_eq!(e.field(), Some("certificateData.country"));
    }
}
