//! The keys API: key pairs generated in the token, recorded per tenant.
//!
//! Create follows the four steps Parsec documents: make an id, create the key in the token,
//! record it (with its audit events, one transaction), and destroy the token key if recording
//! fails. Delete runs the other way: the record goes first, then the token object, so a crash
//! in between leaves an unrecorded token key (reported at start-up), never a record that
//! points at nothing.

use std::sync::Arc;

use crate::crypto::{KeyAlgorithm, PublicKey};
use crate::hsm::HsmError;
use crate::store::{KeyRecord, StoreError};

use super::{App, OpContext, ServiceError, now_rfc3339};

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
pub fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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

pub async fn create(
    app: &Arc<App>,
    ctx: &OpContext,
    key_id: Option<String>,
    algorithm: KeyAlgorithm,
) -> Result<KeyView, ServiceError> {
    let name = key_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let token = app.ready_token()?;
    let store = app.store.clone();
    let ctx2 = ctx.clone();
    let result = app
        .blocking(move || -> Result<KeyView, ServiceError> {
            if store.get_key(&ctx2.principal.tenant, &name)?.is_some() {
                return Err(ServiceError::Conflict {
                    code: "KeyIdExists",
                    message: format!("A key with keyId '{name}' already exists"),
                });
            }
            // The token label is our own id, never the client's: names are per tenant,
            // labels are global to the token.
            let label = format!("hsm-pki.{}", uuid::Uuid::new_v4());
            let key = token.generate(algorithm, &label)?;
            let record = KeyRecord {
                label: label.clone(),
                tenant: ctx2.principal.tenant.clone(),
                name: name.clone(),
                algorithm: algorithm.name().to_owned(),
                public_key_der: key.public_key().to_spki_der(),
                origin: "generated".into(),
                created_at: now_rfc3339(),
            };
            let events = ctx2.events("KEY_CREATE", Some(&name), None);
            if let Err(e) = store.insert_key_with_events(&record, &events) {
                // Rule 4: a key we could not record must not stay in the token.
                if let Err(d) = token.destroy(&label) {
                    tracing::error!(%label, error = %d, "could not destroy an unrecorded key");
                }
                return Err(match e {
                    StoreError::Conflict => ServiceError::Conflict {
                        code: "KeyIdExists",
                        message: format!("A key with keyId '{name}' already exists"),
                    },
                    e => e.into(),
                });
            }
            view(&record)
        })
        .await?;
    ctx.record_failure(app, "KEY_CREATE", None, &result).await;
    result
}

pub async fn get(app: &Arc<App>, ctx: &OpContext, key_id: String) -> Result<KeyView, ServiceError> {
    let name = key_id.clone();
    super::read(
        app,
        ctx,
        "KEY_RETRIEVE",
        Some(&key_id),
        move |store, tenant| match store.get_key(tenant, &name)? {
            Some(r) => view(&r),
            None => Err(ServiceError::NotFound("key")),
        },
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

pub async fn delete(app: &Arc<App>, ctx: &OpContext, key_id: String) -> Result<(), ServiceError> {
    let token = app.ready_token()?;
    let store = app.store.clone();
    let ctx2 = ctx.clone();
    let name = key_id.clone();
    let result = app
        .blocking(move || -> Result<(), ServiceError> {
            let record = store
                .get_key(&ctx2.principal.tenant, &name)?
                .ok_or(ServiceError::NotFound("key"))?;
            // A root CA's or a signer's key goes with its owner, never on its own.
            if store.key_in_use(&record.label)? {
                return Err(ServiceError::Conflict {
                    code: "KeyInUse",
                    message: format!(
                        "Key '{name}' belongs to a root CA or signer; delete that instead"
                    ),
                });
            }
            let events = ctx2.events("KEY_DELETE", Some(&name), None);
            if !store.delete_key_with_events(&ctx2.principal.tenant, &name, &events)? {
                return Err(ServiceError::NotFound("key"));
            }
            match token.destroy(&record.label) {
                Ok(()) => Ok(()),
                // The record is gone; the orphaned token key is reported at start-up.
                Err(e) => {
                    tracing::error!(label = %record.label, error = %e, "key record deleted but token key not destroyed");
                    Ok(())
                }
            }
        })
        .await?;
    ctx.record_failure(app, "KEY_DELETE", Some(&key_id), &result)
        .await;
    result
}

impl From<HsmError> for ServiceError {
    fn from(e: HsmError) -> Self {
        if e.is_transient() {
            ServiceError::TokenUnavailable(e.to_string())
        } else {
            ServiceError::Hsm(e)
        }
    }
}
