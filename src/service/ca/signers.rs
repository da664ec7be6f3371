//! Signers under unmanaged roots: a key in the token and a CSR out; the certificate back
//! (checked against the key, the root and the family's profile), activation, deletion.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::api::ErrorCode;
use crate::crypto::KeyAlgorithm;
use crate::hsm::TokenKey;
use crate::store::{KeyRecord, SignerLimit, SignerRecord, StoreError};
use crate::x509::{self, CsrSpec, DnFields, KeyUsageName, ParsedCsr, StringEncoding};

use super::super::op::{self, Artefact, Op, Work};
use super::super::{App, OpContext, ServiceError, now_rfc3339};
use super::{SignerFamily, SignerView, invalid, limit_reached, signer_view, stored_cert};

/// The subject of a signer's CSR: C and O copied from the root, CN "<O> VICAL Signer" or
/// "<O> Wallet Attestation Signer" (O falls back to the root's CN), within 64 characters.
fn signer_subject(family: SignerFamily, root: &DnFields) -> DnFields {
    let suffix = match family {
        SignerFamily::Vical => " VICAL Signer",
        SignerFamily::Wallet => " Wallet Attestation Signer",
        SignerFamily::Document => " Document Signer",
        SignerFamily::StatusList => " Status List Signer",
    };
    let base = root
        .organization
        .clone()
        .or_else(|| root.common_name.clone())
        .unwrap_or_default();
    let room = 64 - suffix.len();
    let base: String = base.chars().take(room).collect();
    DnFields {
        common_name: Some(format!("{}{suffix}", base.trim_end())),
        country: root.country.clone(),
        organization: root.organization.clone(),
        // ISO/IEC 18013-5 Table B.3: a document signer's stateOrProvinceName, when present,
        // is its IACA's.
        state_or_province: match family {
            SignerFamily::Document | SignerFamily::StatusList => root.state_or_province.clone(),
            _ => None,
        },
        ..Default::default()
    }
}

/// An uploaded document signer certificate: it certifies the signer's key, is currently
/// valid, and passes ISO/IEC 18013-5 Table B.3 against its IACA (issuer, AKI, signature,
/// validity inside the IACA's, extensions).
fn check_document_signer(
    cert: &x509::ParsedCertificate,
    key: &crate::crypto::PublicKey,
    iaca: &x509::ParsedCertificate,
    now: OffsetDateTime,
) -> Result<x509::ParsedCertificate, x509::X509Error> {
    const P: &str = "certificatePem";
    if !cert.has_public_key(key) {
        return Err(x509::X509Error::invalid(
            P,
            "does not certify this document signer's key (the one of its CSR)",
        ));
    }
    cert.check_valid_at(now)
        .map_err(|e| x509::X509Error::invalid(P, format!("must be currently valid ({e})")))?;
    let view = x509::check_iaca(iaca, "iacaId")?;
    x509::check_document_signer(cert, &view, P)?;
    Ok(cert.clone())
}

/// A document or status list signer's key is as strong as its IACA's (ISO/IEC 18013-5
/// 9.1.2.4 allows P-256, P-384 and P-521); the other signers are P-256.
pub(crate) fn signer_algorithm(
    family: SignerFamily,
    root: &x509::ParsedCertificate,
) -> KeyAlgorithm {
    match family {
        SignerFamily::Document | SignerFamily::StatusList => root
            .public_key()
            .map(|k| k.algorithm())
            .ok()
            .filter(|a| a.curve().is_some())
            .unwrap_or(KeyAlgorithm::P256),
        _ => KeyAlgorithm::P256,
    }
}

pub async fn create_signer(
    app: &Arc<App>,
    ctx: &OpContext,
    family: SignerFamily,
    ca_id: String,
) -> Result<SignerView, ServiceError> {
    let op = Op::new(format!("{}_CREATE", family.event()), None);
    op::run(app, ctx, op, move |w| {
        let tenant = w.tenant().to_owned();
        let root_family = family.root();
        // An unknown id, a root of the other family and another tenant's root all read the
        // same: the id names no root this caller may use.
        let no_such_root = || {
            invalid(
                family.root_param(),
                format!(
                    "must be the id of one of this tenant's {}s",
                    root_family.what()
                ),
                Some(&ca_id),
            )
        };
        let root = w
            .store()
            .get_ca(&tenant, root_family.kind(), &ca_id)?
            .ok_or_else(no_such_root)?;
        if root.key_label.is_some() {
            let msg = match family {
                SignerFamily::Vical => "must be an unmanaged (uploaded) DTS root CA certificate",
                SignerFamily::Wallet => {
                    "must be an unmanaged (uploaded) holder root CA certificate: signers of \
                     managed roots are provisioned automatically"
                }
                SignerFamily::Document => {
                    "must be an unmanaged (external) IACA: document signers of managed IACAs \
                     are provisioned automatically"
                }
                SignerFamily::StatusList => {
                    "must be an unmanaged (external) IACA: status list signers of managed \
                     IACAs are provisioned automatically"
                }
            };
            return Err(invalid(family.root_param(), msg, Some(&ca_id)));
        }
        let limit = family.limit();
        let full = || {
            limit_reached(match limit {
                SignerLimit::PerRoot(n) => {
                    format!("A root CA can have at most {n} {}s", family.what())
                }
                SignerLimit::PerTenant(n) | SignerLimit::PerTenantUnmanaged(n) => {
                    format!("A tenant can have at most {n} {}s", family.what())
                }
            })
        };
        let max = limit.max();
        // Checked again in the inserting transaction; this one spares the token.
        if w.store()
            .count_signers(&tenant, family.kind(), &ca_id, limit)?
            >= max
        {
            return Err(full());
        }
        let root_cert = stored_cert(&root.certificate_der)?;
        let subject = signer_subject(family, &root_cert.subject()?);
        let spec = CsrSpec {
            subject,
            string_encoding: StringEncoding::Utf8,
            subject_alt_names: None,
            key_usage: vec![KeyUsageName::DigitalSignature],
            extended_key_usage: match family {
                // ISO/IEC 18013-5 C.1.7.2: id-mdl-kp-mdlVICAL.
                SignerFamily::Vical => vec![x509::VICAL_SIGNER_EKU.to_string()],
                SignerFamily::Wallet => vec![],
                // ISO/IEC 18013-5 Table B.3: id-mdlDS.
                SignerFamily::Document => vec![x509::MDL_DS_EKU.to_string()],
                // The draft's id-kp-oauthStatusSigning has no number yet.
                SignerFamily::StatusList => vec![],
            },
        };
        let id = uuid::Uuid::new_v4().to_string();
        w.object(id.clone());
        let algorithm = signer_algorithm(family, &root_cert);
        let key = w.generate_key(algorithm)?;
        let csr = x509::build_csr(&spec, &w.signer(&key, Artefact::Csr), None)?;
        let created_at = now_rfc3339();
        let record = SignerRecord {
            id: id.clone(),
            tenant: tenant.clone(),
            kind: family.kind().to_owned(),
            ca_id: ca_id.clone(),
            key_label: key.label().to_owned(),
            csr_der: csr.der().to_vec(),
            certificate_der: None,
            active: false,
            created_at: created_at.clone(),
        };
        let key_record = KeyRecord {
            label: key.label().to_owned(),
            tenant,
            name: format!("{}{id}", family.key_prefix()),
            algorithm: algorithm.name().to_owned(),
            public_key_der: key.public_key().to_spki_der(),
            origin: "generated".into(),
            created_at,
            purpose: Some(family.purpose().name().to_owned()),
        };
        w.commit(|tx| match tx.insert_signer(&record, &key_record, limit) {
            Ok(true) => Ok(()),
            Ok(false) => Err(full()),
            // The root was deleted while the key was made (the signers -> root_cas foreign
            // key): the same answer as if it had been gone before.
            Err(StoreError::Conflict) => Err(no_such_root()),
            Err(e) => Err(e.into()),
        })?;
        signer_view(&record)
    })
    .await
}

/// `PUT {active?, certificatePem?}`. The certificate is checked against the signer's key,
/// the root and the family's profile; once set it is immutable (the same PEM again is
/// accepted unchanged). A wallet attestation signer is activated by its upload (seed 000).
pub async fn update_signer(
    app: &Arc<App>,
    ctx: &OpContext,
    family: SignerFamily,
    id: String,
    active: Option<bool>,
    certificate_pem: Option<String>,
) -> Result<SignerView, ServiceError> {
    let op = Op::new(format!("{}_UPDATE", family.event()), Some(&id)).records_only();
    op::run(app, ctx, op, move |w| {
        let tenant = w.tenant().to_owned();
        let cur = w
            .store()
            .get_signer(&tenant, family.kind(), &id)?
            .ok_or(ServiceError::NotFound(family.what()))?;
        let immutable = || {
            ServiceError::conflict(
                ErrorCode::CertificateImmutable,
                "certificatePem is already set and cannot be changed",
            )
        };
        let mut new_der: Option<Vec<u8>> = None;
        if let Some(pem) = &certificate_pem {
            let parsed = x509::parse_uploaded(pem)
                .map_err(|e| ServiceError::from(e).about("certificatePem"))?;
            match &cur.certificate_der {
                Some(existing) if existing.as_slice() == parsed.der() => {}
                Some(_) => return Err(immutable()),
                None => {
                    let root = w
                        .store()
                        .get_ca(&tenant, family.root().kind(), &cur.ca_id)?
                        .ok_or_else(|| ServiceError::Internal("signer without its root".into()))?;
                    let root_cert = stored_cert(&root.certificate_der)?;
                    let csr = ParsedCsr::from_der(&cur.csr_der)
                        .map_err(|e| ServiceError::Internal(format!("stored CSR: {e}")))?;
                    let now = OffsetDateTime::now_utc();
                    let cert = match family.profile() {
                        Some(profile) => x509::check_signer_certificate(
                            pem,
                            &csr.public_key,
                            &root_cert,
                            profile,
                            now,
                        ),
                        None => check_document_signer(&parsed, &csr.public_key, &root_cert, now),
                    }
                    .map_err(|e| ServiceError::from(e).about("certificatePem"))?;
                    new_der = Some(cert.der().to_vec());
                }
            }
        }
        let has_cert = cur.certificate_der.is_some() || new_der.is_some();
        let active = match (family, active, &new_der) {
            (SignerFamily::Wallet, None, Some(_)) => Some(true),
            (_, a, _) => a,
        };
        if active == Some(true) && !has_cert {
            return Err(invalid(
                "active",
                "a signer can be activated only once its certificatePem is set",
                Some("true"),
            ));
        }
        let r = w.commit(|tx| {
            // Read in the transaction, so a revocation committing meanwhile is seen.
            if active == Some(true) && tx.revocation("signer", &id)?.is_some() {
                return Err(ServiceError::conflict(
                    ErrorCode::SignerRevoked,
                    "The signer is revoked: it cannot be activated again",
                ));
            }
            match tx.update_signer(&tenant, family.kind(), &id, new_der.as_deref(), active) {
                Ok(Some(r)) => Ok(r),
                Ok(None) => Err(ServiceError::NotFound(family.what())),
                Err(StoreError::Conflict) => Err(immutable()),
                Err(e) => Err(e.into()),
            }
        })?;
        signer_view(&r)
    })
    .await
}

pub async fn delete_signer(
    app: &Arc<App>,
    ctx: &OpContext,
    family: SignerFamily,
    id: String,
) -> Result<(), ServiceError> {
    let op = Op::new(format!("{}_DELETE", family.event()), Some(&id));
    op::run(app, ctx, op, move |w| {
        let tenant = w.tenant().to_owned();
        let label = w.commit(|tx| {
            tx.delete_signer(&tenant, family.kind(), &id)?
                .ok_or(ServiceError::NotFound(family.what()))
        })?;
        // After the commit: record first, token object second.
        if let Ok(token) = w.token() {
            op::destroy_quietly(token, &label);
        }
        Ok(())
    })
    .await
}

/// A signer the daemon provisioned under the managed root `root_id` (key made by this
/// operation, CSR and certificate built here): recorded active, with its key, and the
/// root's other signers of the family deactivated, in the operation's transaction: a
/// rotation. Provisioned signers are the daemon's to rotate: no tenant limit applies.
pub(crate) fn commit_provisioned(
    w: &mut Work,
    family: SignerFamily,
    root_id: &str,
    id: &str,
    key: &TokenKey,
    csr_der: Vec<u8>,
    certificate_der: Vec<u8>,
) -> Result<(), ServiceError> {
    let tenant = w.tenant().to_owned();
    let created_at = now_rfc3339();
    let record = SignerRecord {
        id: id.to_owned(),
        tenant: tenant.clone(),
        kind: family.kind().to_owned(),
        ca_id: root_id.to_owned(),
        key_label: key.label().to_owned(),
        csr_der,
        certificate_der: Some(certificate_der),
        active: true,
        created_at: created_at.clone(),
    };
    let key_record = KeyRecord {
        label: key.label().to_owned(),
        tenant: tenant.clone(),
        name: format!("{}{id}", family.key_prefix()),
        algorithm: key.algorithm().name().to_owned(),
        public_key_der: key.public_key().to_spki_der(),
        origin: "generated".into(),
        created_at,
        purpose: Some(family.purpose().name().to_owned()),
    };
    w.commit(|tx| {
        tx.insert_signer(&record, &key_record, SignerLimit::PerRoot(usize::MAX))?;
        tx.deactivate_other_signers(&tenant, family.kind(), root_id, id)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signer_subject_is_derived_from_the_root() {
        let root = DnFields {
            common_name: Some("Root".into()),
            country: Some("NZ".into()),
            organization: Some("O".repeat(64)),
            ..Default::default()
        };
        let s = signer_subject(SignerFamily::Vical, &root);
        let cn = s.common_name.unwrap();
        assert!(
            cn.ends_with(" VICAL Signer") && cn.chars().count() <= 64,
            "{cn}"
        );
        assert_eq!(s.country.as_deref(), Some("NZ"));
        assert_eq!(s.organization, root.organization);
    }
}
