//! The token: one PKCS#11 context, one logged-in session, a session pool, health and
//! recovery.
//!
//! # What SoftHSM 2.6.1 does when its storage disappears (measured)
//!
//! With a logged-in RW session open and a generated key, renaming either the whole
//! `directories.tokendir` or only the token's own subdirectory, in-process:
//!
//! - C_GetSlotList still lists the token; C_GetSessionInfo still says CKS_RW_USER_FUNCTIONS;
//!   C_OpenSession still succeeds.
//! - C_GetTokenInfo fails with CKR_GENERAL_ERROR.
//! - C_FindObjects *succeeds and returns nothing*, for every template.
//! - C_GetAttributeValue and C_SignInit on a handle found earlier fail with
//!   CKR_OBJECT_HANDLE_INVALID (not a device error).
//! - C_CreateObject fails with CKR_GENERAL_ERROR.
//! - Moving the directory back does **not** heal the context: the token object stays marked
//!   invalid, every call above keeps failing the same way until C_Finalize + C_Initialize.
//! - C_Initialize while the whole tokendir is absent fails with CKR_GENERAL_ERROR; with
//!   only the token's subdirectory absent it succeeds but lists only the empty slot.
//! - After C_Finalize + C_Initialize with the directory back, everything works again, with
//!   *different* object handles (3 before, 2 after, for the same key).
//!
//! Consequences for the design:
//! - An empty search result or CKR_OBJECT_HANDLE_INVALID is not evidence that a key is
//!   gone: before reporting [`HsmError::KeyNotFound`] the layer probes the token (token info
//!   plus the sentinel object), so an outage is reported as [`HsmError::Unavailable`] and
//!   start-up reconciliation never mistakes an unreadable token for an empty one.
//! - [`Token::check`] proves more than "the library answers": it reads token info, checks
//!   the login state and reads a private sentinel data object (readable only when logged in,
//!   its handle invalid once storage is gone) through the handle found at connect.
//! - Recovery is finalize + initialize of the whole context, with the handle cache dropped
//!   and handles held by [`TokenKey`](super::TokenKey) invalidated by a generation counter.
//!
//! # What SoftHSM 2.6.1 calls cost on a big token (src/lib/SoftHSM.cpp, object_store/)
//!
//! The file store keeps every object of the token in memory (read at C_Initialize) and
//! checks it against its file on every use: `ObjectFile::isValid` opens and reads the
//! token's `generation` file and the object's own file header. So:
//!
//! - C_FindObjects does that for *every* object of the token, and decrypts the CKA_LABEL of
//!   every private object a template compares a label with: a search costs time in
//!   proportion to the number of objects (`scripts/scale` measures it), whatever it finds.
//! - C_GetAttributeValue, C_SignInit and C_GetTokenInfo on a known handle touch one object:
//!   constant cost.
//! - C_GenerateKeyPair writes its two new files (about 60 small writes) and touches no other
//!   object: constant cost.
//! - C_DestroyObject re-lists the whole token directory twice (`Directory::remove` calls
//!   `refresh`, which lstat()s every file): linear in the objects (about 0.5 s per key pair
//!   at 10 000 keys), and nothing the daemon can avoid but by not destroying.
//!
//! Hence no search on any hot path here: keys are generated under labels that cannot be
//! taken (no uniqueness search), found through a bounded handle cache that reconciliation
//! fills, and the health probe reads the sentinel by handle.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use hashlink::LruCache;

use super::error::{HsmError, classify};
use super::heartbeat::ensure_heartbeat;
use super::pool::SessionPool;
use super::stats::{LatencyRecorder, LatencySnapshot};
use super::{SlotFacts, TokenConfig};
use crate::crypto::PublicKey;

/// CKA_LABEL of the data object whose presence [`Token::check`] verifies.
pub const SENTINEL_LABEL: &str = "hsm-pki.sentinel";
const SENTINEL_APPLICATION: &[u8] = b"hsm-pki";
const SENTINEL_VALUE: &[u8] = b"hsm-pki token sentinel v1";

/// PKCS#11 allows one C_Initialize per process (v2.40 section 5.4: a second call returns
/// CKR_CRYPTOKI_ALREADY_INITIALIZED), so at most one [`Token`] may be open at a time.
pub(crate) static TOKEN_OPEN: AtomicBool = AtomicBool::new(false);

/// Handles of one key pair, valid within one context generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyHandles {
    pub(crate) private: ObjectHandle,
    pub(crate) public: Option<ObjectHandle>,
}

/// The token. Cheap to clone (all clones share one context); `Send + Sync`. Every method
/// blocks on the token. The context is finalized when the last clone *and* the last
/// [`TokenKey`](super::TokenKey) (which holds a clone) are dropped.
#[derive(Clone)]
pub struct Token {
    pub(crate) inner: Arc<TokenInner>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("token", &self.inner.cfg.token)
            .field("healthy", &self.is_healthy())
            .finish_non_exhaustive()
    }
}

/// Counters for metrics: only counts and durations, never a label, PIN or key value, so
/// whatever exposes them cannot leak one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenStats {
    pub signatures: u64,
    pub sign_errors: u64,
    pub reconnects: u64,
    /// Operation sessions checked out of the pool right now.
    pub sessions_in_use: usize,
    /// The pool's limit (`TokenConfig::pool_size`, at least 1).
    pub sessions_max: usize,
    /// C_FindObjects searches made. On SoftHSM each reads every object of the token, so
    /// this should stay still while keys are created and used (the key cache answers).
    pub searches: u64,
    /// Keys in the key cache now (at most `TokenConfig::key_cache_size`).
    pub cached_keys: usize,
    /// Time spent in `DigestSigner::sign_digest`, failures included.
    pub sign_latency: LatencySnapshot,
}

pub(crate) struct TokenInner {
    pub(crate) cfg: TokenConfig,
    /// The loaded module. Kept loaded for the life of the process: re-initialising the same
    /// library is what recovery needs, and unloading crypto libraries (dlclose) is a
    /// known source of crashes in their static destructors.
    lib: Pkcs11,
    state: RwLock<State>,
    healthy: AtomicBool,
    generation: AtomicU64,
    pub(crate) signatures: AtomicU64,
    pub(crate) sign_errors: AtomicU64,
    reconnects: AtomicU64,
    /// Checked-out pool sessions. Kept here rather than in the pool because the pool is
    /// rebuilt on recovery, and shared with it (`Arc`) so a scrape reads one atomic instead
    /// of taking the state lock, which `recover` may hold for as long as the token hangs.
    sessions_in_use: Arc<AtomicUsize>,
    /// Shared with each `Live` for the same reason as `sessions_in_use`: [`TokenStats`].
    counters: Arc<Counters>,
    pub(crate) sign_latency: LatencyRecorder,
    /// Serialises the creation and destruction of token objects (key generation, import,
    /// destroy) and the searches that run beside them. SoftHSM 2.6 failed concurrent
    /// `C_GenerateKeyPair` calls from one process with `CKR_GENERAL_ERROR` now and then
    /// (seen under load in `tests/resilience.rs`), which would read as an outage; so did a
    /// search for the sentinel beside a generation. A search reads every object of the
    /// token, the one being written included, and the file store's record locks (fcntl) do
    /// not exclude threads of one process. Key creation is rare next to signing, which this
    /// lock does not touch, so serialising it costs nothing that matters.
    ///
    /// The health check does *not* take it (it used to, and queued behind RSA-4096
    /// generations for seconds, which read as an outage: issue 11): it reads token info and
    /// the sentinel by handle, which touch only the token's own files (guarded by SoftHSM's
    /// mutexes) and the sentinel's file, written once and never modified. `tests/hsm_token.rs`
    /// runs checks beside generations, and `tests/scale.rs` the probe beside RSA-4096 ones.
    pub(crate) objects: std::sync::Mutex<()>,
    /// When the heartbeat was last rewritten (`heartbeat.rs`), and how many times.
    pub(crate) last_write: Mutex<Option<std::time::Instant>>,
    pub(crate) write_probes: AtomicU64,
}

struct State {
    /// Whether C_Initialize succeeded without a matching C_Finalize.
    initialized: bool,
    live: Option<Live>,
}

/// Handles of a key with the public key and CKA_ID read from them.
pub(crate) type LoadedKey = (KeyHandles, PublicKey, Vec<u8>);

/// Counts that `Live` keeps and a scrape reads without taking the state lock.
#[derive(Default)]
struct Counters {
    searches: AtomicU64,
    cached_keys: AtomicUsize,
}

/// What is remembered of one key between requests.
struct CachedKey {
    handles: KeyHandles,
    /// The public key and CKA_ID read from `handles`, once a lookup has read them.
    loaded: Option<(PublicKey, Vec<u8>)>,
}

/// Everything that is only valid within one C_Initialize.
pub(crate) struct Live {
    pub(crate) slot: Slot,
    pub(crate) generation: u64,
    pub(crate) ctx: Pkcs11,
    /// The session that logged in. Kept open because closing the last session of an
    /// application logs it out (v2.40 section 5.6, C_CloseSession). Also used by `check`,
    /// so the health probe does not compete with signing for pool sessions.
    login: Mutex<Session>,
    /// The sentinel data object, found (or made) at connect. The probe reads it through
    /// this handle: a search would cost time in proportion to the token's objects (module
    /// docs), and a handle found earlier is exactly what SoftHSM invalidates when its
    /// storage goes.
    sentinel: ObjectHandle,
    /// The data object the write probe rewrites (`heartbeat.rs`), found (or made) at connect.
    pub(crate) heartbeat: ObjectHandle,
    pub(crate) pool: SessionPool,
    /// label -> handles, and the public key and CKA_ID read from them once a lookup has:
    /// a key that signs on every request is found without a search and loaded without two
    /// C_GetAttributeValue calls each time. Handles change across C_Initialize (measured,
    /// see module docs), so this lives and dies with the context. Least recently used
    /// entries go first past `TokenConfig::key_cache_size`, so memory stays bounded however
    /// many keys the token holds; a miss costs one search. A stale handle is still caught
    /// where it is used (`sign_on_token` re-resolves and checks CKA_ID), and a wrong public
    /// key by the signature check.
    keys: Mutex<LruCache<String, CachedKey>>,
    counters: Arc<Counters>,
}

fn relock<G>(r: Result<G, std::sync::PoisonError<G>>) -> G {
    // Every critical section here leaves its data consistent at each step; a panic elsewhere
    // while holding a lock does not make the data wrong, so poisoning is ignored.
    r.unwrap_or_else(|p| p.into_inner())
}

impl Live {
    /// C_FindObjects, counted. Every search of the token goes through here: on SoftHSM it
    /// costs time in proportion to the token's objects (module docs).
    pub(crate) fn search(
        &self,
        s: &Session,
        template: &[Attribute],
    ) -> Result<Vec<ObjectHandle>, CkError> {
        self.counters.searches.fetch_add(1, Ordering::Relaxed);
        s.find_objects(template)
    }

    fn keys(&self) -> KeysGuard<'_> {
        KeysGuard {
            keys: relock(self.keys.lock()),
            counters: &self.counters,
        }
    }

    pub(crate) fn cached(&self, label: &str) -> Option<KeyHandles> {
        self.keys().keys.get(label).map(|k| k.handles)
    }

    /// Remember `label`'s handles. What was read from other handles is forgotten.
    pub(crate) fn cache_put(&self, label: &str, h: KeyHandles) {
        let mut keys = self.keys();
        if keys.keys.get(label).is_some_and(|k| k.handles == h) {
            return;
        }
        keys.keys.insert(
            label.to_owned(),
            CachedKey {
                handles: h,
                loaded: None,
            },
        );
    }

    pub(crate) fn cache_clear(&self) {
        self.keys().keys.clear();
    }

    pub(crate) fn cache_evict(&self, label: &str) {
        self.keys().keys.remove(label);
    }

    /// The handles, public key and CKA_ID read earlier for `label`.
    pub(crate) fn loaded(&self, label: &str) -> Option<LoadedKey> {
        let mut keys = self.keys();
        let k = keys.keys.get(label)?;
        let (public, id) = k.loaded.as_ref()?;
        Some((k.handles, public.clone(), id.clone()))
    }

    pub(crate) fn loaded_put(&self, label: &str, h: KeyHandles, key: &PublicKey, id: &[u8]) {
        self.keys().keys.insert(
            label.to_owned(),
            CachedKey {
                handles: h,
                loaded: Some((key.clone(), id.to_vec())),
            },
        );
    }

    fn login_session(&self) -> MutexGuard<'_, Session> {
        relock(self.login.lock())
    }

    /// Prove the token is alive and its storage readable, on `session`. Used by `check` and
    /// before reporting that a key (or every key) is absent. Costs the same whatever the
    /// number of objects: token info and one object read by handle, no search.
    pub(crate) fn probe(&self, session: &Session) -> Result<(), HsmError> {
        // C_GetTokenInfo is the first thing SoftHSM fails (CKR_GENERAL_ERROR) once the
        // token's storage is gone; say so, since the bare return value reads like a bug.
        let info = self
            .ctx
            .get_token_info(self.slot)
            .map_err(|e| match classify(e) {
                HsmError::Unavailable { reason } => {
                    HsmError::unavailable(format!("token not answering ({reason})"))
                }
                e => e,
            })?;
        if info.user_pin_locked() {
            return Err(HsmError::unusable(
                "user PIN is locked (CKF_USER_PIN_LOCKED)",
            ));
        }
        // SoftHSM answers CKR_OBJECT_HANDLE_INVALID for a handle found earlier once its
        // storage is gone, and CKR_GENERAL_ERROR when the application is not logged in
        // (the sentinel is private). Someone destroying the sentinel looks like the former;
        // the reconnect that follows makes a new one.
        let attrs = session
            .get_attributes(self.sentinel, &[AttributeType::Value])
            .map_err(|e| match classify(e) {
                HsmError::KeyNotFound { .. } => {
                    HsmError::unavailable("sentinel object handle invalid: token storage gone")
                }
                e => e,
            })?;
        match attrs.first() {
            Some(Attribute::Value(v)) if v == SENTINEL_VALUE => Ok(()),
            _ => Err(HsmError::unavailable("sentinel object unreadable")),
        }
    }
}

/// The key cache, locked; publishes its size for [`TokenStats`] when released.
struct KeysGuard<'a> {
    keys: MutexGuard<'a, LruCache<String, CachedKey>>,
    counters: &'a Counters,
}

impl Drop for KeysGuard<'_> {
    fn drop(&mut self) {
        self.counters
            .cached_keys
            .store(self.keys.len(), Ordering::Relaxed);
    }
}

fn sentinel_template() -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Label(SENTINEL_LABEL.as_bytes().to_vec()),
        Attribute::Application(SENTINEL_APPLICATION.to_vec()),
    ]
}

impl TokenInner {
    /// See [`TokenInner::objects`]. A panic while holding it poisons nothing: it guards no
    /// data.
    pub(crate) fn lock_objects(&self) -> std::sync::MutexGuard<'_, ()> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        relock(self.state.read())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        relock(self.state.write())
    }

    /// Run `f` against the current context. Holds the read lock for the duration, so a
    /// concurrent `recover` waits until in-flight operations finish. A transient failure
    /// marks the token unhealthy for the health probe to act on.
    pub(crate) fn with_live<T>(
        &self,
        f: impl FnOnce(&Live) -> Result<T, HsmError>,
    ) -> Result<T, HsmError> {
        let st = self.read();
        let Some(live) = st.live.as_ref() else {
            return Err(HsmError::unavailable(
                "token disconnected; waiting for recovery",
            ));
        };
        let result = f(live);
        if let Err(e) = &result
            && e.is_transient()
            && self.healthy.swap(false, Ordering::AcqRel)
        {
            tracing::warn!(error = %e, "token marked unhealthy");
        }
        result
    }

    /// (Re)build the context: finalize whatever was initialized, initialize, find the
    /// token, log in, make sure the sentinel exists, open the pool lazily.
    ///
    /// `at_startup` decides how a missing token is reported: at start-up it is a
    /// configuration error (wrong label or serial), later it is an outage.
    fn connect(&self, st: &mut State, at_startup: bool) -> Result<(), HsmError> {
        // Sessions first: they must be closed while the library is still initialized.
        st.live = None;
        self.counters.cached_keys.store(0, Ordering::Relaxed);
        if st.initialized {
            st.initialized = false;
            self.finalize("reconnect");
        }
        self.initialize()?;
        st.initialized = true;

        let slot = self.find_slot(at_startup)?;
        let login = self.lib.open_rw_session(slot).map_err(classify)?;
        let pin = AuthPin::new(self.cfg.pin.expose().into());
        match login.login(UserType::User, Some(&pin)) {
            // Another application of the same process image may have logged in already;
            // login state is shared, so that is success.
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => return Err(classify(e)),
        }
        drop(pin);
        self.counters.searches.fetch_add(1, Ordering::Relaxed);
        let sentinel = ensure_sentinel(&login)?;
        self.counters.searches.fetch_add(1, Ordering::Relaxed);
        let heartbeat = ensure_heartbeat(&login)?;

        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        st.live = Some(Live {
            slot,
            generation,
            ctx: self.lib.clone(),
            login: Mutex::new(login),
            sentinel,
            heartbeat,
            pool: SessionPool::new(
                self.lib.clone(),
                slot,
                self.cfg.pool_size,
                self.cfg.checkout_timeout,
                self.sessions_in_use.clone(),
            ),
            keys: Mutex::new(LruCache::new(
                NonZeroUsize::new(self.cfg.key_cache_size)
                    .unwrap_or(NonZeroUsize::MIN)
                    .get(),
            )),
            counters: self.counters.clone(),
        });
        self.healthy.store(true, Ordering::Release);
        Ok(())
    }

    /// C_Initialize, leaving the module finalized when it fails. Kryoptic 1.5.4 fails
    /// C_Initialize with CKR_TOKEN_NOT_PRESENT when its storage is gone but stays marked
    /// initialised, so every later C_Initialize would answer CKR_CRYPTOKI_ALREADY_INITIALIZED
    /// until the process restarts: hence C_Finalize after any failure, and "already
    /// initialised" (which, with one context per process, can only be such a leftover) read
    /// as "finalize, then try once more".
    fn initialize(&self) -> Result<(), HsmError> {
        // OS locking: the daemon calls in from many threads (v2.40 section 5.4,
        // CKF_OS_LOCKING_OK lets the library use native mutexes).
        let init = || {
            self.lib
                .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        };
        let result = match init() {
            Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {
                tracing::info!("PKCS#11 module was left initialised; finalizing and retrying");
                self.finalize("C_Initialize answered CKR_CRYPTOKI_ALREADY_INITIALIZED");
                init()
            }
            r => r,
        };
        result.map_err(|e| {
            self.finalize("failed C_Initialize");
            classify(e)
        })
    }

    /// C_Finalize whose failure is only logged: it runs where the context is being thrown
    /// away anyway, and CKR_CRYPTOKI_NOT_INITIALIZED (a module that did clean up after its
    /// own failed C_Initialize) is the expected answer there.
    fn finalize(&self, why: &str) {
        match self.lib.clone().finalize() {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiNotInitialized, _)) => {}
            Err(e) => tracing::debug!(error = %classify(e), why, "C_Finalize failed"),
        }
    }

    fn find_slot(&self, at_startup: bool) -> Result<Slot, HsmError> {
        let slots = self.lib.get_slots_with_token().map_err(classify)?;
        let mut matching = Vec::new();
        for slot in slots {
            // A slot whose token cannot be read is simply not ours to pick.
            let Ok(facts) = slot_facts(&self.lib, slot) else {
                continue;
            };
            if self.cfg.token.matches(&facts) {
                matching.push(slot);
            }
        }
        match matching.as_slice() {
            [slot] => Ok(*slot),
            [] => {
                let reason = format!("no token with {} is present", self.cfg.token);
                Err(if at_startup {
                    HsmError::unusable(reason)
                } else {
                    HsmError::unavailable(reason)
                })
            }
            many => Err(HsmError::unusable(format!(
                "{} tokens match {}; {}",
                many.len(),
                self.cfg.token,
                self.cfg.token.narrowing_hint()
            ))),
        }
    }
}

/// What a selector can compare of `slot`: library, slot and token info, padding trimmed.
pub(crate) fn slot_facts(lib: &Pkcs11, slot: Slot) -> Result<SlotFacts, CkError> {
    let lib_info = lib.get_library_info()?;
    let slot_info = lib.get_slot_info(slot)?;
    let info = lib.get_token_info(slot)?;
    let v = lib_info.library_version();
    Ok(SlotFacts {
        library_manufacturer: lib_info.manufacturer_id().trim_end().to_owned(),
        library_description: lib_info.library_description().trim_end().to_owned(),
        library_version: (v.major(), v.minor()),
        slot_id: slot.id(),
        slot_description: slot_info.slot_description().trim_end().to_owned(),
        slot_manufacturer: slot_info.manufacturer_id().trim_end().to_owned(),
        token: info.label().trim_end().to_owned(),
        manufacturer: info.manufacturer_id().trim_end().to_owned(),
        model: info.model().trim_end().to_owned(),
        serial: info.serial_number().trim().to_owned(),
    })
}

/// The sentinel's handle, made first if the token has none. Searches once per connect.
fn ensure_sentinel(session: &Session) -> Result<ObjectHandle, HsmError> {
    if let Some(&h) = session
        .find_objects(&sentinel_template())
        .map_err(classify)?
        .first()
    {
        return Ok(h);
    }
    let mut template = sentinel_template();
    template.extend([
        Attribute::Token(true),
        // Private: only visible to a logged-in session, so finding it proves the login.
        Attribute::Private(true),
        Attribute::Modifiable(false),
        Attribute::Value(SENTINEL_VALUE.to_vec()),
    ]);
    session.create_object(&template).map_err(classify)
}

impl Drop for TokenInner {
    fn drop(&mut self) {
        let st = relock(self.state.get_mut());
        st.live = None;
        if st.initialized {
            st.initialized = false;
            let _ = self.lib.clone().finalize();
        }
        TOKEN_OPEN.store(false, Ordering::Release);
    }
}

impl Token {
    /// Load the module, initialize it, find the token, log in, and make sure the sentinel
    /// object exists. Fails with [`HsmError::Unusable`] when the token is not present or
    /// the PIN is wrong, and when another `Token` is already open in this process.
    pub fn open(cfg: TokenConfig) -> Result<Token, HsmError> {
        if TOKEN_OPEN
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(HsmError::unusable(
                "a token is already open in this process (one PKCS#11 context per process)",
            ));
        }
        let lib = match Pkcs11::new(&cfg.module_path) {
            Ok(lib) => lib,
            Err(e) => {
                TOKEN_OPEN.store(false, Ordering::Release);
                return Err(classify(e));
            }
        };
        // From here on TokenInner's Drop finalizes and releases TOKEN_OPEN.
        let inner = TokenInner {
            cfg,
            lib,
            state: RwLock::new(State {
                initialized: false,
                live: None,
            }),
            healthy: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            signatures: AtomicU64::new(0),
            sign_errors: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            sessions_in_use: Arc::new(AtomicUsize::new(0)),
            counters: Arc::default(),
            sign_latency: LatencyRecorder::default(),
            objects: std::sync::Mutex::new(()),
            last_write: Mutex::new(None),
            write_probes: AtomicU64::new(0),
        };
        {
            let mut st = inner.write();
            inner.connect(&mut st, true)?;
        }
        tracing::info!(token = %inner.cfg.token, "PKCS#11 token opened");
        Ok(Token {
            inner: Arc::new(inner),
        })
    }

    /// Whether the last operation or check succeeded (no transient failure since the last
    /// successful `recover`/`check`). Cheap; does not touch the token.
    pub fn is_healthy(&self) -> bool {
        self.inner.healthy.load(Ordering::Acquire)
    }

    /// Prove that the token answers, the application is logged in, and the token's storage
    /// is readable (the sentinel object is read through its handle). Fails with
    /// [`HsmError::Unavailable`] when the token is gone (call [`recover`](Self::recover)
    /// later), with [`HsmError::Unusable`] when the PIN got locked.
    ///
    /// Waits for no lock that other work of the daemon holds for long (not the object lock:
    /// see [`TokenInner::objects`]), so its duration is the token's: a caller may put a
    /// deadline on it.
    pub fn check(&self) -> Result<(), HsmError> {
        // An operation failed transiently since the last good check: prove writes work too.
        let suspect = !self.is_healthy();
        let result = self.inner.with_live(|live| {
            let session = live.login_session();
            match session
                .get_session_info()
                .map_err(classify)?
                .session_state()
            {
                SessionState::RwUser | SessionState::RoUser => {}
                other => {
                    return Err(HsmError::unavailable(format!(
                        "application is not logged in (session state {other:?})"
                    )));
                }
            }
            live.probe(&session)?;
            if self.inner.write_due(suspect) {
                live.write_probe(&self.inner, &session)?;
            }
            Ok(())
        });
        match result {
            Ok(()) => {
                self.inner.healthy.store(true, Ordering::Release);
                Ok(())
            }
            Err(HsmError::Unavailable { reason }) => Err(HsmError::unavailable(format!(
                "health check failed: {reason}"
            ))),
            Err(e) => Err(e),
        }
    }

    /// Tear the context down and build it again: close all sessions, C_Finalize,
    /// C_Initialize, find the token again, log in again. Waits for in-flight operations to
    /// finish (it takes the state's write lock). Cached object handles are dropped and keys
    /// obtained earlier re-resolve their handles on next use.
    ///
    /// Meant for a background probe with backoff after `check` failed transiently. On
    /// failure the token stays disconnected (operations fail with `Unavailable`) until a
    /// later call succeeds.
    pub fn recover(&self) -> Result<(), HsmError> {
        let mut st = self.inner.write();
        self.inner.reconnects.fetch_add(1, Ordering::Relaxed);
        match self.inner.connect(&mut st, false) {
            Ok(()) => {
                tracing::info!(token = %self.inner.cfg.token, "PKCS#11 token reconnected");
                Ok(())
            }
            Err(e) => {
                self.inner.healthy.store(false, Ordering::Release);
                tracing::warn!(error = %e, "PKCS#11 token reconnect failed");
                Err(e)
            }
        }
    }

    pub fn stats(&self) -> TokenStats {
        TokenStats {
            signatures: self.inner.signatures.load(Ordering::Relaxed),
            sign_errors: self.inner.sign_errors.load(Ordering::Relaxed),
            reconnects: self.inner.reconnects.load(Ordering::Relaxed),
            sessions_in_use: self.sessions_in_use(),
            sessions_max: self.sessions_max(),
            searches: self.inner.counters.searches.load(Ordering::Relaxed),
            cached_keys: self.inner.counters.cached_keys.load(Ordering::Relaxed),
            sign_latency: self.inner.sign_latency.snapshot(),
        }
    }

    /// Operation sessions checked out right now. One atomic load; never touches the token.
    pub fn sessions_in_use(&self) -> usize {
        self.inner.sessions_in_use.load(Ordering::Relaxed)
    }

    /// The most operation sessions the pool opens.
    pub fn sessions_max(&self) -> usize {
        self.inner.cfg.pool_size.max(1)
    }
}

// The async layer shares one Token across blocking threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Token>();
    assert_send_sync::<super::TokenKey>();
};
