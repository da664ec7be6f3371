//! Generic certificates (self-signed, or signed by a generic CA key of the tenant) and CSRs.

use super::*;

fn dn(n: &api::NameFields) -> DnFields {
    DnFields {
        common_name: n.common_name.clone(),
        country: n.country.clone(),
        organization: n.organization_name.clone(),
        organizational_unit: n.organizational_unit_name.clone(),
        state_or_province: n.state_or_province_name.clone(),
        locality: n.locality_name.clone(),
    }
}

fn name_fields(d: &DnFields) -> api::NameFields {
    api::NameFields {
        common_name: d.common_name.clone(),
        country: d.country.clone(),
        organization_name: d.organization.clone(),
        organizational_unit_name: d.organizational_unit.clone(),
        state_or_province_name: d.state_or_province.clone(),
        locality_name: d.locality.clone(),
    }
}

fn alt_names(a: &api::AltNamesData) -> AltNames {
    AltNames {
        dns_names: a.dns_names.clone(),
        uris: a.uris.clone(),
        emails: a.emails.clone(),
        ip_addresses: a.ip_addresses.clone(),
    }
}

fn alt_names_out(a: &AltNames) -> api::AltNamesData {
    api::AltNamesData {
        dns_names: a.dns_names.clone(),
        uris: a.uris.clone(),
        emails: a.emails.clone(),
        ip_addresses: a.ip_addresses.clone(),
    }
}

fn jwk_value(k: &PublicKey) -> serde_json::Value {
    serde_json::to_value(k.to_jwk()).unwrap_or_default()
}

/// What a generic certificate carries, read back from the certificate itself.
fn generic_data(cert: &ParsedCertificate) -> Result<api::GenericCertificateDataOut, X509Error> {
    let ext = cert.ext();
    let bc = ext.basic_constraints()?;
    Ok(api::GenericCertificateDataOut {
        subject_name: name_fields(&cert.subject()?),
        issuer_name: name_fields(&cert.issuer()?),
        not_before: rfc3339(cert.not_before()),
        not_after: rfc3339(cert.not_after()),
        is_certificate_authority: bc.as_ref().is_some_and(|b| b.value.ca),
        path_length_constraint: bc.and_then(|b| b.value.path_len_constraint),
        key_usage: ext
            .key_usage()?
            .map(|k| k.value.iter().map(|u| u.name().to_owned()).collect())
            .unwrap_or_default(),
        extended_key_usage_oids: ext
            .extended_key_usage()?
            .map(|e| e.value.iter().map(|o| o.to_string()).collect())
            .unwrap_or_default(),
        subject_alternative_names: ext.subject_alt_names()?.map(|s| alt_names_out(&s.value)),
        crl_distribution_point_uri: ext
            .crl_distribution_uris()?
            .and_then(|u| u.into_iter().next()),
        public_key_jwk: jwk_value(&cert.public_key()?),
    })
}

/// The newest CA certificate this tenant was issued for `key`, if any: looked up by key
/// among its CA certificates, so no number of end-entity certificates of the same key
/// hides it.
fn issuer_certificate(
    w: &Work,
    key: &PublicKey,
) -> Result<Option<ParsedCertificate>, ServiceError> {
    for der in w
        .store()
        .issued_ca_for_key(w.tenant(), &key.to_spki_der())?
    {
        let cert = ParsedCertificate::from_der(&der)
            .map_err(|e| ServiceError::Internal(format!("ledger certificate: {e}")))?;
        if cert.is_ca() {
            return Ok(Some(cert));
        }
    }
    Ok(None)
}

enum IssuerInput {
    SelfSigned,
    CaSigned(KeyRef),
}

pub async fn create_certificate(
    app: &Arc<App>,
    ctx: &OpContext,
    req: api::CreateCertificateRequest,
) -> Result<api::GenericCertificateResponse, ServiceError> {
    const EVENT: &str = "X509_CERTIFICATE_CREATE";
    const P: &str = "certificateData";
    let tenant = ctx.principal.tenant.clone();
    // Every rule that needs neither token nor database is checked before the work starts.
    let checked = (|| {
        let id = stored_id(&req.stored_certificate_id)?;
        let source = parse_source(
            &req.subject_public_key_source,
            "subjectPublicKeySource",
            &tenant,
        )?;
        let issuer = match req.issuer.kind.as_str() {
            "self-signed" => {
                if req.issuer.issuer_key_descriptor.is_some() {
                    return Err(invalid(
                        "issuer.issuerKeyDescriptor",
                        "not allowed for a self-signed certificate (the subject key signs)",
                    ));
                }
                if matches!(source, SubjectSource::Csr(_)) {
                    return Err(invalid(
                        "subjectPublicKeySource.type",
                        "a self-signed certificate requires a key-descriptor subject key (the \
                         subject key signs it); CSR input requires a ca-signed issuer",
                    ));
                }
                IssuerInput::SelfSigned
            }
            "ca-signed" => {
                let d = req.issuer.issuer_key_descriptor.as_ref().ok_or_else(|| {
                    invalid("issuer.issuerKeyDescriptor", "is required for ca-signed")
                })?;
                IssuerInput::CaSigned(parse_key(d, "issuer.issuerKeyDescriptor", &tenant)?)
            }
            _ => return Err(invalid("issuer.type", "must be self-signed or ca-signed")),
        };
        let d = &req.certificate_data;
        let spec = GenericSpec {
            subject_name: dn(&d.subject_name),
            issuer_name: d.issuer_name.as_ref().map(dn),
            string_encoding: StringEncoding::Utf8,
            not_before: parse_time(&d.not_before, "certificateData.notBefore")?,
            not_after: parse_time(&d.not_after, "certificateData.notAfter")?,
            is_certificate_authority: d.is_certificate_authority.unwrap_or(false),
            path_length_constraint: d.path_length_constraint,
            key_usage: d.key_usage.clone().unwrap_or_default(),
            extended_key_usage_oids: d.extended_key_usage_oids.clone().unwrap_or_default(),
            subject_alternative_names: d.subject_alternative_names.as_ref().map(alt_names),
            crl_distribution_point_uri: d.crl_distribution_point_uri.clone(),
        };
        let rec = Recording {
            id,
            profile: "generic",
            kind: "base",
            metadata: None,
        };
        Ok((rec, source, issuer, spec))
    })();
    let (rec, source, issuer, mut spec) = op::precheck(app, ctx, EVENT, checked).await?;
    let now = now();
    let base = app.public_base_url.clone();
    // The subject key becomes a generic CA key or an end-entity key by this certificate.
    let subject_purpose = if spec.is_certificate_authority {
        KeyPurpose::GenericCa
    } else {
        KeyPurpose::GenericEndEntity
    };
    let (cert, full) = issue(app, ctx, EVENT, rec, move |w| {
        let mut link = CrlLink::default();
        let cert = match issuer {
            IssuerInput::SelfSigned => {
                let SubjectSource::Key(k) = source else {
                    unreachable!("CSR with self-signed is refused above")
                };
                let signer = resolve_signer(w, k, subject_purpose, Use::SelfSigned)?;
                if spec.is_certificate_authority && signer.is_held() {
                    let (id, _) = ca_id_for(w, signer.key.label())?;
                    default_dp(&mut spec.crl_distribution_point_uri, &base, &id);
                    link.own = Some((id, signer.key.label().to_owned()));
                }
                let pk = signer.key.public_key().clone();
                x509::build_generic(
                    &spec,
                    &pk,
                    x509::IssuerSpec {
                        key: &w.signer(&signer.key, Artefact::Certificate),
                        certificate: None,
                        signature_algorithm: None,
                    },
                    now,
                )
                .map_err(|e| x509_error_in(e, P, P))?
            }
            IssuerInput::CaSigned(k) => {
                // A sub-CA whose key is held here publishes its own CRL.
                let sub_ca_label = match (&source, spec.is_certificate_authority) {
                    (SubjectSource::Key(KeyRef::Kms { name, .. }), true) => {
                        w.store().get_key(w.tenant(), name)?.map(|r| r.label)
                    }
                    _ => None,
                };
                let subject = subject_key(w, source, subject_purpose)?;
                let generic = Use::IssueCertificate {
                    document_signer: false,
                };
                let signer = resolve_signer(w, k, KeyPurpose::GenericCa, generic)?;
                let issuer = issuer_certificate(w, signer.key.public_key())?;
                // Listed by the issuer's CRL when the issuer key is held here and its CA
                // certificate was issued here (a CRL needs the issuer's name).
                if signer.is_held() && issuer.is_some() {
                    let (id, known) = ca_id_for(w, signer.key.label())?;
                    if let (false, Some(c)) = (known, &issuer) {
                        link.given =
                            Some((id.clone(), signer.key.label().to_owned(), c.der().to_vec()));
                    }
                    default_dp(&mut spec.crl_distribution_point_uri, &base, &id);
                    link.listed_by = Some(id);
                }
                if let Some(label) = sub_ca_label {
                    let (id, _) = ca_id_for(w, &label)?;
                    link.own = Some((id, label));
                }
                let key = w.signer(&signer.key, Artefact::Certificate);
                match issuer {
                    Some(issuer) => x509::build_generic(
                        &spec,
                        &subject,
                        x509::IssuerSpec {
                            key: &key,
                            certificate: Some(issuer.certificate()),
                            signature_algorithm: None,
                        },
                        now,
                    ),
                    None => x509::build_generic_external_issuer(&spec, &subject, &key, now),
                }
                .map_err(|e| x509_error_in(e, P, P))?
            }
        };
        Ok((cert, link))
    })
    .await?;
    Ok(api::GenericCertificateResponse {
        stored_certificate_ids: vec![full],
        certificate_pem: pem(&cert)?,
        certificate_data: generic_data(&cert).map_err(|e| ServiceError::Internal(e.to_string()))?,
    })
}

// --- CSRs -----------------------------------------------------------------------------------

pub async fn create_csr(
    app: &Arc<App>,
    ctx: &OpContext,
    req: api::CreateCsrRequest,
) -> Result<api::CsrResponse, ServiceError> {
    const EVENT: &str = "X509_CSR_CREATE";
    let tenant = ctx.principal.tenant.clone();
    let checked = (|| {
        let mut spec = CsrSpec {
            subject: dn(&req.subject_name),
            string_encoding: StringEncoding::Utf8,
            subject_alt_names: req.subject_alternative_names.as_ref().map(alt_names),
            key_usage: Vec::new(),
            extended_key_usage: Vec::new(),
        };
        // The key becomes what its CSR asks to be certified as.
        let purpose = match req.kind.as_str() {
            "generic" => KeyPurpose::GenericEndEntity,
            // What a Document Signer certificate will carry (ISO/IEC 18013-5 Table B.3).
            "iso-document-signer" => {
                if spec.subject.country.is_none() {
                    return Err(invalid("subjectName.country", "is required (Table B.3)"));
                }
                if spec.subject.common_name.is_none() {
                    return Err(invalid("subjectName.commonName", "is required (Table B.3)"));
                }
                spec.key_usage = vec![KeyUsageName::DigitalSignature];
                spec.extended_key_usage = vec![x509::MDL_DS_EKU.to_string()];
                KeyPurpose::DocumentSigner
            }
            _ => {
                return Err(invalid("type", "must be generic or iso-document-signer"));
            }
        };
        let key = parse_key(&req.subject_key_descriptor, "subjectKeyDescriptor", &tenant)?;
        Ok((spec, purpose, key))
    })();
    let (spec, purpose, key) = op::precheck(app, ctx, EVENT, checked).await?;
    let csr = op::run(app, ctx, Op::new(EVENT, None), move |w| {
        let signer = resolve_signer(w, key, purpose, Use::Csr)?;
        let csr = x509::build_csr(&spec, &w.signer(&signer.key, Artefact::Csr), None).map_err(
            |e| match e {
                X509Error::Invalid { field, rule } if field.starts_with("subjectName") => {
                    invalid(field, rule)
                }
                e => x509_error(e, "subjectName"),
            },
        )?;
        drop(signer);
        // Nothing is stored but the signature's ledger row and the events.
        w.commit(|_| Ok(()))?;
        Ok(csr)
    })
    .await?;
    Ok(api::CsrResponse {
        csr_pem: csr
            .to_pem()
            .map_err(|e| ServiceError::Internal(e.to_string()))?,
        csr_data: api::CsrData {
            subject_name: name_fields(&csr.subject),
            subject_alternative_names: csr
                .subject_alt_names()
                .map_err(|e| ServiceError::Internal(e.to_string()))?
                .map(|a| alt_names_out(&a)),
            public_key_jwk: jwk_value(&csr.public_key),
        },
    })
}
