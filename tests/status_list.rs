//! Token Status Lists of mdocs over real HTTP with a real SoftHSM2 token. Under a managed
//! IACA: every signed mdoc carries `status: {status_list: {idx, uri}}` in its MSO (read by
//! `tests/data/mdoc_check.py`), the uri's token verifies with an independent COSE library
//! (`tests/data/status_check.py`: cbor2 + pycose + zlib + cryptography) against the IACA,
//! its bit flips from VALID to INVALID after the revoke call, revoking again answers the
//! same date, another tenant gets a 404, a GET writes nothing, and the daemon renews the
//! token itself with a short configured validity. Under an unmanaged IACA: MATTR's status
//! list signer lifecycle (CSR out, certificate back, activate, at most three), and hostile
//! inputs answered with the standard error body.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64ct::{Base64UrlUnpadded, Encoding};
use common::{Daemon, TestToken, call, ossl, pkilint_bin, raw_request, request};
use serde_json::{Value, json};

const IACAS: &str = "/v2/credentials/mobile/iacas";
const SL_SIGNERS: &str = "/v2/credentials/mobile/status-list-signers";
const SIGN: &str = "/v2/credentials/mobile/sign";
const DISTRIBUTION: &str = "/v2/credentials/mobile/status-lists/distribution";
const MDL: &str = "org.iso.18013.5.1.mDL";
const BASE: &str = "https://pki.example.com";

struct Env {
    _hsm: TestToken,
    d: Daemon,
    tok: String,
    dir: tempfile::TempDir,
}

impl Env {
    fn new(label: &str, status_toml: &str) -> Env {
        let hsm = TestToken::new(label);
        let d = Daemon::start_with(
            &hsm,
            &format!("[public]\nbase_url = \"{BASE}\"\n[status_list]\n{status_toml}\n"),
        );
        d.wait_status("/readyz", 200, Duration::from_secs(10));
        for tenant in ["org.t1", "org.t2"] {
            let (ok, out) = d.cli(&[
                "tenant",
                "set",
                "--tenant",
                tenant,
                "--country",
                "US",
                "--issuer-alt-uri",
                "https://dmv.example.gov",
            ]);
            assert!(ok, "{out}");
        }
        let tok = d.create_token("org.t1", &["issuer"]);
        Env {
            _hsm: hsm,
            d,
            tok,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn call_as(&self, tok: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let b = body.map(|v| v.to_string());
        let (s, text) = call(self.d.addr, tok, method, path, b.as_deref());
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        (s, v)
    }

    fn ok(&self, method: &str, path: &str, body: Option<&Value>, status: u16) -> Value {
        let (s, v) = self.call_as(&self.tok, method, path, body);
        assert_eq!(s, status, "{method} {path}: {v}\n{}", self.tail());
        v
    }

    fn tail(&self) -> String {
        let log = self.d.log_text();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// A managed IACA, active: its id and its certificate's file.
    fn managed_iaca(&self) -> (String, PathBuf) {
        let r = self.ok(
            "POST",
            IACAS,
            Some(&json!({"commonName": "Example Managed IACA", "stateOrProvinceName": "US-CA"})),
            201,
        );
        let id = r["id"].as_str().unwrap().to_owned();
        let pem = self.write("iaca.pem", r["certificatePem"].as_str().unwrap().as_bytes());
        self.ok(
            "PUT",
            &format!("{IACAS}/{id}"),
            Some(&json!({"active": true})),
            200,
        );
        (id, pem)
    }

    /// Sign an mdoc: (credentialId, encoded IssuerSigned).
    fn sign(&self, device: &Value) -> (String, String) {
        let r = self.ok("POST", SIGN, Some(&sign_body(device)), 200);
        (
            r["credentialId"].as_str().unwrap().to_owned(),
            r["encoded"].as_str().unwrap().to_owned(),
        )
    }

    /// The mdoc's status entry as the independent mdoc checker reads it: (idx, uri).
    fn mdoc_status(&self, name: &str, encoded: &str, iaca: &Path) -> (u64, String) {
        let file = self.write(&format!("{name}.b64"), encoded.as_bytes());
        let v = python(
            "mdoc_check.py",
            &["--doc-type", MDL, "--iaca", p(iaca), p(&file)],
        );
        assert_eq!(v["ok"], true, "{v}");
        let s = &v["status"];
        (
            s["idx"].as_u64().unwrap(),
            s["uri"].as_str().unwrap().to_owned(),
        )
    }

    /// GET a list's token with no API token: (status, headers, bytes).
    fn token(&self, uri: &str, headers: &[(&str, &str)]) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let path = uri
            .strip_prefix(BASE)
            .expect("the uri is under public.base_url");
        let headers: Vec<(&str, String)> =
            headers.iter().map(|(k, v)| (*k, v.to_string())).collect();
        raw_request(self.d.addr, "GET", path, &headers)
    }

    /// The token at `uri`, checked by status_check.py: its summary.
    fn check_token(&self, name: &str, uri: &str, iaca: &Path, indexes: &[u64]) -> Value {
        let (s, headers, bytes) = self.token(uri, &[]);
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&bytes));
        assert_eq!(
            header(&headers, "content-type"),
            "application/statuslist+cwt"
        );
        assert!(header(&headers, "cache-control").starts_with("public, max-age="));
        check_bytes(self, name, &bytes, uri, iaca, indexes)
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.d.db_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap()
    }

    fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Every row count the status list routes could change.
    fn snapshot(&self) -> Vec<i64> {
        [
            "audit_events",
            "signatures",
            "status_lists",
            "issued_mdocs",
            "mdoc_revocations",
            "signers",
            "keys",
        ]
        .iter()
        .map(|t| self.count(&format!("SELECT count(*) FROM {t}")))
        .chain([self.count("SELECT COALESCE(SUM(version), 0) FROM status_lists")])
        .collect()
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn header(headers: &[(String, String)], name: &str) -> String {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn python(script: &str, args: &[&str]) -> Value {
    let out = Command::new(pkilint_bin("python3"))
        .arg(format!(
            "{}/tests/data/{script}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args(args)
        .output()
        .expect("run the checker (scripts/test installs cbor2 and pycose)");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{script}: not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn check_bytes(env: &Env, name: &str, bytes: &[u8], uri: &str, iaca: &Path, idx: &[u64]) -> Value {
    let file = env.write(&format!("{name}.cwt"), bytes);
    let now = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
    let mut args = vec!["--iaca", p(iaca), "--uri", uri, "--now", &now];
    let idx: Vec<String> = idx.iter().map(u64::to_string).collect();
    for i in &idx {
        args.extend(["--index", i]);
    }
    args.push(p(&file));
    python("status_check.py", &args)
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A device key: any valid P-256 point will do, here the NIST P-256 generator.
fn device() -> Value {
    json!({
        "kty": "EC", "crv": "P-256",
        "x": "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY",
        "y": "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU",
    })
}

fn sign_body(device: &Value) -> Value {
    let now = time::OffsetDateTime::now_utc();
    json!({
        "payload": {
            "docType": MDL,
            "deviceKeyInfo": {"deviceKey": device},
            "validityInfo": {
                "validFrom": rfc3339(now),
                "validUntil": rfc3339(now + time::Duration::days(30)),
            },
            "itemsToSign": {"org.iso.18013.5.1": {
                "family_name": {"type": "string", "value": "Doe"},
                "given_name": {"type": "string", "value": "Jane"},
            }}
        }
    })
}

fn revoke_path(id: &str) -> String {
    format!("/v2/credentials/mobile/mdocs/{id}/revoke")
}

fn events(env: &Env, name: &str) -> i64 {
    env.count(&format!(
        "SELECT count(*) FROM audit_events WHERE event = '{name}'"
    ))
}

fn assert_error_shape(v: &Value) {
    assert!(
        v["code"].is_string() && v["message"].is_string() && v["details"].is_array(),
        "{v}"
    );
}

#[test]
fn an_mdocs_status_resolves_and_flips_when_revoked() {
    let env = Env::new("status-managed", "list_size = 16");
    let (iaca_id, iaca) = env.managed_iaca();
    let dev = device();

    // Two mdocs: consecutive entries of one list, the uri under public.base_url.
    let (cred0, enc0) = env.sign(&dev);
    let (cred1, enc1) = env.sign(&dev);
    let (idx0, uri) = env.mdoc_status("m0", &enc0, &iaca);
    let (idx1, uri1) = env.mdoc_status("m1", &enc1, &iaca);
    assert_eq!((idx0, idx1), (0, 1));
    assert_eq!(uri, uri1);
    assert!(
        uri.starts_with(&format!("{BASE}/v2/credentials/mobile/status-lists/"))
            && uri.ends_with("/token"),
        "{uri}"
    );
    assert_ne!(cred0, cred1);

    // The token verifies with pycose against the IACA; both entries VALID.
    let v = env.check_token("t0", &uri, &iaca, &[idx0, idx1]);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["chainVerified"], true, "{v}");
    assert_eq!(v["statuses"], json!({"0": 0, "1": 0}), "{v}");
    assert_eq!(
        (v["bits"].clone(), v["entries"].clone()),
        (json!(1), json!(16))
    );
    assert_eq!(v["ttl"], 3600);
    assert!(
        v["signer"].as_str().unwrap().contains("Status List Signer"),
        "{v}"
    );
    // The same token with one bit flipped in its signature is refused (negative control).
    let (_, headers, bytes) = env.token(&uri, &[]);
    let mut bad = bytes.clone();
    *bad.last_mut().unwrap() ^= 1;
    let b = check_bytes(&env, "bad", &bad, &uri, &iaca, &[]);
    assert_eq!(b["ok"], false, "{b}");
    let etag = header(&headers, "etag");
    assert!(etag.starts_with('"'), "{headers:?}");

    // Public reads write nothing: no event, no ledger row, no list change.
    let before = env.snapshot();
    let (s, h, _) = env.token(&uri, &[("if-none-match", &etag)]);
    assert_eq!(s, 304, "{h:?}");
    let (s, dist) = common::http(env.d.addr, "GET", DISTRIBUTION, None);
    assert_eq!(s, 200, "{dist}");
    let dist: Value = serde_json::from_str(&dist).unwrap();
    assert_eq!(dist, json!({"status_lists": [uri]}));
    assert_eq!(env.snapshot(), before, "a public GET changed the database");

    // Revoke the first: its bit flips, the second's stays; the new token is another one.
    let r = env.ok("POST", &revoke_path(&cred0), Some(&json!({})), 200);
    assert_eq!(r["revoked"], true, "{r}");
    let date = r["revocationDate"].as_str().unwrap().to_owned();
    let v = env.check_token("t1", &uri, &iaca, &[idx0, idx1]);
    assert_eq!(v["statuses"], json!({"0": 1, "1": 0}), "{v}");
    let (s, _, _) = env.token(&uri, &[("if-none-match", &etag)]);
    assert_eq!(s, 200, "the old ETag names the old token");

    // Revoking again: the same date, and nothing re-signed.
    let sigs = env.count("SELECT count(*) FROM signatures");
    let r = env.ok("POST", &revoke_path(&cred0), Some(&json!({})), 200);
    assert_eq!(r["revocationDate"], date.as_str(), "{r}");
    assert_eq!(env.count("SELECT count(*) FROM signatures"), sigs);

    // Another tenant's issuer: 404 with the standard body, and nothing changed.
    let other = env.d.create_token("org.t2", &["issuer"]);
    let (s, v) = env.call_as(&other, "POST", &revoke_path(&cred1), Some(&json!({})));
    assert_eq!(s, 404, "{v}");
    assert_error_shape(&v);
    let v = env.check_token("t2", &uri, &iaca, &[idx1]);
    assert_eq!(v["statuses"], json!({"1": 0}), "{v}");

    // Events and ledger, committed with the changes: one status list signer provisioned,
    // one list made, one revocation; every COSE signature is an mdoc or a token.
    assert_eq!(
        events(&env, "MOBILE_CREDENTIAL_STATUS_LIST_SIGNER_CREATE_SUCCESS"),
        1
    );
    assert_eq!(
        events(&env, "MOBILE_CREDENTIAL_STATUS_LIST_CREATE_SUCCESS"),
        1
    );
    assert_eq!(events(&env, "MOBILE_CREDENTIAL_REVOKE_SUCCESS"), 2);
    assert_eq!(events(&env, "MOBILE_CREDENTIAL_REVOKE_FAIL"), 1);
    let mdocs = env.count("SELECT count(*) FROM issued_mdocs");
    let cose = env.count("SELECT count(*) FROM signatures WHERE artefact = 'cose'");
    assert_eq!((mdocs, cose), (2, 2 + 1 + 1));
    assert_eq!(env.count("SELECT count(*) FROM mdoc_revocations"), 1);

    // Indexes are never reused: fill the list (16 entries) with concurrent requests, and the
    // next mdoc opens a second list.
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                for _ in 0..7 {
                    env.sign(&dev);
                }
            });
        }
    });
    let (_, enc) = env.sign(&dev);
    let (idx, uri2) = env.mdoc_status("m16", &enc, &iaca);
    assert_eq!(idx, 0);
    assert_ne!(uri2, uri);
    let n = env.count(
        "SELECT count(*) FROM (SELECT status_list_id, status_idx FROM issued_mdocs \
         GROUP BY 1, 2 HAVING count(*) > 1)",
    );
    assert_eq!(n, 0, "an index was handed out twice");
    let first = uri.rsplit('/').nth(1).unwrap();
    let used = env.count(&format!(
        "SELECT count(DISTINCT status_idx) FROM issued_mdocs WHERE status_list_id = '{first}'"
    ));
    assert_eq!(used, 16, "the first list's 16 entries, each once");
    let (_, dist) = common::http(env.d.addr, "GET", DISTRIBUTION, None);
    let dist: Value = serde_json::from_str(&dist).unwrap();
    assert_eq!(dist, json!({"status_lists": [uri, uri2]}));

    // The IACA its mdocs' lists belong to cannot be deleted.
    let (s, v) = env.call_as(&env.tok, "DELETE", &format!("{IACAS}/{iaca_id}"), None);
    assert_eq!((s, v["code"].clone()), (409, json!("CaInUse")), "{v}");
}

#[test]
fn the_daemon_renews_a_token_before_it_expires() {
    // A token valid 6 s, renewed once it expires within 4 s, looked at every second.
    let mut env = Env::new(
        "status-timer",
        "token_validity_secs = 6\nttl_secs = 2\nrenew_before_secs = 4\ncheck_secs = 1",
    );
    let (_, iaca) = env.managed_iaca();
    let (_, enc) = env.sign(&device());
    let (idx, uri) = env.mdoc_status("m", &enc, &iaca);
    let first = env.check_token("first", &uri, &iaca, &[idx]);
    assert_eq!(first["ok"], true, "{first}");
    assert_eq!(
        first["exp"].as_i64().unwrap() - first["iat"].as_i64().unwrap(),
        6
    );
    assert_eq!(first["ttl"], 2);
    // No request is made: the daemon itself signs a newer token.
    let deadline = Instant::now() + Duration::from_secs(20);
    let renewed = loop {
        let v = env.check_token("again", &uri, &iaca, &[idx]);
        if v["iat"].as_i64() > first["iat"].as_i64() {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "not renewed: {v}\n{}",
            env.tail()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(renewed["ok"], true, "{renewed}");
    assert_eq!(renewed["statuses"], json!({idx.to_string(): 0}));
    assert!(events(&env, "MOBILE_CREDENTIAL_STATUS_LIST_TOKEN_SIGN_SUCCESS") >= 1);
    let token_id = "system:status-list-renewal";
    let n = env.count(&format!(
        "SELECT count(*) FROM audit_events WHERE token_id = '{token_id}'"
    ));
    assert!(n >= 2, "renewals are audited as {token_id}");

    // After a crash the next mdoc takes the next index: none is handed out twice.
    env.d.crash_and_restart(&env._hsm);
    env.d.wait_status("/readyz", 200, Duration::from_secs(10));
    let (_, enc) = env.sign(&device());
    let (idx2, uri2) = env.mdoc_status("m2", &enc, &iaca);
    assert_eq!((idx2, uri2.as_str()), (idx + 1, uri.as_str()));
    // The token may have lapsed while the daemon was down: its first passes renew it.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = env.check_token("restarted", &uri, &iaca, &[idx, idx2]);
        if v["ok"] == true {
            assert_eq!(
                v["statuses"],
                json!({idx.to_string(): 0, idx2.to_string(): 0})
            );
            break;
        }
        assert!(Instant::now() < deadline, "{v}\n{}", env.tail());
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// An offline P-256 IACA made with the openssl CLI: (key, cert, PEM).
fn offline_iaca(env: &Env) -> (PathBuf, PathBuf, String) {
    let key = env.dir.path().join("iaca.key");
    ossl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        p(&key),
    ]);
    let conf = env.write(
        "iaca.cnf",
        b"[req]\ndistinguished_name = dn\nx509_extensions = v3\nprompt = no\n\
          [dn]\nC = US\nST = US-NY\nCN = Example State IACA\n\
          [v3]\nbasicConstraints = critical,CA:TRUE,pathlen:0\n\
          keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n\
          issuerAltName = URI:https://dmv.example.gov\n\
          crlDistributionPoints = URI:https://dmv.example.gov/crl/iaca.crl\n",
    );
    let cert = env.dir.path().join("iaca-cert.pem");
    ossl(&[
        "req",
        "-new",
        "-x509",
        "-config",
        p(&conf),
        "-key",
        p(&key),
        "-sha256",
        "-days",
        "3650",
        "-out",
        p(&cert),
    ]);
    let pem = std::fs::read_to_string(&cert).unwrap();
    (key, cert, pem)
}

fn sign_csr(
    env: &Env,
    name: &str,
    csr: &str,
    iaca: &(PathBuf, PathBuf, String),
    ext: &str,
) -> String {
    let csr_file = env.write(&format!("{name}.csr"), csr.as_bytes());
    let ext_file = env.write(&format!("{name}.ext"), ext.as_bytes());
    let out = env.dir.path().join(format!("{name}.pem"));
    ossl(&[
        "x509",
        "-req",
        "-in",
        p(&csr_file),
        "-CA",
        p(&iaca.1),
        "-CAkey",
        p(&iaca.0),
        "-extfile",
        p(&ext_file),
        "-days",
        "300",
        "-sha256",
        "-out",
        p(&out),
    ]);
    std::fs::read_to_string(&out).unwrap()
}

const SLS_EXT: &str = "keyUsage = critical,digitalSignature\nsubjectKeyIdentifier = hash\n\
     authorityKeyIdentifier = keyid\nissuerAltName = URI:https://dmv.example.gov\n";
const DS_EXT: &str = "keyUsage = critical,digitalSignature\n\
     extendedKeyUsage = critical,1.0.18013.5.1.2\nsubjectKeyIdentifier = hash\n\
     authorityKeyIdentifier = keyid\nissuerAltName = URI:https://dmv.example.gov\n\
     crlDistributionPoints = URI:https://dmv.example.gov/crl/iaca.crl\n";

#[test]
fn status_list_signers_under_an_unmanaged_iaca_and_hostile_inputs() {
    let env = Env::new("status-unmanaged", "");
    let iaca = offline_iaca(&env);
    let r = env.ok("POST", IACAS, Some(&json!({"certificatePem": iaca.2})), 201);
    let iaca_id = r["id"].as_str().unwrap().to_owned();
    env.ok(
        "PUT",
        &format!("{IACAS}/{iaca_id}"),
        Some(&json!({"active": true})),
        200,
    );
    // A document signer through its CSR lifecycle.
    let ds = env.ok(
        "POST",
        "/v2/credentials/mobile/document-signers",
        Some(&json!({"iacaId": iaca_id})),
        201,
    );
    let ds_id = ds["id"].as_str().unwrap().to_owned();
    let ds_pem = sign_csr(&env, "ds", ds["csrPem"].as_str().unwrap(), &iaca, DS_EXT);
    env.ok(
        "PUT",
        &format!("/v2/credentials/mobile/document-signers/{ds_id}"),
        Some(&json!({"certificatePem": ds_pem, "active": true})),
        200,
    );
    // Without a status list signer an mdoc carries no entry, and cannot be revoked.
    let mut body = sign_body(&device());
    body["documentSignerId"] = json!(ds_id);
    let r = env.ok("POST", SIGN, Some(&body), 200);
    let plain = r["credentialId"].as_str().unwrap().to_owned();
    let (s, v) = env.call_as(&env.tok, "POST", &revoke_path(&plain), Some(&json!({})));
    assert_eq!(s, 404, "{v}");
    assert_error_shape(&v);
    let file = env.write("plain.b64", r["encoded"].as_str().unwrap().as_bytes());
    let m = python("mdoc_check.py", &["--doc-type", MDL, p(&file)]);
    assert_eq!(
        (m["ok"].clone(), m["status"].clone()),
        (json!(true), Value::Null),
        "{m}"
    );

    // MATTR's lifecycle: CSR out (inactive), certificate back, activate.
    let created = env.ok("POST", SL_SIGNERS, Some(&json!({"iacaId": iaca_id})), 201);
    assert_eq!(created["active"], false, "{created}");
    assert_eq!(created["iacaId"], iaca_id.as_str());
    let sls_id = created["id"].as_str().unwrap().to_owned();
    let csr = created["csrPem"].as_str().unwrap();
    let csr_text = ossl(&[
        "req",
        "-in",
        p(&env.write("sls.csr", csr.as_bytes())),
        "-noout",
        "-text",
        "-verify",
    ]);
    assert!(csr_text.contains("Status List Signer"), "{csr_text}");
    // Activation before the certificate is refused; a document signer's certificate (an
    // mDL usage) is refused; the right one is accepted.
    let one = format!("{SL_SIGNERS}/{sls_id}");
    let (s, v) = env.call_as(&env.tok, "PUT", &one, Some(&json!({"active": true})));
    assert_eq!(
        (s, v["details"][0]["param"].clone()),
        (400, json!("active")),
        "{v}"
    );
    let wrong = sign_csr(&env, "sls-wrong", csr, &iaca, DS_EXT);
    let (s, v) = env.call_as(
        &env.tok,
        "PUT",
        &one,
        Some(&json!({"certificatePem": wrong})),
    );
    assert_eq!(
        (s, v["details"][0]["param"].clone()),
        (400, json!("certificatePem")),
        "{v}"
    );
    let good = sign_csr(&env, "sls", csr, &iaca, SLS_EXT);
    let v = env.ok(
        "PUT",
        &one,
        Some(&json!({"certificatePem": good, "active": true})),
        200,
    );
    assert_eq!(v["active"], true, "{v}");
    assert!(v["certificateFingerprint"].is_string(), "{v}");
    let listed = env.ok("GET", SL_SIGNERS, None, 200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");

    // Now mdocs carry entries, and the token names the uploaded signer.
    let r = env.ok("POST", SIGN, Some(&body), 200);
    let cred = r["credentialId"].as_str().unwrap().to_owned();
    let (idx, uri) = env.mdoc_status("m", r["encoded"].as_str().unwrap(), &iaca.1);
    let v = env.check_token("t", &uri, &iaca.1, &[idx]);
    assert_eq!(
        (v["ok"].clone(), v["statuses"].clone()),
        (json!(true), json!({idx.to_string(): 0})),
        "{v}"
    );
    env.ok("POST", &revoke_path(&cred), Some(&json!({})), 200);
    let v = env.check_token("t2", &uri, &iaca.1, &[idx]);
    assert_eq!(v["statuses"], json!({idx.to_string(): 1}), "{v}");

    // At most three per tenant.
    for _ in 0..2 {
        env.ok("POST", SL_SIGNERS, Some(&json!({"iacaId": iaca_id})), 201);
    }
    let (s, v) = env.call_as(
        &env.tok,
        "POST",
        SL_SIGNERS,
        Some(&json!({"iacaId": iaca_id})),
    );
    assert_eq!((s, v["code"].clone()), (409, json!("LimitReached")), "{v}");
    // Another tenant sees none of them.
    let other = env.d.create_token("org.t2", &["issuer"]);
    let (s, v) = env.call_as(&other, "GET", &one, None);
    assert_eq!(s, 404, "{v}");
    assert_error_shape(&v);

    // Hostile inputs: the standard error body everywhere, nothing changed.
    let before = env.snapshot();
    let addr = env.d.addr;
    let auth = format!("Bearer {}", env.tok);
    let json_ct = ("content-type", "application/json");
    let big = vec![b' '; 2 * 1024 * 1024];
    let cases: Vec<Case> = vec![
        (
            "POST",
            revoke_path("not-a-uuid"),
            vec![("authorization", &auth), json_ct],
            Some(b"{}".to_vec()),
            404,
        ),
        (
            "POST",
            revoke_path(&uuid_like()),
            vec![("authorization", &auth), json_ct],
            Some(b"{}".to_vec()),
            404,
        ),
        (
            "POST",
            revoke_path(&cred),
            vec![("authorization", &auth), json_ct],
            Some(b"{\"status\":\"valid\"}".to_vec()),
            400,
        ),
        (
            "POST",
            revoke_path(&cred),
            vec![("authorization", &auth), json_ct],
            Some(b"[".to_vec()),
            400,
        ),
        (
            "POST",
            revoke_path(&cred),
            vec![("authorization", &auth)],
            Some(b"{}".to_vec()),
            415,
        ),
        (
            "POST",
            revoke_path(&cred),
            vec![("authorization", &auth), json_ct],
            Some(big.clone()),
            413,
        ),
        (
            "POST",
            format!("{}?x=1", revoke_path(&cred)),
            vec![("authorization", &auth), json_ct],
            Some(b"{}".to_vec()),
            400,
        ),
        (
            "POST",
            revoke_path(&cred),
            vec![json_ct],
            Some(b"{}".to_vec()),
            401,
        ),
        (
            "POST",
            SL_SIGNERS.into(),
            vec![("authorization", &auth), json_ct],
            Some(big),
            413,
        ),
        (
            "POST",
            SL_SIGNERS.into(),
            vec![("authorization", &auth), json_ct],
            Some(b"{\"iacaId\":\"x\"}".to_vec()),
            400,
        ),
        (
            "GET",
            "/v2/credentials/mobile/status-lists/not-a-uuid/token".into(),
            vec![],
            None,
            404,
        ),
        (
            "GET",
            format!("/v2/credentials/mobile/status-lists/{}/token", uuid_like()),
            vec![],
            None,
            404,
        ),
        (
            "GET",
            format!("{}?time=1686925000", uri.strip_prefix(BASE).unwrap()),
            vec![],
            None,
            400,
        ),
        ("GET", format!("{DISTRIBUTION}?x=1"), vec![], None, 400),
        ("POST", DISTRIBUTION.into(), vec![], None, 405),
        (
            "DELETE",
            uri.strip_prefix(BASE).unwrap().to_owned(),
            vec![],
            None,
            405,
        ),
        (
            "GET",
            "/v2/credentials/mobile/status-lists//token".into(),
            vec![],
            None,
            404,
        ),
    ];
    for (method, path, headers, body, want) in cases {
        let (s, text) = request(addr, method, &path, &headers, body);
        assert_eq!(s, want, "{method} {path}: {text}");
        if s != 405 || !text.is_empty() {
            let v: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
            assert_error_shape(&v);
        }
    }
    // Refusals are audited (FAIL events), nothing else moved: no token re-signed, no row.
    let after = env.snapshot();
    assert_eq!(
        &after[1..],
        &before[1..],
        "a refused request changed the records"
    );
    let v = env.check_token("t3", &uri, &iaca.1, &[idx]);
    assert_eq!(v["statuses"], json!({idx.to_string(): 1}), "{v}");
    // Base64 of a token is not what the route serves: raw bytes, tag 18 first.
    let (_, _, bytes) = env.token(&uri, &[]);
    assert_eq!(
        bytes[0],
        0xd2,
        "{}",
        Base64UrlUnpadded::encode_string(&bytes)
    );
}

/// method, path, headers, body, expected status.
type Case<'a> = (
    &'a str,
    String,
    Vec<(&'a str, &'a str)>,
    Option<Vec<u8>>,
    u16,
);

fn uuid_like() -> String {
    "0b0b0b0b-0b0b-4b0b-8b0b-0b0b0b0b0b0b".into()
}
