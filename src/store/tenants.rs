//! Tenants (their certificate defaults) and API tokens (stored as hashes, never the secret).

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, map_conflict};

impl Store {
    /// Create the tenant if it does not exist; returns whether it was created.
    pub fn ensure_tenant(&self, id: &str, now: &str) -> Result<bool, StoreError> {
        let conn = self.lock();
        Ok(conn.execute(
            "INSERT OR IGNORE INTO tenants (id, created_at) VALUES (?1, ?2)",
            params![id, now],
        )? > 0)
    }

    pub fn get_tenant(&self, id: &str) -> Result<Option<TenantRecord>, StoreError> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                "SELECT id, domain, country, created_at, issuer_alt_uri, issuer_alt_email
                 FROM tenants WHERE id = ?1",
                params![id],
                |r| {
                    Ok(TenantRecord {
                        id: r.get(0)?,
                        domain: r.get(1)?,
                        country: r.get(2)?,
                        created_at: r.get(3)?,
                        issuer_alt_uri: r.get(4)?,
                        issuer_alt_email: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    // --- API tokens ----------------------------------------------------------------------

    pub fn insert_api_token(&self, t: &ApiTokenRecord) -> Result<(), StoreError> {
        let conn = self.lock();
        map_conflict(conn.execute(
            "INSERT INTO api_tokens (id, tenant, roles, secret_hash, description, created_at,
                                     revoked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                t.id,
                t.tenant,
                t.roles,
                t.secret_hash,
                t.description,
                t.created_at,
                t.revoked_at
            ],
        ))?;
        Ok(())
    }

    pub fn get_api_token(&self, id: &str) -> Result<Option<ApiTokenRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, tenant, roles, secret_hash, description, created_at, revoked_at
                 FROM api_tokens WHERE id = ?1",
            )?;
            Ok(stmt.query_row(params![id], row_to_api_token).optional()?)
        })
    }

    pub fn list_api_tokens(&self) -> Result<Vec<ApiTokenRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT id, tenant, roles, secret_hash, description, created_at, revoked_at
             FROM api_tokens ORDER BY created_at, id",
        )?;
        let rows = stmt.query_map([], row_to_api_token)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Mark a token revoked; `false` when there is no such (unrevoked) token.
    pub fn revoke_api_token(&self, id: &str, now: &str) -> Result<bool, StoreError> {
        let conn = self.lock();
        Ok(conn.execute(
            "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, now],
        )? > 0)
    }
}

/// A tenant: every key, CA, signer, certificate and event belongs to exactly one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRecord {
    pub id: String,
    pub domain: Option<String>,
    pub country: Option<String>,
    pub created_at: String,
    /// The issuerAltName of managed roots when a request gives none (migration 8).
    pub issuer_alt_uri: Option<String>,
    pub issuer_alt_email: Option<String>,
}

/// An API token as stored: never the secret, only its hash.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiTokenRecord {
    pub id: String,
    pub tenant: String,
    /// Comma-separated role names.
    pub roles: String,
    pub secret_hash: Vec<u8>,
    pub description: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl std::fmt::Debug for ApiTokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiTokenRecord")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("roles", &self.roles)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

fn row_to_api_token(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiTokenRecord> {
    Ok(ApiTokenRecord {
        id: r.get(0)?,
        tenant: r.get(1)?,
        roles: r.get(2)?,
        secret_hash: r.get(3)?,
        description: r.get(4)?,
        created_at: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}
