//! Revocation: signers of every family (their certificates), and certificates the X.509
//! service issued. A revocation and the CRL that lists it commit together; revoking again
//! answers the first revocation and changes nothing.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::api::ErrorCode;
use crate::store::Revocation;
use crate::x509;

use super::super::ca::{SignerFamily, stored_cert};
use super::super::op::{self, Op};
use super::super::{App, OpContext, ServiceError, now_rfc3339};
use super::sign_next;

/// The answer to a revoke request (MATTR: `{revoked: true, revocationDate}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    pub revocation_date: String,
    pub reason: Option<String>,
    /// The caId whose CRL lists it, when one here does.
    pub crl_ca_id: Option<String>,
}

impl From<Revocation> for Revoked {
    fn from(r: Revocation) -> Self {
        Revoked {
            revocation_date: r.revoked_at,
            reason: r.reason,
            crl_ca_id: r.issuer_id,
        }
    }
}

/// `reason`: an RFC 5280 5.3.1 name, or none.
fn parse_reason(reason: Option<String>) -> Result<Option<String>, ServiceError> {
    match reason {
        None => Ok(None),
        Some(r) if x509::reason_from_name(&r).is_some() => Ok(Some(r)),
        Some(r) => {
            let names: Vec<&str> = x509::REASONS.iter().map(|(n, _)| *n).collect();
            Err(ServiceError::invalid_value(
                "reason",
                format!("must be one of {}", names.join(", ")),
                &r.chars().take(64).collect::<String>(),
            ))
        }
    }
}

/// Revoke the signer `id` of `family`: it is deactivated and signs nothing again (its
/// activation is refused from now on); its certificate, if it has one and its root's key is
/// held here, is listed on the root's next CRL, signed in the same operation. Under an
/// uploaded root only the signer is revoked here: that root's CRL is its key holder's.
pub async fn revoke_signer(
    app: &Arc<App>,
    ctx: &OpContext,
    family: SignerFamily,
    id: String,
    reason: Option<String>,
) -> Result<Revoked, ServiceError> {
    let event = format!("{}_REVOKE", family.event());
    let reason = match parse_reason(reason) {
        Ok(r) => r,
        Err(e) => return op::refuse(app, ctx, &event, Some(&id), e).await,
    };
    let a = app.clone();
    op::run(app, ctx, Op::new(event, Some(&id)), move |w| {
        let tenant = w.tenant().to_owned();
        let signer = w
            .store()
            .get_signer(&tenant, family.kind(), &id)?
            .ok_or(ServiceError::NotFound(family.what()))?;
        let _numbers = a.crl_lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(done) = w.store().revocation("signer", &id)? {
            w.commit(|_| Ok(()))?;
            return Ok(done.into());
        }
        let serial = match &signer.certificate_der {
            Some(der) => Some(stored_cert(der)?.serial_hex()),
            None => None,
        };
        let issuer = match serial {
            Some(_) => w.store().crl_issuer(&signer.ca_id)?,
            None => None,
        };
        let now = OffsetDateTime::now_utc();
        let rev = Revocation {
            subject_kind: "signer".into(),
            subject_id: id.clone(),
            tenant: tenant.clone(),
            issuer_id: issuer.as_ref().map(|i| i.id.clone()),
            serial,
            reason,
            revoked_at: now_rfc3339(),
        };
        let crl = match &issuer {
            Some(i) => Some(sign_next(w, &a.crl, i, Some(&rev), now)?),
            None => None,
        };
        w.commit(|tx| {
            tx.insert_revocation(&rev)?;
            tx.update_signer(&tenant, family.kind(), &id, None, Some(false))?;
            if let Some(c) = &crl {
                c.store(tx)?;
            }
            Ok(())
        })?;
        Ok(rev.into())
    })
    .await
}

/// A serial as the API names certificates: lowercase hex of its content octets.
fn valid_serial(s: &str) -> bool {
    (2..=42).contains(&s.len())
        && s.len().is_multiple_of(2)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Revoke a certificate the X.509 service issued to this tenant, by serial. Only one that a
/// CRL here can list: signed by a CA key held here whose CA certificate is known here
/// (409 `NotRevocable` for a self-signed certificate or one signed by an imported JWK).
pub async fn revoke_certificate(
    app: &Arc<App>,
    ctx: &OpContext,
    serial: String,
    reason: Option<String>,
) -> Result<Revoked, ServiceError> {
    const EVENT: &str = "X509_CERTIFICATE_REVOKE";
    let checked = parse_reason(reason).and_then(|r| {
        if valid_serial(&serial) {
            Ok(r)
        } else {
            Err(ServiceError::NotFound("certificate"))
        }
    });
    let reason = match checked {
        Ok(r) => r,
        Err(e) => return op::refuse(app, ctx, EVENT, None, e).await,
    };
    let a = app.clone();
    op::run(app, ctx, Op::new(EVENT, Some(&serial)), move |w| {
        let tenant = w.tenant().to_owned();
        let (issued_id, issuer_id) = w
            .store()
            .issued_by_serial(&tenant, &serial)?
            .ok_or(ServiceError::NotFound("certificate"))?;
        let subject_id = issued_id.to_string();
        let _numbers = a.crl_lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(done) = w.store().revocation("certificate", &subject_id)? {
            w.commit(|_| Ok(()))?;
            return Ok(done.into());
        }
        let not_revocable = || {
            ServiceError::conflict(
                ErrorCode::NotRevocable,
                "No CRL here can list this certificate: it is self-signed, or its issuer's key \
                 is not held here (an imported JWK) or has no CA certificate issued here",
            )
        };
        let issuer_id = issuer_id.ok_or_else(not_revocable)?;
        let issuer = w
            .store()
            .crl_issuer(&issuer_id)?
            .ok_or_else(not_revocable)?;
        let now = OffsetDateTime::now_utc();
        let rev = Revocation {
            subject_kind: "certificate".into(),
            subject_id,
            tenant,
            issuer_id: Some(issuer.id.clone()),
            serial: Some(serial.clone()),
            reason,
            revoked_at: now_rfc3339(),
        };
        let crl = sign_next(w, &a.crl, &issuer, Some(&rev), now)?;
        w.commit(|tx| {
            tx.insert_revocation(&rev)?;
            crl.store(tx)
        })?;
        Ok(rev.into())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_serials() {
        assert_eq!(parse_reason(None).unwrap(), None);
        assert_eq!(
            parse_reason(Some("keyCompromise".into()))
                .unwrap()
                .as_deref(),
            Some("keyCompromise")
        );
        assert!(parse_reason(Some("removeFromCRL".into())).is_err());
        assert!(parse_reason(Some("KeyCompromise".into())).is_err());
        assert!(valid_serial("0a1b"));
        assert!(!valid_serial("0A1B"));
        assert!(!valid_serial("abc"));
        assert!(!valid_serial(""));
        assert!(!valid_serial(&"ab".repeat(22)));
    }
}
