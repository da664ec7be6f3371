//! Public keys: SubjectPublicKeyInfo, JWK (RFC 7517/7518), signature verification.
//!
//! Every signature the token returns is verified here before it is used (DEVELOPERS.md rule
//! 2), with RustCrypto's p256/p384/p521/rsa: an implementation independent of the token's.

use base64ct::{Base64UrlUnpadded, Encoding};
use const_oid::db::rfc5912;
use der::asn1::{BitString, Null, UintRef};
use der::{Any, Decode, Encode};
use serde::{Deserialize, Serialize};
use signature::hazmat::PrehashVerifier;
use spki::{AlgorithmIdentifierOwned, DecodePublicKey, SubjectPublicKeyInfoOwned};

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
        let der = spki.to_der().map_err(|_| CryptoError::BadPublicKey)?;
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
            // Decoding through the curve crate checks the point is on the curve.
            let ok = match curve {
                Curve::P256 => p256::PublicKey::from_public_key_der(&der).is_ok(),
                Curve::P384 => p384::PublicKey::from_public_key_der(&der).is_ok(),
                Curve::P521 => p521::PublicKey::from_public_key_der(&der).is_ok(),
            };
            if !ok {
                return Err(CryptoError::BadPublicKey);
            }
            curve.key_algorithm()
        } else if spki.algorithm.oid == rfc5912::RSA_ENCRYPTION {
            let key = rsa::RsaPublicKey::from_public_key_der(&der)
                .map_err(|_| CryptoError::BadPublicKey)?;
            let bits = rsa::traits::PublicKeyParts::n(&key).bits() as usize;
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

    /// Verify `signature` (in its X.509 encoding: DER Ecdsa-Sig-Value for ECDSA, the raw
    /// octets for RSA) over `msg`.
    pub fn verify(
        &self,
        alg: SignatureAlgorithm,
        msg: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        let digest = alg.hash().digest(msg);
        self.verify_digest(alg, &digest, signature)
    }

    /// As [`verify`](Self::verify), on a digest computed by the caller.
    pub fn verify_digest(
        &self,
        alg: SignatureAlgorithm,
        digest: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        if !alg.fits_key(self.algorithm) {
            return Err(CryptoError::KeyMismatch);
        }
        if digest.len() != alg.hash().output_len() {
            return Err(CryptoError::DigestLength);
        }
        let der = self.to_spki_der();
        let bad = |_| CryptoError::BadSignature;
        match self.algorithm.curve() {
            Some(Curve::P256) => {
                let vk = p256::ecdsa::VerifyingKey::from_public_key_der(&der)
                    .map_err(|_| CryptoError::BadPublicKey)?;
                let sig = p256::ecdsa::Signature::from_der(signature).map_err(bad)?;
                vk.verify_prehash(digest, &sig).map_err(bad)
            }
            Some(Curve::P384) => {
                let vk = p384::ecdsa::VerifyingKey::from_public_key_der(&der)
                    .map_err(|_| CryptoError::BadPublicKey)?;
                let sig = p384::ecdsa::Signature::from_der(signature).map_err(bad)?;
                vk.verify_prehash(digest, &sig).map_err(bad)
            }
            Some(Curve::P521) => {
                let vk = p521::ecdsa::VerifyingKey::from_public_key_der(&der)
                    .map_err(|_| CryptoError::BadPublicKey)?;
                let sig = p521::ecdsa::Signature::from_der(signature).map_err(bad)?;
                vk.verify_prehash(digest, &sig).map_err(bad)
            }
            None => {
                let key = rsa::RsaPublicKey::from_public_key_der(&der)
                    .map_err(|_| CryptoError::BadPublicKey)?;
                let result = if alg.is_pss() {
                    match alg.hash() {
                        super::HashAlg::Sha256 => key.verify(
                            rsa::Pss::<sha2::Sha256>::new_with_salt(32),
                            digest,
                            signature,
                        ),
                        super::HashAlg::Sha384 => key.verify(
                            rsa::Pss::<sha2::Sha384>::new_with_salt(48),
                            digest,
                            signature,
                        ),
                        super::HashAlg::Sha512 => key.verify(
                            rsa::Pss::<sha2::Sha512>::new_with_salt(64),
                            digest,
                            signature,
                        ),
                    }
                } else {
                    let scheme = match alg.hash() {
                        super::HashAlg::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                        super::HashAlg::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                        super::HashAlg::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
                    };
                    key.verify(scheme, digest, signature)
                };
                result.map_err(|_| CryptoError::BadSignature)
            }
        }
    }
}

/// Turn the raw `r || s` that CKM_ECDSA returns (PKCS#11 v2.40 section 2.3.1) into the DER
/// `Ecdsa-Sig-Value` that X.509 carries (RFC 5480 section 2.2 / RFC 3279 section 2.2.3).
pub fn ecdsa_raw_to_der(curve: Curve, raw: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if raw.len() != 2 * curve.field_len() {
        return Err(CryptoError::BadSignature);
    }
    let bad = |_| CryptoError::BadSignature;
    Ok(match curve {
        Curve::P256 => p256::ecdsa::Signature::from_slice(raw)
            .map_err(bad)?
            .to_der()
            .as_bytes()
            .to_vec(),
        Curve::P384 => p384::ecdsa::Signature::from_slice(raw)
            .map_err(bad)?
            .to_der()
            .as_bytes()
            .to_vec(),
        Curve::P521 => p521::ecdsa::Signature::from_slice(raw)
            .map_err(bad)?
            .to_der()
            .as_bytes()
            .to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use signature::hazmat::PrehashSigner;

    #[test]
    fn ec_jwk_round_trip_and_verify() {
        let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let point = sk.verifying_key().to_sec1_point(false);
        let pk = PublicKey::from_ec_point(Curve::P256, point.as_bytes()).unwrap();
        assert_eq!(pk.algorithm(), KeyAlgorithm::P256);
        let jwk = pk.to_jwk();
        assert_eq!(PublicKey::from_jwk(&jwk).unwrap(), pk);

        let digest = crate::crypto::HashAlg::Sha256.digest(b"hello");
        let sig: p256::ecdsa::Signature = sk.sign_prehash(&digest).unwrap();
        let der = ecdsa_raw_to_der(Curve::P256, &sig.to_bytes()).unwrap();
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
    fn jwk_with_short_coordinate_is_rejected() {
        let sk = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
        let point = sk.verifying_key().to_sec1_point(false);
        let mut jwk = PublicKey::from_ec_point(Curve::P256, point.as_bytes())
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
}
