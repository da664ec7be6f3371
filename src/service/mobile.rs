//! Mobile credentials: mdocs signed by a document signer whose key never leaves the token
//! (MATTR VII `POST /v2/credentials/mobile/sign`, and `sign-mso` for an MSO the issuer built).
//!
//! The daemon builds (or, for `sign-mso`, parses) the MobileSecurityObject itself, so a
//! document signer key signs nothing but MSOs it checked: never a client's arbitrary bytes.
//! Under a managed IACA the daemon provisions the document signer on the first request that
//! needs one, and rotates it before its certificate's notAfter comes within the longest mdoc
//! validity allowed, so no mdoc outlives its document signer certificate. IACAs and document
//! signers themselves are the `ca` module's lifecycle (`RootFamily::Iaca`,
//! `SignerFamily::Document`).

use std::sync::Arc;

use base64ct::{Base64UrlUnpadded, Encoding};
use time::OffsetDateTime;

use crate::cose;
use crate::crypto::{self, HashAlg, KeyAlgorithm, SignError};
use crate::store::{KeyRecord, MdocRecord, SignerLimit, SignerRecord};
use crate::x509::{self, CsrSpec, DnFields, KeyUsageName, ParsedCertificate, StringEncoding};

use super::ca::{CLOCK_SKEW, RootFamily, SignerFamily};
use super::op::{self, Artefact, Op, Work};
use super::{App, KeyPurpose, OpContext, ServiceError, now_rfc3339};

const SIGN_EVENT: &str = "MOBILE_CREDENTIAL_SIGN";
const P_SIGNER: &str = "documentSignerId";

/// The family's rules, from the `[mobile]` configuration.
#[derive(Debug, Clone)]
pub struct MobileConfig {
    /// The longest an mdoc may be valid (validUntil − now). A provisioned document signer is
    /// replaced once its certificate would end within this, so every mdoc it signs ends
    /// before its certificate does.
    pub max_mdoc_validity: time::Duration,
    /// Elements and bytes of one `itemsToSign`.
    pub limits: cose::Limits,
    /// Largest MSO `sign-mso` accepts, in bytes.
    pub max_mso_bytes: usize,
    /// Where verifiers fetch an IACA's CRL: `{crl_base_url}/{iacaId}` (the distribution
    /// point of the document signers provisioned here).
    pub crl_base_url: String,
}

impl Default for MobileConfig {
    fn default() -> Self {
        MobileConfig {
            max_mdoc_validity: time::Duration::days(365),
            limits: cose::Limits {
                max_elements: 256,
                max_bytes: 512 * 1024,
            },
            max_mso_bytes: 256 * 1024,
            crl_base_url: "http://localhost:8080/crl".into(),
        }
    }
}

/// A sign request, as the wire type decoded it (duplicate JSON keys already refused).
#[derive(Debug, Clone)]
pub struct SignRequest {
    pub document_signer_id: Option<String>,
    pub doc_type: String,
    pub device_key: serde_json::Value,
    pub valid_from: String,
    pub valid_until: String,
    pub expected_update: Option<String>,
    pub items_to_sign: serde_json::Value,
}

/// What the client gets: base64url of the IssuerSigned CBOR and its decoded view.
#[derive(Debug, Clone)]
pub struct SignedMdoc {
    pub encoded: String,
    pub decoded: serde_json::Value,
}

/// `POST /v2/credentials/mobile/sign`.
pub async fn sign_mdoc(
    app: &Arc<App>,
    ctx: &OpContext,
    req: SignRequest,
) -> Result<SignedMdoc, ServiceError> {
    // Everything that needs neither token nor database, before anything else.
    let checked = (|| {
        let elements = cose::parse_items_to_sign(&req.items_to_sign, &app.mobile.limits)?;
        let device_key = cose::DeviceKey::from_jwk(&req.device_key)?;
        let times = Times::parse(&req.valid_from, &req.valid_until, &req.expected_update)?;
        if req.doc_type.trim().is_empty() || req.doc_type.len() > 256 {
            return Err(ServiceError::invalid(
                "payload.docType",
                "must be 1 to 256 characters",
            ));
        }
        Ok((elements, device_key, times))
    })();
    let (elements, device_key, times) = op::precheck(app, ctx, SIGN_EVENT, checked).await?;
    let signer_id =
        document_signer(app, ctx, req.document_signer_id.as_deref(), SIGN_EVENT).await?;
    let config = app.mobile.clone();
    let doc_type = req.doc_type;
    op::run(app, ctx, Op::new(SIGN_EVENT, Some(&signer_id)), move |w| {
        let (signer, cert) = usable_signer(w, &signer_id)?;
        let validity = times.validity(OffsetDateTime::now_utc(), &cert, &config)?;
        let salts = salts(elements.len())?;
        let prepared = cose::build_mdoc(&doc_type, elements, &salts, device_key, validity)?
            .prepare(std::slice::from_ref(&cert))?;
        let sig = sign(w, &signer, prepared.to_be_signed())?;
        let record = mdoc_record(w, &signer, prepared.to_be_signed(), "built");
        let issued = prepared.finish(&sig)?;
        w.commit(|tx| Ok(tx.record_mdoc(&record)?))?;
        Ok(SignedMdoc {
            encoded: issued.encoded(),
            decoded: issued.decoded().clone(),
        })
    })
    .await
}

/// `POST /v2/credentials/mobile/sign-mso`: the issuer built the MSO; the daemon parses and
/// checks it (docType, validity against now and the document signer's certificate, the
/// device key) and signs only what parsed. Returns the IssuerAuth COSE_Sign1, base64url.
pub async fn sign_mso(
    app: &Arc<App>,
    ctx: &OpContext,
    document_signer_id: Option<String>,
    mso_b64: String,
    doc_type: Option<String>,
) -> Result<String, ServiceError> {
    let max = app.mobile.max_mso_bytes;
    let checked = (|| {
        let bytes = Base64UrlUnpadded::decode_vec(mso_b64.trim_end_matches('=')).map_err(|_| {
            ServiceError::invalid("mso", "must be base64url (RFC 4648 section 5) CBOR")
        })?;
        let payload = cose::parse_mso(&bytes, max)?;
        if let Some(d) = &doc_type {
            payload.mso().check_doc_type(d)?;
        }
        Ok(payload)
    })();
    let payload = op::precheck(app, ctx, SIGN_EVENT, checked).await?;
    let signer_id = document_signer(app, ctx, document_signer_id.as_deref(), SIGN_EVENT).await?;
    let config = app.mobile.clone();
    op::run(app, ctx, Op::new(SIGN_EVENT, Some(&signer_id)), move |w| {
        let (signer, cert) = usable_signer(w, &signer_id)?;
        check_client_validity(
            payload.mso().validity(),
            OffsetDateTime::now_utc(),
            &cert,
            &config,
        )?;
        let tbs = cose::prepare(payload, std::slice::from_ref(&cert))?;
        let sig = sign(w, &signer, &tbs)?;
        let record = mdoc_record(w, &signer, &tbs, "client");
        let auth = cose::finish(tbs, &sig)?;
        w.commit(|tx| Ok(tx.record_mdoc(&record)?))?;
        Ok(Base64UrlUnpadded::encode_string(auth.bytes()))
    })
    .await
}

/// The validity times of a request, parsed (their rules against now and the certificate
/// are checked once the signer is known).
#[derive(Debug, Clone, Copy)]
struct Times {
    valid_from: OffsetDateTime,
    valid_until: OffsetDateTime,
    expected_update: Option<OffsetDateTime>,
}

const P_VALIDITY: &str = "payload.validityInfo";

impl Times {
    fn parse(from: &str, until: &str, update: &Option<String>) -> Result<Self, ServiceError> {
        let at = |name: &str, v: &str| cose::parse_date_time(&format!("{P_VALIDITY}.{name}"), v);
        Ok(Times {
            valid_from: at("validFrom", from)?,
            valid_until: at("validUntil", until)?,
            expected_update: update
                .as_deref()
                .map(|u| at("expectedUpdate", u))
                .transpose()?,
        })
    }

    /// The MSO's validityInfo for signing at `now` with `cert`. `signed` is now, or
    /// validFrom when that is a little earlier (the client's clock may lag ours: ISO/IEC
    /// 18013-5 wants validFrom ≥ signed).
    fn validity(
        self,
        now: OffsetDateTime,
        cert: &ParsedCertificate,
        config: &MobileConfig,
    ) -> Result<cose::ValidityInfo, ServiceError> {
        let bad =
            |name: &str, msg: String| ServiceError::invalid(format!("{P_VALIDITY}.{name}"), msg);
        if self.valid_from < now - CLOCK_SKEW {
            return Err(bad(
                "validFrom",
                "must not be in the past (5 minutes of clock skew are allowed)".into(),
            ));
        }
        check_window(
            self.valid_from,
            self.valid_until,
            now,
            cert,
            config,
            P_VALIDITY,
        )?;
        if self.expected_update.is_some_and(|u| u <= self.valid_from) {
            return Err(bad("expectedUpdate", "must be after validFrom".into()));
        }
        let signed = now.min(self.valid_from);
        Ok(cose::ValidityInfo::new(
            signed,
            self.valid_from,
            self.valid_until,
            self.expected_update,
        )?)
    }
}

/// The rules every signed mdoc keeps, whoever built it: validUntil after validFrom, at most
/// the configured validity from now, and the whole window inside the document signer
/// certificate's validity (a reader refuses an mdoc its DS certificate does not cover).
fn check_window(
    from: OffsetDateTime,
    until: OffsetDateTime,
    now: OffsetDateTime,
    cert: &ParsedCertificate,
    config: &MobileConfig,
    prefix: &str,
) -> Result<(), ServiceError> {
    let bad = |name: &str, msg: String| ServiceError::invalid(format!("{prefix}.{name}"), msg);
    if until <= from {
        return Err(bad("validUntil", "must be after validFrom".into()));
    }
    if until > now + config.max_mdoc_validity {
        return Err(bad(
            "validUntil",
            format!(
                "must be at most {} days from now",
                config.max_mdoc_validity.whole_days()
            ),
        ));
    }
    if from < cert.not_before() {
        return Err(bad(
            "validFrom",
            format!(
                "must not be before the document signer certificate's notBefore ({})",
                super::ca::rfc3339(cert.not_before())
            ),
        ));
    }
    if until > cert.not_after() {
        return Err(bad(
            "validUntil",
            format!(
                "must not be after the document signer certificate's notAfter ({})",
                super::ca::rfc3339(cert.not_after())
            ),
        ));
    }
    Ok(())
}

/// A client's MSO: its `signed` near now (not in the future, not older than a day: an MSO
/// is signed right after it is prepared) and its window within the rules above.
fn check_client_validity(
    v: &cose::ValidityInfo,
    now: OffsetDateTime,
    cert: &ParsedCertificate,
    config: &MobileConfig,
) -> Result<(), ServiceError> {
    const P: &str = "mso.validityInfo";
    if v.signed() > now + CLOCK_SKEW || v.signed() < now - time::Duration::days(1) {
        return Err(ServiceError::invalid(
            format!("{P}.signed"),
            "must be the time the MSO was prepared: not in the future, at most a day ago",
        ));
    }
    check_window(v.valid_from(), v.valid_until(), now, cert, config, P)
}

/// Salts of the IssuerSignedItems: 32 bytes each from the system CSPRNG.
fn salts(n: usize) -> Result<Vec<[u8; 32]>, ServiceError> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    (0..n)
        .map(|_| {
            aws_lc_rs::rand::generate::<[u8; 32]>(&rng)
                .map(|r| r.expose())
                .map_err(|_| ServiceError::Internal("system random generator failed".into()))
        })
        .collect()
}

/// The document signer a request names, if it can sign now: this tenant's, active, with a
/// certificate. Another tenant's id reads as an unknown one.
fn usable_signer(w: &Work, id: &str) -> Result<(SignerRecord, ParsedCertificate), ServiceError> {
    let family = SignerFamily::Document;
    let signer = w
        .store()
        .get_signer(w.tenant(), family.kind(), id)?
        .ok_or_else(|| {
            ServiceError::invalid_value(
                P_SIGNER,
                "must be the id of one of this tenant's document signers",
                id,
            )
        })?;
    let Some(der) = signer.certificate_der.as_deref().filter(|_| signer.active) else {
        return Err(ServiceError::invalid_value(
            P_SIGNER,
            "the document signer is not active (it needs its certificate and activation)",
            id,
        ));
    };
    let cert = ParsedCertificate::from_der(der)
        .map_err(|e| ServiceError::Internal(format!("stored certificate: {e}")))?;
    Ok((signer, cert))
}

/// The token signs the digest of the Sig_structure; `crypto::sign` verifies the signature
/// with the key's public half before it is used, and the ledger records it.
fn sign(w: &Work, signer: &SignerRecord, tbs: &cose::ToBeSigned) -> Result<Vec<u8>, ServiceError> {
    let key = w.token()?.find(&signer.key_label)?;
    let ledgered = w.signer(&key, Artefact::Cose);
    match crypto::sign(&ledgered, tbs.signature_algorithm(), tbs.bytes()) {
        Ok(sig) => Ok(sig.to_fixed().to_vec()),
        Err(SignError::Key(e)) => Err(e.into()),
        Err(SignError::Crypto(e)) => Err(ServiceError::Internal(format!(
            "document signer signature: {e}"
        ))),
    }
}

fn mdoc_record(
    w: &Work,
    signer: &SignerRecord,
    tbs: &cose::ToBeSigned,
    source: &str,
) -> MdocRecord {
    let mso = tbs.mso();
    let digest = HashAlg::Sha256.digest(tbs.payload());
    MdocRecord {
        tenant: w.tenant().to_owned(),
        document_signer_id: signer.id.clone(),
        doc_type: mso.doc_type().to_owned(),
        mso_digest: digest.iter().map(|b| format!("{b:02x}")).collect(),
        valid_from: super::ca::rfc3339(mso.validity().valid_from()),
        valid_until: super::ca::rfc3339(mso.validity().valid_until()),
        source: source.to_owned(),
        request_id: Some(w.request_id().to_owned()),
        created_at: now_rfc3339(),
    }
}

/// The document signer to use: the one named (checked when the operation runs), else the
/// current one of the tenant's single active managed IACA, provisioned if there is none
/// that outlasts the longest mdoc. A refusal here is audited as `event`'s.
async fn document_signer(
    app: &Arc<App>,
    ctx: &OpContext,
    named: Option<&str>,
    event: &str,
) -> Result<String, ServiceError> {
    if let Some(id) = named {
        return match uuid::Uuid::parse_str(id) {
            Ok(u) => Ok(u.to_string()),
            Err(_) => {
                let e = ServiceError::invalid_value(P_SIGNER, "must be a UUID", id);
                op::refuse(app, ctx, event, None, e).await
            }
        };
    }
    let found = current(app, ctx).await;
    let iaca = match found {
        Ok(Current::Signer(id)) => return Ok(id),
        Ok(Current::Provision(iaca)) => iaca,
        Err(e) => return op::refuse(app, ctx, event, None, e).await,
    };
    // One provisioning at a time, and a second look once it is ours: a concurrent first
    // request may have provisioned the signer meanwhile.
    let _one = app.provisioning.lock().await;
    match current(app, ctx).await {
        Ok(Current::Signer(id)) => Ok(id),
        Ok(Current::Provision(_)) => provision(app, ctx, iaca).await,
        Err(e) => op::refuse(app, ctx, event, None, e).await,
    }
}

enum Current {
    Signer(String),
    /// No provisioned signer of this IACA outlasts the longest mdoc.
    Provision(String),
}

async fn current(app: &Arc<App>, ctx: &OpContext) -> Result<Current, ServiceError> {
    let store = app.store.clone();
    let tenant = ctx.principal.tenant.clone();
    let margin = app.mobile.max_mdoc_validity;
    app.blocking(move || -> Result<Current, ServiceError> {
        let iacas: Vec<_> = store
            .list_cas(&tenant, RootFamily::Iaca.kind(), 0, 1000)?
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| r.active && r.key_label.is_some())
            .collect();
        let iaca = match iacas.as_slice() {
            [one] => one,
            [] => {
                return Err(ServiceError::invalid(
                    P_SIGNER,
                    "is required: this tenant has no active managed IACA to provision a \
                     document signer under",
                ));
            }
            many => {
                return Err(ServiceError::invalid(
                    P_SIGNER,
                    format!(
                        "is required: this tenant has {} active managed IACAs",
                        many.len()
                    ),
                ));
            }
        };
        let now = OffsetDateTime::now_utc();
        for s in store.active_signers_of(&tenant, SignerFamily::Document.kind(), &iaca.id)? {
            let Some(der) = &s.certificate_der else {
                continue;
            };
            let cert = ParsedCertificate::from_der(der)
                .map_err(|e| ServiceError::Internal(format!("stored certificate: {e}")))?;
            if cert.not_before() <= now && cert.not_after() >= now + margin {
                return Ok(Current::Signer(s.id));
            }
        }
        Ok(Current::Provision(iaca.id.clone()))
    })
    .await?
}

/// A new document signer under the managed IACA `iaca_id`: key in the token (the IACA's
/// curve), its CSR, its certificate issued by the IACA's key (ISO/IEC 18013-5 Table B.3,
/// at most 457 days and inside the IACA's validity), active; the IACA's other provisioned
/// signers are deactivated (rotation). Its own operation, audited as a document signer
/// creation.
async fn provision(
    app: &Arc<App>,
    ctx: &OpContext,
    iaca_id: String,
) -> Result<String, ServiceError> {
    let family = SignerFamily::Document;
    let event = format!("{}_CREATE", family.event());
    let config = app.mobile.clone();
    op::run(app, ctx, Op::new(event, None), move |w| {
        let tenant = w.tenant().to_owned();
        let iaca = w
            .store()
            .get_ca(&tenant, RootFamily::Iaca.kind(), &iaca_id)?
            .ok_or(ServiceError::NotFound("IACA"))?;
        let iaca_label = iaca
            .key_label
            .clone()
            .ok_or_else(|| ServiceError::Internal("provisioning under an unmanaged IACA".into()))?;
        let iaca_cert = super::ca::stored_cert(&iaca.certificate_der)?;
        let view = x509::check_iaca(&iaca_cert, "iacaId")?;
        let now = OffsetDateTime::now_utc();
        let not_after = (now + time::Duration::days(x509::DS_MAX_DAYS)).min(iaca_cert.not_after());
        if not_after < now + config.max_mdoc_validity {
            return Err(ServiceError::invalid(
                P_SIGNER,
                format!(
                    "the tenant's managed IACA ends {}, too soon for a document signer that \
                     outlasts a {}-day mdoc: create a new IACA",
                    super::ca::rfc3339(iaca_cert.not_after()),
                    config.max_mdoc_validity.whole_days()
                ),
            ));
        }
        let id = uuid::Uuid::new_v4().to_string();
        w.object(id.clone());
        let subject = iaca_cert.subject()?;
        let algorithm = view.public_key.algorithm();
        let algorithm = if algorithm.curve().is_some() {
            algorithm
        } else {
            KeyAlgorithm::P256
        };
        let key = w.generate_key(algorithm)?;
        let common_name = format!(
            "{} Document Signer",
            subject
                .common_name
                .clone()
                .unwrap_or_default()
                .chars()
                .take(48)
                .collect::<String>()
        );
        let csr = x509::build_csr(
            &CsrSpec {
                subject: DnFields {
                    common_name: Some(common_name.clone()),
                    country: subject.country.clone(),
                    state_or_province: subject.state_or_province.clone(),
                    ..Default::default()
                },
                string_encoding: StringEncoding::Utf8,
                subject_alt_names: None,
                key_usage: vec![KeyUsageName::DigitalSignature],
                extended_key_usage: vec![x509::MDL_DS_EKU.to_string()],
            },
            &w.signer(&key, Artefact::Csr),
            None,
        )?;
        let iaca_key = w.token()?.find(&iaca_label)?;
        let spec = x509::DocumentSignerSpec {
            country: subject.country.clone().unwrap_or_default(),
            common_name,
            state_or_province: subject.state_or_province.clone(),
            organization: None,
            locality: None,
            not_before: now,
            not_after,
            crl_distribution_point_uri: format!(
                "{}/{}",
                config.crl_base_url.trim_end_matches('/'),
                iaca.id
            ),
        };
        let cert = x509::build_document_signer(
            &spec,
            key.public_key(),
            &view,
            &w.signer(&iaca_key, Artefact::Certificate),
        )?;
        let created_at = now_rfc3339();
        let record = SignerRecord {
            id: id.clone(),
            tenant: tenant.clone(),
            kind: family.kind().to_owned(),
            ca_id: iaca.id.clone(),
            key_label: key.label().to_owned(),
            csr_der: csr.der().to_vec(),
            certificate_der: Some(cert.der().to_vec()),
            active: true,
            created_at: created_at.clone(),
        };
        let key_record = KeyRecord {
            label: key.label().to_owned(),
            tenant: tenant.clone(),
            name: format!("document-signer-{id}"),
            algorithm: algorithm.name().to_owned(),
            public_key_der: key.public_key().to_spki_der(),
            origin: "generated".into(),
            created_at,
            purpose: Some(KeyPurpose::MobileDocumentSigner.name().to_owned()),
        };
        w.commit(|tx| {
            // Provisioned signers are the daemon's to rotate: no tenant limit applies.
            tx.insert_signer(&record, &key_record, SignerLimit::PerRoot(usize::MAX))?;
            tx.deactivate_other_signers(&tenant, family.kind(), &iaca.id, &id)?;
            Ok(())
        })?;
        tracing::info!(document_signer = %id, iaca = %iaca.id, "document signer provisioned");
        Ok(id)
    })
    .await
}
