//! Every root and signer family on one set of pages (`/console/ca/{resource}`), as the API
//! serves them on one set of handlers: list, create, CSR and certificate download,
//! certificate upload, activate/deactivate, revoke, delete. Each action is the service
//! operation the API route of the same action calls, allowed by that route's roles.

use hyper::{Response, StatusCode};

use super::html::{self, Input, esc, url};
use super::jobs::{self, Outcome};
use super::pages::{detached, render};
use super::{ApiError, Body, Ctx, Form, Session, decode, forbidden, redirect};
use crate::api;
use crate::http::ca::{CaOp, Resource, path_id};
use crate::http::query;
use crate::http::routes::RouteId;
use crate::service::ca::{self, RootFamily, RootRequest, SignerFamily};

enum Family {
    Root(RootFamily),
    Signer(SignerFamily),
}

/// `{resource}` of the console's URLs.
fn resource(seg: &str) -> Result<(Resource, Family, &'static str), ApiError> {
    Ok(match seg {
        "dts-roots" => (Resource::DtsCa, Family::Root(RootFamily::Dts), "DTS roots"),
        "holder-roots" => (
            Resource::HolderCa,
            Family::Root(RootFamily::Holder),
            "Holder roots",
        ),
        "iacas" => (Resource::Iaca, Family::Root(RootFamily::Iaca), "IACAs"),
        "vical-signers" => (
            Resource::VicalSigner,
            Family::Signer(SignerFamily::Vical),
            "VICAL signers",
        ),
        "wallet-signers" => (
            Resource::WalletSigner,
            Family::Signer(SignerFamily::Wallet),
            "Wallet attestation signers",
        ),
        "document-signers" => (
            Resource::DocumentSigner,
            Family::Signer(SignerFamily::Document),
            "Document signers",
        ),
        "status-list-signers" => (
            Resource::StatusListSigner,
            Family::Signer(SignerFamily::StatusList),
            "Status list signers",
        ),
        _ => return Err(ApiError::not_found()),
    })
}

/// Allowed by the roles of the API route `(resource, op)`, else 403 (audited).
async fn check(ctx: &Ctx, s: &Session, r: Resource, op: CaOp, what: &str) -> Result<(), ApiError> {
    if s.may(RouteId::Ca(r, op)) {
        Ok(())
    } else {
        Err(forbidden(ctx, s, what).await)
    }
}

/// The create form's fields of a root family: the API request's member names.
fn root_fields(f: RootFamily) -> &'static [(&'static str, &'static str, &'static str)] {
    match f {
        RootFamily::Dts => &[
            ("commonName", "Common name", ""),
            ("country", "Country", "two letters"),
            ("organisationName", "Organisation", ""),
            ("notBefore", "Not before", "RFC 3339; default now"),
            ("notAfter", "Not after", "RFC 3339"),
            (
                "algorithm",
                "Key algorithm",
                "secp256r1 (default), secp384r1, secp521r1",
            ),
            (
                "issuerAlternativeNameConf.uri",
                "issuerAltName URI",
                "default: the tenant's",
            ),
        ],
        RootFamily::Holder => &[
            ("commonName", "Common name", ""),
            ("country", "Country", "two letters"),
            (
                "issuerAlternativeNameConf.uri",
                "issuerAltName URI",
                "default: the tenant's",
            ),
        ],
        RootFamily::Iaca => &[
            ("commonName", "Common name", ""),
            ("country", "Country", "two letters"),
            (
                "stateOrProvinceName",
                "State or province",
                "ISO 3166-2, optional",
            ),
            ("notBefore", "Not before", "RFC 3339; default now"),
            ("notAfter", "Not after", "RFC 3339"),
            (
                "algorithm",
                "Key algorithm",
                "secp256r1 (default), secp384r1, secp521r1",
            ),
            (
                "issuerAlternativeNameConf.uri",
                "issuerAltName URI",
                "default: the tenant's",
            ),
        ],
    }
}

fn root_request(f: RootFamily, form: &Form) -> Result<RootRequest, ApiError> {
    let mut names: Vec<&str> = root_fields(f).iter().map(|(n, _, _)| *n).collect();
    names.push("certificatePem");
    let v = form.json(&names);
    Ok(match f {
        RootFamily::Dts => RootRequest::try_from(decode::<api::CreateDtsCaRequest>(v)?)?,
        RootFamily::Holder => RootRequest::try_from(decode::<api::CreateHolderCaRequest>(v)?)?,
        RootFamily::Iaca => RootRequest::try_from(decode::<api::mobile::CreateIacaRequest>(v)?)?,
    })
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

pub async fn list(
    ctx: &Ctx,
    s: &Session,
    seg: &str,
    q: &Form,
    refused: Option<(&Form, ApiError)>,
) -> Result<Response<Body>, ApiError> {
    let (r, family, title) = resource(seg)?;
    check(ctx, s, r, CaOp::List, &format!("GET /console/ca/{seg}")).await?;
    let params: Vec<(String, String)> = q
        .get("cursor")
        .map(|c| vec![("cursor".to_owned(), c.to_owned())])
        .unwrap_or_default();
    let (limit, after) = query::page(&params)?;
    let mut body = String::new();
    let (form, details, status) = match &refused {
        Some((f, e)) => (*f, e.details.as_slice(), e.status()),
        None => (q, &[][..], StatusCode::OK),
    };
    let link = |id: &str| format!("<a href=\"/console/ca/{seg}/{}\">{}</a>", url(id), esc(id));
    let (rows, next, head): (Vec<Vec<String>>, _, &[&str]) = match family {
        Family::Root(f) => {
            let (rows, next) = ca::list_roots(&ctx.app, &s.op, f, after, limit).await?;
            let rows = rows
                .into_iter()
                .map(|v| {
                    vec![
                        link(&v.id),
                        esc(v.certificate.data.common_name.as_deref().unwrap_or("")),
                        yes(v.active).into(),
                        if v.is_managed {
                            "managed (key in the token)"
                        } else {
                            "uploaded"
                        }
                        .into(),
                        esc(&v.certificate.data.not_after),
                    ]
                })
                .collect();
            (
                rows,
                next,
                &["Id", "Common name", "Active", "Kind", "Not after"],
            )
        }
        Family::Signer(f) => {
            let (rows, next) = ca::list_signers(&ctx.app, &s.op, f, after, limit).await?;
            let rows = rows
                .into_iter()
                .map(|v| {
                    vec![
                        link(&v.id),
                        esc(&v.ca_id),
                        yes(v.active).into(),
                        if v.certificate.is_some() {
                            "uploaded"
                        } else {
                            "awaiting certificate"
                        }
                        .into(),
                    ]
                })
                .collect();
            (rows, next, &["Id", "Root", "Active", "Certificate"])
        }
    };
    if let Some((_, e)) = &refused {
        let names: Vec<&str> = match family {
            Family::Root(f) => root_fields(f)
                .iter()
                .map(|(n, _, _)| *n)
                .chain(["certificatePem"])
                .collect(),
            Family::Signer(f) => vec![f.root_param()],
        };
        body.push_str(&html::error_summary(
            &e.message,
            e.code.as_str(),
            &e.details,
            &names,
        ));
    }
    if s.may(RouteId::Ca(r, CaOp::Create)) {
        body.push_str(&format!(
            "<h2>Create</h2><form method=\"post\" action=\"/console/ca/{seg}\" class=\"card\" id=\"create\">{}",
            html::csrf_field(&s.live)
        ));
        match family {
            Family::Root(f) => {
                for (name, label, hint) in root_fields(f) {
                    body.push_str(&html::field(
                        label,
                        name,
                        Input::Text,
                        form.val(name),
                        hint,
                        details,
                    ));
                }
                body.push_str(&html::field(
                    "Or upload a root certificate (PEM)",
                    "certificatePem",
                    Input::Area,
                    form.val("certificatePem"),
                    "an offline root: no key is made here, the fields above must then be empty",
                    details,
                ));
            }
            Family::Signer(f) => {
                let p = f.root_param();
                let (roots, _) =
                    ca::list_roots(&ctx.app, &s.op, f.root(), 0, query::MAX_LIMIT).await?;
                let options: Vec<(String, String)> = roots
                    .into_iter()
                    .map(|v| {
                        let cn = v.certificate.data.common_name.unwrap_or_default();
                        let kind = if v.is_managed { "managed" } else { "uploaded" };
                        (v.id.clone(), format!("{cn} ({kind}, {})", v.id))
                    })
                    .collect();
                let opts: Vec<(&str, &str)> = options
                    .iter()
                    .map(|(a, b)| (a.as_str(), b.as_str()))
                    .collect();
                body.push_str(&html::field(
                    "Root",
                    p,
                    Input::Select(&opts),
                    form.val(p),
                    "",
                    details,
                ));
            }
        }
        body.push_str("<button type=\"submit\">Create</button></form>");
    }
    body.push_str("<h2>List</h2>");
    body.push_str(&html::table(head, &rows));
    if let Some(n) = next {
        body.push_str(&format!(
            "<p><a href=\"/console/ca/{seg}?cursor={}\" rel=\"next\">More</a></p>",
            query::encode_cursor(n)
        ));
    }
    Ok(render(s, status, title, &body))
}

pub async fn create(
    ctx: &Ctx,
    s: &Session,
    seg: &str,
    form: Form,
) -> Result<Response<Body>, ApiError> {
    let (r, family, title) = resource(seg)?;
    check(ctx, s, r, CaOp::Create, &format!("POST /console/ca/{seg}")).await?;
    let app = ctx.app.clone();
    let op = detached(&s.op);
    let seg2 = seg.to_owned();
    let outcome = match family {
        Family::Root(f) => match root_request(f, &form) {
            Err(e) => Outcome::Finished(Err(e)),
            Ok(req) => {
                jobs::run(s, &format!("Creating one of the {title}"), async move {
                    let v = ca::create_root(&app, &op, f, req).await?;
                    Ok(format!("/console/ca/{seg2}/{}", v.id))
                })
                .await
            }
        },
        Family::Signer(f) => {
            let v = form.json(&[f.root_param()]);
            let ca_id = match f {
                SignerFamily::Document | SignerFamily::StatusList => {
                    decode::<api::mobile::CreateDocumentSignerRequest>(v)
                        .and_then(|b| ca::SignerRequest::try_from(b).map_err(ApiError::from))
                }
                _ => decode::<api::CreateSignerRequest>(v)
                    .and_then(|b| ca::SignerRequest::try_from(b).map_err(ApiError::from)),
            };
            match ca_id {
                Err(e) => Outcome::Finished(Err(e)),
                Ok(b) => {
                    jobs::run(s, &format!("Creating one of the {title}"), async move {
                        let v = ca::create_signer(&app, &op, f, b.ca_id).await?;
                        Ok(format!("/console/ca/{seg2}/{}", v.id))
                    })
                    .await
                }
            }
        }
    };
    match outcome {
        Outcome::Finished(Ok(to)) | Outcome::Deferred(to) => Ok(redirect(&to)),
        Outcome::Finished(Err(e)) => list(ctx, s, seg, &Form::default(), Some((&form, e))).await,
    }
}

fn cert_rows(c: &ca::CertView) -> Vec<Vec<String>> {
    let d = &c.data;
    let mut rows = Vec::new();
    for (k, v) in [
        ("Common name", d.common_name.as_deref()),
        ("Country", d.country.as_deref()),
        ("Organisation", d.organisation_name.as_deref()),
        ("State or province", d.state_or_province.as_deref()),
        ("Not before", Some(d.not_before.as_str())),
        ("Not after", Some(d.not_after.as_str())),
        ("SHA-256 fingerprint", Some(c.fingerprint.as_str())),
    ] {
        if let Some(v) = v {
            rows.push(vec![esc(k), format!("<code>{}</code>", esc(v))]);
        }
    }
    rows
}

pub async fn detail(
    ctx: &Ctx,
    s: &Session,
    seg: &str,
    raw_id: &str,
    q: &Form,
    refused: Option<(&Form, ApiError)>,
) -> Result<Response<Body>, ApiError> {
    let (r, family, title) = resource(seg)?;
    check(
        ctx,
        s,
        r,
        CaOp::Get,
        &format!("GET /console/ca/{seg}/{{id}}"),
    )
    .await?;
    let id = path_id(raw_id)?;
    let here = format!("/console/ca/{seg}/{id}");
    let mut body = String::new();
    let status = refused
        .as_ref()
        .map(|(_, e)| e.status())
        .unwrap_or(StatusCode::OK);
    let details = refused
        .as_ref()
        .map(|(_, e)| e.details.as_slice())
        .unwrap_or(&[]);
    if let Some((_, e)) = &refused {
        body.push_str(&html::error_summary(
            &e.message,
            e.code.as_str(),
            &e.details,
            &["certificatePem", "reason"],
        ));
    }
    if let Some(done) = q.get("done") {
        body.push_str(&format!(
            "<p class=\"ok\" role=\"status\" id=\"done\">Done: {}.</p>",
            esc(done)
        ));
    }
    let may_update = s.may(RouteId::Ca(r, CaOp::Update));
    let may_delete = s.may(RouteId::Ca(r, CaOp::Delete));
    let active_buttons = |active: bool| {
        if !may_update {
            String::new()
        } else if active {
            html::button(&s.live, &here, "deactivate", "Deactivate", "")
        } else {
            html::button(&s.live, &here, "activate", "Activate", "")
        }
    };
    match family {
        Family::Root(f) => {
            let v = ca::get_root(&ctx.app, &s.op, f, id.clone()).await?;
            let mut rows = vec![
                vec!["Id".into(), format!("<code>{}</code>", esc(&v.id))],
                vec!["Active".into(), yes(v.active).into()],
                vec!["Managed".into(), yes(v.is_managed).into()],
            ];
            rows.extend(cert_rows(&v.certificate));
            body.push_str(&html::table(&["", ""], &rows));
            body.push_str(&format!(
                "<p><a href=\"{here}/certificate.pem\" download>Download the certificate (PEM)</a> · \
                 <a href=\"{here}/certificate.der\" download>DER</a></p><div class=\"actions\">"
            ));
            body.push_str(&active_buttons(v.active));
        }
        Family::Signer(f) => {
            let v = ca::get_signer(&ctx.app, &s.op, f, id.clone()).await?;
            let mut rows = vec![
                vec!["Id".into(), format!("<code>{}</code>", esc(&v.id))],
                vec![
                    "Root".into(),
                    format!(
                        "<a href=\"/console/ca/{}/{}\">{}</a>",
                        root_segment(f),
                        url(&v.ca_id),
                        esc(&v.ca_id)
                    ),
                ],
                vec!["Active".into(), yes(v.active).into()],
            ];
            if let Some(c) = &v.certificate {
                rows.extend(cert_rows(c));
            }
            body.push_str(&html::table(&["", ""], &rows));
            body.push_str(&format!(
                "<p><a href=\"{here}/csr.pem\" download id=\"csr\">Download the CSR (PEM)</a>"
            ));
            if v.certificate.is_some() {
                body.push_str(&format!(
                    " · <a href=\"{here}/certificate.pem\" download>the certificate (PEM)</a> · \
                     <a href=\"{here}/certificate.der\" download>DER</a>"
                ));
            }
            body.push_str("</p>");
            body.push_str(&format!(
                "<details open><summary>CSR</summary><pre>{}</pre></details>",
                esc(&v.csr_pem)
            ));
            if may_update {
                let form = refused.as_ref().map(|(f, _)| *f);
                body.push_str(&format!(
                    "<h2>Upload the certificate</h2><form method=\"post\" action=\"{here}\" class=\"card\" id=\"upload\">{}\
                     <input type=\"hidden\" name=\"action\" value=\"upload\">",
                    html::csrf_field(&s.live)
                ));
                body.push_str(&html::field(
                    "Certificate (PEM), signed by the root from this CSR",
                    "certificatePem",
                    Input::Area,
                    form.map(|f| f.val("certificatePem")).unwrap_or(""),
                    "",
                    details,
                ));
                body.push_str("<button type=\"submit\">Upload</button></form>");
            }
            body.push_str("<div class=\"actions\">");
            body.push_str(&active_buttons(v.active));
            if s.may(RouteId::Ca(r, CaOp::Revoke)) && v.certificate.is_some() {
                const REASONS: &[(&str, &str)] = &[
                    ("unspecified", "unspecified"),
                    ("keyCompromise", "key compromise"),
                    ("cACompromise", "CA compromise"),
                    ("affiliationChanged", "affiliation changed"),
                    ("superseded", "superseded"),
                    ("cessationOfOperation", "cessation of operation"),
                    ("privilegeWithdrawn", "privilege withdrawn"),
                ];
                let sel = html::field(
                    "Reason",
                    "reason",
                    Input::Select(REASONS),
                    "unspecified",
                    "",
                    details,
                );
                body.push_str(&html::button(&s.live, &here, "revoke", "Revoke", &sel));
            }
        }
    }
    if may_delete {
        body.push_str(&html::button(&s.live, &here, "delete", "Delete", ""));
    }
    body.push_str("</div>");
    body.push_str(&format!(
        "<p><a href=\"/console/ca/{seg}\">Back to the {}</a></p>",
        esc(title)
    ));
    Ok(render(s, status, title, &body))
}

fn root_segment(f: SignerFamily) -> &'static str {
    match f.root() {
        RootFamily::Dts => "dts-roots",
        RootFamily::Holder => "holder-roots",
        RootFamily::Iaca => "iacas",
    }
}

pub async fn action(
    ctx: &Ctx,
    s: &Session,
    seg: &str,
    raw_id: &str,
    form: Form,
) -> Result<Response<Body>, ApiError> {
    let (r, family, _) = resource(seg)?;
    let id = path_id(raw_id)?;
    let what = form.val("action").to_owned();
    let op = match what.as_str() {
        "activate" | "deactivate" | "upload" => CaOp::Update,
        "delete" => CaOp::Delete,
        "revoke" => CaOp::Revoke,
        _ => {
            return Err(
                ApiError::new(crate::api::ErrorCode::ValidationError, "Unknown action")
                    .with_detail("body", "action", "unknown action", None),
            );
        }
    };
    check(
        ctx,
        s,
        r,
        op,
        &format!("POST /console/ca/{seg}/{{id}} {what}"),
    )
    .await?;
    let app = &ctx.app;
    let result: Result<(), ApiError> = match (&family, what.as_str()) {
        (Family::Root(f), "activate" | "deactivate") => {
            ca::set_root_active(app, &s.op, *f, id.clone(), what == "activate")
                .await
                .map(drop)
                .map_err(ApiError::from)
        }
        (Family::Root(f), "delete") => ca::delete_root(app, &s.op, *f, id.clone())
            .await
            .map_err(ApiError::from),
        (Family::Signer(f), "activate" | "deactivate") => {
            ca::update_signer(app, &s.op, *f, id.clone(), Some(what == "activate"), None)
                .await
                .map(drop)
                .map_err(ApiError::from)
        }
        (Family::Signer(f), "upload") => {
            match decode::<api::UpdateSignerRequest>(form.json(&["certificatePem"])) {
                Ok(b) => ca::update_signer(app, &s.op, *f, id.clone(), None, b.certificate_pem)
                    .await
                    .map(drop)
                    .map_err(ApiError::from),
                Err(e) => Err(e),
            }
        }
        (Family::Signer(f), "revoke") => match decode::<api::RevokeRequest>(form.json(&["reason"]))
        {
            Ok(b) => crate::service::crl::revoke_signer(app, &s.op, *f, id.clone(), b.reason)
                .await
                .map(drop)
                .map_err(ApiError::from),
            Err(e) => Err(e),
        },
        (Family::Signer(f), "delete") => ca::delete_signer(app, &s.op, *f, id.clone())
            .await
            .map_err(ApiError::from),
        _ => Err(ApiError::not_found()),
    };
    match result {
        Ok(()) if what == "delete" => Ok(redirect(&format!("/console/ca/{seg}"))),
        Ok(()) => Ok(redirect(&format!(
            "/console/ca/{seg}/{id}?done={}",
            url(&what)
        ))),
        Err(e) if e.code == crate::api::ErrorCode::NotFound => Err(e),
        Err(e) => detail(ctx, s, seg, &id, &Form::default(), Some((&form, e))).await,
    }
}

/// `csr.pem`, `certificate.pem`, `certificate.der`.
pub async fn download(
    ctx: &Ctx,
    s: &Session,
    seg: &str,
    raw_id: &str,
    file: &str,
) -> Result<Response<Body>, ApiError> {
    let (r, family, _) = resource(seg)?;
    check(
        ctx,
        s,
        r,
        CaOp::Get,
        &format!("GET /console/ca/{seg}/{{id}}/{file}"),
    )
    .await?;
    let id = path_id(raw_id)?;
    let (csr, cert) = match family {
        Family::Root(f) => (
            None,
            Some(
                ca::get_root(&ctx.app, &s.op, f, id.clone())
                    .await?
                    .certificate
                    .pem,
            ),
        ),
        Family::Signer(f) => {
            let v = ca::get_signer(&ctx.app, &s.op, f, id.clone()).await?;
            (Some(v.csr_pem), v.certificate.map(|c| c.pem))
        }
    };
    let pem = match file {
        "csr.pem" => csr,
        "certificate.pem" | "certificate.der" => cert,
        _ => None,
    }
    .ok_or_else(ApiError::not_found)?;
    let name = format!("{seg}-{id}-{file}");
    if file.ends_with(".der") {
        let der = crate::x509::pem::decode_one(
            pem.as_bytes(),
            &[crate::x509::CERTIFICATE_LABEL],
            "certificate",
        )
        .map_err(|_| ApiError::internal())?;
        Ok(super::download(der, "application/pkix-cert", &name))
    } else if file.starts_with("csr") {
        Ok(super::download(
            pem.into_bytes(),
            "application/pkcs10",
            &name,
        ))
    } else {
        Ok(super::download(
            pem.into_bytes(),
            "application/x-pem-file",
            &name,
        ))
    }
}
