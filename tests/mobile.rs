//! The mobile credential family over real HTTP with a real token (SoftHSM2 or Kryoptic): an issuer
//! with an offline IACA (made with the openssl CLI, P-384) gets a document signer's CSR, signs it
//! offline, uploads it, and has mdocs signed; a managed IACA (P-256) whose document signer the
//! daemon provisions itself, once, under concurrent first requests. Every mdoc is checked by an
//! independent implementation (Python cbor2 + pycose, `tests/data/mdoc_check.py`: COSE_Sign1
//! signature with the DS certificate, every valueDigest recomputed, the DS certificate issued by
//! the IACA), the certificates by `openssl verify` and pkilint, and a flipped byte must fail the
//! check.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use common::{Daemon, TestToken, assert_lint_clean, call, ossl, pkilint_bin};
use serde_json::{Value, json};

const IACAS: &str = "/v2/credentials/mobile/iacas";
const SIGNERS: &str = "/v2/credentials/mobile/document-signers";
const SIGN: &str = "/v2/credentials/mobile/sign";
const SIGN_MSO: &str = "/v2/credentials/mobile/sign-mso";
const MDL: &str = "org.iso.18013.5.1.mDL";

struct Env {
    _hsm: TestToken,
    d: Daemon,
    tok: String,
    dir: tempfile::TempDir,
}

impl Env {
    fn new(label: &str) -> Env {
        let hsm = TestToken::new(label);
        let d = Daemon::start(&hsm);
        d.wait_status("/readyz", 200, Duration::from_secs(10));
        for tenant in ["org.t1", "org.t2"] {
            let (ok, out) = d.cli(&[
                "tenant",
                "set",
                "--tenant",
                tenant,
                "--country",
                "US",
                "--issuer-alt-uri",
                "https://dmv.example.gov",
            ]);
            assert!(ok, "{out}");
        }
        let tok = d.create_token("org.t1", &["issuer"]);
        Env {
            _hsm: hsm,
            d,
            tok,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn call_as(&self, tok: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let b = body.map(|v| v.to_string());
        let (s, text) = call(self.d.addr, tok, method, path, b.as_deref());
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        (s, v)
    }

    fn ok(&self, method: &str, path: &str, body: Option<&Value>, status: u16) -> Value {
        let (s, v) = self.call_as(&self.tok, method, path, body);
        assert_eq!(s, status, "{method} {path}: {v}\n{}", self.tail());
        v
    }

    /// A refusal with the error shape, naming `param` when given.
    fn refused(&self, method: &str, path: &str, body: &Value, status: u16, param: Option<&str>) {
        let (s, v) = self.call_as(&self.tok, method, path, Some(body));
        assert_eq!(s, status, "{method} {path} {body}: {v}");
        assert!(v["code"].is_string() && v["message"].is_string(), "{v}");
        if let Some(p) = param {
            assert_eq!(v["details"][0]["param"], p, "{v}");
        }
    }

    fn tail(&self) -> String {
        let log = self.d.log_text();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

const CRL_URI: &str = "https://dmv.example.gov/crl/iaca.crl";

/// An offline IACA (ISO/IEC 18013-5 Table B.1) on P-384: (key, cert, PEM).
fn offline_iaca(env: &Env) -> (PathBuf, PathBuf, String) {
    let key = env.path("iaca.key");
    ossl(&[
        "ecparam",
        "-name",
        "secp384r1",
        "-genkey",
        "-noout",
        "-out",
        p(&key),
    ]);
    let conf = env.write(
        "iaca.cnf",
        &format!(
            "[req]\ndistinguished_name = dn\nx509_extensions = v3\nprompt = no\n\
             [dn]\nC = US\nST = US-NY\nCN = Example State IACA\n\
             [v3]\nbasicConstraints = critical,CA:TRUE,pathlen:0\n\
             keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n\
             issuerAltName = URI:https://dmv.example.gov\n\
             crlDistributionPoints = URI:{CRL_URI}\n"
        ),
    );
    let cert = env.path("iaca.pem");
    ossl(&[
        "req",
        "-new",
        "-x509",
        "-config",
        p(&conf),
        "-key",
        p(&key),
        "-sha384",
        "-days",
        "3650",
        "-out",
        p(&cert),
    ]);
    let pem = std::fs::read_to_string(&cert).unwrap();
    (key, cert, pem)
}

/// ISO/IEC 18013-5 Table B.3, as an issuer's offline tooling would set it.
const DS_EXT: &str = "keyUsage = critical,digitalSignature\n\
     extendedKeyUsage = critical,1.0.18013.5.1.2\nsubjectKeyIdentifier = hash\n\
     authorityKeyIdentifier = keyid\nissuerAltName = URI:https://dmv.example.gov\n\
     crlDistributionPoints = URI:https://dmv.example.gov/crl/iaca.crl\n";

fn sign_csr(env: &Env, name: &str, csr_pem: &str, iaca: &(PathBuf, PathBuf, String)) -> String {
    let csr = env.write(&format!("{name}.csr"), csr_pem);
    let ext = env.write(&format!("{name}.ext"), DS_EXT);
    let out = env.path(&format!("{name}.pem"));
    ossl(&[
        "x509",
        "-req",
        "-in",
        p(&csr),
        "-CA",
        p(&iaca.1),
        "-CAkey",
        p(&iaca.0),
        "-extfile",
        p(&ext),
        "-days",
        "400",
        "-sha384",
        "-out",
        p(&out),
    ]);
    std::fs::read_to_string(&out).unwrap()
}

/// A device key (the holder's), public JWK from a fresh openssl P-256 key.
fn device_jwk(env: &Env) -> Value {
    let key = env.path("device.key");
    ossl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        p(&key),
    ]);
    let text = ossl(&["ec", "-in", p(&key), "-noout", "-text"]);
    // The uncompressed point after "pub:": 04 || X || Y, hex with colons over lines.
    let hex: String = text
        .split("pub:")
        .nth(1)
        .unwrap()
        .split("ASN1 OID")
        .next()
        .unwrap()
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .collect();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    assert_eq!((bytes.len(), bytes[0]), (65, 4), "{text}");
    json!({
        "kty": "EC",
        "crv": "P-256",
        "x": Base64UrlUnpadded::encode_string(&bytes[1..33]),
        "y": Base64UrlUnpadded::encode_string(&bytes[33..]),
    })
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A sign request with ten elements of the mDL namespace.
fn sign_body(signer: Option<&str>, device: &Value, days: i64) -> Value {
    let now = time::OffsetDateTime::now_utc();
    let mut b = json!({
        "payload": {
            "docType": MDL,
            "deviceKeyInfo": {"deviceKey": device},
            "validityInfo": {
                "validFrom": rfc3339(now),
                "validUntil": rfc3339(now + time::Duration::days(days)),
            },
            "itemsToSign": {
                "org.iso.18013.5.1": {
                    "family_name": {"type": "string", "value": "Doe"},
                    "given_name": {"type": "string", "value": "Jane"},
                    "birth_date": {"type": "full-date", "value": "1990-04-01"},
                    "issue_date": {"type": "full-date", "value": "2026-12-01"},
                    "expiry_date": {"type": "full-date", "value": "2031-12-01"},
                    "issuing_country": {"type": "string", "value": "US"},
                    "document_number": {"type": "string", "value": "D1234567"},
                    "age_over_18": {"type": "boolean", "value": true},
                    "height": {"type": "number", "value": 170},
                    "driving_privileges": {
                        "type": "org.iso.18013.5.1.driving_privileges",
                        "value": [{"vehicle_category_code": "C", "issue_date": "2020-01-01",
                                   "expiry_date": "2030-01-01"}]
                    }
                }
            }
        }
    });
    if let Some(id) = signer {
        b["documentSignerId"] = json!(id);
    }
    b
}

/// Run the independent checker; (success, output).
fn check_mdoc(env: &Env, name: &str, encoded: &str, iaca: &Path) -> (bool, String) {
    let file = env.write(&format!("{name}.b64"), encoded);
    let out = Command::new(pkilint_bin("python3"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/mdoc_check.py"
        ))
        .args(["--doc-type", MDL, "--iaca", p(iaca), p(&file)])
        .output()
        .expect("run mdoc_check.py (scripts/test installs cbor2 and pycose)");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The checker accepts `encoded` and refuses it with one byte flipped in an element and
/// one in the signature (negative controls: the check can fail).
fn assert_mdoc_checks(env: &Env, name: &str, encoded: &str, iaca: &Path) {
    let (ok, out) = check_mdoc(env, name, encoded, iaca);
    assert!(ok, "{name}: {out}");
    let bytes = Base64UrlUnpadded::decode_vec(encoded).unwrap();
    // "Jane" is inside an IssuerSignedItem; the last byte is in the signature.
    let at = bytes
        .windows(4)
        .position(|w| w == b"Jane")
        .expect("element in the mdoc");
    for (what, i) in [("element", at), ("signature", bytes.len() - 1)] {
        let mut bad = bytes.clone();
        bad[i] ^= 0x01;
        let (ok, out) = check_mdoc(
            env,
            &format!("{name}-{what}"),
            &Base64UrlUnpadded::encode_string(&bad),
            iaca,
        );
        assert!(
            !ok,
            "{name}: a flipped {what} byte passed the checker: {out}"
        );
    }
}

/// Signed mdocs in the mdoc ledger, each with its signature ledger row (one COSE signature
/// per mdoc, nothing else signs COSE).
fn ledger_count(env: &Env) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        env.d.db_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    let mdocs = count("SELECT count(*) FROM issued_mdocs");
    let cose = count("SELECT count(*) FROM signatures WHERE artefact = 'cose'");
    assert_eq!(mdocs, cose, "mdoc ledger and signature ledger disagree");
    mdocs
}

#[test]
fn unmanaged_iaca_document_signer_and_mdocs() {
    let env = Env::new("mobile-unmanaged");
    let holder = env.d.create_token("org.t1", &["holder"]);
    let other = env.d.create_token("org.t2", &["issuer"]);
    let iaca = offline_iaca(&env);

    // The IACA, uploaded: unmanaged, inactive, MATTR's shape.
    let r = env.ok("POST", IACAS, Some(&json!({"certificatePem": iaca.2})), 201);
    assert_eq!(
        (r["isManaged"].clone(), r["active"].clone()),
        (json!(false), json!(false))
    );
    assert_eq!(r["certificateData"]["stateOrProvinceName"], "US-NY", "{r}");
    assert_eq!(
        r["certificateData"]["commonName"], "Example State IACA",
        "{r}"
    );
    let iaca_id = r["id"].as_str().unwrap().to_owned();
    let r = env.ok(
        "PUT",
        &format!("{IACAS}/{iaca_id}"),
        Some(&json!({"active": true})),
        200,
    );
    assert_eq!(r["active"], true);
    // Another role, another tenant: 403, 404.
    let (s, _) = env.call_as(&holder, "GET", IACAS, None);
    assert_eq!(s, 403);
    let (s, _) = env.call_as(&other, "GET", &format!("{IACAS}/{iaca_id}"), None);
    assert_eq!(s, 404);
    // Not an IACA (a leaf-shaped self-signed certificate): refused, naming the field.
    let (_, leaf, _) = {
        let key = env.path("leaf.key");
        ossl(&[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            p(&key),
        ]);
        let cert = env.path("leaf.pem");
        ossl(&[
            "req",
            "-new",
            "-x509",
            "-key",
            p(&key),
            "-subj",
            "/C=US/CN=leaf",
            "-days",
            "30",
            "-out",
            p(&cert),
        ]);
        (key, cert, ())
    };
    let leaf_pem = std::fs::read_to_string(&leaf).unwrap();
    env.refused(
        "POST",
        IACAS,
        &json!({"certificatePem": leaf_pem}),
        400,
        Some("certificatePem"),
    );

    // A document signer: key in the token (the IACA's curve), CSR out.
    let ds = env.ok("POST", SIGNERS, Some(&json!({"iacaId": iaca_id})), 201);
    assert_eq!(ds["iacaId"], iaca_id.as_str(), "{ds}");
    assert_eq!(ds["active"], false);
    let ds_id = ds["id"].as_str().unwrap().to_owned();
    let csr = ds["csrPem"].as_str().unwrap();
    let csr_path = env.write("ds.csr", csr);
    let text = ossl(&["req", "-in", p(&csr_path), "-noout", "-text", "-verify"]);
    assert!(
        text.contains("secp384r1") || text.contains("P-384"),
        "{text}"
    );
    // Not signable yet.
    let device = device_jwk(&env);
    env.refused(
        "POST",
        SIGN,
        &sign_body(Some(&ds_id), &device, 30),
        400,
        Some("documentSignerId"),
    );

    // The certificate comes back from the offline IACA; activation.
    let cert_pem = sign_csr(&env, "ds", csr, &iaca);
    let cert_path = env.write("ds-cert.pem", &cert_pem);
    let out = ossl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        p(&iaca.1),
        p(&cert_path),
    ]);
    assert!(out.contains(": OK"), "{out}");
    // A certificate for another key is refused.
    let stranger = env.ok("POST", SIGNERS, Some(&json!({"iacaId": iaca_id})), 201);
    let wrong = sign_csr(
        &env,
        "stranger",
        stranger["csrPem"].as_str().unwrap(),
        &iaca,
    );
    env.refused(
        "PUT",
        &format!("{SIGNERS}/{ds_id}"),
        &json!({"certificatePem": wrong}),
        400,
        Some("certificatePem"),
    );
    let r = env.ok(
        "PUT",
        &format!("{SIGNERS}/{ds_id}"),
        Some(&json!({"certificatePem": cert_pem, "active": true})),
        200,
    );
    assert_eq!(r["active"], true, "{r}");
    assert!(
        r["certificatePem"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    // Immutable once set.
    let (s, v) = env.call_as(
        &env.tok,
        "PUT",
        &format!("{SIGNERS}/{ds_id}"),
        Some(&json!({"certificatePem": wrong})),
    );
    assert_eq!(
        (s, v["code"].as_str()),
        (409, Some("CertificateImmutable")),
        "{v}"
    );

    // An mdoc, signed with the P-384 key in the token, checked independently.
    let m = env.ok(
        "POST",
        SIGN,
        Some(&sign_body(Some(&ds_id), &device, 30)),
        200,
    );
    let encoded = m["encoded"].as_str().unwrap();
    assert_eq!(m["decoded"]["docType"], MDL, "{m}");
    assert_mdoc_checks(&env, "p384", encoded, &iaca.1);
    assert_eq!(ledger_count(&env), 1);

    // sign-mso: the MSO of that mdoc, signed again as the issuer's own; the IssuerAuth is
    // put back into the IssuerSigned and checked the same way.
    let issuer_signed: ciborium::Value =
        ciborium::from_reader(&Base64UrlUnpadded::decode_vec(encoded).unwrap()[..]).unwrap();
    let map = issuer_signed.as_map().unwrap().clone();
    let auth = map
        .iter()
        .find(|(k, _)| k.as_text() == Some("issuerAuth"))
        .unwrap()
        .1
        .clone();
    let mso_bytes = auth.as_array().unwrap()[2].as_bytes().unwrap().clone();
    let r = env.ok(
        "POST",
        SIGN_MSO,
        Some(
            &json!({"documentSignerId": ds_id, "mso": Base64UrlUnpadded::encode_string(&mso_bytes),
                     "docType": MDL}),
        ),
        200,
    );
    let new_auth: ciborium::Value = ciborium::from_reader(
        &Base64UrlUnpadded::decode_vec(r["issuerAuth"].as_str().unwrap()).unwrap()[..],
    )
    .unwrap();
    let rebuilt: Vec<(ciborium::Value, ciborium::Value)> = map
        .into_iter()
        .map(|(k, v)| {
            if k.as_text() == Some("issuerAuth") {
                (k, new_auth.clone())
            } else {
                (k, v)
            }
        })
        .collect();
    let mut buf = Vec::new();
    ciborium::into_writer(&ciborium::Value::Map(rebuilt), &mut buf).unwrap();
    let (ok, out) = check_mdoc(
        &env,
        "sign-mso",
        &Base64UrlUnpadded::encode_string(&buf),
        &iaca.1,
    );
    assert!(ok, "{out}");
    assert_eq!(ledger_count(&env), 2);
    // An MSO whose docType disagrees, and bytes that are not an MSO.
    env.refused(
        "POST",
        SIGN_MSO,
        &json!({"documentSignerId": ds_id, "mso": Base64UrlUnpadded::encode_string(&mso_bytes),
                "docType": "org.iso.23220.photoid.1"}),
        400,
        None,
    );
    env.refused(
        "POST",
        SIGN_MSO,
        &json!({"documentSignerId": ds_id, "mso": Base64UrlUnpadded::encode_string(b"\xa1\x01")}),
        400,
        None,
    );

    // Refusals name the field, and sign nothing.
    let mut b = sign_body(Some(&ds_id), &device, 30);
    b["payload"]["validityInfo"]["validUntil"] = b["payload"]["validityInfo"]["validFrom"].clone();
    env.refused(
        "POST",
        SIGN,
        &b,
        400,
        Some("payload.validityInfo.validUntil"),
    );
    let mut b = sign_body(Some(&ds_id), &device, 30);
    b["payload"]["deviceKeyInfo"]["deviceKey"]["d"] = json!("AAAA");
    let (s, v) = env.call_as(&env.tok, "POST", SIGN, Some(&b));
    assert_eq!(s, 400, "{v}");
    assert!(
        v["details"][0]["param"]
            .as_str()
            .unwrap()
            .contains("deviceKey"),
        "{v}"
    );
    assert!(
        !v.to_string().contains("AAAA"),
        "the private member was echoed: {v}"
    );
    let mut b = sign_body(Some(&ds_id), &device, 30);
    b["payload"]["itemsToSign"]["org.iso.18013.5.1"]["family_name"]["type"] = json!("blob");
    env.refused(
        "POST",
        SIGN,
        &b,
        400,
        Some("payload.itemsToSign.org.iso.18013.5.1.family_name.type"),
    );
    // Longer than the document signer certificate (400 days) allows.
    env.refused(
        "POST",
        SIGN,
        &sign_body(Some(&ds_id), &device, 420),
        400,
        Some("payload.validityInfo.validUntil"),
    );
    // A duplicate element (two equal JSON keys) is refused, not silently merged.
    let dup = sign_body(Some(&ds_id), &device, 30).to_string().replacen(
        "\"given_name\"",
        "\"family_name\":{\"type\":\"string\",\"value\":\"X\"},\"given_name\"",
        1,
    );
    let (s, text) = call(env.d.addr, &env.tok, "POST", SIGN, Some(&dup));
    assert_eq!(s, 400, "{text}");
    // Another tenant's signer reads as an unknown one.
    let (s, v) = env.call_as(
        &other,
        "POST",
        SIGN,
        Some(&sign_body(Some(&ds_id), &device, 30)),
    );
    assert_eq!(
        (s, v["details"][0]["param"].as_str()),
        (400, Some("documentSignerId")),
        "{v}"
    );
    // Deactivated: signs nothing.
    env.ok(
        "PUT",
        &format!("{SIGNERS}/{ds_id}"),
        Some(&json!({"active": false})),
        200,
    );
    env.refused(
        "POST",
        SIGN,
        &sign_body(Some(&ds_id), &device, 30),
        400,
        Some("documentSignerId"),
    );
    assert_eq!(ledger_count(&env), 2, "a refused request signed something");

    // Limits: five document signers per tenant, three IACAs; an IACA with document signers
    // cannot be deleted.
    for _ in 0..3 {
        env.ok("POST", SIGNERS, Some(&json!({"iacaId": iaca_id})), 201);
    }
    let (s, v) = env.call_as(&env.tok, "POST", SIGNERS, Some(&json!({"iacaId": iaca_id})));
    assert_eq!((s, v["code"].as_str()), (409, Some("LimitReached")), "{v}");
    let (s, v) = env.call_as(&env.tok, "DELETE", &format!("{IACAS}/{iaca_id}"), None);
    assert_eq!((s, v["code"].as_str()), (409, Some("CaInUse")), "{v}");
    for _ in 0..2 {
        env.ok(
            "POST",
            IACAS,
            Some(&json!({"commonName": "Another IACA"})),
            201,
        );
    }
    let (s, v) = env.call_as(
        &env.tok,
        "POST",
        IACAS,
        Some(&json!({"commonName": "Fourth"})),
    );
    assert_eq!((s, v["code"].as_str()), (409, Some("LimitReached")), "{v}");
    let list = env.ok("GET", &format!("{SIGNERS}?limit=100"), None, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 5, "{list}");
    let (ok, out) = env.d.cli(&["audit", "verify"]);
    assert!(ok, "{out}");
}

#[test]
fn managed_iaca_provisions_one_document_signer() {
    let env = Env::new("mobile-managed");
    let device = device_jwk(&env);
    // No managed IACA yet: the signer cannot be chosen.
    env.refused(
        "POST",
        SIGN,
        &sign_body(None, &device, 30),
        400,
        Some("documentSignerId"),
    );
    let r = env.ok(
        "POST",
        IACAS,
        Some(&json!({"commonName": "Example Managed IACA", "stateOrProvinceName": "US-CA"})),
        201,
    );
    assert_eq!(r["isManaged"], true, "{r}");
    assert_eq!(r["certificateData"]["country"], "US", "{r}");
    let iaca_id = r["id"].as_str().unwrap().to_owned();
    let iaca_path = env.write("iaca.pem", r["certificatePem"].as_str().unwrap());
    assert_lint_clean("lint_pkix_cert", &[&iaca_path], &[]);
    let text = ossl(&["x509", "-in", p(&iaca_path), "-noout", "-text"]);
    for ext in [
        "CA:TRUE, pathlen:0",
        "Certificate Sign, CRL Sign",
        "X509v3 Issuer Alternative Name",
    ] {
        assert!(text.contains(ext), "{ext}: {text}");
    }
    // Document signers of a managed IACA are the daemon's to make.
    env.refused(
        "POST",
        SIGNERS,
        &json!({"iacaId": iaca_id}),
        400,
        Some("iacaId"),
    );
    // Inactive: still no signer to choose.
    env.refused(
        "POST",
        SIGN,
        &sign_body(None, &device, 30),
        400,
        Some("documentSignerId"),
    );
    env.ok(
        "PUT",
        &format!("{IACAS}/{iaca_id}"),
        Some(&json!({"active": true})),
        200,
    );

    // A refused first request (validity beyond the maximum) provisions nothing.
    env.refused(
        "POST",
        SIGN,
        &sign_body(None, &device, 400),
        400,
        Some("payload.validityInfo.validUntil"),
    );
    let list = env.ok("GET", SIGNERS, None, 200);
    assert!(list["data"].as_array().unwrap().is_empty(), "{list}");

    // Eight concurrent first requests: one document signer is provisioned, all succeed.
    let body = sign_body(None, &device, 30).to_string();
    let answers: Vec<(u16, String)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| s.spawn(|| call(env.d.addr, &env.tok, "POST", SIGN, Some(&body))))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (s, b) in &answers {
        assert_eq!(*s, 200, "{b}");
    }
    let list = env.ok("GET", SIGNERS, None, 200);
    let signers = list["data"].as_array().unwrap();
    assert_eq!(
        signers.len(),
        1,
        "concurrent first requests provisioned {list}"
    );
    let ds = &signers[0];
    assert_eq!(
        (ds["iacaId"].as_str(), ds["active"].as_bool()),
        (Some(iaca_id.as_str()), Some(true))
    );
    let ds_path = env.write("ds.pem", ds["certificatePem"].as_str().unwrap());
    let out = ossl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        p(&iaca_path),
        p(&ds_path),
    ]);
    assert!(out.contains(": OK"), "{out}");
    assert_lint_clean(
        "lint_pkix_signer_signee_cert_chain",
        &[&iaca_path, &ds_path],
        &[],
    );
    let text = ossl(&["x509", "-in", p(&ds_path), "-noout", "-text"]);
    assert!(
        text.contains("1.0.18013.5.1.2") && text.contains("CRL Distribution Points"),
        "{text}"
    );
    for (i, (_, b)) in answers.iter().enumerate() {
        let v: Value = serde_json::from_str(b).unwrap();
        let encoded = v["encoded"].as_str().unwrap();
        if i == 0 {
            assert_mdoc_checks(&env, "p256", encoded, &iaca_path);
        } else {
            let (ok, out) = check_mdoc(&env, &format!("p256-{i}"), encoded, &iaca_path);
            assert!(ok, "{out}");
        }
    }
    assert_eq!(ledger_count(&env), 8);
    let (ok, out) = env.d.cli(&["audit", "verify"]);
    assert!(ok, "{out}");
}

/// Rotation: a provisioned document signer signs only while its certificate outlasts the
/// longest mdoc; once it would not (here: the daemon restarted with a longer maximum), the
/// next request provisions a new one and the old one is deactivated.
#[test]
fn a_provisioned_document_signer_is_rotated_before_it_could_outlive_an_mdoc() {
    let hsm = TestToken::new("mobile-rotate");
    let mut d = Daemon::start_with(
        &hsm,
        "[mobile]\nmax_mdoc_validity_days = 5\ndocument_signer_days = 10\n",
    );
    d.wait_status("/readyz", 200, Duration::from_secs(10));
    let (ok, out) = d.cli(&[
        "tenant",
        "set",
        "--tenant",
        "org.t1",
        "--country",
        "US",
        "--issuer-alt-uri",
        "https://dmv.example.gov",
    ]);
    assert!(ok, "{out}");
    let tok = d.create_token("org.t1", &["issuer"]);
    let ask = |d: &Daemon, method: &str, path: &str, body: Option<Value>| {
        let (s, text) = call(
            d.addr,
            &tok,
            method,
            path,
            body.map(|b| b.to_string()).as_deref(),
        );
        (
            s,
            serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
        )
    };
    let (s, iaca) = ask(
        &d,
        "POST",
        IACAS,
        Some(json!({"commonName": "Rotating IACA"})),
    );
    assert_eq!(s, 201, "{iaca}");
    let (s, _) = ask(
        &d,
        "PUT",
        &format!("{IACAS}/{}", iaca["id"].as_str().unwrap()),
        Some(json!({"active": true})),
    );
    assert_eq!(s, 200);
    let device = json!({"kty": "EC", "crv": "P-256",
        "x": "q0xi21uudhkC1QMykfYryN9bcDx480iJLSaRI05CWgY",
        "y": "NhD-09xqrUgE2-qSt8g5imePgKPPNVpYoHmsTL2f4io"});
    let (s, v) = ask(&d, "POST", SIGN, Some(sign_body(None, &device, 5)));
    assert_eq!(s, 200, "{v}");
    let (_, list) = ask(&d, "GET", SIGNERS, None);
    let first = list["data"][0]["id"].as_str().unwrap().to_owned();
    // A signer of 10 days cannot cover a 12-day mdoc: restart with the longer maximum.
    assert!(d.stop());
    let cfg = d.config_path();
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("max_mdoc_validity_days = 5", "max_mdoc_validity_days = 12")
        .replace("document_signer_days = 10", "document_signer_days = 20");
    std::fs::write(&cfg, text).unwrap();
    d.crash_and_restart(&hsm);
    d.wait_status("/readyz", 200, Duration::from_secs(10));
    let (s, v) = ask(&d, "POST", SIGN, Some(sign_body(None, &device, 12)));
    assert_eq!(s, 200, "{v}");
    let (_, list) = ask(&d, "GET", SIGNERS, None);
    let all = list["data"].as_array().unwrap();
    assert_eq!(all.len(), 2, "{list}");
    let old = all.iter().find(|s| s["id"] == first.as_str()).unwrap();
    let new = all.iter().find(|s| s["id"] != first.as_str()).unwrap();
    assert_eq!(
        (old["active"].as_bool(), new["active"].as_bool()),
        (Some(false), Some(true)),
        "{list}"
    );
    // And the new one keeps signing while it outlasts the longest mdoc.
    let (s, _) = ask(&d, "POST", SIGN, Some(sign_body(None, &device, 12)));
    assert_eq!(s, 200);
    let (_, list) = ask(&d, "GET", SIGNERS, None);
    assert_eq!(list["data"].as_array().unwrap().len(), 2, "{list}");
}
