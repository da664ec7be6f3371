//! Which status list signer signs an IACA's Status List Tokens: the newest active one of
//! the IACA whose certificate covers a whole token (now to now + the token validity);
//! under a managed IACA one is provisioned (and so rotated) when there is none, as document
//! signers are (`provision.rs`). Under an unmanaged IACA the tenant brings its own through
//! the CSR lifecycle of `/v2/credentials/mobile/status-list-signers`; without one, none.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::api::ErrorCode;
use crate::x509::{self, CsrSpec, DnFields, KeyUsageName, ParsedCertificate, StringEncoding};

use super::super::ca::{self, RootFamily, SignerFamily, commit_provisioned, signer_algorithm};
use super::super::op::{self, Artefact, Op};
use super::super::{App, OpContext, ServiceError};

const FAMILY: SignerFamily = SignerFamily::StatusList;

/// The status list signer for the tenant's IACA `iaca_id`, provisioned under a managed IACA
/// when it has none that covers a token; `None` under an unmanaged IACA without one. The
/// caller holds `App::status_signing` (taken before `App::provisioning`, always).
pub(super) async fn status_list_signer(
    app: &Arc<App>,
    ctx: &OpContext,
    iaca_id: &str,
) -> Result<Option<String>, ServiceError> {
    match current(app, ctx, iaca_id).await? {
        Current::Signer(id) => return Ok(Some(id)),
        Current::None => return Ok(None),
        Current::Provision => {}
    }
    let _one = app.provisioning.lock().await;
    match current(app, ctx, iaca_id).await? {
        Current::Signer(id) => Ok(Some(id)),
        Current::None => Ok(None),
        Current::Provision => provision(app, ctx, iaca_id.to_owned()).await.map(Some),
    }
}

/// [`status_list_signer`], or 409 `NoActiveSigner` when there is none.
pub(super) async fn require_signer(
    app: &Arc<App>,
    ctx: &OpContext,
    iaca_id: &str,
) -> Result<String, ServiceError> {
    status_list_signer(app, ctx, iaca_id).await?.ok_or_else(|| {
        ServiceError::conflict(
            ErrorCode::NoActiveSigner,
            "the IACA has no active status list signer whose certificate covers a status \
             list token: create one (POST /v2/credentials/mobile/status-list-signers), \
             upload its certificate and activate it",
        )
    })
}

enum Current {
    Signer(String),
    /// A managed IACA without a signer that covers a token.
    Provision,
    /// An unmanaged IACA without one.
    None,
}

async fn current(app: &Arc<App>, ctx: &OpContext, iaca_id: &str) -> Result<Current, ServiceError> {
    let store = app.store.clone();
    let tenant = ctx.principal.tenant.clone();
    let iaca_id = iaca_id.to_owned();
    let span = app.status_list.token_validity;
    app.blocking(move || -> Result<Current, ServiceError> {
        let iaca = store
            .get_ca(&tenant, RootFamily::Iaca.kind(), &iaca_id)?
            .ok_or(ServiceError::NotFound("IACA"))?;
        let now = OffsetDateTime::now_utc();
        for s in store.active_signers_of(&tenant, FAMILY.kind(), &iaca_id)? {
            let Some(der) = &s.certificate_der else {
                continue;
            };
            let cert = ca::stored_cert(der)?;
            if cert.not_before() <= now && cert.not_after() >= now + span {
                return Ok(Current::Signer(s.id));
            }
        }
        Ok(if iaca.key_label.is_some() {
            Current::Provision
        } else {
            Current::None
        })
    })
    .await?
}

/// A new status list signer under the managed IACA `iaca_id`: key in the token (the IACA's
/// curve), its CSR, its certificate issued by the IACA's key (`x509::build_status_list_signer`:
/// the Document Signer profile without its EKU, as long as a provisioned document signer,
/// inside the IACA's validity), active; the IACA's other status list signers are
/// deactivated. Its own operation, audited as a status list signer creation.
async fn provision(
    app: &Arc<App>,
    ctx: &OpContext,
    iaca_id: String,
) -> Result<String, ServiceError> {
    let event = format!("{}_CREATE", FAMILY.event());
    let validity = app.mobile.document_signer_validity;
    let span = app.status_list.token_validity;
    let public_base = app.mobile.public_base.clone();
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
        let iaca_cert = ca::stored_cert(&iaca.certificate_der)?;
        let view = x509::check_iaca(&iaca_cert, "iacaId")?;
        let now = OffsetDateTime::now_utc();
        // Backdated by the clock skew allowed a client (see the spec below); the validity
        // counts from there, so it stays within the profile's maximum.
        let not_before = (now - ca::CLOCK_SKEW).max(iaca_cert.not_before());
        let not_after = (not_before + validity).min(iaca_cert.not_after());
        if not_after < now + span {
            return Err(ServiceError::conflict(
                ErrorCode::NoActiveSigner,
                format!(
                    "the managed IACA ends {}, too soon for a status list signer that covers \
                     a status list token: create a new IACA",
                    ca::rfc3339(iaca_cert.not_after())
                ),
            ));
        }
        let id = uuid::Uuid::new_v4().to_string();
        w.object(id.clone());
        let subject = iaca_cert.subject()?;
        let key = w.generate_key(signer_algorithm(FAMILY, &iaca_cert))?;
        let common_name = format!(
            "{} Status List Signer",
            subject
                .common_name
                .clone()
                .unwrap_or_default()
                .chars()
                .take(44)
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
                extended_key_usage: vec![],
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
            // Backdated by the allowed clock skew, like a provisioned document signer's.
            not_before,
            not_after,
            // The IACA's CRL, as its document signers name it (`provision.rs`).
            crl_distribution_point_uri: format!("{public_base}/crl/{}.crl", iaca.id),
        };
        let cert: ParsedCertificate = x509::build_status_list_signer(
            &spec,
            key.public_key(),
            &view,
            &w.signer(&iaca_key, Artefact::Certificate),
        )?;
        commit_provisioned(
            w,
            FAMILY,
            &iaca.id,
            &id,
            &key,
            csr.der().to_vec(),
            cert.der().to_vec(),
        )?;
        tracing::info!(status_list_signer = %id, iaca = %iaca.id, "status list signer provisioned");
        Ok(id)
    })
    .await
}
