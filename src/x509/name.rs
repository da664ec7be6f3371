//! Distinguished names: the six attributes this daemon sets, to and from `x509_cert::name::Name`.
//!
//! Attribute order follows CA/B Forum BR 7.1.4.1 (C, ST, L, O, OU, CN), which is also the order
//! ISO/IEC 18013-5 Annex B examples use. One attribute per RDN (multi-valued RDNs are legal in
//! X.501 but confuse matchers; RFC 5280 4.1.2.4 advises against relying on them).

use const_oid::ObjectIdentifier;
use const_oid::db::{rfc2256, rfc4519};
use der::asn1::{Any, PrintableStringRef, SetOfVec, Utf8StringRef};
use der::{Decode, Encode};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::ext::pkix::name::DirectoryString;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};

use super::error::{X509Error, enc};

/// The subject or issuer attributes the API exposes. `None` means "absent".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnFields {
    pub common_name: Option<String>,
    pub country: Option<String>,
    pub organization: Option<String>,
    pub organizational_unit: Option<String>,
    pub state_or_province: Option<String>,
    pub locality: Option<String>,
}

/// How DirectoryString attributes (all but countryName) are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StringEncoding {
    /// UTF8String: RFC 5280 4.1.2.4 "CAs conforming to this profile MUST use either the
    /// PrintableString or UTF8String encoding of DirectoryString".
    #[default]
    Utf8,
    /// PrintableString, for relying parties that demand it; the charset is checked.
    Printable,
}

/// ISO 3166-1 officially assigned alpha-2 codes (249 entries, sorted). User-assigned codes
/// (AA, QM..QZ, XA..XZ, ZZ) and reserved ones are deliberately absent.
pub const ISO3166_ALPHA2: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// One settable attribute: its API name, OID and RFC 5280 Appendix A upper bound (characters).
struct Attr {
    api: &'static str,
    oid: ObjectIdentifier,
    max: usize,
}

// RFC 5280 Appendix A.1: ub-common-name 64, ub-organization-name 64,
// ub-organizational-unit-name 64, ub-state-name 128, ub-locality-name 128.
const CN: Attr = Attr {
    api: "commonName",
    oid: rfc4519::COMMON_NAME,
    max: 64,
};
const O: Attr = Attr {
    api: "organization",
    oid: rfc4519::ORGANIZATION_NAME,
    max: 64,
};
const OU: Attr = Attr {
    api: "organizationalUnit",
    oid: rfc4519::ORGANIZATIONAL_UNIT_NAME,
    max: 64,
};
const ST: Attr = Attr {
    api: "stateOrProvince",
    oid: rfc2256::STATE_OR_PROVINCE_NAME,
    max: 128,
};
const L: Attr = Attr {
    api: "locality",
    oid: rfc4519::LOCALITY_NAME,
    max: 128,
};

/// PrintableString's alphabet (X.680 41.4): A-Z a-z 0-9 space ' ( ) + , - . / : = ?
pub fn is_printable_string(s: &str) -> bool {
    s.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b' ' | b'\'' | b'(' | b')' | b'+' | b',' | b'-' | b'.' | b'/' | b':' | b'=' | b'?'
            )
    })
}

/// `true` when `code` is an officially assigned ISO 3166-1 alpha-2 code (exact case).
pub fn is_iso3166_alpha2(code: &str) -> bool {
    ISO3166_ALPHA2.binary_search(&code).is_ok()
}

impl DnFields {
    pub fn is_empty(&self) -> bool {
        self.common_name.is_none()
            && self.country.is_none()
            && self.organization.is_none()
            && self.organizational_unit.is_none()
            && self.state_or_province.is_none()
            && self.locality.is_none()
    }

    /// Validate and encode. `ctx` prefixes field names in errors (`subjectName`, `issuerName`).
    pub fn to_name(&self, encoding: StringEncoding, ctx: &str) -> Result<Name, X509Error> {
        let mut rdns = RdnSequence::default();
        if let Some(c) = &self.country {
            // RFC 5280 Appendix A.1: X520countryName ::= PrintableString (SIZE (2)), and
            // 4.1.2.4 / X.520: "a two-letter ISO 3166 code".
            let field = format!("{ctx}.country");
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(X509Error::invalid(
                    field,
                    "must be an ISO 3166-1 alpha-2 code: two uppercase letters",
                ));
            }
            if !is_iso3166_alpha2(c) {
                return Err(X509Error::invalid(
                    field,
                    format!("`{c}` is not an assigned ISO 3166-1 alpha-2 code"),
                ));
            }
            let v = PrintableStringRef::new(c).map_err(enc)?;
            push(&mut rdns, rfc4519::COUNTRY_NAME, Any::encode_from(&v))?;
        }
        for (attr, value) in [
            (&ST, &self.state_or_province),
            (&L, &self.locality),
            (&O, &self.organization),
            (&OU, &self.organizational_unit),
            (&CN, &self.common_name),
        ] {
            let Some(v) = value else { continue };
            let field = format!("{ctx}.{}", attr.api);
            check_text(&field, v, attr.max)?;
            let any = match encoding {
                StringEncoding::Utf8 => Any::encode_from(&Utf8StringRef::new(v).map_err(enc)?),
                StringEncoding::Printable => {
                    if !is_printable_string(v) {
                        return Err(X509Error::invalid(
                            field,
                            "must use only PrintableString characters: \
                             A-Z a-z 0-9 space ' ( ) + , - . / : = ?",
                        ));
                    }
                    Any::encode_from(&PrintableStringRef::new(v).map_err(enc)?)
                }
            };
            push(&mut rdns, attr.oid, any)?;
        }
        // Name has no public constructor from an RdnSequence (short of x509-cert's `hazmat`);
        // both share one DER encoding, so go through it.
        Name::from_der(&rdns.to_der().map_err(enc)?).map_err(enc)
    }

    /// Read the six attributes from a name made anywhere. Other attributes (serialNumber,
    /// emailAddress, DC, ...) are ignored; of repeated ones the first is taken. Values in any
    /// DirectoryString form RFC 5280 allows (incl. legacy TeletexString) are accepted.
    pub fn from_name(name: &Name) -> Result<Self, X509Error> {
        let mut out = DnFields::default();
        for atv in name.iter() {
            let slot = match atv.oid {
                o if o == rfc4519::COMMON_NAME => &mut out.common_name,
                o if o == rfc4519::COUNTRY_NAME => &mut out.country,
                o if o == rfc4519::ORGANIZATION_NAME => &mut out.organization,
                o if o == rfc4519::ORGANIZATIONAL_UNIT_NAME => &mut out.organizational_unit,
                o if o == rfc2256::STATE_OR_PROVINCE_NAME => &mut out.state_or_province,
                o if o == rfc4519::LOCALITY_NAME => &mut out.locality,
                _ => continue,
            };
            if slot.is_some() {
                continue;
            }
            let s = DirectoryString::try_from(&atv.value)
                .map_err(|e| X509Error::malformed("name attribute", e))?;
            *slot = Some(s.value().into_owned());
        }
        Ok(out)
    }
}

fn check_text(field: &str, v: &str, max: usize) -> Result<(), X509Error> {
    if v.trim().is_empty() {
        return Err(X509Error::invalid(field, "must not be empty"));
    }
    let n = v.chars().count();
    if n > max {
        return Err(X509Error::invalid(
            field,
            format!("must be at most {max} characters (RFC 5280 upper bound), got {n}"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(X509Error::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

fn push(
    rdns: &mut RdnSequence,
    oid: ObjectIdentifier,
    value: der::Result<Any>,
) -> Result<(), X509Error> {
    let atv = AttributeTypeAndValue {
        oid,
        value: value.map_err(enc)?,
    };
    let set = SetOfVec::try_from(vec![atv]).map_err(enc)?;
    rdns.push(RelativeDistinguishedName::from(set));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Tagged;

    fn fields() -> DnFields {
        DnFields {
            common_name: Some("Example IACA".into()),
            country: Some("US".into()),
            organization: Some("Example Org".into()),
            organizational_unit: Some("IT".into()),
            state_or_province: Some("US-OH".into()),
            locality: Some("Columbus".into()),
        }
    }

    #[test]
    fn country_list_is_sorted_unique_and_complete() {
        assert!(ISO3166_ALPHA2.windows(2).all(|w| w[0] < w[1]));
        for c in ["US", "DE", "JP", "SS", "BQ", "AX"] {
            assert!(is_iso3166_alpha2(c), "{c}");
        }
        for c in ["XX", "ZZ", "AA", "XK", "QZ", "UK", "EU"] {
            assert!(!is_iso3166_alpha2(c), "{c}");
        }
    }

    #[test]
    fn round_trip_and_order() {
        let f = fields();
        let name = f.to_name(StringEncoding::Utf8, "subjectName").unwrap();
        assert_eq!(DnFields::from_name(&name).unwrap(), f);
        let oids: Vec<_> = name.iter().map(|a| a.oid).collect();
        assert_eq!(
            oids,
            [
                rfc4519::COUNTRY_NAME,
                rfc2256::STATE_OR_PROVINCE_NAME,
                rfc4519::LOCALITY_NAME,
                rfc4519::ORGANIZATION_NAME,
                rfc4519::ORGANIZATIONAL_UNIT_NAME,
                rfc4519::COMMON_NAME
            ]
        );
        // Country is a PrintableString, the rest UTF8String.
        for atv in name.iter() {
            let want = if atv.oid == rfc4519::COUNTRY_NAME {
                der::Tag::PrintableString
            } else {
                der::Tag::Utf8String
            };
            assert_eq!(atv.value.tag(), want);
        }
        let printable = f.to_name(StringEncoding::Printable, "subjectName").unwrap();
        assert!(
            printable
                .iter()
                .all(|a| a.value.tag() == der::Tag::PrintableString)
        );
    }

    #[test]
    fn bad_countries_are_rejected() {
        for c in ["USA", "us", "XX", "ZZ", "U", "", "U1"] {
            let f = DnFields {
                country: Some(c.into()),
                ..fields()
            };
            let err = f.to_name(StringEncoding::Utf8, "subjectName").unwrap_err();
            assert_eq!(err.field(), Some("subjectName.country"), "{c}: {err}");
        }
    }

    #[test]
    fn printable_violations_name_the_field() {
        let f = DnFields {
            organization: Some("Müller & Söhne".into()),
            ..fields()
        };
        f.to_name(StringEncoding::Utf8, "subjectName").unwrap();
        let err = f
            .to_name(StringEncoding::Printable, "subjectName")
            .unwrap_err();
        assert_eq!(err.field(), Some("subjectName.organization"));
        assert!(err.to_string().contains("PrintableString"));
        let f = DnFields {
            common_name: Some("a@b".into()),
            ..fields()
        };
        let err = f
            .to_name(StringEncoding::Printable, "issuerName")
            .unwrap_err();
        assert_eq!(err.field(), Some("issuerName.commonName"));
    }

    #[test]
    fn empty_and_long_values_are_rejected() {
        let f = DnFields {
            common_name: Some(" ".into()),
            ..fields()
        };
        assert!(f.to_name(StringEncoding::Utf8, "s").is_err());
        let f = DnFields {
            common_name: Some("x".repeat(65)),
            ..fields()
        };
        assert!(f.to_name(StringEncoding::Utf8, "s").is_err());
        let f = DnFields {
            locality: Some("é".repeat(128)),
            ..fields()
        };
        assert!(f.to_name(StringEncoding::Utf8, "s").is_ok());
    }
}
