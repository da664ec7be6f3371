//! The one error type of the COSE/CBOR layer.
//!
//! Every message is safe to show to an API client: it names the offending field and the rule
//! it broke, never key material (a JWK's `d` or a COSE_Key's -4 is named, never echoed).
//! `field` is the path in the request (`payload.itemsToSign.<ns>.<element>`,
//! `payload.deviceKeyInfo.deviceKey.x`, `mso.validityInfo.validUntil`), so the HTTP layer can
//! turn it into a `{param, msg}` detail as is.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoseError {
    /// A value from the client breaks a rule (ISO/IEC 18013-5, RFC 8949, RFC 9052, a type).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },

    /// Client input over a limit the caller set (elements, bytes).
    #[error("{field}: {message}")]
    TooLarge { field: String, message: String },

    /// The caller broke a precondition: salts, the certificate chain, the signature handed to
    /// `finish`. A bug or bad server state, not the client's fault (a 500, not a 400).
    #[error("{0}")]
    Caller(String),
}

impl CoseError {
    pub(super) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        CoseError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub(super) fn too_large(field: impl Into<String>, message: impl Into<String>) -> Self {
        CoseError::TooLarge {
            field: field.into(),
            message: message.into(),
        }
    }

    pub(super) fn caller(message: impl Into<String>) -> Self {
        CoseError::Caller(message.into())
    }

    /// The request field this error is about; `None` for a caller error.
    pub fn field(&self) -> Option<&str> {
        match self {
            CoseError::Invalid { field, .. } | CoseError::TooLarge { field, .. } => Some(field),
            CoseError::Caller(_) => None,
        }
    }

    /// Whether the client's input caused it (a 400), rather than the caller (a 500).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, CoseError::Caller(_))
    }
}
