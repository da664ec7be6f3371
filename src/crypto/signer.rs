//! Signing with a private key that lives elsewhere (the token), and the seam to RustCrypto's
//! `signature`/`spki` traits, which x509-cert's builders sign through.
//!
//! [`sign`] is the only way to a key's signature: it hashes the message here, in Rust, so
//! only the digest crosses to the key (messages such as certificate bodies stay off the
//! token), then verifies what comes back over the message with the key's public half. A
//! faulty token or a wrong key handle can therefore never produce a certificate, CRL, CSR,
//! COSE or JWS object that does not verify. The type system enforces it:
//! [`DigestSigner::sign_digest`] takes a [`Seal`], which only this module can make, and
//! [`VerifiedSignature`], the only thing `sign` hands out, has no public constructor.

use der::asn1::BitString;
use spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey,
    SignatureBitStringEncoding,
};

use super::CryptoError;
use super::alg::SignatureAlgorithm;
use super::pubkey::{PublicKey, ecdsa_raw_to_der};

/// Permission to call [`DigestSigner::sign_digest`]. Its field is private, so no code outside
/// `crypto::signer` can make one: a key's raw output is reachable only through [`sign`],
/// which verifies it. Not `Clone`: one seal, one signature.
///
/// ```compile_fail,E0423
/// // Outside `crypto::signer` a seal cannot be made, so `sign_digest` cannot be called.
/// let _ = hsm_pki::crypto::Seal(());
/// ```
#[derive(Debug)]
pub struct Seal(());

/// A private key that signs a digest computed by the caller.
///
/// Implemented by the token's key handle (`hsm`) and, in unit tests, by software keys. Only
/// [`sign`] can call `sign_digest` (it alone makes the [`Seal`]).
pub trait DigestSigner {
    /// What the key's failures look like; kept intact through [`SignError::Key`] (and
    /// `signature::Error`'s source) so the layer above can tell a token outage from a bad key.
    type Error: std::error::Error + Send + Sync + 'static;

    fn public_key(&self) -> &PublicKey;

    /// Sign `digest`, which is `alg.hash()` of the message. Returns the key's raw output:
    /// `r || s` for ECDSA (as CKM_ECDSA returns it), the signature octets for RSA.
    fn sign_digest(
        &self,
        seal: Seal,
        alg: SignatureAlgorithm,
        digest: &[u8],
    ) -> Result<Vec<u8>, Self::Error>;
}

/// Why [`sign`] produced no signature.
#[derive(Debug, thiserror::Error)]
pub enum SignError<E> {
    /// The key failed (for the token: an outage, a missing key, a refused mechanism).
    #[error(transparent)]
    Key(E),
    /// The algorithm does not fit the key, or the key's output did not verify.
    #[error(transparent)]
    Crypto(CryptoError),
}

/// A signature that verified over its message with the signer's public key. Only [`sign`]
/// makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSignature {
    alg: SignatureAlgorithm,
    /// `r || s` (each the field length) for ECDSA, the signature octets for RSA.
    fixed: Vec<u8>,
    /// The DER `Ecdsa-Sig-Value` for ECDSA; `None` for RSA, whose X.509 form is `fixed`.
    der: Option<Vec<u8>>,
}

impl VerifiedSignature {
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.alg
    }

    /// The encoding X.509 certificates, CRLs and CSRs carry in their signature BIT STRING:
    /// the DER `Ecdsa-Sig-Value` (RFC 5480 section 2.2), or the RSA signature octets.
    pub fn to_der(&self) -> &[u8] {
        self.der.as_deref().unwrap_or(&self.fixed)
    }

    /// The fixed-width encoding COSE (RFC 9053 section 2.1) and JWS (RFC 7518 section 3.4)
    /// carry: `r || s`, each left-padded to the curve's field length; the RSA signature
    /// octets (as long as the modulus).
    pub fn to_fixed(&self) -> &[u8] {
        &self.fixed
    }
}

impl SignatureBitStringEncoding for VerifiedSignature {
    fn to_bitstring(&self) -> der::Result<BitString> {
        BitString::from_bytes(self.to_der())
    }
}

/// Sign `message` with `key` under `alg`: hash it here, have the key sign the digest, verify
/// the result over `message` with the key's public key.
pub fn sign<K: DigestSigner + ?Sized>(
    key: &K,
    alg: SignatureAlgorithm,
    message: &[u8],
) -> Result<VerifiedSignature, SignError<K::Error>> {
    let public = key.public_key();
    if !alg.fits_key(public.algorithm()) {
        return Err(SignError::Crypto(CryptoError::KeyMismatch));
    }
    let digest = alg.hash().digest(message);
    let fixed = key
        .sign_digest(Seal(()), alg, &digest)
        .map_err(SignError::Key)?;
    let failed = |_| SignError::Crypto(CryptoError::SignatureCheckFailed);
    let der = match public.algorithm().curve() {
        // A wrong-length r || s cannot be a signature of this key.
        Some(curve) => Some(ecdsa_raw_to_der(curve, &fixed).map_err(failed)?),
        None => None,
    };
    let sig = VerifiedSignature { alg, fixed, der };
    public.verify(alg, message, sig.to_der()).map_err(failed)?;
    Ok(sig)
}

impl EncodePublicKey for PublicKey {
    fn to_public_key_der(&self) -> spki::Result<der::Document> {
        Ok(der::Document::try_from(self.to_spki_der())?)
    }
}

/// Adapts a [`DigestSigner`] plus a chosen [`SignatureAlgorithm`] to the RustCrypto traits.
pub struct KeySigner<'k, K: DigestSigner> {
    key: &'k K,
    alg: SignatureAlgorithm,
}

impl<'k, K: DigestSigner> KeySigner<'k, K> {
    /// Fails when the algorithm does not fit the key (an ECDSA algorithm on an RSA key).
    pub fn new(key: &'k K, alg: SignatureAlgorithm) -> Result<Self, CryptoError> {
        if !alg.fits_key(key.public_key().algorithm()) {
            return Err(CryptoError::KeyMismatch);
        }
        Ok(KeySigner { key, alg })
    }

    /// Sign with the key's default algorithm.
    pub fn with_default_algorithm(key: &'k K) -> Self {
        let alg = key.public_key().algorithm().default_signature();
        KeySigner { key, alg }
    }

    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.alg
    }

    pub fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }
}

impl<K: DigestSigner> signature::Keypair for KeySigner<'_, K> {
    type VerifyingKey = PublicKey;

    fn verifying_key(&self) -> PublicKey {
        self.key.public_key().clone()
    }
}

impl<K: DigestSigner> DynSignatureAlgorithmIdentifier for KeySigner<'_, K> {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        Ok(self.alg.algorithm_identifier())
    }
}

impl<K: DigestSigner> signature::Signer<VerifiedSignature> for KeySigner<'_, K> {
    /// [`sign`]; the key's own error, or the [`CryptoError`], is the `signature::Error`'s
    /// source.
    fn try_sign(&self, msg: &[u8]) -> Result<VerifiedSignature, signature::Error> {
        sign(self.key, self.alg, msg).map_err(|e| match e {
            SignError::Key(e) => signature::Error::from_source(e),
            SignError::Crypto(e) => signature::Error::from_source(e),
        })
    }
}

/// Software keys for unit tests of the layers above, which must not need a token.
#[cfg(test)]
pub mod testkeys {
    use super::*;
    use crate::crypto::{Curve, HashAlg};
    use aws_lc_rs::agreement;
    use aws_lc_rs::digest::Digest;
    use aws_lc_rs::signature::{self as lc, EcdsaKeyPair};

    /// The uncompressed public point of the private scalar `d` on `curve`.
    pub fn ec_public_point(curve: Curve, d: &[u8]) -> Vec<u8> {
        let alg = match curve {
            Curve::P256 => &agreement::ECDH_P256,
            Curve::P384 => &agreement::ECDH_P384,
            Curve::P521 => &agreement::ECDH_P521,
        };
        agreement::PrivateKey::from_private_key(alg, d)
            .unwrap()
            .compute_public_key()
            .unwrap()
            .as_ref()
            .to_vec()
    }

    /// A software ECDSA key that signs digests, like CKM_ECDSA.
    pub struct SoftEcKey {
        curve: Curve,
        pair: EcdsaKeyPair,
        pk: PublicKey,
        /// Flip a bit of every signature, to test that bad signatures are caught.
        pub corrupt: bool,
    }

    impl SoftEcKey {
        /// The key whose private scalar is `seed` repeated (at least 1; on P-521 the top
        /// octet is 0, to stay below the group order).
        pub fn new(curve: Curve, seed: u8) -> Self {
            let mut d = vec![seed.max(1); curve.field_len()];
            if curve == Curve::P521 {
                d[0] = 0;
            }
            let point = ec_public_point(curve, &d);
            let alg = match curve {
                Curve::P256 => &lc::ECDSA_P256_SHA256_FIXED_SIGNING,
                Curve::P384 => &lc::ECDSA_P384_SHA384_FIXED_SIGNING,
                Curve::P521 => &lc::ECDSA_P521_SHA512_FIXED_SIGNING,
            };
            let pair = EcdsaKeyPair::from_private_key_and_public_key(alg, &d, &point).unwrap();
            let pk = PublicKey::from_ec_point(curve, &point).unwrap();
            SoftEcKey {
                curve,
                pair,
                pk,
                corrupt: false,
            }
        }

        pub fn p256(seed: u8) -> Self {
            Self::new(Curve::P256, seed)
        }
    }

    impl DigestSigner for SoftEcKey {
        type Error = CryptoError;
        fn public_key(&self) -> &PublicKey {
            &self.pk
        }
        fn sign_digest(
            &self,
            _seal: Seal,
            _alg: SignatureAlgorithm,
            digest: &[u8],
        ) -> Result<Vec<u8>, CryptoError> {
            // aws-lc-rs signs a digest only of its key pair's own hash, but ECDSA uses just
            // the integer of the digest's leftmost bits (as many as the group order has; FIPS
            // 186-5 section 6.4.1). So a longer digest is cut to that hash's length and a
            // shorter one left-padded with zeros (same integer): the signature is the one
            // CKM_ECDSA makes over `digest` on this curve.
            let (hash, len): (HashAlg, usize) = match self.curve {
                Curve::P256 => (HashAlg::Sha256, 32),
                Curve::P384 => (HashAlg::Sha384, 48),
                Curve::P521 => (HashAlg::Sha512, 64),
            };
            let mut e = vec![0u8; len.saturating_sub(digest.len())];
            e.extend_from_slice(&digest[..digest.len().min(len)]);
            let digest = Digest::import_less_safe(&e, hash.aws_lc())
                .map_err(|_| CryptoError::DigestLength)?;
            let sig = self
                .pair
                .sign_digest(&digest)
                .map_err(|_| CryptoError::BadSignature)?;
            let mut raw = sig.as_ref().to_vec();
            if self.corrupt {
                raw[10] ^= 1;
            }
            Ok(raw)
        }
    }

    /// A software P-384 key, for tests of the default SHA-384 pairing.
    pub struct SoftP384Key(SoftEcKey);

    impl SoftP384Key {
        pub fn new(seed: u8) -> Self {
            SoftP384Key(SoftEcKey::new(Curve::P384, seed))
        }
    }

    impl DigestSigner for SoftP384Key {
        type Error = CryptoError;
        fn public_key(&self) -> &PublicKey {
            self.0.public_key()
        }
        fn sign_digest(
            &self,
            seal: Seal,
            alg: SignatureAlgorithm,
            digest: &[u8],
        ) -> Result<Vec<u8>, CryptoError> {
            self.0.sign_digest(seal, alg, digest)
        }
    }

    #[test]
    fn signer_verifies_its_own_output() {
        use signature::Signer;
        let key = SoftEcKey::p256(3);
        let signer = KeySigner::with_default_algorithm(&key);
        let sig = signer.try_sign(b"tbs").unwrap();
        key.public_key()
            .verify(SignatureAlgorithm::EcdsaSha256, b"tbs", sig.to_der())
            .unwrap();

        let mut bad = SoftEcKey::p256(3);
        bad.corrupt = true;
        let signer = KeySigner::with_default_algorithm(&bad);
        let err = signer.try_sign(b"tbs").unwrap_err();
        let src = std::error::Error::source(&err).unwrap();
        assert!(src.to_string().contains("did not verify"));
        assert!(KeySigner::new(&key, SignatureAlgorithm::RsaPssSha256).is_err());
    }

    /// Every hash on every curve: signed, verified in both encodings, and the encodings
    /// convert into each other.
    #[test]
    fn every_ecdsa_pairing_signs_and_verifies() {
        use crate::crypto::ecdsa_der_to_raw;
        use SignatureAlgorithm::*;
        for curve in [Curve::P256, Curve::P384, Curve::P521] {
            let key = SoftEcKey::new(curve, 7);
            for alg in [EcdsaSha256, EcdsaSha384, EcdsaSha512] {
                let what = format!("{} on {}", alg.name(), curve.jwk_name());
                let sig = sign(&key, alg, b"message").unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(sig.algorithm(), alg);
                assert_eq!(sig.to_fixed().len(), 2 * curve.field_len(), "{what}");
                assert_eq!(sig.to_der()[0], 0x30, "{what}");
                assert_eq!(
                    ecdsa_der_to_raw(curve, sig.to_der()).unwrap(),
                    sig.to_fixed(),
                    "{what}"
                );
                let pk = key.public_key();
                pk.verify(alg, b"message", sig.to_der()).unwrap();
                pk.verify_fixed(alg, b"message", sig.to_fixed()).unwrap();
                assert!(pk.verify(alg, b"messagE", sig.to_der()).is_err(), "{what}");
                assert!(pk.verify_fixed(alg, b"messagE", sig.to_fixed()).is_err());
                // The DER form is not accepted as the fixed one, nor the reverse.
                assert!(pk.verify_fixed(alg, b"message", sig.to_der()).is_err());
                assert!(pk.verify(alg, b"message", sig.to_fixed()).is_err());
            }
        }
    }

    #[test]
    fn sign_refuses_a_mismatched_algorithm_before_the_key() {
        struct Unreachable(PublicKey);
        impl DigestSigner for Unreachable {
            type Error = CryptoError;
            fn public_key(&self) -> &PublicKey {
                &self.0
            }
            fn sign_digest(
                &self,
                _: Seal,
                _: SignatureAlgorithm,
                _: &[u8],
            ) -> Result<Vec<u8>, CryptoError> {
                panic!("the key was asked to sign with an algorithm that does not fit it")
            }
        }
        let key = Unreachable(SoftEcKey::p256(4).public_key().clone());
        assert!(matches!(
            sign(&key, SignatureAlgorithm::RsaPkcs1Sha256, b"m"),
            Err(SignError::Crypto(CryptoError::KeyMismatch))
        ));
    }

    #[test]
    fn wrong_length_output_is_not_a_signature() {
        struct Short(SoftEcKey);
        impl DigestSigner for Short {
            type Error = CryptoError;
            fn public_key(&self) -> &PublicKey {
                self.0.public_key()
            }
            fn sign_digest(
                &self,
                seal: Seal,
                alg: SignatureAlgorithm,
                digest: &[u8],
            ) -> Result<Vec<u8>, CryptoError> {
                let mut raw = self.0.sign_digest(seal, alg, digest)?;
                raw.pop();
                Ok(raw)
            }
        }
        let key = Short(SoftEcKey::p256(5));
        assert!(matches!(
            sign(&key, SignatureAlgorithm::EcdsaSha256, b"m"),
            Err(SignError::Crypto(CryptoError::SignatureCheckFailed))
        ));
    }
}
