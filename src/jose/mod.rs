//! JOSE for the holder family: the wallet attestation JWT (draft-ietf-oauth-attestation-
//! based-client-auth, OpenID4VC HAIP) in JWS Compact Serialization, built and checked here,
//! signed elsewhere.
//!
//! Pure: no I/O, no clock, no RNG; the time is passed in and the signature comes back from
//! the caller, who has the token sign through `crypto::sign` (`VerifiedSignature::to_fixed`
//! is the `r || s` JWS carries). JSON is written by serde_json from typed structs and
//! base64url by base64ct; no JOSE library and no cryptography of its own (decision log).
//!
//! Issuing an attestation (`POST /v1/holder/wallet-attestations`):
//!
//! ```text
//! let prepared = jose::prepare_attestation(&request, &policy, now, &x5c)?; // x5c: [signer, ...]
//! let sig = crypto::sign(&signer_key, prepared.signature_algorithm(), prepared.signing_input())?;
//! let attestation = prepared.finish(sig.to_fixed())?;   // .token(), .expires_at()
//! ```
//!
//! The wallet key comes as a `serde_json::Value` (the wire type decodes it with
//! `api::StrictJson`, which refuses duplicate keys), as the mdoc device key does in `cose`.

mod attestation;
mod error;
mod jwk;
mod jws;

pub use attestation::{
    ATTESTATION_TYP, AttestationPolicy, AttestationRequest, MAX_LINK_LEN, MAX_NAME_LEN, MAX_X5C,
    PreparedAttestation, WalletAttestation, prepare_attestation,
};
pub use error::JoseError;
pub use jwk::{PRIVATE_JWK_MEMBERS, public_ec_key_from_jwk};
pub use jws::{CompactJws, MAX_JWS_LEN, decode_compact, jws_algorithm};

#[cfg(test)]
mod tests;
