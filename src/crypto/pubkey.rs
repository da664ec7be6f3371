//! Public keys: SubjectPublicKeyInfo, JWK (RFC 7517/7518), signature verification.
//!
//! Every signature the token returns is verified here before it is used (the token is never
//! trusted to have signed what it was asked to, with the key it was asked to use), with
//! aws-lc-rs: an implementation independent of the token's, and with the `fips` feature a
//! FIPS 140-3 validated one. Verification always runs over the message, never over a digest
//! computed elsewhere: aws-lc-rs's digest verification is not a FIPS-approved service.

use aws_lc_rs::signature::{self as lc, ParsedPublicKey, UnparsedPublicKey, VerificationAlgorithm};
use base64ct::{Base64UrlUnpadded, Encoding};
use const_oid::db::rfc5912;
use der::asn1::{BitString, Null, UintRef};
use der::{Any, Decode, Encode};
use serde::{Deserialize, Serialize};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use super::CryptoError;
use super::alg::{Curve, KeyAlgorithm, SignatureAlgorithm};

/// Smallest RSA modulus accepted anywhere (NIST SP 800-131A: 2048 bits).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted; bounds the cost of verifying hostile input.
pub const MAX_RSA_BITS: usize = 4096;

/// A validated public key: the curve point is on the curve, the RSA modulus in bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    spki: SubjectPublicKeyInfoOwned,
    algorithm: KeyAlgorithm,
}

/// A JSON Web Key, public members only (RFC 7517 section 4, RFC 7518 section 6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    pub kty: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

impl PublicKey {
    /// Parse and validate a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, CryptoError> {
        let spki =
            SubjectPublicKeyInfoOwned::from_der(der).map_err(|_| CryptoError::BadPublicKey)?;
        Self::from_spki(spki)
    }

    pub fn from_spki(spki: SubjectPublicKeyInfoOwned) -> Result<Self, CryptoError> {
        let key_bytes = spki
            .subject_public_key
            .as_bytes()
            .ok_or(CryptoError::BadPublicKey)?;
        let algorithm = if spki.algorithm.oid == rfc5912::ID_EC_PUBLIC_KEY {
            let curve_oid: const_oid::ObjectIdentifier = spki
                .algorithm
                .parameters
                .as_ref()
                .ok_or(CryptoError::BadPublicKey)?
                .decode_as()
                .map_err(|_| CryptoError::BadPublicKey)?;
            let curve = Curve::from_oid(&curve_oid).ok_or_else(|| {
                CryptoError::UnsupportedAlgorithm(format!("EC curve {curve_oid}"))
            })?;
            // Uncompressed points only (04 || X || Y, RFC 5480 section 2.2: the form that MUST
            // be supported): CKA_EC_POINT, JWK and raw signatures all work on X and Y.
            if key_bytes.len() != 1 + 2 * curve.field_len() || key_bytes[0] != 0x04 {
                return Err(CryptoError::BadPublicKey);
            }
            curve.key_algorithm()
        } else if spki.algorithm.oid == rfc5912::RSA_ENCRYPTION {
            let key = pkcs1::RsaPublicKey::<UintRef<'_>>::from_der(key_bytes)
                .map_err(|_| CryptoError::BadPublicKey)?;
            // `UintRef` holds the modulus without leading zero octets.
            let n = key.modulus.as_bytes();
            let bits =
                (n.len() * 8).saturating_sub(n.first().map_or(8, |b| b.leading_zeros()) as usize);
            match bits {
                2048 => KeyAlgorithm::Rsa2048,
                3072 => KeyAlgorithm::Rsa3072,
                4096 => KeyAlgorithm::Rsa4096,
                _ => {
                    return Err(CryptoError::UnsupportedAlgorithm(format!(
                        "RSA-{bits} (2048, 3072 or 4096 bits are accepted)"
                    )));
                }
            }
        } else {
            return Err(CryptoError::UnsupportedAlgorithm(
                spki.algorithm.oid.to_string(),
            ));
        };
        // aws-lc-rs parses the key as the verifier will: an EC point must lie on its curve
        // (SP 800-56A partial public-key validation, which is full validation on these
        // prime-order curves), an RSA key passes RSA_check_key (odd exponent of 2 to 33 bits).
        ParsedPublicKey::new(
            verification_algorithm(algorithm, algorithm.default_signature())?,
            key_bytes,
        )
        .map_err(|_| CryptoError::BadPublicKey)?;
        Ok(PublicKey { spki, algorithm })
    }

    /// Build from an uncompressed SEC1 point (04 || X || Y), as CKA_EC_POINT carries it.
    pub fn from_ec_point(curve: Curve, point: &[u8]) -> Result<Self, CryptoError> {
        let spki = SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: rfc5912::ID_EC_PUBLIC_KEY,
                parameters: Some(
                    Any::encode_from(&curve.oid()).map_err(|_| CryptoError::BadPublicKey)?,
                ),
            },
            subject_public_key: BitString::from_bytes(point)
                .map_err(|_| CryptoError::BadPublicKey)?,
        };
        Self::from_spki(spki)
    }

    /// Build from an RSA modulus and public exponent, big-endian unsigned.
    pub fn from_rsa_parts(n: &[u8], e: &[u8]) -> Result<Self, CryptoError> {
        let n = UintRef::new(n).map_err(|_| CryptoError::BadPublicKey)?;
        let e = UintRef::new(e).map_err(|_| CryptoError::BadPublicKey)?;
        let rsa_pub = pkcs1::RsaPublicKey::<UintRef<'_>> {
            modulus: n,
            public_exponent: e,
        }
        .to_der()
        .map_err(|_| CryptoError::BadPublicKey)?;
        let spki = SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: rfc5912::RSA_ENCRYPTION,
                parameters: Some(Any::from(Null)),
            },
            subject_public_key: BitString::from_bytes(&rsa_pub)
                .map_err(|_| CryptoError::BadPublicKey)?,
        };
        Self::from_spki(spki)
    }

    pub fn from_jwk(jwk: &PublicJwk) -> Result<Self, CryptoError> {
        let field = |v: &Option<String>, name: &'static str| -> Result<Vec<u8>, CryptoError> {
            let s = v.as_deref().ok_or(CryptoError::BadJwk(name))?;
            Base64UrlUnpadded::decode_vec(s).map_err(|_| CryptoError::BadJwk(name))
        };
        match jwk.kty.as_str() {
            "EC" => {
                let crv = jwk.crv.as_deref().ok_or(CryptoError::BadJwk("crv"))?;
                let curve = Curve::from_jwk_name(crv).ok_or(CryptoError::BadJwk("crv"))?;
                let x = field(&jwk.x, "x")?;
                let y = field(&jwk.y, "y")?;
                // RFC 7518 section 6.2.1.2: x and y are exactly the field length.
                if x.len() != curve.field_len() {
                    return Err(CryptoError::BadJwk("x"));
                }
                if y.len() != curve.field_len() {
                    return Err(CryptoError::BadJwk("y"));
                }
                let mut point = Vec::with_capacity(1 + 2 * x.len());
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Self::from_ec_point(curve, &point)
            }
            "RSA" => {
                let n = field(&jwk.n, "n")?;
                let e = field(&jwk.e, "e")?;
                Self::from_rsa_parts(&n, &e)
            }
            _ => Err(CryptoError::BadJwk("kty")),
        }
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    pub fn spki(&self) -> &SubjectPublicKeyInfoOwned {
        &self.spki
    }

    pub fn to_spki_der(&self) -> Vec<u8> {
        self.spki.to_der().expect("a validated SPKI encodes")
    }

    /// The bytes of subjectPublicKey: the EC point, or the DER RSAPublicKey.
    pub fn raw_bytes(&self) -> &[u8] {
        self.spki.subject_public_key.raw_bytes()
    }

    pub fn to_jwk(&self) -> PublicJwk {
        let b64 = |b: &[u8]| Some(Base64UrlUnpadded::encode_string(b));
        match self.algorithm.curve() {
            Some(curve) => {
                let point = self.raw_bytes();
                let n = curve.field_len();
                PublicJwk {
                    kty: "EC".into(),
                    crv: Some(curve.jwk_name().into()),
                    x: b64(&point[1..1 + n]),
                    y: b64(&point[1 + n..1 + 2 * n]),
                    n: None,
                    e: None,
                }
            }
            None => {
                let parsed = pkcs1::RsaPublicKey::<UintRef<'_>>::from_der(self.raw_bytes())
                    .expect("validated RSA key re-parses");
                PublicJwk {
                    kty: "RSA".into(),
                    crv: None,
                    x: None,
                    y: None,
                    n: b64(parsed.modulus.as_bytes()),
                    e: b64(parsed.public_exponent.as_bytes()),
                }
            }
        }
    }

    /// Verify `signature` in its X.509 encoding (the DER `Ecdsa-Sig-Value` for ECDSA, the
    /// signature octets for RSA) over `msg`.
    pub fn verify(
        &self,
        alg: SignatureAlgorithm,
        msg: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        let verifier = verification_algorithm(self.algorithm, alg)?;
        UnparsedPublicKey::new(verifier, self.raw_bytes())
            .verify(msg, signature)
            .map_err(|_| CryptoError::BadSignature)
    }

    /// Verify `signature` in its fixed-width encoding (COSE, JWS: `r || s`, each the curve's
    /// field length, for ECDSA; the signature octets for RSA) over `msg`.
    pub fn verify_fixed(
        &self,
        alg: SignatureAlgorithm,
        msg: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        match self.algorithm.curve() {
            // One verification path for both encodings: the pair (r, s) is what is verified,
            // and the DER form is available for every curve and hash (see
            // `verification_algorithm`).
            Some(curve) => self.verify(alg, msg, &ecdsa_raw_to_der(curve, signature)?),
            None => self.verify(alg, msg, signature),
        }
    }
}

/// The aws-lc-rs verification algorithm for a signature of `alg` by a key of `key`.
///
/// ECDSA uses the `_ASN1` (DER signature) algorithms: aws-lc-rs has one for every pairing of
/// P-256/384/521 with SHA-256/384/512, whereas its `_FIXED` set lacks P-256 with SHA-384 or
/// SHA-512 and P-384 with SHA-256 or SHA-512. RSA moduli are 2048 to 4096 bits here
/// (checked in `from_spki`), inside the `2048_8192` ranges. PSS: aws-lc-rs accepts only MGF1
/// with the message hash and salt length = hash length, the one shape we sign and accept
/// (RFC 4055 section 3.1; `SignatureAlgorithm::from_algorithm_identifier`).
fn verification_algorithm(
    key: KeyAlgorithm,
    alg: SignatureAlgorithm,
) -> Result<&'static dyn VerificationAlgorithm, CryptoError> {
    use SignatureAlgorithm::*;
    if !alg.fits_key(key) {
        return Err(CryptoError::KeyMismatch);
    }
    Ok(match (key.curve(), alg) {
        (Some(Curve::P256), EcdsaSha256) => &lc::ECDSA_P256_SHA256_ASN1,
        (Some(Curve::P256), EcdsaSha384) => &lc::ECDSA_P256_SHA384_ASN1,
        (Some(Curve::P256), EcdsaSha512) => &lc::ECDSA_P256_SHA512_ASN1,
        (Some(Curve::P384), EcdsaSha256) => &lc::ECDSA_P384_SHA256_ASN1,
        (Some(Curve::P384), EcdsaSha384) => &lc::ECDSA_P384_SHA384_ASN1,
        (Some(Curve::P384), EcdsaSha512) => &lc::ECDSA_P384_SHA512_ASN1,
        (Some(Curve::P521), EcdsaSha256) => &lc::ECDSA_P521_SHA256_ASN1,
        (Some(Curve::P521), EcdsaSha384) => &lc::ECDSA_P521_SHA384_ASN1,
        (Some(Curve::P521), EcdsaSha512) => &lc::ECDSA_P521_SHA512_ASN1,
        (None, RsaPkcs1Sha256) => &lc::RSA_PKCS1_2048_8192_SHA256,
        (None, RsaPkcs1Sha384) => &lc::RSA_PKCS1_2048_8192_SHA384,
        (None, RsaPkcs1Sha512) => &lc::RSA_PKCS1_2048_8192_SHA512,
        (None, RsaPssSha256) => &lc::RSA_PSS_2048_8192_SHA256,
        (None, RsaPssSha384) => &lc::RSA_PSS_2048_8192_SHA384,
        (None, RsaPssSha512) => &lc::RSA_PSS_2048_8192_SHA512,
        // Not reachable after `fits_key`; refused rather than guessed if the enums grow.
        (curve, alg) => {
            return Err(CryptoError::UnsupportedAlgorithm(format!(
                "{} with a {} key",
                alg.name(),
                curve.map_or("RSA", |c| c.jwk_name())
            )));
        }
    })
}

/// `Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279 section 2.2.3).
#[derive(der::Sequence)]
struct EcdsaSigValue<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// Turn the raw `r || s` that CKM_ECDSA returns (PKCS#11 v2.40 section 2.3.1), and COSE and
/// JWS carry, into the DER `Ecdsa-Sig-Value` that X.509 carries (RFC 5480 section 2.2).
pub fn ecdsa_raw_to_der(curve: Curve, raw: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let n = curve.field_len();
    if raw.len() != 2 * n {
        return Err(CryptoError::BadSignature);
    }
    let bad = |_| CryptoError::BadSignature;
    EcdsaSigValue {
        r: UintRef::new(&raw[..n]).map_err(bad)?,
        s: UintRef::new(&raw[n..]).map_err(bad)?,
    }
    .to_der()
    .map_err(bad)
}

/// The inverse of [`ecdsa_raw_to_der`]: a strict DER `Ecdsa-Sig-Value` to `r || s`, each
/// left-padded to the curve's field length (RFC 7518 section 3.4, RFC 9053 section 2.1).
pub fn ecdsa_der_to_raw(curve: Curve, der: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let n = curve.field_len();
    let sig = EcdsaSigValue::from_der(der).map_err(|_| CryptoError::BadSignature)?;
    let mut raw = vec![0u8; 2 * n];
    for (int, out) in [sig.r, sig.s].iter().zip(raw.chunks_mut(n)) {
        let bytes = int.as_bytes();
        if bytes.len() > n {
            return Err(CryptoError::BadSignature);
        }
        out[n - bytes.len()..].copy_from_slice(bytes);
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::testkeys::{SoftEcKey, ec_public_point};

    #[test]
    fn ec_jwk_round_trip_and_verify() {
        let key = SoftEcKey::p256(7);
        let pk = crate::crypto::DigestSigner::public_key(&key).clone();
        assert_eq!(pk.algorithm(), KeyAlgorithm::P256);
        let jwk = pk.to_jwk();
        assert_eq!(PublicKey::from_jwk(&jwk).unwrap(), pk);

        let sig = crate::crypto::sign(&key, SignatureAlgorithm::EcdsaSha256, b"hello").unwrap();
        let der = ecdsa_raw_to_der(Curve::P256, sig.to_fixed()).unwrap();
        pk.verify(SignatureAlgorithm::EcdsaSha256, b"hello", &der)
            .unwrap();
        assert!(
            pk.verify(SignatureAlgorithm::EcdsaSha256, b"hellO", &der)
                .is_err()
        );
        assert!(matches!(
            pk.verify(SignatureAlgorithm::RsaPkcs1Sha256, b"hello", &der),
            Err(CryptoError::KeyMismatch)
        ));
    }

    #[test]
    fn off_curve_point_is_rejected() {
        let mut point = vec![0x04];
        point.extend_from_slice(&[1u8; 64]);
        assert!(PublicKey::from_ec_point(Curve::P256, &point).is_err());
    }

    #[test]
    fn compressed_or_truncated_point_is_rejected() {
        let point = ec_public_point(Curve::P256, &[9u8; 32]);
        assert!(PublicKey::from_ec_point(Curve::P256, &point).is_ok());
        let mut compressed = vec![0x02 | (point[64] & 1)];
        compressed.extend_from_slice(&point[1..33]);
        assert!(PublicKey::from_ec_point(Curve::P256, &compressed).is_err());
        assert!(PublicKey::from_ec_point(Curve::P256, &point[..64]).is_err());
        // A P-256 point is not a P-384 key.
        assert!(PublicKey::from_ec_point(Curve::P384, &point).is_err());
    }

    #[test]
    fn jwk_with_short_coordinate_is_rejected() {
        let point = ec_public_point(Curve::P256, &[9u8; 32]);
        let mut jwk = PublicKey::from_ec_point(Curve::P256, &point)
            .unwrap()
            .to_jwk();
        jwk.x = Some(Base64UrlUnpadded::encode_string(&[1u8; 31]));
        assert!(matches!(
            PublicKey::from_jwk(&jwk),
            Err(CryptoError::BadJwk("x"))
        ));
    }

    #[test]
    fn small_rsa_modulus_is_rejected() {
        let n = [0xffu8; 128]; // 1024 bits
        assert!(PublicKey::from_rsa_parts(&n, &[1, 0, 1]).is_err());
    }

    #[test]
    fn rsa_key_sizes_and_exponent() {
        // The modulus of tests/data/rsa2048-pkcs1.der (an `openssl genrsa 2048` key).
        let der = include_bytes!("../../tests/data/rsa2048-pkcs1.der");
        let k = pkcs1::RsaPrivateKey::<UintRef<'_>>::from_der(der).unwrap();
        let (n, e) = (k.modulus.as_bytes(), k.public_exponent.as_bytes());
        let pk = PublicKey::from_rsa_parts(n, e).unwrap();
        assert_eq!(pk.algorithm(), KeyAlgorithm::Rsa2048);
        assert_eq!(PublicKey::from_jwk(&pk.to_jwk()).unwrap(), pk);
        // An even exponent is no RSA key (aws-lc-rs's RSA_check_key).
        assert_eq!(
            PublicKey::from_rsa_parts(n, &[1, 0, 0]),
            Err(CryptoError::BadPublicKey)
        );
        // 2047 bits is not one of the accepted sizes.
        let mut short = n.to_vec();
        short[0] = 0x7f;
        assert!(matches!(
            PublicKey::from_rsa_parts(&short, e),
            Err(CryptoError::UnsupportedAlgorithm(m)) if m.starts_with("RSA-2047")
        ));
    }

    #[test]
    fn ecdsa_der_conversion_is_strict() {
        let n = Curve::P256.field_len();
        // r with a high bit (needs a 0x00 pad in DER), s with leading zeros (stripped).
        let mut raw = vec![0u8; 2 * n];
        raw[0] = 0x80;
        raw[n - 1] = 1;
        raw[2 * n - 1] = 5;
        let der = ecdsa_raw_to_der(Curve::P256, &raw).unwrap();
        assert_eq!(&der[..4], &[0x30, 0x26, 0x02, 0x21]);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x05]);
        assert_eq!(ecdsa_der_to_raw(Curve::P256, &der).unwrap(), raw);
        assert!(ecdsa_raw_to_der(Curve::P256, &raw[1..]).is_err());
        // Too long for P-256, but fine for P-384.
        let big = ecdsa_raw_to_der(Curve::P384, &[0x11; 96]).unwrap();
        assert!(ecdsa_der_to_raw(Curve::P256, &big).is_err());
        assert_eq!(ecdsa_der_to_raw(Curve::P384, &big).unwrap(), vec![0x11; 96]);
        // Non-minimal INTEGER, negative INTEGER, trailing bytes: not DER signatures.
        assert!(
            ecdsa_der_to_raw(
                Curve::P256,
                &[0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01]
            )
            .is_err()
        );
        assert!(
            ecdsa_der_to_raw(
                Curve::P256,
                &[0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01]
            )
            .is_err()
        );
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(ecdsa_der_to_raw(Curve::P256, &trailing).is_err());
    }
}
