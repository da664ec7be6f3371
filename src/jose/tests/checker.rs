use std::path::Path;
use std::process::Command;

use super::super::jws::{compact, signing_input};
use super::*;

/// A token over `header` and `claims` as given, properly signed by the holder's signer:
/// for attestations the builder would refuse to make.
fn signed_as_is(h: &Holder, header: &Json, claims: &Json) -> String {
    let input = signing_input(header, claims);
    let (alg, _) = jws_algorithm(h.signer_key.public_key().algorithm().curve().unwrap());
    let sig = crypto::sign(&h.signer_key, alg, input.as_bytes()).unwrap();
    compact(&input, sig.to_fixed())
}

/// Runs tests/data/attestation_check.py (jwcrypto + cryptography) on what this module
/// signs. Needs the venv `scripts/test` makes (`HSM_PKI_PKILINT_BIN`), and skips without it.
#[test]
fn the_independent_checker_accepts_our_attestations_and_refuses_broken_ones() {
    let Some(bin) = std::env::var_os("HSM_PKI_PKILINT_BIN") else {
        eprintln!(
            "skipped: HSM_PKI_PKILINT_BIN is unset (scripts/test sets it to the venv holding \
             jwcrypto)"
        );
        return;
    };
    let python = Path::new(&bin).join("python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/attestation_check.py");
    let dir = tempfile::tempdir().unwrap();
    let now = NOW.unix_timestamp().to_string();
    let run = |name: &str, token: &str, root: Option<&ParsedCertificate>, extra: &[&str]| {
        let file = dir.path().join(name);
        std::fs::write(&file, token).unwrap();
        let mut cmd = Command::new(&python);
        cmd.arg(&script).args(["--now", now.as_str()]).args(extra);
        if let Some(root) = root {
            let pem = dir.path().join(format!("{name}.root.pem"));
            std::fs::write(&pem, root.to_pem().unwrap()).unwrap();
            cmd.arg("--root").arg(pem);
        }
        let out = cmd.arg(&file).output().expect("run attestation_check.py");
        let summary: Json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{name}: not JSON ({e}): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert_eq!(
            out.status.success(),
            summary["ok"] == json!(true),
            "{summary}"
        );
        summary
    };
    let error = |s: &Json| s["error"].as_str().unwrap_or_default().to_owned();

    let jwk = wallet_jwk();
    for (curve, alg) in [
        (Curve::P256, "ES256"),
        (Curve::P384, "ES384"),
        (Curve::P521, "ES512"),
    ] {
        let h = holder(curve);
        let token = attest(&h, &request(&jwk)).token().to_owned();
        let ok = run("good", &token, Some(&h.root), &["--client-id", CLIENT_ID]);
        assert_eq!(ok["ok"], json!(true), "{alg}: {ok}");
        assert_eq!(ok["alg"], json!(alg));
        assert_eq!(ok["typ"], json!("oauth-client-attestation+jwt"));
        assert_eq!(ok["chainVerified"], json!(true));
        assert_eq!(ok["walletKeyCrv"], json!("P-256"));
        assert_eq!(
            ok["claims"],
            json!([
                "cnf",
                "exp",
                "iat",
                "iss",
                "sub",
                "wallet_link",
                "wallet_name"
            ])
        );
    }

    // Negative controls, each alone.
    let h = holder(Curve::P256);
    let token = attest(&h, &request(&jwk)).token().to_owned();
    let jws = decode_compact(&token).unwrap();
    let (header, claims) = (jws.header().clone(), jws.payload().clone());

    let mut flipped = token.clone().into_bytes();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let bad = run("sig", std::str::from_utf8(&flipped).unwrap(), None, &[]);
    assert!(error(&bad).contains("signature"), "{bad}");

    let mut forged = claims.clone();
    forged["sub"] = json!("https://evil.example.com");
    let (head, sig) = token.rsplit_once('.').unwrap();
    let resubbed = format!(
        "{}.{}.{sig}",
        head.split('.').next().unwrap(),
        Base64UrlUnpadded::encode_string(&serde_json::to_vec(&forged).unwrap())
    );
    let bad = run("forged", &resubbed, None, &[]);
    assert!(error(&bad).contains("signature"), "{bad}");

    let (other_root, _) = holder_root(55);
    let bad = run("root", &token, Some(&other_root), &[]);
    assert!(error(&bad).contains("root"), "{bad}");
    let bad = run("client", &token, None, &["--client-id", "someone-else"]);
    assert!(error(&bad).contains("sub"), "{bad}");
    let late = (NOW + time::Duration::days(2)).unix_timestamp().to_string();
    let bad = run("late", &token, None, &["--now", late.as_str()]);
    assert!(error(&bad).contains("outside"), "{bad}");

    let mut typ = header.clone();
    typ["typ"] = json!("JWT");
    let bad = run("typ", &signed_as_is(&h, &typ, &claims), None, &[]);
    assert!(error(&bad).contains("typ"), "{bad}");

    let mut private = claims.clone();
    private["cnf"]["jwk"]["d"] = json!("AAAA");
    let bad = run("private", &signed_as_is(&h, &header, &private), None, &[]);
    assert!(error(&bad).contains("private"), "{bad}");

    let mut with_root = header.clone();
    with_root["x5c"]
        .as_array_mut()
        .unwrap()
        .push(json!(Base64::encode_string(h.root.der())));
    let bad = run("anchor", &signed_as_is(&h, &with_root, &claims), None, &[]);
    assert!(error(&bad).contains("self-issued"), "{bad}");

    let mut urlsafe = header.clone();
    urlsafe["x5c"][0] = json!(Base64UrlUnpadded::encode_string(h.signer.der()));
    let bad = run("x5c", &signed_as_is(&h, &urlsafe, &claims), None, &[]);
    assert!(error(&bad).contains("x5c[0]"), "{bad}");
}
