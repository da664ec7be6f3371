use super::*;

#[test]
fn issuer_signed_round_trip_verifies_and_every_digest_matches() {
    for curve in [Curve::P256, Curve::P384, Curve::P521] {
        let issuer = issuer(curve);
        let signed = sign(&issuer, &items());
        let (mso, checked) = read_back(signed.bytes());
        assert_eq!(checked, 10);
        assert_eq!(&mso, signed.issuer_auth().mso());
        assert_eq!(mso.doc_type(), MDL);
        assert_eq!(mso.digest_algorithm(), DigestAlgorithm::Sha256);
        assert_eq!(mso.validity(), &validity());
        assert_eq!(
            mso.device_key(),
            &DeviceKey::from_jwk(&device_jwk()).unwrap()
        );
        assert_eq!(
            Base64UrlUnpadded::decode_vec(&signed.encoded()).unwrap(),
            signed.bytes()
        );
        // The payload as built parses back to the same bytes (our output is in preferred
        // serialization, so the strict parser takes it).
        let reparsed = parse_mso(signed.issuer_auth().payload(), 1 << 20).unwrap();
        assert_eq!(reparsed.bytes(), signed.issuer_auth().payload());
    }
}

#[test]
fn sig_structure_and_headers_are_exact() {
    for (curve, protected) in [
        (Curve::P256, vec![0xa1, 0x01, 0x26]),
        (Curve::P384, vec![0xa1, 0x01, 0x38, 0x22]),
        (Curve::P521, vec![0xa1, 0x01, 0x38, 0x23]),
    ] {
        let issuer = issuer(curve);
        let mdoc = unsigned(&items())
            .prepare(std::slice::from_ref(&issuer.ds))
            .unwrap();
        let tbs = mdoc.to_be_signed();
        let expected = encode(&Value::Array(vec![
            Value::Text("Signature1".into()),
            Value::Bytes(protected.clone()),
            Value::Bytes(vec![]),
            Value::Bytes(tbs.payload().to_vec()),
        ]));
        assert_eq!(tbs.bytes(), expected);
        assert_eq!(tbs.public_key(), issuer.ds_key.public_key());
        // The payload is #6.24(bstr .cbor MSO).
        assert_eq!(&tbs.payload()[..2], [0xd8, 0x18]);
        let sig = crypto::sign(&issuer.ds_key, tbs.signature_algorithm(), tbs.bytes()).unwrap();
        let auth = finish(tbs.clone(), sig.to_fixed()).unwrap();
        let v: Value = ciborium::de::from_reader(auth.bytes()).unwrap();
        let a = v.as_array().expect("untagged COSE_Sign1");
        assert_eq!(a[0], Value::Bytes(protected));
        assert_eq!(
            a[1],
            Value::Map(vec![(
                Value::from(33),
                Value::Bytes(issuer.ds.der().to_vec())
            )])
        );
        assert_eq!(a[3], Value::Bytes(sig.to_fixed().to_vec()));
    }
}

#[test]
fn digest_ids_follow_the_salts_and_are_unique_per_namespace() {
    let mdoc = unsigned(&items());
    let digests = mdoc.mso().value_digests();
    assert_eq!(digests.len(), 2);
    for (ns, ids) in digests {
        let ids: Vec<u64> = ids.iter().map(|(id, _)| *id).collect();
        let want: Vec<u64> = (0..ids.len() as u64).collect();
        assert_eq!(ids, want, "{ns}: 0..n, each once");
    }
    // Salts were given in descending order, so the first element has the highest ID.
    let signed = sign(&issuer(Curve::P256), &items());
    let first = &signed.decoded()["namespaces"][MDL_NS][0];
    assert_eq!(first["digestID"], json!(8));
    assert_eq!(first["elementIdentifier"], json!("age_over_18"));
}

#[test]
fn decoded_view_is_mattrs_shape() {
    let signed = sign(&issuer(Curve::P256), &items());
    let d = signed.decoded();
    assert_eq!(d["docType"], json!(MDL));
    assert_eq!(
        d["validityInfo"],
        json!({
            "signed": "2026-03-01T00:00:00Z",
            "validFrom": "2026-03-01T00:00:00Z",
            "validUntil": "2026-09-01T00:00:00Z",
            "expectedUpdate": "2026-06-01T00:00:00Z"
        })
    );
    let items = d["namespaces"][MDL_NS].as_array().unwrap();
    assert_eq!(items.len(), 9);
    let item = |id: &str| {
        items
            .iter()
            .find(|i| i["elementIdentifier"] == json!(id))
            .unwrap()
    };
    let capture = item("portrait_capture_date");
    assert_eq!(
        capture["elementValue"],
        json!({"type": "date-time", "value": "2026-02-20T08:00:00Z"})
    );
    assert_eq!(
        Base64::decode_vec(capture["random"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    assert_eq!(
        item("portrait")["elementValue"]["value"],
        json!(Base64::encode_string(&portrait()))
    );
    assert_eq!(
        d["namespaces"]["org.iso.18013.5.1.aamva"][0]["digestID"],
        json!(0)
    );
}

#[test]
fn salts_are_checked() {
    let build = |salts: &[Vec<u8>]| {
        let elements = parse_items_to_sign(&items(), &LIMITS).unwrap();
        let key = DeviceKey::from_jwk(&device_jwk()).unwrap();
        build_mdoc(MDL, elements, salts, key, validity()).unwrap_err()
    };
    let good: Vec<Vec<u8>> = salts(10).iter().map(|s| s.to_vec()).collect();
    let mut few = good.clone();
    few.pop();
    let mut short = good.clone();
    short[3].truncate(MIN_SALT_LEN - 1);
    let mut long = good.clone();
    long[3].resize(MAX_SALT_LEN + 1, 0);
    let mut same = good.clone();
    same[3] = same[4].clone();
    for (what, salts) in [
        ("few", few),
        ("short", short),
        ("long", long),
        ("same", same),
    ] {
        let err = build(&salts);
        assert!(!err.is_client_error(), "{what}: {err}");
    }
    let elements = parse_items_to_sign(&items(), &LIMITS).unwrap();
    let key = DeviceKey::from_jwk(&device_jwk()).unwrap();
    let err = build_mdoc("", elements, &good, key, validity()).unwrap_err();
    assert_eq!(err.field(), Some("payload.docType"));
}

#[test]
fn validity_of_a_built_mso() {
    let t = |s: i64| datetime!(2026-03-01 00:00:00 UTC) + time::Duration::seconds(s);
    let err = ValidityInfo::new(t(0), t(10), t(10), None).unwrap_err();
    assert_eq!(err.field(), Some("payload.validityInfo.validUntil"));
    let err = ValidityInfo::new(t(5), t(4), t(10), None).unwrap_err();
    assert_eq!(err.field(), Some("payload.validityInfo.validFrom"));
    // The time of signing is cut to the second, so a validFrom equal to it to the second
    // is fine.
    let v = ValidityInfo::new(t(5) + time::Duration::milliseconds(900), t(5), t(10), None).unwrap();
    assert_eq!(v.signed, t(5));
    let err = ValidityInfo::new(t(0), t(1), t(2), Some(datetime!(-0001-12-31 00:00:00 UTC)));
    assert_eq!(
        err.unwrap_err().field(),
        Some("payload.validityInfo.expectedUpdate")
    );
}

#[test]
fn prepare_refuses_a_chain_or_validity_that_does_not_fit() {
    let issuer = issuer(Curve::P256);
    let mdoc = || unsigned(&items());
    assert!(!mdoc().prepare(&[]).unwrap_err().is_client_error());
    let with_iaca = [issuer.ds.clone(), issuer.iaca.clone()];
    let err = mdoc().prepare(&with_iaca).unwrap_err();
    assert!(err.to_string().contains("self-issued"), "{err}");

    let build = |v: ValidityInfo| {
        let elements = parse_items_to_sign(&items(), &LIMITS).unwrap();
        let key = DeviceKey::from_jwk(&device_jwk()).unwrap();
        build_mdoc(MDL, elements, &salts(10), key, v)
            .unwrap()
            .prepare(std::slice::from_ref(&issuer.ds))
    };
    // validUntil after the DS certificate's notAfter (2027-02-01).
    let late = ValidityInfo::new(
        datetime!(2026-03-01 00:00:00 UTC),
        datetime!(2026-03-01 00:00:00 UTC),
        datetime!(2027-02-01 00:00:01 UTC),
        None,
    )
    .unwrap();
    let err = build(late).unwrap_err();
    assert_eq!(err.field(), Some("payload.validityInfo.validUntil"));
    assert!(err.to_string().contains("2027-02-01T00:00:00Z"), "{err}");
    // Signing before the DS certificate's notBefore is the caller's mistake, not the client's.
    let early = ValidityInfo::new(
        datetime!(2026-01-15 00:00:00 UTC),
        datetime!(2026-03-01 00:00:00 UTC),
        datetime!(2026-04-01 00:00:00 UTC),
        None,
    )
    .unwrap();
    assert!(!build(early).unwrap_err().is_client_error());
    // Two certificates are sent as an array (a second DS stands in for an intermediate).
    let two = [issuer.ds.clone(), issuer.ds.clone()];
    let mdoc = mdoc().prepare(&two).unwrap();
    let tbs = mdoc.to_be_signed();
    let sig = crypto::sign(&issuer.ds_key, tbs.signature_algorithm(), tbs.bytes()).unwrap();
    let signed = mdoc.finish(sig.to_fixed()).unwrap();
    let (_, checked) = read_back(signed.bytes());
    assert_eq!(checked, 10);
}

#[test]
fn finish_takes_only_a_signature_of_the_certified_key() {
    let issuer = issuer(Curve::P256);
    let mdoc = unsigned(&items())
        .prepare(std::slice::from_ref(&issuer.ds))
        .unwrap();
    let tbs = mdoc.to_be_signed().clone();
    let alg = tbs.signature_algorithm();
    let good = crypto::sign(&issuer.ds_key, alg, tbs.bytes()).unwrap();
    // Wrong length (a P-384 signature's worth).
    let err = finish(tbs.clone(), &[1u8; 96]).unwrap_err();
    assert!(
        !err.is_client_error() && err.to_string().contains("96 bytes"),
        "{err}"
    );
    // The right length, but another key's signature.
    let other = crypto::sign(&SoftEcKey::p256(99), alg, tbs.bytes()).unwrap();
    let err = finish(tbs.clone(), other.to_fixed()).unwrap_err();
    assert!(err.to_string().contains("does not verify"), "{err}");
    // The DS key's signature of something else.
    let elsewhere = crypto::sign(&issuer.ds_key, alg, b"another message").unwrap();
    assert!(finish(tbs.clone(), elsewhere.to_fixed()).is_err());
    let mut flipped = good.to_fixed().to_vec();
    flipped[40] ^= 1;
    assert!(finish(tbs.clone(), &flipped).is_err());
    assert!(mdoc.finish(good.to_fixed()).is_ok());
}
