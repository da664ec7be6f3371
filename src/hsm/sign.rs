//! Digest signing with token keys.
//!
//! The hash is always computed by the caller, in Rust, and only the digest goes to the
//! token: CKM_ECDSA and CKM_RSA_PKCS / CKM_RSA_PKCS_PSS without a hash, never the
//! CKM_ECDSA_SHA256-style mechanisms. That keeps one hashing implementation for signing and
//! verifying, and keeps messages (certificate bodies) off the token.

use std::sync::atomic::Ordering;
use std::time::Instant;

use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};

use super::error::{HsmError, is_stale_handle};
use super::keys::TokenKey;
use crate::crypto::{DigestSigner, HashAlg, PublicKey, Seal, SignatureAlgorithm};

/// The mechanism and its input for `alg` over `digest`.
fn mechanism_for(
    alg: SignatureAlgorithm,
    digest: &[u8],
) -> Result<(Mechanism<'static>, Vec<u8>), HsmError> {
    let hash = alg.hash();
    if digest.len() != hash.output_len() {
        return Err(HsmError::other("digest length does not match the hash"));
    }
    if alg.is_ecdsa() {
        // CKM_ECDSA signs the given bytes as the hash value (v2.40 section 2.3.6).
        return Ok((Mechanism::Ecdsa, digest.to_vec()));
    }
    if alg.is_pss() {
        // CKM_RSA_PKCS_PSS takes the digest; hashAlg must name the hash that produced it
        // and MGF1 uses the same hash, sLen = hash length (RFC 4055 section 3.1; v2.40
        // section 2.1.14).
        let (hash_alg, mgf) = match hash {
            HashAlg::Sha256 => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
            HashAlg::Sha384 => (MechanismType::SHA384, PkcsMgfType::MGF1_SHA384),
            HashAlg::Sha512 => (MechanismType::SHA512, PkcsMgfType::MGF1_SHA512),
        };
        let params = PkcsPssParams {
            hash_alg,
            mgf,
            s_len: (hash.output_len() as u64).into(),
        };
        return Ok((Mechanism::RsaPkcsPss(params), digest.to_vec()));
    }
    // CKM_RSA_PKCS only pads (v2.40 section 2.1.6): the DigestInfo is ours to build.
    let info = hash
        .digest_info(digest)
        .map_err(|e| HsmError::other(e.to_string()))?;
    Ok((Mechanism::RsaPkcs, info))
}

impl TokenKey {
    fn sign_on_token(&self, alg: SignatureAlgorithm, digest: &[u8]) -> Result<Vec<u8>, HsmError> {
        if !alg.fits_key(self.algorithm()) {
            return Err(HsmError::invalid_key(format!(
                "{} cannot sign with a {} key",
                alg.name(),
                self.algorithm().name()
            )));
        }
        let (mechanism, data) = mechanism_for(alg, digest)?;
        let inner = &self.token.inner;
        inner.with_live(|live| {
            let mut s = live.pool.checkout()?;
            let handle = {
                let cur = *self.handles.lock().unwrap_or_else(|p| p.into_inner());
                if cur.0 == live.generation {
                    cur.1
                } else {
                    // The context was rebuilt since this key was loaded: old handles mean
                    // nothing now (or, worse, another object).
                    self.relocate(live, &s, false)?
                }
            };
            let sig = match s.sign(&mechanism, handle.private, &data) {
                Ok(sig) => sig,
                Err(e) if is_stale_handle(&e) => {
                    // Destroyed and re-created under the same label, or the token's storage
                    // is gone; a fresh search tells which (and probes before KeyNotFound).
                    let h = self.relocate(live, &s, true)?;
                    s.sign(&mechanism, h.private, &data)
                        .map_err(|e| s.fail(e).for_label(&self.label))?
                }
                Err(e) => return Err(s.fail(e).for_label(&self.label)),
            };
            if let Some(curve) = self.algorithm().curve()
                && sig.len() != 2 * curve.field_len()
            {
                return Err(HsmError::other(
                    "CKM_ECDSA returned a signature of wrong length",
                ));
            }
            Ok(sig)
        })
    }
}

impl DigestSigner for TokenKey {
    type Error = HsmError;

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// Blocks on the token. ECDSA returns `r || s`, RSA the signature octets. Only
    /// `crypto::sign` can call this (it alone makes the `Seal`), and it verifies the result
    /// with the public key before anyone sees it.
    fn sign_digest(
        &self,
        _seal: Seal,
        alg: SignatureAlgorithm,
        digest: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        // Timed around the whole call, pool wait and handle re-resolution included: that is
        // the latency a certificate request pays for the token.
        let started = Instant::now();
        let result = self.sign_on_token(alg, digest);
        self.token.inner.sign_latency.record(started.elapsed());
        let counter = match result {
            Ok(_) => &self.token.inner.signatures,
            Err(_) => &self.token.inner.sign_errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanism_refuses_a_digest_of_the_wrong_length() {
        use SignatureAlgorithm::*;
        for alg in [EcdsaSha256, RsaPkcs1Sha384, RsaPssSha512] {
            let len = alg.hash().output_len();
            assert!(mechanism_for(alg, &vec![0u8; len]).is_ok(), "{alg:?}");
            assert!(mechanism_for(alg, &[0u8; 20]).is_err(), "{alg:?}");
            assert!(mechanism_for(alg, &vec![0u8; len + 1]).is_err(), "{alg:?}");
        }
        // CKM_RSA_PKCS gets the DigestInfo, the others the bare digest.
        let (_, data) = mechanism_for(RsaPkcs1Sha256, &[7u8; 32]).unwrap();
        assert_eq!(data.len(), 19 + 32);
        let (_, data) = mechanism_for(EcdsaSha384, &[7u8; 48]).unwrap();
        assert_eq!(data, [7u8; 48]);
    }
}
