//! The daemon over real HTTP with a real token (SoftHSM2 or Kryoptic): health, readiness through a
//! token outage, the error shape, configuration errors, graceful shutdown, no secrets in logs.

mod common;

use std::time::Duration;

use common::{Daemon, TestToken, http};

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn assert_error_shape(body: &str, code: &str) -> serde_json::Value {
    let v = json(body);
    assert_eq!(v["code"], code, "{body}");
    assert!(
        v["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(v["details"].is_array(), "{body}");
    v
}

#[test]
fn readiness_follows_the_token_and_recovers_without_restart() {
    let hsm = TestToken::new("daemon-test");
    let mut daemon = Daemon::start(&hsm);

    let (s, body) = http(daemon.addr, "GET", "/healthz", None);
    assert_eq!((s, json(&body)["status"].as_str()), (200, Some("ok")));
    daemon.wait_status("/readyz", 200, Duration::from_secs(10));
    let token = daemon.create_token("org.t1", &["auditor"]);

    // No core dumps: a core file would hold the PIN and the secrets of requests in flight.
    let pid = daemon.child.id();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert_eq!(
        core.split_whitespace().skip(4).take(2).collect::<Vec<_>>(),
        ["0", "0"],
        "{core}"
    );

    // Unknown route and wrong method: the documented error shape.
    let (s, body) = http(daemon.addr, "GET", "/nope", None);
    assert_eq!(s, 404);
    assert_error_shape(&body, "NotFound");
    let (s, body) = http(daemon.addr, "POST", "/readyz", Some("{}"));
    assert_eq!(s, 405);
    assert_error_shape(&body, "MethodNotAllowed");

    // Take the token away: /readyz must say 503, with a reason, within a few seconds.
    hsm.take_away();
    let (_, body) = daemon.wait_status("/readyz", 503, Duration::from_secs(5));
    let v = assert_error_shape(&body, "NotReady");
    assert_eq!(v["details"][0]["param"], "token", "{body}");
    // The public route gives a short public reason; the token's own error (PKCS#11 call and
    // return value) only to a caller with a valid API token.
    assert_eq!(v["details"][0]["msg"], "token unavailable", "{body}");
    assert!(!body.contains("CKR_") && !body.contains("C_"), "{body}");
    let (s, body) = common::call(daemon.addr, &token, "GET", "/readyz", None);
    assert_eq!(s, 503, "{body}");
    let v = assert_error_shape(&body, "NotReady");
    assert!(
        v["details"][0]["msg"]
            .as_str()
            .is_some_and(|m| !m.is_empty() && m != "token unavailable"),
        "{body}"
    );
    // /healthz stays up: the process is alive.
    assert_eq!(http(daemon.addr, "GET", "/healthz", None).0, 200);

    // Bring it back: ready again, same process.
    hsm.bring_back();
    daemon.wait_status("/readyz", 200, Duration::from_secs(10));
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "daemon restarted"
    );

    // Graceful shutdown on SIGTERM.
    assert!(daemon.stop(), "daemon did not stop on SIGTERM");
    let log = daemon.log_text();
    assert!(log.contains("shutdown signal received"), "{log}");
    // The PINs never reach the log, even at debug level.
    assert!(
        !log.contains(&hsm.pin) && !log.contains(&hsm.so_pin),
        "PIN in log"
    );
}

#[test]
fn daemon_starts_without_its_token_and_reports_why() {
    let mut hsm = TestToken::new("present");
    // Point the daemon at a label that no token has: it must still serve /healthz and
    // answer /readyz with 503 naming the token.
    hsm.label = "no-such-token".into();
    let daemon = Daemon::start(&hsm);
    assert_eq!(http(daemon.addr, "GET", "/healthz", None).0, 200);
    let (_, body) = daemon.wait_status("/readyz", 503, Duration::from_secs(5));
    let v = assert_error_shape(&body, "NotReady");
    assert_eq!(v["details"][0]["param"], "token");
}

#[test]
fn unknown_config_key_is_rejected_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    let shipped = include_str!("../hsm-config/hsm-pki.toml");
    std::fs::write(&cfg, shipped.replace("pool_size = 4", "pool_sise = 4")).unwrap();
    let out = std::process::Command::new(common::DAEMON_BIN)
        .args(["check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pool_sise"), "{err}");

    let out = std::process::Command::new(common::DAEMON_BIN)
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pool_sise"));
}

/// A key creation that fails because the token no longer writes is an outage, not a
/// passing error: the next probe proves writes, fails, and the daemon reports 503 and
/// reconnects. Without the periodic write probe, so only the failed write can tell: on
/// Kryoptic, whose lost database still reads, the probe's reads alone keep passing.
#[test]
fn a_failed_write_counts_toward_an_outage() {
    let hsm = TestToken::new("failed-write");
    let d = Daemon::start_health(&hsm, "write_probe_secs = 0");
    d.wait_status("/readyz", 200, Duration::from_secs(20));
    let token = d.create_token("org.writes", &["issuer"]);
    let create = |id: &str| {
        common::call(
            d.addr,
            &token,
            "POST",
            "/v1/keys",
            Some(&format!(r#"{{"keyId":"{id}","algorithm":"secp256r1"}}"#)),
        )
    };
    assert_eq!(create("before").0, 201);

    hsm.take_away();
    if hsm.backend == common::Backend::Kryoptic {
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(
            http(d.addr, "GET", "/readyz", None).0,
            200,
            "Kryoptic's lost database was seen without a write: update the test's premise"
        );
    }
    let (s, body) = create("during");
    assert_eq!(s, 503, "{body}");
    assert_error_shape(&body, "TokenUnavailable");
    d.wait_status("/readyz", 503, Duration::from_secs(5));
    // Still down: the reconnect cannot find the storage either.
    assert_eq!(create("still-during").0, 503);

    hsm.bring_back();
    d.wait_status("/readyz", 200, Duration::from_secs(15));
    let (s, body) = create("after");
    assert_eq!(s, 201, "{body}");
    let log = d.log_text();
    assert!(
        log.contains("token refuses writes") || log.contains("token not answering"),
        "{log}"
    );
}
