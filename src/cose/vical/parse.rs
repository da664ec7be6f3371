//! Reading a signed VICAL, ours or anyone's: the COSE_Sign1 envelope, the x5chain, the
//! VICAL's members, then on request the signature ([`ParsedVical::verify_signature`]), the
//! chain ([`ParsedVical::verify_x5chain`]) and how well each CertificateInfo agrees with its
//! certificate ([`ParsedVical::findings`]).
//!
//! Strict where the CDDL is (types, required members, no key twice), lenient where the
//! published VICALs differ from it or from our output, each leniency a [`Finding`] rather
//! than a refusal, since no daemon input is a VICAL and relying parties read these files:
//! - tagged (18) or untagged COSE_Sign1; x5chain in the protected or unprotected header, an
//!   array of one as well as a bstr;
//! - members outside the CDDL (RFU `* tstr => any`) are kept by name: AAMVA writes
//!   `Extensions` and `CertificateProfile` capitalised, which CBOR's case-sensitive keys make
//!   other members, not `extensions` and `certificateProfile`;
//! - serialNumber as #6.2(bstr) of any length or as a uint (ciborium decodes a biguint that
//!   fits 64 bits as an integer, so the two cannot be told apart here);
//! - tdates in any RFC 3339 form under tag 0 (ours have one form, `YYYY-MM-DDTHH:MM:SSZ`);
//! - no preferred-serialization check: the bytes are verified as they are, not re-encoded;
//! - a ski, serialNumber, date or name that disagrees with the certificate, an expired
//!   member, an empty stateOrProvinceName: findings (AAMVA's ski is the extension's DER
//!   OCTET STRING and six of its validity dates are 12 hours off; MATTR writes "" for an
//!   absent stateOrProvinceName).

use std::collections::HashSet;

use ciborium::Value;
use coset::{AsCborValue, CoseSign1, Label, RegisteredLabelWithPrivate, iana};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::super::CoseError;
use super::super::cbor::{bytes, shown, text, uint};
use super::super::tdate::format_tdate;
use super::{CertificateInfo, TAG_BIGUINT, VICAL_VERSION, Vical, strip_leading_zeros};
use crate::crypto::SignatureAlgorithm;
use crate::x509::ParsedCertificate;

/// Largest signed VICAL read (MATTR's Austroads VICAL, 40 members, is 48 KiB).
pub const MAX_VICAL_LEN: usize = 16 << 20;
/// CBOR tag 18, COSE_Sign1 (RFC 9052 section 2).
const TAG_COSE_SIGN1: u64 = 18;
/// Most certificates read from an x5chain.
const MAX_X5CHAIN_READ: usize = 16;

/// Where a VICAL departs from Annex C, RFC 9360, or its members' certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `x5chain`, `version`, `certificateInfos[3].ski`, ...
    pub field: String,
    pub message: String,
}

/// A signed VICAL, decoded; nothing verified until asked.
#[derive(Debug, Clone)]
pub struct ParsedVical {
    vical: Vical,
    x5chain: Vec<ParsedCertificate>,
    x5chain_single_in_array: bool,
    tagged: bool,
    alg: SignatureAlgorithm,
    payload: Vec<u8>,
    tbs: Vec<u8>,
    signature: Vec<u8>,
}

/// Decode a signed VICAL (`application/cbor`): one CBOR data item, a COSE_Sign1 with an
/// attached payload, ES256/ES384/ES512, an x5chain, and the VICAL's CDDL in the payload.
pub fn parse_vical(input: &[u8]) -> Result<ParsedVical, CoseError> {
    const F: &str = "COSE_Sign1";
    if input.len() > MAX_VICAL_LEN {
        return Err(CoseError::too_large(
            F,
            format!("is {} bytes; at most {MAX_VICAL_LEN} are read", input.len()),
        ));
    }
    let value = decode_one(F, input)?;
    let (tagged, value) = match value {
        Value::Tag(TAG_COSE_SIGN1, inner) => (true, *inner),
        Value::Tag(t, _) => {
            return Err(CoseError::invalid(
                F,
                format!("has tag {t}; a COSE_Sign1 is untagged or tag 18"),
            ));
        }
        v => (false, v),
    };
    let sign1 = CoseSign1::from_cbor_value(value)
        .map_err(|e| CoseError::invalid(F, format!("is not a COSE_Sign1 ({e})")))?;
    if !sign1.protected.header.crit.is_empty() {
        return Err(CoseError::invalid(
            "COSE_Sign1.protected.crit",
            "names critical headers this reader does not process (RFC 9052 section 3.1)",
        ));
    }
    let alg = match &sign1.protected.header.alg {
        Some(RegisteredLabelWithPrivate::Assigned(a)) => match a {
            iana::Algorithm::ES256 => SignatureAlgorithm::EcdsaSha256,
            iana::Algorithm::ES384 => SignatureAlgorithm::EcdsaSha384,
            iana::Algorithm::ES512 => SignatureAlgorithm::EcdsaSha512,
            other => {
                return Err(CoseError::invalid(
                    "COSE_Sign1.protected.alg",
                    format!("{other:?} is not ES256, ES384 or ES512"),
                ));
            }
        },
        _ => {
            return Err(CoseError::invalid(
                "COSE_Sign1.protected.alg",
                "is required (ES256, ES384 or ES512)",
            ));
        }
    };
    let x5chain_label = Label::Int(iana::HeaderParameter::X5Chain as i64);
    let x5chain_value = [&sign1.unprotected.rest, &sign1.protected.header.rest]
        .into_iter()
        .find_map(|rest| rest.iter().find(|(l, _)| *l == x5chain_label))
        .map(|(_, v)| v)
        .ok_or_else(|| CoseError::invalid("x5chain", "is required (header label 33)"))?;
    let (ders, single_in_array) = match x5chain_value {
        Value::Bytes(b) => (vec![b.as_slice()], false),
        Value::Array(a) if !a.is_empty() && a.len() <= MAX_X5CHAIN_READ => (
            a.iter()
                .enumerate()
                .map(|(i, c)| bytes(&format!("x5chain[{i}]"), c))
                .collect::<Result<Vec<_>, _>>()?,
            a.len() == 1,
        ),
        _ => {
            return Err(CoseError::invalid(
                "x5chain",
                format!("must be a bstr or an array of 1 to {MAX_X5CHAIN_READ} bstr"),
            ));
        }
    };
    let x5chain = ders
        .iter()
        .enumerate()
        .map(|(i, der)| {
            ParsedCertificate::from_der(der)
                .map_err(|e| CoseError::invalid(format!("x5chain[{i}]"), e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let tbs = sign1.tbs_data(b"");
    let payload = sign1.payload.ok_or_else(|| {
        CoseError::invalid("COSE_Sign1.payload", "is detached; a VICAL's is attached")
    })?;
    let v = decode_one("vical", &payload)?;
    if matches!(v, Value::Tag(..)) {
        return Err(CoseError::invalid(
            "vical",
            "is tagged; Annex C's payload is the VICAL map itself (bstr .cbor VICAL)",
        ));
    }
    Ok(ParsedVical {
        vical: read_vical(&v)?,
        x5chain,
        x5chain_single_in_array: single_in_array,
        tagged,
        alg,
        payload,
        tbs,
        signature: sign1.signature,
    })
}

fn decode_one(field: &str, input: &[u8]) -> Result<Value, CoseError> {
    let mut rest = input;
    let v: Value = ciborium::de::from_reader(&mut rest)
        .map_err(|e| CoseError::invalid(field, format!("is not well-formed CBOR ({e})")))?;
    if !rest.is_empty() {
        return Err(CoseError::invalid(
            field,
            format!("has {} bytes after its CBOR data item", rest.len()),
        ));
    }
    Ok(v)
}

/// A CBOR map with text keys, each once, read by name; what is not read is "other".
struct Members<'a> {
    field: String,
    entries: Vec<(&'a str, &'a Value, bool)>,
}

impl<'a> Members<'a> {
    fn new(field: &str, v: &'a Value) -> Result<Self, CoseError> {
        let map = v
            .as_map()
            .ok_or_else(|| CoseError::invalid(field, "must be a map"))?;
        let mut entries: Vec<(&str, &Value, bool)> = Vec::with_capacity(map.len());
        let mut seen: HashSet<&str> = HashSet::with_capacity(map.len());
        for (k, v) in map {
            let k = k
                .as_text()
                .ok_or_else(|| CoseError::invalid(field, "has a key that is not a text string"))?;
            if !seen.insert(k) {
                return Err(CoseError::invalid(
                    format!("{field}.{}", shown(k)),
                    "appears more than once",
                ));
            }
            entries.push((k, v, false));
        }
        Ok(Members {
            field: field.to_owned(),
            entries,
        })
    }

    fn at(&self, key: &str) -> String {
        format!("{}.{key}", self.field)
    }

    fn optional(&mut self, key: &str) -> Option<&'a Value> {
        self.entries
            .iter_mut()
            .find(|(k, _, _)| *k == key)
            .map(|e| {
                e.2 = true;
                e.1
            })
    }

    fn required(&mut self, key: &str) -> Result<&'a Value, CoseError> {
        let at = self.at(key);
        self.optional(key)
            .ok_or_else(|| CoseError::invalid(at, "is required"))
    }

    fn text(&mut self, key: &str) -> Result<Option<String>, CoseError> {
        let at = self.at(key);
        self.optional(key)
            .map(|v| text(&at, v).map(str::to_owned))
            .transpose()
    }

    fn bytes(&mut self, key: &str) -> Result<Option<Vec<u8>>, CoseError> {
        let at = self.at(key);
        self.optional(key)
            .map(|v| bytes(&at, v).map(<[u8]>::to_vec))
            .transpose()
    }

    fn tdate(&mut self, key: &str) -> Result<Option<OffsetDateTime>, CoseError> {
        let at = self.at(key);
        self.optional(key).map(|v| tdate(&at, v)).transpose()
    }

    fn texts(&mut self, key: &str) -> Result<Option<Vec<String>>, CoseError> {
        let at = self.at(key);
        let Some(v) = self.optional(key) else {
            return Ok(None);
        };
        let a = v
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| CoseError::invalid(&at, "must be a non-empty array of text"))?;
        a.iter()
            .enumerate()
            .map(|(i, s)| text(&format!("{at}[{i}]"), s).map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// `extensions` (a map with text keys) is checked and not kept; the keys not read are
    /// returned by name.
    fn finish(mut self) -> Result<Vec<String>, CoseError> {
        if let Some(ext) = self.optional("extensions") {
            Members::new(&self.at("extensions"), ext)?;
        }
        Ok(self
            .entries
            .into_iter()
            .filter(|(_, _, read)| !read)
            .map(|(k, _, _)| shown(k))
            .collect())
    }
}

/// A tdate, leniently: tag 0 over any RFC 3339 date-time, as UTC.
fn tdate(field: &str, v: &Value) -> Result<OffsetDateTime, CoseError> {
    let s = match v {
        Value::Tag(0, inner) => inner.as_text(),
        _ => None,
    }
    .ok_or_else(|| CoseError::invalid(field, "must be a tdate (tag 0 over text)"))?;
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| t.to_offset(time::UtcOffset::UTC))
        .map_err(|_| CoseError::invalid(field, "must be an RFC 3339 date-time"))
}

fn read_vical(v: &Value) -> Result<Vical, CoseError> {
    let mut m = Members::new("vical", v)?;
    let version = m
        .text("version")?
        .ok_or_else(|| CoseError::invalid("vical.version", "is required"))?;
    let vical_provider = m
        .text("vicalProvider")?
        .ok_or_else(|| CoseError::invalid("vical.vicalProvider", "is required"))?;
    let date = m
        .tdate("date")?
        .ok_or_else(|| CoseError::invalid("vical.date", "is required"))?;
    let vical_issue_id = m
        .optional("vicalIssueID")
        .map(|v| uint("vical.vicalIssueID", v))
        .transpose()?;
    let next_update = m.tdate("nextUpdate")?;
    let infos = m
        .required("certificateInfos")?
        .as_array()
        .ok_or_else(|| CoseError::invalid("vical.certificateInfos", "must be an array"))?;
    let certificate_infos = infos
        .iter()
        .enumerate()
        .map(|(i, v)| read_info(&format!("vical.certificateInfos[{i}]"), v))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Vical {
        version,
        vical_provider,
        date,
        vical_issue_id,
        next_update,
        certificate_infos,
        other_keys: m.finish()?,
    })
}

fn read_info(field: &str, v: &Value) -> Result<CertificateInfo, CoseError> {
    let mut m = Members::new(field, v)?;
    let req = |o: Option<Vec<u8>>, key: &str| {
        o.ok_or_else(|| CoseError::invalid(format!("{field}.{key}"), "is required"))
    };
    let certificate = req(m.bytes("certificate")?, "certificate")?;
    let serial_number = serial(&m.at("serialNumber"), m.required("serialNumber")?)?;
    let ski = req(m.bytes("ski")?, "ski")?;
    let doc_types = m
        .texts("docType")?
        .ok_or_else(|| CoseError::invalid(format!("{field}.docType"), "is required"))?;
    Ok(CertificateInfo {
        certificate,
        serial_number,
        ski,
        doc_types,
        certificate_profiles: m.texts("certificateProfile")?,
        issuing_authority: m.text("issuingAuthority")?,
        issuing_country: m.text("issuingCountry")?,
        state_or_province_name: m.text("stateOrProvinceName")?,
        issuer: m.bytes("issuer")?,
        subject: m.bytes("subject")?,
        not_before: m.tdate("notBefore")?,
        not_after: m.tdate("notAfter")?,
        other_keys: m.finish()?,
    })
}

/// A biguint (#6.2(bstr)), or a uint, as big-endian octets without leading zeros.
fn serial(field: &str, v: &Value) -> Result<Vec<u8>, CoseError> {
    match v {
        Value::Tag(TAG_BIGUINT, inner) => match inner.as_ref() {
            Value::Bytes(b) => Ok(strip_leading_zeros(b)),
            _ => Err(CoseError::invalid(field, "must be #6.2(bstr)")),
        },
        Value::Integer(_) => Ok(strip_leading_zeros(&uint(field, v)?.to_be_bytes())),
        _ => Err(CoseError::invalid(
            field,
            "must be a biguint (#6.2(bstr), RFC 8949 section 3.4.3)",
        )),
    }
}

impl ParsedVical {
    pub fn vical(&self) -> &Vical {
        &self.vical
    }

    /// The x5chain, signer certificate first.
    pub fn x5chain(&self) -> &[ParsedCertificate] {
        &self.x5chain
    }

    pub fn signer(&self) -> &ParsedCertificate {
        &self.x5chain[0]
    }

    /// The VICAL's CBOR, as signed.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// From the protected header.
    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.alg
    }

    /// Whether the COSE_Sign1 carried tag 18 (ours and the published ones do not).
    pub fn is_tagged(&self) -> bool {
        self.tagged
    }

    /// Verify the signature with the x5chain's first certificate's key (raw `r || s` of
    /// the curve's length, over the Sig_structure with an empty external AAD).
    pub fn verify_signature(&self) -> Result<(), CoseError> {
        const F: &str = "COSE_Sign1.signature";
        let key = self
            .signer()
            .public_key()
            .map_err(|e| CoseError::invalid("x5chain[0]", format!("key: {e}")))?;
        let curve = key
            .algorithm()
            .curve()
            .ok_or_else(|| CoseError::invalid("x5chain[0]", "the signer key is not EC"))?;
        if self.signature.len() != 2 * curve.field_len() {
            return Err(CoseError::invalid(
                F,
                format!(
                    "is {} bytes; r || s on {} is {}",
                    self.signature.len(),
                    curve.jwk_name(),
                    2 * curve.field_len()
                ),
            ));
        }
        key.verify_fixed(self.alg, &self.tbs, &self.signature)
            .map_err(|_| {
                CoseError::invalid(F, "does not verify with the x5chain's first certificate")
            })
    }

    /// Check that each x5chain certificate is issued by the next (name and signature) and,
    /// given `root`, that the chain ends at it (is it, or is issued by it).
    pub fn verify_x5chain(&self, root: Option<&ParsedCertificate>) -> Result<(), CoseError> {
        let issued_by = |cert: &ParsedCertificate, issuer: &ParsedCertificate| {
            cert.certificate().tbs_certificate().issuer()
                == issuer.certificate().tbs_certificate().subject()
                && issuer
                    .public_key()
                    .is_ok_and(|k| cert.verify_signed_by(&k).is_ok())
        };
        for (i, pair) in self.x5chain.windows(2).enumerate() {
            if !issued_by(&pair[0], &pair[1]) {
                return Err(CoseError::invalid(
                    format!("x5chain[{i}]"),
                    format!("is not issued by x5chain[{}]", i + 1),
                ));
            }
        }
        if let Some(root) = root {
            let last = self.x5chain.last().expect("x5chain is never empty");
            if last.der() != root.der() && !issued_by(last, root) {
                return Err(CoseError::invalid(
                    format!("x5chain[{}]", self.x5chain.len() - 1),
                    "is neither the root given nor issued by it",
                ));
            }
        }
        Ok(())
    }

    /// Every way this VICAL departs from Annex C, RFC 9360 or its members' certificates
    /// (empty for a VICAL built here).
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut note = |field: String, message: String| out.push(Finding { field, message });
        if self.x5chain_single_in_array {
            note(
                "x5chain".into(),
                "one certificate in an array; RFC 9360 section 2 puts a single one in a bstr"
                    .into(),
            );
        }
        let v = &self.vical;
        if v.version != VICAL_VERSION {
            note(
                "version".into(),
                format!("is {:?}, not 1.0", shown(&v.version)),
            );
        }
        if !v.other_keys.is_empty() {
            note(
                "vical".into(),
                format!("has other members {:?}", v.other_keys),
            );
        }
        for (i, info) in v.certificate_infos.iter().enumerate() {
            member_findings(&format!("certificateInfos[{i}]"), info, v.date, &mut note);
        }
        out
    }
}

fn member_findings(
    field: &str,
    info: &CertificateInfo,
    date: OffsetDateTime,
    note: &mut impl FnMut(String, String),
) {
    let at = |name: &str| format!("{field}.{name}");
    if !info.other_keys.is_empty() {
        note(
            field.to_owned(),
            format!("has other members {:?}", info.other_keys),
        );
    }
    let cert = match ParsedCertificate::from_der(&info.certificate) {
        Ok(c) => c,
        Err(e) => return note(at("certificate"), format!("does not parse: {e}")),
    };
    let serial = cert
        .certificate()
        .tbs_certificate()
        .serial_number()
        .as_bytes();
    if info.serial_number != strip_leading_zeros(serial) {
        note(at("serialNumber"), "differs from the certificate's".into());
    }
    match cert.ext().subject_key_identifier() {
        Ok(Some(ski)) if ski == info.ski => {}
        Ok(Some(ski)) if info.ski == der_octet_string(&ski) => note(
            at("ski"),
            "is the DER OCTET STRING of the keyIdentifier, not the keyIdentifier".into(),
        ),
        Ok(Some(ski)) if info.ski == der_octet_string(&der_octet_string(&ski)) => note(
            at("ski"),
            "is the DER extnValue (an OCTET STRING around the DER SubjectKeyIdentifier), \
             not the keyIdentifier"
                .into(),
        ),
        Ok(Some(_)) => note(at("ski"), "differs from the certificate's".into()),
        Ok(None) => note(
            at("ski"),
            "the certificate has no subjectKeyIdentifier".into(),
        ),
        Err(e) => note(
            at("ski"),
            format!("the certificate's SKI does not parse: {e}"),
        ),
    }
    let tbs = cert.certificate().tbs_certificate();
    for (key, given, actual) in [
        ("issuer", &info.issuer, tbs.issuer()),
        ("subject", &info.subject, tbs.subject()),
    ] {
        let encoded = der::Encode::to_der(actual).ok();
        if given.is_some() && given.as_ref() != encoded.as_ref() {
            note(at(key), "differs from the certificate's DER Name".into());
        }
    }
    for (key, given, actual) in [
        ("notBefore", info.not_before, cert.not_before()),
        ("notAfter", info.not_after, cert.not_after()),
    ] {
        if let Some(t) = given.filter(|t| *t != actual) {
            note(
                at(key),
                format!(
                    "is {}, the certificate's {}",
                    format_tdate(t),
                    format_tdate(actual)
                ),
            );
        }
    }
    if date > cert.not_after() {
        note(
            field.to_owned(),
            format!(
                "the certificate expired at {}, before the VICAL's date",
                format_tdate(cert.not_after())
            ),
        );
    }
    let Ok(subject) = cert.subject() else {
        return note(at("certificate"), "its subject does not parse".into());
    };
    for (key, given, actual) in [
        ("issuingCountry", &info.issuing_country, &subject.country),
        (
            "stateOrProvinceName",
            &info.state_or_province_name,
            &subject.state_or_province,
        ),
    ] {
        match (given, actual) {
            (Some(g), None) if g.is_empty() => {
                note(at(key), "is empty, for a certificate without one".into())
            }
            (Some(g), a) if Some(g) != a.as_ref() => note(
                at(key),
                format!(
                    "is {:?}, the certificate's subject has {:?}",
                    shown(g),
                    a.as_deref().map(shown)
                ),
            ),
            _ => {}
        }
    }
}

/// `04 len octets`: DER of an OCTET STRING of fewer than 128 octets (an SKI is 20).
fn der_octet_string(octets: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(octets.len() + 2);
    if octets.len() < 128 {
        out.push(0x04);
        out.push(octets.len() as u8);
        out.extend_from_slice(octets);
    }
    out
}
