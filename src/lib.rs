//! hsm-pki: a PKI daemon that keeps every private key inside a PKCS#11 token.
//!
//! Map of the crate (dependencies point downwards only):
//!
//! - [`crypto`]: algorithms, digests, public keys, verification, the signer seam. Pure.
//! - [`hsm`]: the PKCS#11 token: sessions, key generation and import, digest signing, health.
//!   The only module that imports `cryptoki`.
pub mod crypto;
pub mod hsm;
