//! End-to-end tests of the engine with software keys, real-world vectors and OpenSSL.

use const_oid::db::rfc5280;
use der::{Encode, Tagged};
use time::OffsetDateTime;
use time::macros::datetime;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::ext::pkix::SubjectKeyIdentifier;

use super::*;

mod interop;
use crate::crypto::testkeys::SoftEcKey;
use crate::crypto::{DigestSigner, KeySigner, SignatureAlgorithm, VerifiedSignature};

const NB: OffsetDateTime = datetime!(2025-01-01 00:00:00 UTC);
const NA: OffsetDateTime = datetime!(2035-01-01 00:00:00 UTC);

fn root_spec() -> RootCaSpec {
    RootCaSpec {
        subject: DnFields {
            common_name: Some("Test IACA".into()),
            country: Some("US".into()),
            organization: Some("Test Org".into()),
            state_or_province: Some("US-OH".into()),
            ..Default::default()
        },
        string_encoding: StringEncoding::Utf8,
        not_before: NB,
        not_after: NA,
        path_len: Some(0),
        digital_signature: false,
        issuer_alt_names: Some(AltNames {
            emails: vec!["iaca@example.com".into()],
            uris: vec!["https://iaca.example.com".into()],
            ..Default::default()
        }),
        crl_distribution_point_uri: Some("https://iaca.example.com/crl".into()),
    }
}

fn ds_spec() -> IssuedSpec {
    IssuedSpec {
        subject: DnFields {
            common_name: Some("Test DS".into()),
            country: Some("US".into()),
            ..Default::default()
        },
        string_encoding: StringEncoding::Printable,
        not_before: NB,
        not_after: datetime!(2026-01-01 00:00:00 UTC),
        kind: IssuedKind::EndEntity,
        key_usage: vec![KeyUsageName::DigitalSignature],
        extended_key_usage: vec!["1.0.18013.5.1.2".into()],
        extended_key_usage_critical: true,
        subject_alt_names: Some(AltNames {
            dns_names: vec!["ds.example.com".into()],
            ..Default::default()
        }),
        issuer_alt_names: Some(AltNames {
            emails: vec!["iaca@example.com".into()],
            ..Default::default()
        }),
        crl_distribution_point_uri: Some("https://iaca.example.com/crl".into()),
    }
}

fn ext_critical(c: &ParsedCertificate, oid: const_oid::ObjectIdentifier) -> bool {
    c.extensions()
        .iter()
        .find(|e| e.extn_id == oid)
        .map(|e| e.critical)
        .expect("extension present")
}

#[test]
fn root_ca_extensions_and_signature() {
    let key = SoftEcKey::p256(1);
    let root = build_root_ca(&root_spec(), &key, None).unwrap();
    let root = ParsedCertificate::parse(root.to_pem().unwrap().as_bytes()).unwrap();
    root.verify_signed_by(key.public_key()).unwrap();
    assert!(root.is_self_issued());
    assert_eq!(root.subject().unwrap(), root_spec().subject);
    assert_eq!(
        root.signature_algorithm().unwrap(),
        SignatureAlgorithm::EcdsaSha256
    );
    assert_eq!(root.not_before(), NB);
    assert_eq!(root.not_after(), NA);
    assert!(root.has_public_key(key.public_key()));

    let ext = root.ext();
    let bc = ext.basic_constraints().unwrap().unwrap();
    assert!(bc.critical && bc.value.ca);
    assert_eq!(bc.value.path_len_constraint, Some(0));
    let ku = ext.key_usage().unwrap().unwrap();
    assert!(ku.critical);
    assert_eq!(ku.value, [KeyUsageName::KeyCertSign, KeyUsageName::CrlSign]);
    let ski = ext.subject_key_identifier().unwrap().unwrap();
    assert_eq!(ski, key_identifier(key.public_key()).unwrap());
    assert_eq!(ski.len(), 20);
    assert_eq!(ext.authority_key_identifier().unwrap(), Some(ski));
    assert!(!ext_critical(&root, rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER));
    assert!(!ext_critical(
        &root,
        rfc5280::ID_CE_AUTHORITY_KEY_IDENTIFIER
    ));
    let ian = ext.issuer_alt_names().unwrap().unwrap();
    assert!(!ian.critical);
    assert_eq!(ian.value.emails, ["iaca@example.com"]);
    assert_eq!(
        ext.crl_distribution_uris().unwrap().unwrap(),
        ["https://iaca.example.com/crl"]
    );
    assert!(ext.extended_key_usage().unwrap().is_none());
    // Serial: positive, 16 octets.
    assert_eq!(root.serial_hex().len(), 32);

    root.check_valid_at(datetime!(2030-01-01 0:00 UTC)).unwrap();
    assert!(
        root.check_valid_at(datetime!(2024-12-31 23:59:59 UTC))
            .is_err()
    );
    assert!(
        root.check_valid_at(datetime!(2035-01-01 0:00:01 UTC))
            .is_err()
    );
    root.check_valid_at(NA).unwrap();

    // Wrong issuer key.
    let other = SoftEcKey::p256(2);
    assert!(matches!(
        root.verify_signed_by(other.public_key()),
        Err(X509Error::BadSignature { .. })
    ));
}

#[test]
fn issued_leaf_under_root() {
    let ca_key = SoftEcKey::p256(1);
    let root = build_root_ca(&root_spec(), &ca_key, None).unwrap();
    let ds_key = SoftEcKey::p256(5);
    let ds = build_issued(
        &ds_spec(),
        ds_key.public_key(),
        &ca_key,
        root.certificate(),
        None,
    )
    .unwrap();
    let ds = ParsedCertificate::from_der(ds.der()).unwrap();
    ds.verify_signed_by(ca_key.public_key()).unwrap();
    assert!(ds.verify_signed_by(ds_key.public_key()).is_err());
    assert_eq!(
        ds.certificate().tbs_certificate().issuer(),
        root.certificate().tbs_certificate().subject()
    );
    assert_eq!(ds.issuer().unwrap(), root_spec().subject);
    assert!(ds.has_public_key(ds_key.public_key()));
    // PrintableString encoding was asked for.
    assert!(
        ds.certificate()
            .tbs_certificate()
            .subject()
            .iter()
            .all(|a| a.value.tag() == der::Tag::PrintableString)
    );

    let ext = ds.ext();
    let bc = ext.basic_constraints().unwrap().unwrap();
    assert!(bc.critical && !bc.value.ca && bc.value.path_len_constraint.is_none());
    let ku = ext.key_usage().unwrap().unwrap();
    assert!(ku.critical);
    assert_eq!(ku.value, [KeyUsageName::DigitalSignature]);
    let eku = ext.extended_key_usage().unwrap().unwrap();
    assert!(eku.critical);
    assert_eq!(eku.value[0].to_string(), "1.0.18013.5.1.2");
    assert_eq!(
        ext.authority_key_identifier().unwrap(),
        root.ext().subject_key_identifier().unwrap()
    );
    assert_eq!(
        ext.subject_key_identifier().unwrap().unwrap(),
        key_identifier(ds_key.public_key()).unwrap()
    );
    let san = ext.subject_alt_names().unwrap().unwrap();
    assert!(!san.critical);
    assert_eq!(san.value.dns_names, ["ds.example.com"]);
    assert!(ext.issuer_alt_names().unwrap().is_some());
    assert!(ext.crl_distribution_uris().unwrap().is_some());

    // The DS cannot issue: it is not a CA.
    let err = build_issued(
        &ds_spec(),
        ds_key.public_key(),
        &ds_key,
        ds.certificate(),
        None,
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("issuer"));
    // A signing key that is not the issuer certificate's key is refused before signing.
    let err = build_issued(
        &ds_spec(),
        ds_key.public_key(),
        &SoftEcKey::p256(9),
        root.certificate(),
        None,
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("issuer"));
    // pathLen 0 root cannot issue a sub-CA.
    let sub = IssuedSpec {
        kind: IssuedKind::SubCa { path_len: None },
        key_usage: vec![KeyUsageName::KeyCertSign, KeyUsageName::CrlSign],
        ..ds_spec()
    };
    assert!(build_issued(&sub, ds_key.public_key(), &ca_key, root.certificate(), None).is_err());
    // KeyCertSign in an end-entity certificate is refused (RFC 5280 4.2.1.9).
    let bad = IssuedSpec {
        key_usage: vec![KeyUsageName::KeyCertSign],
        ..ds_spec()
    };
    let err =
        build_issued(&bad, ds_key.public_key(), &ca_key, root.certificate(), None).unwrap_err();
    assert_eq!(err.field(), Some("keyUsage"));
}

#[test]
fn sub_ca_and_generic() {
    let ca_key = SoftEcKey::p256(1);
    let root = build_root_ca(
        &RootCaSpec {
            path_len: None,
            ..root_spec()
        },
        &ca_key,
        None,
    )
    .unwrap();
    let sub_key = SoftEcKey::p256(3);
    let sub = build_issued(
        &IssuedSpec {
            kind: IssuedKind::SubCa { path_len: Some(0) },
            key_usage: vec![KeyUsageName::KeyCertSign, KeyUsageName::CrlSign],
            extended_key_usage: vec![],
            ..ds_spec()
        },
        sub_key.public_key(),
        &ca_key,
        root.certificate(),
        None,
    )
    .unwrap();
    let bc = sub.ext().basic_constraints().unwrap().unwrap().value;
    assert!(bc.ca && bc.path_len_constraint == Some(0));

    // Generic, CA-signed by the sub-CA, defaults for validity.
    let leaf_key = SoftEcKey::p256(4);
    let now = datetime!(2025-06-01 12:00:00.5 UTC);
    let spec = GenericSpec {
        subject_name: DnFields {
            common_name: Some("generic".into()),
            ..Default::default()
        },
        key_usage: vec!["DigitalSignature".into(), "ContentCommitment".into()],
        extended_key_usage_oids: vec!["1.3.6.1.5.5.7.3.2".into()],
        subject_alternative_names: Some(AltNames {
            ip_addresses: vec!["192.0.2.7".into()],
            uris: vec!["https://leaf.example".into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    let leaf = build_generic(
        &spec,
        leaf_key.public_key(),
        IssuerSpec {
            key: &sub_key,
            certificate: Some(sub.certificate()),
            signature_algorithm: Some(SignatureAlgorithm::EcdsaSha384),
        },
        now,
    )
    .unwrap();
    leaf.verify_signed_by(sub_key.public_key()).unwrap();
    assert_eq!(
        leaf.signature_algorithm().unwrap(),
        SignatureAlgorithm::EcdsaSha384
    );
    assert_eq!(leaf.not_before(), datetime!(2025-06-01 12:00:00 UTC));
    assert_eq!(leaf.not_after(), datetime!(2026-06-01 12:00:00 UTC));
    assert_eq!(
        leaf.ext().key_usage().unwrap().unwrap().value,
        [KeyUsageName::DigitalSignature, KeyUsageName::NonRepudiation]
    );
    assert_eq!(
        leaf.ext().authority_key_identifier().unwrap(),
        sub.ext().subject_key_identifier().unwrap()
    );
    // The sub-CA has pathLen 0: the generic leaf must not be a CA.
    let ca_spec = GenericSpec {
        is_certificate_authority: true,
        key_usage: vec!["KeyCertSign".into()],
        ..spec.clone()
    };
    assert!(
        build_generic(
            &ca_spec,
            leaf_key.public_key(),
            IssuerSpec {
                key: &sub_key,
                certificate: Some(sub.certificate()),
                signature_algorithm: None,
            },
            now,
        )
        .is_err()
    );

    // Generic self-signed CA; path length only with CA; issuer override.
    let ss = build_generic(
        &GenericSpec {
            path_length_constraint: Some(1),
            issuer_name: Some(DnFields {
                common_name: Some("someone else".into()),
                ..Default::default()
            }),
            ..ca_spec.clone()
        },
        leaf_key.public_key(),
        IssuerSpec {
            key: &leaf_key,
            certificate: None,
            signature_algorithm: None,
        },
        now,
    )
    .unwrap();
    ss.verify_signed_by(leaf_key.public_key()).unwrap();
    assert_eq!(
        ss.issuer().unwrap().common_name.as_deref(),
        Some("someone else")
    );
    let bad = GenericSpec {
        path_length_constraint: Some(1),
        ..spec.clone()
    };
    let self_issuer = IssuerSpec {
        key: &leaf_key,
        certificate: None,
        signature_algorithm: None,
    };
    assert_eq!(
        build_generic(&bad, leaf_key.public_key(), self_issuer, now)
            .unwrap_err()
            .field(),
        Some("pathLengthConstraint")
    );
    let bad = GenericSpec {
        key_usage: vec!["Signing".into()],
        ..spec.clone()
    };
    let self_issuer = IssuerSpec {
        key: &leaf_key,
        certificate: None,
        signature_algorithm: None,
    };
    assert_eq!(
        build_generic(&bad, leaf_key.public_key(), self_issuer, now)
            .unwrap_err()
            .field(),
        Some("keyUsage[0]")
    );
    // RFC 5480 section 3 (RFC 8813): no key or data encipherment for an EC key; RFC 5280
    // 4.2.1.3: no encipherOnly / decipherOnly without keyAgreement.
    for ku in [
        ["DigitalSignature", "KeyEncipherment"],
        ["DigitalSignature", "DataEncipherment"],
        ["DigitalSignature", "EncipherOnly"],
        ["DigitalSignature", "DecipherOnly"],
    ] {
        let bad = GenericSpec {
            key_usage: ku.map(String::from).to_vec(),
            ..spec.clone()
        };
        let self_issuer = IssuerSpec {
            key: &leaf_key,
            certificate: None,
            signature_algorithm: None,
        };
        let err = build_generic(&bad, leaf_key.public_key(), self_issuer, now).unwrap_err();
        assert_eq!(err.field(), Some("keyUsage"), "{ku:?}: {err}");
    }
    // Self-signed with a key other than the subject's.
    let other_issuer = IssuerSpec {
        key: &sub_key,
        certificate: None,
        signature_algorithm: None,
    };
    assert!(build_generic(&spec, leaf_key.public_key(), other_issuer, now).is_err());
    // RSA algorithm on an EC key.
    let wrong_alg = IssuerSpec {
        key: &leaf_key,
        certificate: None,
        signature_algorithm: Some(SignatureAlgorithm::RsaPssSha256),
    };
    assert!(matches!(
        build_generic(&spec, leaf_key.public_key(), wrong_alg, now),
        Err(X509Error::Crypto(_))
    ));
}

#[test]
fn corrupt_signing_key_never_yields_a_certificate() {
    let mut key = SoftEcKey::p256(1);
    key.corrupt = true;
    assert!(matches!(
        build_root_ca(&root_spec(), &key, None),
        Err(X509Error::Signing(_))
    ));
}

#[test]
fn csr_round_trip_and_proof_of_possession() {
    let key = SoftEcKey::p256(7);
    let spec = CsrSpec {
        subject: DnFields {
            common_name: Some("VICAL signer".into()),
            country: Some("DE".into()),
            ..Default::default()
        },
        subject_alt_names: Some(AltNames {
            dns_names: vec!["vical.example".into()],
            emails: vec!["ops@vical.example".into()],
            ..Default::default()
        }),
        key_usage: vec![KeyUsageName::DigitalSignature],
        extended_key_usage: vec!["1.0.18013.5.1.8".into()],
        ..Default::default()
    };
    // An EC key cannot request key or data encipherment (RFC 5480 section 3, RFC 8813).
    let enc = CsrSpec {
        key_usage: vec![KeyUsageName::KeyEncipherment],
        ..spec.clone()
    };
    assert_eq!(
        build_csr(&enc, &key, None).unwrap_err().field(),
        Some("keyUsage")
    );
    let csr = build_csr(&spec, &key, None).unwrap();
    let pem = csr.to_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"));
    let parsed = ParsedCsr::parse(pem.as_bytes()).unwrap();
    assert_eq!(parsed.subject, spec.subject);
    assert_eq!(parsed.signature_algorithm, SignatureAlgorithm::EcdsaSha256);
    assert!(parsed.same_key_as(key.public_key()));
    assert_eq!(parsed.subject_alt_names().unwrap(), spec.subject_alt_names);
    let ku = parsed.ext().key_usage().unwrap().unwrap();
    assert!(ku.critical);
    assert_eq!(ku.value, [KeyUsageName::DigitalSignature]);
    assert_eq!(
        parsed.ext().extended_key_usage().unwrap().unwrap().value[0].to_string(),
        "1.0.18013.5.1.8"
    );
    // Legacy label and DER input.
    let legacy = pem.replace("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST");
    ParsedCsr::parse(legacy.as_bytes()).unwrap();
    ParsedCsr::parse(parsed.der()).unwrap();

    // One flipped bit anywhere in the signature or the signed body: rejected.
    let der = parsed.der().to_vec();
    let sig_byte = der.len() - 10;
    let mut bad = der.clone();
    bad[sig_byte] ^= 0x01;
    assert!(ParsedCsr::from_der(&bad).is_err());
    // Flip a bit inside the common name (ASCII stays ASCII: 'V' -> 'W').
    let pos = der.windows(12).position(|w| w == b"VICAL signer").unwrap();
    let mut bad = der.clone();
    bad[pos] ^= 0x01;
    assert!(matches!(
        ParsedCsr::from_der(&bad),
        Err(X509Error::BadSignature { what: "CSR" })
    ));

    // A CSR with nothing requested has no extensionRequest at all.
    let bare = build_csr(
        &CsrSpec {
            subject: spec.subject.clone(),
            ..Default::default()
        },
        &key,
        None,
    )
    .unwrap();
    assert!(bare.requested_extensions.is_empty());
    assert!(!bare.der().windows(11).any(|w| w
        == [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e
        ]));
}

#[test]
fn duplicated_extension_is_detected() {
    let key = SoftEcKey::p256(1);
    let profile = RootCa::new(&root_spec(), key.public_key()).unwrap();
    let mut builder = CertificateBuilder::new(
        profile,
        random_serial().unwrap(),
        validity(NB, NA).unwrap(),
        key.public_key().spki().clone(),
    )
    .unwrap();
    // The profile adds an SKI too: this one makes two.
    let ski = SubjectKeyIdentifier(der::asn1::OctetString::new(vec![1u8; 20]).unwrap());
    builder.add_extension(&ski).unwrap();
    let signer = KeySigner::with_default_algorithm(&key);
    let cert = builder.build::<_, VerifiedSignature>(&signer).unwrap();
    let dups = duplicate_extensions(cert.tbs_certificate().extensions().unwrap());
    assert_eq!(dups, [rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER]);
    let err = ParsedCertificate::from_der(&cert.to_der().unwrap()).unwrap_err();
    assert_eq!(err.field(), Some("certificate.extensions"));
    assert!(find::<SubjectKeyIdentifier>(cert.tbs_certificate().extensions().unwrap()).is_err());
}

#[test]
fn certificate_input_is_exactly_one() {
    let key = SoftEcKey::p256(1);
    let root = build_root_ca(&root_spec(), &key, None).unwrap();
    let mut trailing = root.der().to_vec();
    trailing.push(0);
    assert!(ParsedCertificate::from_der(&trailing).is_err());
    let pem = root.to_pem().unwrap();
    let chain = format!("{pem}{pem}");
    assert!(ParsedCertificate::parse(chain.as_bytes()).is_err());
    assert!(ParsedCertificate::parse(b"").is_err());
    assert!(ParsedCertificate::parse(&[0x30, 0x03, 0x02, 0x01, 0x01]).is_err());
}

#[test]
fn p384_issuer_defaults_to_sha384() {
    use crate::crypto::testkeys::SoftP384Key;
    let ca_key = SoftP384Key::new(3);
    let root = build_root_ca(&root_spec(), &ca_key, None).unwrap();
    assert_eq!(
        root.signature_algorithm().unwrap(),
        SignatureAlgorithm::EcdsaSha384
    );
    root.verify_signed_by(ca_key.public_key()).unwrap();
    // A P-256 leaf under the P-384 root is signed with the issuer's algorithm.
    let leaf_key = SoftEcKey::p256(8);
    let leaf = build_issued(
        &ds_spec(),
        leaf_key.public_key(),
        &ca_key,
        root.certificate(),
        None,
    )
    .unwrap();
    assert_eq!(
        leaf.signature_algorithm().unwrap(),
        SignatureAlgorithm::EcdsaSha384
    );
    leaf.verify_signed_by(ca_key.public_key()).unwrap();
    let csr = build_csr(
        &CsrSpec {
            subject: ds_spec().subject,
            ..Default::default()
        },
        &ca_key,
        None,
    )
    .unwrap();
    assert_eq!(csr.signature_algorithm, SignatureAlgorithm::EcdsaSha384);
}
