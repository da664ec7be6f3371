//! The MobileSecurityObject (ISO/IEC 18013-5 9.1.2.4): built from a sign request, or parsed
//! strictly from a client's CBOR before it is signed (the `sign-mso` route).
//!
//! ```cddl
//! MobileSecurityObject = {
//!   "version": tstr, "digestAlgorithm": tstr, "valueDigests": ValueDigests,
//!   "deviceKeyInfo": DeviceKeyInfo, "docType": tstr, "validityInfo": ValidityInfo }
//! ValueDigests = { + NameSpace => DigestIDs }      DigestIDs = { + DigestID => Digest }
//! DeviceKeyInfo = { "deviceKey": COSE_Key, ? "keyAuthorizations": KeyAuthorizations,
//!                   ? "keyInfo": { * int => any } }
//! KeyAuthorizations = { ? "nameSpaces": [+ NameSpace], ? "dataElements": { + NameSpace => [+ DataElementIdentifier] } }
//! ValidityInfo = { "signed": tdate, "validFrom": tdate, "validUntil": tdate, ? "expectedUpdate": tdate }
//! MobileSecurityObjectBytes = #6.24(bstr .cbor MobileSecurityObject)
//! ```
//!
//! A client's MSO is accepted in either form, bare or as MobileSecurityObjectBytes (told
//! apart by the first byte); either way what is signed is the MSO bytes exactly as received,
//! inside tag 24, and only after they parsed as an MSO here. Nothing outside the CDDL above
//! is accepted: the document signer key must not sign content nobody checked.
//!
//! An MSO built here may carry the `status` member of draft-ietf-oauth-status-list
//! (section 6.3, for ISO mdocs): `"status": {"status_list": {"idx": uint, "uri": tstr}}`,
//! written last ([`StatusRef`]). A client's MSO may not: the daemon allocates the indexes of
//! its status lists, one per mdoc and never reused, so an index a client chose could point
//! at another mdoc's entry (revoking one would revoke both) or at a list it does not keep.

use ciborium::Value;
use time::OffsetDateTime;

use super::CoseError;
use super::cbor::{TextMap, bytes, decode_strict, encode, join, shown, tag24, text, uint};
use super::device_key::DeviceKey;
use super::tdate::{parse_tdate_value, tdate_value};
use crate::crypto::HashAlg;

/// The MSO version this module writes and accepts.
pub const MSO_VERSION: &str = "1.0";
/// Largest digestID accepted, `2^31 - 1` (isomdl's `DigestId`; readers in other languages
/// hold it in a signed 32-bit integer).
pub const MAX_DIGEST_ID: u64 = (1 << 31) - 1;

/// The digest algorithms ISO/IEC 18013-5 allows for valueDigests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Sha384 => "SHA-384",
            DigestAlgorithm::Sha512 => "SHA-512",
        }
    }

    pub fn hash(self) -> HashAlg {
        match self {
            DigestAlgorithm::Sha256 => HashAlg::Sha256,
            DigestAlgorithm::Sha384 => HashAlg::Sha384,
            DigestAlgorithm::Sha512 => HashAlg::Sha512,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [Self::Sha256, Self::Sha384, Self::Sha512]
            .into_iter()
            .find(|a| a.name() == name)
    }
}

/// validityInfo, to the second, in UTC. Made only by [`ValidityInfo::new`] (for an MSO built
/// here) or by parsing, so its rules always hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidityInfo {
    pub(super) signed: OffsetDateTime,
    pub(super) valid_from: OffsetDateTime,
    pub(super) valid_until: OffsetDateTime,
    pub(super) expected_update: Option<OffsetDateTime>,
}

impl ValidityInfo {
    pub fn signed(&self) -> OffsetDateTime {
        self.signed
    }

    pub fn valid_from(&self) -> OffsetDateTime {
        self.valid_from
    }

    pub fn valid_until(&self) -> OffsetDateTime {
        self.valid_until
    }

    pub fn expected_update(&self) -> Option<OffsetDateTime> {
        self.expected_update
    }

    /// The validity of an MSO built here: `signed` is the time of signing (the caller's
    /// clock), the others come from the request. Fractions of a second are dropped (a tdate
    /// has none). validUntil must be later than validFrom, and validFrom not before signed
    /// (ISO/IEC 18013-5 9.1.2.4 requires validFrom to be equal to or later than signed).
    pub fn new(
        signed: OffsetDateTime,
        valid_from: OffsetDateTime,
        valid_until: OffsetDateTime,
        expected_update: Option<OffsetDateTime>,
    ) -> Result<Self, CoseError> {
        const P: &str = "payload.validityInfo";
        let floor = |t: OffsetDateTime| t.replace_nanosecond(0).expect("0 is a nanosecond");
        let v = ValidityInfo {
            signed: floor(signed),
            valid_from: floor(valid_from),
            valid_until: floor(valid_until),
            expected_update: expected_update.map(floor),
        };
        for (name, t) in [
            ("validFrom", Some(v.valid_from)),
            ("validUntil", Some(v.valid_until)),
            ("expectedUpdate", v.expected_update),
        ] {
            if let Some(t) = t
                && !(0..=9999).contains(&t.year())
            {
                return Err(CoseError::invalid(
                    join(P, name),
                    "must be in the years 0000 to 9999",
                ));
            }
        }
        if v.valid_until <= v.valid_from {
            return Err(CoseError::invalid(
                join(P, "validUntil"),
                "must be later than validFrom",
            ));
        }
        if v.valid_from < v.signed {
            return Err(CoseError::invalid(
                join(P, "validFrom"),
                "must not be before the time of signing (ISO/IEC 18013-5 9.1.2.4)",
            ));
        }
        Ok(v)
    }

    fn to_value(self) -> Value {
        let mut map = vec![
            (text_key("signed"), tdate_value(self.signed)),
            (text_key("validFrom"), tdate_value(self.valid_from)),
            (text_key("validUntil"), tdate_value(self.valid_until)),
        ];
        if let Some(t) = self.expected_update {
            map.push((text_key("expectedUpdate"), tdate_value(t)));
        }
        Value::Map(map)
    }

    /// A client's validityInfo: all tdates in the one UTC form, validUntil after validFrom.
    /// `signed` is not compared with validFrom here: the caller decides what it accepts as
    /// the signing time of an MSO it did not build.
    fn from_value(field: &str, v: &Value) -> Result<Self, CoseError> {
        let m = TextMap::new(
            field,
            v,
            &["signed", "validFrom", "validUntil", "expectedUpdate"],
        )?;
        let get = |k: &str| parse_tdate_value(&m.field(k), m.required(k)?);
        let v = ValidityInfo {
            signed: get("signed")?,
            valid_from: get("validFrom")?,
            valid_until: get("validUntil")?,
            expected_update: m
                .optional("expectedUpdate")
                .map(|v| parse_tdate_value(&m.field("expectedUpdate"), v))
                .transpose()?,
        };
        if v.valid_until <= v.valid_from {
            return Err(CoseError::invalid(
                m.field("validUntil"),
                "must be later than validFrom",
            ));
        }
        Ok(v)
    }
}

/// The status list entry of an mdoc: index `idx` in the Status List Token at `uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRef {
    pub idx: u64,
    pub uri: String,
}

impl StatusRef {
    fn to_value(&self) -> Value {
        Value::Map(vec![(
            text_key("status_list"),
            Value::Map(vec![
                (text_key("idx"), Value::from(self.idx)),
                (text_key("uri"), text_key(&self.uri)),
            ]),
        )])
    }
}

/// valueDigests: per namespace, digestID and digest, each list in ascending digestID order.
pub type ValueDigests = Vec<(String, Vec<(u64, Vec<u8>)>)>;

/// A MobileSecurityObject whose every member was checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Mso {
    pub(super) digest_algorithm: DigestAlgorithm,
    pub(super) value_digests: ValueDigests,
    pub(super) device_key: DeviceKey,
    pub(super) doc_type: String,
    pub(super) validity: ValidityInfo,
    /// Only in MSOs built here (see the module docs).
    pub(super) status: Option<StatusRef>,
}

impl Mso {
    pub fn doc_type(&self) -> &str {
        &self.doc_type
    }

    pub fn validity(&self) -> &ValidityInfo {
        &self.validity
    }

    pub fn digest_algorithm(&self) -> DigestAlgorithm {
        self.digest_algorithm
    }

    pub fn value_digests(&self) -> &ValueDigests {
        &self.value_digests
    }

    pub fn device_key(&self) -> &DeviceKey {
        &self.device_key
    }

    pub fn status(&self) -> Option<&StatusRef> {
        self.status.as_ref()
    }

    /// The digest of `namespace`'s item `digest_id`.
    pub fn digest(&self, namespace: &str, digest_id: u64) -> Option<&[u8]> {
        let (_, ids) = self.value_digests.iter().find(|(ns, _)| ns == namespace)?;
        let (_, d) = ids.iter().find(|(id, _)| *id == digest_id)?;
        Some(d)
    }

    /// Refuse an MSO made for another document type than the one the caller signs for.
    pub fn check_doc_type(&self, expected: &str) -> Result<(), CoseError> {
        if self.doc_type == expected {
            Ok(())
        } else {
            Err(CoseError::invalid(
                "mso.docType",
                format!(
                    "is {}, not the expected {}",
                    shown(&self.doc_type),
                    shown(expected)
                ),
            ))
        }
    }

    pub(super) fn to_value(&self) -> Value {
        let digests = self
            .value_digests
            .iter()
            .map(|(ns, ids)| {
                let ids = ids
                    .iter()
                    .map(|(id, d)| (Value::from(*id), Value::Bytes(d.clone())))
                    .collect();
                (text_key(ns), Value::Map(ids))
            })
            .collect();
        // Members in the order of the ISO/IEC 18013-5 Annex D example, status last.
        let mut members = vec![
            (text_key("version"), text_key(MSO_VERSION)),
            (
                text_key("digestAlgorithm"),
                text_key(self.digest_algorithm.name()),
            ),
            (text_key("valueDigests"), Value::Map(digests)),
            (
                text_key("deviceKeyInfo"),
                Value::Map(vec![(text_key("deviceKey"), self.device_key.to_cose_key())]),
            ),
            (text_key("docType"), text_key(&self.doc_type)),
            (text_key("validityInfo"), self.validity.to_value()),
        ];
        if let Some(status) = &self.status {
            members.push((text_key("status"), status.to_value()));
        }
        Value::Map(members)
    }

    fn from_value(v: &Value) -> Result<Self, CoseError> {
        const F: &str = "mso";
        let m = TextMap::new(
            F,
            v,
            &[
                "version",
                "digestAlgorithm",
                "valueDigests",
                "deviceKeyInfo",
                "docType",
                "validityInfo",
            ],
        )?;
        let version = text(&m.field("version"), m.required("version")?)?;
        if version != MSO_VERSION {
            return Err(CoseError::invalid(m.field("version"), "must be \"1.0\""));
        }
        let alg_field = m.field("digestAlgorithm");
        let digest_algorithm =
            DigestAlgorithm::from_name(text(&alg_field, m.required("digestAlgorithm")?)?)
                .ok_or_else(|| {
                    CoseError::invalid(&alg_field, "must be SHA-256, SHA-384 or SHA-512")
                })?;
        let value_digests = parse_value_digests(
            &m.field("valueDigests"),
            m.required("valueDigests")?,
            digest_algorithm,
        )?;
        let dki_field = m.field("deviceKeyInfo");
        let dki = TextMap::new(
            &dki_field,
            m.required("deviceKeyInfo")?,
            &["deviceKey", "keyAuthorizations", "keyInfo"],
        )?;
        let device_key =
            DeviceKey::from_cose_key(&dki.field("deviceKey"), dki.required("deviceKey")?)?;
        if let Some(ka) = dki.optional("keyAuthorizations") {
            check_key_authorizations(&dki.field("keyAuthorizations"), ka)?;
        }
        if let Some(ki) = dki.optional("keyInfo") {
            let f = dki.field("keyInfo");
            let ok = ki
                .as_map()
                .is_some_and(|m| m.iter().all(|(k, _)| k.is_integer()));
            if !ok {
                return Err(CoseError::invalid(f, "must be a map with integer keys"));
            }
        }
        let doc_type = text(&m.field("docType"), m.required("docType")?)?;
        if doc_type.is_empty() {
            return Err(CoseError::invalid(
                m.field("docType"),
                "must be non-empty text",
            ));
        }
        let validity =
            ValidityInfo::from_value(&m.field("validityInfo"), m.required("validityInfo")?)?;
        Ok(Mso {
            digest_algorithm,
            value_digests,
            device_key,
            doc_type: doc_type.to_string(),
            validity,
            status: None,
        })
    }
}

fn text_key(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn parse_value_digests(
    field: &str,
    v: &Value,
    alg: DigestAlgorithm,
) -> Result<ValueDigests, CoseError> {
    let namespaces = v
        .as_map()
        .ok_or_else(|| CoseError::invalid(field, "must be a map of namespaces"))?;
    if namespaces.is_empty() {
        return Err(CoseError::invalid(
            field,
            "must hold at least one namespace",
        ));
    }
    let mut out: ValueDigests = Vec::with_capacity(namespaces.len());
    for (ns, ids) in namespaces {
        let ns = text(field, ns)
            .map_err(|_| CoseError::invalid(field, "has a namespace that is not text"))?;
        let ns_field = join(field, shown(ns));
        if ns.is_empty() {
            return Err(CoseError::invalid(
                ns_field,
                "a namespace must be non-empty text",
            ));
        }
        if out.iter().any(|(seen, _)| seen == ns) {
            return Err(CoseError::invalid(ns_field, "appears more than once"));
        }
        let ids = ids
            .as_map()
            .ok_or_else(|| CoseError::invalid(&ns_field, "must be a map of digestIDs"))?;
        if ids.is_empty() {
            return Err(CoseError::invalid(
                &ns_field,
                "must hold at least one digest",
            ));
        }
        let mut digests: Vec<(u64, Vec<u8>)> = Vec::with_capacity(ids.len());
        for (id, digest) in ids {
            let id = uint(&ns_field, id)
                .ok()
                .filter(|id| *id <= MAX_DIGEST_ID)
                .ok_or_else(|| {
                    CoseError::invalid(
                        &ns_field,
                        "has a digestID that is not an integer 0 to 2^31-1",
                    )
                })?;
            let id_field = join(&ns_field, id);
            if digests.iter().any(|(seen, _)| *seen == id) {
                return Err(CoseError::invalid(id_field, "appears more than once"));
            }
            let d = bytes(&id_field, digest)?;
            if d.len() != alg.hash().output_len() {
                return Err(CoseError::invalid(
                    id_field,
                    format!(
                        "must be a {} digest of {} bytes",
                        alg.name(),
                        alg.hash().output_len()
                    ),
                ));
            }
            digests.push((id, d.to_vec()));
        }
        digests.sort_by_key(|(id, _)| *id);
        out.push((ns.to_string(), digests));
    }
    Ok(out)
}

fn check_key_authorizations(field: &str, v: &Value) -> Result<(), CoseError> {
    let m = TextMap::new(field, v, &["nameSpaces", "dataElements"])?;
    let texts = |f: &str, v: &Value| -> Result<(), CoseError> {
        match v.as_array() {
            Some(a) if !a.is_empty() && a.iter().all(Value::is_text) => Ok(()),
            _ => Err(CoseError::invalid(f, "must be a non-empty array of text")),
        }
    };
    if let Some(ns) = m.optional("nameSpaces") {
        texts(&m.field("nameSpaces"), ns)?;
    }
    if let Some(de) = m.optional("dataElements") {
        let f = m.field("dataElements");
        let map = de
            .as_map()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| CoseError::invalid(&f, "must be a non-empty map of namespaces"))?;
        for (ns, ids) in map {
            let ns = text(&f, ns)
                .map_err(|_| CoseError::invalid(&f, "has a namespace that is not text"))?;
            texts(&join(&f, shown(ns)), ids)?;
        }
    }
    Ok(())
}

/// Where an MSO came from, for the field names of later refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// Built here from a sign request (`payload.*`).
    Built,
    /// Parsed from a client's CBOR (`mso.*`).
    Parsed,
}

/// A checked MSO and the exact COSE_Sign1 payload that carries it,
/// `#6.24(bstr .cbor MobileSecurityObject)`.
#[derive(Debug, Clone, PartialEq)]
pub struct MsoPayload {
    pub(super) mso: Mso,
    pub(super) bytes: Vec<u8>,
    pub(super) origin: Origin,
}

impl MsoPayload {
    pub(super) fn built(mso: Mso) -> Self {
        let bytes = encode(&tag24(encode(&mso.to_value())));
        MsoPayload {
            mso,
            bytes,
            origin: Origin::Built,
        }
    }

    pub fn mso(&self) -> &Mso {
        &self.mso
    }

    /// MobileSecurityObjectBytes, the COSE_Sign1 payload.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The request field under which this MSO's validityInfo was given.
    pub(super) fn validity_field(&self, member: &str) -> String {
        match self.origin {
            Origin::Built => format!("payload.validityInfo.{member}"),
            Origin::Parsed => format!("mso.validityInfo.{member}"),
        }
    }
}

/// Parse and check a client's MSO: the bare MobileSecurityObject map, or
/// MobileSecurityObjectBytes (tag 24 over a byte string holding it). At most `max_bytes`;
/// one CBOR item in preferred serialization, nothing after it (the inner MSO of the tagged
/// form too). Refusals name the field (`mso.docType`, `mso.valueDigests.<ns>.<id>`).
pub fn parse_mso(input: &[u8], max_bytes: usize) -> Result<MsoPayload, CoseError> {
    const F: &str = "mso";
    if input.len() > max_bytes {
        return Err(CoseError::too_large(
            F,
            format!("is {} bytes; at most {max_bytes} are accepted", input.len()),
        ));
    }
    let (mso_bytes, payload) = match input.first() {
        // 0xd8 0x18: tag 24 (major type 6, one-byte argument 24).
        Some(0xd8) if input.get(1) == Some(&0x18) => {
            let wrapped = decode_strict(F, input)?;
            let inner = match &wrapped {
                Value::Tag(24, inner) => inner.as_bytes(),
                _ => None,
            }
            .ok_or_else(|| CoseError::invalid(F, "tag 24 must enclose a byte string"))?;
            (inner.clone(), input.to_vec())
        }
        // Major type 5: a map.
        Some(b) if b >> 5 == 5 => (input.to_vec(), encode(&tag24(input.to_vec()))),
        _ => {
            return Err(CoseError::invalid(
                F,
                "must be a MobileSecurityObject map, or one wrapped in tag 24 \
                 (MobileSecurityObjectBytes)",
            ));
        }
    };
    let mso = Mso::from_value(&decode_strict(F, &mso_bytes)?)?;
    Ok(MsoPayload {
        mso,
        bytes: payload,
        origin: Origin::Parsed,
    })
}
