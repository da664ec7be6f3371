//! The HTTP layer's error: a status, a stable machine-readable code, a safe message.
//!
//! Every error on every route leaves through [`ApiError::into_response`], so every client
//! sees the same shape. Messages are written for clients and carry no internal or token
//! detail; the cause is logged (without secrets) where the error is made.

use hyper::StatusCode;

use crate::api::{ErrorBody, ErrorCode, ErrorDetail};
use crate::service::ServiceError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Vec<ErrorDetail>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// The status is the code's ([`ErrorCode::status`]): one table for both.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn with_detail(
        mut self,
        location: &str,
        param: &str,
        msg: impl Into<String>,
        value: Option<String>,
    ) -> Self {
        self.details.push(ErrorDetail {
            value,
            msg: msg.into(),
            param: param.into(),
            location: location.into(),
        });
        self
    }

    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "No such resource")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            ErrorCode::MethodNotAllowed,
            "Method not allowed on this resource",
        )
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            ErrorCode::PayloadTooLarge,
            format!("Request body exceeds the limit of {limit} bytes"),
        )
    }

    pub fn unavailable(code: ErrorCode, message: impl Into<String>) -> Self {
        debug_assert_eq!(code.status(), 503);
        Self::new(code, message)
    }

    pub fn timeout() -> Self {
        Self::new(
            ErrorCode::RequestTimeout,
            "The request timed out before any of it was done; retry",
        )
    }

    pub fn internal() -> Self {
        Self::new(ErrorCode::InternalError, "An internal error occurred")
    }

    /// The wire body. Every echoed string passes `redact_tokens`: a client that pasted an
    /// API token into a field, a parameter or a path does not get it back in an error.
    pub fn body(&self) -> ErrorBody {
        let r = |s: &str| crate::service::auth::redact_tokens(s).into_owned();
        ErrorBody {
            code: self.code.as_str().to_owned(),
            message: r(&self.message),
            details: self
                .details
                .iter()
                .map(|d| ErrorDetail {
                    value: d.value.as_deref().map(r),
                    msg: r(&d.msg),
                    param: r(&d.param),
                    location: d.location.clone(),
                })
                .collect(),
        }
    }
}

impl ApiError {
    /// Several validation errors as one 400 with a detail each.
    pub fn merge(errors: Vec<ApiError>) -> Option<ApiError> {
        let mut it = errors.into_iter();
        let mut first = it.next()?;
        for e in it {
            first.details.extend(e.details);
        }
        Some(first)
    }
}

/// The one mapping from service errors to statuses and codes. Internal causes are logged
/// here and replaced by a generic message: no token or database detail reaches a client.
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::TokenUnavailable(reason) => {
                tracing::warn!(%reason, "request failed: token unavailable");
                ApiError::unavailable(
                    ErrorCode::TokenUnavailable,
                    "The key store is temporarily unavailable; retry later",
                )
            }
            ServiceError::NotFound(what) => {
                ApiError::new(ErrorCode::NotFound, format!("The {what} was not found"))
            }
            ServiceError::Conflict { code, message } => ApiError::new(code, message),
            ServiceError::Invalid {
                location,
                param,
                msg,
                value,
            } => ApiError::new(ErrorCode::ValidationError, "Request is not valid")
                .with_detail(location, &param, msg, value),
            ServiceError::Hsm(e) => {
                tracing::error!(error = %e, "token error");
                ApiError::new(ErrorCode::TokenError, "The key store refused the operation")
            }
            e @ (ServiceError::Store(_) | ServiceError::Internal(_) | ServiceError::Join) => {
                tracing::error!(error = %e, "internal error");
                ApiError::internal()
            }
            ServiceError::Cancelled => ApiError::timeout(),
            ServiceError::InvalidAll(errors) => {
                ApiError::merge(errors.into_iter().map(ApiError::from).collect())
                    .unwrap_or_else(ApiError::internal)
            }
            ServiceError::NotFoundAt {
                location,
                param,
                msg,
            } => ApiError::new(ErrorCode::NotFound, "No such resource")
                .with_detail(location, &param, msg, None),
        }
    }
}
