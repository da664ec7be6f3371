//! Shared integration-test harness: a token the test creates (SoftHSM2 or Kryoptic,
//! `backend.rs`), the real daemon
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

mod backend;
pub mod console;
#[allow(unused_imports)] // each test binary uses a different subset
pub use backend::{Backend, TestToken, kryoptic_module, softhsm_module};

/// The daemon binary running as a child process.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
    /// The token module's configuration variable and file, for CLI commands that open the
    /// token.
    pub token_env: (&'static str, PathBuf),
}

pub const DAEMON_BIN: &str = env!("CARGO_BIN_EXE_hsm-pki");

/// Kryoptic shows a lost database only to writes (src/hsm/heartbeat.rs): the tests' daemons
/// prove writes every second, so their outages are seen as fast as SoftHSM's.
const WRITE_PROBE: &str = "write_probe_secs = 1";

impl Daemon {
    /// Write a config for `hsm` and start `hsm-pki serve` on 127.0.0.1:0.
    pub fn start(hsm: &TestToken) -> Daemon {
        Self::start_with(hsm, "")
    }

    pub fn start_with(hsm: &TestToken, extra_toml: &str) -> Daemon {
        Self::start_full(hsm, 2, "debug", extra_toml)
    }

    /// Full control: token session pool size and log filter (the benchmark logs little).
    pub fn start_full(
        hsm: &TestToken,
        pool_size: usize,
        log_filter: &str,
        extra_toml: &str,
    ) -> Daemon {
        Self::start_tables(hsm, pool_size, log_filter, "", "", extra_toml)
    }

    /// As [`Daemon::start_full`], with extra keys for the `[server]` and `[token]` tables.
    pub fn start_tables(
        hsm: &TestToken,
        pool_size: usize,
        log_filter: &str,
        server_toml: &str,
        token_toml: &str,
        extra_toml: &str,
    ) -> Daemon {
        let selector = format!(
            "module = \"{}\"\nlabel = \"{}\"\npin_file = \"user.pin\"",
            hsm.module().display(),
            hsm.label
        );
        Self::start_config(
            hsm,
            |_| selector,
            pool_size,
            log_filter,
            [server_toml, token_toml, WRITE_PROBE, extra_toml],
        )
    }

    /// Start with `selector(dir)` as the `[token]` table's module, selector and PIN keys
    /// (`dir` is the daemon's directory, which holds the 0600 PIN file `user.pin`).
    pub fn start_selecting(hsm: &TestToken, selector: impl FnOnce(&Path) -> String) -> Daemon {
        Self::start_config(hsm, selector, 2, "debug", ["", "", WRITE_PROBE, ""])
    }

    /// As [`Daemon::start`], with `[health]` keys of the test's own instead of the
    /// one-second write probe.
    pub fn start_health(hsm: &TestToken, health_toml: &str) -> Daemon {
        let selector = format!(
            "module = \"{}\"\nlabel = \"{}\"\npin_file = \"user.pin\"",
            hsm.module().display(),
            hsm.label
        );
        Self::start_config(hsm, |_| selector, 2, "debug", ["", "", health_toml, ""])
    }

    /// `tables`: extra keys of `[server]`, `[token]`, `[health]`, and whole tables after.
    fn start_config(
        hsm: &TestToken,
        selector: impl FnOnce(&Path) -> String,
        pool_size: usize,
        log_filter: &str,
        tables: [&str; 4],
    ) -> Daemon {
        let [server_toml, token_toml, health_toml, extra_toml] = tables;
        let dir = tempfile::tempdir().expect("tempdir");
        let selector = selector(dir.path());
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
{selector}
pool_size = {pool_size}
{token_toml}
[health]
probe_interval_ms = 300
max_backoff_ms = 1000
{health_toml}
[logging]
filter = "{log_filter}"
{extra_toml}
"#,
            ),
        )
        .unwrap();
        let log = dir.path().join("daemon.log");
        let token_env = (hsm.backend.conf_var(), hsm.conf.clone());
        let (child, addr) = spawn(&config, &token_env, &log);
        Daemon {
            child,
            addr,
            dir,
            log,
            token_env,
        }
    }

    /// `kill -9` the daemon and start it again on the same config, database and log (which
    /// it appends to). The new process listens on a new port.
    pub fn crash_and_restart(&mut self, hsm: &TestToken) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, addr) = spawn(
            &self.config_path(),
            &(hsm.backend.conf_var(), hsm.conf.clone()),
            &self.log,
        );
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
            .env(self.token_env.0, &self.token_env.1)
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
fn spawn(config: &Path, token_env: &(&str, PathBuf), log: &Path) -> (Child, SocketAddr) {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut child = Command::new(DAEMON_BIN)
        .args(["serve", "--config"])
        .arg(config)
        .env(token_env.0, &token_env.1)
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
/// PKCS#11 client in its own process (both backends allow that beside the daemon).
/// The daemon's audit checkpoint key: its own, with no key record, so left out of
/// [`token_private_labels`], which tests compare with the database's key records.
pub const AUDIT_KEY_LABEL: &str = "hsm-pki.audit-checkpoint-key";

/// Labels of the token's private keys except the audit checkpoint key (see
/// [`token_all_private_labels`]).
pub fn token_private_labels(hsm: &TestToken) -> Vec<String> {
    let mut labels = token_all_private_labels(hsm);
    labels.retain(|l| l != AUDIT_KEY_LABEL);
    labels
}

pub fn token_all_private_labels(hsm: &TestToken) -> Vec<String> {
    let out = hsm
        .pkcs11_tool()
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
    exchange(addr, method, path, headers, body, ANSWER_WITHIN)
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
    exchange(addr, method, path, &headers, None, ANSWER_WITHIN)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

type Exchanged = (u16, Vec<(String, String)>, Vec<u8>);

/// How long the helpers wait for an answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// [`call`] for a request that may queue behind slow token work (a test that set a long
/// `request_timeout_secs`): waits up to `within` instead of 30 s.
pub fn call_within(
    addr: SocketAddr,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    within: Duration,
) -> (u16, String) {
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let n = if body.is_some() { 2 } else { 1 };
    exchange(
        addr,
        method,
        path,
        &headers[..n],
        body.map(|b| b.as_bytes().to_vec()),
        within,
    )
    .map(|(s, _, b)| (s, String::from_utf8_lossy(&b).into_owned()))
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// Any request, with the response's headers (lower-cased names): (status, headers, body).
pub fn full_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Exchanged {
    exchange(addr, method, path, headers, body, ANSWER_WITHIN)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
    within: Duration,
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
        let resp = tokio::time::timeout(within, sender.send_request(req))
            .await
            .map_err(|_| format!("no response within {} s", within.as_secs()))?
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

/// openssl with `args`, which must succeed; its output.
pub fn ossl(args: &[&str]) -> String {
    let (ok, out) = openssl(args);
    assert!(ok, "openssl {args:?}: {out}");
    out
}

/// An operator's offline root made with openssl in `dir` (`root.key`, `root.cnf`,
/// `root.pem`): P-256, ten years, CA with pathlen 0, keyCertSign and cRLSign, SKI and AKI,
/// issuerAltName `ian_uri`; `dn` holds the subject's `[dn]` lines. Returns its PEM.
pub fn openssl_root(dir: &Path, dn: &str, ian_uri: &str) -> String {
    let p = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    ossl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        &p("root.key"),
    ]);
    std::fs::write(
        p("root.cnf"),
        format!(
            "[req]\ndistinguished_name = dn\nx509_extensions = v3\nprompt = no\n\
             [dn]\n{dn}\n\
             [v3]\nbasicConstraints = critical,CA:TRUE,pathlen:0\n\
             keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n\
             authorityKeyIdentifier = keyid:always\nissuerAltName = URI:{ian_uri}\n"
        ),
    )
    .unwrap();
    ossl(&[
        "req",
        "-new",
        "-x509",
        "-config",
        &p("root.cnf"),
        "-key",
        &p("root.key"),
        "-sha256",
        "-days",
        "3650",
        "-out",
        &p("root.pem"),
    ]);
    std::fs::read_to_string(p("root.pem")).unwrap()
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
