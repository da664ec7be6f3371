//! The X.509 service's refusals over real HTTP: each bad request of issue 5's "Done means"
//! gets a 400 or 409 naming the problem and leaves the issuance ledger, the store and the
//! token unchanged. Also: key descriptors of another tenant, private JWKs imported for one
//! signature and destroyed, an IACA given by PEM that breaks the profile.

mod common;

use std::time::Duration;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use common::{Daemon, TestToken, call, openssl};
use serde_json::{Value, json};

const TENANT: &str = "test.tenant1";
const TARGET: &str = "/v1/test.tenant1.x509-service-1/x509-service-api";

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

struct Env {
    hsm: TestToken,
    d: Daemon,
    token: String,
    dir: tempfile::TempDir,
}

impl Env {
    fn call(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let (s, b) = call(self.d.addr, &self.token, method, path, Some(body));
        (s, json_of(&b))
    }

    fn post_ok(&self, route: &str, body: &Value) -> Value {
        let (s, v) = self.call("POST", &format!("{TARGET}/{route}"), &body.to_string());
        assert_eq!(s, 200, "{route}: {v}");
        v
    }

    fn key(&self, name: &str, algorithm: &str) {
        let body = json!({"keyId": name, "algorithm": algorithm}).to_string();
        let (s, v) = self.call("POST", "/v1/keys", &body);
        assert_eq!(s, 201, "{v}");
    }

    /// (ledger rows, store rows, token private keys).
    fn state(&self) -> (i64, i64, usize) {
        let conn = rusqlite::Connection::open(self.d.db_path()).unwrap();
        let q = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        (
            q("SELECT count(*) FROM issued_certificates"),
            q("SELECT count(*) FROM stored_certificates"),
            token_private_keys(&self.hsm),
        )
    }

    /// POST `body` to `route`; expect `status` with a detail naming `param`; nothing changes.
    fn refused(&self, route: &str, body: &Value, status: u16, param: Option<&str>) -> Value {
        let before = self.state();
        let (s, v) = self.call("POST", &format!("{TARGET}/{route}"), &body.to_string());
        assert_eq!(s, status, "{route}: {v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        if let Some(p) = param {
            let named = v["details"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["param"] == p && d["msg"].as_str().is_some_and(|m| !m.is_empty()));
            assert!(named, "expected a detail naming {p}: {v}");
        }
        assert_eq!(self.state(), before, "{route} changed state: {v}");
        v
    }
}

/// Private-key objects in the token, counted by OpenSC's pkcs11-tool (independent of us).
fn token_private_keys(hsm: &TestToken) -> usize {
    let out = hsm
        .pkcs11_tool()
        .args(["--list-objects", "--type", "privkey"])
        .output()
        .expect("pkcs11-tool not found: run scripts/test, which installs opensc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("Private Key Object"))
        .count()
}

fn kms(name: &str) -> Value {
    json!({"type": "kms-hosted-key-descriptor", "keyIdPath": format!("test.tenant1.kms1.{name}")})
}

fn iaca_data() -> Value {
    json!({"country": "US", "commonName": "Example IACA", "stateOrProvinceName": "US-TX",
        "notBefore": "2025-05-28T12:23:01Z", "notAfter": "2040-05-24T12:23:01Z",
        "issuerAlternativeNameConf": {"uri": "https://iaca.example.com"}})
}

fn ds_body(data: Value) -> Value {
    json!({
        "iacaSigner": {"type": "iaca-cert-data-descriptor", "iacaKeyDesc": kms("iaca"),
            "certificateData": iaca_data()},
        "certificateData": data,
        "dsPublicKeySource": {"type": "key-descriptor", "keyDescriptor": kms("ds")}
    })
}

fn ds_data() -> Value {
    json!({"country": "US", "stateOrProvinceName": "US-TX", "commonName": "Example DS",
        "crlDistributionPointUri": "https://crl.example.com"})
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn openssl_csr(dir: &std::path::Path) -> String {
    let key = dir.join("k.pem");
    let csr = dir.join("r.csr");
    let (ok, out) = openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/C=US/CN=External",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        csr.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    std::fs::read_to_string(csr).unwrap()
}

/// The same CSR with one bit of its signature flipped: still well-formed DER, but the proof
/// of possession no longer verifies.
fn break_signature(pem: &str) -> String {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut der = Base64::decode_vec(&b64).unwrap();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let body = Base64::encode_string(&der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
        lines.join("\n")
    )
}

/// A fresh P-256 private JWK (RFC 7518 6.2.2).
fn private_jwk() -> (Value, String) {
    let mut d = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut d))
        .unwrap();
    let point =
        aws_lc_rs::agreement::PrivateKey::from_private_key(&aws_lc_rs::agreement::ECDH_P256, &d)
            .unwrap()
            .compute_public_key()
            .unwrap();
    let p = point.as_ref();
    let b = |x: &[u8]| Base64UrlUnpadded::encode_string(x);
    let d64 = b(&d);
    (
        json!({"kty": "EC", "crv": "P-256", "x": b(&p[1..33]), "y": b(&p[33..65]), "d": d64}),
        d64,
    )
}

/// A private RSA JWK (RFC 7518 6.3.2) of a key OpenSSL generated.
fn private_rsa_jwk(dir: &std::path::Path) -> Value {
    use der::Decode;
    let pem = dir.join("rsa.pem");
    let der = dir.join("rsa.der");
    let (ok, out) = openssl(&["genrsa", "-out", pem.to_str().unwrap(), "2048"]);
    assert!(ok, "{out}");
    let (ok, out) = openssl(&[
        "rsa",
        "-in",
        pem.to_str().unwrap(),
        "-traditional",
        "-outform",
        "DER",
        "-out",
        der.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    let bytes = std::fs::read(&der).unwrap();
    let k = pkcs1::RsaPrivateKey::<der::asn1::UintRef<'_>>::from_der(&bytes).unwrap();
    let b = |u: der::asn1::UintRef<'_>| Base64UrlUnpadded::encode_string(u.as_bytes());
    json!({"kty": "RSA", "n": b(k.modulus), "e": b(k.public_exponent),
        "d": b(k.private_exponent), "p": b(k.prime1), "q": b(k.prime2),
        "dp": b(k.exponent1), "dq": b(k.exponent2), "qi": b(k.coefficient)})
}

#[test]
fn refusals_name_the_problem_and_change_nothing() {
    let hsm = TestToken::new("x509-errors");
    let d = Daemon::start(&hsm);
    d.wait_status("/readyz", 200, Duration::from_secs(10));
    let token = d.create_token(TENANT, &["issuer", "admin"]);
    let env = Env {
        hsm,
        d,
        token,
        dir: tempfile::tempdir().unwrap(),
    };
    env.key("iaca", "secp256r1");
    env.key("ds", "secp384r1");
    env.key("leaf", "secp256r1");
    env.key("rsa", "rsa2048");
    env.key("gca", "secp256r1");

    // A real IACA and a DS, so the store has something to collide with.
    env.post_ok(
        "iso/iacas",
        &json!({"storedCertificateId": "iaca-1", "certificateData": iaca_data(),
            "iacaKeyDesc": kms("iaca")}),
    );
    env.post_ok(
        "iso/document-signers",
        &with(ds_body(ds_data()), "storedCertificateId", json!("ds-1")),
    );
    let iaca_pem = {
        let (s, v) = call(
            env.d.addr,
            &env.token,
            "GET",
            "/v1/test.tenant1.x509-store-1/x509-store-api/certificates/test.tenant1.x509-store-1.iaca-1",
            None,
        );
        assert_eq!(s, 200);
        json_of(&v)["certificatePEM"].as_str().unwrap().to_owned()
    };

    // 1. A CSR whose signature is broken: generic and DS.
    let csr = openssl_csr(env.dir.path());
    let broken = break_signature(&csr);
    let v = env.refused(
        "certificate",
        &json!({"certificateData": {"subjectName": {"commonName": "x", "country": "US"}},
            "subjectPublicKeySource": {"type": "csr", "csrPEM": broken},
            "issuer": {"type": "ca-signed", "issuerKeyDescriptor": kms("iaca")}}),
        400,
        Some("subjectPublicKeySource.csrPEM"),
    );
    assert!(v.to_string().contains("signature does not verify"), "{v}");
    let mut body = ds_body(ds_data());
    body["dsPublicKeySource"] = json!({"type": "csr", "csrPEM": broken});
    env.refused(
        "iso/document-signers",
        &body,
        400,
        Some("dsPublicKeySource.csrPEM"),
    );

    // 2. A DS valid for 458 days (Table B.3: at most 457).
    let data = with(
        with(ds_data(), "notBefore", json!("2027-01-01T00:00:00Z")),
        "notAfter",
        json!("2028-04-03T00:00:00Z"), // 2027-01-01 + 458 days
    );
    let v = env.refused(
        "iso/document-signers",
        &ds_body(data),
        400,
        Some("certificateData.notAfter"),
    );
    assert!(v.to_string().contains("457"), "{v}");
    // 457 days exactly is fine.
    let data = with(
        with(ds_data(), "notBefore", json!("2027-01-01T00:00:00Z")),
        "notAfter",
        json!("2028-04-02T00:00:00Z"),
    );
    env.post_ok("iso/document-signers", &ds_body(data));

    // 3. A DS outside its IACA's validity (before the IACA's notBefore; after its notAfter).
    let data = with(
        with(ds_data(), "notBefore", json!("2025-01-01T00:00:00Z")),
        "notAfter",
        json!("2025-12-01T00:00:00Z"),
    );
    env.refused(
        "iso/document-signers",
        &ds_body(data),
        400,
        Some("certificateData.notBefore"),
    );
    let data = with(
        with(ds_data(), "notBefore", json!("2040-01-01T00:00:00Z")),
        "notAfter",
        json!("2040-12-01T00:00:00Z"),
    );
    env.refused(
        "iso/document-signers",
        &ds_body(data),
        400,
        Some("certificateData.notAfter"),
    );

    // 4. Country and state mismatches with the IACA.
    let data = with(ds_data(), "country", json!("CA"));
    env.refused(
        "iso/document-signers",
        &ds_body(data),
        400,
        Some("certificateData.country"),
    );
    let data = with(ds_data(), "stateOrProvinceName", json!("US-OH"));
    env.refused(
        "iso/document-signers",
        &ds_body(data),
        400,
        Some("certificateData.stateOrProvinceName"),
    );

    // 5. An RSA IACA key (Annex B: EC only).
    env.refused(
        "iso/iacas",
        &json!({"certificateData": iaca_data(), "iacaKeyDesc": kms("rsa")}),
        400,
        Some("iacaKeyDesc"),
    );
    // And an IACA with neither a URI nor an e-mail issuerAltName, or over 20 years.
    let mut data = iaca_data();
    data["issuerAlternativeNameConf"] = json!({});
    env.refused(
        "iso/iacas",
        &json!({"certificateData": data, "iacaKeyDesc": kms("iaca")}),
        400,
        Some("certificateData.issuerAlternativeNameConf"),
    );
    let data = with(iaca_data(), "notAfter", json!("2045-05-28T12:23:02Z"));
    env.refused(
        "iso/iacas",
        &json!({"certificateData": data, "iacaKeyDesc": kms("iaca")}),
        400,
        Some("certificateData.notAfter"),
    );

    // 6. A self-signed certificate from a CSR.
    env.refused(
        "certificate",
        &json!({"certificateData": {"subjectName": {"commonName": "x", "country": "US"}},
            "subjectPublicKeySource": {"type": "csr", "csrPEM": csr},
            "issuer": {"type": "self-signed"}}),
        400,
        Some("subjectPublicKeySource.type"),
    );

    // 6b. keyUsage an EC subject key must not have (RFC 5480 section 3 as updated by RFC
    // 8813: no keyEncipherment, no dataEncipherment), and encipherOnly / decipherOnly
    // without keyAgreement (RFC 5280 4.2.1.3): pkilint reports an ERROR for each.
    let generic = |ku: Value, source: Value, issuer: Value| {
        let mut b = json!({"certificateData": {"subjectName": {"commonName": "x", "country": "US"},
                "keyUsage": ku},
            "subjectPublicKeySource": source, "issuer": issuer});
        // The generic CA key has no certificate here: its name comes with the request.
        if b["issuer"]["type"] == "ca-signed" {
            b["certificateData"]["issuerName"] =
                json!({"commonName": "Generic CA", "country": "US"});
        }
        b
    };
    let leaf_source = json!({"type": "key-descriptor", "keyDescriptor": kms("leaf")});
    let csr_source = json!({"type": "csr", "csrPEM": csr});
    let ca_signed = json!({"type": "ca-signed", "issuerKeyDescriptor": kms("gca")});
    for ku in [
        json!(["DigitalSignature", "KeyEncipherment"]),
        json!(["DataEncipherment"]),
        json!(["DigitalSignature", "EncipherOnly"]),
        json!(["DecipherOnly"]),
    ] {
        for (source, issuer) in [
            (&leaf_source, json!({"type": "self-signed"})),
            (&leaf_source, ca_signed.clone()),
            (&csr_source, ca_signed.clone()),
        ] {
            let v = env.refused(
                "certificate",
                &generic(ku.clone(), source.clone(), issuer),
                400,
                Some("certificateData.keyUsage"),
            );
            assert!(v.to_string().contains("RFC"), "{v}");
        }
    }
    // An RSA key may encipher keys: issued, and lint-clean.
    let v = env.post_ok(
        "certificate",
        &generic(
            json!(["DigitalSignature", "KeyEncipherment"]),
            json!({"type": "key-descriptor", "keyDescriptor": kms("rsa")}),
            json!({"type": "self-signed"}),
        ),
    );
    let p = env.dir.path().join("rsa-ke.pem");
    std::fs::write(&p, v["certificatePEM"].as_str().unwrap()).unwrap();
    common::assert_lint_clean("lint_pkix_cert", &[&p], &[]);

    // 7. Both dsPublicKeySource and the legacy dsKeyDescriptor.
    let body = with(ds_body(ds_data()), "dsKeyDescriptor", kms("ds"));
    env.refused("iso/document-signers", &body, 400, Some("dsKeyDescriptor"));

    // 8. A storedCertificateId that exists: 409 and nothing issued, for every kind.
    let v = env.refused(
        "iso/document-signers",
        &with(ds_body(ds_data()), "storedCertificateId", json!("iaca-1")),
        409,
        None,
    );
    assert_eq!(v["code"], "StoredCertificateIdExists", "{v}");
    env.refused(
        "iso/iacas",
        &json!({"storedCertificateId": "ds-1", "certificateData": iaca_data(),
            "iacaKeyDesc": kms("iaca")}),
        409,
        None,
    );
    env.refused(
        "certificate",
        &json!({"storedCertificateId": "ds-1",
            "certificateData": {"subjectName": {"commonName": "x"}},
            "subjectPublicKeySource": {"type": "key-descriptor", "keyDescriptor": kms("leaf")},
            "issuer": {"type": "self-signed"}}),
        409,
        None,
    );
    // And a malformed one is a 400 naming it.
    env.refused(
        "iso/iacas",
        &json!({"storedCertificateId": "a.b", "certificateData": iaca_data(),
            "iacaKeyDesc": kms("iaca")}),
        400,
        Some("storedCertificateId"),
    );

    // Key descriptors: another tenant's key path, an unknown key: 404 naming the param.
    env.refused(
        "iso/iacas",
        &json!({"certificateData": iaca_data(), "iacaKeyDesc":
            {"type": "kms-hosted-key-descriptor", "keyIdPath": "test.tenant2.kms1.iaca"}}),
        404,
        Some("iacaKeyDesc.keyIdPath"),
    );
    env.refused(
        "iso/iacas",
        &json!({"certificateData": iaca_data(), "iacaKeyDesc": kms("nope")}),
        404,
        Some("iacaKeyDesc.keyIdPath"),
    );
    // A mistyped field is named, not ignored.
    env.refused(
        "iso/iacas",
        &json!({"certificateData": iaca_data(), "iacaKeyDesc":
            {"type": "kms-hosted-key-descriptor", "keyIdPth": "test.tenant1.kms1.iaca"}}),
        400,
        Some("iacaKeyDesc.keyIdPth"),
    );

    // An IACA by PEM that is not an IACA (the DS), and a key that is not the IACA's.
    let ds_pem = {
        let (s, v) = call(
            env.d.addr,
            &env.token,
            "GET",
            "/v1/test.tenant1.x509-store-1/x509-store-api/certificates/test.tenant1.x509-store-1.ds-1",
            None,
        );
        assert_eq!(s, 200);
        json_of(&v)["certificatePEM"].as_str().unwrap().to_owned()
    };
    let mut body = ds_body(ds_data());
    body["iacaSigner"] = json!({"type": "iaca-pem-cert-descriptor", "iacaKeyDesc": kms("iaca"),
        "certificatePEM": ds_pem});
    env.refused(
        "iso/document-signers",
        &body,
        400,
        Some("iacaSigner.certificatePEM"),
    );
    body["iacaSigner"] = json!({"type": "iaca-pem-cert-descriptor", "iacaKeyDesc": kms("leaf"),
        "certificatePEM": iaca_pem});
    env.refused(
        "iso/document-signers",
        &body,
        400,
        Some("iacaSigner.iacaKeyDesc"),
    );

    // A private JWK signs an IACA: imported for the one signature, destroyed after, never
    // stored, never logged.
    let (jwk, d64) = private_jwk();
    let before = env.state();
    let v = env.post_ok(
        "iso/iacas",
        &json!({"storedCertificateId": "iaca-jwk", "certificateData": iaca_data(),
            "iacaKeyDesc": {"type": "jwk-encoded-key-descriptor", "jwk": jwk}}),
    );
    let after = env.state();
    assert_eq!(
        after,
        (before.0 + 1, before.1 + 1, before.2),
        "ephemeral key left in the token"
    );
    let cert = hsm_pki::x509::ParsedCertificate::from_pem(
        v["certificatePEM"].as_str().unwrap().as_bytes(),
    )
    .unwrap();
    let mut public = jwk.clone();
    public.as_object_mut().unwrap().remove("d");
    assert_eq!(
        serde_json::to_value(cert.public_key().unwrap().to_jwk()).unwrap(),
        public
    );
    // A public JWK cannot sign...
    env.refused(
        "iso/iacas",
        &json!({"certificateData": iaca_data(),
            "iacaKeyDesc": {"type": "jwk-encoded-key-descriptor", "jwk": public}}),
        400,
        Some("iacaKeyDesc.jwk.d"),
    );
    // ...but is enough as a subject key (of a generic certificate: by a generic CA key, since
    // an IACA key signs only Document Signer certificates).
    env.post_ok(
        "certificate",
        &json!({"certificateData": {"subjectName": {"commonName": "JWK subject"},
                "issuerName": {"commonName": "Generic CA", "country": "US"}},
            "subjectPublicKeySource": {"type": "key-descriptor", "keyDescriptor":
                {"type": "jwk-encoded-key-descriptor", "jwk": public}},
            "issuer": {"type": "ca-signed", "issuerKeyDescriptor": kms("gca")}}),
    );
    // An RSA private JWK signs a self-signed CA certificate: RSA import, PKCS#1 v1.5 SHA-256.
    let rsa = private_rsa_jwk(env.dir.path());
    let before = env.state();
    let v = env.post_ok(
        "certificate",
        &json!({"certificateData": {"subjectName": {"commonName": "RSA JWK root"},
                "isCertificateAuthority": true, "keyUsage": ["KeyCertSign", "CRLSign"]},
            "subjectPublicKeySource": {"type": "key-descriptor", "keyDescriptor":
                {"type": "jwk-encoded-key-descriptor", "jwk": rsa}},
            "issuer": {"type": "self-signed"}}),
    );
    assert_eq!(
        env.state().2,
        before.2,
        "ephemeral RSA key left in the token"
    );
    assert_eq!(v["certificateData"]["publicKeyJwk"]["n"], rsa["n"]);
    let p = env.dir.path().join("rsa-root.pem");
    std::fs::write(&p, v["certificatePEM"].as_str().unwrap()).unwrap();
    let (ok, out) = openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        p.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    common::assert_lint_clean("lint_pkix_cert", &[&p], &[]);

    let log = env.d.log_text();
    assert!(!log.contains(&d64), "the private JWK reached the log");
    assert!(
        !log.contains(rsa["d"].as_str().unwrap()),
        "the private RSA JWK reached the log"
    );
    let db = std::fs::read(env.d.db_path()).unwrap();
    assert!(!db.windows(d64.len()).any(|w| w == d64.as_bytes()));

    // Roles issuer and admin only; a token is required.
    let holder = env.d.create_token(TENANT, &["holder"]);
    let auditor = env.d.create_token(TENANT, &["auditor"]);
    let body = json!({"certificateData": iaca_data(), "iacaKeyDesc": kms("iaca")}).to_string();
    for t in [&holder, &auditor] {
        let (s, b) = call(
            env.d.addr,
            t,
            "POST",
            &format!("{TARGET}/iso/iacas"),
            Some(&body),
        );
        assert_eq!(s, 403, "{b}");
        let (s, b) = call(
            env.d.addr,
            t,
            "GET",
            "/v1/test.tenant1.x509-store-1/x509-store-api/certificates",
            None,
        );
        assert_eq!(s, 403, "{b}");
    }
    let (s, b) = common::http(env.d.addr, "POST", &format!("{TARGET}/csrs"), Some(&body));
    assert_eq!(s, 401, "{b}");

    // Failures are audited with _FAIL.
    let (s, b) = call(
        env.d.addr,
        &env.token,
        "GET",
        "/v1/audit-events?event=X509_DOCUMENT_SIGNER_CERTIFICATE_CREATE_FAIL",
        None,
    );
    assert_eq!(s, 200, "{b}");
    assert!(json_of(&b)["data"].as_array().unwrap().len() >= 9, "{b}");
}

fn pkcs11_keypair(hsm: &TestToken, label: &str) {
    let out = hsm
        .pkcs11_tool()
        .args([
            "--keypairgen",
            "--key-type",
            "EC:prime256v1",
            "--label",
            label,
        ])
        .output()
        .expect("pkcs11-tool");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A crash between importing a private JWK and destroying it leaves an `hsm-pki.ephemeral.`
/// key; start-up reconciliation destroys it (and only it: an operator's unrecorded key is
/// reported, never destroyed).
#[test]
fn startup_destroys_leftover_ephemeral_keys() {
    let hsm = TestToken::new("x509-ephemeral");
    pkcs11_keypair(&hsm, "hsm-pki.ephemeral.left-by-a-crash");
    pkcs11_keypair(&hsm, "operator-key");
    assert_eq!(token_private_keys(&hsm), 2);
    let d = Daemon::start(&hsm);
    d.wait_status("/readyz", 200, Duration::from_secs(10));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !d.log_text().contains("interrupted create); destroyed") {
        assert!(std::time::Instant::now() < deadline, "{}", d.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(token_private_keys(&hsm), 1);
    let log = d.log_text();
    assert!(log.contains("hsm-pki.ephemeral.left-by-a-crash"), "{log}");
    assert!(
        log.contains("operator-key") && log.contains("not ours, left in place"),
        "{log}"
    );
}
