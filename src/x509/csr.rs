//! PKCS#10 certification requests (RFC 2986): building with a token key, parsing and checking
//! proof of possession.
//!
//! Requested extensions travel in one `extensionRequest` attribute (PKCS#9, RFC 2985 5.4.2).
//! The CSR is assembled by hand rather than with x509-cert's RequestBuilder, which always adds
//! an extensionRequest, even an empty one (ExtensionReq is SIZE (1..MAX)).

use const_oid::AssociatedOid;
use der::asn1::{Any, SetOfVec};
use der::{Decode, Encode};
use signature::Signer;
use x509_cert::attr::Attribute;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, SubjectAltName};
use x509_cert::name::Name;
use x509_cert::request::{CertReq, CertReqInfo, ExtensionReq, Version};

use super::cert::{split_signed, verify_signed};
use super::error::{X509Error, enc};
use super::ext::{
    AltNames, ExtensionView, KeyUsageName, check_ec_key_usage, duplicate_extensions, extension,
    key_usage_flags, parse_oids,
};
use super::name::{DnFields, StringEncoding};
use super::pem::{self, CSR_LABEL, CSR_LABEL_LEGACY};
use crate::crypto::{DigestSigner, KeySigner, PublicKey, SignatureAlgorithm};

/// Most attributes accepted in a CSR (bounds work on hostile input).
const MAX_ATTRIBUTES: usize = 16;

/// What to request.
#[derive(Debug, Clone, Default)]
pub struct CsrSpec {
    pub subject: DnFields,
    pub string_encoding: StringEncoding,
    pub subject_alt_names: Option<AltNames>,
    /// Requested keyUsage (e.g. DigitalSignature for a VICAL signer). Empty: not requested.
    pub key_usage: Vec<KeyUsageName>,
    /// Requested EKU OIDs (e.g. ISO/IEC 18013-5 VICAL signing `1.0.18013.5.1.8`).
    pub extended_key_usage: Vec<String>,
}

/// A CSR whose self-signature has been verified.
#[derive(Debug, Clone)]
pub struct ParsedCsr {
    der: Vec<u8>,
    pub subject: DnFields,
    pub subject_name: Name,
    pub public_key: PublicKey,
    pub signature_algorithm: SignatureAlgorithm,
    /// The extensions of the extensionRequest attribute (empty without one).
    pub requested_extensions: Vec<Extension>,
}

impl ParsedCsr {
    /// Decode DER, then verify the proof of possession: the request must be signed by the
    /// private key of the public key it carries (RFC 2986 section 3, step 3).
    pub fn from_der(der: &[u8]) -> Result<Self, X509Error> {
        Self::decode(der, None)
    }

    /// Decode DER. With `verified`, the (tbs, signature) pair that was already verified with
    /// the request's key (by `KeySigner` while building it): the request must carry exactly
    /// those bytes instead of being verified a second time.
    fn decode(der: &[u8], verified: Option<(&[u8], &[u8])>) -> Result<Self, X509Error> {
        pem::check_size(der, "CSR")?;
        let req = CertReq::from_der(der).map_err(|e| X509Error::malformed("CSR", e))?;
        let (tbs, alg_id, sig) = split_signed(der, "CSR")?;
        let public_key = PublicKey::from_spki(req.info.public_key.clone())?;
        let signature_algorithm = match verified {
            None => verify_signed(&public_key, &alg_id, &tbs, &sig, "CSR")?,
            Some((v_tbs, v_sig)) => {
                if tbs != v_tbs || sig != v_sig {
                    return Err(enc(
                        "built CSR differs from the request info and signature that were verified",
                    ));
                }
                SignatureAlgorithm::from_algorithm_identifier(&alg_id)?
            }
        };
        if req.info.attributes.len() > MAX_ATTRIBUTES {
            return Err(X509Error::invalid("csr.attributes", "too many attributes"));
        }
        let mut requested_extensions = Vec::new();
        let mut seen_ext_req = false;
        for attr in req.info.attributes.iter() {
            if attr.oid != ExtensionReq::OID {
                continue;
            }
            // PKCS#9 extensionRequest is SINGLE VALUE TRUE.
            if seen_ext_req || attr.values.len() != 1 {
                return Err(X509Error::invalid(
                    "csr.attributes",
                    "extensionRequest must appear once with a single value",
                ));
            }
            seen_ext_req = true;
            for v in attr.values.iter() {
                let exts = Vec::<Extension>::from_der(&v.to_der().map_err(enc)?)
                    .map_err(|e| X509Error::malformed("CSR extensionRequest", e))?;
                requested_extensions.extend(exts);
            }
        }
        if let Some(oid) = duplicate_extensions(&requested_extensions).first() {
            return Err(X509Error::invalid(
                "csr.extensions",
                format!("extension {oid} is requested more than once"),
            ));
        }
        Ok(ParsedCsr {
            der: der.to_vec(),
            subject: DnFields::from_name(&req.info.subject)?,
            subject_name: req.info.subject,
            public_key,
            signature_algorithm,
            requested_extensions,
        })
    }

    /// Decode PEM (`CERTIFICATE REQUEST` or the legacy `NEW CERTIFICATE REQUEST`).
    pub fn from_pem(pem_text: &[u8]) -> Result<Self, X509Error> {
        let der = pem::decode_one(pem_text, &[CSR_LABEL, CSR_LABEL_LEGACY], "CSR")?;
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

    pub fn to_pem(&self) -> Result<String, X509Error> {
        pem::encode(CSR_LABEL, &self.der)
    }

    /// Typed access to the requested extensions.
    pub fn ext(&self) -> ExtensionView<'_> {
        ExtensionView(&self.requested_extensions)
    }

    /// The requested subjectAltName entries, if any.
    pub fn subject_alt_names(&self) -> Result<Option<AltNames>, X509Error> {
        Ok(self.ext().subject_alt_names()?.map(|f| f.value))
    }

    /// Whether `cert_key` is the key this CSR proves possession of.
    pub fn same_key_as(&self, cert_key: &PublicKey) -> bool {
        self.public_key.to_spki_der() == cert_key.to_spki_der()
    }
}

/// Build and sign a CSR with `key`; the result is parsed back and its signature verified.
pub fn build_csr<K: DigestSigner>(
    spec: &CsrSpec,
    key: &K,
    signature_algorithm: Option<SignatureAlgorithm>,
) -> Result<ParsedCsr, X509Error> {
    let subject = spec.subject.to_name(spec.string_encoding, "subjectName")?;
    let mut exts: Vec<Extension> = Vec::new();
    if let Some(names) = &spec.subject_alt_names
        && !names.is_empty()
    {
        let gn = names.to_general_names("subjectAlternativeNames")?;
        exts.push(extension(subject.is_empty(), &SubjectAltName(gn))?);
    }
    if !spec.key_usage.is_empty() {
        let flags = key_usage_flags(&spec.key_usage, "keyUsage")?;
        if key.public_key().algorithm().is_ec() {
            check_ec_key_usage(flags, "keyUsage")?;
        }
        exts.push(extension(true, &KeyUsage(flags))?);
    }
    let eku = parse_oids(&spec.extended_key_usage, "extendedKeyUsage")?;
    if !eku.is_empty() {
        exts.push(extension(false, &ExtendedKeyUsage(eku))?);
    }
    if subject.is_empty() && exts.is_empty() {
        return Err(X509Error::invalid(
            "subjectName",
            "a request needs a subject or subject alternative names",
        ));
    }
    let mut attributes = SetOfVec::new();
    if !exts.is_empty() {
        let value = Any::encode_from(&exts).map_err(enc)?;
        attributes
            .insert(Attribute {
                oid: ExtensionReq::OID,
                values: SetOfVec::try_from(vec![value]).map_err(enc)?,
            })
            .map_err(enc)?;
    }
    let info = CertReqInfo {
        version: Version::V1,
        subject,
        public_key: key.public_key().spki().clone(),
        attributes,
    };
    let signer = match signature_algorithm {
        Some(alg) => KeySigner::new(key, alg)?,
        None => KeySigner::with_default_algorithm(key),
    };
    let tbs = info.to_der().map_err(enc)?;
    let sig = signer.try_sign(&tbs).map_err(X509Error::Signing)?;
    let req = CertReq {
        info,
        algorithm: signer.algorithm().algorithm_identifier(),
        signature: der::asn1::BitString::from_bytes(sig.to_der()).map_err(enc)?,
    };
    // `try_sign` verified the signature over `tbs` with the key's public half; the request
    // is decoded like foreign input but not verified twice.
    ParsedCsr::decode(&req.to_der().map_err(enc)?, Some((&tbs, sig.to_der())))
}
