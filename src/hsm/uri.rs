//! PKCS#11 URIs (RFC 7512) that name a token: `pkcs11:token=hsm-pki;serial=...`, the form
//! HSM vendors, p11-kit and OpenSSL's pkcs11 providers print and take. Pure: parsing, and
//! matching against the info structures the token layer reads.
//!
//! Only what selects a token is accepted. Path attributes naming an object (`object`,
//! `type`, `id`) are refused: the daemon names its own objects. Of the query attributes,
//! `module-path` and `pin-source` are kept for the configuration; `pin-value` is refused
//! (a PIN in the configuration text defeats the 0600 PIN file), and so is `module-name`
//! (resolving it is platform-specific; give `module-path`). Unknown and vendor (`x-`)
//! attributes are refused too, rather than ignored: RFC 7512 section 2.3 lets a consumer
//! ignore none it cannot match, and a selector that silently matches more than the operator
//! wrote could pick the wrong token.

use std::fmt;

/// A parsed token URI. Every value is percent-decoded; absent attributes match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pkcs11Uri {
    /// The text it was parsed from, for messages (it holds no secret: `pin-value` is refused).
    text: String,
    pub token: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub slot_description: Option<String>,
    pub slot_manufacturer: Option<String>,
    pub slot_id: Option<u64>,
    pub library_manufacturer: Option<String>,
    pub library_description: Option<String>,
    /// `M` or `M.N`; `M` alone matches any minor version (RFC 7512 section 2.3).
    pub library_version: Option<(u8, Option<u8>)>,
    pub module_path: Option<String>,
    pub pin_source: Option<String>,
}

/// The fields of CK_INFO, CK_SLOT_INFO and CK_TOKEN_INFO a URI can compare, blank padding
/// already trimmed.
#[derive(Debug, Clone, Default)]
pub struct SlotFacts {
    pub library_manufacturer: String,
    pub library_description: String,
    pub library_version: (u8, u8),
    pub slot_id: u64,
    pub slot_description: String,
    pub slot_manufacturer: String,
    pub token: String,
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
}

impl fmt::Display for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Pkcs11Uri {
    /// Parse `text`; the error says which attribute is wrong and why.
    pub fn parse(text: &str) -> Result<Pkcs11Uri, String> {
        let rest = text
            .strip_prefix("pkcs11:")
            .ok_or("must start with \"pkcs11:\"")?;
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let mut uri = Pkcs11Uri {
            text: text.to_owned(),
            ..Pkcs11Uri::default()
        };
        let mut seen = Vec::new();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (name, value) = split_attr(attr)?;
            if seen.contains(&name) {
                return Err(format!("attribute {name} given twice"));
            }
            seen.push(name);
            let v = Some(value.clone());
            match name {
                "token" => uri.token = v,
                "manufacturer" => uri.manufacturer = v,
                "model" => uri.model = v,
                "serial" => uri.serial = v,
                "slot-description" => uri.slot_description = v,
                "slot-manufacturer" => uri.slot_manufacturer = v,
                "slot-id" => {
                    uri.slot_id =
                        Some(value.parse().map_err(|_| {
                            format!("slot-id {value:?} is not a decimal slot number")
                        })?)
                }
                "library-manufacturer" => uri.library_manufacturer = v,
                "library-description" => uri.library_description = v,
                "library-version" => uri.library_version = Some(parse_version(&value)?),
                "object" | "type" | "id" => {
                    return Err(format!(
                        "{name} names an object; the URI selects the token only"
                    ));
                }
                other => return Err(format!("unknown path attribute {other:?}")),
            }
        }
        for attr in query.into_iter().flat_map(|q| q.split('&')) {
            if attr.is_empty() {
                continue;
            }
            let (name, value) = split_attr(attr)?;
            if seen.contains(&name) {
                return Err(format!("attribute {name} given twice"));
            }
            seen.push(name);
            match name {
                "module-path" => uri.module_path = Some(value),
                "pin-source" => uri.pin_source = Some(value),
                "pin-value" => {
                    return Err(
                        "pin-value puts the PIN in the configuration; use pin-source \
                         (a 0600 file) or token.pin_env"
                            .into(),
                    );
                }
                "module-name" => {
                    return Err("module-name is not supported; give module-path".into());
                }
                other => return Err(format!("unknown query attribute {other:?}")),
            }
        }
        if uri.token.is_none() && uri.serial.is_none() && uri.slot_id.is_none() {
            // Without one of these any token of the module would do, and adding a token to
            // the HSM would make the daemon's choice ambiguous.
            return Err("name the token: give token=, serial= or slot-id=".into());
        }
        Ok(uri)
    }

    /// Whether the token in the slot described by `f` is the one this URI names.
    pub fn matches(&self, f: &SlotFacts) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_ref().is_none_or(|w| w == have);
        eq(&self.token, &f.token)
            && eq(&self.manufacturer, &f.manufacturer)
            && eq(&self.model, &f.model)
            && eq(&self.serial, &f.serial)
            && eq(&self.slot_description, &f.slot_description)
            && eq(&self.slot_manufacturer, &f.slot_manufacturer)
            && self.slot_id.is_none_or(|id| id == f.slot_id)
            && eq(&self.library_manufacturer, &f.library_manufacturer)
            && eq(&self.library_description, &f.library_description)
            && self.library_version.is_none_or(|(major, minor)| {
                major == f.library_version.0 && minor.is_none_or(|m| m == f.library_version.1)
            })
    }

    /// The file `pin-source` names: a `file:` URI (RFC 8089, local paths only) or an
    /// absolute path, as p11-kit and OpenSC take it.
    pub fn pin_file(&self) -> Option<Result<std::path::PathBuf, String>> {
        let src = self.pin_source.as_deref()?;
        let path = src
            .strip_prefix("file://localhost")
            .or_else(|| src.strip_prefix("file://"))
            .or_else(|| src.strip_prefix("file:"))
            .unwrap_or(src);
        Some(if path.starts_with('/') {
            Ok(path.into())
        } else {
            Err(format!(
                "pin-source {src:?} must be an absolute path or a file: URI"
            ))
        })
    }
}

fn split_attr(attr: &str) -> Result<(&str, String), String> {
    let (name, raw) = attr
        .split_once('=')
        .ok_or_else(|| format!("attribute {attr:?} has no '='"))?;
    Ok((
        name,
        percent_decode(raw).map_err(|e| format!("{name}: {e}"))?,
    ))
}

fn parse_version(v: &str) -> Result<(u8, Option<u8>), String> {
    let bad = || format!("library-version {v:?} is not M or M.N");
    match v.split_once('.') {
        Some((m, n)) => Ok((
            m.parse().map_err(|_| bad())?,
            Some(n.parse().map_err(|_| bad())?),
        )),
        None => Ok((v.parse().map_err(|_| bad())?, None)),
    }
}

/// RFC 3986 percent-decoding; the result must be UTF-8 (token info strings are).
fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a '%' not followed by two hex digits")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent-encoding that is not UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> SlotFacts {
        SlotFacts {
            library_manufacturer: "SoftHSM".into(),
            library_description: "Implementation of PKCS11".into(),
            library_version: (2, 6),
            slot_id: 1_234,
            slot_description: "SoftHSM slot ID 0x4d2".into(),
            slot_manufacturer: "SoftHSM project".into(),
            token: "hsm pki".into(),
            manufacturer: "SoftHSM project".into(),
            model: "SoftHSM v2".into(),
            serial: "9f1c0e5a2b3c4d5e".into(),
        }
    }

    #[test]
    fn parses_and_matches() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=hsm%20pki;serial=9f1c0e5a2b3c4d5e;library-version=2\
             ?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/hsm-pki/pin",
        )
        .unwrap();
        assert_eq!(u.token.as_deref(), Some("hsm pki"));
        assert_eq!(
            u.module_path.as_deref(),
            Some("/usr/lib/softhsm/libsofthsm2.so")
        );
        assert_eq!(
            u.pin_file().unwrap().unwrap(),
            std::path::PathBuf::from("/etc/hsm-pki/pin")
        );
        assert!(u.matches(&facts()));
        let mut other = facts();
        other.serial = "0".into();
        assert!(!u.matches(&other));
        let mut newer = facts();
        newer.library_version = (3, 0);
        assert!(!u.matches(&newer));
        assert!(
            Pkcs11Uri::parse("pkcs11:slot-id=1234;library-version=2.6")
                .unwrap()
                .matches(&facts())
        );
    }

    #[test]
    fn refusals_name_the_attribute() {
        for (uri, needle) in [
            ("token=x", "pkcs11:"),
            ("pkcs11:token=a;token=b", "token given twice"),
            ("pkcs11:token=a;object=k", "object names an object"),
            ("pkcs11:token=a?pin-value=1234", "pin-value"),
            ("pkcs11:token=a?module-name=softhsm2", "module-name"),
            ("pkcs11:token=a;x-vendor=1", "x-vendor"),
            ("pkcs11:token=a%2", "token: a '%'"),
            ("pkcs11:slot-id=one", "slot-id"),
            ("pkcs11:model=x", "name the token"),
            ("pkcs11:token=a;library-version=2.x", "library-version"),
        ] {
            let e = Pkcs11Uri::parse(uri).unwrap_err();
            assert!(e.contains(needle), "{uri}: {e}");
        }
        let u = Pkcs11Uri::parse("pkcs11:token=a?pin-source=pin.txt").unwrap();
        assert!(u.pin_file().unwrap().is_err());
    }
}
