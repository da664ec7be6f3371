//! `GET /healthz` (the process is alive) and `GET /readyz` (token and database usable).

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::{ApiError, Body, Ctx, json_response};
use crate::api;
use crate::service::{NotReady, auth};

pub async fn healthz(_ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    Ok(json_response(StatusCode::OK, &api::Health { status: "ok" }))
}

/// 200 when the token is logged in and answering and the database answers; otherwise 503
/// naming the component (`param`). The route is public, so the reason it shows is a short
/// public one; the token's or database's own error (which names PKCS#11 calls and return
/// values) goes to the log, and to callers that present a valid API token.
pub async fn readyz(ctx: &Ctx, req: &Request<Incoming>) -> Result<Response<Body>, ApiError> {
    match ctx.app.readiness().await {
        Ok(()) => Ok(json_response(
            StatusCode::OK,
            &api::Ready {
                status: "ready",
                token: "ok",
                database: "ok",
            },
        )),
        Err(NotReady { component, reason }) => {
            let authenticated = match super::bearer_token(req.headers()) {
                Some(token) => auth::principal(&ctx.app, token).await.is_ok(),
                None => false,
            };
            let msg = if authenticated {
                reason
            } else {
                tracing::debug!(%component, %reason, "not ready");
                format!("{component} unavailable")
            };
            Err(ApiError::unavailable(
                crate::api::ErrorCode::NotReady,
                format!("The {component} is not available"),
            )
            .with_detail("header", component, msg, None))
        }
    }
}
