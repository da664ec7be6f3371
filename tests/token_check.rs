//! `hsm-pki token check` and token selection by RFC 7512 URI, on the run's backend.

mod common;

use std::time::Duration;

use common::{Daemon, TestToken};

/// `hsm-pki token check` against `d`'s config: (exit success, output).
fn token_check(d: &Daemon) -> (bool, String) {
    d.cli(&["token", "check"])
}

#[test]
fn token_check_passes_on_a_good_token() {
    let hsm = TestToken::new("check-good");
    let d = Daemon::start(&hsm);
    // Beside the running daemon, as an operator may run it; after its start-up
    // reconciliation, which would destroy a test key it found half-way.
    d.wait_status("/readyz", 200, Duration::from_secs(20));
    let (ok, out) = token_check(&d);
    assert!(ok, "{out}");
    for needle in [
        "library: ",
        "token: pkcs11:token=check-good;serial=",
        "sessions: at most",
        "the daemon keeps 3 read-write",
        "CKM_EC_KEY_PAIR_GEN",
        "CKM_ECDSA",
        "CKM_RSA_PKCS_KEY_PAIR_GEN",
        "CKM_RSA_PKCS ",
        "CKM_RSA_PKCS_PSS",
        "CKM_EDDSA",
        "secp256r1  generated in",
        "rsa4096    generated in",
        "rsa-pss-sha512",
        "verdict: this token can serve hsm-pki",
    ] {
        assert!(out.contains(needle), "{needle:?} missing:\n{out}");
    }
    assert!(!out.contains("FAIL"), "{out}");
    assert!(!out.contains(&hsm.pin), "PIN printed");
    // The check leaves no key behind.
    let labels = common::token_all_private_labels(&hsm);
    assert!(
        !labels.iter().any(|l| l.contains("token-check")),
        "{labels:?}"
    );
    assert_eq!(
        common::http(d.addr, "GET", "/readyz", None).0,
        200,
        "the check disturbed the daemon"
    );
}

#[test]
fn token_check_names_a_missing_mechanism() {
    let hsm = TestToken::without_mechanisms("check-no-pss", &["CKM_RSA_PKCS_PSS"]);
    let d = Daemon::start(&hsm);
    let (ok, out) = token_check(&d);
    assert!(!ok, "token check passed without CKM_RSA_PKCS_PSS:\n{out}");
    assert!(out.contains("verdict: NOT usable by hsm-pki"), "{out}");
    assert!(
        out.contains("  - CKM_RSA_PKCS_PSS missing (RSASSA-PSS over a digest)"),
        "{out}"
    );
    // The RSA test keys are still made; their PSS signatures are what fails, by name.
    assert!(out.contains("rsa2048 test key: rsa-pss-sha256"), "{out}");
    assert!(out.contains("secp256r1  generated in"), "{out}");
    assert!(
        out.contains("error: token check failed: "),
        "no non-zero exit reason: {out}"
    );
}

#[test]
fn token_check_explains_a_token_it_cannot_open() {
    let hsm = TestToken::new("check-present");
    let d = Daemon::start_selecting(&hsm, |_| {
        format!(
            "module = \"{}\"\nlabel = \"check-absent\"\npin_file = \"user.pin\"",
            hsm.module().display()
        )
    });
    let (ok, out) = token_check(&d);
    assert!(!ok, "{out}");
    assert!(
        out.contains("cannot open the token (label \"check-absent\")"),
        "{out}"
    );
    assert!(out.contains("pkcs11:token=check-present;serial="), "{out}");
}

/// The PIN file a URI's pin-source names, written into the daemon's directory.
fn uri_selector(hsm: &TestToken, dir: &std::path::Path, path_attrs: &str) -> String {
    let pin = dir.join("uri.pin");
    std::fs::write(&pin, &hsm.pin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pin, std::fs::Permissions::from_mode(0o600)).unwrap();
    format!(
        "uri = \"pkcs11:{path_attrs}?module-path={}&pin-source=file:{}\"",
        hsm.module().display(),
        pin.display()
    )
}

#[test]
fn a_uri_selects_the_token_and_check_config_explains_misses() {
    let hsm = TestToken::new("uri token");
    let serial = hsm.serial();

    // The daemon runs on a URI alone: module, token and PIN all come from it.
    let d = Daemon::start_selecting(&hsm, |dir| {
        uri_selector(&hsm, dir, &format!("token=uri%20token;serial={serial}"))
    });
    d.wait_status("/readyz", 200, Duration::from_secs(20));
    let (ok, out) = d.cli(&["check-config"]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "ok; token.uri selects pkcs11:token=uri%20token;serial={serial}"
        )),
        "{out}"
    );
    let (ok, out) = d.cli(&["token", "check"]);
    assert!(ok, "{out}");
    drop(d);

    // A URI that matches nothing: check-config says so and lists what there is.
    let d = Daemon::start_selecting(&hsm, |dir| {
        uri_selector(&hsm, dir, "token=uri%20token;serial=0")
    });
    let (ok, out) = d.cli(&["check-config"]);
    assert!(!ok, "{out}");
    assert!(out.contains("token.uri matches no token of"), "{out}");
    assert!(
        out.contains(&format!("pkcs11:token=uri%20token;serial={serial}")),
        "{out}"
    );
    drop(d);

    // Two tokens with one label: the label alone matches both, and the message says how to
    // pick one.
    hsm.add_token("uri token");
    let d = Daemon::start_selecting(&hsm, |dir| uri_selector(&hsm, dir, "token=uri%20token"));
    let (ok, out) = d.cli(&["check-config"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("token.uri matches 2 tokens; add serial= (or slot-id=)"),
        "{out}"
    );
    // The daemon refuses to pick one (/readyz is 503 from the start, before the first open
    // is tried, so the log is what tells).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !d
        .log_text()
        .contains("2 tokens match URI pkcs11:token=uri%20token")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "never refused two tokens: {}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(common::http(d.addr, "GET", "/readyz", None).0, 503);
    drop(d);

    // Exactly one way per config: a URI beside a label, or a module-path beside a module,
    // or a pin-source beside a PIN variable; each refusal names the key.
    let dir = tempfile::tempdir().unwrap();
    for (extra, key) in [
        ("label = \"uri token\"\n", "token.label"),
        ("module = \"/x.so\"\n", "token.module"),
        ("pin_env = \"HSM_PKI_PIN\"\n", "token.pin_env"),
    ] {
        let config = dir.path().join("hsm-pki.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\n[database]\npath = \"db\"\n[token]\n{extra}{}\n",
                uri_selector(&hsm, dir.path(), &format!("serial={serial}"))
            ),
        )
        .unwrap();
        let out = std::process::Command::new(common::DAEMON_BIN)
            .args(["check-config", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && text.contains(key),
            "{extra}: {text}"
        );
    }
}
