//! Which document signer signs a request: the one named, or the current one of the
//! tenant's managed IACA, provisioned (and rotated) here when there is none that outlasts
//! the longest mdoc.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::crypto::KeyAlgorithm;
use crate::x509::{self, CsrSpec, DnFields, KeyUsageName, ParsedCertificate, StringEncoding};

use super::super::ca::{RootFamily, SignerFamily, commit_provisioned};
use super::super::op::{self, Artefact, Op};
use super::super::{App, OpContext, ServiceError};
use super::P_SIGNER;

/// The document signer to use: the one named (checked when the operation runs), else the
/// current one of the tenant's single active managed IACA, provisioned if there is none
/// that outlasts the longest mdoc. A refusal here is audited as `event`'s.
pub(super) async fn document_signer(
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
    app.blocking(move || current_in(&store, &tenant, margin))
        .await?
}

/// The current document signer of the tenant whose id this returns, if one exists already
/// (the sign request's fast path, on the blocking thread it is on); `None` when the named
/// id is not a UUID or a signer must be provisioned: [`document_signer`] handles those.
pub(super) fn existing_signer(
    store: &crate::store::Store,
    tenant: &str,
    named: Option<&str>,
    margin: time::Duration,
) -> Option<String> {
    match named {
        Some(id) => uuid::Uuid::parse_str(id).ok().map(|u| u.to_string()),
        None => match current_in(store, tenant, margin) {
            Ok(Current::Signer(id)) => Some(id),
            Ok(Current::Provision(_)) | Err(_) => None,
        },
    }
}

fn current_in(
    store: &crate::store::Store,
    tenant: &str,
    margin: time::Duration,
) -> Result<Current, ServiceError> {
    {
        let iacas: Vec<_> = store
            .list_cas(tenant, RootFamily::Iaca.kind(), 0, 1000)?
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
        for s in store.active_signers_of(tenant, SignerFamily::Document.kind(), &iaca.id)? {
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
    }
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
        let iaca_cert = super::super::ca::stored_cert(&iaca.certificate_der)?;
        let view = x509::check_iaca(&iaca_cert, "iacaId")?;
        let now = OffsetDateTime::now_utc();
        // Backdated by the clock skew allowed a client (see the spec below); the validity
        // counts from there, so it stays within the profile's maximum.
        let not_before = (now - super::super::ca::CLOCK_SKEW).max(iaca_cert.not_before());
        let not_after = (not_before + config.document_signer_validity).min(iaca_cert.not_after());
        if not_after < now + config.max_mdoc_validity {
            return Err(ServiceError::invalid(
                P_SIGNER,
                format!(
                    "the tenant's managed IACA ends {}, too soon for a document signer that \
                     outlasts a {}-day mdoc: create a new IACA",
                    super::super::ca::rfc3339(iaca_cert.not_after()),
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
            // Backdated by the clock skew we allow a client (within the IACA): a sign request
            // whose validFrom is its own "now", a moment before ours, falls inside the
            // certificate this request provisions.
            not_before,
            not_after,
            crl_distribution_point_uri: format!("{}/crl/{}.crl", config.public_base, iaca.id),
        };
        let cert = x509::build_document_signer(
            &spec,
            key.public_key(),
            &view,
            &w.signer(&iaca_key, Artefact::Certificate),
        )?;
        commit_provisioned(
            w,
            family,
            &iaca.id,
            &id,
            &key,
            csr.der().to_vec(),
            cert.der().to_vec(),
        )?;
        tracing::info!(document_signer = %id, iaca = %iaca.id, "document signer provisioned");
        Ok(id)
    })
    .await
}
