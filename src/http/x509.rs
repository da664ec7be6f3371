//! `/v1/{target}/x509-service-api/...` (IACAs, Document Signers, generic certificates,
//! CSRs) and `/v1/{store}/x509-store-api/certificates...` (roles admin, issuer).
//!
//! `{target}` is `{org}.{tenant}.{serviceId}` and `{store}` is `{org}.{tenant}.x509-store-1`;
//! a path naming another tenant is a 404 before the body is read.

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::{ApiError, Body, Ctx, json_response, query, read_json};
use crate::api;
use crate::service::OpContext;
use crate::service::x509 as svc;

pub async fn create_iaca(
    ctx: &Ctx,
    op: &OpContext,
    target: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    svc::check_target(op, target)?;
    let body: api::x509::CreateIacaRequest = read_json(ctx, req).await?;
    let out = svc::create_iaca(&ctx.app, op, body).await?;
    Ok(json_response(StatusCode::OK, &out))
}

pub async fn create_document_signer(
    ctx: &Ctx,
    op: &OpContext,
    target: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    svc::check_target(op, target)?;
    let body: api::x509::CreateDocumentSignerRequest = read_json(ctx, req).await?;
    let out = svc::create_document_signer(&ctx.app, op, body).await?;
    Ok(json_response(StatusCode::OK, &out))
}

pub async fn create_certificate(
    ctx: &Ctx,
    op: &OpContext,
    target: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    svc::check_target(op, target)?;
    let body: api::x509::CreateCertificateRequest = read_json(ctx, req).await?;
    let out = svc::create_certificate(&ctx.app, op, body).await?;
    Ok(json_response(StatusCode::OK, &out))
}

pub async fn create_csr(
    ctx: &Ctx,
    op: &OpContext,
    target: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    svc::check_target(op, target)?;
    let body: api::x509::CreateCsrRequest = read_json(ctx, req).await?;
    let out = svc::create_csr(&ctx.app, op, body).await?;
    Ok(json_response(StatusCode::OK, &out))
}

pub async fn list(
    ctx: &Ctx,
    op: &OpContext,
    store: &str,
    req: &Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    svc::check_store(op, store)?;
    let params = query::parse(req.uri().query(), &["limit", "cursor"])?;
    let (limit, after) = query::page(&params)?;
    let (data, next) = svc::list_certificates(&ctx.app, op, after, limit).await?;
    Ok(json_response(
        StatusCode::OK,
        &api::Page {
            data,
            next_cursor: next.map(query::encode_cursor),
        },
    ))
}

pub async fn list_ids(
    ctx: &Ctx,
    op: &OpContext,
    store: &str,
    req: &Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    svc::check_store(op, store)?;
    let params = query::parse(req.uri().query(), &["limit", "cursor"])?;
    let (limit, after) = query::page(&params)?;
    let (data, next) = svc::list_certificate_ids(&ctx.app, op, after, limit).await?;
    Ok(json_response(
        StatusCode::OK,
        &api::Page {
            data,
            next_cursor: next.map(query::encode_cursor),
        },
    ))
}

/// `{certificateId}` is the full id `{org}.{tenant}.{storeId}.{id}`; it must lie in `{store}`.
fn local_id(op: &OpContext, store: &str, full: &str) -> Result<String, ApiError> {
    svc::check_store(op, store)?;
    svc::local_id(op, full)
        .map(str::to_owned)
        .ok_or_else(ApiError::not_found)
}

pub async fn get(
    ctx: &Ctx,
    op: &OpContext,
    store: &str,
    full: &str,
) -> Result<Response<Body>, ApiError> {
    let id = local_id(op, store, full)?;
    let out = svc::get_certificate(&ctx.app, op, id, full).await?;
    Ok(json_response(StatusCode::OK, &out))
}

pub async fn delete(
    ctx: &Ctx,
    op: &OpContext,
    store: &str,
    full: &str,
) -> Result<Response<Body>, ApiError> {
    let id = local_id(op, store, full)?;
    svc::delete_certificate(&ctx.app, op, id, full).await?;
    let mut resp = Response::new(Body::default());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}
