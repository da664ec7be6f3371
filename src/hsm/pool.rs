//! A bounded pool of operation sessions.
//!
//! PKCS#11 allows one active operation per session (v2.40 section 5.6: C_SignInit on a
//! session with an operation in progress fails with CKR_OPERATION_ACTIVE), and a `Session`
//! is `Send` but not `Sync`, so each concurrent operation needs a session of its own. Login
//! state is per application, not per session (v2.40 section 6.7.1: "all sessions ... share
//! the login state"), so sessions opened after the login session are logged in already.

use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cryptoki::context::Pkcs11;
use cryptoki::session::Session;
use cryptoki::slot::Slot;

use super::error::{HsmError, classify};

pub(crate) struct SessionPool {
    ctx: Pkcs11,
    slot: Slot,
    max: usize,
    timeout: Duration,
    state: Mutex<PoolState>,
    freed: Condvar,
    /// Sessions checked out now, owned by the token so the count outlives a pool rebuilt on
    /// recovery (every checkout borrows the pool, so all have returned before it is dropped).
    in_use: Arc<AtomicUsize>,
}

struct PoolState {
    idle: Vec<Session>,
    /// Sessions that exist, idle or checked out.
    open: usize,
}

impl SessionPool {
    pub(crate) fn new(
        ctx: Pkcs11,
        slot: Slot,
        max: usize,
        timeout: Duration,
        in_use: Arc<AtomicUsize>,
    ) -> Self {
        SessionPool {
            ctx,
            slot,
            max: max.max(1),
            timeout,
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
            in_use,
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // A panic while holding this lock leaves only a Vec and a counter behind, both
        // consistent at every step, so poisoning carries no information here.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Take an idle session, open a new one while under the limit, or wait at most the
    /// configured timeout for one to come back.
    pub(crate) fn checkout(&self) -> Result<PooledSession<'_>, HsmError> {
        let deadline = Instant::now() + self.timeout;
        let mut st = self.lock();
        loop {
            if let Some(session) = st.idle.pop() {
                return Ok(PooledSession::new(self, session));
            }
            if st.open < self.max {
                st.open += 1;
                drop(st);
                // RW because key generation and import create token objects (C_CreateObject
                // on a read-only session fails with CKR_SESSION_READ_ONLY).
                return match self.ctx.open_rw_session(self.slot) {
                    Ok(session) => Ok(PooledSession::new(self, session)),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.freed.notify_one();
                        Err(classify(e))
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(HsmError::unavailable("session pool exhausted"));
            }
            st = self
                .freed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn give_back(&self, session: Option<Session>) {
        let mut st = self.lock();
        match session {
            Some(s) => st.idle.push(s),
            None => st.open -= 1,
        }
        drop(st);
        self.freed.notify_one();
    }
}

/// A checked-out session; returns to the pool on drop unless it was marked broken.
pub(crate) struct PooledSession<'p> {
    pool: &'p SessionPool,
    session: Option<Session>,
    broken: bool,
}

impl<'p> PooledSession<'p> {
    fn new(pool: &'p SessionPool, session: Session) -> Self {
        pool.in_use.fetch_add(1, Ordering::Relaxed);
        PooledSession {
            pool,
            session: Some(session),
            broken: false,
        }
    }

    /// Classify an error from this session, and retire the session if the error says the
    /// session itself (not just the operation) is suspect.
    pub(crate) fn fail(&mut self, err: cryptoki::error::Error) -> HsmError {
        let e = classify(err);
        if e.is_transient() {
            self.broken = true;
        }
        e
    }
}

impl Deref for PooledSession<'_> {
    type Target = Session;
    fn deref(&self) -> &Session {
        self.session.as_ref().expect("session present until drop")
    }
}

impl Drop for PooledSession<'_> {
    fn drop(&mut self) {
        self.pool.in_use.fetch_sub(1, Ordering::Relaxed);
        let session = self.session.take();
        if self.broken {
            // Closing may fail too (the device is gone); cryptoki logs and ignores that.
            drop(session);
            self.pool.give_back(None);
        } else {
            self.pool.give_back(session);
        }
    }
}

impl PooledSession<'_> {
    /// Retire this session instead of returning it to the pool.
    pub(crate) fn mark_broken(&mut self) {
        self.broken = true;
    }
}
