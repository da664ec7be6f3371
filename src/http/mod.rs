//! HTTP transport on hyper 1.x, without a web framework. The only module that knows hyper
//! and JSON.
//!
//! - [`Listener`] accepts connections under a connection limit and serves each with hyper's
//!   auto (HTTP/1.1 + h2c) builder, with header, idle and request timeouts.
//! - `route` maps (method, path) to a handler, one module per URL family.
//! - Every error leaves as the documented `{code, message, details}` body ([`ApiError`]).

mod error;
mod health;
mod metrics;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

pub use error::ApiError;
pub use metrics::Metrics;

use crate::config::ServerConfig;
use crate::service::App;

pub type Body = Full<Bytes>;

/// Request-scoped context handed to handlers.
pub struct Ctx {
    pub app: Arc<App>,
    pub request_id: String,
    pub body_limit: usize,
}

/// Accepts connections and serves them until shutdown.
pub struct Listener {
    listener: TcpListener,
    app: Arc<App>,
    config: ServerConfig,
    /// Bounds open connections: a permit is taken before `accept`, so excess clients wait
    /// in the kernel's backlog instead of costing us a task and buffers each.
    connections: Arc<Semaphore>,
}

impl Listener {
    pub fn new(listener: TcpListener, app: Arc<App>, config: ServerConfig) -> Self {
        let connections = Arc::new(Semaphore::new(config.max_connections));
        Listener {
            listener,
            app,
            config,
            connections,
        }
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serve until `shutdown` resolves, then give in-flight requests the configured grace
    /// period and return.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        // Every connection task watches this channel and starts a graceful close (finish the
        // request in flight, then close) when it flips at shutdown.
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                _ = &mut shutdown => break,
                p = self.connections.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let (stream, peer) = tokio::select! {
                _ = &mut shutdown => break,
                r = self.listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        // EMFILE and friends: back off briefly rather than spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let conn_state = Arc::new(ConnState::default());
            let service = {
                let app = self.app.clone();
                let config = self.config.clone();
                let conn_state = conn_state.clone();
                hyper::service::service_fn(move |req| {
                    let app = app.clone();
                    let config = config.clone();
                    let conn_state = conn_state.clone();
                    async move {
                        conn_state.begin();
                        let resp = handle(app, &config, req).await;
                        conn_state.end();
                        Ok::<_, Infallible>(resp)
                    }
                })
            };
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(self.config.header_timeout())
                .max_buf_size(64 * 1024);
            builder
                .http2()
                .timer(TokioTimer::new())
                .max_concurrent_streams(64)
                .max_header_list_size(64 * 1024);
            let conn = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            let idle = self.config.idle_timeout();
            let mut stop_rx = stop_rx.clone();
            tokio::spawn(async move {
                let _permit = permit;
                tokio::pin!(conn);
                // Close the connection when it has been idle (no request in flight) too
                // long, or when shutdown starts; otherwise let it run.
                loop {
                    tokio::select! {
                        r = &mut conn => {
                            if let Err(e) = r {
                                tracing::debug!(%peer, error = %e, "connection ended with error");
                            }
                            return;
                        }
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {
                            if conn_state.idle_for() > idle {
                                conn.as_mut().graceful_shutdown();
                            }
                        }
                        Ok(()) = stop_rx.changed() => {
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                }
            });
        }
        let _ = stop_tx.send(true);
        drop(self.listener);
        // Each connection task holds a permit until it ends: holding them all means every
        // connection is closed.
        let all = self.config.max_connections as u32;
        tokio::select! {
            _ = self.connections.acquire_many(all) => tracing::info!("all connections closed"),
            _ = tokio::time::sleep(self.config.shutdown_grace()) => {
                tracing::warn!("grace period over; closing remaining connections");
            }
        }
    }
}

/// Per-connection activity, for the idle timeout.
#[derive(Default)]
struct ConnState {
    in_flight: AtomicUsize,
    /// Milliseconds since `EPOCH` of the last request start or end.
    last_activity_ms: AtomicU64,
}

static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn now_ms() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

impl ConnState {
    fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.last_activity_ms.store(now_ms(), Ordering::SeqCst);
    }
    fn end(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.last_activity_ms.store(now_ms(), Ordering::SeqCst);
    }
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return Duration::ZERO;
        }
        let last = self.last_activity_ms.load(Ordering::SeqCst);
        // A connection that never sent a request counts from when it was accepted.
        let last = if last == 0 {
            self.last_activity_ms.store(now_ms(), Ordering::SeqCst);
            now_ms()
        } else {
            last
        };
        Duration::from_millis(now_ms().saturating_sub(last))
    }
}

/// One request: request id, timeout, routing, and the error shape.
async fn handle(app: Arc<App>, config: &ServerConfig, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id(&req);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let ctx = Ctx {
        app,
        request_id: request_id.clone(),
        body_limit: config.body_limit_bytes,
    };
    let result = match tokio::time::timeout(config.request_timeout(), route(&ctx, req)).await {
        Ok(r) => r,
        Err(_) => Err(ApiError::timeout()),
    };
    let mut resp = match result {
        Ok(resp) => resp,
        Err(e) => error_response(&e),
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    tracing::info!(
        request_id = %request_id,
        method = %method,
        path = %path,
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
        && !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    {
        return v.to_owned();
    }
    let mut b = [0u8; 16];
    rand::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn route(ctx: &Ctx, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["healthz"] => match *req.method() {
            Method::GET => health::healthz(ctx).await,
            _ => Err(ApiError::method_not_allowed()),
        },
        ["readyz"] => match *req.method() {
            Method::GET => health::readyz(ctx).await,
            _ => Err(ApiError::method_not_allowed()),
        },
        _ => Err(ApiError::not_found()),
    }
}

/// Read a JSON request body: `application/json` only (415 otherwise), at most the body
/// limit (413), decoded into `T` with unknown fields rejected by `T`'s serde attributes.
#[allow(dead_code)] // used by the resource modules as they land
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
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
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
    let body = Limited::new(req.into_body(), ctx.body_limit)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                ApiError::payload_too_large(ctx.body_limit)
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "Request body could not be read",
                )
            }
        })?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|e| json_error(&e))
}

/// A serde_json error as a 400 naming what it can: the message of serde_json already names
/// unknown fields ("unknown field `notAfer`") and the line/column.
fn json_error(e: &serde_json::Error) -> ApiError {
    let msg = e.to_string();
    let param = msg
        .split('`')
        .nth(1)
        .filter(|_| msg.starts_with("unknown field") || msg.starts_with("missing field"))
        .unwrap_or("body")
        .to_owned();
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "ValidationError",
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
    *resp.status_mut() = e.status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}
