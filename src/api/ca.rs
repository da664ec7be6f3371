//! Wire types of the root CA and signer APIs (seeds 000, 001, 003).

use serde::{Deserialize, Serialize};

pub use super::x509::IssuerAltNameConf;

/// `POST /v1/ecosystems/certificates/ca`: managed without `certificatePem`, unmanaged with it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateDtsCaRequest {
    pub common_name: Option<String>,
    pub country: Option<String>,
    pub organisation_name: Option<String>,
    pub not_after: Option<String>,
    pub not_before: Option<String>,
    pub certificate_pem: Option<String>,
    /// Key algorithm of a managed root (default secp256r1).
    pub algorithm: Option<String>,
    /// issuerAltName of a managed root (default: the tenant's). MATTR's request names no
    /// such field; this is walt.id's name and shape (seed 002), `{uri?, email?}`.
    pub issuer_alternative_name_conf: Option<IssuerAltNameConf>,
}

/// `POST /v1/holder/certificates/ca`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateHolderCaRequest {
    pub common_name: Option<String>,
    pub country: Option<String>,
    pub certificate_pem: Option<String>,
    /// As in [`CreateDtsCaRequest`].
    pub issuer_alternative_name_conf: Option<IssuerAltNameConf>,
}

/// `PUT` of a root: only `active`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateCaRequest {
    pub active: bool,
}

/// `POST` of a signer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateSignerRequest {
    pub ca_id: String,
}

/// `PUT` of a signer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateSignerRequest {
    pub active: Option<bool>,
    pub certificate_pem: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation_name: Option<String>,
    /// An IACA's (mobile credential family).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_or_province_name: Option<String>,
    pub not_after: String,
    pub not_before: String,
}

/// A root CA certificate (seed 003 response).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RootCa {
    pub id: String,
    pub active: bool,
    pub certificate_pem: String,
    pub certificate_fingerprint: String,
    pub certificate_data: CertificateData,
    pub is_managed: bool,
}

/// A signer (seeds 000, 001): the CSR always, the certificate fields once uploaded.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Signer {
    pub id: String,
    pub ca_id: String,
    pub active: bool,
    pub csr_pem: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_pem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_data: Option<CertificateData>,
}

/// The `POST` response of a signer: `{id, csrPem, caId, active}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedSigner {
    pub id: String,
    pub csr_pem: String,
    pub ca_id: String,
    pub active: bool,
}

/// `POST /v1/holder/wallet-attestations`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WalletAttestationRequest {
    pub client_id: String,
    /// The wallet instance's public EC JWK; duplicate keys are refused.
    pub wallet_key: super::StrictJson,
    pub expires_in: Option<u64>,
    pub wallet_name: Option<String>,
    pub wallet_link: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletAttestation {
    /// The compact JWT (`typ` oauth-client-attestation+jwt).
    pub attestation: String,
    pub signer_id: String,
    pub expires_at: String,
}

/// `POST .../{id}/revoke`: `{}` (MATTR's body) or `{reason}`, an RFC 5280 5.3.1 reason name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RevokeRequest {
    pub reason: Option<String>,
}

/// The answer to a revocation (MATTR: `{revoked: true, revocationDate}`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokeResponse {
    pub revoked: bool,
    pub revocation_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The CRL that lists the certificate: `/crl/{crlCaId}.crl`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crl_ca_id: Option<String>,
}
