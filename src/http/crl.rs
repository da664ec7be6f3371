//! Revocation and CRLs over HTTP: the public CRL route `/crl/{caId}.crl` (no token, the
//! public request budget, the stored DER), revocation of X.509 service certificates, and the
//! answer every revoke route shares.

use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderValue, IF_NONE_MATCH};
use hyper::{Request, Response, StatusCode};
use sha2::Digest;

use super::{ApiError, Body, Ctx, json_response, query, read_json};
use crate::api;
use crate::service::OpContext;
use crate::service::crl::{self, Revoked};

/// The shared answer of the revoke routes.
pub(super) fn revoked(r: Revoked) -> api::RevokeResponse {
    api::RevokeResponse {
        revoked: true,
        revocation_date: r.revocation_date,
        reason: r.reason,
        crl_ca_id: r.crl_ca_id,
    }
}

/// `POST /v1/{target}/x509-service-api/certificates/{serial}/revoke` `{reason?}`.
pub async fn revoke_certificate(
    ctx: &Ctx,
    op: &OpContext,
    target: &str,
    serial: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    crate::service::x509::check_target(op, target)?;
    let b: api::RevokeRequest = read_json(ctx, req).await?;
    let r = crl::revoke_certificate(&ctx.app, op, serial.to_owned(), b.reason).await?;
    Ok(json_response(StatusCode::OK, &revoked(r)))
}

/// `GET /crl/{caId}.crl`: the stored CRL, `application/pkix-crl` (RFC 2585), cacheable until
/// its nextUpdate, with an ETag of its bytes. Reads only.
pub async fn public(
    ctx: &Ctx,
    req: Request<Incoming>,
    segment: &str,
) -> Result<Response<Body>, ApiError> {
    super::spend_public_budget(ctx)?;
    query::parse(req.uri().query(), &[])?;
    // caIds are UUIDs; anything else names no CRL.
    let id = segment
        .strip_suffix(".crl")
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
        .map(|u| u.to_string())
        .ok_or_else(ApiError::not_found)?;
    let c = crl::public_crl(&ctx.app, id).await?;
    let digest = sha2::Sha256::digest(&c.der);
    let etag = format!("\"{}-{}\"", c.number, crate::x509::hex(&digest[..8]));
    let fresh = req
        .headers()
        .get(IF_NONE_MATCH)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.split(',').any(|t| t.trim() == etag));
    let mut resp = if fresh {
        let mut r = Response::new(Body::default());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Body::from(c.der));
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/pkix-crl"),
        );
        r
    };
    let h = resp.headers_mut();
    if let Ok(e) = HeaderValue::from_str(&etag) {
        h.insert(ETAG, e);
    }
    // Cacheable until nextUpdate (a CRL renewed early is found by revalidation: ETag).
    let left = (c.next_update - time::OffsetDateTime::now_utc())
        .whole_seconds()
        .max(0);
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={left}")) {
        h.insert(CACHE_CONTROL, v);
    }
    Ok(resp)
}
