//! ISO/IEC 18013-5 Annex B issuance: IACA certificates (self-signed by an IACA key) and
//! Document Signer certificates (signed by one).

use super::*;

fn iaca_spec(
    d: &api::IacaCertificateData,
    p: &str,
    default_nb: Option<OffsetDateTime>,
) -> Result<IacaSpec, ServiceError> {
    let nb = match (
        parse_time(&d.not_before, &format!("{p}.notBefore"))?,
        default_nb,
    ) {
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => return Err(invalid(format!("{p}.notBefore"), "is required")),
    };
    let na = match parse_time(&d.not_after, &format!("{p}.notAfter"))? {
        Some(t) => t,
        None if default_nb.is_some() => x509::add_years(nb, x509::IACA_MAX_YEARS),
        None => return Err(invalid(format!("{p}.notAfter"), "is required")),
    };
    let conf = d.issuer_alternative_name_conf.clone().unwrap_or_default();
    Ok(IacaSpec {
        country: d.country.clone(),
        common_name: d.common_name.clone(),
        state_or_province: d.state_or_province_name.clone(),
        organization: d.organization_name.clone(),
        not_before: nb,
        not_after: na,
        issuer_alt_names: AltNames {
            uris: conf.uri.into_iter().collect(),
            emails: conf.email.into_iter().collect(),
            ..Default::default()
        },
        crl_distribution_point_uri: d.crl_distribution_point_uri.clone(),
    })
}

pub async fn create_iaca(
    app: &Arc<App>,
    ctx: &OpContext,
    req: api::CreateIacaRequest,
) -> Result<api::IsoCertificateResponse<api::IacaCertificateData>, ServiceError> {
    const EVENT: &str = "X509_IACA_CERTIFICATE_CREATE";
    let tenant = ctx.principal.tenant.clone();
    // Every rule that needs neither token nor database is checked before the work starts.
    let checked = (|| {
        let id = stored_id(&req.stored_certificate_id)?;
        let spec = iaca_spec(&req.certificate_data, "certificateData", Some(now()))?;
        let key = parse_key(&req.iaca_key_desc, "iacaKeyDesc", &tenant)?;
        let (kind, metadata) = match &req.vical_entry_complementary_metadata {
            None => ("base", None),
            Some(v) if v.is_object() => ("vical-entry", Some(v.to_string())),
            Some(_) => {
                return Err(invalid(
                    "vicalEntryComplementaryMetadata",
                    "must be a JSON object",
                ));
            }
        };
        let rec = Recording {
            id,
            profile: "iaca",
            kind,
            metadata,
        };
        Ok((rec, spec, key))
    })();
    let (rec, mut spec, key) = op::precheck(app, ctx, EVENT, checked).await?;
    let base = app.public_base_url.clone();
    let (cert, full) = issue(app, ctx, EVENT, rec, move |w| {
        let signer = resolve_signer(w, key, KeyPurpose::Iaca, Use::SelfSigned)?;
        let mut link = CrlLink::default();
        // An IACA key held here publishes its CRL here, and the IACA says where (ISO/IEC
        // 18013-5 Table B.1 wants a CRL distribution point).
        if signer.is_held() {
            let (id, _) = ca_id_for(w, signer.key.label())?;
            default_dp(&mut spec.crl_distribution_point_uri, &base, &id);
            link.own = Some((id, signer.key.label().to_owned()));
        }
        let cert = x509::build_iaca(&spec, &w.signer(&signer.key, Artefact::Certificate))
            .map_err(|e| x509_error(e, "certificateData"))?;
        Ok((cert, link))
    })
    .await?;
    iso_response(&cert, full, req.certificate_data, |d, nb, na| {
        d.not_before = Some(nb);
        d.not_after = Some(na);
    })
}

enum IacaInput {
    Data(IacaSpec),
    Pem(IacaView, Box<ParsedCertificate>),
}

pub async fn create_document_signer(
    app: &Arc<App>,
    ctx: &OpContext,
    req: api::CreateDocumentSignerRequest,
) -> Result<api::IsoCertificateResponse<api::DsCertificateData>, ServiceError> {
    const EVENT: &str = "X509_DOCUMENT_SIGNER_CERTIFICATE_CREATE";
    let tenant = ctx.principal.tenant.clone();
    // Every rule that needs neither token nor database is checked before the work starts.
    let checked = (|| {
        let id = stored_id(&req.stored_certificate_id)?;
        let source = match (&req.ds_public_key_source, &req.ds_key_descriptor) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "dsKeyDescriptor",
                    "dsKeyDescriptor (legacy) and dsPublicKeySource are mutually exclusive: give one",
                ));
            }
            (None, None) => {
                return Err(invalid(
                    "dsPublicKeySource",
                    "is required (or the legacy dsKeyDescriptor)",
                ));
            }
            (Some(src), None) => parse_source(src, "dsPublicKeySource", &tenant)?,
            (None, Some(d)) => SubjectSource::Key(parse_key(d, "dsKeyDescriptor", &tenant)?),
        };
        let signer_req = &req.iaca_signer;
        let iaca = match signer_req.kind.as_str() {
            "iaca-cert-data-descriptor" => {
                if signer_req.certificate_pem.is_some() {
                    return Err(invalid(
                        "iacaSigner.certificatePEM",
                        "not allowed with iaca-cert-data-descriptor",
                    ));
                }
                let d = signer_req.certificate_data.as_ref().ok_or_else(|| {
                    invalid(
                        "iacaSigner.certificateData",
                        "is required for iaca-cert-data-descriptor",
                    )
                })?;
                IacaInput::Data(iaca_spec(d, "iacaSigner.certificateData", None)?)
            }
            "iaca-pem-cert-descriptor" => {
                const P: &str = "iacaSigner.certificatePEM";
                if signer_req.certificate_data.is_some() {
                    return Err(invalid(
                        "iacaSigner.certificateData",
                        "not allowed with iaca-pem-cert-descriptor",
                    ));
                }
                let text = signer_req
                    .certificate_pem
                    .as_deref()
                    .ok_or_else(|| invalid(P, "is required for iaca-pem-cert-descriptor"))?;
                let cert =
                    ParsedCertificate::from_pem(text.as_bytes()).map_err(|e| x509_error(e, P))?;
                // The IACA given by PEM must itself meet the IACA profile before it is used.
                let view = x509::check_iaca(&cert, P).map_err(|e| x509_error(e, P))?;
                IacaInput::Pem(view, Box::new(cert))
            }
            _ => {
                return Err(invalid(
                    "iacaSigner.type",
                    "must be iaca-cert-data-descriptor or iaca-pem-cert-descriptor",
                ));
            }
        };
        let iaca_key = parse_key(&signer_req.iaca_key_desc, "iacaSigner.iacaKeyDesc", &tenant)?;
        let data = &req.certificate_data;
        let nb = parse_time(&data.not_before, "certificateData.notBefore")?.unwrap_or(now());
        let na = parse_time(&data.not_after, "certificateData.notAfter")?;
        let spec = x509::DocumentSignerSpec {
            country: data.country.clone(),
            common_name: data.common_name.clone(),
            state_or_province: data.state_or_province_name.clone(),
            organization: data.organization_name.clone(),
            locality: data.locality_name.clone(),
            not_before: nb,
            not_after: nb,
            // Filled below when the request names none.
            crl_distribution_point_uri: data.crl_distribution_point_uri.clone().unwrap_or_default(),
        };
        Ok((id, source, iaca, iaca_key, spec, na))
    })();
    let (id, source, iaca, iaca_key, mut spec, na) = match checked {
        Ok(c) => c,
        Err(e) => return op::refuse(app, ctx, EVENT, None, e).await,
    };
    let full = full_id(&tenant, &id);
    let base = app.public_base_url.clone();
    let cert = op::run(app, ctx, Op::new(EVENT, Some(&full)), move |w| {
        let rec = Recording {
            id,
            profile: "document-signer",
            kind: "base",
            metadata: None,
        };
        rec.ensure_free(w)?;
        let subject = subject_key(w, source, KeyPurpose::DocumentSigner)?;
        let signer = resolve_signer(
            w,
            iaca_key,
            KeyPurpose::Iaca,
            Use::IssueCertificate {
                document_signer: true,
            },
        )?;
        let mut link = CrlLink::default();
        if signer.is_held() {
            let label = signer.key.label().to_owned();
            let (ca_id, known) = ca_id_for(w, &label)?;
            // The CRL of an IACA key held here lists this certificate once revoked. An IACA
            // given only as data is no certificate to issue a CRL under; by PEM it is.
            match (&iaca, known) {
                (_, true) => link.listed_by = Some(ca_id),
                (IacaInput::Pem(_, cert), false) => {
                    link.given = Some((ca_id.clone(), label, cert.der().to_vec()));
                    link.listed_by = Some(ca_id);
                }
                (IacaInput::Data(_), false) => {}
            }
        }
        if spec.crl_distribution_point_uri.is_empty() {
            let mut dp = None;
            if let Some(id) = &link.listed_by {
                default_dp(&mut dp, &base, id);
            }
            spec.crl_distribution_point_uri = dp.ok_or_else(|| {
                invalid(
                    "certificateData.crlDistributionPointUri",
                    "is required (ISO/IEC 18013-5 Table B.3) unless the IACA key's CRL is \
                     published here and public.base_url is set",
                )
            })?;
        }
        let view = match iaca {
            IacaInput::Data(s) => s
                .view(signer.key.public_key(), "iacaSigner.certificateData")
                .map_err(|e| x509_error(e, "iacaSigner.certificateData"))?,
            IacaInput::Pem(view, cert) => {
                if !cert.has_public_key(signer.key.public_key()) {
                    return Err(invalid(
                        "iacaSigner.iacaKeyDesc",
                        "is not the key of the IACA certificate in certificatePEM",
                    ));
                }
                view
            }
        };
        // Default validity: the Table B.3 maximum, cut at the IACA's notAfter.
        spec.not_after = na.unwrap_or_else(|| {
            (spec.not_before + time::Duration::days(x509::DS_MAX_DAYS)).min(view.not_after)
        });
        let cert = x509::build_document_signer(
            &spec,
            &subject,
            &view,
            &w.signer(&signer.key, Artefact::Certificate),
        )
        .map_err(|e| x509_error(e, "certificateData"))?;
        drop(signer);
        rec.commit(w, &cert, link)?;
        Ok(cert)
    })
    .await?;
    let mut out = req.certificate_data.clone();
    out.not_before = Some(rfc3339(cert.not_before()));
    out.not_after = Some(rfc3339(cert.not_after()));
    out.crl_distribution_point_uri = cert
        .ext()
        .crl_distribution_uris()
        .ok()
        .flatten()
        .and_then(|u| u.into_iter().next());
    Ok(api::IsoCertificateResponse {
        certificate_pem: pem(&cert)?,
        stored_certificate_ids: vec![full],
        certificate_data: out,
    })
}
