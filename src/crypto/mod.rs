//! Pure cryptographic plumbing shared by `hsm` and `x509`: algorithm identities, digests,
//! public keys and JWK, signature verification (aws-lc-rs), and the signer seam: [`sign`],
//! the one way to a key's signature, which hands out only a [`VerifiedSignature`].
//!
//! No I/O, no PKCS#11, no JSON: the token layer and the X.509 engine both depend on this
//! module and on nothing of each other.

mod alg;
mod pubkey;
mod signer;

pub use alg::{Curve, HashAlg, KeyAlgorithm, SignatureAlgorithm};
pub use pubkey::{
    MAX_RSA_BITS, MIN_RSA_BITS, PublicJwk, PublicKey, ecdsa_der_to_raw, ecdsa_raw_to_der,
};
#[cfg(test)]
pub use signer::testkeys;
pub use signer::{DigestSigner, KeySigner, Seal, SignError, VerifiedSignature, sign};

/// Errors of pure cryptographic checks. Messages are safe to show to a client: they never
/// carry key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    #[error("public key is malformed or not on its curve")]
    BadPublicKey,
    #[error("JWK member `{0}` is missing or invalid")]
    BadJwk(&'static str),
    #[error("signature is malformed or does not verify")]
    BadSignature,
    #[error("signature algorithm does not fit the key")]
    KeyMismatch,
    #[error("digest length does not match the hash algorithm")]
    DigestLength,
    #[error("the key's signature did not verify with its public key")]
    SignatureCheckFailed,
}

/// Built with the `fips` feature, verification and digests must run on AWS-LC's FIPS 140-3
/// module, in FIPS mode (`scripts/test` runs the unit tests once that way).
#[cfg(all(test, feature = "fips"))]
#[test]
fn fips_module_is_in_fips_mode() {
    aws_lc_rs::try_fips_mode().expect("aws-lc-rs built with `fips` is in FIPS mode");
}
