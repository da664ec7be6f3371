//! Accepting and serving connections, with the limits that keep one client from holding the
//! others out.
//!
//! - **Slots.** `max_connections` ordinary slots; when they are all taken, a few reserve
//!   slots still accept, but serve only `/healthz` and `/readyz` (everything else is 503
//!   `ServerBusy`), so probes get through a flood; past the reserve a connection is closed
//!   at once rather than left queueing in the kernel.
//! - **Per client address.** At most `max_connections_per_client` connections from one
//!   address. When a new one comes in over that, the oldest of that address's connections
//!   that has not sent a request yet is closed to make room; if all of them are busy, the
//!   new one is refused. Idle sockets therefore cannot crowd out a client that sends
//!   requests, even from the same address.
//! - **Request head from accept.** A connection that has not started a request within
//!   `header_timeout_secs` of being accepted is closed (hyper's own header timeout starts
//!   only once it has detected the protocol). Idle keep-alive connections close after
//!   `idle_timeout_secs`.
//! - **TLS** (`[server.tls]`, `tls.rs`): the handshake runs in the connection's task and
//!   must end within the same header timeout; the configuration is taken from [`Tls`] per
//!   connection, so a reload applies to new connections and leaves open ones alone.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};

use super::limit::AuthFailures;
use super::tls::Tls;
use super::{Metrics, Peer, handle};
use crate::config::ServerConfig;
use crate::service::App;

/// Connections accepted beyond `max_connections`, for the health routes only.
pub const RESERVE_SLOTS: usize = 8;

/// Accepts connections and serves them until shutdown.
pub struct Listener {
    listener: TcpListener,
    app: Arc<App>,
    config: ServerConfig,
    /// Ordinary slots: a permit per open connection.
    connections: Arc<Semaphore>,
    /// Reserve slots, taken only when no ordinary one is free.
    reserve: Arc<Semaphore>,
    /// Open connections by client address, oldest first.
    peers: Arc<Peers>,
    /// Request counters and latency histograms, exposed at `GET /metrics`.
    metrics: Arc<Metrics>,
    /// 401s per client address (429 past the allowance).
    auth_failures: Arc<AuthFailures>,
    /// Public-route requests per client address.
    public: Arc<AuthFailures>,
    tls: Option<Arc<Tls>>,
}

/// What a connection is served over: TCP, or TLS over TCP.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

impl Listener {
    pub fn new(listener: TcpListener, app: Arc<App>, config: ServerConfig) -> Self {
        let auth_failures = Arc::new(AuthFailures::new(
            "failed authentications",
            config.auth_failure_burst,
            config.auth_failures_per_minute,
        ));
        let public = Arc::new(AuthFailures::new(
            "public requests",
            config.public_burst,
            config.public_requests_per_minute,
        ));
        Listener {
            listener,
            app,
            connections: Arc::new(Semaphore::new(config.max_connections)),
            reserve: Arc::new(Semaphore::new(RESERVE_SLOTS)),
            config,
            peers: Arc::default(),
            metrics: Arc::new(Metrics::new()),
            auth_failures,
            public,
            tls: None,
        }
    }

    /// Serve TLS with `tls` instead of plain HTTP.
    pub fn with_tls(mut self, tls: Arc<Tls>) -> Self {
        self.tls = Some(tls);
        self
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Make room for one more connection from `ip`: `false` when its address is at its
    /// limit with every connection busy (the new one is refused then).
    fn admit(&self, ip: IpAddr) -> bool {
        let peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        let Some(open) = peers.get(&ip) else {
            return true;
        };
        let open: Vec<&Arc<ConnState>> = open.iter().filter(|c| !c.closing()).collect();
        if open.len() < self.config.max_connections_per_client {
            return true;
        }
        match open.iter().find(|c| c.never_requested()) {
            Some(idle) => {
                idle.close();
                true
            }
            None => false,
        }
    }

    fn register(&self, ip: IpAddr, state: &Arc<ConnState>) {
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        peers.entry(ip).or_default().push(state.clone());
    }

    /// Serve until `shutdown` resolves, then give in-flight requests the configured grace
    /// period and return.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        // Every connection task watches this channel and starts a graceful close (finish the
        // request in flight, then close) when it flips at shutdown.
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::pin!(shutdown);
        loop {
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
            let ip = peer.ip();
            if !self.admit(ip) {
                tracing::debug!(%peer, "connection refused: client address at its limit");
                continue;
            }
            let (permit, reserve) = match self.connections.clone().try_acquire_owned() {
                Ok(p) => (p, false),
                Err(_) => match self.reserve.clone().try_acquire_owned() {
                    Ok(p) => (p, true),
                    Err(_) => {
                        tracing::debug!(%peer, "connection refused: every slot in use");
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let conn_state = Arc::new(ConnState::new());
            self.register(ip, &conn_state);
            let service = {
                let app = self.app.clone();
                let metrics = self.metrics.clone();
                let config = self.config.clone();
                let conn_state = conn_state.clone();
                let peer = Peer {
                    ip,
                    reserve,
                    auth_failures: self.auth_failures.clone(),
                    public: self.public.clone(),
                };
                hyper::service::service_fn(move |req| {
                    let app = app.clone();
                    let metrics = metrics.clone();
                    let config = config.clone();
                    let conn_state = conn_state.clone();
                    let peer = peer.clone();
                    async move {
                        conn_state.begin();
                        let resp = handle(app, metrics, &config, peer, req).await;
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
            let acceptor = self.tls.as_ref().map(|t| t.acceptor());
            let idle = self.config.idle_timeout();
            let head = self.config.header_timeout();
            let mut stop_rx = stop_rx.clone();
            let peers = self.peers.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let started = tokio::time::Instant::now();
                let stream: Box<dyn Io> = match acceptor {
                    None => Box::new(stream),
                    Some(acceptor) => {
                        match tokio::time::timeout(head, acceptor.accept(stream)).await {
                            Ok(Ok(tls)) => Box::new(tls),
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                forget(&peers, ip, &conn_state);
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "no TLS handshake within the header timeout");
                                forget(&peers, ip, &conn_state);
                                return;
                            }
                        }
                    }
                };
                let conn = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                tokio::pin!(conn);
                // One timer for the request-head deadline, and the idle check once a second
                // (as before): no per-connection polling faster than that.
                let head_deadline = tokio::time::sleep_until(started + head);
                tokio::pin!(head_deadline);
                let mut head_checked = false;
                // Close the connection when it has sent no request within the header timeout
                // of its accept, when it has been idle too long, when its address needs
                // the room, or when shutdown starts; otherwise let it run.
                loop {
                    tokio::select! {
                        r = &mut conn => {
                            if let Err(e) = r {
                                tracing::debug!(%peer, error = %e, "connection ended with error");
                            }
                            break;
                        }
                        _ = conn_state.evicted.notified() => {
                            tracing::debug!(%peer, "idle connection closed for its address's newer one");
                            break;
                        }
                        _ = &mut head_deadline, if !head_checked => {
                            head_checked = true;
                            if conn_state.never_requested() {
                                tracing::debug!(%peer, "no request head within the header timeout");
                                break;
                            }
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
                forget(&peers, ip, &conn_state);
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

type Peers = Mutex<HashMap<IpAddr, Vec<Arc<ConnState>>>>;

/// A connection has ended: its address's list no longer holds it.
fn forget(peers: &Peers, ip: IpAddr, state: &Arc<ConnState>) {
    let mut peers = peers.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(open) = peers.get_mut(&ip) {
        open.retain(|c| !Arc::ptr_eq(c, state));
        if open.is_empty() {
            peers.remove(&ip);
        }
    }
}

/// Per-connection activity, for the idle and header timeouts and for eviction.
struct ConnState {
    requests: AtomicU64,
    in_flight: AtomicUsize,
    /// Milliseconds since `EPOCH` of the last request start or end.
    last_activity_ms: AtomicU64,
    /// Signalled to close the connection (its address needs the room).
    evicted: Notify,
    closing: std::sync::atomic::AtomicBool,
}

static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn now_ms() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

impl ConnState {
    fn new() -> Self {
        let now = now_ms();
        ConnState {
            requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            last_activity_ms: AtomicU64::new(now),
            evicted: Notify::new(),
            closing: Default::default(),
        }
    }

    fn begin(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.last_activity_ms.store(now_ms(), Ordering::SeqCst);
    }

    fn end(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.last_activity_ms.store(now_ms(), Ordering::SeqCst);
    }

    fn never_requested(&self) -> bool {
        self.requests.load(Ordering::SeqCst) == 0
    }

    fn closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.evicted.notify_one();
    }

    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return Duration::ZERO;
        }
        let last = self.last_activity_ms.load(Ordering::SeqCst);
        Duration::from_millis(now_ms().saturating_sub(last))
    }
}
