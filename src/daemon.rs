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

use crate::config::Config;
use crate::hsm::{self, HsmError, Token};
use crate::http::Listener;
use crate::http::tls::Tls;
use crate::service::{App, Reconciliation, TokenStatus, checkpoint};
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
    #[error("{0}")]
    Tls(String),
}

/// Build the token layer's configuration; the PIN is read here, once.
pub fn token_config(config: &Config) -> Result<hsm::TokenConfig, crate::config::ConfigError> {
    let t = &config.token;
    let selector = t.selector()?;
    let pin = t.read_pin()?;
    let mut cfg = hsm::TokenConfig::new(t.module_path()?, selector, hsm::Pin::new(pin.as_str()));
    cfg.pool_size = t.pool_size;
    cfg.checkout_timeout = Duration::from_millis(t.pool_timeout_ms);
    cfg.key_cache_size = t.key_cache_size;
    cfg.write_probe_every = match config.health.write_probe_secs {
        0 => None,
        n => Some(Duration::from_secs(n)),
    };
    Ok(cfg)
}

fn mobile_config(config: &Config) -> crate::service::mobile::MobileConfig {
    let m = &config.mobile;
    crate::service::mobile::MobileConfig {
        max_mdoc_validity: time::Duration::days(i64::from(m.max_mdoc_validity_days)),
        document_signer_validity: time::Duration::days(i64::from(m.document_signer_days)),
        limits: crate::cose::Limits {
            max_elements: m.max_elements,
            max_bytes: m.max_element_bytes,
        },
        max_mso_bytes: m.max_mso_bytes,
        public_base: config
            .public
            .base_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.server.listen)),
    }
}

/// `hsm-pki audit verify`: open the database and the token of `config` and check the audit
/// log against its checkpoints (beside a running daemon too: a second PKCS#11 process and a
/// read connection disturb neither).
pub fn verify_audit(config: &Config) -> Result<checkpoint::Report, String> {
    let store = Store::open(&config.database.path).map_err(|e| e.to_string())?;
    let cfg = token_config(config).map_err(|e| e.to_string())?;
    let token = Token::open(cfg).map_err(|e| format!("cannot open the token: {e}"))?;
    checkpoint::verify(&store, &token).map_err(|e| e.to_string())
}

/// No core dumps, and no ptrace attach by other processes of the same user: a core file or a
/// debugger would see the PIN and the secrets of requests in flight. Done before the PIN is
/// read. Failures are logged, not fatal (a container may forbid prctl).
fn forbid_core_dumps() {
    let none = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads the struct we pass and has no other memory effects.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) } != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "could not set RLIMIT_CORE to 0");
    }
    // SAFETY: PR_SET_DUMPABLE takes an integer argument and touches no memory of ours.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "could not clear PR_SET_DUMPABLE");
    }
}

/// `hsm-pki tls dev-cert`: the token's TLS server key (made on first use, P-256, never
/// leaving the token) and a self-signed certificate for it, for `localhost`, `127.0.0.1` and
/// `::1`, valid 90 days, written to `out` as PEM. For trying TLS locally; production uses a
/// certificate from the operator's CA for a key named by `server.tls.key_label`.
pub fn tls_dev_cert(config: &Config, out: &std::path::Path) -> Result<(), String> {
    let cfg = token_config(config).map_err(|e| e.to_string())?;
    let token = Token::open(cfg).map_err(|e| format!("cannot open the token: {e}"))?;
    let key = token
        .tls_key()
        .map_err(|e| format!("cannot make the TLS key: {e}"))?;
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    let spec = crate::x509::GenericSpec {
        subject_name: crate::x509::DnFields {
            common_name: Some("localhost".into()),
            organization: Some("hsm-pki development".into()),
            ..Default::default()
        },
        not_before: Some(now - time::Duration::minutes(5)),
        not_after: Some(now + time::Duration::days(90)),
        key_usage: vec!["DigitalSignature".into()],
        // id-kp-serverAuth.
        extended_key_usage_oids: vec!["1.3.6.1.5.5.7.3.1".into()],
        subject_alternative_names: Some(crate::x509::AltNames {
            dns_names: vec!["localhost".into()],
            ip_addresses: vec!["127.0.0.1".into(), "::1".into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    let cert = crate::x509::build_generic(
        &spec,
        &key.public_key().clone(),
        crate::x509::IssuerSpec {
            key: &key,
            certificate: None,
            signature_algorithm: None,
        },
        now,
    )
    .map_err(|e| e.to_string())?;
    let pem = cert.to_pem().map_err(|e| e.to_string())?;
    std::fs::write(out, pem).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(())
}

pub async fn serve(config: Config) -> Result<(), DaemonError> {
    if config.server.allow_core_dumps {
        tracing::warn!("core dumps allowed by configuration (server.allow_core_dumps)");
    } else {
        forbid_core_dumps();
    }
    let token_cfg = token_config(&config)?;
    let store = Arc::new(Store::open(&config.database.path)?);
    tracing::info!(path = %store.path().display(), "database open");

    // Token sessions plus a few for the database.
    let mut app = App::new(store, config.token.pool_size + 4);
    app.max_keys_per_tenant = config.token.max_keys_per_tenant;
    app.mobile = mobile_config(&config);
    app.public_base_url = config.public.base_url.clone();
    app.sessions = crate::service::session::Sessions::new(
        std::time::Duration::from_secs(config.console.idle_timeout_secs),
        std::time::Duration::from_secs(config.console.absolute_timeout_secs),
    );
    app.tls_key_label = config.server.tls.as_ref().and_then(|t| t.key_label.clone());
    app.crl = crate::service::crl::CrlPolicy {
        validity: time::Duration::seconds(config.crl.validity_secs as i64),
        renew_before: time::Duration::seconds(config.crl.renew_before_secs as i64),
    };
    let sl = &config.status_list;
    if sl.token_validity_secs < 3600 {
        tracing::warn!(
            secs = sl.token_validity_secs,
            "status_list.token_validity_secs under an hour: meant for tests"
        );
    }
    app.status_list = crate::service::mobile::StatusListConfig {
        list_size: sl.list_size,
        token_validity: time::Duration::seconds(sl.token_validity_secs as i64),
        ttl_secs: sl.ttl_secs,
        renew_before: time::Duration::seconds(sl.renew_before_secs as i64),
    };
    app.holder = crate::service::holder::HolderPolicy {
        default_expires_in: config.holder.attestation_default_secs,
        max_expires_in: config.holder.attestation_max_secs,
    };
    if let Some(secs) = config.vical.daily_period_secs {
        tracing::warn!(
            secs,
            "vical.daily_period_secs set: a Daily VICAL schedule is not a day"
        );
        app.vical_daily_period = time::Duration::seconds(secs as i64);
    }
    let app = Arc::new(app);
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

    let checkpoints = tokio::spawn(write_checkpoints(
        app.clone(),
        Duration::from_secs(config.audit.checkpoint_interval_secs),
        stop_rx.clone(),
    ));

    let publisher = tokio::spawn(auto_publish(
        app.clone(),
        Duration::from_secs(config.vical.auto_publish_check_secs),
        stop_rx.clone(),
    ));

    let crls = tokio::spawn(renew_crls(
        app.clone(),
        Duration::from_secs(config.crl.check_secs),
        stop_rx.clone(),
    ));

    let status_lists = tokio::spawn(renew_status_lists(
        app.clone(),
        Duration::from_secs(config.status_list.check_secs),
        stop_rx.clone(),
    ));

    let mut server = Listener::new(listener, app.clone(), config.server.clone());
    let mut reloads = None;
    if let Some(t) = &config.server.tls {
        let tls = Arc::new(Tls::load(t, &app).map_err(DaemonError::Tls)?);
        tracing::info!(chain = %t.certificate_chain.display(), token_key = t.key_label.is_some(), "serving TLS");
        reloads = Some(tokio::spawn(reload_tls_on_sighup(
            tls.clone(),
            stop_rx.clone(),
        )));
        server = server.with_tls(tls);
    }
    server.run(shutdown_signal()).await;
    let _ = stop_tx.send(true);
    let _ = checkpoints.await;
    let _ = publisher.await;
    let _ = crls.await;
    let _ = status_lists.await;
    if let Some(r) = reloads {
        let _ = r.await;
    }
    // Every request has drained: this checkpoint covers the whole log of this run.
    write_checkpoint(&app).await;
    let _ = probe.await;
    tracing::info!("stopped");
    Ok(())
}

/// Publish the VICALs that are due every `interval` while the token is ready, until `stop`.
async fn auto_publish(app: Arc<App>, interval: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
        if app.health.is_ready() {
            crate::service::dts::auto_publish_due(&app).await;
        }
    }
}

/// Sign the CRLs that are due (none yet, or nextUpdate near) every `interval` and when
/// woken (a new CA key), while the token is ready, until `stop`. The first pass runs at
/// once: a daemon that was down renews what lapsed meanwhile.
async fn renew_crls(app: Arc<App>, interval: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        // Not ready (starting, or an outage): look again soon rather than a pass later.
        let wait = if app.health.is_ready() {
            crate::service::crl::renew_due(&app).await;
            interval
        } else {
            interval.min(Duration::from_secs(1))
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = app.crl_wake.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

/// Re-sign the status list tokens that expire within `status_list.renew_before_secs`, every
/// `interval` while the token is ready, until `stop`. The schedule is the tokens' exp in the
/// database, so the first pass after a restart renews what lapsed meanwhile.
async fn renew_status_lists(app: Arc<App>, interval: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        let wait = if app.health.is_ready() {
            crate::service::mobile::renew_due(&app).await;
            interval
        } else {
            interval.min(Duration::from_secs(1))
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Write an audit checkpoint every `interval` (when the chain grew) until `stop`.
async fn write_checkpoints(app: Arc<App>, interval: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
        write_checkpoint(&app).await;
    }
}

async fn write_checkpoint(app: &Arc<App>) {
    let Some(token) = app.token().filter(|_| app.health.is_ready()) else {
        // The next interval catches up: a checkpoint covers every event before it.
        return;
    };
    let store = app.store.clone();
    let now = crate::service::now_rfc3339();
    match app
        .blocking(move || checkpoint::write(&store, &token, &now))
        .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "audit checkpoint not written; next interval retries")
        }
        Err(e) => tracing::warn!(error = %e, "audit checkpoint not written; next interval retries"),
    }
}

/// Resolves on SIGTERM or Ctrl-C.
/// `SIGHUP`: read the TLS certificate chain and key again; new connections get them, open
/// ones keep theirs. A file that does not load leaves the old configuration in place.
async fn reload_tls_on_sighup(tls: Arc<Tls>, mut stop: watch::Receiver<bool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot watch SIGHUP: the TLS certificate is reloaded only by a restart");
        return;
    };
    loop {
        tokio::select! {
            _ = hup.recv() => match tls.reload() {
                Ok(()) => tracing::info!("TLS certificate reloaded"),
                Err(e) => tracing::error!(error = %e, "TLS reload failed; the previous certificate stays"),
            },
            _ = stop.changed() => return,
        }
    }
}

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

/// Longest a single probe may take on the token before the token is reported down (the
/// probe thread is still awaited before the next one, so probes never pile up on a hung
/// token).
const PROBE_DEADLINE: Duration = Duration::from_secs(3);

/// Longest opening or reconnecting may take before the token is reported down. Far longer
/// than a check: C_Initialize on SoftHSM reads every object file of the token (1–6 s at
/// 10 000 keys, `scripts/scale`), and reporting a big token that is still opening as "not
/// answering" would be a false outage at every start.
const CONNECT_DEADLINE: Duration = Duration::from_secs(60);

/// Longest a check may wait while the daemon itself keeps the token busy creating or
/// destroying keys. Kryoptic serialises a token's calls: its C_GetTokenInfo waits for the
/// C_GenerateKeyPair in flight, and four RSA-4096 generations in a row take longer than
/// [`PROBE_DEADLINE`] (`tests/scale.rs`). That wait is the daemon's own queue, not an outage;
/// a token that hangs during a generation is still reported down after this long.
const BUSY_DEADLINE: Duration = Duration::from_secs(60);

/// Run `f` on a blocking thread with `deadline` counted from when it starts to run, not from
/// when it was queued: waiting for a thread is the daemon's own queue, and must never read as
/// an outage. For the same reason the deadline stretches to [`BUSY_DEADLINE`] while `busy()`
/// says the daemon has a key creation or destruction of its own in flight on the token.
/// (`Token::check` waits for no lock of the daemon's; SoftHSM's calls do not wait for each
/// other, so there the time is the token's from the start.)
async fn run_probe<R: Send + 'static>(
    app: &App,
    deadline: Duration,
    busy: impl Fn() -> bool,
    f: impl FnOnce() -> Result<R, HsmError> + Send + 'static,
) -> Result<R, String> {
    let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
    let mut handle = tokio::task::spawn_blocking(move || {
        let _ = started_tx.send(());
        f()
    });
    // The sender is dropped unsent only if the task never ran (runtime shutting down); the
    // join below then reports that.
    let _ = started.await;
    let started = tokio::time::Instant::now();
    let mut until = started + deadline;
    let joined = loop {
        tokio::select! {
            r = &mut handle => break r,
            _ = tokio::time::sleep_until(until) => {
                if busy() && started.elapsed() < BUSY_DEADLINE {
                    until += Duration::from_millis(100);
                    continue;
                }
                app.health.set(TokenStatus::Down {
                    reason: format!(
                        "token did not answer within {} s",
                        started.elapsed().as_secs()
                    ),
                });
                break handle.await;
            }
        }
    };
    match joined {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("token probe panicked".into()),
    }
}

async fn open_token(app: &Arc<App>, cfg: Arc<hsm::TokenConfig>) -> bool {
    match run_probe(
        app,
        CONNECT_DEADLINE,
        || false,
        move || Token::open((*cfg).clone()),
    )
    .await
    {
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

/// Pause before re-checking a token that failed one health check while it was ready.
const RECHECK_DELAY: Duration = Duration::from_millis(200);

async fn check_token(app: &Arc<App>, token: Arc<Token>) -> bool {
    let t = token.clone();
    let busy = || token.objects_busy();
    let mut result = run_probe(app, PROBE_DEADLINE, busy, move || t.check()).await;
    if result.is_err() && app.health.status() == TokenStatus::Ready {
        // One more look before declaring an outage: SoftHSM answers CKR_GENERAL_ERROR for a
        // moment while another process (an operator's pkcs11-tool) holds its token files,
        // and a false outage costs a full re-initialisation and 503s. A real outage fails
        // twice and is still reported well within the probe interval.
        tokio::time::sleep(RECHECK_DELAY).await;
        let t = token.clone();
        result = run_probe(app, PROBE_DEADLINE, busy, move || t.check()).await;
    }
    match result {
        Ok(()) => {
            // Back from an outage: an operation cut off by it may have left a torn or
            // unrecorded key; reconcile before taking requests again.
            if matches!(app.health.status(), TokenStatus::Down { .. }) {
                reconcile(app, token).await;
            }
            app.health.set(TokenStatus::Ready);
            true
        }
        Err(reason) => {
            app.health.set(TokenStatus::Down { reason });
            // Finalize, re-initialise, log in again; the next probe tells if it worked.
            let t = token.clone();
            match run_probe(app, CONNECT_DEADLINE, || false, move || t.recover()).await {
                Ok(()) => tracing::info!("token reconnected"),
                Err(e) => tracing::debug!(error = %e, "token reconnect failed; will retry"),
            }
            false
        }
    }
}

/// Labels the daemon gives the keys it creates (`hsm-pki.<uuid>`). Only such keys are ever
/// destroyed by reconciliation: a key someone else put on the token is reported, never touched.
use crate::service::OWN_LABEL_PREFIX;

/// Compare the keys recorded in the database with those in the token, report every
/// difference, and destroy our own keys that have no record. Runs when the token is first
/// opened and again when it comes back from an outage.
///
/// Why destroying those is safe: a key is recorded (and committed) before any client hears
/// of it, and a deletion removes the record before the key. So a key of ours without a record
/// was either never acknowledged (a create cut off between the token and the commit) or
/// already deleted: no client can hold a reference to it. This runs before the token is
/// reported ready, and with every blocking permit held (`App::exclusive`), so no request can
/// be creating a key meanwhile. It assumes one daemon (one
/// database) per token, which ARCHITECTURE.md states as an invariant.
async fn reconcile(app: &Arc<App>, token: Arc<Token>) {
    let store = app.store.clone();
    let tls_label = app.tls_key_label.clone();
    let result = app
        .exclusive(move || -> Result<(Reconciliation, Vec<String>, usize), String> {
            // One pass over the token's key objects (each read once; torn ones destroyed),
            // which also fills the key cache so the keys are found without a search later.
            let scan = token.scan_keys().map_err(|e| e.to_string())?;
            let torn = scan.torn_destroyed;
            let db = store.key_labels().map_err(|e| e.to_string())?;
            // The audit checkpoint key is the daemon's own and has no key record: the
            // checkpoints it signed are what refer to it.
            // So is the TLS server key in the token, when there is one.
            let own = |mut labels: Vec<String>| {
                labels.retain(|l| {
                    l != hsm::AUDIT_KEY_LABEL
                        && l != hsm::TLS_KEY_LABEL
                        && Some(l) != tls_label.as_ref()
                });
                labels
            };
            let r = Reconciliation::compare(db.clone(), own(scan.private));
            // Our public halves whose key pair has no record (their private half may already
            // be gone) go too; `destroy` removes both halves of a label.
            let orphan_public =
                Reconciliation::compare(db, own(scan.public)).unrecorded_in_token;
            let mut destroyed = Vec::new();
            for label in r.unrecorded_in_token.iter().chain(&orphan_public) {
                if !label.starts_with(OWN_LABEL_PREFIX) || destroyed.contains(label) {
                    continue;
                }
                match token.destroy(label) {
                    Ok(()) => destroyed.push(label.clone()),
                    Err(e) => {
                        tracing::warn!(%label, error = %e, "could not destroy an unrecorded key")
                    }
                }
            }
            Ok((r, destroyed, torn))
        })
        .await;
    match result {
        Ok(Ok((r, destroyed, torn))) if r.is_clean() && destroyed.is_empty() && torn == 0 => {
            app.health
                .note("reconciliation: token and database consistent".into());
            tracing::info!("token and database reconciled: consistent")
        }
        Ok(Ok((r, destroyed, torn))) => {
            if torn > 0 {
                tracing::warn!(
                    objects = torn,
                    "destroyed unlabelled key objects (torn by an interrupted key generation)"
                );
            }
            for label in &r.missing_in_token {
                tracing::error!(%label, "key recorded in the database is missing from the token");
            }
            for label in &r.unrecorded_in_token {
                if destroyed.contains(label) {
                    tracing::warn!(%label, "token key had no database record (an interrupted create); destroyed");
                } else {
                    tracing::warn!(%label, "token key has no database record; not ours, left in place");
                }
            }
            app.health.note(format!(
                "reconciliation: {} recorded keys missing from the token, {} unrecorded \
                 destroyed, {} torn destroyed",
                r.missing_in_token.len(),
                destroyed.len(),
                torn
            ));
            tracing::info!(
                missing_in_token = r.missing_in_token.len(),
                unrecorded_destroyed = destroyed.len(),
                torn_destroyed = torn,
                "token and database reconciled: differences reported"
            );
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "reconciliation could not run"),
        Err(e) => tracing::warn!(error = %e, "reconciliation could not run"),
    }
}
