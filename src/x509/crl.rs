//! Certificate revocation lists (RFC 5280 section 5), built and signed in Rust.
//!
//! The TBSCertList is encoded here, its DER is signed through [`KeySigner`] (hash in Rust,
//! digest to the key, signature verified against the key's public half), and the assembled
//! CRL is decoded again and verified with the issuer certificate's public key before it is
//! returned. Pure: the caller passes `now` and the CRL number.

use der::asn1::{BitString, OctetString};
use der::{Decode, Encode};
use signature::Signer;
use time::OffsetDateTime;
use x509_cert::Version;
use x509_cert::crl::{CertificateList, TbsCertList};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlNumber};

use super::cert::{ParsedCertificate, split_signed, verify_signed};
use super::error::{X509Error, enc};
use super::ext::extension;
use super::profile::issuer_key_identifier;
use super::validity::to_x509_time;
use crate::crypto::{DigestSigner, KeySigner};

/// How long a CRL is current: nextUpdate = thisUpdate + this. RFC 5280 5.1.2.5 requires
/// nextUpdate; a week suits a root CA that issues few certificates and revokes rarely.
pub const CRL_VALIDITY_DAYS: i64 = 7;

/// Build an empty (nothing revoked yet) v2 CRL for `issuer`, signed by `key`, which must be
/// the key certified by `issuer`.
pub fn build_crl<K: DigestSigner>(
    issuer: &ParsedCertificate,
    key: &K,
    crl_number: u64,
    now: OffsetDateTime,
) -> Result<Vec<u8>, X509Error> {
    if !issuer.has_public_key(key.public_key()) {
        return Err(X509Error::invalid(
            "issuer",
            "the signing key is not the key of the issuer certificate",
        ));
    }
    let signer = KeySigner::with_default_algorithm(key);
    let this_update = to_x509_time(now, "thisUpdate")?;
    let next_update = to_x509_time(now + time::Duration::days(CRL_VALIDITY_DAYS), "nextUpdate")?;
    // RFC 5280 5.2.1: conforming CRL issuers MUST include authorityKeyIdentifier; 5.2.3:
    // MUST include cRLNumber, "a monotonically increasing sequence number". Both non-critical.
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(
            OctetString::new(issuer_key_identifier(issuer.certificate())?).map_err(enc)?,
        ),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    let number = CrlNumber::try_from(crl_number).map_err(enc)?;
    let tbs: TbsCertList = TbsCertList {
        // RFC 5280 5.1.2.1: v2 since extensions are present.
        version: Version::V2,
        signature: signer.algorithm().algorithm_identifier(),
        // RFC 5280 5.1.2.3: the issuer field is the CRL issuer's name, byte for byte the
        // subject of its certificate.
        issuer: issuer.certificate().tbs_certificate().subject().clone(),
        this_update,
        next_update: Some(next_update),
        revoked_certificates: None,
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
        let der = build_crl(&root, &key, 42, now).unwrap();
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
        // A corrupt signature is caught before anything is returned.
        let mut bad = SoftEcKey::p256(5);
        bad.corrupt = true;
        assert!(build_crl(&root, &bad, 43, now).is_err());
        // Another key is refused.
        assert!(build_crl(&root, &SoftEcKey::p256(6), 43, now).is_err());
    }
}
