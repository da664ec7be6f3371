//! Wire types of the mobile credential family (MATTR VII `/v2/credentials/mobile`): IACAs
//! and document signers. Responses of IACAs have the root CA shape (`super::RootCa`).

use serde::{Deserialize, Serialize};

use super::CertificateData;
use super::x509::IssuerAltNameConf;

/// `POST /v2/credentials/mobile/iacas`: managed without `certificatePem`, unmanaged with it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateIacaRequest {
    pub common_name: Option<String>,
    pub country: Option<String>,
    pub state_or_province_name: Option<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub certificate_pem: Option<String>,
    /// Key curve of a managed IACA (default secp256r1); not in MATTR's request.
    pub algorithm: Option<String>,
    /// issuerAltName of a managed IACA (default: the tenant's); walt.id's name and shape.
    pub issuer_alternative_name_conf: Option<IssuerAltNameConf>,
}

/// `POST /v2/credentials/mobile/document-signers`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateDocumentSignerRequest {
    pub iaca_id: String,
}

/// A document signer: the CSR always, the certificate fields once set (uploaded, or issued
/// here for a document signer the daemon provisioned under a managed IACA).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentSigner {
    pub id: String,
    pub iaca_id: String,
    pub active: bool,
    pub csr_pem: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_pem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_data: Option<CertificateData>,
}

/// The `POST` response of a document signer: `{id, iacaId, active, csrPem}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedDocumentSigner {
    pub id: String,
    pub iaca_id: String,
    pub active: bool,
    pub csr_pem: String,
}
