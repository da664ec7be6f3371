//! Wire types of the digital trust service (MATTR VII `/v1/ecosystems`): ecosystems,
//! participants, the VICAL configuration.

use serde::{Deserialize, Serialize};

/// `POST /v1/ecosystems`. MATTR's `integrations` (external trust sources) are not supported:
/// sending them is a 400 naming the field.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateEcosystemRequest {
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ecosystem {
    pub id: String,
    pub name: String,
}

/// A participant's mobile identifier: an IACA PEM, or `{certificatePem, docTypes}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum MobileIdentifier {
    Pem(String),
    WithDocTypes(MobileIdentifierObject),
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MobileIdentifierObject {
    pub certificate_pem: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc_types: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Identifiers {
    pub mobile: Vec<MobileIdentifier>,
}

/// `POST .../participants`, and `PUT .../participants/{participantId}` (the whole record).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ParticipantRequest {
    pub name: String,
    pub identifiers: Identifiers,
    pub is_issuer: Option<bool>,
    pub is_verifier: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentifiersOut {
    pub mobile: Vec<MobileIdentifierObject>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    pub id: String,
    pub name: String,
    pub identifiers: IdentifiersOut,
    pub is_issuer: bool,
    pub is_verifier: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AutoPublish {
    pub enabled: bool,
    /// `Daily` or `Weekly`.
    pub frequency: String,
}

/// `PUT/GET .../vicals/configuration`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VicalConfiguration {
    pub vical_provider: String,
    pub auto_publish: AutoPublish,
}

/// `POST /v1/ecosystems/{ecosystemId}/vicals`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishedVical {
    #[serde(rename = "vicalIssueID")]
    pub vical_issue_id: i64,
    pub date: String,
}

/// An entry of `GET .../vicals/public`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VicalListEntry {
    #[serde(rename = "vicalIssueID")]
    pub vical_issue_id: i64,
    pub date: String,
    pub filename: String,
    pub is_auto_published: bool,
}
