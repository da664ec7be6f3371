//! Publishing a VICAL (ISO/IEC 18013-5 Annex C) and serving the published ones.
//!
//! The VICAL lists one CertificateInfo per IACA of every issuing participant, is signed as a
//! COSE_Sign1 by the tenant's active VICAL signer (x5chain: its certificate, then the DTS
//! root's), and is stored as the exact bytes the public routes serve. vicalIssueID increases
//! strictly per ecosystem: publications are serialised, and the number is the primary key.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::api::ErrorCode;
use crate::cose;
use crate::crypto::{self, HashAlg, SignError};
use crate::store::{Store, VicalRecord};
use crate::x509::ParsedCertificate;

use super::super::ca::{RootFamily, SignerFamily, rfc3339, stored_cert};
use super::super::op::{self, Artefact, Op};
use super::super::{App, OpContext, ServiceError};
use super::{MAX_PARTICIPANTS, ecosystem_of};

const EVENT: &str = "ECOSYSTEM_VICAL_PUBLISH";

/// `{vicalIssueID, date}` of a publication.
#[derive(Debug, Clone)]
pub struct PublishedVical {
    pub vical_issue_id: i64,
    pub date: String,
}

/// Build, sign and store the ecosystem's next VICAL. `auto`: published by the daemon's
/// schedule rather than a request.
pub async fn publish(
    app: &Arc<App>,
    ctx: &OpContext,
    ecosystem: String,
    auto: bool,
) -> Result<PublishedVical, ServiceError> {
    // One publication at a time: the issue number read below stays the next one.
    let _one = app.provisioning.lock().await;
    let daily = app.vical_daily_period;
    op::run(app, ctx, Op::new(EVENT, Some(&ecosystem)), move |w| {
        let tenant = w.tenant().to_owned();
        ecosystem_of(w.store(), &tenant, &ecosystem)?;
        let config = w
            .store()
            .get_vical_config(&tenant, &ecosystem)?
            .ok_or_else(|| {
                ServiceError::conflict(
                    ErrorCode::VicalNotConfigured,
                    "Set the ecosystem's VICAL configuration (vicalProvider) before publishing",
                )
            })?;
        let members = members(w.store(), &tenant, &ecosystem)?;
        let (signer_label, x5chain) = active_signer(w.store(), &tenant)?;
        let now = OffsetDateTime::now_utc();
        let period = period_of(&config.frequency, daily);
        let id = w
            .store()
            .get_vical(&ecosystem, None)?
            .map_or(1, |v| v.vical_issue_id + 1);
        let spec = cose::VicalSpec {
            vical_provider: config.vical_provider,
            date: now,
            vical_issue_id: id as u64,
            next_update: Some(now + period),
        };
        // A member refused now (expired since it was added, say) is the operator's to fix.
        let refused = |e: cose::CoseError| match e {
            cose::CoseError::Caller(m) => ServiceError::Internal(format!("VICAL: {m}")),
            e => ServiceError::conflict(ErrorCode::VicalMemberInvalid, e.to_string()),
        };
        let prepared = cose::build_vical(&spec, &members)
            .map_err(refused)?
            .prepare(&x5chain)?;
        let key = w.token()?.find(&signer_label)?;
        let ledgered = w.signer(&key, Artefact::Cose);
        let sig = match crypto::sign(&ledgered, prepared.signature_algorithm(), prepared.bytes()) {
            Ok(sig) => sig,
            Err(SignError::Key(e)) => return Err(e.into()),
            Err(SignError::Crypto(e)) => {
                return Err(ServiceError::Internal(format!("VICAL signature: {e}")));
            }
        };
        let signed = prepared.finish(sig.to_fixed())?;
        let bytes = signed.bytes().to_vec();
        let record = VicalRecord {
            ecosystem_id: ecosystem.clone(),
            vical_issue_id: id,
            tenant,
            date: rfc3339(now.replace_nanosecond(0).unwrap_or(now)),
            next_update: rfc3339((now + period).replace_nanosecond(0).unwrap_or(now)),
            is_auto_published: auto,
            digest: HashAlg::Sha256
                .digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            bytes,
        };
        let published = PublishedVical {
            vical_issue_id: id,
            date: record.date.clone(),
        };
        w.commit(|tx| Ok(tx.insert_vical(&record)?))?;
        Ok(published)
    })
    .await
}

/// A schedule's period: `daily` (a day, shorter in tests), or seven of them.
fn period_of(frequency: &str, daily: time::Duration) -> time::Duration {
    match frequency {
        "Weekly" => daily * 7,
        _ => daily,
    }
}

/// One member per IACA of every issuing participant.
fn members(
    store: &Store,
    tenant: &str,
    ecosystem: &str,
) -> Result<Vec<cose::VicalMember>, ServiceError> {
    let mut out = Vec::new();
    for (_, p) in store.list_participants(tenant, ecosystem, 0, MAX_PARTICIPANTS)? {
        if !p.is_issuer {
            continue;
        }
        for iaca in p.iacas {
            let mut member = cose::VicalMember {
                certificate: ParsedCertificate::from_der(&iaca.certificate_der)
                    .map_err(|e| ServiceError::Internal(format!("stored IACA: {e}")))?,
                doc_types: iaca.doc_types,
                certificate_profiles: Vec::new(),
                issuing_authority: Some(p.name.clone()),
            };
            // An IACA the X.509 service issued with vicalEntryComplementaryMetadata: what the
            // operator stated there for the VICAL entry wins over the participant's defaults.
            if let Some(meta) = store.vical_entry_metadata(tenant, &iaca.certificate_der)? {
                apply_entry_metadata(&mut member, &meta);
            }
            out.push(member);
        }
    }
    Ok(out)
}

/// `{docType, certificateProfile, issuingAuthority}` of a store entry's metadata, each a
/// string or an array of strings; what is absent or of another shape is left as it was.
fn apply_entry_metadata(member: &mut cose::VicalMember, meta: &str) {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(meta) else {
        return;
    };
    let texts = |key: &str| -> Option<Vec<String>> {
        match v.get(key)? {
            serde_json::Value::String(s) => Some(vec![s.clone()]),
            serde_json::Value::Array(a) => {
                let t: Option<Vec<String>> =
                    a.iter().map(|x| x.as_str().map(str::to_owned)).collect();
                t.filter(|t| !t.is_empty())
            }
            _ => None,
        }
    };
    if let Some(d) = texts("docType") {
        member.doc_types = d;
    }
    if let Some(p) = texts("certificateProfile") {
        member.certificate_profiles = p;
    }
    if let Some(a) = v.get("issuingAuthority").and_then(|a| a.as_str()) {
        member.issuing_authority = Some(a.to_owned());
    }
}

/// The tenant's newest active VICAL signer: its key label and the x5chain (its certificate,
/// then its DTS root's).
fn active_signer(
    store: &Store,
    tenant: &str,
) -> Result<(String, Vec<ParsedCertificate>), ServiceError> {
    let signers = store.list_signers(tenant, SignerFamily::Vical.kind(), 0, 1000)?;
    let Some(s) = signers
        .into_iter()
        .map(|(_, s)| s)
        .rfind(|s| s.active && s.certificate_der.is_some())
    else {
        return Err(ServiceError::conflict(
            ErrorCode::NoActiveSigner,
            "The tenant has no active VICAL signer to sign the VICAL with",
        ));
    };
    let root = store
        .get_ca(tenant, RootFamily::Dts.kind(), &s.ca_id)?
        .ok_or_else(|| ServiceError::Internal("VICAL signer without its root".into()))?;
    let cert = stored_cert(s.certificate_der.as_deref().unwrap_or_default())?;
    Ok((s.key_label, vec![cert, stored_cert(&root.certificate_der)?]))
}

/// The published VICALs of an ecosystem, for the public list (no caller, no audit: these
/// are published).
pub async fn public_vicals(
    app: &Arc<App>,
    ecosystem: String,
    after: i64,
    limit: usize,
) -> Result<(Vec<VicalRecord>, Option<i64>), ServiceError> {
    let store = app.store.clone();
    app.blocking(move || {
        let rows = store.list_vicals(&ecosystem, after, limit + 1)?;
        super::super::page(rows, limit, |v| Ok(v.clone()))
    })
    .await?
}

/// One published VICAL with its bytes (`None`: the newest).
pub async fn public_vical(
    app: &Arc<App>,
    ecosystem: String,
    id: Option<i64>,
) -> Result<VicalRecord, ServiceError> {
    let store = app.store.clone();
    app.blocking(move || {
        store
            .get_vical(&ecosystem, id)?
            .ok_or(ServiceError::NotFound("VICAL"))
    })
    .await?
}

/// Publish, for every ecosystem whose configuration asks for it, a VICAL when its newest one
/// is a period (a day, a week) old or there is none: one pass of the daemon's timer. Each
/// publication is audited under the pseudo token `system:auto-publish` of the ecosystem's
/// tenant. Across a restart nothing is lost: the schedule is the newest VICAL's date, read
/// from the database at every pass, so a daemon that was down publishes at its first pass.
pub async fn auto_publish_due(app: &Arc<App>) {
    let store = app.store.clone();
    let daily = app.vical_daily_period;
    let due = app
        .blocking(move || -> Result<Vec<(String, String)>, ServiceError> {
            let now = OffsetDateTime::now_utc();
            let mut due = Vec::new();
            for c in store.auto_publish_configs()? {
                let period = period_of(&c.frequency, daily);
                let last = store.get_vical(&c.ecosystem_id, None)?.and_then(|v| {
                    OffsetDateTime::parse(&v.date, &time::format_description::well_known::Rfc3339)
                        .ok()
                });
                if last.is_none_or(|t| t + period <= now) {
                    due.push((c.tenant, c.ecosystem_id));
                }
            }
            Ok(due)
        })
        .await;
    let due = match due {
        Ok(Ok(d)) => d,
        Ok(Err(e)) | Err(e) => {
            tracing::warn!(error = %e, "auto-publish could not read its configurations");
            return;
        }
    };
    for (tenant, ecosystem) in due {
        let ctx = OpContext::system(tenant, "auto-publish");
        match publish(app, &ctx, ecosystem.clone(), true).await {
            Ok(p) => {
                tracing::info!(%ecosystem, vical_issue_id = p.vical_issue_id, "VICAL auto-published")
            }
            Err(e) => {
                tracing::warn!(%ecosystem, error = %e, "VICAL auto-publish failed; retried at the next pass")
            }
        }
    }
}
