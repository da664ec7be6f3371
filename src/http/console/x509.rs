//! The X.509 service from forms: IACA and Document Signer issuance (`/console/issue/...`),
//! and the certificate store with search, PEM/DER download and revocation. The forms'
//! field names are the API request's JSON paths, so an error's `param` lands on its field;
//! the descriptor `type`s are set here, the rest is the API's request decoded and checked
//! by the same service functions.

use hyper::{Response, StatusCode};

use super::html::{self, Input, esc, url};
use super::pages::render;
use super::{ApiError, Body, Ctx, Form, Session, decode, forbidden, redirect};
use crate::api;
use crate::http::query;
use crate::http::routes::RouteId;
use crate::service::{crl, keys, x509 as svc};

/// A form field: (the API request's JSON path, label, hint).
type Field = (&'static str, &'static str, &'static str);

const IACA_FIELDS: &[Field] = &[
    ("iacaKeyDesc.keyIdPath", "IACA key", ""),
    ("certificateData.country", "Country", "two letters"),
    ("certificateData.commonName", "Common name", ""),
    (
        "certificateData.stateOrProvinceName",
        "State or province",
        "optional",
    ),
    (
        "certificateData.organizationName",
        "Organisation",
        "optional",
    ),
    (
        "certificateData.notBefore",
        "Not before",
        "RFC 3339; default now",
    ),
    (
        "certificateData.notAfter",
        "Not after",
        "RFC 3339; default 20 years",
    ),
    (
        "certificateData.issuerAlternativeNameConf.uri",
        "issuerAltName URI",
        "required by Annex B (or an email)",
    ),
    ("storedCertificateId", "Stored certificate id", "optional"),
];

const DS_FIELDS: &[Field] = &[
    ("iacaSigner.iacaKeyDesc.keyIdPath", "IACA key", ""),
    (
        "iacaSigner.certificatePEM",
        "IACA certificate",
        "from the store",
    ),
    (
        "dsPublicKeySource.keyDescriptor.keyIdPath",
        "Document signer key",
        "",
    ),
    ("certificateData.country", "Country", "two letters"),
    ("certificateData.commonName", "Common name", ""),
    (
        "certificateData.stateOrProvinceName",
        "State or province",
        "optional",
    ),
    (
        "certificateData.notAfter",
        "Not after",
        "RFC 3339; default 457 days",
    ),
    (
        "certificateData.crlDistributionPointUri",
        "CRL distribution point",
        "default: this daemon's CRL of the IACA key",
    ),
    ("storedCertificateId", "Stored certificate id", "optional"),
];

/// The issuance form `{kind}`: the API route whose roles allow it, title, fields.
fn kind(seg: &str) -> Result<(RouteId, &'static str, &'static [Field]), ApiError> {
    match seg {
        "iaca" => Ok((
            RouteId::X509IacaCreate,
            "Issue an IACA certificate",
            IACA_FIELDS,
        )),
        "document-signer" => Ok((
            RouteId::X509DocumentSignerCreate,
            "Issue a Document Signer certificate",
            DS_FIELDS,
        )),
        _ => Err(ApiError::not_found()),
    }
}

/// The tenant's keys as select options of the issuance forms: (keyIdPath, "id (algorithm)").
pub(super) async fn key_options(ctx: &Ctx, s: &Session) -> Result<Vec<(String, String)>, ApiError> {
    let (list, _) = keys::list(&ctx.app, &s.op, 0, query::MAX_LIMIT).await?;
    Ok(list
        .iter()
        .map(|k| {
            (
                k.key_id_path.clone(),
                format!("{} ({})", k.key_id, k.algorithm.name()),
            )
        })
        .collect())
}

pub async fn issue_form(
    ctx: &Ctx,
    s: &Session,
    seg: &str,
    q: &Form,
    refused: Option<ApiError>,
) -> Result<Response<Body>, ApiError> {
    let (id, title, fields) = kind(seg)?;
    if !s.may(id) {
        return Err(forbidden(ctx, s, &format!("GET /console/issue/{seg}")).await);
    }
    let key_opts = key_options(ctx, s).await?;
    let key_opts: Vec<(&str, &str)> = key_opts
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let mut cert_opts: Vec<(String, String)> = Vec::new();
    if seg == "document-signer" {
        let (certs, _) = svc::list_certificates(&ctx.app, &s.op, 0, query::MAX_LIMIT).await?;
        cert_opts = certs
            .into_iter()
            .map(|c| {
                (
                    c.certificate_pem,
                    format!("{} ({})", c.subject, c.stored_certificate_id),
                )
            })
            .collect();
    }
    let cert_opts: Vec<(&str, &str)> = cert_opts
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let mut body = String::new();
    let details = refused
        .as_ref()
        .map(|e| e.details.as_slice())
        .unwrap_or(&[]);
    if let Some(e) = &refused {
        let names: Vec<&str> = fields.iter().map(|f| f.0).collect();
        body.push_str(&html::error_summary(
            &e.message,
            e.code.as_str(),
            &e.details,
            &names,
        ));
    }
    body.push_str(&format!(
        "<p>Keys come from the <a href=\"/console/keys\">keys page</a>.</p>\
         <form method=\"post\" action=\"/console/issue/{seg}\" class=\"card\" id=\"issue\">{}",
        html::csrf_field(&s.live)
    ));
    for (name, label, hint) in fields {
        let input = if name.ends_with("keyIdPath") {
            Input::Select(&key_opts)
        } else if name.ends_with("certificatePEM") {
            Input::Select(&cert_opts)
        } else {
            Input::Text
        };
        body.push_str(&html::field(label, name, input, q.val(name), hint, details));
    }
    body.push_str("<button type=\"submit\">Issue</button></form>");
    let status = refused
        .as_ref()
        .map(|e| e.status())
        .unwrap_or(StatusCode::OK);
    Ok(render(s, status, title, &body))
}

pub(super) fn set(v: &mut serde_json::Value, path: &[&str], value: &str) {
    let mut o = v;
    for p in path {
        o = &mut o[*p];
    }
    *o = serde_json::Value::String(value.to_owned());
}

pub async fn issue(
    ctx: &Ctx,
    s: &Session,
    seg: &str,
    form: Form,
) -> Result<Response<Body>, ApiError> {
    let (id, _, fields) = kind(seg)?;
    if !s.may(id) {
        return Err(forbidden(ctx, s, &format!("POST /console/issue/{seg}")).await);
    }
    let names: Vec<&str> = fields.iter().map(|f| f.0).collect();
    let mut v = form.json(&names);
    const KMS: &str = "kms-hosted-key-descriptor";
    let result = if seg == "iaca" {
        set(&mut v, &["iacaKeyDesc", "type"], KMS);
        match decode::<api::x509::CreateIacaRequest>(v) {
            Ok(b) => svc::create_iaca(&ctx.app, &s.op, b)
                .await
                .map(|r| r.stored_certificate_ids)
                .map_err(ApiError::from),
            Err(e) => Err(e),
        }
    } else {
        set(&mut v, &["iacaSigner", "type"], "iaca-pem-cert-descriptor");
        set(&mut v, &["iacaSigner", "iacaKeyDesc", "type"], KMS);
        set(&mut v, &["dsPublicKeySource", "type"], "key-descriptor");
        set(&mut v, &["dsPublicKeySource", "keyDescriptor", "type"], KMS);
        match decode::<api::x509::CreateDocumentSignerRequest>(v) {
            Ok(b) => svc::create_document_signer(&ctx.app, &s.op, b)
                .await
                .map(|r| r.stored_certificate_ids)
                .map_err(ApiError::from),
            Err(e) => Err(e),
        }
    };
    match result {
        Ok(ids) => {
            let first = ids.first().cloned().unwrap_or_default();
            Ok(redirect(&format!(
                "/console/certificates?q={}&done=issued",
                url(&first)
            )))
        }
        Err(e) => issue_form(ctx, s, seg, &form, Some(e)).await,
    }
}

/// The store: every certificate of the tenant, filtered by `q` (a substring of the id,
/// subject, issuer, serial or fingerprint).
pub async fn certificates(
    ctx: &Ctx,
    s: &Session,
    q: &Form,
    refused: Option<ApiError>,
) -> Result<Response<Body>, ApiError> {
    if !s.may(RouteId::X509StoreList) {
        return Err(forbidden(ctx, s, "GET /console/certificates").await);
    }
    let (certs, _) = svc::list_certificates(&ctx.app, &s.op, 0, query::MAX_LIMIT).await?;
    let needle = q.val("q").trim().to_lowercase();
    let mut body = String::new();
    if let Some(e) = &refused {
        body.push_str(&html::error_summary(
            &e.message,
            e.code.as_str(),
            &e.details,
            &[],
        ));
    }
    if let Some(done) = q.get("done") {
        body.push_str(&format!(
            "<p class=\"ok\" role=\"status\" id=\"done\">Done: {}.</p>",
            esc(done)
        ));
    }
    body.push_str("<form method=\"get\" action=\"/console/certificates\" class=\"filters\">");
    body.push_str(&html::field(
        "Search",
        "q",
        Input::Text,
        q.val("q"),
        "id, subject, issuer, serial or fingerprint",
        &[],
    ));
    body.push_str("<button type=\"submit\">Search</button></form>");
    let may_revoke = s.may(RouteId::X509CertificateRevoke);
    let rows: Vec<Vec<String>> = certs
        .into_iter()
        .filter(|c| {
            needle.is_empty()
                || [
                    &c.stored_certificate_id,
                    &c.subject,
                    &c.issuer,
                    &c.serial_number,
                    &c.fingerprint_sha256,
                ]
                .iter()
                .any(|f| f.to_lowercase().contains(&needle))
        })
        .map(|c| {
            let id = url(&c.stored_certificate_id);
            let mut actions = format!(
                "<a href=\"/console/certificates/{id}/certificate.pem\" download>PEM</a> \
                 <a href=\"/console/certificates/{id}/certificate.der\" download>DER</a>"
            );
            if may_revoke {
                actions.push_str(&html::button(
                    &s.live,
                    &format!("/console/certificates/{id}"),
                    "revoke",
                    "Revoke",
                    &format!(
                        "<input type=\"hidden\" name=\"serial\" value=\"{}\">",
                        esc(&c.serial_number)
                    ),
                ));
            }
            vec![
                format!("<code>{}</code>", esc(&c.stored_certificate_id)),
                esc(&c.subject),
                esc(&c.issuer),
                format!("<code>{}</code>", esc(&c.serial_number)),
                esc(&c.not_after),
                actions,
            ]
        })
        .collect();
    body.push_str(&html::table(
        &["Id", "Subject", "Issuer", "Serial", "Not after", ""],
        &rows,
    ));
    let status = refused
        .as_ref()
        .map(|e| e.status())
        .unwrap_or(StatusCode::OK);
    Ok(render(s, status, "Certificates", &body))
}

pub async fn download(
    ctx: &Ctx,
    s: &Session,
    full: &str,
    file: &str,
) -> Result<Response<Body>, ApiError> {
    if !s.may(RouteId::X509StoreGet) {
        return Err(forbidden(ctx, s, "GET /console/certificates/{id}").await);
    }
    let id = svc::local_id(&s.op, full)
        .ok_or_else(ApiError::not_found)?
        .to_owned();
    let c = svc::get_certificate(&ctx.app, &s.op, id, full).await?;
    match file {
        "certificate.pem" => Ok(super::download(
            c.certificate_pem.into_bytes(),
            "application/x-pem-file",
            &format!("{full}.pem"),
        )),
        "certificate.der" => {
            let der = crate::x509::pem::decode_one(
                c.certificate_pem.as_bytes(),
                &[crate::x509::CERTIFICATE_LABEL],
                "certificate",
            )
            .map_err(|_| ApiError::internal())?;
            Ok(super::download(
                der,
                "application/pkix-cert",
                &format!("{full}.der"),
            ))
        }
        _ => Err(ApiError::not_found()),
    }
}

/// Revoke by serial: `service::crl::revoke_certificate`, the API's operation.
pub async fn action(
    ctx: &Ctx,
    s: &Session,
    full: &str,
    form: Form,
) -> Result<Response<Body>, ApiError> {
    if form.val("action") != "revoke" {
        return Err(ApiError::not_found());
    }
    if !s.may(RouteId::X509CertificateRevoke) {
        return Err(forbidden(ctx, s, "POST /console/certificates/{id} revoke").await);
    }
    let b = decode::<api::RevokeRequest>(form.json(&["reason"]))?;
    match crl::revoke_certificate(&ctx.app, &s.op, form.val("serial").to_owned(), b.reason).await {
        Ok(_) => Ok(redirect(&format!(
            "/console/certificates?q={}&done=revoked",
            url(full)
        ))),
        Err(e) => certificates(ctx, s, &Form::default(), Some(e.into())).await,
    }
}
