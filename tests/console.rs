//! The operator console (`/console`): its security model over real HTTP, and (in
//! `browser_walkthrough`) an operator's session in headless Chromium driven by Selenium
//! (`tests/data/console_browser.py`), checked afterwards through the JSON API.

mod common;

use std::net::SocketAddr;

use common::{Daemon, TestToken, call, full_request};

const CSP: &str = "default-src 'none'; script-src 'self'";

/// A console client: one session cookie, every response's headers checked.
struct Browser {
    addr: SocketAddr,
    cookie: String,
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The console's headers, on every response it sends.
fn assert_console_headers(path: &str, h: &[(String, String)]) {
    let csp = header(h, "content-security-policy").unwrap_or_else(|| panic!("{path}: no CSP"));
    assert!(csp.starts_with(CSP), "{path}: {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
    assert_eq!(
        header(h, "x-content-type-options"),
        Some("nosniff"),
        "{path}"
    );
    assert_eq!(header(h, "referrer-policy"), Some("no-referrer"), "{path}");
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn sign_in(addr: SocketAddr, token: &str) -> Browser {
    let (status, h, _) = full_request(
        addr,
        "POST",
        "/console/sign-in",
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(form(&[("token", token)])),
    );
    assert_console_headers("sign-in", &h);
    assert_eq!(status, 303);
    let set = header(&h, "set-cookie").expect("a session cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(!set.contains(token), "the API token is not the cookie");
    let cookie = set.split(';').next().unwrap().to_owned();
    Browser { addr, cookie }
}

impl Browser {
    fn get(&self, path: &str) -> (u16, String) {
        let (s, h, b) = full_request(self.addr, "GET", path, &[("cookie", &self.cookie)], None);
        assert_console_headers(path, &h);
        (s, String::from_utf8_lossy(&b).into_owned())
    }

    fn post(&self, path: &str, pairs: &[(&str, &str)]) -> (u16, Vec<(String, String)>, String) {
        let (s, h, b) = full_request(
            self.addr,
            "POST",
            path,
            &[
                ("cookie", &self.cookie),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some(form(pairs)),
        );
        assert_console_headers(path, &h);
        (s, h, String::from_utf8_lossy(&b).into_owned())
    }

    /// The CSRF token of the session, from the sign-out form every page carries.
    fn csrf(&self) -> String {
        let (s, page) = self.get("/console");
        assert_eq!(s, 200, "{page}");
        let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
        page[at..].split('"').next().unwrap().to_owned()
    }
}

fn dts_roots(addr: SocketAddr, token: &str) -> Vec<serde_json::Value> {
    let (s, b) = call(addr, token, "GET", "/v1/ecosystems/certificates/ca", None);
    assert_eq!(s, 200, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    v["data"].as_array().unwrap().clone()
}

fn audit_events(addr: SocketAddr, token: &str) -> Vec<String> {
    let (s, b) = call(addr, token, "GET", "/v1/audit-events?limit=1000", None);
    assert_eq!(s, 200, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn console_security() {
    let hsm = TestToken::new("console-sec");
    let mut d = Daemon::start(&hsm);
    d.wait_status("/readyz", 200, std::time::Duration::from_secs(60));
    let admin_a = d.create_token("org.a", &["admin"]);
    let admin_b = d.create_token("org.b", &["admin"]);
    let auditor_a = d.create_token("org.a", &["auditor"]);
    let addr = d.addr;

    // Not signed in: pages send to the sign-in page; the sign-in page and assets have the
    // headers too.
    let anon = Browser {
        addr,
        cookie: "hsm_pki_session=nothing".into(),
    };
    let (s, _) = anon.get("/console/sign-in");
    assert_eq!(s, 200);
    let (s, js) = anon.get("/console/assets/console.js");
    assert_eq!(s, 200);
    assert!(js.contains("use strict"));
    let (s, h, _) = full_request(addr, "GET", "/console", &[], None);
    assert_console_headers("/console", &h);
    assert_eq!((s, header(&h, "location")), (303, Some("/console/sign-in")));

    // A wrong token: refused, audited like the API's 401.
    let (s, h, b) = full_request(
        addr,
        "POST",
        "/console/sign-in",
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(form(&[(
            "token",
            "hpk_0011223344556677_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )])),
    );
    assert_console_headers("sign-in", &h);
    assert_eq!(s, 401);
    assert!(header(&h, "set-cookie").is_none());
    assert!(
        !String::from_utf8_lossy(&b).contains("AAAAAAAAAAAAAAAA"),
        "the token is not echoed"
    );

    // A sign-in posted by a page of another site (login CSRF): refused before the token is
    // even checked, with a valid token; the same from our own origin signs in.
    for (name, value) in [
        ("origin", "https://evil.example".to_owned()),
        ("sec-fetch-site", "cross-site".to_owned()),
    ] {
        let (s, h, _) = full_request(
            addr,
            "POST",
            "/console/sign-in",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                (name, value.as_str()),
            ],
            Some(form(&[("token", admin_a.as_str())])),
        );
        assert_eq!(s, 403, "{name}: {value}");
        assert!(header(&h, "set-cookie").is_none());
    }
    let own = format!("http://{addr}");
    let (s, h, _) = full_request(
        addr,
        "POST",
        "/console/sign-in",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", own.as_str()),
            ("sec-fetch-site", "same-origin"),
        ],
        Some(form(&[("token", admin_a.as_str())])),
    );
    assert_eq!(s, 303);
    assert!(header(&h, "set-cookie").is_some());

    let a = sign_in(addr, &admin_a);
    let csrf = a.csrf();

    // The session cookie without the CSRF token: 403, nothing created.
    let root = [
        ("commonName", "Console Root A"),
        ("country", "US"),
        ("organisationName", "Org A"),
        ("issuerAlternativeNameConf.uri", "https://a.example.com"),
    ];
    let (s, _, _) = a.post("/console/ca/dts-roots", &root);
    assert_eq!(s, 403);
    let (s, _, _) = a.post(
        "/console/ca/dts-roots",
        &[root[0], root[1], root[2], root[3], ("csrf", "wrong")],
    );
    assert_eq!(s, 403);
    assert!(dts_roots(addr, &admin_a).is_empty(), "nothing changed");

    // With it: created, through the API's operation (the API sees it).
    let (s, h, b) = a.post(
        "/console/ca/dts-roots",
        &[root[0], root[1], root[2], root[3], ("csrf", &csrf)],
    );
    assert_eq!(s, 303, "{b}");
    let roots = dts_roots(addr, &admin_a);
    assert_eq!(roots.len(), 1);
    let id = roots[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        header(&h, "location"),
        Some(format!("/console/ca/dts-roots/{id}").as_str())
    );
    let (s, page) = a.get(&format!("/console/ca/dts-roots/{id}"));
    assert_eq!(s, 200);
    assert!(page.contains("Console Root A"));

    // An API error shows next to its field.
    let (s, _, page) = a.post(
        "/console/ca/dts-roots",
        &[("commonName", "X"), ("country", "USA"), ("csrf", &csrf)],
    );
    assert_eq!(s, 400, "{page}");
    assert!(page.contains("aria-invalid=\"true\""), "{page}");

    // Tenant B's session sees nothing of tenant A.
    let b_session = sign_in(addr, &admin_b);
    let (s, page) = b_session.get("/console/ca/dts-roots");
    assert_eq!(s, 200);
    assert!(!page.contains(&id) && !page.contains("Console Root A"));
    let (s, page) = b_session.get("/console/audit");
    assert_eq!(s, 200);
    assert!(!page.contains(&id), "A's events are not in B's audit page");
    let (s, _) = b_session.get(&format!("/console/ca/dts-roots/{id}"));
    assert_eq!(s, 404);
    let (s, _) = b_session.get(&format!("/console/ca/dts-roots/{id}/certificate.pem"));
    assert_eq!(s, 404);
    let b_csrf = b_session.csrf();
    let (s, _, _) = b_session.post(
        &format!("/console/ca/dts-roots/{id}"),
        &[("action", "delete"), ("csrf", &b_csrf)],
    );
    assert_eq!(s, 404);
    assert_eq!(dts_roots(addr, &admin_a).len(), 1);
    // One session's CSRF token is no other's.
    let (s, _, _) = a.post(
        "/console/ca/dts-roots",
        &[root[0], root[1], root[2], root[3], ("csrf", &b_csrf)],
    );
    assert_eq!(s, 403);

    // An auditor's session: no create form, and a create is refused (and audited).
    let aud = sign_in(addr, &auditor_a);
    let aud_csrf = aud.csrf();
    let (s, _) = aud.get("/console/ca/dts-roots");
    assert_eq!(
        s, 403,
        "an auditor may not list DTS roots through the API either"
    );
    let (s, _, _) = aud.post(
        "/console/ca/dts-roots",
        &[
            ("commonName", "Auditor Root"),
            ("country", "US"),
            ("csrf", &aud_csrf),
        ],
    );
    assert_eq!(s, 403);
    let (s, _, _) = aud.post(
        "/console/keys",
        &[("algorithm", "secp256r1"), ("csrf", &aud_csrf)],
    );
    assert_eq!(s, 403);
    assert_eq!(dts_roots(addr, &admin_a).len(), 1);
    let (s, page) = aud.get("/console/audit");
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("CONSOLE_SIGN_IN_SUCCESS"));
    assert!(!page.contains("Create"), "no create form for an auditor");
    let (s, page) = aud.get("/console/audit?verify=1");
    assert_eq!(s, 200);
    assert!(page.contains("id=\"chain\""), "{page}");

    // Sign-out kills the session: the cookie is dead for pages and actions alike.
    let (s, h, _) = a.post("/console/sign-out", &[("csrf", &csrf)]);
    assert_eq!(s, 303);
    assert!(header(&h, "set-cookie").unwrap().contains("Max-Age=0"));
    let (s, _) = a.get("/console/ca/dts-roots");
    assert_eq!(s, 303);
    let (s, _, _) = a.post(
        "/console/ca/dts-roots",
        &[("commonName", "After"), ("country", "US"), ("csrf", &csrf)],
    );
    assert_eq!(s, 401);
    assert_eq!(dts_roots(addr, &admin_a).len(), 1);

    let events = audit_events(addr, &admin_a);
    for e in [
        "CONSOLE_SIGN_IN_SUCCESS",
        "CONSOLE_SIGN_OUT_SUCCESS",
        "ECOSYSTEM_DTS_CA_CERTIFICATE_CREATE_SUCCESS",
        "AUTHORIZATION_FAIL",
    ] {
        assert!(events.iter().any(|x| x.contains(e)), "{e} in {events:?}");
    }
    assert!(
        !d.log_text().contains(&a.cookie[16..]),
        "the session id is never logged"
    );
    d.stop();
}

#[test]
fn session_expiry_is_audited() {
    let hsm = TestToken::new("console-exp");
    let mut d = Daemon::start_with(&hsm, "[console]\nidle_timeout_secs = 1\n");
    d.wait_status("/readyz", 200, std::time::Duration::from_secs(60));
    let admin = d.create_token("org.a", &["admin"]);
    let a = sign_in(d.addr, &admin);
    let (s, _) = a.get("/console");
    assert_eq!(s, 200);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (s, _) = a.get("/console");
    assert_eq!(s, 303, "idle too long: signed out");
    let events = audit_events(d.addr, &admin);
    assert!(
        events
            .iter()
            .any(|e| e == "CONSOLE_SESSION_EXPIRED_SUCCESS"),
        "{events:?}"
    );
    d.stop();
}

/// The Python with Selenium: `HSM_PKI_PKILINT_BIN`'s venv (scripts/test installs it there).
fn selenium_python() -> std::path::PathBuf {
    let py = common::pkilint_bin("python");
    let ok = std::process::Command::new(&py)
        .args(["-c", "import selenium"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{py:?} has no selenium: run scripts/test, which installs it"
    );
    for bin in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        assert!(
            std::path::Path::new(bin).exists(),
            "{bin} missing: run scripts/test, which installs chromium and chromium-driver"
        );
    }
    py
}

/// An operator's session in headless Chromium, then its results through the API. The
/// screenshots go to `docs/screenshots/` (the README shows them).
#[test]
fn browser_walkthrough() {
    let py = selenium_python();
    let hsm = TestToken::new("console-ui");
    let mut d = Daemon::start(&hsm);
    d.wait_status("/readyz", 200, std::time::Duration::from_secs(60));
    let admin = d.create_token("example.operators", &["admin"]);
    let work = tempfile::tempdir().unwrap();
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = std::process::Command::new(&py)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/console_browser.py"
        ))
        .arg(format!("http://{}", d.addr))
        .arg(&admin)
        .arg(work.path())
        .arg(&shots)
        .output()
        .expect("run console_browser.py");
    assert!(
        out.status.success(),
        "console_browser.py failed (see {:?}/failure.png): {}\n{}",
        work.keep(),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let ids: serde_json::Value =
        serde_json::from_slice(out.stdout.trim_ascii()).expect("the script's JSON line");

    // Through the API: the managed root has its key here, the offline one none; the VICAL
    // signer is active with the certificate openssl signed; the generic and CSR certificates
    // are stored; the VICAL is published; the DS is revoked, on the CRL the page showed.
    let get = |path: &str| {
        let (s, b) = call(d.addr, &admin, "GET", path, None);
        assert_eq!(s, 200, "{path}: {b}");
        serde_json::from_str::<serde_json::Value>(&b).unwrap()
    };
    let managed = get(&format!(
        "/v1/ecosystems/certificates/ca/{}",
        ids["managedRoot"].as_str().unwrap()
    ));
    assert_eq!(managed["isManaged"], true);
    let offline = get(&format!(
        "/v1/ecosystems/certificates/ca/{}",
        ids["offlineRoot"].as_str().unwrap()
    ));
    assert_eq!(offline["isManaged"], false);
    let signer = get(&format!(
        "/v1/ecosystems/certificates/vical-signers/{}",
        ids["vicalSigner"].as_str().unwrap()
    ));
    assert_eq!(signer["active"], true, "{signer}");
    assert_eq!(signer["caId"], ids["offlineRoot"]);
    assert!(
        signer["certificatePem"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    let events = audit_events(d.addr, &admin);
    for e in [
        "CONSOLE_SIGN_IN_SUCCESS",
        "X509_IACA_CERTIFICATE_CREATE_SUCCESS",
        "X509_DOCUMENT_SIGNER_CERTIFICATE_CREATE_SUCCESS",
        "X509_CERTIFICATE_REVOKE_SUCCESS",
        "X509_CERTIFICATE_CREATE_SUCCESS",
        "ECOSYSTEM_CREATE_SUCCESS",
        "ECOSYSTEM_VICAL_CONFIGURATION_UPDATE_SUCCESS",
        "ECOSYSTEM_VICAL_PUBLISH_SUCCESS",
        "CONSOLE_SIGN_OUT_SUCCESS",
    ] {
        assert!(events.iter().any(|x| x == e), "{e} in {events:?}");
    }
    let store = get("/v1/example.operators.x509-store-1/x509-store-api/certificates");
    let stored: Vec<&str> = store["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["storedCertificateId"].as_str().unwrap())
        .collect();
    assert_eq!(stored.len(), 4, "{store}");
    for id in ["console-generic", "console-from-csr"] {
        let full = format!("example.operators.x509-store-1.{id}");
        assert!(stored.contains(&full.as_str()), "{full} in {stored:?}");
    }
    // The CSR's key (openssl's, in the work directory) is the one certified.
    let from_csr = get(
        "/v1/example.operators.x509-store-1/x509-store-api/certificates/\
         example.operators.x509-store-1.console-from-csr",
    );
    let cert_file = work.path().join("from-csr.pem");
    std::fs::write(&cert_file, from_csr["certificatePEM"].as_str().unwrap()).unwrap();
    let pubkey = |args: &[&str]| {
        let (ok, out) = common::openssl(args);
        assert!(ok, "{out}");
        out
    };
    assert_eq!(
        pubkey(&[
            "x509",
            "-noout",
            "-pubkey",
            "-in",
            cert_file.to_str().unwrap()
        ]),
        pubkey(&[
            "req",
            "-noout",
            "-pubkey",
            "-in",
            work.path().join("service.csr").to_str().unwrap()
        ])
    );
    // The VICAL the console published (and downloaded) verifies, and lists the IACA.
    let ecosystem = ids["ecosystem"].as_str().unwrap();
    let (s, _, public) = full_request(
        d.addr,
        "GET",
        &format!("/v1/ecosystems/{ecosystem}/vicals/public/latest"),
        &[],
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(
        std::fs::read(work.path().join("vical.cbor")).unwrap(),
        public,
        "the console's download is the published VICAL"
    );
    let out = std::process::Command::new(common::pkilint_bin("python3"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/vical_check.py"
        ))
        .arg("--root")
        .arg(work.path().join("root.pem"))
        .arg("--member")
        .arg(work.path().join("member.pem"))
        .arg(work.path().join("vical.cbor"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The DS is on its IACA key's CRL (the API's revocation answer names it).
    let (s, b) = call(
        d.addr,
        &admin,
        "POST",
        &format!(
            "/v1/example.operators.x509-service-1/x509-service-api/certificates/{}/revoke",
            ids["dsSerial"].as_str().unwrap()
        ),
        Some("{}"),
    );
    assert_eq!(s, 200, "revoked already, the same answer: {b}");
    let r: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(
        r["crlCaId"], ids["iacaCrl"],
        "the CRL page's row of the IACA key"
    );
    let crl_path = format!("/crl/{}.crl", r["crlCaId"].as_str().unwrap());
    let (s, _, der) = full_request(d.addr, "GET", &crl_path, &[], None);
    assert_eq!(s, 200);
    let crl_file = work.path().join("ds.crl");
    std::fs::write(&crl_file, der).unwrap();
    let (ok, text) = common::openssl(&[
        "crl",
        "-inform",
        "DER",
        "-noout",
        "-text",
        "-in",
        crl_file.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let serial = ids["dsSerial"]
        .as_str()
        .unwrap()
        .replace(':', "")
        .to_uppercase();
    assert!(
        text.replace(':', "").to_uppercase().contains(&serial),
        "{serial} in {text}"
    );
    d.stop();
}

// --- issuance, VICAL and CRL pages ------------------------------------------------------

fn api(
    addr: SocketAddr,
    token: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let body = body.map(|b| b.to_string());
    let (s, b) = call(addr, token, method, path, body.as_deref());
    (
        s,
        serde_json::from_str(&b).unwrap_or(serde_json::Value::Null),
    )
}

/// A stored certificate of tenant `org.a` by its local id: status and PEM.
fn stored(addr: SocketAddr, token: &str, id: &str) -> (u16, String) {
    let (s, v) = api(
        addr,
        token,
        "GET",
        &format!("/v1/org.a.x509-store-1/x509-store-api/certificates/org.a.x509-store-1.{id}"),
        None,
    );
    (s, v["certificatePEM"].as_str().unwrap_or("").to_owned())
}

/// The page shows the API's error next to the form field `name` (and the field marked).
fn assert_field_error(page: &str, name: &str) {
    assert!(
        page.contains(&format!("aria-describedby=\"f-{name}-err\""))
            && page.contains(&format!("<p class=\"field-error\" id=\"f-{name}-err\">")),
        "no error next to {name}: {page}"
    );
}

fn ossl(args: &[&str]) -> String {
    let (ok, out) = common::openssl(args);
    assert!(ok, "openssl {args:?}: {out}");
    out
}

fn audit_count(addr: SocketAddr, token: &str, event: &str) -> usize {
    audit_events(addr, token)
        .iter()
        .filter(|e| *e == event)
        .count()
}

/// Generic certificates from a token key and from a pasted CSR: the forms decode into the
/// API's request and call its operation, so success is seen through the store API and
/// openssl, and a refusal (bad input, no CSRF token, an auditor's roles) changes nothing.
#[test]
fn generic_and_csr_issuance_forms() {
    let hsm = TestToken::new("console-gen");
    let mut d = Daemon::start(&hsm);
    d.wait_status("/readyz", 200, std::time::Duration::from_secs(60));
    let admin = d.create_token("org.a", &["admin"]);
    let auditor = d.create_token("org.a", &["auditor"]);
    let addr = d.addr;
    for k in ["gen-root", "gen-leaf"] {
        let (s, v) = api(
            addr,
            &admin,
            "POST",
            "/v1/keys",
            Some(serde_json::json!({"keyId": k, "algorithm": "secp256r1"})),
        );
        assert_eq!(s, 201, "{v}");
    }
    let a = sign_in(addr, &admin);
    let csrf = a.csrf();
    let aud = sign_in(addr, &auditor);
    let aud_csrf = aud.csrf();

    let (s, page) = a.get("/console/issue/generic");
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("value=\"org.a.kms.gen-root\""), "{page}");
    assert!(
        page.contains("href=\"/console/issue/csr\""),
        "in the navigation"
    );
    let (s, _) = aud.get("/console/issue/generic");
    assert_eq!(s, 403, "an auditor may not issue through the API either");

    fn root(csrf: &str) -> Vec<(&str, &str)> {
        let mut f = vec![
            (
                "subjectPublicKeySource.keyDescriptor.keyIdPath",
                "org.a.kms.gen-root",
            ),
            ("issuer.type", "self-signed"),
            ("issuer.issuerKeyDescriptor.keyIdPath", ""),
            (
                "certificateData.subjectName.commonName",
                "Console Generic Root",
            ),
            ("certificateData.subjectName.country", "NZ"),
            ("certificateData.isCertificateAuthority", "true"),
            ("certificateData.pathLengthConstraint", "0"),
            ("certificateData.keyUsage", "KeyCertSign, CRLSign"),
            ("storedCertificateId", "gen-root"),
        ];
        if !csrf.is_empty() {
            f.push(("csrf", csrf));
        }
        f
    }

    // No CSRF token, an auditor's session: 403, nothing issued.
    let (s, _, _) = a.post("/console/issue/generic", &root(""));
    assert_eq!(s, 403);
    let (s, _, _) = aud.post("/console/issue/generic", &root(&aud_csrf));
    assert_eq!(s, 403);
    assert_eq!(stored(addr, &admin, "gen-root").0, 404, "nothing issued");

    // The API's rules, shown at their fields: a three-letter country, a path length that
    // is no number, an unknown key usage.
    for (field, bad) in [
        ("certificateData.subjectName.country", "NZL"),
        ("certificateData.pathLengthConstraint", "zero"),
        ("certificateData.keyUsage", "KeyCertSign, Signing"),
    ] {
        let mut f = root(&csrf);
        f.iter_mut().find(|(k, _)| *k == field).unwrap().1 = bad;
        let (s, _, page) = a.post("/console/issue/generic", &f);
        assert_eq!(s, 400, "{field}: {page}");
        assert_field_error(&page, field);
        assert!(
            page.contains(&format!("value=\"{bad}\"")),
            "the input is kept"
        );
        assert_eq!(
            stored(addr, &admin, "gen-root").0,
            404,
            "{field}: nothing issued"
        );
    }

    // Issued: the store has it, a CA certificate as asked.
    let (s, h, page) = a.post("/console/issue/generic", &root(&csrf));
    assert_eq!(s, 303, "{page}");
    assert_eq!(
        header(&h, "location"),
        Some("/console/certificates?q=org.a.x509-store-1.gen-root&done=issued")
    );
    let (s, root_pem) = stored(addr, &admin, "gen-root");
    assert_eq!(s, 200);
    let dir = tempfile::tempdir().unwrap();
    let file = |n: &str, text: &str| {
        let p = dir.path().join(n);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let root_file = file("root.pem", &root_pem);
    let text = ossl(&["x509", "-noout", "-text", "-in", &root_file]);
    assert!(
        text.contains("CA:TRUE, pathlen:0") && text.contains("CN = Console Generic Root"),
        "{text}"
    );

    // A leaf signed by that CA key, with subject alternative names from a list field.
    let (s, _, page) = a.post(
        "/console/issue/generic",
        &[
            (
                "subjectPublicKeySource.keyDescriptor.keyIdPath",
                "org.a.kms.gen-leaf",
            ),
            ("issuer.type", "ca-signed"),
            ("issuer.issuerKeyDescriptor.keyIdPath", "org.a.kms.gen-root"),
            ("certificateData.subjectName.commonName", "leaf.example.com"),
            ("certificateData.isCertificateAuthority", "false"),
            ("certificateData.keyUsage", "DigitalSignature"),
            (
                "certificateData.subjectAlternativeNames.dnsNames",
                "leaf.example.com,\nwww.example.com",
            ),
            ("storedCertificateId", "gen-leaf"),
            ("csrf", &csrf),
        ],
    );
    assert_eq!(s, 303, "{page}");
    let (_, leaf_pem) = stored(addr, &admin, "gen-leaf");
    let leaf_file = file("leaf.pem", &leaf_pem);
    let out = ossl(&["verify", "-x509_strict", "-CAfile", &root_file, &leaf_file]);
    assert!(out.contains("OK"), "{out}");
    let text = ossl(&[
        "x509",
        "-noout",
        "-ext",
        "subjectAltName",
        "-in",
        &leaf_file,
    ]);
    assert!(
        text.contains("DNS:leaf.example.com, DNS:www.example.com"),
        "{text}"
    );

    // From a CSR made outside (openssl): its key is certified by the CA key.
    let key = dir.path().join("csr.key");
    let csr = dir.path().join("csr.pem");
    ossl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key.to_str().unwrap(),
        "-subj",
        "/CN=From CSR",
        "-out",
        csr.to_str().unwrap(),
    ]);
    let csr_pem = std::fs::read_to_string(&csr).unwrap();
    let csr_pem = csr_pem.as_str();
    fn from_csr<'a>(pem: &'a str, issuer: &'a str, csrf: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut f = vec![
            ("subjectPublicKeySource.csrPEM", pem),
            ("issuer.issuerKeyDescriptor.keyIdPath", issuer),
            ("certificateData.subjectName.commonName", "From CSR"),
            ("certificateData.subjectName.country", "NZ"),
            ("certificateData.keyUsage", "DigitalSignature"),
            ("storedCertificateId", "from-csr"),
        ];
        if !csrf.is_empty() {
            f.push(("csrf", csrf));
        }
        f
    }
    let (s, page) = a.get("/console/issue/csr");
    assert_eq!(s, 200);
    assert!(
        page.contains("data-file="),
        "the PEM field may be read from a file"
    );
    let (s, _, _) = a.post(
        "/console/issue/csr",
        &from_csr(csr_pem, "org.a.kms.gen-root", ""),
    );
    assert_eq!(s, 403);
    let (s, _, _) = aud.post(
        "/console/issue/csr",
        &from_csr(csr_pem, "org.a.kms.gen-root", &aud_csrf),
    );
    assert_eq!(s, 403);
    let (s, _, page) = a.post(
        "/console/issue/csr",
        &from_csr("not a CSR", "org.a.kms.gen-root", &csrf),
    );
    assert_eq!(s, 400, "{page}");
    assert_field_error(&page, "subjectPublicKeySource.csrPEM");
    let (s, _, page) = a.post("/console/issue/csr", &from_csr(csr_pem, "", &csrf));
    assert_eq!(s, 400, "{page}");
    assert_field_error(&page, "issuer.issuerKeyDescriptor.keyIdPath");
    assert_eq!(stored(addr, &admin, "from-csr").0, 404, "nothing issued");
    let (s, _, page) = a.post(
        "/console/issue/csr",
        &from_csr(csr_pem, "org.a.kms.gen-root", &csrf),
    );
    assert_eq!(s, 303, "{page}");
    let (_, pem) = stored(addr, &admin, "from-csr");
    let cert_file = file("from-csr-cert.pem", &pem);
    let out = ossl(&["verify", "-x509_strict", "-CAfile", &root_file, &cert_file]);
    assert!(out.contains("OK"), "{out}");
    assert_eq!(
        ossl(&["x509", "-noout", "-pubkey", "-in", &cert_file]),
        ossl(&["req", "-noout", "-pubkey", "-in", csr.to_str().unwrap()]),
        "the CSR's key is certified"
    );
    assert_eq!(
        audit_count(addr, &admin, "X509_CERTIFICATE_CREATE_SUCCESS"),
        3
    );
    assert!(
        !d.log_text().contains("PRIVATE KEY"),
        "no key material in the log"
    );
    d.stop();
}

/// The operator's offline DTS root (openssl) uploaded, and an active VICAL signer it
/// certified: what a publication needs besides the ecosystem. Returns the root's PEM file.
fn offline_vical_signer(addr: SocketAddr, token: &str, dir: &std::path::Path) -> String {
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
        "[req]\ndistinguished_name = dn\nx509_extensions = v3\nprompt = no\n\
         [dn]\nC = US\nO = Example DTS\nCN = Console DTS Root\n\
         [v3]\nbasicConstraints = critical,CA:TRUE,pathlen:0\n\
         keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n\
         authorityKeyIdentifier = keyid:always\nissuerAltName = URI:https://dts.example.org\n",
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
    let root_pem = std::fs::read_to_string(p("root.pem")).unwrap();
    let (s, root) = api(
        addr,
        token,
        "POST",
        "/v1/ecosystems/certificates/ca",
        Some(serde_json::json!({"certificatePem": root_pem})),
    );
    assert_eq!(s, 201, "{root}");
    let (s, signer) = api(
        addr,
        token,
        "POST",
        "/v1/ecosystems/certificates/vical-signers",
        Some(serde_json::json!({"caId": root["id"]})),
    );
    assert_eq!(s, 201, "{signer}");
    std::fs::write(p("signer.csr"), signer["csrPem"].as_str().unwrap()).unwrap();
    std::fs::write(
        p("signer.ext"),
        "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
         extendedKeyUsage = 1.0.18013.5.1.8\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n",
    )
    .unwrap();
    ossl(&[
        "x509",
        "-req",
        "-in",
        &p("signer.csr"),
        "-CA",
        &p("root.pem"),
        "-CAkey",
        &p("root.key"),
        "-extfile",
        &p("signer.ext"),
        "-days",
        "365",
        "-sha256",
        "-out",
        &p("signer.pem"),
    ]);
    let path = format!(
        "/v1/ecosystems/certificates/vical-signers/{}",
        signer["id"].as_str().unwrap()
    );
    let pem = std::fs::read_to_string(p("signer.pem")).unwrap();
    let (s, v) = api(
        addr,
        token,
        "PUT",
        &path,
        Some(serde_json::json!({"certificatePem": pem})),
    );
    assert_eq!(s, 200, "{v}");
    let (s, v) = api(
        addr,
        token,
        "PUT",
        &path,
        Some(serde_json::json!({"active": true})),
    );
    assert_eq!(s, 200, "{v}");
    p("root.pem")
}

/// Ecosystems, the VICAL configuration and "publish now" from forms: published VICALs are
/// fetched from the public route and checked by `tests/data/vical_check.py` (cbor2, pycose);
/// refusals (bad input, no CSRF token, an auditor's roles) change nothing.
#[test]
fn vical_configuration_and_publication_forms() {
    let hsm = TestToken::new("console-vical");
    let mut d = Daemon::start(&hsm);
    d.wait_status("/readyz", 200, std::time::Duration::from_secs(60));
    let (ok, out) = d.cli(&[
        "tenant",
        "set",
        "--tenant",
        "org.a",
        "--country",
        "US",
        "--issuer-alt-uri",
        "https://dts.example.org",
    ]);
    assert!(ok, "{out}");
    let admin = d.create_token("org.a", &["admin"]);
    let auditor = d.create_token("org.a", &["auditor"]);
    let addr = d.addr;
    let dir = tempfile::tempdir().unwrap();
    let root_file = offline_vical_signer(addr, &admin, dir.path());
    let a = sign_in(addr, &admin);
    let csrf = a.csrf();
    let aud = sign_in(addr, &auditor);
    let aud_csrf = aud.csrf();
    let ecosystems = || {
        let (s, v) = api(addr, &admin, "GET", "/v1/ecosystems", None);
        assert_eq!(s, 200, "{v}");
        v["data"].as_array().unwrap().clone()
    };

    // An ecosystem from the form; refused without CSRF, for an auditor, and with no name.
    let (s, _, _) = a.post("/console/vicals", &[("name", "Console")]);
    assert_eq!(s, 403);
    let (s, _, _) = aud.post(
        "/console/vicals",
        &[("name", "Console"), ("csrf", &aud_csrf)],
    );
    assert_eq!(s, 403);
    let (s, _, page) = a.post("/console/vicals", &[("name", " "), ("csrf", &csrf)]);
    assert_eq!(s, 400, "{page}");
    assert_field_error(&page, "name");
    assert!(ecosystems().is_empty(), "nothing created");
    let (s, h, page) = a.post("/console/vicals", &[("name", "Console"), ("csrf", &csrf)]);
    assert_eq!(s, 303, "{page}");
    let eco = ecosystems()[0]["id"].as_str().unwrap().to_owned();
    let here = format!("/console/vicals/{eco}");
    assert_eq!(header(&h, "location"), Some(here.as_str()));

    // An issuing participant (through the API) with a managed IACA.
    let (s, iaca) = api(
        addr,
        &admin,
        "POST",
        "/v2/credentials/mobile/iacas",
        Some(serde_json::json!({"commonName": "Console Member IACA"})),
    );
    assert_eq!(s, 201, "{iaca}");
    let member = dir.path().join("member.pem");
    std::fs::write(&member, iaca["certificatePem"].as_str().unwrap()).unwrap();
    let (s, v) = api(
        addr,
        &admin,
        "POST",
        &format!("/v1/ecosystems/{eco}/participants"),
        Some(
            serde_json::json!({"name": "Member", "identifiers": {"mobile": [iaca["certificatePem"]]}, "isIssuer": true}),
        ),
    );
    assert_eq!(s, 201, "{v}");

    let config = || {
        api(
            addr,
            &admin,
            "GET",
            &format!("/v1/ecosystems/{eco}/vicals/configuration"),
            None,
        )
    };
    let published = || {
        let (s, b) = common::http(
            addr,
            "GET",
            &format!("/v1/ecosystems/{eco}/vicals/public"),
            None,
        );
        assert_eq!(s, 200, "{b}");
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        v["data"].as_array().unwrap().len()
    };

    // Publishing before the configuration: the API's 409, shown on the page; nothing out.
    let (s, _, page) = a.post(&here, &[("action", "publish"), ("csrf", &csrf)]);
    assert_eq!(s, 409, "{page}");
    assert!(page.contains("VicalNotConfigured"), "{page}");
    assert_eq!(published(), 0);

    // The configuration: refused without CSRF, for an auditor, and with a bad frequency
    // (shown at its field); then saved.
    let conf = |freq: &'static str, csrf: &str| -> Vec<(&'static str, String)> {
        let mut f = vec![
            ("action", "configure".to_owned()),
            ("vicalProvider", "Console DTS".to_owned()),
            ("autoPublish.enabled", "false".to_owned()),
            ("autoPublish.frequency", freq.to_owned()),
        ];
        if !csrf.is_empty() {
            f.push(("csrf", csrf.to_owned()));
        }
        f
    };
    let post = |b: &Browser, f: Vec<(&'static str, String)>| {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        b.post(&here, &pairs)
    };
    assert_eq!(post(&a, conf("Weekly", "")).0, 403);
    assert_eq!(post(&aud, conf("Weekly", &aud_csrf)).0, 403);
    let (s, _, page) = post(&a, conf("Hourly", &csrf));
    assert_eq!(s, 400, "{page}");
    assert_field_error(&page, "autoPublish.frequency");
    assert_eq!(config().0, 404, "nothing configured");
    let (s, _, page) = post(&a, conf("Weekly", &csrf));
    assert_eq!(s, 303, "{page}");
    let (s, c) = config();
    assert_eq!(s, 200);
    assert_eq!(
        c,
        serde_json::json!({"vicalProvider": "Console DTS", "autoPublish": {"enabled": false, "frequency": "Weekly"}})
    );

    // Publish: refused without CSRF and for an auditor; then published, listed, verifiable.
    let (s, _, _) = a.post(&here, &[("action", "publish")]);
    assert_eq!(s, 403);
    let (s, _, _) = aud.post(&here, &[("action", "publish"), ("csrf", &aud_csrf)]);
    assert_eq!(s, 403);
    let (s, _) = aud.get(&here);
    assert_eq!(s, 403);
    assert_eq!(published(), 0, "nothing published");
    let (s, h, page) = a.post(&here, &[("action", "publish"), ("csrf", &csrf)]);
    assert_eq!(s, 303, "{page}");
    assert_eq!(
        header(&h, "location").unwrap(),
        format!("{here}?done=published%20VICAL%201")
    );
    assert_eq!(published(), 1);
    let (s, page) = a.get(&format!("{here}?done=published%20VICAL%201"));
    assert_eq!(s, 200);
    assert!(
        page.contains("Done: published VICAL 1.") && page.contains(&format!("{here}/vical-1.cbor")),
        "{page}"
    );
    let (s, h, body) = full_request(
        addr,
        "GET",
        &format!("{here}/vical-1.cbor"),
        &[("cookie", &a.cookie)],
        None,
    );
    assert_eq!(s, 200);
    assert!(
        header(&h, "content-disposition")
            .unwrap()
            .starts_with("attachment")
    );
    let (s, _, public) = full_request(
        addr,
        "GET",
        &format!("/v1/ecosystems/{eco}/vicals/public/1"),
        &[],
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(body, public, "the download is the published VICAL");
    let f = dir.path().join("vical.cbor");
    std::fs::write(&f, &body).unwrap();
    let out = std::process::Command::new(common::pkilint_bin("python3"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/vical_check.py"
        ))
        .args(["--root", &root_file, "--member", member.to_str().unwrap()])
        .arg(&f)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Removing the configuration: refused for an auditor; then gone.
    let (s, _, _) = aud.post(&here, &[("action", "unconfigure"), ("csrf", &aud_csrf)]);
    assert_eq!(s, 403);
    assert_eq!(config().0, 200);
    let (s, _, _) = a.post(&here, &[("action", "unconfigure"), ("csrf", &csrf)]);
    assert_eq!(s, 303);
    assert_eq!(config().0, 404);
    // Another tenant's session: not found.
    let other = d.create_token("org.b", &["admin"]);
    let b = sign_in(addr, &other);
    assert_eq!(b.get(&here).0, 404);
    assert_eq!(b.get(&format!("{here}/vical-1.cbor")).0, 404);
    assert_eq!(
        audit_count(addr, &admin, "ECOSYSTEM_VICAL_PUBLISH_SUCCESS"),
        1
    );
    d.stop();
}

/// openssl's `Dec  2 07:00:00 2026 GMT` as RFC 3339.
fn openssl_time(s: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let p: Vec<&str> = s.split_whitespace().collect();
    let m = MONTHS.iter().position(|m| *m == p[0]).unwrap() + 1;
    format!(
        "{}-{m:02}-{:02}T{}Z",
        p[3],
        p[1].parse::<u32>().unwrap(),
        p[2]
    )
}

/// The CRL page lists each CRL issuer of the tenant with what `GET /crl/{caId}.crl` serves
/// (read with openssl), and only the issuers the session's roles may see.
#[test]
fn crl_page_shows_what_the_public_route_serves() {
    let hsm = TestToken::new("console-crl");
    let mut d = Daemon::start(&hsm);
    d.wait_status("/readyz", 200, std::time::Duration::from_secs(60));
    let admin = d.create_token("org.a", &["admin"]);
    let issuer = d.create_token("org.a", &["issuer"]);
    let auditor = d.create_token("org.a", &["auditor"]);
    let addr = d.addr;
    let (s, v) = api(
        addr,
        &admin,
        "POST",
        "/v1/keys",
        Some(serde_json::json!({"keyId": "crl-ca", "algorithm": "secp256r1"})),
    );
    assert_eq!(s, 201, "{v}");
    let (s, v) = api(
        addr,
        &admin,
        "POST",
        "/v1/keys",
        Some(serde_json::json!({"keyId": "crl-leaf", "algorithm": "secp256r1"})),
    );
    assert_eq!(s, 201, "{v}");
    let kms = |k: &str| serde_json::json!({"type": "kms-hosted-key-descriptor", "keyIdPath": format!("org.a.kms.{k}")});
    let target = "/v1/org.a.x509-service-1/x509-service-api/certificate";
    let (s, v) = api(
        addr,
        &admin,
        "POST",
        target,
        Some(serde_json::json!({
        "certificateData": {"subjectName": {"commonName": "CRL Page CA", "country": "NZ"},
            "isCertificateAuthority": true, "keyUsage": ["KeyCertSign", "CRLSign"]},
        "subjectPublicKeySource": {"type": "key-descriptor", "keyDescriptor": kms("crl-ca")},
        "issuer": {"type": "self-signed"}})),
    );
    assert_eq!(s, 200, "{v}");
    let (s, leaf) = api(
        addr,
        &admin,
        "POST",
        target,
        Some(serde_json::json!({
        "certificateData": {"subjectName": {"commonName": "CRL Page Leaf"}, "keyUsage": ["DigitalSignature"]},
        "subjectPublicKeySource": {"type": "key-descriptor", "keyDescriptor": kms("crl-leaf")},
        "issuer": {"type": "ca-signed", "issuerKeyDescriptor": kms("crl-ca")}})),
    );
    assert_eq!(s, 200, "{leaf}");
    // A managed DTS root is a CRL issuer too, but not one an issuer's roles may see.
    let (s, dts) = api(
        addr,
        &admin,
        "POST",
        "/v1/ecosystems/certificates/ca",
        Some(serde_json::json!({
        "commonName": "CRL Page DTS Root", "country": "NZ", "organisationName": "Example",
        "issuerAlternativeNameConf": {"uri": "https://dts.example.org"}})),
    );
    assert_eq!(s, 201, "{dts}");
    let dts_id = dts["id"].as_str().unwrap().to_owned();

    // Revoke the leaf from the console's store page: the CA's CRL lists it.
    let a = sign_in(addr, &admin);
    let csrf = a.csrf();
    let full = leaf["storedCertificateIds"][0].as_str().unwrap();
    let (_, c) = api(
        addr,
        &admin,
        "GET",
        &format!("/v1/org.a.x509-store-1/x509-store-api/certificates/{full}"),
        None,
    );
    let serial = c["serialNumber"].as_str().unwrap().to_owned();
    let (s, _, page) = a.post(
        &format!("/console/certificates/{full}"),
        &[
            ("action", "revoke"),
            ("serial", &serial),
            ("reason", "superseded"),
            ("csrf", &csrf),
        ],
    );
    assert_eq!(s, 303, "{page}");
    let (s, r) = api(
        addr,
        &admin,
        "POST",
        &format!("/v1/org.a.x509-service-1/x509-service-api/certificates/{serial}/revoke"),
        Some(serde_json::json!({})),
    );
    assert_eq!(s, 200, "revoked already: {r}");
    let ca_id = r["crlCaId"].as_str().unwrap().to_owned();

    let (s, page) = a.get("/console/crls");
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("href=\"/console/crls\""), "in the navigation");
    // The row of the CA: its cells, in order.
    let row_of = |page: &str, id: &str| -> Option<Vec<String>> {
        let at = page.find(&format!("<tr><td><code>{id}</code>"))?;
        let row = &page[at..at + page[at..].find("</tr>").unwrap()];
        Some(
            row.split("<td>")
                .skip(1)
                .map(|c| c.trim_end_matches("</td>").to_owned())
                .collect(),
        )
    };
    let row = row_of(&page, &ca_id).unwrap_or_else(|| panic!("{ca_id} in {page}"));
    assert!(row[2].contains("CN=CRL Page CA"), "{row:?}");
    assert!(
        row[7].contains(&format!("href=\"/crl/{ca_id}.crl\"")),
        "{row:?}"
    );
    let (s, _, der) = full_request(addr, "GET", &format!("/crl/{ca_id}.crl"), &[], None);
    assert_eq!(s, 200);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("ca.crl");
    std::fs::write(&f, der).unwrap();
    let f = f.to_str().unwrap();
    let text = ossl(&["crl", "-inform", "DER", "-noout", "-text", "-in", f]);
    let number = ossl(&["crl", "-inform", "DER", "-noout", "-crlnumber", "-in", f]);
    let number = i64::from_str_radix(
        number
            .trim()
            .trim_start_matches("crlNumber=0x")
            .trim_start_matches("crlNumber="),
        16,
    )
    .unwrap();
    assert_eq!(row[3], number.to_string(), "cRLNumber: {text}");
    let last = ossl(&["crl", "-inform", "DER", "-noout", "-lastupdate", "-in", f]);
    let next = ossl(&["crl", "-inform", "DER", "-noout", "-nextupdate", "-in", f]);
    assert_eq!(
        row[4],
        openssl_time(last.trim().trim_start_matches("lastUpdate=")),
        "{text}"
    );
    assert_eq!(
        row[5],
        openssl_time(next.trim().trim_start_matches("nextUpdate=")),
        "{text}"
    );
    assert_eq!(
        row[6],
        text.matches("Serial Number:").count().to_string(),
        "{text}"
    );
    assert_eq!(row[6], "1");
    assert!(
        text.replace(':', "")
            .to_uppercase()
            .contains(&serial.replace(':', "").to_uppercase()),
        "{text}"
    );
    assert!(
        row_of(&page, &dts_id).is_some(),
        "an admin sees the DTS root's CRL"
    );

    // Roles: an issuer sees the X.509 CA's row but not the DTS root's; an auditor none.
    let i = sign_in(addr, &issuer);
    let (s, page) = i.get("/console/crls");
    assert_eq!(s, 200);
    assert!(
        row_of(&page, &ca_id).is_some() && row_of(&page, &dts_id).is_none(),
        "{page}"
    );
    let aud = sign_in(addr, &auditor);
    let (s, page) = aud.get("/console/crls");
    assert_eq!(s, 403, "{page}");
    assert!(
        !aud.get("/console").1.contains("href=\"/console/crls\""),
        "not in an auditor's navigation"
    );
    d.stop();
}
