//! The keys API: key pairs generated in the token, recorded per tenant.
//!
//! Create follows the four steps Parsec documents (make an id, create the key in the token,
//! record it with its audit events in one transaction, destroy the token key if recording
//! fails); the operation runner (`op::run`) owns the last three.

use std::sync::Arc;

use crate::api::{self, ErrorCode};
use crate::crypto::{KeyAlgorithm, PublicKey};
use crate::store::{KeyRecord, StoreError};

use super::op::{self, Op};
use super::{App, KeyPurpose, OpContext, ServiceError, now_rfc3339};

/// A key as the API shows it.
#[derive(Debug, Clone)]
pub struct KeyView {
    pub key_id: String,
    pub key_id_path: String,
    pub algorithm: KeyAlgorithm,
    pub public_key: PublicKey,
    pub created_at: String,
}

/// Client-chosen key ids: letters, digits, '-' and '_', at most 64. No '.', which separates
/// the segments of a keyIdPath.
///
/// Not shaped like an API token either: ids are shown to every caller with the keys role, so a
/// token pasted as an id would be published to them.
pub fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !super::auth::has_token(id)
}

fn view(r: &KeyRecord) -> Result<KeyView, ServiceError> {
    let algorithm = KeyAlgorithm::from_name(&r.algorithm)
        .ok_or_else(|| ServiceError::Internal(format!("stored algorithm {}", r.algorithm)))?;
    let public_key = PublicKey::from_spki_der(&r.public_key_der)
        .map_err(|e| ServiceError::Internal(format!("stored public key: {e}")))?;
    Ok(KeyView {
        key_id: r.name.clone(),
        key_id_path: format!("{}.kms.{}", r.tenant, r.name),
        algorithm,
        public_key,
        created_at: r.created_at.clone(),
    })
}

/// `POST /v1/keys`, checked: every broken field is reported at once.
pub struct NewKey {
    pub key_id: Option<String>,
    pub algorithm: KeyAlgorithm,
}

impl TryFrom<api::CreateKeyRequest> for NewKey {
    type Error = ServiceError;

    fn try_from(b: api::CreateKeyRequest) -> Result<Self, ServiceError> {
        let algorithm = KeyAlgorithm::from_name(&b.algorithm);
        let mut errors = Vec::new();
        if algorithm.is_none() {
            errors.push(ServiceError::invalid_value(
                "algorithm",
                super::ca::ALGORITHMS,
                &b.algorithm,
            ));
        }
        if let Some(id) = &b.key_id
            && !valid_key_id(id)
        {
            errors.push(ServiceError::invalid_value(
                "keyId",
                "must be 1 to 64 characters of letters, digits, '-' and '_', not an API token",
                id,
            ));
        }
        ServiceError::all(errors)?;
        Ok(NewKey {
            key_id: b.key_id,
            algorithm: algorithm.expect("checked above"),
        })
    }
}

pub async fn create(app: &Arc<App>, ctx: &OpContext, new: NewKey) -> Result<KeyView, ServiceError> {
    let NewKey { key_id, algorithm } = new;
    let name = key_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let taken = |name: &str| {
        ServiceError::conflict(
            ErrorCode::KeyIdExists,
            format!("A key with keyId '{name}' already exists"),
        )
    };
    op::run(app, ctx, Op::new("KEY_CREATE", None), move |w| {
        // A cheap check first, so a taken id never costs a key generation; the insert
        // checks again (UNIQUE) inside the transaction.
        if w.store().get_key(w.tenant(), &name)?.is_some() {
            return Err(taken(&name));
        }
        let key = w.generate_key(algorithm)?;
        let record = KeyRecord {
            label: key.label().to_owned(),
            tenant: w.tenant().to_owned(),
            name: name.clone(),
            algorithm: algorithm.name().to_owned(),
            public_key_der: key.public_key().to_spki_der(),
            origin: "generated".into(),
            created_at: now_rfc3339(),
            // Fixed at the key's first use by the X.509 service.
            purpose: None,
        };
        w.object(name.clone());
        w.commit(|tx| {
            tx.insert_key(&record).map_err(|e| match e {
                StoreError::Conflict => taken(&name),
                e => e.into(),
            })
        })?;
        view(&record)
    })
    .await
}

/// A key of the caller's tenant that the keys API may show: a root CA's or a signer's key
/// belongs to that lifecycle and reads as absent here.
fn visible(r: Option<KeyRecord>) -> Result<KeyRecord, ServiceError> {
    match r {
        Some(r) if !is_lifecycle_owned(&r) => Ok(r),
        _ => Err(ServiceError::NotFound("key")),
    }
}

/// Whether a recorded key belongs to a root CA or a signer.
pub(crate) fn is_lifecycle_owned(r: &KeyRecord) -> bool {
    r.purpose
        .as_deref()
        .and_then(KeyPurpose::from_name)
        .is_some_and(KeyPurpose::is_lifecycle_owned)
}

pub async fn get(app: &Arc<App>, ctx: &OpContext, key_id: String) -> Result<KeyView, ServiceError> {
    let name = key_id.clone();
    super::read(
        app,
        ctx,
        "KEY_RETRIEVE",
        Some(&key_id),
        move |store, tenant| view(&visible(store.get_key(tenant, &name)?)?),
    )
    .await
}

/// One page of keys; the second value is the position of the last row, for the cursor.
pub async fn list(
    app: &Arc<App>,
    ctx: &OpContext,
    after: i64,
    limit: usize,
) -> Result<(Vec<KeyView>, Option<i64>), ServiceError> {
    super::read(app, ctx, "KEY_RETRIEVE_LIST", None, move |store, tenant| {
        let rows = store.list_keys(tenant, after, limit + 1)?;
        super::page(rows, limit, view)
    })
    .await
}

/// The record goes first, then the token object (after the commit), so a crash in between
/// leaves an unrecorded token key, which reconciliation destroys, never a record that
/// points at nothing.
pub async fn delete(app: &Arc<App>, ctx: &OpContext, key_id: String) -> Result<(), ServiceError> {
    let op = Op::new("KEY_DELETE", Some(&key_id));
    op::run(app, ctx, op, move |w| {
        let record = visible(w.store().get_key(w.tenant(), &key_id)?)?;
        // A root CA's or a signer's key goes with its owner, never on its own.
        if w.store().key_in_use(&record.label)? {
            return Err(ServiceError::conflict(
                ErrorCode::KeyInUse,
                format!("Key '{key_id}' belongs to a root CA or signer; delete that instead"),
            ));
        }
        let tenant = w.tenant().to_owned();
        w.destroy_after_commit(record.label.clone());
        w.commit(|tx| match tx.delete_key(&tenant, &key_id)? {
            true => Ok(()),
            false => Err(ServiceError::NotFound("key")),
        })
    })
    .await
}
