//! The one error type of the X.509 engine.
//!
//! Every message is safe to show to an API client: it names the offending field and the rule
//! it broke, never key material or internal state. `field` uses the API's camelCase names
//! (`subjectName.country`, `subjectAlternativeNames.dnsNames[2]`) so the HTTP layer can turn it
//! into a `{param, msg}` detail as is.

use crate::crypto::CryptoError;

#[derive(Debug, thiserror::Error)]
pub enum X509Error {
    /// A caller-supplied value breaks a rule (RFC 5280, ISO 3166, a profile's policy).
    #[error("{field}: {rule}")]
    Invalid { field: String, rule: String },

    /// Input that should be a DER/PEM structure could not be decoded.
    #[error("malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },

    /// Input larger than the engine accepts (bounds the work done on hostile input).
    #[error("{what} is too large: at most {limit} bytes are accepted")]
    TooLarge { what: &'static str, limit: usize },

    /// A signature (of a certificate or of a CSR) does not verify with the expected key.
    #[error("the {what} signature does not verify")]
    BadSignature { what: &'static str },

    /// A certificate is outside its validity window at the time checked.
    #[error("certificate is not valid at the time checked: {0}")]
    OutsideValidity(&'static str),

    /// Unsupported or malformed key / algorithm (from the crypto layer).
    #[error(transparent)]
    Crypto(#[from] CryptoError),

    /// The signing key failed. The source is kept so the caller can tell a token outage
    /// (the `DigestSigner`'s own error type) from a signature that did not verify.
    #[error("the signing key failed to produce a valid signature")]
    Signing(#[source] signature::Error),

    /// Encoding our own, already validated, data failed: a bug, not a client error.
    #[error("internal encoding error: {0}")]
    Encoding(String),
}

impl X509Error {
    pub(crate) fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        X509Error::Invalid {
            field: field.into(),
            rule: rule.into(),
        }
    }

    pub(crate) fn malformed(what: &'static str, detail: impl std::fmt::Display) -> Self {
        X509Error::Malformed {
            what,
            detail: detail.to_string(),
        }
    }

    /// The field this error is about, when it is about one.
    pub fn field(&self) -> Option<&str> {
        match self {
            X509Error::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// For encoding failures of data this engine built itself.
pub(crate) fn enc(e: impl std::fmt::Display) -> X509Error {
    X509Error::Encoding(e.to_string())
}

impl From<x509_cert::builder::Error> for X509Error {
    fn from(e: x509_cert::builder::Error) -> Self {
        match e {
            x509_cert::builder::Error::Signature(s) => X509Error::Signing(s),
            other => X509Error::Encoding(other.to_string()),
        }
    }
}
