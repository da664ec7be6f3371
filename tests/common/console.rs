//! The console's test client (`tests/console.rs`, `tests/console_forms.rs`): a session
//! cookie over real HTTP, every response's security headers checked, and the API reads the
//! tests check the console's results with.

use std::net::SocketAddr;

use super::{call, full_request};

pub const CSP: &str = "default-src 'none'; script-src 'self'";

/// A console client: one session cookie, every response's headers checked.
pub struct Browser {
    pub addr: SocketAddr,
    pub cookie: String,
}

pub fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The console's headers, on every response it sends.
pub fn assert_console_headers(path: &str, h: &[(String, String)]) {
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

pub fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

pub fn urlencode(s: &str) -> String {
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

pub fn sign_in(addr: SocketAddr, token: &str) -> Browser {
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
    pub fn get(&self, path: &str) -> (u16, String) {
        let (s, h, b) = full_request(self.addr, "GET", path, &[("cookie", &self.cookie)], None);
        assert_console_headers(path, &h);
        (s, String::from_utf8_lossy(&b).into_owned())
    }

    pub fn post(&self, path: &str, pairs: &[(&str, &str)]) -> (u16, Vec<(String, String)>, String) {
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
    pub fn csrf(&self) -> String {
        let (s, page) = self.get("/console");
        assert_eq!(s, 200, "{page}");
        let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
        page[at..].split('"').next().unwrap().to_owned()
    }
}

pub fn audit_events(addr: SocketAddr, token: &str) -> Vec<String> {
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

pub fn api(
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
pub fn stored(addr: SocketAddr, token: &str, id: &str) -> (u16, String) {
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
pub fn assert_field_error(page: &str, name: &str) {
    assert!(
        page.contains(&format!("aria-describedby=\"f-{name}-err\""))
            && page.contains(&format!("<p class=\"field-error\" id=\"f-{name}-err\">")),
        "no error next to {name}: {page}"
    );
}

pub fn audit_count(addr: SocketAddr, token: &str, event: &str) -> usize {
    audit_events(addr, token)
        .iter()
        .filter(|e| *e == event)
        .count()
}
