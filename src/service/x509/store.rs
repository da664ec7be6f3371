//! The certificate store API: list, read and delete what the service issued (the ledger
//! keeps every certificate; deleting removes it from the store only).

use super::*;

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
    super::super::read(app, ctx, event, None, move |store, tenant| {
        let rows = store.list_stored_certificates(tenant, STORE_ID, after, limit + 1)?;
        super::super::page(rows, limit, view)
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
    super::super::read(
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
    let op = Op::new("X509_STORE_CERTIFICATE_DELETE", Some(full)).records_only();
    op::run(app, ctx, op, move |w| {
        let tenant = w.tenant().to_owned();
        w.commit(
            |tx| match tx.delete_stored_certificate(&tenant, STORE_ID, &id)? {
                true => Ok(()),
                false => Err(ServiceError::NotFound("certificate")),
            },
        )
    })
    .await
}
