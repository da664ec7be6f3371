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
use crate::crypto::{self, HashAlg, SignError};
use crate::store::{MdocRecord, SignerRecord};
use crate::x509::ParsedCertificate;

use super::ca::{CLOCK_SKEW, SignerFamily};
use super::op::{self, Artefact, Op, Work};
use super::{App, OpContext, ServiceError, now_rfc3339};

mod provision;
mod status;
mod status_signer;

use provision::document_signer;
pub use status::{
    PublicToken, Revocation, StatusListConfig, distribution, public_token, renew_due, revoke,
    token_path,
};

const SIGN_EVENT: &str = "MOBILE_CREDENTIAL_SIGN";
/// The request field naming the document signer.
const P_SIGNER: &str = "documentSignerId";

/// The family's rules, from the `[mobile]` configuration.
#[derive(Debug, Clone)]
pub struct MobileConfig {
    /// The longest an mdoc may be valid (validUntil − now). A provisioned document signer is
    /// replaced once its certificate would end within this, so every mdoc it signs ends
    /// before its certificate does.
    pub max_mdoc_validity: time::Duration,
    /// Validity of a document signer certificate provisioned here (at most 457 days,
    /// ISO/IEC 18013-5 Table B.3; more than `max_mdoc_validity`).
    pub document_signer_validity: time::Duration,
    /// Elements and bytes of one `itemsToSign`.
    pub limits: cose::Limits,
    /// Largest MSO `sign-mso` accepts, in bytes.
    pub max_mso_bytes: usize,
    /// What the CRL distribution point of a document signer provisioned here starts with:
    /// `{public_base}/crl/{iacaId}.crl`. ISO/IEC 18013-5 Table B.3 requires one, so without
    /// `public.base_url` it is the listen address (which verifiers elsewhere cannot reach).
    pub public_base: String,
}

impl Default for MobileConfig {
    fn default() -> Self {
        MobileConfig {
            max_mdoc_validity: time::Duration::days(365),
            document_signer_validity: time::Duration::days(crate::x509::DS_MAX_DAYS),
            limits: cose::Limits {
                max_elements: 256,
                max_bytes: 512 * 1024,
            },
            max_mso_bytes: 256 * 1024,
            public_base: "http://localhost:8080".into(),
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

/// What the client gets: base64url of the IssuerSigned CBOR, its decoded view, and the
/// mdoc's id (what `revoke` takes).
#[derive(Debug, Clone)]
pub struct SignedMdoc {
    pub encoded: String,
    pub decoded: serde_json::Value,
    pub credential_id: String,
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
        times.check(OffsetDateTime::now_utc(), &app.mobile)?;
        if req.doc_type.trim().is_empty() || req.doc_type.len() > 256 {
            return Err(ServiceError::invalid(
                "payload.docType",
                "must be 1 to 256 characters",
            ));
        }
        Ok((elements, device_key, times))
    })();
    let (elements, device_key, times) = op::precheck(app, ctx, SIGN_EVENT, checked).await?;
    let named = req.document_signer_id.as_deref();
    let (signer_id, entry) = match fast_lookup(app, ctx, named).await {
        // Without a public base URL no mdoc gets an entry: the lookup was complete.
        Some((signer_id, entry)) if entry.is_some() || app.public_base_url.is_none() => {
            (signer_id, entry)
        }
        found => {
            let signer_id = match found {
                Some((id, None)) => id,
                _ => document_signer(app, ctx, named, SIGN_EVENT).await?,
            };
            // The mdoc's status list entry, in a list of its document signer's IACA (a new
            // list when the newest is full). An unknown signer gets none here and is
            // refused by the operation.
            let entry = match signer_iaca(app, ctx, &signer_id).await {
                Ok(Some(iaca)) => status::reserve(app, ctx, &iaca).await,
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            };
            match entry {
                Ok(e) => (signer_id, e),
                Err(e) => return op::refuse(app, ctx, SIGN_EVENT, Some(&signer_id), e).await,
            }
        }
    };
    let config = app.mobile.clone();
    let doc_type = req.doc_type;
    op::run(app, ctx, Op::new(SIGN_EVENT, Some(&signer_id)), move |w| {
        let (signer, cert) = usable_signer(w, &signer_id)?;
        let validity = times.validity(OffsetDateTime::now_utc(), &cert, &config)?;
        let salts = salts(elements.len())?;
        let mut mdoc = cose::build_mdoc(&doc_type, elements, &salts, device_key, validity)?;
        if let Some(e) = &entry {
            mdoc = mdoc.with_status(cose::StatusRef {
                idx: e.idx,
                uri: e.uri.clone(),
            })?;
        }
        let prepared = mdoc.prepare(std::slice::from_ref(&cert))?;
        let sig = sign(w, &signer, prepared.to_be_signed())?;
        let credential_id = uuid::Uuid::new_v4().to_string();
        let mut record = mdoc_record(w, &signer, prepared.to_be_signed(), "built");
        record.credential_id = Some(credential_id.clone());
        record.status = entry.as_ref().map(|e| (e.list_id.clone(), e.idx));
        let issued = prepared.finish(&sig)?;
        w.commit(|tx| {
            // The entry is taken in the transaction that records the mdoc.
            if let Some(e) = &entry {
                tx.take_status_index(&e.list_id, e.idx)?;
            }
            Ok(tx.record_mdoc(&record)?)
        })?;
        Ok(SignedMdoc {
            encoded: issued.encoded(),
            decoded: issued.decoded().clone(),
            credential_id,
        })
    })
    .await
}

/// A sign request's lookups in one trip to the blocking pool, for the common case: the
/// document signer (named, or the current one), and an entry taken in its IACA's newest
/// status list. `None`, or no entry, sends the request down the paths that provision a
/// signer or create a list (each under its lock, repeating these lookups and refusing with
/// their errors); before, each lookup was its own hop between threads.
async fn fast_lookup(
    app: &Arc<App>,
    ctx: &OpContext,
    named: Option<&str>,
) -> Option<(String, Option<status::Entry>)> {
    let store = app.store.clone();
    let (tenant, named) = (ctx.principal.tenant.clone(), named.map(str::to_owned));
    let margin = app.mobile.max_mdoc_validity;
    let found = app
        .blocking(move || {
            let signer_id = provision::existing_signer(&store, &tenant, named.as_deref(), margin)?;
            let signer = store
                .get_signer(&tenant, SignerFamily::Document.kind(), &signer_id)
                .ok()??;
            let list = store.newest_status_list(&tenant, &signer.ca_id).ok()?;
            Some((signer_id, list))
        })
        .await
        .ok()??;
    let (signer_id, list) = found;
    let entry = list.as_ref().and_then(|l| status::take_entry(app, l));
    Some((signer_id, entry))
}

/// The IACA of the tenant's document signer `id`; `None` for an unknown one.
async fn signer_iaca(
    app: &Arc<App>,
    ctx: &OpContext,
    id: &str,
) -> Result<Option<String>, ServiceError> {
    let store = app.store.clone();
    let (tenant, id) = (ctx.principal.tenant.clone(), id.to_owned());
    app.blocking(move || {
        Ok(store
            .get_signer(&tenant, SignerFamily::Document.kind(), &id)?
            .map(|s| s.ca_id))
    })
    .await?
}

/// `POST /v2/credentials/mobile/sign-mso`: the issuer built the MSO; the daemon parses and
/// checks it (docType, validity against now and the document signer's certificate, the
/// device key) and signs only what parsed. Returns the IssuerAuth COSE_Sign1, base64url.
/// Its MSO carries no status list entry (`cose::parse_mso` refuses one): the daemon, not
/// the client, allocates entries, and cannot add one to bytes it signs as received.
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

    /// The rules that need no document signer: validFrom not in the past, the span
    /// (`check_span`), expectedUpdate after validFrom. Checked before anything else runs (a
    /// refused request must not provision a signer), and again at signing time.
    fn check(&self, now: OffsetDateTime, config: &MobileConfig) -> Result<(), ServiceError> {
        let bad =
            |name: &str, msg: String| ServiceError::invalid(format!("{P_VALIDITY}.{name}"), msg);
        if self.valid_from < now - CLOCK_SKEW {
            return Err(bad(
                "validFrom",
                "must not be in the past (5 minutes of clock skew are allowed)".into(),
            ));
        }
        check_span(self.valid_from, self.valid_until, now, config, P_VALIDITY)?;
        if self.expected_update.is_some_and(|u| u <= self.valid_from) {
            return Err(bad("expectedUpdate", "must be after validFrom".into()));
        }
        Ok(())
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
        self.check(now, config)?;
        check_within(self.valid_from, self.valid_until, cert, P_VALIDITY)?;
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
/// the configured validity from now ([`check_span`]), and the whole window inside the
/// document signer certificate's validity ([`check_within`]: a reader refuses an mdoc its DS
/// certificate does not cover).
fn check_window(
    from: OffsetDateTime,
    until: OffsetDateTime,
    now: OffsetDateTime,
    cert: &ParsedCertificate,
    config: &MobileConfig,
    prefix: &str,
) -> Result<(), ServiceError> {
    check_span(from, until, now, config, prefix)?;
    check_within(from, until, cert, prefix)
}

fn check_span(
    from: OffsetDateTime,
    until: OffsetDateTime,
    now: OffsetDateTime,
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
    Ok(())
}

fn check_within(
    from: OffsetDateTime,
    until: OffsetDateTime,
    cert: &ParsedCertificate,
    prefix: &str,
) -> Result<(), ServiceError> {
    let bad = |name: &str, msg: String| ServiceError::invalid(format!("{prefix}.{name}"), msg);
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
        credential_id: None,
        status: None,
    }
}
