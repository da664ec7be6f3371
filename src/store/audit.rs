//! The audit log: append-only rows, each hashed over its fields and the previous row's
//! hash, so that any edit, insertion or deletion in the middle is detected by [`verify`].

use rusqlite::{Connection, Transaction, params};
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
    let (mut seq, mut prev): (i64, Vec<u8>) = tx
        .prepare_cached("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok((0, GENESIS.to_vec())),
            e => Err(e),
        })?;
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

/// Walk the whole chain. `Ok(n)` with the number of rows when intact; otherwise the
/// sequence number of the first row that does not verify.
pub fn verify(conn: &Connection) -> Result<Result<u64, i64>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, tenant, token_id, request_id, event, object_id, outcome, error_code,
                prev_hash, hash
         FROM audit_events ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut prev = GENESIS.to_vec();
    let mut expected_seq = 1i64;
    let mut n = 0u64;
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
        if seq != expected_seq
            || stored_prev != prev
            || row_hash(&prev, seq, &e)[..] != stored_hash[..]
        {
            return Ok(Err(seq));
        }
        prev = stored_hash;
        expected_seq += 1;
        n += 1;
    }
    Ok(Ok(n))
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
            assert_eq!(verify(&conn).unwrap(), Ok(5));
            // Updates are refused by trigger; an attacker with file access can drop it.
            assert!(
                conn.execute("UPDATE audit_events SET tenant='x' WHERE seq=3", [])
                    .is_err()
            );
            conn.execute_batch("DROP TRIGGER audit_events_no_update")
                .unwrap();
            conn.execute("UPDATE audit_events SET object_id='kX' WHERE seq=3", [])
                .unwrap();
            assert_eq!(verify(&conn).unwrap(), Err(3));
        }
    }
}
