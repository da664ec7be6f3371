//! `GET /healthz` (the process is alive) and `GET /readyz` (token and database usable).

use hyper::{Response, StatusCode};

use super::{ApiError, Body, Ctx, json_response};
use crate::api;
use crate::service::NotReady;

pub async fn healthz(_ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    Ok(json_response(StatusCode::OK, &api::Health { status: "ok" }))
}

/// 200 when the token is logged in and answering and the database answers; otherwise 503
/// with the reason as a detail (`param` names the component).
pub async fn readyz(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    match ctx.app.readiness().await {
        Ok(()) => Ok(json_response(
            StatusCode::OK,
            &api::Ready {
                status: "ready",
                token: "ok",
                database: "ok",
            },
        )),
        Err(NotReady { component, reason }) => Err(ApiError::unavailable(
            crate::api::ErrorCode::NotReady,
            format!("The {component} is not available"),
        )
        .with_detail("header", component, reason, None)),
    }
}
