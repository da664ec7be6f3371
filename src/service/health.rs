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
}

impl Default for TokenHealth {
    fn default() -> Self {
        TokenHealth {
            state: Mutex::new((TokenStatus::Starting, Instant::now())),
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
            *s = (status, Instant::now());
        }
    }

    pub fn is_ready(&self) -> bool {
        matches!(self.lock().0, TokenStatus::Ready)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (TokenStatus, Instant)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
