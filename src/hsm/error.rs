//! The one error type of the token layer, and the one place that decides what a PKCS#11
//! return value means for the daemon.

use cryptoki::error::{Error as CkError, RvError};

/// Errors of the token layer. Every message is safe to log and to show an operator: reasons
/// are PKCS#11 return-value names (`C_Sign: CKR_DEVICE_ERROR`) or fixed texts, never a PIN
/// or key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HsmError {
    /// The token cannot serve right now but may come back (device removed, session lost,
    /// library error). Callers retry later; the health probe calls [`Token::recover`].
    ///
    /// [`Token::recover`]: super::Token::recover
    #[error("token temporarily unavailable: {reason}")]
    Unavailable { reason: String },
    /// The token will not serve until an operator acts (wrong or locked PIN, token label not
    /// present at start-up, mechanism not supported). Retrying does not help.
    #[error("token unusable: {reason}")]
    Unusable { reason: String },
    /// No private key with this label is on the token. `label` is empty when the error comes
    /// from a stale object handle whose label the classifier could not know.
    #[error("key not found: {label:?}")]
    KeyNotFound { label: String },
    /// A key with this label already exists; labels are the daemon's key ids and unique.
    #[error("a key labelled {label:?} already exists on the token")]
    LabelInUse { label: String },
    /// Key material or a key object is malformed, of the wrong kind, or inconsistent (an
    /// imported private key that does not match its public key).
    #[error("invalid key: {reason}")]
    InvalidKey { reason: String },
    /// Anything else: a PKCS#11 return value that points at a bug rather than at the token's
    /// availability (CKR_ARGUMENTS_BAD, CKR_TEMPLATE_INCONSISTENT, ...).
    #[error("token error: {reason}")]
    Other { reason: String },
}

impl HsmError {
    /// Whether retrying later (after [`Token::recover`](super::Token::recover)) may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, HsmError::Unavailable { .. })
    }

    pub(crate) fn unavailable(reason: impl Into<String>) -> Self {
        HsmError::Unavailable {
            reason: reason.into(),
        }
    }

    pub(crate) fn unusable(reason: impl Into<String>) -> Self {
        HsmError::Unusable {
            reason: reason.into(),
        }
    }

    pub(crate) fn other(reason: impl Into<String>) -> Self {
        HsmError::Other {
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid_key(reason: impl Into<String>) -> Self {
        HsmError::InvalidKey {
            reason: reason.into(),
        }
    }

    /// Fill in the label of a [`HsmError::KeyNotFound`] produced by [`classify`].
    pub(crate) fn for_label(self, label: &str) -> Self {
        match self {
            HsmError::KeyNotFound { .. } => HsmError::KeyNotFound {
                label: label.to_owned(),
            },
            e => e,
        }
    }
}

/// `RvError::PinIncorrect` -> `CKR_PIN_INCORRECT`: the names operators find in the spec and
/// in token logs. Built from the variant name so it never carries data.
pub(crate) fn rv_name(rv: RvError) -> String {
    if let RvError::VendorDefined(code) = rv {
        return format!("CKR_VENDOR_DEFINED({code:#x})");
    }
    let camel = format!("{rv:?}");
    let mut out = String::from("CKR");
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Whether `err` says the object handle no longer names an object. PKCS#11 handles are only
/// valid within one C_Initialize of one application (v2.40 section 2.4: "object handles
/// ... may change across sessions"), and SoftHSM also answers this for every key once its
/// token directory has gone (see `token.rs`), so the caller must look the key up again *and*
/// confirm the token is alive before believing the key is gone.
pub(crate) fn is_stale_handle(err: &CkError) -> bool {
    matches!(
        err,
        CkError::Pkcs11(RvError::ObjectHandleInvalid | RvError::KeyHandleInvalid, _)
    )
}

/// The one mapping from cryptoki errors to [`HsmError`], by what each return value means in
/// PKCS#11 3.x (section 5.1), not by what one implementation happens to answer:
///
/// - *the token or our connection to it is unwell* (a reconnect may help): the device and
///   token values, CKR_GENERAL_ERROR ("some horrible, unrecoverable error", possibly after a
///   partial success), CKR_FUNCTION_FAILED, CKR_DEVICE_MEMORY / CKR_HOST_MEMORY, lost
///   sessions and logins, CKR_CRYPTOKI_NOT_INITIALIZED. Implementations disagree on which
///   of these a lost store gives: SoftHSM 2.6 answers CKR_GENERAL_ERROR (token info,
///   C_CreateObject) and CKR_OBJECT_HANDLE_INVALID (handles), Kryoptic 1.5 CKR_DEVICE_MEMORY
///   or CKR_GENERAL_ERROR on writes and CKR_TOKEN_NOT_PRESENT from C_Initialize; reading all
///   of them as "unavailable" is what lets the probe and the write probe treat them alike;
/// - *an operator must act*: PIN states, a write-protected token, a mechanism, curve or key
///   size the token does not offer, a failed FIPS self-test, a module that cannot use OS
///   locking or that rejects the request by policy;
/// - *the object is gone*: CKR_OBJECT_HANDLE_INVALID / CKR_KEY_HANDLE_INVALID, which the
///   callers confirm with a probe (see [`is_stale_handle`]);
/// - everything else points at a bug of ours or of the module (arguments, templates,
///   operation state).
///
/// CKR_CRYPTOKI_ALREADY_INITIALIZED never reaches here from a reconnect: the token layer
/// finalizes and retries (`TokenInner::initialize`).
pub fn classify(err: CkError) -> HsmError {
    let (rv, func) = match err {
        CkError::Pkcs11(rv, func) => (rv, func),
        // dlopen failed or the module is missing symbols: the module file may be mid-upgrade
        // or its path temporarily unmounted, so retry rather than give up.
        CkError::LibraryLoading(e) => {
            return HsmError::unavailable(format!("cannot load PKCS#11 module: {e}"));
        }
        CkError::MissingSymbol(name) => {
            return HsmError::unavailable(format!("PKCS#11 module lacks {name}"));
        }
        CkError::NullFunctionPointer => {
            return HsmError::unusable("PKCS#11 module does not implement a required function");
        }
        CkError::PinNotSet => return HsmError::unusable("no PIN configured"),
        other => return HsmError::other(format!("cryptoki: {other}")),
    };
    let reason = format!("C_{func:?}: {}", rv_name(rv));
    match rv {
        // The device or our connection to it is gone or sick; a reconnect may fix it.
        RvError::DeviceRemoved
        | RvError::DeviceError
        | RvError::DeviceMemory
        | RvError::HostMemory
        | RvError::TokenNotPresent
        | RvError::TokenNotRecognized
        | RvError::SessionHandleInvalid
        | RvError::SessionClosed
        | RvError::SessionCount
        | RvError::SlotIdInvalid
        | RvError::UserNotLoggedIn
        | RvError::CryptokiNotInitialized
        | RvError::GeneralError
        | RvError::FunctionFailed
        | RvError::FunctionCanceled => HsmError::Unavailable { reason },
        // An operator must act: re-entering the same PIN can only lock the token
        // (v2.40 section 5.6: the token may lock after repeated CKR_PIN_INCORRECT).
        RvError::PinIncorrect
        | RvError::PinInvalid
        | RvError::PinLenRange
        | RvError::PinLocked
        | RvError::PinExpired
        | RvError::UserPinNotInitialized
        | RvError::UserTypeInvalid
        | RvError::TokenWriteProtected
        | RvError::MechanismInvalid
        | RvError::CurveNotSupported
        | RvError::KeySizeRange
        | RvError::FunctionNotSupported
        | RvError::FunctionRejected
        | RvError::FipsSelfTestFailed
        | RvError::CantLock
        | RvError::CryptokiAlreadyInitialized => HsmError::Unusable { reason },
        RvError::ObjectHandleInvalid | RvError::KeyHandleInvalid => HsmError::KeyNotFound {
            label: String::new(),
        },
        _ => HsmError::Other { reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki::context::Function;

    #[test]
    fn rv_names_are_spec_names() {
        assert_eq!(rv_name(RvError::PinIncorrect), "CKR_PIN_INCORRECT");
        assert_eq!(
            rv_name(RvError::CryptokiNotInitialized),
            "CKR_CRYPTOKI_NOT_INITIALIZED"
        );
    }

    #[test]
    fn classification() {
        let c = |rv| classify(CkError::Pkcs11(rv, Function::Sign));
        assert!(c(RvError::DeviceRemoved).is_transient());
        assert!(c(RvError::GeneralError).is_transient());
        // Kryoptic's answer to a write once its database is gone.
        assert!(c(RvError::DeviceMemory).is_transient());
        assert!(c(RvError::TokenNotPresent).is_transient());
        assert!(matches!(
            c(RvError::CurveNotSupported),
            HsmError::Unusable { .. }
        ));
        assert!(c(RvError::SessionHandleInvalid).is_transient());
        assert!(matches!(c(RvError::PinLocked), HsmError::Unusable { .. }));
        assert!(matches!(
            c(RvError::KeyHandleInvalid),
            HsmError::KeyNotFound { .. }
        ));
        assert!(matches!(c(RvError::ArgumentsBad), HsmError::Other { .. }));
        assert_eq!(
            c(RvError::DeviceError).to_string(),
            "token temporarily unavailable: C_Sign: CKR_DEVICE_ERROR"
        );
    }
}
