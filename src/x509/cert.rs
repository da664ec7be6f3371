//! Parsed certificates: decoding, signature and validity checks, fingerprints, extensions.
//!
//! A [`ParsedCertificate`] keeps the exact DER it was decoded from. Signatures are checked over
//! the original tbsCertificate bytes, never a re-encoding: x509-cert's RFC 5280 profile
//! re-encodes pre-2050 GeneralizedTime as UTCTime, so a certificate made elsewhere would not
//! survive a round trip byte for byte.

use der::asn1::{AnyRef, BitString};
use der::{Decode, Encode, Sequence};
use sha2::Digest;
use spki::AlgorithmIdentifierOwned;
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::ext::Extension;

use super::error::{X509Error, enc};
use super::ext::{ExtensionView, duplicate_extensions};
use super::name::DnFields;
use super::pem::{self, CERTIFICATE_LABEL};
use super::validity::from_x509_time;
use crate::crypto::{PublicKey, SignatureAlgorithm};

/// `SEQUENCE { toBeSigned, signatureAlgorithm, signature }` with the first element kept raw:
/// the shape of both Certificate (RFC 5280 4.1) and CertificationRequest (RFC 2986 4.2).
#[derive(Sequence)]
pub(crate) struct RawSigned<'a> {
    pub to_be_signed: AnyRef<'a>,
    pub algorithm: AlgorithmIdentifierOwned,
    pub signature: BitString,
}

/// Split signed DER into (exact TBS bytes, algorithm, signature bytes).
pub(crate) fn split_signed(
    der: &[u8],
    what: &'static str,
) -> Result<(Vec<u8>, AlgorithmIdentifierOwned, Vec<u8>), X509Error> {
    let raw = RawSigned::from_der(der).map_err(|e| X509Error::malformed(what, e))?;
    let tbs = raw.to_be_signed.to_der().map_err(enc)?;
    let sig = raw
        .signature
        .as_bytes()
        .ok_or_else(|| X509Error::malformed(what, "signature BIT STRING has unused bits"))?
        .to_vec();
    Ok((tbs, raw.algorithm, sig))
}

/// Verify `sig` over `tbs` with `key`, reporting failures as about `what`.
pub(crate) fn verify_signed(
    key: &PublicKey,
    alg_id: &AlgorithmIdentifierOwned,
    tbs: &[u8],
    sig: &[u8],
    what: &'static str,
) -> Result<SignatureAlgorithm, X509Error> {
    let alg = SignatureAlgorithm::from_algorithm_identifier(alg_id)?;
    key.verify(alg, tbs, sig)
        .map_err(|_| X509Error::BadSignature { what })?;
    Ok(alg)
}

/// A decoded certificate together with its exact DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCertificate {
    der: Vec<u8>,
    tbs_der: Vec<u8>,
    signature: Vec<u8>,
    cert: Certificate,
}

impl ParsedCertificate {
    /// Decode one DER certificate; trailing bytes are refused. Also refuses certificates that
    /// repeat an extension (RFC 5280 4.2) or whose outer and inner signature algorithms differ
    /// (RFC 5280 4.1.1.2: "This field MUST contain the same algorithm identifier as the
    /// signature field in the sequence tbsCertificate").
    pub fn from_der(der: &[u8]) -> Result<Self, X509Error> {
        pem::check_size(der, "certificate")?;
        let cert =
            Certificate::from_der(der).map_err(|e| X509Error::malformed("certificate", e))?;
        let (tbs_der, outer_alg, signature) = split_signed(der, "certificate")?;
        if &outer_alg != cert.tbs_certificate().signature() {
            return Err(X509Error::invalid(
                "certificate.signatureAlgorithm",
                "differs from tbsCertificate.signature (RFC 5280 4.1.1.2)",
            ));
        }
        let exts = cert
            .tbs_certificate()
            .extensions()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if let Some(oid) = duplicate_extensions(exts).first() {
            return Err(X509Error::invalid(
                "certificate.extensions",
                format!("extension {oid} appears more than once (RFC 5280 4.2)"),
            ));
        }
        Ok(ParsedCertificate {
            der: der.to_vec(),
            tbs_der,
            signature,
            cert,
        })
    }

    /// Decode one PEM `CERTIFICATE` block (only whitespace around it).
    pub fn from_pem(pem_text: &[u8]) -> Result<Self, X509Error> {
        let der = pem::decode_one(pem_text, &[CERTIFICATE_LABEL], "certificate")?;
        Self::from_der(&der)
    }

    /// PEM or DER, told apart by the first byte.
    pub fn parse(input: &[u8]) -> Result<Self, X509Error> {
        if pem::looks_like_pem(input) {
            Self::from_pem(input)
        } else {
            Self::from_der(input)
        }
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    pub fn into_certificate(self) -> Certificate {
        self.cert
    }

    pub fn to_pem(&self) -> Result<String, X509Error> {
        pem::encode(CERTIFICATE_LABEL, &self.der)
    }

    /// SHA-256 of the DER, lowercase hex (the usual "certificate fingerprint").
    pub fn fingerprint_sha256(&self) -> String {
        super::hex(&sha2::Sha256::digest(&self.der))
    }

    /// Serial number, lowercase hex of its content octets.
    pub fn serial_hex(&self) -> String {
        super::hex(self.cert.tbs_certificate().serial_number().as_bytes())
    }

    pub fn subject(&self) -> Result<DnFields, X509Error> {
        DnFields::from_name(self.cert.tbs_certificate().subject())
    }

    pub fn issuer(&self) -> Result<DnFields, X509Error> {
        DnFields::from_name(self.cert.tbs_certificate().issuer())
    }

    /// Issuer name equals subject name (RFC 5280 6.1: "self-issued").
    pub fn is_self_issued(&self) -> bool {
        self.cert.tbs_certificate().issuer() == self.cert.tbs_certificate().subject()
    }

    pub fn not_before(&self) -> OffsetDateTime {
        from_x509_time(&self.cert.tbs_certificate().validity().not_before)
    }

    pub fn not_after(&self) -> OffsetDateTime {
        from_x509_time(&self.cert.tbs_certificate().validity().not_after)
    }

    /// The subject public key, validated (on-curve point, accepted RSA size).
    pub fn public_key(&self) -> Result<PublicKey, X509Error> {
        public_key_of(&self.cert)
    }

    pub fn signature_algorithm(&self) -> Result<SignatureAlgorithm, X509Error> {
        Ok(SignatureAlgorithm::from_algorithm_identifier(
            self.cert.signature_algorithm(),
        )?)
    }

    /// Verify the certificate's signature with `issuer` (its own key for a self-signed one).
    pub fn verify_signed_by(&self, issuer: &PublicKey) -> Result<(), X509Error> {
        verify_signed(
            issuer,
            self.cert.signature_algorithm(),
            &self.tbs_der,
            &self.signature,
            "certificate",
        )
        .map(|_| ())
    }

    /// Whether this certificate's tbsCertificate and signature are exactly `tbs` and
    /// `signature` (a signature verified over `tbs` before the certificate was assembled).
    pub(crate) fn carries_signed(&self, tbs: &[u8], signature: &[u8]) -> bool {
        self.tbs_der == tbs && self.signature == signature
    }

    /// Check `now` lies in [notBefore, notAfter] (RFC 5280 4.1.2.5: both bounds inclusive).
    /// Pure: the caller supplies the time.
    pub fn check_valid_at(&self, now: OffsetDateTime) -> Result<(), X509Error> {
        if now < self.not_before() {
            return Err(X509Error::OutsideValidity("not yet valid"));
        }
        if now > self.not_after() {
            return Err(X509Error::OutsideValidity("expired"));
        }
        Ok(())
    }

    pub fn extensions(&self) -> &[Extension] {
        self.cert
            .tbs_certificate()
            .extensions()
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Typed extension accessors: `cert.ext().basic_constraints()` etc.
    pub fn ext(&self) -> ExtensionView<'_> {
        ExtensionView(self.extensions())
    }

    /// basicConstraints cA (an unreadable extension counts as not a CA).
    pub fn is_ca(&self) -> bool {
        self.ext()
            .basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|b| b.value.ca)
    }

    /// Whether this certificate certifies the same key as `key`.
    pub fn has_public_key(&self, key: &PublicKey) -> bool {
        self.public_key()
            .is_ok_and(|k| k.to_spki_der() == key.to_spki_der())
    }
}

/// The validated subject public key of any certificate.
pub fn public_key_of(cert: &Certificate) -> Result<PublicKey, X509Error> {
    Ok(PublicKey::from_spki(
        cert.tbs_certificate().subject_public_key_info().clone(),
    )?)
}

/// Encode a certificate built in memory and parse it back, so that everything leaving the
/// engine has been through the same decoder as foreign input.
pub fn reparse(cert: &Certificate) -> Result<ParsedCertificate, X509Error> {
    ParsedCertificate::from_der(&cert.to_der().map_err(enc)?)
}
