//! Generic certificate issuance from forms (`/console/issue/generic`: the subject key is a
//! token key; `/console/issue/csr`: a pasted CSR's key), both through
//! `service::x509::create_certificate`, the operation of `POST .../x509-service-api/
//! certificate`, with its request type decoded from the form. Field names are the request's
//! JSON paths, so every error the service gives lands on its field; the descriptor `type`s
//! are the only members set here.

use hyper::{Response, StatusCode};

use super::html::{self, Input, url};
use super::pages::render;
use super::x509::{key_options, set};
use super::{ApiError, Body, Ctx, Form, Json, Session, decode, forbidden, redirect};
use crate::api;
use crate::http::routes::RouteId;
use crate::service::x509 as svc;

/// A form field: (the API request's JSON path, its JSON type, label, hint).
type Field = (&'static str, Json, &'static str, &'static str);

const SUBJECT_KEY: &str = "subjectPublicKeySource.keyDescriptor.keyIdPath";
const CSR: &str = "subjectPublicKeySource.csrPEM";
const ISSUER_TYPE: &str = "issuer.type";
const ISSUER_KEY: &str = "issuer.issuerKeyDescriptor.keyIdPath";

const FROM_KEY: &[Field] = &[
    (SUBJECT_KEY, Json::Str, "Subject key", "the key certified"),
    (ISSUER_TYPE, Json::Str, "Issuer", ""),
    (
        ISSUER_KEY,
        Json::Str,
        "Issuer key",
        "a CA key of the tenant; none when self-signed",
    ),
];

const FROM_CSR: &[Field] = &[
    (
        CSR,
        Json::Str,
        "CSR (PEM)",
        "its signature is checked; only its public key is used",
    ),
    (
        ISSUER_KEY,
        Json::Str,
        "Issuer key",
        "a CA key of the tenant",
    ),
];

const SUBJECT: &[Field] = &[
    (
        "certificateData.subjectName.commonName",
        Json::Str,
        "Common name",
        "",
    ),
    (
        "certificateData.subjectName.country",
        Json::Str,
        "Country",
        "two letters",
    ),
    (
        "certificateData.subjectName.organizationName",
        Json::Str,
        "Organisation",
        "",
    ),
    (
        "certificateData.subjectName.organizationalUnitName",
        Json::Str,
        "Organisational unit",
        "",
    ),
    (
        "certificateData.subjectName.stateOrProvinceName",
        Json::Str,
        "State or province",
        "",
    ),
    (
        "certificateData.subjectName.localityName",
        Json::Str,
        "Locality",
        "",
    ),
];

const ISSUER_NAME: &[Field] = &[
    (
        "certificateData.issuerName.commonName",
        Json::Str,
        "Common name",
        "",
    ),
    (
        "certificateData.issuerName.country",
        Json::Str,
        "Country",
        "",
    ),
    (
        "certificateData.issuerName.organizationName",
        Json::Str,
        "Organisation",
        "",
    ),
];

const CONTENT: &[Field] = &[
    (
        "certificateData.notBefore",
        Json::Str,
        "Not before",
        "RFC 3339; default now",
    ),
    (
        "certificateData.notAfter",
        Json::Str,
        "Not after",
        "RFC 3339",
    ),
    (
        "certificateData.isCertificateAuthority",
        Json::Bool,
        "Certificate authority",
        "",
    ),
    (
        "certificateData.pathLengthConstraint",
        Json::Int,
        "Path length constraint",
        "CA only; optional",
    ),
    (
        "certificateData.keyUsage",
        Json::List,
        "Key usage",
        "comma-separated: DigitalSignature, NonRepudiation, KeyEncipherment, \
         DataEncipherment, KeyAgreement, KeyCertSign, CRLSign, EncipherOnly, DecipherOnly",
    ),
    (
        "certificateData.extendedKeyUsageOids",
        Json::List,
        "Extended key usage",
        "comma-separated OIDs, e.g. 1.3.6.1.5.5.7.3.1",
    ),
    (
        "certificateData.subjectAlternativeNames.dnsNames",
        Json::List,
        "DNS names",
        "comma-separated",
    ),
    (
        "certificateData.subjectAlternativeNames.uris",
        Json::List,
        "URIs",
        "comma-separated",
    ),
    (
        "certificateData.subjectAlternativeNames.emails",
        Json::List,
        "Email addresses",
        "comma-separated",
    ),
    (
        "certificateData.subjectAlternativeNames.ipAddresses",
        Json::List,
        "IP addresses",
        "comma-separated",
    ),
    (
        "certificateData.crlDistributionPointUri",
        Json::Str,
        "CRL distribution point",
        "default: this daemon's CRL of the issuer key, when it has one",
    ),
    (
        "storedCertificateId",
        Json::Str,
        "Stored certificate id",
        "optional",
    ),
];

/// Whether `/console/issue/{seg}` is one of this module's forms.
pub fn handles(seg: &str) -> bool {
    matches!(seg, "generic" | "csr")
}

/// The form's sections: (legend, fields).
fn sections(seg: &str) -> [(&'static str, &'static [Field]); 4] {
    let first = if seg == "csr" {
        ("CSR and issuer", FROM_CSR)
    } else {
        ("Subject key and issuer", FROM_KEY)
    };
    [
        first,
        ("Subject name", SUBJECT),
        (
            "Issuer name: only for an issuer key without a CA certificate here",
            ISSUER_NAME,
        ),
        ("Validity and extensions", CONTENT),
    ]
}

fn fields(seg: &str) -> Vec<(&'static str, Json)> {
    sections(seg)
        .iter()
        .flat_map(|(_, f)| f.iter().map(|(n, t, _, _)| (*n, *t)))
        .collect()
}

pub async fn issue_form(
    ctx: &Ctx,
    s: &Session,
    seg: &str,
    q: &Form,
    refused: Option<ApiError>,
) -> Result<Response<Body>, ApiError> {
    if !s.may(RouteId::X509CertificateCreate) {
        return Err(forbidden(ctx, s, &format!("GET /console/issue/{seg}")).await);
    }
    let key_opts = key_options(ctx, s).await?;
    let mut issuer_opts: Vec<(&str, &str)> = Vec::new();
    if seg == "generic" {
        issuer_opts.push(("", "none (self-signed)"));
    }
    issuer_opts.extend(key_opts.iter().map(|(a, b)| (a.as_str(), b.as_str())));
    let key_opts: Vec<(&str, &str)> = key_opts
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    const ISSUERS: &[(&str, &str)] = &[
        ("self-signed", "self-signed (the subject key signs)"),
        ("ca-signed", "signed by an issuer key"),
    ];
    const CA: &[(&str, &str)] = &[("false", "no: end entity"), ("true", "yes")];
    let details = refused
        .as_ref()
        .map(|e| e.details.as_slice())
        .unwrap_or(&[]);
    let mut body = String::new();
    if let Some(e) = &refused {
        let names: Vec<&str> = fields(seg).iter().map(|f| f.0).collect();
        body.push_str(&html::error_summary(
            &e.message,
            e.code.as_str(),
            &e.details,
            &names,
        ));
    }
    body.push_str(&format!(
        "<p>Keys come from the <a href=\"/console/keys\">keys page</a>; the certificate goes \
         to the <a href=\"/console/certificates\">store</a>.</p>\
         <form method=\"post\" action=\"/console/issue/{seg}\" class=\"card wide\" id=\"issue\">{}",
        html::csrf_field(&s.live)
    ));
    for (legend, fields) in sections(seg) {
        body.push_str(&format!(
            "<fieldset><legend>{}</legend><div class=\"grid\">",
            html::esc(legend)
        ));
        for (name, _, label, hint) in fields {
            let input = match *name {
                SUBJECT_KEY => Input::Select(&key_opts),
                ISSUER_KEY => Input::Select(&issuer_opts),
                ISSUER_TYPE => Input::Select(ISSUERS),
                "certificateData.isCertificateAuthority" => Input::Select(CA),
                // The CSR may also be read from a file, by console.js (pasting works
                // without it).
                CSR => Input::AreaFromFile(".pem,.csr"),
                _ => Input::Text,
            };
            body.push_str(&html::field(label, name, input, q.val(name), hint, details));
        }
        body.push_str("</div></fieldset>");
    }
    body.push_str("<button type=\"submit\">Issue</button></form>");
    let title = if seg == "csr" {
        "Issue a certificate from a CSR"
    } else {
        "Issue a generic certificate"
    };
    let status = refused
        .as_ref()
        .map(|e| e.status())
        .unwrap_or(StatusCode::OK);
    Ok(render(s, status, title, &body))
}

pub async fn issue(
    ctx: &Ctx,
    s: &Session,
    seg: &str,
    form: Form,
) -> Result<Response<Body>, ApiError> {
    if !s.may(RouteId::X509CertificateCreate) {
        return Err(forbidden(ctx, s, &format!("POST /console/issue/{seg}")).await);
    }
    let mut v = form.json_typed(&fields(seg));
    const KMS: &str = "kms-hosted-key-descriptor";
    if seg == "csr" {
        set(&mut v, &["subjectPublicKeySource", "type"], "csr");
        // A CSR's key cannot sign its own certificate: the CSR form is always ca-signed.
        set(&mut v, &["issuer", "type"], "ca-signed");
    } else {
        set(
            &mut v,
            &["subjectPublicKeySource", "type"],
            "key-descriptor",
        );
        if !form.val(SUBJECT_KEY).is_empty() {
            let p = ["subjectPublicKeySource", "keyDescriptor", "type"];
            set(&mut v, &p, KMS);
        }
    }
    if !form.val(ISSUER_KEY).is_empty() {
        set(&mut v, &["issuer", "issuerKeyDescriptor", "type"], KMS);
    }
    let result = match decode::<api::x509::CreateCertificateRequest>(v) {
        Ok(b) => svc::create_certificate(&ctx.app, &s.op, b)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(r) => {
            let first = r
                .stored_certificate_ids
                .first()
                .cloned()
                .unwrap_or_default();
            Ok(redirect(&format!(
                "/console/certificates?q={}&done=issued",
                url(&first)
            )))
        }
        Err(e) => issue_form(ctx, s, seg, &form, Some(e)).await,
    }
}
