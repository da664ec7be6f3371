//! A JSON value decoded with duplicate keys refused (for request fields whose keys carry
//! meaning, such as an mdoc's `itemsToSign`).

use serde_json::{Map, Value as Json};

/// A key as shown in an error: at most 64 characters.
fn shown(key: &str) -> String {
    match key.char_indices().nth(64) {
        Some((i, _)) => format!("{}...", &key[..i]),
        None => key.to_string(),
    }
}

/// A JSON value decoded with every object's keys checked for duplicates.
///
/// serde_json's `Value` keeps the last of two equal keys without a word, so
/// `{"ns": {"age_over_18": ..., "age_over_18": ...}}` would sign one element where the client
/// sent two. Use this type for `itemsToSign` (and the device key) in the request's wire type;
/// with `serde_path_to_error` the error names where the duplicate is.
#[derive(Debug, Clone, PartialEq)]
pub struct StrictJson(pub Json);

impl<'de> serde::Deserialize<'de> for StrictJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictJson)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::from(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(v)
            .map(Json::Number)
            .ok_or_else(|| E::custom("a number must be finite"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        serde::Deserialize::deserialize(d).map(|StrictJson(v)| v)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut out = Vec::new();
        while let Some(StrictJson(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Json::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate key `{}`",
                    shown(&key)
                )));
            }
            let StrictJson(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Json::Object(out))
    }
}
