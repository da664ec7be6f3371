//! The PKCS#11 token layer: the only module that talks to the token (and the only one that
//! imports `cryptoki`).
//!
//! It opens one PKCS#11 context for the process, logs in once, keeps a bounded pool of
//! operation sessions, generates and imports keys that never leave the token, signs digests
//! computed by the caller, and reports the token's health. It knows nothing of HTTP, JSON,
//! SQL or X.509.
//!
//! **Every method blocks** (PKCS#11 calls are synchronous and RSA-4096 generation takes
//! seconds): async callers run them on blocking threads (`spawn_blocking`, bounded by a
//! semaphore). [`Token`] is `Send + Sync` and cheap to clone.
//!
//! Identity of keys: the daemon's key id is the object's CKA_LABEL. Slot numbers are never
//! configured or stored, because SoftHSM assigns slot ids from the token serial and renumbers
//! them when tokens are added; tokens are selected by label or serial instead.

mod anchor;
mod error;
mod keys;
mod pool;
mod sign;
mod stats;
mod tls_key;
mod token;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroizing;

pub use anchor::AUDIT_KEY_LABEL;
pub use error::{HsmError, classify};
pub use keys::{
    KeyAttributes, KeyScan, PrivateKeyMaterial, PublicKeyUses, TokenKey, parse_ec_point,
};
pub use stats::{LatencySnapshot, SIGN_LATENCY_BOUNDS, SIGN_LATENCY_BUCKETS};
pub use tls_key::TLS_KEY_LABEL;
pub use token::{SENTINEL_LABEL, Token, TokenStats};

/// How the configured token is found among the module's slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSelector {
    /// CKA_LABEL of the token (the `--label` of `softhsm2-util --init-token`), compared after
    /// trimming the blank padding of CK_TOKEN_INFO.label.
    Label(String),
    /// CK_TOKEN_INFO.serialNumber, trimmed likewise.
    Serial(String),
}

impl fmt::Display for TokenSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSelector::Label(l) => write!(f, "label {l:?}"),
            TokenSelector::Serial(s) => write!(f, "serial {s:?}"),
        }
    }
}

/// The user PIN. Zeroized on drop; its Debug output is `Pin(***)` and it has no Display, so
/// it cannot end up in a log line or an error message by accident.
#[derive(Clone)]
pub struct Pin(Zeroizing<String>);

impl Pin {
    pub fn new(pin: impl Into<String>) -> Self {
        Pin(Zeroizing::new(pin.into()))
    }

    pub(crate) fn expose(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(***)")
    }
}

/// Everything needed to open the token.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// The PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module_path: PathBuf,
    pub token: TokenSelector,
    pub pin: Pin,
    /// Number of operation sessions kept (at least 1). Sessions are opened lazily.
    pub pool_size: usize,
    /// Longest wait for a free operation session before failing with
    /// [`HsmError::Unavailable`] ("session pool exhausted").
    pub checkout_timeout: Duration,
    /// Keys whose handles (and public key, once read) are remembered, least recently used
    /// forgotten first (at least 1). A key not remembered costs a search, which on SoftHSM
    /// reads every object of the token.
    pub key_cache_size: usize,
}

impl TokenConfig {
    /// The default pool checkout wait.
    pub const DEFAULT_CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);
    /// The default key cache size: five tenants at the default key quota, at under 1 KiB a
    /// key (`scripts/scale` measured 0.8 KiB with the public key loaded; SoftHSM itself
    /// holds about 17 KiB a key in the process). Smaller than the keys in use, every miss
    /// evicts a key that will miss in turn, and each costs a search.
    pub const DEFAULT_KEY_CACHE_SIZE: usize = 50_000;

    pub fn new(module_path: impl Into<PathBuf>, token: TokenSelector, pin: Pin) -> Self {
        TokenConfig {
            module_path: module_path.into(),
            token,
            pin,
            pool_size: 4,
            checkout_timeout: Self::DEFAULT_CHECKOUT_TIMEOUT,
            key_cache_size: Self::DEFAULT_KEY_CACHE_SIZE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_is_not_printed() {
        let cfg = TokenConfig::new(
            "/x.so",
            TokenSelector::Label("t".into()),
            Pin::new("123456"),
        );
        let dbg = format!("{cfg:?}");
        assert!(dbg.contains("Pin(***)"));
        assert!(!dbg.contains("123456"));
    }
}
