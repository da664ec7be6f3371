//! Wire types: the JSON shapes of requests and responses, and nothing else.
//!
//! This module depends on no other module of the crate; `http` maps domain values to and from
//! these types.

use serde::Serialize;

/// The error body of every non-2xx response, as the seeds document it:
/// `{code, message, details: [{value, msg, param, location}]}`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    pub details: Vec<ErrorDetail>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorDetail {
    /// The offending value, when it is safe to echo (never a secret); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub msg: String,
    pub param: String,
    /// Where the value was: `body`, `query`, `path` or `header`.
    pub location: String,
}

/// `GET /healthz`: the process is alive and serving HTTP.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub status: &'static str,
}

/// `GET /readyz` when ready.
#[derive(Debug, Clone, Serialize)]
pub struct Ready {
    pub status: &'static str,
    pub token: &'static str,
    pub database: &'static str,
}
