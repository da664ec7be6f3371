//! Token health as last observed by the probe; read by `/readyz` and by request handlers
//! that must fail fast (503) while the token is away.

use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenStatus {
    /// Not yet opened (start-up, or the module could not be loaded yet).
    Starting,
    Ready,
    /// The last probe or operation failed; `reason` is safe to show (no PIN, no key).
    Down {
        reason: String,
    },
}

pub struct TokenHealth {
    state: Mutex<(TokenStatus, Instant)>,
    /// The last few transitions and reconciliations, newest last, for the console's
    /// overview (the log has them all; this is what an operator glances at).
    recent: Mutex<std::collections::VecDeque<(String, String)>>,
}

/// Transitions and reconciliations kept for the overview.
const RECENT: usize = 10;

impl Default for TokenHealth {
    fn default() -> Self {
        TokenHealth {
            state: Mutex::new((TokenStatus::Starting, Instant::now())),
            recent: Mutex::default(),
        }
    }
}

impl TokenHealth {
    pub fn status(&self) -> TokenStatus {
        self.lock().0.clone()
    }

    /// Record a new status; logs transitions only, so a long outage is one line, not one
    /// line per probe.
    pub fn set(&self, status: TokenStatus) {
        let mut s = self.lock();
        if s.0 != status {
            match &status {
                TokenStatus::Ready => tracing::info!("token ready"),
                TokenStatus::Down { reason } => tracing::warn!(%reason, "token unavailable"),
                TokenStatus::Starting => {}
            }
            let what = match &status {
                TokenStatus::Ready => "token ready".to_owned(),
                TokenStatus::Down { reason } => format!("token down: {reason}"),
                TokenStatus::Starting => "token starting".to_owned(),
            };
            *s = (status, Instant::now());
            drop(s);
            self.note(what);
        }
    }

    /// Remember an event for the overview (a reconciliation's outcome, a transition).
    pub fn note(&self, what: String) {
        let mut r = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if r.len() == RECENT {
            r.pop_front();
        }
        r.push_back((super::now_rfc3339(), what));
    }

    /// The current status and how long it has held.
    pub fn since(&self) -> (TokenStatus, std::time::Duration) {
        let s = self.lock();
        (s.0.clone(), s.1.elapsed())
    }

    /// The remembered events, newest last: (RFC 3339 time, what).
    pub fn recent(&self) -> Vec<(String, String)> {
        let r = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        r.iter().cloned().collect()
    }

    pub fn is_ready(&self) -> bool {
        matches!(self.lock().0, TokenStatus::Ready)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (TokenStatus, Instant)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
