//! The write half of the health probe: a token data object the probe rewrites.
//!
//! Reading is not enough to see every outage. SoftHSM re-reads its files and fails the
//! read probe once its storage is gone; Kryoptic keeps its SQLite database open, so with
//! the database (or its directory) moved away every read still succeeds from the open file,
//! while every write fails (`CKR_DEVICE_MEMORY` from C_GenerateKeyPair, C_CreateObject,
//! C_SetAttributeValue). A daemon that only read would stay ready and fail each key creation.
//! So [`Token::check`](super::Token::check) also writes, rewriting this object's CKA_LABEL:
//!
//! - right after an operation failed transiently (the token was marked unhealthy): a failed
//!   write counts toward an outage exactly like a failed probe;
//! - and every `write_probe_every` (`health.write_probe_secs`), so an outage that only
//!   writes would show is seen even while no key is being made.
//!
//! One small object rewritten costs the same whatever the token holds (SoftHSM writes the
//! one object file; Kryoptic one row), and not more often than configured: some HSMs store
//! objects in flash with a bounded number of writes.

use std::sync::atomic::Ordering;
use std::time::Instant;

use cryptoki::object::{Attribute, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

use super::error::{HsmError, classify};
use super::token::{Live, TokenInner};

/// CKA_LABEL of the data object the write probe rewrites.
pub const HEARTBEAT_LABEL: &str = "hsm-pki.heartbeat";
const HEARTBEAT_APPLICATION: &[u8] = b"hsm-pki";

fn heartbeat_template() -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Label(HEARTBEAT_LABEL.as_bytes().to_vec()),
        Attribute::Application(HEARTBEAT_APPLICATION.to_vec()),
    ]
}

/// The heartbeat object's handle, made first if the token has none. Searches once per
/// connect (as the sentinel does).
pub(crate) fn ensure_heartbeat(session: &Session) -> Result<ObjectHandle, HsmError> {
    if let Some(&h) = session
        .find_objects(&heartbeat_template())
        .map_err(classify)?
        .first()
    {
        return Ok(h);
    }
    let mut template = heartbeat_template();
    template.extend([
        Attribute::Token(true),
        Attribute::Private(true),
        // Its label is rewritten by every write probe.
        Attribute::Modifiable(true),
    ]);
    session.create_object(&template).map_err(classify)
}

impl super::Token {
    /// Whether a key creation or destruction of the daemon's holds the token right now (the
    /// object lock is taken). Cheap; for the probe's deadline (`daemon::run_probe`).
    pub fn objects_busy(&self) -> bool {
        matches!(
            self.inner.objects.try_lock(),
            Err(std::sync::TryLockError::WouldBlock)
        )
    }
}

impl TokenInner {
    /// Whether this check must also write: after a transient failure, or when the last
    /// write probe is older than the configured period.
    pub(crate) fn write_due(&self, suspect: bool) -> bool {
        if suspect {
            return true;
        }
        let Some(every) = self.cfg.write_probe_every else {
            return false;
        };
        let last = *self.last_write.lock().unwrap_or_else(|p| p.into_inner());
        last.is_none_or(|t| t.elapsed() >= every)
    }
}

impl Live {
    /// Rewrite the heartbeat's value (a counter) on `session`. Skipped, as a success, when a
    /// key creation or destruction holds the object lock: that operation is itself a write,
    /// and its failure marks the token suspect for the next check; waiting for it would put
    /// an RSA-4096 generation's seconds into the probe's deadline.
    pub(crate) fn write_probe(
        &self,
        inner: &TokenInner,
        session: &Session,
    ) -> Result<(), HsmError> {
        let _objects = match inner.objects.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Ok(()),
        };
        inner.write_probes.fetch_add(1, Ordering::Relaxed);
        // CKA_LABEL set to the label it has: the one attribute every storage object lets a
        // user change (SoftHSM refuses CKA_VALUE of a data object once made, with
        // CKR_ATTRIBUTE_READ_ONLY), and still a write of the object on both modules.
        session
            .update_attributes(
                self.heartbeat,
                &[Attribute::Label(HEARTBEAT_LABEL.as_bytes().to_vec())],
            )
            .map_err(|e| match classify(e) {
                HsmError::KeyNotFound { .. } => {
                    HsmError::unavailable("heartbeat object handle invalid: token storage gone")
                }
                HsmError::Unavailable { reason } | HsmError::Other { reason } => {
                    HsmError::unavailable(format!("token refuses writes ({reason})"))
                }
                e => e,
            })?;
        *inner.last_write.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        Ok(())
    }
}
