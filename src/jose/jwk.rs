//! A client's public EC key as a JWK (RFC 7517, RFC 7518 section 6.2), validated by
//! [`crate::crypto::PublicKey`] as every key here is: on its curve, coordinates of the
//! field length.
//!
//! A private member anywhere refuses the key, named and never echoed: a wallet that sends
//! its private key has leaked it, and no attestation may bind it. The attestation draft
//! says the same of its verifier: "The key contained in the `cnf` claim ... is not a private
//! key".

use serde_json::Value as Json;

use super::JoseError;
use crate::crypto::{CryptoError, PublicJwk, PublicKey};

/// Private JWK members: EC and OKP `d` (RFC 7518 6.2.2.1, RFC 8037), the RSA private members
/// (RFC 7518 6.3.2), the symmetric `k` (RFC 7518 6.4.1).
pub const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The public EC key (P-256, P-384 or P-521) of the JWK `jwk`, the request's `field`.
/// Members other than kty, crv, x and y (kid, use, alg, ...) are ignored: what is kept is
/// the key, which [`PublicKey::to_jwk`] writes back as exactly those four.
pub fn public_ec_key_from_jwk(field: &str, jwk: &Json) -> Result<PublicKey, JoseError> {
    let at = |m: &str| format!("{field}.{m}");
    let obj = jwk
        .as_object()
        .ok_or_else(|| JoseError::invalid(field, "must be a JWK object"))?;
    if let Some(m) = PRIVATE_JWK_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
        return Err(JoseError::invalid(
            at(m),
            "is a private key member: send the public key only",
        ));
    }
    let member = |name: &str| -> Result<Option<String>, JoseError> {
        match obj.get(name) {
            None => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(JoseError::invalid(at(name), "must be a string")),
        }
    };
    let kty = member("kty")?.ok_or_else(|| JoseError::invalid(at("kty"), "is required"))?;
    if kty != "EC" {
        return Err(JoseError::invalid(
            at("kty"),
            "must be EC (P-256, P-384 or P-521)",
        ));
    }
    let jwk = PublicJwk {
        kty,
        crv: member("crv")?,
        x: member("x")?,
        y: member("y")?,
        n: None,
        e: None,
    };
    PublicKey::from_jwk(&jwk).map_err(|e| match e {
        CryptoError::BadJwk(m) => JoseError::invalid(
            at(m),
            match m {
                "crv" => "must be P-256, P-384 or P-521",
                _ => "must be the unpadded base64url coordinate of the curve's field length",
            },
        ),
        _ => JoseError::invalid(field, "is not a point on its curve"),
    })
}
