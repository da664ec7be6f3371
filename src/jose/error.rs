//! The one error type of the JOSE layer.
//!
//! Every message is safe to show to an API client: it names the request field and the rule
//! it broke, never key material (a JWK's `d` is named, never echoed). `field` is the wire
//! name (`clientId`, `expiresIn`, `walletKey.d`), so the HTTP layer can turn it into a
//! `{param, msg}` detail as is.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    /// A value from the client breaks a rule (RFC 7515/7517/7518/7519, the attestation
    /// draft, a configured limit).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },

    /// The caller broke a precondition: the certificate chain, the limits, the signature
    /// handed to `finish`. A bug or bad server state, not the client's fault (a 500).
    #[error("{0}")]
    Caller(String),
}

impl JoseError {
    pub(super) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        JoseError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub(super) fn caller(message: impl Into<String>) -> Self {
        JoseError::Caller(message.into())
    }

    /// The request field this error is about; `None` for a caller error.
    pub fn field(&self) -> Option<&str> {
        match self {
            JoseError::Invalid { field, .. } => Some(field),
            JoseError::Caller(_) => None,
        }
    }

    /// Whether the client's input caused it (a 400), rather than the caller (a 500).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, JoseError::Caller(_))
    }
}
