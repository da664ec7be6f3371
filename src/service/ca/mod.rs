//! Root CAs and signers: DTS roots with their VICAL signers (seeds 003 and 001), holder roots
//! with their wallet attestation signers (seed 000), IACAs with their document signers (the
//! mobile credential family, `/v2/credentials/mobile`).
//!
//! Both root families and both signer families follow one lifecycle; a [`RootFamily`] or
//! [`SignerFamily`] value carries what differs (event names, limits, key names, profile).
//!
//! Every state change runs through the operation runner (`op::run`): a key is generated in
//! the token, then recorded (key row with its purpose, root or signer row, audit events,
//! ledger rows: one transaction); if recording fails the key is destroyed. Deletion removes
//! the records first and the token keys second. Every rule that can be checked without the
//! token is checked before a key is generated, so a refused request leaves the token
//! untouched. `roots.rs` and `signers.rs` hold the two lifecycles; this file what they share.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::api::ErrorCode;
use crate::crypto::KeyAlgorithm;
use crate::store::{CaRecord, SignerLimit, SignerRecord};
use crate::x509::{ParsedCertificate, ParsedCsr, SignerProfile};

use super::{App, KeyPurpose, OpContext, ServiceError};

mod roots;
mod signers;
mod wire;

pub use roots::{create_root, delete_root, holder_root_crl, set_root_active};
pub(crate) use signers::{commit_provisioned, signer_algorithm};
pub use signers::{create_signer, delete_signer, update_signer};
pub use wire::{ALGORITHMS, SignerRequest};

/// Allowance for the client's clock: a `notBefore` up to this far in the past still counts
/// as "now" (the request spent time in flight, and clocks drift).
pub const CLOCK_SKEW: time::Duration = time::Duration::minutes(5);

/// Longest root lifetime, and the default one (seed 003).
pub const ROOT_MAX_YEARS: i32 = 20;

/// A managed IACA's default validity (MATTR: 10 years; at most [`ROOT_MAX_YEARS`]).
pub const IACA_DEFAULT_YEARS: i32 = 10;

/// At most this many roots per tenant and family (seed 003; the issue for holder roots).
pub const ROOT_LIMIT: usize = 3;

/// VICAL signers per tenant (seed 001) and wallet attestation signers per root (seed 000).
pub const SIGNER_LIMIT: usize = 5;

/// Status list signers per tenant (MATTR: "a maximum of three").
pub const STATUS_LIST_SIGNER_LIMIT: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootFamily {
    /// `/v1/ecosystems/certificates/ca`: signs VICAL signers.
    Dts,
    /// `/v1/holder/certificates/ca`: signs wallet attestation signers.
    Holder,
    /// `/v2/credentials/mobile/iacas`: signs document signers (ISO/IEC 18013-5 Annex B).
    Iaca,
}

impl RootFamily {
    pub fn kind(self) -> &'static str {
        match self {
            RootFamily::Dts => "dts",
            RootFamily::Holder => "holder",
            RootFamily::Iaca => "iaca",
        }
    }

    /// Event name prefix: `<prefix>_CREATE_START` etc.
    pub fn event(self) -> &'static str {
        match self {
            RootFamily::Dts => "ECOSYSTEM_DTS_CA_CERTIFICATE",
            RootFamily::Holder => "CREDENTIAL_HOLDER_CA_CERTIFICATE",
            RootFamily::Iaca => "MOBILE_CREDENTIAL_IACA",
        }
    }

    /// The purpose of the family's managed root keys.
    pub fn purpose(self) -> KeyPurpose {
        match self {
            RootFamily::Dts => KeyPurpose::DtsRoot,
            RootFamily::Holder => KeyPurpose::HolderRoot,
            RootFamily::Iaca => KeyPurpose::MobileIaca,
        }
    }

    fn key_prefix(self) -> &'static str {
        match self {
            RootFamily::Dts => "dts-ca-",
            RootFamily::Holder => "holder-ca-",
            RootFamily::Iaca => "iaca-",
        }
    }

    fn what(self) -> &'static str {
        match self {
            RootFamily::Dts => "DTS root CA certificate",
            RootFamily::Holder => "holder root CA certificate",
            RootFamily::Iaca => "IACA",
        }
    }

    /// The family's signers, for messages.
    fn signers(self) -> &'static str {
        match self {
            RootFamily::Dts => "VICAL signer(s)",
            RootFamily::Holder => "wallet attestation signer(s)",
            RootFamily::Iaca => "document signer(s)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignerFamily {
    /// `/v1/ecosystems/certificates/vical-signers` under DTS roots.
    Vical,
    /// `/v1/holder/certificates/wallet-attestation-signers` under holder roots.
    Wallet,
    /// `/v2/credentials/mobile/document-signers` under IACAs.
    Document,
    /// `/v2/credentials/mobile/status-list-signers` under IACAs: they sign the Status List
    /// Tokens of the IACA's mdocs (MATTR: under the IACA of the credentials they cover).
    StatusList,
}

impl SignerFamily {
    pub fn kind(self) -> &'static str {
        match self {
            SignerFamily::Vical => "vical",
            SignerFamily::Wallet => "wallet",
            SignerFamily::Document => "document",
            SignerFamily::StatusList => "status-list",
        }
    }

    pub fn event(self) -> &'static str {
        match self {
            SignerFamily::Vical => "ECOSYSTEM_VICAL_SIGNER_CERTIFICATE",
            SignerFamily::Wallet => "CREDENTIAL_HOLDER_WALLET_ATTESTATION_SIGNER_CERTIFICATE",
            SignerFamily::Document => "MOBILE_CREDENTIAL_DOCUMENT_SIGNER",
            SignerFamily::StatusList => "MOBILE_CREDENTIAL_STATUS_LIST_SIGNER",
        }
    }

    /// The request field that names the signer's root.
    pub fn root_param(self) -> &'static str {
        match self {
            SignerFamily::Document | SignerFamily::StatusList => "iacaId",
            _ => "caId",
        }
    }

    pub fn root(self) -> RootFamily {
        match self {
            SignerFamily::Vical => RootFamily::Dts,
            SignerFamily::Wallet => RootFamily::Holder,
            SignerFamily::Document | SignerFamily::StatusList => RootFamily::Iaca,
        }
    }

    fn limit(self) -> SignerLimit {
        match self {
            SignerFamily::Vical => SignerLimit::PerTenant(SIGNER_LIMIT),
            // MATTR: at most five per tenant, where IACAs are unmanaged; those the daemon
            // provisions under a managed IACA are its own to rotate.
            SignerFamily::Document => SignerLimit::PerTenantUnmanaged(SIGNER_LIMIT),
            SignerFamily::Wallet => SignerLimit::PerRoot(SIGNER_LIMIT),
            // MATTR: at most three per tenant, a rule of unmanaged IACAs (the only ones its
            // route serves); the ones provisioned under managed IACAs rotate like their
            // document signers.
            SignerFamily::StatusList => SignerLimit::PerTenantUnmanaged(STATUS_LIST_SIGNER_LIMIT),
        }
    }

    /// The purpose of the family's signer keys.
    pub fn purpose(self) -> KeyPurpose {
        match self {
            SignerFamily::Vical => KeyPurpose::VicalSigner,
            SignerFamily::Wallet => KeyPurpose::WalletSigner,
            SignerFamily::Document => KeyPurpose::MobileDocumentSigner,
            SignerFamily::StatusList => KeyPurpose::MobileStatusListSigner,
        }
    }

    fn key_prefix(self) -> &'static str {
        match self {
            SignerFamily::Vical => "vical-signer-",
            SignerFamily::Wallet => "wallet-signer-",
            SignerFamily::Document => "document-signer-",
            SignerFamily::StatusList => "status-list-signer-",
        }
    }

    /// The profile an uploaded certificate is checked against; `None`: the document
    /// signer's, ISO/IEC 18013-5 Table B.3, checked against its IACA (`x509::iso`).
    fn profile(self) -> Option<SignerProfile> {
        match self {
            SignerFamily::Vical => Some(SignerProfile::Vical),
            SignerFamily::Wallet => Some(SignerProfile::WalletAttestation),
            SignerFamily::Document => None,
            SignerFamily::StatusList => Some(SignerProfile::StatusList),
        }
    }

    pub(crate) fn what(self) -> &'static str {
        match self {
            SignerFamily::Vical => "VICAL signer",
            SignerFamily::Wallet => "wallet attestation signer",
            SignerFamily::Document => "document signer",
            SignerFamily::StatusList => "status list signer",
        }
    }
}

/// `POST` of a root: managed when `certificate_pem` is `None`.
#[derive(Debug, Clone, Default)]
pub struct RootRequest {
    pub common_name: Option<String>,
    pub country: Option<String>,
    pub organisation_name: Option<String>,
    /// An IACA's stateOrProvinceName.
    pub state_or_province: Option<String>,
    pub not_before: Option<OffsetDateTime>,
    pub not_after: Option<OffsetDateTime>,
    pub algorithm: Option<KeyAlgorithm>,
    pub certificate_pem: Option<String>,
    /// `issuerAlternativeNameConf` of a managed root; `None`: the tenant's default.
    pub issuer_alt_name: Option<IssuerAltNameInput>,
}

/// `issuerAlternativeNameConf`: `{uri?, email?}` (walt.id's shape, seed 002).
#[derive(Debug, Clone, Default)]
pub struct IssuerAltNameInput {
    pub uri: Option<String>,
    pub email: Option<String>,
}

/// The subject and validity of a certificate, as the API shows them.
#[derive(Debug, Clone)]
pub struct CertData {
    pub common_name: Option<String>,
    pub country: Option<String>,
    pub organisation_name: Option<String>,
    pub state_or_province: Option<String>,
    pub not_before: String,
    pub not_after: String,
}

#[derive(Debug, Clone)]
pub struct CertView {
    pub pem: String,
    pub fingerprint: String,
    pub data: CertData,
}

#[derive(Debug, Clone)]
pub struct RootView {
    pub id: String,
    pub active: bool,
    pub certificate: CertView,
    pub is_managed: bool,
}

#[derive(Debug, Clone)]
pub struct SignerView {
    pub id: String,
    pub ca_id: String,
    pub active: bool,
    pub csr_pem: String,
    pub certificate: Option<CertView>,
}

pub(super) fn invalid(param: &str, msg: impl Into<String>, value: Option<&str>) -> ServiceError {
    match value {
        Some(v) => ServiceError::invalid_value(param, msg, v),
        None => ServiceError::invalid(param, msg),
    }
}

pub(crate) fn limit_reached(msg: String) -> ServiceError {
    ServiceError::conflict(ErrorCode::LimitReached, msg)
}

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

pub(super) fn cert_view(cert: &ParsedCertificate) -> Result<CertView, ServiceError> {
    let subject = cert.subject()?;
    Ok(CertView {
        pem: cert.to_pem()?,
        fingerprint: cert.fingerprint_sha256(),
        data: CertData {
            common_name: subject.common_name,
            country: subject.country,
            organisation_name: subject.organization,
            state_or_province: subject.state_or_province,
            not_before: rfc3339(cert.not_before()),
            not_after: rfc3339(cert.not_after()),
        },
    })
}

pub(crate) fn stored_cert(der: &[u8]) -> Result<ParsedCertificate, ServiceError> {
    ParsedCertificate::from_der(der)
        .map_err(|e| ServiceError::Internal(format!("stored certificate: {e}")))
}

pub(super) fn root_view(r: &CaRecord) -> Result<RootView, ServiceError> {
    Ok(RootView {
        id: r.id.clone(),
        active: r.active,
        certificate: cert_view(&stored_cert(&r.certificate_der)?)?,
        is_managed: r.key_label.is_some(),
    })
}

pub(super) fn signer_view(r: &SignerRecord) -> Result<SignerView, ServiceError> {
    let csr = ParsedCsr::from_der(&r.csr_der)
        .map_err(|e| ServiceError::Internal(format!("stored CSR: {e}")))?;
    let certificate = match &r.certificate_der {
        Some(der) => Some(cert_view(&stored_cert(der)?)?),
        None => None,
    };
    Ok(SignerView {
        id: r.id.clone(),
        ca_id: r.ca_id.clone(),
        active: r.active,
        csr_pem: csr.to_pem()?,
        certificate,
    })
}

/// `t` plus `years` calendar years (29 February becomes 28 February).
pub(super) fn plus_years(t: OffsetDateTime, years: i32) -> OffsetDateTime {
    let y = t.year() + years;
    t.replace_year(y)
        .or_else(|_| (t - time::Duration::days(1)).replace_year(y))
        .unwrap_or(t)
}

pub async fn get_root(
    app: &Arc<App>,
    ctx: &OpContext,
    family: RootFamily,
    id: String,
) -> Result<RootView, ServiceError> {
    let name = format!("{}_RETRIEVE", family.event());
    let id2 = id.clone();
    super::read(
        app,
        ctx,
        &name,
        Some(&id),
        move |store, tenant| match store.get_ca(tenant, family.kind(), &id2)? {
            Some(r) => root_view(&r),
            None => Err(ServiceError::NotFound(family.what())),
        },
    )
    .await
}

pub async fn list_roots(
    app: &Arc<App>,
    ctx: &OpContext,
    family: RootFamily,
    after: i64,
    limit: usize,
) -> Result<(Vec<RootView>, Option<i64>), ServiceError> {
    let name = format!("{}_RETRIEVE_LIST", family.event());
    super::read(app, ctx, &name, None, move |store, tenant| {
        let rows = store.list_cas(tenant, family.kind(), after, limit + 1)?;
        super::page(rows, limit, root_view)
    })
    .await
}

pub async fn get_signer(
    app: &Arc<App>,
    ctx: &OpContext,
    family: SignerFamily,
    id: String,
) -> Result<SignerView, ServiceError> {
    let name = format!("{}_RETRIEVE", family.event());
    let id2 = id.clone();
    super::read(
        app,
        ctx,
        &name,
        Some(&id),
        move |store, tenant| match store.get_signer(tenant, family.kind(), &id2)? {
            Some(r) => signer_view(&r),
            None => Err(ServiceError::NotFound(family.what())),
        },
    )
    .await
}

pub async fn list_signers(
    app: &Arc<App>,
    ctx: &OpContext,
    family: SignerFamily,
    after: i64,
    limit: usize,
) -> Result<(Vec<SignerView>, Option<i64>), ServiceError> {
    let name = format!("{}_RETRIEVE_LIST", family.event());
    super::read(app, ctx, &name, None, move |store, tenant| {
        let rows = store.list_signers(tenant, family.kind(), after, limit + 1)?;
        super::page(rows, limit, signer_view)
    })
    .await
}
