//! Key purposes: what a key may sign, fixed when the key is made (root CA and signer keys)
//! or at its first use (keys made with `POST /v1/keys`), stored with the key, and checked
//! before every signature. A key of one lifecycle can therefore never be borrowed by
//! another: a managed holder root's key cannot mint a generic certificate, a Document
//! Signer key never signs a certificate, an IACA key signs only Document Signer
//! certificates (and its CRLs; a managed IACA's key also its status list signers').

use super::ServiceError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// A managed DTS root CA: its own certificate and its signers'.
    DtsRoot,
    /// A managed holder root CA: its own certificate, its signers' and its CRLs.
    HolderRoot,
    /// A VICAL signer: its CSR, then VICALs.
    VicalSigner,
    /// A wallet attestation signer: its CSR, then attestations.
    WalletSigner,
    /// An IACA (ISO/IEC 18013-5 Annex B): its own certificate, Document Signer
    /// certificates, its CRLs.
    Iaca,
    /// A Document Signer: its CSR, then mobile security objects. Never a certificate.
    DocumentSigner,
    /// A managed IACA of the mobile credential family: its own certificate, its document
    /// signers' and status list signers' certificates, its CRLs.
    MobileIaca,
    /// A document signer of the mobile credential family: its CSR, then mdocs (MSOs).
    MobileDocumentSigner,
    /// A status list signer of the mobile credential family: its CSR, then Status List
    /// Tokens (draft-ietf-oauth-status-list). Never an mdoc, never a certificate.
    MobileStatusListSigner,
    /// A generic CA of the X.509 service: certificates it issues, its own, CSRs, CRLs.
    GenericCa,
    /// A generic end entity: its own (self-signed) certificate and CSRs.
    GenericEndEntity,
}

/// What an operation asks a key to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// A certificate for another key (the key is the issuer).
    IssueCertificate { document_signer: bool },
    /// The key's own self-signed certificate.
    SelfSigned,
    /// A CSR for the key itself (proof of possession).
    Csr,
    /// A CRL of the key's certificates.
    Crl,
}

impl KeyPurpose {
    pub fn name(self) -> &'static str {
        match self {
            KeyPurpose::DtsRoot => "dts-root",
            KeyPurpose::HolderRoot => "holder-root",
            KeyPurpose::VicalSigner => "vical-signer",
            KeyPurpose::WalletSigner => "wallet-signer",
            KeyPurpose::Iaca => "iaca",
            KeyPurpose::DocumentSigner => "document-signer",
            KeyPurpose::MobileIaca => "mobile-iaca",
            KeyPurpose::MobileDocumentSigner => "mobile-document-signer",
            KeyPurpose::MobileStatusListSigner => "mobile-status-list-signer",
            KeyPurpose::GenericCa => "generic-ca",
            KeyPurpose::GenericEndEntity => "generic-end-entity",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [
            KeyPurpose::DtsRoot,
            KeyPurpose::HolderRoot,
            KeyPurpose::VicalSigner,
            KeyPurpose::WalletSigner,
            KeyPurpose::Iaca,
            KeyPurpose::DocumentSigner,
            KeyPurpose::MobileIaca,
            KeyPurpose::MobileDocumentSigner,
            KeyPurpose::MobileStatusListSigner,
            KeyPurpose::GenericCa,
            KeyPurpose::GenericEndEntity,
        ]
        .into_iter()
        .find(|p| p.name() == name)
    }

    /// Keys of a root CA or a signer live and die with it: the keys API and the X.509
    /// service neither list them nor accept them by name.
    pub fn is_lifecycle_owned(self) -> bool {
        matches!(
            self,
            KeyPurpose::DtsRoot
                | KeyPurpose::HolderRoot
                | KeyPurpose::VicalSigner
                | KeyPurpose::WalletSigner
                | KeyPurpose::MobileIaca
                | KeyPurpose::MobileDocumentSigner
                | KeyPurpose::MobileStatusListSigner
        )
    }

    /// Whether a key of this purpose may be asked for `u` by the X.509 service.
    pub fn allows(self, u: Use) -> bool {
        use KeyPurpose::*;
        match (self, u) {
            (
                DtsRoot
                | HolderRoot
                | VicalSigner
                | WalletSigner
                | MobileIaca
                | MobileDocumentSigner
                | MobileStatusListSigner,
                _,
            ) => false,
            (Iaca, Use::IssueCertificate { document_signer }) => document_signer,
            (Iaca, Use::SelfSigned | Use::Crl | Use::Csr) => true,
            (DocumentSigner, Use::Csr) => true,
            (DocumentSigner, _) => false,
            (GenericCa, Use::IssueCertificate { document_signer }) => !document_signer,
            (GenericCa, _) => true,
            (GenericEndEntity, Use::SelfSigned | Use::Csr) => true,
            (GenericEndEntity, _) => false,
        }
    }

    fn what(self) -> &'static str {
        match self {
            KeyPurpose::DtsRoot | KeyPurpose::HolderRoot => "a root CA's key",
            KeyPurpose::VicalSigner | KeyPurpose::WalletSigner => "a signer's key",
            KeyPurpose::Iaca | KeyPurpose::MobileIaca => "an IACA key",
            KeyPurpose::MobileDocumentSigner => "a document signer's key",
            KeyPurpose::MobileStatusListSigner => "a status list signer's key",
            KeyPurpose::DocumentSigner => "a Document Signer key",
            KeyPurpose::GenericCa => "a generic CA key",
            KeyPurpose::GenericEndEntity => "an end-entity key",
        }
    }
}

/// Check that a key whose stored purpose is `current` may serve as `wanted` for `u`;
/// the 400 names `param`. `None` (a key never used) takes `wanted`.
pub fn check(
    current: Option<KeyPurpose>,
    wanted: KeyPurpose,
    u: Use,
    param: &str,
) -> Result<(), ServiceError> {
    let p = current.unwrap_or(wanted);
    if p != wanted || !p.allows(u) {
        return Err(ServiceError::invalid(
            param,
            format!(
                "this is {}; its purpose does not allow it to be used as {}",
                p.what(),
                wanted.what()
            ),
        ));
    }
    Ok(())
}

/// Check that a key whose stored purpose is `current` may be certified as a `wanted` key
/// (it becomes one by that certificate); the 400 names `param`.
pub fn check_subject(
    current: Option<KeyPurpose>,
    wanted: KeyPurpose,
    param: &str,
) -> Result<(), ServiceError> {
    match current {
        Some(p) if p != wanted => Err(ServiceError::invalid(
            param,
            format!(
                "this is {}; it cannot be certified as {}",
                p.what(),
                wanted.what()
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_round_trip_and_refuse_cross_use() {
        for p in [
            KeyPurpose::DtsRoot,
            KeyPurpose::Iaca,
            KeyPurpose::DocumentSigner,
            KeyPurpose::GenericEndEntity,
        ] {
            assert_eq!(KeyPurpose::from_name(p.name()), Some(p));
        }
        let ds = Use::IssueCertificate {
            document_signer: true,
        };
        let generic = Use::IssueCertificate {
            document_signer: false,
        };
        assert!(check(None, KeyPurpose::Iaca, ds, "k").is_ok());
        assert!(check(Some(KeyPurpose::Iaca), KeyPurpose::Iaca, ds, "k").is_ok());
        // An IACA key signs no generic certificate; a DS key no certificate at all.
        assert!(check(Some(KeyPurpose::Iaca), KeyPurpose::GenericCa, generic, "k").is_err());
        assert!(check(None, KeyPurpose::Iaca, generic, "k").is_err());
        assert!(
            check(
                Some(KeyPurpose::DocumentSigner),
                KeyPurpose::GenericCa,
                generic,
                "k"
            )
            .is_err()
        );
        assert!(!KeyPurpose::DocumentSigner.allows(Use::SelfSigned));
        assert!(!KeyPurpose::HolderRoot.allows(generic));
        assert!(!KeyPurpose::GenericEndEntity.allows(generic));
        assert!(check_subject(None, KeyPurpose::DocumentSigner, "k").is_ok());
        assert!(check_subject(Some(KeyPurpose::Iaca), KeyPurpose::DocumentSigner, "k").is_err());
        assert!(KeyPurpose::HolderRoot.is_lifecycle_owned());
        assert!(!KeyPurpose::GenericCa.is_lifecycle_owned());
    }
}
