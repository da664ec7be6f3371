//! `GET /v1/audit-events`: the tenant's audit log, read-only (roles admin, auditor).

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::{ApiError, Body, Ctx, json_response, query};
use crate::api;
use crate::service::OpContext;

pub async fn list(
    ctx: &Ctx,
    op: &OpContext,
    req: &Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let params = query::parse(req.uri().query(), &["limit", "cursor", "event", "objectId"])?;
    let (limit, after) = query::page(&params)?;
    let event = query::get(&params, "event").map(str::to_owned);
    let object_id = query::get(&params, "objectId").map(str::to_owned);
    let (rows, next) =
        crate::service::audit::list(&ctx.app, op, event, object_id, after, limit).await?;
    let next_cursor = next.map(query::encode_cursor);
    let data = rows
        .into_iter()
        .map(|r| api::AuditEvent {
            seq: r.seq,
            at: r.event.at,
            event: r.event.event,
            outcome: r.event.outcome,
            object_id: r.event.object_id,
            token_id: r.event.token_id,
            request_id: r.event.request_id,
            error_code: r.event.error_code,
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &api::Page { data, next_cursor },
    ))
}
