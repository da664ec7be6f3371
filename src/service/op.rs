//! The one operation runner. Every state-changing operation of every family runs through
//! [`run`], which owns the steps they all share, so no family can get one of them wrong:
//!
//! 1. the token ready check (a 503 before anything starts);
//! 2. the blocking permit (held by the blocking work itself, so it lasts as long as the work
//!    does, even when the request is dropped);
//! 3. the key guard: a token key created by the operation is destroyed unless the operation
//!    commits (create first, record second, destroy if recording fails);
//! 4. the signature ledger: every signature the token makes through [`Work::signer`] gets a
//!    row, committed with the artefact;
//! 5. one transaction: the family's writes, `<EVENT>_START` and `<EVENT>_SUCCESS`, the ledger
//!    rows, and a last check that the request was not given up ([`Gate`]) before COMMIT;
//! 6. `<EVENT>_START` and `<EVENT>_FAIL` with the error code on every refusal.
//!
//! The family modules keep only what differs: their checks, what they build, what they write.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use crate::crypto::{DigestSigner, KeyAlgorithm, PublicKey, Seal, SignatureAlgorithm};
use crate::hsm::{HsmError, Token, TokenKey};
use crate::store::{SignatureRecord, Store, Write};

use super::{App, KeyPurpose, OpContext, ServiceError, now_rfc3339};

/// What every label of a key the daemon generates begins with (reconciliation destroys
/// only such keys when they have no record: `daemon::reconcile`).
pub const OWN_LABEL_PREFIX: &str = "hsm-pki.";

const OPEN: u8 = 0;
const COMMITTED: u8 = 1;
const CANCELLED: u8 = 2;

/// One request's commit gate. The HTTP layer gives a request up (its timeout) only by
/// [`Gate::cancel`], and a transaction commits only after [`Gate::pass`]; whichever comes
/// first wins. So a request answered with an error committed nothing, and a request whose
/// work committed is answered with its outcome.
#[derive(Debug, Default)]
pub struct Gate(AtomicU8, AtomicBool);

impl Gate {
    pub fn new() -> Arc<Gate> {
        Arc::new(Gate::default())
    }

    /// Give the request up. `true`: nothing of it has committed and nothing will (work in
    /// flight rolls back and destroys its keys); `false`: it committed already, so the
    /// caller must wait for its outcome instead.
    pub fn cancel(&self) -> bool {
        match self
            .0
            .compare_exchange(OPEN, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(state) => state == CANCELLED,
        }
    }

    /// Claim the recording of the request's outcome in the audit log: `true` for the first
    /// caller only, so a request gets one outcome however many layers see its error (the
    /// operation, the HTTP layer, the timeout).
    pub fn claim_record(&self) -> bool {
        !self.1.swap(true, Ordering::AcqRel)
    }

    #[cfg(test)]
    fn recorded(&self) -> bool {
        self.1.load(Ordering::Acquire)
    }

    /// Asked just before COMMIT: `false` once the request was given up.
    pub fn pass(&self) -> bool {
        match self
            .0
            .compare_exchange(OPEN, COMMITTED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(state) => state == COMMITTED,
        }
    }
}

/// What an operation is, for its audit events.
pub(crate) struct Op {
    /// The event name without its `_START`/`_SUCCESS`/`_FAIL` suffix.
    pub event: String,
    /// The object the events name, when known before the work starts.
    pub object_id: Option<String>,
    /// Whether the operation needs the token (an upload or a delete of a record may not).
    pub token: bool,
}

impl Op {
    pub fn new(event: impl Into<String>, object_id: Option<&str>) -> Self {
        Op {
            event: event.into(),
            object_id: object_id.map(str::to_owned),
            token: true,
        }
    }

    /// An operation that changes only records: it runs while the token is away.
    pub fn records_only(mut self) -> Self {
        self.token = false;
        self
    }
}

/// What an operation's closure works with, on a blocking thread.
pub(crate) struct Work {
    store: Arc<Store>,
    token: Option<Arc<Token>>,
    ctx: OpContext,
    event: String,
    object_id: Option<String>,
    /// Token keys this operation created: destroyed on drop unless it committed.
    created: Vec<String>,
    /// Token keys the tenant may hold.
    max_keys: usize,
    /// Token keys to destroy once the commit is on disk (deletes: record first, token
    /// object second, so a crash in between leaves an unrecorded key that reconciliation
    /// destroys, never a record that points at nothing).
    destroy_after: Vec<String>,
    signatures: RefCell<Vec<SignatureRecord>>,
    /// Key purposes fixed by this operation (label, purpose, the request field naming the
    /// key), written in its transaction.
    binds: Vec<(String, KeyPurpose, String)>,
    committed: bool,
}

impl Work {
    pub fn tenant(&self) -> &str {
        &self.ctx.principal.tenant
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn request_id(&self) -> &str {
        &self.ctx.request_id
    }

    pub fn token(&self) -> Result<&Arc<Token>, ServiceError> {
        self.token
            .as_ref()
            .ok_or_else(|| ServiceError::TokenUnavailable("token not open".into()))
    }

    /// Name the object the events are about (once the operation has made its id).
    pub fn object(&mut self, id: impl Into<String>) {
        self.object_id = Some(id.into());
    }

    /// A new key pair in the token, labelled with an id of ours (never the client's:
    /// names are per tenant, labels are global to the token). Destroyed again unless this
    /// operation commits.
    ///
    /// The tenant's key quota is checked first (and again, as a count, in the recording
    /// transaction), so a refused request never touches the token.
    pub fn generate_key(&mut self, algorithm: KeyAlgorithm) -> Result<TokenKey, ServiceError> {
        self.check_key_quota(self.created.len())?;
        // A fresh label is not searched for first: on SoftHSM a search costs time in
        // proportion to the token's objects (issue 11).
        let key = self.token()?.generate_fresh(algorithm, OWN_LABEL_PREFIX)?;
        self.created.push(key.label().to_owned());
        Ok(key)
    }

    /// Fix the purpose of the recorded key `label` when this operation commits (a key of
    /// the keys API gets its purpose at its first use; the caller checked it allows this).
    pub fn bind_purpose(&mut self, label: &str, purpose: KeyPurpose, param: &str) {
        self.binds
            .push((label.to_owned(), purpose, param.to_owned()));
    }

    fn check_key_quota(&self, extra: usize) -> Result<(), ServiceError> {
        let held = self.store.count_keys(self.tenant())?;
        if held + extra >= self.max_keys {
            return Err(ServiceError::conflict(
                crate::api::ErrorCode::LimitReached,
                format!("A tenant can hold at most {} keys", self.max_keys),
            ));
        }
        Ok(())
    }

    /// Destroy `label` from the token after this operation's commit (best effort).
    pub fn destroy_after_commit(&mut self, label: String) {
        self.destroy_after.push(label);
    }

    /// The signer the X.509 engine signs through: every signature it makes gets a row in
    /// the signature ledger, committed with the operation.
    pub fn signer<'k>(&'k self, key: &'k TokenKey, artefact: Artefact) -> Ledgered<'k> {
        Ledgered {
            key,
            artefact,
            work: self,
        }
    }

    /// Commit the operation: `f`'s writes, the audit events and the ledger rows in one
    /// transaction, unless the request was given up meanwhile. Keys created by the
    /// operation are kept from here on.
    pub fn commit<T>(
        &mut self,
        f: impl FnOnce(&Write<'_>) -> Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        let events = self.ctx.events(&self.event, self.object_id.as_deref());
        let signatures = self.signatures.take();
        let gate = self.ctx.gate.clone();
        let binds = std::mem::take(&mut self.binds);
        let (tenant, max_keys, creates) = (
            self.tenant().to_owned(),
            self.max_keys,
            !self.created.is_empty(),
        );
        let r = self.store.commit(&|| gate.pass(), |w| {
            for (label, purpose, param) in &binds {
                // Checked before signing; a concurrent first use may have fixed another.
                if !w.bind_purpose(label, purpose.name())? {
                    return Err(ServiceError::invalid(
                        param,
                        "the key was given another purpose by a concurrent request",
                    ));
                }
            }
            let r = f(w)?;
            // Counted in the transaction that records the keys, so concurrent creates cannot
            // together exceed it.
            if creates && w.count_keys(&tenant)? > max_keys {
                return Err(ServiceError::conflict(
                    crate::api::ErrorCode::LimitReached,
                    format!("A tenant can hold at most {max_keys} keys"),
                ));
            }
            w.append_events(&events)?;
            w.record_signatures(&signatures)?;
            Ok::<T, ServiceError>(r)
        })?;
        self.committed = true;
        self.ctx.gate.claim_record();
        self.created.clear();
        if let Some(token) = &self.token {
            for label in self.destroy_after.drain(..) {
                destroy_quietly(token, &label);
            }
        }
        Ok(r)
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        if let Some(token) = &self.token {
            for label in self.created.drain(..) {
                destroy_quietly(token, &label);
            }
        }
    }
}

/// The kinds of artefact the token signs, as the ledger names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artefact {
    Certificate,
    Csr,
    Crl,
    /// A COSE_Sign1 (an mdoc's IssuerAuth, a VICAL).
    Cose,
    /// A JWS (a wallet attestation).
    Jws,
}

impl Artefact {
    fn name(self) -> &'static str {
        match self {
            Artefact::Certificate => "certificate",
            Artefact::Csr => "csr",
            Artefact::Crl => "crl",
            Artefact::Cose => "cose",
            Artefact::Jws => "jws",
        }
    }
}

/// A key whose signatures are written to the ledger of the operation that made them.
pub(crate) struct Ledgered<'k> {
    key: &'k TokenKey,
    artefact: Artefact,
    work: &'k Work,
}

impl DigestSigner for Ledgered<'_> {
    type Error = HsmError;

    fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    /// Forwards the seal: a ledgered key is reached only through `crypto::sign` as well.
    fn sign_digest(
        &self,
        seal: Seal,
        alg: SignatureAlgorithm,
        digest: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        let sig = self.key.sign_digest(seal, alg, digest)?;
        self.work.signatures.borrow_mut().push(SignatureRecord {
            tenant: self.work.tenant().to_owned(),
            key_label: self.key.label().to_owned(),
            artefact: self.artefact.name().to_owned(),
            algorithm: alg.name().to_owned(),
            digest: hex(digest),
            request_id: Some(self.work.ctx.request_id.clone()),
            created_at: now_rfc3339(),
        });
        Ok(sig)
    }
}

/// Lowercase hex, into one buffer (this runs once per token signature).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    s
}

pub(crate) fn destroy_quietly(token: &Token, label: &str) {
    match token.destroy(label) {
        Ok(()) | Err(HsmError::KeyNotFound { .. }) => {}
        // Left for reconciliation, which destroys our keys that have no record.
        Err(e) => tracing::error!(%label, error = %e, "could not destroy a token key"),
    }
}

/// Run one state-changing operation (see the module documentation). `f` runs on a
/// blocking thread and must end with [`Work::commit`] on success.
pub(crate) async fn run<T: Send + 'static>(
    app: &Arc<App>,
    ctx: &OpContext,
    op: Op,
    f: impl FnOnce(&mut Work) -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ServiceError> {
    let token = if op.token {
        match app.ready_token() {
            Ok(t) => Some(t),
            Err(e) => return refuse(app, ctx, &op.event, op.object_id.as_deref(), e).await,
        }
    } else {
        app.token()
    };
    let work = Work {
        store: app.store.clone(),
        token,
        ctx: ctx.clone(),
        event: op.event.clone(),
        object_id: op.object_id.clone(),
        created: Vec::new(),
        max_keys: app.max_keys_per_tenant,
        destroy_after: Vec::new(),
        signatures: RefCell::new(Vec::new()),
        binds: Vec::new(),
        committed: false,
    };
    let store = app.store.clone();
    let outcome = app
        .blocking(move || {
            // Every outcome is answered after this closure and, but for a failed audit
            // write, after a commit of its own: its reads wait for durability once, here.
            store.deferred(move || run_blocking(work, f))
        })
        .await;
    match outcome {
        Ok(r) => r,
        Err(e) => refuse(app, ctx, &op.event, op.object_id.as_deref(), e).await,
    }
}

/// The blocking half of [`run`].
fn run_blocking<T>(
    mut work: Work,
    f: impl FnOnce(&mut Work) -> Result<T, ServiceError>,
) -> Result<T, ServiceError> {
    let r = f(&mut work).and_then(|v| {
        if work.committed {
            Ok(v)
        } else {
            Err(ServiceError::Internal(format!(
                "{} returned without committing",
                work.event
            )))
        }
    });
    // Recorded here, on the blocking thread, not after the await: a request given up
    // at its timeout has no future left to do it.
    if let Err(e) = &r {
        if matches!(e, ServiceError::Cancelled) {
            tracing::info!(event = %work.event, request_id = %work.ctx.request_id,
                        "request given up at its timeout: its work rolled back");
        }
        work.ctx.record_refusal_blocking(
            &work.store,
            &work.event,
            work.object_id.as_deref(),
            e.code(),
        );
    }
    r
}

/// The checks an operation makes before it starts (those that need neither token nor
/// database), with a refusal recorded like any other.
pub(crate) async fn precheck<T>(
    app: &App,
    ctx: &OpContext,
    event: &str,
    checked: Result<T, ServiceError>,
) -> Result<T, ServiceError> {
    match checked {
        Ok(v) => Ok(v),
        Err(e) => refuse(app, ctx, event, None, e).await,
    }
}

/// Record a refused operation (`<EVENT>_START`, `<EVENT>_FAIL` with its code) and return
/// the error. For refusals found before an operation runs, the HTTP layer's included.
pub(crate) async fn refuse<T>(
    app: &App,
    ctx: &OpContext,
    event: &str,
    object_id: Option<&str>,
    e: ServiceError,
) -> Result<T, ServiceError> {
    let r = Err(e);
    ctx.record_failure(app, event, object_id, &r).await;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_of_cancel_and_commit_wins() {
        // Given up first: nothing may commit afterwards.
        let g = Gate::default();
        assert!(g.cancel());
        assert!(!g.pass());
        assert!(
            g.cancel(),
            "cancelling twice still reports nothing committed"
        );
        // Committed first: the request must be answered with its outcome.
        let g = Gate::default();
        assert!(g.pass());
        assert!(
            g.pass(),
            "a second transaction of the same request may commit too"
        );
        assert!(!g.cancel());
    }

    #[test]
    fn hex_is_lowercase_and_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }

    #[test]
    fn an_outcome_is_recorded_once() {
        let g = Gate::default();
        assert!(!g.recorded());
        assert!(g.claim_record());
        assert!(!g.claim_record());
        assert!(g.recorded());
    }
}
