//! The mdoc ledger (migration 13): one append-only row per MSO a document signer signed,
//! with its credential id and status list entry (migration 17).

use rusqlite::params;

use super::{StoreError, Write};

/// One signed mdoc, as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdocRecord {
    pub tenant: String,
    pub document_signer_id: String,
    pub doc_type: String,
    /// Lowercase hex SHA-256 of the MobileSecurityObjectBytes signed.
    pub mso_digest: String,
    pub valid_from: String,
    pub valid_until: String,
    /// `built` (the daemon built the MSO) or `client` (sign-mso).
    pub source: String,
    pub request_id: Option<String>,
    pub created_at: String,
    /// The id the sign response returns (migration 17; `None` for sign-mso).
    pub credential_id: Option<String>,
    /// The mdoc's status list entry: list id and index (migration 17).
    pub status: Option<(String, u64)>,
}

impl Write<'_> {
    pub fn record_mdoc(&self, m: &MdocRecord) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO issued_mdocs (tenant, document_signer_id, doc_type, mso_digest,
                     valid_from, valid_until, source, request_id, created_at, credential_id,
                     status_list_id, status_idx)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                m.tenant,
                m.document_signer_id,
                m.doc_type,
                m.mso_digest,
                m.valid_from,
                m.valid_until,
                m.source,
                m.request_id,
                m.created_at,
                m.credential_id,
                m.status.as_ref().map(|(id, _)| id),
                m.status.as_ref().map(|(_, idx)| *idx as i64)
            ])?;
        Ok(())
    }
}
