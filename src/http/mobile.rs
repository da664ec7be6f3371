//! `POST /v2/credentials/mobile/sign` and `.../sign-mso` (roles admin, issuer): mdocs signed
//! by a document signer in the token; `.../mdocs/{credentialId}/revoke`; the public status
//! list routes. IACAs, document signers and status list signers are served by `ca.rs`.

use hyper::body::Incoming;
use hyper::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderValue, IF_NONE_MATCH,
};
use hyper::{Request, Response, StatusCode};

use super::{ApiError, Body, Ctx, json_response, read_json};
use crate::api::mobile as wire;
use crate::service::OpContext;
use crate::service::mobile::{self, SignRequest};

pub async fn sign(
    ctx: &Ctx,
    op: &OpContext,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let b: wire::SignMdocRequest = read_json(ctx, req).await?;
    let p = b.payload;
    let request = SignRequest {
        document_signer_id: b.document_signer_id,
        doc_type: p.doc_type,
        device_key: p.device_key_info.device_key.0,
        valid_from: p.validity_info.valid_from,
        valid_until: p.validity_info.valid_until,
        expected_update: p.validity_info.expected_update,
        items_to_sign: p.items_to_sign.0,
    };
    let signed = mobile::sign_mdoc(&ctx.app, op, request).await?;
    Ok(json_response(
        StatusCode::OK,
        &wire::SignedMdoc {
            encoded: signed.encoded,
            decoded: signed.decoded,
            credential_id: signed.credential_id,
        },
    ))
}

pub async fn sign_mso(
    ctx: &Ctx,
    op: &OpContext,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let b: wire::SignMsoRequest = read_json(ctx, req).await?;
    let issuer_auth =
        mobile::sign_mso(&ctx.app, op, b.document_signer_id, b.mso, b.doc_type).await?;
    Ok(json_response(
        StatusCode::OK,
        &wire::SignedMso { issuer_auth },
    ))
}

pub async fn revoke(
    ctx: &Ctx,
    op: &OpContext,
    raw_id: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    // The body first: a malformed request is a 400 whatever it names.
    let b: wire::RevokeMdocRequest = read_json(ctx, req).await?;
    if let Some(k) = b.keys().next() {
        return Err(ApiError::new(
            crate::api::ErrorCode::ValidationError,
            "Request body is not valid",
        )
        .with_detail(
            "body",
            &k.chars().take(64).collect::<String>(),
            "unknown field: the body is {}",
            None,
        ));
    }
    let id = super::ca::path_id(raw_id)?;
    let r = mobile::revoke(&ctx.app, op, id).await?;
    Ok(json_response(
        StatusCode::OK,
        &wire::Revoked {
            revoked: true,
            revocation_date: r.revoked_at,
        },
    ))
}

/// The public status list routes: no token, the public budget per client address (the
/// public VICAL routes' bucket), nothing but what relying parties fetch. A GET changes
/// nothing.
pub async fn public(
    ctx: &Ctx,
    req: Request<Incoming>,
    token_of: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    super::spend_public_budget(ctx)?;
    super::query::parse(req.uri().query(), &[])?;
    let Some(raw_id) = token_of else {
        let lists = mobile::distribution(&ctx.app).await?;
        let mut resp = json_response(
            StatusCode::OK,
            &wire::StatusListDistribution {
                status_lists: lists,
            },
        );
        resp.headers_mut().insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        resp.headers_mut()
            .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        return Ok(resp);
    };
    let id = super::ca::path_id(raw_id)?;
    let t = mobile::public_token(&ctx.app, id).await?;
    let etag = format!("\"{}\"", t.digest);
    let fresh = req
        .headers()
        .get(IF_NONE_MATCH)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.split(',').any(|v| v.trim() == etag));
    let mut resp = if fresh {
        let mut r = Response::new(Body::default());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Body::from(t.bytes));
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static(crate::cose::STATUS_LIST_CWT_TYPE),
        );
        r
    };
    // Cached no longer than the token's ttl, nor past its exp (the draft: readers put the
    // claims before these headers; a cache in between should not serve a stale token).
    let left = (t.exp - time::OffsetDateTime::now_utc().unix_timestamp()).max(0) as u64;
    let h = resp.headers_mut();
    if let Ok(e) = HeaderValue::from_str(&etag) {
        h.insert(ETAG, e);
    }
    if let Ok(c) = HeaderValue::from_str(&format!("public, max-age={}", t.ttl_secs.min(left))) {
        h.insert(CACHE_CONTROL, c);
    }
    // The draft asks for CORS so that browser-based readers can fetch tokens; they are
    // public and need no credentials, so any origin may read them.
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    Ok(resp)
}
