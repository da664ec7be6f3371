//! The X.509 engine: names, serials, validity, extensions, certificate profiles, CSRs, PEM.
//!
//! Pure: no I/O, no clock reads in checks (callers pass `now`), no PKCS#11, no JSON. Private
//! keys are reached only through [`crate::crypto::DigestSigner`], and every signature made or
//! received is verified here with RustCrypto before it is trusted.

mod cert;
mod crl;
mod csr;
mod error;
mod ext;
mod external;
mod iso;
mod name;
pub mod pem;
mod profile;
mod serial;
mod upload;
mod validity;

pub use cert::{ParsedCertificate, public_key_of, reparse};
pub use crl::{CrlSpec, REASONS, RevokedEntry, build_crl, reason_from_name, verify_crl};
pub use csr::{CsrSpec, ParsedCsr, build_csr};
pub use error::X509Error;
pub use ext::{
    AltNames, ExtensionView, Found, KeyUsageName, MAX_ALT_NAMES, check_dns_name,
    check_ec_key_usage, check_email, check_uri, crl_distribution_points, duplicate_extensions,
    find, key_usage_flags, parse_oids,
};
pub use external::{GenericExternalIssuer, build_generic_external_issuer};
pub use iso::{
    DS_MAX_DAYS, DocumentSigner, DocumentSignerSpec, IACA_MAX_YEARS, Iaca, IacaSpec, IacaView,
    MDL_DS_EKU, add_years, build_document_signer, build_iaca, build_status_list_signer,
    check_document_signer, check_iaca,
};
pub use name::{DnFields, ISO3166_ALPHA2, StringEncoding, is_iso3166_alpha2, is_printable_string};
pub use pem::{CERTIFICATE_LABEL, CSR_LABEL, CSR_LABEL_LEGACY, MAX_INPUT_LEN};
pub use profile::{
    GENERIC_DEFAULT_DAYS, Generic, GenericSpec, Issued, IssuedKind, IssuedSpec, IssuerSpec, RootCa,
    RootCaSpec, build_generic, build_issued, build_root_ca, issuer_key_identifier, key_identifier,
    sign_certificate,
};
pub use serial::{SERIAL_LEN, random_serial, serial_from_rng, serial_hex};
pub use upload::{
    CERTIFICATE_FIELD, MAX_SERIAL_OCTETS, MDL_EKU_ARC, SignerProfile, VICAL_SIGNER_EKU,
    check_signer_certificate, check_uploaded_root, parse_uploaded,
};
pub use validity::{from_x509_time, to_x509_time, validity};
pub use x509_cert::ext::pkix::CrlReason;

/// Lowercase hex, the form fingerprints, serials and key identifiers take on the API.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests;
