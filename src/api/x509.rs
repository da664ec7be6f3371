//! Wire types of the X.509 service (`/v1/{target}/x509-service-api/...`) and the X.509 store
//! (`/v1/{store}/x509-store-api/...`), in walt.id's shapes (seeds 002 and 004).
//!
//! Discriminated objects (`{"type": "...", ...}`) are flat structs with a `type` string rather
//! than serde's internally tagged enums: those buffer the whole object in an intermediate
//! tree first, which would copy a private JWK's `d` into memory nobody zeroizes. Flat
//! structs decode straight into [`Secret`], and error paths name the exact field.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A secret JWK member (`d`, `p`, ...): zeroized on drop, `***` in Debug, no Display, never
/// serialized.
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The decoded String moves into the zeroizing wrapper; no copy is left behind.
        String::deserialize(d).map(|s| Secret(Zeroizing::new(s)))
    }
}

/// A JSON Web Key (RFC 7517, RFC 7518 section 6): public members, and for a signing key the
/// private ones, held as [`Secret`]s.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Jwk {
    pub kty: String,
    pub crv: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
    pub n: Option<String>,
    pub e: Option<String>,
    pub d: Option<Secret>,
    pub p: Option<Secret>,
    pub q: Option<Secret>,
    pub dp: Option<Secret>,
    pub dq: Option<Secret>,
    pub qi: Option<Secret>,
    pub kid: Option<String>,
    pub alg: Option<String>,
    #[serde(rename = "use")]
    pub use_: Option<String>,
    pub key_ops: Option<Vec<String>>,
}

impl std::fmt::Debug for Jwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.kty)
            .field("crv", &self.crv)
            .field("private", &self.d.is_some())
            .finish_non_exhaustive()
    }
}

/// `kms-hosted-key-descriptor` (`keyIdPath`) or `jwk-encoded-key-descriptor` (`jwk`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeyDescriptor {
    #[serde(rename = "type")]
    pub kind: String,
    pub key_id_path: Option<String>,
    pub jwk: Option<Jwk>,
}

/// `issuerAlternativeNameConf`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IssuerAltNameConf {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `certificateData` of an IACA (request and response).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IacaCertificateData {
    pub country: String,
    pub common_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_or_province_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer_alternative_name_conf: Option<IssuerAltNameConf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crl_distribution_point_uri: Option<String>,
}

/// `POST /v1/{target}/x509-service-api/iso/iacas`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateIacaRequest {
    pub certificate_data: IacaCertificateData,
    pub iaca_key_desc: KeyDescriptor,
    pub stored_certificate_id: Option<String>,
    pub vical_entry_complementary_metadata: Option<serde_json::Value>,
}

/// `iacaSigner`: `iaca-cert-data-descriptor` (certificateData) or `iaca-pem-cert-descriptor`
/// (certificatePEM); both with the IACA's key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IacaSigner {
    #[serde(rename = "type")]
    pub kind: String,
    pub iaca_key_desc: KeyDescriptor,
    pub certificate_data: Option<IacaCertificateData>,
    #[serde(rename = "certificatePEM")]
    pub certificate_pem: Option<String>,
}

/// `certificateData` of a Document Signer (request and response).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DsCertificateData {
    pub country: String,
    pub common_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_or_province_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// Required (ISO/IEC 18013-5 Table B.3) unless the IACA key's CRL is published here:
    /// then `{public.base_url}/crl/{caId}.crl` by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crl_distribution_point_uri: Option<String>,
}

/// `dsPublicKeySource` / `subjectPublicKeySource`: `key-descriptor` or `csr`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PublicKeySource {
    #[serde(rename = "type")]
    pub kind: String,
    pub key_descriptor: Option<KeyDescriptor>,
    #[serde(rename = "csrPEM")]
    pub csr_pem: Option<String>,
}

/// `POST /v1/{target}/x509-service-api/iso/document-signers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateDocumentSignerRequest {
    pub iaca_signer: IacaSigner,
    pub certificate_data: DsCertificateData,
    pub ds_public_key_source: Option<PublicKeySource>,
    /// Legacy; mutually exclusive with `dsPublicKeySource`.
    pub ds_key_descriptor: Option<KeyDescriptor>,
    pub stored_certificate_id: Option<String>,
}

/// IACA and Document Signer responses.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IsoCertificateResponse<D: Serialize> {
    #[serde(rename = "certificatePEM")]
    pub certificate_pem: String,
    pub stored_certificate_ids: Vec<String>,
    pub certificate_data: D,
}

/// Distinguished name fields (`subjectName`, `issuerName`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NameFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizational_unit_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_or_province_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality_name: Option<String>,
}

/// `subjectAlternativeNames`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AltNamesData {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<String>,
}

/// `certificateData` of a generic certificate request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GenericCertificateData {
    pub subject_name: NameFields,
    pub issuer_name: Option<NameFields>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub is_certificate_authority: Option<bool>,
    pub path_length_constraint: Option<u8>,
    pub key_usage: Option<Vec<String>>,
    pub extended_key_usage_oids: Option<Vec<String>>,
    pub subject_alternative_names: Option<AltNamesData>,
    pub crl_distribution_point_uri: Option<String>,
}

/// `issuer`: `self-signed`, or `ca-signed` with `issuerKeyDescriptor`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IssuerConf {
    #[serde(rename = "type")]
    pub kind: String,
    pub issuer_key_descriptor: Option<KeyDescriptor>,
}

/// `POST /v1/{target}/x509-service-api/certificate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateCertificateRequest {
    pub certificate_data: GenericCertificateData,
    pub subject_public_key_source: PublicKeySource,
    pub issuer: IssuerConf,
    pub stored_certificate_id: Option<String>,
}

/// `certificateData` of a generic certificate response: what the certificate carries.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenericCertificateDataOut {
    pub subject_name: NameFields,
    pub issuer_name: NameFields,
    pub not_before: String,
    pub not_after: String,
    pub is_certificate_authority: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_length_constraint: Option<u8>,
    pub key_usage: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extended_key_usage_oids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_alternative_names: Option<AltNamesData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crl_distribution_point_uri: Option<String>,
    pub public_key_jwk: serde_json::Value,
}

/// Generic certificate response.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenericCertificateResponse {
    pub stored_certificate_ids: Vec<String>,
    #[serde(rename = "certificatePEM")]
    pub certificate_pem: String,
    pub certificate_data: GenericCertificateDataOut,
}

/// `POST /v1/{target}/x509-service-api/csrs`: `type` `generic` or `iso-document-signer`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateCsrRequest {
    #[serde(rename = "type")]
    pub kind: String,
    pub subject_key_descriptor: KeyDescriptor,
    pub subject_name: NameFields,
    pub subject_alternative_names: Option<AltNamesData>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CsrData {
    pub subject_name: NameFields,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_alternative_names: Option<AltNamesData>,
    pub public_key_jwk: serde_json::Value,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CsrResponse {
    #[serde(rename = "csrPEM")]
    pub csr_pem: String,
    pub csr_data: CsrData,
}

/// A certificate in the X.509 store.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredCertificate {
    /// `{org}.{tenant}.{storeId}.{id}`.
    pub stored_certificate_id: String,
    /// `base` or `vical-entry`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "certificatePEM")]
    pub certificate_pem: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vical_entry_complementary_metadata: Option<serde_json::Value>,
    pub subject: String,
    pub issuer: String,
    pub serial_number: String,
    pub not_before: String,
    pub not_after: String,
    pub fingerprint_sha256: String,
    pub created_at: String,
}
