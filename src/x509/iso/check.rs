//! Annex B validators: an IACA (Table B.1) and a Document Signer against its IACA (Table
//! B.3), for certificates given to the daemon and for every Document Signer it builds.

use super::*;

/// Check a certificate against the IACA profile (ISO/IEC 18013-5 Table B.1). `field` names
/// the input in errors (e.g. `iacaSigner.certificatePEM`). Returns the view a Document
/// Signer needs.
pub fn check_iaca(cert: &ParsedCertificate, field: &str) -> Result<IacaView, X509Error> {
    let bad = |rule: String| Err(X509Error::invalid(field, rule));
    let key = cert.public_key()?;
    if key.algorithm().curve().is_none() {
        return bad(format!(
            "ISO/IEC 18013-5 B.1.1: an IACA key must be EC (P-256, P-384 or P-521), got {}",
            key.algorithm().name()
        ));
    }
    if !cert.is_self_issued() {
        return bad("Table B.1: an IACA is self-signed (issuer must equal subject)".into());
    }
    if cert.verify_signed_by(&key).is_err() {
        return bad("Table B.1: the self-signature does not verify with the IACA's key".into());
    }
    let fields = cert.subject()?;
    // Table B.1: countryName (PrintableString, ISO 3166-1 alpha-2) and commonName required.
    let country_printable = cert
        .certificate()
        .tbs_certificate()
        .subject()
        .iter()
        .find(|a| a.oid == const_oid::db::rfc4519::COUNTRY_NAME)
        .is_some_and(|a| a.value.tag() == der::Tag::PrintableString);
    match &fields.country {
        Some(c) if country_printable && crate::x509::name::is_iso3166_alpha2(c) => {}
        _ => {
            return bad(
                "Table B.1: subject countryName must be an ISO 3166-1 alpha-2 PrintableString"
                    .into(),
            );
        }
    }
    if fields.common_name.is_none() {
        return bad("Table B.1: subject commonName is required".into());
    }
    let view = cert.ext();
    match view.basic_constraints()? {
        Some(bc) if bc.critical && bc.value.ca && bc.value.path_len_constraint == Some(0) => {}
        _ => {
            return bad(
                "Table B.1: basicConstraints must be critical with cA TRUE and pathLenConstraint 0"
                    .into(),
            );
        }
    }
    match view.key_usage()? {
        Some(ku)
            if ku.critical
                && ku.value.contains(&KeyUsageName::KeyCertSign)
                && ku.value.contains(&KeyUsageName::CrlSign)
                && ku.value.len() == 2 => {}
        _ => {
            return bad("Table B.1: keyUsage must be critical with keyCertSign and cRLSign".into());
        }
    }
    let Some(ski) = view.subject_key_identifier()? else {
        return bad("Table B.1: subjectKeyIdentifier is required".into());
    };
    let ian = match view.issuer_alt_names()? {
        Some(i) if !i.value.uris.is_empty() || !i.value.emails.is_empty() => i.value,
        _ => return bad("Table B.1: issuerAltName with a URI or e-mail is required".into()),
    };
    if view.extended_key_usage()?.is_some() {
        return bad("Table B.1: an IACA carries no extKeyUsage".into());
    }
    let (nb, na) = (cert.not_before(), cert.not_after());
    if na > add_years(nb, IACA_MAX_YEARS) {
        return bad("Table B.1: an IACA is valid for at most 20 years".into());
    }
    Ok(IacaView {
        subject: cert.certificate().tbs_certificate().subject().clone(),
        fields,
        key_identifier: ski,
        issuer_alt_names: ian,
        not_before: nb,
        not_after: na,
        public_key: key,
    })
}

/// Check a Document Signer certificate against ISO/IEC 18013-5 Table B.3 and its IACA.
pub fn check_document_signer(
    ds: &ParsedCertificate,
    iaca: &IacaView,
    field: &str,
) -> Result<(), X509Error> {
    check_ds(ds, iaca, field, true)
}

/// [`check_document_signer`], with the signature check skipped when `verify_signature` is
/// false (a certificate whose signature the caller has just verified with the IACA's key).
pub(super) fn check_ds(
    ds: &ParsedCertificate,
    iaca: &IacaView,
    field: &str,
    verify_signature: bool,
) -> Result<(), X509Error> {
    let bad = |rule: &str| Err(X509Error::invalid(field, rule.to_string()));
    let key = ds.public_key()?;
    if key.algorithm().curve().is_none() {
        return bad("ISO/IEC 18013-5 B.1.1: a Document Signer key must be EC");
    }
    if verify_signature && ds.verify_signed_by(&iaca.public_key).is_err() {
        return bad("the signature does not verify with the IACA's key");
    }
    if ds.certificate().tbs_certificate().issuer() != &iaca.subject {
        return bad("Table B.3: issuer must equal the IACA's subject");
    }
    let view = ds.ext();
    if view.authority_key_identifier()?.as_deref() != Some(iaca.key_identifier.as_slice()) {
        return bad("Table B.3: authorityKeyIdentifier must equal the IACA's SKI");
    }
    if view.subject_key_identifier()?.is_none() {
        return bad("Table B.3: subjectKeyIdentifier is required");
    }
    match view.key_usage()? {
        Some(ku) if ku.critical && ku.value == [KeyUsageName::DigitalSignature] => {}
        _ => return bad("Table B.3: keyUsage must be critical with digitalSignature only"),
    }
    match view.extended_key_usage()? {
        Some(eku) if eku.critical && eku.value == [MDL_DS_EKU] => {}
        _ => return bad("Table B.3: extKeyUsage must be critical with exactly 1.0.18013.5.1.2"),
    }
    if view.issuer_alt_names()?.is_none_or(|i| i.value.is_empty()) {
        return bad("Table B.3: issuerAltName is required");
    }
    if view.crl_distribution_uris()?.is_none_or(|u| u.is_empty()) {
        return bad("Table B.3: cRLDistributionPoints is required");
    }
    if view.basic_constraints()?.is_some_and(|bc| bc.value.ca) {
        return bad("Table B.3: a Document Signer is not a CA");
    }
    check_ds_rules(&ds.subject()?, ds.not_before(), ds.not_after(), iaca, field).map_err(
        |e| match e {
            X509Error::Invalid { rule, .. } => X509Error::Invalid {
                field: field.to_owned(),
                rule,
            },
            other => other,
        },
    )
}
