//! API tokens, roles and the authenticated principal.
//!
//! A token is `hpk_<id>_<secret>`: `id` (64 bits, hex) names the stored record and may appear
//! in logs and audit events; `secret` (256 bits, base64url) is shown once at creation and
//! stored only as its SHA-256. A fast hash is right here: the secret is random, not a
//! password, so there is nothing for a slow hash to protect against.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::store::{ApiTokenRecord, Store, StoreError};

/// What a token may do. Routes name the roles they admit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    DtsProvider,
    Holder,
    /// The X.509 service and the keys API.
    Issuer,
    /// Read-only access to the audit log.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::DtsProvider,
        Role::Holder,
        Role::Issuer,
        Role::Auditor,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::DtsProvider => "dts-provider",
            Role::Holder => "holder",
            Role::Issuer => "issuer",
            Role::Auditor => "auditor",
        }
    }

    pub fn from_name(s: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|r| r.name() == s)
    }
}

/// The caller, once its token is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: String,
    pub token_id: String,
    pub roles: Vec<Role>,
}

impl Principal {
    pub fn has_any(&self, allowed: &[Role]) -> bool {
        self.roles.iter().any(|r| allowed.contains(r))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Missing, malformed, unknown or revoked: deliberately one case, so a client cannot
    /// tell which.
    #[error("missing or invalid API token")]
    Unauthenticated,
    /// As [`AuthError::Unauthenticated`] to the client; for the audit log, the token's id
    /// was known (wrong secret, or revoked), so the attempt is recorded for its tenant.
    #[error("missing or invalid API token")]
    Rejected { tenant: String, token_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

const PREFIX: &str = "hpk_";

/// A tenant id is `{org}.{tenant}`: two labels of lowercase letters, digits and '-'.
pub fn valid_tenant_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('.').collect();
    parts.len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 63
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// A freshly made token: the secret string is returned once and never stored.
pub struct NewToken {
    pub record: ApiTokenRecord,
    pub secret: Zeroizing<String>,
}

/// Make a token for `tenant` with `roles`. The caller stores `record` and shows `secret`.
pub fn new_token(tenant: &str, roles: &[Role], description: Option<String>, now: &str) -> NewToken {
    let mut id = [0u8; 8];
    rand::fill(&mut id);
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let mut secret = Zeroizing::new([0u8; 32]);
    rand::fill(&mut secret[..]);
    let secret_b64 = Zeroizing::new(Base64UrlUnpadded::encode_string(&secret[..]));
    let full = Zeroizing::new(format!("{PREFIX}{id}_{}", secret_b64.as_str()));
    let roles: Vec<&str> = roles.iter().map(|r| r.name()).collect();
    NewToken {
        record: ApiTokenRecord {
            id,
            tenant: tenant.to_owned(),
            roles: roles.join(","),
            secret_hash: secret_hash(&secret_b64).to_vec(),
            description,
            created_at: now.to_owned(),
            revoked_at: None,
        },
        secret: full,
    }
}

/// Split `hpk_<id>_<secret>`; `None` for anything else.
/// What is stored of a token's secret part: its SHA-256 (the secret has 256 bits of
/// entropy, so a fast hash leaves nothing to brute-force).
fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether `secret` hashes to `stored`, compared in constant time so that response timing
/// does not reveal how much of a guess matched. The one comparison the database check and
/// the cache both use.
fn secret_matches(secret: &str, stored: &[u8]) -> bool {
    secret_hash(secret).as_slice().ct_eq(stored).into()
}

fn split(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let ok_id = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
    let ok_secret = secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (ok_id && ok_secret).then_some((id, secret))
}

/// `s` with the secret part of anything shaped like an API token (`hpk_<16 hex>_<secret>`)
/// replaced by `***`; the public id stays, so a client can still tell which token it pasted.
/// Errors echo offending values and the request log names paths; a token pasted into the
/// wrong field or path must come back in neither (found by tests/hostile.rs).
/// Whether `s` contains something shaped like an API token.
pub fn has_token(s: &str) -> bool {
    matches!(redact_tokens(s), std::borrow::Cow::Owned(ref o) if o != s)
}

pub fn redact_tokens(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(PREFIX) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(PREFIX) {
        let (before, from) = rest.split_at(i);
        out.push_str(before);
        let after = &from[PREFIX.len()..];
        let id_ok = after.len() > 17
            && after.as_bytes()[..16].iter().all(u8::is_ascii_hexdigit)
            && after.as_bytes()[16] == b'_';
        if id_ok {
            let secret_len = after[17..]
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
                .count();
            out.push_str(PREFIX);
            out.push_str(&after[..17]);
            out.push_str("***");
            rest = &after[17 + secret_len..];
        } else {
            out.push_str(PREFIX);
            rest = after;
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Verify a bearer token against the store. Blocking (one indexed SQLite read).
/// The principal of a bearer token: from the cache, else checked against the database on the
/// blocking pool and cached. `Err(Err(_))`: the check itself could not run.
pub async fn principal(
    app: &super::App,
    token: zeroize::Zeroizing<String>,
) -> Result<Principal, Result<AuthError, super::ServiceError>> {
    if let Some(p) = app.auth_cache.get(&token, std::time::Instant::now()) {
        return Ok(p);
    }
    let store = app.store.clone();
    // Stamped with the time before the read, so the TTL bounds staleness from it.
    let checked = std::time::Instant::now();
    let (token, r) = app
        .blocking(move || {
            let r = authenticate(&store, &token);
            (token, r)
        })
        .await
        .map_err(Err)?;
    let principal = r.map_err(Ok)?;
    app.auth_cache.insert(&token, &principal, checked);
    Ok(principal)
}

pub fn authenticate(store: &Store, token: &str) -> Result<Principal, AuthError> {
    let (id, secret) = split(token).ok_or(AuthError::Unauthenticated)?;
    let record = store.get_api_token(id)?.ok_or(AuthError::Unauthenticated)?;
    if !secret_matches(secret, &record.secret_hash) || record.revoked_at.is_some() {
        return Err(AuthError::Rejected {
            tenant: record.tenant,
            token_id: record.id,
        });
    }
    let roles = record
        .roles
        .split(',')
        .filter_map(Role::from_name)
        .collect();
    Ok(Principal {
        tenant: record.tenant,
        token_id: record.id,
        roles,
    })
}

/// Record a 401: `AUTHENTICATION_START` + `_FAIL` for the token's tenant when its id was
/// known (`who`), else for the pseudo-tenant `-` (no tenant id has that form). Never the
/// token itself: `route` is redacted, and only a known token's id is kept.
pub async fn record_unauthenticated(
    app: &super::App,
    request_id: &str,
    who: Option<(String, String)>,
    route: &str,
) {
    let (tenant, token_id) = match who {
        Some((t, id)) => (t, Some(id)),
        None => ("-".to_owned(), None),
    };
    let at = super::now_rfc3339();
    let event = |suffix: &str, outcome: &str, code: Option<&str>| crate::store::AuditEvent {
        at: at.clone(),
        tenant: tenant.clone(),
        token_id: token_id.clone(),
        request_id: Some(request_id.to_owned()),
        event: format!("AUTHENTICATION_{suffix}"),
        object_id: Some(redact_tokens(route).into_owned()),
        outcome: outcome.to_owned(),
        error_code: code.map(str::to_owned),
    };
    let code = crate::api::ErrorCode::Unauthorized.as_str();
    let events = vec![
        event("START", "start", None),
        event("FAIL", "fail", Some(code)),
    ];
    super::append_best_effort(app, "AUTHENTICATION", events).await;
}

/// How long a verified token is trusted without asking the database again. Revoking a token
/// (the `hsm-pki token revoke` CLI, another process writing the database) therefore takes
/// effect within this bound. Only successes are cached: an unknown, wrong or revoked token
/// is looked up every time, so a new token works at once.
pub const AUTH_CACHE_TTL: Duration = Duration::from_secs(1);

/// Bound on cached tokens; when full, the cache is emptied (a burst of distinct tokens then
/// costs one database read each, as without a cache).
const AUTH_CACHE_MAX: usize = 4096;

struct CachedToken {
    /// SHA-256 of the secret, as stored: the cache holds nothing the database does not.
    secret_hash: [u8; 32],
    principal: Principal,
    verified_at: Instant,
}

/// Recently verified API tokens, so that a busy client does not cost a blocking-thread
/// handoff and a SQLite read (queued behind writers' fsyncs) per request. Pure memory: safe
/// on a tokio worker.
#[derive(Default)]
pub struct AuthCache {
    entries: Mutex<HashMap<String, CachedToken>>,
}

impl AuthCache {
    /// The principal of `token` if it was verified less than [`AUTH_CACHE_TTL`] ago.
    pub fn get(&self, token: &str, now: Instant) -> Option<Principal> {
        let (id, secret) = split(token)?;
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let hit = entries.get(id)?;
        let fresh = now.saturating_duration_since(hit.verified_at) < AUTH_CACHE_TTL;
        (fresh && secret_matches(secret, &hit.secret_hash)).then(|| hit.principal.clone())
    }

    /// Remember that `token` authenticated as `principal` at `now`.
    pub fn insert(&self, token: &str, principal: &Principal, now: Instant) {
        let Some((id, secret)) = split(token) else {
            return;
        };
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= AUTH_CACHE_MAX && !entries.contains_key(id) {
            entries.clear();
        }
        entries.insert(
            id.to_owned(),
            CachedToken {
                secret_hash: secret_hash(secret),
                principal: principal.clone(),
                verified_at: now,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_redacted_wherever_they_appear() {
        let t = new_token("org.t1", &[Role::Admin], None, "now");
        let full = t.secret.as_str();
        let (id, secret) = split(full).unwrap();
        let text = format!("unknown field `{full}`, and again /v1/{full}/x");
        let red = redact_tokens(&text);
        assert!(!red.contains(secret), "{red}");
        assert_eq!(
            red,
            format!("unknown field `hpk_{id}_***`, and again /v1/hpk_{id}_***/x")
        );
        // Nothing token-shaped: untouched.
        assert!(matches!(
            redact_tokens("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
        for s in [
            "hpk_",
            "hpk_xyz_abc",
            "hpk_0123456789abcdef",
            "a hpk_ b",
            "hpk_hpk_",
        ] {
            assert_eq!(redact_tokens(s), s);
        }
    }

    #[test]
    fn token_round_trip_revocation_and_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let t = new_token("org.t1", &[Role::Issuer, Role::Auditor], None, "now");
        assert_eq!(t.secret.len(), 4 + 16 + 1 + 43);
        store.insert_api_token(&t.record).unwrap();
        let p = authenticate(&store, &t.secret).unwrap();
        assert_eq!(p.tenant, "org.t1");
        assert_eq!(p.roles, vec![Role::Issuer, Role::Auditor]);
        assert!(p.has_any(&[Role::Admin, Role::Issuer]));
        assert!(!p.has_any(&[Role::Admin]));

        // One character changed in the secret: refused.
        let mut bad = t.secret.to_string();
        let last = bad.pop().unwrap();
        bad.push(if last == 'A' { 'B' } else { 'A' });
        assert!(matches!(
            authenticate(&store, &bad),
            Err(AuthError::Rejected { tenant, .. }) if tenant == "org.t1"
        ));
        assert!(matches!(
            authenticate(&store, "garbage"),
            Err(AuthError::Unauthenticated)
        ));

        // The record's Debug never shows the hash; the secret is never stored.
        let dbg = format!("{:?}", store.get_api_token(&t.record.id).unwrap().unwrap());
        assert!(!dbg.contains("secret_hash"));

        assert!(store.revoke_api_token(&t.record.id, "later").unwrap());
        assert!(matches!(
            authenticate(&store, &t.secret),
            Err(AuthError::Rejected { token_id, .. }) if token_id == t.record.id
        ));
    }

    #[test]
    fn cache_trusts_a_verified_token_for_the_ttl_only() {
        let t = new_token("org.t1", &[Role::Issuer], None, "now");
        let p = Principal {
            tenant: "org.t1".into(),
            token_id: t.record.id.clone(),
            roles: vec![Role::Issuer],
        };
        let cache = AuthCache::default();
        let t0 = Instant::now();
        assert_eq!(cache.get(&t.secret, t0), None);
        cache.insert(&t.secret, &p, t0);
        assert_eq!(cache.get(&t.secret, t0), Some(p.clone()));
        assert_eq!(
            cache.get(&t.secret, t0 + AUTH_CACHE_TTL - Duration::from_millis(1)),
            Some(p)
        );
        // Expired: the database decides again (a revocation is seen within the TTL).
        assert_eq!(cache.get(&t.secret, t0 + AUTH_CACHE_TTL), None);
        // Same id, another secret: never served from the cache.
        let mut bad = t.secret.to_string();
        let last = bad.pop().unwrap();
        bad.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(cache.get(&bad, t0), None);
        assert_eq!(cache.get("garbage", t0), None);
    }

    #[test]
    fn tenant_ids() {
        assert!(valid_tenant_id("test.tenant1"));
        assert!(!valid_tenant_id("tenant1"));
        assert!(!valid_tenant_id("a.b.c"));
        assert!(!valid_tenant_id("A.b"));
        assert!(!valid_tenant_id("a..b"));
    }
}
