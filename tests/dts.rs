//! The digital trust service's records over real HTTP with a real SoftHSM2 token: ecosystems,
//! participants whose mobile identifiers are IACAs (here one this daemon issued, checked
//! against ISO/IEC 18013-5 Table B.1 like any other), the VICAL configuration; tenants apart,
//! every refusal naming its field.

mod common;

use std::time::Duration;

use common::{Daemon, SoftHsm, call};
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
    let hsm = SoftHsm::new("dts");
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
