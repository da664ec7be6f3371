//! Daemon configuration: one TOML file, every key documented in `hsm-config/hsm-pki.toml`.
//!
//! Unknown keys are an error (a mistyped `pool_sise` must not silently fall back to a
//! default), and [`Config::validate`] names the offending key in its message.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub token: TokenConfig,
    #[serde(default)]
    pub health: HealthConfig,
    #[serde(default)]
    pub logging: LoggingConfig,
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub mobile: MobileConfig,
    #[serde(default)]
    pub vical: VicalConfig,
    #[serde(default)]
    pub holder: HolderConfig,
    #[serde(default)]
    pub public: PublicConfig,
    #[serde(default)]
    pub crl: CrlConfig,
    #[serde(default)]
    pub status_list: StatusListConfig,
    #[serde(default)]
    pub console: ConsoleConfig,
}

/// The operator console at `/console`: how long a signed-in session lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// A session unused this long is ended (and the expiry audited).
    #[serde(default = "defaults::console_idle_secs")]
    pub idle_timeout_secs: u64,
    /// A session ends this long after sign-in, however busy.
    #[serde(default = "defaults::console_absolute_secs")]
    pub absolute_timeout_secs: u64,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            idle_timeout_secs: defaults::console_idle_secs(),
            absolute_timeout_secs: defaults::console_absolute_secs(),
        }
    }
}

/// Token Status Lists of mdocs (draft-ietf-oauth-status-list), and the timer that re-signs
/// their tokens before they expire. Their URIs need `public.base_url`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusListConfig {
    /// Entries of one list (one bit each); a full list is followed by a new one.
    #[serde(default = "defaults::status_list_size")]
    pub list_size: u64,
    /// A token's exp − iat.
    #[serde(default = "defaults::status_token_validity_secs")]
    pub token_validity_secs: u64,
    /// A token's ttl claim: how long a reader may cache it.
    #[serde(default = "defaults::status_ttl_secs")]
    pub ttl_secs: u64,
    /// A token is re-signed once its exp is this close.
    #[serde(default = "defaults::status_renew_before_secs")]
    pub renew_before_secs: u64,
    /// Seconds between the timer's passes.
    #[serde(default = "defaults::status_check_secs")]
    pub check_secs: u64,
}

impl Default for StatusListConfig {
    fn default() -> Self {
        StatusListConfig {
            list_size: defaults::status_list_size(),
            token_validity_secs: defaults::status_token_validity_secs(),
            ttl_secs: defaults::status_ttl_secs(),
            renew_before_secs: defaults::status_renew_before_secs(),
            check_secs: defaults::status_check_secs(),
        }
    }
}

/// How verifiers reach this daemon's public artefacts (CRLs, status lists, VICALs).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicConfig {
    /// The URL verifiers reach this daemon at, e.g. `https://pki.example.com`. Certificates
    /// the daemon issues carry `{base_url}/crl/{caId}.crl` as their CRL distribution point
    /// (unless the request names one). Without it they carry none: ISO/IEC 18013-5 Annex B
    /// wants one on IACAs and document signers, and strict verifiers refuse an IACA without.
    pub base_url: Option<String>,
}

/// The CRLs of the CA keys the daemon holds, and the timer that renews them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrlConfig {
    /// nextUpdate = thisUpdate + this.
    #[serde(default = "defaults::crl_validity_secs")]
    pub validity_secs: u64,
    /// A CRL is re-signed once its nextUpdate is this close (the overlap during which both
    /// the old and the new one are current; caches that fetched the old one stay valid).
    #[serde(default = "defaults::crl_renew_before_secs")]
    pub renew_before_secs: u64,
    /// Seconds between the timer's passes.
    #[serde(default = "defaults::crl_check_secs")]
    pub check_secs: u64,
}

impl Default for CrlConfig {
    fn default() -> Self {
        CrlConfig {
            validity_secs: defaults::crl_validity_secs(),
            renew_before_secs: defaults::crl_renew_before_secs(),
            check_secs: defaults::crl_check_secs(),
        }
    }
}

/// `public.base_url`: a URL other URLs are built on by appending a path.
fn valid_base_url(u: &str) -> bool {
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"));
    rest.is_some_and(|r| {
        !r.is_empty()
            && !r.starts_with('/')
            && u.len() <= 200
            && !u.ends_with('/')
            && u.chars().all(|c| c.is_ascii_graphic())
            && !u.contains(['?', '#'])
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Open connections at once; further ones wait in the kernel's accept queue.
    #[serde(default = "defaults::max_connections")]
    pub max_connections: usize,
    /// Open connections from one client address at once; past it, the address's oldest
    /// connection that has sent no request yet is closed for the new one.
    #[serde(default = "defaults::max_connections_per_client")]
    pub max_connections_per_client: usize,
    /// Failed authentications (401) one client address may make at once; past them it gets
    /// 429 until its allowance refills at `auth_failures_per_minute`. Requests with a valid
    /// token never count.
    #[serde(default = "defaults::auth_failure_burst")]
    pub auth_failure_burst: u32,
    #[serde(default = "defaults::auth_failures_per_minute")]
    pub auth_failures_per_minute: u32,
    /// Requests one client address may make at once to the public routes (published VICALs),
    /// refilled at `public_requests_per_minute`; past them, 429.
    #[serde(default = "defaults::public_burst")]
    pub public_burst: u32,
    #[serde(default = "defaults::public_requests_per_minute")]
    pub public_requests_per_minute: u32,
    /// Largest request body accepted; larger ones get 413 before they are read in full.
    #[serde(default = "defaults::body_limit_bytes")]
    pub body_limit_bytes: usize,
    /// Time a client has to send the request head (slowloris guard).
    #[serde(default = "defaults::header_timeout_secs")]
    pub header_timeout_secs: u64,
    /// Time a whole request (body read and handling) may take.
    #[serde(default = "defaults::request_timeout_secs")]
    pub request_timeout_secs: u64,
    /// Keep-alive connections with no request for this long are closed.
    #[serde(default = "defaults::idle_timeout_secs")]
    pub idle_timeout_secs: u64,
    /// On SIGTERM / Ctrl-C, in-flight requests get this long to finish.
    #[serde(default = "defaults::shutdown_grace_secs")]
    pub shutdown_grace_secs: u64,
    /// Allow core dumps of the daemon (off: a core file would hold the PIN and the API
    /// tokens and private JWKs of requests in flight).
    #[serde(default)]
    pub allow_core_dumps: bool,
    /// Serve TLS (1.2 and 1.3, ALPN h2 and http/1.1) instead of plain HTTP.
    pub tls: Option<TlsConfig>,
}

/// `[server.tls]`: the certificate chain and where its key is. `SIGHUP` reloads both.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificates, the server's first, then its issuers.
    pub certificate_chain: PathBuf,
    /// A PKCS#8 PEM private key file, mode 0600 (readable by the daemon's user alone).
    pub key_file: Option<PathBuf>,
    /// Or the label of a key in the token (it never leaves it: the handshake's signature is
    /// made there, over a digest, like every other). `hsm-pki tls dev-cert` makes one.
    pub key_label: Option<String>,
    /// PEM CA certificates client certificates must chain to (mutual TLS, on top of the
    /// bearer token).
    pub client_ca: Option<PathBuf>,
    /// With `client_ca`: `required` (default; a client without a certificate is refused in
    /// the handshake) or `optional`.
    pub client_auth: Option<ClientAuth>,
    /// `Strict-Transport-Security: max-age=` on every response.
    #[serde(default = "defaults::hsts_max_age_secs")]
    pub hsts_max_age_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    Required,
    Optional,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub path: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Path of the PKCS#11 module (shared library); or the URI's `module-path`.
    pub module: Option<PathBuf>,
    /// The token is chosen by label, by serial number, or by an RFC 7512 URI (exactly one
    /// of the three), never by slot number alone: SoftHSM (and some HSMs) renumber slots as
    /// tokens come and go.
    pub label: Option<String>,
    pub serial: Option<String>,
    /// `pkcs11:token=...;serial=...`, optionally `?module-path=...&pin-source=...`.
    pub uri: Option<String>,
    /// Name of an environment variable holding the user PIN.
    pub pin_env: Option<String>,
    /// Path of a file holding the user PIN (must not be readable by group or others).
    pub pin_file: Option<PathBuf>,
    /// Operation sessions kept open; also the number of token calls in flight at once.
    #[serde(default = "defaults::pool_size")]
    pub pool_size: usize,
    /// Longest wait for a free session before a request fails with 503.
    #[serde(default = "defaults::pool_timeout_ms")]
    pub pool_timeout_ms: u64,
    /// Token keys one tenant may hold (keys API, roots and signers together), so that one
    /// tenant cannot fill a shared HSM; past it, creating a key is 409 `LimitReached`.
    #[serde(default = "defaults::max_keys_per_tenant")]
    pub max_keys_per_tenant: usize,
    /// Token keys whose handles (and public key, once used) are kept in memory, least
    /// recently used forgotten first: a key not kept costs a token search, which on SoftHSM
    /// reads every object. Bounds the daemon's memory per key.
    #[serde(default = "defaults::key_cache_size")]
    pub key_cache_size: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// How often the token is probed; bounds how long an outage goes unnoticed.
    #[serde(default = "defaults::probe_interval_ms")]
    pub probe_interval_ms: u64,
    /// Upper bound of the back-off between reconnection attempts.
    #[serde(default = "defaults::max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// How often a probe also rewrites a small token object, so that a token that still
    /// reads but no longer writes (Kryoptic with its database moved away) is seen as down;
    /// 0: only after an operation failed. A probe writes after every failed operation anyway.
    #[serde(default = "defaults::write_probe_secs")]
    pub write_probe_secs: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            probe_interval_ms: defaults::probe_interval_ms(),
            max_backoff_ms: defaults::max_backoff_ms(),
            write_probe_secs: defaults::write_probe_secs(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MobileConfig {
    /// Longest validity of an mdoc (validUntil from now). A document signer provisioned
    /// under a managed IACA is replaced once its certificate ends within this.
    #[serde(default = "defaults::max_mdoc_validity_days")]
    pub max_mdoc_validity_days: u32,
    /// Validity of the document signer certificates provisioned under managed IACAs
    /// (ISO/IEC 18013-5 Table B.3: at most 457 days); more than max_mdoc_validity_days, the
    /// difference being how long one signs before it is rotated.
    #[serde(default = "defaults::document_signer_days")]
    pub document_signer_days: u32,
    /// Data elements of one sign request, and their encoded bytes.
    #[serde(default = "defaults::max_mdoc_elements")]
    pub max_elements: usize,
    #[serde(default = "defaults::max_mdoc_bytes")]
    pub max_element_bytes: usize,
    /// Largest MSO `sign-mso` accepts.
    #[serde(default = "defaults::max_mso_bytes")]
    pub max_mso_bytes: usize,
}

impl Default for MobileConfig {
    fn default() -> Self {
        MobileConfig {
            max_mdoc_validity_days: defaults::max_mdoc_validity_days(),
            document_signer_days: defaults::document_signer_days(),
            max_elements: defaults::max_mdoc_elements(),
            max_element_bytes: defaults::max_mdoc_bytes(),
            max_mso_bytes: defaults::max_mso_bytes(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// How often a signed checkpoint of the audit chain is written (when it grew), besides
    /// the one at shutdown. Events newer than the newest checkpoint are not yet anchored in
    /// the token: this bounds how many a deletion of the newest rows can remove unnoticed.
    #[serde(default = "defaults::checkpoint_interval_secs")]
    pub checkpoint_interval_secs: u64,
}

/// Wallet attestations.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolderConfig {
    /// Lifetime of an attestation whose request names none, and the longest one may ask
    /// for (`expiresIn`), in seconds.
    #[serde(default = "defaults::attestation_default_secs")]
    pub attestation_default_secs: u64,
    #[serde(default = "defaults::attestation_max_secs")]
    pub attestation_max_secs: u64,
}

impl Default for HolderConfig {
    fn default() -> Self {
        HolderConfig {
            attestation_default_secs: defaults::attestation_default_secs(),
            attestation_max_secs: defaults::attestation_max_secs(),
        }
    }
}

/// The VICAL auto-publish timer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VicalConfig {
    /// Seconds between passes that publish the VICALs due (a day or a week after the newest).
    #[serde(default = "defaults::auto_publish_check_secs")]
    pub auto_publish_check_secs: u64,
    /// Tests only: the period of a `Daily` schedule in seconds instead of a day.
    #[serde(default)]
    pub daily_period_secs: Option<u64>,
}

impl Default for VicalConfig {
    fn default() -> Self {
        VicalConfig {
            auto_publish_check_secs: defaults::auto_publish_check_secs(),
            daily_period_secs: None,
        }
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            checkpoint_interval_secs: defaults::checkpoint_interval_secs(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    /// Log as JSON lines instead of human-readable text.
    #[serde(default)]
    pub json: bool,
    /// A tracing filter directive, e.g. "info" or "hsm_pki=debug". `RUST_LOG` overrides it.
    pub filter: Option<String>,
}

mod defaults {
    pub fn console_idle_secs() -> u64 {
        900
    }
    pub fn console_absolute_secs() -> u64 {
        8 * 3600
    }
    pub fn attestation_default_secs() -> u64 {
        86_400
    }
    pub fn attestation_max_secs() -> u64 {
        30 * 86_400
    }
    pub fn auto_publish_check_secs() -> u64 {
        60
    }
    /// RFC 5280 leaves the window to the CA; a week suits CAs that revoke rarely (and is
    /// what ISO/IEC 18013-5 IACAs commonly publish).
    pub fn crl_validity_secs() -> u64 {
        7 * 86_400
    }
    pub fn crl_renew_before_secs() -> u64 {
        2 * 86_400
    }
    pub fn crl_check_secs() -> u64 {
        60
    }
    pub fn status_list_size() -> u64 {
        // 12.5 KiB uncompressed, a few hundred bytes compressed while few are revoked.
        100_000
    }
    pub fn status_token_validity_secs() -> u64 {
        86_400
    }
    pub fn status_ttl_secs() -> u64 {
        3600
    }
    pub fn status_renew_before_secs() -> u64 {
        6 * 3600
    }
    pub fn status_check_secs() -> u64 {
        60
    }
    /// A year: what HSTS preload lists ask for.
    pub fn hsts_max_age_secs() -> u64 {
        365 * 86_400
    }
    pub fn document_signer_days() -> u32 {
        457
    }
    pub fn max_mdoc_validity_days() -> u32 {
        365
    }
    pub fn max_mdoc_elements() -> usize {
        256
    }
    pub fn max_mdoc_bytes() -> usize {
        512 * 1024
    }
    pub fn max_mso_bytes() -> usize {
        256 * 1024
    }
    pub fn checkpoint_interval_secs() -> u64 {
        60
    }
    pub fn public_burst() -> u32 {
        120
    }
    pub fn public_requests_per_minute() -> u32 {
        600
    }
    pub fn auth_failure_burst() -> u32 {
        20
    }
    pub fn auth_failures_per_minute() -> u32 {
        30
    }
    pub fn max_connections_per_client() -> usize {
        64
    }
    pub fn max_connections() -> usize {
        256
    }
    pub fn body_limit_bytes() -> usize {
        1024 * 1024
    }
    pub fn header_timeout_secs() -> u64 {
        10
    }
    pub fn request_timeout_secs() -> u64 {
        30
    }
    pub fn idle_timeout_secs() -> u64 {
        60
    }
    pub fn shutdown_grace_secs() -> u64 {
        10
    }
    pub fn pool_size() -> usize {
        4
    }
    pub fn max_keys_per_tenant() -> usize {
        10_000
    }
    pub fn pool_timeout_ms() -> u64 {
        5000
    }
    pub fn key_cache_size() -> usize {
        crate::hsm::TokenConfig::DEFAULT_KEY_CACHE_SIZE
    }
    pub fn probe_interval_ms() -> u64 {
        1000
    }
    pub fn write_probe_secs() -> u64 {
        crate::hsm::TokenConfig::DEFAULT_WRITE_PROBE_EVERY.as_secs()
    }
    pub fn max_backoff_ms() -> u64 {
        5000
    }
}

/// Where the PIN comes from; resolved once at start-up by [`TokenConfig::read_pin`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinSource {
    Env(String),
    File(PathBuf),
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })?;
        // Relative paths in the file are relative to the file, so a config works from any
        // working directory.
        if let Some(dir) = path.parent() {
            config.resolve_relative_to(dir);
        }
        config.validate()?;
        Ok(config)
    }

    /// Parse without touching the file system; the error text names unknown or mistyped
    /// keys (toml/serde report "unknown field `x`, expected one of ...").
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.message().trim().to_owned())
    }

    fn resolve_relative_to(&mut self, dir: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        fix(&mut self.database.path);
        if let Some(p) = self.token.pin_file.as_mut() {
            fix(p);
        }
        if let Some(t) = self.server.tls.as_mut() {
            fix(&mut t.certificate_chain);
            for p in [t.key_file.as_mut(), t.client_ca.as_mut()]
                .into_iter()
                .flatten()
            {
                fix(p);
            }
        }
    }

    /// Checks that serde cannot express: exclusive choices, ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        if let Some(t) = &s.tls {
            match (&t.key_file, &t.key_label) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(invalid(
                        "server.tls.key_file",
                        "give server.tls.key_file or server.tls.key_label, exactly one",
                    ));
                }
                (None, Some(l)) if l.is_empty() || l.len() > 128 => {
                    return Err(invalid("server.tls.key_label", "must be 1 to 128 bytes"));
                }
                _ => {}
            }
            if t.client_auth.is_some() && t.client_ca.is_none() {
                return Err(invalid(
                    "server.tls.client_auth",
                    "needs server.tls.client_ca (the CAs client certificates chain to)",
                ));
            }
        }
        if !(1..=65_536).contains(&s.max_connections_per_client) {
            return Err(invalid(
                "server.max_connections_per_client",
                "must be 1..=65536",
            ));
        }
        for (key, v) in [
            ("server.public_burst", s.public_burst),
            (
                "server.public_requests_per_minute",
                s.public_requests_per_minute,
            ),
        ] {
            if !(1..=1_000_000).contains(&v) {
                return Err(invalid(key, "must be 1..=1000000"));
            }
        }
        if !(1..=1_000_000).contains(&s.auth_failure_burst) {
            return Err(invalid("server.auth_failure_burst", "must be 1..=1000000"));
        }
        if !(1..=1_000_000).contains(&s.auth_failures_per_minute) {
            return Err(invalid(
                "server.auth_failures_per_minute",
                "must be 1..=1000000",
            ));
        }
        if !(1..=65_536).contains(&s.max_connections) {
            return Err(invalid("server.max_connections", "must be 1..=65536"));
        }
        if !(1024..=64 * 1024 * 1024).contains(&s.body_limit_bytes) {
            return Err(invalid("server.body_limit_bytes", "must be 1 KiB..=64 MiB"));
        }
        for (key, v) in [
            ("server.header_timeout_secs", s.header_timeout_secs),
            ("server.request_timeout_secs", s.request_timeout_secs),
            ("server.idle_timeout_secs", s.idle_timeout_secs),
            ("server.shutdown_grace_secs", s.shutdown_grace_secs),
            (
                "audit.checkpoint_interval_secs",
                self.audit.checkpoint_interval_secs,
            ),
            (
                "vical.auto_publish_check_secs",
                self.vical.auto_publish_check_secs,
            ),
        ] {
            if !(1..=3600).contains(&v) {
                return Err(invalid(key, "must be 1..=3600 seconds"));
            }
        }
        let h = &self.holder;
        // A provisioned signer lasts a year and is replaced before it cannot cover the longest.
        if !(60..=180 * 86_400).contains(&h.attestation_max_secs) {
            return Err(invalid(
                "holder.attestation_max_secs",
                "must be 60..=15552000 (180 days)",
            ));
        }
        if !(1..=h.attestation_max_secs).contains(&h.attestation_default_secs) {
            return Err(invalid(
                "holder.attestation_default_secs",
                "must be 1 up to holder.attestation_max_secs",
            ));
        }
        let m = &self.mobile;
        // A DS certificate lasts at most 457 days (ISO/IEC 18013-5 Table B.3), and a
        // provisioned one must outlast the longest mdoc.
        if !(2..=457).contains(&m.document_signer_days) {
            return Err(invalid("mobile.document_signer_days", "must be 2..=457"));
        }
        if !(1..m.document_signer_days).contains(&m.max_mdoc_validity_days) {
            return Err(invalid(
                "mobile.max_mdoc_validity_days",
                "must be at least 1 and less than mobile.document_signer_days",
            ));
        }
        if !(1..=10_000).contains(&m.max_elements) {
            return Err(invalid("mobile.max_elements", "must be 1..=10000"));
        }
        if !(1024..=s.body_limit_bytes).contains(&m.max_element_bytes) {
            return Err(invalid(
                "mobile.max_element_bytes",
                "must be 1 KiB up to server.body_limit_bytes",
            ));
        }
        if !(1024..=s.body_limit_bytes).contains(&m.max_mso_bytes) {
            return Err(invalid(
                "mobile.max_mso_bytes",
                "must be 1 KiB up to server.body_limit_bytes",
            ));
        }
        if let Some(u) = &self.public.base_url
            && !valid_base_url(u)
        {
            return Err(invalid(
                "public.base_url",
                "must be an http or https URL of up to 200 characters without query, \
                 fragment, trailing slash or spaces",
            ));
        }
        let c = &self.crl;
        if !(60..=366 * 86400).contains(&c.validity_secs) {
            return Err(invalid("crl.validity_secs", "must be 60 s up to 366 days"));
        }
        if c.renew_before_secs == 0 || c.renew_before_secs >= c.validity_secs {
            return Err(invalid(
                "crl.renew_before_secs",
                "must be more than 0 and less than crl.validity_secs",
            ));
        }
        if c.check_secs == 0 || c.check_secs > c.renew_before_secs {
            return Err(invalid(
                "crl.check_secs",
                "must be more than 0 and at most crl.renew_before_secs (or a CRL could lapse \
                 between two passes)",
            ));
        }
        let sl = &self.status_list;
        if !(8..=10_000_000).contains(&sl.list_size) {
            return Err(invalid("status_list.list_size", "must be 8 up to 10000000"));
        }
        // Short validities are for tests (the daemon warns): a token renewed every few
        // seconds is a token signature every few seconds per list.
        if !(2..=366 * 86400).contains(&sl.token_validity_secs) {
            return Err(invalid(
                "status_list.token_validity_secs",
                "must be 2 s up to 366 days",
            ));
        }
        if sl.ttl_secs == 0 || sl.ttl_secs > sl.token_validity_secs {
            return Err(invalid(
                "status_list.ttl_secs",
                "must be more than 0 and at most status_list.token_validity_secs",
            ));
        }
        if sl.renew_before_secs == 0 || sl.renew_before_secs >= sl.token_validity_secs {
            return Err(invalid(
                "status_list.renew_before_secs",
                "must be more than 0 and less than status_list.token_validity_secs",
            ));
        }
        if sl.check_secs == 0 || sl.check_secs > sl.renew_before_secs {
            return Err(invalid(
                "status_list.check_secs",
                "must be more than 0 and at most status_list.renew_before_secs (or a token \
                 could lapse between two passes)",
            ));
        }
        let t = &self.token;
        t.selector()?;
        t.module_path()?;
        self.token.pin_source()?;
        if t.max_keys_per_tenant == 0 {
            return Err(invalid("token.max_keys_per_tenant", "must be at least 1"));
        }
        if !(1..=64).contains(&t.pool_size) {
            return Err(invalid("token.pool_size", "must be 1..=64"));
        }
        if !(1..=60_000).contains(&t.pool_timeout_ms) {
            return Err(invalid("token.pool_timeout_ms", "must be 1..=60000"));
        }
        if !(1..=10_000_000).contains(&t.key_cache_size) {
            return Err(invalid("token.key_cache_size", "must be 1..=10000000"));
        }
        if !(100..=60_000).contains(&self.health.probe_interval_ms) {
            return Err(invalid("health.probe_interval_ms", "must be 100..=60000"));
        }
        if !(100..=600_000).contains(&self.health.max_backoff_ms) {
            return Err(invalid("health.max_backoff_ms", "must be 100..=600000"));
        }
        if self.health.write_probe_secs > 86_400 {
            return Err(invalid(
                "health.write_probe_secs",
                "must be 0 (only after a failed operation) ..=86400",
            ));
        }
        Ok(())
    }
}

impl ServerConfig {
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs)
    }
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

impl TokenConfig {
    /// The one way the token is selected: `label`, `serial` or `uri`.
    pub fn selector(&self) -> Result<crate::hsm::TokenSelector, ConfigError> {
        use crate::hsm::TokenSelector;
        match (&self.label, &self.serial, &self.uri) {
            (Some(l), None, None) if l.is_empty() || l.len() > 32 => {
                // CK_TOKEN_INFO.label is 32 bytes, blank padded (PKCS#11 v2.40 section 3.2).
                Err(invalid("token.label", "must be 1..=32 bytes"))
            }
            (Some(l), None, None) => Ok(TokenSelector::Label(l.clone())),
            (None, Some(s), None) if s.is_empty() || s.len() > 16 => {
                Err(invalid("token.serial", "must be 1..=16 bytes"))
            }
            (None, Some(s), None) => Ok(TokenSelector::Serial(s.clone())),
            (None, None, Some(u)) => crate::hsm::Pkcs11Uri::parse(u)
                .map(|u| TokenSelector::Uri(Box::new(u)))
                .map_err(|m| invalid("token.uri", m)),
            (None, None, None) => Err(invalid(
                "token.label",
                "give one of token.label, token.serial or token.uri",
            )),
            _ => Err(invalid(
                "token.label",
                "give only one of token.label, token.serial or token.uri",
            )),
        }
    }

    fn uri(&self) -> Option<crate::hsm::Pkcs11Uri> {
        self.uri
            .as_deref()
            .and_then(|u| crate::hsm::Pkcs11Uri::parse(u).ok())
    }

    /// The module: `token.module` or the URI's `module-path`, exactly one of them.
    pub fn module_path(&self) -> Result<PathBuf, ConfigError> {
        let from_uri = self.uri().and_then(|u| u.module_path);
        match (&self.module, from_uri) {
            (Some(_), Some(_)) => Err(invalid(
                "token.module",
                "give token.module or the URI's module-path, not both",
            )),
            (Some(m), None) => Ok(m.clone()),
            (None, Some(m)) if m.starts_with('/') => Ok(PathBuf::from(m)),
            (None, Some(m)) => Err(invalid(
                "token.uri",
                format!("module-path {m:?} must be an absolute path"),
            )),
            (None, None) => Err(invalid(
                "token.module",
                "give token.module or the URI's module-path",
            )),
        }
    }

    pub fn pin_source(&self) -> Result<PinSource, ConfigError> {
        if let Some(file) = self.uri().and_then(|u| u.pin_file()) {
            if self.pin_env.is_some() || self.pin_file.is_some() {
                return Err(invalid(
                    "token.pin_env",
                    "give token.pin_env, token.pin_file or the URI's pin-source, only one",
                ));
            }
            return file
                .map(PinSource::File)
                .map_err(|m| invalid("token.uri", m));
        }
        match (&self.pin_env, &self.pin_file) {
            (Some(_), Some(_)) => Err(invalid(
                "token.pin_env",
                "give token.pin_env or token.pin_file, not both",
            )),
            (None, None) => Err(invalid(
                "token.pin_env",
                "give token.pin_env or token.pin_file",
            )),
            (Some(v), None) if v.is_empty() => Err(invalid("token.pin_env", "must not be empty")),
            (Some(v), None) => Ok(PinSource::Env(v.clone())),
            (None, Some(p)) => Ok(PinSource::File(p.clone())),
        }
    }

    /// Read the PIN. The error never contains the PIN, only where it was looked for.
    pub fn read_pin(&self) -> Result<Zeroizing<String>, ConfigError> {
        let pin = match self.pin_source()? {
            PinSource::Env(var) => Zeroizing::new(std::env::var(&var).map_err(|_| {
                invalid(
                    "token.pin_env",
                    format!("environment variable {var} is not set"),
                )
            })?),
            PinSource::File(path) => {
                let key = if self.uri().is_some_and(|u| u.pin_source.is_some()) {
                    "token.uri"
                } else {
                    "token.pin_file"
                };
                check_private_file(&path).map_err(|m| invalid(key, m))?;
                let raw =
                    Zeroizing::new(std::fs::read_to_string(&path).map_err(|e| {
                        invalid(key, format!("cannot read {}: {e}", path.display()))
                    })?);
                Zeroizing::new(raw.trim_end_matches(['\r', '\n']).to_owned())
            }
        };
        if pin.is_empty() {
            return Err(invalid("token.pin_env", "the PIN is empty"));
        }
        Ok(pin)
    }
}

/// A secret file readable by group or others is refused rather than used: the operator
/// learns of the leak before the PIN does any more harm.
fn check_private_file(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta =
            std::fs::metadata(path).map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} has mode {:o}; it must not be readable by group or others (chmod 600)",
                path.display(),
                mode & 0o777
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[server]
listen = "127.0.0.1:8080"
[database]
path = "var/hsm-pki.sqlite3"
[token]
module = "/usr/lib/softhsm/libsofthsm2.so"
label = "hsm-pki"
pin_env = "HSM_PKI_PIN"
"#;

    #[test]
    fn minimal_config_parses_with_defaults() {
        let c = Config::parse(GOOD).unwrap();
        c.validate().unwrap();
        assert_eq!(c.server.body_limit_bytes, 1024 * 1024);
        assert_eq!(c.token.pool_size, 4);
    }

    #[test]
    fn unknown_key_is_rejected_by_name() {
        let text = GOOD.replace("pin_env", "pool_sise = 3\npin_env");
        let err = Config::parse(&text).unwrap_err();
        assert!(err.contains("pool_sise"), "{err}");
        let text = format!("{GOOD}\n[extra]\nx = 1\n");
        let err = Config::parse(&text).unwrap_err();
        assert!(err.contains("extra"), "{err}");
    }

    #[test]
    fn exclusive_choices_are_enforced_with_key_names() {
        let c =
            Config::parse(&GOOD.replace("label = \"hsm-pki\"", "label = \"a\"\nserial = \"1\""))
                .unwrap();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("token.label")
        );
        let c = Config::parse(&GOOD.replace("pin_env = \"HSM_PKI_PIN\"", "")).unwrap();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("token.pin_env")
        );
        let c = Config::parse(&GOOD.replace("[token]", "[token]\npool_size = 0")).unwrap();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("token.pool_size")
        );
    }

    #[test]
    fn pin_file_with_loose_mode_is_refused_and_pin_never_in_error() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let pin_path = dir.path().join("pin");
        std::fs::write(&pin_path, "s3cret-pin\n").unwrap();
        std::fs::set_permissions(&pin_path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut c = Config::parse(GOOD).unwrap();
        c.token.pin_env = None;
        c.token.pin_file = Some(pin_path.clone());
        let err = c.token.read_pin().unwrap_err().to_string();
        assert!(
            err.contains("chmod 600") && !err.contains("s3cret"),
            "{err}"
        );
        std::fs::set_permissions(&pin_path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(c.token.read_pin().unwrap().as_str(), "s3cret-pin");
    }

    #[test]
    fn the_shipped_annotated_config_is_valid() {
        let text = include_str!("../hsm-config/hsm-pki.toml");
        Config::parse(text).unwrap().validate().unwrap();
    }
}
