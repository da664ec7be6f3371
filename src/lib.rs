//! hsm-pki: a PKI daemon that keeps every private key inside a PKCS#11 token.
//!
//! Map of the crate (dependencies point downwards only; see ARCHITECTURE.md):
//!
//! - [`config`]: the daemon's TOML configuration, validated.
//! - [`store`]: SQLite, schema-versioned; the only module that speaks SQL.
//! - [`x509`]: names, serials, extensions, certificate profiles, CSRs, PEM. Pure; signs via `crypto`.
//! - [`crypto`]: algorithms, digests, public keys, verification, the signer seam. Pure.
pub mod config;
pub mod crypto;
pub mod store;
pub mod x509;
