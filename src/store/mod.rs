//! The embedded store: SQLite through rusqlite, the only module that speaks SQL.
//!
//! Every method blocks (disk I/O and fsync); the async layers call them from blocking
//! threads, never from a tokio worker. One connection behind a mutex serialises writers,
//! which SQLite does anyway; WAL lets the checkpointer run beside it. The hot-path reads
//! (API token, key and stored-certificate lookups, issuer candidates) use a small pool of
//! read-only connections instead, which see the last committed state without waiting for a
//! writer's fsync.
//!
//! Durability: a method that returned `Ok` has its transaction on disk, so a 2xx means
//! durable. Commits share their fsyncs (group commit, `durable.rs`: WAL with
//! `synchronous=NORMAL`, then an fdatasync of the WAL that every writer waits for after
//! releasing the writer's mutex), and reads wait until what they saw is durable.

pub mod audit;
mod ca;
mod crl;
mod dts;
mod durable;
mod issuance;
mod mdoc;
mod schema;
mod status;
mod tenants;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

pub use audit::{AuditEvent, ChainWalk, Checkpoint, StoredEvent};
pub use ca::{CaDeletion, CaRecord, SignerLimit, SignerRecord};
pub use crl::{CrlIssuer, Revocation, RevokedSerial};
pub use dts::{
    EcosystemRecord, ParticipantIaca, ParticipantRecord, VicalConfigRecord, VicalRecord,
};
pub use issuance::{IssuedRecord, StoredCertificate};
pub use mdoc::MdocRecord;
pub use status::{MdocStatus, StatusListRecord};
pub use tenants::{ApiTokenRecord, TenantRecord};

pub use schema::CURRENT_VERSION;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot prepare database file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "database schema version {found} is newer than this binary supports ({supported}); \
         refusing to run"
    )]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("record already exists")]
    Conflict,
    /// A stored value this binary cannot read back (hand-edited or from a newer version).
    #[error("stored data unreadable: {0}")]
    Corrupt(String),
    /// The caller's request was given up before this transaction committed; it was rolled
    /// back.
    #[error("the request was cancelled before it committed")]
    Cancelled,
}

/// A key as recorded in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub label: String,
    pub tenant: String,
    pub name: String,
    pub algorithm: String,
    pub public_key_der: Vec<u8>,
    pub origin: String,
    pub created_at: String,
    /// What the key may sign (`service::KeyPurpose` names); `None` until first used.
    pub purpose: Option<String>,
}

/// One signature the token made, for the append-only signature ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureRecord {
    pub tenant: String,
    pub key_label: String,
    /// `certificate`, `csr`, `crl`, `cose` or `jws`.
    pub artefact: String,
    pub algorithm: String,
    /// Lowercase hex of the digest sent to the token.
    pub digest: String,
    pub request_id: Option<String>,
    pub created_at: String,
}

pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// Group commit: who has fsynced how far.
    sync: durable::Syncer,
    /// Idle read-only connections (opened on demand, at most `MAX_READERS` kept), so that
    /// hot-path reads do not queue on `conn` behind a writer's fsync. WAL gives each read
    /// the latest committed snapshot: whatever a 2xx acknowledged is visible.
    readers: Mutex<Vec<Connection>>,
}

const MAX_READERS: usize = 4;

/// SQLite page cache per connection, KiB (set explicitly, not left to the build's default
/// of 2000): the writer's holds the interior pages of every index an issuance inserts
/// into (with 5 million certificates, about 10 MiB of them), so a random-keyed insert reads
/// one or two leaf pages from the OS, not the whole path. Readers need less: a page read is
/// a seek to one place. Bounded, so the daemon's memory is: 16 MiB + 4 × 4 MiB at most.
const WRITER_CACHE_KIB: i64 = 16 * 1024;
const READER_CACHE_KIB: i64 = 4 * 1024;

impl Store {
    /// Open (creating if needed, with mode 0600) and migrate the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        create_private_file(path)?;
        let conn = Connection::open(path)?;
        // WAL; FULL while migrating (each migration fsynced at its commit), NORMAL after,
        // with the group commit of `durable.rs` making every commit durable before its
        // writer returns. busy_timeout covers a concurrent `hsm-pki` CLI process holding
        // the write lock briefly.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        // Hot statements are prepared once (`prepare_cached`): parsing SQL was 8% of an
        // issuance's CPU. Room for every statement the daemon uses.
        conn.set_prepared_statement_cache_capacity(64);
        let mut store = Store {
            conn: Mutex::new(conn),
            path: path.to_owned(),
            sync: durable::Syncer::new(path),
            readers: Mutex::new(Vec::new()),
        };
        store.migrate()?;
        store
            .conn
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .pragma_update(None, "synchronous", "NORMAL")?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let conn = self.conn.get_mut().unwrap_or_else(|e| e.into_inner());
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > CURRENT_VERSION {
            return Err(StoreError::SchemaTooNew {
                found,
                supported: CURRENT_VERSION,
            });
        }
        // Foreign keys off while migrating, so that a migration can rebuild a table others
        // refer to (SQLite's documented procedure for changes ALTER TABLE cannot make, e.g.
        // a CHECK constraint); each migration is checked with foreign_key_check before it
        // commits instead. The pragma is a no-op inside a transaction, hence out here.
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        let migrated = (|| {
            for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(found as usize) {
                // Each migration and its version bump commit together, or not at all.
                let tx = conn.transaction()?;
                tx.execute_batch(sql)?;
                let broken: Option<String> = tx
                    .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
                    .optional()?;
                if let Some(table) = broken {
                    return Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
                        Some(format!(
                            "migration {} broke a foreign key of {table}",
                            i + 1
                        )),
                    )));
                }
                tx.pragma_update(None, "user_version", (i + 1) as i64)?;
                tx.commit()?;
                tracing::info!(version = i + 1, "database migrated");
            }
            Ok(())
        })();
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrated
    }

    /// Run a read on a read-only connection (committed data only, never waits for the
    /// writer's lock).
    fn read<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let idle = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(5))?;
                c.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
                c.set_prepared_statement_cache_capacity(64);
                c
            }
        };
        let r = f(&conn);
        let mut idle = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_READERS {
            idle.push(conn);
        }
        drop(idle);
        // What the read saw was committed before it ended: answer it only once durable.
        self.sync.wait_visible();
        r
    }

    fn lock(&self) -> Writer<'_> {
        // A panic while holding the lock leaves no half-applied transaction behind (rusqlite
        // rolls back on drop), so the connection is still sound: keep using it.
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        Writer {
            changes: conn.total_changes(),
            conn: Some(conn),
            sync: &self.sync,
        }
    }

    /// Cheap liveness check for `/readyz`: the database answers a query.
    /// On a read connection: under write load the writer's mutex is held across fsyncs,
    /// and a probe queued behind it would report a busy database as down.
    /// Run `f` (a whole operation on this thread) with the durability wait of its reads
    /// deferred to its end, where it is usually already met by the operation's own commit
    /// (`durable::Syncer::deferred`). Only for work whose every outcome is answered after `f`.
    pub fn deferred<R>(&self, f: impl FnOnce() -> R) -> R {
        self.sync.deferred(f)
    }

    pub fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            let v: i64 = conn.query_row("SELECT 1", [], |r| r.get(0))?;
            debug_assert_eq!(v, 1);
            Ok(())
        })
    }

    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .lock()
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// How many keys the tenant holds (all of them: keys API, roots, signers).
    pub fn count_keys(&self, tenant: &str) -> Result<usize, StoreError> {
        self.read(|conn| count_keys(conn, tenant))
    }

    pub fn get_key(&self, tenant: &str, name: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT label, tenant, name, algorithm, public_key_der, origin, created_at,
                        purpose
                 FROM keys WHERE tenant = ?1 AND name = ?2",
            )?;
            Ok(stmt
                .query_row(params![tenant, name], row_to_key)
                .optional()?)
        })
    }

    /// Labels of every recorded key, for start-up reconciliation with the token.
    pub fn key_labels(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT label FROM keys ORDER BY label")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Append audit events in their own transaction (for events that accompany no state
    /// change, such as a failed request).
    pub fn append_events(&self, events: &[audit::AuditEvent]) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        audit::append(&tx, events)?;
        let seq = self.sync.reserve();
        let committed = tx.commit();
        self.sync.finish(seq);
        committed?;
        conn.release(seq);
        Ok(())
    }

    /// Walk the audit chain: `Ok(Ok(rows))` when intact, `Ok(Err(seq))` naming the first bad
    /// row.
    /// Walk the audit chain (on a read connection: the daemon may be running), collecting
    /// the stored hashes of the rows `at`.
    pub fn walk_audit_chain(&self, at: &[i64]) -> Result<audit::ChainWalk, StoreError> {
        self.read(|conn| audit::walk(conn, at))
    }

    /// Every audit checkpoint, oldest first.
    pub fn audit_checkpoints(&self) -> Result<Vec<audit::Checkpoint>, StoreError> {
        self.read(audit::checkpoints)
    }

    /// One page of a tenant's keys in creation order, after the row `after` (exclusive).
    /// Returns the rows with their position, which the caller turns into a cursor.
    /// Only keys made with the keys API: those of a root CA or a signer (their purpose
    /// says so) belong to that lifecycle and are not the keys API's to show.
    pub fn list_keys(
        &self,
        tenant: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, KeyRecord)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT rowid, label, tenant, name, algorithm, public_key_der, origin,
                        created_at, purpose
                 FROM keys WHERE tenant = ?1 AND rowid > ?2 AND (purpose IS NULL OR purpose
                       NOT IN ('dts-root', 'holder-root', 'vical-signer', 'wallet-signer',
                               'mobile-iaca', 'mobile-document-signer'))
                 ORDER BY rowid LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![tenant, after, limit as i64], |r| {
                Ok((
                    r.get(0)?,
                    KeyRecord {
                        label: r.get(1)?,
                        tenant: r.get(2)?,
                        name: r.get(3)?,
                        algorithm: r.get(4)?,
                        public_key_der: r.get(5)?,
                        origin: r.get(6)?,
                        created_at: r.get(7)?,
                        purpose: r.get(8)?,
                    },
                ))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    // --- audit ---------------------------------------------------------------------------

    /// One page of a tenant's audit events after `after_seq`, optionally filtered. On a read
    /// connection (a search never waits for, or delays, a writer's fsync), and one statement
    /// per filter combination so that each is served by its index (migration 9): an
    /// `(?1 IS NULL OR event = ?1)` form would make SQLite scan every row of the tenant.
    pub fn list_events(
        &self,
        tenant: &str,
        event: Option<&str>,
        object_id: Option<&str>,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        const COLUMNS: &str = "SELECT seq, at, tenant, token_id, request_id, event, object_id, \
                               outcome, error_code FROM audit_events";
        let filter = match (event, object_id) {
            (None, None) => "",
            (Some(_), None) => "AND event = ?4",
            (None, Some(_)) => "AND object_id = ?5",
            (Some(_), Some(_)) => "AND event = ?4 AND object_id = ?5",
        };
        let sql =
            format!("{COLUMNS} WHERE tenant = ?1 AND seq > ?2 {filter} ORDER BY seq LIMIT ?3");
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut bind = vec![
                (1, rusqlite::types::Value::from(tenant.to_owned())),
                (2, after_seq.into()),
                (3, (limit as i64).into()),
            ];
            if let Some(e) = event {
                bind.push((4, e.to_owned().into()));
            }
            if let Some(o) = object_id {
                bind.push((5, o.to_owned().into()));
            }
            for (i, v) in &bind {
                stmt.raw_bind_parameter(*i, v)?;
            }
            let mut rows = stmt.raw_query();
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(StoredEvent {
                    seq: r.get(0)?,
                    event: AuditEvent {
                        at: r.get(1)?,
                        tenant: r.get(2)?,
                        token_id: r.get(3)?,
                        request_id: r.get(4)?,
                        event: r.get(5)?,
                        object_id: r.get(6)?,
                        outcome: r.get(7)?,
                        error_code: r.get(8)?,
                    },
                });
            }
            Ok(out)
        })
    }

    /// The query plan SQLite picks for an audit search (tests of the indexes).
    #[cfg(test)]
    fn audit_plan(&self, event: bool, object: bool) -> String {
        let filter = match (event, object) {
            (false, false) => "",
            (true, false) => "AND event = 'x'",
            (false, true) => "AND object_id = 'x'",
            (true, true) => "AND event = 'x' AND object_id = 'x'",
        };
        let conn = self.lock();
        let mut stmt = conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN SELECT seq FROM audit_events
                 WHERE tenant = 't' AND seq > 0 {filter} ORDER BY seq LIMIT 10"
            ))
            .unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(3)).unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("; ")
    }

    /// Run `f` in one write transaction and commit it if `f` succeeds **and** `proceed()`
    /// still says yes at the last moment (asked under the writer's lock, just before
    /// COMMIT); otherwise roll back. `proceed` is how a request that was given up (timed
    /// out) makes sure nothing of it commits: [`StoreError::Cancelled`] then.
    pub fn commit<R, E: From<StoreError>>(
        &self,
        proceed: &dyn Fn() -> bool,
        f: impl FnOnce(&Write<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let r = f(&Write(&tx))?;
        if !proceed() {
            return Err(StoreError::Cancelled.into());
        }
        // Numbered before COMMIT, so no reader can see it under a smaller number.
        let seq = self.sync.reserve();
        let committed = tx.commit();
        self.sync.finish(seq);
        committed.map_err(StoreError::from)?;
        conn.release(seq);
        Ok(r)
    }

    /// Tests: one committed write transaction.
    #[cfg(test)]
    pub(crate) fn w<R>(
        &self,
        f: impl FnOnce(&Write<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.commit(&|| true, f)
    }

    /// Run `f` in a write transaction; commit on `Ok`, roll back on `Err`.
    fn write<R>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut conn = self.lock();
        // IMMEDIATE: take the write lock up front, so a concurrent CLI writer makes us wait
        // (busy_timeout) rather than fail half-way.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let r = f(&tx)?;
        let seq = self.sync.reserve();
        let committed = tx.commit();
        self.sync.finish(seq);
        committed?;
        conn.release(seq);
        Ok(r)
    }
}

/// The writer connection, held. Dropping it releases the mutex and then, if a statement
/// changed rows in autocommit mode meanwhile, waits until that is durable; a transaction
/// that committed is released with [`Writer::release`], which waits for its own commit.
struct Writer<'s> {
    conn: Option<std::sync::MutexGuard<'s, Connection>>,
    changes: u64,
    sync: &'s durable::Syncer,
}

impl Writer<'_> {
    /// Unlock, then wait until commit `seq` is durable.
    fn release(mut self, seq: u64) {
        self.conn = None;
        self.sync.wait_durable(seq);
    }
}

impl std::ops::Deref for Writer<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for Writer<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("held until dropped")
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let changed = conn.total_changes() != self.changes;
        if changed {
            // An autocommit write (no transaction of ours): numbered after the fact, which
            // only these rare administrative writes accept.
            let seq = self.sync.reserve();
            self.sync.finish(seq);
            drop(conn);
            self.sync.wait_durable(seq);
        } else {
            // A read on the writer's connection sees others' commits before their fsync, like
            // a read connection: answered only once they are durable.
            drop(conn);
            self.sync.wait_visible();
        }
    }
}

/// A write transaction in progress, handed to [`Store::commit`]'s closure. Its methods are
/// the writes of every family; they commit together or not at all.
pub struct Write<'t>(&'t rusqlite::Transaction<'t>);

impl Write<'_> {
    /// What the next checkpoint is made from.
    pub fn audit_tip(&self) -> Result<audit::Tip, StoreError> {
        let (events, head) = audit::head(self.0)?;
        Ok(audit::Tip {
            events,
            head,
            last_checkpoint: audit::last_checkpoint(self.0)?,
        })
    }

    pub fn insert_audit_checkpoint(&self, c: &Checkpoint) -> Result<(), StoreError> {
        audit::insert_checkpoint(self.0, c)
    }

    /// Record a key. [`StoreError::Conflict`] when its name is taken in the tenant.
    pub fn insert_key(&self, k: &KeyRecord) -> Result<(), StoreError> {
        map_conflict(
            self.0
                .prepare_cached(
                    "INSERT INTO keys (label, tenant, name, algorithm, public_key_der, origin,
                                       created_at, purpose)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    k.label,
                    k.tenant,
                    k.name,
                    k.algorithm,
                    k.public_key_der,
                    k.origin,
                    k.created_at,
                    k.purpose
                ]),
        )?;
        Ok(())
    }

    /// How many keys the tenant holds, as this transaction sees it.
    pub fn count_keys(&self, tenant: &str) -> Result<usize, StoreError> {
        count_keys(self.0, tenant)
    }

    /// Delete a key record by tenant and name; `false` when absent.
    pub fn delete_key(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        Ok(self.0.execute(
            "DELETE FROM keys WHERE tenant = ?1 AND name = ?2",
            params![tenant, name],
        )? > 0)
    }

    /// Fix a key's purpose at its first use: `true` when it had none or already had this
    /// one, `false` when it has another (nothing changes then).
    pub fn bind_purpose(&self, label: &str, purpose: &str) -> Result<bool, StoreError> {
        Ok(self.0.execute(
            "UPDATE keys SET purpose = ?2 WHERE label = ?1 AND (purpose IS NULL OR purpose = ?2)",
            params![label, purpose],
        )? > 0)
    }

    pub fn append_events(&self, events: &[audit::AuditEvent]) -> Result<(), StoreError> {
        audit::append(self.0, events)
    }

    /// Append to the signature ledger.
    pub fn record_signatures(&self, rows: &[SignatureRecord]) -> Result<(), StoreError> {
        let mut stmt = self.0.prepare_cached(
            "INSERT INTO signatures (tenant, key_label, artefact, algorithm, digest, request_id,
                                     created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for r in rows {
            stmt.execute(params![
                r.tenant,
                r.key_label,
                r.artefact,
                r.algorithm,
                r.digest,
                r.request_id,
                r.created_at
            ])?;
        }
        Ok(())
    }
}

/// One query for both counts (the quota's pre-check on a read connection, and the check in
/// the recording transaction).
fn count_keys(conn: &Connection, tenant: &str) -> Result<usize, StoreError> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM keys WHERE tenant = ?1")?
        .query_row(params![tenant], |r| r.get(0))?;
    Ok(n as usize)
}

fn map_conflict(r: rusqlite::Result<usize>) -> Result<usize, StoreError> {
    match r {
        Ok(n) => Ok(n),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(StoreError::Conflict)
        }
        Err(e) => Err(e.into()),
    }
}

fn row_to_key(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        label: r.get(0)?,
        tenant: r.get(1)?,
        name: r.get(2)?,
        algorithm: r.get(3)?,
        public_key_der: r.get(4)?,
        origin: r.get(5)?,
        created_at: r.get(6)?,
        purpose: r.get(7)?,
    })
}

/// Create the database file with mode 0600 before SQLite opens it (SQLite would create it
/// with the umask's mode; its -wal and -shm files copy the main file's permissions).
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let err = |source| StoreError::File {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(err)?;
        // An existing file keeps its mode; tighten it.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(label: &str, name: &str) -> KeyRecord {
        KeyRecord {
            label: label.into(),
            tenant: "t1".into(),
            name: name.into(),
            algorithm: "secp256r1".into(),
            public_key_der: vec![1, 2, 3],
            origin: "generated".into(),
            created_at: "2026-11-22T00:00:00Z".into(),
            purpose: None,
        }
    }

    /// Concurrent commits share fsyncs, and each returns only once one covered it.
    #[test]
    fn group_commit_shares_fsyncs() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Store::open(&dir.path().join("db")).unwrap());
        let before = store.sync.fsyncs();
        std::thread::scope(|s| {
            for t in 0..8 {
                let store = store.clone();
                s.spawn(move || {
                    for i in 0..40 {
                        let label = format!("L{t}-{i}");
                        store.w(|w| w.insert_key(&key(&label, &label))).unwrap();
                    }
                });
            }
        });
        let fsyncs = store.sync.fsyncs() - before;
        eprintln!("group commit: {fsyncs} fsyncs for 320 commits by 8 writers");
        assert_eq!(store.key_labels().unwrap().len(), 320);
        // Every commit waited for an fsync made after it; with eight writers most shared one.
        assert!(
            (1..320).contains(&fsyncs),
            "{fsyncs} fsyncs for 320 commits"
        );
        let s = store.sync.state_for_test();
        assert_eq!((s.0, s.1), (s.2, s.2), "reserved, done, synced: {s:?}");
    }

    #[test]
    fn open_migrates_sets_mode_and_durability_pragmas() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/db.sqlite3");
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), CURRENT_VERSION);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let conn = store.lock();
        let jm: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        let sync: i64 = conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(jm, "wal");
        // NORMAL, made durable by the group commit (`durable.rs`).
        assert_eq!(sync, 1, "synchronous=NORMAL");
        let cache: i64 = conn
            .pragma_query_value(None, "cache_size", |r| r.get(0))
            .unwrap();
        assert_eq!(cache, -WRITER_CACHE_KIB);
        drop(conn);
        let reader: i64 = store
            .read(|c| Ok(c.pragma_query_value(None, "cache_size", |r| r.get(0))?))
            .unwrap();
        assert_eq!(reader, -READER_CACHE_KIB);
        drop(store);
        // Re-opening is idempotent.
        let store = Store::open(&path).unwrap();
        store.ping().unwrap();
    }

    /// A database made by a binary that shipped migrations 3 and 4 as no-ops (version 4,
    /// no root CA or issuance tables) gets those tables from migrations 5 and 6.
    #[test]
    fn a_version_4_database_gains_the_later_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        {
            let mut conn = Connection::open(&path).unwrap();
            for (i, sql) in schema::MIGRATIONS.iter().take(4).enumerate() {
                let tx = conn.transaction().unwrap();
                tx.execute_batch(sql).unwrap();
                tx.pragma_update(None, "user_version", (i + 1) as i64)
                    .unwrap();
                tx.commit().unwrap();
            }
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), CURRENT_VERSION);
        let conn = store.lock();
        for table in [
            "root_cas",
            "signers",
            "issued_certificates",
            "stored_certificates",
        ] {
            let n: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                    [table],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, 1, "{table} missing after migrating a version-4 database");
        }
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", CURRENT_VERSION + 1)
            .unwrap();
        drop(conn);
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::SchemaTooNew { .. })
        ));
    }

    #[test]
    fn keys_round_trip_and_duplicates_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        store.w(|w| w.insert_key(&key("l1", "k1"))).unwrap();
        assert!(matches!(
            store.w(|w| w.insert_key(&key("l2", "k1"))),
            Err(StoreError::Conflict)
        ));
        assert!(matches!(
            store.w(|w| w.insert_key(&key("l1", "k2"))),
            Err(StoreError::Conflict)
        ));
        assert_eq!(store.get_key("t1", "k1").unwrap().unwrap(), key("l1", "k1"));
        assert_eq!(store.get_key("t2", "k1").unwrap(), None);
        assert_eq!(store.key_labels().unwrap(), vec!["l1".to_string()]);
        assert!(store.w(|w| w.delete_key("t1", "k1")).unwrap());
        assert!(!store.w(|w| w.delete_key("t1", "k1")).unwrap());
    }

    #[test]
    fn audit_searches_use_their_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let plan = store.audit_plan(true, false);
        assert!(plan.contains("audit_events_event"), "{plan}");
        let plan = store.audit_plan(false, true);
        assert!(plan.contains("audit_events_object"), "{plan}");
        let plan = store.audit_plan(false, false);
        assert!(plan.contains("audit_events_tenant"), "{plan}");
        // The filters still filter.
        let ev = |name: &str, object: &str| AuditEvent {
            at: "2026-01-01T00:00:00Z".into(),
            tenant: "t1".into(),
            token_id: None,
            request_id: None,
            event: name.into(),
            object_id: Some(object.into()),
            outcome: "success".into(),
            error_code: None,
        };
        store
            .w(|w| w.append_events(&[ev("A", "o1"), ev("B", "o1"), ev("A", "o2")]))
            .unwrap();
        let n =
            |e: Option<&str>, o: Option<&str>| store.list_events("t1", e, o, 0, 10).unwrap().len();
        assert_eq!(n(None, None), 3);
        assert_eq!(n(Some("A"), None), 2);
        assert_eq!(n(None, Some("o1")), 2);
        assert_eq!(n(Some("A"), Some("o2")), 1);
        assert_eq!(n(Some("C"), None), 0);
    }
}
