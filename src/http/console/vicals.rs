//! VICALs from forms (`/console/vicals`): the tenant's ecosystems (and a form to add one),
//! and per ecosystem its VICAL configuration (set, remove), "publish now", and the
//! published VICALs with their download. Each action is the service operation of the
//! matching `/v1/ecosystems/...` route, allowed by that route's roles, with its request type
//! decoded from the form. Participants (whose IACAs a VICAL lists) are the API's.

use hyper::{Response, StatusCode};

use super::html::{self, Input, esc, url};
use super::pages::render;
use super::{ApiError, Body, Ctx, Form, Json, Session, decode, forbidden, redirect};
use crate::api::dts as wire;
use crate::http::dts::{DtsOp, path_id};
use crate::http::query;
use crate::http::routes::RouteId;
use crate::service::{ServiceError, dts};

/// Allowed by the roles of the API route `op`, else 403 (audited).
async fn check(ctx: &Ctx, s: &Session, op: DtsOp, what: &str) -> Result<(), ApiError> {
    if s.may(RouteId::Dts(op)) {
        Ok(())
    } else {
        Err(forbidden(ctx, s, what).await)
    }
}

fn done(q: &Form) -> String {
    q.get("done")
        .map(|d| {
            format!(
                "<p class=\"ok\" role=\"status\" id=\"done\">Done: {}.</p>",
                esc(d)
            )
        })
        .unwrap_or_default()
}

/// The ecosystems, and the form that adds one.
pub async fn list(
    ctx: &Ctx,
    s: &Session,
    refused: Option<(&Form, ApiError)>,
) -> Result<Response<Body>, ApiError> {
    check(ctx, s, DtsOp::EcosystemList, "GET /console/vicals").await?;
    let (rows, _) = dts::list_ecosystems(&ctx.app, &s.op, 0, dts::MAX_ECOSYSTEMS).await?;
    let mut body = String::new();
    let (name, details, status) = match &refused {
        Some((f, e)) => {
            body.push_str(&html::error_summary(
                &e.message,
                e.code.as_str(),
                &e.details,
                &["name"],
            ));
            (f.val("name"), e.details.as_slice(), e.status())
        }
        None => ("", &[][..], StatusCode::OK),
    };
    body.push_str(
        "<p>A VICAL lists the IACAs of an ecosystem's issuing participants (added through \
         the API, <code>/v1/ecosystems/{id}/participants</code>) and is signed by the active \
         <a href=\"/console/ca/vical-signers\">VICAL signer</a>.</p>",
    );
    if s.may(RouteId::Dts(DtsOp::EcosystemCreate)) {
        body.push_str(&format!(
            "<h2>Add an ecosystem</h2><form method=\"post\" action=\"/console/vicals\" \
             class=\"card\" id=\"create\">{}",
            html::csrf_field(&s.live)
        ));
        body.push_str(&html::field(
            "Name",
            "name",
            Input::Text,
            name,
            "1 to 50 characters",
            details,
        ));
        body.push_str("<button type=\"submit\">Add</button></form>");
    }
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|e| {
            vec![
                format!(
                    "<a href=\"/console/vicals/{}\">{}</a>",
                    url(&e.id),
                    esc(&e.name)
                ),
                format!("<code>{}</code>", esc(&e.id)),
                esc(&e.created_at),
            ]
        })
        .collect();
    body.push_str("<h2>Ecosystems</h2>");
    body.push_str(&html::table(&["Name", "Id", "Created"], &rows));
    Ok(render(s, status, "VICALs", &body))
}

pub async fn create(ctx: &Ctx, s: &Session, form: Form) -> Result<Response<Body>, ApiError> {
    check(ctx, s, DtsOp::EcosystemCreate, "POST /console/vicals").await?;
    let r = match decode::<wire::CreateEcosystemRequest>(form.json(&["name"])) {
        Ok(b) => dts::create_ecosystem(&ctx.app, &s.op, b.name)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match r {
        Ok(e) => Ok(redirect(&format!("/console/vicals/{}", url(&e.id)))),
        Err(e) => list(ctx, s, Some((&form, e))).await,
    }
}

const CONFIG_FIELDS: &[(&str, Json)] = &[
    ("vicalProvider", Json::Str),
    ("autoPublish.enabled", Json::Bool),
    ("autoPublish.frequency", Json::Str),
];

/// One ecosystem: its configuration, the publish button, its participants and VICALs.
pub async fn detail(
    ctx: &Ctx,
    s: &Session,
    raw_id: &str,
    q: &Form,
    refused: Option<(&Form, ApiError)>,
) -> Result<Response<Body>, ApiError> {
    check(ctx, s, DtsOp::EcosystemGet, "GET /console/vicals/{id}").await?;
    let id = path_id(raw_id)?;
    let app = &ctx.app;
    let eco = dts::get_ecosystem(app, &s.op, id.clone()).await?;
    let config = if s.may(RouteId::Dts(DtsOp::ConfigGet)) {
        match dts::get_vical_config(app, &s.op, id.clone()).await {
            Ok(c) => Some(c),
            Err(ServiceError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    let here = format!("/console/vicals/{id}");
    let mut body = done(q);
    let (details, status) = match &refused {
        Some((_, e)) => {
            let names: Vec<&str> = CONFIG_FIELDS.iter().map(|f| f.0).collect();
            body.push_str(&html::error_summary(
                &e.message,
                e.code.as_str(),
                &e.details,
                &names,
            ));
            (e.details.as_slice(), e.status())
        }
        None => (&[][..], StatusCode::OK),
    };
    // The refused form's values, else the stored configuration's.
    let value = |name: &str| -> String {
        if let Some((f, _)) = refused
            .as_ref()
            .filter(|(f, _)| f.val("action") == "configure")
        {
            return f.val(name).to_owned();
        }
        match (&config, name) {
            (Some(c), "vicalProvider") => c.vical_provider.clone(),
            (Some(c), "autoPublish.enabled") => c.auto_publish.to_string(),
            (Some(c), "autoPublish.frequency") => c.frequency.clone(),
            _ => String::new(),
        }
    };
    body.push_str(&format!(
        "<p>Ecosystem <code>{}</code>. The newest VICAL is public at \
         <a href=\"/v1/ecosystems/{id}/vicals/public/latest\">\
         /v1/ecosystems/{id}/vicals/public/latest</a>.</p>",
        esc(&eco.id)
    ));
    body.push_str("<h2>Configuration</h2>");
    if config.is_none() {
        body.push_str("<p class=\"warn\">Not configured: a VICAL cannot be published yet.</p>");
    }
    if s.may(RouteId::Dts(DtsOp::ConfigPut)) {
        body.push_str(&format!(
            "<form method=\"post\" action=\"{here}\" class=\"card\" id=\"configure\">{}\
             <input type=\"hidden\" name=\"action\" value=\"configure\">",
            html::csrf_field(&s.live)
        ));
        body.push_str(&html::field(
            "VICAL provider",
            "vicalProvider",
            Input::Text,
            &value("vicalProvider"),
            "the vicalProvider the VICAL names",
            details,
        ));
        const ENABLED: &[(&str, &str)] = &[("false", "no"), ("true", "yes")];
        const FREQUENCY: &[(&str, &str)] = &[("Daily", "daily"), ("Weekly", "weekly")];
        body.push_str(&html::field(
            "Publish automatically",
            "autoPublish.enabled",
            Input::Select(ENABLED),
            &value("autoPublish.enabled"),
            "",
            details,
        ));
        body.push_str(&html::field(
            "How often",
            "autoPublish.frequency",
            Input::Select(FREQUENCY),
            &value("autoPublish.frequency"),
            "",
            details,
        ));
        body.push_str("<button type=\"submit\">Save the configuration</button></form>");
    } else if let Some(c) = &config {
        let rows = vec![
            vec!["VICAL provider".into(), esc(&c.vical_provider)],
            vec![
                "Auto-publish".into(),
                if c.auto_publish {
                    esc(&c.frequency)
                } else {
                    "no".into()
                },
            ],
        ];
        body.push_str(&html::table(&["Setting", "Value"], &rows));
    }
    body.push_str("<div class=\"actions\">");
    if s.may(RouteId::Dts(DtsOp::Publish)) {
        body.push_str(&html::button(
            &s.live,
            &here,
            "publish",
            "Publish a VICAL now",
            "",
        ));
    }
    if config.is_some() && s.may(RouteId::Dts(DtsOp::ConfigDelete)) {
        body.push_str(&html::button(
            &s.live,
            &here,
            "unconfigure",
            "Remove the configuration",
            "",
        ));
    }
    body.push_str("</div>");
    if s.may(RouteId::Dts(DtsOp::ParticipantList)) {
        let (ps, more) = dts::list_participants(app, &s.op, id.clone(), 0, 100).await?;
        let rows: Vec<Vec<String>> = ps
            .into_iter()
            .map(|p| {
                vec![
                    esc(&p.name),
                    if p.is_issuer { "yes" } else { "no" }.into(),
                    p.iacas.len().to_string(),
                ]
            })
            .collect();
        body.push_str("<h2>Participants</h2>");
        body.push_str(&html::table(&["Name", "Issuer", "IACAs"], &rows));
        if more.is_some() {
            body.push_str("<p>(The first 100; the API lists them all.)</p>");
        }
    }
    let params: Vec<(String, String)> = q
        .get("cursor")
        .map(|c| vec![("cursor".to_owned(), c.to_owned())])
        .unwrap_or_default();
    let (limit, after) = query::page(&params)?;
    let (vicals, next) = dts::public_vicals(app, id.clone(), after, limit).await?;
    let rows: Vec<Vec<String>> = vicals
        .into_iter()
        .map(|v| {
            let n = v.vical_issue_id;
            vec![
                n.to_string(),
                esc(&v.date),
                esc(&v.next_update),
                if v.is_auto_published {
                    "auto"
                } else {
                    "by hand"
                }
                .into(),
                format!(
                    "<a href=\"{here}/vical-{n}.cbor\" download>CBOR</a> \
                     <a href=\"/v1/ecosystems/{id}/vicals/public/{n}\">public URL</a>"
                ),
            ]
        })
        .collect();
    body.push_str("<h2>Published VICALs</h2>");
    body.push_str(&html::table(
        &["vicalIssueID", "Date", "Next update", "Published", ""],
        &rows,
    ));
    if let Some(n) = next {
        body.push_str(&format!(
            "<p><a href=\"{here}?cursor={}\" rel=\"next\">Newer</a></p>",
            query::encode_cursor(n)
        ));
    }
    body.push_str("<p><a href=\"/console/vicals\">Back to the ecosystems</a></p>");
    Ok(render(s, status, &format!("VICALs of {}", eco.name), &body))
}

pub async fn action(
    ctx: &Ctx,
    s: &Session,
    raw_id: &str,
    form: Form,
) -> Result<Response<Body>, ApiError> {
    let id = path_id(raw_id)?;
    let what = form.val("action").to_owned();
    let op = match what.as_str() {
        "configure" => DtsOp::ConfigPut,
        "unconfigure" => DtsOp::ConfigDelete,
        "publish" => DtsOp::Publish,
        _ => {
            return Err(
                ApiError::new(crate::api::ErrorCode::ValidationError, "Unknown action")
                    .with_detail("body", "action", "unknown action", None),
            );
        }
    };
    let route = format!("POST /console/vicals/{{id}} {what}");
    check(ctx, s, op, &route).await?;
    let app = &ctx.app;
    let result: Result<String, ApiError> = match op {
        DtsOp::ConfigPut => {
            match decode::<wire::VicalConfiguration>(form.json_typed(CONFIG_FIELDS)) {
                Ok(b) => dts::put_vical_config(
                    app,
                    &s.op,
                    id.clone(),
                    b.vical_provider,
                    b.auto_publish.enabled,
                    b.auto_publish.frequency,
                )
                .await
                .map(|_| "configured".to_owned())
                .map_err(ApiError::from),
                Err(e) => Err(e),
            }
        }
        DtsOp::ConfigDelete => dts::delete_vical_config(app, &s.op, id.clone())
            .await
            .map(|()| "configuration removed".to_owned())
            .map_err(ApiError::from),
        _ => dts::publish(app, &s.op, id.clone(), false)
            .await
            .map(|p| format!("published VICAL {}", p.vical_issue_id))
            .map_err(ApiError::from),
    };
    match result {
        Ok(done) => Ok(redirect(&format!(
            "/console/vicals/{id}?done={}",
            url(&done)
        ))),
        Err(e) if e.code == crate::api::ErrorCode::NotFound && op != DtsOp::ConfigDelete => Err(e),
        Err(e) => detail(ctx, s, &id, &Form::default(), Some((&form, e))).await,
    }
}

/// `vical-{n}.cbor`: a published VICAL's bytes, as the public route serves them.
pub async fn download(
    ctx: &Ctx,
    s: &Session,
    raw_id: &str,
    file: &str,
) -> Result<Response<Body>, ApiError> {
    check(
        ctx,
        s,
        DtsOp::EcosystemGet,
        "GET /console/vicals/{id}/{file}",
    )
    .await?;
    let id = path_id(raw_id)?;
    let n = file
        .strip_prefix("vical-")
        .and_then(|f| f.strip_suffix(".cbor"))
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(ApiError::not_found)?;
    // The tenant's own ecosystem only (the public read below names no tenant).
    dts::get_ecosystem(&ctx.app, &s.op, id.clone()).await?;
    let v = dts::public_vical(&ctx.app, id.clone(), Some(n)).await?;
    Ok(super::download(
        v.bytes,
        "application/cbor",
        &format!("vical-{id}-{n}.cbor"),
    ))
}
