//! The device key (ISO/IEC 18013-5 9.1.2.4 `DeviceKeyInfo.deviceKey`): the holder's public EC
//! key, given to us as a JWK and written into the MSO as a COSE_Key (RFC 9052 section 7,
//! RFC 9053 section 7.1.1).
//!
//! The point is validated by [`crate::crypto::PublicKey`], as every other key here: on its
//! curve, uncompressed, coordinates of the field length. A private member anywhere refuses
//! the key, named and never echoed: a wallet that sends its private key has leaked it, and
//! an issuer must not sign a credential bound to it.

use ciborium::Value;
use coset::{AsCborValue, CoseKeyBuilder, iana};
use serde_json::Value as Json;

use super::CoseError;
use super::cbor::{bytes, join};
use crate::crypto::{CryptoError, Curve, PublicJwk, PublicKey};

/// Private JWK members: EC and OKP `d` (RFC 7518 6.2.2.1, RFC 8037), the RSA private members
/// (RFC 7518 6.3.2), the symmetric `k` (RFC 7518 6.4.1).
const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// COSE_Key labels (RFC 9052 table 4, RFC 9053 table 19).
const KTY: i128 = 1;
const KID: i128 = 2;
const ALG: i128 = 3;
const KEY_OPS: i128 = 4;
const BASE_IV: i128 = 5;
const EC2_CRV: i128 = -1;
const EC2_X: i128 = -2;
const EC2_Y: i128 = -3;
const EC2_D: i128 = -4;
/// RFC 9053 table 17: kty EC2.
const KTY_EC2: i128 = 2;

/// A validated public EC device key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceKey {
    key: PublicKey,
    curve: Curve,
}

impl DeviceKey {
    /// The request's `deviceKeyInfo.deviceKey`: a public EC JWK (P-256, P-384 or P-521).
    /// Members other than kty, crv, x, y and the private ones (kid, alg, use, ...) are ignored.
    pub fn from_jwk(jwk: &Json) -> Result<Self, CoseError> {
        const FIELD: &str = "payload.deviceKeyInfo.deviceKey";
        let obj = jwk
            .as_object()
            .ok_or_else(|| CoseError::invalid(FIELD, "must be a JWK object"))?;
        if let Some(m) = PRIVATE_JWK_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
            return Err(CoseError::invalid(
                join(FIELD, m),
                "is a private key member: send the public key only",
            ));
        }
        let member = |name: &str| -> Result<Option<String>, CoseError> {
            match obj.get(name) {
                None => Ok(None),
                Some(Json::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(CoseError::invalid(join(FIELD, name), "must be a string")),
            }
        };
        let kty =
            member("kty")?.ok_or_else(|| CoseError::invalid(join(FIELD, "kty"), "is required"))?;
        if kty != "EC" {
            return Err(CoseError::invalid(
                join(FIELD, "kty"),
                "must be EC: the device key is an EC2 COSE_Key in the MSO",
            ));
        }
        let jwk = PublicJwk {
            kty,
            crv: member("crv")?,
            x: member("x")?,
            y: member("y")?,
            n: None,
            e: None,
        };
        let key = PublicKey::from_jwk(&jwk).map_err(|e| match e {
            CryptoError::BadJwk(m) => CoseError::invalid(
                join(FIELD, m),
                match m {
                    "crv" => "must be P-256, P-384 or P-521",
                    _ => "must be the base64url coordinate of the curve's field length",
                },
            ),
            _ => CoseError::invalid(FIELD, "is not a point on its curve"),
        })?;
        Self::from_public_key(key).map_err(|_| CoseError::invalid(FIELD, "must be an EC key"))
    }

    /// An EC public key as a device key.
    pub fn from_public_key(key: PublicKey) -> Result<Self, CoseError> {
        let curve = key
            .algorithm()
            .curve()
            .ok_or_else(|| CoseError::caller("a device key must be an EC key"))?;
        Ok(DeviceKey { key, curve })
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// The COSE_Key `{1: 2, -1: crv, -2: x, -3: y}`.
    pub(super) fn to_cose_key(&self) -> Value {
        let n = self.curve.field_len();
        let point = self.key.raw_bytes();
        let crv = match self.curve {
            Curve::P256 => iana::EllipticCurve::P_256,
            Curve::P384 => iana::EllipticCurve::P_384,
            Curve::P521 => iana::EllipticCurve::P_521,
        };
        CoseKeyBuilder::new_ec2_pub_key(crv, point[1..1 + n].to_vec(), point[1 + n..].to_vec())
            .build()
            .to_cbor_value()
            .expect("a COSE_Key without duplicate labels encodes")
    }

    /// A COSE_Key from an MSO: kty EC2, crv 1/2/3, x and y byte strings of the field length
    /// (a compressed point's boolean y is refused, as everywhere here), no private key (-4).
    /// kid, alg, key_ops and Base IV may be present; any other label is refused.
    pub(super) fn from_cose_key(field: &str, v: &Value) -> Result<Self, CoseError> {
        let map = v
            .as_map()
            .ok_or_else(|| CoseError::invalid(field, "must be a COSE_Key map"))?;
        let mut seen: Vec<i128> = Vec::with_capacity(map.len());
        let (mut kty, mut crv, mut x, mut y) = (None, None, None, None);
        for (label, value) in map {
            let label = label
                .as_integer()
                .map(i128::from)
                .ok_or_else(|| CoseError::invalid(field, "has a label that is not an integer"))?;
            let at = join(field, label);
            if seen.contains(&label) {
                return Err(CoseError::invalid(at, "appears more than once"));
            }
            seen.push(label);
            match label {
                KTY => kty = Some(value),
                EC2_CRV => crv = Some(value),
                EC2_X => x = Some(bytes(&at, value)?),
                EC2_Y => {
                    if value.is_bool() {
                        return Err(CoseError::invalid(
                            at,
                            "must be the y coordinate: compressed points are not accepted",
                        ));
                    }
                    y = Some(bytes(&at, value)?)
                }
                EC2_D => {
                    return Err(CoseError::invalid(
                        at,
                        "is a private key (d): the device key must be public",
                    ));
                }
                // Typed as RFC 9052 table 4 has them; not otherwise used.
                KID | BASE_IV => {
                    bytes(&at, value)?;
                }
                ALG if value.is_integer() || value.is_text() => {}
                ALG => return Err(CoseError::invalid(at, "must be an integer or text")),
                KEY_OPS if value.as_array().is_some_and(|a| !a.is_empty()) => {}
                KEY_OPS => return Err(CoseError::invalid(at, "must be a non-empty array")),
                _ => {
                    return Err(CoseError::invalid(
                        at,
                        "is not a label of an EC2 public key",
                    ));
                }
            }
        }
        let int = |v: Option<&Value>| v.and_then(Value::as_integer).map(i128::from);
        if int(kty) != Some(KTY_EC2) {
            return Err(CoseError::invalid(join(field, KTY), "must be 2 (EC2)"));
        }
        let curve = match int(crv) {
            Some(1) => Curve::P256,
            Some(2) => Curve::P384,
            Some(3) => Curve::P521,
            _ => {
                return Err(CoseError::invalid(
                    join(field, EC2_CRV),
                    "must be 1 (P-256), 2 (P-384) or 3 (P-521)",
                ));
            }
        };
        let n = curve.field_len();
        let x = x.ok_or_else(|| CoseError::invalid(join(field, EC2_X), "is required"))?;
        let y = y.ok_or_else(|| CoseError::invalid(join(field, EC2_Y), "is required"))?;
        for (label, c) in [(EC2_X, x), (EC2_Y, y)] {
            if c.len() != n {
                return Err(CoseError::invalid(
                    join(field, label),
                    format!("must be {n} bytes for this curve"),
                ));
            }
        }
        let mut point = Vec::with_capacity(1 + 2 * n);
        point.push(0x04);
        point.extend_from_slice(x);
        point.extend_from_slice(y);
        let key = PublicKey::from_ec_point(curve, &point)
            .map_err(|_| CoseError::invalid(field, "is not a point on its curve"))?;
        Ok(DeviceKey { key, curve })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::testkeys::ec_public_point;
    use serde_json::json;

    fn jwk(curve: Curve, seed: u8) -> Json {
        let mut d = vec![seed; curve.field_len()];
        d[0] = 0;
        let pk = PublicKey::from_ec_point(curve, &ec_public_point(curve, &d)).unwrap();
        serde_json::to_value(pk.to_jwk()).unwrap()
    }

    #[test]
    fn jwk_to_cose_key_and_back() {
        for (curve, crv) in [(Curve::P256, 1), (Curve::P384, 2), (Curve::P521, 3)] {
            let key = DeviceKey::from_jwk(&jwk(curve, 5)).unwrap();
            let cose = key.to_cose_key();
            let map = cose.as_map().unwrap();
            assert_eq!(map[0], (Value::from(1), Value::from(2)));
            assert_eq!(map[1], (Value::from(-1), Value::from(crv)));
            assert_eq!(map.len(), 4);
            assert_eq!(DeviceKey::from_cose_key("k", &cose).unwrap(), key);
        }
    }

    #[test]
    fn jwk_refusals_name_the_member() {
        let good = jwk(Curve::P256, 5);
        let with = |k: &str, v: Json| {
            let mut j = good.clone();
            j[k] = v;
            DeviceKey::from_jwk(&j).unwrap_err()
        };
        let secret = "c2VjcmV0LXNjYWxhci1ieXRlcy1zaG91bGQtbm90LWxlYWs";
        let err = with("d", json!(secret));
        assert_eq!(err.field(), Some("payload.deviceKeyInfo.deviceKey.d"));
        assert!(!err.to_string().contains(secret), "{err}");
        assert_eq!(
            with("k", json!("AAAA")).field(),
            Some("payload.deviceKeyInfo.deviceKey.k")
        );
        assert!(with("kty", json!("RSA")).field().unwrap().ends_with(".kty"));
        assert!(with("kty", json!("OKP")).field().unwrap().ends_with(".kty"));
        assert!(
            with("crv", json!("secp256k1"))
                .field()
                .unwrap()
                .ends_with(".crv")
        );
        assert!(with("crv", json!(1)).field().unwrap().ends_with(".crv"));
        assert!(with("x", json!("AAAA")).field().unwrap().ends_with(".x"));
        // A coordinate changed: no longer on the curve.
        let mut x = good["x"].as_str().unwrap().to_string();
        x.replace_range(0..1, if x.starts_with('A') { "B" } else { "A" });
        assert_eq!(
            with("x", json!(x)).field(),
            Some("payload.deviceKeyInfo.deviceKey")
        );
        assert!(DeviceKey::from_jwk(&json!("not a jwk")).is_err());
        // Other public members are fine.
        assert!(
            DeviceKey::from_jwk(&{
                let mut j = good.clone();
                j["kid"] = json!("wallet-1");
                j
            })
            .is_ok()
        );
    }

    #[test]
    fn cose_key_refusals() {
        let key = DeviceKey::from_jwk(&jwk(Curve::P256, 5))
            .unwrap()
            .to_cose_key();
        let Value::Map(good) = key else { panic!() };
        let with = |label: i64, v: Value| {
            let mut m = good.clone();
            match m.iter_mut().find(|(k, _)| *k == Value::from(label)) {
                Some(entry) => entry.1 = v,
                None => m.push((Value::from(label), v)),
            }
            DeviceKey::from_cose_key("mso.deviceKeyInfo.deviceKey", &Value::Map(m)).unwrap_err()
        };
        let err = with(-4, Value::Bytes(vec![7; 32]));
        assert_eq!(err.field(), Some("mso.deviceKeyInfo.deviceKey.-4"));
        assert!(with(1, Value::from(1)).to_string().contains("EC2"));
        assert!(with(-1, Value::from(6)).field().unwrap().ends_with(".-1"));
        assert!(
            with(-2, Value::Bytes(vec![1; 31]))
                .field()
                .unwrap()
                .ends_with(".-2")
        );
        assert!(
            with(-3, Value::Bool(true))
                .to_string()
                .contains("compressed")
        );
        assert!(
            with(-2, Value::Bytes(vec![1; 32]))
                .to_string()
                .contains("curve")
        );
        assert!(with(-7, Value::from(0)).field().unwrap().ends_with(".-7"));
        assert!(
            with(2, Value::Text("kid".into()))
                .field()
                .unwrap()
                .ends_with(".2")
        );
        assert!(
            with(4, Value::Array(vec![]))
                .field()
                .unwrap()
                .ends_with(".4")
        );
        let mut dup = good.clone();
        dup.push(good[0].clone());
        assert!(DeviceKey::from_cose_key("k", &Value::Map(dup)).is_err());
        let mut text = good.clone();
        text.push((Value::Text("x".into()), Value::Null));
        assert!(DeviceKey::from_cose_key("k", &Value::Map(text)).is_err());
    }
}
