//! Wallet attestations (`POST /v1/holder/wallet-attestations`): a compact JWT
//! (draft-ietf-oauth-attestation-based-client-auth) about a wallet instance's key, signed in
//! the token by a wallet attestation signer of the tenant's active holder root.
//!
//! Under a managed holder root the daemon provisions the signer itself on the first request
//! that needs one (key in the token, certificate issued by the root: digitalSignature, one
//! year and inside the root's validity, no extended key usage, as uploaded signers are
//! checked), once under concurrent first requests, and replaces it when its certificate
//! would end before the longest attestation (`holder.attestation_max_secs`). Under an unmanaged root the signers the
//! operator activated sign.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::api::ErrorCode;
use crate::crypto::{self, KeyAlgorithm, SignError};
use crate::jose::{self, AttestationPolicy, AttestationRequest};
use crate::store::Store;
use crate::x509::{
    self, CsrSpec, DnFields, IssuedKind, IssuedSpec, KeyUsageName, ParsedCertificate,
};

use super::ca::{RootFamily, SignerFamily, commit_provisioned, stored_cert};
use super::op::{self, Artefact, Op};
use super::{App, OpContext, ServiceError};

const EVENT: &str = "CREDENTIAL_HOLDER_WALLET_ATTESTATION_CREATE";
/// Attestation lifetimes (`[holder]` configuration).
#[derive(Debug, Clone, Copy)]
pub struct HolderPolicy {
    pub default_expires_in: u64,
    pub max_expires_in: u64,
}

impl Default for HolderPolicy {
    fn default() -> Self {
        HolderPolicy {
            default_expires_in: 86_400,
            max_expires_in: 30 * 86_400,
        }
    }
}
/// A provisioned signer's certificate lifetime.
const SIGNER_DAYS: i64 = 365;

/// The request, as the wire type decoded it.
#[derive(Debug, Clone)]
pub struct AttestationInput {
    pub client_id: String,
    pub wallet_key: serde_json::Value,
    pub expires_in: Option<u64>,
    pub wallet_name: Option<String>,
    pub wallet_link: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Attestation {
    pub token: String,
    pub signer_id: String,
    pub expires_at: OffsetDateTime,
}

impl From<jose::JoseError> for ServiceError {
    fn from(e: jose::JoseError) -> Self {
        match e {
            jose::JoseError::Invalid { field, message } => ServiceError::invalid(field, message),
            jose::JoseError::Caller(m) => ServiceError::Internal(format!("JWS: {m}")),
        }
    }
}

pub async fn attest(
    app: &Arc<App>,
    ctx: &OpContext,
    input: AttestationInput,
) -> Result<Attestation, ServiceError> {
    // What needs no signer is refused first: a bad request must not provision one.
    let checked = (|| {
        jose::public_ec_key_from_jwk("walletKey", &input.wallet_key)?;
        if input.client_id.trim().is_empty() || input.client_id.chars().count() > 256 {
            return Err(ServiceError::invalid(
                "clientId",
                "must be 1 to 256 characters",
            ));
        }
        if input
            .expires_in
            .is_some_and(|e| e == 0 || e > app.holder.max_expires_in)
        {
            return Err(ServiceError::invalid(
                "expiresIn",
                format!("must be 1 to {} seconds", app.holder.max_expires_in),
            ));
        }
        Ok(())
    })();
    op::precheck(app, ctx, EVENT, checked).await?;
    let signer_id = match current(app, ctx).await {
        Ok(Current::Signer(id)) => id,
        Ok(Current::Provision(root)) => {
            let _one = app.provisioning.lock().await;
            match current(app, ctx).await {
                Ok(Current::Signer(id)) => id,
                Ok(Current::Provision(_)) => provision(app, ctx, root).await?,
                Err(e) => return op::refuse(app, ctx, EVENT, None, e).await,
            }
        }
        Err(e) => return op::refuse(app, ctx, EVENT, None, e).await,
    };
    let lifetimes = app.holder;
    op::run(app, ctx, Op::new(EVENT, Some(&signer_id)), move |w| {
        let tenant = w.tenant().to_owned();
        let signer = w
            .store()
            .get_signer(&tenant, SignerFamily::Wallet.kind(), &signer_id)?
            .ok_or(ServiceError::NotFound("wallet attestation signer"))?;
        let cert = stored_cert(signer.certificate_der.as_deref().unwrap_or_default())?;
        let policy = AttestationPolicy {
            issuer: tenant.clone(),
            default_expires_in: lifetimes.default_expires_in,
            max_expires_in: lifetimes.max_expires_in,
        };
        let req = AttestationRequest {
            client_id: &input.client_id,
            wallet_key: &input.wallet_key,
            expires_in: input.expires_in,
            wallet_name: input.wallet_name.as_deref(),
            wallet_link: input.wallet_link.as_deref(),
        };
        let prepared = jose::prepare_attestation(
            &req,
            &policy,
            OffsetDateTime::now_utc(),
            std::slice::from_ref(&cert),
        )?;
        let key = w.token()?.find(&signer.key_label)?;
        let ledgered = w.signer(&key, Artefact::Jws);
        let sig = match crypto::sign(
            &ledgered,
            prepared.signature_algorithm(),
            prepared.signing_input(),
        ) {
            Ok(sig) => sig,
            Err(SignError::Key(e)) => return Err(e.into()),
            Err(SignError::Crypto(e)) => {
                return Err(ServiceError::Internal(format!(
                    "attestation signature: {e}"
                )));
            }
        };
        let done = prepared.finish(sig.to_fixed())?;
        w.commit(|_| Ok(()))?;
        Ok(Attestation {
            token: done.token().to_owned(),
            signer_id,
            expires_at: done.expires_at(),
        })
    })
    .await
}

enum Current {
    Signer(String),
    /// The managed root that needs a (new) signer.
    Provision(String),
}

/// The signer of the tenant's active holder root that signs now.
async fn current(app: &Arc<App>, ctx: &OpContext) -> Result<Current, ServiceError> {
    let store = app.store.clone();
    let tenant = ctx.principal.tenant.clone();
    let max = app.holder.max_expires_in;
    app.blocking(move || current_on(&store, &tenant, max))
        .await?
}

fn current_on(store: &Store, tenant: &str, max_expires_in: u64) -> Result<Current, ServiceError> {
    let roots: Vec<_> = store
        .list_cas(tenant, RootFamily::Holder.kind(), 0, 100)?
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| r.active)
        .collect();
    let Some(root) = roots.last() else {
        return Err(ServiceError::conflict(
            ErrorCode::NoActiveSigner,
            "The tenant has no active holder root CA to attest with",
        ));
    };
    let now = OffsetDateTime::now_utc();
    let margin = time::Duration::seconds(max_expires_in as i64);
    for s in store.active_signers_of(tenant, SignerFamily::Wallet.kind(), &root.id)? {
        let Some(der) = &s.certificate_der else {
            continue;
        };
        let cert = stored_cert(der)?;
        // An operator's signer signs while it is valid (expiresIn is cut at its notAfter);
        // a provisioned one is replaced before it cannot cover the longest attestation.
        let lasts = if root.key_label.is_some() {
            now + margin
        } else {
            now
        };
        if cert.not_before() <= now && cert.not_after() > lasts {
            return Ok(Current::Signer(s.id));
        }
    }
    match root.key_label {
        Some(_) => Ok(Current::Provision(root.id.clone())),
        None => Err(ServiceError::conflict(
            ErrorCode::NoActiveSigner,
            "The active holder root CA has no active wallet attestation signer",
        )),
    }
}

/// A new wallet attestation signer under the managed holder root `root_id`; its own
/// operation, audited as a signer creation.
async fn provision(
    app: &Arc<App>,
    ctx: &OpContext,
    root_id: String,
) -> Result<String, ServiceError> {
    let family = SignerFamily::Wallet;
    let op = Op::new(format!("{}_CREATE", family.event()), None);
    let max_expires_in = app.holder.max_expires_in;
    let dp = super::crl::distribution_point(app, &root_id);
    op::run(app, ctx, op, move |w| {
        let tenant = w.tenant().to_owned();
        let root = w
            .store()
            .get_ca(&tenant, RootFamily::Holder.kind(), &root_id)?
            .ok_or(ServiceError::NotFound("holder root CA certificate"))?;
        let root_label = root
            .key_label
            .clone()
            .ok_or_else(|| ServiceError::Internal("provisioning under an unmanaged root".into()))?;
        let root_cert: ParsedCertificate = stored_cert(&root.certificate_der)?;
        let now = OffsetDateTime::now_utc();
        let not_after = (now + time::Duration::days(SIGNER_DAYS)).min(root_cert.not_after());
        if not_after <= now + time::Duration::seconds(max_expires_in as i64) {
            return Err(ServiceError::conflict(
                ErrorCode::NoActiveSigner,
                "The active holder root CA ends too soon to provision a wallet attestation \
                 signer: create a new root",
            ));
        }
        let id = uuid::Uuid::new_v4().to_string();
        w.object(id.clone());
        let subject = root_cert.subject()?;
        let base: String = subject
            .organization
            .clone()
            .or_else(|| subject.common_name.clone())
            .unwrap_or_default()
            .chars()
            .take(40)
            .collect();
        let base = base.trim_end();
        // A managed root's CN is "<domain> Wallet Attestation": its signer's ends in "Signer".
        let common_name = if base.ends_with("Wallet Attestation") {
            format!("{base} Signer")
        } else {
            format!("{base} Wallet Attestation Signer")
        };
        let dn = DnFields {
            common_name: Some(common_name),
            country: subject.country.clone(),
            ..Default::default()
        };
        let key = w.generate_key(KeyAlgorithm::P256)?;
        let csr = x509::build_csr(
            &CsrSpec {
                subject: dn.clone(),
                string_encoding: x509::StringEncoding::Utf8,
                subject_alt_names: None,
                key_usage: vec![KeyUsageName::DigitalSignature],
                extended_key_usage: vec![],
            },
            &w.signer(&key, Artefact::Csr),
            None,
        )?;
        let root_key = w.token()?.find(&root_label)?;
        let cert = x509::build_issued(
            &IssuedSpec {
                subject: dn,
                string_encoding: x509::StringEncoding::Utf8,
                not_before: now,
                not_after,
                kind: IssuedKind::EndEntity,
                key_usage: vec![KeyUsageName::DigitalSignature],
                extended_key_usage: vec![],
                extended_key_usage_critical: false,
                subject_alt_names: None,
                issuer_alt_names: None,
                // The root's CRL, which lists this signer once revoked.
                crl_distribution_point_uri: dp,
            },
            key.public_key(),
            &w.signer(&root_key, Artefact::Certificate),
            root_cert.certificate(),
            None,
        )?;
        commit_provisioned(
            w,
            family,
            &root.id,
            &id,
            &key,
            csr.der().to_vec(),
            cert.der().to_vec(),
        )?;
        tracing::info!(signer = %id, root = %root.id, "wallet attestation signer provisioned");
        Ok(id)
    })
    .await
}
