//! Root CAs and signers: queries over `root_cas` and `signers` (migration 005).
//!
//! Every state change is a [`Write`] method, committed with its audit events by `Store::commit`,
//! and every limit ("at most 3 roots per tenant") is counted inside the transaction that
//! inserts, so two concurrent requests cannot both slip under it.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{KeyRecord, Store, StoreError, Write, map_conflict};

/// A root CA certificate (managed: its key is in the token; unmanaged: uploaded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaRecord {
    pub id: String,
    pub tenant: String,
    /// `dts` or `holder`.
    pub kind: String,
    /// The token key of a managed root; `None` for an uploaded one.
    pub key_label: Option<String>,
    pub certificate_der: Vec<u8>,
    pub active: bool,
    pub crl_number: i64,
    pub created_at: String,
}

/// A signer: a token key, its CSR, and (once uploaded) the certificate the root issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerRecord {
    pub id: String,
    pub tenant: String,
    /// `vical` or `wallet`.
    pub kind: String,
    pub ca_id: String,
    pub key_label: String,
    pub csr_der: Vec<u8>,
    pub certificate_der: Option<Vec<u8>>,
    pub active: bool,
    pub created_at: String,
}

/// What counts toward a signer limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignerLimit {
    /// At most `n` signers of this kind per tenant.
    PerTenant(usize),
    /// At most `n` signers under the same root.
    PerRoot(usize),
    /// At most `n` signers of this kind per tenant under unmanaged roots (those the daemon
    /// provisions under managed roots do not count).
    PerTenantUnmanaged(usize),
}

impl SignerLimit {
    pub fn max(self) -> usize {
        match self {
            SignerLimit::PerTenant(n) | SignerLimit::PerRoot(n) => n,
            SignerLimit::PerTenantUnmanaged(n) => n,
        }
    }
}

/// How many signers `limit` counts for a new signer of `kind` under `ca_id`.
fn count_limited(
    conn: &rusqlite::Connection,
    limit: SignerLimit,
    tenant: &str,
    kind: &str,
    ca_id: &str,
) -> rusqlite::Result<i64> {
    match limit {
        SignerLimit::PerTenant(_) => conn.query_row(
            "SELECT COUNT(*) FROM signers WHERE tenant = ?1 AND kind = ?2",
            params![tenant, kind],
            |r| r.get(0),
        ),
        SignerLimit::PerRoot(_) => conn.query_row(
            "SELECT COUNT(*) FROM signers WHERE ca_id = ?1",
            params![ca_id],
            |r| r.get(0),
        ),
        SignerLimit::PerTenantUnmanaged(_) => conn.query_row(
            "SELECT COUNT(*) FROM signers s JOIN root_cas r ON r.id = s.ca_id
             WHERE s.tenant = ?1 AND s.kind = ?2 AND r.key_label IS NULL",
            params![tenant, kind],
            |r| r.get(0),
        ),
    }
}

/// The outcome of deleting a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaDeletion {
    NotFound,
    /// Signers exist under the root and the caller did not ask for a cascade.
    HasSigners(usize),
    /// An IACA with status lists (migration 17): the mdocs it issued point at them, so it
    /// stays, cascade or not.
    HasStatusLists(usize),
    /// Deleted; these token key labels (root's and signers') are no longer recorded and
    /// should now be destroyed in the token.
    Deleted {
        key_labels: Vec<String>,
    },
}

const CA_COLUMNS: &str =
    "rowid, id, tenant, kind, key_label, certificate_der, active, crl_number, created_at";
const SIGNER_COLUMNS: &str =
    "rowid, id, tenant, kind, ca_id, key_label, csr_der, certificate_der, active, created_at";

fn row_to_ca(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, CaRecord)> {
    Ok((
        r.get(0)?,
        CaRecord {
            id: r.get(1)?,
            tenant: r.get(2)?,
            kind: r.get(3)?,
            key_label: r.get(4)?,
            certificate_der: r.get(5)?,
            active: r.get::<_, i64>(6)? != 0,
            crl_number: r.get(7)?,
            created_at: r.get(8)?,
        },
    ))
}

fn row_to_signer(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, SignerRecord)> {
    Ok((
        r.get(0)?,
        SignerRecord {
            id: r.get(1)?,
            tenant: r.get(2)?,
            kind: r.get(3)?,
            ca_id: r.get(4)?,
            key_label: r.get(5)?,
            csr_der: r.get(6)?,
            certificate_der: r.get(7)?,
            active: r.get::<_, i64>(8)? != 0,
            created_at: r.get(9)?,
        },
    ))
}

fn get_ca_tx(
    tx: &Transaction<'_>,
    tenant: &str,
    kind: &str,
    id: &str,
) -> Result<Option<CaRecord>, StoreError> {
    Ok(tx
        .query_row(
            &format!(
                "SELECT {CA_COLUMNS} FROM root_cas WHERE tenant = ?1 AND kind = ?2 AND id = ?3"
            ),
            params![tenant, kind, id],
            row_to_ca,
        )
        .optional()?
        .map(|(_, r)| r))
}

fn get_signer_tx(
    tx: &Transaction<'_>,
    tenant: &str,
    kind: &str,
    id: &str,
) -> Result<Option<SignerRecord>, StoreError> {
    Ok(tx
        .query_row(
            &format!(
                "SELECT {SIGNER_COLUMNS} FROM signers WHERE tenant = ?1 AND kind = ?2 AND id = ?3"
            ),
            params![tenant, kind, id],
            row_to_signer,
        )
        .optional()?
        .map(|(_, r)| r))
}

impl Store {
    /// How many roots of `kind` the tenant has.
    pub fn count_cas(&self, tenant: &str, kind: &str) -> Result<usize, StoreError> {
        let conn = self.lock();
        let n: i64 = conn.query_row(
            "SELECT COUNT(*) FROM root_cas WHERE tenant = ?1 AND kind = ?2",
            params![tenant, kind],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }

    pub fn get_ca(
        &self,
        tenant: &str,
        kind: &str,
        id: &str,
    ) -> Result<Option<CaRecord>, StoreError> {
        // Readers never wait behind the writer's fsync (WAL).
        self.read(|conn| {
            Ok(conn
            .query_row(
                &format!(
                    "SELECT {CA_COLUMNS} FROM root_cas WHERE tenant = ?1 AND kind = ?2 AND id = ?3"
                ),
                params![tenant, kind, id],
                row_to_ca,
            )
            .optional()?
            .map(|(_, r)| r))
        })
    }

    /// One page of a tenant's roots of `kind` in creation order, after row `after`.
    pub fn list_cas(
        &self,
        tenant: &str,
        kind: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, CaRecord)>, StoreError> {
        // Readers never wait behind the writer's fsync (WAL).
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {CA_COLUMNS} FROM root_cas
             WHERE tenant = ?1 AND kind = ?2 AND rowid > ?3 ORDER BY rowid LIMIT ?4"
            ))?;
            let rows = stmt.query_map(params![tenant, kind, after, limit as i64], row_to_ca)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Signers counted toward `limit` (for a cheap check before a key is generated).
    pub fn count_signers(
        &self,
        tenant: &str,
        kind: &str,
        ca_id: &str,
        limit: SignerLimit,
    ) -> Result<usize, StoreError> {
        let n = self.read(|conn| Ok(count_limited(conn, limit, tenant, kind, ca_id)?))?;
        Ok(n as usize)
    }

    /// The active signers of `kind` under the root `ca_id`, newest first.
    pub fn active_signers_of(
        &self,
        tenant: &str,
        kind: &str,
        ca_id: &str,
    ) -> Result<Vec<SignerRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {SIGNER_COLUMNS} FROM signers
                 WHERE tenant = ?1 AND kind = ?2 AND ca_id = ?3 AND active = 1
                 ORDER BY rowid DESC"
            ))?;
            let rows = stmt.query_map(params![tenant, kind, ca_id], row_to_signer)?;
            rows.map(|r| r.map(|(_, s)| s))
                .collect::<Result<_, _>>()
                .map_err(Into::into)
        })
    }

    pub fn get_signer(
        &self,
        tenant: &str,
        kind: &str,
        id: &str,
    ) -> Result<Option<SignerRecord>, StoreError> {
        // Readers never wait behind the writer's fsync (WAL).
        self.read(|conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {SIGNER_COLUMNS} FROM signers
                     WHERE tenant = ?1 AND kind = ?2 AND id = ?3"
                    ),
                    params![tenant, kind, id],
                    row_to_signer,
                )
                .optional()?
                .map(|(_, r)| r))
        })
    }

    pub fn list_signers(
        &self,
        tenant: &str,
        kind: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, SignerRecord)>, StoreError> {
        // Readers never wait behind the writer's fsync (WAL).
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {SIGNER_COLUMNS} FROM signers
             WHERE tenant = ?1 AND kind = ?2 AND rowid > ?3 ORDER BY rowid LIMIT ?4"
            ))?;
            let rows = stmt.query_map(params![tenant, kind, after, limit as i64], row_to_signer)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Whether a root CA or a signer uses the token key `label`.
    pub fn key_in_use(&self, label: &str) -> Result<bool, StoreError> {
        let conn = self.lock();
        let n: i64 = conn.query_row(
            "SELECT (SELECT COUNT(*) FROM root_cas WHERE key_label = ?1)
                  + (SELECT COUNT(*) FROM signers WHERE key_label = ?1)",
            params![label],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    /// Set a tenant's certificate defaults (created if new); `None` leaves a value as is.
    pub fn set_tenant_defaults(
        &self,
        id: &str,
        domain: Option<&str>,
        country: Option<&str>,
        issuer_alt_uri: Option<&str>,
        issuer_alt_email: Option<&str>,
        now: &str,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO tenants (id, created_at) VALUES (?1, ?2)",
                params![id, now],
            )?;
            tx.execute(
                "UPDATE tenants SET domain = COALESCE(?2, domain), country = COALESCE(?3, country),
                        issuer_alt_uri = COALESCE(?4, issuer_alt_uri),
                        issuer_alt_email = COALESCE(?5, issuer_alt_email)
                 WHERE id = ?1",
                params![id, domain, country, issuer_alt_uri, issuer_alt_email],
            )?;
            Ok(())
        })
    }
}

impl Write<'_> {
    /// Record a root (and, for a managed root, its token key) unless the
    /// tenant already has `limit` roots of this kind: then `Ok(false)` and nothing changes.
    /// The same certificate twice in one tenant and family is `StoreError::Conflict`
    /// (checked in this transaction, so concurrent uploads cannot both pass).
    pub fn insert_ca(
        &self,
        ca: &CaRecord,
        key: Option<&KeyRecord>,
        limit: usize,
    ) -> Result<bool, StoreError> {
        let tx = self.0;
        let same: i64 = tx.query_row(
            "SELECT COUNT(*) FROM root_cas
             WHERE tenant = ?1 AND kind = ?2 AND certificate_der = ?3",
            params![ca.tenant, ca.kind, ca.certificate_der],
            |r| r.get(0),
        )?;
        if same > 0 {
            return Err(StoreError::Conflict);
        }
        let n: i64 = tx.query_row(
            "SELECT COUNT(*) FROM root_cas WHERE tenant = ?1 AND kind = ?2",
            params![ca.tenant, ca.kind],
            |r| r.get(0),
        )?;
        if n as usize >= limit {
            return Ok(false);
        }
        if let Some(k) = key {
            self.insert_key(k)?;
        }
        map_conflict(tx.execute(
            "INSERT INTO root_cas (id, tenant, kind, key_label, certificate_der, active,
                                   crl_number, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                ca.id,
                ca.tenant,
                ca.kind,
                ca.key_label,
                ca.certificate_der,
                ca.active as i64,
                ca.crl_number,
                ca.created_at
            ],
        ))?;
        Ok(true)
    }

    /// Set a root's `active` flag. With `exclusive`, activating it deactivates every other
    /// root of the same kind of the tenant, in the same transaction. `None` when absent.
    pub fn set_ca_active(
        &self,
        tenant: &str,
        kind: &str,
        id: &str,
        active: bool,
        exclusive: bool,
    ) -> Result<Option<CaRecord>, StoreError> {
        let tx = self.0;
        if get_ca_tx(tx, tenant, kind, id)?.is_none() {
            return Ok(None);
        }
        if active && exclusive {
            tx.execute(
                "UPDATE root_cas SET active = 0 WHERE tenant = ?1 AND kind = ?2 AND id <> ?3",
                params![tenant, kind, id],
            )?;
        }
        tx.execute(
            "UPDATE root_cas SET active = ?4 WHERE tenant = ?1 AND kind = ?2 AND id = ?3",
            params![tenant, kind, id, active as i64],
        )?;
        get_ca_tx(tx, tenant, kind, id)
    }

    /// Delete a root; with `cascade` its signers (and their key rows) go too, otherwise a
    /// root with signers is left alone. The key rows go in the same transaction; the caller
    /// destroys the returned token keys afterwards (record first, token object second).
    pub fn delete_ca(
        &self,
        tenant: &str,
        kind: &str,
        id: &str,
        cascade: bool,
    ) -> Result<CaDeletion, StoreError> {
        let tx = self.0;
        let Some(ca) = get_ca_tx(tx, tenant, kind, id)? else {
            return Ok(CaDeletion::NotFound);
        };
        let signer_labels: Vec<String> = {
            let mut stmt = tx.prepare("SELECT key_label FROM signers WHERE ca_id = ?1")?;
            let rows = stmt.query_map(params![id], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        if !signer_labels.is_empty() && !cascade {
            return Ok(CaDeletion::HasSigners(signer_labels.len()));
        }
        let lists: i64 = tx.query_row(
            "SELECT count(*) FROM status_lists WHERE iaca_id = ?1",
            params![id],
            |r| r.get(0),
        )?;
        if lists > 0 {
            return Ok(CaDeletion::HasStatusLists(lists as usize));
        }
        tx.execute("DELETE FROM signers WHERE ca_id = ?1", params![id])?;
        tx.execute("DELETE FROM root_cas WHERE id = ?1", params![id])?;
        let mut key_labels = signer_labels;
        key_labels.extend(ca.key_label);
        for l in &key_labels {
            tx.execute("DELETE FROM keys WHERE label = ?1", params![l])?;
        }
        Ok(CaDeletion::Deleted { key_labels })
    }

    /// Record a signer and its token key unless the limit is reached
    /// (`Ok(false)`, nothing changes).
    pub fn insert_signer(
        &self,
        s: &SignerRecord,
        key: &KeyRecord,
        limit: SignerLimit,
    ) -> Result<bool, StoreError> {
        let tx = self.0;
        let n = count_limited(tx, limit, &s.tenant, &s.kind, &s.ca_id)?;
        let max = limit.max();
        if n as usize >= max {
            return Ok(false);
        }
        self.insert_key(key)?;
        map_conflict(tx.execute(
            "INSERT INTO signers (id, tenant, kind, ca_id, key_label, csr_der, certificate_der,
                                  active, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                s.id,
                s.tenant,
                s.kind,
                s.ca_id,
                s.key_label,
                s.csr_der,
                s.certificate_der,
                s.active as i64,
                s.created_at
            ],
        ))?;
        Ok(true)
    }

    /// Deactivate the active signers of `kind` under `ca_id` other than `keep` (a rotation:
    /// the newest provisioned signer takes over). Returns how many.
    pub fn deactivate_other_signers(
        &self,
        tenant: &str,
        kind: &str,
        ca_id: &str,
        keep: &str,
    ) -> Result<usize, StoreError> {
        Ok(self.0.execute(
            "UPDATE signers SET active = 0
             WHERE tenant = ?1 AND kind = ?2 AND ca_id = ?3 AND id != ?4 AND active = 1",
            params![tenant, kind, ca_id, keep],
        )?)
    }

    /// Set a signer's certificate (only while it has none: a different one is
    /// `StoreError::Conflict`, the same one is a no-op) and/or its `active` flag.
    pub fn update_signer(
        &self,
        tenant: &str,
        kind: &str,
        id: &str,
        certificate_der: Option<&[u8]>,
        active: Option<bool>,
    ) -> Result<Option<SignerRecord>, StoreError> {
        let tx = self.0;
        let Some(cur) = get_signer_tx(tx, tenant, kind, id)? else {
            return Ok(None);
        };
        if let Some(der) = certificate_der {
            match &cur.certificate_der {
                Some(existing) if existing.as_slice() != der => {
                    return Err(StoreError::Conflict);
                }
                Some(_) => {}
                None => {
                    tx.execute(
                        "UPDATE signers SET certificate_der = ?2 WHERE id = ?1",
                        params![id, der],
                    )?;
                }
            }
        }
        if let Some(a) = active {
            // The CHECK constraint refuses active without a certificate as well.
            tx.execute(
                "UPDATE signers SET active = ?2 WHERE id = ?1",
                params![id, a as i64],
            )?;
        }
        get_signer_tx(tx, tenant, kind, id)
    }

    /// Delete a signer and its key row ; returns the token key label to
    /// destroy, `None` when absent.
    pub fn delete_signer(
        &self,
        tenant: &str,
        kind: &str,
        id: &str,
    ) -> Result<Option<String>, StoreError> {
        let tx = self.0;
        let Some(cur) = get_signer_tx(tx, tenant, kind, id)? else {
            return Ok(None);
        };
        tx.execute("DELETE FROM signers WHERE id = ?1", params![id])?;
        tx.execute("DELETE FROM keys WHERE label = ?1", params![cur.key_label])?;
        Ok(Some(cur.key_label))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(label: &str) -> KeyRecord {
        KeyRecord {
            label: label.into(),
            tenant: "t1".into(),
            name: format!("n-{label}"),
            algorithm: "secp256r1".into(),
            public_key_der: vec![1, 2, 3],
            origin: "generated".into(),
            created_at: "2026-11-22T00:00:00Z".into(),
            purpose: None,
        }
    }

    fn ca(id: &str, kind: &str, label: Option<&str>) -> CaRecord {
        CaRecord {
            id: id.into(),
            tenant: "t1".into(),
            kind: kind.into(),
            key_label: label.map(str::to_owned),
            certificate_der: id.as_bytes().to_vec(),
            active: false,
            crl_number: 0,
            created_at: "2026-11-22T00:00:00Z".into(),
        }
    }

    fn signer(id: &str, ca_id: &str, label: &str) -> SignerRecord {
        SignerRecord {
            id: id.into(),
            tenant: "t1".into(),
            kind: "wallet".into(),
            ca_id: ca_id.into(),
            key_label: label.into(),
            csr_der: vec![7],
            certificate_der: None,
            active: false,
            created_at: "2026-11-22T00:00:00Z".into(),
        }
    }

    #[test]
    fn limits_exclusive_activation_cascade_and_key_use() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let k1 = key("l1");
        assert!(
            store
                .w(|w| w.insert_ca(&ca("c1", "holder", Some("l1")), Some(&k1), 2))
                .unwrap()
        );
        assert!(
            store
                .w(|w| w.insert_ca(&ca("c2", "holder", None), None, 2))
                .unwrap()
        );
        // Limit reached: nothing written.
        assert!(
            !store
                .w(|w| w.insert_ca(&ca("c3", "holder", None), None, 2))
                .unwrap()
        );
        assert_eq!(store.count_cas("t1", "holder").unwrap(), 2);
        // The same certificate again: a conflict, nothing written.
        let mut again = ca("c4", "holder", None);
        again.certificate_der = ca("c2", "holder", None).certificate_der;
        assert!(matches!(
            store.w(|w| w.insert_ca(&again, None, 5)),
            Err(StoreError::Conflict)
        ));
        assert_eq!(store.count_cas("t1", "holder").unwrap(), 2);
        // Another kind counts separately.
        assert!(
            store
                .w(|w| w.insert_ca(&ca("d1", "dts", None), None, 2))
                .unwrap()
        );

        // Exclusive activation.
        store
            .w(|w| w.set_ca_active("t1", "holder", "c1", true, true))
            .unwrap()
            .unwrap();
        store
            .w(|w| w.set_ca_active("t1", "holder", "c2", true, true))
            .unwrap()
            .unwrap();
        assert!(!store.get_ca("t1", "holder", "c1").unwrap().unwrap().active);
        assert!(store.get_ca("t1", "holder", "c2").unwrap().unwrap().active);
        assert!(
            store
                .w(|w| w.set_ca_active("t2", "holder", "c2", true, true))
                .unwrap()
                .is_none()
        );

        // Signers: per-root limit, certificate immutability.
        for i in 0..2 {
            let l = format!("s{i}");
            assert!(
                store
                    .w(|w| w.insert_signer(
                        &signer(&format!("sg{i}"), "c1", &l),
                        &key(&l),
                        SignerLimit::PerRoot(2)
                    ))
                    .unwrap()
            );
        }
        assert!(
            !store
                .w(|w| w.insert_signer(
                    &signer("sg9", "c1", "s9"),
                    &key("s9"),
                    SignerLimit::PerRoot(2)
                ))
                .unwrap()
        );
        assert!(store.key_in_use("s0").unwrap());
        assert!(store.key_in_use("l1").unwrap());
        store
            .w(|w| w.update_signer("t1", "wallet", "sg0", Some(&[1]), Some(true)))
            .unwrap()
            .unwrap();
        store
            .w(|w| w.update_signer("t1", "wallet", "sg0", Some(&[1]), None))
            .unwrap()
            .unwrap();
        assert!(matches!(
            store.w(|w| w.update_signer("t1", "wallet", "sg0", Some(&[2]), None)),
            Err(StoreError::Conflict)
        ));
        // Active without a certificate is refused by the schema too.
        assert!(
            store
                .w(|w| w.update_signer("t1", "wallet", "sg1", None, Some(true)))
                .is_err()
        );

        // CRL numbers increase.

        // No cascade: refused; cascade: root, signers and key rows go.
        assert_eq!(
            store
                .w(|w| w.delete_ca("t1", "holder", "c1", false))
                .unwrap(),
            CaDeletion::HasSigners(2)
        );
        match store
            .w(|w| w.delete_ca("t1", "holder", "c1", true))
            .unwrap()
        {
            CaDeletion::Deleted { mut key_labels } => {
                key_labels.sort();
                assert_eq!(key_labels, vec!["l1", "s0", "s1"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(store.key_labels().unwrap().is_empty());
        assert!(!store.key_in_use("l1").unwrap());

        // Tenant defaults.
        store
            .set_tenant_defaults("t1", Some("example.com"), None, None, None, "now")
            .unwrap();
        store
            .set_tenant_defaults("t1", None, Some("NZ"), None, None, "now")
            .unwrap();
        let t = store.get_tenant("t1").unwrap().unwrap();
        assert_eq!(t.domain.as_deref(), Some("example.com"));
        assert_eq!(t.country.as_deref(), Some("NZ"));
        assert_eq!((t.issuer_alt_uri, t.issuer_alt_email), (None, None));
        store
            .set_tenant_defaults("t1", None, None, Some("https://t1.example"), None, "now")
            .unwrap();
        store
            .set_tenant_defaults("t1", None, None, None, Some("pki@t1.example"), "now")
            .unwrap();
        let t = store.get_tenant("t1").unwrap().unwrap();
        assert_eq!(t.country.as_deref(), Some("NZ"));
        assert_eq!(t.issuer_alt_uri.as_deref(), Some("https://t1.example"));
        assert_eq!(t.issuer_alt_email.as_deref(), Some("pki@t1.example"));
    }
}
