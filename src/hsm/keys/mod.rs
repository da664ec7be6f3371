//! Key objects: the key types here; `templates.rs` the attribute templates (every private
//! key's policy), `lookup.rs` finding keys by label and reading them back,
//! `lifecycle.rs` generation, import and destruction.

mod lifecycle;
mod lookup;
mod templates;

use lookup::*;
use templates::*;

use std::fmt;
use std::sync::Mutex;

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use der::{Decode, Encode};
use zeroize::{Zeroize, Zeroizing};

use super::error::{HsmError, classify, is_stale_handle};
use super::token::{KeyHandles, Live, Token};
use crate::crypto::{Curve, KeyAlgorithm, PublicKey, SignError, SignatureAlgorithm};

/// A private key handed in by a client for import. Secret parts are zeroized on drop and
/// never shown by Debug.
pub enum PrivateKeyMaterial {
    Ec {
        curve: Curve,
        /// The private scalar, big-endian; shorter than the field length is accepted.
        d: Zeroizing<Vec<u8>>,
        /// The matching public key; the import proves the pair signs and verifies.
        public: PublicKey,
    },
    /// RSA private key with CRT parameters (RFC 8017 section 3.2, second representation).
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
        d: Zeroizing<Vec<u8>>,
        p: Zeroizing<Vec<u8>>,
        q: Zeroizing<Vec<u8>>,
        dp: Zeroizing<Vec<u8>>,
        dq: Zeroizing<Vec<u8>>,
        qi: Zeroizing<Vec<u8>>,
    },
}

impl fmt::Debug for PrivateKeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrivateKeyMaterial::Ec { curve, .. } => f
                .debug_struct("PrivateKeyMaterial::Ec")
                .field("curve", curve)
                .finish_non_exhaustive(),
            PrivateKeyMaterial::Rsa { n, .. } => f
                .debug_struct("PrivateKeyMaterial::Rsa")
                .field("modulus_len", &n.len())
                .finish_non_exhaustive(),
        }
    }
}

/// Security attributes of a private key object, read back for tests and audits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAttributes {
    pub sensitive: bool,
    pub extractable: bool,
    pub modifiable: bool,
    pub always_sensitive: bool,
    pub never_extractable: bool,
    pub token: bool,
    pub private: bool,
    pub sign: bool,
    /// Any use besides signing (CKA_DECRYPT, CKA_UNWRAP, CKA_DERIVE). Must be false.
    pub other_use: bool,
    pub has_label: bool,
    pub has_id: bool,
    /// Whether the token handed out the secret value (CKA_VALUE for EC, CKA_PRIVATE_EXPONENT
    /// for RSA). Must be false. The value itself, if any, is wiped before returning.
    pub value_readable: bool,
}

/// What a public key object may be used for, read back for tests and audits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublicKeyUses {
    pub verify: bool,
    /// CKA_ENCRYPT, CKA_WRAP or CKA_DERIVE. Must be false.
    pub other_use: bool,
}

/// The token's key objects as [`Token::scan_keys`] found them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KeyScan {
    /// Labels of the private keys, sorted, each once.
    pub private: Vec<String>,
    /// Labels of the public keys, sorted, each once: a public half whose private half is
    /// gone is found this way.
    pub public: Vec<String>,
    /// Key objects without a label (torn by an interrupted generation), destroyed.
    pub torn_destroyed: usize,
}

/// A key pair on the token, addressed by its label. Implements
/// [`DigestSigner`](crate::crypto::DigestSigner) (see `sign.rs`).
pub struct TokenKey {
    pub(crate) token: Token,
    pub(crate) label: String,
    pub(crate) public_key: PublicKey,
    pub(crate) id: Vec<u8>,
    /// (context generation, handles). Handles are re-resolved when the generation moved on.
    pub(crate) handles: Mutex<(u64, KeyHandles)>,
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKey")
            .field("label", &self.label)
            .field("algorithm", &self.algorithm())
            .field("id", &hex(&self.id))
            .finish_non_exhaustive()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl TokenKey {
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.public_key.algorithm()
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// CKA_ID, shared by the private and public objects.
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    pub fn token(&self) -> &Token {
        &self.token
    }

    /// Resolve this key's handles again (after a reconnect or a stale handle), and make sure
    /// the object now carrying the label is still *this* key: a key destroyed and re-created
    /// under the same label has another CKA_ID, and signing with it would be signing with
    /// a key the caller never saw.
    pub(crate) fn relocate(
        &self,
        live: &Live,
        s: &Session,
        fresh: bool,
    ) -> Result<KeyHandles, HsmError> {
        let h = live.lookup(s, &self.label, fresh)?;
        let id = read_bytes(s, h.private, AttributeType::Id)?.unwrap_or_default();
        if id != self.id {
            return Err(HsmError::KeyNotFound {
                label: self.label.clone(),
            });
        }
        *self.handles.lock().unwrap_or_else(|p| p.into_inner()) = (live.generation, h);
        Ok(h)
    }
}

/// Extract the uncompressed point from CKA_EC_POINT and validate it.
///
/// PKCS#11 v2.40 section 2.3.3 defines CKA_EC_POINT as the "DER-encoding of ANSI X9.62
/// ECPoint value Q", i.e. an OCTET STRING around `04 || X || Y`, and SoftHSM returns that;
/// some tokens return the raw point. The lengths cannot collide (the wrapper adds 2 or 3
/// bytes), so both are accepted.
pub fn parse_ec_point(curve: Curve, bytes: &[u8]) -> Result<PublicKey, HsmError> {
    let raw_len = 1 + 2 * curve.field_len();
    let point: Vec<u8> = if bytes.len() == raw_len && bytes[0] == 0x04 {
        bytes.to_vec()
    } else {
        let os = der::asn1::OctetString::from_der(bytes)
            .map_err(|_| HsmError::invalid_key("CKA_EC_POINT is neither a point nor DER"))?;
        os.as_bytes().to_vec()
    };
    if point.len() != raw_len || point[0] != 0x04 {
        return Err(HsmError::invalid_key(
            "CKA_EC_POINT is not an uncompressed point of the key's curve",
        ));
    }
    PublicKey::from_ec_point(curve, &point)
        .map_err(|e| HsmError::invalid_key(format!("CKA_EC_POINT: {e}")))
}

fn curve_params(curve: Curve) -> Result<Vec<u8>, HsmError> {
    // CKA_EC_PARAMS: DER of the namedCurve OID (v2.40 section 2.3.3, ECParameters choice).
    curve
        .oid()
        .to_der()
        .map_err(|_| HsmError::other("cannot encode curve OID"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p256_point() -> Vec<u8> {
        crate::crypto::testkeys::ec_public_point(Curve::P256, &[5u8; 32])
    }

    #[test]
    fn ec_point_raw_and_der_wrapped() {
        let raw = p256_point();
        let a = parse_ec_point(Curve::P256, &raw).unwrap();
        let wrapped = der::asn1::OctetString::new(raw.clone())
            .unwrap()
            .to_der()
            .unwrap();
        assert_eq!(&wrapped[..3], &[0x04, 0x41, 0x04]);
        let b = parse_ec_point(Curve::P256, &wrapped).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.raw_bytes(), raw.as_slice());
    }

    #[test]
    fn ec_point_p521_long_form_length() {
        let mut d = [0u8; 66];
        d[65] = 3;
        let raw = crate::crypto::testkeys::ec_public_point(Curve::P521, &d);
        let wrapped = der::asn1::OctetString::new(raw.clone())
            .unwrap()
            .to_der()
            .unwrap();
        assert_eq!(&wrapped[..3], &[0x04, 0x81, 0x85]);
        assert_eq!(
            parse_ec_point(Curve::P521, &wrapped).unwrap(),
            parse_ec_point(Curve::P521, &raw).unwrap()
        );
    }

    #[test]
    fn ec_point_rejects_garbage_and_wrong_curve() {
        let raw = p256_point();
        assert!(parse_ec_point(Curve::P384, &raw).is_err());
        assert!(parse_ec_point(Curve::P256, &raw[..64]).is_err());
        let mut compressed = raw.clone();
        compressed[0] = 0x02;
        assert!(parse_ec_point(Curve::P256, &compressed).is_err());
    }

    #[test]
    fn material_debug_hides_secrets() {
        let m = PrivateKeyMaterial::Ec {
            curve: Curve::P256,
            d: Zeroizing::new(vec![0xAB; 32]),
            public: PublicKey::from_ec_point(Curve::P256, &p256_point()).unwrap(),
        };
        let s = format!("{m:?}");
        assert!(!s.to_lowercase().contains("ab, ") && !s.contains("171"));
    }
}
