//! The CRLs of the CA keys the daemon holds (RFC 5280 section 5), stored and published.
//!
//! Every managed root (DTS, holder, IACA) and every CA key of the X.509 service is a
//! `crl_issuers` row, whose id is the `caId` of the public route `/crl/{caId}.crl` and of the
//! CRL distribution point its certificates carry. Its newest CRL is stored: a GET serves
//! those bytes and writes nothing. A new one is signed
//! - with every revocation under it, in the revocation's transaction ([`sign_next`]), and
//! - by the renewal timer ([`renew_due`]) when there is none yet or its nextUpdate is near.
//!
//! cRLNumbers never repeat or go back: [`App::crl_lock`] is held from reading the number
//! to committing the next one, and the store refuses any number that does not follow the
//! stored one (`Write::store_crl`). A CRL whose transaction fails was never served, so its
//! number may be used again.

mod revoke;

use std::sync::Arc;

use time::OffsetDateTime;

use crate::store::{CrlIssuer, Revocation, Write};
use crate::x509::{self, CrlSpec, ParsedCertificate, RevokedEntry};

use super::op::{self, Artefact, Op, Work};
use super::{App, OpContext, ServiceError};

pub use revoke::{Revoked, revoke_certificate, revoke_signer};

/// The event of every CRL signed (`_START`/`_SUCCESS`/`_FAIL`), its object the caId.
pub const CRL_EVENT: &str = "CERTIFICATE_REVOCATION_LIST_SIGN";

/// How long CRLs are current, and when the timer renews them.
#[derive(Debug, Clone, Copy)]
pub struct CrlPolicy {
    /// nextUpdate - thisUpdate.
    pub validity: time::Duration,
    /// Renewed once nextUpdate is this close.
    pub renew_before: time::Duration,
}

impl Default for CrlPolicy {
    fn default() -> Self {
        CrlPolicy {
            validity: time::Duration::days(7),
            renew_before: time::Duration::days(2),
        }
    }
}

/// `{base_url}/crl/{caId}.crl`, the CRL distribution point of what `ca_id` issues; `None`
/// without a configured base URL (then certificates carry none).
pub fn distribution_point(app: &App, ca_id: &str) -> Option<String> {
    app.public_base_url
        .as_deref()
        .map(|b| format!("{b}/crl/{ca_id}.crl"))
}

/// A fresh caId for a CA key of the X.509 service.
pub fn new_issuer_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A CRL signed and verified, to be stored in the transaction of the operation that made it.
pub(crate) struct SignedCrl {
    issuer_id: String,
    number: i64,
    this_update: i64,
    next_update: i64,
    der: Vec<u8>,
}

impl SignedCrl {
    pub fn store(&self, tx: &Write<'_>) -> Result<(), ServiceError> {
        tx.store_crl(
            &self.issuer_id,
            self.number,
            self.this_update,
            self.next_update,
            &self.der,
        )?;
        Ok(())
    }
}

fn parse_time(s: &str) -> Result<OffsetDateTime, ServiceError> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| ServiceError::Internal(format!("stored time {s:?}: {e}")))
}

fn entry(
    serial: &str,
    revoked_at: &str,
    reason: Option<&str>,
) -> Result<RevokedEntry, ServiceError> {
    let bad = || ServiceError::Internal(format!("stored serial {serial:?}"));
    if !serial.len().is_multiple_of(2) {
        return Err(bad());
    }
    let serial = (0..serial.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&serial[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    Ok(RevokedEntry {
        serial,
        revoked_at: parse_time(revoked_at)?,
        reason: match reason {
            None => None,
            Some(r) => Some(
                x509::reason_from_name(r)
                    .ok_or_else(|| ServiceError::Internal(format!("stored reason {r:?}")))?,
            ),
        },
    })
}

/// Sign `issuer`'s next CRL: what is recorded as revoked under it, plus `new` (a revocation
/// the same transaction records). The caller holds [`App::crl_lock`] until it has stored
/// the result in its commit.
pub(crate) fn sign_next(
    w: &Work,
    policy: &CrlPolicy,
    issuer: &CrlIssuer,
    new: Option<&Revocation>,
    now: OffsetDateTime,
) -> Result<SignedCrl, ServiceError> {
    let cert = ParsedCertificate::from_der(&issuer.certificate_der)
        .map_err(|e| ServiceError::Internal(format!("CRL issuer certificate: {e}")))?;
    let mut revoked = Vec::new();
    for r in w.store().revoked_serials(&issuer.id)? {
        revoked.push(entry(&r.serial, &r.revoked_at, r.reason.as_deref())?);
    }
    if let Some(r) = new
        && let Some(serial) = &r.serial
    {
        revoked.push(entry(serial, &r.revoked_at, r.reason.as_deref())?);
    }
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let spec = CrlSpec {
        number: issuer.crl_number as u64 + 1,
        this_update: now,
        next_update: now + policy.validity,
        revoked,
    };
    let key = w.token()?.find(&issuer.key_label)?;
    let der = x509::build_crl(&cert, &w.signer(&key, Artefact::Crl), &spec)?;
    Ok(SignedCrl {
        issuer_id: issuer.id.clone(),
        number: issuer.crl_number + 1,
        this_update: spec.this_update.unix_timestamp(),
        next_update: spec.next_update.unix_timestamp(),
        der,
    })
}

/// Sign and store the next CRL of `issuer_id` (the timer's work, one CA at a time).
pub async fn renew(app: &Arc<App>, ctx: &OpContext, issuer_id: String) -> Result<(), ServiceError> {
    let a = app.clone();
    op::run(app, ctx, Op::new(CRL_EVENT, Some(&issuer_id)), move |w| {
        let _serial = a.crl_lock.lock().unwrap_or_else(|e| e.into_inner());
        let issuer = w
            .store()
            .crl_issuer(&issuer_id)?
            .ok_or(ServiceError::NotFound("CRL issuer"))?;
        let signed = sign_next(w, &a.crl, &issuer, None, OffsetDateTime::now_utc())?;
        w.commit(|tx| signed.store(tx))
    })
    .await
}

/// One pass of the renewal timer: sign a CRL for every issuer that has none or whose
/// nextUpdate is within `renew_before`. Each is audited under the pseudo token
/// `system:crl-renewal` of the issuer's tenant. A failure is logged and retried at the
/// next pass; nothing is lost across a restart (what is due is read from the database).
pub async fn renew_due(app: &Arc<App>) {
    let store = app.store.clone();
    let now = OffsetDateTime::now_utc();
    let horizon = (now + app.crl.renew_before).unix_timestamp();
    // A minute of slack: a CRL signed a moment ago under this policy is not "too long".
    let longest = (now + app.crl.validity + time::Duration::minutes(1)).unix_timestamp();
    let due = app
        .blocking(move || store.crl_issuers_due(horizon, longest, 1000))
        .await;
    let due = match due.and_then(|r| r.map_err(ServiceError::from)) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "CRL renewal could not read what is due");
            return;
        }
    };
    for (id, tenant) in due {
        let ctx = OpContext::system(tenant, "crl-renewal");
        match renew(app, &ctx, id.clone()).await {
            Ok(()) => tracing::info!(ca_id = %id, "CRL renewed"),
            Err(e) => {
                tracing::warn!(ca_id = %id, error = %e, "CRL renewal failed; retried at the next pass")
            }
        }
    }
}

/// A published CRL, as the public route serves it.
#[derive(Debug, Clone)]
pub struct PublishedCrl {
    pub der: Vec<u8>,
    pub number: i64,
    pub next_update: OffsetDateTime,
}

fn published(issuer: CrlIssuer) -> Option<PublishedCrl> {
    Some(PublishedCrl {
        der: issuer.crl_der?,
        number: issuer.crl_number,
        next_update: OffsetDateTime::from_unix_timestamp(issuer.next_update?).ok()?,
    })
}

/// The stored CRL of `ca_id`, for anyone: 404 for an unknown id and before the first one.
/// Reads only.
pub async fn public_crl(app: &Arc<App>, ca_id: String) -> Result<PublishedCrl, ServiceError> {
    let store = app.store.clone();
    app.blocking(move || store.crl_issuer(&ca_id))
        .await??
        .and_then(published)
        .ok_or(ServiceError::NotFound("CRL"))
}

/// Most CRL issuers [`list_issuers`] shows (every managed root and CA key of a tenant).
pub const MAX_LISTED: usize = 1000;

/// One of the tenant's CRL issuers and its newest CRL, as its stored bytes say.
#[derive(Debug, Clone)]
pub struct IssuerView {
    pub ca_id: String,
    /// The managed root it is; `None`: a CA key of the X.509 service.
    pub family: Option<super::ca::RootFamily>,
    /// The CRL's issuer name (the CA certificate's subject).
    pub issuer: String,
    pub crl: Option<CrlView>,
}

#[derive(Debug, Clone)]
pub struct CrlView {
    pub number: i64,
    pub this_update: String,
    pub next_update: String,
    /// Revoked certificates the stored CRL lists.
    pub entries: usize,
}

/// A stored Unix time as RFC 3339 (`ca::rfc3339`), empty when absent.
fn rfc3339(unix: Option<i64>) -> String {
    unix.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .map(super::ca::rfc3339)
        .unwrap_or_default()
}

fn issuer_view(i: CrlIssuer, kind: Option<String>) -> Result<IssuerView, ServiceError> {
    use super::ca::RootFamily;
    let cert = ParsedCertificate::from_der(&i.certificate_der)
        .map_err(|e| ServiceError::Internal(format!("CRL issuer certificate: {e}")))?;
    let family = match kind.as_deref() {
        None => None,
        Some(k) => Some(
            [RootFamily::Dts, RootFamily::Holder, RootFamily::Iaca]
                .into_iter()
                .find(|f| f.kind() == k)
                .ok_or_else(|| ServiceError::Internal(format!("root kind {k:?}")))?,
        ),
    };
    // Counted from the stored bytes, verified with the issuer's key: what the public route
    // serves, not what the revocations table says it should.
    let crl = match &i.crl_der {
        None => None,
        Some(der) => {
            let list = x509::verify_crl(der, &cert)
                .map_err(|e| ServiceError::Internal(format!("stored CRL of {}: {e}", i.id)))?;
            Some(CrlView {
                number: i.crl_number,
                this_update: rfc3339(i.this_update),
                next_update: rfc3339(i.next_update),
                entries: list
                    .tbs_cert_list
                    .revoked_certificates
                    .as_ref()
                    .map_or(0, Vec::len),
            })
        }
    };
    Ok(IssuerView {
        ca_id: i.id,
        family,
        issuer: cert.certificate().tbs_certificate().subject().to_string(),
        crl,
    })
}

/// The tenant's CRL issuers with their newest CRLs (the console's CRL page).
pub async fn list_issuers(
    app: &Arc<App>,
    ctx: &OpContext,
) -> Result<Vec<IssuerView>, ServiceError> {
    super::read(
        app,
        ctx,
        "CERTIFICATE_REVOCATION_LIST_RETRIEVE_LIST",
        None,
        |store, tenant| {
            store
                .tenant_crl_issuers(tenant, MAX_LISTED)?
                .into_iter()
                .map(|(i, kind)| issuer_view(i, kind))
                .collect()
        },
    )
    .await
}

/// The stored CRL of one of the tenant's CA keys (the authenticated holder root route).
pub(crate) fn tenant_crl(
    store: &crate::store::Store,
    tenant: &str,
    ca_id: &str,
) -> Result<Option<PublishedCrl>, ServiceError> {
    Ok(store
        .crl_issuer(ca_id)?
        .filter(|i| i.tenant == tenant)
        .and_then(published))
}
