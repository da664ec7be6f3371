//! The digital trust service (migration 14): ecosystems, participants and their IACAs, VICAL
//! configurations. Limits are counted inside the inserting transaction.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Store, StoreError, Write};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcosystemRecord {
    pub id: String,
    pub tenant: String,
    pub name: String,
    pub created_at: String,
}

/// One IACA a participant issues under, with its docTypes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantIaca {
    pub certificate_der: Vec<u8>,
    pub doc_types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantRecord {
    pub id: String,
    pub tenant: String,
    pub ecosystem_id: String,
    pub name: String,
    pub is_issuer: bool,
    pub is_verifier: bool,
    pub iacas: Vec<ParticipantIaca>,
    pub created_at: String,
}

/// A published VICAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VicalRecord {
    pub ecosystem_id: String,
    pub vical_issue_id: i64,
    pub tenant: String,
    pub date: String,
    pub next_update: String,
    pub is_auto_published: bool,
    pub digest: String,
    /// Empty in listings (only the single-VICAL reads carry the bytes).
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VicalConfigRecord {
    pub ecosystem_id: String,
    pub tenant: String,
    pub vical_provider: String,
    pub auto_publish: bool,
    /// `Daily` or `Weekly`.
    pub frequency: String,
    pub updated_at: String,
}

fn row_to_ecosystem(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, EcosystemRecord)> {
    Ok((
        r.get(0)?,
        EcosystemRecord {
            id: r.get(1)?,
            tenant: r.get(2)?,
            name: r.get(3)?,
            created_at: r.get(4)?,
        },
    ))
}

const ECOSYSTEM_COLUMNS: &str = "rowid, id, tenant, name, created_at";
const PARTICIPANT_COLUMNS: &str =
    "rowid, id, tenant, ecosystem_id, name, is_issuer, is_verifier, created_at";

fn row_to_participant(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, ParticipantRecord)> {
    Ok((
        r.get(0)?,
        ParticipantRecord {
            id: r.get(1)?,
            tenant: r.get(2)?,
            ecosystem_id: r.get(3)?,
            name: r.get(4)?,
            is_issuer: r.get::<_, i64>(5)? != 0,
            is_verifier: r.get::<_, i64>(6)? != 0,
            iacas: Vec::new(),
            created_at: r.get(7)?,
        },
    ))
}

fn iacas_of(conn: &Connection, participant: &str) -> Result<Vec<ParticipantIaca>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT certificate_der, doc_types FROM participant_iacas
         WHERE participant_id = ?1 ORDER BY position",
    )?;
    let rows = stmt.query_map(params![participant], |r| {
        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (der, doc_types) = row?;
        let doc_types = serde_json::from_str(&doc_types)
            .map_err(|e| StoreError::Corrupt(format!("participant docTypes: {e}")))?;
        out.push(ParticipantIaca {
            certificate_der: der,
            doc_types,
        });
    }
    Ok(out)
}

fn get_participant_on(
    conn: &Connection,
    tenant: &str,
    ecosystem: &str,
    id: &str,
) -> Result<Option<ParticipantRecord>, StoreError> {
    let found = conn
        .query_row(
            &format!(
                "SELECT {PARTICIPANT_COLUMNS} FROM participants
                 WHERE tenant = ?1 AND ecosystem_id = ?2 AND id = ?3"
            ),
            params![tenant, ecosystem, id],
            row_to_participant,
        )
        .optional()?;
    match found {
        Some((_, mut p)) => {
            p.iacas = iacas_of(conn, &p.id)?;
            Ok(Some(p))
        }
        None => Ok(None),
    }
}

fn row_to_vical(r: &rusqlite::Row<'_>) -> rusqlite::Result<VicalRecord> {
    Ok(VicalRecord {
        ecosystem_id: r.get(0)?,
        vical_issue_id: r.get(1)?,
        tenant: r.get(2)?,
        date: r.get(3)?,
        next_update: r.get(4)?,
        is_auto_published: r.get::<_, i64>(5)? != 0,
        digest: r.get(6)?,
        bytes: r.get(7)?,
    })
}

impl Store {
    /// One page of an ecosystem's published VICALs, oldest first, without their bytes.
    pub fn list_vicals(
        &self,
        ecosystem: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, VicalRecord)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT ecosystem_id, vical_issue_id, tenant, date, next_update,
                        is_auto_published, digest, x''
                 FROM vicals WHERE ecosystem_id = ?1 AND vical_issue_id > ?2
                 ORDER BY vical_issue_id LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![ecosystem, after, limit as i64], |r| {
                let v = row_to_vical(r)?;
                Ok((v.vical_issue_id, v))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// A published VICAL with its bytes: `id`, or the newest when `None`.
    pub fn get_vical(
        &self,
        ecosystem: &str,
        id: Option<i64>,
    ) -> Result<Option<VicalRecord>, StoreError> {
        self.read(|conn| {
            const COLUMNS: &str = "ecosystem_id, vical_issue_id, tenant, date, next_update,
                                   is_auto_published, digest, bytes";
            Ok(match id {
                Some(id) => conn
                    .query_row(
                        &format!(
                            "SELECT {COLUMNS} FROM vicals
                             WHERE ecosystem_id = ?1 AND vical_issue_id = ?2"
                        ),
                        params![ecosystem, id],
                        row_to_vical,
                    )
                    .optional()?,
                None => conn
                    .query_row(
                        &format!(
                            "SELECT {COLUMNS} FROM vicals WHERE ecosystem_id = ?1
                             ORDER BY vical_issue_id DESC LIMIT 1"
                        ),
                        params![ecosystem],
                        row_to_vical,
                    )
                    .optional()?,
            })
        })
    }

    /// Every auto-publish configuration (all tenants), for the daemon's timer.
    pub fn auto_publish_configs(&self) -> Result<Vec<VicalConfigRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT ecosystem_id, tenant, vical_provider, auto_publish, frequency, updated_at
                 FROM vical_configs WHERE auto_publish = 1",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(VicalConfigRecord {
                    ecosystem_id: r.get(0)?,
                    tenant: r.get(1)?,
                    vical_provider: r.get(2)?,
                    auto_publish: r.get::<_, i64>(3)? != 0,
                    frequency: r.get(4)?,
                    updated_at: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    pub fn get_ecosystem(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<EcosystemRecord>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {ECOSYSTEM_COLUMNS} FROM ecosystems WHERE tenant = ?1 AND id = ?2"
                    ),
                    params![tenant, id],
                    row_to_ecosystem,
                )
                .optional()?
                .map(|(_, e)| e))
        })
    }

    pub fn list_ecosystems(
        &self,
        tenant: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, EcosystemRecord)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ECOSYSTEM_COLUMNS} FROM ecosystems
                 WHERE tenant = ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![tenant, after, limit as i64], row_to_ecosystem)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    pub fn get_participant(
        &self,
        tenant: &str,
        ecosystem: &str,
        id: &str,
    ) -> Result<Option<ParticipantRecord>, StoreError> {
        self.read(|conn| get_participant_on(conn, tenant, ecosystem, id))
    }

    /// One page of an ecosystem's participants, IACAs included.
    pub fn list_participants(
        &self,
        tenant: &str,
        ecosystem: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, ParticipantRecord)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {PARTICIPANT_COLUMNS} FROM participants
                 WHERE tenant = ?1 AND ecosystem_id = ?2 AND rowid > ?3 ORDER BY rowid LIMIT ?4"
            ))?;
            let rows = stmt.query_map(
                params![tenant, ecosystem, after, limit as i64],
                row_to_participant,
            )?;
            let mut out: Vec<(i64, ParticipantRecord)> = rows.collect::<Result<_, _>>()?;
            for (_, p) in &mut out {
                p.iacas = iacas_of(conn, &p.id)?;
            }
            Ok(out)
        })
    }

    pub fn get_vical_config(
        &self,
        tenant: &str,
        ecosystem: &str,
    ) -> Result<Option<VicalConfigRecord>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT ecosystem_id, tenant, vical_provider, auto_publish, frequency,
                            updated_at
                     FROM vical_configs WHERE tenant = ?1 AND ecosystem_id = ?2",
                    params![tenant, ecosystem],
                    |r| {
                        Ok(VicalConfigRecord {
                            ecosystem_id: r.get(0)?,
                            tenant: r.get(1)?,
                            vical_provider: r.get(2)?,
                            auto_publish: r.get::<_, i64>(3)? != 0,
                            frequency: r.get(4)?,
                            updated_at: r.get(5)?,
                        })
                    },
                )
                .optional()?)
        })
    }
}

impl Write<'_> {
    /// Record an ecosystem unless the tenant has `limit` already (`Ok(false)`).
    pub fn insert_ecosystem(&self, e: &EcosystemRecord, limit: usize) -> Result<bool, StoreError> {
        let n: i64 = self.0.query_row(
            "SELECT COUNT(*) FROM ecosystems WHERE tenant = ?1",
            params![e.tenant],
            |r| r.get(0),
        )?;
        if n as usize >= limit {
            return Ok(false);
        }
        self.0.execute(
            "INSERT INTO ecosystems (id, tenant, name, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![e.id, e.tenant, e.name, e.created_at],
        )?;
        Ok(true)
    }

    /// Delete an ecosystem with its participants and configuration; `false` when absent.
    pub fn delete_ecosystem(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        let tx = self.0;
        let exists: bool = tx
            .query_row(
                "SELECT 1 FROM ecosystems WHERE tenant = ?1 AND id = ?2",
                params![tenant, id],
                |_| Ok(true),
            )
            .optional()?
            .unwrap_or(false);
        if !exists {
            return Ok(false);
        }
        tx.execute(
            "DELETE FROM participant_iacas WHERE participant_id IN
                 (SELECT id FROM participants WHERE ecosystem_id = ?1)",
            params![id],
        )?;
        tx.execute(
            "DELETE FROM participants WHERE ecosystem_id = ?1",
            params![id],
        )?;
        tx.execute(
            "DELETE FROM vical_configs WHERE ecosystem_id = ?1",
            params![id],
        )?;
        tx.execute("DELETE FROM ecosystems WHERE id = ?1", params![id])?;
        Ok(true)
    }

    fn write_iacas(&self, p: &ParticipantRecord) -> Result<(), StoreError> {
        self.0.execute(
            "DELETE FROM participant_iacas WHERE participant_id = ?1",
            params![p.id],
        )?;
        let mut stmt = self.0.prepare_cached(
            "INSERT INTO participant_iacas (participant_id, position, certificate_der, doc_types)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (i, iaca) in p.iacas.iter().enumerate() {
            let doc_types = serde_json::to_string(&iaca.doc_types)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            stmt.execute(params![p.id, i as i64, iaca.certificate_der, doc_types])?;
        }
        Ok(())
    }

    /// Record a participant unless its ecosystem has `limit` already (`Ok(false)`).
    pub fn insert_participant(
        &self,
        p: &ParticipantRecord,
        limit: usize,
    ) -> Result<bool, StoreError> {
        let n: i64 = self.0.query_row(
            "SELECT COUNT(*) FROM participants WHERE ecosystem_id = ?1",
            params![p.ecosystem_id],
            |r| r.get(0),
        )?;
        if n as usize >= limit {
            return Ok(false);
        }
        self.0.execute(
            "INSERT INTO participants (id, tenant, ecosystem_id, name, is_issuer, is_verifier,
                                       created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                p.id,
                p.tenant,
                p.ecosystem_id,
                p.name,
                p.is_issuer as i64,
                p.is_verifier as i64,
                p.created_at
            ],
        )?;
        self.write_iacas(p)?;
        Ok(true)
    }

    /// Replace a participant's fields and IACAs; `false` when absent.
    pub fn replace_participant(&self, p: &ParticipantRecord) -> Result<bool, StoreError> {
        let n = self.0.execute(
            "UPDATE participants SET name = ?4, is_issuer = ?5, is_verifier = ?6
             WHERE tenant = ?1 AND ecosystem_id = ?2 AND id = ?3",
            params![
                p.tenant,
                p.ecosystem_id,
                p.id,
                p.name,
                p.is_issuer as i64,
                p.is_verifier as i64
            ],
        )?;
        if n == 0 {
            return Ok(false);
        }
        self.write_iacas(p)?;
        Ok(true)
    }

    pub fn delete_participant(
        &self,
        tenant: &str,
        ecosystem: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        if get_participant_on(self.0, tenant, ecosystem, id)?.is_none() {
            return Ok(false);
        }
        self.0.execute(
            "DELETE FROM participant_iacas WHERE participant_id = ?1",
            params![id],
        )?;
        self.0
            .execute("DELETE FROM participants WHERE id = ?1", params![id])?;
        Ok(true)
    }

    /// The next vicalIssueID of an ecosystem (1 for the first).
    pub fn next_vical_issue_id(&self, ecosystem: &str) -> Result<i64, StoreError> {
        Ok(self.0.query_row(
            "SELECT COALESCE(MAX(vical_issue_id), 0) + 1 FROM vicals WHERE ecosystem_id = ?1",
            params![ecosystem],
            |r| r.get(0),
        )?)
    }

    pub fn insert_vical(&self, v: &VicalRecord) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO vicals (ecosystem_id, vical_issue_id, tenant, date, next_update,
                                 is_auto_published, digest, bytes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                v.ecosystem_id,
                v.vical_issue_id,
                v.tenant,
                v.date,
                v.next_update,
                v.is_auto_published as i64,
                v.digest,
                v.bytes
            ],
        )?;
        Ok(())
    }

    pub fn put_vical_config(&self, c: &VicalConfigRecord) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO vical_configs (ecosystem_id, tenant, vical_provider, auto_publish,
                                        frequency, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (ecosystem_id) DO UPDATE SET vical_provider = ?3, auto_publish = ?4,
                 frequency = ?5, updated_at = ?6",
            params![
                c.ecosystem_id,
                c.tenant,
                c.vical_provider,
                c.auto_publish as i64,
                c.frequency,
                c.updated_at
            ],
        )?;
        Ok(())
    }

    pub fn delete_vical_config(&self, tenant: &str, ecosystem: &str) -> Result<bool, StoreError> {
        Ok(self.0.execute(
            "DELETE FROM vical_configs WHERE tenant = ?1 AND ecosystem_id = ?2",
            params![tenant, ecosystem],
        )? > 0)
    }
}
