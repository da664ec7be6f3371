//! The X.509 service and store (walt.id shapes, seeds 002 and 004): IACAs, Document Signers,
//! generic certificates, CSRs, and the per-tenant certificate store.
//!
//! Every issuance runs the same steps inside one `App::blocking` call: refuse a taken
//! `storedCertificateId` (409) before anything is signed; resolve the keys; build and sign
//! through the X.509 engine (which verifies every signature in Rust); then write the ledger
//! row, the store row and the audit events in ONE transaction (the store's UNIQUE key is the
//! second line of defence against a concurrent duplicate). The 2xx leaves only after commit.
//!
//! A private JWK that has to sign is imported into the token under an `hsm-pki.ephemeral.`
//! label, used for that one signature, and destroyed when the [`SigningKey`] guard drops
//! (start-up reconciliation destroys any a crash left behind). It is never stored.
//!
//! The service takes the wire request types of `api::x509` as input: they *are* this
//! domain's vocabulary (walt.id's), and a parallel set of domain structs would only copy them
//! (decision log, ARCHITECTURE.md).

use std::sync::Arc;

use base64ct::{Base64UrlUnpadded, Encoding};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use crate::api::x509 as api;
use crate::crypto::{PublicJwk, PublicKey};
use crate::hsm::{HsmError, PrivateKeyMaterial, Token, TokenKey};
use crate::store::{IssuedRecord, Store, StoreError, StoredCertificate};
use crate::x509::{
    self, AltNames, CsrSpec, DnFields, GenericSpec, IacaSpec, IacaView, KeyUsageName,
    ParsedCertificate, ParsedCsr, StringEncoding, X509Error,
};

use super::{App, OpContext, ServiceError, keys, now_rfc3339};

/// The one X.509 store of every tenant: full ids are `{org}.{tenant}.x509-store-1.{id}`.
pub const STORE_ID: &str = "x509-store-1";
/// Token label prefix of a private JWK imported for one signature.
pub const EPHEMERAL_PREFIX: &str = "hsm-pki.ephemeral.";
/// Longest client-chosen storedCertificateId.
pub const MAX_STORED_ID_LEN: usize = 128;
/// How many ledger entries of one key are searched for its CA certificate.
const ISSUER_CANDIDATES: usize = 16;

fn invalid(param: impl Into<String>, msg: impl Into<String>) -> ServiceError {
    ServiceError::Invalid {
        location: "body",
        param: param.into(),
        msg: msg.into(),
        value: None,
    }
}

fn not_found(param: impl Into<String>, msg: impl Into<String>) -> ServiceError {
    ServiceError::NotFoundAt {
        location: "body",
        param: param.into(),
        msg: msg.into(),
    }
}

/// storedCertificateId: 1 to 128 of letters, digits, '-' and '_' (no '.', which separates
/// the segments of the full id).
pub fn valid_stored_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_STORED_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `{target}` = `{org}.{tenant}.{serviceId}` of the caller's own tenant; anything else is a
/// 404 (another tenant's service is not revealed to exist).
pub fn check_target(ctx: &OpContext, target: &str) -> Result<(), ServiceError> {
    match target
        .strip_prefix(ctx.principal.tenant.as_str())
        .and_then(|r| r.strip_prefix('.'))
    {
        Some(service) if valid_segment(service) => Ok(()),
        _ => Err(ServiceError::NotFound("service")),
    }
}

/// `{store}` must be `{org}.{tenant}.x509-store-1` of the caller's tenant.
pub fn check_store(ctx: &OpContext, store: &str) -> Result<(), ServiceError> {
    if store == format!("{}.{STORE_ID}", ctx.principal.tenant) {
        Ok(())
    } else {
        Err(ServiceError::NotFound("store"))
    }
}

fn full_id(tenant: &str, id: &str) -> String {
    format!("{tenant}.{STORE_ID}.{id}")
}

fn stored_id(given: &Option<String>) -> Result<String, ServiceError> {
    match given {
        None => Ok(uuid::Uuid::new_v4().to_string()),
        Some(id) if valid_stored_id(id) => Ok(id.clone()),
        Some(id) => Err(ServiceError::Invalid {
            location: "body",
            param: "storedCertificateId".into(),
            msg: format!(
                "must be 1 to {MAX_STORED_ID_LEN} characters of letters, digits, '-' and '_'"
            ),
            value: Some(id.chars().take(128).collect()),
        }),
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

fn parse_time(v: &Option<String>, param: &str) -> Result<Option<OffsetDateTime>, ServiceError> {
    v.as_deref()
        .map(|s| {
            OffsetDateTime::parse(s, &Rfc3339).map_err(|_| ServiceError::Invalid {
                location: "body",
                param: param.to_owned(),
                msg: "must be an RFC 3339 date-time, e.g. 2026-01-01T00:00:00Z".into(),
                value: Some(s.chars().take(64).collect()),
            })
        })
        .transpose()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| OffsetDateTime::now_utc())
}

/// X.509 engine errors as service errors: rule violations are 400s naming the field;
/// undecodable input is a 400 on `param`; a token failure while signing keeps its class
/// (an outage is a 503).
fn x509_error(e: X509Error, param: &str) -> ServiceError {
    match e {
        X509Error::Invalid { field, rule } => invalid(field, rule),
        X509Error::Signing(src) => {
            match std::error::Error::source(&src).and_then(|s| s.downcast_ref::<HsmError>()) {
                Some(h) => h.clone().into(),
                None => ServiceError::Internal(format!("signing failed: {src}")),
            }
        }
        X509Error::Encoding(m) => ServiceError::Internal(m),
        e @ (X509Error::Malformed { .. }
        | X509Error::TooLarge { .. }
        | X509Error::BadSignature { .. }
        | X509Error::OutsideValidity(_)
        | X509Error::Crypto(_)) => invalid(param, e.to_string()),
    }
}

/// As [`x509_error`], with rule-violation fields prefixed (`subjectName.country` becomes
/// `certificateData.subjectName.country`); `issuer` stays the top-level field it is.
fn x509_error_in(e: X509Error, prefix: &str, param: &str) -> ServiceError {
    match e {
        X509Error::Invalid { field, rule } if field != "issuer" => {
            invalid(format!("{prefix}.{field}"), rule)
        }
        other => x509_error(other, param),
    }
}

// --- key descriptors -----------------------------------------------------------------------

/// A parsed key descriptor, not yet looked up.
enum KeyRef {
    /// A key of the caller's tenant made with `POST /v1/keys`.
    Kms { name: String, param: String },
    /// A JWK: its public key, and the private key when it has `d`.
    Jwk {
        public: PublicKey,
        private: Option<Box<PrivateKeyMaterial>>,
        param: String,
    },
}

fn b64_secret(s: &api::Secret, param: &str) -> Result<Zeroizing<Vec<u8>>, ServiceError> {
    Base64UrlUnpadded::decode_vec(s.expose())
        .map(Zeroizing::new)
        .map_err(|_| invalid(param, "must be base64url without padding (RFC 7515 2)"))
}

fn b64_public(s: &Option<String>, param: &str) -> Result<Vec<u8>, ServiceError> {
    let s = s.as_deref().ok_or_else(|| invalid(param, "is required"))?;
    Base64UrlUnpadded::decode_vec(s)
        .map_err(|_| invalid(param, "must be base64url without padding (RFC 7515 2)"))
}

fn parse_key(desc: &api::KeyDescriptor, param: &str, tenant: &str) -> Result<KeyRef, ServiceError> {
    match desc.kind.as_str() {
        "kms-hosted-key-descriptor" => {
            if desc.jwk.is_some() {
                return Err(invalid(
                    format!("{param}.jwk"),
                    "not allowed with kms-hosted-key-descriptor",
                ));
            }
            let p = format!("{param}.keyIdPath");
            let path = desc
                .key_id_path
                .as_deref()
                .ok_or_else(|| invalid(&p, "is required for kms-hosted-key-descriptor"))?;
            let parts: Vec<&str> = path.split('.').collect();
            if parts.len() != 4 || !parts.iter().all(|s| valid_segment(s)) {
                return Err(invalid(&p, "must be {org}.{tenant}.{kmsId}.{keyId}"));
            }
            // Another tenant's key is "not found", like an unknown one.
            if format!("{}.{}", parts[0], parts[1]) != tenant || !keys::valid_key_id(parts[3]) {
                return Err(not_found(&p, "no such key"));
            }
            Ok(KeyRef::Kms {
                name: parts[3].to_owned(),
                param: p,
            })
        }
        "jwk-encoded-key-descriptor" => {
            if desc.key_id_path.is_some() {
                return Err(invalid(
                    format!("{param}.keyIdPath"),
                    "not allowed with jwk-encoded-key-descriptor",
                ));
            }
            let p = format!("{param}.jwk");
            let jwk = desc
                .jwk
                .as_ref()
                .ok_or_else(|| invalid(&p, "is required for jwk-encoded-key-descriptor"))?;
            let public = PublicKey::from_jwk(&PublicJwk {
                kty: jwk.kty.clone(),
                crv: jwk.crv.clone(),
                x: jwk.x.clone(),
                y: jwk.y.clone(),
                n: jwk.n.clone(),
                e: jwk.e.clone(),
            })
            .map_err(|e| match e {
                crate::crypto::CryptoError::BadJwk(member) => {
                    invalid(format!("{p}.{member}"), "missing or invalid (RFC 7518 6)")
                }
                other => invalid(&p, other.to_string()),
            })?;
            let private = match &jwk.d {
                None => None,
                Some(d) => Some(Box::new(match public.algorithm().curve() {
                    Some(curve) => PrivateKeyMaterial::Ec {
                        curve,
                        d: b64_secret(d, &format!("{p}.d"))?,
                        public: public.clone(),
                    },
                    None => {
                        let need = |v: &Option<api::Secret>, m: &str| {
                            let f = format!("{p}.{m}");
                            v.as_ref()
                                .ok_or_else(|| {
                                    invalid(&f, "is required in a private RSA JWK (RFC 7518 6.3.2)")
                                })
                                .and_then(|s| b64_secret(s, &f))
                        };
                        PrivateKeyMaterial::Rsa {
                            n: b64_public(&jwk.n, &format!("{p}.n"))?,
                            e: b64_public(&jwk.e, &format!("{p}.e"))?,
                            d: b64_secret(d, &format!("{p}.d"))?,
                            p: need(&jwk.p, "p")?,
                            q: need(&jwk.q, "q")?,
                            dp: need(&jwk.dp, "dp")?,
                            dq: need(&jwk.dq, "dq")?,
                            qi: need(&jwk.qi, "qi")?,
                        }
                    }
                })),
            };
            Ok(KeyRef::Jwk {
                public,
                private,
                param: p,
            })
        }
        _ => Err(ServiceError::Invalid {
            location: "body",
            param: format!("{param}.type"),
            msg: "must be kms-hosted-key-descriptor or jwk-encoded-key-descriptor".into(),
            value: Some(desc.kind.chars().take(64).collect()),
        }),
    }
}

/// A token key that signs one request. An imported JWK is destroyed when this drops.
struct SigningKey {
    key: TokenKey,
    ephemeral: Option<Arc<Token>>,
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        if let Some(token) = &self.ephemeral {
            let label = self.key.label().to_owned();
            if let Err(e) = token.destroy(&label) {
                tracing::error!(%label, error = %e, "could not destroy an ephemeral JWK key; start-up reconciliation will");
            }
        }
    }
}

/// The public key of a subject key descriptor (blocking: reads the database).
fn resolve_public(store: &Store, tenant: &str, key: KeyRef) -> Result<PublicKey, ServiceError> {
    match key {
        KeyRef::Kms { name, param } => {
            let record = store
                .get_key(tenant, &name)?
                .ok_or_else(|| not_found(&param, "no such key"))?;
            PublicKey::from_spki_der(&record.public_key_der)
                .map_err(|e| ServiceError::Internal(format!("stored public key: {e}")))
        }
        // The private part, if any, is not needed: dropping it zeroizes it.
        KeyRef::Jwk { public, .. } => Ok(public),
    }
}

/// The token key of a signing key descriptor (blocking).
fn resolve_signer(
    store: &Store,
    token: &Arc<Token>,
    tenant: &str,
    key: KeyRef,
) -> Result<SigningKey, ServiceError> {
    match key {
        KeyRef::Kms { name, param } => {
            let record = store
                .get_key(tenant, &name)?
                .ok_or_else(|| not_found(&param, "no such key"))?;
            let key = token.find(&record.label).map_err(|e| match e {
                HsmError::KeyNotFound { .. } => {
                    not_found(&param, "the key is missing from the token")
                }
                e => e.into(),
            })?;
            Ok(SigningKey {
                key,
                ephemeral: None,
            })
        }
        KeyRef::Jwk { private, param, .. } => {
            let material = private.ok_or_else(|| {
                invalid(
                    format!("{param}.d"),
                    "a signing key needs a private JWK (with d)",
                )
            })?;
            let label = format!("{EPHEMERAL_PREFIX}{}", uuid::Uuid::new_v4());
            let key = token
                .import_private(*material, &label)
                .map_err(|e| match e {
                    HsmError::InvalidKey { reason } => invalid(&param, reason),
                    e => e.into(),
                })?;
            Ok(SigningKey {
                key,
                ephemeral: Some(token.clone()),
            })
        }
    }
}

/// Where the subject's public key comes from.
enum SubjectSource {
    Key(KeyRef),
    Csr(Box<ParsedCsr>),
}

fn parse_source(
    src: &api::PublicKeySource,
    param: &str,
    tenant: &str,
) -> Result<SubjectSource, ServiceError> {
    match src.kind.as_str() {
        "key-descriptor" => {
            if src.csr_pem.is_some() {
                return Err(invalid(
                    format!("{param}.csrPEM"),
                    "not allowed with key-descriptor",
                ));
            }
            let d = src.key_descriptor.as_ref().ok_or_else(|| {
                invalid(
                    format!("{param}.keyDescriptor"),
                    "is required for key-descriptor",
                )
            })?;
            Ok(SubjectSource::Key(parse_key(
                d,
                &format!("{param}.keyDescriptor"),
                tenant,
            )?))
        }
        "csr" => {
            let p = format!("{param}.csrPEM");
            if src.key_descriptor.is_some() {
                return Err(invalid(
                    format!("{param}.keyDescriptor"),
                    "not allowed with csr",
                ));
            }
            let pem = src
                .csr_pem
                .as_deref()
                .ok_or_else(|| invalid(&p, "is required for csr"))?;
            // Proof of possession: the CSR's signature must verify with its own key.
            let csr = ParsedCsr::from_pem(pem.as_bytes()).map_err(|e| x509_error(e, &p))?;
            Ok(SubjectSource::Csr(Box::new(csr)))
        }
        _ => Err(invalid(
            format!("{param}.type"),
            "must be key-descriptor or csr",
        )),
    }
}

fn subject_key(store: &Store, tenant: &str, src: SubjectSource) -> Result<PublicKey, ServiceError> {
    match src {
        SubjectSource::Key(k) => resolve_public(store, tenant, k),
        SubjectSource::Csr(c) => Ok(c.public_key.clone()),
    }
}

// --- recording ------------------------------------------------------------------------------

fn taken(id: &str) -> ServiceError {
    ServiceError::Conflict {
        code: "StoredCertificateIdExists",
        message: format!("A stored certificate with id '{id}' already exists"),
    }
}

struct Recording<'a> {
    store: &'a Store,
    ctx: &'a OpContext,
    event: &'static str,
    id: &'a str,
    profile: &'static str,
    kind: &'static str,
    metadata: Option<String>,
}

impl Recording<'_> {
    fn ensure_free(&self) -> Result<(), ServiceError> {
        if self
            .store
            .stored_certificate_exists(&self.ctx.principal.tenant, STORE_ID, self.id)?
        {
            return Err(taken(self.id));
        }
        Ok(())
    }

    fn commit(self, cert: &ParsedCertificate) -> Result<(), ServiceError> {
        let tenant = &self.ctx.principal.tenant;
        let created_at = now_rfc3339();
        let name = |n: &x509_cert::name::Name| n.to_string();
        let tbs = cert.certificate().tbs_certificate();
        let issued = IssuedRecord {
            tenant: tenant.clone(),
            serial: cert.serial_hex(),
            issuer: name(tbs.issuer()),
            subject: name(tbs.subject()),
            not_before: rfc3339(cert.not_before()),
            not_after: rfc3339(cert.not_after()),
            profile: self.profile.to_owned(),
            fingerprint_sha256: cert.fingerprint_sha256(),
            subject_public_key: cert
                .public_key()
                .map_err(|e| ServiceError::Internal(e.to_string()))?
                .to_spki_der(),
            der: cert.der().to_vec(),
            created_at: created_at.clone(),
        };
        let stored = StoredCertificate {
            tenant: tenant.clone(),
            store_id: STORE_ID.to_owned(),
            cert_id: self.id.to_owned(),
            kind: self.kind.to_owned(),
            metadata: self.metadata,
            der: cert.der().to_vec(),
            created_at,
        };
        let full = full_id(tenant, self.id);
        let events = self.ctx.events(self.event, Some(&full), None);
        self.store
            .record_issuance(&issued, &stored, &events)
            .map_err(|e| match e {
                StoreError::Conflict => taken(self.id),
                e => e.into(),
            })
    }
}

fn pem(cert: &ParsedCertificate) -> Result<String, ServiceError> {
    cert.to_pem()
        .map_err(|e| ServiceError::Internal(e.to_string()))
}

// --- IACA -------------------------------------------------------------------------------------

fn iaca_spec(
    d: &api::IacaCertificateData,
    p: &str,
    default_nb: Option<OffsetDateTime>,
) -> Result<IacaSpec, ServiceError> {
    let nb = match (
        parse_time(&d.not_before, &format!("{p}.notBefore"))?,
        default_nb,
    ) {
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => return Err(invalid(format!("{p}.notBefore"), "is required")),
    };
    let na = match parse_time(&d.not_after, &format!("{p}.notAfter"))? {
        Some(t) => t,
        None if default_nb.is_some() => x509::add_years(nb, x509::IACA_MAX_YEARS),
        None => return Err(invalid(format!("{p}.notAfter"), "is required")),
    };
    let conf = d.issuer_alternative_name_conf.clone().unwrap_or_default();
    Ok(IacaSpec {
        country: d.country.clone(),
        common_name: d.common_name.clone(),
        state_or_province: d.state_or_province_name.clone(),
        organization: d.organization_name.clone(),
        not_before: nb,
        not_after: na,
        issuer_alt_names: AltNames {
            uris: conf.uri.into_iter().collect(),
            emails: conf.email.into_iter().collect(),
            ..Default::default()
        },
        crl_distribution_point_uri: d.crl_distribution_point_uri.clone(),
    })
}

pub async fn create_iaca(
    app: &Arc<App>,
    ctx: &OpContext,
    req: api::CreateIacaRequest,
) -> Result<api::IsoCertificateResponse<api::IacaCertificateData>, ServiceError> {
    const EVENT: &str = "X509_IACA_CERTIFICATE_CREATE";
    let tenant = ctx.principal.tenant.clone();
    let id = match stored_id(&req.stored_certificate_id) {
        Ok(id) => id,
        Err(e) => return failed(app, ctx, EVENT, None, e).await,
    };
    let full = full_id(&tenant, &id);
    let result = async {
        let spec = iaca_spec(&req.certificate_data, "certificateData", Some(now()))?;
        let key = parse_key(&req.iaca_key_desc, "iacaKeyDesc", &tenant)?;
        let (kind, metadata) = match &req.vical_entry_complementary_metadata {
            None => ("base", None),
            Some(v) if v.is_object() => ("vical-entry", Some(v.to_string())),
            Some(_) => {
                return Err(invalid(
                    "vicalEntryComplementaryMetadata",
                    "must be a JSON object",
                ));
            }
        };
        let token = app.ready_token()?;
        let store = app.store.clone();
        let ctx2 = ctx.clone();
        let id2 = id.clone();
        let cert = app
            .blocking(move || -> Result<ParsedCertificate, ServiceError> {
                let rec = Recording {
                    store: &store,
                    ctx: &ctx2,
                    event: EVENT,
                    id: &id2,
                    profile: "iaca",
                    kind,
                    metadata,
                };
                rec.ensure_free()?;
                let signer = resolve_signer(&store, &token, &ctx2.principal.tenant, key)?;
                let cert = x509::build_iaca(&spec, &signer.key)
                    .map_err(|e| x509_error(e, "certificateData"))?;
                drop(signer);
                rec.commit(&cert)?;
                Ok(cert)
            })
            .await??;
        let mut data = req.certificate_data.clone();
        data.not_before = Some(rfc3339(cert.not_before()));
        data.not_after = Some(rfc3339(cert.not_after()));
        Ok(api::IsoCertificateResponse {
            certificate_pem: pem(&cert)?,
            stored_certificate_ids: vec![full.clone()],
            certificate_data: data,
        })
    }
    .await;
    ctx.record_failure(app, EVENT, Some(&full), &result).await;
    result
}

async fn failed<T>(
    app: &Arc<App>,
    ctx: &OpContext,
    event: &str,
    object: Option<&str>,
    e: ServiceError,
) -> Result<T, ServiceError> {
    let r = Err(e);
    ctx.record_failure(app, event, object, &r).await;
    r
}

// --- Document Signer --------------------------------------------------------------------------

enum IacaInput {
    Data(IacaSpec),
    Pem(IacaView, Box<ParsedCertificate>),
}

pub async fn create_document_signer(
    app: &Arc<App>,
    ctx: &OpContext,
    req: api::CreateDocumentSignerRequest,
) -> Result<api::IsoCertificateResponse<api::DsCertificateData>, ServiceError> {
    const EVENT: &str = "X509_DOCUMENT_SIGNER_CERTIFICATE_CREATE";
    let tenant = ctx.principal.tenant.clone();
    let id = match stored_id(&req.stored_certificate_id) {
        Ok(id) => id,
        Err(e) => return failed(app, ctx, EVENT, None, e).await,
    };
    let full = full_id(&tenant, &id);
    let result = async {
        let source = match (&req.ds_public_key_source, &req.ds_key_descriptor) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "dsKeyDescriptor",
                    "dsKeyDescriptor (legacy) and dsPublicKeySource are mutually exclusive: give one",
                ));
            }
            (None, None) => {
                return Err(invalid(
                    "dsPublicKeySource",
                    "is required (or the legacy dsKeyDescriptor)",
                ));
            }
            (Some(src), None) => parse_source(src, "dsPublicKeySource", &tenant)?,
            (None, Some(d)) => SubjectSource::Key(parse_key(d, "dsKeyDescriptor", &tenant)?),
        };
        let signer_req = &req.iaca_signer;
        let iaca = match signer_req.kind.as_str() {
            "iaca-cert-data-descriptor" => {
                if signer_req.certificate_pem.is_some() {
                    return Err(invalid(
                        "iacaSigner.certificatePEM",
                        "not allowed with iaca-cert-data-descriptor",
                    ));
                }
                let d = signer_req.certificate_data.as_ref().ok_or_else(|| {
                    invalid(
                        "iacaSigner.certificateData",
                        "is required for iaca-cert-data-descriptor",
                    )
                })?;
                IacaInput::Data(iaca_spec(d, "iacaSigner.certificateData", None)?)
            }
            "iaca-pem-cert-descriptor" => {
                const P: &str = "iacaSigner.certificatePEM";
                if signer_req.certificate_data.is_some() {
                    return Err(invalid(
                        "iacaSigner.certificateData",
                        "not allowed with iaca-pem-cert-descriptor",
                    ));
                }
                let text = signer_req
                    .certificate_pem
                    .as_deref()
                    .ok_or_else(|| invalid(P, "is required for iaca-pem-cert-descriptor"))?;
                let cert =
                    ParsedCertificate::from_pem(text.as_bytes()).map_err(|e| x509_error(e, P))?;
                // The IACA given by PEM must itself meet the IACA profile before it is used.
                let view = x509::check_iaca(&cert, P).map_err(|e| x509_error(e, P))?;
                IacaInput::Pem(view, Box::new(cert))
            }
            _ => {
                return Err(invalid(
                    "iacaSigner.type",
                    "must be iaca-cert-data-descriptor or iaca-pem-cert-descriptor",
                ));
            }
        };
        let iaca_key = parse_key(&signer_req.iaca_key_desc, "iacaSigner.iacaKeyDesc", &tenant)?;
        let data = &req.certificate_data;
        let nb = parse_time(&data.not_before, "certificateData.notBefore")?.unwrap_or(now());
        let na = parse_time(&data.not_after, "certificateData.notAfter")?;
        let mut spec = x509::DocumentSignerSpec {
            country: data.country.clone(),
            common_name: data.common_name.clone(),
            state_or_province: data.state_or_province_name.clone(),
            organization: data.organization_name.clone(),
            locality: data.locality_name.clone(),
            not_before: nb,
            not_after: nb,
            crl_distribution_point_uri: data.crl_distribution_point_uri.clone(),
        };
        let token = app.ready_token()?;
        let store = app.store.clone();
        let ctx2 = ctx.clone();
        let id2 = id.clone();
        let cert = app
            .blocking(move || -> Result<ParsedCertificate, ServiceError> {
                let tenant = &ctx2.principal.tenant;
                let rec = Recording {
                    store: &store,
                    ctx: &ctx2,
                    event: EVENT,
                    id: &id2,
                    profile: "document-signer",
                    kind: "base",
                    metadata: None,
                };
                rec.ensure_free()?;
                let subject = subject_key(&store, tenant, source)?;
                let signer = resolve_signer(&store, &token, tenant, iaca_key)?;
                let view = match iaca {
                    IacaInput::Data(s) => s
                        .view(signer.key.public_key(), "iacaSigner.certificateData")
                        .map_err(|e| x509_error(e, "iacaSigner.certificateData"))?,
                    IacaInput::Pem(view, cert) => {
                        if !cert.has_public_key(signer.key.public_key()) {
                            return Err(invalid(
                                "iacaSigner.iacaKeyDesc",
                                "is not the key of the IACA certificate in certificatePEM",
                            ));
                        }
                        view
                    }
                };
                // Default validity: the Table B.3 maximum, cut at the IACA's notAfter.
                spec.not_after = na.unwrap_or_else(|| {
                    (spec.not_before + time::Duration::days(x509::DS_MAX_DAYS)).min(view.not_after)
                });
                let cert = x509::build_document_signer(&spec, &subject, &view, &signer.key)
                    .map_err(|e| x509_error(e, "certificateData"))?;
                drop(signer);
                rec.commit(&cert)?;
                Ok(cert)
            })
            .await??;
        let mut out = req.certificate_data.clone();
        out.not_before = Some(rfc3339(cert.not_before()));
        out.not_after = Some(rfc3339(cert.not_after()));
        Ok(api::IsoCertificateResponse {
            certificate_pem: pem(&cert)?,
            stored_certificate_ids: vec![full.clone()],
            certificate_data: out,
        })
    }
    .await;
    ctx.record_failure(app, EVENT, Some(&full), &result).await;
    result
}

// --- generic certificates -----------------------------------------------------------------

fn dn(n: &api::NameFields) -> DnFields {
    DnFields {
        common_name: n.common_name.clone(),
        country: n.country.clone(),
        organization: n.organization_name.clone(),
        organizational_unit: n.organizational_unit_name.clone(),
        state_or_province: n.state_or_province_name.clone(),
        locality: n.locality_name.clone(),
    }
}

fn name_fields(d: &DnFields) -> api::NameFields {
    api::NameFields {
        common_name: d.common_name.clone(),
        country: d.country.clone(),
        organization_name: d.organization.clone(),
        organizational_unit_name: d.organizational_unit.clone(),
        state_or_province_name: d.state_or_province.clone(),
        locality_name: d.locality.clone(),
    }
}

fn alt_names(a: &api::AltNamesData) -> AltNames {
    AltNames {
        dns_names: a.dns_names.clone(),
        uris: a.uris.clone(),
        emails: a.emails.clone(),
        ip_addresses: a.ip_addresses.clone(),
    }
}

fn alt_names_out(a: &AltNames) -> api::AltNamesData {
    api::AltNamesData {
        dns_names: a.dns_names.clone(),
        uris: a.uris.clone(),
        emails: a.emails.clone(),
        ip_addresses: a.ip_addresses.clone(),
    }
}

fn jwk_value(k: &PublicKey) -> serde_json::Value {
    serde_json::to_value(k.to_jwk()).unwrap_or_default()
}

/// What a generic certificate carries, read back from the certificate itself.
fn generic_data(cert: &ParsedCertificate) -> Result<api::GenericCertificateDataOut, X509Error> {
    let ext = cert.ext();
    let bc = ext.basic_constraints()?;
    Ok(api::GenericCertificateDataOut {
        subject_name: name_fields(&cert.subject()?),
        issuer_name: name_fields(&cert.issuer()?),
        not_before: rfc3339(cert.not_before()),
        not_after: rfc3339(cert.not_after()),
        is_certificate_authority: bc.as_ref().is_some_and(|b| b.value.ca),
        path_length_constraint: bc.and_then(|b| b.value.path_len_constraint),
        key_usage: ext
            .key_usage()?
            .map(|k| k.value.iter().map(|u| u.name().to_owned()).collect())
            .unwrap_or_default(),
        extended_key_usage_oids: ext
            .extended_key_usage()?
            .map(|e| e.value.iter().map(|o| o.to_string()).collect())
            .unwrap_or_default(),
        subject_alternative_names: ext.subject_alt_names()?.map(|s| alt_names_out(&s.value)),
        crl_distribution_point_uri: ext
            .crl_distribution_uris()?
            .and_then(|u| u.into_iter().next()),
        public_key_jwk: jwk_value(&cert.public_key()?),
    })
}

/// The newest CA certificate this tenant was issued for `key`, if any.
fn issuer_certificate(
    store: &Store,
    tenant: &str,
    key: &PublicKey,
) -> Result<Option<ParsedCertificate>, ServiceError> {
    for der in store.issued_for_key(tenant, &key.to_spki_der(), ISSUER_CANDIDATES)? {
        let cert = ParsedCertificate::from_der(&der)
            .map_err(|e| ServiceError::Internal(format!("ledger certificate: {e}")))?;
        if cert
            .ext()
            .basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|b| b.value.ca)
        {
            return Ok(Some(cert));
        }
    }
    Ok(None)
}

enum IssuerInput {
    SelfSigned,
    CaSigned(KeyRef),
}

pub async fn create_certificate(
    app: &Arc<App>,
    ctx: &OpContext,
    req: api::CreateCertificateRequest,
) -> Result<api::GenericCertificateResponse, ServiceError> {
    const EVENT: &str = "X509_CERTIFICATE_CREATE";
    let tenant = ctx.principal.tenant.clone();
    let id = match stored_id(&req.stored_certificate_id) {
        Ok(id) => id,
        Err(e) => return failed(app, ctx, EVENT, None, e).await,
    };
    let full = full_id(&tenant, &id);
    let result = async {
        let source = parse_source(
            &req.subject_public_key_source,
            "subjectPublicKeySource",
            &tenant,
        )?;
        let issuer = match req.issuer.kind.as_str() {
            "self-signed" => {
                if req.issuer.issuer_key_descriptor.is_some() {
                    return Err(invalid(
                        "issuer.issuerKeyDescriptor",
                        "not allowed for a self-signed certificate (the subject key signs)",
                    ));
                }
                if matches!(source, SubjectSource::Csr(_)) {
                    return Err(invalid(
                        "subjectPublicKeySource.type",
                        "a self-signed certificate requires a key-descriptor subject key (the \
                         subject key signs it); CSR input requires a ca-signed issuer",
                    ));
                }
                IssuerInput::SelfSigned
            }
            "ca-signed" => {
                let d = req.issuer.issuer_key_descriptor.as_ref().ok_or_else(|| {
                    invalid("issuer.issuerKeyDescriptor", "is required for ca-signed")
                })?;
                IssuerInput::CaSigned(parse_key(d, "issuer.issuerKeyDescriptor", &tenant)?)
            }
            _ => return Err(invalid("issuer.type", "must be self-signed or ca-signed")),
        };
        const P: &str = "certificateData";
        let d = &req.certificate_data;
        let spec = GenericSpec {
            subject_name: dn(&d.subject_name),
            issuer_name: d.issuer_name.as_ref().map(dn),
            string_encoding: StringEncoding::Utf8,
            not_before: parse_time(&d.not_before, "certificateData.notBefore")?,
            not_after: parse_time(&d.not_after, "certificateData.notAfter")?,
            is_certificate_authority: d.is_certificate_authority.unwrap_or(false),
            path_length_constraint: d.path_length_constraint,
            key_usage: d.key_usage.clone().unwrap_or_default(),
            extended_key_usage_oids: d.extended_key_usage_oids.clone().unwrap_or_default(),
            subject_alternative_names: d.subject_alternative_names.as_ref().map(alt_names),
            crl_distribution_point_uri: d.crl_distribution_point_uri.clone(),
        };
        let token = app.ready_token()?;
        let store = app.store.clone();
        let ctx2 = ctx.clone();
        let id2 = id.clone();
        let now = now();
        let cert = app
            .blocking(move || -> Result<ParsedCertificate, ServiceError> {
                let tenant = &ctx2.principal.tenant;
                let rec = Recording {
                    store: &store,
                    ctx: &ctx2,
                    event: EVENT,
                    id: &id2,
                    profile: "generic",
                    kind: "base",
                    metadata: None,
                };
                rec.ensure_free()?;
                let cert = match issuer {
                    IssuerInput::SelfSigned => {
                        let SubjectSource::Key(k) = source else {
                            unreachable!("CSR with self-signed is refused above")
                        };
                        let signer = resolve_signer(&store, &token, tenant, k)?;
                        let pk = signer.key.public_key().clone();
                        x509::build_generic(
                            &spec,
                            &pk,
                            x509::IssuerSpec {
                                key: &signer.key,
                                certificate: None,
                                signature_algorithm: None,
                            },
                            now,
                        )
                        .map_err(|e| x509_error_in(e, P, P))?
                    }
                    IssuerInput::CaSigned(k) => {
                        let subject = subject_key(&store, tenant, source)?;
                        let signer = resolve_signer(&store, &token, tenant, k)?;
                        match issuer_certificate(&store, tenant, signer.key.public_key())? {
                            Some(issuer) => x509::build_generic(
                                &spec,
                                &subject,
                                x509::IssuerSpec {
                                    key: &signer.key,
                                    certificate: Some(issuer.certificate()),
                                    signature_algorithm: None,
                                },
                                now,
                            ),
                            None => x509::build_generic_external_issuer(
                                &spec,
                                &subject,
                                &signer.key,
                                now,
                            ),
                        }
                        .map_err(|e| x509_error_in(e, P, P))?
                    }
                };
                rec.commit(&cert)?;
                Ok(cert)
            })
            .await??;
        Ok(api::GenericCertificateResponse {
            stored_certificate_ids: vec![full.clone()],
            certificate_pem: pem(&cert)?,
            certificate_data: generic_data(&cert)
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
        })
    }
    .await;
    ctx.record_failure(app, EVENT, Some(&full), &result).await;
    result
}

// --- CSRs -----------------------------------------------------------------------------------

pub async fn create_csr(
    app: &Arc<App>,
    ctx: &OpContext,
    req: api::CreateCsrRequest,
) -> Result<api::CsrResponse, ServiceError> {
    const EVENT: &str = "X509_CSR_CREATE";
    let tenant = ctx.principal.tenant.clone();
    let result = async {
        let mut spec = CsrSpec {
            subject: dn(&req.subject_name),
            string_encoding: StringEncoding::Utf8,
            subject_alt_names: req.subject_alternative_names.as_ref().map(alt_names),
            key_usage: Vec::new(),
            extended_key_usage: Vec::new(),
        };
        match req.kind.as_str() {
            "generic" => {}
            // What a Document Signer certificate will carry (ISO/IEC 18013-5 Table B.3).
            "iso-document-signer" => {
                if spec.subject.country.is_none() {
                    return Err(invalid("subjectName.country", "is required (Table B.3)"));
                }
                if spec.subject.common_name.is_none() {
                    return Err(invalid("subjectName.commonName", "is required (Table B.3)"));
                }
                spec.key_usage = vec![KeyUsageName::DigitalSignature];
                spec.extended_key_usage = vec![x509::MDL_DS_EKU.to_string()];
            }
            _ => {
                return Err(invalid("type", "must be generic or iso-document-signer"));
            }
        }
        let key = parse_key(&req.subject_key_descriptor, "subjectKeyDescriptor", &tenant)?;
        let token = app.ready_token()?;
        let store = app.store.clone();
        let tenant2 = tenant.clone();
        let csr = app
            .blocking(move || -> Result<ParsedCsr, ServiceError> {
                let signer = resolve_signer(&store, &token, &tenant2, key)?;
                x509::build_csr(&spec, &signer.key, None).map_err(|e| match e {
                    X509Error::Invalid { field, rule } if field.starts_with("subjectName") => {
                        invalid(field, rule)
                    }
                    e => x509_error(e, "subjectName"),
                })
            })
            .await??;
        Ok(api::CsrResponse {
            csr_pem: csr
                .to_pem()
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
            csr_data: api::CsrData {
                subject_name: name_fields(&csr.subject),
                subject_alternative_names: csr
                    .subject_alt_names()
                    .map_err(|e| ServiceError::Internal(e.to_string()))?
                    .map(|a| alt_names_out(&a)),
                public_key_jwk: jwk_value(&csr.public_key),
            },
        })
    }
    .await;
    ctx.record(app, EVENT, None, &result).await;
    result
}

// --- the store --------------------------------------------------------------------------------

fn view(s: &StoredCertificate) -> Result<api::StoredCertificate, ServiceError> {
    let cert = ParsedCertificate::from_der(&s.der)
        .map_err(|e| ServiceError::Internal(format!("stored certificate: {e}")))?;
    let tbs = cert.certificate().tbs_certificate();
    Ok(api::StoredCertificate {
        stored_certificate_id: full_id(&s.tenant, &s.cert_id),
        kind: s.kind.clone(),
        certificate_pem: pem(&cert)?,
        vical_entry_complementary_metadata: s
            .metadata
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok()),
        subject: tbs.subject().to_string(),
        issuer: tbs.issuer().to_string(),
        serial_number: cert.serial_hex(),
        not_before: rfc3339(cert.not_before()),
        not_after: rfc3339(cert.not_after()),
        fingerprint_sha256: cert.fingerprint_sha256(),
        created_at: s.created_at.clone(),
    })
}

/// The id part of a full stored-certificate id in `{store}`; `None` (a 404) otherwise.
pub fn local_id<'a>(ctx: &OpContext, full: &'a str) -> Option<&'a str> {
    full.strip_prefix(ctx.principal.tenant.as_str())
        .and_then(|r| r.strip_prefix('.'))
        .and_then(|r| r.strip_prefix(STORE_ID))
        .and_then(|r| r.strip_prefix('.'))
        .filter(|id| valid_stored_id(id))
}

type PageOf<T> = (Vec<T>, Option<i64>);

pub async fn list_certificates(
    app: &Arc<App>,
    ctx: &OpContext,
    after: i64,
    limit: usize,
) -> Result<PageOf<api::StoredCertificate>, ServiceError> {
    let event = "X509_STORE_CERTIFICATE_RETRIEVE_LIST";
    super::read(app, ctx, event, None, move |store, tenant| {
        let rows = store.list_stored_certificates(tenant, STORE_ID, after, limit + 1)?;
        super::page(rows, limit, view)
    })
    .await
}

pub async fn list_certificate_ids(
    app: &Arc<App>,
    ctx: &OpContext,
    after: i64,
    limit: usize,
) -> Result<PageOf<String>, ServiceError> {
    let (views, next) = list_certificates(app, ctx, after, limit).await?;
    Ok((
        views.into_iter().map(|v| v.stored_certificate_id).collect(),
        next,
    ))
}

pub async fn get_certificate(
    app: &Arc<App>,
    ctx: &OpContext,
    id: String,
    full: &str,
) -> Result<api::StoredCertificate, ServiceError> {
    let event = "X509_STORE_CERTIFICATE_RETRIEVE";
    super::read(
        app,
        ctx,
        event,
        Some(full),
        move |store, tenant| match store.get_stored_certificate(tenant, STORE_ID, &id)? {
            Some(s) => view(&s),
            None => Err(ServiceError::NotFound("certificate")),
        },
    )
    .await
}

pub async fn delete_certificate(
    app: &Arc<App>,
    ctx: &OpContext,
    id: String,
    full: &str,
) -> Result<(), ServiceError> {
    const EVENT: &str = "X509_STORE_CERTIFICATE_DELETE";
    let store = app.store.clone();
    let ctx2 = ctx.clone();
    let full2 = full.to_owned();
    let result = app
        .blocking(move || -> Result<(), ServiceError> {
            let events = ctx2.events(EVENT, Some(&full2), None);
            if store.delete_stored_certificate_with_events(
                &ctx2.principal.tenant,
                STORE_ID,
                &id,
                &events,
            )? {
                Ok(())
            } else {
                Err(ServiceError::NotFound("certificate"))
            }
        })
        .await
        .and_then(|r| r);
    ctx.record_failure(app, EVENT, Some(full), &result).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_ids() {
        assert!(valid_stored_id("iaca-prod-2026-q1"));
        assert!(valid_stored_id(&uuid::Uuid::new_v4().to_string()));
        assert!(!valid_stored_id(""));
        assert!(!valid_stored_id("a.b"));
        assert!(!valid_stored_id("a b"));
        assert!(!valid_stored_id(&"x".repeat(129)));
    }

    #[test]
    fn jwk_descriptor_holds_secrets_without_leaking_them() {
        let body = r#"{"type":"jwk-encoded-key-descriptor","jwk":{"kty":"EC","crv":"P-256",
            "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
            "d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}}"#;
        let desc: api::KeyDescriptor = serde_json::from_str(body).unwrap();
        let dbg = format!("{desc:?}");
        assert!(!dbg.contains("jpsQnnGQ"), "{dbg}");
        let k = parse_key(&desc, "iacaKeyDesc", "org.t1").unwrap();
        assert!(matches!(
            k,
            KeyRef::Jwk {
                private: Some(_),
                ..
            }
        ));
        let bad: api::KeyDescriptor = serde_json::from_str(
            r#"{"type":"kms-hosted-key-descriptor","keyIdPath":"org.t2.kms.k1"}"#,
        )
        .unwrap();
        assert!(matches!(
            parse_key(&bad, "iacaKeyDesc", "org.t1"),
            Err(ServiceError::NotFoundAt { param, .. }) if param == "iacaKeyDesc.keyIdPath"
        ));
        assert!(
            serde_json::from_str::<api::KeyDescriptor>(r#"{"type":"x","keyIdPth":"a"}"#).is_err()
        );
    }
}
