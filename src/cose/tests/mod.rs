//! Tests across the module: data elements (`elements`), the built mdoc and its IssuerAuth
//! (`mdoc`), a client's MSO and the ISO/IEC 18013-5 Annex D example (`mso`), and the
//! independent Python checker (`checker`). Fixtures here.

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use ciborium::Value;
use coset::{AsCborValue, CoseSign1};
use serde_json::{Value as Json, json};
use time::OffsetDateTime;
use time::macros::datetime;

use super::cbor::{encode, tag24};
use super::*;

mod checker;
mod elements;
mod mdoc;
mod mso;
mod status_list;
mod status_list_checker;
mod vical;
mod vical_checker;
use crate::crypto::testkeys::SoftEcKey;
use crate::crypto::{self, Curve, DigestSigner, HashAlg};
use crate::x509::{
    AltNames, DocumentSignerSpec, IacaSpec, ParsedCertificate, build_document_signer, build_iaca,
    check_iaca,
};

const MDL: &str = "org.iso.18013.5.1.mDL";
const MDL_NS: &str = "org.iso.18013.5.1";
const LIMITS: Limits = Limits {
    max_elements: 64,
    max_bytes: 1 << 16,
};
/// The IssuerSigned of the ISO/IEC 18013-5 Annex D example (tests/data/mdoc/README.md).
const ANNEX_D: &[u8] = include_bytes!("../../../tests/data/mdoc/annex-d-issuer-signed.cbor");

/// An IACA (P-256) and a Document Signer on `curve` under it, with the DS's software key.
struct Issuer {
    iaca: ParsedCertificate,
    ds: ParsedCertificate,
    ds_key: SoftEcKey,
}

fn issuer(curve: Curve) -> Issuer {
    let iaca_key = SoftEcKey::p256(11);
    let iaca = build_iaca(
        &IacaSpec {
            country: "US".into(),
            common_name: "Example IACA".into(),
            state_or_province: Some("US-OH".into()),
            organization: None,
            not_before: datetime!(2026-01-01 00:00:00 UTC),
            not_after: datetime!(2036-01-01 00:00:00 UTC),
            issuer_alt_names: AltNames {
                uris: vec!["https://iaca.example.com".into()],
                ..Default::default()
            },
            crl_distribution_point_uri: None,
        },
        &iaca_key,
    )
    .unwrap();
    let view = check_iaca(&iaca, "iaca").unwrap();
    let ds_key = SoftEcKey::new(curve, 12);
    let ds = build_document_signer(
        &DocumentSignerSpec {
            country: "US".into(),
            common_name: "Example DS".into(),
            state_or_province: Some("US-OH".into()),
            organization: None,
            locality: None,
            not_before: datetime!(2026-02-01 00:00:00 UTC),
            not_after: datetime!(2027-02-01 00:00:00 UTC),
            crl_distribution_point_uri: "https://crl.example.com".into(),
        },
        ds_key.public_key(),
        &view,
        &iaca_key,
    )
    .unwrap();
    Issuer { iaca, ds, ds_key }
}

fn portrait() -> Vec<u8> {
    // The start of a JPEG, which is all a portrait needs to be here.
    vec![
        0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0xfb,
    ]
}

fn items() -> Json {
    json!({
        MDL_NS: {
            "family_name": {"type": "string", "value": "Doe"},
            "given_name": {"type": "string", "value": "Jane"},
            "birth_date": {"type": "full-date", "value": "1990-01-31"},
            "age_over_18": {"type": "boolean", "value": true},
            "height": {"type": "number", "value": 170},
            "weight": {"type": "number", "value": 70.5},
            "portrait": {"type": "image", "value": Base64::encode_string(&portrait())},
            "portrait_capture_date": {"type": "date-time", "value": "2026-02-20T10:00:00+02:00"},
            "driving_privileges": {
                "type": DRIVING_PRIVILEGES_TYPE,
                "value": [
                    {
                        "vehicle_category_code": "B",
                        "issue_date": "2018-08-09",
                        "expiry_date": "2028-08-09",
                        "codes": [{"code": "S01", "sign": "<", "value": "8000"}, {"code": "78"}]
                    },
                    {"vehicle_category_code": "A"}
                ]
            }
        },
        "org.iso.18013.5.1.aamva": {
            "DHS_compliance": {"type": "string", "value": "F"}
        }
    })
}

fn device_jwk() -> Json {
    serde_json::to_value(SoftEcKey::p256(40).public_key().to_jwk()).unwrap()
}

fn validity() -> ValidityInfo {
    ValidityInfo::new(
        datetime!(2026-03-01 00:00:00.25 UTC),
        datetime!(2026-03-01 00:00:00 UTC),
        datetime!(2026-09-01 00:00:00 UTC),
        Some(datetime!(2026-06-01 00:00:00 UTC)),
    )
    .unwrap()
}

/// `n` different 32-byte salts, in descending order (so digestIDs come out reversed).
fn salts(n: usize) -> Vec<[u8; 32]> {
    (0..n)
        .map(|i| {
            let mut s = [0x5a; 32];
            s[0] = (n - i) as u8;
            s
        })
        .collect()
}

fn unsigned(items: &Json) -> UnsignedMdoc {
    let elements = parse_items_to_sign(items, &LIMITS).unwrap();
    let n = elements.len();
    let key = DeviceKey::from_jwk(&device_jwk()).unwrap();
    build_mdoc(MDL, elements, &salts(n), key, validity()).unwrap()
}

/// What the service does: prepare, `crypto::sign` through the (here software) key, finish.
fn sign(issuer: &Issuer, items: &Json) -> IssuerSigned {
    let mdoc = unsigned(items)
        .prepare(std::slice::from_ref(&issuer.ds))
        .unwrap();
    let tbs = mdoc.to_be_signed();
    let sig = crypto::sign(&issuer.ds_key, tbs.signature_algorithm(), tbs.bytes()).unwrap();
    mdoc.finish(sig.to_fixed()).unwrap()
}

fn map_get<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.as_map()
        .unwrap()
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {key}"))
}

/// Read an IssuerSigned the way a reader does, with nothing from this module but the MSO
/// parser: verify the signature with the x5chain certificate over a Sig_structure rebuilt
/// from the decoded COSE_Sign1, and recompute every item's digest.
fn read_back(bytes: &[u8]) -> (Mso, usize) {
    let v: Value = ciborium::de::from_reader(bytes).unwrap();
    let sign1 = CoseSign1::from_cbor_value(map_get(&v, "issuerAuth").clone()).unwrap();
    let x5chain = &sign1
        .unprotected
        .rest
        .iter()
        .find(|(l, _)| *l == coset::Label::Int(33))
        .unwrap()
        .1;
    let ds_der = match x5chain {
        Value::Bytes(b) => b.clone(),
        Value::Array(a) => a[0].as_bytes().unwrap().clone(),
        other => panic!("x5chain {other:?}"),
    };
    let ds = ParsedCertificate::from_der(&ds_der).unwrap();
    let key = ds.public_key().unwrap();
    let (alg, cose_alg) = cose_algorithm(key.algorithm().curve().unwrap());
    assert_eq!(
        sign1.protected.header.alg,
        Some(coset::RegisteredLabelWithPrivate::Assigned(cose_alg))
    );
    key.verify_fixed(alg, &sign1.tbs_data(b""), &sign1.signature)
        .expect("IssuerAuth verifies with the x5chain certificate");
    let payload = sign1.payload.unwrap();
    let mso = parse_mso(&payload, 1 << 20).unwrap().mso;
    let mut checked = 0;
    for (ns, items) in map_get(&v, "nameSpaces").as_map().unwrap() {
        let ns = ns.as_text().unwrap();
        for item in items.as_array().unwrap() {
            let Value::Tag(24, inner) = item else {
                panic!("{item:?}")
            };
            let decoded: Value = ciborium::de::from_reader(&inner.as_bytes().unwrap()[..]).unwrap();
            let id = u64::try_from(map_get(&decoded, "digestID").as_integer().unwrap()).unwrap();
            let digest = HashAlg::Sha256.digest(&encode(item));
            assert_eq!(mso.digest(ns, id), Some(digest.as_slice()), "{ns} {id}");
            checked += 1;
        }
    }
    (mso, checked)
}
