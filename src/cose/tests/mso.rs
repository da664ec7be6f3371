use super::*;

/// A valid MSO's value, to break one member at a time.
fn mso_value() -> Value {
    unsigned(&items()).mso().to_value()
}

fn set(v: &mut Value, path: &[&str], new: Option<Value>) {
    let map = v.as_map_mut().unwrap();
    let i = map.iter().position(|(k, _)| k.as_text() == Some(path[0]));
    if path.len() > 1 {
        set(&mut map[i.unwrap()].1, &path[1..], new);
        return;
    }
    match (i, new) {
        (Some(i), Some(new)) => map[i].1 = new,
        (Some(i), None) => {
            map.remove(i);
        }
        (None, Some(new)) => map.push((Value::Text(path[0].into()), new)),
        (None, None) => panic!("nothing to remove at {path:?}"),
    }
}

fn refusal(v: &Value) -> CoseError {
    let err = parse_mso(&encode(v), 1 << 20).unwrap_err();
    assert!(err.is_client_error(), "{err}");
    err
}

#[test]
fn a_clients_mso_is_taken_bare_or_tagged_and_signed_as_received() {
    let bare = encode(&mso_value());
    let tagged = encode(&tag24(bare.clone()));
    let a = parse_mso(&bare, 1 << 20).unwrap();
    let b = parse_mso(&tagged, 1 << 20).unwrap();
    assert_eq!(a.mso(), b.mso());
    assert_eq!(a.bytes(), tagged);
    assert_eq!(b.bytes(), tagged);
    a.mso().check_doc_type(MDL).unwrap();
    let err = a
        .mso()
        .check_doc_type("org.iso.23220.photoid.1")
        .unwrap_err();
    assert_eq!(err.field(), Some("mso.docType"));

    // Signed as the service will: prepare, sign, finish; the payload is what was received.
    let issuer = issuer(Curve::P384);
    let tbs = prepare(b, std::slice::from_ref(&issuer.ds)).unwrap();
    assert_eq!(tbs.payload(), tagged);
    let sig = crypto::sign(&issuer.ds_key, tbs.signature_algorithm(), tbs.bytes()).unwrap();
    let auth = finish(tbs, sig.to_fixed()).unwrap();
    assert_eq!(auth.payload(), tagged);
    let sign1 =
        CoseSign1::from_cbor_value(ciborium::de::from_reader(auth.bytes()).unwrap()).unwrap();
    issuer
        .ds_key
        .public_key()
        .verify_fixed(
            auth.signature_algorithm(),
            &sign1.tbs_data(b""),
            &sign1.signature,
        )
        .unwrap();
}

#[test]
fn a_clients_mso_is_parsed_strictly() {
    let ns = MDL_NS;
    let cases: Vec<(&[&str], Option<Value>, &str)> = vec![
        (&["version"], Some(Value::Text("1.1".into())), "mso.version"),
        (&["version"], None, "mso.version"),
        (
            &["digestAlgorithm"],
            Some(Value::Text("MD5".into())),
            "mso.digestAlgorithm",
        ),
        (&["docType"], Some(Value::Text("".into())), "mso.docType"),
        (&["docType"], Some(Value::from(1)), "mso.docType"),
        (&["docType"], None, "mso.docType"),
        (
            &["valueDigests"],
            Some(Value::Map(vec![])),
            "mso.valueDigests",
        ),
        (
            &["valueDigests", MDL_NS],
            Some(Value::Map(vec![])),
            "mso.valueDigests.org.iso.18013.5.1",
        ),
        (
            &["validityInfo", "validUntil"],
            Some(super::tdate::tdate_value(
                datetime!(2026-03-01 00:00:00 UTC),
            )),
            "mso.validityInfo.validUntil",
        ),
        (
            &["validityInfo", "signed"],
            Some(Value::Text("2026-03-01T00:00:00Z".into())),
            "mso.validityInfo.signed",
        ),
        (&["validityInfo", "signed"], None, "mso.validityInfo.signed"),
        (
            &["validityInfo", "extra"],
            Some(Value::Null),
            "mso.validityInfo.extra",
        ),
        (
            &["deviceKeyInfo", "deviceKey"],
            None,
            "mso.deviceKeyInfo.deviceKey",
        ),
        (
            &["deviceKeyInfo", "keyInfo"],
            Some(Value::Map(vec![(Value::Text("x".into()), Value::Null)])),
            "mso.deviceKeyInfo.keyInfo",
        ),
        (
            &["deviceKeyInfo", "keyAuthorizations"],
            Some(Value::Map(vec![(
                Value::Text("nameSpaces".into()),
                Value::Array(vec![]),
            )])),
            "mso.deviceKeyInfo.keyAuthorizations.nameSpaces",
        ),
        (
            &["deviceKeyInfo", "extra"],
            Some(Value::Null),
            "mso.deviceKeyInfo.extra",
        ),
        (&["status"], Some(Value::Map(vec![])), "mso.status"),
    ];
    for (path, new, field) in cases {
        let mut v = mso_value();
        set(&mut v, path, new);
        assert_eq!(refusal(&v).field(), Some(field), "{path:?}");
    }
    // Digest lengths follow digestAlgorithm.
    let mut v = mso_value();
    set(
        &mut v,
        &["digestAlgorithm"],
        Some(Value::Text("SHA-384".into())),
    );
    assert!(
        refusal(&v)
            .field()
            .unwrap()
            .starts_with("mso.valueDigests.org.iso.18013.5.1.")
    );
    // digestIDs: unsigned, at most 2^31-1, each once.
    for bad_id in [
        Value::from(-1),
        Value::from(MAX_DIGEST_ID + 1),
        Value::Text("0".into()),
    ] {
        let mut v = mso_value();
        let Value::Map(ids) = map_get(map_get(&v, "valueDigests"), ns).clone() else {
            panic!()
        };
        let mut ids = ids;
        ids[0].0 = bad_id.clone();
        set(&mut v, &["valueDigests", ns], Some(Value::Map(ids)));
        assert_eq!(
            refusal(&v).field(),
            Some("mso.valueDigests.org.iso.18013.5.1"),
            "{bad_id:?}"
        );
    }
    let mut v = mso_value();
    let Value::Map(mut ids) = map_get(map_get(&v, "valueDigests"), ns).clone() else {
        panic!()
    };
    ids[1].0 = ids[0].0.clone();
    set(&mut v, &["valueDigests", ns], Some(Value::Map(ids)));
    assert!(refusal(&v).to_string().contains("more than once"));
    // A private key in the device key.
    let mut v = mso_value();
    let Value::Map(mut key) = map_get(map_get(&v, "deviceKeyInfo"), "deviceKey").clone() else {
        panic!()
    };
    key.push((Value::from(-4), Value::Bytes(vec![0x42; 32])));
    set(
        &mut v,
        &["deviceKeyInfo", "deviceKey"],
        Some(Value::Map(key)),
    );
    let err = refusal(&v);
    assert_eq!(err.field(), Some("mso.deviceKeyInfo.deviceKey.-4"));
    assert!(!err.to_string().contains("4242"));
    // A member twice.
    let Value::Map(mut m) = mso_value() else {
        panic!()
    };
    m.push(m[4].clone());
    assert_eq!(refusal(&Value::Map(m)).field(), Some("mso.docType"));
    // Not a map at all; keyInfo and keyAuthorizations that are fine.
    assert_eq!(refusal(&Value::Array(vec![])).field(), Some("mso"));
    let mut v = mso_value();
    set(
        &mut v,
        &["deviceKeyInfo", "keyInfo"],
        Some(Value::Map(vec![(Value::from(-65537), Value::Null)])),
    );
    let auth = Value::Map(vec![
        (
            Value::Text("nameSpaces".into()),
            Value::Array(vec![Value::Text(ns.into())]),
        ),
        (
            Value::Text("dataElements".into()),
            Value::Map(vec![(
                Value::Text("x".into()),
                Value::Array(vec![Value::Text("y".into())]),
            )]),
        ),
    ]);
    set(&mut v, &["deviceKeyInfo", "keyAuthorizations"], Some(auth));
    assert!(parse_mso(&encode(&v), 1 << 20).is_ok());
}

#[test]
fn a_clients_mso_bytes_must_be_one_preferred_item() {
    let bare = encode(&mso_value());
    let field = |input: &[u8]| {
        parse_mso(input, 1 << 20)
            .unwrap_err()
            .field()
            .map(String::from)
    };
    let mut trailing = bare.clone();
    trailing.push(0);
    assert_eq!(field(&trailing), Some("mso".into()));
    // The inner MSO of the tagged form with a trailing byte.
    assert_eq!(field(&encode(&tag24(trailing))), Some("mso".into()));
    // An indefinite-length map: the same MSO, in another serialization.
    let mut indefinite = vec![0xbf];
    indefinite.extend_from_slice(&bare[1..]);
    indefinite.push(0xff);
    let err = parse_mso(&indefinite, 1 << 20).unwrap_err();
    assert!(err.to_string().contains("preferred serialization"), "{err}");
    // Tag 24 with a byte string head one byte longer than needed.
    let n = bare.len();
    assert!(n > 255 && n < 65536);
    let mut long_head = vec![0xd8, 0x18, 0x5a, 0, 0, (n >> 8) as u8, n as u8];
    long_head.extend_from_slice(&bare);
    assert!(parse_mso(&long_head, 1 << 20).is_err());
    // Tag 24 over text; a tag other than 24; a truncated MSO; nothing.
    assert!(
        parse_mso(
            &encode(&Value::Tag(24, Box::new(Value::Text("x".into())))),
            1 << 20
        )
        .is_err()
    );
    assert!(
        parse_mso(
            &encode(&Value::Tag(25, Box::new(Value::Bytes(bare.clone())))),
            1 << 20
        )
        .is_err()
    );
    assert!(parse_mso(&bare[..n - 1], 1 << 20).is_err());
    assert!(parse_mso(&[], 1 << 20).is_err());
    // The size limit.
    let err = parse_mso(&bare, n - 1).unwrap_err();
    assert!(matches!(err, CoseError::TooLarge { .. }));
    assert!(parse_mso(&bare, n).is_ok());
}

#[test]
fn prepare_names_a_clients_validity_fields() {
    let issuer = issuer(Curve::P256);
    let with = |member: &str, t: OffsetDateTime| {
        let mut v = mso_value();
        set(
            &mut v,
            &["validityInfo", member],
            Some(super::tdate::tdate_value(t)),
        );
        let payload = parse_mso(&encode(&v), 1 << 20).unwrap();
        prepare(payload, std::slice::from_ref(&issuer.ds)).unwrap_err()
    };
    // A client's MSO may say validFrom before signed, but not before the DS certificate.
    let err = with("validFrom", datetime!(2026-01-15 00:00:00 UTC));
    assert_eq!(err.field(), Some("mso.validityInfo.validFrom"));
    let err = with("signed", datetime!(2027-03-01 00:00:00 UTC));
    assert_eq!(err.field(), Some("mso.validityInfo.signed"));
    let err = with("validUntil", datetime!(2030-01-01 00:00:00 UTC));
    assert_eq!(err.field(), Some("mso.validityInfo.validUntil"));
}

#[test]
fn annex_d_example_parses_and_verifies() {
    let v: Value = ciborium::de::from_reader(ANNEX_D).unwrap();
    let sign1 = CoseSign1::from_cbor_value(map_get(&v, "issuerAuth").clone()).unwrap();
    let payload = sign1.payload.clone().unwrap();
    let parsed = parse_mso(&payload, 1 << 16).unwrap();
    let mso = parsed.mso();
    assert_eq!(mso.doc_type(), MDL);
    assert_eq!(mso.digest_algorithm(), DigestAlgorithm::Sha256);
    assert_eq!(
        mso.validity(),
        &ValidityInfo {
            signed: datetime!(2020-10-01 13:30:02 UTC),
            valid_from: datetime!(2020-10-01 13:30:02 UTC),
            valid_until: datetime!(2021-10-01 13:30:02 UTC),
            expected_update: None,
        }
    );
    let counts: Vec<(&str, usize)> = mso
        .value_digests()
        .iter()
        .map(|(ns, d)| (ns.as_str(), d.len()))
        .collect();
    assert_eq!(counts, [(MDL_NS, 13), ("org.iso.18013.5.1.US", 4)]);
    assert_eq!(
        mso.device_key().public_key().algorithm(),
        crate::crypto::KeyAlgorithm::P256
    );
    // The bare MSO parses to the same, and wrapping it gives the example's payload back.
    let Value::Tag(24, inner) = ciborium::de::from_reader::<Value, _>(&payload[..]).unwrap() else {
        panic!()
    };
    let bare = parse_mso(inner.as_bytes().unwrap(), 1 << 16).unwrap();
    assert_eq!(bare.mso(), mso);
    assert_eq!(bare.bytes(), payload);
    // Its signature verifies over the Sig_structure coset builds, with its x5chain's key,
    // and each of its six items has its digest in the MSO.
    let (read, checked) = read_back(ANNEX_D);
    assert_eq!(&read, mso);
    assert_eq!(checked, 6);
    // The example's IssuerSigned is in preferred serialization too: ciborium re-encodes it
    // byte for byte.
    assert_eq!(encode(&v), ANNEX_D);
}
