//! The hostile-input suite (issue 6, item 4): hundreds of malformed, oversize, mistyped,
//! forged and foreign requests against every route of the real daemon, over real HTTP.
//!
//! Before the cases the test populates realistic state (keys, DTS roots, VICAL signers,
//! holder roots, a wallet attestation signer, an IACA and a Document Signer in the store,
//! and objects of a second tenant), then snapshots "the records that matter": every row of
//! every table except `audit_events`, read from the SQLite file (read-only) as bytes in a
//! stable order, and the token's private-key labels read by OpenSC's pkcs11-tool. Each case
//! must get a 4xx (never 2xx, never 5xx) in the documented error shape
//! `{code, message, details[{value?, msg, param, location}]}`, and no secret (API tokens,
//! PINs, the private JWK members we send) may come back. After all cases the snapshot must
//! be identical, the audit log may only have grown, its chain must verify, and the daemon's
//! log must hold no panic and no secret.
//!
//! Generic cases iterate the OpenAPI document (`GET /openapi.json`, which a unit test keeps
//! equal to the route table), so a new route is attacked automatically; family-specific
//! cases are written by hand. Inputs are fixed (no RNG): the only variation between runs is
//! the keys openssl and the token generate.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use common::{Daemon, TestToken, call, ossl, token_private_labels, try_request};
use hsm_pki::http::routes::{Access, ROUTES};
use hsm_pki::service::auth::Role;
use serde_json::{Value, json};

const T1: &str = "org.t1";
const T2: &str = "org.t2";
const TARGET: &str = "/v1/org.t1.x509-service-1/x509-service-api";
const STORE: &str = "/v1/org.t1.x509-store-1/x509-store-api/certificates";
const T2_STORE: &str = "/v1/org.t2.x509-store-1/x509-store-api/certificates";
/// Full store ids of the first tenant's IACA and of the second tenant's.
const MINE: &str = "org.t1.x509-store-1.iaca-1";
const THEIRS: &str = "org.t2.x509-store-1.iaca-t2";
const DTS_CA: &str = "/v1/ecosystems/certificates/ca";
const VICAL: &str = "/v1/ecosystems/certificates/vical-signers";
const HOLDER_CA: &str = "/v1/holder/certificates/ca";
const WALLET: &str = "/v1/holder/certificates/wallet-attestation-signers";

const VICAL_EXT: &str = "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
     extendedKeyUsage = 1.0.18013.5.1.8\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n";
const WALLET_EXT: &str = "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
     subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n";
const ROOT_EXT: &str = "basicConstraints = critical,CA:TRUE,pathlen:0\n\
     keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n\
     authorityKeyIdentifier = keyid:always\nissuerAltName = URI:https://example.com/pki\n";

/// A private JWK scalar that belongs to no key here: sent in cases, must never come back.
const FAKE_D: &str = "c2VjcmV0LXNjYWxhci1ub3QtYS1yZWFsLWtleS0xMjM0NTY";

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

// ---------------------------------------------------------------------------------------
// PEM/DER surgery (the hostile variants of good artefacts)

fn pem_to_der(pem: &str) -> Vec<u8> {
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    Base64::decode_vec(b64.trim()).expect("PEM body")
}

fn der_to_pem(label: &str, der: &[u8]) -> String {
    let b64 = Base64::encode_string(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The same structure with its last octet (inside the signature value) changed: still
/// parseable, no longer a valid signature.
fn broken_signature(label: &str, pem: &str) -> String {
    let mut der = pem_to_der(pem);
    let n = der.len();
    der[n - 1] ^= 0x01;
    der_to_pem(label, &der)
}

/// The signed part changed (a byte of the subject or key area), the signature kept.
fn tampered_tbs(label: &str, pem: &str) -> String {
    let mut der = pem_to_der(pem);
    let i = der.len() / 3;
    der[i] ^= 0x20;
    der_to_pem(label, &der)
}

/// The DER cut short, re-armoured: valid PEM, truncated DER.
fn truncated_der(label: &str, pem: &str) -> String {
    let der = pem_to_der(pem);
    der_to_pem(label, &der[..der.len() * 3 / 5])
}

/// Every garbage / truncated / forged variant of a good PEM artefact, named.
fn pem_variants(label: &str, good: &str) -> Vec<(String, String)> {
    let der = pem_to_der(good);
    vec![
        ("garbage".into(), "not a PEM at all".into()),
        ("empty".into(), String::new()),
        ("truncated-text".into(), good[..good.len() / 2].to_owned()),
        ("truncated-der".into(), truncated_der(label, good)),
        ("broken-signature".into(), broken_signature(label, good)),
        ("tampered-tbs".into(), tampered_tbs(label, good)),
        (
            "random-der".into(),
            der_to_pem(
                label,
                &[0x30, 0x82, 0x01, 0x00, 0x02, 0x01, 0x05, 0xff, 0x00],
            ),
        ),
        (
            "bad-base64".into(),
            format!("-----BEGIN {label}-----\n!!!not*base64***\n-----END {label}-----\n"),
        ),
        ("wrong-label".into(), der_to_pem("PRIVATE KEY", &der)),
        ("bare-base64-der".into(), Base64::encode_string(&der)),
        (
            "nul-inside".into(),
            good.replacen('\n', "\n\u{0}", 2).to_owned(),
        ),
        (
            "long-length".into(),
            der_to_pem(label, &[0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x30, 0x00]),
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// openssl: offline roots and certificates with chosen validity (`openssl ca` sets dates)

struct Offline {
    dir: PathBuf,
    n: std::cell::Cell<usize>,
}

impl Offline {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn key(&self, name: &str) -> PathBuf {
        let key = self.path(&format!("{name}.key"));
        ossl(&[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            p(&key),
        ]);
        key
    }

    /// A fresh `openssl ca` directory (database, serial) for one signature.
    fn ca_conf(&self) -> PathBuf {
        let i = self.n.get();
        self.n.set(i + 1);
        let d = self.path(&format!("ca{i}"));
        std::fs::create_dir_all(d.join("nc")).unwrap();
        std::fs::write(d.join("index.txt"), "").unwrap();
        std::fs::write(d.join("serial"), format!("{:02x}\n", 16 + i)).unwrap();
        let conf = d.join("ca.cnf");
        std::fs::write(
            &conf,
            format!(
                "[ca]\ndefault_ca = d\n[d]\ndatabase = {0}/index.txt\nnew_certs_dir = {0}/nc\n\
                 serial = {0}/serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n\
                 preserve = yes\nemail_in_dn = no\n[p]\ncountryName = optional\n\
                 organizationName = optional\ncommonName = supplied\n",
                d.display()
            ),
        )
        .unwrap();
        conf
    }

    /// A self-signed root for `subject`, valid from `start` to `end` (see [`validity`]).
    /// Returns (key, cert path, PEM).
    fn root(
        &self,
        name: &str,
        subject: &str,
        start: &str,
        end: &str,
    ) -> (PathBuf, PathBuf, String) {
        let key = self.key(name);
        let csr = self.path(&format!("{name}.csr"));
        ossl(&[
            "req",
            "-new",
            "-key",
            p(&key),
            "-subj",
            subject,
            "-out",
            p(&csr),
        ]);
        let ext = self.write(&format!("{name}.ext"), ROOT_EXT);
        let out = self.path(&format!("{name}.pem"));
        let conf = self.ca_conf();
        let mut args = vec![
            "ca",
            "-batch",
            "-notext",
            "-config",
            p(&conf),
            "-selfsign",
            "-keyfile",
            p(&key),
            "-in",
            p(&csr),
            "-extfile",
            p(&ext),
            "-out",
            p(&out),
        ];
        args.extend(validity(start, end));
        ossl(&args);
        let pem = std::fs::read_to_string(&out).unwrap();
        (key, out, pem)
    }

    /// Sign `csr_pem` with `issuer` under `ext`, valid from `start` to `end` (see [`validity`]).
    fn sign(
        &self,
        name: &str,
        csr_pem: &str,
        issuer: &(PathBuf, PathBuf, String),
        ext: &str,
        start: &str,
        end: &str,
    ) -> String {
        let csr = self.write(&format!("{name}.csr"), csr_pem);
        let ext = self.write(&format!("{name}.ext"), ext);
        let out = self.path(&format!("{name}.pem"));
        let conf = self.ca_conf();
        let mut args = vec![
            "ca",
            "-batch",
            "-notext",
            "-config",
            p(&conf),
            "-cert",
            p(&issuer.1),
            "-keyfile",
            p(&issuer.0),
            "-in",
            p(&csr),
            "-extfile",
            p(&ext),
            "-out",
            p(&out),
        ];
        args.extend(validity(start, end));
        ossl(&args);
        std::fs::read_to_string(&out).unwrap()
    }

    /// A CSR for a key openssl makes (an external party's key).
    fn csr(&self, name: &str, subject: &str) -> String {
        let key = self.key(name);
        ossl(&["req", "-new", "-key", p(&key), "-subj", subject])
    }
}

/// `openssl ca` validity arguments: `start` empty is "now"; `end` `+N` is N days from the
/// start, otherwise an absolute `YYYYMMDDHHMMSSZ` (so the fresh artefacts never age out).
fn validity<'a>(start: &'a str, end: &'a str) -> Vec<&'a str> {
    let mut v = Vec::new();
    if !start.is_empty() {
        v.extend(["-startdate", start]);
    }
    match end.strip_prefix('+') {
        Some(days) => v.extend(["-days", days]),
        None => v.extend(["-enddate", end]),
    }
    v
}

const NOW: &str = "";
const LATER: &str = "+3650";
const YEAR: &str = "+365";
const PAST_START: &str = "20200101000000Z";
const PAST_END: &str = "20210101000000Z";
const FUTURE_START: &str = "20990101000000Z";
const FUTURE_END: &str = "21000101000000Z";

// ---------------------------------------------------------------------------------------
// The snapshot of the records that matter

/// Every row of every table but `audit_events` (and its `sqlite_sequence` row), each value
/// as (type tag, bytes), rows sorted: a byte-for-byte picture of the database's records.
/// A table's rows: each value as (type tag, bytes).
type Rows = Vec<Vec<(u8, Vec<u8>)>>;

fn db_records(db: &Path) -> BTreeMap<String, Rows> {
    use rusqlite::types::ValueRef;
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the database read-only");
    let mut tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // The audit log only grows (checked separately), and so do its checkpoints: the daemon
    // writes one every audit.checkpoint_interval_secs while the log grows, which a slow run
    // of this suite outlasts.
    tables.retain(|t| t != "audit_events" && t != "audit_checkpoints");
    tables.push("sqlite_master".into());
    let mut out = BTreeMap::new();
    for t in tables {
        let sql = if t == "sqlite_sequence" {
            "SELECT * FROM sqlite_sequence WHERE name <> 'audit_events'".to_owned()
        } else {
            format!("SELECT * FROM \"{t}\"")
        };
        let mut stmt = conn.prepare(&sql).unwrap();
        let n = stmt.column_count();
        let mut rows: Rows = stmt
            .query_map([], |r| {
                let mut row = Vec::with_capacity(n);
                for i in 0..n {
                    row.push(match r.get_ref(i)? {
                        ValueRef::Null => (0, Vec::new()),
                        ValueRef::Integer(v) => (1, v.to_be_bytes().to_vec()),
                        ValueRef::Real(v) => (2, v.to_be_bytes().to_vec()),
                        ValueRef::Text(v) => (3, v.to_vec()),
                        ValueRef::Blob(v) => (4, v.to_vec()),
                    });
                }
                Ok(row)
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.sort();
        out.insert(t, rows);
    }
    out
}

/// The audit log's rows in order (seq, every column as text or hex).
fn audit_rows(db: &Path) -> Vec<String> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT seq, at, tenant, token_id, request_id, event, object_id, outcome, \
             error_code, hex(prev_hash), hex(hash) FROM audit_events ORDER BY seq",
        )
        .unwrap();
    stmt.query_map([], |r| {
        let mut s = r.get::<_, i64>(0)?.to_string();
        for i in 1..11 {
            s.push('|');
            s.push_str(&r.get::<_, Option<String>>(i)?.unwrap_or_default());
        }
        Ok(s)
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

// ---------------------------------------------------------------------------------------
// Cases

struct Case {
    name: String,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    /// Statuses this case must get; empty: any 4xx.
    expect: Vec<u16>,
    /// Where the first detail must say the bad input was.
    location: Option<&'static str>,
}

impl Case {
    fn new(name: impl Into<String>, method: &str, path: impl Into<String>) -> Case {
        Case {
            name: name.into(),
            method: method.to_owned(),
            path: path.into(),
            headers: Vec::new(),
            body: None,
            expect: Vec::new(),
            location: None,
        }
    }

    fn auth(mut self, token: &str) -> Case {
        self.headers
            .push(("authorization".into(), format!("Bearer {token}")));
        self
    }

    fn header(mut self, k: &str, v: &str) -> Case {
        self.headers.push((k.into(), v.into()));
        self
    }

    /// A body with `content-type: application/json`.
    fn json(self, body: impl Into<Vec<u8>>) -> Case {
        self.header("content-type", "application/json").raw(body)
    }

    fn raw(mut self, body: impl Into<Vec<u8>>) -> Case {
        self.body = Some(body.into());
        self
    }

    fn expect(mut self, s: &[u16]) -> Case {
        self.expect = s.to_vec();
        self
    }

    fn at(mut self, location: &'static str) -> Case {
        self.location = Some(location);
        self
    }
}

struct Runner<'a> {
    d: &'a Daemon,
    secrets: Vec<String>,
    run: usize,
    by_status: BTreeMap<u16, usize>,
    failures: Vec<String>,
}

const LOCATIONS: &[&str] = &["body", "query", "path", "header"];

/// The documented error shape; returns a complaint, if any.
fn shape_problem(status: u16, text: &str) -> Option<String> {
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Some(format!("body is not JSON ({e})")),
    };
    let o = v.as_object()?;
    let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
    keys.sort();
    if keys != ["code", "details", "message"] {
        return Some(format!("members {keys:?}"));
    }
    if v["code"].as_str().is_none_or(str::is_empty) {
        return Some("code is not a non-empty string".into());
    }
    if v["message"].as_str().is_none_or(str::is_empty) {
        return Some("message is not a non-empty string".into());
    }
    let details = v["details"].as_array()?;
    // A refused input names the field (400), the header (401, 415).
    if matches!(status, 400 | 401 | 415) && details.is_empty() {
        return Some("no detail naming the input".into());
    }
    for d in details {
        let Some(d) = d.as_object() else {
            return Some("detail is not an object".into());
        };
        for k in d.keys() {
            if !["value", "msg", "param", "location"].contains(&k.as_str()) {
                return Some(format!("detail member {k}"));
            }
        }
        if d.get("msg")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Some("detail msg".into());
        }
        if !d.get("param").is_some_and(Value::is_string) {
            return Some("detail param".into());
        }
        if !d
            .get("location")
            .and_then(Value::as_str)
            .is_some_and(|l| LOCATIONS.contains(&l))
        {
            return Some("detail location".into());
        }
        if d.get("value").is_some_and(|x| !x.is_string()) {
            return Some("detail value".into());
        }
    }
    None
}

impl Runner<'_> {
    fn run(&mut self, c: Case) {
        let headers: Vec<(&str, &str)> = c
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (status, text) = try_request(self.d.addr, &c.method, &c.path, &headers, c.body.clone())
            .unwrap_or_else(|e| panic!("case {}: {} {}: {e}", c.name, c.method, c.path));
        self.record(
            &c.name,
            &format!("{} {}", c.method, short(&c.path)),
            &c.expect,
            status,
            &text,
        );
    }

    fn record(&mut self, name: &str, what: &str, expect: &[u16], status: u16, text: &str) {
        self.run += 1;
        if std::env::var_os("HOSTILE_VERBOSE").is_some() {
            let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            println!(
                "{status} [{name}] {} :: {} :: {}",
                short(what),
                v["code"],
                v["details"][0]["msg"]
            );
        }
        *self.by_status.entry(status).or_default() += 1;
        let mut problems = Vec::new();
        if !(400..500).contains(&status) {
            problems.push(format!("status {status} is not a 4xx"));
        } else if !expect.is_empty() && !expect.contains(&status) {
            problems.push(format!("status {status}, expected one of {expect:?}"));
        }
        if let Some(p) = shape_problem(status, text) {
            problems.push(format!("error shape: {p}"));
        }
        for s in &self.secrets {
            if text.contains(s.as_str()) {
                problems.push("a secret is echoed".into());
            }
        }
        if !problems.is_empty() {
            let body: String = text.chars().take(400).collect();
            self.failures
                .push(format!("[{name}] {what}: {} — {body}", problems.join("; ")));
        }
    }
}

fn short(path: &str) -> String {
    if path.len() > 160 {
        format!("{}…({} bytes)", &path[..120], path.len())
    } else {
        path.to_owned()
    }
}

/// An HTTP/1.1 exchange written by hand (chunked bodies, which the harness's client does not
/// send): (status, body). Reads until the server closes.
fn raw_exchange(addr: std::net::SocketAddr, head: &str, body_chunks: &[Vec<u8>]) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = s.try_clone().unwrap();
    let head = head.to_owned();
    let chunks = body_chunks.to_vec();
    // Write on another thread: the server may answer (413) before reading everything.
    let writer = std::thread::spawn(move || {
        if w.write_all(head.as_bytes()).is_err() {
            return;
        }
        for c in chunks {
            let framed = [
                format!("{:x}\r\n", c.len()).into_bytes(),
                c,
                b"\r\n".to_vec(),
            ]
            .concat();
            if w.write_all(&framed).is_err() {
                return;
            }
        }
        let _ = w.write_all(b"0\r\n\r\n");
    });
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match s.read(&mut tmp) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&tmp[..n]);
                if let Some(done) = complete_response(&buf) {
                    buf.truncate(done);
                    break;
                }
            }
            Err(_) => break,
        }
        assert!(Instant::now() < deadline, "no complete response in 30 s");
    }
    let _ = s.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, body.to_owned())
}

/// The length of a complete `content-length` response in `buf`, if there is one.
fn complete_response(buf: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(buf).ok()?;
    let (head, _) = text.split_once("\r\n\r\n")?;
    let len: usize = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    })?;
    let total = head.len() + 4 + len;
    (buf.len() >= total).then_some(total)
}

// ---------------------------------------------------------------------------------------
// The world the cases attack

struct World {
    hsm: TestToken,
    d: Daemon,
    off: Offline,
    _dir: tempfile::TempDir,
    admin: String,
    issuer: String,
    dts: String,
    holder: String,
    auditor: String,
    other: String,
    revoked: String,
    dts_managed: String,
    dts_uploaded: String,
    dts_root: (PathBuf, PathBuf, String),
    vical_active: String,
    vical_pending: String,
    vical_csr: String,
    holder_managed: String,
    holder_uploaded: String,
    holder_root: (PathBuf, PathBuf, String),
    wallet_active: String,
    wallet_pending: String,
    /// An unmanaged IACA of the mobile credential family (the X.509 service's IACA,
    /// uploaded) and a document signer pending under it.
    mobile_iaca: String,
    mobile_ds_pending: String,
    mobile_sls_pending: String,
    /// An ecosystem of the first tenant, and a participant in it.
    ecosystem: String,
    participant: String,
    wallet_csr: String,
    t2_dts: String,
    t2_holder: String,
    iaca_pem: String,
    ds_pem: String,
    k1_jwk: Value,
    rsa_jwk: Value,
}

impl World {
    fn ok(&self, token: &str, method: &str, path: &str, body: &Value, status: u16) -> Value {
        let (s, text) = call(self.d.addr, token, method, path, Some(&body.to_string()));
        assert_eq!(s, status, "setup {method} {path}: {text}");
        json_of(&text)
    }

    fn cli(&self, args: &[&str]) {
        let (ok, out) = self.d.cli(args);
        assert!(ok, "hsm-pki {args:?}: {out}");
    }

    fn build() -> World {
        let hsm = TestToken::new("hostile");
        // Every route gets its 401 cases from one address: a limit that never trips here
        // (tests/api.rs tests the limit itself).
        let d = Daemon::start_tables(
            &hsm,
            2,
            "debug",
            "auth_failure_burst = 1000000\nauth_failures_per_minute = 1000000",
            "",
            "",
        );
        d.wait_status("/readyz", 200, Duration::from_secs(10));
        let dir = tempfile::tempdir().unwrap();
        let off = Offline {
            dir: dir.path().to_owned(),
            n: std::cell::Cell::new(0),
        };
        let admin = d.create_token(T1, &["admin"]);
        let issuer = d.create_token(T1, &["issuer"]);
        let dts = d.create_token(T1, &["dts-provider"]);
        let holder = d.create_token(T1, &["holder"]);
        let auditor = d.create_token(T1, &["auditor"]);
        let other = d.create_token(T2, &["admin"]);
        let revoked = d.create_token(T1, &["admin"]);
        let revoked_id = revoked
            .strip_prefix("hpk_")
            .and_then(|r| r.split('_').next())
            .expect("token id")
            .to_owned();
        let mut w = World {
            hsm,
            d,
            off,
            _dir: dir,
            admin,
            issuer,
            dts,
            holder,
            auditor,
            other,
            revoked,
            dts_managed: String::new(),
            dts_uploaded: String::new(),
            dts_root: Default::default(),
            vical_active: String::new(),
            vical_pending: String::new(),
            mobile_iaca: String::new(),
            mobile_ds_pending: String::new(),
            mobile_sls_pending: String::new(),
            ecosystem: String::new(),
            participant: String::new(),
            vical_csr: String::new(),
            holder_managed: String::new(),
            holder_uploaded: String::new(),
            holder_root: Default::default(),
            wallet_active: String::new(),
            wallet_pending: String::new(),
            wallet_csr: String::new(),
            t2_dts: String::new(),
            t2_holder: String::new(),
            iaca_pem: String::new(),
            ds_pem: String::new(),
            k1_jwk: Value::Null,
            rsa_jwk: Value::Null,
        };
        w.cli(&["api-token", "revoke", &revoked_id]);
        for t in [T1, T2] {
            w.cli(&[
                "tenant",
                "set",
                "--tenant",
                t,
                "--domain",
                "example.com",
                "--country",
                "NZ",
                "--issuer-alt-uri",
                "https://pki.example.com",
            ]);
        }

        // Keys (one RSA, which an IACA may not use), and one of the second tenant.
        let admin = w.admin.clone();
        for (k, alg) in [
            ("k1", "secp256r1"),
            ("iaca", "secp256r1"),
            ("ds", "secp256r1"),
            ("rsa", "rsa2048"),
            // A generic CA key: an IACA key may sign only Document Signer certificates.
            ("gca", "secp256r1"),
        ] {
            let v = w.ok(
                &admin,
                "POST",
                "/v1/keys",
                &json!({"keyId": k, "algorithm": alg}),
                201,
            );
            match k {
                "k1" => w.k1_jwk = v["publicKeyJwk"].clone(),
                "rsa" => w.rsa_jwk = v["publicKeyJwk"].clone(),
                _ => {}
            }
        }
        let other = w.other.clone();
        w.ok(
            &other,
            "POST",
            "/v1/keys",
            &json!({"keyId": "t2key", "algorithm": "secp256r1"}),
            201,
        );

        // DTS: a managed root and an uploaded offline root; an active VICAL signer and a
        // pending one (the target of hostile certificate uploads).
        let m = w.ok(
            &admin,
            "POST",
            DTS_CA,
            &json!({"organisationName": "Example Inc."}),
            201,
        );
        w.dts_managed = m["id"].as_str().unwrap().to_owned();
        w.dts_root = w.off.root(
            "dtsroot",
            "/C=NZ/O=Example Ltd/CN=Hostile DTS Root",
            NOW,
            LATER,
        );
        let r = w.ok(
            &admin,
            "POST",
            DTS_CA,
            &json!({"certificatePem": w.dts_root.2}),
            201,
        );
        w.dts_uploaded = r["id"].as_str().unwrap().to_owned();
        let (active, _) = w.signer(VICAL, &w.dts_uploaded.clone(), true);
        w.vical_active = active;
        let (pending, csr) = w.signer(VICAL, &w.dts_uploaded.clone(), false);
        w.vical_pending = pending;
        w.vical_csr = csr;

        // Holder: a managed root and an uploaded one; wallet signers as above.
        let m = w.ok(&admin, "POST", HOLDER_CA, &json!({}), 201);
        w.holder_managed = m["id"].as_str().unwrap().to_owned();
        w.holder_root = w.off.root(
            "holderroot",
            "/C=NZ/O=Wallet Co/CN=Hostile Wallet Root",
            NOW,
            LATER,
        );
        let r = w.ok(
            &admin,
            "POST",
            HOLDER_CA,
            &json!({"certificatePem": w.holder_root.2}),
            201,
        );
        w.holder_uploaded = r["id"].as_str().unwrap().to_owned();
        let (active, _) = w.signer(WALLET, &w.holder_uploaded.clone(), true);
        w.wallet_active = active;
        let (pending, csr) = w.signer(WALLET, &w.holder_uploaded.clone(), false);
        w.wallet_pending = pending;
        w.wallet_csr = csr;

        // The second tenant's roots.
        let m = w.ok(
            &other,
            "POST",
            DTS_CA,
            &json!({"organisationName": "Other Inc."}),
            201,
        );
        w.t2_dts = m["id"].as_str().unwrap().to_owned();
        let m = w.ok(&other, "POST", HOLDER_CA, &json!({}), 201);
        w.t2_holder = m["id"].as_str().unwrap().to_owned();

        // An IACA and a Document Signer in the store; an IACA in the second tenant's.
        let v = w.ok(
            &admin,
            "POST",
            &format!("{TARGET}/iso/iacas"),
            &json!({"storedCertificateId": "iaca-1",
                "certificateData": {"country": "NZ", "commonName": "Hostile IACA",
                    "issuerAlternativeNameConf": {"uri": "https://iaca.example.com"}},
                "iacaKeyDesc": {"type": "kms-hosted-key-descriptor", "keyIdPath": "org.t1.kms1.iaca"}}),
            200,
        );
        w.iaca_pem = v["certificatePEM"].as_str().unwrap().to_owned();
        let v = w.ok(
            &admin,
            "POST",
            &format!("{TARGET}/iso/document-signers"),
            &json!({"storedCertificateId": "ds-1",
                "iacaSigner": {"type": "iaca-pem-cert-descriptor",
                    "iacaKeyDesc": {"type": "kms-hosted-key-descriptor", "keyIdPath": "org.t1.kms1.iaca"},
                    "certificatePEM": w.iaca_pem},
                "certificateData": {"country": "NZ", "commonName": "Hostile DS",
                    "crlDistributionPointUri": "https://crl.example.com"},
                "dsKeyDescriptor": {"type": "kms-hosted-key-descriptor", "keyIdPath": "org.t1.kms1.ds"}}),
            200,
        );
        w.ds_pem = v["certificatePEM"].as_str().unwrap().to_owned();
        let pem = w.iaca_pem.clone();
        let v = w.ok(
            &admin,
            "POST",
            "/v2/credentials/mobile/iacas",
            &json!({"certificatePem": pem}),
            201,
        );
        w.mobile_iaca = v["id"].as_str().unwrap().to_owned();
        let iaca = w.mobile_iaca.clone();
        let v = w.ok(
            &admin,
            "POST",
            "/v2/credentials/mobile/document-signers",
            &json!({"iacaId": iaca}),
            201,
        );
        w.mobile_ds_pending = v["id"].as_str().unwrap().to_owned();
        let v = w.ok(
            &admin,
            "POST",
            "/v2/credentials/mobile/status-list-signers",
            &json!({"iacaId": iaca}),
            201,
        );
        w.mobile_sls_pending = v["id"].as_str().unwrap().to_owned();
        let v = w.ok(
            &admin,
            "POST",
            "/v1/ecosystems",
            &json!({"name": "Hostile"}),
            201,
        );
        w.ecosystem = v["id"].as_str().unwrap().to_owned();
        let (eco, pem) = (w.ecosystem.clone(), w.iaca_pem.clone());
        let v = w.ok(
            &admin,
            "POST",
            &format!("/v1/ecosystems/{eco}/participants"),
            &json!({"name": "Issuer", "identifiers": {"mobile": [pem]}, "isIssuer": true}),
            201,
        );
        w.participant = v["id"].as_str().unwrap().to_owned();
        w.ok(
            &other,
            "POST",
            "/v1/org.t2.x509-service-1/x509-service-api/iso/iacas",
            &json!({"storedCertificateId": "iaca-t2",
                "certificateData": {"country": "NZ", "commonName": "Other IACA",
                    "issuerAlternativeNameConf": {"uri": "https://iaca.example.org"}},
                "iacaKeyDesc": {"type": "kms-hosted-key-descriptor", "keyIdPath": "org.t2.kms1.t2key"}}),
            200,
        );
        w
    }

    /// A signer under `ca`: with its certificate uploaded and active, or pending. Returns
    /// (id, CSR PEM).
    fn signer(&mut self, family: &str, ca: &str, activate: bool) -> (String, String) {
        let admin = self.admin.clone();
        let s = self.ok(&admin, "POST", family, &json!({"caId": ca}), 201);
        let id = s["id"].as_str().unwrap().to_owned();
        let csr = s["csrPem"].as_str().unwrap().to_owned();
        if activate {
            let (root, ext) = if family == VICAL {
                (&self.dts_root, VICAL_EXT)
            } else {
                (&self.holder_root, WALLET_EXT)
            };
            let cert = self
                .off
                .sign(&format!("signer-{id}"), &csr, root, ext, NOW, YEAR);
            let path = format!("{family}/{id}");
            self.ok(&admin, "PUT", &path, &json!({"certificatePem": cert}), 200);
            if family == VICAL {
                self.ok(&admin, "PUT", &path, &json!({"active": true}), 200);
            }
        }
        (id, csr)
    }

    /// The pattern with valid values: ids of this tenant's objects.
    fn fill(&self, pattern: &str) -> String {
        let mut out = pattern
            .replace("{target}", "org.t1.x509-service-1")
            .replace("{store}", "org.t1.x509-store-1")
            .replace("{keyId}", "k1")
            .replace("{vicalSignerId}", &self.vical_pending)
            .replace("{iacaId}", &self.mobile_iaca)
            .replace("{documentSignerId}", &self.mobile_ds_pending)
            .replace("{statusListSignerId}", &self.mobile_sls_pending)
            // No mdoc of this tenant has it: the route checks its body first, then finds none.
            .replace("{credentialId}", "5e1f0000-0000-4000-8000-000000000001")
            .replace("{statusListId}", "5e1f0000-0000-4000-8000-000000000002")
            .replace("{ecosystemId}", &self.ecosystem)
            .replace("{participantId}", &self.participant);
        out = if out.starts_with(HOLDER_CA) && out.ends_with("/crl") {
            // A managed root: its CRL is made (and its cRLNumber spent) only on success.
            out.replace("{caId}", &self.holder_managed)
        } else if out.starts_with(HOLDER_CA) {
            out.replace("{caId}", &self.holder_uploaded)
        } else {
            out.replace("{caId}", &self.dts_uploaded)
        };
        if out.starts_with(WALLET) {
            out.replace("{certificateId}", &self.wallet_pending)
        } else {
            // Store ids are the full `{org}.{tenant}.{storeId}.{id}`.
            out.replace("{certificateId}", MINE)
        }
    }
}

/// Hostile path-segment values (already percent-encoded where the URI needs it).
fn hostile_segments() -> Vec<(&'static str, String)> {
    vec![
        ("traversal", "..%2f..%2fetc%2fpasswd".into()),
        ("dotdot", "..".into()),
        ("nul", "%00".into()),
        ("nul-inside", "k1%00.json".into()),
        ("sql", "'%20OR%201=1%20--".into()),
        ("sql-quote", "x'%20OR%20'1'='1".into()),
        ("sql-drop", "1;DROP%20TABLE%20keys".into()),
        ("bad-utf8", "%ff%fe%fd".into()),
        ("overlong-utf8", "%c0%ae%c0%ae".into()),
        ("long-300", "a".repeat(300)),
        ("long-3000", "b".repeat(3000)),
        ("nil-uuid", "00000000-0000-0000-0000-000000000000".into()),
        ("template", "%24%7Bjndi:ldap:%2f%2fx%7D".into()),
    ]
}

/// Mutations of one property of a JSON schema: values of the wrong type, out of range,
/// or huge. None of them can be a valid value.
fn mutations(schema: &Value, doc: &Value) -> Vec<(&'static str, String)> {
    let schema = resolve(schema, doc);
    let mut out: Vec<(&'static str, String)> = Vec::new();
    if schema.get("enum").is_some() {
        out.push(("enum-unknown", "\"no-such-variant\"".into()));
        out.push(("enum-number", "7".into()));
        return out;
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => {
            out.push(("string-as-number", "12345".into()));
            out.push(("string-as-object", "{\"d\":1}".into()));
            out.push(("string-as-array", "[\"a\"]".into()));
        }
        Some("boolean") => {
            out.push(("bool-as-string", "\"true\"".into()));
            out.push(("bool-as-number", "1".into()));
        }
        Some("integer") | Some("number") => {
            out.push(("huge-exponent", "1e999".into()));
            out.push(("huge-integer", "123456789012345678901234567890".into()));
            out.push(("negative", "-1".into()));
            out.push(("fraction", "0.5".into()));
            out.push(("number-as-string", "\"1\"".into()));
        }
        Some("array") => {
            out.push(("array-as-object", "{}".into()));
            out.push(("array-of-wrong", "[{\"x\":[1e999]}]".into()));
        }
        _ => {
            // An object (or a $ref to one).
            out.push(("object-as-string", "\"x\"".into()));
            out.push(("object-as-array", "[]".into()));
            out.push(("object-unknown-member", "{\"zzUnknown\":1}".into()));
        }
    }
    out
}

fn resolve<'a>(schema: &'a Value, doc: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("unresolved {r}")),
        None => schema,
    }
}

fn deep(open: &str, close: &str, n: usize) -> String {
    format!("{}{}", open.repeat(n), close.repeat(n))
}

// ---------------------------------------------------------------------------------------

#[test]
fn hostile_inputs_change_nothing() {
    let started = Instant::now();
    let w = World::build();
    let setup_time = started.elapsed();

    // The snapshot: records, token labels, audit log so far. pkcs11-tool beside the daemon
    // can make SoftHSM's files look absent to the health probe for a moment; wait until the
    // daemon is ready again so no case meets a (correct) 503. The CA keys made in the setup
    // get their first CRLs from the daemon's timer: wait for them, they are no input's doing.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let conn = rusqlite::Connection::open(w.d.db_path()).unwrap();
        let unsigned: i64 = conn
            .query_row(
                "SELECT count(*) FROM crl_issuers WHERE crl_der IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if unsigned == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{unsigned} first CRLs never signed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let records = db_records(&w.d.db_path());
    let labels = token_private_labels(&w.hsm);
    w.d.wait_status("/readyz", 200, Duration::from_secs(10));
    let audit_before = audit_rows(&w.d.db_path());
    assert!(labels.len() >= 10, "{labels:?}");

    let mut secrets = vec![w.hsm.pin.clone(), w.hsm.so_pin.clone(), FAKE_D.to_owned()];
    for t in [
        &w.admin, &w.issuer, &w.dts, &w.holder, &w.auditor, &w.other, &w.revoked,
    ] {
        secrets.push(t.clone());
        // The secret part, after `hpk_<16 hex>_`.
        secrets.push(t["hpk_".len() + 17..].to_owned());
    }
    let mut r = Runner {
        d: &w.d,
        secrets,
        run: 0,
        by_status: BTreeMap::new(),
        failures: Vec::new(),
    };

    generic_cases(&w, &mut r);
    let generic = r.run;
    let ctl = family_cases(&w, &mut r);
    let transport = transport_cases(&w, &mut r);

    let cases_time = started.elapsed() - setup_time;
    println!(
        "hostile: {} cases ({generic} generic from the OpenAPI document, {} by family and \
         HTTP framing; {transport} refused by hyper itself before the daemon's code) in \
         {cases_time:?} after {setup_time:?} of setup; statuses {:?}",
        r.run,
        r.run - generic,
        r.by_status
    );
    assert!(
        r.failures.is_empty(),
        "{} of {} cases failed:\n{}",
        r.failures.len(),
        r.run,
        r.failures.join("\n")
    );
    assert!(r.run >= 200, "only {} cases", r.run);

    // Nothing changed: every record byte for byte, the token's keys; the audit log only grew
    // and still verifies; no panic and no secret in the log.
    let after = db_records(&w.d.db_path());
    for (t, rows) in &records {
        assert_eq!(Some(rows), after.get(t), "table {t} changed");
    }
    assert_eq!(records.len(), after.len(), "tables appeared");
    assert_eq!(token_private_labels(&w.hsm), labels, "token keys changed");
    let audit_after = audit_rows(&w.d.db_path());
    assert!(
        audit_after.len() > audit_before.len() && audit_after.starts_with(&audit_before),
        "the audit log must only grow"
    );
    for row in &audit_after {
        for s in &r.secrets {
            assert!(
                !row.contains(s.as_str()),
                "a secret in the audit log: {row}"
            );
        }
    }
    let (ok, out) = w.d.cli(&["audit", "verify"]);
    assert!(ok, "audit verify: {out}");
    let log = w.d.log_text();
    assert!(!log.contains("panicked"), "a panic in the log");
    // A refusal is not an internal failure: nothing was logged at ERROR level. The level is
    // matched, not the word: a WARN may quote CKR_GENERAL_ERROR (SoftHSM answers it for a
    // moment while another process, `audit verify` above, opens the token).
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("\u{1b}[31mERROR") || l.contains(" ERROR "))
        .collect();
    assert!(errors.is_empty(), "errors in the daemon log: {errors:#?}");
    for s in &r.secrets {
        assert!(!log.contains(s.as_str()), "a secret in the daemon log");
    }

    // Positive controls, last (they change state): the unmodified inputs are accepted.
    let n = controls(&w, &ctl);
    println!("hostile: {n} positive controls accepted");
    // And the snapshot sees such changes: it would have caught a hostile case's.
    assert_ne!(db_records(&w.d.db_path()), records, "the snapshot is blind");
}

/// Cases for every (method, path) of the OpenAPI document.
fn generic_cases(w: &World, r: &mut Runner) {
    let (s, text) = common::http(w.d.addr, "GET", "/openapi.json", None);
    assert_eq!(s, 200);
    let doc = json_of(&text);
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 20, "{}", paths.len());
    for (pattern, item) in paths {
        let item = item.as_object().unwrap();
        // A method the path does not serve: 405 before anything else.
        for m in ["PATCH", "TRACE"] {
            assert!(!item.contains_key(&m.to_lowercase()));
            r.run(
                Case::new("method-not-allowed", m, w.fill(pattern))
                    .auth(&w.admin)
                    .expect(&[405]),
            );
        }
        for (method, op) in item {
            let method = method.to_uppercase();
            let path = w.fill(pattern);
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            let has_body = op.get("requestBody").is_some();
            // The body a valid id route needs to get past decoding, where it needs one.
            let filler = |c: Case| {
                if has_body {
                    c.json(&b"{\"zzUnknown\":true}"[..])
                } else {
                    c
                }
            };
            if !secured {
                // Public routes: a trailing traversal is no route.
                r.run(
                    Case::new("public-traversal", &method, format!("{path}/..%2f..%2fetc"))
                        .expect(&[404]),
                );
                continue;
            }

            let tok = &w.admin;
            // The path bent: extra segments, a trailing slash, doubled slashes (after the
            // first segment, `/v1/` or `/v2/`).
            let first = format!("/{}/", path.split('/').nth(1).unwrap_or_default());
            let after_first = |with: &str| {
                path.replacen(&first, &format!("{}{with}", &first[..first.len() - 1]), 1)
            };
            for (name, bent) in [
                ("extra-segment", format!("{path}/extra")),
                ("extra-traversal", format!("{path}/..%2f..%2fetc")),
                ("trailing-slash", format!("{path}/")),
                ("double-slash", after_first("//")),
                ("leading-double-slash", format!("/{path}")),
                ("dot-segment", after_first("/./")),
                ("dotdot-segment", after_first("/x/../")),
                ("encoded-dot", after_first("/%2e/")),
                ("encoded-slash", after_first("%2f")),
                ("matrix-param", format!("{path};x=1")),
                ("upper-case", path.to_uppercase()),
            ] {
                r.run(filler(
                    Case::new(format!("bent-{name}"), &method, bent)
                        .auth(tok)
                        .expect(&[400, 404, 405]),
                ));
            }

            // Missing, malformed, revoked and wrong-role tokens.
            let bad_auth: Vec<(&str, Option<String>)> = vec![
                ("no-token", None),
                ("garbage-token", Some("Bearer garbage".into())),
                ("empty-bearer", Some("Bearer ".into())),
                ("basic-auth", Some("Basic YWRtaW46YWRtaW4=".into())),
                ("revoked-token", Some(format!("Bearer {}", w.revoked))),
                (
                    "wrong-secret",
                    Some(format!("Bearer {}x", &tok[..tok.len() - 1])),
                ),
                ("token-with-suffix", Some(format!("Bearer {tok} {tok}"))),
                ("sql-token", Some("Bearer hpk_' OR 1=1 --_x".into())),
                (
                    "long-token",
                    Some(format!("Bearer hpk_{}", "a".repeat(8000))),
                ),
            ];
            for (name, h) in bad_auth {
                let mut c = Case::new(name, &method, path.clone()).expect(&[401]);
                if let Some(h) = h {
                    c = c.header("authorization", &h);
                }
                r.run(filler(c));
            }
            // Two Authorization headers, in either order: ambiguous, so no token at all (a
            // proxy that checks one and a daemon that uses the other must not disagree).
            for (name, first, second) in [
                ("two-tokens-valid-first", tok.as_str(), "garbage"),
                ("two-tokens-valid-last", "garbage", tok.as_str()),
                ("two-valid-tokens", tok.as_str(), w.auditor.as_str()),
            ] {
                r.run(filler(
                    Case::new(name, &method, path.clone())
                        .header("authorization", &format!("Bearer {first}"))
                        .header("authorization", &format!("Bearer {second}"))
                        .expect(&[401]),
                ));
            }

            // Every single-role token whose role the route table does not allow: 403.
            let def = ROUTES
                .iter()
                .find(|d| d.method == method && d.pattern == pattern.as_str())
                .unwrap_or_else(|| panic!("{method} {pattern} is not in the route table"));
            let Access::Roles(allowed) = def.access else {
                panic!("{method} {pattern}: secured in OpenAPI, public in the route table")
            };
            for (role, token) in [
                (Role::Issuer, &w.issuer),
                (Role::DtsProvider, &w.dts),
                (Role::Holder, &w.holder),
                (Role::Auditor, &w.auditor),
            ] {
                if !allowed.contains(&role) {
                    r.run(filler(
                        Case::new(format!("wrong-role-{}", role.name()), &method, path.clone())
                            .auth(token)
                            .expect(&[403]),
                    ));
                }
            }

            // Hostile values in every path parameter, the others valid.
            let params: Vec<String> = pattern
                .split('/')
                .filter(|s| s.starts_with('{'))
                .map(str::to_owned)
                .collect();
            for param in &params {
                for (name, v) in hostile_segments() {
                    let p = w.fill(&pattern.replace(param, &v));
                    let mut c = Case::new(format!("path-{param}-{name}"), &method, p).auth(tok);
                    if has_body {
                        c = c.json(&b"{\"active\":false}"[..]);
                    }
                    if name == "long-3000" {
                        c = c.expect(&[404]);
                    }
                    r.run(c);
                }
            }

            // Hostile query strings, where the operation takes a query.
            let query: Vec<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "query")
                        .filter_map(|p| p["name"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            // Every protected operation: those without query parameters refuse any.
            {
                let mut qs: Vec<(&str, String)> = vec![
                    ("unknown-param", "zzUnknown=1".into()),
                    ("sql-param-name", "'%20OR%201=1%20--=1".into()),
                    ("bad-percent", "%zz=1".into()),
                    ("long-query", format!("zz={}", "q".repeat(5000))),
                ];
                if query.contains(&"limit") {
                    for v in [
                        "0",
                        "-1",
                        "1001",
                        "abc",
                        "1e3",
                        "99999999999999999999",
                        "%00",
                        "",
                        "'%20OR%201=1%20--",
                        "1.5",
                        "%ff",
                    ] {
                        qs.push(("limit", format!("limit={v}")));
                    }
                    qs.push(("limit-twice", "limit=1&limit=2".into()));
                }
                if query.contains(&"cursor") {
                    for v in [
                        "garbage",
                        "'%20OR%201=1%20--",
                        "..%2f..%2f",
                        "%ff%fe",
                        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                        "LTE",
                    ] {
                        qs.push(("cursor", format!("cursor={v}")));
                    }
                }
                for (name, q) in qs {
                    r.run(filler(
                        Case::new(format!("query-{name}"), &method, format!("{path}?{q}"))
                            .auth(tok)
                            .expect(&[400])
                            .at("query"),
                    ));
                }
            }

            if !has_body {
                continue;
            }
            body_cases(w, r, &doc, &method, &path, op);
        }
    }
    // Paths that name no route.
    for p in [
        "/",
        "/v1",
        "/v1/",
        "/v1/keys/",
        "/v1/keys/k1/",
        "/v1/keys/k1/..",
        "/v1/../v1/keys",
        "/v2/keys",
        "/V1/KEYS",
        "/v1/keys%2fk1",
    ] {
        r.run(
            Case::new("no-route", "GET", p)
                .auth(&w.admin)
                .expect(&[404]),
        );
    }
    r.run(
        Case::new("no-route-long", "GET", format!("/v1/{}", "x/".repeat(2000)))
            .auth(&w.admin)
            .expect(&[404]),
    );
}

/// Malformed, truncated, mistyped, oversize and mislabelled bodies for one operation.
fn body_cases(w: &World, r: &mut Runner, doc: &Value, method: &str, path: &str, op: &Value) {
    let tok = &w.admin;
    let json_case = |name: &str, body: &[u8]| {
        Case::new(format!("body-{name}"), method, path.to_owned())
            .auth(tok)
            .json(body)
    };
    let malformed: Vec<(&str, Vec<u8>)> = vec![
        ("empty", b"".to_vec()),
        ("open-brace", b"{".to_vec()),
        ("truncated-member", b"{\"a\":".to_vec()),
        (
            "truncated-string",
            b"{\"certificatePem\":\"-----BEGIN".to_vec(),
        ),
        ("close-brace", b"}".to_vec()),
        ("trailing-comma", b"{\"a\":1,}".to_vec()),
        ("single-quotes", b"{'a':1}".to_vec()),
        ("trailing-garbage", b"{\"zz\":1} x".to_vec()),
        ("two-documents", b"{\"zz\":1}{\"zz\":2}".to_vec()),
        ("null", b"null".to_vec()),
        ("array", b"[]".to_vec()),
        ("number", b"42".to_vec()),
        ("string", b"\"s\"".to_vec()),
        ("true", b"true".to_vec()),
        ("bom", b"\xef\xbb\xbf{\"zz\":1}".to_vec()),
        ("nul-byte", b"{\"zz\":\x00}".to_vec()),
        ("bad-utf8-string", b"{\"zz\":\"\xff\xfe\"}".to_vec()),
        ("bad-utf8-key", b"{\"\xc3\x28\":1}".to_vec()),
        ("bad-utf8-start", b"\xff\xfe{}".to_vec()),
        ("lone-surrogate", b"{\"zz\":\"\\ud800\"}".to_vec()),
        ("deep-arrays", deep("[", "]", 100_000).into_bytes()),
        ("deep-objects", deep("{\"a\":", "}", 50_000).into_bytes()),
        (
            "deep-inside",
            format!("{{\"zz\":{}}}", deep("[", "]", 5_000)).into_bytes(),
        ),
        ("unknown-field", b"{\"zzUnknown\":1}".to_vec()),
        (
            "proto-pollution",
            b"{\"__proto__\":{\"admin\":true}}".to_vec(),
        ),
        ("huge-number", b"{\"zz\":1e99999}".to_vec()),
        (
            "long-key",
            format!("{{\"{}\":1}}", "k".repeat(100_000)).into_bytes(),
        ),
    ];
    for (name, body) in malformed {
        r.run(json_case(name, &body).expect(&[400]));
    }
    // Wrong, missing and lying content types: 415, nothing decoded.
    for (name, ct) in [
        ("ct-text", Some("text/plain")),
        ("ct-form", Some("application/x-www-form-urlencoded")),
        ("ct-xml", Some("application/xml")),
        ("ct-jsonish", Some("application/json-patch+json")),
        ("ct-multipart", Some("multipart/form-data; boundary=x")),
        ("ct-missing", None),
    ] {
        let mut c = Case::new(name, method, path.to_owned())
            .auth(tok)
            .raw(&b"{\"zzUnknown\":1}"[..])
            .expect(&[415]);
        if let Some(ct) = ct {
            c = c.header("content-type", ct);
        }
        r.run(c);
    }
    // Oversize: a declared length over 1 MiB, and the same streamed in chunks without one.
    let big = format!("{{\"zz\":\"{}\"}}", "x".repeat(1024 * 1024 + 16));
    r.run(json_case("oversize", big.as_bytes()).expect(&[413]));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {tok}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        w.d.addr
    );
    let chunks: Vec<Vec<u8>> = big
        .as_bytes()
        .chunks(64 * 1024)
        .map(<[u8]>::to_vec)
        .collect();
    let (s, text) = raw_exchange(w.d.addr, &head, &chunks);
    r.record(
        "oversize-chunked",
        &format!("{method} {path}"),
        &[413],
        s,
        &text,
    );

    // Every property of the request schema, mistyped (one level of nesting too).
    let schema = op["requestBody"]["content"]["application/json"]["schema"].clone();
    let schema = resolve(&schema, doc);
    let props = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (prop, ps) in &props {
        for (name, v) in mutations(ps, doc) {
            let body = format!("{{\"{prop}\":{v}}}");
            r.run(json_case(&format!("{prop}-{name}"), body.as_bytes()).expect(&[400]));
        }
        let inner = resolve(ps, doc);
        if let Some(inner_props) = inner["properties"].as_object() {
            for (ip, ips) in inner_props {
                let (name, v) = mutations(ips, doc).swap_remove(0);
                let body = format!("{{\"{prop}\":{{\"{ip}\":{v}}}}}");
                r.run(json_case(&format!("{prop}.{ip}-{name}"), body.as_bytes()).expect(&[400]));
            }
        }
    }
}

/// Hand-written cases per family: forged and foreign certificates, wrong keys, ids of
/// another tenant, conflicts.
fn family_cases(w: &World, r: &mut Runner) -> Controls {
    let a = &w.admin;
    let post = |name: &str, path: &str, body: Value, expect: &[u16]| {
        Case::new(name, "POST", path.to_owned())
            .auth(a)
            .json(body.to_string())
            .expect(expect)
    };
    let put = |name: &str, path: &str, body: Value, expect: &[u16]| {
        Case::new(name, "PUT", path.to_owned())
            .auth(a)
            .json(body.to_string())
            .expect(expect)
    };

    // --- keys ---------------------------------------------------------------------------
    for (name, body, expect) in [
        (
            "key-duplicate",
            json!({"keyId": "k1", "algorithm": "secp256r1"}),
            &[409][..],
        ),
        (
            "key-bad-alg",
            json!({"keyId": "kx", "algorithm": "secp256k1"}),
            &[400],
        ),
        (
            "key-rsa1024",
            json!({"keyId": "kx", "algorithm": "rsa1024"}),
            &[400],
        ),
        (
            "key-alg-sql",
            json!({"keyId": "kx", "algorithm": "' OR 1=1 --"}),
            &[400],
        ),
        (
            "key-id-sql",
            json!({"keyId": "' OR 1=1 --", "algorithm": "secp256r1"}),
            &[400],
        ),
        (
            "key-id-traversal",
            json!({"keyId": "../../etc/passwd", "algorithm": "secp256r1"}),
            &[400],
        ),
        (
            "key-id-nul",
            json!({"keyId": "k\u{0}1", "algorithm": "secp256r1"}),
            &[400],
        ),
        (
            "key-id-long",
            json!({"keyId": "k".repeat(65), "algorithm": "secp256r1"}),
            &[400],
        ),
        (
            "key-id-empty",
            json!({"keyId": "", "algorithm": "secp256r1"}),
            &[400],
        ),
        (
            "key-id-unicode",
            json!({"keyId": "kéy", "algorithm": "secp256r1"}),
            &[400],
        ),
        ("key-no-alg", json!({"keyId": "kx"}), &[400]),
    ] {
        r.run(post(name, "/v1/keys", body, expect));
    }
    // Keys of roots and signers are rows of `keys` but belong to their owner's lifecycle:
    // the keys API cannot name them (404, like another tenant's key).
    for name in [
        format!("dts-ca-{}", w.dts_managed),
        format!("holder-ca-{}", w.holder_managed),
        format!("vical-signer-{}", w.vical_active),
        format!("vical-signer-{}", w.vical_pending),
        format!("wallet-signer-{}", w.wallet_active),
        format!("wallet-signer-{}", w.wallet_pending),
    ] {
        let p = format!("/v1/keys/{name}");
        r.run(
            Case::new("key-delete-in-use", "DELETE", p)
                .auth(a)
                .expect(&[404]),
        );
    }
    // ...and of the second tenant: invisible.
    r.run(
        Case::new(
            "key-delete-foreign-in-use",
            "DELETE",
            format!("/v1/keys/dts-ca-{}", w.t2_dts),
        )
        .auth(a)
        .expect(&[404]),
    );
    for m in ["GET", "DELETE"] {
        r.run(
            Case::new("key-other-tenant", m, "/v1/keys/t2key")
                .auth(a)
                .expect(&[404]),
        );
        r.run(
            Case::new("key-of-t1-for-t2", m, "/v1/keys/k1")
                .auth(&w.other)
                .expect(&[404]),
        );
    }

    // --- roots: uploads of forged, expired, not-yet-valid and foreign certificates --------
    let expired_root = w.off.root(
        "expiredroot",
        "/C=NZ/O=Example Ltd/CN=Expired Root",
        PAST_START,
        PAST_END,
    );
    let future_root = w.off.root(
        "futureroot",
        "/C=NZ/O=Example Ltd/CN=Future Root",
        FUTURE_START,
        FUTURE_END,
    );
    let fresh_root = w
        .off
        .root("freshroot", "/C=NZ/O=Example Ltd/CN=Fresh Root", NOW, LATER);
    for (family, existing) in [(DTS_CA, &w.dts_root.2), (HOLDER_CA, &w.holder_root.2)] {
        let mut uploads: Vec<(String, String)> = pem_variants("CERTIFICATE", &fresh_root.2);
        uploads.push(("expired".into(), expired_root.2.clone()));
        uploads.push(("not-yet-valid".into(), future_root.2.clone()));
        uploads.push(("end-entity".into(), w.ds_pem.clone()));
        uploads.push((
            "csr-as-cert".into(),
            w.off.csr("csrascert", "/C=NZ/O=X/CN=Not A Root"),
        ));
        r.run(post(
            "root-upload-duplicate",
            family,
            json!({"certificatePem": existing}),
            &[409],
        ));
        for (name, pem) in uploads {
            r.run(post(
                &format!("root-upload-{name}"),
                family,
                json!({"certificatePem": pem}),
                &[400, 409],
            ));
        }
        r.run(post(
            "root-upload-and-managed",
            family,
            json!({"certificatePem": fresh_root.2, "commonName": "Both"}),
            &[400],
        ));
        // Managed-root fields: DTS roots take an organisation and dates, holder roots not.
        let base = if family == DTS_CA {
            json!({"organisationName": "O"})
        } else {
            json!({})
        };
        let mut bad: Vec<(&str, &str, Value)> = vec![
            ("common-name", "commonName", json!("bad_name' OR 1=1 --")),
            ("common-name-long", "commonName", json!("c".repeat(65))),
            ("common-name-empty", "commonName", json!("")),
            ("country", "country", json!("XX")),
            ("country-sql", "country", json!("' OR 1=1 --")),
        ];
        if family == DTS_CA {
            bad.extend([
                ("org-nul", "organisationName", json!("O\u{0}rg")),
                (
                    "not-before-past",
                    "notBefore",
                    json!("2020-01-01T00:00:00Z"),
                ),
                (
                    "not-after-garbage",
                    "notAfter",
                    json!("2099-13-45T99:00:00Z"),
                ),
                ("not-after-far", "notAfter", json!("9999-12-31T23:59:59Z")),
                ("algorithm", "algorithm", json!("rsa1024")),
            ]);
        }
        for (name, field, v) in bad {
            let mut body = base.clone();
            body[field] = v;
            r.run(post(&format!("root-bad-{name}"), family, body, &[400]));
        }
    }

    // --- roots and signers of another tenant: 404 on paths, 400 as caId -----------------
    for (family, ids) in [
        (DTS_CA, vec![&w.dts_managed, &w.dts_uploaded]),
        (HOLDER_CA, vec![&w.holder_managed, &w.holder_uploaded]),
        (VICAL, vec![&w.vical_active, &w.vical_pending]),
        (WALLET, vec![&w.wallet_active, &w.wallet_pending]),
    ] {
        for id in ids {
            let p = format!("{family}/{id}");
            r.run(
                Case::new("foreign-get", "GET", p.clone())
                    .auth(&w.other)
                    .expect(&[404]),
            );
            r.run(
                Case::new("foreign-delete", "DELETE", p.clone())
                    .auth(&w.other)
                    .expect(&[404]),
            );
            let c = Case::new("foreign-put", "PUT", p)
                .auth(&w.other)
                .json(json!({"active": false}).to_string())
                .expect(&[404]);
            r.run(c);
        }
    }
    for id in [&w.holder_managed, &w.holder_uploaded] {
        r.run(
            Case::new("foreign-crl", "GET", format!("{HOLDER_CA}/{id}/crl"))
                .auth(&w.other)
                .expect(&[404]),
        );
    }
    r.run(
        Case::new(
            "crl-of-dts-root",
            "GET",
            format!("{HOLDER_CA}/{}/crl", w.dts_managed),
        )
        .auth(a)
        .expect(&[404]),
    );
    r.run(
        Case::new(
            "crl-of-unmanaged",
            "GET",
            format!("{HOLDER_CA}/{}/crl", w.holder_uploaded),
        )
        .auth(a)
        .expect(&[404]),
    );
    r.run(
        Case::new("t2-root-for-t1", "GET", format!("{DTS_CA}/{}", w.t2_dts))
            .auth(a)
            .expect(&[404]),
    );
    r.run(
        Case::new(
            "t2-crl-for-t1",
            "GET",
            format!("{HOLDER_CA}/{}/crl", w.t2_holder),
        )
        .auth(a)
        .expect(&[404]),
    );
    // A root of one family under the other family's path.
    r.run(
        Case::new(
            "dts-root-as-holder",
            "GET",
            format!("{HOLDER_CA}/{}", w.dts_uploaded),
        )
        .auth(a)
        .expect(&[404]),
    );
    r.run(
        Case::new(
            "vical-as-wallet",
            "GET",
            format!("{WALLET}/{}", w.vical_pending),
        )
        .auth(a)
        .expect(&[404]),
    );
    for (family, ca) in [
        (VICAL, w.dts_managed.as_str()),
        (VICAL, w.holder_uploaded.as_str()),
        (VICAL, w.t2_dts.as_str()),
        (WALLET, w.holder_managed.as_str()),
        (WALLET, w.dts_uploaded.as_str()),
        (WALLET, w.t2_holder.as_str()),
        (VICAL, "' OR 1=1 --"),
        (VICAL, "../../etc/passwd"),
        (WALLET, "00000000-0000-0000-0000-000000000000"),
        (WALLET, ""),
    ] {
        r.run(post("signer-bad-ca", family, json!({"caId": ca}), &[400]));
    }

    // --- signer certificate uploads: wrong key, wrong issuer, dates, forgeries ----------
    let stranger_csr = w.off.csr("stranger", "/CN=stranger");
    let other_root = w
        .off
        .root("otherroot", "/C=NZ/O=Other Ltd/CN=Other Root", NOW, LATER);
    let mut good_signer_certs = Vec::new();
    for (family, id, csr, root, ext, wrong_ext) in [
        (
            VICAL,
            &w.vical_pending,
            &w.vical_csr,
            &w.dts_root,
            VICAL_EXT,
            WALLET_EXT,
        ),
        (
            WALLET,
            &w.wallet_pending,
            &w.wallet_csr,
            &w.holder_root,
            WALLET_EXT,
            VICAL_EXT,
        ),
    ] {
        let sp = format!("{family}/{id}");
        let tag = if family == VICAL { "vical" } else { "wallet" };
        let good = w
            .off
            .sign(&format!("{tag}-good"), csr, root, ext, NOW, YEAR);
        let mut certs: Vec<(String, String)> = pem_variants("CERTIFICATE", &good);
        good_signer_certs.push(good.clone());
        for (name, pem) in [
            (
                "wrong-key",
                w.off
                    .sign(&format!("{tag}-wk"), &stranger_csr, root, ext, NOW, LATER),
            ),
            (
                "wrong-issuer",
                w.off
                    .sign(&format!("{tag}-wi"), csr, &other_root, ext, NOW, LATER),
            ),
            (
                "expired",
                w.off
                    .sign(&format!("{tag}-ex"), csr, root, ext, PAST_START, PAST_END),
            ),
            (
                "not-yet-valid",
                w.off.sign(
                    &format!("{tag}-fu"),
                    csr,
                    root,
                    ext,
                    FUTURE_START,
                    FUTURE_END,
                ),
            ),
            (
                "wrong-profile",
                w.off
                    .sign(&format!("{tag}-wp"), csr, root, wrong_ext, NOW, LATER),
            ),
            ("the-root-itself", root.2.clone()),
            ("csr-as-cert", csr.clone()),
        ] {
            certs.push((name.into(), pem));
        }
        for (name, pem) in certs {
            r.run(put(
                &format!("{tag}-upload-{name}"),
                &sp,
                json!({"certificatePem": pem}),
                &[400],
            ));
        }
        r.run(put(
            &format!("{tag}-activate-without-cert"),
            &sp,
            json!({"active": true}),
            &[400],
        ));
        r.run(put(
            &format!("{tag}-cert-and-sql"),
            &sp,
            json!({"certificatePem": "' OR 1=1 --"}),
            &[400],
        ));
    }
    // The active signers' certificates are immutable.
    let other_cert = w.off.sign(
        "vical-second",
        &w.vical_csr,
        &w.dts_root,
        VICAL_EXT,
        NOW,
        LATER,
    );
    r.run(put(
        "vical-replace-cert",
        &format!("{VICAL}/{}", w.vical_active),
        json!({"certificatePem": other_cert}),
        &[400, 409],
    ));

    // --- X.509 service ------------------------------------------------------------------
    let kms = |k: &str| json!({"type": "kms-hosted-key-descriptor", "keyIdPath": k});
    let iaca_desc = kms("org.t1.kms1.iaca");
    let iaca_data = json!({"country": "NZ", "commonName": "Hostile IACA 2",
        "issuerAlternativeNameConf": {"uri": "https://iaca.example.com"}});
    let iacas = format!("{TARGET}/iso/iacas");
    let mut mismatched_jwk = w.k1_jwk.clone();
    mismatched_jwk["d"] = json!(Base64UrlUnpadded::encode_string(&[0x24u8; 32]));
    for (name, key, expect) in [
        ("iaca-unknown-key", kms("org.t1.kms1.nokey"), &[404][..]),
        ("iaca-foreign-key", kms("org.t2.kms1.t2key"), &[404]),
        ("iaca-sql-key", kms("org.t1.kms1.' OR 1=1 --"), &[400, 404]),
        ("iaca-traversal-key", kms("../../etc/passwd"), &[400, 404]),
        ("iaca-rsa-key", kms("org.t1.kms1.rsa"), &[400]),
        ("iaca-empty-key", kms(""), &[400, 404]),
        (
            "iaca-public-jwk",
            json!({"type": "jwk-encoded-key-descriptor", "jwk": w.k1_jwk}),
            &[400],
        ),
        (
            "iaca-private-jwk-mismatch",
            json!({"type": "jwk-encoded-key-descriptor", "jwk": mismatched_jwk.clone()}),
            &[400],
        ),
    ] {
        r.run(post(
            name,
            &iacas,
            json!({"certificateData": iaca_data, "iacaKeyDesc": key}),
            expect,
        ));
    }
    let mut bad_data: Vec<(&str, Value)> = Vec::new();
    for (field, v) in [
        ("country", json!("XX")),
        ("country", json!("' OR 1=1 --")),
        ("commonName", json!("c".repeat(10_000))),
        ("commonName", json!("")),
        ("notBefore", json!("2020-13-45T00:00:00Z")),
        ("notAfter", json!("not a date")),
        ("notAfter", json!("1970-01-01T00:00:00Z")),
        ("notAfter", json!("9999-12-31T23:59:59Z")),
    ] {
        let mut d = iaca_data.clone();
        d[field] = v;
        bad_data.push((field, d));
    }
    for (field, d) in bad_data {
        r.run(post(
            &format!("iaca-bad-{field}"),
            &iacas,
            json!({"certificateData": d, "iacaKeyDesc": iaca_desc}),
            &[400],
        ));
    }
    // Free-form JSON (the VICAL entry metadata) nested past the decoder's depth limit.
    for depth in [200, 100_000] {
        let body = format!(
            "{{\"certificateData\":{},\"iacaKeyDesc\":{},\"vicalEntryComplementaryMetadata\":{}}}",
            iaca_data,
            iaca_desc,
            deep("[", "]", depth)
        );
        r.run(
            Case::new(
                format!("iaca-metadata-depth-{depth}"),
                "POST",
                iacas.clone(),
            )
            .auth(a)
            .json(body)
            .expect(&[400]),
        );
    }
    r.run(post(
        "iaca-stored-id-taken",
        &iacas,
        json!({"storedCertificateId": "iaca-1", "certificateData": iaca_data, "iacaKeyDesc": iaca_desc}),
        &[409],
    ));
    for id in [
        "../../etc/passwd",
        "' OR 1=1 --",
        "a.b",
        "",
        &"i".repeat(129),
    ] {
        r.run(post(
            "iaca-bad-stored-id",
            &iacas,
            json!({"storedCertificateId": id, "certificateData": iaca_data, "iacaKeyDesc": iaca_desc}),
            &[400],
        ));
    }
    // The second tenant's target: 404 even with a body that would be valid there.
    r.run(post(
        "iaca-foreign-target",
        "/v1/org.t2.x509-service-1/x509-service-api/iso/iacas",
        json!({"certificateData": iaca_data, "iacaKeyDesc": kms("org.t2.kms1.t2key")}),
        &[404],
    ));

    // Document signers: forged, foreign and mismatched IACAs; forged CSRs.
    let dss = format!("{TARGET}/iso/document-signers");
    let ds_data = json!({"country": "NZ", "commonName": "Hostile DS 2",
        "crlDistributionPointUri": "https://crl.example.com"});
    let ds_key = kms("org.t1.kms1.ds");
    let mut iaca_pems: Vec<(String, String)> = pem_variants("CERTIFICATE", &w.iaca_pem);
    iaca_pems.push(("dts-root-as-iaca".into(), w.dts_root.2.clone()));
    iaca_pems.push(("ds-as-iaca".into(), w.ds_pem.clone()));
    iaca_pems.push(("expired-root-as-iaca".into(), expired_root.2.clone()));
    for (name, pem) in iaca_pems {
        r.run(post(
            &format!("ds-iaca-{name}"),
            &dss,
            json!({"iacaSigner": {"type": "iaca-pem-cert-descriptor", "iacaKeyDesc": iaca_desc,
                    "certificatePEM": pem},
                "certificateData": ds_data, "dsKeyDescriptor": ds_key}),
            &[400],
        ));
    }
    // The IACA certificate with a private JWK that is not its key, and one that is not even
    // consistent with itself.
    r.run(post(
        "ds-iaca-private-jwk-mismatch",
        &dss,
        json!({"iacaSigner": {"type": "iaca-pem-cert-descriptor",
                "iacaKeyDesc": {"type": "jwk-encoded-key-descriptor", "jwk": mismatched_jwk},
                "certificatePEM": w.iaca_pem},
            "certificateData": ds_data, "dsKeyDescriptor": ds_key}),
        &[400],
    ));
    // The right IACA certificate with the wrong key (the DS key signs for it).
    r.run(post(
        "ds-iaca-wrong-key",
        &dss,
        json!({"iacaSigner": {"type": "iaca-pem-cert-descriptor", "iacaKeyDesc": kms("org.t1.kms1.ds"),
                "certificatePEM": w.iaca_pem},
            "certificateData": ds_data, "dsKeyDescriptor": ds_key}),
        &[400],
    ));
    let good_csr = w.off.csr("dscsr", "/C=NZ/CN=Hostile DS CSR");
    let mut csrs: Vec<(String, String)> = pem_variants("CERTIFICATE REQUEST", &good_csr);
    csrs.push(("cert-as-csr".into(), w.ds_pem.clone()));
    for (name, csr) in &csrs {
        r.run(post(
            &format!("ds-csr-{name}"),
            &dss,
            json!({"iacaSigner": {"type": "iaca-pem-cert-descriptor", "iacaKeyDesc": iaca_desc,
                    "certificatePEM": w.iaca_pem},
                "certificateData": ds_data,
                "dsPublicKeySource": {"type": "csr", "csrPEM": csr}}),
            &[400],
        ));
    }
    r.run(post(
        "ds-outlives-iaca",
        &dss,
        json!({"iacaSigner": {"type": "iaca-pem-cert-descriptor", "iacaKeyDesc": iaca_desc,
                "certificatePEM": w.iaca_pem},
            "certificateData": {"country": "NZ", "commonName": "Long DS",
                "notAfter": "2099-01-01T00:00:00Z",
                "crlDistributionPointUri": "https://crl.example.com"},
            "dsKeyDescriptor": ds_key}),
        &[400],
    ));
    r.run(post(
        "ds-stored-id-taken",
        &dss,
        json!({"storedCertificateId": "ds-1",
            "iacaSigner": {"type": "iaca-pem-cert-descriptor", "iacaKeyDesc": iaca_desc,
                "certificatePEM": w.iaca_pem},
            "certificateData": ds_data, "dsKeyDescriptor": ds_key}),
        &[409],
    ));

    // Generic certificates: forged CSRs, unknown and foreign issuers, broken private JWKs.
    let certs = format!("{TARGET}/certificate");
    let leaf = json!({"subjectName": {"commonName": "Hostile Leaf", "country": "NZ"},
        "keyUsage": ["DigitalSignature"]});
    for (name, csr) in &csrs {
        r.run(post(
            &format!("cert-csr-{name}"),
            &certs,
            json!({"certificateData": leaf,
                "subjectPublicKeySource": {"type": "csr", "csrPEM": csr},
                "issuer": {"type": "ca-signed", "issuerKeyDescriptor": iaca_desc}}),
            &[400],
        ));
    }
    let spk = json!({"type": "key-descriptor", "keyDescriptor": kms("org.t1.kms1.k1")});
    let fake_private = |patch: Value| {
        let mut j = w.k1_jwk.clone();
        j["d"] = json!(FAKE_D);
        for (k, v) in patch.as_object().unwrap() {
            j[k] = v.clone();
        }
        json!({"type": "jwk-encoded-key-descriptor", "jwk": j})
    };
    let wrong_d = Base64UrlUnpadded::encode_string(&[0x42u8; 32]);
    let zero_d = Base64UrlUnpadded::encode_string(&[0u8; 32]);
    let ff_d = Base64UrlUnpadded::encode_string(&[0xffu8; 32]);
    // The RSA key's public part with private members that do not belong to it.
    let mut rsa_private = w.rsa_jwk.clone();
    for (m, len) in [
        ("d", 256),
        ("p", 128),
        ("q", 128),
        ("dp", 128),
        ("dq", 128),
        ("qi", 128),
    ] {
        let v: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(37) | 1).collect();
        rsa_private[m] = json!(Base64UrlUnpadded::encode_string(&v));
    }
    rsa_private["d"] = json!(FAKE_D);
    for (name, issuer, expect) in [
        (
            "cert-unknown-issuer",
            json!({"type": "ca-signed", "issuerKeyDescriptor": kms("org.t1.kms1.nokey")}),
            &[404][..],
        ),
        (
            "cert-foreign-issuer",
            json!({"type": "ca-signed", "issuerKeyDescriptor": kms("org.t2.kms1.t2key")}),
            &[404],
        ),
        (
            "cert-ca-signed-no-key",
            json!({"type": "ca-signed"}),
            &[400],
        ),
        ("cert-issuer-type", json!({"type": "' OR 1=1 --"}), &[400]),
        (
            "cert-jwk-d-mismatch",
            json!({"type": "ca-signed", "issuerKeyDescriptor": fake_private(json!({"d": wrong_d}))}),
            &[400],
        ),
        (
            "cert-jwk-d-not-base64",
            json!({"type": "ca-signed", "issuerKeyDescriptor": fake_private(json!({"d": format!("{FAKE_D}!*")}))}),
            &[400],
        ),
        (
            "cert-jwk-d-short",
            json!({"type": "ca-signed", "issuerKeyDescriptor": fake_private(json!({}))}),
            &[400],
        ),
        (
            "cert-jwk-bad-curve",
            json!({"type": "ca-signed", "issuerKeyDescriptor": fake_private(json!({"crv": "P-999"}))}),
            &[400],
        ),
        (
            "cert-jwk-oct",
            json!({"type": "ca-signed", "issuerKeyDescriptor": {"type": "jwk-encoded-key-descriptor",
                "jwk": {"kty": "oct", "k": FAKE_D}}}),
            &[400],
        ),
        (
            "cert-jwk-huge-x",
            json!({"type": "ca-signed", "issuerKeyDescriptor": fake_private(json!({"x": "A".repeat(100_000)}))}),
            &[400],
        ),
        (
            "cert-jwk-d-zero",
            json!({"type": "ca-signed", "issuerKeyDescriptor": fake_private(json!({"d": zero_d}))}),
            &[400],
        ),
        (
            "cert-jwk-d-over-order",
            json!({"type": "ca-signed", "issuerKeyDescriptor": fake_private(json!({"d": ff_d}))}),
            &[400],
        ),
        (
            "cert-jwk-off-curve",
            json!({"type": "ca-signed", "issuerKeyDescriptor": fake_private(json!({"d": wrong_d, "y": zero_d}))}),
            &[400],
        ),
        (
            "cert-jwk-p384-short",
            json!({"type": "ca-signed", "issuerKeyDescriptor": fake_private(json!({"d": wrong_d, "crv": "P-384"}))}),
            &[400],
        ),
        (
            "cert-jwk-rsa-inconsistent",
            json!({"type": "ca-signed", "issuerKeyDescriptor": {"type": "jwk-encoded-key-descriptor",
                "jwk": rsa_private}}),
            &[400],
        ),
        (
            "cert-jwk-rsa-public-only",
            json!({"type": "ca-signed", "issuerKeyDescriptor": {"type": "jwk-encoded-key-descriptor",
                "jwk": w.rsa_jwk}}),
            &[400],
        ),
        (
            "cert-jwk-unknown-member",
            json!({"type": "ca-signed", "issuerKeyDescriptor": fake_private(json!({"zz": FAKE_D}))}),
            &[400],
        ),
    ] {
        r.run(post(
            name,
            &certs,
            json!({"certificateData": leaf, "subjectPublicKeySource": spk, "issuer": issuer}),
            expect,
        ));
    }
    let many: Vec<String> = (0..10_000).map(|i| format!("h{i}.example.com")).collect();
    for (field, v) in [
        ("subjectAlternativeNames", json!({"dnsNames": many})),
        (
            "subjectAlternativeNames",
            json!({"dnsNames": ["a..example"]}),
        ),
        (
            "subjectAlternativeNames",
            json!({"ipAddresses": ["999.1.1.1"]}),
        ),
        (
            "subjectAlternativeNames",
            json!({"emails": ["not-an-email"]}),
        ),
        (
            "subjectAlternativeNames",
            json!({"uris": ["javascript:alert(1)\u{0}"]}),
        ),
        (
            "extendedKeyUsageOids",
            json!((0..300).map(|i| format!("1.2.3.{i}")).collect::<Vec<_>>()),
        ),
        ("pathLengthConstraint", json!(256)),
        ("pathLengthConstraint", json!(-1)),
        ("keyUsage", json!(["Bogus"])),
        ("extendedKeyUsageOids", json!(["not.an.oid"])),
        (
            "extendedKeyUsageOids",
            json!(["1.2.840.99999999999999999999999999"]),
        ),
        ("notBefore", json!("yesterday")),
        ("crlDistributionPointUri", json!("u".repeat(200_000))),
    ] {
        let mut d = leaf.clone();
        d[field] = v;
        r.run(post(
            &format!("cert-bad-{field}"),
            &certs,
            json!({"certificateData": d, "subjectPublicKeySource": spk,
                "issuer": {"type": "self-signed"}}),
            &[400],
        ));
    }

    // CSRs: unknown, foreign, RSA-for-ISO and private-JWK subjects.
    let csr_path = format!("{TARGET}/csrs");
    for (name, ty, key, expect) in [
        (
            "csr-unknown-key",
            "generic",
            kms("org.t1.kms1.nokey"),
            &[404][..],
        ),
        (
            "csr-foreign-key",
            "generic",
            kms("org.t2.kms1.t2key"),
            &[404],
        ),
        (
            "csr-sql-key",
            "generic",
            kms("org.t1.kms1.' OR 1=1 --"),
            &[400, 404],
        ),
        (
            "csr-public-jwk",
            "generic",
            json!({"type": "jwk-encoded-key-descriptor", "jwk": w.k1_jwk}),
            &[400],
        ),
        (
            "csr-jwk-d-mismatch",
            "generic",
            fake_private(json!({"d": wrong_d})),
            &[400],
        ),
        ("csr-bad-type", "' OR 1=1 --", kms("org.t1.kms1.k1"), &[400]),
    ] {
        r.run(post(
            name,
            &csr_path,
            json!({"type": ty, "subjectKeyDescriptor": key,
                "subjectName": {"commonName": "Hostile CSR"}}),
            expect,
        ));
    }

    // --- the store ----------------------------------------------------------------------
    for m in ["GET", "DELETE"] {
        for (name, path, tok) in [
            ("store-foreign", format!("{T2_STORE}/{THEIRS}"), a),
            ("store-foreign-id-in-mine", format!("{STORE}/{THEIRS}"), a),
            ("store-mine-in-foreign", format!("{T2_STORE}/{MINE}"), a),
            ("store-mine-for-t2", format!("{STORE}/{MINE}"), &w.other),
            ("store-short-id", format!("{STORE}/iaca-1"), a),
            (
                "store-unknown",
                format!("{STORE}/org.t1.x509-store-1.nope"),
                a,
            ),
            ("store-sql", format!("{STORE}/{MINE}'%20OR%201=1%20--"), a),
            (
                "store-sql-id",
                format!("{STORE}/org.t1.x509-store-1.'%20OR%201=1%20--"),
                a,
            ),
            (
                "store-wildcard",
                format!("{STORE}/org.t1.x509-store-1.%25"),
                a,
            ),
            (
                "store-other-store-id",
                format!("{STORE}/org.t1.x509-store-2.iaca-1"),
                a,
            ),
            (
                "store-case",
                format!("{STORE}/ORG.T1.X509-STORE-1.IACA-1"),
                a,
            ),
            ("store-extra-segment", format!("{STORE}/{MINE}.x"), a),
            (
                "store-other-store",
                format!("/v1/org.t1.x509-store-2/x509-store-api/certificates/{MINE}"),
                a,
            ),
        ] {
            r.run(Case::new(name, m, path).auth(tok).expect(&[400, 404]));
        }
    }
    for p in [
        T2_STORE.to_owned(),
        format!("{T2_STORE}/ids"),
        "/v1/ORG.T1.x509-store-1/x509-store-api/certificates".into(),
        "/v1/org.t1..x509-store-1/x509-store-api/certificates".into(),
        "/v1/org.t1.x509-store-1./x509-store-api/certificates".into(),
        "/v1/org.t1.x509-store-01/x509-store-api/certificates".into(),
        "/v1/org.t1/x509-store-api/certificates".into(),
        "/v1/.x509-store-1/x509-store-api/certificates".into(),
        "/v1/org.t1.x509-store-1'%20OR%201=1/x509-store-api/certificates".into(),
    ] {
        r.run(
            Case::new("store-list-foreign", "GET", p)
                .auth(a)
                .expect(&[404]),
        );
    }

    // --- duplicate members: the second must not silently win ---------------------------
    for (name, path, method, body) in [
        (
            "dup-key-id",
            "/v1/keys".to_owned(),
            "POST",
            r#"{"keyId":"dup1","keyId":"dup2","algorithm":"secp256r1"}"#,
        ),
        (
            "dup-algorithm",
            "/v1/keys".to_owned(),
            "POST",
            r#"{"keyId":"dup3","algorithm":"secp256r1","algorithm":"rsa2048"}"#,
        ),
        (
            "dup-active",
            format!("{DTS_CA}/{}", w.dts_uploaded),
            "PUT",
            r#"{"active":true,"active":false}"#,
        ),
        (
            "dup-ca-id",
            VICAL.to_owned(),
            "POST",
            r#"{"caId":"00000000-0000-0000-0000-000000000000","caId":"00000000-0000-0000-0000-000000000001"}"#,
        ),
    ] {
        r.run(
            Case::new(name, method, path)
                .auth(a)
                .json(body)
                .expect(&[400]),
        );
    }

    // --- a secret pasted where it does not belong: refused, and never echoed back ---------
    let tok = &w.issuer;
    for (name, path) in [
        ("secret-in-cursor", format!("/v1/keys?cursor={tok}")),
        ("secret-in-limit", format!("/v1/keys?limit={tok}")),
        ("secret-as-param-name", format!("/v1/keys?{tok}=1")),
        (
            "secret-in-audit-cursor",
            format!("/v1/audit-events?cursor={tok}"),
        ),
        ("secret-as-root-id", format!("{DTS_CA}/{tok}")),
        ("secret-as-key-id", format!("/v1/keys/{tok}")),
        (
            "secret-as-cert-id",
            format!("{STORE}/org.t1.x509-store-1.{tok}"),
        ),
        (
            "secret-as-audit-filter",
            format!("/v1/audit-events?objectId={tok}&zz=1"),
        ),
        (
            "secret-as-store-id",
            format!("/v1/{tok}/x509-store-api/certificates"),
        ),
    ] {
        r.run(Case::new(name, "GET", path).auth(a).expect(&[400, 404]));
    }
    // A token sent as the request id: neither echoed, logged nor written to the audit log.
    r.run(
        Case::new("secret-as-request-id", "GET", "/v1/keys/nope")
            .auth(a)
            .header("x-request-id", tok)
            .expect(&[404]),
    );
    for (name, path, body) in [
        ("secret-as-ca-id", VICAL.to_owned(), json!({"caId": tok})),
        (
            "secret-as-algorithm",
            "/v1/keys".to_owned(),
            json!({"keyId": "kx", "algorithm": tok}),
        ),
        (
            "secret-as-certificate",
            DTS_CA.to_owned(),
            json!({"certificatePem": tok}),
        ),
        (
            "secret-as-key-path",
            format!("{TARGET}/csrs"),
            json!({"type": "generic", "subjectKeyDescriptor": {"type": "kms-hosted-key-descriptor",
                "keyIdPath": tok}, "subjectName": {"commonName": "x"}}),
        ),
        (
            "secret-as-type",
            format!("{TARGET}/csrs"),
            json!({"type": tok, "subjectKeyDescriptor": {"type": "kms-hosted-key-descriptor",
                "keyIdPath": "org.t1.kms1.k1"}, "subjectName": {"commonName": "x"}}),
        ),
        (
            "secret-as-country",
            format!("{TARGET}/iso/iacas"),
            json!({"certificateData": {"country": tok, "commonName": "x"},
                "iacaKeyDesc": {"type": "kms-hosted-key-descriptor", "keyIdPath": "org.t1.kms1.iaca"}}),
        ),
        (
            "secret-as-field-name",
            "/v1/keys".to_owned(),
            json!({tok: 1}),
        ),
        (
            "secret-as-wrong-type",
            "/v1/keys".to_owned(),
            json!({"keyId": [tok]}),
        ),
    ] {
        r.run(post(name, &path, body, &[400, 404]));
    }
    // Ids are shown to other callers: an API token is not accepted as one (it used to be
    // stored and listed).
    for (name, path, body) in [
        (
            "secret-as-new-key-id",
            "/v1/keys".to_owned(),
            json!({"keyId": tok, "algorithm": "secp256r1"}),
        ),
        (
            "secret-as-stored-certificate-id",
            format!("{TARGET}/certificate"),
            json!({"storedCertificateId": tok,
                "certificateData": {"subjectName": {"commonName": "x"}},
                "subjectPublicKeySource": {"type": "key-descriptor", "keyDescriptor":
                    {"type": "kms-hosted-key-descriptor", "keyIdPath": "org.t1.kms1.k1"}},
                "issuer": {"type": "self-signed"}}),
        ),
    ] {
        r.run(post(name, &path, body, &[400]));
    }
    r.run(
        Case::new("secret-in-bad-json", "POST", "/v1/keys")
            .auth(a)
            .json(format!("{{\"keyId\": \"{tok}"))
            .expect(&[400]),
    );
    r.run(
        Case::new("secret-in-enum", "POST", "/v1/keys")
            .auth(a)
            .json(format!("{{\"keyId\": \"kx\", \"algorithm\": {tok}}}"))
            .expect(&[400]),
    );

    // --- audit --------------------------------------------------------------------------
    for q in ["event=x&event=y", "objectId=%ff", "limit=1&zz=%00"] {
        r.run(
            Case::new("audit-query", "GET", format!("/v1/audit-events?{q}"))
                .auth(&w.auditor)
                .expect(&[400]),
        );
    }
    // --- public VICAL routes: no token needed, none accepted as a key to more -------------
    let public = format!("/v1/ecosystems/{}/vicals/public", w.ecosystem);
    for (name, path, expect) in [
        (
            "public-huge-cursor",
            format!("{public}?cursor={}", "A".repeat(4000)),
            &[400][..],
        ),
        (
            "public-bad-cursor",
            format!("{public}?cursor=%ff%fe"),
            &[400],
        ),
        (
            "public-huge-limit",
            format!("{public}?limit=100000000000000000000"),
            &[400],
        ),
        ("public-zero-limit", format!("{public}?limit=0"), &[400]),
        ("public-unknown-param", format!("{public}?zz=1"), &[400]),
        ("public-latest-none", format!("{public}/latest"), &[404]),
        (
            "public-latest-query",
            format!("{public}/latest?x=1"),
            &[400, 404],
        ),
        ("public-id-zero", format!("{public}/0"), &[404]),
        ("public-id-negative", format!("{public}/-1"), &[404]),
        (
            "public-id-huge",
            format!("{public}/{}", "9".repeat(40)),
            &[404],
        ),
        ("public-id-float", format!("{public}/1e3"), &[404]),
        (
            "public-id-traversal",
            format!("{public}/..%2f..%2fkeys"),
            &[404],
        ),
        ("public-trailing-slash", format!("{public}/latest/"), &[404]),
        (
            "public-not-a-uuid",
            "/v1/ecosystems/../vicals/public/latest".to_owned(),
            &[404],
        ),
        (
            "public-unknown-ecosystem",
            "/v1/ecosystems/00000000-0000-0000-0000-000000000000/vicals/public/latest".to_owned(),
            &[404],
        ),
    ] {
        r.run(Case::new(name, "GET", path).expect(expect));
    }
    // A token changes nothing on a public route (neither needed nor checked): a 404, not a
    // 401. (That the routes answer without one is tests/dts.rs's.)
    r.run(
        Case::new("public-with-bad-token", "GET", format!("{public}/latest"))
            .header("authorization", "Bearer nonsense")
            .expect(&[404]),
    );
    for m in ["POST", "PUT", "DELETE"] {
        r.run(Case::new("public-method", m, format!("{public}/latest")).expect(&[405]));
    }
    Controls {
        vical_cert: good_signer_certs[0].clone(),
        wallet_cert: good_signer_certs[1].clone(),
        fresh_root: fresh_root.2,
        csr: good_csr,
    }
}

/// The good artefacts the hostile variants were made from.
struct Controls {
    vical_cert: String,
    wallet_cert: String,
    fresh_root: String,
    csr: String,
}

/// After the snapshot comparison: the unmodified artefacts are accepted, so each hostile
/// variant above was refused for what was done to it, not for something incidental.
fn controls(w: &World, c: &Controls) -> usize {
    let a = &w.admin;
    let kms = |k: &str| json!({"type": "kms-hosted-key-descriptor", "keyIdPath": k});
    let iaca_desc = kms("org.t1.kms1.iaca");
    let checks: Vec<(&str, String, Option<Value>, u16)> = vec![
        ("GET", "/v1/keys/k1".into(), None, 200),
        ("GET", "/v1/keys?limit=1".into(), None, 200),
        ("GET", format!("{STORE}/{MINE}"), None, 200),
        (
            "PUT",
            format!("{VICAL}/{}", w.vical_pending),
            Some(json!({"certificatePem": c.vical_cert})),
            200,
        ),
        (
            "PUT",
            format!("{WALLET}/{}", w.wallet_pending),
            Some(json!({"certificatePem": c.wallet_cert})),
            200,
        ),
        (
            "POST",
            DTS_CA.into(),
            Some(json!({"certificatePem": c.fresh_root})),
            201,
        ),
        (
            "POST",
            HOLDER_CA.into(),
            Some(json!({"certificatePem": c.fresh_root})),
            201,
        ),
        (
            "POST",
            format!("{TARGET}/iso/document-signers"),
            Some(json!({"iacaSigner": {"type": "iaca-pem-cert-descriptor",
                    "iacaKeyDesc": iaca_desc, "certificatePEM": w.iaca_pem},
                "certificateData": {"country": "NZ", "commonName": "Control DS",
                    "crlDistributionPointUri": "https://crl.example.com"},
                "dsPublicKeySource": {"type": "csr", "csrPEM": c.csr}})),
            200,
        ),
        (
            "POST",
            format!("{TARGET}/certificate"),
            Some(
                json!({"certificateData": {"subjectName": {"commonName": "Control Leaf",
                    "country": "NZ"}, "keyUsage": ["DigitalSignature"],
                    "issuerName": {"commonName": "Control CA", "country": "NZ"}},
                "subjectPublicKeySource": {"type": "csr", "csrPEM": c.csr},
                "issuer": {"type": "ca-signed",
                    "issuerKeyDescriptor": kms("org.t1.kms1.gca")}}),
            ),
            200,
        ),
    ];
    // The audit log never shows another tenant's events, even asked by the object's id: the
    // first tenant sees only its own (refused) attempts on that id, the owner sees its
    // creation (so the filter itself works).
    let t2_token_id = &w.other["hpk_".len().."hpk_".len() + 16];
    let q = format!("/v1/audit-events?objectId={}&limit=1000", w.t2_dts);
    let (s, t1_view) = call(w.d.addr, &w.auditor, "GET", &q, None);
    assert_eq!(s, 200, "{t1_view}");
    for e in json_of(&t1_view)["data"].as_array().unwrap() {
        assert_ne!(
            e["tokenId"], t2_token_id,
            "another tenant's event leaks: {e}"
        );
        assert_ne!(e["outcome"], "success", "another tenant's event leaks: {e}");
    }
    let (s, t2_view) = call(w.d.addr, &w.other, "GET", &q, None);
    assert_eq!(s, 200, "{t2_view}");
    assert!(
        json_of(&t2_view)["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["tokenId"] == t2_token_id && e["outcome"] == "success"),
        "{t2_view}"
    );
    let n = checks.len() + 1;
    for (m, p, body, status) in checks {
        let text = body.map(|b| b.to_string());
        let (s, out) = call(w.d.addr, a, m, &p, text.as_deref());
        assert_eq!(s, status, "control {m} {p}: {out}");
    }
    n
}

/// Malformed HTTP framing, written byte by byte. hyper refuses some of these itself, before
/// any daemon code runs, with an empty body (431/400): those are checked for a 4xx and an
/// empty body only, and counted apart (the documented shape cannot be had there: hyper 1.x
/// has no hook for its own parse errors). The rest reach the daemon and get every check.
fn transport_cases(w: &World, r: &mut Runner) -> usize {
    let a = &w.admin;
    let post = |extra: &str, body: &str| {
        format!(
            "POST /v1/keys HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {a}\r\n\
             content-type: application/json\r\n{extra}connection: close\r\n\r\n{body}"
        )
        .into_bytes()
    };
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "header-over-64k",
            format!(
                "GET /v1/keys HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {a}\r\n\
                 x-pad: {}\r\nconnection: close\r\n\r\n",
                "a".repeat(70_000)
            )
            .into_bytes(),
            431,
        ),
        (
            "raw-bad-utf8-path",
            [
                &b"GET /v1/keys/\xff\xfe HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\
                   authorization: Bearer "[..],
                a.as_bytes(),
                b"\r\n\r\n",
            ]
            .concat(),
            400,
        ),
        (
            "bad-method-token",
            b"G@T /v1/keys HTTP/1.1\r\nhost: x\r\n\r\n".to_vec(),
            400,
        ),
        (
            "content-length-garbage",
            post("content-length: abc\r\n", "{}"),
            400,
        ),
        (
            "content-length-overflow",
            post("content-length: 99999999999999999999\r\n", "{}"),
            400,
        ),
        // These reach the daemon.
        (
            "content-length-lie",
            post("content-length: 2000000\r\n", "{}"),
            413,
        ),
        (
            "content-length-and-chunked",
            post(
                "content-length: 2\r\ntransfer-encoding: chunked\r\n",
                "0\r\n\r\n",
            ),
            400,
        ),
        (
            "http10-no-host",
            b"GET /v1/keys HTTP/1.0\r\n\r\n".to_vec(),
            401,
        ),
        (
            "absolute-uri-smuggled-query",
            format!(
                "DELETE http://evil.example/v1/keys/k1?zz=1 HTTP/1.1\r\nhost: x\r\n\
                 authorization: Bearer {a}\r\nconnection: close\r\n\r\n"
            )
            .into_bytes(),
            400,
        ),
    ];
    let mut by_hyper = 0;
    for (name, bytes, want) in cases {
        let mut st = std::net::TcpStream::connect(w.d.addr).unwrap();
        st.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = st.write_all(&bytes);
        let mut out = Vec::new();
        let _ = st.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out).into_owned();
        let status: u16 = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{name}: no status line: {text:?}"));
        let body = text.split_once("\r\n\r\n").map_or("", |x| x.1);
        if body.is_empty() {
            by_hyper += 1;
            if status != want {
                r.failures
                    .push(format!("[{name}] status {status}, expected {want}"));
            }
        } else {
            r.record(name, "raw HTTP", &[want], status, body);
        }
    }
    by_hyper
}
