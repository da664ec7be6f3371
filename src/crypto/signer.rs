//! The seam between a private key that lives elsewhere (the token) and RustCrypto's
//! `signature`/`spki` traits, which x509-cert's builders sign through.
//!
//! The message is hashed here, in Rust; only the digest crosses to the key (DEVELOPERS.md rule
//! 2). The signature that comes back is verified with the key's public half before it is
//! handed to the caller, so a faulty token or a wrong key handle can never produce a
//! certificate that does not verify.

use der::asn1::BitString;
use spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey,
    SignatureBitStringEncoding,
};

use super::CryptoError;
use super::alg::SignatureAlgorithm;
use super::pubkey::{PublicKey, ecdsa_raw_to_der};

/// A private key that signs a digest computed by the caller.
///
/// Implemented by the token's key handle (`hsm`) and, in unit tests, by software keys.
pub trait DigestSigner {
    /// What the key's failures look like; kept intact through `signature::Error` so the layer
    /// above can tell a token outage from a bad key.
    type Error: std::error::Error + Send + Sync + 'static;

    fn public_key(&self) -> &PublicKey;

    /// Sign `digest`, which is `alg.hash()` of the message. Returns the key's raw output:
    /// `r || s` for ECDSA (as CKM_ECDSA returns it), the signature octets for RSA.
    fn sign_digest(&self, alg: SignatureAlgorithm, digest: &[u8]) -> Result<Vec<u8>, Self::Error>;
}

/// A signature in the encoding X.509 carries in its BIT STRING.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct X509Signature(pub Vec<u8>);

impl SignatureBitStringEncoding for X509Signature {
    fn to_bitstring(&self) -> der::Result<BitString> {
        BitString::from_bytes(&self.0)
    }
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

impl<K: DigestSigner> signature::Signer<X509Signature> for KeySigner<'_, K> {
    fn try_sign(&self, msg: &[u8]) -> Result<X509Signature, signature::Error> {
        let digest = self.alg.hash().digest(msg);
        let raw = self
            .key
            .sign_digest(self.alg, &digest)
            .map_err(signature::Error::from_source)?;
        let encoded = match self.key.public_key().algorithm().curve() {
            Some(curve) => ecdsa_raw_to_der(curve, &raw).map_err(signature::Error::from_source)?,
            None => raw,
        };
        self.key
            .public_key()
            .verify_digest(self.alg, &digest, &encoded)
            .map_err(|_| signature::Error::from_source(CryptoError::SignatureCheckFailed))?;
        Ok(X509Signature(encoded))
    }
}

/// Software keys for unit tests of the layers above, which must not need a token.
#[cfg(test)]
pub mod testkeys {
    use super::*;
    use crate::crypto::Curve;
    use signature::hazmat::PrehashSigner;

    pub struct SoftEcKey {
        sk: p256::ecdsa::SigningKey,
        pk: PublicKey,
        /// Flip a bit of every signature, to test that bad signatures are caught.
        pub corrupt: bool,
    }

    impl SoftEcKey {
        pub fn p256(seed: u8) -> Self {
            let sk = p256::ecdsa::SigningKey::from_slice(&[seed.max(1); 32]).unwrap();
            let point = sk.verifying_key().to_sec1_point(false);
            let pk = PublicKey::from_ec_point(Curve::P256, point.as_bytes()).unwrap();
            SoftEcKey {
                sk,
                pk,
                corrupt: false,
            }
        }
    }

    impl DigestSigner for SoftEcKey {
        type Error = CryptoError;
        fn public_key(&self) -> &PublicKey {
            &self.pk
        }
        fn sign_digest(
            &self,
            _alg: SignatureAlgorithm,
            digest: &[u8],
        ) -> Result<Vec<u8>, CryptoError> {
            let sig: p256::ecdsa::Signature = self
                .sk
                .sign_prehash(digest)
                .map_err(|_| CryptoError::BadSignature)?;
            let mut raw = sig.to_bytes().to_vec();
            if self.corrupt {
                raw[10] ^= 1;
            }
            Ok(raw)
        }
    }

    /// A software P-384 key, for tests of the default SHA-384 pairing.
    pub struct SoftP384Key {
        sk: p384::ecdsa::SigningKey,
        pk: PublicKey,
    }

    impl SoftP384Key {
        pub fn new(seed: u8) -> Self {
            let sk = p384::ecdsa::SigningKey::from_slice(&[seed.max(1); 48]).unwrap();
            let point = sk.verifying_key().to_sec1_point(false);
            let pk = PublicKey::from_ec_point(Curve::P384, point.as_bytes()).unwrap();
            SoftP384Key { sk, pk }
        }
    }

    impl DigestSigner for SoftP384Key {
        type Error = CryptoError;
        fn public_key(&self) -> &PublicKey {
            &self.pk
        }
        fn sign_digest(
            &self,
            _alg: SignatureAlgorithm,
            digest: &[u8],
        ) -> Result<Vec<u8>, CryptoError> {
            let sig: p384::ecdsa::Signature = self
                .sk
                .sign_prehash(digest)
                .map_err(|_| CryptoError::BadSignature)?;
            Ok(sig.to_bytes().to_vec())
        }
    }

    #[test]
    fn signer_verifies_its_own_output() {
        use signature::Signer;
        let key = SoftEcKey::p256(3);
        let signer = KeySigner::with_default_algorithm(&key);
        let sig = signer.try_sign(b"tbs").unwrap();
        key.public_key()
            .verify(SignatureAlgorithm::EcdsaSha256, b"tbs", &sig.0)
            .unwrap();

        let mut bad = SoftEcKey::p256(3);
        bad.corrupt = true;
        let signer = KeySigner::with_default_algorithm(&bad);
        let err = signer.try_sign(b"tbs").unwrap_err();
        let src = std::error::Error::source(&err).unwrap();
        assert!(src.to_string().contains("did not verify"));
        assert!(KeySigner::new(&key, SignatureAlgorithm::RsaPssSha256).is_err());
    }
}
