//! The certificate of a status list signer provisioned under a managed IACA: the key that
//! signs the IACA's Status List Tokens (draft-ietf-oauth-status-list), in the x5chain of
//! every token, so a reader that trusts the IACA trusts the token.
//!
//! Neither ISO/IEC 18013-5 nor MATTR publish its profile, and the draft's EKU
//! (id-kp-oauthStatusSigning) has no number yet, so it is the Document Signer's (Table B.3)
//! without the extKeyUsage: issuer = the IACA's subject, AKI = the IACA's SKI, SKI,
//! keyUsage critical digitalSignature only, the IACA's issuerAltName, its CRL distribution
//! point, no basicConstraints, at most 457 days inside the IACA's validity. A reader that
//! checks it as a Document Signer would refuse it for the missing id-mdlDS: it must not
//! be able to pass as one, since it signs no mdoc.

use super::{
    DocumentSigner, DocumentSignerSpec, IacaView, ParsedCertificate, X509Error, api_field_at,
    random_serial, sign_certificate, validity,
};
use crate::crypto::{DigestSigner, PublicKey};

/// Build and sign a status list signer certificate with the IACA's key.
pub fn build_status_list_signer<K: DigestSigner>(
    spec: &DocumentSignerSpec,
    subject_key: &PublicKey,
    iaca: &IacaView,
    iaca_key: &K,
) -> Result<ParsedCertificate, X509Error> {
    if iaca_key.public_key() != &iaca.public_key {
        return Err(X509Error::invalid(
            "iacaId",
            "is not the key of the IACA certificate",
        ));
    }
    let profile = DocumentSigner::with_eku(spec, subject_key, iaca, None)?;
    let v = validity(spec.not_before, spec.not_after)
        .map_err(|e| api_field_at(e, "certificateData"))?;
    // sign_certificate verified the signature with the IACA's key (checked above); the
    // rules were checked by the profile before anything was signed.
    let cert = sign_certificate(profile, random_serial()?, v, subject_key, iaca_key, None)?;
    if cert.certificate().tbs_certificate().issuer() != &iaca.subject {
        return Err(X509Error::invalid(
            "iacaId",
            "issuer is not the IACA's subject",
        ));
    }
    Ok(cert)
}
