//! The X.509 service and store (walt.id shapes, seeds 002 and 004): IACAs, Document Signers,
//! generic certificates, CSRs, and the per-tenant certificate store.
//!
//! Every issuance is one operation of the runner (`op::run`): refuse a taken
//! `storedCertificateId` (409) before anything is signed; resolve the keys and check their
//! purposes; build and sign through the X.509 engine (which verifies every signature in
//! Rust); then write the ledger rows, the store row, the key purposes and the audit events in
//! ONE transaction (the store's UNIQUE key is the second line of defence against a
//! concurrent duplicate). The 2xx leaves only after commit.
//!
//! Layout: `descriptors.rs` (key descriptors and ephemeral imports), `iso.rs` (IACA and
//! Document Signer), `generic.rs` (generic certificates and CSRs), `store.rs` (the store
//! API); this file holds what they share.
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

use crate::api::ErrorCode;
use crate::api::x509 as api;
use crate::crypto::{PublicJwk, PublicKey};
use crate::hsm::{HsmError, PrivateKeyMaterial, Token, TokenKey};
use crate::store::{IssuedRecord, KeyRecord, StoreError, StoredCertificate};
use crate::x509::{
    self, AltNames, CsrSpec, DnFields, GenericSpec, IacaSpec, IacaView, KeyUsageName,
    ParsedCertificate, ParsedCsr, StringEncoding, X509Error,
};

use super::ca::rfc3339;
use super::op::{self, Artefact, Op, Work};
use super::purpose::{self, Use};
use super::{App, KeyPurpose, OpContext, ServiceError, keys, now_rfc3339};

mod descriptors;
mod generic;
mod iso;
mod store;

use descriptors::*;
pub use generic::{create_certificate, create_csr};
pub use iso::{create_document_signer, create_iaca};
pub use store::{
    delete_certificate, get_certificate, list_certificate_ids, list_certificates, local_id,
};

/// The one X.509 store of every tenant: full ids are `{org}.{tenant}.x509-store-1.{id}`.
pub const STORE_ID: &str = "x509-store-1";
/// Token label prefix of a private JWK imported for one signature.
pub const EPHEMERAL_PREFIX: &str = "hsm-pki.ephemeral.";
/// Longest client-chosen storedCertificateId.
pub const MAX_STORED_ID_LEN: usize = 128;

fn invalid(param: impl Into<String>, msg: impl Into<String>) -> ServiceError {
    ServiceError::invalid(param, msg)
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
        // Shown to every caller of the store API: never an API token pasted as an id.
        && !super::auth::has_token(id)
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
                "must be 1 to {MAX_STORED_ID_LEN} characters of letters, digits, '-' and '_', \
                 not an API token"
            ),
            value: Some(id.chars().take(128).collect()),
        }),
    }
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

/// An X.509 engine error about the content of the request field `param`.
fn x509_error(e: X509Error, param: &str) -> ServiceError {
    ServiceError::from(e).about(param)
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

// --- recording ------------------------------------------------------------------------------

fn taken(id: &str) -> ServiceError {
    ServiceError::conflict(
        ErrorCode::StoredCertificateIdExists,
        format!("A stored certificate with id '{id}' already exists"),
    )
}

/// What an issued certificate means for the CRLs (`service::crl`).
#[derive(Debug, Default)]
struct CrlLink {
    /// The CRL issuer (caId) whose CRL lists the certificate once it is revoked; `None`:
    /// self-signed, or signed by a key not held here, so no CRL here can list it.
    listed_by: Option<String>,
    /// The certificate is a CA certificate of a held key: (caId, key label). That key is
    /// recorded as a CRL issuer under this certificate (its newest).
    own: Option<(String, String)>,
    /// A CA certificate given with the request (an IACA by PEM) for a held key that is no
    /// CRL issuer yet: (caId, key label, DER), recorded unless the key is one by then.
    given: Option<(String, String, Vec<u8>)>,
}

/// The caId a held CA key publishes its CRL under: its own, or a fresh one.
fn ca_id_for(w: &Work, label: &str) -> Result<(String, bool), ServiceError> {
    Ok(match w.store().crl_issuer_of_key(label)? {
        Some(i) => (i.id, true),
        None => (super::crl::new_issuer_id(), false),
    })
}

/// `{base_url}/crl/{caId}.crl`, unless the request named a distribution point.
fn default_dp(given: &mut Option<String>, base: &Option<String>, ca_id: &str) {
    if given.is_none() {
        *given = base.as_deref().map(|b| format!("{b}/crl/{ca_id}.crl"));
    }
}

/// Where an issued certificate goes: the ledger and the tenant's store under `id`.
struct Recording {
    id: String,
    profile: &'static str,
    kind: &'static str,
    metadata: Option<String>,
}

impl Recording {
    fn ensure_free(&self, w: &Work) -> Result<(), ServiceError> {
        if w.store()
            .stored_certificate_exists(w.tenant(), STORE_ID, &self.id)?
        {
            return Err(taken(&self.id));
        }
        Ok(())
    }

    fn commit(
        self,
        w: &mut Work,
        cert: &ParsedCertificate,
        link: CrlLink,
    ) -> Result<(), ServiceError> {
        let tenant = &w.tenant().to_owned();
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
            is_ca: cert.is_ca(),
            der: cert.der().to_vec(),
            created_at: created_at.clone(),
            crl_issuer_id: link.listed_by,
        };
        let stored = StoredCertificate {
            tenant: tenant.clone(),
            store_id: STORE_ID.to_owned(),
            cert_id: self.id.clone(),
            kind: self.kind.to_owned(),
            metadata: self.metadata,
            der: cert.der().to_vec(),
            created_at,
        };
        let created_at = issued.created_at.clone();
        w.commit(|tx| {
            tx.record_issuance(&issued, &stored).map_err(|e| match e {
                StoreError::Conflict => taken(&self.id),
                e => e.into(),
            })?;
            if let Some((id, label, der)) = &link.given
                && tx.crl_issuer_of_key(label)?.is_none()
            {
                tx.upsert_crl_issuer(id, tenant, label, der, &created_at)?;
            }
            if let Some((id, label)) = &link.own {
                tx.upsert_crl_issuer(id, tenant, label, cert.der(), &created_at)?;
            }
            Ok(())
        })
    }
}

/// One issuance on the operation runner: refuse a taken store id before anything is signed,
/// `build` (which resolves and signs), then the ledger and store rows in the operation's
/// transaction. Returns the certificate and its full stored-certificate id.
async fn issue(
    app: &Arc<App>,
    ctx: &OpContext,
    event: &'static str,
    rec: Recording,
    build: impl FnOnce(&mut Work) -> Result<(ParsedCertificate, CrlLink), ServiceError> + Send + 'static,
) -> Result<(ParsedCertificate, String), ServiceError> {
    let full = full_id(&ctx.principal.tenant, &rec.id);
    let cert = op::run(app, ctx, Op::new(event, Some(&full)), move |w| {
        rec.ensure_free(w)?;
        // A signing key imported for this one signature is destroyed when `build` returns,
        // before the commit.
        let (cert, link) = build(w)?;
        rec.commit(w, &cert, link)?;
        Ok(cert)
    })
    .await?;
    // A new CA key gets its first CRL from the renewal timer, now rather than at its pass.
    app.crl_wake.notify_one();
    Ok((cert, full))
}

/// An ISO issuance's answer: the request's data with the validity actually issued.
fn iso_response<D: serde::Serialize>(
    cert: &ParsedCertificate,
    full: String,
    mut data: D,
    validity: impl FnOnce(&mut D, String, String),
) -> Result<api::IsoCertificateResponse<D>, ServiceError> {
    validity(
        &mut data,
        rfc3339(cert.not_before()),
        rfc3339(cert.not_after()),
    );
    Ok(api::IsoCertificateResponse {
        certificate_pem: pem(cert)?,
        stored_certificate_ids: vec![full],
        certificate_data: data,
    })
}

fn pem(cert: &ParsedCertificate) -> Result<String, ServiceError> {
    cert.to_pem()
        .map_err(|e| ServiceError::Internal(e.to_string()))
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
        let t = crate::service::auth::new_token("org.t1", &[], None, "now");
        assert!(!valid_stored_id(&t.secret), "a token as an id");
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
