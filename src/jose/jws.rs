//! JWS Compact Serialization (RFC 7515 section 7.1) with ECDSA (RFC 7518 section 3.4):
//! `BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(r || s)`, base64url without
//! padding (RFC 7515 section 2).
//!
//! Only the serialization is here. The signature comes from the caller through
//! `crypto::sign`, which returns `r || s` (`VerifiedSignature::to_fixed`), the form JWS
//! carries; verification is `crypto::PublicKey::verify_fixed`.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Serialize;
use serde_json::Value as Json;

use super::JoseError;
use crate::crypto::{Curve, PublicKey, SignatureAlgorithm};

/// Longest compact JWS [`decode_compact`] reads.
pub const MAX_JWS_LEN: usize = 64 * 1024;

/// The JWS `alg` of an EC key, by its curve (RFC 7518 section 3.4: ES256 is P-256 with
/// SHA-256, ES384 P-384 with SHA-384, ES512 P-521 with SHA-512).
pub fn jws_algorithm(curve: Curve) -> (SignatureAlgorithm, &'static str) {
    match curve {
        Curve::P256 => (SignatureAlgorithm::EcdsaSha256, "ES256"),
        Curve::P384 => (SignatureAlgorithm::EcdsaSha384, "ES384"),
        Curve::P521 => (SignatureAlgorithm::EcdsaSha512, "ES512"),
    }
}

/// The JWS Signing Input `BASE64URL(UTF8(header)) '.' BASE64URL(payload)` of two JSON
/// objects, serialized by serde_json in their fields' order.
pub(super) fn signing_input(header: &impl Serialize, payload: &impl Serialize) -> String {
    format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(&to_json(header)),
        Base64UrlUnpadded::encode_string(&to_json(payload))
    )
}

/// serde_json of a header or claims struct: strings, integers and nested structs of them,
/// whose serialization has no error path.
fn to_json(v: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(v).expect("a struct of strings and integers serializes")
}

/// `signing_input '.' BASE64URL(signature)`.
pub(super) fn compact(signing_input: &str, signature: &[u8]) -> String {
    format!(
        "{signing_input}.{}",
        Base64UrlUnpadded::encode_string(signature)
    )
}

/// A compact JWS, split and decoded; its signature not checked until [`CompactJws::verify`].
#[derive(Debug, Clone)]
pub struct CompactJws {
    header: Json,
    payload: Json,
    signing_input: String,
    signature: Vec<u8>,
}

/// Split and decode a compact JWS whose header and payload are JSON objects. Only unpadded
/// base64url is accepted (RFC 7515 section 2), three parts, at most [`MAX_JWS_LEN`] bytes.
pub fn decode_compact(token: &str) -> Result<CompactJws, JoseError> {
    const F: &str = "jws";
    if token.len() > MAX_JWS_LEN {
        return Err(JoseError::invalid(
            F,
            format!("is {} bytes; at most {MAX_JWS_LEN} are read", token.len()),
        ));
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [h, p, s] = parts[..] else {
        return Err(JoseError::invalid(
            F,
            "must be three base64url parts joined by '.' (RFC 7515 section 7.1)",
        ));
    };
    let b64 = |what: &str, part: &str| {
        Base64UrlUnpadded::decode_vec(part)
            .map_err(|_| JoseError::invalid(F, format!("the {what} is not unpadded base64url")))
    };
    let object = |what: &str, bytes: Vec<u8>| -> Result<Json, JoseError> {
        serde_json::from_slice::<Json>(&bytes)
            .ok()
            .filter(Json::is_object)
            .ok_or_else(|| JoseError::invalid(F, format!("the {what} is not a JSON object")))
    };
    Ok(CompactJws {
        header: object("header", b64("header", h)?)?,
        payload: object("payload", b64("payload", p)?)?,
        signing_input: format!("{h}.{p}"),
        signature: b64("signature", s)?,
    })
}

impl CompactJws {
    /// The JOSE header.
    pub fn header(&self) -> &Json {
        &self.header
    }

    /// The payload (a JWT's claims).
    pub fn payload(&self) -> &Json {
        &self.payload
    }

    /// Verify with `key`: the header's `alg` must be the ES algorithm of the key's curve,
    /// the signature `r || s` of its length.
    pub fn verify(&self, key: &PublicKey) -> Result<(), JoseError> {
        let curve = key
            .algorithm()
            .curve()
            .ok_or_else(|| JoseError::invalid("jws", "the key is not an EC key"))?;
        let (alg, name) = jws_algorithm(curve);
        if self.header.get("alg").and_then(Json::as_str) != Some(name) {
            return Err(JoseError::invalid(
                "jws.alg",
                format!("must be {name} for a {} key", curve.jwk_name()),
            ));
        }
        key.verify_fixed(alg, self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JoseError::invalid("jws", "the signature does not verify"))
    }
}
