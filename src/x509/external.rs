//! Generic certificates signed by a key whose own certificate this daemon does not hold
//! (walt.id's `ca-signed` issuer given only as a key): the issuer name comes from the
//! request, the authorityKeyIdentifier from the issuer's key (RFC 5280 4.2.1.1 method (1),
//! the value a certificate of that key made here would carry as its SKI).

use x509_cert::builder::profile::BuilderProfile;
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::AuthorityKeyIdentifier;
use x509_cert::name::Name;

use const_oid::AssociatedOid;

use super::cert::ParsedCertificate;
use super::error::{X509Error, enc};
use super::ext::extension;
use super::profile::{
    GENERIC_DEFAULT_DAYS, Generic, GenericSpec, key_identifier, sign_certificate,
};
use super::serial::random_serial;
use super::validity::validity;
use crate::crypto::{DigestSigner, PublicKey};

/// [`Generic`] with its AKI replaced by the external issuer's key identifier.
#[derive(Debug, Clone)]
pub struct GenericExternalIssuer {
    inner: Generic,
    aki: Extension,
}

impl BuilderProfile for GenericExternalIssuer {
    fn get_issuer(&self, subject: &Name) -> Name {
        self.inner.get_issuer(subject)
    }
    fn get_subject(&self) -> Name {
        self.inner.get_subject()
    }
    fn build_extensions(
        &self,
        spk: spki::SubjectPublicKeyInfoRef<'_>,
        issuer_spk: spki::SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut exts = self.inner.build_extensions(spk, issuer_spk, tbs)?;
        for e in &mut exts {
            if e.extn_id == AuthorityKeyIdentifier::OID {
                *e = self.aki.clone();
            }
        }
        Ok(exts)
    }
}

/// Build a generic certificate for `subject_key` signed by `issuer_key`, with
/// `spec.issuer_name` (required) as the issuer.
pub fn build_generic_external_issuer<K: DigestSigner>(
    spec: &GenericSpec,
    subject_key: &PublicKey,
    issuer_key: &K,
    now: time::OffsetDateTime,
) -> Result<ParsedCertificate, X509Error> {
    if spec.issuer_name.is_none() {
        return Err(X509Error::invalid(
            "issuerName",
            "is required when the issuer key has no CA certificate issued by this service",
        ));
    }
    // Generic's self-signed path computes the names and every extension; only the AKI
    // differs, since the signer is another key.
    let inner = Generic::new(spec, subject_key, subject_key, None)?;
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(
            der::asn1::OctetString::new(key_identifier(issuer_key.public_key())?).map_err(enc)?,
        ),
        ..Default::default()
    };
    let profile = GenericExternalIssuer {
        inner,
        // RFC 5280 4.2.1.1: "MUST be marked as non-critical".
        aki: extension(false, &aki)?,
    };
    let not_before = spec.not_before.unwrap_or(now);
    let not_after = spec
        .not_after
        .unwrap_or(not_before + time::Duration::days(GENERIC_DEFAULT_DAYS));
    sign_certificate(
        profile,
        random_serial()?,
        validity(not_before, not_after)?,
        subject_key,
        issuer_key,
        None,
    )
}
