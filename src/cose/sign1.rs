//! IssuerAuth (ISO/IEC 18013-5 9.1.2.4): the COSE_Sign1 (RFC 9052 section 4.2) over
//! MobileSecurityObjectBytes, made in two pure steps so that the signature can come from the
//! token: [`prepare`] gives the exact Sig_structure bytes, the caller has them signed through
//! `crypto::sign` (hash here, digest to the token, verify here), and [`finish`] takes the
//! raw `r || s` and checks it again against the document signer certificate's key before it
//! becomes an IssuerAuth.
//!
//! ```text
//! COSE_Sign1 = [ protected: bstr .cbor {1: alg}, unprotected: {33: x5chain},
//!                payload: bstr (MobileSecurityObjectBytes), signature: bstr (r || s) ]
//! Sig_structure = ["Signature1", protected, h'', payload]
//! ```

use ciborium::Value;
use coset::{AsCborValue, CborSerializable, CoseSign1, HeaderBuilder, ProtectedHeader, iana};

use super::CoseError;
use super::mso::{Mso, MsoPayload, Origin};
use super::tdate::format_tdate;
use crate::crypto::{Curve, PublicKey, SignatureAlgorithm};
use crate::x509::ParsedCertificate;

/// The COSE header parameter `typ` (RFC 9596), which coset 0.4 does not name.
pub(super) const HEADER_TYP: i64 = 16;

/// The COSE algorithm of a document signer key, by its curve: ES256, ES384, ES512 (RFC 9053
/// section 2.1) for P-256, P-384, P-521, each hash matched to its curve's strength as
/// `KeyAlgorithm::default_signature` does for certificates.
pub fn cose_algorithm(curve: Curve) -> (SignatureAlgorithm, iana::Algorithm) {
    match curve {
        Curve::P256 => (SignatureAlgorithm::EcdsaSha256, iana::Algorithm::ES256),
        Curve::P384 => (SignatureAlgorithm::EcdsaSha384, iana::Algorithm::ES384),
        Curve::P521 => (SignatureAlgorithm::EcdsaSha512, iana::Algorithm::ES512),
    }
}

/// An IssuerAuth waiting for its signature.
#[derive(Debug, Clone)]
pub struct ToBeSigned {
    draft: Draft,
    mso: Mso,
}

impl ToBeSigned {
    /// The Sig_structure: what `crypto::sign` signs.
    pub fn bytes(&self) -> &[u8] {
        &self.draft.tbs
    }

    /// The algorithm to sign with, from the document signer key's curve.
    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.draft.alg
    }

    /// The document signer's public key (the x5chain's first certificate's).
    pub fn public_key(&self) -> &PublicKey {
        &self.draft.key
    }

    pub fn mso(&self) -> &Mso {
        &self.mso
    }

    /// MobileSecurityObjectBytes, the payload.
    pub fn payload(&self) -> &[u8] {
        self.draft.payload()
    }
}

/// Build the unsigned IssuerAuth of `payload` for the document signer of `x5chain` (its
/// certificate first, then any intermediates up to but not including the IACA, which the
/// reader has already). Refuses an MSO whose validity the certificate does not cover: validFrom
/// not before its notBefore, validUntil not after its notAfter, signed inside both.
pub fn prepare(
    payload: MsoPayload,
    x5chain: &[ParsedCertificate],
) -> Result<ToBeSigned, CoseError> {
    const SIGNER: &str = "document signer";
    let ds = x5chain
        .first()
        .ok_or_else(|| CoseError::caller("x5chain must hold the document signer certificate"))?;
    if x5chain.iter().any(ParsedCertificate::is_self_issued) {
        return Err(CoseError::caller(
            "x5chain must not hold a self-issued certificate (the IACA is not sent)",
        ));
    }
    check_validity(&payload, ds)?;
    let draft = Draft::new(payload.bytes, x5chain, SIGNER)?;
    Ok(ToBeSigned {
        draft,
        mso: payload.mso,
    })
}

/// A COSE_Sign1 with an attached payload (RFC 9052 section 4.2) whose Sig_structure is
/// fixed, waiting for the raw `r || s` of its signer: what IssuerAuth and a signed VICAL
/// (ISO/IEC 18013-5 Annex C) share. Protected `{1: alg}` with the algorithm of the first
/// x5chain certificate's curve, unprotected `{33: x5chain}`, no external AAD.
#[derive(Debug, Clone)]
pub(super) struct Draft {
    sign1: CoseSign1,
    tbs: Vec<u8>,
    alg: SignatureAlgorithm,
    curve: Curve,
    key: PublicKey,
}

impl Draft {
    /// `signer` names the first certificate's role in error messages ("document signer").
    pub(super) fn new(
        payload: Vec<u8>,
        x5chain: &[ParsedCertificate],
        signer: &str,
    ) -> Result<Self, CoseError> {
        Self::typed(payload, x5chain, signer, None)
    }

    /// As [`Draft::new`], with a protected `typ` (16, RFC 9596) after the algorithm when
    /// given: a Status List Token must carry one, IssuerAuth and the VICAL carry none.
    pub(super) fn typed(
        payload: Vec<u8>,
        x5chain: &[ParsedCertificate],
        signer: &str,
        typ: Option<&str>,
    ) -> Result<Self, CoseError> {
        let leaf = x5chain.first().ok_or_else(|| {
            CoseError::caller(format!("x5chain must hold the {signer} certificate"))
        })?;
        let key = leaf
            .public_key()
            .map_err(|e| CoseError::caller(format!("{signer} key: {e}")))?;
        let curve = key
            .algorithm()
            .curve()
            .ok_or_else(|| CoseError::caller(format!("the {signer} key must be an EC key")))?;
        let (alg, cose_alg) = cose_algorithm(curve);
        let mut header = HeaderBuilder::new().algorithm(cose_alg);
        if let Some(typ) = typ {
            header = header.value(HEADER_TYP, Value::Text(typ.to_string()));
        }
        let header = header.build();
        let encoded_header = header
            .clone()
            .to_vec()
            .map_err(|e| CoseError::caller(format!("protected header: {e}")))?;
        let x5chain_value = match x5chain {
            // RFC 9360 section 2: one certificate as a bstr, more as an array.
            [only] => Value::Bytes(only.der().to_vec()),
            chain => Value::Array(
                chain
                    .iter()
                    .map(|c| Value::Bytes(c.der().to_vec()))
                    .collect(),
            ),
        };
        let sign1 = CoseSign1 {
            // The bytes are fixed here, so the Sig_structure and the COSE_Sign1 carry the same.
            protected: ProtectedHeader {
                original_data: Some(encoded_header),
                header,
            },
            unprotected: HeaderBuilder::new()
                .value(iana::HeaderParameter::X5Chain as i64, x5chain_value)
                .build(),
            payload: Some(payload),
            signature: Vec::new(),
        };
        let tbs = sign1.tbs_data(b"");
        Ok(Draft {
            sign1,
            tbs,
            alg,
            curve,
            key,
        })
    }

    /// The Sig_structure.
    pub(super) fn tbs(&self) -> &[u8] {
        &self.tbs
    }

    pub(super) fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.alg
    }

    pub(super) fn public_key(&self) -> &PublicKey {
        &self.key
    }

    pub(super) fn payload(&self) -> &[u8] {
        self.sign1.payload.as_deref().unwrap_or_default()
    }

    /// Complete with `signature`, the raw `r || s` of [`Draft::tbs`]: accepted only at the
    /// curve's length and if it verifies with the first x5chain certificate's key, so a
    /// token key paired with the wrong certificate fails here. Returns the COSE_Sign1 and
    /// its untagged encoding.
    pub(super) fn complete(
        self,
        signature: &[u8],
        signer: &str,
    ) -> Result<(CoseSign1, Vec<u8>), CoseError> {
        let want = 2 * self.curve.field_len();
        if signature.len() != want {
            return Err(CoseError::caller(format!(
                "the signature is {} bytes; {} takes r || s of {want}",
                signature.len(),
                self.alg.name()
            )));
        }
        self.key
            .verify_fixed(self.alg, &self.tbs, signature)
            .map_err(|_| {
                CoseError::caller(format!(
                    "the signature does not verify with the {signer} certificate"
                ))
            })?;
        let mut sign1 = self.sign1;
        sign1.signature = signature.to_vec();
        let bytes = sign1
            .clone()
            .to_vec()
            .map_err(|e| CoseError::caller(format!("COSE_Sign1: {e}")))?;
        Ok((sign1, bytes))
    }
}

fn check_validity(payload: &MsoPayload, ds: &ParsedCertificate) -> Result<(), CoseError> {
    let v = payload.mso.validity();
    let (nb, na) = (ds.not_before(), ds.not_after());
    if v.signed() < nb || v.signed() > na {
        let what = format!(
            "is outside the document signer certificate's validity ({} to {})",
            format_tdate(nb),
            format_tdate(na)
        );
        return Err(match payload.origin {
            Origin::Built => CoseError::caller(format!("the time of signing {what}")),
            Origin::Parsed => CoseError::invalid(payload.validity_field("signed"), what),
        });
    }
    if v.valid_from() < nb {
        return Err(CoseError::invalid(
            payload.validity_field("validFrom"),
            format!(
                "is before the document signer certificate's notBefore ({})",
                format_tdate(nb)
            ),
        ));
    }
    if v.valid_until() > na {
        return Err(CoseError::invalid(
            payload.validity_field("validUntil"),
            format!(
                "is after the document signer certificate's notAfter ({})",
                format_tdate(na)
            ),
        ));
    }
    Ok(())
}

/// A signed IssuerAuth.
#[derive(Debug, Clone)]
pub struct IssuerAuth {
    sign1: CoseSign1,
    alg: SignatureAlgorithm,
    mso: Mso,
    bytes: Vec<u8>,
}

impl IssuerAuth {
    /// The COSE_Sign1, untagged (as IssuerSigned carries it, ISO/IEC 18013-5 Annex D).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn mso(&self) -> &Mso {
        &self.mso
    }

    pub fn payload(&self) -> &[u8] {
        self.sign1.payload.as_deref().unwrap_or_default()
    }

    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.alg
    }

    pub(super) fn to_value(&self) -> Value {
        self.sign1
            .clone()
            .to_cbor_value()
            .expect("a COSE_Sign1 that encoded once encodes again")
    }
}

/// Complete `tbs` with `signature`, the raw `r || s` of `tbs.bytes()` (what
/// `VerifiedSignature::to_fixed` returns). Only a signature of the right length that
/// verifies with the document signer certificate's key is accepted: the token's signer key
/// and the certificate the IssuerAuth names must be the same key.
pub fn finish(tbs: ToBeSigned, signature: &[u8]) -> Result<IssuerAuth, CoseError> {
    let alg = tbs.draft.alg;
    let (sign1, bytes) = tbs.draft.complete(signature, "document signer")?;
    Ok(IssuerAuth {
        sign1,
        alg,
        mso: tbs.mso,
        bytes,
    })
}
