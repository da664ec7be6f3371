//! HTTP transport on hyper 1.x, without a web framework. The only module that knows hyper
//! and JSON.
//!
//! - [`Listener`] (`listener.rs`) accepts connections under slot limits (overall, per client
//!   address, a reserve for health probes) and serves each with hyper's auto (HTTP/1.1 + h2c)
//!   builder, with header (from accept), idle and request timeouts.
//! - `route` maps (method, path) to a handler, one module per URL family.
//! - Every error leaves as the documented `{code, message, details}` body ([`ApiError`]).

mod audit;
mod ca;
pub mod console;
mod crl;
mod dts;
mod error;
mod health;
mod keys;
mod limit;
mod listener;
mod metrics;
mod mobile;
mod query;
pub mod routes;
pub mod tls;
mod x509;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use zeroize::{Zeroize, Zeroizing};

pub use error::ApiError;
pub use listener::Listener;
pub use metrics::Metrics;

use crate::config::ServerConfig;
use crate::service::auth::{self, Role};
use crate::service::{App, Gate, OpContext, ServiceError};
use routes::{Access, RouteId};

pub type Body = Full<Bytes>;

/// The connection a request came on.
#[derive(Clone)]
pub(crate) struct Peer {
    pub ip: std::net::IpAddr,
    /// Taken from the reserve slots: serves only the health routes.
    pub reserve: bool,
    pub auth_failures: Arc<limit::AuthFailures>,
    /// Requests to the public routes.
    pub public: Arc<limit::AuthFailures>,
}

/// Request-scoped context handed to handlers.
pub struct Ctx {
    pub app: Arc<App>,
    pub metrics: Arc<Metrics>,
    pub request_id: String,
    pub body_limit: usize,
    /// The request's commit gate (see `service::Gate`): the timeout gives the request up
    /// only through it.
    pub gate: Arc<Gate>,
    /// Who is calling a state-changing route, and its event, once authorized: a request
    /// given up at its timeout is audited with them.
    pub audit: std::sync::OnceLock<(OpContext, String)>,
    pub(crate) peer: Peer,
    /// Served over TLS: the console's cookie is then `Secure`.
    pub tls: bool,
}

/// One request: request id, timeout, routing, and the error shape.
async fn handle(
    app: Arc<App>,
    metrics: Arc<Metrics>,
    config: &ServerConfig,
    peer: Peer,
    req: Request<Incoming>,
) -> Response<Body> {
    let reserve = peer.reserve;
    let started = Instant::now();
    let request_id = request_id(&req);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    // The metrics label: the route's template, never the raw path (bounded cardinality).
    let route_label = match routes::find(method.as_str(), &path) {
        routes::Match::Found(def, _) => def.pattern,
        _ => "unmatched",
    };
    let ctx = Ctx {
        app,
        metrics,
        request_id: request_id.clone(),
        body_limit: config.body_limit_bytes,
        gate: Gate::new(),
        audit: std::sync::OnceLock::new(),
        peer,
        tls: config.tls.is_some(),
    };
    // At the timeout the request is given up only if nothing of it has committed (then
    // work still in flight rolls back, so the 503 is true: nothing happened). If its work
    // committed already, the client gets that outcome, however late.
    let work = async {
        // A connection taken from the reserve (every ordinary slot is in use) serves only
        // the health routes, so that probes are answered under a connection flood.
        if reserve && path != "/healthz" && path != "/readyz" {
            return Err(ApiError::unavailable(
                crate::api::ErrorCode::ServerBusy,
                "Every connection slot is in use; retry later",
            ));
        }
        route(&ctx, req).await
    };
    tokio::pin!(work);
    let result = tokio::select! {
        r = &mut work => r,
        _ = tokio::time::sleep(config.request_timeout()) => {
            if ctx.gate.cancel() {
                // Audited in the background: the 503 must not wait for a permit.
                if let Some((op, event)) = ctx.audit.get().cloned() {
                    let app = ctx.app.clone();
                    tokio::spawn(async move {
                        let code = crate::api::ErrorCode::RequestTimeout;
                        op.record_refusal(&app, &event, None, code).await;
                    });
                }
                Err(ApiError::timeout())
            } else {
                work.await
            }
        }
    };
    let mut resp = match result {
        Ok(resp) => resp,
        Err(e) => error_response(&e),
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    if let Some(t) = &config.tls
        && let Ok(v) = HeaderValue::from_str(&format!("max-age={}", t.hsts_max_age_secs))
    {
        resp.headers_mut()
            .insert(hyper::header::STRICT_TRANSPORT_SECURITY, v);
    }
    ctx.metrics.observe_request(
        route_label,
        &method,
        resp.status().as_u16(),
        started.elapsed(),
    );
    tracing::info!(
        request_id = %request_id,
        method = %method,
        path = %auth::redact_tokens(&path),
        status = resp.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    resp
}

/// Echo the caller's `x-request-id` when it is a short printable token (so it cannot be
/// used to inject into logs); otherwise make one.
fn request_id(req: &Request<Incoming>) -> String {
    if let Some(v) = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        && acceptable_request_id(v)
    {
        return v.to_owned();
    }
    let mut b = [0u8; 16];
    rand::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A caller's request id we may echo, log and record: 1 to 128 of letters, digits and
/// `-_.:`, and not an API token (it goes to the log and the audit log; found by
/// tests/hostile.rs).
fn acceptable_request_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        && auth::redact_tokens(v) == v
}

/// A public route's request spends one of the client address's public budget; past it,
/// 429 until it refills. Public artefacts are cheap to serve, but not free.
fn spend_public_budget(ctx: &Ctx) -> Result<(), ApiError> {
    let now = Instant::now();
    if let Some(wait) = ctx.peer.public.blocked_for(ctx.peer.ip, now) {
        return Err(ApiError::new(
            crate::api::ErrorCode::TooManyRequests,
            format!(
                "Too many requests from this address; retry in {} s",
                wait.as_secs() + 1
            ),
        ));
    }
    ctx.peer.public.spend(ctx.peer.ip, now);
    Ok(())
}

async fn route(ctx: &Ctx, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_owned();
    let method = req.method().as_str().to_owned();
    let (def, params) = match routes::find(&method, &path) {
        routes::Match::Found(def, params) => (def, params),
        routes::Match::MethodNotAllowed(allowed) => {
            let mut resp = error_response(&ApiError::method_not_allowed());
            if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
                resp.headers_mut().insert(hyper::header::ALLOW, v);
            }
            return Ok(resp);
        }
        routes::Match::NotFound => return Err(ApiError::not_found()),
    };
    let params: Vec<String> = params.into_iter().map(str::to_owned).collect();
    let op = match def.access {
        Access::Public => None,
        Access::Roles(allowed) => Some(authorize(ctx, &req, allowed).await?),
        Access::Console => {
            let RouteId::Console(page) = def.id else {
                return Err(ApiError::not_found());
            };
            return Ok(console::handle(ctx, page, req, &params).await);
        }
    };
    // Only state-changing routes have an event: reads keep this off their path.
    if let (Some(op), Some(event)) = (&op, def.id.audit_event()) {
        let _ = ctx.audit.set((op.clone(), event));
    }
    let result = dispatch(ctx, def.id, op, req, &params).await;
    // A state-changing request refused here, before its operation ran (a body, query or
    // path that does not decode), is audited like one its operation refused.
    if let (Err(e), Some((op, event))) = (&result, ctx.audit.get()) {
        op.record_refusal(&ctx.app, event, None, e.code).await;
    }
    result
}

async fn dispatch(
    ctx: &Ctx,
    id: RouteId,
    op: Option<OpContext>,
    req: Request<Incoming>,
    params: &[String],
) -> Result<Response<Body>, ApiError> {
    // A protected route without query parameters refuses any (found by tests/hostile.rs:
    // `DELETE /v1/keys/k1?zz=1` used to succeed, ignoring the parameter).
    if op.is_some() && !id.takes_query() {
        query::parse(req.uri().query(), &[])?;
    }
    let op = || op.clone().expect("authorized route has a context");
    match id {
        RouteId::Healthz => health::healthz(ctx).await,
        RouteId::Readyz => health::readyz(ctx, &req).await,
        RouteId::OpenApi => Ok(openapi_response()),
        RouteId::Metrics => Ok(ctx.metrics.response(&ctx.app)),
        RouteId::KeysCreate => keys::create(ctx, &op(), req).await,
        RouteId::KeysList => keys::list(ctx, &op(), &req).await,
        RouteId::KeyGet => keys::get(ctx, &op(), &params[0]).await,
        RouteId::KeyDelete => keys::delete(ctx, &op(), &params[0]).await,
        RouteId::AuditList => audit::list(ctx, &op(), &req).await,
        RouteId::X509IacaCreate => x509::create_iaca(ctx, &op(), &params[0], req).await,
        RouteId::X509DocumentSignerCreate => {
            x509::create_document_signer(ctx, &op(), &params[0], req).await
        }
        RouteId::X509CertificateCreate => {
            x509::create_certificate(ctx, &op(), &params[0], req).await
        }
        RouteId::X509CsrCreate => x509::create_csr(ctx, &op(), &params[0], req).await,
        RouteId::X509StoreList => x509::list(ctx, &op(), &params[0], &req).await,
        RouteId::X509StoreListIds => x509::list_ids(ctx, &op(), &params[0], &req).await,
        RouteId::X509StoreGet => x509::get(ctx, &op(), &params[0], &params[1]).await,
        RouteId::X509StoreDelete => x509::delete(ctx, &op(), &params[0], &params[1]).await,
        RouteId::Ca(resource, action) => {
            ca::dispatch(ctx, &op(), resource, action, req, params).await
        }
        RouteId::HolderCaCrl => ca::holder_crl(ctx, &op(), &params[0]).await,
        RouteId::MobileSign => mobile::sign(ctx, &op(), req).await,
        RouteId::MobileSignMso => mobile::sign_mso(ctx, &op(), req).await,
        RouteId::MobileRevoke => mobile::revoke(ctx, &op(), &params[0], req).await,
        RouteId::StatusListToken => mobile::public(ctx, req, Some(&params[0])).await,
        RouteId::StatusListDistribution => mobile::public(ctx, req, None).await,
        RouteId::WalletAttestation => ca::wallet_attestation(ctx, &op(), req).await,
        RouteId::Dts(action) if action.is_public() => dts::public(ctx, action, req, params).await,
        RouteId::Dts(action) => dts::dispatch(ctx, &op(), action, req, params).await,
        RouteId::PublicCrl => crl::public(ctx, req, &params[0]).await,
        RouteId::X509CertificateRevoke => {
            crl::revoke_certificate(ctx, &op(), &params[0], &params[1], req).await
        }
        // Served by `route` before dispatch.
        RouteId::Console(_) => Err(ApiError::not_found()),
    }
}

/// The token of the one `Authorization: Bearer ...` header. Two Authorization headers are
/// ambiguous, so they count as none: a proxy that checks one and this daemon using the
/// other would disagree about who calls (found by tests/hostile.rs).
fn bearer_token(headers: &hyper::HeaderMap) -> Option<zeroize::Zeroizing<String>> {
    let mut values = headers.get_all(hyper::header::AUTHORIZATION).iter();
    let (first, second) = (values.next(), values.next());
    first
        .filter(|_| second.is_none())
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| zeroize::Zeroizing::new(t.trim().to_owned()))
}

/// A failed authentication (the API's 401, the console's failed sign-in): answered and
/// audited while the address is within its allowance; past it, the 429 returned here (and
/// not audited), so the audit write each failure costs is bounded per address. Valid tokens
/// are checked as always, so a client sharing an address with a noisy one is never held
/// back.
pub(crate) async fn authentication_refused(
    ctx: &Ctx,
    who: Option<(String, String)>,
    route: &str,
) -> Option<ApiError> {
    let now = Instant::now();
    if let Some(wait) = ctx.peer.auth_failures.blocked_for(ctx.peer.ip, now) {
        return Some(ApiError::new(
            crate::api::ErrorCode::TooManyRequests,
            format!(
                "Too many failed authentications from this address; retry in {} s",
                wait.as_secs() + 1
            ),
        ));
    }
    ctx.peer.auth_failures.spend(ctx.peer.ip, now);
    auth::record_unauthenticated(&ctx.app, &ctx.request_id, who, route).await;
    None
}

/// Verify the bearer token (401) and the route's roles (403).
async fn authorize(
    ctx: &Ctx,
    req: &Request<Incoming>,
    allowed: &'static [Role],
) -> Result<OpContext, ApiError> {
    let unauthenticated = || {
        ApiError::new(
            crate::api::ErrorCode::Unauthorized,
            "A valid API token is required",
        )
        .with_detail(
            "header",
            "authorization",
            "missing or invalid bearer token",
            None,
        )
    };
    let refused = |who: Option<(String, String)>| async move {
        let route = format!("{} {}", req.method(), req.uri().path());
        match authentication_refused(ctx, who, &route).await {
            Some(limited) => limited,
            None => unauthenticated(),
        }
    };
    let Some(token) = bearer_token(req.headers()) else {
        return Err(refused(None).await);
    };
    let principal = match auth::principal(&ctx.app, token).await {
        Ok(p) => p,
        Err(Ok(auth::AuthError::Unauthenticated)) => return Err(refused(None).await),
        Err(Ok(auth::AuthError::Rejected { tenant, token_id })) => {
            return Err(refused(Some((tenant, token_id))).await);
        }
        Err(Ok(auth::AuthError::Store(e))) => return Err(ApiError::from(ServiceError::Store(e))),
        Err(Err(e)) => return Err(ApiError::from(e)),
    };
    let op = OpContext {
        principal,
        request_id: ctx.request_id.clone(),
        gate: ctx.gate.clone(),
    };
    if !op.principal.has_any(allowed) {
        // Audited for the tenant (which route was tried; never the token's secret), so an
        // operator sees a token probing beyond its roles.
        let route = format!("{} {}", req.method(), auth::redact_tokens(req.uri().path()));
        let code = crate::api::ErrorCode::Forbidden;
        op.record_refusal(&ctx.app, "AUTHORIZATION", Some(&route), code)
            .await;
        return Err(ApiError::new(
            code,
            "The API token's roles do not allow this operation",
        ));
    }
    Ok(op)
}

fn openapi_response() -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from_static(openapi().as_bytes())));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// Fragments of the OpenAPI 3.1 document, one per URL family, maintained by hand beside the
/// route table (a test fails when the two disagree). Each holds `paths` and
/// `components.schemas`; [`openapi`] merges them over `base.json`.
const OPENAPI_FRAGMENTS: &[&str] = &[
    include_str!("openapi/keys.json"),
    include_str!("openapi/audit.json"),
    include_str!("openapi/x509.json"),
    include_str!("openapi/ca.json"),
    include_str!("openapi/mobile.json"),
    include_str!("openapi/dts.json"),
    include_str!("openapi/crl.json"),
    include_str!("openapi/status.json"),
];

/// The merged OpenAPI document, built once.
pub fn openapi() -> &'static str {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc: serde_json::Value =
            serde_json::from_str(include_str!("openapi/base.json")).expect("base.json parses");
        for f in OPENAPI_FRAGMENTS {
            let frag: serde_json::Value = serde_json::from_str(f).expect("fragment parses");
            for key in ["paths", "components/schemas"] {
                let ptr = format!("/{key}");
                if let (Some(dst), Some(src)) = (
                    doc.pointer_mut(&ptr).and_then(|v| v.as_object_mut()),
                    frag.pointer(&ptr).and_then(|v| v.as_object()),
                ) {
                    for (k, v) in src {
                        assert!(dst.insert(k.clone(), v.clone()).is_none(), "duplicate {k}");
                    }
                }
            }
        }
        doc.to_string()
    })
}

/// Read a JSON request body: `application/json` only (415 otherwise), at most the body
/// limit (413), decoded into `T` with unknown fields rejected by `T`'s serde attributes.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    ctx: &Ctx,
    req: Request<Incoming>,
) -> Result<T, ApiError> {
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(
            crate::api::ErrorCode::UnsupportedMediaType,
            "Request body must be application/json",
        )
        .with_detail("header", "content-type", "must be application/json", None));
    }
    // Refuse early on a declared length over the limit, without reading anything.
    if let Some(len) = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > ctx.body_limit as u64
    {
        return Err(ApiError::payload_too_large(ctx.body_limit));
    }
    let body = read_body(req.into_body(), ctx.body_limit).await?;
    let de = &mut serde_json::Deserializer::from_slice(&body);
    let value = serde_path_to_error::deserialize(de).map_err(|e| json_error(&e))?;
    Ok(value)
}

/// The body's bytes in one buffer that is zeroized when dropped: a body may carry a private
/// JWK. Each frame hyper hands over is wiped too when this is its only reference (hyper's
/// own read buffer is beyond reach; as far as it lets us, no copy of a secret outlives the
/// request).
async fn read_body(body: Incoming, limit: usize) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    let unreadable = |e: Box<dyn std::error::Error + Send + Sync>| {
        if e.is::<http_body_util::LengthLimitError>() {
            ApiError::payload_too_large(limit)
        } else {
            ApiError::new(
                crate::api::ErrorCode::BadRequest,
                "Request body could not be read",
            )
        }
    };
    let mut body = Limited::new(body, limit);
    let mut out = Zeroizing::new(Vec::new());
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(unreadable)?.into_data() else {
            continue; // trailers
        };
        out.extend_from_slice(&data);
        if let Ok(mut owned) = data.try_into_mut() {
            owned.as_mut().zeroize();
        }
    }
    Ok(out)
}

/// A JSON error as a 400 whose detail names the field: the path to where decoding failed,
/// or the unknown/missing field itself (a mistyped `notAfer` is named, not ignored).
fn json_error(e: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let msg = e.inner().to_string();
    let mut param = e.path().to_string();
    // The path already ends at an unknown field; a missing one is named only in the message.
    if let Some(name) = msg
        .split('`')
        .nth(1)
        .filter(|_| msg.starts_with("missing field"))
    {
        param = if param == "." {
            name.to_owned()
        } else {
            format!("{param}.{name}")
        };
    }
    if param == "." || param.is_empty() {
        param = "body".into();
    }
    // Strip serde's "at line X column Y" tail: positions are noise for a client.
    let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
    ApiError::new(
        crate::api::ErrorCode::ValidationError,
        "Request body is not valid",
    )
    .with_detail("body", &param, msg, None)
}

pub fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let mut resp = Response::new(Full::new(Bytes::from(bytes)));
            *resp.status_mut() = status;
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "response serialisation failed");
            error_response(&ApiError::internal())
        }
    }
}

pub fn error_response(e: &ApiError) -> Response<Body> {
    let bytes = serde_json::to_vec(&e.body()).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = Response::new(Full::new(Bytes::from(bytes)));
    *resp.status_mut() = e.status();
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

#[cfg(test)]
mod header_tests {
    use super::bearer_token;
    use hyper::HeaderMap;
    use hyper::header::{AUTHORIZATION, HeaderValue};

    #[test]
    fn request_ids_we_echo() {
        use super::acceptable_request_id as ok;
        assert!(ok("req-1.a:b_c"));
        assert!(!ok(""));
        assert!(!ok(&"a".repeat(129)));
        assert!(!ok("a b"));
        assert!(!ok("a\nb"));
        let t = crate::service::auth::new_token("org.t1", &[], None, "now");
        assert!(!ok(t.secret.as_str()), "an API token is no request id");
    }

    #[test]
    fn exactly_one_bearer_header() {
        let mut h = HeaderMap::new();
        assert!(bearer_token(&h).is_none());
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc "));
        assert_eq!(bearer_token(&h).as_deref().map(String::as_str), Some("abc"));
        h.append(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert!(
            bearer_token(&h).is_none(),
            "two headers, even equal, are none"
        );
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(bearer_token(&h).is_none());
    }
}
