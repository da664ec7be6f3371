//! `POST /v2/credentials/mobile/sign` and `.../sign-mso` (roles admin, issuer): mdocs signed
//! by a document signer in the token. IACAs and document signers are served by `ca.rs`.

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::{ApiError, Body, Ctx, json_response, read_json};
use crate::api::mobile as wire;
use crate::service::OpContext;
use crate::service::mobile::{self, SignRequest};

pub async fn sign(
    ctx: &Ctx,
    op: &OpContext,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let b: wire::SignMdocRequest = read_json(ctx, req).await?;
    let p = b.payload;
    let request = SignRequest {
        document_signer_id: b.document_signer_id,
        doc_type: p.doc_type,
        device_key: p.device_key_info.device_key.0,
        valid_from: p.validity_info.valid_from,
        valid_until: p.validity_info.valid_until,
        expected_update: p.validity_info.expected_update,
        items_to_sign: p.items_to_sign.0,
    };
    let signed = mobile::sign_mdoc(&ctx.app, op, request).await?;
    Ok(json_response(
        StatusCode::OK,
        &wire::SignedMdoc {
            encoded: signed.encoded,
            decoded: signed.decoded,
        },
    ))
}

pub async fn sign_mso(
    ctx: &Ctx,
    op: &OpContext,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let b: wire::SignMsoRequest = read_json(ctx, req).await?;
    let issuer_auth =
        mobile::sign_mso(&ctx.app, op, b.document_signer_id, b.mso, b.doc_type).await?;
    Ok(json_response(
        StatusCode::OK,
        &wire::SignedMso { issuer_auth },
    ))
}
