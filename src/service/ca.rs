//! Root CAs and signers: DTS roots with their VICAL signers (seeds 003 and 001), holder roots
//! with their wallet attestation signers (seed 000).
//!
//! Both root families and both signer families follow one lifecycle; a [`RootFamily`] or
//! [`SignerFamily`] value carries what differs (event names, limits, key names, profile).
//!
//! Token and database stay consistent as in the keys API: a key is generated in the token,
//! then recorded (key row, root or signer row, audit events: one transaction); if recording
//! fails the key is destroyed. Deletion removes the records first and the token keys second.
//! Every rule that can be checked without the token is checked before a key is generated, so
//! a refused request leaves the token untouched.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::crypto::KeyAlgorithm;
use crate::hsm::{HsmError, Token};
use crate::store::{
    CaDeletion, CaRecord, KeyRecord, SignerLimit, SignerRecord, StoreError, TenantRecord,
};
use crate::x509::{
    self, AltNames, CsrSpec, DnFields, KeyUsageName, ParsedCertificate, ParsedCsr, RootCaSpec,
    SignerProfile, StringEncoding, X509Error,
};

use super::{App, OpContext, ServiceError, now_rfc3339};

/// Allowance for the client's clock: a `notBefore` up to this far in the past still counts
/// as "now" (the request spent time in flight, and clocks drift).
pub const CLOCK_SKEW: time::Duration = time::Duration::minutes(5);

/// Longest root lifetime, and the default one (seed 003).
pub const ROOT_MAX_YEARS: i32 = 20;

/// At most this many roots per tenant and family (seed 003; the issue for holder roots).
pub const ROOT_LIMIT: usize = 3;

/// VICAL signers per tenant (seed 001) and wallet attestation signers per root (seed 000).
pub const SIGNER_LIMIT: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootFamily {
    /// `/v1/ecosystems/certificates/ca`: signs VICAL signers.
    Dts,
    /// `/v1/holder/certificates/ca`: signs wallet attestation signers.
    Holder,
}

impl RootFamily {
    pub fn kind(self) -> &'static str {
        match self {
            RootFamily::Dts => "dts",
            RootFamily::Holder => "holder",
        }
    }

    /// Event name prefix: `<prefix>_CREATE_START` etc.
    pub fn event(self) -> &'static str {
        match self {
            RootFamily::Dts => "ECOSYSTEM_DTS_CA_CERTIFICATE",
            RootFamily::Holder => "CREDENTIAL_HOLDER_CA_CERTIFICATE",
        }
    }

    fn key_prefix(self) -> &'static str {
        match self {
            RootFamily::Dts => "dts-ca-",
            RootFamily::Holder => "holder-ca-",
        }
    }

    fn what(self) -> &'static str {
        match self {
            RootFamily::Dts => "DTS root CA certificate",
            RootFamily::Holder => "holder root CA certificate",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignerFamily {
    /// `/v1/ecosystems/certificates/vical-signers` under DTS roots.
    Vical,
    /// `/v1/holder/certificates/wallet-attestation-signers` under holder roots.
    Wallet,
}

impl SignerFamily {
    pub fn kind(self) -> &'static str {
        match self {
            SignerFamily::Vical => "vical",
            SignerFamily::Wallet => "wallet",
        }
    }

    pub fn event(self) -> &'static str {
        match self {
            SignerFamily::Vical => "ECOSYSTEM_VICAL_SIGNER_CERTIFICATE",
            SignerFamily::Wallet => "CREDENTIAL_HOLDER_WALLET_ATTESTATION_SIGNER_CERTIFICATE",
        }
    }

    pub fn root(self) -> RootFamily {
        match self {
            SignerFamily::Vical => RootFamily::Dts,
            SignerFamily::Wallet => RootFamily::Holder,
        }
    }

    fn limit(self) -> SignerLimit {
        match self {
            SignerFamily::Vical => SignerLimit::PerTenant(SIGNER_LIMIT),
            SignerFamily::Wallet => SignerLimit::PerRoot(SIGNER_LIMIT),
        }
    }

    fn key_prefix(self) -> &'static str {
        match self {
            SignerFamily::Vical => "vical-signer-",
            SignerFamily::Wallet => "wallet-signer-",
        }
    }

    fn profile(self) -> SignerProfile {
        match self {
            SignerFamily::Vical => SignerProfile::Vical,
            SignerFamily::Wallet => SignerProfile::WalletAttestation,
        }
    }

    fn what(self) -> &'static str {
        match self {
            SignerFamily::Vical => "VICAL signer",
            SignerFamily::Wallet => "wallet attestation signer",
        }
    }
}

/// `POST` of a root: managed when `certificate_pem` is `None`.
#[derive(Debug, Clone, Default)]
pub struct RootRequest {
    pub common_name: Option<String>,
    pub country: Option<String>,
    pub organisation_name: Option<String>,
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

fn invalid(param: &str, msg: impl Into<String>, value: Option<&str>) -> ServiceError {
    ServiceError::Invalid {
        location: "body",
        param: param.to_owned(),
        msg: msg.into(),
        value: value.map(|v| v.chars().take(128).collect()),
    }
}

fn limit_reached(msg: String) -> ServiceError {
    ServiceError::Conflict {
        code: "LimitReached",
        message: msg,
    }
}

/// X.509 engine errors: a broken rule is a 400 naming the field; a signing failure is the
/// token's (an outage stays a 503); anything else is ours.
fn x509_error(e: X509Error) -> ServiceError {
    match e {
        X509Error::Invalid { field, rule } => invalid(&field, rule, None),
        X509Error::Signing(src) => {
            match std::error::Error::source(&src).and_then(|s| s.downcast_ref::<HsmError>()) {
                Some(h) if h.is_transient() => ServiceError::TokenUnavailable(h.to_string()),
                _ => ServiceError::Internal(format!("signing failed: {src}")),
            }
        }
        other => ServiceError::Internal(other.to_string()),
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

fn cert_view(cert: &ParsedCertificate) -> Result<CertView, ServiceError> {
    let subject = cert.subject().map_err(x509_error)?;
    Ok(CertView {
        pem: cert.to_pem().map_err(x509_error)?,
        fingerprint: cert.fingerprint_sha256(),
        data: CertData {
            common_name: subject.common_name,
            country: subject.country,
            organisation_name: subject.organization,
            not_before: rfc3339(cert.not_before()),
            not_after: rfc3339(cert.not_after()),
        },
    })
}

fn stored_cert(der: &[u8]) -> Result<ParsedCertificate, ServiceError> {
    ParsedCertificate::from_der(der)
        .map_err(|e| ServiceError::Internal(format!("stored certificate: {e}")))
}

fn root_view(r: &CaRecord) -> Result<RootView, ServiceError> {
    Ok(RootView {
        id: r.id.clone(),
        active: r.active,
        certificate: cert_view(&stored_cert(&r.certificate_der)?)?,
        is_managed: r.key_label.is_some(),
    })
}

fn signer_view(r: &SignerRecord) -> Result<SignerView, ServiceError> {
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
        csr_pem: csr.to_pem().map_err(x509_error)?,
        certificate,
    })
}

/// `t` plus `years` calendar years (29 February becomes 28 February).
fn plus_years(t: OffsetDateTime, years: i32) -> OffsetDateTime {
    let y = t.year() + years;
    t.replace_year(y)
        .or_else(|_| (t - time::Duration::days(1)).replace_year(y))
        .unwrap_or(t)
}

fn destroy_quietly(token: &Token, label: &str) {
    if let Err(d) = token.destroy(label) {
        tracing::error!(%label, error = %d, "could not destroy a token key that is no longer recorded");
    }
}

/// The subject and validity of a managed root, from the request and the tenant's defaults.
/// Every rule is checked here, before any key exists.
fn managed_root_spec(
    family: RootFamily,
    req: &RootRequest,
    tenant_id: &str,
    tenant: Option<&TenantRecord>,
    now: OffsetDateTime,
) -> Result<RootCaSpec, ServiceError> {
    let domain = tenant.and_then(|t| t.domain.as_deref());
    let common_name = match &req.common_name {
        Some(cn) => {
            // Seed 003: "must be a valid PrintableString and cannot be an empty string".
            if cn.trim().is_empty() || cn.chars().count() > 64 || !x509::is_printable_string(cn) {
                return Err(invalid(
                    "commonName",
                    "must be a non-empty PrintableString of at most 64 characters",
                    Some(cn),
                ));
            }
            cn.clone()
        }
        None => match (family, domain) {
            (RootFamily::Dts, Some(d)) => format!("{d} DTS CA"),
            (RootFamily::Holder, Some(d)) => format!("{d} Wallet Attestation"),
            (_, None) => tenant_id.to_owned(),
        },
    };
    let country = match (&req.country, tenant.and_then(|t| t.country.as_deref())) {
        (Some(c), _) => {
            if !x509::is_iso3166_alpha2(c) {
                return Err(invalid(
                    "country",
                    "must be an ISO 3166-1 alpha-2 country code",
                    Some(c),
                ));
            }
            c.clone()
        }
        (None, Some(c)) => c.to_owned(),
        (None, None) => {
            return Err(invalid(
                "country",
                "is required: this tenant has no default country configured \
                 (set one with `hsm-pki tenant set --country`)",
                None,
            ));
        }
    };
    let organization = match family {
        RootFamily::Dts => match &req.organisation_name {
            Some(o) if !o.trim().is_empty() && o.chars().count() <= 64 => Some(o.clone()),
            Some(o) => {
                return Err(invalid(
                    "organisationName",
                    "must be 1 to 64 characters",
                    Some(o),
                ));
            }
            None => return Err(invalid("organisationName", "is required", None)),
        },
        RootFamily::Holder => None,
    };
    let not_before = match req.not_before {
        Some(nb) if nb < now - CLOCK_SKEW => {
            return Err(invalid(
                "notBefore",
                "must not be in the past (5 minutes of clock skew are allowed)",
                Some(&rfc3339(nb)),
            ));
        }
        Some(nb) => nb,
        None => now,
    };
    let latest = plus_years(now, ROOT_MAX_YEARS);
    let not_after = match req.not_after {
        Some(na) if na <= not_before => {
            return Err(invalid(
                "notAfter",
                "must be after notBefore",
                Some(&rfc3339(na)),
            ));
        }
        Some(na) if na > latest => {
            return Err(invalid(
                "notAfter",
                "must be at most 20 years from creation",
                Some(&rfc3339(na)),
            ));
        }
        Some(na) => na,
        // notBefore + 20 years, capped at the maximum (20 years from creation).
        None => plus_years(not_before, ROOT_MAX_YEARS).min(latest),
    };
    let issuer_alt_names = managed_root_issuer_alt_names(req, tenant)?;
    let printable = x509::is_printable_string(&common_name)
        && organization
            .as_deref()
            .is_none_or(x509::is_printable_string);
    Ok(RootCaSpec {
        subject: DnFields {
            common_name: Some(common_name),
            country: Some(country),
            organization,
            ..Default::default()
        },
        string_encoding: if printable {
            StringEncoding::Printable
        } else {
            StringEncoding::Utf8
        },
        not_before,
        not_after,
        // The root certifies only end-entity signers (RFC 5280 4.2.1.9).
        path_len: Some(0),
        digital_signature: false,
        issuer_alt_names: Some(issuer_alt_names),
        crl_distribution_point_uri: None,
    })
}

/// ISO/IEC 18013-5 B.1.2 (the IACA profile, followed for every root here): issuerAltName
/// carries "an email address or a URL" of the issuer. Uploaded roots must have one
/// (`x509::check_uploaded_root`), so managed roots carry one too: from the request, else from
/// the tenant's defaults (`hsm-pki tenant set --issuer-alt-uri/--issuer-alt-email`), else
/// the request is refused, as `country` is.
fn managed_root_issuer_alt_names(
    req: &RootRequest,
    tenant: Option<&TenantRecord>,
) -> Result<AltNames, ServiceError> {
    const P: &str = "issuerAlternativeNameConf";
    let (uri, email) = match (&req.issuer_alt_name, tenant) {
        (Some(c), _) => {
            if c.uri.is_none() && c.email.is_none() {
                return Err(invalid(P, "needs a uri, an email or both", None));
            }
            (c.uri.clone(), c.email.clone())
        }
        (None, Some(t)) if t.issuer_alt_uri.is_some() || t.issuer_alt_email.is_some() => {
            (t.issuer_alt_uri.clone(), t.issuer_alt_email.clone())
        }
        (None, _) => {
            return Err(invalid(
                P,
                "is required: this tenant has no default issuerAltName configured \
                 (set one with `hsm-pki tenant set --issuer-alt-uri` or `--issuer-alt-email`)",
                None,
            ));
        }
    };
    let rule_of = |e: X509Error| match e {
        X509Error::Invalid { rule, .. } => rule,
        other => other.to_string(),
    };
    if let Some(u) = &uri {
        let param = format!("{P}.uri");
        x509::check_uri(u, &param).map_err(|e| invalid(&param, rule_of(e), Some(u)))?;
    }
    if let Some(m) = &email {
        let param = format!("{P}.email");
        x509::check_email(m, &param).map_err(|e| invalid(&param, rule_of(e), Some(m)))?;
    }
    Ok(AltNames {
        uris: uri.into_iter().collect(),
        emails: email.into_iter().collect(),
        ..Default::default()
    })
}

pub async fn create_root(
    app: &Arc<App>,
    ctx: &OpContext,
    family: RootFamily,
    req: RootRequest,
) -> Result<RootView, ServiceError> {
    let name = format!("{}_CREATE", family.event());
    let token = if req.certificate_pem.is_none() {
        match app.ready_token() {
            Ok(t) => Some(t),
            Err(e) => {
                let r = Err(e);
                ctx.record_failure(app, &name, None, &r).await;
                return r;
            }
        }
    } else {
        None
    };
    let store = app.store.clone();
    let ctx2 = ctx.clone();
    let ev = name.clone();
    let result = app
        .blocking(move || -> Result<RootView, ServiceError> {
            let tenant_id = ctx2.principal.tenant.clone();
            let now = OffsetDateTime::now_utc();
            let id = uuid::Uuid::new_v4().to_string();
            let full = || {
                limit_reached(format!(
                    "A tenant can have at most {ROOT_LIMIT} {}s",
                    family.what()
                ))
            };
            let mut record = CaRecord {
                id: id.clone(),
                tenant: tenant_id.clone(),
                kind: family.kind().to_owned(),
                key_label: None,
                certificate_der: Vec::new(),
                // Seed 003 shows a new DTS root active; a holder root starts inactive
                // (activating one deactivates the others).
                active: family == RootFamily::Dts,
                crl_number: 0,
                created_at: now_rfc3339(),
            };
            let events = ctx2.events(&ev, Some(&id), None);
            match (&req.certificate_pem, token) {
                (Some(pem), _) => {
                    let cert = x509::check_uploaded_root(pem, now).map_err(x509_error)?;
                    record.certificate_der = cert.der().to_vec();
                    match store.insert_ca(&record, None, ROOT_LIMIT, &events) {
                        Ok(true) => root_view(&record),
                        Ok(false) => Err(full()),
                        // Found by tests/hostile.rs: the same root uploaded twice made two
                        // roots with one certificate.
                        Err(StoreError::Conflict) => Err(ServiceError::Conflict {
                            code: "RootExists",
                            message: format!("This {} is already uploaded", family.what()),
                        }),
                        Err(e) => Err(e.into()),
                    }
                }
                (None, Some(token)) => {
                    let tenant = store.get_tenant(&tenant_id)?;
                    let spec = managed_root_spec(family, &req, &tenant_id, tenant.as_ref(), now)?;
                    if store.count_cas(&tenant_id, family.kind())? >= ROOT_LIMIT {
                        return Err(full());
                    }
                    let algorithm = req.algorithm.unwrap_or(KeyAlgorithm::P256);
                    let label = format!("hsm-pki.{}", uuid::Uuid::new_v4());
                    let key = token.generate(algorithm, &label)?;
                    let built = x509::build_root_ca(&spec, &key, None);
                    let cert = match built {
                        Ok(c) => c,
                        Err(e) => {
                            destroy_quietly(&token, &label);
                            return Err(x509_error(e));
                        }
                    };
                    record.certificate_der = cert.der().to_vec();
                    record.key_label = Some(label.clone());
                    let key_record = KeyRecord {
                        label: label.clone(),
                        tenant: tenant_id.clone(),
                        name: format!("{}{id}", family.key_prefix()),
                        algorithm: algorithm.name().to_owned(),
                        public_key_der: key.public_key().to_spki_der(),
                        origin: "generated".into(),
                        created_at: record.created_at.clone(),
                    };
                    match store.insert_ca(&record, Some(&key_record), ROOT_LIMIT, &events) {
                        Ok(true) => root_view(&record),
                        Ok(false) => {
                            destroy_quietly(&token, &label);
                            Err(full())
                        }
                        Err(e) => {
                            // Rule 4: a key we could not record must not stay in the token.
                            destroy_quietly(&token, &label);
                            Err(e.into())
                        }
                    }
                }
                (None, None) => Err(ServiceError::TokenUnavailable("token not open".into())),
            }
        })
        .await
        .and_then(|r| r);
    ctx.record_failure(app, &name, None, &result).await;
    result
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

/// `PUT {active}`. A holder root is exclusive: activating one deactivates the others.
pub async fn set_root_active(
    app: &Arc<App>,
    ctx: &OpContext,
    family: RootFamily,
    id: String,
    active: bool,
) -> Result<RootView, ServiceError> {
    let name = format!("{}_UPDATE", family.event());
    let store = app.store.clone();
    let ctx2 = ctx.clone();
    let (id2, ev) = (id.clone(), name.clone());
    let result = app
        .blocking(move || {
            let events = ctx2.events(&ev, Some(&id2), None);
            let exclusive = family == RootFamily::Holder;
            match store.set_ca_active(
                &ctx2.principal.tenant,
                family.kind(),
                &id2,
                active,
                exclusive,
                &events,
            )? {
                Some(r) => root_view(&r),
                None => Err(ServiceError::NotFound(family.what())),
            }
        })
        .await
        .and_then(|r| r);
    ctx.record_failure(app, &name, Some(&id), &result).await;
    result
}

/// `DELETE`: a DTS root with VICAL signers is refused (409); a holder root takes its wallet
/// attestation signers with it. Token keys are destroyed after the records are gone.
pub async fn delete_root(
    app: &Arc<App>,
    ctx: &OpContext,
    family: RootFamily,
    id: String,
) -> Result<(), ServiceError> {
    let name = format!("{}_DELETE", family.event());
    let result = match app.ready_token() {
        Ok(token) => {
            let store = app.store.clone();
            let ctx2 = ctx.clone();
            let (id2, ev) = (id.clone(), name.clone());
            app.blocking(move || {
                let events = ctx2.events(&ev, Some(&id2), None);
                let cascade = family == RootFamily::Holder;
                match store.delete_ca(
                    &ctx2.principal.tenant,
                    family.kind(),
                    &id2,
                    cascade,
                    &events,
                )? {
                    CaDeletion::NotFound => Err(ServiceError::NotFound(family.what())),
                    CaDeletion::HasSigners(n) => Err(ServiceError::Conflict {
                        code: "CaInUse",
                        message: format!("The root CA has {n} VICAL signer(s); delete them first"),
                    }),
                    CaDeletion::Deleted { key_labels } => {
                        for l in &key_labels {
                            destroy_quietly(&token, l);
                        }
                        Ok(())
                    }
                }
            })
            .await
            .and_then(|r| r)
        }
        Err(e) => Err(e),
    };
    ctx.record_failure(app, &name, Some(&id), &result).await;
    result
}

/// A fresh CRL of a managed holder root, DER. `Ok(None)`: the root is unmanaged (its CRL is
/// published by whoever holds its key).
pub async fn holder_root_crl(
    app: &Arc<App>,
    ctx: &OpContext,
    id: String,
) -> Result<Option<Vec<u8>>, ServiceError> {
    let family = RootFamily::Holder;
    let name = format!("{}_REVOCATION_LIST_RETRIEVE", family.event());
    let result = match app.ready_token() {
        Ok(token) => {
            let store = app.store.clone();
            let tenant = ctx.principal.tenant.clone();
            let id2 = id.clone();
            app.blocking(move || -> Result<Option<Vec<u8>>, ServiceError> {
                let ca = store
                    .get_ca(&tenant, family.kind(), &id2)?
                    .ok_or(ServiceError::NotFound(family.what()))?;
                let Some(label) = ca.key_label else {
                    return Ok(None);
                };
                let cert = stored_cert(&ca.certificate_der)?;
                let number = store
                    .next_crl_number(&tenant, &id2)?
                    .ok_or(ServiceError::NotFound(family.what()))?;
                let key = token.find(&label)?;
                let der = x509::build_crl(&cert, &key, number as u64, OffsetDateTime::now_utc())
                    .map_err(x509_error)?;
                Ok(Some(der))
            })
            .await
            .and_then(|r| r)
        }
        Err(e) => Err(e),
    };
    match &result {
        // An unmanaged root has no CRL here: audited as a failed retrieval.
        Ok(None) => {
            let missing: Result<(), _> = Err(ServiceError::NotFound("certificate revocation list"));
            ctx.record(app, &name, Some(&id), &missing).await;
        }
        _ => ctx.record(app, &name, Some(&id), &result).await,
    }
    result
}

/// The subject of a signer's CSR: C and O copied from the root, CN "<O> VICAL Signer" or
/// "<O> Wallet Attestation Signer" (O falls back to the root's CN), within 64 characters.
fn signer_subject(family: SignerFamily, root: &DnFields) -> DnFields {
    let suffix = match family {
        SignerFamily::Vical => " VICAL Signer",
        SignerFamily::Wallet => " Wallet Attestation Signer",
    };
    let base = root
        .organization
        .clone()
        .or_else(|| root.common_name.clone())
        .unwrap_or_default();
    let room = 64 - suffix.len();
    let base: String = base.chars().take(room).collect();
    DnFields {
        common_name: Some(format!("{}{suffix}", base.trim_end())),
        country: root.country.clone(),
        organization: root.organization.clone(),
        ..Default::default()
    }
}

pub async fn create_signer(
    app: &Arc<App>,
    ctx: &OpContext,
    family: SignerFamily,
    ca_id: String,
) -> Result<SignerView, ServiceError> {
    let name = format!("{}_CREATE", family.event());
    let result = match app.ready_token() {
        Ok(token) => {
            let store = app.store.clone();
            let ctx2 = ctx.clone();
            let ev = name.clone();
            app.blocking(move || -> Result<SignerView, ServiceError> {
                let tenant = ctx2.principal.tenant.clone();
                let root_family = family.root();
                // An unknown id, a root of the other family and another tenant's root all
                // read the same: the id names no root this caller may use.
                let root = store
                    .get_ca(&tenant, root_family.kind(), &ca_id)?
                    .ok_or_else(|| {
                        invalid(
                            "caId",
                            format!(
                                "must be the id of one of this tenant's {}s",
                                root_family.what()
                            ),
                            Some(&ca_id),
                        )
                    })?;
                if root.key_label.is_some() {
                    let msg = match family {
                        SignerFamily::Vical => {
                            "must be an unmanaged (uploaded) DTS root CA certificate".to_owned()
                        }
                        SignerFamily::Wallet => "must be an unmanaged (uploaded) holder root CA \
                             certificate: signers of managed roots are provisioned automatically"
                            .to_owned(),
                    };
                    return Err(invalid("caId", msg, Some(&ca_id)));
                }
                let limit = family.limit();
                let full = || {
                    limit_reached(match limit {
                        SignerLimit::PerTenant(n) => {
                            format!("A tenant can have at most {n} {}s", family.what())
                        }
                        SignerLimit::PerRoot(n) => {
                            format!("A root CA can have at most {n} {}s", family.what())
                        }
                    })
                };
                if store.count_signers(&tenant, family.kind(), &ca_id, limit)?
                    >= match limit {
                        SignerLimit::PerTenant(n) | SignerLimit::PerRoot(n) => n,
                    }
                {
                    return Err(full());
                }
                let root_cert = stored_cert(&root.certificate_der)?;
                let subject = signer_subject(family, &root_cert.subject().map_err(x509_error)?);
                let spec = CsrSpec {
                    subject,
                    string_encoding: StringEncoding::Utf8,
                    subject_alt_names: None,
                    key_usage: vec![KeyUsageName::DigitalSignature],
                    extended_key_usage: match family {
                        // ISO/IEC 18013-5 C.1.7.2: id-mdl-kp-mdlVICAL.
                        SignerFamily::Vical => vec![x509::VICAL_SIGNER_EKU.to_string()],
                        SignerFamily::Wallet => vec![],
                    },
                };
                let id = uuid::Uuid::new_v4().to_string();
                let label = format!("hsm-pki.{}", uuid::Uuid::new_v4());
                let algorithm = KeyAlgorithm::P256;
                let key = token.generate(algorithm, &label)?;
                let csr = match x509::build_csr(&spec, &key, None) {
                    Ok(c) => c,
                    Err(e) => {
                        destroy_quietly(&token, &label);
                        return Err(x509_error(e));
                    }
                };
                let created_at = now_rfc3339();
                let record = SignerRecord {
                    id: id.clone(),
                    tenant: tenant.clone(),
                    kind: family.kind().to_owned(),
                    ca_id: ca_id.clone(),
                    key_label: label.clone(),
                    csr_der: csr.der().to_vec(),
                    certificate_der: None,
                    active: false,
                    created_at: created_at.clone(),
                };
                let key_record = KeyRecord {
                    label: label.clone(),
                    tenant,
                    name: format!("{}{id}", family.key_prefix()),
                    algorithm: algorithm.name().to_owned(),
                    public_key_der: key.public_key().to_spki_der(),
                    origin: "generated".into(),
                    created_at,
                };
                let events = ctx2.events(&ev, Some(&id), None);
                match store.insert_signer(&record, &key_record, limit, &events) {
                    Ok(true) => signer_view(&record),
                    Ok(false) => {
                        destroy_quietly(&token, &label);
                        Err(full())
                    }
                    Err(e) => {
                        destroy_quietly(&token, &label);
                        Err(e.into())
                    }
                }
            })
            .await
            .and_then(|r| r)
        }
        Err(e) => Err(e),
    };
    ctx.record_failure(app, &name, None, &result).await;
    result
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

/// `PUT {active?, certificatePem?}`. The certificate is checked against the signer's key,
/// the root and the family's profile; once set it is immutable (the same PEM again is
/// accepted unchanged). A wallet attestation signer is activated by its upload (seed 000).
pub async fn update_signer(
    app: &Arc<App>,
    ctx: &OpContext,
    family: SignerFamily,
    id: String,
    active: Option<bool>,
    certificate_pem: Option<String>,
) -> Result<SignerView, ServiceError> {
    let name = format!("{}_UPDATE", family.event());
    let store = app.store.clone();
    let ctx2 = ctx.clone();
    let (id2, ev) = (id.clone(), name.clone());
    let result = app
        .blocking(move || -> Result<SignerView, ServiceError> {
            let tenant = ctx2.principal.tenant.clone();
            let cur = store
                .get_signer(&tenant, family.kind(), &id2)?
                .ok_or(ServiceError::NotFound(family.what()))?;
            let immutable = || ServiceError::Conflict {
                code: "CertificateImmutable",
                message: "certificatePem is already set and cannot be changed".into(),
            };
            let mut new_der: Option<Vec<u8>> = None;
            if let Some(pem) = &certificate_pem {
                let parsed = x509::parse_uploaded(pem).map_err(x509_error)?;
                match &cur.certificate_der {
                    Some(existing) if existing.as_slice() == parsed.der() => {}
                    Some(_) => return Err(immutable()),
                    None => {
                        let root = store
                            .get_ca(&tenant, family.root().kind(), &cur.ca_id)?
                            .ok_or_else(|| {
                                ServiceError::Internal("signer without its root".into())
                            })?;
                        let root_cert = stored_cert(&root.certificate_der)?;
                        let csr = ParsedCsr::from_der(&cur.csr_der)
                            .map_err(|e| ServiceError::Internal(format!("stored CSR: {e}")))?;
                        let cert = x509::check_signer_certificate(
                            pem,
                            &csr.public_key,
                            &root_cert,
                            family.profile(),
                            OffsetDateTime::now_utc(),
                        )
                        .map_err(x509_error)?;
                        new_der = Some(cert.der().to_vec());
                    }
                }
            }
            let has_cert = cur.certificate_der.is_some() || new_der.is_some();
            let active = match (family, active, &new_der) {
                (SignerFamily::Wallet, None, Some(_)) => Some(true),
                (_, a, _) => a,
            };
            if active == Some(true) && !has_cert {
                return Err(invalid(
                    "active",
                    "a signer can be activated only once its certificatePem is set",
                    Some("true"),
                ));
            }
            let events = ctx2.events(&ev, Some(&id2), None);
            match store.update_signer(
                &tenant,
                family.kind(),
                &id2,
                new_der.as_deref(),
                active,
                &events,
            ) {
                Ok(Some(r)) => signer_view(&r),
                Ok(None) => Err(ServiceError::NotFound(family.what())),
                Err(StoreError::Conflict) => Err(immutable()),
                Err(e) => Err(e.into()),
            }
        })
        .await
        .and_then(|r| r);
    ctx.record_failure(app, &name, Some(&id), &result).await;
    result
}

pub async fn delete_signer(
    app: &Arc<App>,
    ctx: &OpContext,
    family: SignerFamily,
    id: String,
) -> Result<(), ServiceError> {
    let name = format!("{}_DELETE", family.event());
    let result = match app.ready_token() {
        Ok(token) => {
            let store = app.store.clone();
            let ctx2 = ctx.clone();
            let (id2, ev) = (id.clone(), name.clone());
            app.blocking(move || {
                let events = ctx2.events(&ev, Some(&id2), None);
                match store.delete_signer(&ctx2.principal.tenant, family.kind(), &id2, &events)? {
                    Some(label) => {
                        destroy_quietly(&token, &label);
                        Ok(())
                    }
                    None => Err(ServiceError::NotFound(family.what())),
                }
            })
            .await
            .and_then(|r| r)
        }
        Err(e) => Err(e),
    };
    ctx.record_failure(app, &name, Some(&id), &result).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

    fn tenant(domain: Option<&str>, country: Option<&str>) -> TenantRecord {
        TenantRecord {
            id: "org.t1".into(),
            domain: domain.map(str::to_owned),
            country: country.map(str::to_owned),
            created_at: "x".into(),
            issuer_alt_uri: Some("https://pki.example.com".into()),
            issuer_alt_email: None,
        }
    }

    fn param(e: ServiceError) -> String {
        match e {
            ServiceError::Invalid { param, .. } => param,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn managed_root_defaults_and_rules() {
        let req = RootRequest {
            organisation_name: Some("Example Inc.".into()),
            ..Default::default()
        };
        let t = tenant(Some("example.com"), Some("NZ"));
        let s = managed_root_spec(RootFamily::Dts, &req, "org.t1", Some(&t), NOW).unwrap();
        assert_eq!(s.subject.common_name.as_deref(), Some("example.com DTS CA"));
        assert_eq!(s.subject.country.as_deref(), Some("NZ"));
        assert_eq!(s.not_before, NOW);
        assert_eq!(s.not_after, datetime!(2046-11-23 10:00:00 UTC));
        let s = managed_root_spec(
            RootFamily::Holder,
            &RootRequest::default(),
            "org.t1",
            Some(&t),
            NOW,
        )
        .unwrap();
        assert_eq!(
            s.subject.common_name.as_deref(),
            Some("example.com Wallet Attestation")
        );
        let bare = tenant(None, Some("NZ"));
        let s = managed_root_spec(RootFamily::Dts, &req, "org.t1", Some(&bare), NOW).unwrap();
        assert_eq!(s.subject.common_name.as_deref(), Some("org.t1"));
        // No country anywhere: 400 naming country.
        let e = managed_root_spec(
            RootFamily::Dts,
            &req,
            "org.t1",
            Some(&tenant(None, None)),
            NOW,
        )
        .unwrap_err();
        assert_eq!(param(e), "country");
        let bad = |r: RootRequest| {
            param(managed_root_spec(RootFamily::Dts, &r, "org.t1", Some(&t), NOW).unwrap_err())
        };
        assert_eq!(bad(RootRequest::default()), "organisationName");
        assert_eq!(
            bad(RootRequest {
                common_name: Some("a_b".into()),
                ..req.clone()
            }),
            "commonName"
        );
        assert_eq!(
            bad(RootRequest {
                common_name: Some(String::new()),
                ..req.clone()
            }),
            "commonName"
        );
        assert_eq!(
            bad(RootRequest {
                country: Some("XX".into()),
                ..req.clone()
            }),
            "country"
        );
        assert_eq!(
            bad(RootRequest {
                not_before: Some(NOW - time::Duration::hours(1)),
                ..req.clone()
            }),
            "notBefore"
        );
        assert_eq!(
            bad(RootRequest {
                not_after: Some(NOW + time::Duration::days(7306)),
                ..req.clone()
            }),
            "notAfter"
        );
        assert_eq!(
            bad(RootRequest {
                not_before: Some(NOW + time::Duration::days(2)),
                not_after: Some(NOW + time::Duration::days(1)),
                ..req.clone()
            }),
            "notAfter"
        );
        // Within the skew allowance; a future notBefore's default notAfter is capped.
        let s = managed_root_spec(
            RootFamily::Dts,
            &RootRequest {
                not_before: Some(NOW + time::Duration::days(30)),
                ..req.clone()
            },
            "org.t1",
            Some(&t),
            NOW - time::Duration::minutes(4),
        )
        .unwrap();
        assert_eq!(
            s.not_after,
            plus_years(NOW - time::Duration::minutes(4), 20)
        );
    }

    #[test]
    fn managed_root_issuer_alt_name() {
        let req = RootRequest {
            organisation_name: Some("Example Inc.".into()),
            ..Default::default()
        };
        let t = tenant(Some("example.com"), Some("NZ"));
        // The tenant's default.
        let s = managed_root_spec(RootFamily::Dts, &req, "org.t1", Some(&t), NOW).unwrap();
        let ian = s.issuer_alt_names.unwrap();
        assert_eq!(ian.uris, ["https://pki.example.com"]);
        assert!(ian.emails.is_empty());
        // The request's wins, whole (no merging with the tenant's).
        let given = RootRequest {
            issuer_alt_name: Some(IssuerAltNameInput {
                uri: None,
                email: Some("pki@example.org".into()),
            }),
            ..req.clone()
        };
        let s = managed_root_spec(RootFamily::Holder, &given, "org.t1", Some(&t), NOW).unwrap();
        let ian = s.issuer_alt_names.unwrap();
        assert!(ian.uris.is_empty());
        assert_eq!(ian.emails, ["pki@example.org"]);
        // Neither: 400 naming the field, for both families; also without any tenant row.
        let mut bare = tenant(Some("example.com"), Some("NZ"));
        bare.issuer_alt_uri = None;
        for family in [RootFamily::Dts, RootFamily::Holder] {
            let e = managed_root_spec(family, &req, "org.t1", Some(&bare), NOW).unwrap_err();
            assert_eq!(param(e), "issuerAlternativeNameConf");
        }
        let e = managed_root_spec(
            RootFamily::Holder,
            &RootRequest {
                country: Some("NZ".into()),
                ..Default::default()
            },
            "org.t1",
            None,
            NOW,
        )
        .unwrap_err();
        assert_eq!(param(e), "issuerAlternativeNameConf");
        // Empty, or a bad URI / e-mail: named precisely.
        let bad = |uri: Option<&str>, email: Option<&str>| {
            let r = RootRequest {
                issuer_alt_name: Some(IssuerAltNameInput {
                    uri: uri.map(str::to_owned),
                    email: email.map(str::to_owned),
                }),
                ..req.clone()
            };
            param(managed_root_spec(RootFamily::Dts, &r, "org.t1", Some(&t), NOW).unwrap_err())
        };
        assert_eq!(bad(None, None), "issuerAlternativeNameConf");
        assert_eq!(
            bad(Some("/relative"), None),
            "issuerAlternativeNameConf.uri"
        );
        assert_eq!(
            bad(Some("https://ok.example"), Some("nobody")),
            "issuerAlternativeNameConf.email"
        );
    }

    /// A managed root passes the checks an uploaded root must pass, so it can be exported and
    /// uploaded elsewhere as an unmanaged root (ISO/IEC 18013-5 B.1.2 issuerAltName included).
    #[test]
    fn a_managed_dts_root_passes_the_upload_checks() {
        use crate::crypto::testkeys::SoftEcKey;
        let req = RootRequest {
            organisation_name: Some("Example Inc.".into()),
            ..Default::default()
        };
        let t = tenant(Some("example.com"), Some("NZ"));
        let now = OffsetDateTime::now_utc();
        let spec = managed_root_spec(RootFamily::Dts, &req, "org.t1", Some(&t), now).unwrap();
        let cert = x509::build_root_ca(&spec, &SoftEcKey::p256(21), None).unwrap();
        x509::check_uploaded_root(&cert.to_pem().unwrap(), now + time::Duration::minutes(1))
            .unwrap();
    }

    #[test]
    fn signer_subject_is_derived_from_the_root() {
        let root = DnFields {
            common_name: Some("Root".into()),
            country: Some("NZ".into()),
            organization: Some("O".repeat(64)),
            ..Default::default()
        };
        let s = signer_subject(SignerFamily::Vical, &root);
        let cn = s.common_name.unwrap();
        assert!(
            cn.ends_with(" VICAL Signer") && cn.chars().count() <= 64,
            "{cn}"
        );
        assert_eq!(s.country.as_deref(), Some("NZ"));
        assert_eq!(s.organization, root.organization);
    }
}
