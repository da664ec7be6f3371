//! The audit log: append-only rows, each hashed over its fields and the previous row's
//! hash, so that any edit, insertion or deletion in the middle is detected by [`walk`];
//! and the signed checkpoints that let `hsm-pki audit verify` detect what a recomputed
//! chain or a deleted tail hides (`service::checkpoint`).

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};

use super::StoreError;

/// One audit event as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: String,
    pub tenant: String,
    pub token_id: Option<String>,
    pub request_id: Option<String>,
    pub event: String,
    pub object_id: Option<String>,
    /// `start`, `success` or `fail`.
    pub outcome: String,
    pub error_code: Option<String>,
}

/// An event as stored, with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    pub event: AuditEvent,
}

/// The chain starts from 32 zero bytes.
const GENESIS: [u8; 32] = [0; 32];

/// Hash of one row: SHA-256 over the previous hash and every field, each length-prefixed
/// (absent fields distinct from empty ones), so no two different rows share an encoding.
fn row_hash(prev: &[u8], seq: i64, e: &AuditEvent) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(seq.to_be_bytes());
    let mut field = |v: Option<&str>| match v {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        }
    };
    field(Some(&e.at));
    field(Some(&e.tenant));
    field(e.token_id.as_deref());
    field(e.request_id.as_deref());
    field(Some(&e.event));
    field(e.object_id.as_deref());
    field(Some(&e.outcome));
    field(e.error_code.as_deref());
    h.finalize().into()
}

/// Append events inside the caller's transaction, so they commit with the state change they
/// describe, or not at all.
pub(super) fn append(tx: &Transaction<'_>, events: &[AuditEvent]) -> Result<(), StoreError> {
    let (mut seq, mut prev) = head(tx)?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO audit_events (seq, at, tenant, token_id, request_id, event, object_id,
                                   outcome, error_code, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for e in events {
        seq += 1;
        let hash = row_hash(&prev, seq, e);
        stmt.execute(params![
            seq,
            e.at,
            e.tenant,
            e.token_id,
            e.request_id,
            e.event,
            e.object_id,
            e.outcome,
            e.error_code,
            prev,
            hash.to_vec()
        ])?;
        prev = hash.to_vec();
    }
    Ok(())
}

/// A signed statement that the chain had `events` rows with `head` as the newest row's hash
/// (`service::checkpoint` makes and checks the signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub at: String,
    pub events: i64,
    pub head: Vec<u8>,
    pub signature: Vec<u8>,
}

/// The chain's newest row and the newest checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tip {
    /// The newest row's sequence number: the number of rows in an intact chain.
    pub events: i64,
    pub head: Vec<u8>,
    /// The newest checkpoint's (sequence number, event count).
    pub last_checkpoint: Option<(i64, i64)>,
}

/// What walking the chain found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainWalk {
    /// Rows read (up to and excluding the first bad one).
    pub events: i64,
    /// The first row whose hash or predecessor does not verify, or that leaves a gap in
    /// the sequence: a row edited, inserted or deleted without recomputing what follows.
    pub broken_at: Option<i64>,
    /// The stored hash of each row asked for that was reached before any break.
    pub hashes: Vec<(i64, Vec<u8>)>,
}

/// The newest row's sequence number (= the number of rows in an intact chain) and hash.
pub(super) fn head(tx: &Transaction<'_>) -> Result<(i64, Vec<u8>), StoreError> {
    tx.prepare_cached("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok((0, GENESIS.to_vec())),
            e => Err(e.into()),
        })
}

/// The newest checkpoint's sequence number and event count, if there is one.
pub(super) fn last_checkpoint(tx: &Transaction<'_>) -> Result<Option<(i64, i64)>, StoreError> {
    Ok(tx
        .prepare_cached("SELECT seq, events FROM audit_checkpoints ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

pub(super) fn insert_checkpoint(tx: &Transaction<'_>, c: &Checkpoint) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO audit_checkpoints (seq, at, events, head, signature)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![c.seq, c.at, c.events, c.head, c.signature])?;
    Ok(())
}

pub(super) fn checkpoints(conn: &Connection) -> Result<Vec<Checkpoint>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT seq, at, events, head, signature FROM audit_checkpoints ORDER BY seq")?;
    let rows = stmt.query_map([], |r| {
        Ok(Checkpoint {
            seq: r.get(0)?,
            at: r.get(1)?,
            events: r.get(2)?,
            head: r.get(3)?,
            signature: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Walk the whole chain, recomputing every row's hash, and collect the stored hashes of the
/// rows `at` (sorted ascending) on the way.
pub(super) fn walk(conn: &Connection, at: &[i64]) -> Result<ChainWalk, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, tenant, token_id, request_id, event, object_id, outcome, error_code,
                prev_hash, hash
         FROM audit_events ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut prev = GENESIS.to_vec();
    let mut walk = ChainWalk::default();
    let mut wanted = at.iter().copied().peekable();
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let e = AuditEvent {
            at: r.get(1)?,
            tenant: r.get(2)?,
            token_id: r.get(3)?,
            request_id: r.get(4)?,
            event: r.get(5)?,
            object_id: r.get(6)?,
            outcome: r.get(7)?,
            error_code: r.get(8)?,
        };
        let stored_prev: Vec<u8> = r.get(9)?;
        let stored_hash: Vec<u8> = r.get(10)?;
        // A gap in the sequence is a deleted row.
        if seq != walk.events + 1
            || stored_prev != prev
            || row_hash(&prev, seq, &e)[..] != stored_hash[..]
        {
            walk.broken_at = Some(seq);
            return Ok(walk);
        }
        while wanted.next_if(|&w| w < seq).is_some() {}
        if wanted.next_if_eq(&seq).is_some() {
            walk.hashes.push((seq, stored_hash.clone()));
        }
        prev = stored_hash;
        walk.events = seq;
    }
    Ok(walk)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(i: usize) -> AuditEvent {
        AuditEvent {
            at: format!("2026-11-22T00:00:{i:02}Z"),
            tenant: "t".into(),
            token_id: Some("tok".into()),
            request_id: None,
            event: "KEY_CREATE_START".into(),
            object_id: Some(format!("k{i}")),
            outcome: "start".into(),
            error_code: None,
        }
    }

    #[test]
    fn chain_verifies_and_detects_a_changed_byte() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("db")).unwrap();
        {
            let mut conn = store.lock();
            let tx = conn.transaction().unwrap();
            append(&tx, &(0..5).map(ev).collect::<Vec<_>>()).unwrap();
            tx.commit().unwrap();
            let w = walk(&conn, &[2, 5, 9]).unwrap();
            assert_eq!((w.events, w.broken_at), (5, None));
            assert_eq!(w.hashes.iter().map(|h| h.0).collect::<Vec<_>>(), [2, 5]);
            // Updates are refused by trigger; an attacker with file access can drop it.
            assert!(
                conn.execute("UPDATE audit_events SET tenant='x' WHERE seq=3", [])
                    .is_err()
            );
            conn.execute_batch("DROP TRIGGER audit_events_no_update")
                .unwrap();
            conn.execute("UPDATE audit_events SET object_id='kX' WHERE seq=3", [])
                .unwrap();
            let w = walk(&conn, &[]).unwrap();
            assert_eq!((w.events, w.broken_at), (2, Some(3)));
        }
    }
}
