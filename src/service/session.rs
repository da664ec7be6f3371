//! Console sessions: an API token exchanged once, at sign-in, for a random session id the
//! browser holds in a cookie. The API token itself is dropped at once (never stored, in
//! the browser or here); the session carries the token's principal, so every console
//! action runs under exactly the tenant and roles the token has.
//!
//! Sessions live in memory only: a restart signs everyone out, which is the safe failure.
//! The map is keyed by the SHA-256 of the session id, so it never holds a usable id, and a
//! lookup compares digests of random 256-bit values (nothing for a timing attack to learn).
//! Each session has a CSRF token of its own, compared in constant time.
//! Sign-in, sign-out and expiry are audit events of the session's tenant
//! (`CONSOLE_SIGN_IN`, `CONSOLE_SIGN_OUT`, `CONSOLE_SESSION_EXPIRED`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::auth::Principal;
use super::{App, Gate, OpContext, ServiceError};

/// Sessions at once; past it a sign-in is refused rather than an old session evicted, so a
/// flood of sign-ins cannot push operators out.
const MAX_SESSIONS: usize = 10_000;

pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
    idle: Duration,
    absolute: Duration,
}

struct Session {
    principal: Principal,
    csrf: Zeroizing<String>,
    created: Instant,
    last_used: Instant,
}

/// What a request learns from a live session.
#[derive(Clone)]
pub struct Live {
    pub principal: Principal,
    pub csrf: Zeroizing<String>,
    /// The public handle of the session for audit events: the first 8 bytes of its digest,
    /// hex (names the session in the log without being usable as its id).
    pub handle: String,
}

/// A new session: the id goes into the cookie and nowhere else.
pub struct Created {
    pub id: Zeroizing<String>,
    pub live: Live,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::new(Duration::from_secs(900), Duration::from_secs(8 * 3600))
    }
}

fn random_secret() -> Zeroizing<String> {
    let mut b = Zeroizing::new([0u8; 32]);
    rand::fill(&mut b[..]);
    Zeroizing::new(Base64UrlUnpadded::encode_string(&b[..]))
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

fn handle(d: &[u8; 32]) -> String {
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    pub fn new(idle: Duration, absolute: Duration) -> Self {
        Sessions {
            map: Mutex::new(HashMap::new()),
            idle,
            absolute,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn expired(&self, s: &Session, now: Instant) -> bool {
        now.duration_since(s.last_used) >= self.idle
            || now.duration_since(s.created) >= self.absolute
    }

    /// Remove and return the sessions that have expired (for their audit events).
    fn sweep(&self, now: Instant) -> Vec<(String, Principal)> {
        let mut map = self.lock();
        let dead: Vec<[u8; 32]> = map
            .iter()
            .filter(|(_, s)| self.expired(s, now))
            .map(|(k, _)| *k)
            .collect();
        dead.into_iter()
            .filter_map(|k| map.remove(&k).map(|s| (handle(&k), s.principal)))
            .collect()
    }

    fn create(&self, principal: Principal, now: Instant) -> Option<Created> {
        let mut map = self.lock();
        if map.len() >= MAX_SESSIONS {
            return None;
        }
        let id = random_secret();
        let d = digest(&id);
        let csrf = random_secret();
        map.insert(
            d,
            Session {
                principal: principal.clone(),
                csrf: csrf.clone(),
                created: now,
                last_used: now,
            },
        );
        Some(Created {
            id,
            live: Live {
                principal,
                csrf,
                handle: handle(&d),
            },
        })
    }

    /// The live session of `id`, its idle clock restarted.
    fn touch(&self, id: &str, now: Instant) -> Option<Live> {
        let d = digest(id);
        let mut map = self.lock();
        let s = map.get_mut(&d)?;
        if self.expired(s, now) {
            return None; // the sweep before every lookup audits and removes it
        }
        s.last_used = now;
        Some(Live {
            principal: s.principal.clone(),
            csrf: s.csrf.clone(),
            handle: handle(&d),
        })
    }

    fn remove(&self, id: &str) -> Option<(String, Principal)> {
        let d = digest(id);
        self.lock().remove(&d).map(|s| (handle(&d), s.principal))
    }

    /// Sessions of the token `token_id` ended (it was found revoked).
    fn remove_token(&self, token_id: &str) {
        self.lock().retain(|_, s| s.principal.token_id != token_id);
    }
}

/// Whether `given` is the session's CSRF token (constant time).
pub fn csrf_matches(live: &Live, given: &str) -> bool {
    given.len() == live.csrf.len() && bool::from(given.as_bytes().ct_eq(live.csrf.as_bytes()))
}

fn context(principal: Principal, request_id: &str) -> OpContext {
    OpContext {
        principal,
        request_id: request_id.to_owned(),
        gate: Gate::new(),
    }
}

/// `CONSOLE_<what>_START` + `_SUCCESS` for the session's tenant, the session's handle as
/// the object.
async fn audit(app: &App, principal: Principal, request_id: &str, what: &str, handle: &str) {
    let ctx = context(principal, request_id);
    let name = format!("CONSOLE_{what}");
    let events = ctx.events(&name, Some(handle));
    super::append_best_effort(app, &name, events).await;
}

/// Audit and drop every expired session. Run before each lookup, so an expiry is recorded
/// at the latest when anyone next uses the console.
pub async fn expire(app: &App, request_id: &str) {
    for (handle, principal) in app.sessions.sweep(Instant::now()) {
        audit(app, principal, request_id, "SESSION_EXPIRED", &handle).await;
    }
}

/// Sign in: `principal` is a verified API token's (the caller checked it the way every API
/// request is checked). `None` when the session table is full.
pub async fn sign_in(app: &App, principal: Principal, request_id: &str) -> Option<Created> {
    expire(app, request_id).await;
    let created = app.sessions.create(principal.clone(), Instant::now())?;
    audit(app, principal, request_id, "SIGN_IN", &created.live.handle).await;
    Some(created)
}

/// The session of a cookie, if live and its API token still valid: a token revoked since
/// sign-in ends its sessions here (one indexed read; the console is not a hot path).
pub async fn lookup(app: &App, id: &str, request_id: &str) -> Result<Option<Live>, ServiceError> {
    expire(app, request_id).await;
    let Some(live) = app.sessions.touch(id, Instant::now()) else {
        return Ok(None);
    };
    let store = app.store.clone();
    let token_id = live.principal.token_id.clone();
    let record = app
        .blocking(move || store.get_api_token(&token_id))
        .await??;
    if record.is_none_or(|r| r.revoked_at.is_some()) {
        app.sessions.remove_token(&live.principal.token_id);
        return Ok(None);
    }
    Ok(Some(live))
}

/// Sign out: the session is gone, whatever the cookie still says.
pub async fn sign_out(app: &App, id: &str, request_id: &str) {
    if let Some((handle, principal)) = app.sessions.remove(id) {
        audit(app, principal, request_id, "SIGN_OUT", &handle).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::auth::Role;

    fn principal() -> Principal {
        Principal {
            tenant: "org.t1".into(),
            token_id: "0011223344556677".into(),
            roles: vec![Role::Admin],
        }
    }

    #[test]
    fn idle_and_absolute_expiry() {
        let s = Sessions::new(Duration::from_secs(10), Duration::from_secs(25));
        let t0 = Instant::now();
        let c = s.create(principal(), t0).unwrap();
        assert_eq!(c.id.len(), 43, "256 bits, base64url");
        assert!(s.touch(&c.id, t0 + Duration::from_secs(9)).is_some());
        assert!(s.touch(&c.id, t0 + Duration::from_secs(18)).is_some());
        assert!(
            s.touch(&c.id, t0 + Duration::from_secs(26)).is_none(),
            "absolute"
        );
        let c2 = s.create(principal(), t0).unwrap();
        assert!(
            s.touch(&c2.id, t0 + Duration::from_secs(11)).is_none(),
            "idle"
        );
        let dead = s.sweep(t0 + Duration::from_secs(30));
        assert_eq!(dead.len(), 2);
        assert!(s.lock().is_empty());
    }

    #[test]
    fn ids_are_stored_hashed_and_csrf_compared() {
        let s = Sessions::default();
        let c = s.create(principal(), Instant::now()).unwrap();
        assert!(!s.lock().keys().any(|k| k.as_slice() == c.id.as_bytes()));
        assert!(csrf_matches(&c.live, &c.live.csrf));
        assert!(!csrf_matches(&c.live, ""));
        assert!(!csrf_matches(&c.live, &c.id));
        assert!(s.remove(&c.id).is_some());
        assert!(s.touch(&c.id, Instant::now()).is_none());
    }
}
