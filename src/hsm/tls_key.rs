//! The daemon's TLS server key, when it lives in the token: the key `hsm-pki tls dev-cert`
//! makes (or reuses). An operator may name any other key by label in `[server.tls]`; this
//! one is reserved so no client-made key can carry its label.

use super::TokenKey;
use super::error::HsmError;
use super::token::Token;
use crate::crypto::KeyAlgorithm;

/// CKA_LABEL of the TLS server key `hsm-pki tls dev-cert` generates. Reconciliation counts
/// it (like every configured TLS key label) as the daemon's own.
pub const TLS_KEY_LABEL: &str = "hsm-pki.tls-server-key";

impl Token {
    /// The TLS server key, generated (P-256) on first use.
    pub fn tls_key(&self) -> Result<TokenKey, HsmError> {
        match self.find(TLS_KEY_LABEL) {
            Err(HsmError::KeyNotFound { .. }) => {
                self.generate_reserved(KeyAlgorithm::P256, TLS_KEY_LABEL)
            }
            other => other,
        }
    }
}
