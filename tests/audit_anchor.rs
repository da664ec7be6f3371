//! The audit log anchored in the token: checkpoints signed by the token's audit key and its
//! anchor object make `hsm-pki audit verify` detect what the hash chain alone cannot (the
//! newest events deleted, an edited event with the chain recomputed, a replaced database
//! file), and it passes on an untouched log across a restart and a token outage.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{AUDIT_KEY_LABEL, Daemon, TestToken, call, token_all_private_labels};
use sha2::{Digest, Sha256};

const FAST_CHECKPOINTS: &str = "[audit]\ncheckpoint_interval_secs = 1\n";

fn create_keys(d: &Daemon, token: &str, prefix: &str, n: usize) {
    for i in 0..n {
        let body = format!(r#"{{"keyId":"{prefix}-{i}","algorithm":"secp256r1"}}"#);
        let (s, b) = call(d.addr, token, "POST", "/v1/keys", Some(&body));
        assert_eq!(s, 201, "{b}");
    }
}

fn checkpoints_logged(d: &Daemon) -> usize {
    d.log_text().matches("hsm_pki::audit_checkpoint").count()
}

/// Wait until the daemon has logged more than `seen` checkpoints.
fn wait_checkpoint(d: &Daemon, seen: usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while checkpoints_logged(d) <= seen {
        assert!(
            Instant::now() < deadline,
            "no audit checkpoint within 15 s\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn db_files(db: &Path) -> [PathBuf; 3] {
    let with = |ext: &str| PathBuf::from(format!("{}{ext}", db.display()));
    [db.to_owned(), with("-wal"), with("-shm")]
}

/// Copy the database (and its WAL, if any) from `from` to `to`.
fn copy_db(from: &Path, to: &Path) {
    for (f, t) in db_files(from).iter().zip(db_files(to).iter()) {
        let _ = std::fs::remove_file(t);
        if f.exists() {
            std::fs::copy(f, t).unwrap();
        }
    }
}

fn open_rw(db: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(db).unwrap();
    // What an attacker with the file does first: the append-only triggers are in the file.
    c.execute_batch(
        "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;
         DROP TRIGGER audit_checkpoints_no_delete;",
    )
    .unwrap();
    c
}

fn verify(d: &Daemon) -> (bool, String) {
    d.cli(&["audit", "verify"])
}

fn assert_refused(d: &Daemon, case: &str, expect: &str) {
    let (ok, out) = verify(d);
    assert!(!ok, "{case}: audit verify passed: {out}");
    assert!(
        out.contains(expect),
        "{case}: expected {expect:?} in: {out}"
    );
    eprintln!("{case}: {out}");
}

/// The chain's row hash, as the daemon computes it (an attacker can read the source).
fn row_hash(prev: &[u8], seq: i64, fields: &[Option<String>]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(seq.to_be_bytes());
    for f in fields {
        match f {
            None => h.update([0u8]),
            Some(s) => {
                h.update([1u8]);
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
        }
    }
    h.finalize().to_vec()
}

/// Edit event `target` and recompute every hash from there on, as an attacker would.
fn edit_and_rechain(db: &Path, target: i64) {
    let c = open_rw(db);
    c.execute(
        "UPDATE audit_events SET object_id = 'someone-else' WHERE seq = ?1",
        [target],
    )
    .unwrap();
    let rows: Vec<(i64, Vec<Option<String>>)> = {
        let mut stmt = c
            .prepare(
                "SELECT seq, at, tenant, token_id, request_id, event, object_id, outcome,
                        error_code FROM audit_events ORDER BY seq",
            )
            .unwrap();
        stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                (1..9).map(|i| r.get(i)).collect::<Result<Vec<_>, _>>()?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    let mut prev = vec![0u8; 32];
    for (seq, fields) in rows {
        let hash = row_hash(&prev, seq, &fields);
        c.execute(
            "UPDATE audit_events SET prev_hash = ?1, hash = ?2 WHERE seq = ?3",
            rusqlite::params![prev, hash, seq],
        )
        .unwrap();
        prev = hash;
    }
}

fn count(db: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[test]
fn audit_verify_detects_truncation_rewriting_and_a_replaced_database() {
    let hsm = TestToken::new("audit-anchor");
    let mut d = Daemon::start_with(&hsm, FAST_CHECKPOINTS);
    d.wait_status("/readyz", 200, Duration::from_secs(10));
    let admin = d.create_token("org.t1", &["admin"]);
    create_keys(&d, &admin, "a", 6);
    wait_checkpoint(&d, 0);
    // The key lives in the token; the checkpoint is logged with what an outside system keeps.
    assert!(token_all_private_labels(&hsm).contains(&AUDIT_KEY_LABEL.to_owned()));
    let line = d
        .log_text()
        .lines()
        .find(|l| l.contains("hsm_pki::audit_checkpoint"))
        .unwrap()
        .to_owned();
    for field in ["seq", "events", "head", "signature"] {
        assert!(line.contains(field), "{line}");
    }
    // Beside the running daemon, the untouched log verifies.
    let (ok, out) = verify(&d);
    assert!(ok, "{out}");

    // An older copy of this very database, for the rollback case.
    let old = d.dir.path().join("old.sqlite3");
    assert!(d.stop());
    copy_db(&d.db_path(), &old);

    // Across a token outage.
    let mut d = restart(d, &hsm);
    create_keys(&d, &admin, "b", 3);
    hsm.take_away();
    d.wait_status("/readyz", 503, Duration::from_secs(10));
    hsm.bring_back();
    d.wait_status("/readyz", 200, Duration::from_secs(15));
    let seen = checkpoints_logged(&d);
    create_keys(&d, &admin, "c", 4);
    wait_checkpoint(&d, seen);
    create_keys(&d, &admin, "d", 2);
    // The shutdown checkpoint covers everything up to the last request.
    assert!(d.stop());
    let (ok, out) = verify(&d);
    assert!(ok, "{out}");
    assert!(
        out.contains(" 0 events after the newest checkpoint"),
        "{out}"
    );

    let db = d.db_path();
    let good = d.dir.path().join("good.sqlite3");
    copy_db(&db, &good);
    let events = count(&db, "SELECT count(*) FROM audit_events");
    assert!(events > 20, "{events} events");

    // 1. The newest events deleted (the chain of what remains still verifies).
    open_rw(&db)
        .execute("DELETE FROM audit_events WHERE seq > ?1", [events - 10])
        .unwrap();
    assert_refused(&d, "truncated", "newest events deleted");
    assert_refused(&d, "truncated", "10 missing");

    // 2. An event edited and the chain recomputed after it.
    copy_db(&good, &db);
    edit_and_rechain(&db, events / 2);
    assert_refused(&d, "rewritten", "events rewritten");

    // 3a. The newest events *and* checkpoints deleted: the token still knows its newest.
    copy_db(&good, &db);
    {
        let c = open_rw(&db);
        c.execute("DELETE FROM audit_events WHERE seq > ?1", [events - 10])
            .unwrap();
        c.execute(
            "DELETE FROM audit_checkpoints WHERE events > ?1",
            [events - 10],
        )
        .unwrap();
    }
    assert_refused(&d, "newest events and checkpoints deleted", "rolled back");

    // 3b. The file replaced by an older copy of itself.
    copy_db(&old, &db);
    assert_refused(&d, "older copy", "database replaced or rolled back");

    // 3c. The file replaced by another daemon's database (its own token, its own key).
    let other_hsm = TestToken::new("audit-other");
    let mut other = Daemon::start_with(&other_hsm, FAST_CHECKPOINTS);
    other.wait_status("/readyz", 200, Duration::from_secs(10));
    let other_admin = other.create_token("org.t1", &["admin"]);
    create_keys(&other, &other_admin, "x", 3);
    assert!(other.stop());
    copy_db(&other.db_path(), &db);
    assert_refused(
        &d,
        "another daemon's database",
        "not signed by this token's audit key",
    );

    // 3d. A fresh, empty database in its place.
    for f in db_files(&db) {
        let _ = std::fs::remove_file(f);
    }
    let (ok, out) = d.cli(&["api-token", "list"]);
    assert!(ok, "{out}");
    assert_refused(&d, "empty database", "database replaced or rolled back");

    // And the untouched copy still verifies: the checks above failed for their reason only.
    copy_db(&good, &db);
    let (ok, out) = verify(&d);
    assert!(ok, "{out}");
}

/// Start a stopped daemon again on the same directory.
fn restart(mut d: Daemon, hsm: &TestToken) -> Daemon {
    d.crash_and_restart(hsm);
    d.wait_status("/readyz", 200, Duration::from_secs(10));
    d
}
