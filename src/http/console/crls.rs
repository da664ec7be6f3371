//! The CRLs page (`/console/crls`): every CRL issuer of the tenant with its newest CRL
//! (cRLNumber, thisUpdate, nextUpdate, entries) and a link to the public route that serves
//! it. There is no API route listing CRL issuers, so each row is shown only when the
//! session may read what the issuer is: a managed root by the roles of its family's API
//! route, a CA key of the X.509 service by those of the certificate store's.

use hyper::{Response, StatusCode};

use super::html::{self, esc, url};
use super::pages::render;
use super::{ApiError, Body, Ctx, Session, forbidden};
use crate::http::ca::{CaOp, Resource};
use crate::http::routes::RouteId;
use crate::service::ca::RootFamily;
use crate::service::crl;

/// The API route whose roles may see an issuer of `family`, and how the page names it.
fn route_of(family: Option<RootFamily>) -> (RouteId, &'static str) {
    match family {
        Some(RootFamily::Dts) => (RouteId::Ca(Resource::DtsCa, CaOp::Get), "DTS root"),
        Some(RootFamily::Holder) => (RouteId::Ca(Resource::HolderCa, CaOp::Get), "holder root"),
        Some(RootFamily::Iaca) => (RouteId::Ca(Resource::Iaca, CaOp::Get), "managed IACA"),
        None => (RouteId::X509StoreList, "X.509 service CA key"),
    }
}

const FAMILIES: [Option<RootFamily>; 4] = [
    Some(RootFamily::Dts),
    Some(RootFamily::Holder),
    Some(RootFamily::Iaca),
    None,
];

/// Whether the session may see any kind of CRL issuer (the page and its navigation entry).
pub fn may_list(s: &Session) -> bool {
    FAMILIES.into_iter().any(|f| s.may(route_of(f).0))
}

pub async fn list(ctx: &Ctx, s: &Session) -> Result<Response<Body>, ApiError> {
    if !may_list(s) {
        return Err(forbidden(ctx, s, "GET /console/crls").await);
    }
    let issuers = crl::list_issuers(&ctx.app, &s.op).await?;
    let rows: Vec<Vec<String>> = issuers
        .into_iter()
        .filter(|i| s.may(route_of(i.family).0))
        .map(|i| {
            let kind = route_of(i.family).1;
            let id = format!("<code>{}</code>", esc(&i.ca_id));
            match &i.crl {
                Some(c) => vec![
                    id,
                    esc(kind),
                    esc(&i.issuer),
                    c.number.to_string(),
                    esc(&c.this_update),
                    esc(&c.next_update),
                    c.entries.to_string(),
                    format!("<a href=\"/crl/{}.crl\" download>DER</a>", url(&i.ca_id)),
                ],
                None => vec![
                    id,
                    esc(kind),
                    esc(&i.issuer),
                    "–".into(),
                    "<span class=\"warn\">first CRL not signed yet</span>".into(),
                    "–".into(),
                    "–".into(),
                    String::new(),
                ],
            }
        })
        .collect();
    let mut body = String::from(
        "<p>Every CA key held here publishes a CRL at <code>/crl/{caId}.crl</code> (public, \
         no token): signed with each revocation and renewed before its nextUpdate. The number \
         of entries is counted in the stored CRL itself.</p>",
    );
    body.push_str(&html::table(
        &[
            "caId",
            "Kind",
            "Issuer",
            "cRLNumber",
            "thisUpdate",
            "nextUpdate",
            "Entries",
            "",
        ],
        &rows,
    ));
    Ok(render(s, StatusCode::OK, "CRLs", &body))
}
