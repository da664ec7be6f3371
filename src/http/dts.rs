//! `/v1/ecosystems...` (roles admin, dts-provider): ecosystems, participants, the VICAL
//! configuration.

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::{ApiError, Body, Ctx, json_response, query, read_json};
use crate::api::{self, dts as wire};
use crate::service::OpContext;
use crate::service::dts::{self, IacaInput, ParticipantInput};
use crate::store::{EcosystemRecord, ParticipantRecord, VicalConfigRecord};
use crate::x509::ParsedCertificate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtsOp {
    EcosystemCreate,
    EcosystemList,
    EcosystemGet,
    EcosystemDelete,
    ParticipantCreate,
    ParticipantList,
    ParticipantGet,
    ParticipantUpdate,
    ParticipantDelete,
    ConfigPut,
    ConfigGet,
    ConfigDelete,
    Publish,
    /// The public routes: no token, rate-limited per client address.
    PublicList,
    PublicLatest,
    PublicGet,
}

impl DtsOp {
    /// The audit event of a state-changing route.
    pub fn audit_event(self) -> Option<&'static str> {
        Some(match self {
            DtsOp::EcosystemCreate => "ECOSYSTEM_CREATE",
            DtsOp::EcosystemDelete => "ECOSYSTEM_DELETE",
            DtsOp::ParticipantCreate => "ECOSYSTEM_PARTICIPANT_CREATE",
            DtsOp::ParticipantUpdate => "ECOSYSTEM_PARTICIPANT_UPDATE",
            DtsOp::ParticipantDelete => "ECOSYSTEM_PARTICIPANT_DELETE",
            DtsOp::ConfigPut => "ECOSYSTEM_VICAL_CONFIGURATION_UPDATE",
            DtsOp::ConfigDelete => "ECOSYSTEM_VICAL_CONFIGURATION_DELETE",
            DtsOp::Publish => "ECOSYSTEM_VICAL_PUBLISH",
            _ => return None,
        })
    }

    pub fn takes_query(self) -> bool {
        matches!(
            self,
            DtsOp::EcosystemList | DtsOp::ParticipantList | DtsOp::PublicList
        )
    }

    pub fn is_public(self) -> bool {
        matches!(
            self,
            DtsOp::PublicList | DtsOp::PublicLatest | DtsOp::PublicGet
        )
    }
}

/// Ids are UUIDs; anything else is a 404 like an unknown id.
pub(super) fn path_id(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| ApiError::not_found())
}

fn ecosystem_out(e: EcosystemRecord) -> wire::Ecosystem {
    wire::Ecosystem {
        id: e.id,
        name: e.name,
    }
}

fn participant_out(p: ParticipantRecord) -> wire::Participant {
    let mobile = p
        .iacas
        .into_iter()
        .map(|i| wire::MobileIdentifierObject {
            certificate_pem: ParsedCertificate::from_der(&i.certificate_der)
                .and_then(|c| c.to_pem())
                .unwrap_or_default(),
            doc_types: Some(i.doc_types),
        })
        .collect();
    wire::Participant {
        id: p.id,
        name: p.name,
        identifiers: wire::IdentifiersOut { mobile },
        is_issuer: p.is_issuer,
        is_verifier: p.is_verifier,
    }
}

fn participant_in(b: wire::ParticipantRequest) -> ParticipantInput {
    ParticipantInput {
        name: b.name,
        iacas: b
            .identifiers
            .mobile
            .into_iter()
            .map(|m| match m {
                wire::MobileIdentifier::Pem(pem) => IacaInput {
                    certificate_pem: pem,
                    doc_types: None,
                },
                wire::MobileIdentifier::WithDocTypes(o) => IacaInput {
                    certificate_pem: o.certificate_pem,
                    doc_types: o.doc_types,
                },
            })
            .collect(),
        is_issuer: b.is_issuer.unwrap_or(false),
        is_verifier: b.is_verifier.unwrap_or(false),
    }
}

fn config_out(c: VicalConfigRecord) -> wire::VicalConfiguration {
    wire::VicalConfiguration {
        vical_provider: c.vical_provider,
        auto_publish: wire::AutoPublish {
            enabled: c.auto_publish,
            frequency: c.frequency,
        },
    }
}

fn no_content() -> Response<Body> {
    let mut resp = Response::new(Body::default());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

pub async fn dispatch(
    ctx: &Ctx,
    op: &OpContext,
    action: DtsOp,
    req: Request<Incoming>,
    params: &[String],
) -> Result<Response<Body>, ApiError> {
    let app = &ctx.app;
    let id = |i: usize| path_id(&params[i]);
    Ok(match action {
        DtsOp::EcosystemCreate => {
            let b: wire::CreateEcosystemRequest = read_json(ctx, req).await?;
            let e = dts::create_ecosystem(app, op, b.name).await?;
            json_response(StatusCode::CREATED, &ecosystem_out(e))
        }
        DtsOp::EcosystemList => {
            let q = query::parse(req.uri().query(), &["limit", "cursor"])?;
            let (limit, after) = query::page(&q)?;
            let (rows, next) = dts::list_ecosystems(app, op, after, limit).await?;
            json_response(
                StatusCode::OK,
                &api::Page {
                    data: rows.into_iter().map(ecosystem_out).collect(),
                    next_cursor: next.map(query::encode_cursor),
                },
            )
        }
        DtsOp::EcosystemGet => {
            let e = dts::get_ecosystem(app, op, id(0)?).await?;
            json_response(StatusCode::OK, &ecosystem_out(e))
        }
        DtsOp::EcosystemDelete => {
            dts::delete_ecosystem(app, op, id(0)?).await?;
            no_content()
        }
        DtsOp::ParticipantCreate => {
            let eco = id(0)?;
            let b: wire::ParticipantRequest = read_json(ctx, req).await?;
            let p = dts::create_participant(app, op, eco, participant_in(b)).await?;
            json_response(StatusCode::CREATED, &participant_out(p))
        }
        DtsOp::ParticipantList => {
            let q = query::parse(req.uri().query(), &["limit", "cursor"])?;
            let (limit, after) = query::page(&q)?;
            let (rows, next) = dts::list_participants(app, op, id(0)?, after, limit).await?;
            json_response(
                StatusCode::OK,
                &api::Page {
                    data: rows.into_iter().map(participant_out).collect(),
                    next_cursor: next.map(query::encode_cursor),
                },
            )
        }
        DtsOp::ParticipantGet => {
            let p = dts::get_participant(app, op, id(0)?, id(1)?).await?;
            json_response(StatusCode::OK, &participant_out(p))
        }
        DtsOp::ParticipantUpdate => {
            let (eco, pid) = (id(0)?, id(1)?);
            let b: wire::ParticipantRequest = read_json(ctx, req).await?;
            let p = dts::update_participant(app, op, eco, pid, participant_in(b)).await?;
            json_response(StatusCode::OK, &participant_out(p))
        }
        DtsOp::ParticipantDelete => {
            dts::delete_participant(app, op, id(0)?, id(1)?).await?;
            no_content()
        }
        DtsOp::ConfigPut => {
            let eco = id(0)?;
            let b: wire::VicalConfiguration = read_json(ctx, req).await?;
            let c = dts::put_vical_config(
                app,
                op,
                eco,
                b.vical_provider,
                b.auto_publish.enabled,
                b.auto_publish.frequency,
            )
            .await?;
            json_response(StatusCode::OK, &config_out(c))
        }
        DtsOp::ConfigGet => {
            let c = dts::get_vical_config(app, op, id(0)?).await?;
            json_response(StatusCode::OK, &config_out(c))
        }
        DtsOp::ConfigDelete => {
            dts::delete_vical_config(app, op, id(0)?).await?;
            no_content()
        }
        DtsOp::Publish => {
            let p = dts::publish(app, op, id(0)?, false).await?;
            json_response(
                StatusCode::CREATED,
                &wire::PublishedVical {
                    vical_issue_id: p.vical_issue_id,
                    date: p.date,
                },
            )
        }
        DtsOp::PublicList | DtsOp::PublicLatest | DtsOp::PublicGet => {
            return Err(ApiError::not_found());
        }
    })
}

/// The public routes: what relying parties fetch. No token; a budget per client address;
/// nothing but published VICALs (an unknown or another tenant's ecosystem reads as one with
/// none published).
pub async fn public(
    ctx: &Ctx,
    action: DtsOp,
    req: Request<Incoming>,
    params: &[String],
) -> Result<Response<Body>, ApiError> {
    super::spend_public_budget(ctx)?;
    let app = &ctx.app;
    let eco = path_id(&params[0])?;
    let one = match action {
        DtsOp::PublicList => {
            let q = query::parse(req.uri().query(), &["limit", "cursor"])?;
            let (limit, after) = query::page(&q)?;
            let (rows, next) = dts::public_vicals(app, eco.clone(), after, limit).await?;
            let data = rows
                .into_iter()
                .map(|v| wire::VicalListEntry {
                    filename: format!("vical-{eco}-{}.cbor", v.vical_issue_id),
                    vical_issue_id: v.vical_issue_id,
                    date: v.date,
                    is_auto_published: v.is_auto_published,
                })
                .collect();
            return Ok(json_response(
                StatusCode::OK,
                &api::Page {
                    data,
                    next_cursor: next.map(query::encode_cursor),
                },
            ));
        }
        DtsOp::PublicLatest => None,
        _ => Some(
            params[1]
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(ApiError::not_found)?,
        ),
    };
    query::parse(req.uri().query(), &[])?;
    let v = dts::public_vical(app, eco, one).await?;
    let etag = format!("\"{}\"", v.digest);
    let fresh = req
        .headers()
        .get(hyper::header::IF_NONE_MATCH)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.split(',').any(|t| t.trim() == etag));
    let mut resp = if fresh {
        let mut r = Response::new(Body::default());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Body::from(v.bytes));
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/cbor"),
        );
        r
    };
    let h = resp.headers_mut();
    if let Ok(e) = hyper::header::HeaderValue::from_str(&etag) {
        h.insert(hyper::header::ETAG, e);
    }
    // `latest` changes with every publication; a numbered VICAL never does.
    let cache = if one.is_some() {
        "public, max-age=86400, immutable"
    } else {
        "public, max-age=300"
    };
    h.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static(cache),
    );
    Ok(resp)
}
