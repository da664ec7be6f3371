//! The issuance ledger and the certificate store (migration 006).
//!
//! Issuing writes three things in ONE transaction: the ledger row, the store row and the
//! audit events. A duplicate store id fails the whole transaction with
//! [`StoreError::Conflict`], so no certificate is ever recorded half-way.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, Write, map_conflict};

/// One issued certificate, as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedRecord {
    pub tenant: String,
    pub serial: String,
    pub issuer: String,
    pub subject: String,
    pub not_before: String,
    pub not_after: String,
    /// `iaca`, `document-signer` or `generic`.
    pub profile: String,
    pub fingerprint_sha256: String,
    pub subject_public_key: Vec<u8>,
    /// basicConstraints cA of the certificate.
    pub is_ca: bool,
    pub der: Vec<u8>,
    pub created_at: String,
    /// The CRL issuer whose CRL lists the certificate once revoked (migration 016).
    pub crl_issuer_id: Option<String>,
}

/// A certificate in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCertificate {
    pub tenant: String,
    pub store_id: String,
    pub cert_id: String,
    /// `base` or `vical-entry`.
    pub kind: String,
    /// JSON text, for `vical-entry`.
    pub metadata: Option<String>,
    pub der: Vec<u8>,
    pub created_at: String,
}

fn row_to_stored(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredCertificate> {
    Ok(StoredCertificate {
        tenant: r.get(0)?,
        store_id: r.get(1)?,
        cert_id: r.get(2)?,
        kind: r.get(3)?,
        metadata: r.get(4)?,
        der: r.get(5)?,
        created_at: r.get(6)?,
    })
}

const STORED_COLUMNS: &str = "tenant, store_id, cert_id, kind, metadata, der, created_at";

impl Store {
    /// Candidates for the CA certificate issued to `tenant` for the subject key `spki_der`:
    /// the newest one marked as a CA certificate alone; if there is none, the key's
    /// certificates recorded before the ledger marked them (migration 11), newest first.
    /// The caller checks basicConstraints of each.
    /// The newest certificate of the tenant's issuance ledger with this serial (lowercase hex
    /// of its content octets): its ledger id and the CRL issuer that lists it.
    pub fn issued_by_serial(
        &self,
        tenant: &str,
        serial: &str,
    ) -> Result<Option<(i64, Option<String>)>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT id, crl_issuer_id FROM issued_certificates
                     WHERE tenant = ?1 AND serial = ?2 ORDER BY id DESC LIMIT 1",
                )?
                .query_row(params![tenant, serial], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
        })
    }

    pub fn issued_ca_for_key(
        &self,
        tenant: &str,
        spki_der: &[u8],
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        self.read(|conn| {
            let newest = conn
                .prepare_cached(
                    "SELECT der FROM issued_certificates
                     WHERE tenant = ?1 AND subject_public_key = ?2 AND is_ca = 1
                     ORDER BY id DESC LIMIT 1",
                )?
                .query_row(params![tenant, spki_der], |r| r.get(0))
                .optional()?;
            if let Some(der) = newest {
                return Ok(vec![der]);
            }
            let mut stmt = conn.prepare_cached(
                "SELECT der FROM issued_certificates
                 WHERE tenant = ?1 AND subject_public_key = ?2 AND is_ca IS NULL
                 ORDER BY id DESC",
            )?;
            let rows = stmt.query_map(params![tenant, spki_der], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// The `vicalEntryComplementaryMetadata` (JSON text) the X.509 store holds for the
    /// certificate `der`, if it was issued as a VICAL entry.
    pub fn vical_entry_metadata(
        &self,
        tenant: &str,
        der: &[u8],
    ) -> Result<Option<String>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT metadata FROM stored_certificates
                     WHERE tenant = ?1 AND kind = 'vical-entry' AND der = ?2 LIMIT 1",
                )?
                .query_row(params![tenant, der], |r| r.get::<_, Option<String>>(0))
                .optional()?
                .flatten())
        })
    }

    /// Number of ledger rows of a tenant (tests and operators).
    pub fn count_issued(&self, tenant: &str) -> Result<i64, StoreError> {
        let conn = self.lock();
        Ok(conn.query_row(
            "SELECT count(*) FROM issued_certificates WHERE tenant = ?1",
            params![tenant],
            |r| r.get(0),
        )?)
    }

    pub fn stored_certificate_exists(
        &self,
        tenant: &str,
        store_id: &str,
        cert_id: &str,
    ) -> Result<bool, StoreError> {
        Ok(self
            .get_stored_certificate(tenant, store_id, cert_id)?
            .is_some())
    }

    pub fn get_stored_certificate(
        &self,
        tenant: &str,
        store_id: &str,
        cert_id: &str,
    ) -> Result<Option<StoredCertificate>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {STORED_COLUMNS} FROM stored_certificates
                 WHERE tenant = ?1 AND store_id = ?2 AND cert_id = ?3"
            ))?;
            Ok(stmt
                .query_row(params![tenant, store_id, cert_id], row_to_stored)
                .optional()?)
        })
    }

    /// One page of a store in insertion order after position `after` (exclusive), with
    /// each row's position for the cursor.
    pub fn list_stored_certificates(
        &self,
        tenant: &str,
        store_id: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, StoredCertificate)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT rowid, {STORED_COLUMNS} FROM stored_certificates
             WHERE tenant = ?1 AND store_id = ?2 AND rowid > ?3 ORDER BY rowid LIMIT ?4"
            ))?;
            let rows = stmt.query_map(params![tenant, store_id, after, limit as i64], |r| {
                Ok((
                    r.get(0)?,
                    StoredCertificate {
                        tenant: r.get(1)?,
                        store_id: r.get(2)?,
                        cert_id: r.get(3)?,
                        kind: r.get(4)?,
                        metadata: r.get(5)?,
                        der: r.get(6)?,
                        created_at: r.get(7)?,
                    },
                ))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}

impl Write<'_> {
    /// Record an issued certificate in the ledger and the store, in the
    /// caller's transaction. [`StoreError::Conflict`] when the store id is taken: nothing is
    /// written then.
    pub fn record_issuance(
        &self,
        issued: &IssuedRecord,
        stored: &StoredCertificate,
    ) -> Result<(), StoreError> {
        debug_assert_eq!(issued.tenant, stored.tenant);
        let tx = self.0;
        {
            tx.prepare_cached(
                "INSERT INTO issued_certificates (tenant, serial, issuer, subject, not_before,
                     not_after, profile, fingerprint_sha256, subject_public_key, der, created_at,
                     is_ca, crl_issuer_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?
            .execute(params![
                issued.tenant,
                issued.serial,
                issued.issuer,
                issued.subject,
                issued.not_before,
                issued.not_after,
                issued.profile,
                issued.fingerprint_sha256,
                issued.subject_public_key,
                issued.der,
                issued.created_at,
                issued.is_ca,
                issued.crl_issuer_id
            ])?;
            let issuance_id = tx.last_insert_rowid();
            map_conflict(
                tx.prepare_cached(
                    "INSERT INTO stored_certificates (tenant, store_id, cert_id, kind, metadata,
                     issuance_id, der, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    stored.tenant,
                    stored.store_id,
                    stored.cert_id,
                    stored.kind,
                    stored.metadata,
                    issuance_id,
                    stored.der,
                    stored.created_at
                ]),
            )?;
            Ok(())
        }
    }

    /// Remove a certificate from the store (the ledger keeps it) and append the events, in
    /// one transaction. `false` when absent.
    pub fn delete_stored_certificate(
        &self,
        tenant: &str,
        store_id: &str,
        cert_id: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.0.execute(
            "DELETE FROM stored_certificates
             WHERE tenant = ?1 AND store_id = ?2 AND cert_id = ?3",
            params![tenant, store_id, cert_id],
        )? > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AuditEvent;

    fn issued(fp: &str) -> IssuedRecord {
        IssuedRecord {
            tenant: "org.t1".into(),
            serial: "01".into(),
            issuer: "CN=a".into(),
            subject: "CN=a".into(),
            not_before: "2026-01-01T00:00:00Z".into(),
            not_after: "2027-01-01T00:00:00Z".into(),
            profile: "generic".into(),
            fingerprint_sha256: fp.into(),
            subject_public_key: vec![1, 2, 3],
            is_ca: false,
            der: vec![0x30, 0],
            created_at: "2026-01-01T00:00:00Z".into(),
            crl_issuer_id: None,
        }
    }

    fn stored(id: &str) -> StoredCertificate {
        StoredCertificate {
            tenant: "org.t1".into(),
            store_id: "x509-store-1".into(),
            cert_id: id.into(),
            kind: "base".into(),
            metadata: None,
            der: vec![0x30, 0],
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn event(name: &str) -> AuditEvent {
        AuditEvent {
            at: "2026-01-01T00:00:00Z".into(),
            tenant: "org.t1".into(),
            token_id: None,
            request_id: None,
            event: name.into(),
            object_id: None,
            outcome: "success".into(),
            error_code: None,
        }
    }

    #[test]
    fn a_keys_ca_certificate_is_found_behind_any_number_of_others() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let mut ca = issued("ca");
        ca.is_ca = true;
        ca.der = vec![0x30, 1];
        store.w(|w| w.record_issuance(&ca, &stored("ca"))).unwrap();
        // 40 end-entity certificates of the same key after it (the lookup used to search the
        // newest 16 rows of a key only).
        for i in 0..40 {
            let fp = format!("ee{i}");
            store
                .w(|w| w.record_issuance(&issued(&fp), &stored(&fp)))
                .unwrap();
        }
        assert_eq!(
            store.issued_ca_for_key("org.t1", &[1, 2, 3]).unwrap(),
            [vec![0x30, 1]]
        );
        // Another tenant's CA certificate of the same key is not this tenant's.
        assert!(
            store
                .issued_ca_for_key("org.t2", &[1, 2, 3])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn issuance_is_all_or_nothing_and_ids_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        store
            .w(|w| {
                w.record_issuance(&issued("f1"), &stored("a"))?;
                w.append_events(&[event("X_SUCCESS")])
            })
            .unwrap();
        assert_eq!(store.count_issued("org.t1").unwrap(), 1);
        // Same store id: conflict, and neither the ledger row nor the event is kept.
        assert!(matches!(
            store.w(|w| {
                w.record_issuance(&issued("f2"), &stored("a"))?;
                w.append_events(&[event("X_SUCCESS")])
            }),
            Err(StoreError::Conflict)
        ));
        assert_eq!(store.count_issued("org.t1").unwrap(), 1);
        assert_eq!(
            store
                .list_events("org.t1", None, None, 0, 10)
                .unwrap()
                .len(),
            1
        );
        assert!(
            store
                .stored_certificate_exists("org.t1", "x509-store-1", "a")
                .unwrap()
        );
        assert!(
            !store
                .stored_certificate_exists("org.t2", "x509-store-1", "a")
                .unwrap()
        );
        // Not a CA certificate: no CA certificate for the key, nothing unmarked either.
        assert!(
            store
                .issued_ca_for_key("org.t1", &[1, 2, 3])
                .unwrap()
                .is_empty()
        );

        store
            .w(|w| w.record_issuance(&issued("f3"), &stored("b")))
            .unwrap();
        let page = store
            .list_stored_certificates("org.t1", "x509-store-1", 0, 1)
            .unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].1.cert_id, "a");
        let rest = store
            .list_stored_certificates("org.t1", "x509-store-1", page[0].0, 10)
            .unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].1.cert_id, "b");

        assert!(
            store
                .w(|w| w.delete_stored_certificate("org.t1", "x509-store-1", "a"))
                .unwrap()
        );
        assert!(
            !store
                .w(|w| w.delete_stored_certificate("org.t1", "x509-store-1", "a"))
                .unwrap()
        );
        // The ledger keeps what was issued.
        assert_eq!(store.count_issued("org.t1").unwrap(), 2);
    }

    /// The reads that grow with the store seek an index: no scan of the tenant's rows, no
    /// sort (with millions of certificates either would be O(n) per request).
    #[test]
    fn store_reads_seek_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let conn = store.lock();
        for (sql, index) in [
            (
                "SELECT rowid FROM stored_certificates
                 WHERE tenant = 't' AND store_id = 's' AND rowid > 5 ORDER BY rowid LIMIT 10",
                "stored_certificates_page",
            ),
            (
                "SELECT id, crl_issuer_id FROM issued_certificates
                 WHERE tenant = 't' AND serial = '01' ORDER BY id DESC LIMIT 1",
                "issued_certificates_serial",
            ),
            (
                "SELECT metadata FROM stored_certificates
                 WHERE tenant = 't' AND kind = 'vical-entry' AND der = x'00' LIMIT 1",
                "stored_certificates_vical",
            ),
            (
                "SELECT der FROM issued_certificates
                 WHERE tenant = 't' AND subject_public_key = x'00' AND is_ca = 1
                 ORDER BY id DESC LIMIT 1",
                "issued_certificates_ca",
            ),
        ] {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let plan = stmt
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .map(|r| r.unwrap())
                .collect::<Vec<_>>()
                .join("; ");
            assert!(plan.contains(index), "{sql}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{sql}: {plan}");
        }
    }
}
