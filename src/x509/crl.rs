//! Certificate revocation lists (RFC 5280 section 5), built and signed in Rust.
//!
//! The TBSCertList is encoded here, its DER is signed through [`KeySigner`] (hash in Rust,
//! digest to the key, signature verified against the key's public half), and the assembled
//! CRL is decoded again and verified with the issuer certificate's public key before it is
//! returned. Pure: the caller passes the CRL's number, window and entries.

use der::asn1::{BitString, OctetString};
use der::{Decode, Encode};
use signature::Signer;
use time::OffsetDateTime;
use x509_cert::Version;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlNumber, CrlReason};
use x509_cert::serial_number::SerialNumber;

use super::cert::{ParsedCertificate, split_signed, verify_signed};
use super::error::{X509Error, enc};
use super::ext::extension;
use super::profile::issuer_key_identifier;
use super::validity::to_x509_time;
use crate::crypto::{DigestSigner, KeySigner};

/// The reasons a revocation request may name (RFC 5280 5.3.1), by their ASN.1 names.
/// `removeFromCRL` belongs to delta CRLs, `certificateHold` to suspension and `aACompromise`
/// to attribute certificates, none of which this daemon issues; `unspecified` is accepted
/// but, as 5.3.1 asks, written as no reasonCode at all.
pub const REASONS: [(&str, CrlReason); 7] = [
    ("unspecified", CrlReason::Unspecified),
    ("keyCompromise", CrlReason::KeyCompromise),
    ("cACompromise", CrlReason::CaCompromise),
    ("affiliationChanged", CrlReason::AffiliationChanged),
    ("superseded", CrlReason::Superseded),
    ("cessationOfOperation", CrlReason::CessationOfOperation),
    ("privilegeWithdrawn", CrlReason::PrivilegeWithdrawn),
];

/// The reason named `name` ([`REASONS`]).
pub fn reason_from_name(name: &str) -> Option<CrlReason> {
    REASONS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// One revoked certificate of a CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedEntry {
    /// The serial's content octets (as [`super::serial_hex`] names them, decoded).
    pub serial: Vec<u8>,
    pub revoked_at: OffsetDateTime,
    pub reason: Option<CrlReason>,
}

/// What a CRL says: its number, its window and the certificates it revokes.
#[derive(Debug, Clone)]
pub struct CrlSpec {
    /// cRLNumber; the caller keeps it strictly increasing per CA.
    pub number: u64,
    pub this_update: OffsetDateTime,
    /// RFC 5280 5.1.2.5: conforming CRL issuers MUST include nextUpdate.
    pub next_update: OffsetDateTime,
    pub revoked: Vec<RevokedEntry>,
}

fn revoked_cert(e: &RevokedEntry) -> Result<RevokedCert, X509Error> {
    let extensions = match e.reason {
        None | Some(CrlReason::Unspecified) => None,
        Some(r) => Some(vec![extension(false, &r)?]),
    };
    Ok(RevokedCert {
        serial_number: SerialNumber::new(&e.serial).map_err(enc)?,
        revocation_date: to_x509_time(e.revoked_at, "revocationDate")?,
        crl_entry_extensions: extensions,
    })
}

/// Build a v2 CRL for `issuer`, signed by `key`, which must be the key certified by
/// `issuer`.
pub fn build_crl<K: DigestSigner>(
    issuer: &ParsedCertificate,
    key: &K,
    spec: &CrlSpec,
) -> Result<Vec<u8>, X509Error> {
    if !issuer.has_public_key(key.public_key()) {
        return Err(X509Error::invalid(
            "issuer",
            "the signing key is not the key of the issuer certificate",
        ));
    }
    if spec.next_update <= spec.this_update {
        return Err(X509Error::invalid("nextUpdate", "must be after thisUpdate"));
    }
    let signer = KeySigner::with_default_algorithm(key);
    let this_update = to_x509_time(spec.this_update, "thisUpdate")?;
    let next_update = to_x509_time(spec.next_update, "nextUpdate")?;
    // RFC 5280 5.2.1: conforming CRL issuers MUST include authorityKeyIdentifier; 5.2.3:
    // MUST include cRLNumber, "a monotonically increasing sequence number". Both non-critical.
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(
            OctetString::new(issuer_key_identifier(issuer.certificate())?).map_err(enc)?,
        ),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    let number = CrlNumber::try_from(spec.number).map_err(enc)?;
    let revoked = spec
        .revoked
        .iter()
        .map(revoked_cert)
        .collect::<Result<Vec<_>, _>>()?;
    let tbs: TbsCertList = TbsCertList {
        // RFC 5280 5.1.2.1: v2 since extensions are present.
        version: Version::V2,
        signature: signer.algorithm().algorithm_identifier(),
        // RFC 5280 5.1.2.3: the issuer field is the CRL issuer's name, byte for byte the
        // subject of its certificate.
        issuer: issuer.certificate().tbs_certificate().subject().clone(),
        this_update,
        next_update: Some(next_update),
        // RFC 5280 5.1.2.6: absent, not empty, when nothing is revoked.
        revoked_certificates: (!revoked.is_empty()).then_some(revoked),
        crl_extensions: Some(vec![extension(false, &aki)?, extension(false, &number)?]),
    };
    let tbs_der = tbs.to_der().map_err(enc)?;
    let sig = signer.try_sign(&tbs_der).map_err(X509Error::Signing)?;
    let crl = CertificateList {
        tbs_cert_list: tbs,
        signature_algorithm: signer.algorithm().algorithm_identifier(),
        signature: BitString::from_bytes(sig.to_der()).map_err(enc)?,
    };
    let der = crl.to_der().map_err(enc)?;
    verify_crl(&der, issuer)?;
    Ok(der)
}

/// Decode a CRL and verify its signature with `issuer`'s public key.
pub fn verify_crl(der: &[u8], issuer: &ParsedCertificate) -> Result<CertificateList, X509Error> {
    let crl = CertificateList::from_der(der).map_err(|e| X509Error::malformed("CRL", e))?;
    let (tbs, alg, sig) = split_signed(der, "CRL")?;
    verify_signed(&issuer.public_key()?, &alg, &tbs, &sig, "CRL")?;
    Ok(crl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::testkeys::SoftEcKey;
    use crate::x509::{DnFields, RootCaSpec, StringEncoding, build_root_ca};
    use const_oid::AssociatedOid;
    use time::macros::datetime;

    #[test]
    fn crl_is_v2_signed_with_aki_and_number() {
        let key = SoftEcKey::p256(5);
        let root = build_root_ca(
            &RootCaSpec {
                subject: DnFields {
                    common_name: Some("Holder Root".into()),
                    country: Some("NZ".into()),
                    ..Default::default()
                },
                string_encoding: StringEncoding::Utf8,
                not_before: datetime!(2026-01-01 00:00:00 UTC),
                not_after: datetime!(2036-01-01 00:00:00 UTC),
                path_len: Some(0),
                digital_signature: false,
                issuer_alt_names: None,
                crl_distribution_point_uri: None,
            },
            &key,
            None,
        )
        .unwrap();
        let now = datetime!(2027-03-04 05:06:07 UTC);
        let spec = |number| CrlSpec {
            number,
            this_update: now,
            next_update: now + time::Duration::days(7),
            revoked: vec![
                RevokedEntry {
                    serial: vec![0x7f, 1, 2],
                    revoked_at: now - time::Duration::hours(1),
                    reason: Some(CrlReason::KeyCompromise),
                },
                RevokedEntry {
                    serial: vec![0x80, 9],
                    revoked_at: now,
                    reason: Some(CrlReason::Unspecified),
                },
            ],
        };
        let der = build_crl(&root, &key, &spec(42)).unwrap();
        let crl = verify_crl(&der, &root).unwrap();
        let tbs = &crl.tbs_cert_list;
        assert_eq!(tbs.version, Version::V2);
        assert_eq!(&tbs.issuer, root.certificate().tbs_certificate().subject());
        assert_eq!(
            tbs.this_update.to_unix_duration().as_secs() as i64,
            now.unix_timestamp()
        );
        let exts = tbs.crl_extensions.as_ref().unwrap();
        assert!(
            exts.iter()
                .any(|e| e.extn_id == AuthorityKeyIdentifier::OID)
        );
        let n = exts.iter().find(|e| e.extn_id == CrlNumber::OID).unwrap();
        assert_eq!(
            CrlNumber::from_der(n.extn_value.as_bytes()).unwrap(),
            CrlNumber::try_from(42u64).unwrap()
        );
        let entries = tbs.revoked_certificates.as_ref().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].serial_number.as_bytes(), &[0x7f, 1, 2]);
        let ext = &entries[0].crl_entry_extensions.as_ref().unwrap()[0];
        assert_eq!(ext.extn_id, CrlReason::OID);
        assert_eq!(
            CrlReason::from_der(ext.extn_value.as_bytes()).unwrap(),
            CrlReason::KeyCompromise
        );
        // A serial with its high bit set keeps its value (its content octets gain the sign
        // octet, as `serial_hex` of such a certificate names it); unspecified is absent.
        assert_eq!(entries[1].serial_number.as_bytes(), &[0, 0x80, 9]);
        assert!(entries[1].crl_entry_extensions.is_none());
        // Nothing revoked: the list is absent, not empty.
        let empty = CrlSpec {
            revoked: vec![],
            ..spec(43)
        };
        let crl = verify_crl(&build_crl(&root, &key, &empty).unwrap(), &root).unwrap();
        assert!(crl.tbs_cert_list.revoked_certificates.is_none());
        // A corrupt signature is caught before anything is returned.
        let mut bad = SoftEcKey::p256(5);
        bad.corrupt = true;
        assert!(build_crl(&root, &bad, &spec(43)).is_err());
        // Another key is refused, and so is a window that ends before it starts.
        assert!(build_crl(&root, &SoftEcKey::p256(6), &spec(43)).is_err());
        let backwards = CrlSpec {
            next_update: now,
            ..spec(43)
        };
        assert!(build_crl(&root, &key, &backwards).is_err());
        assert_eq!(
            reason_from_name("keyCompromise"),
            Some(CrlReason::KeyCompromise)
        );
        assert_eq!(reason_from_name("removeFromCRL"), None);
    }
}
