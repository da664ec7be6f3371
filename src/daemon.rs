//! `hsm-pki serve`: wire configuration, store, token and HTTP together, and run until a
//! signal.
//!
//! Start-up never waits for the token: the daemon listens at once and `/readyz` answers 503
//! until the probe has opened and logged in to the token (an HSM that is down at boot must
//! not keep the health endpoints dark). The probe then keeps watching it and recovers it with
//! back-off when it goes away.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{Config, TokenConfig};
use crate::hsm::{self, HsmError, Token};
use crate::http::Listener;
use crate::service::{App, Reconciliation, TokenStatus};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// Build the token layer's configuration; the PIN is read here, once.
fn token_config(t: &TokenConfig) -> Result<hsm::TokenConfig, crate::config::ConfigError> {
    let selector = match (&t.label, &t.serial) {
        (Some(l), _) => hsm::TokenSelector::Label(l.clone()),
        (None, Some(s)) => hsm::TokenSelector::Serial(s.clone()),
        (None, None) => unreachable!("validate() requires label or serial"),
    };
    let pin = t.read_pin()?;
    let mut cfg = hsm::TokenConfig::new(&t.module, selector, hsm::Pin::new(pin.as_str()));
    cfg.pool_size = t.pool_size;
    cfg.checkout_timeout = Duration::from_millis(t.pool_timeout_ms);
    Ok(cfg)
}

pub async fn serve(config: Config) -> Result<(), DaemonError> {
    let token_cfg = token_config(&config.token)?;
    let store = Arc::new(Store::open(&config.database.path)?);
    tracing::info!(path = %store.path().display(), "database open");

    // Token sessions plus a few for the database.
    let app = Arc::new(App::new(store, config.token.pool_size + 4));
    let listener = TcpListener::bind(config.server.listen)
        .await
        .map_err(|source| DaemonError::Listen {
            addr: config.server.listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| DaemonError::Listen {
            addr: config.server.listen,
            source,
        })?;
    // Tests and scripts read this line to learn the port when listening on :0.
    println!("hsm-pki listening on {addr}");
    tracing::info!(%addr, "listening");

    let (stop_tx, stop_rx) = watch::channel(false);
    let probe = tokio::spawn(probe_token(
        app.clone(),
        token_cfg,
        Duration::from_millis(config.health.probe_interval_ms),
        Duration::from_millis(config.health.max_backoff_ms),
        stop_rx.clone(),
    ));

    let server = Listener::new(listener, app.clone(), config.server.clone());
    server.run(shutdown_signal()).await;
    let _ = stop_tx.send(true);
    let _ = probe.await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutdown signal received");
}

/// Open the token, then watch it: one probe at a time on a blocking thread, a deadline on
/// each, exponential back-off while it is down.
async fn probe_token(
    app: Arc<App>,
    cfg: hsm::TokenConfig,
    interval: Duration,
    max_backoff: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let cfg = Arc::new(cfg);
    let mut backoff = interval;
    loop {
        let healthy = match app.token() {
            None => open_token(&app, cfg.clone()).await,
            Some(token) => check_token(&app, token).await,
        };
        let wait = if healthy {
            backoff = interval;
            interval
        } else {
            let w = backoff;
            backoff = (backoff * 2).min(max_backoff);
            w
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Longest a single probe may take before the token is reported down (the probe thread is
/// still awaited before the next one, so probes never pile up on a hung token).
const PROBE_DEADLINE: Duration = Duration::from_secs(3);

async fn run_probe<R: Send + 'static>(
    app: &App,
    f: impl FnOnce() -> Result<R, HsmError> + Send + 'static,
) -> Result<R, String> {
    let mut handle = tokio::task::spawn_blocking(f);
    let joined = tokio::select! {
        r = &mut handle => r,
        _ = tokio::time::sleep(PROBE_DEADLINE) => {
            app.health.set(TokenStatus::Down {
                reason: format!("token did not answer within {} s", PROBE_DEADLINE.as_secs()),
            });
            handle.await
        }
    };
    match joined {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("token probe panicked".into()),
    }
}

async fn open_token(app: &Arc<App>, cfg: Arc<hsm::TokenConfig>) -> bool {
    match run_probe(app, move || Token::open((*cfg).clone())).await {
        Ok(token) => {
            let token = Arc::new(token);
            app.set_token(token.clone());
            reconcile(app, token).await;
            app.health.set(TokenStatus::Ready);
            true
        }
        Err(reason) => {
            app.health.set(TokenStatus::Down { reason });
            false
        }
    }
}

async fn check_token(app: &Arc<App>, token: Arc<Token>) -> bool {
    let t = token.clone();
    match run_probe(app, move || t.check()).await {
        Ok(()) => {
            app.health.set(TokenStatus::Ready);
            true
        }
        Err(reason) => {
            app.health.set(TokenStatus::Down { reason });
            // Finalize, re-initialise, log in again; the next probe tells if it worked.
            let t = token.clone();
            match run_probe(app, move || t.recover()).await {
                Ok(()) => tracing::info!("token reconnected"),
                Err(e) => tracing::debug!(error = %e, "token reconnect failed; will retry"),
            }
            false
        }
    }
}

/// Compare the keys recorded in the database with those in the token and report.
async fn reconcile(app: &Arc<App>, token: Arc<Token>) {
    let store = app.store.clone();
    let result = app
        .blocking(move || -> Result<Reconciliation, String> {
            let db = store.key_labels().map_err(|e| e.to_string())?;
            let mut tok = token.list_labels().map_err(|e| e.to_string())?;
            // A private JWK imported for one signature (service::x509) lives only for that
            // request; one still here was left by a crash mid-request. It was never recorded
            // and nothing refers to it: destroy it.
            tok.retain(|label| {
                if !label.starts_with(crate::service::x509::EPHEMERAL_PREFIX) {
                    return true;
                }
                match token.destroy(label) {
                    Ok(()) => tracing::warn!(%label, "destroyed an ephemeral key left by an interrupted request"),
                    Err(e) => tracing::error!(%label, error = %e, "could not destroy a leftover ephemeral key"),
                }
                false
            });
            Ok(Reconciliation::compare(db, tok))
        })
        .await;
    match result {
        Ok(Ok(r)) if r.is_clean() => tracing::info!("token and database reconciled: consistent"),
        Ok(Ok(r)) => {
            for label in &r.missing_in_token {
                tracing::error!(%label, "key recorded in the database is missing from the token");
            }
            for label in &r.unrecorded_in_token {
                tracing::warn!(%label, "token key has no database record (left by an interrupted create?)");
            }
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "reconciliation could not run"),
        Err(e) => tracing::warn!(error = %e, "reconciliation could not run"),
    }
}
