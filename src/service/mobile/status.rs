//! Token Status Lists of mdocs (draft-ietf-oauth-status-list): every mdoc `sign` makes
//! gets an entry `{idx, uri}` in a list of its IACA; `revoke` sets the entry to INVALID and
//! re-signs the list's token in the same operation; the daemon's timer re-signs tokens
//! before they expire ([`renew_due`]); the token and the list of URIs are public.
//!
//! Choices:
//! - *1 bit per entry* (VALID 0, INVALID 1), MATTR's current format: a revocation is final,
//!   so there is no suspension to encode.
//! - *Indexes in order, never reused*: an index is taken in memory ([`App::status_next`],
//!   one daemon per database) before the mdoc is signed, and written with the mdoc in the
//!   transaction that records it (a unique index refuses it twice); an index whose mdoc
//!   was never committed stays a VALID gap nobody holds. A full list is followed by a new
//!   one.
//! - *One re-signing at a time* (`App::status_signing`): a token is signed over the list as
//!   committed, and stored only over the version it read, so no revocation is lost.
//! - *No base URL, no entries*: a uri the daemon cannot name would point nowhere; and an
//!   unmanaged IACA without an active status list signer gets none either.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::api::ErrorCode;
use crate::cose::{self, STATUS_INVALID, SignedStatusList, StatusList, StatusListClaims};
use crate::crypto::{self, SignError};
use crate::store::{MdocStatus, SignerRecord, StatusListRecord};
use crate::x509::ParsedCertificate;

use super::super::ca::{self, SignerFamily};
use super::super::op::{self, Artefact, Op, Work};
use super::super::{App, OpContext, ServiceError, now_rfc3339};
use super::status_signer::{require_signer, status_list_signer};

/// Bits per entry.
const BITS: u8 = 1;
const LIST_EVENT: &str = "MOBILE_CREDENTIAL_STATUS_LIST_CREATE";
const TOKEN_EVENT: &str = "MOBILE_CREDENTIAL_STATUS_LIST_TOKEN_SIGN";
const REVOKE_EVENT: &str = "MOBILE_CREDENTIAL_REVOKE";

/// The `[status_list]` configuration. A list's uri is
/// `{public.base_url}/v2/credentials/mobile/status-lists/{id}/token` (`App::public_base_url`;
/// without it, no entries).
#[derive(Debug, Clone)]
pub struct StatusListConfig {
    /// Entries of one list.
    pub list_size: u64,
    /// A token's exp − iat.
    pub token_validity: Duration,
    /// A token's ttl in seconds (at most its validity).
    pub ttl_secs: u64,
    /// The timer re-signs a token once it expires within this.
    pub renew_before: Duration,
}

impl Default for StatusListConfig {
    fn default() -> Self {
        StatusListConfig {
            list_size: 100_000,
            token_validity: Duration::hours(24),
            ttl_secs: 3600,
            renew_before: Duration::hours(6),
        }
    }
}

/// An mdoc's reserved entry.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub list_id: String,
    pub idx: u64,
    pub uri: String,
}

/// The public path of a list's token.
pub fn token_path(id: &str) -> String {
    format!("/v2/credentials/mobile/status-lists/{id}/token")
}

/// Reserve the next entry in the newest list of the tenant's IACA `iaca_id` (a new list
/// when it is full or there is none); `None` when no entry can be named (no base URL, or an
/// unmanaged IACA without a status list signer).
pub(super) async fn reserve(
    app: &Arc<App>,
    ctx: &OpContext,
    iaca_id: &str,
) -> Result<Option<Entry>, ServiceError> {
    let Some(base) = app.public_base_url.clone() else {
        return Ok(None);
    };
    for _ in 0..3 {
        let newest = newest_list(app, ctx, iaca_id).await?;
        if let Some(l) = &newest
            && let Some(idx) = take(app, l)
        {
            return Ok(Some(Entry {
                list_id: l.id.clone(),
                idx,
                uri: l.uri.clone(),
            }));
        }
        // A new list, one at a time: a second look once the lock is ours.
        let _one = app.status_signing.lock().await;
        let again = newest_list(app, ctx, iaca_id).await?;
        if again.as_ref().map(|l| &l.id) != newest.as_ref().map(|l| &l.id) {
            continue;
        }
        let Some(signer) = status_list_signer(app, ctx, iaca_id).await? else {
            return Ok(None);
        };
        create_list(app, ctx, iaca_id, &signer, &base).await?;
    }
    Err(ServiceError::Internal(
        "no status list entry could be reserved".into(),
    ))
}

async fn newest_list(
    app: &Arc<App>,
    ctx: &OpContext,
    iaca_id: &str,
) -> Result<Option<StatusListRecord>, ServiceError> {
    let store = app.store.clone();
    let (tenant, iaca_id) = (ctx.principal.tenant.clone(), iaca_id.to_owned());
    app.blocking(move || Ok(store.newest_status_list(&tenant, &iaca_id)?))
        .await?
}

/// An entry of `l` (the newest list of an IACA, read by the caller), taken; `None` when
/// no entry can be named here (no base URL, or the list is full: [`reserve`] then).
pub(super) fn take_entry(app: &App, l: &StatusListRecord) -> Option<Entry> {
    app.public_base_url.as_ref()?;
    take(app, l).map(|idx| Entry {
        list_id: l.id.clone(),
        idx,
        uri: l.uri.clone(),
    })
}

/// The next free index of `l`, taken; `None` once it is full.
fn take(app: &App, l: &StatusListRecord) -> Option<u64> {
    let mut next = app.status_next.lock().unwrap_or_else(|e| e.into_inner());
    let n = next.entry(l.id.clone()).or_insert(l.next_idx);
    *n = (*n).max(l.next_idx);
    (*n < l.size).then(|| {
        *n += 1;
        *n - 1
    })
}

/// A new list of the IACA, all VALID, with its first token signed by `signer_id`.
async fn create_list(
    app: &Arc<App>,
    ctx: &OpContext,
    iaca_id: &str,
    signer_id: &str,
    base: &str,
) -> Result<(), ServiceError> {
    let id = uuid::Uuid::new_v4().to_string();
    let uri = format!("{}{}", base.trim_end_matches('/'), token_path(&id));
    let (iaca_id, signer_id) = (iaca_id.to_owned(), signer_id.to_owned());
    let config = app.status_list.clone();
    op::run(app, ctx, Op::new(LIST_EVENT, Some(&id)), move |w| {
        let (signer, cert) = usable_signer(w, &signer_id)?;
        let list = StatusList::new(BITS, config.list_size)?;
        let token = sign_token(w, &signer, &cert, &list, &uri, &config)?;
        let c = token.claims();
        let record = StatusListRecord {
            id: id.clone(),
            tenant: w.tenant().to_owned(),
            iaca_id: iaca_id.clone(),
            uri: uri.clone(),
            bits: BITS,
            size: config.list_size,
            next_idx: 0,
            list: list.bytes().to_vec(),
            token: token.bytes().to_vec(),
            token_iat: c.iat.unix_timestamp(),
            token_exp: c.exp.unix_timestamp(),
            signer_id: signer.id.clone(),
            version: 0,
            created_at: now_rfc3339(),
        };
        w.commit(|tx| Ok(tx.insert_status_list(&record)?))?;
        tracing::info!(status_list = %id, iaca = %iaca_id, "status list created");
        Ok(())
    })
    .await
}

/// The tenant's status list signer `id`, if it can sign now: active, with a certificate.
fn usable_signer(w: &Work, id: &str) -> Result<(SignerRecord, ParsedCertificate), ServiceError> {
    let signer = w
        .store()
        .get_signer(w.tenant(), SignerFamily::StatusList.kind(), id)?
        .filter(|s| s.active)
        .ok_or_else(|| {
            ServiceError::conflict(
                ErrorCode::NoActiveSigner,
                "the status list signer is no longer active",
            )
        })?;
    let der = signer
        .certificate_der
        .as_deref()
        .ok_or_else(|| ServiceError::Internal("active signer without certificate".into()))?;
    let cert = ca::stored_cert(der)?;
    Ok((signer, cert))
}

/// Sign a token over `list` now: exp after the configured validity, cut at the signer
/// certificate's notAfter; ttl at most the validity. The token signs the digest, Rust
/// verifies (`crypto::sign`, then `finish` with the certificate's key), the ledger records.
fn sign_token(
    w: &Work,
    signer: &SignerRecord,
    cert: &ParsedCertificate,
    list: &StatusList,
    uri: &str,
    config: &StatusListConfig,
) -> Result<SignedStatusList, ServiceError> {
    let iat = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 is a nanosecond");
    let exp = (iat + config.token_validity).min(cert.not_after());
    if exp <= iat {
        return Err(ServiceError::conflict(
            ErrorCode::NoActiveSigner,
            "the status list signer's certificate has expired",
        ));
    }
    let ttl = config
        .ttl_secs
        .min((exp - iat).whole_seconds() as u64)
        .max(1);
    let claims = StatusListClaims {
        sub: uri.to_owned(),
        iat,
        exp,
        ttl,
    };
    let prepared =
        cose::build_status_list_token(claims, list)?.prepare(std::slice::from_ref(cert))?;
    let key = w.token()?.find(&signer.key_label)?;
    let ledgered = w.signer(&key, Artefact::Cose);
    let sig = match crypto::sign(&ledgered, prepared.signature_algorithm(), prepared.bytes()) {
        Ok(sig) => sig,
        Err(SignError::Key(e)) => return Err(e.into()),
        Err(SignError::Crypto(e)) => {
            return Err(ServiceError::Internal(format!(
                "status list signer signature: {e}"
            )));
        }
    };
    Ok(prepared.finish(sig.to_fixed())?)
}

/// Re-sign list `l` (with `change` applied to it) in the running operation and store the
/// token with `write`'s other changes, over the version read.
fn resign(
    w: &mut Work,
    l: &StatusListRecord,
    signer_id: &str,
    change: Option<u64>,
    config: &StatusListConfig,
    write: impl FnOnce(&crate::store::Write<'_>) -> Result<(), ServiceError>,
) -> Result<SignedStatusList, ServiceError> {
    let (signer, cert) = usable_signer(w, signer_id)?;
    let mut list = StatusList::from_bytes(l.bits, l.size, l.list.clone())?;
    if let Some(idx) = change {
        list.set(idx, STATUS_INVALID)?;
    }
    let token = sign_token(w, &signer, &cert, &list, &l.uri, config)?;
    let c = token.claims().clone();
    w.commit(|tx| {
        write(tx)?;
        let stored = tx.store_status_token(
            &l.id,
            l.version,
            list.bytes(),
            token.bytes(),
            c.iat.unix_timestamp(),
            c.exp.unix_timestamp(),
            &signer.id,
        )?;
        if stored {
            Ok(())
        } else {
            Err(ServiceError::Internal(
                "the status list changed while its token was signed".into(),
            ))
        }
    })?;
    Ok(token)
}

/// A revoked mdoc: when.
#[derive(Debug, Clone)]
pub struct Revocation {
    pub revoked_at: String,
}

/// `POST /v2/credentials/mobile/mdocs/{credentialId}/revoke`: the entry becomes INVALID and
/// the list's token is re-signed, both committed with the operation's events and ledger
/// row. Revoking again answers the first revocation's date and changes nothing. Another
/// tenant's mdoc, or one without an entry, is a 404.
pub async fn revoke(
    app: &Arc<App>,
    ctx: &OpContext,
    credential_id: String,
) -> Result<Revocation, ServiceError> {
    let status = match mdoc_status(app, ctx, &credential_id).await {
        Ok(s) => s,
        Err(e) => return op::refuse(app, ctx, REVOKE_EVENT, Some(&credential_id), e).await,
    };
    if let Some(at) = status.revoked_at.clone() {
        let op = Op::new(REVOKE_EVENT, Some(&credential_id)).records_only();
        return op::run(app, ctx, op, move |w| {
            w.commit(|_| Ok(()))?;
            Ok(Revocation { revoked_at: at })
        })
        .await;
    }
    let _one = app.status_signing.lock().await;
    let signer_id = match require_signer(app, ctx, &status.iaca_id).await {
        Ok(s) => s,
        Err(e) => return op::refuse(app, ctx, REVOKE_EVENT, Some(&credential_id), e).await,
    };
    let config = app.status_list.clone();
    op::run(
        app,
        ctx,
        Op::new(REVOKE_EVENT, Some(&credential_id)),
        move |w| {
            // Read again under the lock: a revocation that raced the first read answers its own
            // date (revocations are append-only, keyed by the mdoc).
            let now_status = w
                .store()
                .mdoc_status(w.tenant(), &status.credential_id)?
                .ok_or(ServiceError::NotFound("mdoc"))?;
            if let Some(at) = now_status.revoked_at {
                w.commit(|_| Ok(()))?;
                return Ok(Revocation { revoked_at: at });
            }
            let l = w
                .store()
                .get_status_list(&status.status_list_id)?
                .ok_or_else(|| ServiceError::Internal("mdoc entry without its list".into()))?;
            let revoked_at = now_rfc3339();
            let (tenant, request_id) = (w.tenant().to_owned(), w.request_id().to_owned());
            let at = revoked_at.clone();
            resign(w, &l, &signer_id, Some(status.status_idx), &config, |tx| {
                Ok(tx.record_revocation(&tenant, &status, &at, &request_id)?)
            })?;
            tracing::info!(credential = %status.credential_id, status_list = %l.id, "mdoc revoked");
            Ok(Revocation { revoked_at })
        },
    )
    .await
}

async fn mdoc_status(
    app: &Arc<App>,
    ctx: &OpContext,
    credential_id: &str,
) -> Result<MdocStatus, ServiceError> {
    let store = app.store.clone();
    let (tenant, id) = (ctx.principal.tenant.clone(), credential_id.to_owned());
    app.blocking(move || {
        store
            .mdoc_status(&tenant, &id)?
            .ok_or(ServiceError::NotFound("mdoc"))
    })
    .await?
}

/// The timer's pass: re-sign every token that expires within `renew_before`, each as the
/// pseudo token `system:status-list-renewal` of the list's tenant, audited like a request.
/// The schedule is the tokens' exp in the database, so a restart loses nothing.
pub async fn renew_due(app: &Arc<App>) {
    let store = app.store.clone();
    let before = (OffsetDateTime::now_utc() + app.status_list.renew_before).unix_timestamp();
    let due = match app
        .blocking(move || Ok::<_, ServiceError>(store.status_lists_expiring(before)?))
        .await
    {
        Ok(Ok(d)) => d,
        Ok(Err(e)) | Err(e) => {
            tracing::warn!(error = %e, "status list renewal could not read the lists");
            return;
        }
    };
    for (tenant, id) in due {
        let ctx = OpContext::system(tenant, "status-list-renewal");
        match renew(app, &ctx, id.clone()).await {
            Ok(exp) => tracing::info!(status_list = %id, exp, "status list token renewed"),
            Err(e) => {
                tracing::warn!(status_list = %id, error = %e, "status list renewal failed; retried at the next pass")
            }
        }
    }
}

/// Re-sign list `id`'s token as it is; returns the new exp.
async fn renew(app: &Arc<App>, ctx: &OpContext, id: String) -> Result<i64, ServiceError> {
    let _one = app.status_signing.lock().await;
    let store = app.store.clone();
    let id2 = id.clone();
    let l = app
        .blocking(move || store.get_status_list(&id2))
        .await??
        .ok_or(ServiceError::NotFound("status list"))?;
    let signer_id = match require_signer(app, ctx, &l.iaca_id).await {
        Ok(s) => s,
        Err(e) => return op::refuse(app, ctx, TOKEN_EVENT, Some(&id), e).await,
    };
    let config = app.status_list.clone();
    op::run(app, ctx, Op::new(TOKEN_EVENT, Some(&id)), move |w| {
        let token = resign(w, &l, &signer_id, None, &config, |_| Ok(()))?;
        Ok(token.claims().exp.unix_timestamp())
    })
    .await
}

/// A list's token as stored, for the public route.
#[derive(Debug, Clone)]
pub struct PublicToken {
    pub bytes: Vec<u8>,
    /// Lowercase hex SHA-256 of the bytes (the ETag).
    pub digest: String,
    pub ttl_secs: u64,
    pub exp: i64,
}

/// `GET /v2/credentials/mobile/status-lists/{id}/token`: public, reads only.
pub async fn public_token(app: &Arc<App>, id: String) -> Result<PublicToken, ServiceError> {
    let store = app.store.clone();
    let ttl = app.status_list.ttl_secs;
    app.blocking(move || {
        let l = store
            .get_status_list(&id)?
            .ok_or(ServiceError::NotFound("status list"))?;
        let digest = crypto::HashAlg::Sha256.digest(&l.token);
        Ok(PublicToken {
            digest: digest.iter().map(|b| format!("{b:02x}")).collect(),
            bytes: l.token,
            ttl_secs: ttl,
            exp: l.token_exp,
        })
    })
    .await?
}

/// `GET /v2/credentials/mobile/status-lists/distribution`: every list's uri, but those of
/// IACAs no longer valid (MATTR excludes lists "signed by expired IACAs").
pub async fn distribution(app: &Arc<App>) -> Result<Vec<String>, ServiceError> {
    let store = app.store.clone();
    app.blocking(move || {
        let now = OffsetDateTime::now_utc();
        let mut out = Vec::new();
        for (_, uri, iaca) in store.status_list_uris()? {
            if ca::stored_cert(&iaca)?.not_after() > now {
                out.push(uri);
            }
        }
        Ok(out)
    })
    .await?
}
