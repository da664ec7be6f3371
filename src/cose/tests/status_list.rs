//! The status list (the draft's own examples), the Status List Token, and the MSO's status
//! member.

use time::Duration;

use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn the_drafts_byte_arrays_come_out_bit_for_bit() {
    // Section 4.1: 16 entries of 1 bit, then 12 entries of 2 bits.
    let one = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1];
    let mut list = StatusList::new(1, 16).unwrap();
    for (i, s) in one.iter().enumerate() {
        list.set(i as u64, *s).unwrap();
    }
    assert_eq!(list.bytes(), &[0xb9, 0xa3]);
    let two = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3];
    let mut list2 = StatusList::new(2, 12).unwrap();
    for (i, s) in two.iter().enumerate() {
        list2.set(i as u64, *s).unwrap();
    }
    assert_eq!(list2.bytes(), &[0xc9, 0x44, 0xf9]);
    for (i, s) in two.iter().enumerate() {
        assert_eq!(list2.get(i as u64), Some(*s));
    }
    // The draft's compressed array reads back as the same bytes, and ours round-trips.
    let theirs = StatusList::decompress(1, &hex("78dadbb918000217015d"), 1024).unwrap();
    assert_eq!(theirs.bytes(), list.bytes());
    assert_eq!(theirs.len(), 16);
    let ours = StatusList::decompress(2, &list2.compressed(), 1024).unwrap();
    assert_eq!(ours.bytes(), list2.bytes());
    // zlib header of the highest level (RFC 1950: CMF 0x78, FLEVEL 3).
    assert_eq!(&list.compressed()[..2], &[0x78, 0xda]);
}

#[test]
fn every_width_sets_one_entry_and_leaves_its_neighbours() {
    for bits in [1u8, 2, 4, 8] {
        let max = ((1u16 << bits) - 1) as u8;
        let mut list = StatusList::new(bits, 1000).unwrap();
        list.set(0, max).unwrap();
        list.set(999, 1).unwrap();
        list.set(500, max).unwrap();
        list.set(500, 1).unwrap();
        assert_eq!(list.get(0), Some(max), "{bits}");
        assert_eq!(list.get(1), Some(0), "{bits}");
        assert_eq!(list.get(499), Some(0), "{bits}");
        assert_eq!(list.get(500), Some(1), "{bits}");
        assert_eq!(list.get(501), Some(0), "{bits}");
        assert_eq!(list.get(999), Some(1), "{bits}");
        assert_eq!(list.get(1000), None);
        assert!(list.set(1000, 1).is_err());
        if bits < 8 {
            assert!(list.set(1, max + 1).is_err(), "{bits}");
        }
        assert_eq!(list.bytes().len(), (1000 * bits as usize).div_ceil(8));
    }
    for bad in [0u8, 3, 5, 16] {
        assert!(StatusList::new(bad, 8).is_err(), "{bad}");
    }
    assert!(StatusList::new(1, 0).is_err());
    assert!(StatusList::from_bytes(1, 16, vec![0; 3]).is_err());
    assert_eq!(
        StatusList::from_bytes(1, 16, vec![0xb9, 0xa3])
            .unwrap()
            .get(0),
        Some(1)
    );
}

#[test]
fn inflating_is_bounded_and_refuses_non_zlib() {
    let big = StatusList::new(1, 8 * 100_000).unwrap().compressed();
    assert!(
        big.len() < 200,
        "100 kB of zeros compresses well: {}",
        big.len()
    );
    let err = StatusList::decompress(1, &big, 10_000).unwrap_err();
    assert!(matches!(err, CoseError::TooLarge { .. }), "{err}");
    assert!(StatusList::decompress(1, &big, 100_000).is_ok());
    assert!(StatusList::decompress(1, b"not zlib", 1024).is_err());
    assert!(StatusList::decompress(3, &big, 100_000).is_err());
}

fn claims() -> StatusListClaims {
    StatusListClaims {
        sub: "https://pki.example.com/v2/credentials/mobile/status-lists/l1/token".into(),
        iat: datetime!(2026-03-01 00:00:00 UTC),
        exp: datetime!(2026-03-02 00:00:00 UTC),
        ttl: 3600,
    }
}

fn signed_token(issuer: &Issuer, list: &StatusList) -> SignedStatusList {
    let prepared = build_status_list_token(claims(), list)
        .unwrap()
        .prepare(std::slice::from_ref(&issuer.ds))
        .unwrap();
    let sig = crypto::sign(
        &issuer.ds_key,
        prepared.signature_algorithm(),
        prepared.bytes(),
    )
    .unwrap();
    prepared.finish(sig.to_fixed()).unwrap()
}

#[test]
fn a_token_is_tagged_typed_and_verifies_with_its_certificate() {
    let issuer = issuer(Curve::P256);
    let mut list = StatusList::new(1, 128).unwrap();
    list.set(5, STATUS_INVALID).unwrap();
    let token = signed_token(&issuer, &list);
    let bytes = token.bytes();
    // Tag 18 and a four-element array; the protected header exactly the draft's example's.
    assert_eq!(&bytes[..2], &[0xd2, 0x84]);
    let v: Value = ciborium::de::from_reader(bytes).unwrap();
    let Value::Tag(18, arr) = v else {
        panic!("{v:?}")
    };
    let arr = arr.as_array().unwrap();
    let protected = arr[0].as_bytes().unwrap();
    assert_eq!(
        protected,
        &hex("a2012610781a6170706c69636174696f6e2f7374617475736c6973742b637774")
    );
    // Claims in the draft's order with the draft's keys.
    let claims_v: Value = ciborium::de::from_reader(&arr[2].as_bytes().unwrap()[..]).unwrap();
    let keys: Vec<i128> = claims_v
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_integer().unwrap().into())
        .collect();
    assert_eq!(keys, vec![2, 6, 4, 65534, 65533]);
    // Read back and verified with the certificate's key.
    let parsed = parse_status_list_token(bytes, 1 << 20).unwrap();
    assert_eq!(parsed.claims, claims());
    assert_eq!(parsed.list.get(5), Some(STATUS_INVALID));
    assert_eq!(parsed.list.get(4), Some(STATUS_VALID));
    let key = issuer.ds.public_key().unwrap();
    parsed
        .verify(&key, crypto::SignatureAlgorithm::EcdsaSha256)
        .unwrap();
    // One flipped bit in the list (the last byte of the payload's lst) fails verification.
    let lst = list.compressed();
    let at = bytes.windows(lst.len()).position(|w| w == lst).unwrap();
    let mut tampered = bytes.to_vec();
    tampered[at + lst.len() - 1] ^= 0x01;
    if let Ok(p) = parse_status_list_token(&tampered, 1 << 20) {
        assert!(
            p.verify(&key, crypto::SignatureAlgorithm::EcdsaSha256)
                .is_err()
        );
    }
    // An untagged message is not a Status List Token.
    assert!(parse_status_list_token(&bytes[1..], 1 << 20).is_err());
}

#[test]
fn a_token_is_refused_outside_its_signers_validity_and_with_a_wrong_signature() {
    let issuer = issuer(Curve::P256);
    let list = StatusList::new(1, 8).unwrap();
    // The DS of the fixture is valid 2026-02-01 to 2027-02-01.
    for (iat, exp) in [
        (
            datetime!(2026-01-31 00:00:00 UTC),
            datetime!(2026-02-02 00:00:00 UTC),
        ),
        (
            datetime!(2027-01-31 00:00:00 UTC),
            datetime!(2027-02-02 00:00:00 UTC),
        ),
    ] {
        let c = StatusListClaims {
            iat,
            exp,
            ..claims()
        };
        let err = build_status_list_token(c, &list)
            .unwrap()
            .prepare(std::slice::from_ref(&issuer.ds))
            .unwrap_err();
        assert!(err.to_string().contains("validity"), "{err}");
    }
    // The IACA is never sent.
    assert!(
        build_status_list_token(claims(), &list)
            .unwrap()
            .prepare(&[issuer.ds.clone(), issuer.iaca.clone()])
            .is_err()
    );
    // Claims the draft forbids.
    for c in [
        StatusListClaims {
            sub: String::new(),
            ..claims()
        },
        StatusListClaims { ttl: 0, ..claims() },
        StatusListClaims {
            exp: claims().iat - Duration::seconds(1),
            ..claims()
        },
    ] {
        assert!(build_status_list_token(c, &list).is_err());
    }
    // A signature by another key is refused by finish.
    let prepared = build_status_list_token(claims(), &list)
        .unwrap()
        .prepare(std::slice::from_ref(&issuer.ds))
        .unwrap();
    let other = SoftEcKey::p256(99);
    let sig = crypto::sign(&other, prepared.signature_algorithm(), prepared.bytes()).unwrap();
    let err = prepared.finish(sig.to_fixed()).unwrap_err();
    assert!(err.to_string().contains("does not verify"), "{err}");
}

#[test]
fn a_built_mso_carries_its_status_entry_last_and_a_clients_may_not() {
    let uri = "https://pki.example.com/v2/credentials/mobile/status-lists/l1/token";
    let mdoc = unsigned(&items())
        .with_status(StatusRef {
            idx: 42,
            uri: uri.into(),
        })
        .unwrap();
    assert_eq!(mdoc.mso().status().unwrap().idx, 42);
    let issuer = issuer(Curve::P256);
    let prepared = mdoc.prepare(std::slice::from_ref(&issuer.ds)).unwrap();
    let payload = prepared.to_be_signed().payload().to_vec();
    let Value::Tag(24, inner) = ciborium::de::from_reader::<Value, _>(&payload[..]).unwrap() else {
        panic!()
    };
    let mso: Value = ciborium::de::from_reader(&inner.as_bytes().unwrap()[..]).unwrap();
    let members = mso.as_map().unwrap();
    let (last_key, status) = members.last().unwrap();
    assert_eq!(last_key.as_text(), Some("status"));
    let sl = map_get(status, "status_list");
    assert_eq!(map_get(sl, "idx"), &Value::from(42));
    assert_eq!(map_get(sl, "uri"), &Value::Text(uri.into()));
    assert_eq!(sl.as_map().unwrap().len(), 2);

    // The same MSO handed in by a client is refused, naming the member.
    let err = parse_mso(inner.as_bytes().unwrap(), 1 << 20).unwrap_err();
    assert_eq!(err.field(), Some("mso.status"), "{err}");

    for bad in [
        "",
        "pki.example.com/x",
        "https://",
        "https://a b",
        "ftp://x/y",
    ] {
        let r = unsigned(&items()).with_status(StatusRef {
            idx: 0,
            uri: bad.into(),
        });
        assert!(r.is_err(), "{bad:?}");
    }
}
