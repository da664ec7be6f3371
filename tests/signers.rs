//! Root CAs and signers over real HTTP against the daemon with a real token (SoftHSM2 or Kryoptic):
//! an operator with an offline root (made with the openssl CLI, outside the daemon) uploads it,
//! gets CSRs for VICAL and wallet attestation signers, signs them offline, uploads the certificates
//! and activates the signers; managed roots and the holder CRL; every rule's failing request leaves
//! records and token objects as they were.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Daemon, TestToken, assert_lint_clean, call, ossl};
use serde_json::{Value, json};

/// pkilint findings accepted for these artefacts, each with its reason.
const ACCEPTED: &[&str] = &[
    // None. Add a code here only with a comment saying why it is correct for us.
];

const DTS_CA: &str = "/v1/ecosystems/certificates/ca";
const VICAL: &str = "/v1/ecosystems/certificates/vical-signers";
const HOLDER_CA: &str = "/v1/holder/certificates/ca";
const WALLET: &str = "/v1/holder/certificates/wallet-attestation-signers";

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn token_objects(hsm: &TestToken) -> usize {
    // Private-key objects counted by OpenSC's pkcs11-tool, independent of our code.
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
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("Private Key Object"))
        .count()
}

/// The daemon, its token, a caller token and a scratch directory for openssl files.
struct Env {
    hsm: TestToken,
    d: Daemon,
    tok: String,
    /// For the snapshot's keys listing, whatever role `tok` has.
    admin: String,
    dir: tempfile::TempDir,
}

impl Env {
    fn new(label: &str, roles: &[&str]) -> Env {
        let hsm = TestToken::new(label);
        let d = Daemon::start(&hsm);
        d.wait_status("/readyz", 200, Duration::from_secs(10));
        let tok = d.create_token("org.t1", roles);
        let admin = d.create_token("org.t1", &["admin"]);
        Env {
            hsm,
            d,
            tok,
            admin,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.call_as(&self.tok, method, path, body)
    }

    /// One request. A 503 `TokenUnavailable` is retried (twice, once `/readyz` is back):
    /// `pkcs11-tool`, which the test runs beside the daemon to count token objects, makes
    /// SoftHSM rewrite its token files, and a health probe that reads them at that moment
    /// rightly reports an outage (C_GetTokenInfo: CKR_GENERAL_ERROR) until it reconnects.
    /// A refused request changes nothing, so the retry cannot hide a side effect.
    fn call_as(&self, tok: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let b = body.map(|v| v.to_string());
        let mut attempt = 0;
        loop {
            let (s, text) = call(self.d.addr, tok, method, path, b.as_deref());
            let v = if text.is_empty() {
                Value::Null
            } else {
                json_of(&text)
            };
            if s == 503 && v["code"] == "TokenUnavailable" && attempt < 2 {
                attempt += 1;
                self.d.wait_status("/readyz", 200, Duration::from_secs(10));
                continue;
            }
            return (s, v);
        }
    }

    fn ok(&self, method: &str, path: &str, body: Option<&Value>, status: u16) -> Value {
        let (s, v) = self.call(method, path, body);
        assert_eq!(s, status, "{method} {path}: {v}\n{}", self.log_tail());
        v
    }

    /// Every record the API shows (all four lists and the keys list) and the number of
    /// private keys in the token.
    fn snapshot(&self) -> (Vec<Value>, usize) {
        let lists = [DTS_CA, VICAL, HOLDER_CA, WALLET, "/v1/keys"]
            .iter()
            .map(|p| {
                let (s, v) = self.call_as(&self.admin, "GET", &format!("{p}?limit=1000"), None);
                assert_eq!(s, 200, "{p}: {v}");
                v
            })
            .collect();
        (lists, token_objects(&self.hsm))
    }

    /// A request that must fail with `status`/`code`, naming `param` when given, and change
    /// nothing (records and token objects compared before and after). Returns the body.
    fn refused(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        status: u16,
        code: &str,
        param: Option<&str>,
    ) -> Value {
        self.refused_as(&self.tok, method, path, body, status, code, param)
    }

    #[allow(clippy::too_many_arguments)]
    fn refused_as(
        &self,
        tok: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
        status: u16,
        code: &str,
        param: Option<&str>,
    ) -> Value {
        let before = self.snapshot();
        let (s, v) = self.call_as(tok, method, path, body);
        assert_eq!(s, status, "{method} {path}: {v}\n{}", self.log_tail());
        assert_eq!(v["code"], code, "{v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        if let Some(p) = param {
            assert_eq!(v["details"][0]["param"], p, "{v}");
            assert_eq!(v["details"][0]["location"], "body", "{v}");
        }
        assert_eq!(self.snapshot(), before, "{method} {path} changed something");
        v
    }

    /// The daemon log's last lines that are not request lines, for failure messages.
    fn log_tail(&self) -> String {
        let log = self.d.log_text();
        let lines: Vec<&str> = log.lines().filter(|l| !l.contains(" request ")).collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// An offline root made with openssl: key `<name>.key`, certificate `<name>.pem`.
fn offline_root(env: &Env, name: &str, subject: &str, ian: bool) -> (PathBuf, PathBuf, String) {
    offline_root_with(env, name, subject, ian, &["-days", "3650"])
}

/// `extra`: more `openssl req` arguments (`-days` is required, e.g. `-days 0`).
fn offline_root_with(
    env: &Env,
    name: &str,
    subject: &str,
    ian: bool,
    extra: &[&str],
) -> (PathBuf, PathBuf, String) {
    let key = env.path(&format!("{name}.key"));
    ossl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        p(&key),
    ]);
    let dn: String = subject
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| format!("{s}\n"))
        .collect();
    let conf = env.write(
        &format!("{name}.cnf"),
        &format!(
            "[req]\ndistinguished_name = dn\nx509_extensions = v3\nprompt = no\n\
             [dn]\n{dn}\
             [v3]\nbasicConstraints = critical,CA:TRUE,pathlen:0\n\
             keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n\
             authorityKeyIdentifier = keyid:always\n{}",
            if ian {
                "issuerAltName = URI:https://example.com/pki\n"
            } else {
                ""
            }
        ),
    );
    let cert = env.path(&format!("{name}.pem"));
    let mut args = vec![
        "req",
        "-new",
        "-x509",
        "-config",
        p(&conf),
        "-key",
        p(&key),
        "-sha256",
        "-out",
        p(&cert),
    ];
    args.extend(extra);
    ossl(&args);
    let pem = std::fs::read_to_string(&cert).unwrap();
    (key, cert, pem)
}

/// Sign `csr_pem` with an offline root under the given extensions; returns (path, PEM).
fn sign_csr(
    env: &Env,
    name: &str,
    csr_pem: &str,
    root: &(PathBuf, PathBuf, String),
    exts: &str,
    days: &str,
) -> (PathBuf, String) {
    let csr = env.write(&format!("{name}.csr"), csr_pem);
    let ext = env.write(&format!("{name}.ext"), exts);
    let out = env.path(&format!("{name}.pem"));
    ossl(&[
        "x509",
        "-req",
        "-in",
        p(&csr),
        "-CA",
        p(&root.1),
        "-CAkey",
        p(&root.0),
        "-extfile",
        p(&ext),
        "-days",
        days,
        "-sha256",
        "-out",
        p(&out),
    ]);
    let pem = std::fs::read_to_string(&out).unwrap();
    (out, pem)
}

const VICAL_EXT: &str = "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
     extendedKeyUsage = 1.0.18013.5.1.8\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n";
const WALLET_EXT: &str = "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
     subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n";

fn fingerprint(cert: &Path) -> String {
    let out = ossl(&["x509", "-in", p(cert), "-noout", "-fingerprint", "-sha256"]);
    out.trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "")
        .to_lowercase()
}

/// Check a chain with `openssl verify` and pkilint.
fn check_chain(root: &Path, leaf: &Path) {
    let out = ossl(&["verify", "-x509_strict", "-CAfile", p(root), p(leaf)]);
    assert!(out.contains(": OK"), "{out}");
    assert_lint_clean("lint_pkix_cert", &[leaf], ACCEPTED);
    assert_lint_clean(
        "lint_pkix_signer_signee_cert_chain",
        &[root, leaf],
        ACCEPTED,
    );
}

#[test]
fn dts_roots_and_vical_signers() {
    let env = Env::new("signers-dts", &["dts-provider"]);
    let other = env.d.create_token("org.t2", &["admin"]);
    let holder_only = env.d.create_token("org.t1", &["holder"]);
    let (ok, out) = env.d.cli(&[
        "tenant",
        "set",
        "--tenant",
        "org.t1",
        "--domain",
        "example.com",
        "--country",
        "NZ",
    ]);
    assert!(ok, "{out}");
    let (ok, out) = env
        .d
        .cli(&["tenant", "set", "--tenant", "org.t1", "--country", "XX"]);
    assert!(!ok && out.contains("ISO 3166"), "{out}");
    // No issuerAltName default yet: a managed root is refused, naming the field
    // (ISO/IEC 18013-5 B.1.2, which uploaded roots must also meet).
    env.refused(
        "POST",
        DTS_CA,
        Some(&json!({"organisationName": "Example Inc."})),
        400,
        "ValidationError",
        Some("issuerAlternativeNameConf"),
    );
    let (ok, out) = env.d.cli(&[
        "tenant",
        "set",
        "--tenant",
        "org.t1",
        "--issuer-alt-uri",
        "relative/path",
    ]);
    assert!(!ok && out.contains("--issuer-alt-uri"), "{out}");
    let (ok, out) = env.d.cli(&[
        "tenant",
        "set",
        "--tenant",
        "org.t1",
        "--issuer-alt-uri",
        "https://pki.example.com",
    ]);
    assert!(ok, "{out}");

    // A role that may not: 403.
    let (s, _) = env.call_as(&holder_only, "GET", DTS_CA, None);
    assert_eq!(s, 403);

    // The operator's offline root, uploaded: unmanaged, active, the seed 003 shape.
    let root = offline_root(
        &env,
        "root",
        "/C=NZ/O=Example Ltd/CN=Example DTS Root",
        true,
    );
    let objects0 = token_objects(&env.hsm);
    let r = env.ok(
        "POST",
        DTS_CA,
        Some(&json!({"certificatePem": root.2})),
        201,
    );
    assert_eq!(r["isManaged"], false, "{r}");
    assert_eq!(r["active"], true, "{r}");
    assert_eq!(r["certificateFingerprint"], fingerprint(&root.1), "{r}");
    assert_eq!(r["certificateData"]["commonName"], "Example DTS Root");
    assert_eq!(r["certificateData"]["country"], "NZ");
    assert_eq!(r["certificateData"]["organisationName"], "Example Ltd");
    assert!(
        r["certificateData"]["notAfter"].is_string()
            && r["certificateData"]["notBefore"].is_string()
    );
    assert_eq!(
        token_objects(&env.hsm),
        objects0,
        "an unmanaged root creates no key"
    );
    let root_id = r["id"].as_str().unwrap().to_owned();

    // A managed root: key in the token, defaults from the tenant.
    let m = env.ok(
        "POST",
        DTS_CA,
        Some(&json!({"organisationName": "Example Inc."})),
        201,
    );
    assert_eq!(m["isManaged"], true);
    assert_eq!(m["certificateData"]["commonName"], "example.com DTS CA");
    assert_eq!(m["certificateData"]["country"], "NZ");
    assert_eq!(token_objects(&env.hsm), objects0 + 1);
    let managed_id = m["id"].as_str().unwrap().to_owned();
    let managed_pem = env.write("managed.pem", m["certificatePem"].as_str().unwrap());
    let out = ossl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        p(&managed_pem),
        p(&managed_pem),
    ]);
    assert!(out.contains(": OK"), "{out}");
    assert_lint_clean("lint_pkix_cert", &[&managed_pem], ACCEPTED);
    // It carries the tenant's issuerAltName, so it passes the upload checks: re-uploaded as
    // an unmanaged root (in another tenant: here it would be the same root twice, 409).
    let managed_cert = hsm_pki::x509::ParsedCertificate::from_pem(
        m["certificatePem"].as_str().unwrap().as_bytes(),
    )
    .unwrap();
    let ian = managed_cert.ext().issuer_alt_names().unwrap().unwrap();
    assert_eq!(ian.value.uris, ["https://pki.example.com"]);
    let (s, v) = env.call_as(
        &other,
        "POST",
        DTS_CA,
        Some(&json!({"certificatePem": m["certificatePem"]})),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["isManaged"], false, "{v}");
    let (s, v) = env.call_as(
        &other,
        "DELETE",
        &format!("{DTS_CA}/{}", v["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(s, 204, "{v}");
    // The request's issuerAlternativeNameConf wins over the tenant's; it is checked.
    env.refused(
        "POST",
        DTS_CA,
        Some(&json!({"organisationName": "O", "issuerAlternativeNameConf": {}})),
        400,
        "ValidationError",
        Some("issuerAlternativeNameConf"),
    );
    env.refused(
        "POST",
        DTS_CA,
        Some(&json!({"organisationName": "O",
            "issuerAlternativeNameConf": {"email": "no-at-sign"}})),
        400,
        "ValidationError",
        Some("issuerAlternativeNameConf.email"),
    );
    env.refused(
        "POST",
        DTS_CA,
        Some(&json!({"certificatePem": root.2,
            "issuerAlternativeNameConf": {"uri": "https://x.example"}})),
        400,
        "ValidationError",
        Some("issuerAlternativeNameConf"),
    );
    // Its key is recorded (so start-up reconciliation covers it) with the root's purpose,
    // and belongs to the root's lifecycle: the keys API neither lists it nor lets it be
    // named (404), so it cannot be deleted or borrowed that way.
    let key_name = format!("dts-ca-{managed_id}");
    {
        let conn = rusqlite::Connection::open_with_flags(
            env.d.db_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let purpose: Option<String> = conn
            .query_row(
                "SELECT purpose FROM keys WHERE name = ?1",
                [key_name.as_str()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(purpose.as_deref(), Some("dts-root"));
    }
    let (_, keys) = env.call_as(&env.admin, "GET", "/v1/keys", None);
    assert!(
        !keys["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["keyId"] == key_name.as_str()),
        "{keys}"
    );
    env.refused_as(
        &env.admin,
        "DELETE",
        &format!("/v1/keys/{key_name}"),
        None,
        404,
        "NotFound",
        None,
    );

    // Validation of managed roots: each a 400 naming the field, nothing created.
    env.refused(
        "POST",
        DTS_CA,
        Some(&json!({})),
        400,
        "ValidationError",
        Some("organisationName"),
    );
    env.refused(
        "POST",
        DTS_CA,
        Some(&json!({"organisationName": "O", "commonName": "bad_name"})),
        400,
        "ValidationError",
        Some("commonName"),
    );
    env.refused(
        "POST",
        DTS_CA,
        Some(&json!({"organisationName": "O", "notBefore": "2020-01-01T00:00:00Z"})),
        400,
        "ValidationError",
        Some("notBefore"),
    );
    env.refused(
        "POST",
        DTS_CA,
        Some(&json!({"organisationName": "O", "notAfter": "2099-01-01T00:00:00Z"})),
        400,
        "ValidationError",
        Some("notAfter"),
    );
    env.refused(
        "POST",
        DTS_CA,
        Some(&json!({"certificatePem": root.2, "organisationName": "O"})),
        400,
        "ValidationError",
        Some("organisationName"),
    );
    // An uploaded root without issuerAltName: 400 naming the rule.
    let no_ian = offline_root(&env, "noian", "/C=NZ/O=Example Ltd/CN=No IAN Root", false);
    let v = env.refused(
        "POST",
        DTS_CA,
        Some(&json!({"certificatePem": no_ian.2})),
        400,
        "ValidationError",
        Some("certificatePem"),
    );
    assert!(
        v["details"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("issuerAltName"),
        "{v}"
    );
    // More upload rules over HTTP: no O, a serial of 21 octets, expired, garbage.
    let no_o = offline_root(&env, "noo", "/C=NZ/CN=No O Root", true);
    let serial21 = format!("0x7f{}", "11".repeat(20));
    let long_serial = offline_root_with(
        &env,
        "longserial",
        "/C=NZ/O=Example Ltd/CN=Long Serial",
        true,
        &["-days", "3650", "-set_serial", &serial21],
    );
    // `openssl req -x509` refuses `-days 0`: re-sign the root itself with `x509 -signkey`,
    // whose notAfter then equals its notBefore (the signing second).
    let expired_root = offline_root(&env, "expiredroot", "/C=NZ/O=Example Ltd/CN=Expired", true);
    let expired_pem = env.path("expiredroot-0.pem");
    ossl(&[
        "x509",
        "-in",
        p(&expired_root.1),
        "-signkey",
        p(&expired_root.0),
        "-days",
        "0",
        "-out",
        p(&expired_pem),
    ]);
    let expired_root = (
        expired_root.0,
        expired_pem.clone(),
        std::fs::read_to_string(&expired_pem).unwrap(),
    );
    std::thread::sleep(Duration::from_millis(1500));
    for (pem, why) in [
        (no_o.2.as_str(), "organizationName"),
        (long_serial.2.as_str(), "20 octets"),
        (expired_root.2.as_str(), "expired"),
        ("not a certificate", "PEM"),
    ] {
        let v = env.refused(
            "POST",
            DTS_CA,
            Some(&json!({"certificatePem": pem})),
            400,
            "ValidationError",
            Some("certificatePem"),
        );
        let msg = v["details"][0]["msg"].as_str().unwrap();
        assert!(msg.contains(why), "expected '{why}': {msg}");
    }

    // A VICAL signer under the managed root: 400 naming caId.
    let v = env.refused(
        "POST",
        VICAL,
        Some(&json!({"caId": managed_id})),
        400,
        "ValidationError",
        Some("caId"),
    );
    assert!(
        v["details"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("unmanaged"),
        "{v}"
    );

    // Another tenant: the root is invisible (404), and its id names no root for them
    // (the same 400 as an unknown id).
    let before = env.snapshot();
    for (m, path, body) in [
        ("GET", format!("{DTS_CA}/{root_id}"), None),
        (
            "PUT",
            format!("{DTS_CA}/{root_id}"),
            Some(json!({"active": false})),
        ),
        ("DELETE", format!("{DTS_CA}/{root_id}"), None),
    ] {
        let (s, v) = env.call_as(&other, m, &path, body.as_ref());
        assert_eq!(s, 404, "{m} {path}: {v}");
    }
    let (s, foreign) = env.call_as(&other, "POST", VICAL, Some(&json!({"caId": root_id})));
    let (s2, unknown) = env.call_as(&other, "POST", VICAL, Some(&json!({"caId": uuid_like(7)})));
    assert_eq!((s, s2), (400, 400), "{foreign} {unknown}");
    assert_eq!(foreign["details"][0]["param"], "caId");
    assert_eq!(foreign["details"][0]["msg"], unknown["details"][0]["msg"]);
    assert_eq!(env.snapshot(), before);

    // The VICAL signer: CSR from a token key, subject derived from the root.
    let objects = token_objects(&env.hsm);
    let s = env.ok("POST", VICAL, Some(&json!({"caId": root_id})), 201);
    assert_eq!(s["active"], false);
    assert_eq!(s["caId"], root_id.as_str());
    assert_eq!(token_objects(&env.hsm), objects + 1);
    let signer_id = s["id"].as_str().unwrap().to_owned();
    let csr_pem = s["csrPem"].as_str().unwrap().to_owned();
    let csr = env.write("signer.csr.pem", &csr_pem);
    let text = ossl(&["req", "-in", p(&csr), "-noout", "-verify", "-text"]);
    assert!(
        text.contains("O = Example Ltd, CN = Example Ltd VICAL Signer"),
        "{text}"
    );
    assert!(text.contains("1.0.18013.5.1.8"), "{text}");
    assert!(text.contains("Digital Signature"), "{text}");
    let sp = format!("{VICAL}/{signer_id}");

    // Activation without a certificate: 400 naming active.
    env.refused(
        "PUT",
        &sp,
        Some(&json!({"active": true})),
        400,
        "ValidationError",
        Some("active"),
    );

    // Certificates that break a rule: each a 400 naming certificatePem.
    let cert_refused = |pem: &str, why: &str| {
        let v = env.refused(
            "PUT",
            &sp,
            Some(&json!({"certificatePem": pem})),
            400,
            "ValidationError",
            Some("certificatePem"),
        );
        let msg = v["details"][0]["msg"].as_str().unwrap().to_owned();
        assert!(msg.contains(why), "expected '{why}': {msg}");
    };
    // Wrong key: a certificate for another key's CSR.
    let stranger = env.path("stranger.key");
    ossl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        p(&stranger),
    ]);
    let stranger_csr = ossl(&["req", "-new", "-key", p(&stranger), "-subj", "/CN=stranger"]);
    let (_, wrong_key) = sign_csr(&env, "wrongkey", &stranger_csr, &root, VICAL_EXT, "365");
    cert_refused(&wrong_key, "public key");
    // Wrong issuer: signed by another offline root.
    let root2 = offline_root(&env, "root2", "/C=NZ/O=Other Ltd/CN=Other Root", true);
    let (_, wrong_issuer) = sign_csr(&env, "wrongissuer", &csr_pem, &root2, VICAL_EXT, "365");
    cert_refused(&wrong_issuer, "issuer");
    // A CA certificate.
    let ca_ext = "basicConstraints = critical,CA:TRUE\nkeyUsage = critical,digitalSignature,keyCertSign\n\
                  extendedKeyUsage = 1.0.18013.5.1.8\nsubjectKeyIdentifier = hash\n";
    let (_, ca_cert) = sign_csr(&env, "cacert", &csr_pem, &root, ca_ext, "365");
    cert_refused(&ca_cert, "CA");
    // Missing the VICAL EKU.
    let (_, no_eku) = sign_csr(&env, "noeku", &csr_pem, &root, WALLET_EXT, "365");
    cert_refused(&no_eku, "1.0.18013.5.1.8");
    // Expired (notAfter = notBefore = the signing second).
    let (_, expired) = sign_csr(&env, "expired", &csr_pem, &root, VICAL_EXT, "0");
    std::thread::sleep(Duration::from_millis(1500));
    cert_refused(&expired, "expired");

    // The right certificate: accepted, then activated.
    let (cert_path, cert_pem) = sign_csr(&env, "signer", &csr_pem, &root, VICAL_EXT, "365");
    let v = env.ok("PUT", &sp, Some(&json!({"certificatePem": cert_pem})), 200);
    assert_eq!(v["active"], false, "{v}");
    assert_eq!(v["certificateFingerprint"], fingerprint(&cert_path));
    // The same PEM again: accepted unchanged. A different one: 409.
    env.ok("PUT", &sp, Some(&json!({"certificatePem": cert_pem})), 200);
    let (_, second) = sign_csr(&env, "signer2", &csr_pem, &root, VICAL_EXT, "300");
    env.refused(
        "PUT",
        &sp,
        Some(&json!({"certificatePem": second})),
        409,
        "CertificateImmutable",
        None,
    );
    let v = env.ok("PUT", &sp, Some(&json!({"active": true})), 200);
    assert_eq!(v["active"], true);
    // Listed and retrieved with the certificate fields.
    let list = env.ok("GET", VICAL, None, 200);
    let listed = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == signer_id.as_str())
        .expect("signer listed")
        .clone();
    assert_eq!(listed["active"], true);
    assert_eq!(
        listed["certificatePem"].as_str().unwrap().trim(),
        cert_pem.trim()
    );
    assert_eq!(
        listed["certificateData"]["commonName"],
        "Example Ltd VICAL Signer"
    );
    let got = env.ok("GET", &sp, None, 200);
    assert_eq!(got["certificateFingerprint"], fingerprint(&cert_path));
    check_chain(&root.1, &cert_path);
    // An end-entity certificate is no root.
    let v = env.refused(
        "POST",
        DTS_CA,
        Some(&json!({"certificatePem": cert_pem})),
        400,
        "ValidationError",
        Some("certificatePem"),
    );
    let msg = v["details"][0]["msg"].as_str().unwrap();
    assert!(msg.contains("self-signed"), "{msg}");

    // Limits: a third root is fine, a fourth is 409; five VICAL signers, not six.
    let third = env.ok(
        "POST",
        DTS_CA,
        Some(&json!({"certificatePem": root2.2})),
        201,
    );
    env.refused(
        "POST",
        DTS_CA,
        Some(&json!({"organisationName": "Fourth"})),
        409,
        "LimitReached",
        None,
    );
    let mut extra = Vec::new();
    for _ in 0..4 {
        let s = env.ok("POST", VICAL, Some(&json!({"caId": root_id})), 201);
        extra.push(s["id"].as_str().unwrap().to_owned());
    }
    env.refused(
        "POST",
        VICAL,
        Some(&json!({"caId": root_id})),
        409,
        "LimitReached",
        None,
    );

    // Pagination over signers.
    let page = env.ok("GET", &format!("{VICAL}?limit=2"), None, 200);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let cursor = page["nextCursor"].as_str().expect("next cursor").to_owned();
    let page2 = env.ok(
        "GET",
        &format!("{VICAL}?limit=2&cursor={cursor}"),
        None,
        200,
    );
    assert_ne!(page2["data"][0]["id"], page["data"][0]["id"]);

    // A root with signers cannot go; a signer can, with its token key.
    env.refused(
        "DELETE",
        &format!("{DTS_CA}/{root_id}"),
        None,
        409,
        "CaInUse",
        None,
    );
    let objects = token_objects(&env.hsm);
    env.ok("DELETE", &sp, None, 204);
    assert_eq!(token_objects(&env.hsm), objects - 1);
    let (s, _) = env.call("GET", &sp, None);
    assert_eq!(s, 404);
    for id in &extra {
        env.ok("DELETE", &format!("{VICAL}/{id}"), None, 204);
    }
    assert_eq!(token_objects(&env.hsm), objects - 5);
    env.ok("DELETE", &format!("{DTS_CA}/{root_id}"), None, 204);
    env.ok(
        "DELETE",
        &format!("{DTS_CA}/{}", third["id"].as_str().unwrap()),
        None,
        204,
    );
    assert_eq!(
        token_objects(&env.hsm),
        objects - 5,
        "unmanaged roots have no key"
    );
    // Deleting the managed root destroys its key.
    env.ok("DELETE", &format!("{DTS_CA}/{managed_id}"), None, 204);
    assert_eq!(token_objects(&env.hsm), objects - 6);
    assert_eq!(token_objects(&env.hsm), objects0);

    // The audit log has the seed's event names.
    let auditor = env.d.create_token("org.t1", &["auditor"]);
    let (_, ev) = env.call_as(&auditor, "GET", "/v1/audit-events?limit=1000", None);
    let names: Vec<&str> = ev["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for n in [
        "ECOSYSTEM_DTS_CA_CERTIFICATE_CREATE_START",
        "ECOSYSTEM_DTS_CA_CERTIFICATE_CREATE_SUCCESS",
        "ECOSYSTEM_DTS_CA_CERTIFICATE_CREATE_FAIL",
        "ECOSYSTEM_VICAL_SIGNER_CERTIFICATE_CREATE_SUCCESS",
        "ECOSYSTEM_VICAL_SIGNER_CERTIFICATE_RETRIEVE_LIST_SUCCESS",
        "ECOSYSTEM_VICAL_SIGNER_CERTIFICATE_RETRIEVE_SUCCESS",
        "ECOSYSTEM_VICAL_SIGNER_CERTIFICATE_UPDATE_SUCCESS",
        "ECOSYSTEM_VICAL_SIGNER_CERTIFICATE_UPDATE_FAIL",
        "ECOSYSTEM_VICAL_SIGNER_CERTIFICATE_DELETE_SUCCESS",
        "ECOSYSTEM_DTS_CA_CERTIFICATE_DELETE_FAIL",
    ] {
        assert!(names.contains(&n), "missing {n}");
    }
    let (ok, out) = env.d.cli(&["audit", "verify"]);
    assert!(ok, "{out}");
}

/// A syntactically valid UUID that names nothing.
fn uuid_like(n: u8) -> String {
    format!("00000000-0000-4000-8000-0000000000{n:02x}")
}

/// pkilint's CRL linter (`-t CRL -p PKIX`); returns findings of WARNING and above.
fn lint_crl(file: &Path) -> Vec<String> {
    let out = std::process::Command::new(common::pkilint_bin("lint_crl"))
        .args([
            "lint", "-t", "CRL", "-p", "PKIX", "-f", "JSON", "-s", "WARNING",
        ])
        .arg(file)
        .output()
        .expect("run lint_crl");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "lint_crl output is not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut codes = Vec::new();
    for r in v["results"].as_array().expect("results") {
        for f in r["finding_descriptions"].as_array().expect("findings") {
            codes.push(format!("{} {}", f["severity"], f["code"]));
        }
    }
    codes
}

#[test]
fn holder_roots_wallet_signers_and_crl() {
    let env = Env::new("signers-holder", &["admin"]);
    let other = env.d.create_token("org.t2", &["admin"]);

    // Managed holder root without a country anywhere: 400 naming country.
    let v = env.refused(
        "POST",
        HOLDER_CA,
        Some(&json!({})),
        400,
        "ValidationError",
        Some("country"),
    );
    assert!(
        v["details"][0]["msg"].as_str().unwrap().contains("country"),
        "{v}"
    );
    let (ok, out) = env
        .d
        .cli(&["tenant", "set", "--tenant", "org.t1", "--country", "NZ"]);
    assert!(ok, "{out}");
    // Nor an issuerAltName (no tenant default): 400 naming it.
    env.refused(
        "POST",
        HOLDER_CA,
        Some(&json!({})),
        400,
        "ValidationError",
        Some("issuerAlternativeNameConf"),
    );

    // Managed: inactive at creation, default name from the tenant (no domain: the tenant id).
    let objects0 = token_objects(&env.hsm);
    let m = env.ok(
        "POST",
        HOLDER_CA,
        Some(&json!({"issuerAlternativeNameConf": {"email": "wallet-pki@example.com"}})),
        201,
    );
    let managed_cert = hsm_pki::x509::ParsedCertificate::from_pem(
        m["certificatePem"].as_str().unwrap().as_bytes(),
    )
    .unwrap();
    let ian = managed_cert.ext().issuer_alt_names().unwrap().unwrap();
    assert_eq!(ian.value.emails, ["wallet-pki@example.com"]);
    assert_eq!(m["isManaged"], true);
    assert_eq!(m["active"], false);
    assert_eq!(m["certificateData"]["commonName"], "org.t1");
    assert_eq!(token_objects(&env.hsm), objects0 + 1);
    let managed_id = m["id"].as_str().unwrap().to_owned();
    let managed_pem = env.write("holder-managed.pem", m["certificatePem"].as_str().unwrap());
    assert_lint_clean("lint_pkix_cert", &[&managed_pem], ACCEPTED);

    // Its CRL: DER, verified by openssl with the root, lint-clean.
    let crl_path = format!("{HOLDER_CA}/{managed_id}/crl");
    let mut numbers = Vec::new();
    for i in 0..2 {
        // The body is binary: fetched raw.
        let der = raw_get(&env, &crl_path);
        let f = env.path(&format!("crl{i}.der"));
        std::fs::write(&f, &der).unwrap();
        let out = ossl(&[
            "crl",
            "-inform",
            "DER",
            "-in",
            p(&f),
            "-CAfile",
            p(&managed_pem),
            "-verify",
            "-noout",
            "-text",
        ]);
        assert!(out.contains("verify OK"), "{out}");
        assert!(out.contains("X509v3 Authority Key Identifier"), "{out}");
        assert!(out.contains("Next Update"), "{out}");
        let n = out
            .lines()
            .skip_while(|l| !l.contains("X509v3 CRL Number"))
            .nth(1)
            .unwrap()
            .trim()
            .to_owned();
        numbers.push(n.parse::<u64>().unwrap());
        let findings = lint_crl(&f);
        assert!(findings.is_empty(), "lint_crl: {findings:?}");
    }
    // A GET serves the stored CRL: the same one twice (it is re-signed by revocations and
    // the renewal timer, never by a read).
    assert_eq!(numbers[1], numbers[0], "{numbers:?}");

    // The operator's offline holder root, uploaded; commonName with it is refused.
    let root = offline_root(&env, "hroot", "/C=NZ/O=Wallet Co/CN=Wallet Root", true);
    env.refused(
        "POST",
        HOLDER_CA,
        Some(&json!({"certificatePem": root.2, "commonName": "x"})),
        400,
        "ValidationError",
        Some("commonName"),
    );
    let r = env.ok(
        "POST",
        HOLDER_CA,
        Some(&json!({"certificatePem": root.2})),
        201,
    );
    assert_eq!(r["active"], false);
    assert_eq!(r["isManaged"], false);
    let root_id = r["id"].as_str().unwrap().to_owned();
    // Its CRL is not ours to make.
    let (s, v) = env.call("GET", &format!("{HOLDER_CA}/{root_id}/crl"), None);
    assert_eq!(s, 404);
    assert_eq!(v["code"], "NoCertificateRevocationList");

    // caId rules: a DTS root's id, a managed holder root's id, another tenant's.
    let dts_root = offline_root(&env, "droot", "/C=NZ/O=DTS Co/CN=DTS Root", true);
    let d = env.ok(
        "POST",
        DTS_CA,
        Some(&json!({"certificatePem": dts_root.2})),
        201,
    );
    env.refused(
        "POST",
        WALLET,
        Some(&json!({"caId": d["id"]})),
        400,
        "ValidationError",
        Some("caId"),
    );
    let v = env.refused(
        "POST",
        WALLET,
        Some(&json!({"caId": managed_id})),
        400,
        "ValidationError",
        Some("caId"),
    );
    assert!(
        v["details"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("provisioned automatically"),
        "{v}"
    );
    let before = env.snapshot();
    let (s, v) = env.call_as(&other, "POST", WALLET, Some(&json!({"caId": root_id})));
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["details"][0]["param"], "caId");
    let (s, _) = env.call_as(&other, "GET", &format!("{HOLDER_CA}/{root_id}"), None);
    assert_eq!(s, 404);
    let (s, _) = env.call_as(
        &other,
        "GET",
        &format!("{HOLDER_CA}/{managed_id}/crl"),
        None,
    );
    assert_eq!(s, 404);
    assert_eq!(env.snapshot(), before);

    // A wallet attestation signer: CSR, offline signature, upload activates it.
    let s = env.ok("POST", WALLET, Some(&json!({"caId": root_id})), 201);
    assert_eq!(s["active"], false);
    let signer_id = s["id"].as_str().unwrap().to_owned();
    let csr_pem = s["csrPem"].as_str().unwrap().to_owned();
    let csr = env.write("wallet.csr.pem", &csr_pem);
    let text = ossl(&["req", "-in", p(&csr), "-noout", "-verify", "-text"]);
    assert!(
        text.contains("Digital Signature") && !text.contains("1.0.18013.5.1"),
        "{text}"
    );
    assert!(text.contains("id-ecPublicKey"), "{text}");
    let sp = format!("{WALLET}/{signer_id}");
    env.refused(
        "PUT",
        &sp,
        Some(&json!({"active": true})),
        400,
        "ValidationError",
        Some("active"),
    );
    // An mDL usage has no place in a wallet attestation signer.
    let (_, mdl) = sign_csr(&env, "wallet-mdl", &csr_pem, &root, VICAL_EXT, "365");
    let v = env.refused(
        "PUT",
        &sp,
        Some(&json!({"certificatePem": mdl})),
        400,
        "ValidationError",
        Some("certificatePem"),
    );
    let msg = v["details"][0]["msg"].as_str().unwrap();
    assert!(msg.contains("mDL"), "{msg}");
    let (cert_path, cert_pem) = sign_csr(&env, "wallet", &csr_pem, &root, WALLET_EXT, "365");
    let v = env.ok("PUT", &sp, Some(&json!({"certificatePem": cert_pem})), 200);
    assert_eq!(v["active"], true, "{v}");
    let list = env.ok("GET", WALLET, None, 200);
    assert_eq!(list["data"][0]["id"], signer_id.as_str());
    assert_eq!(list["data"][0]["active"], true);
    check_chain(&root.1, &cert_path);

    // Five signers per root, not six.
    for _ in 0..4 {
        env.ok("POST", WALLET, Some(&json!({"caId": root_id})), 201);
    }
    env.refused(
        "POST",
        WALLET,
        Some(&json!({"caId": root_id})),
        409,
        "LimitReached",
        None,
    );

    // A third holder root is fine, a fourth is 409.
    let root3 = offline_root(&env, "hroot3", "/C=NZ/O=Wallet Co/CN=Wallet Root 3", true);
    let third = env.ok(
        "POST",
        HOLDER_CA,
        Some(&json!({"certificatePem": root3.2})),
        201,
    );
    env.refused(
        "POST",
        HOLDER_CA,
        Some(&json!({"issuerAlternativeNameConf": {"uri": "https://wallet.example"}})),
        409,
        "LimitReached",
        None,
    );

    // At most one active holder root.
    let count_active = || {
        env.ok("GET", HOLDER_CA, None, 200)["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["active"] == true)
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    env.ok(
        "PUT",
        &format!("{HOLDER_CA}/{managed_id}"),
        Some(&json!({"active": true})),
        200,
    );
    assert_eq!(count_active(), vec![managed_id.clone()]);
    env.ok(
        "PUT",
        &format!("{HOLDER_CA}/{root_id}"),
        Some(&json!({"active": true})),
        200,
    );
    assert_eq!(count_active(), vec![root_id.clone()]);
    env.refused(
        "PUT",
        &format!("{HOLDER_CA}/{root_id}"),
        Some(&json!({"active": true, "certificatePem": "x"})),
        400,
        "ValidationError",
        Some("certificatePem"),
    );

    // Deleting the uploaded root cascades: its five signers and their token keys go.
    let objects = token_objects(&env.hsm);
    env.ok("DELETE", &format!("{HOLDER_CA}/{root_id}"), None, 204);
    assert_eq!(token_objects(&env.hsm), objects - 5);
    assert_eq!(
        env.ok("GET", WALLET, None, 200)["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let (s, _) = env.call("GET", &sp, None);
    assert_eq!(s, 404);
    // Deleting the managed root destroys its key.
    env.ok("DELETE", &format!("{HOLDER_CA}/{managed_id}"), None, 204);
    assert_eq!(token_objects(&env.hsm), objects0);
    env.ok(
        "DELETE",
        &format!("{HOLDER_CA}/{}", third["id"].as_str().unwrap()),
        None,
        204,
    );
    assert_eq!(
        env.ok("GET", HOLDER_CA, None, 200)["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    let auditor = env.d.create_token("org.t1", &["auditor"]);
    let (_, ev) = env.call_as(&auditor, "GET", "/v1/audit-events?limit=1000", None);
    let names: Vec<&str> = ev["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for n in [
        "CREDENTIAL_HOLDER_CA_CERTIFICATE_CREATE_SUCCESS",
        "CREDENTIAL_HOLDER_CA_CERTIFICATE_UPDATE_SUCCESS",
        "CREDENTIAL_HOLDER_CA_CERTIFICATE_DELETE_SUCCESS",
        "CREDENTIAL_HOLDER_CA_CERTIFICATE_REVOCATION_LIST_RETRIEVE_SUCCESS",
        "CREDENTIAL_HOLDER_WALLET_ATTESTATION_SIGNER_CERTIFICATE_CREATE_START",
        "CREDENTIAL_HOLDER_WALLET_ATTESTATION_SIGNER_CERTIFICATE_CREATE_SUCCESS",
        "CREDENTIAL_HOLDER_WALLET_ATTESTATION_SIGNER_CERTIFICATE_CREATE_FAIL",
        "CREDENTIAL_HOLDER_WALLET_ATTESTATION_SIGNER_CERTIFICATE_UPDATE_SUCCESS",
        "CREDENTIAL_HOLDER_WALLET_ATTESTATION_SIGNER_CERTIFICATE_RETRIEVE_LIST_SUCCESS",
    ] {
        assert!(names.contains(&n), "missing {n}");
    }
}

/// GET returning the raw body bytes (the CRL is DER, not text).
fn raw_get(env: &Env, path: &str) -> Vec<u8> {
    let addr = env.d.addr;
    let auth = format!("Bearer {}", env.tok);
    let path = path.to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        use http_body_util::{BodyExt, Full};
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let req = hyper::Request::builder()
            .method("GET")
            .uri(path.as_str())
            .header("host", addr.to_string())
            .header("authorization", auth)
            .body(Full::new(bytes::Bytes::new()))
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers().get("content-type").unwrap(),
            "application/pkix-crl"
        );
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec()
    })
}

/// Rows of the issuance ledger and of the signature ledger, read from the database file.
fn ledger_counts(env: &Env) -> (i64, i64) {
    let conn = rusqlite::Connection::open_with_flags(
        env.d.db_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let n = |table: &str| {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    // CRLs are left out: the daemon's timer signs a new CA's first CRL on its own.
    (
        n("issued_certificates"),
        n("signatures WHERE artefact != 'crl'"),
    )
}

/// The keys of roots and signers belong to their lifecycle: an issuer-role caller cannot
/// name them as the issuer of a generic certificate (which would mint a certificate that
/// verifies under a managed root, outside that root's lifecycle and role), nor see them
/// through the keys API. Refused as "no such key", nothing signed, ledgers unchanged.
#[test]
fn root_and_signer_keys_cannot_be_borrowed() {
    let env = Env::new("signers-borrow", &["admin"]);
    let issuer = env.d.create_token("org.t1", &["issuer"]);
    let (ok, out) = env.d.cli(&[
        "tenant",
        "set",
        "--tenant",
        "org.t1",
        "--country",
        "NZ",
        "--issuer-alt-uri",
        "https://pki.example.com",
    ]);
    assert!(ok, "{out}");

    let (_, sig0) = ledger_counts(&env);
    let holder = env.ok("POST", HOLDER_CA, Some(&json!({})), 201);
    let dts = env.ok(
        "POST",
        DTS_CA,
        Some(&json!({"organisationName": "Example"})),
        201,
    );
    // Each managed root's certificate is one token signature, in the ledger.
    assert_eq!(ledger_counts(&env).1, sig0 + 2);
    let dts_up = offline_root(&env, "dts-up", "/C=NZ/O=Example/CN=Up DTS", true);
    let dts_up = env.ok(
        "POST",
        DTS_CA,
        Some(&json!({"certificatePem": dts_up.2})),
        201,
    );
    let vical = env.ok("POST", VICAL, Some(&json!({"caId": dts_up["id"]})), 201);
    let holder_up = offline_root(&env, "holder-up", "/C=NZ/O=Example/CN=Up Holder", true);
    let holder_up = env.ok(
        "POST",
        HOLDER_CA,
        Some(&json!({"certificatePem": holder_up.2})),
        201,
    );
    let wallet = env.ok("POST", WALLET, Some(&json!({"caId": holder_up["id"]})), 201);
    let names = [
        format!("holder-ca-{}", holder["id"].as_str().unwrap()),
        format!("dts-ca-{}", dts["id"].as_str().unwrap()),
        format!("vical-signer-{}", vical["id"].as_str().unwrap()),
        format!("wallet-signer-{}", wallet["id"].as_str().unwrap()),
    ];

    // None of them is listed by, or readable or deletable through, the keys API.
    let (s, keys) = env.call_as(&env.admin, "GET", "/v1/keys?limit=1000", None);
    assert_eq!(s, 200, "{keys}");
    assert_eq!(keys["data"].as_array().map(Vec::len), Some(0), "{keys}");
    for name in &names {
        let path = format!("/v1/keys/{name}");
        env.refused_as(&issuer, "GET", &path, None, 404, "NotFound", None);
        env.refused_as(&env.admin, "DELETE", &path, None, 404, "NotFound", None);
    }

    let target = "/v1/org.t1.x509-service-1/x509-service-api/certificate";
    for name in &names {
        let body = json!({
            "certificateData": {"subjectName": {"commonName": "Minted", "country": "NZ"}},
            "subjectPublicKeySource": {"type": "key-descriptor", "keyDescriptor": {
                "type": "jwk-encoded-key-descriptor",
                "jwk": {"kty": "EC", "crv": "P-256",
                    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}}},
            "issuer": {"type": "ca-signed", "issuerKeyDescriptor": {
                "type": "kms-hosted-key-descriptor",
                "keyIdPath": format!("org.t1.kms.{name}")}}
        });
        let before = ledger_counts(&env);
        let v = env.refused_as(&issuer, "POST", target, Some(&body), 404, "NotFound", None);
        assert_eq!(
            v["details"][0]["param"], "issuer.issuerKeyDescriptor.keyIdPath",
            "{v}"
        );
        assert_eq!(ledger_counts(&env), before, "{name}: something was signed");
    }

    // Positive control: the same request with a key of the keys API is issued and signed.
    env.ok(
        "POST",
        "/v1/keys",
        Some(&json!({"keyId": "ca1", "algorithm": "secp256r1"})),
        201,
    );
    let before = ledger_counts(&env);
    let body = json!({
        "certificateData": {"subjectName": {"commonName": "Minted", "country": "NZ"},
            "issuerName": {"commonName": "CA 1", "country": "NZ"}},
        "subjectPublicKeySource": {"type": "key-descriptor", "keyDescriptor": {
            "type": "jwk-encoded-key-descriptor",
            "jwk": {"kty": "EC", "crv": "P-256",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}}},
        "issuer": {"type": "ca-signed", "issuerKeyDescriptor": {
            "type": "kms-hosted-key-descriptor", "keyIdPath": "org.t1.kms.ca1"}}
    });
    let (s, v) = env.call_as(&issuer, "POST", target, Some(&body));
    assert_eq!(s, 200, "{v}");
    assert_eq!(ledger_counts(&env), (before.0 + 1, before.1 + 1));
}

/// A wallet attestation signer created while its holder root is deleted: whichever commits
/// first, the answer is a clean one (201, or 400 naming caId as if the root had been gone
/// before), never a 500, and token and database agree afterwards.
#[test]
fn signer_create_racing_its_root_delete() {
    let env = Env::new("signers-race", &["admin"]);
    let mut outcomes = Vec::new();
    for i in 0..24 {
        let root = offline_root(
            &env,
            &format!("race-{i}"),
            &format!("/C=NZ/O=Example/CN=Race Root {i}"),
            true,
        );
        let r = env.ok(
            "POST",
            HOLDER_CA,
            Some(&json!({"certificatePem": root.2})),
            201,
        );
        let id = r["id"].as_str().unwrap().to_owned();
        let (create, delete) = std::thread::scope(|s| {
            let c = s.spawn(|| env.call("POST", WALLET, Some(&json!({"caId": id}))));
            // The delete lands while the signer's key is being generated.
            std::thread::sleep(Duration::from_millis(3 * (i % 12)));
            let d = s.spawn(|| env.call("DELETE", &format!("{HOLDER_CA}/{id}"), None));
            (c.join().unwrap(), d.join().unwrap())
        });
        assert_eq!(delete.0, 204, "{:?}", delete.1);
        match create.0 {
            201 => {}
            400 => assert_eq!(create.1["details"][0]["param"], "caId", "{}", create.1),
            s => panic!("signer create racing its root's delete: {s} {}", create.1),
        }
        outcomes.push(create.0);
    }
    // A signer key generated but never recorded is the race this test is about: the root
    // was deleted between the signer's root check and its commit.
    let log = env.d.log_text();
    let generated = log.matches("key generated on token").count();
    let created = outcomes.iter().filter(|s| **s == 201).count();
    eprintln!("create outcomes: {outcomes:?}; {generated} keys generated");
    assert!(
        generated > created,
        "no create reached its commit after the root was deleted"
    );
    // Nothing left behind: the cascade took every signer, and no key outlived its record.
    let (lists, objects) = env.snapshot();
    assert_eq!(
        lists[3]["data"].as_array().map(Vec::len),
        Some(0),
        "{:?}",
        lists[3]
    );
    assert_eq!(objects, 0, "token keys without a root or signer");
}
