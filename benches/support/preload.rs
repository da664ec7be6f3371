//! `--preload N`: SETUP, NOT MEASURED. Fills the daemon's database with N issued
//! certificates as the certificate scenario makes them, so the scenarios can be measured
//! against a large store. Going through the API would take hours; this writes through the
//! store's own write path (`Store::commit`, `Write::record_issuance`, `append_events`,
//! `record_signatures`), in batches of `BATCH` per transaction, while the daemon runs:
//! - each row is a copy of one certificate the daemon really issued (template), with its own
//!   serial, fingerprint and store id, so every unique index gets a distinct key;
//! - each certificate gets the events a real issuance writes (`_START`, `_SUCCESS`), appended
//!   to the real chain (`audit verify` still walks it), and a signature ledger row.

use std::path::Path;
use std::time::Instant;

use hsm_pki::store::{AuditEvent, IssuedRecord, SignatureRecord, Store, StoredCertificate};
use sha2::{Digest, Sha256};

const BATCH: u64 = 10_000;

/// Template rows: the newest issued certificate of `tenant`, its store row and its ledger row.
fn template(db: &Path, tenant: &str) -> (IssuedRecord, StoredCertificate, SignatureRecord) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let issued = conn
        .query_row(
            "SELECT tenant, serial, issuer, subject, not_before, not_after, profile,
                    fingerprint_sha256, subject_public_key, der, created_at, is_ca, crl_issuer_id
             FROM issued_certificates WHERE tenant = ?1 ORDER BY id DESC LIMIT 1",
            [tenant],
            |r| {
                Ok(IssuedRecord {
                    tenant: r.get(0)?,
                    serial: r.get(1)?,
                    issuer: r.get(2)?,
                    subject: r.get(3)?,
                    not_before: r.get(4)?,
                    not_after: r.get(5)?,
                    profile: r.get(6)?,
                    fingerprint_sha256: r.get(7)?,
                    subject_public_key: r.get(8)?,
                    der: r.get(9)?,
                    created_at: r.get(10)?,
                    is_ca: r.get::<_, Option<bool>>(11)?.unwrap_or(false),
                    crl_issuer_id: r.get(12)?,
                })
            },
        )
        .expect("a certificate issued before the preload");
    let stored = conn
        .query_row(
            "SELECT tenant, store_id, cert_id, kind, metadata, der, created_at
             FROM stored_certificates WHERE tenant = ?1 ORDER BY rowid DESC LIMIT 1",
            [tenant],
            |r| {
                Ok(StoredCertificate {
                    tenant: r.get(0)?,
                    store_id: r.get(1)?,
                    cert_id: r.get(2)?,
                    kind: r.get(3)?,
                    metadata: r.get(4)?,
                    der: r.get(5)?,
                    created_at: r.get(6)?,
                })
            },
        )
        .unwrap();
    let signature = conn
        .query_row(
            "SELECT tenant, key_label, artefact, algorithm, digest, request_id, created_at
             FROM signatures WHERE tenant = ?1 AND artefact = 'certificate'
             ORDER BY id DESC LIMIT 1",
            [tenant],
            |r| {
                Ok(SignatureRecord {
                    tenant: r.get(0)?,
                    key_label: r.get(1)?,
                    artefact: r.get(2)?,
                    algorithm: r.get(3)?,
                    digest: r.get(4)?,
                    request_id: r.get(5)?,
                    created_at: r.get(6)?,
                })
            },
        )
        .unwrap();
    (issued, stored, signature)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Write `n` certificates like the newest one of `tenant`; returns the seconds it took.
pub fn preload(db: &Path, tenant: &str, event: &str, n: u64) -> f64 {
    let started = Instant::now();
    let (issued, stored, signature) = template(db, tenant);
    let store = Store::open(db).unwrap();
    let mut done = 0;
    while done < n {
        let batch = BATCH.min(n - done);
        store
            .commit(&|| true, |w| {
                for i in done..done + batch {
                    // Distinct, well-spread keys (real serials and fingerprints are random).
                    let h = Sha256::digest(format!("preload {i}"));
                    let id = format!("preload-{}", hex(&h[..12]));
                    let serial = format!("7{}", hex(&h[..15]));
                    let mut row = issued.clone();
                    row.serial = serial.clone();
                    row.fingerprint_sha256 = hex(&h);
                    let mut st = stored.clone();
                    st.cert_id = id.clone();
                    w.record_issuance(&row, &st)?;
                    let ev = |outcome: &str| AuditEvent {
                        at: issued.created_at.clone(),
                        tenant: tenant.to_owned(),
                        token_id: None,
                        request_id: Some(format!("preload-{i}")),
                        event: format!("{event}_{}", outcome.to_uppercase()),
                        object_id: Some(id.clone()),
                        outcome: outcome.to_owned(),
                        error_code: None,
                    };
                    w.append_events(&[ev("start"), ev("success")])?;
                    let mut sig = signature.clone();
                    sig.digest = hex(&Sha256::digest(h));
                    sig.request_id = Some(format!("preload-{i}"));
                    w.record_signatures(&[sig])?;
                }
                Ok::<_, hsm_pki::store::StoreError>(())
            })
            .unwrap();
        done += batch;
        if done % 500_000 == 0 || done == n {
            eprintln!(
                "  preloaded {done} of {n} certificates ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    started.elapsed().as_secs_f64()
}
