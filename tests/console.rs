//! The operator console (`/console`): its security model over real HTTP, and (in
//! `browser_walkthrough`) an operator's session in headless Chromium driven by Selenium
//! (`tests/data/console_browser.py`), checked afterwards through the JSON API. The forms of
//! the issuance, VICAL and CRL pages are tested in `tests/console_forms.rs`.

mod common;

use std::net::SocketAddr;

use common::console::{Browser, assert_console_headers, audit_events, form, header, sign_in};
use common::{Daemon, TestToken, call, full_request};

fn dts_roots(addr: SocketAddr, token: &str) -> Vec<serde_json::Value> {
    let (s, b) = call(addr, token, "GET", "/v1/ecosystems/certificates/ca", None);
    assert_eq!(s, 200, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    v["data"].as_array().unwrap().clone()
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
