//! What operators need when the machine misbehaves: the daemon killed with SIGKILL under load, and
//! the token vanishing under load. Real daemon, real token (SoftHSM2 or Kryoptic), real HTTP.
//!
//! - Crash durability, under issuance and key-creation load: every object whose 2xx response
//!   reached the client is there after the restart, unchanged (a certificate with the same DER
//!   in the store and the same serial in the ledger); no database record points at a missing token key; the token holds no
//!   key without a record once start-up reconciliation has run; the audit chain verifies.
//! - Token loss: requests fail fast with 503 and a stable code, `/readyz` says 503, nothing is
//!   half-created, and service comes back without a restart once the token returns.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Daemon, TestToken, token_private_labels, try_request};
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

/// What a client was told was created: (kind, id, response body).
type Acked = Arc<Mutex<Vec<(Kind, String, Value)>>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Key,
    Certificate,
}

/// A public P-256 JWK for certificate subjects: only the public half is ever sent.
const SUBJECT_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"q0xi21uudhkC1QMykfYryN9bcDx480iJLSaRI05CWgY","y":"NhD-09xqrUgE2-qSt8g5imePgKPPNVpYoHmsTL2f4io"}"#;

/// The request that creates object `id` of `kind` for `tenant`: (path, body, success status).
fn create_request(kind: Kind, tenant: &str, id: &str) -> (String, String, u16) {
    match kind {
        Kind::Key => (
            "/v1/keys".into(),
            format!(r#"{{"keyId":"{id}","algorithm":"secp256r1"}}"#),
            201,
        ),
        Kind::Certificate => (
            format!("/v1/{tenant}.x509-service-1/x509-service-api/certificate"),
            format!(
                r#"{{"storedCertificateId":"{id}",
                    "certificateData":{{"subjectName":{{"commonName":"Leaf {id}","country":"US"}},"keyUsage":["DigitalSignature"]}},
                    "subjectPublicKeySource":{{"type":"key-descriptor","keyDescriptor":{{"type":"jwk-encoded-key-descriptor","jwk":{SUBJECT_JWK}}}}},
                    "issuer":{{"type":"ca-signed","issuerKeyDescriptor":{{"type":"kms-hosted-key-descriptor","keyIdPath":"{tenant}.kms1.ca"}}}}}}"#
            ),
            200,
        ),
    }
}

/// A CA key and its self-signed certificate, so that certificates can be issued under it.
fn make_ca(d: &Daemon, token: &str, tenant: &str) {
    let (s, b) = common::call(
        d.addr,
        token,
        "POST",
        "/v1/keys",
        Some(r#"{"keyId":"ca","algorithm":"secp256r1"}"#),
    );
    assert_eq!(s, 201, "{b}");
    let (s, b) = common::call(
        d.addr,
        token,
        "POST",
        &format!("/v1/{tenant}.x509-service-1/x509-service-api/certificate"),
        Some(&format!(
            r#"{{"certificateData":{{"subjectName":{{"commonName":"Resilience CA","country":"US"}},
                 "isCertificateAuthority":true,"pathLengthConstraint":0,"keyUsage":["KeyCertSign","CRLSign"]}},
                "subjectPublicKeySource":{{"type":"key-descriptor","keyDescriptor":{{"type":"kms-hosted-key-descriptor","keyIdPath":"{tenant}.kms1.ca"}}}},
                "issuer":{{"type":"self-signed"}}}}"#
        )),
    );
    assert_eq!(s, 200, "{b}");
}

/// Create objects of `kind` as fast as one connection allows until `stop`, or until the
/// daemon goes away; record what was acknowledged.
fn worker(
    addr: SocketAddr,
    token: String,
    tenant: &'static str,
    kind: Kind,
    prefix: String,
    stop: Arc<AtomicBool>,
    acked: Acked,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            let id = format!("{prefix}-{i}");
            i += 1;
            let (path, body, ok) = create_request(kind, tenant, &id);
            match post(addr, &token, &path, &body) {
                Ok((s, b)) if s == ok => acked.lock().unwrap().push((kind, id, json(&b))),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    })
}

/// The acknowledged object is there, unchanged: a key with the public key the client was
/// given; a certificate in the store with the same DER, and in the issuance ledger with the
/// same serial.
fn assert_durable(d: &Daemon, token: &str, tenant: &str, kind: Kind, id: &str, answer: &Value) {
    match kind {
        Kind::Key => {
            let (s, b) = get(d.addr, token, &format!("/v1/keys/{id}"));
            assert_eq!(s, 200, "acknowledged key {id} lost: {b}");
            assert_eq!(
                json(&b)["publicKeyJwk"],
                answer["publicKeyJwk"],
                "key {id} changed"
            );
        }
        Kind::Certificate => {
            let store = format!("{tenant}.x509-store-1");
            let (s, b) = get(
                d.addr,
                token,
                &format!("/v1/{store}/x509-store-api/certificates/{store}.{id}"),
            );
            assert_eq!(s, 200, "acknowledged certificate {id} lost: {b}");
            let pem = answer["certificatePEM"].as_str().unwrap();
            let acked = hsm_pki::x509::ParsedCertificate::from_pem(pem.as_bytes()).unwrap();
            let stored = json(&b)["certificatePEM"].as_str().unwrap().to_owned();
            let stored = hsm_pki::x509::ParsedCertificate::from_pem(stored.as_bytes()).unwrap();
            assert_eq!(
                stored.der(),
                acked.der(),
                "certificate {id} changed in the store"
            );
            let conn = rusqlite::Connection::open_with_flags(
                d.db_path(),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            let serial: String = conn
                .query_row(
                    "SELECT serial FROM issued_certificates WHERE der = ?1",
                    [acked.der()],
                    |r| r.get(0),
                )
                .unwrap_or_else(|e| panic!("certificate {id} not in the ledger: {e}"));
            assert_eq!(
                serial,
                acked.serial_hex(),
                "certificate {id}: ledger serial"
            );
        }
    }
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_write() {
    let hsm = TestToken::new("crash");
    let mut d = Daemon::start(&hsm);
    d.wait_status("/readyz", 200, Duration::from_secs(10));
    let tenant = "org.crash";
    let token = d.create_token(tenant, &["issuer"]);
    make_ca(&d, &token, tenant);
    let acked: Acked = Arc::default();
    let rounds = 12;
    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        // Issuance load (sign with a token key, ledger + store + audit in one commit) beside
        // key creation (token object first, record second).
        let workers: Vec<_> = [Kind::Certificate, Kind::Certificate, Kind::Key]
            .into_iter()
            .enumerate()
            .map(|(w, kind)| {
                worker(
                    d.addr,
                    token.clone(),
                    tenant,
                    kind,
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
        let db = d.db_labels();
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

    // Every acknowledged object is there, unchanged.
    let acked = acked.lock().unwrap().clone();
    let certs = acked.iter().filter(|a| a.0 == Kind::Certificate).count();
    let keys = acked.len() - certs;
    assert!(
        certs >= rounds && keys >= rounds,
        "the load produced too few writes to prove anything: {certs} certificates, {keys} keys"
    );
    for (kind, id, answer) in &acked {
        assert_durable(&d, &token, tenant, *kind, id, answer);
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
    eprintln!("{certs} acknowledged certificates and {keys} keys survived {rounds} SIGKILLs");
}

/// (time since the outage began, status, code) of every answer a worker got.
type Outcomes = Arc<Mutex<Vec<(Duration, u16, String)>>>;

#[test]
fn token_loss_under_load_fails_fast_and_heals_without_restart() {
    let hsm = TestToken::new("loss");
    let d = Daemon::start(&hsm);
    d.wait_status("/readyz", 200, Duration::from_secs(10));
    let tenant = "org.loss";
    let token = d.create_token(tenant, &["issuer"]);
    make_ca(&d, &token, tenant);
    let pid = d.child.id();

    let stop = Arc::new(AtomicBool::new(false));
    let outcomes: Outcomes = Arc::default();
    let t0: Arc<Mutex<Option<Instant>>> = Arc::default();
    // Failures before the outage (there must be none).
    let before: Arc<Mutex<Vec<(u16, String)>>> = Arc::default();
    let workers: Vec<_> = [Kind::Certificate, Kind::Certificate, Kind::Key]
        .into_iter()
        .enumerate()
        .map(|(w, kind)| {
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
                    let (path, body, _) = create_request(kind, tenant, &format!("w{w}-{i}"));
                    i += 1;
                    let sent = Instant::now();
                    let (s, b) = post(addr, &token, &path, &body).expect("daemon answers");
                    let success = (200..300).contains(&s);
                    let code = json(&b)["code"].as_str().unwrap_or("").to_owned();
                    match *t0.lock().unwrap() {
                        Some(start) => outcomes.lock().unwrap().push((
                            sent.saturating_duration_since(start),
                            s,
                            code,
                        )),
                        None if !success => before.lock().unwrap().push((s, b)),
                        None => {}
                    }
                    if !success {
                        // Do not spin: a client backs off a little on 503.
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            })
        })
        .collect();

    std::thread::sleep(Duration::from_millis(800));
    *t0.lock().unwrap() = Some(Instant::now());
    hsm.take_away();
    std::thread::sleep(Duration::from_secs(4));
    let (s, b) = common::http(d.addr, "GET", "/readyz", None);
    assert_eq!(s, 503, "{b}");

    // Restore; measure until the first success.
    let restored = Instant::now();
    let restored_at = restored.duration_since(t0.lock().unwrap().unwrap());
    hsm.bring_back();
    let healed = loop {
        let ok = outcomes
            .lock()
            .unwrap()
            .iter()
            .any(|(at, s, _)| *at > restored_at && (200..300).contains(s));
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
    let db = d.db_labels();
    let tok: BTreeSet<String> = token_private_labels(&hsm).into_iter().collect();
    assert_eq!(db, tok, "token and database disagree after the outage");
    eprintln!(
        "token loss: {} answers during the outage, all 503; service back {healed:?} after restore",
        during.len()
    );
}
