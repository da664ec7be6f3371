//! What anchors the audit log in the token: the key that signs its checkpoints and a data
//! object holding the newest checkpoint's position. The database can be copied, edited and
//! replaced by whoever can write its file; these two objects can only be changed by a
//! logged-in user of the token. What they are checked against is `service::checkpoint`.

use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

use super::TokenKey;
use super::error::{HsmError, classify, is_stale_handle};
use super::token::Token;
use crate::crypto::KeyAlgorithm;

/// CKA_LABEL of the P-256 key that signs audit checkpoints. Reserved: no client-made key can
/// carry it, and reconciliation counts it as recorded.
pub const AUDIT_KEY_LABEL: &str = "hsm-pki.audit-checkpoint-key";
/// CKA_LABEL of the data objects holding the newest checkpoint's position.
const ANCHOR_LABEL: &str = "hsm-pki.audit-anchor";
const ANCHOR_APPLICATION: &[u8] = b"hsm-pki";

fn anchor_template() -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Label(ANCHOR_LABEL.as_bytes().to_vec()),
        Attribute::Application(ANCHOR_APPLICATION.to_vec()),
    ]
}

impl Token {
    /// The audit checkpoint key, generated on first use. Only the daemon's start-up and
    /// checkpoint writer call this, one at a time, so two cannot be generated.
    pub fn audit_key(&self) -> Result<TokenKey, HsmError> {
        match self.find(AUDIT_KEY_LABEL) {
            Err(HsmError::KeyNotFound { .. }) => {
                self.generate_reserved(KeyAlgorithm::P256, AUDIT_KEY_LABEL)
            }
            other => other,
        }
    }

    /// The audit checkpoint key if the token has one (`audit verify` never creates it).
    pub fn find_audit_key(&self) -> Result<Option<TokenKey>, HsmError> {
        match self.find(AUDIT_KEY_LABEL) {
            Ok(k) => Ok(Some(k)),
            Err(HsmError::KeyNotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every anchor value on the token. Usually one; two after a crash between writing a
    /// new anchor and destroying the old one (the caller takes the newest).
    pub fn read_audit_anchors(&self) -> Result<Vec<Vec<u8>>, HsmError> {
        self.inner.with_live(|live| {
            let mut s = live.pool.checkout()?;
            let found = live.search(&s, &anchor_template()).map_err(|e| s.fail(e))?;
            if found.is_empty() {
                // An empty search is not proof of absence while storage may be gone.
                live.probe(&s)?;
            }
            let mut out = Vec::with_capacity(found.len());
            for h in found {
                if let Some(v) = anchor_value(&s, h)? {
                    out.push(v);
                }
            }
            Ok(out)
        })
    }

    /// Replace the anchor with `value`: the new object is created before the old ones are
    /// destroyed, so a crash in between leaves two (read as the newer) and never none. Data
    /// objects are created, not modified, because not every token allows changing
    /// CKA_VALUE.
    pub fn write_audit_anchor(&self, value: &[u8]) -> Result<(), HsmError> {
        let _objects = self.inner.lock_objects();
        self.inner.with_live(|live| {
            let mut s = live.pool.checkout()?;
            let old = live.search(&s, &anchor_template()).map_err(|e| s.fail(e))?;
            let mut template = anchor_template();
            template.extend([
                Attribute::Token(true),
                // Private: read and written only by a logged-in session.
                Attribute::Private(true),
                Attribute::Modifiable(false),
                Attribute::Value(value.to_vec()),
            ]);
            s.create_object(&template).map_err(|e| s.fail(e))?;
            for h in old {
                match s.destroy_object(h) {
                    Ok(()) => {}
                    Err(e) if is_stale_handle(&e) => {}
                    Err(e) => return Err(s.fail(e)),
                }
            }
            Ok(())
        })
    }
}

fn anchor_value(s: &Session, h: ObjectHandle) -> Result<Option<Vec<u8>>, HsmError> {
    match s.get_attributes(h, &[AttributeType::Value]) {
        Ok(attrs) => Ok(attrs.into_iter().find_map(|a| match a {
            Attribute::Value(v) => Some(v),
            _ => None,
        })),
        Err(e) if is_stale_handle(&e) => Ok(None),
        Err(e) => Err(classify(e)),
    }
}
