//! Root CAs: managed (key generated in the token, certificate built here) or unmanaged (an
//! offline root's certificate uploaded); activation, deletion, the holder root's CRL.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::api::ErrorCode;
use crate::crypto::KeyAlgorithm;
use crate::store::{CaDeletion, CaRecord, KeyRecord, StoreError, TenantRecord};
use crate::x509::{self, AltNames, DnFields, RootCaSpec, StringEncoding, X509Error};

use super::super::crl;
use super::super::op::{self, Artefact, Op};
use super::super::{App, OpContext, ServiceError, now_rfc3339};
#[cfg(test)]
use super::IssuerAltNameInput;
use super::{
    CLOCK_SKEW, IACA_DEFAULT_YEARS, ROOT_LIMIT, ROOT_MAX_YEARS, RootFamily, RootRequest, RootView,
    invalid, limit_reached, plus_years, rfc3339, root_view,
};

/// The subject and validity of a managed root, from the request and the tenant's defaults.
/// Every rule is checked here, before any key exists.
fn managed_root_spec(
    family: RootFamily,
    req: &RootRequest,
    tenant_id: &str,
    tenant: Option<&TenantRecord>,
    now: OffsetDateTime,
) -> Result<RootCaSpec, ServiceError> {
    let domain = tenant.and_then(|t| t.domain.as_deref());
    let common_name = match &req.common_name {
        Some(cn) => {
            // Seed 003: "must be a valid PrintableString and cannot be an empty string".
            if cn.trim().is_empty() || cn.chars().count() > 64 || !x509::is_printable_string(cn) {
                return Err(invalid(
                    "commonName",
                    "must be a non-empty PrintableString of at most 64 characters",
                    Some(cn),
                ));
            }
            cn.clone()
        }
        None => match (family, domain) {
            (RootFamily::Dts, Some(d)) => format!("{d} DTS CA"),
            (RootFamily::Holder, Some(d)) => format!("{d} Wallet Attestation"),
            (RootFamily::Iaca, Some(d)) => format!("{d} IACA"),
            (_, None) => tenant_id.to_owned(),
        },
    };
    let country = match (&req.country, tenant.and_then(|t| t.country.as_deref())) {
        (Some(c), _) => {
            if !x509::is_iso3166_alpha2(c) {
                return Err(invalid(
                    "country",
                    "must be an ISO 3166-1 alpha-2 country code",
                    Some(c),
                ));
            }
            c.clone()
        }
        (None, Some(c)) => c.to_owned(),
        (None, None) => {
            return Err(invalid(
                "country",
                "is required: this tenant has no default country configured \
                 (set one with `hsm-pki tenant set --country`)",
                None,
            ));
        }
    };
    let organization = match family {
        RootFamily::Dts => match &req.organisation_name {
            Some(o) if !o.trim().is_empty() && o.chars().count() <= 64 => Some(o.clone()),
            Some(o) => {
                return Err(invalid(
                    "organisationName",
                    "must be 1 to 64 characters",
                    Some(o),
                ));
            }
            None => return Err(invalid("organisationName", "is required", None)),
        },
        RootFamily::Holder | RootFamily::Iaca => None,
    };
    let (not_before, not_after) = validity_window(req, now, ROOT_MAX_YEARS)?;
    let issuer_alt_names = managed_root_issuer_alt_names(req, tenant)?;
    let printable = x509::is_printable_string(&common_name)
        && organization
            .as_deref()
            .is_none_or(x509::is_printable_string);
    Ok(RootCaSpec {
        subject: DnFields {
            common_name: Some(common_name),
            country: Some(country),
            organization,
            ..Default::default()
        },
        string_encoding: if printable {
            StringEncoding::Printable
        } else {
            StringEncoding::Utf8
        },
        not_before,
        not_after,
        // The root certifies only end-entity signers (RFC 5280 4.2.1.9).
        path_len: Some(0),
        digital_signature: false,
        issuer_alt_names: Some(issuer_alt_names),
        crl_distribution_point_uri: None,
    })
}

/// notBefore (now by default, never in the past beyond the clock skew) and notAfter
/// (`default_years` after notBefore by default), both within 20 years of now. Checked before
/// any key exists, each rule naming its own field.
fn validity_window(
    req: &RootRequest,
    now: OffsetDateTime,
    default_years: i32,
) -> Result<(OffsetDateTime, OffsetDateTime), ServiceError> {
    let latest = plus_years(now, ROOT_MAX_YEARS);
    let not_before = match req.not_before {
        Some(nb) if nb < now - CLOCK_SKEW => {
            return Err(invalid(
                "notBefore",
                "must not be in the past (5 minutes of clock skew are allowed)",
                Some(&rfc3339(nb)),
            ));
        }
        // Else the default notAfter (capped at `latest`) would fall before it, and the
        // request would be refused only after a key was generated, naming notAfter.
        Some(nb) if nb >= latest => {
            return Err(invalid(
                "notBefore",
                "must be less than 20 years from now",
                Some(&rfc3339(nb)),
            ));
        }
        Some(nb) => nb,
        None => now,
    };
    let not_after = match req.not_after {
        Some(na) if na <= not_before => {
            return Err(invalid(
                "notAfter",
                "must be after notBefore",
                Some(&rfc3339(na)),
            ));
        }
        Some(na) if na > latest => {
            return Err(invalid(
                "notAfter",
                "must be at most 20 years from creation",
                Some(&rfc3339(na)),
            ));
        }
        Some(na) => na,
        // Capped at the maximum (20 years from creation).
        None => plus_years(not_before, default_years).min(latest),
    };
    Ok((not_before, not_after))
}

/// The subject, validity and issuerAltName of a managed IACA (ISO/IEC 18013-5 Table B.1):
/// commonName and country as for the other roots, an optional stateOrProvinceName,
/// 10 years by default and at most 20 (MATTR's rules). Every rule is checked here, before
/// any key exists.
fn managed_iaca_spec(
    req: &RootRequest,
    tenant_id: &str,
    tenant: Option<&TenantRecord>,
    now: OffsetDateTime,
) -> Result<x509::IacaSpec, ServiceError> {
    let base = managed_root_spec(RootFamily::Iaca, req, tenant_id, tenant, now)?;
    if let Some(st) = &req.state_or_province
        && (st.trim().is_empty() || st.chars().count() > 128)
    {
        return Err(invalid(
            "stateOrProvinceName",
            "must be 1 to 128 characters",
            Some(st),
        ));
    }
    let (not_before, not_after) = validity_window(req, now, IACA_DEFAULT_YEARS)?;
    Ok(x509::IacaSpec {
        country: base.subject.country.unwrap_or_default(),
        common_name: base.subject.common_name.unwrap_or_default(),
        state_or_province: req.state_or_province.clone(),
        organization: None,
        not_before,
        not_after,
        issuer_alt_names: base.issuer_alt_names.unwrap_or_default(),
        // Set by `create_root` once the root's id is known.
        crl_distribution_point_uri: None,
    })
}

/// An uploaded IACA: ISO/IEC 18013-5 Table B.1 (`x509::check_iaca`), and not expired. A
/// notBefore in the future is accepted (an IACA is often published before it is used).
fn check_uploaded_iaca(
    pem: &str,
    now: OffsetDateTime,
) -> Result<x509::ParsedCertificate, ServiceError> {
    const P: &str = "certificatePem";
    let cert = x509::parse_uploaded(pem).map_err(|e| ServiceError::from(e).about(P))?;
    x509::check_iaca(&cert, P).map_err(|e| ServiceError::from(e).about(P))?;
    if cert.not_after() <= now {
        return Err(invalid(P, "the IACA certificate has expired", None));
    }
    Ok(cert)
}

/// ISO/IEC 18013-5 B.1.2 (the IACA profile, followed for every root here): issuerAltName
/// carries "an email address or a URL" of the issuer. Uploaded roots must have one
/// (`x509::check_uploaded_root`), so managed roots carry one too: from the request, else from
/// the tenant's defaults (`hsm-pki tenant set --issuer-alt-uri/--issuer-alt-email`), else
/// the request is refused, as `country` is.
fn managed_root_issuer_alt_names(
    req: &RootRequest,
    tenant: Option<&TenantRecord>,
) -> Result<AltNames, ServiceError> {
    const P: &str = "issuerAlternativeNameConf";
    let (uri, email) = match (&req.issuer_alt_name, tenant) {
        (Some(c), _) => {
            if c.uri.is_none() && c.email.is_none() {
                return Err(invalid(P, "needs a uri, an email or both", None));
            }
            (c.uri.clone(), c.email.clone())
        }
        (None, Some(t)) if t.issuer_alt_uri.is_some() || t.issuer_alt_email.is_some() => {
            (t.issuer_alt_uri.clone(), t.issuer_alt_email.clone())
        }
        (None, _) => {
            return Err(invalid(
                P,
                "is required: this tenant has no default issuerAltName configured \
                 (set one with `hsm-pki tenant set --issuer-alt-uri` or `--issuer-alt-email`)",
                None,
            ));
        }
    };
    let rule_of = |e: X509Error| match e {
        X509Error::Invalid { rule, .. } => rule,
        other => other.to_string(),
    };
    if let Some(u) = &uri {
        let param = format!("{P}.uri");
        x509::check_uri(u, &param).map_err(|e| invalid(&param, rule_of(e), Some(u)))?;
    }
    if let Some(m) = &email {
        let param = format!("{P}.email");
        x509::check_email(m, &param).map_err(|e| invalid(&param, rule_of(e), Some(m)))?;
    }
    Ok(AltNames {
        uris: uri.into_iter().collect(),
        emails: email.into_iter().collect(),
        ..Default::default()
    })
}

/// What a managed root's certificate is built from.
enum ManagedSpec {
    Root(RootCaSpec),
    /// ISO/IEC 18013-5 Table B.1.
    Iaca(x509::IacaSpec),
}

pub async fn create_root(
    app: &Arc<App>,
    ctx: &OpContext,
    family: RootFamily,
    req: RootRequest,
) -> Result<RootView, ServiceError> {
    let op = Op::new(format!("{}_CREATE", family.event()), None);
    // An upload creates no key: it is recorded while the token is away.
    let op = match req.certificate_pem {
        Some(_) => op.records_only(),
        None => op,
    };
    let a = app.clone();
    let root = op::run(app, ctx, op, move |w| {
        let tenant_id = w.tenant().to_owned();
        let now = OffsetDateTime::now_utc();
        let id = uuid::Uuid::new_v4().to_string();
        // A managed root publishes its CRL here, and its certificate says where.
        let dp = crl::distribution_point(&a, &id);
        w.object(id.clone());
        let full = || {
            limit_reached(format!(
                "A tenant can have at most {ROOT_LIMIT} {}s",
                family.what()
            ))
        };
        let mut record = CaRecord {
            id: id.clone(),
            tenant: tenant_id.clone(),
            kind: family.kind().to_owned(),
            key_label: None,
            certificate_der: Vec::new(),
            // Seed 003 shows a new DTS root active; a holder root starts inactive
            // (activating one deactivates the others), and so does an IACA (MATTR).
            active: family == RootFamily::Dts,
            crl_number: 0,
            created_at: now_rfc3339(),
        };
        let key_record = match &req.certificate_pem {
            Some(pem) => {
                let cert = match family {
                    RootFamily::Iaca => check_uploaded_iaca(pem, now)?,
                    _ => x509::check_uploaded_root(pem, now)
                        .map_err(|e| ServiceError::from(e).about("certificatePem"))?,
                };
                record.certificate_der = cert.der().to_vec();
                None
            }
            None => {
                let tenant = w.store().get_tenant(&tenant_id)?;
                let t = tenant.as_ref();
                let spec = match family {
                    RootFamily::Iaca => ManagedSpec::Iaca(x509::IacaSpec {
                        crl_distribution_point_uri: dp,
                        ..managed_iaca_spec(&req, &tenant_id, t, now)?
                    }),
                    _ => ManagedSpec::Root(RootCaSpec {
                        crl_distribution_point_uri: dp,
                        ..managed_root_spec(family, &req, &tenant_id, t, now)?
                    }),
                };
                // Checked again in the inserting transaction; this one spares the token.
                if w.store().count_cas(&tenant_id, family.kind())? >= ROOT_LIMIT {
                    return Err(full());
                }
                let algorithm = req.algorithm.unwrap_or(KeyAlgorithm::P256);
                let key = w.generate_key(algorithm)?;
                let signer = w.signer(&key, Artefact::Certificate);
                let cert = match &spec {
                    ManagedSpec::Root(root) => x509::build_root_ca(root, &signer, None)?,
                    ManagedSpec::Iaca(iaca) => x509::build_iaca(iaca, &signer)?,
                };
                record.certificate_der = cert.der().to_vec();
                record.key_label = Some(key.label().to_owned());
                Some(KeyRecord {
                    label: key.label().to_owned(),
                    tenant: tenant_id.clone(),
                    name: format!("{}{id}", family.key_prefix()),
                    algorithm: algorithm.name().to_owned(),
                    public_key_der: key.public_key().to_spki_der(),
                    origin: "generated".into(),
                    created_at: record.created_at.clone(),
                    purpose: Some(family.purpose().name().to_owned()),
                })
            }
        };
        w.commit(|tx| {
            match tx.insert_ca(&record, key_record.as_ref(), ROOT_LIMIT) {
                Ok(true) => {}
                Ok(false) => return Err(full()),
                // Found by tests/hostile.rs: the same root uploaded twice made two roots
                // with one certificate.
                Err(StoreError::Conflict) => {
                    return Err(ServiceError::conflict(
                        ErrorCode::RootExists,
                        format!("This {} is already uploaded", family.what()),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
            // Its first CRL comes from the renewal timer, woken below.
            if let Some(label) = &record.key_label {
                tx.upsert_crl_issuer(
                    &record.id,
                    &record.tenant,
                    label,
                    &record.certificate_der,
                    &record.created_at,
                )?;
            }
            Ok(())
        })?;
        root_view(&record)
    })
    .await?;
    app.crl_wake.notify_one();
    Ok(root)
}

/// `PUT {active}`. A holder root is exclusive: activating one deactivates the others.
pub async fn set_root_active(
    app: &Arc<App>,
    ctx: &OpContext,
    family: RootFamily,
    id: String,
    active: bool,
) -> Result<RootView, ServiceError> {
    let op = Op::new(format!("{}_UPDATE", family.event()), Some(&id)).records_only();
    op::run(app, ctx, op, move |w| {
        let tenant = w.tenant().to_owned();
        let exclusive = family == RootFamily::Holder;
        let r = w.commit(|tx| {
            tx.set_ca_active(&tenant, family.kind(), &id, active, exclusive)?
                .ok_or(ServiceError::NotFound(family.what()))
        })?;
        root_view(&r)
    })
    .await
}

/// `DELETE`: a DTS root with VICAL signers, or an IACA with document signers, is refused
/// (409; MATTR's reference does not say what it does, and refusing loses nothing); a holder
/// root takes its wallet attestation signers with it. Token keys are destroyed after the records are gone.
pub async fn delete_root(
    app: &Arc<App>,
    ctx: &OpContext,
    family: RootFamily,
    id: String,
) -> Result<(), ServiceError> {
    let op = Op::new(format!("{}_DELETE", family.event()), Some(&id));
    op::run(app, ctx, op, move |w| {
        let tenant = w.tenant().to_owned();
        let cascade = family == RootFamily::Holder;
        let labels =
            w.commit(
                |tx| match tx.delete_ca(&tenant, family.kind(), &id, cascade)? {
                    CaDeletion::NotFound => Err(ServiceError::NotFound(family.what())),
                    CaDeletion::HasSigners(n) => Err(ServiceError::conflict(
                        ErrorCode::CaInUse,
                        format!(
                            "The root CA has {n} {}; delete them first",
                            family.signers()
                        ),
                    )),
                    CaDeletion::HasStatusLists(n) => Err(ServiceError::conflict(
                        ErrorCode::CaInUse,
                        format!(
                            "The IACA has {n} status list(s) its mdocs point at; it cannot \
                             be deleted (deactivate it instead)"
                        ),
                    )),
                    CaDeletion::Deleted { key_labels } => Ok(key_labels),
                },
            )?;
        // After the commit: record first, token object second.
        if let Ok(token) = w.token() {
            for l in &labels {
                op::destroy_quietly(token, l);
            }
        }
        Ok(())
    })
    .await
}

/// The stored CRL of a managed holder root, DER: the bytes `/crl/{caId}.crl` serves. An
/// unmanaged root has none here (its CRL is published by whoever holds its key): 404
/// `NoCertificateRevocationList`. Reads only, like the public route.
pub async fn holder_root_crl(
    app: &Arc<App>,
    ctx: &OpContext,
    id: String,
) -> Result<Vec<u8>, ServiceError> {
    let family = RootFamily::Holder;
    let name = format!("{}_REVOCATION_LIST_RETRIEVE", family.event());
    let store = app.store.clone();
    let tenant = ctx.principal.tenant.clone();
    let (i, t) = (id.clone(), tenant.clone());
    let result = app
        .blocking(move || {
            let ca = store
                .get_ca(&t, family.kind(), &i)?
                .ok_or(ServiceError::NotFound(family.what()))?;
            if ca.key_label.is_none() {
                return Err(ServiceError::Conflict {
                    code: ErrorCode::NoCertificateRevocationList,
                    message: "The root CA is unmanaged: its revocation list is published by \
                              the holder of its key"
                        .into(),
                });
            }
            crl::tenant_crl(&store, &t, &i)?
                .map(|c| c.der)
                .ok_or(ServiceError::NotFound(
                    "CRL (the first is signed within a minute)",
                ))
        })
        .await
        .and_then(|r| r);
    ctx.record(app, &name, Some(&id), &result).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

    fn tenant(domain: Option<&str>, country: Option<&str>) -> TenantRecord {
        TenantRecord {
            id: "org.t1".into(),
            domain: domain.map(str::to_owned),
            country: country.map(str::to_owned),
            created_at: "x".into(),
            issuer_alt_uri: Some("https://pki.example.com".into()),
            issuer_alt_email: None,
        }
    }

    fn param(e: ServiceError) -> String {
        match e {
            ServiceError::Invalid { param, .. } => param,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn managed_root_defaults_and_rules() {
        let req = RootRequest {
            organisation_name: Some("Example Inc.".into()),
            ..Default::default()
        };
        let t = tenant(Some("example.com"), Some("NZ"));
        let s = managed_root_spec(RootFamily::Dts, &req, "org.t1", Some(&t), NOW).unwrap();
        assert_eq!(s.subject.common_name.as_deref(), Some("example.com DTS CA"));
        assert_eq!(s.subject.country.as_deref(), Some("NZ"));
        assert_eq!(s.not_before, NOW);
        assert_eq!(s.not_after, datetime!(2046-11-23 10:00:00 UTC));
        let s = managed_root_spec(
            RootFamily::Holder,
            &RootRequest::default(),
            "org.t1",
            Some(&t),
            NOW,
        )
        .unwrap();
        assert_eq!(
            s.subject.common_name.as_deref(),
            Some("example.com Wallet Attestation")
        );
        let bare = tenant(None, Some("NZ"));
        let s = managed_root_spec(RootFamily::Dts, &req, "org.t1", Some(&bare), NOW).unwrap();
        assert_eq!(s.subject.common_name.as_deref(), Some("org.t1"));
        // No country anywhere: 400 naming country.
        let e = managed_root_spec(
            RootFamily::Dts,
            &req,
            "org.t1",
            Some(&tenant(None, None)),
            NOW,
        )
        .unwrap_err();
        assert_eq!(param(e), "country");
        let bad = |r: RootRequest| {
            param(managed_root_spec(RootFamily::Dts, &r, "org.t1", Some(&t), NOW).unwrap_err())
        };
        assert_eq!(bad(RootRequest::default()), "organisationName");
        assert_eq!(
            bad(RootRequest {
                common_name: Some("a_b".into()),
                ..req.clone()
            }),
            "commonName"
        );
        assert_eq!(
            bad(RootRequest {
                common_name: Some(String::new()),
                ..req.clone()
            }),
            "commonName"
        );
        assert_eq!(
            bad(RootRequest {
                country: Some("XX".into()),
                ..req.clone()
            }),
            "country"
        );
        assert_eq!(
            bad(RootRequest {
                not_before: Some(NOW - time::Duration::hours(1)),
                ..req.clone()
            }),
            "notBefore"
        );
        assert_eq!(
            bad(RootRequest {
                not_after: Some(NOW + time::Duration::days(7306)),
                ..req.clone()
            }),
            "notAfter"
        );
        assert_eq!(
            bad(RootRequest {
                not_before: Some(NOW + time::Duration::days(2)),
                not_after: Some(NOW + time::Duration::days(1)),
                ..req.clone()
            }),
            "notAfter"
        );
        // Within the skew allowance; a future notBefore's default notAfter is capped.
        let s = managed_root_spec(
            RootFamily::Dts,
            &RootRequest {
                not_before: Some(NOW + time::Duration::days(30)),
                ..req.clone()
            },
            "org.t1",
            Some(&t),
            NOW - time::Duration::minutes(4),
        )
        .unwrap();
        assert_eq!(
            s.not_after,
            plus_years(NOW - time::Duration::minutes(4), 20)
        );
    }

    #[test]
    fn a_not_before_beyond_the_maximum_is_named() {
        let t = tenant(Some("example.com"), Some("NZ"));
        let req = RootRequest {
            organisation_name: Some("Example Inc.".into()),
            not_before: Some(plus_years(NOW, 21)),
            ..Default::default()
        };
        let e = managed_root_spec(RootFamily::Dts, &req, "org.t1", Some(&t), NOW).unwrap_err();
        assert_eq!(param(e), "notBefore");
    }

    #[test]
    fn managed_root_issuer_alt_name() {
        let req = RootRequest {
            organisation_name: Some("Example Inc.".into()),
            ..Default::default()
        };
        let t = tenant(Some("example.com"), Some("NZ"));
        // The tenant's default.
        let s = managed_root_spec(RootFamily::Dts, &req, "org.t1", Some(&t), NOW).unwrap();
        let ian = s.issuer_alt_names.unwrap();
        assert_eq!(ian.uris, ["https://pki.example.com"]);
        assert!(ian.emails.is_empty());
        // The request's wins, whole (no merging with the tenant's).
        let given = RootRequest {
            issuer_alt_name: Some(IssuerAltNameInput {
                uri: None,
                email: Some("pki@example.org".into()),
            }),
            ..req.clone()
        };
        let s = managed_root_spec(RootFamily::Holder, &given, "org.t1", Some(&t), NOW).unwrap();
        let ian = s.issuer_alt_names.unwrap();
        assert!(ian.uris.is_empty());
        assert_eq!(ian.emails, ["pki@example.org"]);
        // Neither: 400 naming the field, for both families; also without any tenant row.
        let mut bare = tenant(Some("example.com"), Some("NZ"));
        bare.issuer_alt_uri = None;
        for family in [RootFamily::Dts, RootFamily::Holder] {
            let e = managed_root_spec(family, &req, "org.t1", Some(&bare), NOW).unwrap_err();
            assert_eq!(param(e), "issuerAlternativeNameConf");
        }
        let e = managed_root_spec(
            RootFamily::Holder,
            &RootRequest {
                country: Some("NZ".into()),
                ..Default::default()
            },
            "org.t1",
            None,
            NOW,
        )
        .unwrap_err();
        assert_eq!(param(e), "issuerAlternativeNameConf");
        // Empty, or a bad URI / e-mail: named precisely.
        let bad = |uri: Option<&str>, email: Option<&str>| {
            let r = RootRequest {
                issuer_alt_name: Some(IssuerAltNameInput {
                    uri: uri.map(str::to_owned),
                    email: email.map(str::to_owned),
                }),
                ..req.clone()
            };
            param(managed_root_spec(RootFamily::Dts, &r, "org.t1", Some(&t), NOW).unwrap_err())
        };
        assert_eq!(bad(None, None), "issuerAlternativeNameConf");
        assert_eq!(
            bad(Some("/relative"), None),
            "issuerAlternativeNameConf.uri"
        );
        assert_eq!(
            bad(Some("https://ok.example"), Some("nobody")),
            "issuerAlternativeNameConf.email"
        );
    }

    /// A managed root passes the checks an uploaded root must pass, so it can be exported and
    /// uploaded elsewhere as an unmanaged root (ISO/IEC 18013-5 B.1.2 issuerAltName included).
    #[test]
    fn a_managed_dts_root_passes_the_upload_checks() {
        use crate::crypto::testkeys::SoftEcKey;
        let req = RootRequest {
            organisation_name: Some("Example Inc.".into()),
            ..Default::default()
        };
        let t = tenant(Some("example.com"), Some("NZ"));
        let now = OffsetDateTime::now_utc();
        let spec = managed_root_spec(RootFamily::Dts, &req, "org.t1", Some(&t), now).unwrap();
        let cert = x509::build_root_ca(&spec, &SoftEcKey::p256(21), None).unwrap();
        x509::check_uploaded_root(&cert.to_pem().unwrap(), now + time::Duration::minutes(1))
            .unwrap();
    }
}
