//! The operator console at `/console`: server-rendered HTML over the same service
//! operations the JSON API's handlers call (no logic of its own beyond turning form fields
//! into the API's request types and results into pages).
//!
//! Security, all enforced here on every request:
//! - a session (`service::session`) from signing in with an API token; its id only in an
//!   `HttpOnly; SameSite=Strict` cookie (`Secure` when served over TLS), never in a page;
//! - every POST but sign-in carries the session's CSRF token in a hidden field: without it
//!   403, before anything is read or done; sign-in, which has no session yet, is refused
//!   (403) when the browser says it comes from another site (`Origin`, `Sec-Fetch-Site`), so
//!   a page elsewhere cannot sign a visitor into its own session (login CSRF);
//! - each action is allowed by the roles of the API route that does the same operation
//!   (`routes::roles_of`), and runs under the session's tenant, so a session sees and does
//!   exactly what its token could through the API;
//! - every response carries a strict CSP (scripts only from `/console/assets`, no inline
//!   script or style), `nosniff`, `no-referrer`, `frame-ancestors 'none'`, `no-store`.

mod ca;
mod crls;
mod generic;
mod html;
mod jobs;
mod pages;
mod vicals;
mod x509;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use zeroize::Zeroizing;

use super::routes::{RouteId, roles_of};
use super::{ApiError, Body, Ctx};
use crate::service::session::{self, Live};
use crate::service::{OpContext, auth};

/// The console's pages and actions (`routes::ROUTES` names their paths).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Home,
    SignIn,
    SignInSubmit,
    SignOut,
    Asset,
    CaList,
    CaCreate,
    CaDetail,
    CaAction,
    CaDownload,
    Audit,
    Keys,
    KeysCreate,
    Job,
    Issue,
    IssueSubmit,
    Certificates,
    CertificateDownload,
    CertificateAction,
    Vicals,
    VicalsCreate,
    Vical,
    VicalAction,
    VicalDownload,
    Crls,
}

const COOKIE: &str = "hsm_pki_session";

pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A signed-in request: the session and the operation context its actions run under.
pub struct Session {
    pub live: Live,
    pub op: OpContext,
    /// The cookie's session id, for sign-out; dropped (zeroized) with the request.
    id: Zeroizing<String>,
}

impl Session {
    /// Whether the session's roles allow the API route `id`.
    pub fn may(&self, id: RouteId) -> bool {
        self.live.principal.has_any(roles_of(id))
    }
}

/// One console request; always a response (errors are pages), always with the headers.
pub async fn handle(
    ctx: &Ctx,
    page: Page,
    req: Request<Incoming>,
    params: &[String],
) -> Response<Body> {
    let mut resp = match serve(ctx, page, req, params).await {
        Ok(r) => r,
        Err(e) => error_page(None, &e),
    };
    let h = resp.headers_mut();
    let set = |h: &mut hyper::HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(h, "content-security-policy", CSP);
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "no-referrer");
    set(h, "x-frame-options", "DENY");
    set(h, "cross-origin-opener-policy", "same-origin");
    if page != Page::Asset {
        set(h, "cache-control", "no-store");
    }
    resp
}

async fn serve(
    ctx: &Ctx,
    page: Page,
    req: Request<Incoming>,
    params: &[String],
) -> Result<Response<Body>, ApiError> {
    match page {
        Page::Asset => return asset(&params[0]),
        Page::SignIn => return Ok(pages::sign_in_page(None)),
        Page::SignInSubmit => return sign_in(ctx, req).await,
        _ => {}
    }
    let Some(s) = session(ctx, &req).await? else {
        // Pages send the browser to sign in; actions without a live session change
        // nothing and say so.
        return if req.method() == hyper::Method::GET {
            Ok(redirect("/console/sign-in"))
        } else {
            Err(ApiError::new(
                crate::api::ErrorCode::Unauthorized,
                "Not signed in, or the session has ended; sign in again",
            ))
        };
    };
    let form = if req.method() == hyper::Method::POST {
        let form = read_form(ctx, req).await?;
        if !form
            .get("csrf")
            .is_some_and(|t| session::csrf_matches(&s.live, t))
        {
            return Err(ApiError::new(
                crate::api::ErrorCode::Forbidden,
                "The form's CSRF token is missing or wrong: nothing was done. Reload the \
                 page and submit it again",
            ));
        }
        Some(form)
    } else {
        query_form(req.uri().query())?
    };
    let form = form.unwrap_or_default();
    match page {
        Page::Home => pages::overview(ctx, &s).await,
        Page::SignOut => Ok(sign_out(ctx, &s).await),
        Page::CaList => ca::list(ctx, &s, &params[0], &form, None).await,
        Page::CaCreate => ca::create(ctx, &s, &params[0], form).await,
        Page::CaDetail => ca::detail(ctx, &s, &params[0], &params[1], &form, None).await,
        Page::CaAction => ca::action(ctx, &s, &params[0], &params[1], form).await,
        Page::CaDownload => ca::download(ctx, &s, &params[0], &params[1], &params[2]).await,
        Page::Audit => pages::audit(ctx, &s, &form).await,
        Page::Keys => pages::keys(ctx, &s, &form, None).await,
        Page::KeysCreate => pages::create_key(ctx, &s, form).await,
        Page::Job => jobs::page(&s, &params[0]),
        Page::Issue if generic::handles(&params[0]) => {
            generic::issue_form(ctx, &s, &params[0], &form, None).await
        }
        Page::IssueSubmit if generic::handles(&params[0]) => {
            generic::issue(ctx, &s, &params[0], form).await
        }
        Page::Issue => x509::issue_form(ctx, &s, &params[0], &form, None).await,
        Page::IssueSubmit => x509::issue(ctx, &s, &params[0], form).await,
        Page::Certificates => x509::certificates(ctx, &s, &form, None).await,
        Page::CertificateDownload => x509::download(ctx, &s, &params[0], &params[1]).await,
        Page::CertificateAction => x509::action(ctx, &s, &params[0], form).await,
        Page::Vicals => vicals::list(ctx, &s, None).await,
        Page::VicalsCreate => vicals::create(ctx, &s, form).await,
        Page::Vical => vicals::detail(ctx, &s, &params[0], &form, None).await,
        Page::VicalAction => vicals::action(ctx, &s, &params[0], form).await,
        Page::VicalDownload => vicals::download(ctx, &s, &params[0], &params[1]).await,
        Page::Crls => crls::list(ctx, &s).await,
        Page::Asset | Page::SignIn | Page::SignInSubmit => Err(ApiError::not_found()),
    }
}

/// The session id in the request's one `hsm_pki_session` cookie.
fn cookie(req: &Request<Incoming>) -> Option<Zeroizing<String>> {
    let mut found = None;
    for v in req.headers().get_all(hyper::header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for pair in v.split(';') {
            if let Some((k, val)) = pair.trim().split_once('=')
                && k == COOKIE
            {
                if found.is_some() {
                    return None; // two are ambiguous, as two bearer headers are
                }
                found = Some(Zeroizing::new(val.to_owned()));
            }
        }
    }
    found
}

async fn session(ctx: &Ctx, req: &Request<Incoming>) -> Result<Option<Session>, ApiError> {
    let Some(id) = cookie(req) else {
        session::expire(&ctx.app, &ctx.request_id).await;
        return Ok(None);
    };
    let live = session::lookup(&ctx.app, &id, &ctx.request_id).await?;
    Ok(live.map(|live| Session {
        op: OpContext {
            principal: live.principal.clone(),
            request_id: ctx.request_id.clone(),
            gate: ctx.gate.clone(),
        },
        live,
        id,
    }))
}

/// Form fields, decoded; values zeroized when dropped (the sign-in form carries a token).
#[derive(Default)]
pub struct Form(Vec<(String, Zeroizing<String>)>);

impl Form {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    /// A field's value, empty when absent.
    pub fn val(&self, k: &str) -> &str {
        self.get(k).unwrap_or("")
    }

    /// The non-empty fields among `names`, as the JSON object the API's request type
    /// decodes; a dotted name is a nested member (`issuerAlternativeNameConf.uri`), so the
    /// API's error `param` is the form field's name.
    pub fn json(&self, names: &[&str]) -> serde_json::Value {
        let typed: Vec<(&str, Json)> = names.iter().map(|n| (*n, Json::Str)).collect();
        self.json_typed(&typed)
    }

    /// As [`Form::json`], each field written as the JSON type its API member has. A value
    /// that is not of that type is passed on as the string it is, so the API's decoding
    /// refuses it with the field's name (no rule of the API's is repeated here).
    pub fn json_typed(&self, fields: &[(&str, Json)]) -> serde_json::Value {
        use serde_json::Value;
        let mut root = serde_json::Map::new();
        for (name, kind) in fields {
            let v = self.val(name).trim();
            if v.is_empty() {
                continue;
            }
            let text = || Value::String(v.to_owned());
            let value = match kind {
                Json::Str => text(),
                Json::Bool => match v {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => text(),
                },
                Json::Int => v.parse::<u64>().map(Value::from).unwrap_or_else(|_| text()),
                Json::List => Value::Array(
                    v.split([',', '\n'])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.to_owned()))
                        .collect(),
                ),
            };
            let mut obj = &mut root;
            let mut parts = name.split('.').peekable();
            while let Some(p) = parts.next() {
                if parts.peek().is_none() {
                    obj.insert(p.to_owned(), value);
                    break;
                }
                let next = obj
                    .entry(p.to_owned())
                    .or_insert_with(|| Value::Object(Default::default()));
                let Some(o) = next.as_object_mut() else { break };
                obj = o;
            }
        }
        Value::Object(root)
    }
}

/// The JSON type of a form field's API member ([`Form::json_typed`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Json {
    Str,
    /// `true` or `false` (a select).
    Bool,
    /// A non-negative integer.
    Int,
    /// A list of strings, one per line or comma.
    List,
}

fn parse_pairs(text: &str) -> Result<Form, ApiError> {
    let bad = || {
        ApiError::new(
            crate::api::ErrorCode::BadRequest,
            "The form could not be decoded",
        )
    };
    let mut out = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = super::query::decode(k).ok_or_else(bad)?;
        let v = Zeroizing::new(super::query::decode(v).ok_or_else(bad)?);
        if out.iter().any(|(x, _): &(String, _)| *x == k) {
            return Err(bad());
        }
        out.push((k, v));
    }
    Ok(Form(out))
}

fn query_form(q: Option<&str>) -> Result<Option<Form>, ApiError> {
    match q {
        Some(q) if q.len() > 4096 => Err(ApiError::new(
            crate::api::ErrorCode::BadRequest,
            "Query string too long",
        )),
        Some(q) => parse_pairs(q).map(Some),
        None => Ok(None),
    }
}

/// An `application/x-www-form-urlencoded` body within the body limit.
async fn read_form(ctx: &Ctx, req: Request<Incoming>) -> Result<Form, ApiError> {
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(ApiError::new(
            crate::api::ErrorCode::UnsupportedMediaType,
            "Forms are application/x-www-form-urlencoded",
        ));
    }
    let body = super::read_body(req.into_body(), ctx.body_limit).await?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::new(crate::api::ErrorCode::BadRequest, "The form is not UTF-8"))?;
    parse_pairs(text)
}

/// Whether a browser says this request comes from a page of this origin. Browsers send
/// `Sec-Fetch-Site` and, on a form POST, `Origin`; a client that sends neither is not a
/// browser and cannot be a vehicle for login CSRF.
fn same_origin(req: &Request<Incoming>) -> bool {
    let h = req.headers();
    let header = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
    // Fetch metadata decides when present: with `Referrer-Policy: no-referrer` (ours)
    // Chromium sends `Origin: null` even from our own page.
    if let Some(site) = header("sec-fetch-site") {
        return site == "same-origin" || site == "none";
    }
    match (header("origin"), header("host")) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    }
}

/// Sign in: the API token is checked exactly as a bearer token is (cache, database,
/// revocation), failures rate-limited and audited as the API's 401s are.
async fn sign_in(ctx: &Ctx, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    if !same_origin(&req) {
        return Err(ApiError::new(
            crate::api::ErrorCode::Forbidden,
            "Sign in from this console's own page",
        ));
    }
    let form = read_form(ctx, req).await?;
    let token = Zeroizing::new(form.val("token").trim().to_owned());
    drop(form);
    let refused = |e: Option<ApiError>| {
        let e = e.unwrap_or_else(|| {
            ApiError::new(
                crate::api::ErrorCode::Unauthorized,
                "That API token is not valid",
            )
            .with_detail("body", "token", "not a valid API token", None)
        });
        let mut resp = pages::sign_in_page(Some(&e));
        *resp.status_mut() = e.status();
        resp
    };
    let route = "POST /console/sign-in";
    let principal = match auth::principal(&ctx.app, token).await {
        Ok(p) => p,
        Err(Ok(auth::AuthError::Rejected { tenant, token_id })) => {
            let who = Some((tenant, token_id));
            return Ok(refused(
                super::authentication_refused(ctx, who, route).await,
            ));
        }
        Err(Ok(auth::AuthError::Unauthenticated)) => {
            return Ok(refused(
                super::authentication_refused(ctx, None, route).await,
            ));
        }
        Err(Ok(auth::AuthError::Store(e))) => {
            return Err(ApiError::from(crate::service::ServiceError::Store(e)));
        }
        Err(Err(e)) => return Err(ApiError::from(e)),
    };
    let Some(created) = session::sign_in(&ctx.app, principal, &ctx.request_id).await else {
        return Err(ApiError::unavailable(
            crate::api::ErrorCode::ServerBusy,
            "Too many console sessions; retry later",
        ));
    };
    let mut resp = redirect("/console");
    let secure = if ctx.tls { "; Secure" } else { "" };
    let cookie = Zeroizing::new(format!(
        "{COOKIE}={}; Path=/console; HttpOnly; SameSite=Strict{secure}",
        created.id.as_str()
    ));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(hyper::header::SET_COOKIE, v);
    }
    Ok(resp)
}

async fn sign_out(ctx: &Ctx, s: &Session) -> Response<Body> {
    session::sign_out(&ctx.app, &s.id, &ctx.request_id).await;
    let mut resp = redirect("/console/sign-in");
    resp.headers_mut().insert(
        hyper::header::SET_COOKIE,
        HeaderValue::from_static(
            "hsm_pki_session=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    resp
}

pub fn redirect(to: &str) -> Response<Body> {
    let mut resp = Response::new(Body::default());
    *resp.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(hyper::header::LOCATION, v);
    }
    resp
}

pub fn html_response(status: StatusCode, html: String) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(html)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// A file download (`Content-Disposition: attachment`).
pub fn download(bytes: Vec<u8>, content_type: &'static str, name: &str) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(bytes)));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    let safe: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        resp.headers_mut()
            .insert(hyper::header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// An error as a page with the API's status, message, code and details.
pub fn error_page(s: Option<&Session>, e: &ApiError) -> Response<Body> {
    let body = html::error_summary(&e.message, e.code.as_str(), &e.details, &[])
        + "<p><a href=\"/console\">Back to the overview</a></p>";
    let live = s.map(|s| &s.live);
    let nav = s.map(pages::nav).unwrap_or_default();
    html_response(e.status(), html::page("Not done", live, &nav, &body))
}

/// 403 for an action the session's roles do not allow: audited as the API's refusal is.
pub async fn forbidden(ctx: &Ctx, s: &Session, what: &str) -> ApiError {
    let code = crate::api::ErrorCode::Forbidden;
    s.op.record_refusal(&ctx.app, "AUTHORIZATION", Some(what), code)
        .await;
    ApiError::new(code, "The session's roles do not allow this operation")
}

fn asset(name: &str) -> Result<Response<Body>, ApiError> {
    let (bytes, ct): (&'static [u8], &'static str) = match name {
        "console.css" => (
            include_bytes!("assets/console.css"),
            "text/css; charset=utf-8",
        ),
        "console.js" => (
            include_bytes!("assets/console.js"),
            "text/javascript; charset=utf-8",
        ),
        "favicon.svg" => (include_bytes!("assets/favicon.svg"), "image/svg+xml"),
        _ => return Err(ApiError::not_found()),
    };
    let mut resp = Response::new(Full::new(Bytes::from_static(bytes)));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    resp.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    Ok(resp)
}

/// A form's JSON (see [`Form::json`]) decoded into the API's request type, with the API's
/// error for a field that does not decode (named as the form field is).
pub fn decode<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(v).map_err(|e| super::json_error(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_form_fields() {
        let f =
            parse_pairs("a.b=x&ca=true&n=0&ku=KeyCertSign%2C+CRLSign%0A&bad=yes&m=-1&empty=&l=%2C")
                .unwrap();
        let v = f.json_typed(&[
            ("a.b", Json::Str),
            ("ca", Json::Bool),
            ("n", Json::Int),
            ("ku", Json::List),
            ("bad", Json::Bool),
            ("m", Json::Int),
            ("empty", Json::List),
            ("l", Json::List),
            ("absent", Json::Str),
        ]);
        // A value of the wrong type stays text, for the API's decoding to refuse by name.
        assert_eq!(
            v,
            serde_json::json!({"a": {"b": "x"}, "ca": true, "n": 0,
                "ku": ["KeyCertSign", "CRLSign"], "bad": "yes", "m": "-1", "l": []})
        );
        assert_eq!(
            f.json(&["ca", "n"]),
            serde_json::json!({"ca": "true", "n": "0"})
        );
    }
}
