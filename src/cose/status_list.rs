//! Token Status Lists (draft-ietf-oauth-status-list, CWT form): the list of statuses, its
//! zlib compression, and the Status List Token, a CWT signed in the two steps IssuerAuth and
//! the VICAL use (`sign1::Draft`), so the signature comes from the token and is verified here
//! with the status list signer certificate's key before it is used.
//!
//! ```text
//! COSE_Sign1_Tagged = #6.18([ protected: bstr .cbor {1: alg, 16: "application/statuslist+cwt"},
//!                             unprotected: {33: x5chain}, payload: bstr .cbor Claims, sig ])
//! Claims = { 2: sub (the list's URI), 6: iat, 4: exp, 65534: ttl,
//!            65533: {"bits": 1 / 2 / 4 / 8, "lst": bstr (zlib, RFC 1950)} }
//! ```
//!
//! The claims are written in the order of the draft's example (sub, iat, exp, ttl,
//! status_list); the message is tagged 18 (the draft requires COSE_Sign1_Tagged) and the CWT
//! itself is not tagged 61 (the draft forbids it). Statuses are packed from the least
//! significant bit of byte 0: index `i` of a `bits`-wide list is bits
//! `(i * bits) % 8 ..` of byte `i * bits / 8`.
//!
//! A Referenced Token (an mdoc) points at its entry with `status: {status_list: {idx, uri}}`
//! in its MSO (`mso::StatusRef`), `uri` equal to the token's `sub`.

use std::io::{Read, Write};

use ciborium::Value;
use coset::{CborSerializable, CoseSign1, TaggedCborSerializable};
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use time::OffsetDateTime;

use super::CoseError;
use super::cbor::{encode, uint};
use super::sign1::{Draft, HEADER_TYP};
use super::tdate::format_tdate;
use crate::crypto::{PublicKey, SignatureAlgorithm};
use crate::x509::ParsedCertificate;

/// The protected `typ` (16, RFC 9596) of a Status List Token in CWT form.
pub const STATUS_LIST_CWT_TYPE: &str = "application/statuslist+cwt";
/// The draft's status values (section 7.1): 0x00 VALID, 0x01 INVALID, 0x02 SUSPENDED.
pub const STATUS_VALID: u8 = 0;
pub const STATUS_INVALID: u8 = 1;
pub const STATUS_SUSPENDED: u8 = 2;

/// CWT claim keys (RFC 8392 section 4; the draft's IANA section for 65533/65534).
const CLAIM_SUB: i64 = 2;
const CLAIM_EXP: i64 = 4;
const CLAIM_IAT: i64 = 6;
const CLAIM_TTL: i64 = 65534;
const CLAIM_STATUS_LIST: i64 = 65533;

/// A list of statuses, `bits` (1, 2, 4 or 8) wide each, for indexes `0..len`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList {
    bits: u8,
    len: u64,
    bytes: Vec<u8>,
}

impl StatusList {
    /// A list of `len` entries, all VALID (0). Refuses a width other than 1, 2, 4, 8 and an
    /// empty list.
    pub fn new(bits: u8, len: u64) -> Result<Self, CoseError> {
        check_bits(bits)?;
        if len == 0 {
            return Err(CoseError::caller("a status list holds at least one entry"));
        }
        let bytes = usize::try_from((len * u64::from(bits)).div_ceil(8))
            .map_err(|_| CoseError::caller("the status list is too large"))?;
        Ok(StatusList {
            bits,
            len,
            bytes: vec![0; bytes],
        })
    }

    /// The list stored as its uncompressed bytes, holding `len` entries.
    pub fn from_bytes(bits: u8, len: u64, bytes: Vec<u8>) -> Result<Self, CoseError> {
        let list = StatusList::new(bits, len)?;
        if bytes.len() != list.bytes.len() {
            return Err(CoseError::caller(format!(
                "a status list of {len} entries of {bits} bits is {} bytes, not {}",
                list.bytes.len(),
                bytes.len()
            )));
        }
        Ok(StatusList { bytes, ..list })
    }

    pub fn bits(&self) -> u8 {
        self.bits
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// Never true: a list holds at least one entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The uncompressed bytes (what the store keeps).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The byte and the shift of entry `idx`.
    fn position(&self, idx: u64) -> Option<(usize, u32)> {
        if idx >= self.len {
            return None;
        }
        let bit = idx * u64::from(self.bits);
        Some(((bit / 8) as usize, (bit % 8) as u32))
    }

    fn mask(&self) -> u8 {
        // bits is 1, 2, 4 or 8: (1 << 8) - 1 must not overflow a u8.
        ((1u16 << self.bits) - 1) as u8
    }

    /// The status of entry `idx`; `None` past the end.
    pub fn get(&self, idx: u64) -> Option<u8> {
        let (byte, shift) = self.position(idx)?;
        Some((self.bytes[byte] >> shift) & self.mask())
    }

    /// Set entry `idx` to `status`, which must fit the width.
    pub fn set(&mut self, idx: u64, status: u8) -> Result<(), CoseError> {
        let (byte, shift) = self.position(idx).ok_or_else(|| {
            CoseError::caller(format!(
                "status list index {idx} is past its {} entries",
                self.len
            ))
        })?;
        let mask = self.mask();
        if status & !mask != 0 {
            return Err(CoseError::caller(format!(
                "status {status} does not fit in {} bits",
                self.bits
            )));
        }
        self.bytes[byte] = (self.bytes[byte] & !(mask << shift)) | (status << shift);
        Ok(())
    }

    /// `lst`: the bytes DEFLATEd in the zlib format (RFC 1950) at the highest level, as the
    /// draft recommends.
    pub fn compressed(&self) -> Vec<u8> {
        let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
        // Writing into a Vec cannot fail.
        z.write_all(&self.bytes).expect("zlib into a Vec");
        z.finish().expect("zlib into a Vec")
    }

    /// Read `lst` back: at most `max_bytes` once decompressed (a small `lst` can inflate to
    /// gigabytes), every decompressed byte an entry slot (`len` = bytes * 8 / bits).
    pub fn decompress(bits: u8, lst: &[u8], max_bytes: usize) -> Result<Self, CoseError> {
        const F: &str = "status_list.lst";
        check_bits(bits)
            .map_err(|_| CoseError::invalid("status_list.bits", "must be 1, 2, 4 or 8"))?;
        let mut out = Vec::new();
        ZlibDecoder::new(lst)
            .take(max_bytes as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| CoseError::invalid(F, format!("is not zlib data ({e})")))?;
        if out.len() > max_bytes {
            return Err(CoseError::too_large(
                F,
                format!("inflates past {max_bytes} bytes"),
            ));
        }
        if out.is_empty() {
            return Err(CoseError::invalid(F, "holds no entry"));
        }
        let len = out.len() as u64 * 8 / u64::from(bits);
        Ok(StatusList {
            bits,
            len,
            bytes: out,
        })
    }
}

fn check_bits(bits: u8) -> Result<(), CoseError> {
    if matches!(bits, 1 | 2 | 4 | 8) {
        Ok(())
    } else {
        Err(CoseError::caller(format!(
            "a status list entry is 1, 2, 4 or 8 bits, not {bits}"
        )))
    }
}

/// What a Status List Token says besides the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusListClaims {
    /// `sub`: the token's own URI, the `uri` of every mdoc pointing at it.
    pub sub: String,
    /// `iat`, whole seconds.
    pub iat: OffsetDateTime,
    /// `exp`, after `iat`.
    pub exp: OffsetDateTime,
    /// `ttl` in seconds, positive.
    pub ttl: u64,
}

/// A Status List Token's claims, encoded, waiting for [`UnsignedStatusList::prepare`].
#[derive(Debug, Clone)]
pub struct UnsignedStatusList {
    claims: StatusListClaims,
    payload: Vec<u8>,
}

/// Encode the claims of a Status List Token over `list`.
pub fn build_status_list_token(
    claims: StatusListClaims,
    list: &StatusList,
) -> Result<UnsignedStatusList, CoseError> {
    if claims.sub.is_empty() {
        return Err(CoseError::caller("a status list token's sub is its URI"));
    }
    if claims.exp <= claims.iat {
        return Err(CoseError::caller(
            "a status list token's exp must follow its iat",
        ));
    }
    if claims.ttl == 0 {
        return Err(CoseError::caller(
            "a status list token's ttl must be positive",
        ));
    }
    let status_list = Value::Map(vec![
        (Value::Text("bits".into()), Value::from(list.bits)),
        (Value::Text("lst".into()), Value::Bytes(list.compressed())),
    ]);
    let payload = encode(&Value::Map(vec![
        (Value::from(CLAIM_SUB), Value::Text(claims.sub.clone())),
        (
            Value::from(CLAIM_IAT),
            Value::from(claims.iat.unix_timestamp()),
        ),
        (
            Value::from(CLAIM_EXP),
            Value::from(claims.exp.unix_timestamp()),
        ),
        (Value::from(CLAIM_TTL), Value::from(claims.ttl)),
        (Value::from(CLAIM_STATUS_LIST), status_list),
    ]));
    Ok(UnsignedStatusList { claims, payload })
}

impl UnsignedStatusList {
    /// The claims' CBOR, the COSE_Sign1 payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Fix the Sig_structure for the status list signer of `x5chain` (its certificate first,
    /// then any intermediates, not the IACA). The certificate must be valid from iat to exp:
    /// a token outliving its signer's certificate would be refused by every reader at once.
    pub fn prepare(self, x5chain: &[ParsedCertificate]) -> Result<PreparedStatusList, CoseError> {
        const SIGNER: &str = "status list signer";
        let leaf = x5chain
            .first()
            .ok_or_else(|| CoseError::caller("x5chain must hold the status list signer"))?;
        if x5chain.iter().any(ParsedCertificate::is_self_issued) {
            return Err(CoseError::caller(
                "x5chain must not hold a self-issued certificate (the IACA is not sent)",
            ));
        }
        let (nb, na) = (leaf.not_before(), leaf.not_after());
        if self.claims.iat < nb || self.claims.exp > na {
            return Err(CoseError::caller(format!(
                "the token's iat {} to exp {} is outside the status list signer \
                 certificate's validity ({} to {})",
                format_tdate(self.claims.iat),
                format_tdate(self.claims.exp),
                format_tdate(nb),
                format_tdate(na)
            )));
        }
        let draft = Draft::typed(self.payload, x5chain, SIGNER, Some(STATUS_LIST_CWT_TYPE))?;
        Ok(PreparedStatusList {
            draft,
            claims: self.claims,
        })
    }
}

/// A Status List Token whose COSE_Sign1 awaits its signature.
#[derive(Debug, Clone)]
pub struct PreparedStatusList {
    draft: Draft,
    claims: StatusListClaims,
}

impl PreparedStatusList {
    /// The Sig_structure: what `crypto::sign` signs.
    pub fn bytes(&self) -> &[u8] {
        self.draft.tbs()
    }

    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.draft.signature_algorithm()
    }

    pub fn public_key(&self) -> &PublicKey {
        self.draft.public_key()
    }

    /// Complete with the raw `r || s` (`VerifiedSignature::to_fixed`), verified once more
    /// with the status list signer certificate's key; the result is tagged 18.
    pub fn finish(self, signature: &[u8]) -> Result<SignedStatusList, CoseError> {
        let (sign1, _) = self.draft.complete(signature, "status list signer")?;
        let bytes = sign1
            .to_tagged_vec()
            .map_err(|e| CoseError::caller(format!("COSE_Sign1: {e}")))?;
        Ok(SignedStatusList {
            bytes,
            claims: self.claims,
        })
    }
}

/// A signed Status List Token.
#[derive(Debug, Clone)]
pub struct SignedStatusList {
    bytes: Vec<u8>,
    claims: StatusListClaims,
}

impl SignedStatusList {
    /// The tagged COSE_Sign1, served as `application/statuslist+cwt`.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn claims(&self) -> &StatusListClaims {
        &self.claims
    }
}

/// A Status List Token read back: its claims, its list, and the message for
/// [`ParsedStatusList::verify`]. Strict about what this module writes (tag 18, the typ,
/// every required claim), since what it reads is its own output or a test's.
#[derive(Debug, Clone)]
pub struct ParsedStatusList {
    pub claims: StatusListClaims,
    pub list: StatusList,
    sign1: CoseSign1,
}

/// Parse a Status List Token, its list at most `max_list_bytes` once inflated.
pub fn parse_status_list_token(
    bytes: &[u8],
    max_list_bytes: usize,
) -> Result<ParsedStatusList, CoseError> {
    const F: &str = "statusListToken";
    let sign1 = CoseSign1::from_tagged_slice(bytes)
        .map_err(|e| CoseError::invalid(F, format!("is not a COSE_Sign1_Tagged ({e})")))?;
    let typ = sign1
        .protected
        .header
        .rest
        .iter()
        .find(|(l, _)| *l == coset::Label::Int(HEADER_TYP))
        .and_then(|(_, v)| v.as_text());
    if typ != Some(STATUS_LIST_CWT_TYPE) {
        return Err(CoseError::invalid(
            F,
            format!("has no protected typ {STATUS_LIST_CWT_TYPE}"),
        ));
    }
    let payload = sign1
        .payload
        .as_deref()
        .ok_or_else(|| CoseError::invalid(F, "has no payload"))?;
    let claims = Value::from_slice(payload)
        .map_err(|e| CoseError::invalid(F, format!("claims are not CBOR ({e})")))?;
    let map = claims
        .as_map()
        .ok_or_else(|| CoseError::invalid(F, "claims are not a map"))?;
    let claim = |key: i64| {
        map.iter()
            .find(|(k, _)| k.as_integer() == Some(key.into()))
            .map(|(_, v)| v)
            .ok_or_else(|| CoseError::invalid(F, format!("has no claim {key}")))
    };
    let time = |key: i64| -> Result<OffsetDateTime, CoseError> {
        let s = uint(F, claim(key)?)?;
        i64::try_from(s)
            .ok()
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
            .ok_or_else(|| CoseError::invalid(F, format!("claim {key} is not a date")))
    };
    let sub = claim(CLAIM_SUB)?
        .as_text()
        .ok_or_else(|| CoseError::invalid(F, "sub is not text"))?
        .to_string();
    let sl = claim(CLAIM_STATUS_LIST)?
        .as_map()
        .ok_or_else(|| CoseError::invalid(F, "status_list is not a map"))?;
    let member = |name: &str| {
        sl.iter()
            .find(|(k, _)| k.as_text() == Some(name))
            .map(|(_, v)| v)
            .ok_or_else(|| CoseError::invalid(F, format!("status_list has no {name}")))
    };
    let bits = u8::try_from(uint(F, member("bits")?)?)
        .map_err(|_| CoseError::invalid("status_list.bits", "must be 1, 2, 4 or 8"))?;
    let lst = member("lst")?
        .as_bytes()
        .ok_or_else(|| CoseError::invalid("status_list.lst", "must be a byte string"))?;
    Ok(ParsedStatusList {
        claims: StatusListClaims {
            sub,
            iat: time(CLAIM_IAT)?,
            exp: time(CLAIM_EXP)?,
            ttl: uint(F, claim(CLAIM_TTL)?)?,
        },
        list: StatusList::decompress(bits, lst, max_list_bytes)?,
        sign1,
    })
}

impl ParsedStatusList {
    /// Verify the signature with `key` (the status list signer certificate's).
    pub fn verify(&self, key: &PublicKey, alg: SignatureAlgorithm) -> Result<(), CoseError> {
        let tbs = self.sign1.tbs_data(b"");
        key.verify_fixed(alg, &tbs, &self.sign1.signature)
            .map_err(|_| CoseError::invalid("statusListToken", "the signature does not verify"))
    }
}
