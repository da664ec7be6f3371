//! Domain services: what the daemon does, independent of HTTP.
//!
//! `http -> service -> {hsm, store, x509, crypto}`. This layer owns the rules that need more
//! than one of those (create a key in the token, then record it; on failure destroy it), and
//! it is where blocking work leaves the async world: every token or SQLite call goes through
//! [`App::blocking`], which runs it on tokio's blocking pool under a semaphore, never on a
//! tokio worker thread: PKCS#11 and SQLite calls block, and a worker that blocks stalls
//! every request scheduled on it. State changes go through the one runner, [`op::run`].

pub mod audit;
pub mod auth;
pub mod ca;
pub mod checkpoint;
pub mod crl;
pub mod dts;
mod error;
mod health;
pub mod holder;
pub mod keys;
pub mod mobile;
pub(crate) mod op;
pub mod purpose;
pub mod session;
pub mod x509;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::Semaphore;

pub use error::ServiceError;
pub use health::{TokenHealth, TokenStatus};
pub use op::{Gate, OWN_LABEL_PREFIX};
pub use purpose::KeyPurpose;

use crate::hsm::Token;
use crate::store::{AuditEvent, Store};

/// Who is acting and under which request: everything an audit event needs.
#[derive(Debug, Clone)]
pub struct OpContext {
    pub principal: auth::Principal,
    pub request_id: String,
    /// The request's commit gate: nothing commits once the request was given up.
    pub gate: Arc<Gate>,
}

impl OpContext {
    /// The context of the daemon's own timers (CRL and status list renewal, VICAL
    /// auto-publish): audited under the pseudo token `system:<what>` of `tenant`.
    pub fn system(tenant: String, what: &str) -> OpContext {
        OpContext {
            principal: auth::Principal {
                tenant,
                token_id: format!("system:{what}"),
                roles: vec![auth::Role::Admin],
            },
            request_id: uuid::Uuid::new_v4().simple().to_string(),
            gate: Gate::new(),
        }
    }

    fn event(
        &self,
        name: String,
        outcome: &str,
        object_id: Option<&str>,
        code: Option<crate::api::ErrorCode>,
    ) -> AuditEvent {
        AuditEvent {
            at: now_rfc3339(),
            tenant: self.principal.tenant.clone(),
            token_id: Some(self.principal.token_id.clone()),
            request_id: Some(self.request_id.clone()),
            event: name,
            // An object id is whatever the caller put in the path; a pasted API token must
            // not be recorded (found by tests/hostile.rs: `GET /v1/keys/<token>`).
            object_id: object_id.map(|o| auth::redact_tokens(o).into_owned()),
            outcome: outcome.to_owned(),
            error_code: code.map(|c| c.as_str().to_owned()),
        }
    }

    /// `<NAME>_START` and `<NAME>_SUCCESS`, to commit with the state change.
    pub fn events(&self, name: &str, object_id: Option<&str>) -> Vec<AuditEvent> {
        vec![
            self.event(format!("{name}_START"), "start", object_id, None),
            self.event(format!("{name}_SUCCESS"), "success", object_id, None),
        ]
    }

    /// For operations that change nothing (reads): append `<NAME>_START` and then
    /// `<NAME>_SUCCESS` or `<NAME>_FAIL`, in their own transaction.
    pub async fn record<T>(
        &self,
        app: &App,
        name: &str,
        object_id: Option<&str>,
        result: &Result<T, ServiceError>,
    ) {
        if result.is_err() {
            return self.record_failure(app, name, object_id, result).await;
        }
        if !self.gate.claim_record() {
            return;
        }
        let events = self.events(name, object_id);
        append_best_effort(app, name, events).await;
    }

    /// On failure, append `<NAME>_START` and `<NAME>_FAIL` with the error code. Best effort:
    /// a failure to record is logged, and the client still gets the original error.
    pub async fn record_failure<T>(
        &self,
        app: &App,
        name: &str,
        object_id: Option<&str>,
        result: &Result<T, ServiceError>,
    ) {
        if let Err(e) = result {
            self.record_refusal(app, name, object_id, e.code()).await;
        }
    }

    /// Append `<NAME>_START` and `<NAME>_FAIL` with `code` (best effort), unless the
    /// request's outcome is recorded already.
    pub async fn record_refusal(
        &self,
        app: &App,
        name: &str,
        object_id: Option<&str>,
        code: crate::api::ErrorCode,
    ) {
        if !self.gate.claim_record() {
            return;
        }
        let events = self.fail_events(name, object_id, code);
        append_best_effort(app, name, events).await;
    }

    /// [`OpContext::record_refusal`] from a blocking thread.
    pub(crate) fn record_refusal_blocking(
        &self,
        store: &Store,
        name: &str,
        object_id: Option<&str>,
        code: crate::api::ErrorCode,
    ) {
        if !self.gate.claim_record() {
            return;
        }
        if let Err(e) = store.append_events(&self.fail_events(name, object_id, code)) {
            tracing::error!(error = %e, event = name, "could not record audit event");
        }
    }

    fn fail_events(
        &self,
        name: &str,
        object_id: Option<&str>,
        code: crate::api::ErrorCode,
    ) -> Vec<AuditEvent> {
        vec![
            self.event(format!("{name}_START"), "start", object_id, None),
            self.event(format!("{name}_FAIL"), "fail", object_id, Some(code)),
        ]
    }
}

/// Append audit events in their own transaction. Best effort: a failure is logged, and the
/// caller's own result stands.
pub(crate) async fn append_best_effort(app: &App, name: &str, events: Vec<AuditEvent>) {
    let store = app.store.clone();
    let r = app.blocking(move || store.append_events(&events)).await;
    let err = match r {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    tracing::error!(error = %err, event = name, "could not record audit event");
}

/// A read of the caller's tenant: `f(store, tenant)` on the blocking pool, then
/// `<event>_START` and `<event>_SUCCESS` or `_FAIL` recorded (reads change nothing else).
pub(crate) async fn read<T: Send + 'static>(
    app: &App,
    ctx: &OpContext,
    event: &str,
    object_id: Option<&str>,
    f: impl FnOnce(&Store, &str) -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ServiceError> {
    let store = app.store.clone();
    let tenant = ctx.principal.tenant.clone();
    let result = app
        .blocking(move || f(&store, &tenant))
        .await
        .and_then(|r| r);
    ctx.record(app, event, object_id, &result).await;
    result
}

/// One page of a list whose store query fetched `limit + 1` rows (the extra row tells that
/// there is a next page): the views of the first `limit` rows, and the position of the last
/// of them when there is more (the HTTP layer turns it into the opaque cursor).
pub(crate) fn page<R, V>(
    mut rows: Vec<(i64, R)>,
    limit: usize,
    view: impl Fn(&R) -> Result<V, ServiceError>,
) -> Result<(Vec<V>, Option<i64>), ServiceError> {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more {
        rows.last().map(|(p, _)| *p)
    } else {
        None
    };
    let views = rows
        .iter()
        .map(|(_, r)| view(r))
        .collect::<Result<_, _>>()?;
    Ok((views, next))
}

/// Now, as RFC 3339 UTC with second precision (the format of every stored timestamp).
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

/// Why `/readyz` says no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    /// `token` or `database`.
    pub component: &'static str,
    pub reason: String,
}

/// The running daemon's shared state.
pub struct App {
    pub store: Arc<Store>,
    /// The open token, once the probe has opened it. Replaced never; `Token` recovers
    /// itself in place, so handlers may hold an `Arc` across an outage.
    token: RwLock<Option<Arc<Token>>>,
    pub health: TokenHealth,
    /// Bounds blocking work in flight (token sessions plus database), so a burst of
    /// requests queues here instead of growing tokio's blocking pool without limit. Its
    /// permits are owned by the blocking work, not by the request's future: a request
    /// dropped mid-way (timeout, disconnect) keeps its permit until its work has ended, so
    /// the bound holds and [`App::exclusive`] waits for that work.
    blocking: Arc<Semaphore>,
    /// The semaphore's size, so that [`App::exclusive`] can take every permit.
    max_blocking: u32,
    /// Recently verified API tokens (bounded staleness: [`auth::AUTH_CACHE_TTL`]).
    pub auth_cache: auth::AuthCache,
    /// Token keys one tenant may hold.
    pub max_keys_per_tenant: usize,
    /// Rules of the mobile credential family (mdoc validity, element limits).
    pub mobile: mobile::MobileConfig,
    /// Held while a document signer is provisioned under a managed IACA, so that
    /// concurrent first sign requests make one, not several.
    pub(crate) provisioning: tokio::sync::Mutex<()>,
    /// The period of a `Daily` VICAL schedule (a day; shorter only in tests).
    pub vical_daily_period: time::Duration,
    /// Wallet attestation lifetimes.
    pub holder: holder::HolderPolicy,
    /// `public.base_url`: what the URLs in certificates and tokens start with.
    pub public_base_url: Option<String>,
    /// CRL validity and renewal.
    pub crl: crl::CrlPolicy,
    /// Held from reading a CA's cRLNumber to committing the next (`service::crl`).
    pub(crate) crl_lock: std::sync::Mutex<()>,
    /// Wakes the CRL renewal timer early (a new CA key wants its first CRL).
    pub crl_wake: tokio::sync::Notify,
    /// Token Status Lists of mdocs.
    pub status_list: mobile::StatusListConfig,
    /// Per status list, the next index to hand out (`mobile::status`): taken before an mdoc
    /// is signed, written with it. One daemon per database, so memory is the authority on
    /// what is in flight and the database on what was committed.
    pub(crate) status_next: std::sync::Mutex<std::collections::HashMap<String, u64>>,
    /// Held while a status list token is signed (a new list, a revocation, a renewal): one
    /// re-signing at a time, so none is signed over a list another is changing. Taken
    /// before `provisioning` when both are needed.
    pub(crate) status_signing: tokio::sync::Mutex<()>,
    /// `server.tls.key_label`: a token key of the daemon's own, with no key record.
    pub tls_key_label: Option<String>,
    /// Signed-in console sessions (`service::session`), in memory only.
    pub sessions: session::Sessions,
}

impl App {
    pub fn new(store: Arc<Store>, max_blocking: usize) -> Self {
        App {
            store,
            token: RwLock::new(None),
            health: TokenHealth::default(),
            blocking: Arc::new(Semaphore::new(max_blocking)),
            max_blocking: max_blocking as u32,
            auth_cache: auth::AuthCache::default(),
            max_keys_per_tenant: usize::MAX,
            mobile: mobile::MobileConfig::default(),
            provisioning: tokio::sync::Mutex::new(()),
            vical_daily_period: time::Duration::days(1),
            holder: holder::HolderPolicy::default(),
            public_base_url: None,
            crl: crl::CrlPolicy::default(),
            crl_lock: std::sync::Mutex::new(()),
            crl_wake: tokio::sync::Notify::new(),
            status_list: mobile::StatusListConfig::default(),
            status_next: std::sync::Mutex::new(std::collections::HashMap::new()),
            status_signing: tokio::sync::Mutex::new(()),
            tls_key_label: None,
            sessions: session::Sessions::default(),
        }
    }

    pub fn token(&self) -> Option<Arc<Token>> {
        self.token.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_token(&self, token: Arc<Token>) {
        *self.token.write().unwrap_or_else(|e| e.into_inner()) = Some(token);
    }

    /// The token, if it is open and the last probe found it healthy; 503 material otherwise.
    pub fn ready_token(&self) -> Result<Arc<Token>, ServiceError> {
        match (self.health.status(), self.token()) {
            (TokenStatus::Ready, Some(t)) => Ok(t),
            (TokenStatus::Down { reason }, _) => Err(ServiceError::TokenUnavailable(reason)),
            _ => Err(ServiceError::TokenUnavailable("token not yet open".into())),
        }
    }

    /// Run blocking work (cryptoki, SQLite) off the async workers, bounded.
    pub async fn blocking<F, R>(&self, f: F) -> Result<R, ServiceError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let permit = self
            .blocking
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ServiceError::Join)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(|_| ServiceError::Join)
    }

    /// Run blocking work with nothing else in flight: takes every permit of the blocking
    /// bound, so no request is between creating a token key and recording it meanwhile
    /// (reconciliation after a token outage needs that to tell a torn create from a live one).
    pub async fn exclusive<F, R>(&self, f: F) -> Result<R, ServiceError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let permits = self
            .blocking
            .clone()
            .acquire_many_owned(self.max_blocking)
            .await
            .map_err(|_| ServiceError::Join)?;
        tokio::task::spawn_blocking(move || {
            let _permits = permits;
            f()
        })
        .await
        .map_err(|_| ServiceError::Join)
    }

    /// Token logged in and answering (as of the last probe), database answering now.
    pub async fn readiness(&self) -> Result<(), NotReady> {
        match self.health.status() {
            TokenStatus::Ready => {}
            TokenStatus::Starting => {
                return Err(NotReady {
                    component: "token",
                    reason: "token not yet opened".into(),
                });
            }
            TokenStatus::Down { reason } => {
                return Err(NotReady {
                    component: "token",
                    reason,
                });
            }
        }
        let store = self.store.clone();
        let ping = self.blocking(move || store.ping());
        match tokio::time::timeout(Duration::from_secs(2), ping).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(NotReady {
                component: "database",
                reason: e.to_string(),
            }),
            Ok(Err(e)) => Err(NotReady {
                component: "database",
                reason: e.to_string(),
            }),
            Err(_) => Err(NotReady {
                component: "database",
                reason: "database did not answer within 2 s".into(),
            }),
        }
    }
}

/// What reconciliation (at start-up and after an outage) found between the keys recorded in
/// the database and the daemon's keys in the token.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciliation {
    /// Recorded in the database, absent from the token: the record is unusable.
    pub missing_in_token: Vec<String>,
    /// Present in the token, never recorded: left by a crash or an outage between key
    /// creation and the database commit, so never acknowledged to a client. The daemon
    /// destroys these (`daemon::reconcile`).
    pub unrecorded_in_token: Vec<String>,
}

impl Reconciliation {
    pub fn compare(mut db_labels: Vec<String>, mut token_labels: Vec<String>) -> Self {
        db_labels.sort();
        token_labels.sort();
        let missing_in_token = db_labels
            .iter()
            .filter(|l| token_labels.binary_search(l).is_err())
            .cloned()
            .collect();
        let unrecorded_in_token = token_labels
            .iter()
            .filter(|l| db_labels.binary_search(l).is_err())
            .cloned()
            .collect();
        Reconciliation {
            missing_in_token,
            unrecorded_in_token,
        }
    }

    pub fn is_clean(&self) -> bool {
        self.missing_in_token.is_empty() && self.unrecorded_in_token.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_events_never_record_a_token() {
        let t = auth::new_token("org.t1", &[], None, "now");
        let ctx = OpContext {
            principal: auth::Principal {
                tenant: "org.t1".into(),
                token_id: "0123456789abcdef".into(),
                roles: vec![],
            },
            request_id: "r".into(),
            gate: Gate::new(),
        };
        let secret = &t.secret["hpk_".len() + 17..];
        let e = ctx.event(
            "KEY_RETRIEVE".into(),
            "start",
            Some(t.secret.as_str()),
            None,
        );
        let recorded = e.object_id.unwrap();
        assert!(!recorded.contains(secret), "{recorded}");
        assert!(recorded.ends_with("_***"), "{recorded}");
        let e = ctx.event("KEY_RETRIEVE".into(), "start", Some("k1"), None);
        assert_eq!(e.object_id.as_deref(), Some("k1"));
    }

    #[test]
    fn reconciliation_reports_both_directions() {
        let r = Reconciliation::compare(vec!["a".into(), "b".into()], vec!["b".into(), "c".into()]);
        assert_eq!(r.missing_in_token, vec!["a".to_string()]);
        assert_eq!(r.unrecorded_in_token, vec!["c".to_string()]);
        assert!(!r.is_clean());
        assert!(Reconciliation::compare(vec!["x".into()], vec!["x".into()]).is_clean());
    }
}
