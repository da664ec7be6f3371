//! The one conversion from the wire requests of the root and signer families
//! (`api::ca`) into this service's inputs. Every rule that needs nothing but the request is
//! checked here, and all broken ones are reported together.

use time::OffsetDateTime;

use crate::api;
use crate::crypto::KeyAlgorithm;

use super::super::ServiceError;
use super::{IssuerAltNameInput, RootRequest, invalid};

fn parse_time(param: &str, v: &Option<String>) -> Result<Option<OffsetDateTime>, ServiceError> {
    match v {
        None => Ok(None),
        Some(s) => OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(Some)
            .map_err(|_| invalid(param, "must be an RFC 3339 date-time", Some(s))),
    }
}

/// Fields that describe a managed root must not accompany an uploaded certificate: those
/// values come from the certificate itself.
fn refuse_with_pem(present: &[(&str, bool)]) -> Result<(), ServiceError> {
    let errors: Vec<ServiceError> = present
        .iter()
        .filter(|(_, p)| *p)
        .map(|(name, _)| {
            invalid(
                name,
                "must not be given with certificatePem: it comes from the certificate",
                None,
            )
        })
        .collect();
    ServiceError::all(errors)
}

fn alt_names(c: api::ca::IssuerAltNameConf) -> IssuerAltNameInput {
    IssuerAltNameInput {
        uri: c.uri,
        email: c.email,
    }
}

pub const ALGORITHMS: &str =
    "must be one of secp256r1, secp384r1, secp521r1, rsa2048, rsa3072, rsa4096";

/// A managed root's `algorithm`, when given; `ec_only` for IACAs (ISO/IEC 18013-5 B.1.1: an
/// IACA key is EC).
fn root_algorithm(a: &Option<String>, ec_only: bool) -> Result<Option<KeyAlgorithm>, ServiceError> {
    let Some(a) = a else { return Ok(None) };
    let rule = if ec_only {
        "must be secp256r1, secp384r1 or secp521r1"
    } else {
        ALGORITHMS
    };
    KeyAlgorithm::from_name(a)
        .filter(|k| !ec_only || k.curve().is_some())
        .map(Some)
        .ok_or_else(|| invalid("algorithm", rule, Some(a)))
}

impl TryFrom<api::CreateDtsCaRequest> for RootRequest {
    type Error = ServiceError;

    fn try_from(b: api::CreateDtsCaRequest) -> Result<Self, ServiceError> {
        if b.certificate_pem.is_some() {
            refuse_with_pem(&[
                ("commonName", b.common_name.is_some()),
                ("country", b.country.is_some()),
                ("organisationName", b.organisation_name.is_some()),
                ("notBefore", b.not_before.is_some()),
                ("notAfter", b.not_after.is_some()),
                ("algorithm", b.algorithm.is_some()),
                (
                    "issuerAlternativeNameConf",
                    b.issuer_alternative_name_conf.is_some(),
                ),
            ])?;
        }
        let algorithm = root_algorithm(&b.algorithm, false)?;
        Ok(RootRequest {
            not_before: parse_time("notBefore", &b.not_before)?,
            not_after: parse_time("notAfter", &b.not_after)?,
            common_name: b.common_name,
            country: b.country,
            organisation_name: b.organisation_name,
            state_or_province: None,
            algorithm,
            certificate_pem: b.certificate_pem,
            issuer_alt_name: b.issuer_alternative_name_conf.map(alt_names),
        })
    }
}

impl TryFrom<api::CreateHolderCaRequest> for RootRequest {
    type Error = ServiceError;

    fn try_from(b: api::CreateHolderCaRequest) -> Result<Self, ServiceError> {
        if b.certificate_pem.is_some() {
            refuse_with_pem(&[
                ("commonName", b.common_name.is_some()),
                ("country", b.country.is_some()),
                (
                    "issuerAlternativeNameConf",
                    b.issuer_alternative_name_conf.is_some(),
                ),
            ])?;
        }
        Ok(RootRequest {
            common_name: b.common_name,
            country: b.country,
            certificate_pem: b.certificate_pem,
            issuer_alt_name: b.issuer_alternative_name_conf.map(alt_names),
            ..Default::default()
        })
    }
}

/// A signer's `caId`. A malformed one names no root: the same 400 as an unknown one.
pub struct SignerRequest {
    pub ca_id: String,
}

impl SignerRequest {
    /// `id` as sent in the field `param` (`caId`, or `iacaId` of a document signer).
    pub fn new(id: &str, param: &str) -> Result<Self, ServiceError> {
        let ca_id = uuid::Uuid::parse_str(id)
            .map(|u| u.to_string())
            .map_err(|_| invalid(param, "must be a UUID", Some(id)))?;
        Ok(SignerRequest { ca_id })
    }
}

impl TryFrom<api::CreateSignerRequest> for SignerRequest {
    type Error = ServiceError;

    fn try_from(b: api::CreateSignerRequest) -> Result<Self, ServiceError> {
        SignerRequest::new(&b.ca_id, "caId")
    }
}

impl TryFrom<api::mobile::CreateDocumentSignerRequest> for SignerRequest {
    type Error = ServiceError;

    fn try_from(b: api::mobile::CreateDocumentSignerRequest) -> Result<Self, ServiceError> {
        SignerRequest::new(&b.iaca_id, "iacaId")
    }
}

impl TryFrom<api::mobile::CreateIacaRequest> for RootRequest {
    type Error = ServiceError;

    fn try_from(b: api::mobile::CreateIacaRequest) -> Result<Self, ServiceError> {
        if b.certificate_pem.is_some() {
            refuse_with_pem(&[
                ("commonName", b.common_name.is_some()),
                ("country", b.country.is_some()),
                ("stateOrProvinceName", b.state_or_province_name.is_some()),
                ("notBefore", b.not_before.is_some()),
                ("notAfter", b.not_after.is_some()),
                ("algorithm", b.algorithm.is_some()),
                (
                    "issuerAlternativeNameConf",
                    b.issuer_alternative_name_conf.is_some(),
                ),
            ])?;
        }
        let algorithm = root_algorithm(&b.algorithm, true)?;
        Ok(RootRequest {
            not_before: parse_time("notBefore", &b.not_before)?,
            not_after: parse_time("notAfter", &b.not_after)?,
            common_name: b.common_name,
            country: b.country,
            state_or_province: b.state_or_province_name,
            algorithm,
            certificate_pem: b.certificate_pem,
            issuer_alt_name: b.issuer_alternative_name_conf.map(alt_names),
            ..Default::default()
        })
    }
}
