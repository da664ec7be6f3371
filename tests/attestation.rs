//! Wallet attestations over real HTTP with a real token (SoftHSM2 or Kryoptic): under a managed
//! holder root (the signer provisioned once under 20 concurrent first requests) and under an
//! offline root (openssl) whose signer the operator certified. Each attestation is verified by
//! jwcrypto from x5c alone and x5c validated to the holder root
//! (`tests/data/attestation_check.py`); a flipped byte fails.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Daemon, TestToken, call, ossl};
use serde_json::{Value, json};

const ATTEST: &str = "/v1/holder/wallet-attestations";
const ROOTS: &str = "/v1/holder/certificates/ca";
const SIGNERS: &str = "/v1/holder/certificates/wallet-attestation-signers";

fn req(d: &Daemon, tok: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let b = body.map(|v| v.to_string());
    let (s, text) = call(d.addr, tok, method, path, b.as_deref());
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (s, v)
}

/// A wallet instance key: a public P-256 JWK (fixed test vector; only the public half).
fn wallet_key() -> Value {
    json!({"kty": "EC", "crv": "P-256",
           "x": "q0xi21uudhkC1QMykfYryN9bcDx480iJLSaRI05CWgY",
           "y": "NhD-09xqrUgE2-qSt8g5imePgKPPNVpYoHmsTL2f4io"})
}

fn check(dir: &Path, token: &str, root: &Path, client: &str) -> (bool, String) {
    let f = dir.join("attestation.jwt");
    std::fs::write(&f, token).unwrap();
    let out = std::process::Command::new(common::pkilint_bin("python3"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/attestation_check.py"
        ))
        .args(["--root", root.to_str().unwrap(), "--client-id", client])
        .arg(&f)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The check passes, and fails with one character of the signature changed (not the last:
/// its low bits are base64url padding).
fn assert_checks(dir: &Path, token: &str, root: &Path, client: &str) {
    let (ok, out) = check(dir, token, root, client);
    assert!(ok, "{out}");
    let mut chars: Vec<char> = token.chars().collect();
    let i = chars.len() - 10;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let bad: String = chars.into_iter().collect();
    let (ok, out) = check(dir, &bad, root, client);
    assert!(!ok, "a flipped byte passed: {out}");
}

#[test]
fn wallet_attestations_under_managed_and_unmanaged_roots() {
    let hsm = TestToken::new("attest");
    // The configured maximum lifetime: a week.
    let d = Daemon::start_with(&hsm, "[holder]\nattestation_max_secs = 604800\n");
    d.wait_status("/readyz", 200, Duration::from_secs(10));
    let (ok, out) = d.cli(&[
        "tenant",
        "set",
        "--tenant",
        "org.t1",
        "--domain",
        "wallet.example.com",
        "--country",
        "NZ",
        "--issuer-alt-uri",
        "https://wallet.example.com",
    ]);
    assert!(ok, "{out}");
    let holder = d.create_token("org.t1", &["holder"]);
    let dir = tempfile::tempdir().unwrap();
    let body = json!({"clientId": "https://wallet.example.com/app", "walletKey": wallet_key(),
                      "walletName": "Example Wallet"});

    // No active root: nothing to attest with.
    let (s, v) = req(&d, &holder, "POST", ATTEST, Some(body.clone()));
    assert_eq!(
        (s, v["code"].as_str()),
        (409, Some("NoActiveSigner")),
        "{v}"
    );

    // A managed root, activated; 20 concurrent first requests provision one signer.
    let (s, root) = req(&d, &holder, "POST", ROOTS, Some(json!({})));
    assert_eq!(s, 201, "{root}");
    let root_id = root["id"].as_str().unwrap().to_owned();
    let root_path = dir.path().join("managed-root.pem");
    std::fs::write(&root_path, root["certificatePem"].as_str().unwrap()).unwrap();
    let (s, _) = req(
        &d,
        &holder,
        "PUT",
        &format!("{ROOTS}/{root_id}"),
        Some(json!({"active": true})),
    );
    assert_eq!(s, 200);
    // A refused first request provisions nothing.
    let mut bad = body.clone();
    bad["walletKey"]["d"] = json!("c2VjcmV0LWtleS1tYXRlcmlhbA");
    let (s, v) = req(&d, &holder, "POST", ATTEST, Some(bad));
    assert_eq!(s, 400, "{v}");
    let (_, list) = req(&d, &holder, "GET", SIGNERS, None);
    assert!(list["data"].as_array().unwrap().is_empty(), "{list}");
    let text = body.to_string();
    let answers: Vec<(u16, String)> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..20)
            .map(|_| sc.spawn(|| call(d.addr, &holder, "POST", ATTEST, Some(&text))))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (s, b) in &answers {
        assert_eq!(*s, 200, "{b}");
    }
    let (_, list) = req(&d, &holder, "GET", SIGNERS, None);
    let signers = list["data"].as_array().unwrap();
    assert_eq!(
        signers.len(),
        1,
        "concurrent first requests provisioned {list}"
    );
    let first: Value = serde_json::from_str(&answers[0].1).unwrap();
    assert_eq!(first["signerId"], signers[0]["id"], "{first}");
    assert_checks(
        dir.path(),
        first["attestation"].as_str().unwrap(),
        &root_path,
        "https://wallet.example.com/app",
    );

    // Refusals name the field and never echo a private member.
    let mut b = body.clone();
    b["walletKey"]["d"] = json!("c2VjcmV0LWtleS1tYXRlcmlhbA");
    let (s, v) = req(&d, &holder, "POST", ATTEST, Some(b));
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["details"][0]["param"], "walletKey.d", "{v}");
    assert!(!v.to_string().contains("c2VjcmV0"), "{v}");
    let mut b = body.clone();
    b["expiresIn"] = json!(31 * 86400);
    let (s, v) = req(&d, &holder, "POST", ATTEST, Some(b));
    assert_eq!(
        (s, v["details"][0]["param"].as_str()),
        (400, Some("expiresIn")),
        "{v}"
    );

    // An offline root (openssl) with an operator-certified signer; activating it
    // deactivates the managed one.
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();
    let pem = common::openssl_root(
        dir.path(),
        "C = NZ\nO = Example Wallets\nCN = Example Wallet Root",
        "https://wallet.example.com",
    );
    let (s, off) = req(
        &d,
        &holder,
        "POST",
        ROOTS,
        Some(json!({"certificatePem": pem})),
    );
    assert_eq!(s, 201, "{off}");
    let off_id = off["id"].as_str().unwrap().to_owned();
    let (s, _) = req(
        &d,
        &holder,
        "PUT",
        &format!("{ROOTS}/{off_id}"),
        Some(json!({"active": true})),
    );
    assert_eq!(s, 200);
    let (s, v) = req(&d, &holder, "POST", ATTEST, Some(body.clone()));
    assert_eq!(
        (s, v["code"].as_str()),
        (409, Some("NoActiveSigner")),
        "{v}"
    );
    let (s, signer) = req(&d, &holder, "POST", SIGNERS, Some(json!({"caId": off_id})));
    assert_eq!(s, 201, "{signer}");
    std::fs::write(dir.path().join("s.csr"), signer["csrPem"].as_str().unwrap()).unwrap();
    std::fs::write(
        dir.path().join("s.ext"),
        "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
         subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n",
    )
    .unwrap();
    ossl(&[
        "x509",
        "-req",
        "-in",
        &p("s.csr"),
        "-CA",
        &p("root.pem"),
        "-CAkey",
        &p("root.key"),
        "-extfile",
        &p("s.ext"),
        "-days",
        "365",
        "-sha256",
        "-out",
        &p("s.pem"),
    ]);
    let cert = std::fs::read_to_string(p("s.pem")).unwrap();
    let (s, v) = req(
        &d,
        &holder,
        "PUT",
        &format!("{SIGNERS}/{}", signer["id"].as_str().unwrap()),
        Some(json!({"certificatePem": cert})),
    );
    assert_eq!(s, 200, "{v}");
    let (s, v) = req(&d, &holder, "POST", ATTEST, Some(body.clone()));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["signerId"], signer["id"]);
    assert_checks(
        dir.path(),
        v["attestation"].as_str().unwrap(),
        &dir.path().join("root.pem"),
        "https://wallet.example.com/app",
    );
    // Against the other root it does not validate.
    let (ok, _) = check(
        dir.path(),
        v["attestation"].as_str().unwrap(),
        &root_path,
        "https://wallet.example.com/app",
    );
    assert!(!ok, "an attestation validated to the wrong root");
    let (ok, out) = d.cli(&["audit", "verify"]);
    assert!(ok, "{out}");
}
