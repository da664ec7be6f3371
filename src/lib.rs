//! hsm-pki: a PKI daemon that keeps every private key inside a PKCS#11 token.
//!
//! Map of the crate (dependencies point downwards only; see ARCHITECTURE.md):
//!
//! - [`daemon`]: `hsm-pki serve`: wiring, token probe, reconciliation, signals.
//! - [`http`]: hyper transport, routing, the error shape. The only module that knows hyper/JSON.
//! - [`api`]: wire types of requests and responses. Depends on nothing.
//! - [`service`]: domain operations over token, store and X.509; bounded blocking calls.
//! - [`config`]: the daemon's TOML configuration, validated.
//! - [`store`]: SQLite, schema-versioned; the only module that speaks SQL.
//! - [`hsm`]: PKCS#11 token access (context, sessions, keys, signing, health). The only cryptoki user.
//! - [`x509`]: names, serials, extensions, certificate profiles, CSRs, PEM. Pure; signs via `crypto`.
//! - [`cose`]: CBOR/COSE for mdocs (ISO/IEC 18013-5): data elements, MSO, IssuerAuth; VICALs. Pure.
//! - [`jose`]: JWS for the holder family: the wallet attestation JWT. Pure.
//! - [`crypto`]: algorithms, digests, public keys, verification, the signer seam. Pure.
pub mod api;
pub mod config;
pub mod cose;
pub mod crypto;
pub mod daemon;
pub mod hsm;
pub mod http;
pub mod jose;
pub mod service;
pub mod store;
pub mod x509;
