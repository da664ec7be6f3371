//! Sign-in, the overview, the audit log and the keys.

use hyper::{Response, StatusCode};

use super::html::{self, Input, Nav, esc, url};
use super::jobs::{self, Outcome};
use super::{ApiError, Body, Ctx, Form, Session, forbidden, html_response, redirect};
use crate::api;
use crate::http::ca::{CaOp, Resource};
use crate::http::dts::DtsOp;
use crate::http::query;
use crate::http::routes::RouteId;
use crate::service::{OpContext, TokenStatus, keys};

/// The navigation a session's roles allow: each entry is shown iff its page's API route
/// admits one of the roles (the pages check the same again). Grouped so that it stays two
/// rows at 1280 px: the root and signer families, the issuance forms, what is kept.
pub fn nav(s: &Session) -> Vec<Nav> {
    let ca = |r| RouteId::Ca(r, CaOp::List);
    const CAS: &str = "Roots and signers";
    const ISSUE: &str = "Issue";
    const RECORDS: &str = "Records";
    let entries: [(&str, &str, &str, bool); 17] = [
        ("", "/console", "Overview", true),
        ("", "/console/keys", "Keys", s.may(RouteId::KeysList)),
        (
            CAS,
            "/console/ca/dts-roots",
            "DTS roots",
            s.may(ca(Resource::DtsCa)),
        ),
        (
            CAS,
            "/console/ca/vical-signers",
            "VICAL signers",
            s.may(ca(Resource::VicalSigner)),
        ),
        (
            CAS,
            "/console/ca/holder-roots",
            "Holder roots",
            s.may(ca(Resource::HolderCa)),
        ),
        (
            CAS,
            "/console/ca/wallet-signers",
            "Wallet signers",
            s.may(ca(Resource::WalletSigner)),
        ),
        (CAS, "/console/ca/iacas", "IACAs", s.may(ca(Resource::Iaca))),
        (
            CAS,
            "/console/ca/document-signers",
            "Document signers",
            s.may(ca(Resource::DocumentSigner)),
        ),
        (
            CAS,
            "/console/ca/status-list-signers",
            "Status list signers",
            s.may(ca(Resource::StatusListSigner)),
        ),
        (
            ISSUE,
            "/console/issue/iaca",
            "IACA",
            s.may(RouteId::X509IacaCreate),
        ),
        (
            ISSUE,
            "/console/issue/document-signer",
            "Document signer",
            s.may(RouteId::X509DocumentSignerCreate),
        ),
        (
            ISSUE,
            "/console/issue/generic",
            "Generic",
            s.may(RouteId::X509CertificateCreate),
        ),
        (
            ISSUE,
            "/console/issue/csr",
            "From a CSR",
            s.may(RouteId::X509CertificateCreate),
        ),
        (
            RECORDS,
            "/console/certificates",
            "Certificates",
            s.may(RouteId::X509StoreList),
        ),
        (RECORDS, "/console/crls", "CRLs", super::crls::may_list(s)),
        (
            RECORDS,
            "/console/vicals",
            "VICALs",
            s.may(RouteId::Dts(DtsOp::EcosystemList)),
        ),
        (
            RECORDS,
            "/console/audit",
            "Audit log",
            s.may(RouteId::AuditList),
        ),
    ];
    entries
        .into_iter()
        .filter(|e| e.3)
        .map(|(group, href, label, _)| Nav { href, label, group })
        .collect()
}

pub fn render(s: &Session, status: StatusCode, title: &str, body: &str) -> Response<Body> {
    html_response(status, html::page(title, Some(&s.live), &nav(s), body))
}

pub fn sign_in_page(e: Option<&ApiError>) -> Response<Body> {
    let details = e.map(|e| e.details.as_slice()).unwrap_or(&[]);
    let mut body = String::new();
    if let Some(e) = e {
        body.push_str(&html::error_summary(
            &e.message,
            e.code.as_str(),
            details,
            &["token"],
        ));
    }
    body.push_str(
        "<p>Sign in with an API token (<code>hsm-pki token create</code>; <code>scripts/run</code> \
         prints one). The token is exchanged for a session and is not kept in the browser.</p>\
         <form method=\"post\" action=\"/console/sign-in\" class=\"card\">",
    );
    body.push_str(&html::field(
        "API token",
        "token",
        Input::Text,
        "",
        "hpk_…",
        details,
    ));
    body.push_str("<button type=\"submit\" id=\"sign-in\">Sign in</button></form>");
    let status = e.map(|e| e.status()).unwrap_or(StatusCode::OK);
    // The token field must not be remembered by the browser.
    let html = html::page("Sign in", None, &[], &body).replace(
        "name=\"token\"",
        "name=\"token\" type=\"password\" autocomplete=\"off\"",
    );
    html_response(status, html)
}

fn secs(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s < 120 {
        format!("{s} s")
    } else if s < 7200 {
        format!("{} min", s / 60)
    } else {
        format!("{} h", s / 3600)
    }
}

/// Token state and since when, the database, signing counts and latency, the session pool,
/// the last outages and reconciliations (what the process remembers; the log has all).
pub async fn overview(ctx: &Ctx, s: &Session) -> Result<Response<Body>, ApiError> {
    let (status, held) = ctx.app.health.since();
    let token = match &status {
        TokenStatus::Ready => "<span class=\"ok\">ready</span>".to_owned(),
        TokenStatus::Starting => "<span class=\"warn\">starting</span>".to_owned(),
        TokenStatus::Down { reason } => {
            format!("<span class=\"bad\">down</span>: {}", esc(reason))
        }
    };
    let database = match ctx.app.readiness().await {
        Err(n) if n.component == "database" => {
            format!("<span class=\"bad\">unavailable</span>: {}", esc(&n.reason))
        }
        _ => "<span class=\"ok\">ok</span>".to_owned(),
    };
    let mut rows = vec![
        vec!["Token".into(), format!("{token} (for {})", secs(held))],
        vec!["Database".into(), database],
    ];
    if let Some(t) = ctx.app.token() {
        let st = t.stats();
        let n = st.sign_latency.count();
        let mean = if n > 0 {
            format!(
                "{:.2} ms",
                st.sign_latency.sum().as_secs_f64() * 1000.0 / n as f64
            )
        } else {
            "–".into()
        };
        rows.push(vec![
            "Signatures".into(),
            format!(
                "{} ({} failed), mean latency {mean}",
                st.signatures, st.sign_errors
            ),
        ]);
        rows.push(vec![
            "Session pool".into(),
            format!("{} of {} in use", st.sessions_in_use, st.sessions_max),
        ]);
        rows.push(vec![
            "Token activity".into(),
            format!(
                "{} reconnects, {} searches, {} keys cached",
                st.reconnects, st.searches, st.cached_keys
            ),
        ]);
    }
    let mut body = String::from("<h2>State</h2>");
    body.push_str(&html::table(&["What", "State"], &rows));
    body.push_str("<h2>Recent outages and reconciliations</h2>");
    let recent: Vec<Vec<String>> = ctx
        .app
        .health
        .recent()
        .into_iter()
        .rev()
        .map(|(at, what)| vec![esc(&at), esc(&what)])
        .collect();
    body.push_str(&html::table(&["At", "What"], &recent));
    body.push_str("<p><a href=\"/metrics\">All metrics</a> (OpenMetrics text)</p>");
    Ok(render(s, StatusCode::OK, "Overview", &body))
}

/// The tenant's audit log with the API's filters and paging, and the chain check.
pub async fn audit(ctx: &Ctx, s: &Session, q: &Form) -> Result<Response<Body>, ApiError> {
    if !s.may(RouteId::AuditList) {
        return Err(forbidden(ctx, s, "GET /console/audit").await);
    }
    let params: Vec<(String, String)> = ["limit", "cursor", "event", "objectId"]
        .iter()
        .filter_map(|k| {
            q.get(k)
                .filter(|v| !v.is_empty())
                .map(|v| ((*k).into(), v.into()))
        })
        .collect();
    let (limit, after) = query::page(&params)?;
    let event = query::get(&params, "event").map(str::to_owned);
    let object = query::get(&params, "objectId").map(str::to_owned);
    let (rows, next) =
        crate::service::audit::list(&ctx.app, &s.op, event.clone(), object.clone(), after, limit)
            .await?;
    let mut body =
        String::from("<form method=\"get\" action=\"/console/audit\" class=\"filters\">");
    body.push_str(&html::field(
        "Event",
        "event",
        Input::Text,
        q.val("event"),
        "exact name",
        &[],
    ));
    body.push_str(&html::field(
        "Object id",
        "objectId",
        Input::Text,
        q.val("objectId"),
        "",
        &[],
    ));
    body.push_str("<button type=\"submit\">Filter</button></form>");
    if q.get("verify").is_some() {
        body.push_str(&chain_check(ctx).await);
    } else {
        body.push_str(
            "<p><a href=\"/console/audit?verify=1\" id=\"verify\">Check the chain and its \
             checkpoints</a></p>",
        );
    }
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            vec![
                r.seq.to_string(),
                esc(&r.event.at),
                format!("<code>{}</code>", esc(&r.event.event)),
                esc(&r.event.outcome),
                esc(r.event.object_id.as_deref().unwrap_or("")),
                esc(r.event.token_id.as_deref().unwrap_or("")),
                esc(r.event.error_code.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    body.push_str(&html::table(
        &["Seq", "At", "Event", "Outcome", "Object", "Token", "Error"],
        &rows,
    ));
    if let Some(n) = next {
        let mut href = format!("/console/audit?cursor={}", query::encode_cursor(n));
        for (k, v) in [("event", &event), ("objectId", &object)] {
            if let Some(v) = v {
                href.push_str(&format!("&{k}={}", url(v)));
            }
        }
        body.push_str(&format!(
            "<p><a href=\"{}\" rel=\"next\">Older events</a></p>",
            esc(&href)
        ));
    }
    Ok(render(s, StatusCode::OK, "Audit log", &body))
}

/// `hsm-pki audit verify`'s check, on the blocking pool. It covers the whole log, so only
/// its verdict is shown (no counts of other tenants' events).
async fn chain_check(ctx: &Ctx) -> String {
    let Some(token) = ctx.app.token() else {
        return "<p class=\"warn\">The chain check needs the token, which is not open.</p>".into();
    };
    let store = ctx.app.store.clone();
    let r = ctx
        .app
        .blocking(move || crate::service::checkpoint::verify(&store, &token))
        .await;
    match r {
        Ok(Ok(report)) if report.findings.is_empty() => format!(
            "<p class=\"ok\" id=\"chain\">Chain check: intact, every checkpoint signed by \
             this token's audit key ({} events not yet under a checkpoint).</p>",
            report.unanchored
        ),
        Ok(Ok(report)) => {
            let items: String = report
                .findings
                .iter()
                .map(|f| format!("<li>{}</li>", esc(&f.to_string())))
                .collect();
            format!(
                "<div class=\"error\" id=\"chain\"><p>Chain check failed:</p><ul>{items}</ul></div>"
            )
        }
        Ok(Err(e)) => format!(
            "<p class=\"bad\" id=\"chain\">Chain check could not run: {}</p>",
            esc(&e.to_string())
        ),
        Err(e) => format!(
            "<p class=\"bad\" id=\"chain\">Chain check could not run: {}</p>",
            esc(&e.to_string())
        ),
    }
}

const ALGORITHMS: &[(&str, &str)] = &[
    ("secp256r1", "EC P-256"),
    ("secp384r1", "EC P-384"),
    ("secp521r1", "EC P-521"),
    ("rsa2048", "RSA 2048"),
    ("rsa3072", "RSA 3072"),
    ("rsa4096", "RSA 4096 (slow: runs as a job)"),
];

pub async fn keys(
    ctx: &Ctx,
    s: &Session,
    q: &Form,
    refused: Option<(&Form, ApiError)>,
) -> Result<Response<Body>, ApiError> {
    if !s.may(RouteId::KeysList) {
        return Err(forbidden(ctx, s, "GET /console/keys").await);
    }
    let params: Vec<(String, String)> = q
        .get("cursor")
        .map(|c| vec![("cursor".to_owned(), c.to_owned())])
        .unwrap_or_default();
    let (limit, after) = query::page(&params)?;
    let (list, next) = keys::list(&ctx.app, &s.op, after, limit).await?;
    let mut body = String::new();
    let (form, details, status) = match &refused {
        Some((f, e)) => {
            body.push_str(&html::error_summary(
                &e.message,
                e.code.as_str(),
                &e.details,
                &["keyId", "algorithm"],
            ));
            (*f, e.details.as_slice(), e.status())
        }
        None => (q, &[][..], StatusCode::OK),
    };
    if s.may(RouteId::KeysCreate) {
        body.push_str(
            "<h2>Create a key</h2><form method=\"post\" action=\"/console/keys\" class=\"card\">",
        );
        body.push_str(&html::csrf_field(&s.live));
        body.push_str(&html::field(
            "Key id",
            "keyId",
            Input::Text,
            form.val("keyId"),
            "optional; letters, digits, - and _",
            details,
        ));
        let alg = if form.val("algorithm").is_empty() {
            "secp256r1"
        } else {
            form.val("algorithm")
        };
        body.push_str(&html::field(
            "Algorithm",
            "algorithm",
            Input::Select(ALGORITHMS),
            alg,
            "",
            details,
        ));
        body.push_str("<button type=\"submit\">Create in the token</button></form>");
    }
    let rows: Vec<Vec<String>> = list
        .into_iter()
        .map(|k| {
            vec![
                format!("<code>{}</code>", esc(&k.key_id)),
                format!("<code>{}</code>", esc(&k.key_id_path)),
                esc(k.algorithm.name()),
                esc(&k.created_at),
            ]
        })
        .collect();
    body.push_str("<h2>Keys</h2>");
    body.push_str(&html::table(
        &["Key id", "Key id path", "Algorithm", "Created"],
        &rows,
    ));
    if let Some(n) = next {
        body.push_str(&format!(
            "<p><a href=\"/console/keys?cursor={}\" rel=\"next\">More</a></p>",
            query::encode_cursor(n)
        ));
    }
    Ok(render(s, status, "Keys", &body))
}

/// A key is created by `service::keys::create`, the API's operation, as a job when slow.
pub async fn create_key(ctx: &Ctx, s: &Session, form: Form) -> Result<Response<Body>, ApiError> {
    if !s.may(RouteId::KeysCreate) {
        return Err(forbidden(ctx, s, "POST /console/keys").await);
    }
    let body = form.json(&["keyId", "algorithm"]);
    let new = match super::decode::<api::CreateKeyRequest>(body)
        .and_then(|r| keys::NewKey::try_from(r).map_err(ApiError::from))
    {
        Ok(n) => n,
        Err(e) => return keys(ctx, s, &Form::default(), Some((&form, e))).await,
    };
    let app = ctx.app.clone();
    let op = detached(&s.op);
    let title = format!("Key generation ({})", form.val("algorithm"));
    match jobs::run(s, &title, async move {
        let k = keys::create(&app, &op, new).await?;
        Ok(format!("/console/keys#key-{}", url(&k.key_id)))
    })
    .await
    {
        Outcome::Finished(Ok(to)) | Outcome::Deferred(to) => Ok(redirect(&to)),
        Outcome::Finished(Err(e)) => keys(ctx, s, &Form::default(), Some((&form, e))).await,
    }
}

/// The session's context with a gate of its own: an operation handed to a job must not be
/// given up when the request that started it times out.
pub fn detached(op: &OpContext) -> OpContext {
    OpContext {
        principal: op.principal.clone(),
        request_id: op.request_id.clone(),
        gate: crate::service::Gate::new(),
    }
}
