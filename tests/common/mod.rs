//! Shared integration-test harness: a SoftHSM2 token the test creates, the real daemon
//! binary as a child process on 127.0.0.1:0, and the outside cross-checkers (openssl,
//! pkilint).
//!
//! Every helper fails loudly when a tool is missing: a test that cannot run must not pass.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The SoftHSM2 PKCS#11 module: `HSM_PKI_SOFTHSM_MODULE` (set by scripts/test) or Debian's
/// usual paths.
pub fn softhsm_module() -> PathBuf {
    if let Ok(p) = std::env::var("HSM_PKI_SOFTHSM_MODULE") {
        return PathBuf::from(p);
    }
    for p in [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    ] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("libsofthsm2.so not found: run scripts/test, which installs softhsm2");
}

/// A fresh SoftHSM2 token in a temporary directory, initialised with random PINs.
pub struct SoftHsm {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub tokendir: PathBuf,
    pub label: String,
    pub pin: String,
    pub so_pin: String,
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .expect("read /dev/urandom");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl SoftHsm {
    pub fn new(label: &str) -> SoftHsm {
        let dir = tempfile::tempdir().expect("tempdir");
        let tokendir = dir.path().join("tokens");
        std::fs::create_dir_all(&tokendir).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        let template = include_str!("../../hsm-config/softhsm2.conf.template");
        std::fs::write(
            &conf,
            template.replace("@TOKENDIR@", tokendir.to_str().unwrap()),
        )
        .unwrap();
        let pin = random_hex(8);
        let so_pin = random_hex(8);
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args(["--init-token", "--free", "--label", label])
            .args(["--so-pin", &so_pin, "--pin", &pin])
            .output()
            .expect("softhsm2-util not found: run scripts/test, which installs softhsm2");
        assert!(
            out.status.success(),
            "softhsm2-util --init-token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SoftHsm {
            dir,
            conf,
            tokendir,
            label: label.to_owned(),
            pin,
            so_pin,
        }
    }

    /// Set SOFTHSM2_CONF for this process: only for tests that open the token in-process
    /// (one such test per test binary: one PKCS#11 context per process).
    pub fn export_env(&self) {
        // SAFETY: called once at the start of a single-threaded test, before any thread
        // that reads the environment is spawned.
        unsafe { std::env::set_var("SOFTHSM2_CONF", &self.conf) };
    }
}

/// The daemon binary running as a child process.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
    /// The token's SOFTHSM2_CONF, for CLI commands that open the token.
    pub softhsm_conf: PathBuf,
}

pub const DAEMON_BIN: &str = env!("CARGO_BIN_EXE_hsm-pki");

impl Daemon {
    /// Write a config for `hsm` and start `hsm-pki serve` on 127.0.0.1:0.
    pub fn start(hsm: &SoftHsm) -> Daemon {
        Self::start_with(hsm, "")
    }

    pub fn start_with(hsm: &SoftHsm, extra_toml: &str) -> Daemon {
        Self::start_full(hsm, 2, "debug", extra_toml)
    }

    /// Full control: token session pool size and log filter (the benchmark logs little).
    pub fn start_full(
        hsm: &SoftHsm,
        pool_size: usize,
        log_filter: &str,
        extra_toml: &str,
    ) -> Daemon {
        Self::start_tables(hsm, pool_size, log_filter, "", "", extra_toml)
    }

    /// As [`Daemon::start_full`], with extra keys for the `[server]` and `[token]` tables.
    pub fn start_tables(
        hsm: &SoftHsm,
        pool_size: usize,
        log_filter: &str,
        server_toml: &str,
        token_toml: &str,
        extra_toml: &str,
    ) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let pin_file = dir.path().join("user.pin");
        std::fs::write(&pin_file, &hsm.pin).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let config = dir.path().join("hsm-pki.toml");
        std::fs::write(
            &config,
            format!(
                r#"
[server]
listen = "127.0.0.1:0"
shutdown_grace_secs = 2
{server_toml}
[database]
path = "hsm-pki.sqlite3"
[token]
module = "{module}"
label = "{label}"
pin_file = "user.pin"
pool_size = {pool_size}
{token_toml}
[health]
probe_interval_ms = 300
max_backoff_ms = 1000
[logging]
filter = "{log_filter}"
{extra_toml}
"#,
                module = softhsm_module().display(),
                label = hsm.label,
            ),
        )
        .unwrap();
        let log = dir.path().join("daemon.log");
        let (child, addr) = spawn(&config, &hsm.conf, &log);
        Daemon {
            child,
            addr,
            dir,
            log,
            softhsm_conf: hsm.conf.clone(),
        }
    }

    /// `kill -9` the daemon and start it again on the same config, database and log (which
    /// it appends to). The new process listens on a new port.
    pub fn crash_and_restart(&mut self, hsm: &SoftHsm) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, addr) = spawn(&self.config_path(), &hsm.conf, &self.log);
        self.child = child;
        self.addr = addr;
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Poll `GET path` until it returns `status`, or panic after `within`.
    pub fn wait_status(&self, path: &str, status: u16, within: Duration) -> (u16, String) {
        let deadline = Instant::now() + within;
        loop {
            let (s, body) = http(self.addr, "GET", path, None);
            if s == status {
                return (s, body);
            }
            if Instant::now() > deadline {
                panic!(
                    "GET {path}: expected {status} within {within:?}, last {s} {body}\n--- log ---\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The config file the daemon runs with (for CLI commands against the same database).
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("hsm-pki.toml")
    }

    /// Every key label the database records (read beside the running daemon, WAL).
    pub fn db_labels(&self) -> std::collections::BTreeSet<String> {
        let conn = rusqlite::Connection::open_with_flags(
            self.db_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let mut stmt = conn.prepare("SELECT label FROM keys").unwrap();
        stmt.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("hsm-pki.sqlite3")
    }

    /// `hsm-pki api-token create` against this daemon's database; returns the token.
    pub fn create_token(&self, tenant: &str, roles: &[&str]) -> String {
        let mut cmd = Command::new(DAEMON_BIN);
        cmd.args(["api-token", "create", "--config"])
            .arg(self.config_path())
            .args(["--tenant", tenant]);
        for r in roles {
            cmd.args(["--role", r]);
        }
        let out = cmd.output().expect("run api-token create");
        assert!(
            out.status.success(),
            "api-token create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// Run a CLI subcommand against this daemon's config; (success, stdout+stderr).
    pub fn cli(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(DAEMON_BIN)
            .args(args)
            .arg("--config")
            .arg(self.config_path())
            .env("SOFTHSM2_CONF", &self.softhsm_conf)
            .output()
            .expect("run hsm-pki");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    /// SIGTERM and wait; returns whether it exited within the deadline.
    pub fn stop(&mut self) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `hsm-pki serve` with `config`, stderr appended to `log`; returns the child and the
/// address it printed.
fn spawn(config: &Path, softhsm_conf: &Path, log: &Path) -> (Child, SocketAddr) {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut child = Command::new(DAEMON_BIN)
        .args(["serve", "--config"])
        .arg(config)
        .env("SOFTHSM2_CONF", softhsm_conf)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start hsm-pki");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read daemon stdout");
    let addr = line
        .trim()
        .strip_prefix("hsm-pki listening on ")
        .unwrap_or_else(|| {
            panic!(
                "daemon did not start: {line:?}\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        })
        .parse()
        .expect("listen address");
    (child, addr)
}

/// Labels of the token's private keys, read with OpenSC's pkcs11-tool: a second, independent
/// PKCS#11 client in its own process (SoftHSM's file store allows that beside the daemon).
/// The daemon's audit checkpoint key: its own, with no key record, so left out of
/// [`token_private_labels`], which tests compare with the database's key records.
pub const AUDIT_KEY_LABEL: &str = "hsm-pki.audit-checkpoint-key";

/// Labels of the token's private keys except the audit checkpoint key (see
/// [`token_all_private_labels`]).
pub fn token_private_labels(hsm: &SoftHsm) -> Vec<String> {
    let mut labels = token_all_private_labels(hsm);
    labels.retain(|l| l != AUDIT_KEY_LABEL);
    labels
}

pub fn token_all_private_labels(hsm: &SoftHsm) -> Vec<String> {
    let out = Command::new("pkcs11-tool")
        .env("SOFTHSM2_CONF", &hsm.conf)
        .args(["--module"])
        .arg(softhsm_module())
        .args(["--token-label", &hsm.label, "--login", "--pin", &hsm.pin])
        .args(["--list-objects", "--type", "privkey"])
        .output()
        .expect("pkcs11-tool not found: run scripts/test, which installs opensc");
    assert!(
        out.status.success(),
        "pkcs11-tool failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut labels: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("label:"))
        .map(|l| l.trim().to_owned())
        .collect();
    labels.sort();
    labels
}

/// A minimal blocking HTTP/1.1 exchange over hyper's client, on a private runtime: returns
/// (status, body).
pub fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let ct = body.map(|_| ("content-type", "application/json"));
    request(
        addr,
        method,
        path,
        ct.as_slice(),
        body.map(|b| b.as_bytes().to_vec()),
    )
}

/// An HTTP/1.1 exchange with bearer token `token`; JSON body.
pub fn call(
    addr: SocketAddr,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, String) {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("authorization", auth.as_str())];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    request(
        addr,
        method,
        path,
        &headers,
        body.map(|b| b.as_bytes().to_vec()),
    )
}

/// The general form: any headers, any body bytes.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> (u16, String) {
    try_request(addr, method, path, headers, body)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// Like [`request`], but a connection failure or reset is an `Err` instead of a panic (for
/// tests that kill the daemon under load).
pub fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Result<(u16, String), String> {
    exchange(addr, method, path, headers, body)
        .map(|(s, _, b)| (s, String::from_utf8_lossy(&b).into_owned()))
}

/// One request without a token: (status, response headers lower-cased, body bytes).
#[allow(dead_code)]
pub fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    exchange(addr, method, path, &headers, None).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

type Exchanged = (u16, Vec<(String, String)>, Vec<u8>);

/// Any request, with the response's headers (lower-cased names): (status, headers, body).
pub fn full_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Exchanged {
    exchange(addr, method, path, headers, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Result<Exchanged, String> {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let method = method.to_owned();
    let path = path.to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        use http_body_util::{BodyExt, Full};
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(conn);
        let mut req = hyper::Request::builder()
            .method(method.as_str())
            .uri(path.as_str())
            .header("host", addr.to_string());
        for (k, v) in &headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let req = req
            .body(Full::new(bytes::Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(30), sender.send_request(req))
            .await
            .map_err(|_| "no response within 30 s".to_owned())?
            .map_err(|e| format!("request: {e}"))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok((status, headers, bytes.to_vec()))
    })
}

/// Run openssl with `args`; returns (success, stdout+stderr).
pub fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl not found: run scripts/test, which installs it");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The pkilint command `tool` (e.g. `lint_pkix_cert`), from `HSM_PKI_PKILINT_BIN` or the
/// venv scripts/test creates.
pub fn pkilint_bin(tool: &str) -> PathBuf {
    let dir = std::env::var("HSM_PKI_PKILINT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pkilint-venv/bin")
        });
    let bin = dir.join(tool);
    assert!(
        bin.exists(),
        "{} not found: run scripts/test, which installs pkilint",
        bin.display()
    );
    bin
}

/// A pkilint finding of severity WARNING or worse.
#[derive(Debug, Clone)]
pub struct Finding {
    pub severity: String,
    pub code: String,
    pub message: String,
}

/// Lint files with a pkilint tool; returns findings of WARNING and above.
pub fn pkilint(tool: &str, files: &[&Path]) -> Vec<Finding> {
    pkilint_with(tool, &[], files)
}

/// As [`pkilint`], with the tool's own options (`lint_crl` needs `-t CRL -p PKIX`).
pub fn pkilint_with(tool: &str, options: &[&str], files: &[&Path]) -> Vec<Finding> {
    let out = Command::new(pkilint_bin(tool))
        .args(["lint", "-f", "JSON", "-s", "WARNING"])
        .args(options)
        .args(files)
        .output()
        .expect("run pkilint");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "pkilint {tool} output is not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut findings = Vec::new();
    for r in v["results"].as_array().expect("results array") {
        for f in r["finding_descriptions"].as_array().expect("findings") {
            findings.push(Finding {
                severity: f["severity"].as_str().unwrap_or("").to_owned(),
                code: f["code"].as_str().unwrap_or("").to_owned(),
                message: f["message"].as_str().unwrap_or("").to_owned(),
            });
        }
    }
    findings
}

/// Fail on any finding of WARNING or worse whose code is not in `accepted`. Each accepted
/// code is listed, with its reason, where the test calls this; the list is per call so an
/// exception for one artefact never hides a finding on another.
pub fn assert_lint_clean(tool: &str, files: &[&Path], accepted: &[&str]) {
    let findings = pkilint(tool, files);
    let bad: Vec<_> = findings
        .iter()
        .filter(|f| !accepted.contains(&f.code.as_str()))
        .collect();
    assert!(
        bad.is_empty(),
        "pkilint {tool} on {files:?} reported: {bad:#?}"
    );
}
