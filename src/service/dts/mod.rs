//! The digital trust service: ecosystems, their participants (with the IACAs each issues
//! under, checked against ISO/IEC 18013-5 Table B.1 when added) and the VICAL configuration.
//! Records only: nothing here touches the token; publishing a VICAL does (`publish.rs`).

use std::sync::Arc;

use time::OffsetDateTime;

use crate::store::{EcosystemRecord, ParticipantIaca, ParticipantRecord, VicalConfigRecord};
use crate::x509;

use super::op::{self, Op};
use super::{App, OpContext, ServiceError, now_rfc3339};

mod publish;

pub use publish::{PublishedVical, auto_publish_due, public_vical, public_vicals, publish};

/// Ecosystems per tenant, participants per ecosystem, IACAs per participant, docTypes per
/// IACA: limits so that one tenant's VICAL and database stay bounded.
pub const MAX_ECOSYSTEMS: usize = 50;
pub const MAX_PARTICIPANTS: usize = 1000;
pub const MAX_IACAS: usize = 10;
pub const MAX_DOC_TYPES: usize = 20;
/// The docType of an IACA identifier given as a bare PEM.
pub const DEFAULT_DOC_TYPE: &str = "org.iso.18013.5.1.mDL";

/// One mobile identifier as the request gave it.
#[derive(Debug, Clone)]
pub struct IacaInput {
    pub certificate_pem: String,
    pub doc_types: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct ParticipantInput {
    pub name: String,
    pub iacas: Vec<IacaInput>,
    pub is_issuer: bool,
    pub is_verifier: bool,
}

fn check_name(name: &str) -> Result<(), ServiceError> {
    let n = name.chars().count();
    if name.trim().is_empty() || n > 50 {
        return Err(ServiceError::invalid("name", "must be 1 to 50 characters"));
    }
    Ok(())
}

/// Every rule of a participant that needs no database: name, 1 to 10 IACAs (each a valid
/// Table B.1 IACA, not expired, a notBefore in the future accepted, no certificate twice),
/// docTypes.
fn check_participant(
    input: &ParticipantInput,
    now: OffsetDateTime,
) -> Result<Vec<ParticipantIaca>, ServiceError> {
    check_name(&input.name)?;
    const P: &str = "identifiers.mobile";
    if input.iacas.is_empty() || input.iacas.len() > MAX_IACAS {
        return Err(ServiceError::invalid(
            P,
            format!("must list 1 to {MAX_IACAS} IACA certificates"),
        ));
    }
    let mut out: Vec<ParticipantIaca> = Vec::new();
    for (i, iaca) in input.iacas.iter().enumerate() {
        let at = format!("{P}[{i}]");
        // The engine names its own field (`certificatePem`); here the identifier's place is.
        let named = |e: x509::X509Error| match ServiceError::from(e) {
            ServiceError::Invalid { msg, .. } => ServiceError::invalid(&at, msg),
            other => other,
        };
        let cert = x509::parse_uploaded(&iaca.certificate_pem).map_err(named)?;
        x509::check_iaca(&cert, &at).map_err(named)?;
        if cert.not_after() <= now {
            return Err(ServiceError::invalid(
                &at,
                "the IACA certificate has expired",
            ));
        }
        if out.iter().any(|o| o.certificate_der == cert.der()) {
            return Err(ServiceError::invalid(
                &at,
                "lists the same IACA certificate twice",
            ));
        }
        let doc_types = match &iaca.doc_types {
            None => vec![DEFAULT_DOC_TYPE.to_owned()],
            Some(d) => {
                let p = format!("{at}.docTypes");
                if d.is_empty() || d.len() > MAX_DOC_TYPES {
                    return Err(ServiceError::invalid(
                        &p,
                        format!("must list 1 to {MAX_DOC_TYPES} docTypes"),
                    ));
                }
                for (j, t) in d.iter().enumerate() {
                    if t.trim().is_empty() || t.len() > 256 || d[..j].contains(t) {
                        return Err(ServiceError::invalid(
                            format!("{p}[{j}]"),
                            "must be 1 to 256 characters, each docType once",
                        ));
                    }
                }
                d.clone()
            }
        };
        out.push(ParticipantIaca {
            certificate_der: cert.der().to_vec(),
            doc_types,
        });
    }
    Ok(out)
}

pub(super) fn ecosystem_of(
    store: &crate::store::Store,
    tenant: &str,
    id: &str,
) -> Result<EcosystemRecord, ServiceError> {
    store
        .get_ecosystem(tenant, id)?
        .ok_or(ServiceError::NotFound("ecosystem"))
}

pub async fn create_ecosystem(
    app: &Arc<App>,
    ctx: &OpContext,
    name: String,
) -> Result<EcosystemRecord, ServiceError> {
    op::precheck(app, ctx, "ECOSYSTEM_CREATE", check_name(&name)).await?;
    let op = Op::new("ECOSYSTEM_CREATE", None).records_only();
    op::run(app, ctx, op, move |w| {
        let e = EcosystemRecord {
            id: uuid::Uuid::new_v4().to_string(),
            tenant: w.tenant().to_owned(),
            name,
            created_at: now_rfc3339(),
        };
        w.object(e.id.clone());
        w.commit(|tx| match tx.insert_ecosystem(&e, MAX_ECOSYSTEMS)? {
            true => Ok(()),
            false => Err(super::ca::limit_reached(format!(
                "A tenant can have at most {MAX_ECOSYSTEMS} ecosystems"
            ))),
        })?;
        Ok(e)
    })
    .await
}

pub async fn get_ecosystem(
    app: &Arc<App>,
    ctx: &OpContext,
    id: String,
) -> Result<EcosystemRecord, ServiceError> {
    let id2 = id.clone();
    super::read(
        app,
        ctx,
        "ECOSYSTEM_RETRIEVE",
        Some(&id),
        move |store, tenant| ecosystem_of(store, tenant, &id2),
    )
    .await
}

pub async fn list_ecosystems(
    app: &Arc<App>,
    ctx: &OpContext,
    after: i64,
    limit: usize,
) -> Result<(Vec<EcosystemRecord>, Option<i64>), ServiceError> {
    super::read(
        app,
        ctx,
        "ECOSYSTEM_RETRIEVE_LIST",
        None,
        move |store, tenant| {
            let rows = store.list_ecosystems(tenant, after, limit + 1)?;
            super::page(rows, limit, |e| Ok(e.clone()))
        },
    )
    .await
}

/// Deletes the ecosystem with its participants and VICAL configuration.
pub async fn delete_ecosystem(
    app: &Arc<App>,
    ctx: &OpContext,
    id: String,
) -> Result<(), ServiceError> {
    let op = Op::new("ECOSYSTEM_DELETE", Some(&id)).records_only();
    op::run(app, ctx, op, move |w| {
        let tenant = w.tenant().to_owned();
        w.commit(|tx| match tx.delete_ecosystem(&tenant, &id)? {
            true => Ok(()),
            false => Err(ServiceError::NotFound("ecosystem")),
        })
    })
    .await
}

pub async fn create_participant(
    app: &Arc<App>,
    ctx: &OpContext,
    ecosystem: String,
    input: ParticipantInput,
) -> Result<ParticipantRecord, ServiceError> {
    const EVENT: &str = "ECOSYSTEM_PARTICIPANT_CREATE";
    let now = OffsetDateTime::now_utc();
    let iacas = op::precheck(app, ctx, EVENT, check_participant(&input, now)).await?;
    op::run(app, ctx, Op::new(EVENT, None).records_only(), move |w| {
        let tenant = w.tenant().to_owned();
        ecosystem_of(w.store(), &tenant, &ecosystem)?;
        let p = ParticipantRecord {
            id: uuid::Uuid::new_v4().to_string(),
            tenant,
            ecosystem_id: ecosystem,
            name: input.name,
            is_issuer: input.is_issuer,
            is_verifier: input.is_verifier,
            iacas,
            created_at: now_rfc3339(),
        };
        w.object(p.id.clone());
        w.commit(|tx| match tx.insert_participant(&p, MAX_PARTICIPANTS)? {
            true => Ok(()),
            false => Err(super::ca::limit_reached(format!(
                "An ecosystem can have at most {MAX_PARTICIPANTS} participants"
            ))),
        })?;
        Ok(p)
    })
    .await
}

/// `PUT`: the whole participant is replaced (its id and ecosystem stay).
pub async fn update_participant(
    app: &Arc<App>,
    ctx: &OpContext,
    ecosystem: String,
    id: String,
    input: ParticipantInput,
) -> Result<ParticipantRecord, ServiceError> {
    const EVENT: &str = "ECOSYSTEM_PARTICIPANT_UPDATE";
    let now = OffsetDateTime::now_utc();
    let iacas = op::precheck(app, ctx, EVENT, check_participant(&input, now)).await?;
    op::run(
        app,
        ctx,
        Op::new(EVENT, Some(&id)).records_only(),
        move |w| {
            let tenant = w.tenant().to_owned();
            let cur = w
                .store()
                .get_participant(&tenant, &ecosystem, &id)?
                .ok_or(ServiceError::NotFound("participant"))?;
            let p = ParticipantRecord {
                name: input.name,
                is_issuer: input.is_issuer,
                is_verifier: input.is_verifier,
                iacas,
                ..cur
            };
            w.commit(|tx| match tx.replace_participant(&p)? {
                true => Ok(()),
                false => Err(ServiceError::NotFound("participant")),
            })?;
            Ok(p)
        },
    )
    .await
}

pub async fn get_participant(
    app: &Arc<App>,
    ctx: &OpContext,
    ecosystem: String,
    id: String,
) -> Result<ParticipantRecord, ServiceError> {
    let id2 = id.clone();
    super::read(
        app,
        ctx,
        "ECOSYSTEM_PARTICIPANT_RETRIEVE",
        Some(&id),
        move |store, tenant| {
            store
                .get_participant(tenant, &ecosystem, &id2)?
                .ok_or(ServiceError::NotFound("participant"))
        },
    )
    .await
}

pub async fn list_participants(
    app: &Arc<App>,
    ctx: &OpContext,
    ecosystem: String,
    after: i64,
    limit: usize,
) -> Result<(Vec<ParticipantRecord>, Option<i64>), ServiceError> {
    super::read(
        app,
        ctx,
        "ECOSYSTEM_PARTICIPANT_RETRIEVE_LIST",
        None,
        move |store, tenant| {
            ecosystem_of(store, tenant, &ecosystem)?;
            let rows = store.list_participants(tenant, &ecosystem, after, limit + 1)?;
            super::page(rows, limit, |p| Ok(p.clone()))
        },
    )
    .await
}

pub async fn delete_participant(
    app: &Arc<App>,
    ctx: &OpContext,
    ecosystem: String,
    id: String,
) -> Result<(), ServiceError> {
    let op = Op::new("ECOSYSTEM_PARTICIPANT_DELETE", Some(&id)).records_only();
    op::run(app, ctx, op, move |w| {
        let tenant = w.tenant().to_owned();
        w.commit(
            |tx| match tx.delete_participant(&tenant, &ecosystem, &id)? {
                true => Ok(()),
                false => Err(ServiceError::NotFound("participant")),
            },
        )
    })
    .await
}

/// `PUT .../vicals/configuration`: `frequency` is `Daily` or `Weekly`.
pub async fn put_vical_config(
    app: &Arc<App>,
    ctx: &OpContext,
    ecosystem: String,
    vical_provider: String,
    auto_publish: bool,
    frequency: String,
) -> Result<VicalConfigRecord, ServiceError> {
    const EVENT: &str = "ECOSYSTEM_VICAL_CONFIGURATION_UPDATE";
    let checked = (|| {
        if vical_provider.trim().is_empty() || vical_provider.chars().count() > 128 {
            return Err(ServiceError::invalid(
                "vicalProvider",
                "must be 1 to 128 characters",
            ));
        }
        if frequency != "Daily" && frequency != "Weekly" {
            return Err(ServiceError::invalid_value(
                "autoPublish.frequency",
                "must be Daily or Weekly",
                &frequency,
            ));
        }
        Ok(())
    })();
    op::precheck(app, ctx, EVENT, checked).await?;
    op::run(
        app,
        ctx,
        Op::new(EVENT, Some(&ecosystem)).records_only(),
        move |w| {
            let tenant = w.tenant().to_owned();
            ecosystem_of(w.store(), &tenant, &ecosystem)?;
            let c = VicalConfigRecord {
                ecosystem_id: ecosystem,
                tenant,
                vical_provider,
                auto_publish,
                frequency,
                updated_at: now_rfc3339(),
            };
            w.commit(|tx| Ok(tx.put_vical_config(&c)?))?;
            Ok(c)
        },
    )
    .await
}

pub async fn get_vical_config(
    app: &Arc<App>,
    ctx: &OpContext,
    ecosystem: String,
) -> Result<VicalConfigRecord, ServiceError> {
    let e2 = ecosystem.clone();
    super::read(
        app,
        ctx,
        "ECOSYSTEM_VICAL_CONFIGURATION_RETRIEVE",
        Some(&ecosystem),
        move |store, tenant| {
            ecosystem_of(store, tenant, &e2)?;
            store
                .get_vical_config(tenant, &e2)?
                .ok_or(ServiceError::NotFound("VICAL configuration"))
        },
    )
    .await
}

pub async fn delete_vical_config(
    app: &Arc<App>,
    ctx: &OpContext,
    ecosystem: String,
) -> Result<(), ServiceError> {
    const EVENT: &str = "ECOSYSTEM_VICAL_CONFIGURATION_DELETE";
    op::run(
        app,
        ctx,
        Op::new(EVENT, Some(&ecosystem)).records_only(),
        move |w| {
            let tenant = w.tenant().to_owned();
            w.commit(|tx| match tx.delete_vical_config(&tenant, &ecosystem)? {
                true => Ok(()),
                false => Err(ServiceError::NotFound("VICAL configuration")),
            })
        },
    )
    .await
}
