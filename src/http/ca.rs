//! Root CAs and signers: `/v1/ecosystems/certificates/{ca,vical-signers}` (roles admin,
//! dts-provider), `/v1/holder/certificates/{ca,wallet-attestation-signers}` (roles admin,
//! holder) and `/v2/credentials/mobile/{iacas,document-signers,status-list-signers}` (roles
//! admin, issuer). One handler set serves the seven resources; [`Resource`] says which.

use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};

use super::{ApiError, Body, Ctx, json_response, query, read_json};
use crate::api;
use crate::service::OpContext;
use crate::service::ca::{
    self, CertData, CertView, RootFamily, RootRequest, RootView, SignerFamily, SignerView,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    DtsCa,
    VicalSigner,
    HolderCa,
    WalletSigner,
    Iaca,
    DocumentSigner,
    StatusListSigner,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaOp {
    Create,
    List,
    Get,
    Update,
    Delete,
    /// `POST .../{id}/revoke` (signers).
    Revoke,
}

/// The audit event prefix of a resource (its family's).
pub fn event_prefix(resource: Resource) -> &'static str {
    match resource {
        Resource::DtsCa => RootFamily::Dts.event(),
        Resource::HolderCa => RootFamily::Holder.event(),
        Resource::VicalSigner => SignerFamily::Vical.event(),
        Resource::WalletSigner => SignerFamily::Wallet.event(),
        Resource::Iaca => RootFamily::Iaca.event(),
        Resource::DocumentSigner => SignerFamily::Document.event(),
        Resource::StatusListSigner => SignerFamily::StatusList.event(),
    }
}

/// Ids are UUIDs; anything else is a 404 like an unknown id.
pub(super) fn path_id(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| ApiError::not_found())
}

fn data(d: CertData) -> api::CertificateData {
    api::CertificateData {
        common_name: d.common_name,
        country: d.country,
        organisation_name: d.organisation_name,
        state_or_province_name: d.state_or_province,
        not_after: d.not_after,
        not_before: d.not_before,
    }
}

fn root_to_api(r: RootView) -> api::RootCa {
    api::RootCa {
        id: r.id,
        active: r.active,
        certificate_pem: r.certificate.pem,
        certificate_fingerprint: r.certificate.fingerprint,
        certificate_data: data(r.certificate.data),
        is_managed: r.is_managed,
    }
}

fn signer_to_api(s: SignerView) -> api::Signer {
    let (pem, fp, d) = match s.certificate {
        Some(CertView {
            pem,
            fingerprint,
            data: d,
        }) => (Some(pem), Some(fingerprint), Some(data(d))),
        None => (None, None, None),
    };
    api::Signer {
        id: s.id,
        ca_id: s.ca_id,
        active: s.active,
        csr_pem: s.csr_pem,
        certificate_pem: pem,
        certificate_fingerprint: fp,
        certificate_data: d,
    }
}

/// A signer in its family's shape: document signers name their root `iacaId` (MATTR).
fn signer_json(family: SignerFamily, s: SignerView) -> serde_json::Value {
    let s = signer_to_api(s);
    match family {
        // A status list signer has the document signer's shape (MATTR).
        SignerFamily::Document | SignerFamily::StatusList => {
            to_json(&api::mobile::DocumentSigner {
                id: s.id,
                iaca_id: s.ca_id,
                active: s.active,
                csr_pem: s.csr_pem,
                certificate_pem: s.certificate_pem,
                certificate_fingerprint: s.certificate_fingerprint,
                certificate_data: s.certificate_data,
            })
        }
        _ => to_json(&s),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

fn no_content() -> Response<Body> {
    let mut resp = Response::new(Body::default());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

async fn create_root(
    ctx: &Ctx,
    op: &OpContext,
    family: RootFamily,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    // The service converts (and checks) the wire request: one place for every family.
    let request = match family {
        RootFamily::Dts => {
            RootRequest::try_from(read_json::<api::CreateDtsCaRequest>(ctx, req).await?)?
        }
        RootFamily::Holder => {
            RootRequest::try_from(read_json::<api::CreateHolderCaRequest>(ctx, req).await?)?
        }
        RootFamily::Iaca => {
            RootRequest::try_from(read_json::<api::mobile::CreateIacaRequest>(ctx, req).await?)?
        }
    };
    let view = ca::create_root(&ctx.app, op, family, request).await?;
    Ok(json_response(StatusCode::CREATED, &root_to_api(view)))
}

async fn root(
    ctx: &Ctx,
    op: &OpContext,
    family: RootFamily,
    action: CaOp,
    req: Request<Incoming>,
    params: &[String],
) -> Result<Response<Body>, ApiError> {
    match action {
        CaOp::Create => create_root(ctx, op, family, req).await,
        CaOp::List => {
            let q = query::parse(req.uri().query(), &["limit", "cursor"])?;
            let (limit, after) = query::page(&q)?;
            let (rows, next) = ca::list_roots(&ctx.app, op, family, after, limit).await?;
            Ok(json_response(
                StatusCode::OK,
                &api::Page {
                    data: rows.into_iter().map(root_to_api).collect(),
                    next_cursor: next.map(query::encode_cursor),
                },
            ))
        }
        CaOp::Get => {
            let id = path_id(&params[0])?;
            let view = ca::get_root(&ctx.app, op, family, id).await?;
            Ok(json_response(StatusCode::OK, &root_to_api(view)))
        }
        CaOp::Update => {
            let id = path_id(&params[0])?;
            let b: api::UpdateCaRequest = read_json(ctx, req).await?;
            let view = ca::set_root_active(&ctx.app, op, family, id, b.active).await?;
            Ok(json_response(StatusCode::OK, &root_to_api(view)))
        }
        CaOp::Delete => {
            let id = path_id(&params[0])?;
            ca::delete_root(&ctx.app, op, family, id).await?;
            Ok(no_content())
        }
        // No route: a root is retired by deactivation or deletion, not by a CRL of its own.
        CaOp::Revoke => Err(ApiError::not_found()),
    }
}

async fn signer(
    ctx: &Ctx,
    op: &OpContext,
    family: SignerFamily,
    action: CaOp,
    req: Request<Incoming>,
    params: &[String],
) -> Result<Response<Body>, ApiError> {
    match action {
        CaOp::Create => {
            let b = match family {
                SignerFamily::Document | SignerFamily::StatusList => ca::SignerRequest::try_from(
                    read_json::<api::mobile::CreateDocumentSignerRequest>(ctx, req).await?,
                )?,
                _ => ca::SignerRequest::try_from(
                    read_json::<api::CreateSignerRequest>(ctx, req).await?,
                )?,
            };
            let v = ca::create_signer(&ctx.app, op, family, b.ca_id).await?;
            let body = match family {
                SignerFamily::Document | SignerFamily::StatusList => {
                    to_json(&api::mobile::CreatedDocumentSigner {
                        id: v.id,
                        iaca_id: v.ca_id,
                        active: v.active,
                        csr_pem: v.csr_pem,
                    })
                }
                _ => to_json(&api::CreatedSigner {
                    id: v.id,
                    csr_pem: v.csr_pem,
                    ca_id: v.ca_id,
                    active: v.active,
                }),
            };
            Ok(json_response(StatusCode::CREATED, &body))
        }
        CaOp::List => {
            let q = query::parse(req.uri().query(), &["limit", "cursor"])?;
            let (limit, after) = query::page(&q)?;
            let (rows, next) = ca::list_signers(&ctx.app, op, family, after, limit).await?;
            Ok(json_response(
                StatusCode::OK,
                &api::Page {
                    data: rows.into_iter().map(|s| signer_json(family, s)).collect(),
                    next_cursor: next.map(query::encode_cursor),
                },
            ))
        }
        CaOp::Get => {
            let id = path_id(&params[0])?;
            let v = ca::get_signer(&ctx.app, op, family, id).await?;
            Ok(json_response(StatusCode::OK, &signer_json(family, v)))
        }
        CaOp::Update => {
            let id = path_id(&params[0])?;
            let b: api::UpdateSignerRequest = read_json(ctx, req).await?;
            let v =
                ca::update_signer(&ctx.app, op, family, id, b.active, b.certificate_pem).await?;
            Ok(json_response(StatusCode::OK, &signer_json(family, v)))
        }
        CaOp::Delete => {
            let id = path_id(&params[0])?;
            ca::delete_signer(&ctx.app, op, family, id).await?;
            Ok(no_content())
        }
        CaOp::Revoke => {
            let id = path_id(&params[0])?;
            let b: api::RevokeRequest = read_json(ctx, req).await?;
            let r = crate::service::crl::revoke_signer(&ctx.app, op, family, id, b.reason).await?;
            Ok(json_response(StatusCode::OK, &super::crl::revoked(r)))
        }
    }
}

pub async fn dispatch(
    ctx: &Ctx,
    op: &OpContext,
    resource: Resource,
    action: CaOp,
    req: Request<Incoming>,
    params: &[String],
) -> Result<Response<Body>, ApiError> {
    match resource {
        Resource::DtsCa => root(ctx, op, RootFamily::Dts, action, req, params).await,
        Resource::HolderCa => root(ctx, op, RootFamily::Holder, action, req, params).await,
        Resource::VicalSigner => signer(ctx, op, SignerFamily::Vical, action, req, params).await,
        Resource::WalletSigner => signer(ctx, op, SignerFamily::Wallet, action, req, params).await,
        Resource::Iaca => root(ctx, op, RootFamily::Iaca, action, req, params).await,
        Resource::DocumentSigner => {
            signer(ctx, op, SignerFamily::Document, action, req, params).await
        }
        Resource::StatusListSigner => {
            signer(ctx, op, SignerFamily::StatusList, action, req, params).await
        }
    }
}

/// `GET /v1/holder/certificates/ca/{caId}/crl`: DER, `application/pkix-crl` (RFC 2585).
pub async fn holder_crl(
    ctx: &Ctx,
    op: &OpContext,
    raw_id: &str,
) -> Result<Response<Body>, ApiError> {
    let id = path_id(raw_id)?;
    let der = ca::holder_root_crl(&ctx.app, op, id).await?;
    let mut resp = Response::new(Body::from(der));
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/pkix-crl"),
    );
    Ok(resp)
}

/// `POST /v1/holder/wallet-attestations` (roles admin, holder).
pub async fn wallet_attestation(
    ctx: &Ctx,
    op: &OpContext,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let b: api::WalletAttestationRequest = read_json(ctx, req).await?;
    let a = crate::service::holder::attest(
        &ctx.app,
        op,
        crate::service::holder::AttestationInput {
            client_id: b.client_id,
            wallet_key: b.wallet_key.0,
            expires_in: b.expires_in,
            wallet_name: b.wallet_name,
            wallet_link: b.wallet_link,
        },
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        &api::WalletAttestation {
            attestation: a.token,
            signer_id: a.signer_id,
            expires_at: ca::rfc3339(a.expires_at),
        },
    ))
}
