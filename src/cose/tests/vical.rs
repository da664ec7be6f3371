//! VICALs: built, signed and read back; the builder's and the signer's refusals; the parser
//! on the published AAMVA and Austroads VICALs (tests/data/vical/README.md).

use super::*;
use crate::cose::vical::{Finding, MAX_TEXT_LEN, MAX_VICAL_LEN};
use crate::crypto::testkeys::SoftP384Key;
use crate::x509;
use crate::x509::{
    DnFields, IssuedKind, IssuedSpec, KeyUsageName, RootCaSpec, StringEncoding, build_issued,
    build_root_ca,
};

pub(super) const AAMVA: &[u8] = include_bytes!("../../../tests/data/vical/aamva.cbor");
pub(super) const AUSTROADS: &[u8] = include_bytes!("../../../tests/data/vical/austroads.cbor");
const AUSTROADS_ROOT: &[u8] = include_bytes!("../../../tests/data/vical/austroads-root.pem");
const OHIO: &[u8] = include_bytes!("../../../tests/data/iso/us-oh-2024.pem");
const PHOTO_ID: &str = "org.iso.23220.photoid.1";

/// A DTS root (P-384) and a VICAL signer on `curve` under it, with the signer's key.
pub(super) struct Dts {
    pub root: ParsedCertificate,
    pub signer: ParsedCertificate,
    pub signer_key: SoftEcKey,
}

fn name(cn: &str) -> DnFields {
    DnFields {
        common_name: Some(cn.into()),
        country: Some("US".into()),
        organization: Some("Example DTS".into()),
        ..Default::default()
    }
}

/// A certificate under `root` for `key`, with `eku` (critical) and the given validity.
fn issue(
    root: &ParsedCertificate,
    root_key: &SoftP384Key,
    key: &SoftEcKey,
    eku: &[&str],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> ParsedCertificate {
    let spec = IssuedSpec {
        subject: name("Example VICAL Signer"),
        string_encoding: StringEncoding::Utf8,
        not_before,
        not_after,
        kind: IssuedKind::EndEntity,
        key_usage: vec![KeyUsageName::DigitalSignature],
        extended_key_usage: eku.iter().map(|s| s.to_string()).collect(),
        extended_key_usage_critical: true,
        subject_alt_names: None,
        issuer_alt_names: None,
        crl_distribution_point_uri: None,
    };
    build_issued(&spec, key.public_key(), root_key, root.certificate(), None).unwrap()
}

pub(super) fn root(seed: u8) -> (ParsedCertificate, SoftP384Key) {
    let key = SoftP384Key::new(seed);
    let spec = RootCaSpec {
        subject: name("Example DTS Root"),
        string_encoding: StringEncoding::Utf8,
        not_before: datetime!(2026-01-01 00:00:00 UTC),
        not_after: datetime!(2046-01-01 00:00:00 UTC),
        path_len: Some(0),
        digital_signature: false,
        issuer_alt_names: None,
        crl_distribution_point_uri: None,
    };
    (build_root_ca(&spec, &key, None).unwrap(), key)
}

pub(super) fn dts(curve: Curve) -> Dts {
    let (root, root_key) = root(30);
    let signer_key = SoftEcKey::new(curve, 31);
    let signer = issue(
        &root,
        &root_key,
        &signer_key,
        &["1.0.18013.5.1.8"],
        datetime!(2026-01-01 00:00:00 UTC),
        datetime!(2028-01-01 00:00:00 UTC),
    );
    Dts {
        root,
        signer,
        signer_key,
    }
}

/// An IACA (P-256 key from `seed`) valid over the given years.
pub(super) fn iaca(seed: u8, state: Option<&str>, from: i32, to: i32) -> ParsedCertificate {
    let key = SoftEcKey::p256(seed);
    build_iaca(
        &IacaSpec {
            country: "US".into(),
            common_name: format!("IACA {seed}"),
            state_or_province: state.map(str::to_owned),
            organization: None,
            not_before: datetime!(2026-01-01 00:00:00 UTC)
                .replace_year(from)
                .unwrap(),
            not_after: datetime!(2026-01-01 00:00:00 UTC).replace_year(to).unwrap(),
            issuer_alt_names: AltNames {
                uris: vec!["https://iaca.example.com".into()],
                ..Default::default()
            },
            crl_distribution_point_uri: None,
        },
        &key,
    )
    .unwrap()
}

fn member(cert: ParsedCertificate, doc_types: &[&str]) -> VicalMember {
    VicalMember {
        certificate: cert,
        doc_types: doc_types.iter().map(|s| s.to_string()).collect(),
        certificate_profiles: Vec::new(),
        issuing_authority: None,
    }
}

pub(super) fn members() -> Vec<VicalMember> {
    let mut first = member(iaca(41, Some("US-OH"), 2026, 2036), &[MDL, PHOTO_ID]);
    first.certificate_profiles = vec!["urn:example:mdl-iaca".into()];
    first.issuing_authority = Some("Example Motor Vehicles".into());
    vec![
        first,
        member(iaca(42, None, 2025, 2035), &[MDL]),
        member(ParsedCertificate::parse(OHIO).unwrap(), &[MDL]),
    ]
}

pub(super) fn spec() -> VicalSpec {
    VicalSpec {
        vical_provider: "Example DTS".into(),
        date: datetime!(2026-06-01 12:00:00.75 UTC),
        vical_issue_id: 7,
        next_update: Some(datetime!(2026-06-02 12:00:00 UTC)),
    }
}

/// What the service does: build, prepare, `crypto::sign` with the (here software) key, finish.
pub(super) fn sign_vical(dts: &Dts, x5chain: &[ParsedCertificate]) -> SignedVical {
    let prepared = build_vical(&spec(), &members())
        .unwrap()
        .prepare(x5chain)
        .unwrap();
    let sig = crypto::sign(
        &dts.signer_key,
        prepared.signature_algorithm(),
        prepared.bytes(),
    )
    .unwrap();
    prepared.finish(sig.to_fixed()).unwrap()
}

fn build_err(spec: &VicalSpec, members: &[VicalMember]) -> CoseError {
    let e = build_vical(spec, members).unwrap_err();
    assert!(e.is_client_error(), "{e}");
    e
}

fn map_keys(v: &Value) -> Vec<&str> {
    v.as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_text().unwrap())
        .collect()
}

#[test]
fn built_vicals_round_trip_verify_and_have_no_findings() {
    for (curve, protected) in [
        (Curve::P256, vec![0xa1, 0x01, 0x26]),
        (Curve::P384, vec![0xa1, 0x01, 0x38, 0x22]),
        (Curve::P521, vec![0xa1, 0x01, 0x38, 0x23]),
    ] {
        let dts = dts(curve);
        for x5chain in [
            vec![dts.signer.clone()],
            vec![dts.signer.clone(), dts.root.clone()],
        ] {
            let signed = sign_vical(&dts, &x5chain);
            // Untagged COSE_Sign1 (0x84), as AAMVA's and MATTR's are.
            assert_eq!(signed.bytes()[0], 0x84);
            let parsed = parse_vical(signed.bytes()).unwrap();
            assert!(!parsed.is_tagged());
            assert_eq!(parsed.vical(), signed.vical());
            assert_eq!(parsed.payload(), signed.payload());
            assert_eq!(parsed.x5chain(), x5chain.as_slice());
            assert_eq!(parsed.signature_algorithm(), signed.signature_algorithm());
            parsed.verify_signature().unwrap();
            parsed.verify_x5chain(Some(&dts.root)).unwrap();
            assert_eq!(parsed.findings(), Vec::<Finding>::new());

            let v: Value = ciborium::de::from_reader(signed.bytes()).unwrap();
            let a = v.as_array().unwrap();
            assert_eq!(a[0], Value::Bytes(protected.clone()));
            let x5 = &a[1].as_map().unwrap()[0];
            assert_eq!(x5.0, Value::from(33));
            match x5chain.len() {
                // RFC 9360: one certificate as a bstr, more as an array.
                1 => assert_eq!(x5.1, Value::Bytes(dts.signer.der().to_vec())),
                _ => assert_eq!(x5.1.as_array().unwrap().len(), 2),
            }
            // The payload is the VICAL map itself, not tag 24.
            assert_eq!(a[2], Value::Bytes(signed.payload().to_vec()));
            assert_eq!(signed.payload()[0] >> 5, 5, "a map");
        }
    }
}

#[test]
fn the_vical_says_what_its_certificates_say() {
    let members = members();
    let unsigned = build_vical(&spec(), &members).unwrap();
    let vical = unsigned.vical();
    assert_eq!(vical.version, "1.0");
    assert_eq!(
        vical.date,
        datetime!(2026-06-01 12:00:00 UTC),
        "no fraction"
    );
    assert_eq!(vical.vical_issue_id, Some(7));
    let v: Value = ciborium::de::from_reader(unsigned.bytes()).unwrap();
    assert_eq!(
        map_keys(&v),
        [
            "version",
            "vicalProvider",
            "date",
            "vicalIssueID",
            "nextUpdate",
            "certificateInfos"
        ]
    );
    assert_eq!(
        map_get(&v, "date"),
        &Value::Tag(0, Box::new(Value::Text("2026-06-01T12:00:00Z".into())))
    );
    let infos = map_get(&v, "certificateInfos").as_array().unwrap();
    assert_eq!(
        map_keys(&infos[0]),
        [
            "certificate",
            "serialNumber",
            "ski",
            "docType",
            "certificateProfile",
            "issuingAuthority",
            "issuingCountry",
            "stateOrProvinceName",
            "notBefore",
            "notAfter"
        ]
    );
    // No stateOrProvinceName when the certificate has none, no profile or authority unasked.
    assert_eq!(
        map_keys(&infos[1]),
        [
            "certificate",
            "serialNumber",
            "ski",
            "docType",
            "issuingCountry",
            "notBefore",
            "notAfter"
        ]
    );
    for (info, m) in vical.certificate_infos.iter().zip(&members) {
        let cert = &m.certificate;
        assert_eq!(info.certificate, cert.der());
        assert_eq!(
            Some(info.ski.clone()),
            cert.ext().subject_key_identifier().unwrap()
        );
        let subject = cert.subject().unwrap();
        assert_eq!(info.issuing_country, subject.country);
        assert_eq!(info.state_or_province_name, subject.state_or_province);
        assert_eq!(info.not_before, Some(cert.not_before()));
        assert_eq!(info.not_after, Some(cert.not_after()));
        assert_eq!(
            x509::hex(&info.serial_number),
            cert.serial_hex().trim_start_matches("00")
        );
    }
    assert_eq!(vical.certificate_infos[0].doc_types, [MDL, PHOTO_ID]);
}

#[test]
fn serial_numbers_are_tagged_biguints_without_leading_zeros() {
    // Ohio's serial d68f9a53... has its top bit set: DER writes 00 d6 8f ..., the biguint
    // d6 8f ... under tag 2.
    let unsigned = build_vical(&spec(), &members()).unwrap();
    let ohio = &unsigned.vical().certificate_infos[2];
    assert_eq!(ohio.serial_number[0], 0xd6);
    assert_eq!(ohio.serial_number.len(), 16);
    let mut want = vec![0xc2, 0x50];
    want.extend_from_slice(&ohio.serial_number);
    assert!(unsigned.bytes().windows(want.len()).any(|w| w == want));
    // A serial that would fit a uint is still #6.2(bstr) (the CDDL's biguint; MATTR's VICAL
    // does the same), and parses back.
    let mut small = ohio.clone();
    small.serial_number = vec![0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08];
    let encoded = encode(&small.to_value());
    assert!(
        encoded
            .windows(10)
            .any(|w| w == [0xc2, 0x48, 1, 2, 3, 4, 5, 6, 7, 8])
    );
}

#[test]
fn members_that_may_not_be_listed_are_refused_by_index() {
    // Expired at the VICAL's date: named by index, CN and serial.
    let mut m = members();
    m.insert(1, member(iaca(43, None, 2015, 2026), &[MDL]));
    let e = build_err(&spec(), &m);
    assert_eq!(e.field(), Some("certificateInfos[1]"));
    assert!(e.to_string().contains("\"IACA 43\""), "{e}");
    assert!(
        e.to_string().contains("expired at 2026-01-01T00:00:00Z"),
        "{e}"
    );
    // Valid from a later date: listed (MATTR accepts a future notBefore).
    let mut m = members();
    m.push(member(iaca(44, None, 2027, 2037), &[MDL]));
    assert_eq!(
        build_vical(&spec(), &m)
            .unwrap()
            .vical()
            .certificate_infos
            .len(),
        4
    );

    type Change = Box<dyn Fn(&mut Vec<VicalMember>)>;
    let cases: Vec<(Change, &str)> = vec![
        (Box::new(|m| m.push(m[0].clone())), "certificateInfos[3]"),
        (
            Box::new(|m| m[1].doc_types.clear()),
            "certificateInfos[1].docType",
        ),
        (
            Box::new(|m| m[1].doc_types.push(MDL.into())),
            "certificateInfos[1].docType[1]",
        ),
        (
            Box::new(|m| m[2].doc_types.push(" ".into())),
            "certificateInfos[2].docType[1]",
        ),
        (
            Box::new(|m| m[0].certificate_profiles.push("https://example.com".into())),
            "certificateInfos[0].certificateProfile[1]",
        ),
        (
            Box::new(|m| m[0].issuing_authority = Some("a\nb".into())),
            "certificateInfos[0].issuingAuthority",
        ),
        (
            Box::new(|m| m[1].doc_types = vec!["x".repeat(MAX_TEXT_LEN + 1)]),
            "certificateInfos[1].docType[0]",
        ),
        // A Document Signer (or any non-IACA) is not a member.
        (
            Box::new(|m| m[1].certificate = issuer(Curve::P256).ds),
            "certificateInfos[1].certificate",
        ),
    ];
    for (change, field) in cases {
        let mut m = members();
        change(&mut m);
        assert_eq!(build_err(&spec(), &m).field(), Some(field));
    }
}

#[test]
fn the_vicals_own_fields_are_checked() {
    let e = build_err(
        &VicalSpec {
            vical_provider: "".into(),
            ..spec()
        },
        &members(),
    );
    assert_eq!(e.field(), Some("vicalProvider"));
    let e = build_err(
        &VicalSpec {
            next_update: Some(spec().date),
            ..spec()
        },
        &members(),
    );
    assert_eq!(e.field(), Some("nextUpdate"));
    // No members and no nextUpdate are both allowed (`[* CertificateInfo]`, `? nextUpdate`).
    let empty = build_vical(
        &VicalSpec {
            next_update: None,
            ..spec()
        },
        &[],
    )
    .unwrap();
    assert!(empty.vical().certificate_infos.is_empty());
    assert_eq!(empty.vical().next_update, None);
}

#[test]
fn the_signer_chain_is_checked_before_anything_is_signed() {
    let d = dts(Curve::P256);
    let unsigned = || build_vical(&spec(), &members()).unwrap();
    let refused = |x5chain: &[ParsedCertificate], what: &str| {
        let e = unsigned().prepare(x5chain).unwrap_err();
        assert!(!e.is_client_error(), "{e}");
        assert!(e.to_string().contains(what), "{what}: {e}");
    };
    refused(&[], "must hold the VICAL signer");
    refused(std::slice::from_ref(&d.root), "self-issued");
    let (root, root_key) = root(30);
    let no_eku = issue(
        &root,
        &root_key,
        &d.signer_key,
        &[],
        datetime!(2026-01-01 00:00:00 UTC),
        datetime!(2028-01-01 00:00:00 UTC),
    );
    refused(&[no_eku], "1.0.18013.5.1.8");
    let ds_eku = issue(
        &root,
        &root_key,
        &d.signer_key,
        &["1.0.18013.5.1.2"],
        datetime!(2026-01-01 00:00:00 UTC),
        datetime!(2028-01-01 00:00:00 UTC),
    );
    refused(&[ds_eku], "1.0.18013.5.1.8");
    let expired = issue(
        &root,
        &root_key,
        &d.signer_key,
        &["1.0.18013.5.1.8"],
        datetime!(2026-01-01 00:00:00 UTC),
        datetime!(2026-05-01 00:00:00 UTC),
    );
    refused(&[expired], "expired");
    let (other_root, _) = self::root(32);
    refused(
        &[d.signer.clone(), other_root],
        "x5chain[0] is not issued by x5chain[1]",
    );
    let nine = vec![d.signer.clone(); 9];
    refused(&nine, "at most 8");
}

#[test]
fn finish_takes_only_the_signer_certificates_key() {
    let d = dts(Curve::P256);
    let prepared = build_vical(&spec(), &members())
        .unwrap()
        .prepare(std::slice::from_ref(&d.signer))
        .unwrap();
    assert_eq!(prepared.public_key(), d.signer_key.public_key());
    let other = SoftEcKey::p256(99);
    let sig = crypto::sign(&other, prepared.signature_algorithm(), prepared.bytes()).unwrap();
    let e = prepared.clone().finish(sig.to_fixed()).unwrap_err();
    assert!(e.to_string().contains("VICAL signer certificate"), "{e}");
    let e = prepared.finish(&[0u8; 63]).unwrap_err();
    assert!(e.to_string().contains("63 bytes"), "{e}");
}

#[test]
fn the_parser_refuses_what_is_not_a_signed_vical() {
    let d = dts(Curve::P256);
    let signed = sign_vical(&d, std::slice::from_ref(&d.signer));
    let sign1 = || -> Vec<Value> {
        let v: Value = ciborium::de::from_reader(signed.bytes()).unwrap();
        v.as_array().unwrap().clone()
    };
    let refused = |a: Vec<Value>, field: &str| {
        let e = parse_vical(&encode(&Value::Array(a))).unwrap_err();
        assert!(e.to_string().starts_with(field), "{field}: {e}");
    };
    let mut trailing = signed.bytes().to_vec();
    trailing.push(0);
    assert!(
        parse_vical(&trailing)
            .unwrap_err()
            .to_string()
            .contains("1 bytes after")
    );
    assert!(parse_vical(&vec![0; MAX_VICAL_LEN + 1]).is_err());

    let mut a = sign1();
    a[2] = Value::Null;
    refused(a, "COSE_Sign1.payload");
    let mut a = sign1();
    a[2] = Value::Bytes(encode(&tag24(signed.payload().to_vec())));
    refused(a, "vical: is tagged");
    let mut a = sign1();
    a[0] = Value::Bytes(vec![0xa1, 0x01, 0x38, 0x24]); // PS256
    refused(a, "COSE_Sign1.protected.alg");
    let mut a = sign1();
    a[1] = Value::Map(vec![]);
    refused(a, "x5chain");
    let mut a = sign1();
    a[1] = Value::Map(vec![(Value::from(33), Value::Array(vec![]))]);
    refused(a, "x5chain");

    // The VICAL's CDDL: a missing member, a wrong type, a key twice.
    let mut vical: Value = ciborium::de::from_reader(signed.payload()).unwrap();
    let payload_with = |v: &Value| {
        let mut a = sign1();
        a[2] = Value::Bytes(encode(v));
        a
    };
    let m = vical.as_map_mut().unwrap();
    let infos = m
        .iter_mut()
        .find(|(k, _)| k.as_text() == Some("certificateInfos"))
        .unwrap();
    let first = infos.1.as_array_mut().unwrap()[0].as_map_mut().unwrap();
    first.retain(|(k, _)| k.as_text() != Some("ski"));
    refused(
        payload_with(&vical),
        "vical.certificateInfos[0].ski: is required",
    );
    let mut dup: Value = ciborium::de::from_reader(signed.payload()).unwrap();
    dup.as_map_mut()
        .unwrap()
        .push((Value::Text("version".into()), Value::Text("1.0".into())));
    refused(payload_with(&dup), "vical.version: appears more than once");
    let mut bad: Value = ciborium::de::from_reader(signed.payload()).unwrap();
    bad.as_map_mut().unwrap()[2].1 = Value::Text("2026-06-01T12:00:00Z".into());
    refused(payload_with(&bad), "vical.date: must be a tdate");

    // A flipped signature bit parses and does not verify.
    let mut a = sign1();
    if let Value::Bytes(s) = &mut a[3] {
        s[5] ^= 1;
    }
    let parsed = parse_vical(&encode(&Value::Array(a))).unwrap();
    assert!(parsed.verify_signature().is_err());
    // Tagged (18) is read too.
    let tagged = encode(&Value::Tag(18, Box::new(Value::Array(sign1()))));
    let parsed = parse_vical(&tagged).unwrap();
    assert!(parsed.is_tagged());
    parsed.verify_signature().unwrap();
}

#[test]
fn aamvas_vical_parses_verifies_and_shows_its_departures() {
    let p = parse_vical(AAMVA).unwrap();
    let v = p.vical();
    assert_eq!(v.vical_provider, "AAMVA");
    assert_eq!(v.vical_issue_id, Some(89782));
    assert_eq!(v.date, datetime!(2025-08-05 20:47:21 UTC));
    assert_eq!(v.next_update, Some(v.date + time::Duration::days(1)));
    assert_eq!(v.certificate_infos.len(), 13);
    assert!(v.certificate_infos.iter().all(|c| c.doc_types == [MDL]));
    assert_eq!(
        v.certificate_infos[1].state_or_province_name.as_deref(),
        Some("US-UT")
    );
    assert_eq!(
        p.signature_algorithm(),
        crypto::SignatureAlgorithm::EcdsaSha256
    );
    p.verify_signature().unwrap();
    // Three certificates: signer, issuing CA, root; the root is the chain's end.
    assert_eq!(p.x5chain().len(), 3);
    assert!(p.x5chain()[2].is_self_issued());
    p.verify_x5chain(Some(&p.x5chain()[2])).unwrap();
    let signer_cn = p.signer().subject().unwrap().common_name;
    assert_eq!(signer_cn.as_deref(), Some("AAMVA Prod Vical-Signer-01"));

    let findings = p.findings();
    let count = |suffix: &str| {
        findings
            .iter()
            .filter(|f| f.field.ends_with(suffix))
            .count()
    };
    // Every ski is the DER extnValue, not the keyIdentifier.
    assert_eq!(count(".ski"), 13, "{findings:#?}");
    assert!(findings.iter().any(|f| f.message.contains("DER extnValue")));
    // Six members' validity dates are 12 hours off their certificates'.
    assert_eq!(count(".notBefore"), 6, "{findings:#?}");
    assert_eq!(count(".notAfter"), 6, "{findings:#?}");
    let nb = findings
        .iter()
        .find(|f| f.field == "certificateInfos[2].notBefore")
        .unwrap();
    assert_eq!(
        nb.message,
        "is 2024-01-11T06:20:55Z, the certificate's 2024-01-11T18:20:55Z"
    );
    // `Extensions` on every member, `CertificateProfile` on one: capitalised, so not the
    // CDDL's members.
    let others: Vec<&CertificateInfo> = v
        .certificate_infos
        .iter()
        .filter(|c| c.other_keys.contains(&"Extensions".to_string()))
        .collect();
    assert_eq!(others.len(), 13);
    assert!(
        v.certificate_infos
            .iter()
            .all(|c| c.certificate_profiles.is_none())
    );
    assert_eq!(
        v.certificate_infos
            .iter()
            .filter(|c| c.other_keys.contains(&"CertificateProfile".to_string()))
            .count(),
        1
    );
    assert_eq!(count("]"), 13, "one other-members finding per member");
    assert_eq!(findings.len(), 13 + 6 + 6 + 13, "{findings:#?}");
}

#[test]
fn mattrs_austroads_vical_parses_verifies_and_chains_to_its_root() {
    let p = parse_vical(AUSTROADS).unwrap();
    let v = p.vical();
    assert_eq!(v.vical_provider, "Austroads");
    assert_eq!(v.vical_issue_id, Some(27));
    assert_eq!(v.next_update, None);
    assert_eq!(v.certificate_infos.len(), 40);
    let with = |doc_type: &str| {
        v.certificate_infos
            .iter()
            .filter(|c| c.doc_types.iter().any(|d| d == doc_type))
            .count()
    };
    assert!(with(MDL) > 20 && with(PHOTO_ID) > 0 && with("org.iso.7367.1.mVRC") > 0);
    p.verify_signature().unwrap();
    assert_eq!(p.x5chain().len(), 1, "a single bstr");
    let root = ParsedCertificate::parse(AUSTROADS_ROOT).unwrap();
    p.verify_x5chain(Some(&root)).unwrap();
    let aamva_root = parse_vical(AAMVA).unwrap().x5chain()[2].clone();
    assert!(p.verify_x5chain(Some(&aamva_root)).is_err());

    // MATTR writes the keyIdentifier (like us) and "" for an absent stateOrProvinceName.
    let findings = p.findings();
    let empty_states = findings
        .iter()
        .filter(|f| f.field.ends_with(".stateOrProvinceName") && f.message.starts_with("is empty"))
        .count();
    let no_state = v
        .certificate_infos
        .iter()
        .filter(|c| c.state_or_province_name.as_deref() == Some(""))
        .count();
    assert_eq!(empty_states, no_state);
    assert!(no_state > 10, "{no_state}");
    assert!(!findings.iter().any(|f| f.field.ends_with(".serialNumber")));
    assert!(!findings.iter().any(|f| f.field.ends_with(".notBefore")));
    // Nothing else: ski, serials, dates and countries agree with every certificate.
    let rest: Vec<&Finding> = findings
        .iter()
        .filter(|f| !f.field.ends_with(".stateOrProvinceName"))
        .collect();
    assert!(rest.is_empty(), "{rest:#?}");
}

/// Bounded mutations of a real VICAL and of ours: every outcome is a value or an error,
/// never a panic, also in what runs after a successful parse.
#[test]
fn mutated_vicals_never_panic() {
    let d = dts(Curve::P256);
    let ours = sign_vical(&d, &[d.signer.clone(), d.root.clone()]);
    for input in [AAMVA, ours.bytes()] {
        let mut parsed = 0;
        for at in (0..input.len()).step_by(61) {
            for flip in [0x01u8, 0xff] {
                let mut m = input.to_vec();
                m[at] ^= flip;
                if let Ok(p) = parse_vical(&m) {
                    parsed += 1;
                    let _ = p.verify_signature();
                    let _ = p.verify_x5chain(Some(&d.root));
                    let _ = p.findings();
                }
            }
            let _ = parse_vical(&input[..at]);
        }
        assert!(parsed > 0);
    }
}
