//! Bounded mutation fuzzing of everything that parses untrusted bytes: certificates and CSRs
//! (PEM and DER), public JWKs and SPKIs, and JSON request bodies.
//!
//! Seeds are real artefacts made by OpenSSL at test time (so the corpus is not ours); each
//! case mutates one seed (bit flips, byte stores, truncation, insertion, splices, ASN.1 length
//! games) and feeds it to the parser. Two things are asserted:
//! - nothing panics (a panic fails the test with the seed and case that caused it);
//! - an oracle holds: a mutated CSR is never accepted (its self-signature covers every byte
//!   but the signature, and a changed signature does not verify), and a mutated certificate
//!   that still parses never verifies under the original key.
//!
//! Bounded in time: `HSM_PKI_FUZZ_SECS` per target (default 4; CI runs the default, a longer
//! run by hand is e.g. `HSM_PKI_FUZZ_SECS=600 cargo test --release --test fuzz_parsing`).
//! `HSM_PKI_FUZZ_SEED` replays a run; the seed in use is printed.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use hsm_pki::crypto::{PublicJwk, PublicKey};
use hsm_pki::x509::{ParsedCertificate, ParsedCsr};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn budget() -> Duration {
    let secs = std::env::var("HSM_PKI_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(4);
    Duration::from_secs(secs)
}

fn rng_for(target: &str) -> StdRng {
    let seed = std::env::var("HSM_PKI_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(rand::random);
    println!("fuzz target {target}: HSM_PKI_FUZZ_SEED={seed}");
    StdRng::seed_from_u64(seed)
}

/// One random mutation of `input`; never returns the input unchanged.
fn mutate(rng: &mut StdRng, input: &[u8]) -> Vec<u8> {
    loop {
        let mut v = input.to_vec();
        let rounds = 1 + rng.random_range(0..3usize);
        for _ in 0..rounds {
            let len = v.len().max(1);
            match rng.random_range(0..8u8) {
                0 => {
                    let i = rng.random_range(0..len);
                    if let Some(b) = v.get_mut(i) {
                        *b ^= 1 << rng.random_range(0..8u8);
                    }
                }
                1 => {
                    let i = rng.random_range(0..len);
                    if let Some(b) = v.get_mut(i) {
                        *b = rng.random();
                    }
                }
                2 => v.truncate(rng.random_range(0..len)),
                3 => {
                    let i = rng.random_range(0..=v.len());
                    let n = 1 + rng.random_range(0..16usize);
                    let junk: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                    v.splice(i..i, junk);
                }
                4 => {
                    // Splice a copy of one region elsewhere (repeated structures, e.g. a
                    // duplicated extension or attribute).
                    if v.len() > 4 {
                        let a = rng.random_range(0..v.len() - 2);
                        let b = rng.random_range(a + 1..v.len().min(a + 64));
                        let piece = v[a..b].to_vec();
                        let at = rng.random_range(0..=v.len());
                        v.splice(at..at, piece);
                    }
                }
                5 => {
                    // ASN.1 length games: long-form and oversized lengths.
                    let i = rng.random_range(0..len);
                    let l = [0x80u8, 0x81, 0x82, 0x84, 0x88, 0xff, 0x00, 0x7f];
                    if let Some(b) = v.get_mut(i) {
                        *b = l[rng.random_range(0..l.len())];
                    }
                }
                6 => {
                    // Remove a region.
                    if v.len() > 2 {
                        let a = rng.random_range(0..v.len() - 1);
                        let b = rng.random_range(a + 1..v.len().min(a + 32) + 1);
                        v.drain(a..b.min(v.len()));
                    }
                }
                _ => {
                    // Tag games: constructed/primitive and class bits.
                    let i = rng.random_range(0..len);
                    if let Some(b) = v.get_mut(i) {
                        *b ^= [0x20u8, 0x40, 0x80, 0x1f][rng.random_range(0..4usize)];
                    }
                }
            }
        }
        if v != input {
            return v;
        }
    }
}

/// Run `check` on mutations of `seeds` until the budget is spent; a panic is reported with
/// the input that caused it.
fn fuzz(target: &str, seeds: &[Vec<u8>], mut check: impl FnMut(usize, &[u8])) -> u64 {
    let mut rng = rng_for(target);
    let deadline = Instant::now() + budget();
    let mut cases = 0u64;
    while Instant::now() < deadline {
        for _ in 0..64 {
            let which = rng.random_range(0..seeds.len());
            let input = mutate(&mut rng, &seeds[which]);
            let r = catch_unwind(AssertUnwindSafe(|| check(which, &input)));
            if let Err(p) = r {
                let hex: String = input.iter().map(|b| format!("{b:02x}")).collect();
                panic!("{target}: case {cases} (seed input {which}) panicked: {p:?}\ninput: {hex}");
            }
            cases += 1;
        }
    }
    println!("fuzz target {target}: {cases} cases, no panic");
    assert!(cases > 0);
    cases
}

fn openssl_ok(args: &[&str]) {
    let (ok, out) = common::openssl(args);
    assert!(ok, "openssl {args:?}: {out}");
}

/// Seeds: certificates and CSRs for P-256, P-384 and RSA (PKCS#1 v1.5 and PSS), with the
/// extensions our parsers look at (SAN, IAN, keyUsage, EKU, CRL DP, SKI/AKI).
struct Corpus {
    certs: Vec<Vec<u8>>,
    csrs: Vec<Vec<u8>>,
}

fn corpus(dir: &Path) -> Corpus {
    let p = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    openssl_ok(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        &p("ec256.key"),
    ]);
    openssl_ok(&[
        "ecparam",
        "-name",
        "secp384r1",
        "-genkey",
        "-noout",
        "-out",
        &p("ec384.key"),
    ]);
    openssl_ok(&["genrsa", "-out", &p("rsa.key"), "2048"]);
    let exts = [
        "-addext",
        "basicConstraints=critical,CA:TRUE,pathlen:0",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
        "-addext",
        "extendedKeyUsage=1.0.18013.5.1.2,serverAuth",
        "-addext",
        "subjectAltName=DNS:leaf.example.com,URI:https://x.example,email:a@b.example,IP:127.0.0.1",
        "-addext",
        "issuerAltName=URI:https://iaca.example.com",
        "-addext",
        "crlDistributionPoints=URI:https://crl.example.com/a.crl",
    ];
    let mut certs = Vec::new();
    let mut csrs = Vec::new();
    for (key, extra) in [
        ("ec256.key", &[][..]),
        ("ec384.key", &["-sha384"][..]),
        ("rsa.key", &[][..]),
        (
            "rsa.key",
            &[
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:32",
            ][..],
        ),
    ] {
        let subj = "/C=US/ST=US-OH/O=Example Org/OU=Fuzz/L=Columbus/CN=Fuzz Seed";
        let cert = p(&format!("{key}.{}.crt.der", extra.len()));
        let csr = p(&format!("{key}.{}.csr.der", extra.len()));
        let key = p(key);
        let mut a = vec![
            "req", "-new", "-x509", "-key", &key, "-subj", subj, "-days", "30",
        ];
        a.extend_from_slice(&exts);
        a.extend_from_slice(extra);
        a.extend_from_slice(&["-outform", "DER", "-out", &cert]);
        openssl_ok(&a);
        let mut a = vec!["req", "-new", "-key", &key, "-subj", subj];
        a.extend_from_slice(&exts[6..10]);
        a.extend_from_slice(extra);
        a.extend_from_slice(&["-outform", "DER", "-out", &csr]);
        openssl_ok(&a);
        certs.push(std::fs::read(&cert).unwrap());
        csrs.push(std::fs::read(&csr).unwrap());
    }
    Corpus { certs, csrs }
}

fn pem(label: &str, der: &[u8]) -> Vec<u8> {
    use base64ct::{Base64, Encoding};
    let b64 = Base64::encode_string(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(line).unwrap());
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s.into_bytes()
}

#[test]
fn untrusted_bytes_never_panic_and_forgeries_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path());

    // The seeds themselves are accepted: otherwise the oracles below prove nothing.
    let cert_keys: Vec<PublicKey> = c
        .certs
        .iter()
        .map(|d| {
            let pc = ParsedCertificate::from_der(d).expect("seed certificate parses");
            let key = pc.public_key().expect("seed key");
            pc.verify_signed_by(&key).expect("seed is self-signed");
            key
        })
        .collect();
    for d in &c.csrs {
        ParsedCsr::from_der(d).expect("seed CSR parses and verifies");
    }

    // Certificates, DER: no panic; a mutant that parses never verifies under the seed's key.
    fuzz("certificate-der", &c.certs, |i, input| {
        if let Ok(pc) = ParsedCertificate::parse(input) {
            assert!(
                pc.verify_signed_by(&cert_keys[i]).is_err(),
                "a mutated certificate verified"
            );
        }
    });
    // CSRs, DER: a mutated CSR is never accepted (proof of possession).
    fuzz("csr-der", &c.csrs, |_, input| {
        assert!(
            ParsedCsr::parse(input).is_err(),
            "a mutated CSR was accepted"
        );
    });

    // PEM text: mutate the armour and the base64 as well as what it wraps.
    let cert_pems: Vec<Vec<u8>> = c.certs.iter().map(|d| pem("CERTIFICATE", d)).collect();
    let csr_pems: Vec<Vec<u8>> = c
        .csrs
        .iter()
        .map(|d| pem("CERTIFICATE REQUEST", d))
        .collect();
    fuzz("certificate-pem", &cert_pems, |i, input| {
        if let Ok(pc) = ParsedCertificate::parse(input) {
            // Whitespace-only changes decode to the same DER, which rightly verifies.
            if pc.der() != c.certs[i].as_slice() {
                assert!(pc.verify_signed_by(&cert_keys[i]).is_err());
            }
        }
    });
    fuzz("csr-pem", &csr_pems, |i, input| {
        if let Ok(csr) = ParsedCsr::parse(input) {
            assert_eq!(
                csr.der(),
                c.csrs[i].as_slice(),
                "a mutated CSR was accepted"
            );
        }
    });

    // SubjectPublicKeyInfo DER, taken from the seeds.
    let spkis: Vec<Vec<u8>> = cert_keys.iter().map(PublicKey::to_spki_der).collect();
    fuzz("spki-der", &spkis, |_, input| {
        let _ = PublicKey::from_spki_der(input);
    });

    // Public JWKs: JSON text mutated, then decoded and validated.
    let jwks: Vec<Vec<u8>> = cert_keys
        .iter()
        .map(|k| serde_json::to_vec(&k.to_jwk()).unwrap())
        .collect();
    fuzz("jwk-json", &jwks, |_, input| {
        if let Ok(jwk) = serde_json::from_slice::<PublicJwk>(input) {
            let _ = PublicKey::from_jwk(&jwk);
        }
    });
}

/// Decode `input` into `T` as the HTTP layer does (serde_json through serde_path_to_error,
/// unknown fields refused); building the error's path and message must not panic either.
fn decode<T: serde::de::DeserializeOwned>(input: &[u8]) {
    let de = &mut serde_json::Deserializer::from_slice(input);
    if let Err(e) = serde_path_to_error::deserialize::<_, T>(de) {
        let _ = (e.path().to_string(), e.inner().to_string());
    }
}

#[test]
fn request_bodies_never_panic() {
    use hsm_pki::api;
    // Seeds are valid bodies of every JSON-taking route, as the seeds print them.
    let kms =
        |id: &str| format!(r#"{{"type":"kms-hosted-key-descriptor","keyIdPath":"o.t.kms1.{id}"}}"#);
    let jwk = r#"{"type":"jwk-encoded-key-descriptor","jwk":{"kty":"EC","crv":"P-256","x":"q0xi21uudhkC1QMykfYryN9bcDx480iJLSaRI05CWgY","y":"NhD-09xqrUgE2-qSt8g5imePgKPPNVpYoHmsTL2f4io","d":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"}}"#;
    let iaca_data = r#"{"country":"US","commonName":"Example IACA","notBefore":"2025-05-28T12:23:01Z","notAfter":"2040-05-24T12:23:01Z","issuerAlternativeNameConf":{"uri":"https://iaca.example.com","email":"a@b.c"}}"#;
    let bodies: Vec<(&str, String)> = vec![
        ("keys", r#"{"keyId":"k-1_a","algorithm":"rsa2048"}"#.into()),
        (
            "iaca",
            format!(
                r#"{{"storedCertificateId":"i1","certificateData":{iaca_data},"vicalEntryComplementaryMetadata":{{"docType":["org.iso.18013.5.1.mDL"]}},"iacaKeyDesc":{}}}"#,
                kms("k")
            ),
        ),
        (
            "ds",
            format!(
                r#"{{"iacaSigner":{{"type":"iaca-cert-data-descriptor","iacaKeyDesc":{jwk},"certificateData":{iaca_data}}},"certificateData":{{"country":"US","commonName":"DS","crlDistributionPointUri":"https://crl"}},"dsPublicKeySource":{{"type":"key-descriptor","keyDescriptor":{}}}}}"#,
                kms("d")
            ),
        ),
        (
            "certificate",
            format!(
                r#"{{"certificateData":{{"subjectName":{{"commonName":"Leaf","country":"US"}},"isCertificateAuthority":true,"pathLengthConstraint":0,"keyUsage":["KeyCertSign"],"extendedKeyUsageOids":["1.2.3"],"subjectAlternativeNames":{{"dnsNames":["a.b"],"ipAddresses":["127.0.0.1"]}}}},"subjectPublicKeySource":{{"type":"csr","csrPEM":"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----"}},"issuer":{{"type":"ca-signed","issuerKeyDescriptor":{jwk}}}}}"#
            ),
        ),
        (
            "csr",
            format!(
                r#"{{"type":"generic","subjectKeyDescriptor":{},"subjectName":{{"commonName":"Leaf"}},"subjectAlternativeNames":{{"uris":["https://x"]}}}}"#,
                kms("l")
            ),
        ),
    ];
    let seeds: Vec<Vec<u8>> = bodies.iter().map(|(_, b)| b.as_bytes().to_vec()).collect();
    // The seeds decode, or the fuzzing below would only exercise the first error.
    for (name, b) in &bodies {
        let de = &mut serde_json::Deserializer::from_str(b);
        let ok = match *name {
            "keys" => serde_path_to_error::deserialize::<_, api::CreateKeyRequest>(de).is_ok(),
            "iaca" => {
                serde_path_to_error::deserialize::<_, api::x509::CreateIacaRequest>(de).is_ok()
            }
            "ds" => {
                serde_path_to_error::deserialize::<_, api::x509::CreateDocumentSignerRequest>(de)
                    .is_ok()
            }
            "certificate" => {
                serde_path_to_error::deserialize::<_, api::x509::CreateCertificateRequest>(de)
                    .is_ok()
            }
            _ => serde_path_to_error::deserialize::<_, api::x509::CreateCsrRequest>(de).is_ok(),
        };
        assert!(ok, "seed body {name} does not decode: {b}");
    }
    fuzz("request-json", &seeds, |_, input| {
        decode::<api::CreateKeyRequest>(input);
        decode::<api::x509::CreateIacaRequest>(input);
        decode::<api::x509::CreateDocumentSignerRequest>(input);
        decode::<api::x509::CreateCertificateRequest>(input);
        decode::<api::x509::CreateCsrRequest>(input);
    });
    // Deep nesting is refused by serde_json's recursion limit, not by a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    decode::<api::x509::CreateCertificateRequest>(deep.as_bytes());
    let nested = format!(
        r#"{{"certificateData":{}1{}}}"#,
        r#"{"a":"#.repeat(50_000),
        "}".repeat(50_000)
    );
    decode::<api::x509::CreateCertificateRequest>(nested.as_bytes());
}

/// The mdoc parsers: a client's MSO (`sign-mso`), bare and as MobileSecurityObjectBytes,
/// seeded with the ISO/IEC 18013-5 Annex D example's MSO; and `itemsToSign` JSON through the
/// strict decoder into the element encoder. Nothing panics; a mutated MSO that still parses
/// is only ever a well-formed MSO (the parser refuses what it cannot re-encode identically).
#[test]
fn mdoc_inputs_never_panic() {
    use hsm_pki::api::StrictJson;
    use hsm_pki::cose;
    let annex_d = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/mdoc/annex-d-issuer-signed.cbor"
    ))
    .unwrap();
    let issuer_signed: ciborium::Value = ciborium::from_reader(&annex_d[..]).unwrap();
    let auth = issuer_signed
        .as_map()
        .unwrap()
        .iter()
        .find(|(k, _)| k.as_text() == Some("issuerAuth"))
        .unwrap()
        .1
        .clone();
    let tagged = auth.as_array().unwrap()[2].as_bytes().unwrap().clone();
    let bare = match ciborium::from_reader::<ciborium::Value, _>(&tagged[..]).unwrap() {
        ciborium::Value::Tag(24, inner) => inner.as_bytes().unwrap().clone(),
        other => panic!("not tag 24: {other:?}"),
    };
    for seed in [&tagged, &bare] {
        cose::parse_mso(seed, 1 << 20).expect("the Annex D MSO parses");
    }
    fuzz("mso-cbor", &[tagged, bare], |_, input| {
        let _ = cose::parse_mso(input, 1 << 20);
    });

    let items = br#"{"org.iso.18013.5.1":{"family_name":{"type":"string","value":"Doe"},
        "birth_date":{"type":"full-date","value":"1990-04-01"},"age_over_18":{"type":"boolean","value":true},
        "portrait":{"type":"image","value":"iVBORw0KGgo="},"height":{"type":"number","value":170.5},
        "issue_date":{"type":"date-time","value":"2026-12-01T00:00:00Z"},
        "driving_privileges":{"type":"org.iso.18013.5.1.driving_privileges","value":[{"vehicle_category_code":"C","issue_date":"2020-01-01","codes":[{"code":"A","sign":"<","value":"1"}]}]}}}"#
        .to_vec();
    let limits = cose::Limits {
        max_elements: 64,
        max_bytes: 64 * 1024,
    };
    let StrictJson(v) = serde_json::from_slice(&items).unwrap();
    cose::parse_items_to_sign(&v, &limits).expect("the seed items parse");
    fuzz("items-to-sign", &[items], |_, input| {
        if let Ok(StrictJson(v)) = serde_json::from_slice(input) {
            let _ = cose::parse_items_to_sign(&v, &limits);
        }
    });
}
