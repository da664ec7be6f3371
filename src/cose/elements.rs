//! Data elements from the sign request: `itemsToSign {namespace: {element: {type, value}}}`
//! (MATTR VII "Sign an mDoc"), each value encoded as CBOR according to its `type`.
//!
//! | `type` | JSON value | CBOR |
//! |---|---|---|
//! | `string` | string | tstr |
//! | `number` | number | int when integral, else float (shortest lossless form) |
//! | `boolean` | boolean | bool |
//! | `full-date` | `"YYYY-MM-DD"` | `#6.1004(tstr)` (RFC 8943; ISO/IEC 18013-5 full-date) |
//! | `date-time` | RFC 3339, no fractions | `#6.0(tstr)`, UTC `YYYY-MM-DDTHH:MM:SSZ` |
//! | `bytes`, `image` | standard base64, padded (RFC 4648 section 4) | bstr |
//! | `org.iso.18013.5.1.driving_privileges` | array of privileges | ISO/IEC 18013-5 7.2.4 DrivingPrivileges |
//!
//! Base64 is the standard alphabet with padding because that is what MATTR's API shows for
//! binary data (the `random` salts of its decoded response, its `data:...;base64,` images);
//! the decoded view writes bytes back the same way.

use base64ct::{Base64, Encoding};
use ciborium::Value;
use serde_json::{Map, Value as Json};

use super::CoseError;
use super::cbor::{encode, join, shown};
use super::tdate::{format_tdate, full_date_value, parse_date_time, parse_full_date, tdate_value};

/// The `type` of the mDL's `driving_privileges` element, as MATTR names it.
pub const DRIVING_PRIVILEGES_TYPE: &str = "org.iso.18013.5.1.driving_privileges";

/// Every element `type` accepted.
pub const ELEMENT_TYPES: [&str; 8] = [
    "string",
    "number",
    "boolean",
    "full-date",
    "date-time",
    "bytes",
    "image",
    DRIVING_PRIVILEGES_TYPE,
];

/// Bounds on one sign request's data elements, set by the caller (configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Data elements over all namespaces.
    pub max_elements: usize,
    /// Bytes of the client's content: the UTF-8 of every namespace name and element
    /// identifier plus the CBOR of every element value. Bounds the IssuerSigned (salts,
    /// digests and structure add a fixed amount per element).
    pub max_bytes: usize,
}

/// One data element, encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    pub(super) identifier: String,
    /// The `type` as given.
    pub(super) type_name: &'static str,
    /// The elementValue.
    pub(super) value: Value,
    /// The value as the decoded view shows it (dates normalised to UTC).
    pub(super) decoded: Json,
}

/// The data elements of a sign request, per namespace, in the order of the JSON objects
/// (serde_json's map sorts its keys).
#[derive(Debug, Clone, PartialEq)]
pub struct Elements {
    pub(super) namespaces: Vec<(String, Vec<Element>)>,
}

impl Elements {
    /// How many data elements there are: the number of salts `build_mdoc` needs.
    pub fn len(&self) -> usize {
        self.namespaces.iter().map(|(_, e)| e.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The namespaces and their element identifiers.
    pub fn identifiers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.namespaces.iter().flat_map(|(ns, elements)| {
            elements
                .iter()
                .map(move |e| (ns.as_str(), e.identifier.as_str()))
        })
    }
}

const FIELD: &str = "payload.itemsToSign";

/// Read `itemsToSign`. A duplicated namespace or element cannot be seen in a
/// `serde_json::Value` (its map keeps the last one): decode the request with [`StrictJson`]
/// to have it refused.
pub fn parse_items_to_sign(items: &Json, limits: &Limits) -> Result<Elements, CoseError> {
    let namespaces = items
        .as_object()
        .ok_or_else(|| CoseError::invalid(FIELD, "must be an object of namespaces"))?;
    if namespaces.is_empty() {
        return Err(CoseError::invalid(
            FIELD,
            "must name at least one namespace",
        ));
    }
    let count: usize = namespaces
        .values()
        .map(|v| v.as_object().map_or(0, Map::len))
        .sum();
    if count > limits.max_elements {
        return Err(CoseError::too_large(
            FIELD,
            format!(
                "has {count} data elements; at most {} are accepted",
                limits.max_elements
            ),
        ));
    }
    let mut total = 0usize;
    let mut add = |field: &str, n: usize| {
        total = total.saturating_add(n);
        if total > limits.max_bytes {
            Err(CoseError::too_large(
                field,
                format!(
                    "the data elements exceed {} bytes as CBOR",
                    limits.max_bytes
                ),
            ))
        } else {
            Ok(())
        }
    };
    let mut out = Vec::with_capacity(namespaces.len());
    for (ns, elements) in namespaces {
        let ns_field = join(FIELD, shown(ns));
        if ns.is_empty() {
            return Err(CoseError::invalid(
                ns_field,
                "a namespace must be non-empty text",
            ));
        }
        add(&ns_field, ns.len())?;
        let elements = elements
            .as_object()
            .ok_or_else(|| CoseError::invalid(&ns_field, "must be an object of data elements"))?;
        // ISO/IEC 18013-5 8.3.2.1.2.2: IssuerNameSpaces = { + NameSpace => [ + IssuerSignedItemBytes ] }.
        if elements.is_empty() {
            return Err(CoseError::invalid(
                &ns_field,
                "must hold at least one data element",
            ));
        }
        let mut encoded = Vec::with_capacity(elements.len());
        for (id, element) in elements {
            let field = join(&ns_field, shown(id));
            if id.is_empty() {
                return Err(CoseError::invalid(
                    field,
                    "an element identifier must be non-empty text",
                ));
            }
            let element = parse_element(&field, id, element)?;
            add(&field, id.len() + encode(&element.value).len())?;
            encoded.push(element);
        }
        out.push((ns.clone(), encoded));
    }
    Ok(Elements { namespaces: out })
}

fn parse_element(field: &str, id: &str, element: &Json) -> Result<Element, CoseError> {
    let obj = element
        .as_object()
        .ok_or_else(|| CoseError::invalid(field, "must be an object {type, value}"))?;
    if let Some(k) = obj.keys().find(|k| *k != "type" && *k != "value") {
        return Err(CoseError::invalid(
            join(field, shown(k)),
            "is not a member of a data element (type, value)",
        ));
    }
    let type_field = join(field, "type");
    let value_field = join(field, "value");
    let given = obj
        .get("type")
        .ok_or_else(|| CoseError::invalid(&type_field, "is required"))?
        .as_str()
        .ok_or_else(|| CoseError::invalid(&type_field, "must be a string"))?;
    let type_name = ELEMENT_TYPES
        .into_iter()
        .find(|t| *t == given)
        .ok_or_else(|| {
            CoseError::invalid(
                &type_field,
                format!("must be one of {}", ELEMENT_TYPES.join(", ")),
            )
        })?;
    let json = obj
        .get("value")
        .ok_or_else(|| CoseError::invalid(&value_field, "is required"))?;
    let (value, decoded) = encode_value(&value_field, type_name, json)?;
    Ok(Element {
        identifier: id.to_string(),
        type_name,
        value,
        decoded,
    })
}

fn encode_value(field: &str, type_name: &str, json: &Json) -> Result<(Value, Json), CoseError> {
    let string = || {
        json.as_str().ok_or_else(|| {
            CoseError::invalid(field, format!("must be a string for type {type_name}"))
        })
    };
    let value = match type_name {
        "string" => Value::Text(string()?.to_string()),
        "number" => {
            let n = json
                .as_number()
                .ok_or_else(|| CoseError::invalid(field, "must be a number for type number"))?;
            if let Some(u) = n.as_u64() {
                Value::from(u)
            } else if let Some(i) = n.as_i64() {
                Value::from(i)
            } else {
                // serde_json parses every other JSON number as a finite f64.
                Value::Float(n.as_f64().expect("a JSON number is an f64"))
            }
        }
        "boolean" => Value::Bool(
            json.as_bool()
                .ok_or_else(|| CoseError::invalid(field, "must be a boolean for type boolean"))?,
        ),
        "full-date" => full_date_value(parse_full_date(field, string()?)?),
        "date-time" => {
            let t = parse_date_time(field, string()?)?;
            return Ok((tdate_value(t), Json::String(format_tdate(t))));
        }
        "bytes" | "image" => Value::Bytes(Base64::decode_vec(string()?).map_err(|_| {
            CoseError::invalid(
                field,
                "must be standard base64 with padding (RFC 4648 section 4)",
            )
        })?),
        DRIVING_PRIVILEGES_TYPE => driving_privileges(field, json)?,
        _ => unreachable!("type names come from ELEMENT_TYPES"),
    };
    Ok((value, json.clone()))
}

/// ISO/IEC 18013-5 7.2.4:
/// `DrivingPrivilege = {"vehicle_category_code": tstr, ? "issue_date": full-date,
/// ? "expiry_date": full-date, ? "codes": [+ Code]}`,
/// `Code = {"code": tstr, ? "sign": tstr, ? "value": tstr}`.
fn driving_privileges(field: &str, json: &Json) -> Result<Value, CoseError> {
    let list = json
        .as_array()
        .ok_or_else(|| CoseError::invalid(field, "must be an array of driving privileges"))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, privilege) in list.iter().enumerate() {
        let field = format!("{field}[{i}]");
        let obj = object(
            &field,
            privilege,
            &[
                "vehicle_category_code",
                "issue_date",
                "expiry_date",
                "codes",
            ],
        )?;
        let mut map = vec![(
            Value::Text("vehicle_category_code".into()),
            Value::Text(non_empty(&field, obj, "vehicle_category_code")?.to_string()),
        )];
        let mut dates = [None, None];
        for (slot, key) in ["issue_date", "expiry_date"].into_iter().enumerate() {
            if let Some(v) = obj.get(key) {
                let f = join(&field, key);
                let s = v
                    .as_str()
                    .ok_or_else(|| CoseError::invalid(&f, "must be a full-date string"))?;
                let d = parse_full_date(&f, s)?;
                dates[slot] = Some(d);
                map.push((Value::Text(key.into()), full_date_value(d)));
            }
        }
        if let [Some(issue), Some(expiry)] = dates
            && expiry < issue
        {
            return Err(CoseError::invalid(
                join(&field, "expiry_date"),
                "must not be before issue_date",
            ));
        }
        if let Some(codes) = obj.get("codes") {
            let f = join(&field, "codes");
            let codes = codes
                .as_array()
                .ok_or_else(|| CoseError::invalid(&f, "must be an array of codes"))?;
            if codes.is_empty() {
                return Err(CoseError::invalid(
                    &f,
                    "must hold at least one code when present",
                ));
            }
            let mut encoded = Vec::with_capacity(codes.len());
            for (j, code) in codes.iter().enumerate() {
                let f = format!("{f}[{j}]");
                let obj = object(&f, code, &["code", "sign", "value"])?;
                let mut map = vec![(
                    Value::Text("code".into()),
                    Value::Text(non_empty(&f, obj, "code")?.to_string()),
                )];
                for key in ["sign", "value"] {
                    if let Some(v) = obj.get(key) {
                        let s = v
                            .as_str()
                            .ok_or_else(|| CoseError::invalid(join(&f, key), "must be a string"))?;
                        map.push((Value::Text(key.into()), Value::Text(s.to_string())));
                    }
                }
                encoded.push(Value::Map(map));
            }
            map.push((Value::Text("codes".into()), Value::Array(encoded)));
        }
        out.push(Value::Map(map));
    }
    Ok(Value::Array(out))
}

fn object<'a>(
    field: &str,
    json: &'a Json,
    allowed: &[&str],
) -> Result<&'a Map<String, Json>, CoseError> {
    let obj = json
        .as_object()
        .ok_or_else(|| CoseError::invalid(field, "must be an object"))?;
    if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(CoseError::invalid(
            join(field, shown(k)),
            format!("is not a member (expected {})", allowed.join(", ")),
        ));
    }
    Ok(obj)
}

fn non_empty<'a>(field: &str, obj: &'a Map<String, Json>, key: &str) -> Result<&'a str, CoseError> {
    let f = join(field, key);
    match obj.get(key) {
        None => Err(CoseError::invalid(f, "is required")),
        Some(Json::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(CoseError::invalid(f, "must be a non-empty string")),
    }
}
