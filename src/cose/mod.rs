//! COSE and CBOR for mdocs (ISO/IEC 18013-5): data elements, IssuerSignedItems, the
//! MobileSecurityObject, and the IssuerAuth COSE_Sign1, built and checked here, signed
//! elsewhere; and the signed VICAL of Annex C ([`vical`]), built, signed in the same two
//! steps, and read back; and the Token Status List of draft-ietf-oauth-status-list
//! ([`StatusList`], the Status List Token CWT), which mdocs reference from their MSO.
//!
//! Pure: no I/O, no clock, no RNG. The time of signing and the salts are passed in; the
//! signature comes back from the caller, who has the token sign through `crypto::sign`.
//! CBOR is encoded by ciborium, COSE structures by coset; nothing is hand-encoded.
//!
//! Issuing an mdoc (`POST /v2/credentials/mobile/sign`):
//!
//! ```text
//! let elements = cose::parse_items_to_sign(&items_to_sign, &limits)?;
//! let device_key = cose::DeviceKey::from_jwk(&device_key_jwk)?;
//! let validity = cose::ValidityInfo::new(now, valid_from, valid_until, expected_update)?;
//! let salts: Vec<[u8; 32]> = /* elements.len() values from the CSPRNG */;
//! let mdoc = cose::build_mdoc(doc_type, elements, &salts, device_key, validity)?
//!     .prepare(&x5chain)?;                      // x5chain: [DS certificate, ...]
//! let tbs = mdoc.to_be_signed();
//! let sig = crypto::sign(&ds_key, tbs.signature_algorithm(), tbs.bytes())?;
//! let issuer_signed = mdoc.finish(sig.to_fixed())?;   // .encoded(), .decoded()
//! ```
//!
//! Signing a client's MSO (`sign-mso`): `parse_mso` → `Mso::check_doc_type` → `prepare` →
//! `crypto::sign` → `finish` → `IssuerAuth::bytes`.
//!
//! The inputs that come from JSON (itemsToSign, the device key) are `serde_json::Value`
//! trees, never JSON text; the wire types decode them with `api::StrictJson`, which refuses
//! duplicate keys.

mod cbor;
mod device_key;
mod elements;
mod error;
mod mdoc;
mod mso;
mod sign1;
mod status_list;
mod tdate;
pub mod vical;

pub use device_key::DeviceKey;
pub use elements::{DRIVING_PRIVILEGES_TYPE, ELEMENT_TYPES, Elements, Limits, parse_items_to_sign};
pub use error::CoseError;
pub use mdoc::{IssuerSigned, MAX_SALT_LEN, MIN_SALT_LEN, PreparedMdoc, UnsignedMdoc, build_mdoc};
pub use mso::{
    DigestAlgorithm, MAX_DIGEST_ID, MSO_VERSION, Mso, MsoPayload, StatusRef, ValidityInfo,
    ValueDigests, parse_mso,
};
pub use sign1::{IssuerAuth, ToBeSigned, cose_algorithm, finish, prepare};
pub use status_list::{
    ParsedStatusList, PreparedStatusList, STATUS_INVALID, STATUS_LIST_CWT_TYPE, STATUS_SUSPENDED,
    STATUS_VALID, SignedStatusList, StatusList, StatusListClaims, UnsignedStatusList,
    build_status_list_token, parse_status_list_token,
};
pub use tdate::parse_date_time;
pub use vical::{
    CertificateInfo, ParsedVical, PreparedVical, SignedVical, UnsignedVical, Vical, VicalMember,
    VicalSpec, build_vical, parse_vical,
};

#[cfg(test)]
mod tests;
