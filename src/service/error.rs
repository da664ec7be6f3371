//! The service layer's one error type, and the one mapping of each lower layer's errors
//! into it (token, store, X.509 engine). `http` turns it into a status and a body; the audit
//! log records its [`ErrorCode`].

use crate::api::ErrorCode;
use crate::hsm::HsmError;
use crate::store::StoreError;
use crate::x509::X509Error;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// 503: the token is away; retry later.
    #[error("token unavailable: {0}")]
    TokenUnavailable(String),
    /// A token error that is not an outage (permanently unusable, refused operation).
    #[error(transparent)]
    Hsm(HsmError),
    #[error(transparent)]
    Store(StoreError),
    /// 404. Also for objects of another tenant: never reveal that they exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A refusal with its own code: a conflict or a limit reached (409), or a resource that
    /// cannot exist here (`NoCertificateRevocationList`, 404). The status is the code's.
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    /// 400 naming the offending input.
    #[error("{msg}")]
    Invalid {
        location: &'static str,
        param: String,
        msg: String,
        value: Option<String>,
    },
    #[error("internal error: {0}")]
    Internal(String),
    #[error("blocking task failed")]
    Join,
    /// 400 with every broken rule of a request at once (each an `Invalid`).
    #[error("{} problems", .0.len())]
    InvalidAll(Vec<ServiceError>),
    /// 404 naming the input that referred to nothing (e.g. a key descriptor's keyIdPath).
    #[error("{param}: {msg}")]
    NotFoundAt {
        location: &'static str,
        param: String,
        msg: String,
    },
    /// 503: the request was given up (timeout) before its work committed; nothing of it
    /// was done, and keys it created were destroyed.
    #[error("request cancelled before it committed")]
    Cancelled,
}

impl ServiceError {
    /// The stable code written to the audit log and sent to the client.
    pub fn code(&self) -> ErrorCode {
        match self {
            ServiceError::TokenUnavailable(_) => ErrorCode::TokenUnavailable,
            ServiceError::Hsm(_) => ErrorCode::TokenError,
            ServiceError::Store(_) | ServiceError::Internal(_) | ServiceError::Join => {
                ErrorCode::InternalError
            }
            ServiceError::NotFound(_) | ServiceError::NotFoundAt { .. } => ErrorCode::NotFound,
            ServiceError::Conflict { code, .. } => *code,
            ServiceError::Invalid { .. } | ServiceError::InvalidAll(_) => {
                ErrorCode::ValidationError
            }
            ServiceError::Cancelled => ErrorCode::RequestTimeout,
        }
    }

    /// A 400 about a body field.
    pub fn invalid(param: impl Into<String>, msg: impl Into<String>) -> Self {
        ServiceError::Invalid {
            location: "body",
            param: param.into(),
            msg: msg.into(),
            value: None,
        }
    }

    /// `Ok` when `errors` is empty, else one error carrying them all.
    pub fn all(mut errors: Vec<ServiceError>) -> Result<(), ServiceError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(ServiceError::InvalidAll(errors)),
        }
    }

    /// A 400 about a body field, echoing the offending value (at most 128 characters; the
    /// HTTP layer redacts anything shaped like an API token).
    pub fn invalid_value(param: impl Into<String>, msg: impl Into<String>, value: &str) -> Self {
        ServiceError::Invalid {
            location: "body",
            param: param.into(),
            msg: msg.into(),
            value: Some(value.chars().take(128).collect()),
        }
    }

    /// A 409 with its code.
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        debug_assert_eq!(code.status(), 409);
        ServiceError::Conflict {
            code,
            message: message.into(),
        }
    }

    /// Point an error about undecodable input at the field it came from (the X.509
    /// engine knows the structure, not the request field that carried it).
    pub fn about(self, param: &str) -> Self {
        match self {
            ServiceError::Invalid {
                location,
                param: p,
                msg,
                value,
            } if p.is_empty() => ServiceError::Invalid {
                location,
                param: param.to_owned(),
                msg,
                value,
            },
            other => other,
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Cancelled => ServiceError::Cancelled,
            e => ServiceError::Store(e),
        }
    }
}

/// A token outage stays a 503 wherever it surfaces; any other token failure is the token's.
impl From<HsmError> for ServiceError {
    fn from(e: HsmError) -> Self {
        if e.is_transient() {
            ServiceError::TokenUnavailable(e.to_string())
        } else {
            ServiceError::Hsm(e)
        }
    }
}

/// X.509 engine errors: a broken rule is a 400 naming the field; undecodable or unverifiable
/// input is a 400 whose field the caller names with [`ServiceError::about`]; a failure of the
/// signing key keeps the token's class (an outage is a 503); our own encoding failing is a
/// bug.
impl From<X509Error> for ServiceError {
    fn from(e: X509Error) -> Self {
        match e {
            X509Error::Invalid { field, rule } => ServiceError::invalid(field, rule),
            X509Error::Signing(src) => {
                match std::error::Error::source(&src).and_then(|s| s.downcast_ref::<HsmError>()) {
                    Some(h) => h.clone().into(),
                    None => ServiceError::Internal(format!("signing failed: {src}")),
                }
            }
            X509Error::Encoding(m) => ServiceError::Internal(m),
            e @ (X509Error::Malformed { .. }
            | X509Error::TooLarge { .. }
            | X509Error::BadSignature { .. }
            | X509Error::OutsideValidity(_)
            | X509Error::Crypto(_)) => ServiceError::invalid("", e.to_string()),
        }
    }
}

/// COSE/CBOR errors: the client's input is a 400 naming the request field; a broken
/// precondition of ours (salts, the chain, the signature handed in) is a bug.
impl From<crate::cose::CoseError> for ServiceError {
    fn from(e: crate::cose::CoseError) -> Self {
        use crate::cose::CoseError;
        match e {
            CoseError::Invalid { field, message } | CoseError::TooLarge { field, message } => {
                ServiceError::invalid(field, message)
            }
            CoseError::Caller(m) => ServiceError::Internal(format!("mdoc: {m}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undecodable_input_is_pointed_at_its_field() {
        let e: ServiceError = X509Error::malformed("certificate", "bad tag").into();
        let e = e.about("certificatePem");
        match e {
            ServiceError::Invalid { param, .. } => assert_eq!(param, "certificatePem"),
            other => panic!("{other:?}"),
        }
        // A rule violation keeps the field the engine named.
        let e: ServiceError = X509Error::invalid("subjectName.country", "ISO 3166").into();
        match e.about("certificatePem") {
            ServiceError::Invalid { param, .. } => assert_eq!(param, "subjectName.country"),
            other => panic!("{other:?}"),
        }
    }
}
