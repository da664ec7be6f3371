//! Revocation and CRLs over real HTTP with a real SoftHSM2 token: an IACA made from seed
//! 002's exact body carries a CRL distribution point built from `public.base_url`, and so do
//! the document signers under it; one is revoked by serial, and `openssl verify -crl_check`
//! with the CRL fetched from the public route refuses it while its sibling verifies. A
//! managed IACA's provisioned document signer is revoked with MATTR's route, idempotently;
//! it is never activated again, and its successor verifies. Every CRL passes `openssl crl
//! -verify` and pkilint's `lint_crl`; cRLNumbers increase across revocations and a restart;
//! a hundred public GETs leave the database file untouched; a wallet attestation signer is
//! revoked and listed on its holder root's CRL, which the authenticated route serves byte for
//! byte; every revocation and CRL is audited and ledgered; the renewal timer re-signs a CRL
//! with a short window by itself.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64ct::{Base64UrlUnpadded, Encoding};
use common::{Daemon, SoftHsm, call, http, openssl, pkilint_with, raw_request};
use hsm_pki::x509::ParsedCertificate;
use serde_json::{Value, json};

const TENANT: &str = "test.tenant1";
const TARGET: &str = "/v1/test.tenant1.x509-service-api-1/x509-service-api";
const BASE: &str = "https://pki.example.test";
const PUBLIC: &str = "[public]\nbase_url = \"https://pki.example.test\"\n";

struct Env {
    hsm: SoftHsm,
    d: Daemon,
    tok: String,
    other: String,
    dir: tempfile::TempDir,
}

impl Env {
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
        assert_eq!(s, status, "{method} {path}: {v}\n{}", tail(&self.d));
        v
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// The CRL at a distribution point of ours, fetched without a token from the route it
    /// names, saved as DER.
    fn fetch_crl(&self, dp: &str, name: &str) -> PathBuf {
        let path = dp
            .strip_prefix(BASE)
            .expect("distribution point under base_url");
        let (s, headers, body) = raw_request(self.d.addr, "GET", path, &[]);
        assert_eq!(s, 200, "GET {path}: {}", String::from_utf8_lossy(&body));
        let ct = header(&headers, "content-type");
        assert_eq!(ct.as_deref(), Some("application/pkix-crl"));
        assert!(header(&headers, "etag").is_some());
        let cc = header(&headers, "cache-control").unwrap_or_default();
        assert!(cc.starts_with("public, max-age="), "{cc}");
        self.file(name, &body)
    }
}

fn tail(d: &Daemon) -> String {
    let t = d.log_text();
    t[t.len().saturating_sub(3000)..].to_owned()
}

fn header(h: &[(String, String)], name: &str) -> Option<String> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

fn cert_of(v: &Value, field: &str) -> (String, ParsedCertificate) {
    let pem = v[field].as_str().unwrap_or_else(|| panic!("{field}: {v}"));
    (
        pem.to_owned(),
        ParsedCertificate::from_pem(pem.as_bytes()).unwrap(),
    )
}

fn dp_of(c: &ParsedCertificate) -> String {
    let uris = c
        .ext()
        .crl_distribution_uris()
        .unwrap()
        .expect("a CRL distribution point");
    assert_eq!(uris.len(), 1);
    uris[0].clone()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `openssl crl -verify` under `ca`, and the CRL's number and revoked serials (upper-case
/// hex, as openssl prints them).
fn crl_facts(crl: &Path, ca: &Path) -> (u64, Vec<String>) {
    let (ok, text) = openssl(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        p(crl),
        "-CAfile",
        p(ca),
        "-noout",
        "-text",
    ]);
    assert!(ok && text.contains("verify OK"), "openssl crl: {text}");
    let number = text
        .split("X509v3 CRL Number:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no CRL number: {text}"));
    let serials = text
        .split("Serial Number: ")
        .skip(1)
        .map(|s| s.split_whitespace().next().unwrap().to_owned())
        .collect();
    (number, serials)
}

/// pkilint's RFC 5280 CRL profile: no finding of WARNING or worse is accepted.
fn lint_crl(crl: &Path) {
    let findings = pkilint_with("lint_crl", &["-t", "CRL", "-p", "PKIX"], &[crl]);
    assert!(findings.is_empty(), "lint_crl {crl:?}: {findings:#?}");
}

/// `openssl verify -crl_check` of `leaf` under `ca` with `crl`: (ok, output).
fn verify_with_crl(ca: &Path, crl: &Path, leaf: &Path) -> (bool, String) {
    let (ok, out) = openssl(&["crl", "-inform", "DER", "-in", p(crl), "-outform", "PEM"]);
    assert!(ok, "{out}");
    let pem = crl.with_extension("pem");
    std::fs::write(&pem, out).unwrap();
    openssl(&[
        "verify",
        "-x509_strict",
        "-crl_check",
        "-CRLfile",
        p(&pem),
        "-CAfile",
        p(ca),
        p(leaf),
    ])
}

fn device_jwk() -> Value {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    let k = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let pt = k.public_key().as_ref();
    json!({"kty": "EC", "crv": "P-256",
        "x": Base64UrlUnpadded::encode_string(&pt[1..33]),
        "y": Base64UrlUnpadded::encode_string(&pt[33..65])})
}

fn sign_body() -> Value {
    let now = time::OffsetDateTime::now_utc();
    let f = |t: time::OffsetDateTime| {
        t.replace_nanosecond(0)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    json!({"payload": {"docType": "org.iso.18013.5.1.mDL",
        "deviceKeyInfo": {"deviceKey": device_jwk()},
        "validityInfo": {"validFrom": f(now), "validUntil": f(now + time::Duration::days(30))},
        "itemsToSign": {"org.iso.18013.5.1": {"family_name": {"type": "string", "value": "Doe"}}}}})
}

/// Seed 002's IACA request body, exactly as printed.
const SEED_002_IACA: &str = r#"{
  "storedCertificateId": "iaca-prod-2026-q1",
  "certificateData": {
    "country": "US",
    "commonName": "Example IACA",
    "issuerAlternativeNameConf": {
      "uri": "https://iaca.example.com"
    }
  },
  "vicalEntryComplementaryMetadata": {
    "docType": ["org.iso.18013.5.1.mDL"],
    "certificateProfile": ["org.iso.18013.5.1.iaca"]
  },
  "iacaKeyDesc": {
    "type": "kms-hosted-key-descriptor",
    "keyIdPath": "test.tenant1.kms1.secp256r1"
  }
}"#;

fn ds_body(ds_key: &str) -> Value {
    json!({"iacaSigner": {"type": "iaca-cert-data-descriptor",
            "iacaKeyDesc": {"type": "kms-hosted-key-descriptor",
                "keyIdPath": "test.tenant1.kms1.secp256r1"},
            "certificateData": {"country": "US", "commonName": "Example IACA",
                "notBefore": "2025-05-28T12:23:01Z", "notAfter": "2040-05-24T12:23:01Z",
                "issuerAlternativeNameConf": {"uri": "https://iaca.example.com"}}},
        "certificateData": {"country": "US", "commonName": "Example DS"},
        "dsPublicKeySource": {"type": "key-descriptor", "keyDescriptor": {
            "type": "kms-hosted-key-descriptor",
            "keyIdPath": format!("test.tenant1.kms1.{ds_key}")}}})
}

/// Byte-for-byte copies of the database and its WAL (what a read must not change).
fn db_bytes(d: &Daemon) -> Vec<Vec<u8>> {
    let db = d.db_path();
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    vec![
        std::fs::read(&db).unwrap(),
        std::fs::read(&wal).unwrap_or_default(),
    ]
}

#[test]
fn revoked_certificates_are_refused_with_the_published_crl() {
    let hsm = SoftHsm::new("revocation");
    // The public budget is raised: this test fetches more than a verifier would.
    let d = Daemon::start_tables(&hsm, 2, "debug", "public_burst = 1000", "", PUBLIC);
    d.wait_status("/readyz", 200, Duration::from_secs(10));
    for tenant in [TENANT, "test.tenant2"] {
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
    let tok = d.create_token(TENANT, &["issuer"]);
    let other = d.create_token("test.tenant2", &["issuer"]);
    let mut env = Env {
        hsm,
        d,
        tok,
        other,
        dir: tempfile::tempdir().unwrap(),
    };
    for k in ["secp256r1", "ds-a", "ds-b"] {
        env.ok(
            "POST",
            "/v1/keys",
            Some(&json!({"keyId": k, "algorithm": "secp256r1"})),
            201,
        );
    }

    // --- the X.509 service: seed 002's IACA and two document signers under it -------------
    let seed: Value = serde_json::from_str(SEED_002_IACA).unwrap();
    let v = env.ok("POST", &format!("{TARGET}/iso/iacas"), Some(&seed), 200);
    let (iaca_pem, iaca) = cert_of(&v, "certificatePEM");
    let iaca_dp = dp_of(&iaca);
    let ca_id = iaca_dp
        .strip_prefix(&format!("{BASE}/crl/"))
        .and_then(|s| s.strip_suffix(".crl"))
        .unwrap_or_else(|| panic!("{iaca_dp}"))
        .to_owned();
    hsm_pki::x509::check_iaca(&iaca, "iaca").unwrap();
    let iaca_path = env.file("iaca.pem", iaca_pem.as_bytes());
    let mut ds = Vec::new();
    for k in ["ds-a", "ds-b"] {
        let v = env.ok(
            "POST",
            &format!("{TARGET}/iso/document-signers"),
            Some(&ds_body(k)),
            200,
        );
        assert_eq!(v["certificateData"]["crlDistributionPointUri"], iaca_dp);
        let (pem, c) = cert_of(&v, "certificatePEM");
        // The DS made under it points at the IACA's CRL (ISO/IEC 18013-5 Table B.3).
        assert_eq!(dp_of(&c), iaca_dp);
        ds.push((
            env.file(&format!("{k}.pem"), pem.as_bytes()),
            c.serial_hex(),
        ));
    }

    // The first CRL comes from the timer, woken by the new CA key: nothing revoked.
    let path = iaca_dp.strip_prefix(BASE).unwrap();
    env.d.wait_status(path, 200, Duration::from_secs(10));
    let crl0 = env.fetch_crl(&iaca_dp, "crl0.der");
    let (n0, revoked0) = crl_facts(&crl0, &iaca_path);
    assert!(revoked0.is_empty());
    lint_crl(&crl0);
    for (leaf, _) in &ds {
        let (ok, out) = verify_with_crl(&iaca_path, &crl0, leaf);
        assert!(ok, "{out}");
    }

    // Revoke the first by serial, with a reason.
    let revoke = |serial: &str| format!("{TARGET}/certificates/{serial}/revoke");
    let r = env.ok(
        "POST",
        &revoke(&ds[0].1),
        Some(&json!({"reason": "keyCompromise"})),
        200,
    );
    assert_eq!(r["revoked"], true);
    assert_eq!(r["reason"], "keyCompromise");
    assert_eq!(r["crlCaId"], ca_id.as_str());
    let date = r["revocationDate"].clone();
    // Twice: the same revocation, no new CRL.
    let again = env.ok("POST", &revoke(&ds[0].1), Some(&json!({})), 200);
    assert_eq!(again["revocationDate"], date);
    // Another tenant's certificate is not found; an unknown reason or serial is refused.
    let other_target = "/v1/test.tenant2.x509-service-api-1/x509-service-api";
    let (s, e) = env.call_as(
        &env.other,
        "POST",
        &format!("{other_target}/certificates/{}/revoke", ds[1].1),
        Some(&json!({})),
    );
    assert_eq!((s, e["code"].as_str()), (404, Some("NotFound")), "{e}");
    let (s, e) = env.call_as(
        &env.tok,
        "POST",
        &revoke(&ds[1].1),
        Some(&json!({"reason": "removeFromCRL"})),
    );
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["details"][0]["param"], "reason");
    let (s, _) = env.call_as(&env.tok, "POST", &revoke("zz"), Some(&json!({})));
    assert_eq!(s, 404);
    // The IACA itself is self-signed: no CRL here can list it.
    let (s, e) = env.call_as(
        &env.tok,
        "POST",
        &revoke(&iaca.serial_hex()),
        Some(&json!({})),
    );
    assert_eq!((s, e["code"].as_str()), (409, Some("NotRevocable")), "{e}");

    let crl1 = env.fetch_crl(&iaca_dp, "crl1.der");
    let (n1, revoked1) = crl_facts(&crl1, &iaca_path);
    assert!(n1 > n0, "{n1} after {n0}");
    assert_eq!(revoked1, [ds[0].1.to_uppercase()]);
    lint_crl(&crl1);
    let (ok, out) = verify_with_crl(&iaca_path, &crl1, &ds[0].0);
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    let (ok, out) = verify_with_crl(&iaca_path, &crl1, &ds[1].0);
    assert!(ok, "{out}");
    let (ok, text) = openssl(&["crl", "-inform", "DER", "-in", p(&crl1), "-noout", "-text"]);
    assert!(ok && text.contains("Key Compromise"), "{text}");
    // Negative control: a flipped byte in the signature fails openssl's check.
    let mut bad = std::fs::read(&crl1).unwrap();
    let last = bad.len() - 2;
    bad[last] ^= 1;
    let bad = env.file("bad.der", &bad);
    let (_, out) = openssl(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        p(&bad),
        "-CAfile",
        p(&iaca_path),
        "-noout",
    ]);
    assert!(!out.contains("verify OK"), "{out}");

    // --- a hundred public GETs change nothing -----------------------------------------------
    let before = db_bytes(&env.d);
    for _ in 0..100 {
        let (s, _) = http(env.d.addr, "GET", path, None);
        assert_eq!(s, 200);
    }
    // With its ETag: 304.
    let (_, h, _) = raw_request(env.d.addr, "GET", path, &[]);
    let etag = header(&h, "etag").unwrap();
    let (s, _, body) = raw_request(env.d.addr, "GET", path, &[("if-none-match", etag)]);
    assert_eq!((s, body.len()), (304, 0));
    assert!(db_bytes(&env.d) == before, "a GET changed the database");
    let (s, _) = http(
        env.d.addr,
        "GET",
        "/crl/00000000-0000-0000-0000-000000000000.crl",
        None,
    );
    assert_eq!(s, 404);
    let (s, _) = http(env.d.addr, "GET", &format!("/crl/{ca_id}"), None);
    assert_eq!(s, 404);

    // --- a managed IACA: its provisioned document signer, revoked with MATTR's route -----
    let v = env.ok(
        "POST",
        "/v2/credentials/mobile/iacas",
        Some(&json!({"commonName": "Managed IACA"})),
        201,
    );
    let iaca_id = v["id"].as_str().unwrap().to_owned();
    let (m_pem, m_iaca) = cert_of(&v, "certificatePem");
    assert_eq!(dp_of(&m_iaca), format!("{BASE}/crl/{iaca_id}.crl"));
    let m_path = env.file("managed-iaca.pem", m_pem.as_bytes());
    env.ok(
        "PUT",
        &format!("/v2/credentials/mobile/iacas/{iaca_id}"),
        Some(&json!({"active": true})),
        200,
    );
    env.ok(
        "POST",
        "/v2/credentials/mobile/sign",
        Some(&sign_body()),
        200,
    );
    let list = env.ok("GET", "/v2/credentials/mobile/document-signers", None, 200);
    let first = list["data"][0].clone();
    let ds_id = first["id"].as_str().unwrap().to_owned();
    let (first_pem, first_ds) = cert_of(&first, "certificatePem");
    assert_eq!(dp_of(&first_ds), format!("{BASE}/crl/{iaca_id}.crl"));
    let first_path = env.file("managed-ds1.pem", first_pem.as_bytes());
    let revoke_ds = format!("/v2/credentials/mobile/document-signers/{ds_id}/revoke");
    let r = env.ok("POST", &revoke_ds, Some(&json!({})), 200);
    assert_eq!(r["revoked"], true);
    let date = r["revocationDate"].clone();
    assert!(date.is_string());
    assert_eq!(
        env.ok("POST", &revoke_ds, Some(&json!({})), 200)["revocationDate"],
        date
    );
    let (s, _) = env.call_as(&env.other, "POST", &revoke_ds, Some(&json!({})));
    assert_eq!(s, 404);
    // A revoked signer is never activated again, and signs nothing.
    let (s, e) = env.call_as(
        &env.tok,
        "PUT",
        &format!("/v2/credentials/mobile/document-signers/{ds_id}"),
        Some(&json!({"active": true})),
    );
    assert_eq!((s, e["code"].as_str()), (409, Some("SignerRevoked")), "{e}");
    let mut named = sign_body();
    named["documentSignerId"] = json!(ds_id);
    let (s, e) = env.call_as(
        &env.tok,
        "POST",
        "/v2/credentials/mobile/sign",
        Some(&named),
    );
    assert!(s >= 400, "{e}");
    // The next sign request provisions a successor, which verifies; the revoked one not.
    env.ok(
        "POST",
        "/v2/credentials/mobile/sign",
        Some(&sign_body()),
        200,
    );
    let list = env.ok("GET", "/v2/credentials/mobile/document-signers", None, 200);
    let second = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] != ds_id.as_str() && s["active"] == true)
        .expect("a successor")
        .clone();
    let (second_pem, _) = cert_of(&second, "certificatePem");
    let second_path = env.file("managed-ds2.pem", second_pem.as_bytes());
    let m_dp = format!("{BASE}/crl/{iaca_id}.crl");
    let m_crl = env.fetch_crl(&m_dp, "managed1.der");
    let (m1, m_revoked) = crl_facts(&m_crl, &m_path);
    assert_eq!(m_revoked, [first_ds.serial_hex().to_uppercase()]);
    lint_crl(&m_crl);
    let (ok, out) = verify_with_crl(&m_path, &m_crl, &first_path);
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    let (ok, out) = verify_with_crl(&m_path, &m_crl, &second_path);
    assert!(ok, "{out}");

    // --- a wallet attestation signer under a managed holder root -----------------------------
    let holder = env.d.create_token(TENANT, &["holder"]);
    let (s, root) = env.call_as(
        &holder,
        "POST",
        "/v1/holder/certificates/ca",
        Some(&json!({})),
    );
    assert_eq!(s, 201, "{root}");
    let root_id = root["id"].as_str().unwrap().to_owned();
    let (root_pem, root_cert) = cert_of(&root, "certificatePem");
    let root_dp = format!("{BASE}/crl/{root_id}.crl");
    assert_eq!(dp_of(&root_cert), root_dp);
    let root_path = env.file("holder-root.pem", root_pem.as_bytes());
    let (s, _) = env.call_as(
        &holder,
        "PUT",
        &format!("/v1/holder/certificates/ca/{root_id}"),
        Some(&json!({"active": true})),
    );
    assert_eq!(s, 200);
    let attest = json!({"clientId": "https://wallet.example.com/app", "walletKey": device_jwk()});
    let (s, a) = env.call_as(
        &holder,
        "POST",
        "/v1/holder/wallet-attestations",
        Some(&attest),
    );
    assert_eq!(s, 200, "{a}");
    let signer_id = a["signerId"].as_str().unwrap().to_owned();
    let signers = "/v1/holder/certificates/wallet-attestation-signers";
    let (_, signer) = env.call_as(&holder, "GET", &format!("{signers}/{signer_id}"), None);
    let (w_pem, w_cert) = cert_of(&signer, "certificatePem");
    assert_eq!(dp_of(&w_cert), root_dp);
    let w_path = env.file("wallet-signer.pem", w_pem.as_bytes());
    let (s, r) = env.call_as(
        &holder,
        "POST",
        &format!("{signers}/{signer_id}/revoke"),
        Some(&json!({"reason": "cessationOfOperation"})),
    );
    assert_eq!((s, &r["crlCaId"]), (200, &json!(root_id)), "{r}");
    let w_crl = env.fetch_crl(&root_dp, "holder.der");
    let (_, w_revoked) = crl_facts(&w_crl, &root_path);
    assert_eq!(w_revoked, [w_cert.serial_hex().to_uppercase()]);
    lint_crl(&w_crl);
    let (ok, out) = verify_with_crl(&root_path, &w_crl, &w_path);
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    // The authenticated holder route serves the same bytes.
    let (s, _, held) = raw_request(
        env.d.addr,
        "GET",
        &format!("/v1/holder/certificates/ca/{root_id}/crl"),
        &[("authorization", format!("Bearer {holder}"))],
    );
    assert_eq!(s, 200);
    assert_eq!(held, std::fs::read(&w_crl).unwrap());
    // The next attestation is signed by a successor.
    let (s, a2) = env.call_as(
        &holder,
        "POST",
        "/v1/holder/wallet-attestations",
        Some(&attest),
    );
    assert_eq!(s, 200, "{a2}");
    assert_ne!(a2["signerId"], signer_id.as_str());

    // --- every revocation and CRL is audited and ledgered --------------------------------------
    {
        let conn = rusqlite::Connection::open(env.d.db_path()).unwrap();
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        for event in [
            "X509_CERTIFICATE_REVOKE_SUCCESS",
            "MOBILE_CREDENTIAL_DOCUMENT_SIGNER_REVOKE_SUCCESS",
            "CREDENTIAL_HOLDER_WALLET_ATTESTATION_SIGNER_CERTIFICATE_REVOKE_SUCCESS",
            "CERTIFICATE_REVOCATION_LIST_SIGN_SUCCESS",
        ] {
            let n = count(&format!(
                "SELECT count(*) FROM audit_events WHERE event = '{event}'"
            ));
            assert!(n >= 1, "{event}: {n}");
        }
        // Each CRL signed is one ledger row: the CRLs of every issuer, numbers summed.
        let crls = count("SELECT count(*) FROM signatures WHERE artefact = 'crl'");
        let numbers = count("SELECT sum(crl_number) FROM crl_issuers");
        assert_eq!(crls, numbers);
        assert_eq!(count("SELECT count(*) FROM revocations"), 3);
    }

    // --- cRLNumber across a restart ----------------------------------------------------------
    env.d.crash_and_restart(&env.hsm);
    env.d.wait_status("/readyz", 200, Duration::from_secs(15));
    let crl_again = env.fetch_crl(&iaca_dp, "crl1-again.der");
    assert_eq!(
        std::fs::read(&crl_again).unwrap(),
        std::fs::read(&crl1).unwrap()
    );
    env.ok(
        "POST",
        &revoke(&ds[1].1),
        Some(&json!({"reason": "superseded"})),
        200,
    );
    let crl2 = env.fetch_crl(&iaca_dp, "crl2.der");
    let (n2, revoked2) = crl_facts(&crl2, &iaca_path);
    assert!(n2 > n1, "{n2} after {n1}");
    assert_eq!(revoked2.len(), 2);
    lint_crl(&crl2);
    let (ok, _) = verify_with_crl(&iaca_path, &crl2, &ds[1].0);
    assert!(!ok);
    let m_after = env.fetch_crl(&m_dp, "managed-after.der");
    assert_eq!(crl_facts(&m_after, &m_path).0, m1);

    // --- the renewal timer, with a one-minute window renewed two seconds in -----------------
    let _ = env.d.stop();
    let cfg = std::fs::read_to_string(env.d.config_path()).unwrap();
    std::fs::write(
        env.d.config_path(),
        format!("{cfg}\n[crl]\nvalidity_secs = 60\nrenew_before_secs = 58\ncheck_secs = 1\n"),
    )
    .unwrap();
    env.d.crash_and_restart(&env.hsm);
    env.d.wait_status("/readyz", 200, Duration::from_secs(15));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while Instant::now() < deadline && seen.len() < 3 {
        let (s, _, body) = raw_request(env.d.addr, "GET", path, &[]);
        assert_eq!(s, 200);
        let f = env.file("timer.der", &body);
        let (n, _) = crl_facts(&f, &iaca_path);
        if seen.last() != Some(&n) {
            seen.push(n);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        seen.len() >= 3 && seen[0] >= n2,
        "renewed by the timer: {seen:?}\n{}",
        tail(&env.d)
    );
    let renewed = env.fetch_crl(&iaca_dp, "renewed.der");
    assert_eq!(crl_facts(&renewed, &iaca_path).1.len(), 2);
    lint_crl(&renewed);
}
