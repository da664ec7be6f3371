//! Token Status Lists (migration 17): the lists with their newest signed token, the mdocs'
//! entries (columns of the mdoc ledger, written with the mdoc), and revocations.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Store, StoreError, Write, map_conflict};

/// A status list and its newest token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusListRecord {
    pub id: String,
    pub tenant: String,
    pub iaca_id: String,
    pub uri: String,
    pub bits: u8,
    pub size: u64,
    pub next_idx: u64,
    /// The uncompressed list.
    pub list: Vec<u8>,
    pub token: Vec<u8>,
    pub token_iat: i64,
    pub token_exp: i64,
    pub signer_id: String,
    pub version: i64,
    pub created_at: String,
}

/// An mdoc's entry: which list, which index, and its revocation if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdocStatus {
    pub credential_id: String,
    pub status_list_id: String,
    pub status_idx: u64,
    pub iaca_id: String,
    pub revoked_at: Option<String>,
}

const LIST_COLUMNS: &str = "id, tenant, iaca_id, uri, bits, size, next_idx, list, token, \
     token_iat, token_exp, signer_id, version, created_at";

fn row_to_list(r: &Row<'_>) -> rusqlite::Result<StatusListRecord> {
    Ok(StatusListRecord {
        id: r.get(0)?,
        tenant: r.get(1)?,
        iaca_id: r.get(2)?,
        uri: r.get(3)?,
        bits: r.get::<_, i64>(4)? as u8,
        size: r.get::<_, i64>(5)? as u64,
        next_idx: r.get::<_, i64>(6)? as u64,
        list: r.get(7)?,
        token: r.get(8)?,
        token_iat: r.get(9)?,
        token_exp: r.get(10)?,
        signer_id: r.get(11)?,
        version: r.get(12)?,
        created_at: r.get(13)?,
    })
}

fn get_list(conn: &Connection, id: &str) -> Result<Option<StatusListRecord>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {LIST_COLUMNS} FROM status_lists WHERE id = ?1"),
            params![id],
            row_to_list,
        )
        .optional()?)
}

impl Store {
    /// A list by id, whoever's (the public token route: the id is in every mdoc's uri).
    pub fn get_status_list(&self, id: &str) -> Result<Option<StatusListRecord>, StoreError> {
        self.read(|conn| get_list(conn, id))
    }

    /// The newest list of the tenant's IACA, the one new mdocs take entries in.
    pub fn newest_status_list(
        &self,
        tenant: &str,
        iaca_id: &str,
    ) -> Result<Option<StatusListRecord>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {LIST_COLUMNS} FROM status_lists
                         WHERE tenant = ?1 AND iaca_id = ?2 ORDER BY rowid DESC LIMIT 1"
                    ),
                    params![tenant, iaca_id],
                    row_to_list,
                )
                .optional()?)
        })
    }

    /// Every list's id, uri and IACA certificate, in creation order (the distribution).
    pub fn status_list_uris(&self) -> Result<Vec<(String, String, Vec<u8>)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT s.id, s.uri, r.certificate_der FROM status_lists s
                 JOIN root_cas r ON r.id = s.iaca_id ORDER BY s.rowid",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// (tenant, id) of the lists whose token expires at or before `before` (unix seconds).
    pub fn status_lists_expiring(&self, before: i64) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT tenant, id FROM status_lists WHERE token_exp <= ?1 ORDER BY token_exp",
            )?;
            let rows = stmt.query_map(params![before], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// The entry of the tenant's mdoc `credential_id` (another tenant's reads as none).
    pub fn mdoc_status(
        &self,
        tenant: &str,
        credential_id: &str,
    ) -> Result<Option<MdocStatus>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT m.credential_id, m.status_list_id, m.status_idx, s.iaca_id,
                            v.revoked_at
                     FROM issued_mdocs m
                     JOIN status_lists s ON s.id = m.status_list_id
                     LEFT JOIN mdoc_revocations v ON v.credential_id = m.credential_id
                     WHERE m.tenant = ?1 AND m.credential_id = ?2",
                    params![tenant, credential_id],
                    |r| {
                        Ok(MdocStatus {
                            credential_id: r.get(0)?,
                            status_list_id: r.get(1)?,
                            status_idx: r.get::<_, i64>(2)? as u64,
                            iaca_id: r.get(3)?,
                            revoked_at: r.get(4)?,
                        })
                    },
                )
                .optional()?)
        })
    }
}

impl Write<'_> {
    pub fn insert_status_list(&self, l: &StatusListRecord) -> Result<(), StoreError> {
        map_conflict(self.0.execute(
            &format!(
                "INSERT INTO status_lists ({LIST_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
            ),
            params![
                l.id,
                l.tenant,
                l.iaca_id,
                l.uri,
                l.bits as i64,
                l.size as i64,
                l.next_idx as i64,
                l.list,
                l.token,
                l.token_iat,
                l.token_exp,
                l.signer_id,
                l.version,
                l.created_at
            ],
        ))?;
        Ok(())
    }

    /// Take entry `idx` of list `id` for an mdoc: `next_idx` moves past it. Called in the
    /// transaction that records the mdoc (whose unique index refuses an index twice).
    pub fn take_status_index(&self, id: &str, idx: u64) -> Result<(), StoreError> {
        let n = self.0.execute(
            "UPDATE status_lists SET next_idx = MAX(next_idx, ?2 + 1)
             WHERE id = ?1 AND ?2 < size",
            params![id, idx as i64],
        )?;
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    /// The list as of this transaction (a re-signing reads it here, under the writer).
    pub fn status_list(&self, id: &str) -> Result<Option<StatusListRecord>, StoreError> {
        get_list(self.0, id)
    }

    /// Store a re-signed token over the list `list`, if the list is still at `version`
    /// (`false`: another re-signing wrote first, and this token is stale).
    #[allow(clippy::too_many_arguments)]
    pub fn store_status_token(
        &self,
        id: &str,
        version: i64,
        list: &[u8],
        token: &[u8],
        iat: i64,
        exp: i64,
        signer_id: &str,
    ) -> Result<bool, StoreError> {
        let n = self.0.execute(
            "UPDATE status_lists SET list = ?3, token = ?4, token_iat = ?5, token_exp = ?6,
                 signer_id = ?7, version = version + 1
             WHERE id = ?1 AND version = ?2",
            params![id, version, list, token, iat, exp, signer_id],
        )?;
        Ok(n == 1)
    }

    pub fn record_revocation(
        &self,
        tenant: &str,
        s: &MdocStatus,
        revoked_at: &str,
        request_id: &str,
    ) -> Result<(), StoreError> {
        map_conflict(self.0.execute(
            "INSERT INTO mdoc_revocations
                 (credential_id, tenant, status_list_id, status_idx, revoked_at, request_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                s.credential_id,
                tenant,
                s.status_list_id,
                s.status_idx as i64,
                revoked_at,
                request_id
            ],
        ))?;
        Ok(())
    }
}
