//! CRL issuers, their stored CRLs, and revocations (migration 016).
//!
//! A CRL is stored, not made on demand: a GET serves `crl_der` and writes nothing. A new one
//! is written with the revocation that needs it ([`Write::insert_revocation`] and
//! [`Write::store_crl`] in one transaction) or by the renewal timer before nextUpdate.

use rusqlite::{OptionalExtension, Row, params};

use super::{Store, StoreError, Write};

/// A CA key the daemon holds and publishes a CRL for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlIssuer {
    /// The caId of `/crl/{caId}.crl`.
    pub id: String,
    pub tenant: String,
    pub key_label: String,
    /// The CA certificate the CRL is issued under (issuer name, AKI).
    pub certificate_der: Vec<u8>,
    /// The newest CRL's number; 0 before the first.
    pub crl_number: i64,
    pub this_update: Option<i64>,
    pub next_update: Option<i64>,
    pub crl_der: Option<Vec<u8>>,
    pub created_at: String,
}

/// One revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// `signer` or `certificate`.
    pub subject_kind: String,
    pub subject_id: String,
    pub tenant: String,
    /// The CRL that lists it; `None` when its issuer's key is not held here.
    pub issuer_id: Option<String>,
    pub serial: Option<String>,
    pub reason: Option<String>,
    pub revoked_at: String,
}

/// One entry of a CRL, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedSerial {
    pub serial: String,
    pub revoked_at: String,
    pub reason: Option<String>,
}

const ISSUER_COLUMNS: &str = "id, tenant, key_label, certificate_der, crl_number, this_update, \
                              next_update, crl_der, created_at";

fn row_to_issuer(r: &Row<'_>) -> rusqlite::Result<CrlIssuer> {
    Ok(CrlIssuer {
        id: r.get(0)?,
        tenant: r.get(1)?,
        key_label: r.get(2)?,
        certificate_der: r.get(3)?,
        crl_number: r.get(4)?,
        this_update: r.get(5)?,
        next_update: r.get(6)?,
        crl_der: r.get(7)?,
        created_at: r.get(8)?,
    })
}

const REVOCATION_COLUMNS: &str =
    "subject_kind, subject_id, tenant, issuer_id, serial, reason, revoked_at";

fn row_to_revocation(r: &Row<'_>) -> rusqlite::Result<Revocation> {
    Ok(Revocation {
        subject_kind: r.get(0)?,
        subject_id: r.get(1)?,
        tenant: r.get(2)?,
        issuer_id: r.get(3)?,
        serial: r.get(4)?,
        reason: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

fn issuer_where(
    conn: &rusqlite::Connection,
    filter: &str,
    value: &str,
) -> Result<Option<CrlIssuer>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ISSUER_COLUMNS} FROM crl_issuers WHERE {filter} = ?1"
        ))?
        .query_row(params![value], row_to_issuer)
        .optional()?)
}

fn revocation_of(
    conn: &rusqlite::Connection,
    kind: &str,
    id: &str,
) -> Result<Option<Revocation>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {REVOCATION_COLUMNS} FROM revocations
             WHERE subject_kind = ?1 AND subject_id = ?2"
        ))?
        .query_row(params![kind, id], row_to_revocation)
        .optional()?)
}

impl Store {
    /// The CRL issuer `id` (any tenant: the public CRL route names no tenant).
    pub fn crl_issuer(&self, id: &str) -> Result<Option<CrlIssuer>, StoreError> {
        self.read(|conn| issuer_where(conn, "id", id))
    }

    /// The CRL issuer of a token key.
    pub fn crl_issuer_of_key(&self, label: &str) -> Result<Option<CrlIssuer>, StoreError> {
        self.read(|conn| issuer_where(conn, "key_label", label))
    }

    /// Issuers whose CRL is missing, whose nextUpdate is at or before `renew_at`, or after
    /// `longest` (Unix seconds; the configured window was shortened since), oldest first, at
    /// most `limit`: `(id, tenant)` pairs.
    pub fn crl_issuers_due(
        &self,
        renew_at: i64,
        longest: i64,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, tenant FROM crl_issuers
                 WHERE crl_der IS NULL OR next_update IS NULL OR next_update <= ?1
                    OR next_update > ?2
                 ORDER BY next_update IS NOT NULL, next_update LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![renew_at, longest, limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// A tenant's CRL issuers, oldest first, at most `limit`, each with the kind of the
    /// managed root it is (`dts`, `holder`, `iaca`), or `None` for a CA key of the X.509
    /// service (no root row has its id).
    pub fn tenant_crl_issuers(
        &self,
        tenant: &str,
        limit: usize,
    ) -> Result<Vec<(CrlIssuer, Option<String>)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT i.id, i.tenant, i.key_label, i.certificate_der, i.crl_number,
                        i.this_update, i.next_update, i.crl_der, i.created_at, r.kind
                 FROM crl_issuers i
                 LEFT JOIN root_cas r ON r.id = i.id AND r.tenant = i.tenant
                 WHERE i.tenant = ?1 ORDER BY i.created_at, i.id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![tenant, limit as i64], |r| {
                Ok((row_to_issuer(r)?, r.get(9)?))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// The revocation of a signer (`signer`) or an issued certificate (`certificate`).
    pub fn revocation(&self, kind: &str, id: &str) -> Result<Option<Revocation>, StoreError> {
        self.read(|conn| revocation_of(conn, kind, id))
    }

    /// Everything `issuer_id`'s next CRL lists, oldest first.
    pub fn revoked_serials(&self, issuer_id: &str) -> Result<Vec<RevokedSerial>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT serial, revoked_at, reason FROM revocations
             WHERE issuer_id = ?1 AND serial IS NOT NULL ORDER BY revoked_at, serial",
            )?;
            let rows = stmt.query_map(params![issuer_id], |r| {
                Ok(RevokedSerial {
                    serial: r.get(0)?,
                    revoked_at: r.get(1)?,
                    reason: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}

impl Write<'_> {
    /// [`Store::crl_issuer`] inside the transaction.
    pub fn crl_issuer(&self, id: &str) -> Result<Option<CrlIssuer>, StoreError> {
        issuer_where(self.0, "id", id)
    }

    /// [`Store::crl_issuer_of_key`] inside the transaction.
    pub fn crl_issuer_of_key(&self, label: &str) -> Result<Option<CrlIssuer>, StoreError> {
        issuer_where(self.0, "key_label", label)
    }

    /// Record a CA key as a CRL issuer, or (when the key is one already) make `certificate`
    /// the one its CRLs are issued under. Returns the issuer's id, which is `id` for a new one.
    pub fn upsert_crl_issuer(
        &self,
        id: &str,
        tenant: &str,
        key_label: &str,
        certificate_der: &[u8],
        now: &str,
    ) -> Result<String, StoreError> {
        if let Some(existing) = issuer_where(self.0, "key_label", key_label)? {
            if existing.certificate_der != certificate_der {
                // Another certificate of the same key (renewed, re-issued): the next CRL
                // is issued under it, and it is due at once.
                self.0
                    .prepare_cached(
                        "UPDATE crl_issuers SET certificate_der = ?2, next_update = NULL
                         WHERE id = ?1",
                    )?
                    .execute(params![existing.id, certificate_der])?;
            }
            return Ok(existing.id);
        }
        self.0
            .prepare_cached(
                "INSERT INTO crl_issuers (id, tenant, key_label, certificate_der, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![id, tenant, key_label, certificate_der, now])?;
        Ok(id.to_owned())
    }

    /// [`Store::revocation`] inside the transaction.
    pub fn revocation(&self, kind: &str, id: &str) -> Result<Option<Revocation>, StoreError> {
        revocation_of(self.0, kind, id)
    }

    /// Record a revocation; [`StoreError::Conflict`] when the subject is revoked already.
    pub fn insert_revocation(&self, r: &Revocation) -> Result<(), StoreError> {
        super::map_conflict(
            self.0
                .prepare_cached(&format!(
                    "INSERT INTO revocations ({REVOCATION_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ))?
                .execute(params![
                    r.subject_kind,
                    r.subject_id,
                    r.tenant,
                    r.issuer_id,
                    r.serial,
                    r.reason,
                    r.revoked_at
                ]),
        )?;
        Ok(())
    }

    /// Store `issuer_id`'s CRL number `number`. [`StoreError::Conflict`] unless it follows
    /// the stored one: a number is never stored twice, nor out of order.
    pub fn store_crl(
        &self,
        issuer_id: &str,
        number: i64,
        this_update: i64,
        next_update: i64,
        der: &[u8],
    ) -> Result<(), StoreError> {
        let n = self
            .0
            .prepare_cached(
                "UPDATE crl_issuers SET crl_number = ?2, this_update = ?3, next_update = ?4,
                        crl_der = ?5
                 WHERE id = ?1 AND crl_number = ?2 - 1",
            )?
            .execute(params![issuer_id, number, this_update, next_update, der])?;
        if n == 0 {
            return Err(StoreError::Conflict);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::KeyRecord;

    fn key(label: &str) -> KeyRecord {
        KeyRecord {
            label: label.into(),
            tenant: "t1".into(),
            name: format!("n-{label}"),
            algorithm: "secp256r1".into(),
            public_key_der: vec![1, 2, 3],
            origin: "generated".into(),
            created_at: "2026-12-02T00:00:00Z".into(),
            purpose: None,
        }
    }

    fn revocation(id: &str, issuer: Option<&str>) -> Revocation {
        Revocation {
            subject_kind: "certificate".into(),
            subject_id: id.into(),
            tenant: "t1".into(),
            issuer_id: issuer.map(str::to_owned),
            serial: Some(format!("0{id}")),
            reason: None,
            revoked_at: "2026-12-02T00:00:00Z".into(),
        }
    }

    #[test]
    fn issuers_numbers_and_revocations() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        store.w(|w| w.insert_key(&key("L1"))).unwrap();
        let id = store
            .w(|w| w.upsert_crl_issuer("c1", "t1", "L1", b"cert", "now"))
            .unwrap();
        assert_eq!(id, "c1");
        // The same key again: the same issuer; a new certificate makes it due.
        let again = store
            .w(|w| w.upsert_crl_issuer("c2", "t1", "L1", b"cert", "now"))
            .unwrap();
        assert_eq!(again, "c1");
        assert_eq!(store.crl_issuers_due(0, i64::MAX, 10).unwrap()[0].0, "c1");
        store.w(|w| w.store_crl("c1", 1, 10, 20, b"crl1")).unwrap();
        assert!(store.crl_issuers_due(19, i64::MAX, 10).unwrap().is_empty());
        assert_eq!(store.crl_issuers_due(20, i64::MAX, 10).unwrap().len(), 1);
        // A window longer than the policy now allows is due too.
        assert_eq!(store.crl_issuers_due(0, 19, 10).unwrap().len(), 1);
        // Numbers only move forward by one.
        assert!(matches!(
            store.w(|w| w.store_crl("c1", 1, 10, 20, b"again")),
            Err(StoreError::Conflict)
        ));
        assert!(store.w(|w| w.store_crl("c1", 3, 10, 20, b"skip")).is_err());
        store.w(|w| w.store_crl("c1", 2, 11, 21, b"crl2")).unwrap();
        let i = store.crl_issuer("c1").unwrap().unwrap();
        assert_eq!(
            (i.crl_number, i.crl_der.as_deref()),
            (2, Some(&b"crl2"[..]))
        );
        store
            .w(|w| w.upsert_crl_issuer("c3", "t1", "L1", b"cert2", "now"))
            .unwrap();
        assert_eq!(store.crl_issuers_due(0, i64::MAX, 10).unwrap()[0].0, "c1");

        store
            .w(|w| w.insert_revocation(&revocation("a", Some("c1"))))
            .unwrap();
        store
            .w(|w| w.insert_revocation(&revocation("b", None)))
            .unwrap();
        assert!(matches!(
            store.w(|w| w.insert_revocation(&revocation("a", Some("c1")))),
            Err(StoreError::Conflict)
        ));
        let listed = store.revoked_serials("c1").unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].serial, "0a");
        assert!(store.revocation("certificate", "b").unwrap().is_some());
        // The issuer and its revocations go with the key.
        store
            .w(|w| {
                w.0.execute("DELETE FROM keys WHERE label = 'L1'", [])?;
                Ok(())
            })
            .unwrap();
        assert!(store.crl_issuer("c1").unwrap().is_none());
        assert!(store.revocation("certificate", "a").unwrap().is_none());
    }
}
