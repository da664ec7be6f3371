//! VICAL, the Verified Issuer Certificate Authority List (ISO/IEC 18013-5 Annex C): built and
//! signed as a COSE_Sign1 here in two pure steps, like IssuerAuth, and read back (ours or
//! anyone's) by [`parse_vical`].
//!
//! ```cddl
//! VICAL = { "version": tstr, "vicalProvider": tstr, "date": tdate,
//!           ? "vicalIssueID": uint, ? "nextUpdate": tdate,
//!           "certificateInfos": [* CertificateInfo], ? "extensions": Extensions,
//!           * tstr => any }                                     ; RFU
//! CertificateInfo = { "certificate": bstr, "serialNumber": biguint, "ski": bstr,
//!           "docType": [+ DocType], ? "certificateProfile": [+ CertificateProfile],
//!           ? "issuingAuthority": tstr, ? "issuingCountry": tstr,
//!           ? "stateOrProvinceName": tstr, ? "issuer": bstr, ? "subject": bstr,
//!           ? "notBefore": tdate, ? "notAfter": tdate, ? "extensions": Extensions,
//!           * tstr => any }                                     ; RFU
//! Extensions = { * tstr => any }
//! ```
//!
//! Signed VICAL = COSE_Sign1 `[bstr .cbor {1: alg}, {33: x5chain}, bstr .cbor VICAL, r || s]`,
//! untagged, the payload the VICAL's own bytes (no tag 24), x5chain a bstr for one
//! certificate and an array for more: what AAMVA's and MATTR's published VICALs carry
//! (`tests/data/vical/`).
//!
//! Publishing (`POST /v1/ecosystems/{id}/vicals`):
//!
//! ```text
//! let unsigned = cose::build_vical(&spec, &members)?;      // spec.date: the caller's now
//! let prepared = unsigned.prepare(&x5chain)?;              // [VICAL signer, ..., DTS root?]
//! let sig = crypto::sign(&signer_key, prepared.signature_algorithm(), prepared.bytes())?;
//! let signed = prepared.finish(sig.to_fixed())?;           // signed.bytes(): application/cbor
//! ```

mod build;
mod parse;

use ciborium::Value;
use time::OffsetDateTime;

use super::tdate::tdate_value;

pub use build::{
    MAX_DOC_TYPES, MAX_MEMBERS, MAX_PROFILES, MAX_TEXT_LEN, MAX_X5CHAIN, PreparedVical,
    SignedVical, UnsignedVical, VicalMember, VicalSpec, build_vical,
};
pub use parse::{Finding, MAX_VICAL_LEN, ParsedVical, parse_vical};

/// The VICAL version Annex C defines, the one written here.
pub const VICAL_VERSION: &str = "1.0";

/// CBOR tag 2, unsigned bignum (RFC 8949 section 3.4.3): the CDDL `biguint`.
const TAG_BIGUINT: u64 = 2;

/// A VICAL's content: built by [`build_vical`] (every rule checked) or read by
/// [`parse_vical`] (as found; see [`ParsedVical::findings`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vical {
    pub version: String,
    pub vical_provider: String,
    pub date: OffsetDateTime,
    pub vical_issue_id: Option<u64>,
    pub next_update: Option<OffsetDateTime>,
    pub certificate_infos: Vec<CertificateInfo>,
    /// Keys outside the CDDL's named members, in their order (RFU, `* tstr => any`). Empty
    /// in a VICAL built here.
    pub other_keys: Vec<String>,
}

/// One trusted IACA of a VICAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The DER certificate.
    pub certificate: Vec<u8>,
    /// The certificate's serial number, big-endian unsigned without leading zero octets.
    pub serial_number: Vec<u8>,
    /// As written: the keyIdentifier octets in a VICAL built here (and in MATTR's); AAMVA's
    /// carry the extension's DER OCTET STRING instead (see [`Finding`]).
    pub ski: Vec<u8>,
    pub doc_types: Vec<String>,
    pub certificate_profiles: Option<Vec<String>>,
    pub issuing_authority: Option<String>,
    pub issuing_country: Option<String>,
    pub state_or_province_name: Option<String>,
    /// The DER Name fields; never written here, read when present.
    pub issuer: Option<Vec<u8>>,
    pub subject: Option<Vec<u8>>,
    pub not_before: Option<OffsetDateTime>,
    pub not_after: Option<OffsetDateTime>,
    /// Keys outside the CDDL's named members (AAMVA's capitalised `Extensions` and
    /// `CertificateProfile` are such: CBOR map keys are case-sensitive).
    pub other_keys: Vec<String>,
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn texts(v: &[String]) -> Value {
    Value::Array(v.iter().map(|s| text(s)).collect())
}

impl Vical {
    /// The CBOR map, members in the CDDL's order (as AAMVA's is). Only the named members
    /// are written: `other_keys` names what a parsed VICAL had, not values to copy.
    pub(super) fn to_value(&self) -> Value {
        let mut m = vec![
            (text("version"), text(&self.version)),
            (text("vicalProvider"), text(&self.vical_provider)),
            (text("date"), tdate_value(self.date)),
        ];
        if let Some(id) = self.vical_issue_id {
            m.push((text("vicalIssueID"), Value::from(id)));
        }
        if let Some(t) = self.next_update {
            m.push((text("nextUpdate"), tdate_value(t)));
        }
        m.push((
            text("certificateInfos"),
            Value::Array(
                self.certificate_infos
                    .iter()
                    .map(CertificateInfo::to_value)
                    .collect(),
            ),
        ));
        Value::Map(m)
    }
}

impl CertificateInfo {
    pub(in crate::cose) fn to_value(&self) -> Value {
        let mut m = vec![
            (text("certificate"), Value::Bytes(self.certificate.clone())),
            (
                text("serialNumber"),
                // Always #6.2(bstr), also for a serial that fits a uint: the CDDL type is
                // `biguint`, and MATTR's VICAL tags even an 8-byte serial (decision log).
                Value::Tag(
                    TAG_BIGUINT,
                    Box::new(Value::Bytes(self.serial_number.clone())),
                ),
            ),
            (text("ski"), Value::Bytes(self.ski.clone())),
            (text("docType"), texts(&self.doc_types)),
        ];
        if let Some(p) = &self.certificate_profiles {
            m.push((text("certificateProfile"), texts(p)));
        }
        let optional_texts = [
            ("issuingAuthority", &self.issuing_authority),
            ("issuingCountry", &self.issuing_country),
            ("stateOrProvinceName", &self.state_or_province_name),
        ];
        for (k, v) in optional_texts {
            if let Some(v) = v {
                m.push((text(k), text(v)));
            }
        }
        for (k, v) in [("issuer", &self.issuer), ("subject", &self.subject)] {
            if let Some(v) = v {
                m.push((text(k), Value::Bytes(v.clone())));
            }
        }
        for (k, v) in [("notBefore", self.not_before), ("notAfter", self.not_after)] {
            if let Some(t) = v {
                m.push((text(k), tdate_value(t)));
            }
        }
        Value::Map(m)
    }
}

/// `bytes` without leading zero octets: the biguint of an unsigned big-endian integer (a
/// DER INTEGER's content has one leading zero when its top bit is set).
fn strip_leading_zeros(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}
