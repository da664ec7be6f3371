//! `/v1/keys`: keys generated in the token (roles admin, issuer).

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::{ApiError, Body, Ctx, json_response, query, read_json};
use crate::api;
use crate::service::OpContext;
use crate::service::keys::{self, KeyView};

fn to_api(k: KeyView) -> api::Key {
    api::Key {
        key_id: k.key_id,
        key_id_path: k.key_id_path,
        algorithm: k.algorithm.name().to_owned(),
        public_key_jwk: serde_json::to_value(k.public_key.to_jwk()).unwrap_or_default(),
        created_at: k.created_at,
    }
}

/// Path ids are checked before any lookup; a malformed id is a 404 like any unknown one
/// would be, so the charset rule leaks nothing.
fn path_key_id(raw: &str) -> Result<String, ApiError> {
    if keys::valid_key_id(raw) {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::not_found())
    }
}

pub async fn create(
    ctx: &Ctx,
    op: &OpContext,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let new = keys::NewKey::try_from(read_json::<api::CreateKeyRequest>(ctx, req).await?)?;
    let key = keys::create(&ctx.app, op, new).await?;
    Ok(json_response(StatusCode::CREATED, &to_api(key)))
}

pub async fn list(
    ctx: &Ctx,
    op: &OpContext,
    req: &Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let params = query::parse(req.uri().query(), &["limit", "cursor"])?;
    let (limit, after) = query::page(&params)?;
    let (keys, next) = keys::list(&ctx.app, op, after, limit).await?;
    Ok(json_response(
        StatusCode::OK,
        &api::Page {
            data: keys.into_iter().map(to_api).collect(),
            next_cursor: next.map(query::encode_cursor),
        },
    ))
}

pub async fn get(ctx: &Ctx, op: &OpContext, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let id = path_key_id(raw_id)?;
    let key = keys::get(&ctx.app, op, id).await?;
    Ok(json_response(StatusCode::OK, &to_api(key)))
}

pub async fn delete(ctx: &Ctx, op: &OpContext, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let id = path_key_id(raw_id)?;
    keys::delete(&ctx.app, op, id).await?;
    let mut resp = Response::new(Body::default());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}
