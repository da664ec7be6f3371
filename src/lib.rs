//! hsm-pki: a PKI daemon that keeps every private key inside a PKCS#11 token.
//!
//! Map of the crate (dependencies point downwards only):
//!
//! - [`crypto`]: algorithms, digests, public keys, verification, the signer seam. Pure.
//! - [`x509`]: names, serials, extensions, certificate profiles, CSRs, PEM. Pure; signs via `crypto`.
pub mod crypto;
pub mod x509;
