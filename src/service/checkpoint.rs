//! Signed checkpoints of the audit chain, and the check `hsm-pki audit verify` runs.
//!
//! The chain alone (each row hashed over its fields and its predecessor's hash) shows an
//! edited row only to someone who trusts the newest hash: whoever can write the database
//! file can delete the newest rows, or edit a row and recompute every hash after it, and the
//! chain still verifies. A checkpoint is a statement "the chain had `events` rows and the
//! newest one's hash was `head`", signed by a P-256 key that lives in the token
//! (`hsm::AUDIT_KEY_LABEL`), written every `audit.checkpoint_interval_secs` when the chain
//! grew and at shutdown. The newest checkpoint's position is also written into the token
//! (a data object), and every checkpoint goes to the log for an outside system to keep.
//! The threat model is in ARCHITECTURE.md ("Audit log").

use std::fmt;

use crate::crypto::{self, SignatureAlgorithm};
use crate::hsm::{HsmError, Token};
use crate::store::{Checkpoint, Store, StoreError};

/// Domain separation: a checkpoint signature can never be mistaken for a signature over
/// anything else the daemon signs (certificates, CSRs, CRLs, COSE and JWS structures all
/// start with a DER SEQUENCE or a CBOR/JSON byte, never with this text).
const DOMAIN: &[u8] = b"hsm-pki audit checkpoint v1\0";
const ALG: SignatureAlgorithm = SignatureAlgorithm::EcdsaSha256;

/// The signed bytes: domain, then the fields, fixed-width or length-prefixed.
fn message(seq: i64, at: &str, events: i64, head: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + 24 + head.len() + at.len());
    m.extend_from_slice(DOMAIN);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(&events.to_be_bytes());
    m.extend_from_slice(&(head.len() as u64).to_be_bytes());
    m.extend_from_slice(head);
    m.extend_from_slice(&(at.len() as u64).to_be_bytes());
    m.extend_from_slice(at.as_bytes());
    m
}

/// The token's anchor value: the newest checkpoint's number, event count and head.
fn anchor(seq: i64, events: i64, head: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + head.len());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&events.to_be_bytes());
    v.extend_from_slice(head);
    v
}

fn parse_anchor(v: &[u8]) -> Option<(i64, i64, Vec<u8>)> {
    if v.len() != 48 {
        return None;
    }
    let seq = i64::from_be_bytes(v[..8].try_into().ok()?);
    let events = i64::from_be_bytes(v[8..16].try_into().ok()?);
    Some((seq, events, v[16..].to_vec()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("token: {0}")]
    Token(#[from] HsmError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the token's signature did not verify")]
    Signature,
}

/// Write a checkpoint if the chain grew since the newest one; blocking (token and
/// database). The database row commits first and the token's anchor follows, so a crash in
/// between leaves the token one checkpoint behind the database, which verifies; the other
/// order would leave the token ahead, which reads as a rollback.
pub fn write(
    store: &Store,
    token: &Token,
    now: &str,
) -> Result<Option<Checkpoint>, CheckpointError> {
    let key = token.audit_key()?;
    let made = store.commit(&|| true, |w| -> Result<_, CheckpointError> {
        let tip = w.audit_tip()?;
        let (events, head, last) = (tip.events, tip.head, tip.last_checkpoint);
        if events == 0 || last.is_some_and(|(_, covered)| covered == events) {
            return Ok(None);
        }
        let seq = last.map_or(1, |(s, _)| s + 1);
        let sig =
            crypto::sign(&key, ALG, &message(seq, now, events, &head)).map_err(|e| match e {
                crypto::SignError::Key(e) => CheckpointError::Token(e),
                crypto::SignError::Crypto(_) => CheckpointError::Signature,
            })?;
        let c = Checkpoint {
            seq,
            at: now.to_owned(),
            events,
            head,
            signature: sig.to_der().to_vec(),
        };
        w.insert_audit_checkpoint(&c)?;
        Ok(Some(c))
    })?;
    let Some(c) = made else { return Ok(None) };
    // For an outside system to keep: with these lines, even a rollback of database *and*
    // token would show.
    tracing::info!(
        target: "hsm_pki::audit_checkpoint",
        seq = c.seq,
        at = %c.at,
        events = c.events,
        head = %hex(&c.head),
        signature = %hex(&c.signature),
        "audit checkpoint"
    );
    token.write_audit_anchor(&anchor(c.seq, c.events, &c.head))?;
    Ok(Some(c))
}

/// Something `audit verify` found wrong, each with what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A row whose hash or predecessor does not match, or a gap: edited, inserted or
    /// removed without recomputing the chain after it.
    BrokenChain { seq: i64 },
    /// A checkpoint not signed by this token's audit key.
    ForeignCheckpoint { seq: i64 },
    /// Checkpoints exist but this token has no audit key.
    NoAuditKey,
    /// The log ends before the events a checkpoint covers.
    Truncated {
        checkpoint: i64,
        covered: i64,
        present: i64,
    },
    /// The chain verifies on its own but disagrees with a checkpoint: a row at or before
    /// `events` (after `after`) was changed and every hash after it recomputed.
    Rewritten {
        checkpoint: i64,
        after: i64,
        events: i64,
    },
    /// The token's newest checkpoint is not in the database (which has `newest`).
    Behind {
        checkpoint: i64,
        events: i64,
        newest: Option<i64>,
    },
    /// The database's checkpoint `seq` is not the one the token recorded.
    AnchorMismatch { checkpoint: i64 },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::BrokenChain { seq } => write!(
                f,
                "event chain broken at seq {seq}: an event was edited, inserted or removed \
                 without recomputing the chain"
            ),
            Finding::ForeignCheckpoint { seq } => write!(
                f,
                "database replaced or forged: checkpoint #{seq} is not signed by this token's \
                 audit key"
            ),
            Finding::NoAuditKey => write!(
                f,
                "database replaced or token changed: the database has checkpoints but this \
                 token has no audit key"
            ),
            Finding::Truncated {
                checkpoint,
                covered,
                present,
            } => write!(
                f,
                "newest events deleted: checkpoint #{checkpoint} covers {covered} events, the \
                 log has {present} ({} missing)",
                covered - present
            ),
            Finding::Rewritten {
                checkpoint,
                after,
                events,
            } => write!(
                f,
                "events rewritten: the chain was recomputed after an edit between seq {} and \
                 {events} (checkpoint #{checkpoint}'s head hash differs)",
                after + 1
            ),
            Finding::Behind {
                checkpoint,
                events,
                newest,
            } => {
                let has = match newest {
                    Some(n) => format!("its newest is #{n}"),
                    None => "it has none".to_owned(),
                };
                write!(
                    f,
                    "database replaced or rolled back: the token's newest checkpoint \
                     #{checkpoint} ({events} events) is not in the database ({has})"
                )
            }
            Finding::AnchorMismatch { checkpoint } => write!(
                f,
                "database replaced: its checkpoint #{checkpoint} differs from the one the token \
                 recorded"
            ),
        }
    }
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub events: i64,
    pub checkpoints: usize,
    /// Events newer than the newest checkpoint: not yet anchored in the token.
    pub unanchored: i64,
    pub findings: Vec<Finding>,
}

/// Check the audit log against its checkpoints and the token's anchor; blocking.
pub fn verify(store: &Store, token: &Token) -> Result<Report, CheckpointError> {
    let checkpoints = store.audit_checkpoints()?;
    let mut at: Vec<i64> = checkpoints.iter().map(|c| c.events).collect();
    at.sort_unstable();
    at.dedup();
    let walk = store.walk_audit_chain(&at)?;
    let mut findings = Vec::new();
    if let Some(seq) = walk.broken_at {
        findings.push(Finding::BrokenChain { seq });
    }

    let key = token.find_audit_key()?;
    let mut valid = Vec::new();
    for c in &checkpoints {
        let msg = message(c.seq, &c.at, c.events, &c.head);
        match &key {
            Some(k) if k.public_key().verify(ALG, &msg, &c.signature).is_ok() => valid.push(c),
            Some(_) => findings.push(Finding::ForeignCheckpoint { seq: c.seq }),
            None => {}
        }
    }
    if key.is_none() && !checkpoints.is_empty() {
        findings.push(Finding::NoAuditKey);
    }

    // Only a chain that verifies up to its end says how long the log is.
    if walk.broken_at.is_none()
        && let Some(c) = valid
            .iter()
            .filter(|c| c.events > walk.events)
            .max_by_key(|c| c.events)
    {
        findings.push(Finding::Truncated {
            checkpoint: c.seq,
            covered: c.events,
            present: walk.events,
        });
    }
    let mut sorted = valid.clone();
    sorted.sort_by_key(|c| c.events);
    let mut after = 0;
    for c in &sorted {
        let stored = walk.hashes.iter().find(|(s, _)| *s == c.events);
        if let Some((_, h)) = stored
            && *h != c.head
        {
            findings.push(Finding::Rewritten {
                checkpoint: c.seq,
                after,
                events: c.events,
            });
            break;
        }
        after = c.events;
    }

    let newest_anchor = token
        .read_audit_anchors()?
        .iter()
        .filter_map(|v| parse_anchor(v))
        .max_by_key(|a| a.0);
    if let Some((seq, events, head)) = newest_anchor {
        match checkpoints.iter().find(|c| c.seq == seq) {
            None => findings.push(Finding::Behind {
                checkpoint: seq,
                events,
                newest: checkpoints.last().map(|c| c.seq),
            }),
            Some(c) if c.events != events || c.head != head => {
                findings.push(Finding::AnchorMismatch { checkpoint: seq })
            }
            Some(_) => {}
        }
    }

    let anchored = valid.iter().map(|c| c.events).max().unwrap_or(0);
    Ok(Report {
        events: walk.events,
        checkpoints: checkpoints.len(),
        unanchored: (walk.events - anchored).max(0),
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_fields_cannot_run_into_each_other() {
        let a = message(1, "2026-12-02T00:00:00Z", 10, &[1; 32]);
        let b = message(1, "2026-12-02T00:00:00Z", 11, &[1; 32]);
        let c = message(1, "2026-12-02T00:00:01Z", 10, &[1; 32]);
        assert!(a != b && a != c && a.starts_with(DOMAIN));
    }

    #[test]
    fn anchor_round_trips_and_refuses_other_lengths() {
        let v = anchor(7, 1234, &[9; 32]);
        assert_eq!(parse_anchor(&v), Some((7, 1234, vec![9; 32])));
        assert_eq!(parse_anchor(&v[..47]), None);
    }

    #[test]
    fn findings_say_what_happened() {
        let t = Finding::Truncated {
            checkpoint: 3,
            covered: 1500,
            present: 500,
        };
        assert!(t.to_string().starts_with("newest events deleted"), "{t}");
        assert!(t.to_string().contains("1000 missing"));
        let r = Finding::Rewritten {
            checkpoint: 2,
            after: 10,
            events: 20,
        };
        assert!(r.to_string().contains("between seq 11 and 20"), "{r}");
        let b = Finding::Behind {
            checkpoint: 5,
            events: 9,
            newest: None,
        };
        assert!(b.to_string().starts_with("database replaced"), "{b}");
    }
}
