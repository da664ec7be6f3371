//! CBOR plumbing over ciborium's `Value`: encoding, strict decoding of client input, and
//! typed access to text-keyed maps with duplicate and unknown-key refusal.
//!
//! Nothing here writes CBOR by hand: ciborium encodes every value, in RFC 8949 section 4.1
//! preferred serialization (definite lengths, shortest argument and float forms), which is
//! also what [`decode_strict`] demands of input.

use ciborium::Value;

use super::CoseError;

/// CBOR tag 24, "encoded CBOR data item" (RFC 8949 section 3.4.5.1): `#6.24(bstr .cbor T)`.
pub(super) const TAG_ENCODED_CBOR: u64 = 24;
/// CBOR tag 0, "standard date/time string" (RFC 8949 section 3.4.1): ISO/IEC 18013-5 `tdate`.
pub(super) const TAG_TDATE: u64 = 0;
/// CBOR tag 1004, "full-date" string (RFC 8943 section 3).
pub(super) const TAG_FULL_DATE: u64 = 1004;

/// Longest map key or text echoed back in an error message.
const SHOWN_MAX: usize = 64;

/// The CBOR encoding of `v`.
pub(super) fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing a `Value` into a Vec cannot fail: no I/O error, and every `Value` serializes.
    ciborium::ser::into_writer(v, &mut out).expect("a ciborium Value encodes into a Vec");
    out
}

/// `#6.24(bstr)` around already encoded CBOR.
pub(super) fn tag24(encoded: Vec<u8>) -> Value {
    Value::Tag(TAG_ENCODED_CBOR, Box::new(Value::Bytes(encoded)))
}

/// Decode exactly one CBOR item from `bytes`, refusing trailing bytes and anything not in
/// preferred serialization. The second rule is checked by re-encoding: ciborium decodes
/// indefinite lengths, non-shortest heads and floats, `undefined` and small bignums into the
/// same `Value` as their preferred forms, so only a byte-for-byte re-encoding tells them apart.
/// What is signed is always the bytes as received, so this is what makes "the bytes that
/// were checked" and "the structure that was checked" the same thing.
pub(super) fn decode_strict(field: &str, bytes: &[u8]) -> Result<Value, CoseError> {
    let mut rest = bytes;
    let value: Value = ciborium::de::from_reader(&mut rest)
        .map_err(|e| CoseError::invalid(field, format!("is not well-formed CBOR ({e})")))?;
    if !rest.is_empty() {
        return Err(CoseError::invalid(
            field,
            format!("has {} bytes after its CBOR data item", rest.len()),
        ));
    }
    if encode(&value) != bytes {
        return Err(CoseError::invalid(
            field,
            "is not in CBOR preferred serialization (RFC 8949 section 4.1: definite lengths, \
             shortest integer, length and float encodings)",
        ));
    }
    Ok(value)
}

/// `s`, cut for an error message (map keys are client-chosen and unbounded).
pub(super) fn shown(s: &str) -> String {
    match s.char_indices().nth(SHOWN_MAX) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

pub(super) fn join(field: &str, key: impl std::fmt::Display) -> String {
    format!("{field}.{key}")
}

pub(super) fn text<'a>(field: &str, v: &'a Value) -> Result<&'a str, CoseError> {
    v.as_text()
        .ok_or_else(|| CoseError::invalid(field, "must be a text string"))
}

pub(super) fn bytes<'a>(field: &str, v: &'a Value) -> Result<&'a [u8], CoseError> {
    v.as_bytes()
        .map(Vec::as_slice)
        .ok_or_else(|| CoseError::invalid(field, "must be a byte string"))
}

pub(super) fn uint(field: &str, v: &Value) -> Result<u64, CoseError> {
    v.as_integer()
        .and_then(|i| u64::try_from(i).ok())
        .ok_or_else(|| CoseError::invalid(field, "must be an unsigned integer"))
}

/// A CBOR map with text keys, each at most once, each one of `allowed`.
pub(super) struct TextMap<'a> {
    field: String,
    entries: Vec<(&'a str, &'a Value)>,
}

impl<'a> TextMap<'a> {
    pub(super) fn new(field: &str, v: &'a Value, allowed: &[&str]) -> Result<Self, CoseError> {
        let map = v
            .as_map()
            .ok_or_else(|| CoseError::invalid(field, "must be a map"))?;
        let mut entries: Vec<(&str, &Value)> = Vec::with_capacity(map.len());
        for (k, v) in map {
            let k = k
                .as_text()
                .ok_or_else(|| CoseError::invalid(field, "has a key that is not a text string"))?;
            if !allowed.contains(&k) {
                return Err(CoseError::invalid(
                    join(field, shown(k)),
                    "is not a member of this structure",
                ));
            }
            if entries.iter().any(|(seen, _)| *seen == k) {
                return Err(CoseError::invalid(join(field, k), "appears more than once"));
            }
            entries.push((k, v));
        }
        Ok(TextMap {
            field: field.to_string(),
            entries,
        })
    }

    pub(super) fn field(&self, key: &str) -> String {
        join(&self.field, key)
    }

    pub(super) fn optional(&self, key: &str) -> Option<&'a Value> {
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }

    pub(super) fn required(&self, key: &str) -> Result<&'a Value, CoseError> {
        self.optional(key)
            .ok_or_else(|| CoseError::invalid(self.field(key), "is required"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn preferred_serialization_is_required() {
        // [1, "a"] preferred, then the same with an indefinite-length array, a two-byte
        // head for 1, and an indefinite-length text string.
        assert!(decode_strict("x", &hex("820161 61".replace(' ', "").as_str())).is_ok());
        for bad in ["9f016161ff", "82180161 61", "82017f6161ff"] {
            let err = decode_strict("x", &hex(&bad.replace(' ', ""))).unwrap_err();
            assert!(err.to_string().contains("preferred"), "{bad}: {err}");
        }
        // 1.5 as a double instead of a half; `undefined`; a bignum that fits in an integer.
        for bad in ["fb3ff8000000000000", "f7", "c24101"] {
            assert!(decode_strict("x", &hex(bad)).is_err(), "{bad}");
        }
        assert_eq!(encode(&Value::Float(1.5)), hex("f93e00"));
    }

    #[test]
    fn trailing_and_truncated_input_is_refused() {
        let err = decode_strict("mso", &hex("a0 00".replace(' ', "").as_str())).unwrap_err();
        assert_eq!(err.field(), Some("mso"));
        assert!(err.to_string().contains("1 bytes after"));
        assert!(decode_strict("mso", &hex("a1")).is_err());
        assert!(decode_strict("mso", &[]).is_err());
    }

    #[test]
    fn text_maps_refuse_duplicates_unknown_and_non_text_keys() {
        let m = |pairs: Vec<(Value, Value)>| Value::Map(pairs);
        let t = |s: &str| Value::Text(s.into());
        let ok = m(vec![(t("a"), Value::from(1)), (t("b"), Value::from(2))]);
        let map = TextMap::new("f", &ok, &["a", "b", "c"]).unwrap();
        assert_eq!(map.required("a").unwrap(), &Value::from(1));
        assert!(map.optional("c").is_none());
        assert_eq!(map.required("c").unwrap_err().field(), Some("f.c"));

        let dup = m(vec![(t("a"), Value::from(1)), (t("a"), Value::from(2))]);
        let err = TextMap::new("f", &dup, &["a"]).err().unwrap();
        assert_eq!(err.field(), Some("f.a"));
        let unknown = m(vec![(t(&"z".repeat(100)), Value::from(1))]);
        let err = TextMap::new("f", &unknown, &["a"]).err().unwrap();
        assert!(err.field().unwrap().ends_with("..."));
        let int_key = m(vec![(Value::from(1), Value::from(1))]);
        assert!(TextMap::new("f", &int_key, &["a"]).is_err());
        assert!(TextMap::new("f", &Value::Null, &["a"]).is_err());
    }
}
