//! The issuer-signed part of an mdoc (ISO/IEC 18013-5 8.3.2.1.2.2):
//!
//! ```cddl
//! IssuerSigned = { ? "nameSpaces": IssuerNameSpaces, "issuerAuth": IssuerAuth }
//! IssuerNameSpaces = { + NameSpace => [ + IssuerSignedItemBytes ] }
//! IssuerSignedItemBytes = #6.24(bstr .cbor IssuerSignedItem)
//! IssuerSignedItem = { "digestID": uint, "random": bstr, "elementIdentifier": tstr,
//!                      "elementValue": any }
//! ```
//!
//! Each valueDigest is the SHA-256 of the IssuerSignedItemBytes exactly as they are sent
//! (tag, byte string head and content): the bytes hashed here are the bytes written into the
//! IssuerSigned, and [`PreparedMdoc::finish`] checks them against the signed MSO again.
//!
//! **digestIDs** are `0..n` within each namespace, assigned in the order of the items'
//! salts. The salts come from the caller's CSPRNG, so that order is a uniformly random
//! permutation, made without an RNG in this module; IDs stay small (one CBOR byte below 24)
//! and unique by construction. Sequential IDs in request order would tell a verifier where a
//! disclosed element sits among the undisclosed ones; isomdl draws random 31-bit IDs for the
//! same reason. No decoy digests are added (ISO/IEC 18013-5 allows, not requires, them).

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use ciborium::Value;
use serde_json::{Map, Value as Json, json};

use super::CoseError;
use super::cbor::{encode, tag24};
use super::device_key::DeviceKey;
use super::elements::Elements;
use super::mso::{DigestAlgorithm, Mso, MsoPayload, StatusRef, ValidityInfo};
use super::sign1::{IssuerAuth, ToBeSigned, finish, prepare};
use super::tdate::format_tdate;
use crate::x509::ParsedCertificate;

/// ISO/IEC 18013-5: the `random` of an IssuerSignedItem is at least 16 bytes.
pub const MIN_SALT_LEN: usize = 16;
/// Longest salt accepted (32 is what the Annex D example and most issuers use).
pub const MAX_SALT_LEN: usize = 64;

/// One IssuerSignedItem, encoded.
#[derive(Debug, Clone, PartialEq)]
struct SignedItem {
    digest_id: u64,
    salt: Vec<u8>,
    identifier: String,
    type_name: &'static str,
    decoded: Json,
    /// The IssuerSignedItem's CBOR, the content of the tag-24 byte string.
    item: Vec<u8>,
    /// IssuerSignedItemBytes, as sent and as hashed.
    tagged: Vec<u8>,
}

/// An mdoc's IssuerSignedItems and its MSO, not yet signed.
#[derive(Debug, Clone, PartialEq)]
pub struct UnsignedMdoc {
    namespaces: Vec<(String, Vec<SignedItem>)>,
    payload: MsoPayload,
}

/// Build the IssuerSignedItems and the MSO of a sign request. `salts` are the items'
/// `random` values, one per element (`elements.len()`), from a CSPRNG, each
/// [`MIN_SALT_LEN`] to [`MAX_SALT_LEN`] bytes and all different.
pub fn build_mdoc<S: AsRef<[u8]>>(
    doc_type: &str,
    elements: Elements,
    salts: &[S],
    device_key: DeviceKey,
    validity: ValidityInfo,
) -> Result<UnsignedMdoc, CoseError> {
    if doc_type.is_empty() {
        return Err(CoseError::invalid(
            "payload.docType",
            "must be non-empty text",
        ));
    }
    check_salts(salts, elements.len())?;
    let alg = DigestAlgorithm::Sha256;
    let mut salts = salts.iter().map(AsRef::as_ref);
    let mut namespaces = Vec::with_capacity(elements.namespaces.len());
    let mut value_digests = Vec::with_capacity(elements.namespaces.len());
    for (ns, elements) in elements.namespaces {
        let salted: Vec<_> = elements
            .into_iter()
            .map(|e| (e, salts.next().expect("one salt per element, checked")))
            .collect();
        // digestID = the rank of the item's salt within its namespace (see the module docs).
        let mut order: Vec<usize> = (0..salted.len()).collect();
        order.sort_by_key(|&i| salted[i].1);
        let mut ids = vec![0u64; salted.len()];
        for (rank, &i) in order.iter().enumerate() {
            ids[i] = rank as u64;
        }
        let mut items = Vec::with_capacity(salted.len());
        let mut digests = Vec::with_capacity(salted.len());
        for ((element, salt), digest_id) in salted.into_iter().zip(ids) {
            let item = encode(&Value::Map(vec![
                (Value::Text("digestID".into()), Value::from(digest_id)),
                (Value::Text("random".into()), Value::Bytes(salt.to_vec())),
                (
                    Value::Text("elementIdentifier".into()),
                    Value::Text(element.identifier.clone()),
                ),
                (Value::Text("elementValue".into()), element.value),
            ]));
            let tagged = encode(&tag24(item.clone()));
            digests.push((digest_id, alg.hash().digest(&tagged)));
            items.push(SignedItem {
                digest_id,
                salt: salt.to_vec(),
                identifier: element.identifier,
                type_name: element.type_name,
                decoded: element.decoded,
                item,
                tagged,
            });
        }
        digests.sort_by_key(|(id, _)| *id);
        value_digests.push((ns.clone(), digests));
        namespaces.push((ns, items));
    }
    let mso = Mso {
        digest_algorithm: alg,
        value_digests,
        device_key,
        doc_type: doc_type.to_string(),
        validity,
        status: None,
    };
    Ok(UnsignedMdoc {
        namespaces,
        payload: MsoPayload::built(mso),
    })
}

fn check_salts<S: AsRef<[u8]>>(salts: &[S], elements: usize) -> Result<(), CoseError> {
    if salts.len() != elements {
        return Err(CoseError::caller(format!(
            "{} salts for {elements} data elements",
            salts.len()
        )));
    }
    let mut seen: Vec<&[u8]> = Vec::with_capacity(salts.len());
    for s in salts.iter().map(AsRef::as_ref) {
        if !(MIN_SALT_LEN..=MAX_SALT_LEN).contains(&s.len()) {
            return Err(CoseError::caller(format!(
                "a salt is {} bytes; {MIN_SALT_LEN} to {MAX_SALT_LEN} are accepted",
                s.len()
            )));
        }
        // Equal salts mean the caller's randomness failed (or one buffer was reused).
        if seen.contains(&s) {
            return Err(CoseError::caller(
                "two data elements were given the same salt",
            ));
        }
        seen.push(s);
    }
    Ok(())
}

impl UnsignedMdoc {
    pub fn mso(&self) -> &Mso {
        self.payload.mso()
    }

    /// Give the MSO its status list entry (draft-ietf-oauth-status-list section 6.3). The
    /// URI is the caller's (configured, not client input); it must be an absolute `https:` or
    /// `http:` URI, which is all a reader can resolve.
    pub fn with_status(mut self, status: StatusRef) -> Result<Self, CoseError> {
        let scheme_ok = ["https://", "http://"]
            .iter()
            .any(|p| status.uri.len() > p.len() && status.uri.starts_with(p));
        if !scheme_ok
            || status
                .uri
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(CoseError::caller(format!(
                "a status list URI must be an absolute http(s) URI, not {:?}",
                status.uri
            )));
        }
        let mut mso = self.payload.mso;
        mso.status = Some(status);
        self.payload = MsoPayload::built(mso);
        Ok(self)
    }

    /// [`prepare`] the IssuerAuth over this mdoc's MSO.
    pub fn prepare(self, x5chain: &[ParsedCertificate]) -> Result<PreparedMdoc, CoseError> {
        Ok(PreparedMdoc {
            namespaces: self.namespaces,
            tbs: prepare(self.payload, x5chain)?,
        })
    }
}

/// An mdoc whose IssuerAuth awaits its signature.
#[derive(Debug, Clone)]
pub struct PreparedMdoc {
    namespaces: Vec<(String, Vec<SignedItem>)>,
    tbs: ToBeSigned,
}

impl PreparedMdoc {
    /// What to sign: `crypto::sign(key, tbs.signature_algorithm(), tbs.bytes())`.
    pub fn to_be_signed(&self) -> &ToBeSigned {
        &self.tbs
    }

    /// [`finish`] the IssuerAuth with the raw `r || s` and assemble the IssuerSigned.
    pub fn finish(self, signature: &[u8]) -> Result<IssuerSigned, CoseError> {
        let auth = finish(self.tbs, signature)?;
        IssuerSigned::assemble(self.namespaces, auth)
    }
}

/// A signed IssuerSigned structure.
#[derive(Debug, Clone)]
pub struct IssuerSigned {
    bytes: Vec<u8>,
    decoded: Json,
    auth: IssuerAuth,
}

impl IssuerSigned {
    fn assemble(
        namespaces: Vec<(String, Vec<SignedItem>)>,
        auth: IssuerAuth,
    ) -> Result<Self, CoseError> {
        // Check where read back: every item's digest is the signed MSO's, and the MSO lists
        // no digest without an item.
        let mso = auth.mso();
        let hash = mso.digest_algorithm().hash();
        let listed: usize = mso.value_digests().iter().map(|(_, d)| d.len()).sum();
        let items: usize = namespaces.iter().map(|(_, i)| i.len()).sum();
        let all_match = namespaces.iter().all(|(ns, items)| {
            items
                .iter()
                .all(|i| mso.digest(ns, i.digest_id) == Some(hash.digest(&i.tagged).as_slice()))
        });
        if !all_match || listed != items {
            return Err(CoseError::caller(
                "the IssuerSignedItems do not match the signed MSO's valueDigests",
            ));
        }
        let ns_value = Value::Map(
            namespaces
                .iter()
                .map(|(ns, items)| {
                    let items = items.iter().map(|i| tag24(i.item.clone())).collect();
                    (Value::Text(ns.clone()), Value::Array(items))
                })
                .collect(),
        );
        let bytes = encode(&Value::Map(vec![
            (Value::Text("nameSpaces".into()), ns_value),
            (Value::Text("issuerAuth".into()), auth.to_value()),
        ]));
        let decoded = decoded_view(&namespaces, mso);
        Ok(IssuerSigned {
            bytes,
            decoded,
            auth,
        })
    }

    /// The IssuerSigned CBOR.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The response's `encoded`: base64url (RFC 4648 section 5, no padding) of [`Self::bytes`].
    pub fn encoded(&self) -> String {
        Base64UrlUnpadded::encode_string(&self.bytes)
    }

    /// The response's `decoded`.
    pub fn decoded(&self) -> &Json {
        &self.decoded
    }

    pub fn issuer_auth(&self) -> &IssuerAuth {
        &self.auth
    }
}

/// MATTR's decoded view as far as its reference shows it: per namespace, the items as
/// `{digestID, random, elementIdentifier, elementValue: {type, value}}` (`random` in standard
/// base64, as MATTR shows it), here as an array per namespace; plus docType and
/// validityInfo, which the reference's sample leaves out.
fn decoded_view(namespaces: &[(String, Vec<SignedItem>)], mso: &Mso) -> Json {
    let mut ns_out = Map::new();
    for (ns, items) in namespaces {
        let items = items
            .iter()
            .map(|i| {
                json!({
                    "digestID": i.digest_id,
                    "random": Base64::encode_string(&i.salt),
                    "elementIdentifier": i.identifier,
                    "elementValue": {"type": i.type_name, "value": i.decoded},
                })
            })
            .collect();
        ns_out.insert(ns.clone(), Json::Array(items));
    }
    let v = mso.validity();
    let mut validity = json!({
        "signed": format_tdate(v.signed()),
        "validFrom": format_tdate(v.valid_from()),
        "validUntil": format_tdate(v.valid_until()),
    });
    if let Some(t) = v.expected_update() {
        validity["expectedUpdate"] = Json::String(format_tdate(t));
    }
    json!({
        "docType": mso.doc_type(),
        "namespaces": ns_out,
        "validityInfo": validity,
    })
}
