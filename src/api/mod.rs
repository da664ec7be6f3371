//! Wire types: the JSON shapes of requests and responses, and nothing else.
//!
//! This module depends on no other module of the crate; `http` maps domain values to and from
//! these types.

use serde::Serialize;

pub mod code;
pub mod dts;
pub mod mobile;
mod strict;
pub mod x509;

pub use code::ErrorCode;
pub use strict::StrictJson;

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

/// `POST /v1/keys`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateKeyRequest {
    pub key_id: Option<String>,
    pub algorithm: String,
}

/// A key as returned by the keys API.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Key {
    pub key_id: String,
    /// `{org}.{tenant}.kms.{keyId}`: the walt.id-style path key descriptors accept.
    pub key_id_path: String,
    pub algorithm: String,
    pub public_key_jwk: serde_json::Value,
    pub created_at: String,
}

/// One page of a list: `nextCursor` is absent on the last page.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T: Serialize> {
    pub data: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// An audit event as returned by `GET /v1/audit-events`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub seq: i64,
    pub at: String,
    pub event: String,
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

pub mod ca;
pub use ca::{
    CertificateData, CreateDtsCaRequest, CreateHolderCaRequest, CreateSignerRequest, CreatedSigner,
    RevokeRequest, RevokeResponse, RootCa, Signer, UpdateCaRequest, UpdateSignerRequest,
    WalletAttestation, WalletAttestationRequest,
};
