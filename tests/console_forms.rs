//! The console's issuance, VICAL and CRL pages over real HTTP (a real SoftHSM2 or Kryoptic
//! token): each action's success seen through the JSON API and outside checkers (openssl,
//! `tests/data/vical_check.py`), and each refusal (bad input shown at its field, no CSRF
//! token, an auditor's roles) changing nothing.

mod common;

use std::net::SocketAddr;

use common::console::{Browser, api, assert_field_error, audit_count, header, sign_in, stored};
use common::{Daemon, TestToken, full_request, ossl};

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
    let root_pem = common::openssl_root(
        dir,
        "C = US\nO = Example DTS\nCN = Console DTS Root",
        "https://dts.example.org",
    );
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
