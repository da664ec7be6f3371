//! Wire types of the mobile credential family (MATTR VII `/v2/credentials/mobile`): IACAs
//! document signers and status list signers (the document signer's shapes), mdoc
//! revocation, the status list distribution. Responses of IACAs have the root CA shape (`super::RootCa`).

use serde::{Deserialize, Serialize};

use super::x509::IssuerAltNameConf;
use super::{CertificateData, StrictJson};

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

/// `POST /v2/credentials/mobile/sign` (MATTR "Sign an mDoc").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignMdocRequest {
    /// Without it, the current document signer of the tenant's one active managed IACA.
    pub document_signer_id: Option<String>,
    pub payload: MdocPayload,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MdocPayload {
    pub doc_type: String,
    pub device_key_info: DeviceKeyInfo,
    pub validity_info: ValidityInfo,
    /// `{namespace: {element: {type, value}}}`; duplicate keys are refused.
    pub items_to_sign: StrictJson,
    /// MATTR's display branding: accepted for compatibility and not signed (it is not part
    /// of an ISO/IEC 18013-5 IssuerSigned structure).
    pub branding: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeviceKeyInfo {
    /// A public EC JWK; duplicate keys are refused.
    pub device_key: StrictJson,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ValidityInfo {
    pub valid_from: String,
    pub valid_until: String,
    pub expected_update: Option<String>,
}

/// The signed mdoc: `encoded` is base64url of the IssuerSigned CBOR. `credentialId` (not in
/// MATTR's sign response; MATTR's name for an mdoc's id) is what the revoke route takes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedMdoc {
    pub encoded: String,
    pub decoded: serde_json::Value,
    pub credential_id: String,
}

/// `POST /v2/credentials/mobile/mdocs/{credentialId}/revoke`: `{}` (MATTR's revoke routes
/// take a JSON object; there is nothing to say, and any member is refused). A map, not an
/// empty struct: serde would take `[]` for one.
pub type RevokeMdocRequest = serde_json::Map<String, serde_json::Value>;

/// `POST /v2/credentials/mobile/mdocs/{credentialId}/revoke`: the shape MATTR answers a
/// signer revocation with.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Revoked {
    pub revoked: bool,
    pub revocation_date: String,
}

/// `GET /v2/credentials/mobile/status-lists/distribution` (MATTR's draft-14 shape).
#[derive(Debug, Clone, Serialize)]
pub struct StatusListDistribution {
    pub status_lists: Vec<String>,
}

/// `POST /v2/credentials/mobile/sign-mso`: an MSO the client built (isomdl's `prepare`
/// flow), base64url CBOR, bare or as MobileSecurityObjectBytes (tag 24).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignMsoRequest {
    pub document_signer_id: Option<String>,
    pub mso: String,
    /// When given, the MSO's docType must equal it.
    pub doc_type: Option<String>,
}

/// The IssuerAuth COSE_Sign1 (untagged, as in an IssuerSigned), base64url.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedMso {
    pub issuer_auth: String,
}
