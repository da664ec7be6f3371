//! What operators need when the machine misbehaves: the daemon killed with SIGKILL under
//! load, and the token vanishing under load. Real daemon, real SoftHSM2 token, real HTTP.
//!
//! - Crash durability: every object whose 2xx response reached the client is there after the
//!   restart, unchanged; no database record points at a missing token key; the token holds no
//!   key without a record once start-up reconciliation has run; the audit chain verifies.
//! - Token loss: requests fail fast with 503 and a stable code, `/readyz` says 503, nothing is
//!   half-created, and service comes back without a restart once the token returns.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Daemon, SoftHsm, token_private_labels, try_request};
use serde_json::Value;

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn post(addr: SocketAddr, token: &str, path: &str, body: &str) -> Result<(u16, String), String> {
    let auth = format!("Bearer {token}");
    try_request(
        addr,
        "POST",
        path,
        &[
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ],
        Some(body.as_bytes().to_vec()),
    )
}

fn get(addr: SocketAddr, token: &str, path: &str) -> (u16, String) {
    common::call(addr, token, "GET", path, None)
}

/// Every key label the database records.
fn db_labels(d: &Daemon) -> BTreeSet<String> {
    let conn = rusqlite::Connection::open_with_flags(
        d.db_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = conn.prepare("SELECT label FROM keys").unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// What a client was told was created: key id → the public JWK in the 201 response.
type Acked = Arc<Mutex<Vec<(String, Value)>>>;

/// Create keys as fast as one connection allows until `stop`, or until the daemon goes away.
fn key_worker(
    addr: SocketAddr,
    token: String,
    prefix: String,
    stop: Arc<AtomicBool>,
    acked: Acked,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            let id = format!("{prefix}-{i}");
            i += 1;
            let body = format!(r#"{{"keyId":"{id}","algorithm":"secp256r1"}}"#);
            match post(addr, &token, "/v1/keys", &body) {
                Ok((201, b)) => acked
                    .lock()
                    .unwrap()
                    .push((id, json(&b)["publicKeyJwk"].clone())),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    })
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_write() {
    let hsm = SoftHsm::new("crash");
    let mut d = Daemon::start(&hsm);
    d.wait_status("/readyz", 200, Duration::from_secs(10));
    let token = d.create_token("org.crash", &["issuer"]);
    let acked: Acked = Arc::default();
    let rounds = 12;
    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..3)
            .map(|w| {
                key_worker(
                    d.addr,
                    token.clone(),
                    format!("r{round}w{w}"),
                    stop.clone(),
                    acked.clone(),
                )
            })
            .collect();
        // A random moment: anywhere from mid-request to mid-commit.
        let pause = 150 + rand::random::<u64>() % 750;
        std::thread::sleep(Duration::from_millis(pause));
        d.crash_and_restart(&hsm);
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().unwrap();
        }
        d.wait_status("/readyz", 200, Duration::from_secs(20));

        // Start-up reconciliation ran: no record without its token key, and no token key
        // without its record (left by a create that was cut off before its commit and is
        // destroyed at start-up, since no client was ever told about it).
        let db = db_labels(&d);
        let tok: BTreeSet<String> = token_private_labels(&hsm).into_iter().collect();
        let missing: Vec<_> = db.difference(&tok).collect();
        assert!(
            missing.is_empty(),
            "round {round}: records without token keys: {missing:?}"
        );
        let unrecorded: Vec<_> = tok.difference(&db).collect();
        assert!(
            unrecorded.is_empty(),
            "round {round}: token keys without records after start-up: {unrecorded:?}"
        );
    }

    // Every acknowledged key is there, with the public key the client was given.
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= rounds,
        "the load produced too few writes to prove anything: {}",
        acked.len()
    );
    for (id, jwk) in &acked {
        let (s, b) = get(d.addr, &token, &format!("/v1/keys/{id}"));
        assert_eq!(s, 200, "acknowledged key {id} lost: {b}");
        assert_eq!(&json(&b)["publicKeyJwk"], jwk, "key {id} changed");
    }

    // The audit chain survived every crash.
    assert!(d.stop());
    let (ok, out) = d.cli(&["audit", "verify"]);
    assert!(ok, "audit chain broken after crashes: {out}");
    let starts = d
        .log_text()
        .matches("token and database reconciled")
        .count();
    assert!(starts > rounds, "reconciliation did not run at every start");
    eprintln!(
        "{} acknowledged keys survived {rounds} SIGKILLs",
        acked.len()
    );
}

/// (time since the outage began, status, code) of every answer a worker got.
type Outcomes = Arc<Mutex<Vec<(Duration, u16, String)>>>;

#[test]
fn token_loss_under_load_fails_fast_and_heals_without_restart() {
    let hsm = SoftHsm::new("loss");
    let d = Daemon::start(&hsm);
    d.wait_status("/readyz", 200, Duration::from_secs(10));
    let token = d.create_token("org.loss", &["issuer"]);
    let pid = d.child.id();

    let stop = Arc::new(AtomicBool::new(false));
    let outcomes: Outcomes = Arc::default();
    let t0: Arc<Mutex<Option<Instant>>> = Arc::default();
    // Failures before the outage (there must be none).
    let before: Arc<Mutex<Vec<(u16, String)>>> = Arc::default();
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let (addr, token, stop, outcomes, t0, before) = (
                d.addr,
                token.clone(),
                stop.clone(),
                outcomes.clone(),
                t0.clone(),
                before.clone(),
            );
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let body = format!(r#"{{"keyId":"w{w}-{i}","algorithm":"secp256r1"}}"#);
                    i += 1;
                    let sent = Instant::now();
                    let (s, b) = post(addr, &token, "/v1/keys", &body).expect("daemon answers");
                    let code = json(&b)["code"].as_str().unwrap_or("").to_owned();
                    match *t0.lock().unwrap() {
                        Some(start) => outcomes.lock().unwrap().push((
                            sent.saturating_duration_since(start),
                            s,
                            code,
                        )),
                        None if s != 201 => before.lock().unwrap().push((s, b)),
                        None => {}
                    }
                    if s != 201 {
                        // Do not spin: a client backs off a little on 503.
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            })
        })
        .collect();

    std::thread::sleep(Duration::from_millis(800));
    let away = hsm.dir.path().join("away");
    *t0.lock().unwrap() = Some(Instant::now());
    std::fs::rename(&hsm.tokendir, &away).unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let (s, b) = common::http(d.addr, "GET", "/readyz", None);
    assert_eq!(s, 503, "{b}");

    // Restore; measure until the first success.
    let restored = Instant::now();
    let restored_at = restored.duration_since(t0.lock().unwrap().unwrap());
    std::fs::rename(&away, &hsm.tokendir).unwrap();
    let healed = loop {
        let ok = outcomes
            .lock()
            .unwrap()
            .iter()
            .any(|(at, s, _)| *at > restored_at && *s == 201);
        if ok {
            break restored.elapsed();
        }
        assert!(
            restored.elapsed() < Duration::from_secs(10),
            "service did not come back within 10 s of the token's return"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(d.child.id(), pid);
    let before = before.lock().unwrap().clone();
    assert!(
        before.is_empty(),
        "failures before the outage: {before:?}\n{}",
        d.log_text()
    );
    d.wait_status("/readyz", 200, Duration::from_secs(5));

    // From 2 s after the loss until the restore: 503 with the stable code, nothing else.
    let outcomes = outcomes.lock().unwrap().clone();
    let during: Vec<_> = outcomes
        .iter()
        .filter(|(at, _, _)| *at >= Duration::from_secs(2) && *at < restored_at)
        .collect();
    assert!(!during.is_empty(), "no request ran during the outage");
    for (at, s, code) in &during {
        assert_eq!(
            (*s, code.as_str()),
            (503, "TokenUnavailable"),
            "at {at:?} into the outage"
        );
    }
    // Nothing half-created: every record has its key and every key its record.
    let db = db_labels(&d);
    let tok: BTreeSet<String> = token_private_labels(&hsm).into_iter().collect();
    assert_eq!(db, tok, "token and database disagree after the outage");
    eprintln!(
        "token loss: {} answers during the outage, all 503; service back {healed:?} after restore",
        during.len()
    );
}
