//! The digital trust service's records over real HTTP with a real token (SoftHSM2 or Kryoptic):
//! ecosystems, participants whose mobile identifiers are IACAs (here one this daemon issued,
//! checked against ISO/IEC 18013-5 Table B.1 like any other), the VICAL configuration; tenants
//! apart, every refusal naming its field.

mod common;

use std::time::Duration;

use common::{Daemon, TestToken, call, ossl};
use serde_json::{Value, json};

fn req(d: &Daemon, tok: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let b = body.map(|v| v.to_string());
    let (s, text) = call(d.addr, tok, method, path, b.as_deref());
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (s, v)
}

fn refused(got: (u16, Value), status: u16, param: &str) {
    let (s, v) = got;
    assert_eq!(s, status, "{v}");
    assert_eq!(v["details"][0]["param"], param, "{v}");
}

#[test]
fn ecosystems_participants_and_vical_configuration() {
    let hsm = TestToken::new("dts");
    let d = Daemon::start(&hsm);
    d.wait_status("/readyz", 200, Duration::from_secs(10));
    let (ok, out) = d.cli(&[
        "tenant",
        "set",
        "--tenant",
        "org.t1",
        "--country",
        "US",
        "--issuer-alt-uri",
        "https://dmv.example.gov",
    ]);
    assert!(ok, "{out}");
    let dts = d.create_token("org.t1", &["dts-provider"]);
    let issuer = d.create_token("org.t1", &["issuer"]);
    let other = d.create_token("org.t2", &["admin"]);

    let (s, e) = req(
        &d,
        &dts,
        "POST",
        "/v1/ecosystems",
        Some(json!({"name": "AAMVA-like"})),
    );
    assert_eq!(s, 201, "{e}");
    let eco = e["id"].as_str().unwrap().to_owned();
    refused(
        req(
            &d,
            &dts,
            "POST",
            "/v1/ecosystems",
            Some(json!({"name": ""})),
        ),
        400,
        "name",
    );
    refused(
        req(
            &d,
            &dts,
            "POST",
            "/v1/ecosystems",
            Some(json!({"name": "x", "integrations": []})),
        ),
        400,
        "integrations",
    );
    let (s, _) = req(&d, &issuer, "GET", "/v1/ecosystems", None);
    assert_eq!(s, 403);
    let (s, _) = req(&d, &other, "GET", &format!("/v1/ecosystems/{eco}"), None);
    assert_eq!(s, 404);

    // Two IACAs issued by this daemon's mobile credential family, as participants' identifiers.
    let mut pems = Vec::new();
    for cn in ["State A IACA", "State B IACA"] {
        let (s, v) = req(
            &d,
            &issuer,
            "POST",
            "/v2/credentials/mobile/iacas",
            Some(json!({"commonName": cn})),
        );
        assert_eq!(s, 201, "{v}");
        pems.push(v["certificatePem"].as_str().unwrap().to_owned());
    }
    let parts = format!("/v1/ecosystems/{eco}/participants");
    let (s, a) = req(
        &d,
        &dts,
        "POST",
        &parts,
        Some(json!({"name": "State A", "identifiers": {"mobile": [pems[0]]}, "isIssuer": true})),
    );
    assert_eq!(s, 201, "{a}");
    assert_eq!(
        a["identifiers"]["mobile"][0]["docTypes"],
        json!(["org.iso.18013.5.1.mDL"]),
        "{a}"
    );
    assert_eq!(
        (a["isIssuer"].as_bool(), a["isVerifier"].as_bool()),
        (Some(true), Some(false))
    );
    let (s, b) = req(
        &d,
        &dts,
        "POST",
        &parts,
        Some(json!({"name": "State B", "identifiers": {"mobile": [
            {"certificatePem": pems[1], "docTypes": ["org.iso.18013.5.1.mDL", "org.iso.23220.photoid.1"]}
        ]}})),
    );
    assert_eq!(s, 201, "{b}");
    assert_eq!(
        b["identifiers"]["mobile"][0]["certificatePem"],
        pems[1].as_str()
    );
    // Not an IACA, the same IACA twice, a docType twice: each named.
    refused(
        req(
            &d,
            &dts,
            "POST",
            &parts,
            Some(json!({"name": "X", "identifiers": {"mobile": ["not a pem"]}})),
        ),
        400,
        "identifiers.mobile[0]",
    );
    refused(
        req(
            &d,
            &dts,
            "POST",
            &parts,
            Some(json!({"name": "X", "identifiers": {"mobile": [pems[0], pems[0]]}})),
        ),
        400,
        "identifiers.mobile[1]",
    );
    refused(
        req(
            &d,
            &dts,
            "POST",
            &parts,
            Some(json!({"name": "X", "identifiers": {"mobile": [
            {"certificatePem": pems[0], "docTypes": ["a", "a"]}]}})),
        ),
        400,
        "identifiers.mobile[0].docTypes[1]",
    );
    refused(
        req(
            &d,
            &dts,
            "POST",
            &parts,
            Some(json!({"name": "X", "identifiers": {"mobile": []}})),
        ),
        400,
        "identifiers.mobile",
    );
    let (s, list) = req(&d, &dts, "GET", &format!("{parts}?limit=1"), None);
    assert_eq!(s, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let next = list["nextCursor"].as_str().unwrap();
    let (_, rest) = req(
        &d,
        &dts,
        "GET",
        &format!("{parts}?limit=1&cursor={next}"),
        None,
    );
    assert_eq!(rest["data"][0]["name"], "State B", "{rest}");
    // PUT replaces the record.
    let pa = format!("{parts}/{}", a["id"].as_str().unwrap());
    let (s, v) = req(
        &d,
        &dts,
        "PUT",
        &pa,
        Some(
            json!({"name": "State A DMV", "identifiers": {"mobile": [pems[0], pems[1]]}, "isVerifier": true}),
        ),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["identifiers"]["mobile"].as_array().unwrap().len(), 2);
    assert_eq!(
        (v["isIssuer"].as_bool(), v["isVerifier"].as_bool()),
        (Some(false), Some(true))
    );
    let (s, _) = req(&d, &other, "GET", &pa, None);
    assert_eq!(s, 404, "another tenant sees a participant");

    // The VICAL configuration.
    let conf = format!("/v1/ecosystems/{eco}/vicals/configuration");
    let (s, _) = req(&d, &dts, "GET", &conf, None);
    assert_eq!(s, 404);
    let body = json!({"vicalProvider": "Example DTS", "autoPublish": {"enabled": true, "frequency": "Daily"}});
    let (s, v) = req(&d, &dts, "PUT", &conf, Some(body.clone()));
    assert_eq!((s, &v), (200, &body));
    let (_, v) = req(&d, &dts, "GET", &conf, None);
    assert_eq!(v, body);
    refused(
        req(
            &d,
            &dts,
            "PUT",
            &conf,
            Some(
                json!({"vicalProvider": "x", "autoPublish": {"enabled": true, "frequency": "Hourly"}}),
            ),
        ),
        400,
        "autoPublish.frequency",
    );

    // Deletion: the participant, then the ecosystem with what remains.
    let (s, _) = req(&d, &dts, "DELETE", &pa, None);
    assert_eq!(s, 204);
    let (s, _) = req(&d, &dts, "GET", &pa, None);
    assert_eq!(s, 404);
    let (s, _) = req(&d, &dts, "DELETE", &format!("/v1/ecosystems/{eco}"), None);
    assert_eq!(s, 204);
    let (s, _) = req(&d, &dts, "GET", &conf, None);
    assert_eq!(s, 404);
    let (ok, out) = d.cli(&["audit", "verify"]);
    assert!(ok, "{out}");
}

/// The operator's offline DTS root (openssl), uploaded; a VICAL signer whose CSR the root
/// signs offline; two issuing participants; two VICALs published, fetched without a token,
/// and checked with cbor2 + pycose (`tests/data/vical_check.py`): signature from x5chain,
/// the chain to the root, each member byte-identical to the IACA added; a flipped byte fails.
#[test]
fn vicals_published_and_fetched_publicly() {
    let hsm = TestToken::new("dts-vical");
    // A Daily schedule of 3 s, checked every second, for the auto-publish part.
    let d = Daemon::start_with(
        &hsm,
        "[vical]\nauto_publish_check_secs = 1\ndaily_period_secs = 3\n",
    );
    d.wait_status("/readyz", 200, Duration::from_secs(10));
    let (ok, out) = d.cli(&[
        "tenant",
        "set",
        "--tenant",
        "org.t1",
        "--country",
        "US",
        "--issuer-alt-uri",
        "https://dts.example.org",
    ]);
    assert!(ok, "{out}");
    let dts = d.create_token("org.t1", &["dts-provider"]);
    let issuer = d.create_token("org.t1", &["issuer"]);
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n);
    let s = |p: &std::path::Path| p.to_str().unwrap().to_owned();

    // The offline root and the VICAL signer it certifies.
    let root_pem = common::openssl_root(
        dir.path(),
        "C = US\nO = Example DTS\nCN = Example DTS Root",
        "https://dts.example.org",
    );
    let (st, root) = req(
        &d,
        &dts,
        "POST",
        "/v1/ecosystems/certificates/ca",
        Some(json!({"certificatePem": root_pem})),
    );
    assert_eq!(st, 201, "{root}");
    let (st, signer) = req(
        &d,
        &dts,
        "POST",
        "/v1/ecosystems/certificates/vical-signers",
        Some(json!({"caId": root["id"]})),
    );
    assert_eq!(st, 201, "{signer}");
    std::fs::write(path("signer.csr"), signer["csrPem"].as_str().unwrap()).unwrap();
    std::fs::write(
        path("signer.ext"),
        "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
         extendedKeyUsage = 1.0.18013.5.1.8\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n",
    )
    .unwrap();
    ossl(&[
        "x509",
        "-req",
        "-in",
        &s(&path("signer.csr")),
        "-CA",
        &s(&path("root.pem")),
        "-CAkey",
        &s(&path("root.key")),
        "-extfile",
        &s(&path("signer.ext")),
        "-days",
        "365",
        "-sha256",
        "-out",
        &s(&path("signer.pem")),
    ]);
    let signer_pem = std::fs::read_to_string(path("signer.pem")).unwrap();
    let sp = format!(
        "/v1/ecosystems/certificates/vical-signers/{}",
        signer["id"].as_str().unwrap()
    );
    let (st, v) = req(
        &d,
        &dts,
        "PUT",
        &sp,
        Some(json!({"certificatePem": signer_pem})),
    );
    assert_eq!(st, 200, "{v}");

    // An ecosystem with two issuing participants (IACAs made by this daemon) and a verifier.
    let (_, e) = req(
        &d,
        &dts,
        "POST",
        "/v1/ecosystems",
        Some(json!({"name": "Example"})),
    );
    let eco = e["id"].as_str().unwrap().to_owned();
    let vicals = format!("/v1/ecosystems/{eco}/vicals");
    let mut members = Vec::new();
    for (i, cn) in ["Member A IACA", "Member B IACA", "Verifier IACA"]
        .iter()
        .enumerate()
    {
        let (st, v) = req(
            &d,
            &issuer,
            "POST",
            "/v2/credentials/mobile/iacas",
            Some(json!({"commonName": cn})),
        );
        assert_eq!(st, 201, "{v}");
        let pem = v["certificatePem"].as_str().unwrap().to_owned();
        let (st, p) = req(
            &d,
            &dts,
            "POST",
            &format!("/v1/ecosystems/{eco}/participants"),
            Some(json!({"name": cn, "identifiers": {"mobile": [pem]}, "isIssuer": i < 2})),
        );
        assert_eq!(st, 201, "{p}");
        if i < 2 {
            let f = path(&format!("member{i}.pem"));
            std::fs::write(&f, &pem).unwrap();
            members.push(f);
        }
    }
    // An IACA the X.509 service issued as a VICAL entry: its metadata gives the member's
    // docType and certificate profile.
    let (st, v) = req(
        &d,
        &issuer,
        "POST",
        "/v1/keys",
        Some(json!({"keyId": "x-iaca", "algorithm": "secp256r1"})),
    );
    assert_eq!(st, 201, "{v}");
    let (st, v) = req(
        &d,
        &issuer,
        "POST",
        "/v1/org.t1.x509-service-1/x509-service-api/iso/iacas",
        Some(json!({"storedCertificateId": "photo-iaca",
            "certificateData": {"country": "US", "commonName": "Photo ID IACA",
                "issuerAlternativeNameConf": {"uri": "https://dts.example.org"}},
            "vicalEntryComplementaryMetadata": {"docType": ["org.iso.23220.photoid.1"],
                "certificateProfile": ["urn:example:photoid-profile"]},
            "iacaKeyDesc": {"type": "kms-hosted-key-descriptor", "keyIdPath": "org.t1.kms1.x-iaca"}})),
    );
    assert_eq!(st, 200, "{v}");
    let photo_pem = v["certificatePEM"].as_str().unwrap().to_owned();
    let (st, p) = req(
        &d,
        &dts,
        "POST",
        &format!("/v1/ecosystems/{eco}/participants"),
        Some(
            json!({"name": "Photo ID issuer", "identifiers": {"mobile": [photo_pem]}, "isIssuer": true}),
        ),
    );
    assert_eq!(st, 201, "{p}");

    // Not configured yet; then no active signer; then published.
    let (st, v) = req(&d, &dts, "POST", &vicals, None);
    assert_eq!(
        (st, v["code"].as_str()),
        (409, Some("VicalNotConfigured")),
        "{v}"
    );
    let conf = json!({"vicalProvider": "Example DTS", "autoPublish": {"enabled": false, "frequency": "Weekly"}});
    let (st, _) = req(
        &d,
        &dts,
        "PUT",
        &format!("{vicals}/configuration"),
        Some(conf),
    );
    assert_eq!(st, 200);
    let (st, v) = req(&d, &dts, "POST", &vicals, None);
    assert_eq!(
        (st, v["code"].as_str()),
        (409, Some("NoActiveSigner")),
        "{v}"
    );
    let (st, _) = req(&d, &dts, "PUT", &sp, Some(json!({"active": true})));
    assert_eq!(st, 200);
    for n in 1..=2 {
        let (st, v) = req(&d, &dts, "POST", &vicals, None);
        assert_eq!(st, 201, "{v}");
        assert_eq!(v["vicalIssueID"], n, "{v}");
    }

    // Public: no token.
    let (st, list) = common::http(d.addr, "GET", &format!("{vicals}/public"), None);
    assert_eq!(st, 200, "{list}");
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 2, "{list}");
    assert_eq!(list["data"][1]["isAutoPublished"], false);
    let latest = raw_get(&d, &format!("{vicals}/public/latest"), None);
    assert_eq!(latest.status, 200);
    assert_eq!(latest.content_type.as_deref(), Some("application/cbor"));
    // The members: two from participants (the mDL default), one from the store entry.
    let sign1: ciborium::Value = ciborium::from_reader(&latest.body[..]).unwrap();
    let payload = sign1.as_array().unwrap()[2].as_bytes().unwrap().clone();
    let vical: ciborium::Value = ciborium::from_reader(&payload[..]).unwrap();
    let field = |m: &ciborium::Value, k: &str| {
        m.as_map()
            .unwrap()
            .iter()
            .find(|(key, _)| key.as_text() == Some(k))
            .map(|(_, v)| v.clone())
    };
    let infos = field(&vical, "certificateInfos").unwrap();
    let infos = infos.as_array().unwrap();
    assert_eq!(infos.len(), 3);
    let texts = |v: Option<ciborium::Value>| -> Vec<String> {
        v.map(|v| {
            v.as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_text().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
    };
    let photo = infos
        .iter()
        .find(|i| texts(field(i, "docType")) == ["org.iso.23220.photoid.1"])
        .expect("the store entry's docType");
    assert_eq!(
        texts(field(photo, "certificateProfile")),
        ["urn:example:photoid-profile"]
    );
    let mdl = infos
        .iter()
        .filter(|i| texts(field(i, "docType")) == ["org.iso.18013.5.1.mDL"]);
    assert_eq!(mdl.count(), 2);
    let first = raw_get(&d, &format!("{vicals}/public/1"), None);
    assert_ne!(first.body, latest.body);
    let again = raw_get(
        &d,
        &format!("{vicals}/public/latest"),
        latest.etag.as_deref(),
    );
    assert_eq!(again.status, 304);
    assert_eq!(raw_get(&d, &format!("{vicals}/public/3"), None).status, 404);
    assert_eq!(
        raw_get(
            &d,
            "/v1/ecosystems/00000000-0000-0000-0000-000000000000/vicals/public/latest",
            None
        )
        .status,
        404
    );

    // The independent check, and its negative control.
    let check = |bytes: &[u8]| {
        let f = path("vical.cbor");
        std::fs::write(&f, bytes).unwrap();
        let mut cmd = std::process::Command::new(common::pkilint_bin("python3"));
        cmd.arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/vical_check.py"
        ))
        .args(["--root", &s(&path("root.pem"))]);
        for m in &members {
            cmd.args(["--member", &s(m)]);
        }
        let out = cmd.arg(&f).output().unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, out) = check(&latest.body);
    assert!(ok, "{out}");
    let mut bad = latest.body.clone();
    let i = bad.len() - 1;
    bad[i] ^= 1;
    let (ok, out) = check(&bad);
    assert!(!ok, "a flipped signature byte passed: {out}");

    // Auto-publish: on schedule, from inside the daemon, with the next vicalIssueID.
    let conf = json!({"vicalProvider": "Example DTS", "autoPublish": {"enabled": true, "frequency": "Daily"}});
    let (st, _) = req(
        &d,
        &dts,
        "PUT",
        &format!("{vicals}/configuration"),
        Some(conf),
    );
    assert_eq!(st, 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let auto = loop {
        let (_, list) = common::http(d.addr, "GET", &format!("{vicals}/public"), None);
        let list: Value = serde_json::from_str(&list).unwrap();
        if let Some(e) = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["isAutoPublished"] == true)
        {
            break e.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no auto-published VICAL: {list}\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(auto["vicalIssueID"], 3, "{auto}");
    let (ok, out) = check(&raw_get(&d, &format!("{vicals}/public/3"), None).body);
    assert!(ok, "{out}");
    let (ok, out) = d.cli(&["audit", "verify"]);
    assert!(ok, "{out}");
}

struct Raw {
    status: u16,
    content_type: Option<String>,
    etag: Option<String>,
    body: Vec<u8>,
}

/// A GET without a token, returning the raw body and the caching headers.
fn raw_get(d: &Daemon, path: &str, if_none_match: Option<&str>) -> Raw {
    let mut headers = vec![];
    if let Some(e) = if_none_match {
        headers.push(("if-none-match", e.to_owned()));
    }
    let (status, hs, body) = common::raw_request(d.addr, "GET", path, &headers);
    let get = |n: &str| hs.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    Raw {
        status,
        content_type: get("content-type"),
        etag: get("etag"),
        body,
    }
}
