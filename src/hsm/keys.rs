//! Key objects: generation, import, lookup by label, public-key export, destruction.

use std::fmt;
use std::sync::Mutex;

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use der::{Decode, Encode};
use zeroize::{Zeroize, Zeroizing};

use super::error::{HsmError, classify, is_stale_handle};
use super::token::{KeyHandles, Live, Token};
use crate::crypto::{Curve, KeyAlgorithm, PublicKey, SignError, SignatureAlgorithm};

/// Longest label accepted. CKA_LABEL has no limit in the spec, but the label is the
/// daemon's key id and some tokens truncate long labels silently.
const MAX_LABEL_LEN: usize = 128;

/// RSA public exponent F4 = 65537 (NIST SP 800-56B requires an odd e >= 65537).
const RSA_F4: [u8; 3] = [0x01, 0x00, 0x01];

/// A private key handed in by a client for import. Secret parts are zeroized on drop and
/// never shown by Debug.
pub enum PrivateKeyMaterial {
    Ec {
        curve: Curve,
        /// The private scalar, big-endian; shorter than the field length is accepted.
        d: Zeroizing<Vec<u8>>,
        /// The matching public key; the import proves the pair signs and verifies.
        public: PublicKey,
    },
    /// RSA private key with CRT parameters (RFC 8017 section 3.2, second representation).
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
        d: Zeroizing<Vec<u8>>,
        p: Zeroizing<Vec<u8>>,
        q: Zeroizing<Vec<u8>>,
        dp: Zeroizing<Vec<u8>>,
        dq: Zeroizing<Vec<u8>>,
        qi: Zeroizing<Vec<u8>>,
    },
}

impl fmt::Debug for PrivateKeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrivateKeyMaterial::Ec { curve, .. } => f
                .debug_struct("PrivateKeyMaterial::Ec")
                .field("curve", curve)
                .finish_non_exhaustive(),
            PrivateKeyMaterial::Rsa { n, .. } => f
                .debug_struct("PrivateKeyMaterial::Rsa")
                .field("modulus_len", &n.len())
                .finish_non_exhaustive(),
        }
    }
}

/// A template that carries secrets: every byte-string attribute is zeroized on drop.
/// cryptoki's `Attribute` owns plain `Vec<u8>`s and hands the token pointers to them (no
/// copies), so wiping these vectors after C_CreateObject leaves no plaintext copy on our
/// side.
struct SecretTemplate(Vec<Attribute>);

impl Drop for SecretTemplate {
    fn drop(&mut self) {
        for attr in &mut self.0 {
            match attr {
                Attribute::Value(v)
                | Attribute::PrivateExponent(v)
                | Attribute::Prime1(v)
                | Attribute::Prime2(v)
                | Attribute::Exponent1(v)
                | Attribute::Exponent2(v)
                | Attribute::Coefficient(v) => v.zeroize(),
                _ => {}
            }
        }
    }
}

/// Security attributes of a private key object, read back for tests and audits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAttributes {
    pub sensitive: bool,
    pub extractable: bool,
    pub modifiable: bool,
    pub always_sensitive: bool,
    pub never_extractable: bool,
    pub token: bool,
    pub private: bool,
    pub sign: bool,
    /// Any use besides signing (CKA_DECRYPT, CKA_UNWRAP, CKA_DERIVE). Must be false.
    pub other_use: bool,
    pub has_label: bool,
    pub has_id: bool,
    /// Whether the token handed out the secret value (CKA_VALUE for EC, CKA_PRIVATE_EXPONENT
    /// for RSA). Must be false. The value itself, if any, is wiped before returning.
    pub value_readable: bool,
}

/// A key pair on the token, addressed by its label. Implements
/// [`DigestSigner`](crate::crypto::DigestSigner) (see `sign.rs`).
pub struct TokenKey {
    pub(crate) token: Token,
    pub(crate) label: String,
    pub(crate) public_key: PublicKey,
    pub(crate) id: Vec<u8>,
    /// (context generation, handles). Handles are re-resolved when the generation moved on.
    pub(crate) handles: Mutex<(u64, KeyHandles)>,
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKey")
            .field("label", &self.label)
            .field("algorithm", &self.algorithm())
            .field("id", &hex(&self.id))
            .finish_non_exhaustive()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl TokenKey {
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.public_key.algorithm()
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// CKA_ID, shared by the private and public objects.
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    pub fn token(&self) -> &Token {
        &self.token
    }

    /// Resolve this key's handles again (after a reconnect or a stale handle), and make sure
    /// the object now carrying the label is still *this* key: a key destroyed and re-created
    /// under the same label has another CKA_ID, and signing with it would be signing with
    /// a key the caller never saw.
    pub(crate) fn relocate(
        &self,
        live: &Live,
        s: &Session,
        fresh: bool,
    ) -> Result<KeyHandles, HsmError> {
        let h = live.lookup(s, &self.label, fresh)?;
        let id = read_bytes(s, h.private, AttributeType::Id)?.unwrap_or_default();
        if id != self.id {
            return Err(HsmError::KeyNotFound {
                label: self.label.clone(),
            });
        }
        *self.handles.lock().unwrap_or_else(|p| p.into_inner()) = (live.generation, h);
        Ok(h)
    }
}

/// Extract the uncompressed point from CKA_EC_POINT and validate it.
///
/// PKCS#11 v2.40 section 2.3.3 defines CKA_EC_POINT as the "DER-encoding of ANSI X9.62
/// ECPoint value Q", i.e. an OCTET STRING around `04 || X || Y`, and SoftHSM returns that;
/// some tokens return the raw point. The lengths cannot collide (the wrapper adds 2 or 3
/// bytes), so both are accepted.
pub fn parse_ec_point(curve: Curve, bytes: &[u8]) -> Result<PublicKey, HsmError> {
    let raw_len = 1 + 2 * curve.field_len();
    let point: Vec<u8> = if bytes.len() == raw_len && bytes[0] == 0x04 {
        bytes.to_vec()
    } else {
        let os = der::asn1::OctetString::from_der(bytes)
            .map_err(|_| HsmError::invalid_key("CKA_EC_POINT is neither a point nor DER"))?;
        os.as_bytes().to_vec()
    };
    if point.len() != raw_len || point[0] != 0x04 {
        return Err(HsmError::invalid_key(
            "CKA_EC_POINT is not an uncompressed point of the key's curve",
        ));
    }
    PublicKey::from_ec_point(curve, &point)
        .map_err(|e| HsmError::invalid_key(format!("CKA_EC_POINT: {e}")))
}

fn curve_params(curve: Curve) -> Result<Vec<u8>, HsmError> {
    // CKA_EC_PARAMS: DER of the namedCurve OID (v2.40 section 2.3.3, ECParameters choice).
    curve
        .oid()
        .to_der()
        .map_err(|_| HsmError::other("cannot encode curve OID"))
}

fn check_label(label: &str) -> Result<(), HsmError> {
    if label.is_empty() || label.len() > MAX_LABEL_LEN || label == super::SENTINEL_LABEL {
        return Err(HsmError::invalid_key(format!(
            "label must be 1..={MAX_LABEL_LEN} bytes and not reserved"
        )));
    }
    Ok(())
}

fn private_by_label(label: &str) -> [Attribute; 2] {
    [
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

fn public_by_label(label: &str) -> [Attribute; 2] {
    [
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

/// The security attributes every private key gets, generated or imported.
fn private_key_policy(label: &str, id: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        // CKA_PRIVATE: only a logged-in user may see or use it.
        Attribute::Private(true),
        // CKA_SENSITIVE / CKA_EXTRACTABLE: the value never leaves the token, neither in
        // clear nor wrapped (v2.40 section 4.9).
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        // CKA_MODIFIABLE false: nobody can later flip usage flags or the label.
        Attribute::Modifiable(false),
        // One key, one purpose: it signs, and nothing else. SoftHSM otherwise leaves decrypt
        // and unwrap on (seen on EC keys with pkcs11-tool), and an EC key with CKA_DERIVE
        // would serve ECDH with the signing key.
        Attribute::Sign(true),
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
    ]
}

fn public_key_policy(label: &str, id: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
    ]
}

impl Live {
    /// Find the handles for `label`, from the cache unless `fresh`. Reports KeyNotFound only
    /// after proving the token is alive: SoftHSM returns empty searches when its storage is
    /// gone.
    pub(crate) fn lookup(
        &self,
        s: &Session,
        label: &str,
        fresh: bool,
    ) -> Result<KeyHandles, HsmError> {
        if !fresh && let Some(h) = self.cached(label) {
            return Ok(h);
        }
        self.cache_evict(label);
        let found = s.find_objects(&private_by_label(label)).map_err(classify)?;
        let private = match found.as_slice() {
            [h] => *h,
            [] => {
                self.probe(s)?;
                return Err(HsmError::KeyNotFound {
                    label: label.to_owned(),
                });
            }
            many => {
                return Err(HsmError::other(format!(
                    "{} private keys are labelled {label:?}",
                    many.len()
                )));
            }
        };
        let id = read_bytes(s, private, AttributeType::Id)?.unwrap_or_default();
        let mut template = public_by_label(label).to_vec();
        template.push(Attribute::Id(id));
        let public = s
            .find_objects(&template)
            .map_err(classify)?
            .first()
            .copied();
        let h = KeyHandles { private, public };
        self.cache_put(label, h);
        Ok(h)
    }

    /// Build the TokenKey for `label`: look it up and read its public half. Retries once
    /// with a fresh search if the cached handles went stale.
    fn load(&self, token: &Token, s: &Session, label: &str) -> Result<TokenKey, HsmError> {
        if let Some((h, public_key, id)) = self.loaded(label) {
            return finish(token, label, self.generation, h, Ok((public_key, id)));
        }
        let h = self.lookup(s, label, false)?;
        if let Ok(read) = read_public(s, h) {
            return self.finish_and_remember(token, label, h, read);
        }
        let h = self.lookup(s, label, true)?;
        if let Ok(read) = read_public(s, h) {
            return self.finish_and_remember(token, label, h, read);
        }
        // Found by a search a moment ago, yet its handle is invalid: either it was
        // destroyed in between, or the token's storage is gone (see token.rs).
        self.cache_evict(label);
        self.probe(s)?;
        Err(HsmError::KeyNotFound {
            label: label.to_owned(),
        })
    }
}

impl Live {
    fn finish_and_remember(
        &self,
        token: &Token,
        label: &str,
        h: KeyHandles,
        read: Result<(PublicKey, Vec<u8>), HsmError>,
    ) -> Result<TokenKey, HsmError> {
        let key = finish(token, label, self.generation, h, read)?;
        self.loaded_put(label, h, &key.public_key, &key.id);
        Ok(key)
    }
}

/// Marker: an object handle went stale while reading attributes.
struct Stale;

fn finish(
    token: &Token,
    label: &str,
    generation: u64,
    h: KeyHandles,
    read: Result<(PublicKey, Vec<u8>), HsmError>,
) -> Result<TokenKey, HsmError> {
    let (public_key, id) = read?;
    Ok(TokenKey {
        token: token.clone(),
        label: label.to_owned(),
        public_key,
        id,
        handles: Mutex::new((generation, h)),
    })
}

fn read_attrs(
    s: &Session,
    obj: ObjectHandle,
    types: &[AttributeType],
) -> Result<Result<Vec<Attribute>, HsmError>, Stale> {
    match s.get_attributes(obj, types) {
        Ok(a) => Ok(Ok(a)),
        Err(e) if is_stale_handle(&e) => Err(Stale),
        Err(e) => Ok(Err(classify(e))),
    }
}

fn read_bytes(
    s: &Session,
    obj: ObjectHandle,
    t: AttributeType,
) -> Result<Option<Vec<u8>>, HsmError> {
    let attrs = s.get_attributes(obj, &[t]).map_err(classify)?;
    Ok(attrs.into_iter().find_map(|a| match a {
        Attribute::Id(v) | Attribute::Label(v) => Some(v),
        _ => None,
    }))
}

/// Read the public key and CKA_ID of a key pair. The outer error says the handle is stale.
fn read_public(
    s: &Session,
    h: KeyHandles,
) -> Result<Result<(PublicKey, Vec<u8>), HsmError>, Stale> {
    let attrs = match read_attrs(
        s,
        h.private,
        &[
            AttributeType::KeyType,
            AttributeType::Id,
            AttributeType::EcParams,
        ],
    )? {
        Ok(a) => a,
        Err(e) => return Ok(Err(e)),
    };
    let mut key_type = None;
    let mut id = Vec::new();
    let mut params = None;
    for a in attrs {
        match a {
            Attribute::KeyType(k) => key_type = Some(k),
            Attribute::Id(v) => id = v,
            Attribute::EcParams(v) => params = Some(v),
            _ => {}
        }
    }
    // The public half: from the public object if there is one; RSA private keys also carry
    // n and e (v2.40 section 2.1.3), EC private keys carry no point.
    let source = h.public.unwrap_or(h.private);
    let key = if key_type == Some(KeyType::EC) {
        let Some(params) = params else {
            return Ok(Err(HsmError::invalid_key("EC key without CKA_EC_PARAMS")));
        };
        let curve = const_oid::ObjectIdentifier::from_der(&params)
            .ok()
            .and_then(|oid| Curve::from_oid(&oid));
        let Some(curve) = curve else {
            return Ok(Err(HsmError::invalid_key("EC key on an unsupported curve")));
        };
        let Some(public) = h.public else {
            return Ok(Err(HsmError::invalid_key(
                "EC key without a public key object",
            )));
        };
        let attrs = match read_attrs(s, public, &[AttributeType::EcPoint])? {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        let point = attrs.into_iter().find_map(|a| match a {
            Attribute::EcPoint(p) => Some(p),
            _ => None,
        });
        match point {
            Some(p) => parse_ec_point(curve, &p),
            None => Err(HsmError::invalid_key("public key without CKA_EC_POINT")),
        }
    } else if key_type == Some(KeyType::RSA) {
        let attrs = match read_attrs(
            s,
            source,
            &[AttributeType::Modulus, AttributeType::PublicExponent],
        )? {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        let (mut n, mut e) = (None, None);
        for a in attrs {
            match a {
                Attribute::Modulus(v) => n = Some(v),
                Attribute::PublicExponent(v) => e = Some(v),
                _ => {}
            }
        }
        match (n, e) {
            (Some(n), Some(e)) => PublicKey::from_rsa_parts(&n, &e)
                .map_err(|err| HsmError::invalid_key(format!("RSA public key: {err}"))),
            _ => Err(HsmError::invalid_key("RSA key without modulus or exponent")),
        }
    } else {
        Err(HsmError::invalid_key("key type is neither EC nor RSA"))
    };
    Ok(key.map(|k| (k, id)))
}

impl Token {
    /// Drop the label -> handle cache, so the next lookups search the token. For tests.
    #[doc(hidden)]
    pub fn forget_cached_handles(&self) -> Result<(), HsmError> {
        self.inner.with_live(|live| {
            live.cache_clear();
            Ok(())
        })
    }

    /// Generate a key pair on the token, labelled `label` (the daemon's key id). The private
    /// key is sensitive, non-extractable, non-modifiable and may only sign. Fails with
    /// [`HsmError::LabelInUse`] if a private key with that label exists (callers serialise
    /// creation of one label; the token has no unique constraint on labels).
    pub fn generate(&self, alg: KeyAlgorithm, label: &str) -> Result<TokenKey, HsmError> {
        check_label(label)?;
        let _objects = self.inner.lock_objects();
        self.inner.with_live(|live| {
            let mut s = live.pool.checkout()?;
            ensure_label_free(live, &s, label)?;
            let id = s.generate_random_vec(16).map_err(|e| s.fail(e))?;
            let mut public = public_key_policy(label, &id);
            let private = private_key_policy(label, &id);
            let mechanism = match (alg.curve(), alg.rsa_bits()) {
                (Some(curve), _) => {
                    public.push(Attribute::EcParams(curve_params(curve)?));
                    Mechanism::EccKeyPairGen
                }
                (None, Some(bits)) => {
                    public.push(Attribute::ModulusBits(u64::from(bits).into()));
                    public.push(Attribute::PublicExponent(RSA_F4.to_vec()));
                    Mechanism::RsaPkcsKeyPairGen
                }
                (None, None) => return Err(HsmError::other("algorithm has no key shape")),
            };
            let (pub_h, priv_h) = s
                .generate_key_pair(&mechanism, &public, &private)
                .map_err(|e| s.fail(e))?;
            let h = KeyHandles {
                private: priv_h,
                public: Some(pub_h),
            };
            let key = match read_public(&s, h) {
                Ok(Ok((pk, id))) if pk.algorithm() == alg => {
                    finish(self, label, live.generation, h, Ok((pk, id)))
                }
                Ok(Ok(_)) => Err(HsmError::other("token generated a key of another size")),
                Ok(Err(e)) => Err(e),
                Err(Stale) => Err(HsmError::unavailable(
                    "generated key vanished: token storage gone",
                )),
            };
            match key {
                Ok(k) => {
                    live.cache_put(label, h);
                    tracing::info!(label, algorithm = alg.name(), "key generated on token");
                    Ok(k)
                }
                Err(e) => {
                    // Leave no half-made key behind under a label the database may reuse.
                    let _ = s.destroy_object(priv_h);
                    let _ = s.destroy_object(pub_h);
                    Err(e)
                }
            }
        })
    }

    /// Look a key up by label. [`HsmError::KeyNotFound`] if the (live) token has no private
    /// key with that label; an error if several have.
    pub fn find(&self, label: &str) -> Result<TokenKey, HsmError> {
        self.inner.with_live(|live| {
            let mut s = live.pool.checkout()?;
            live.load(self, &s, label).inspect_err(|e| {
                if e.is_transient() {
                    s.mark_broken();
                }
            })
        })
    }

    /// Destroy the private and public objects labelled `label`. Idempotent: an absent key
    /// is `Ok(())` (so a retry after a partial failure succeeds), but only after the token
    /// proved it is alive; an unreachable token is `Unavailable`, never a silent success.
    pub fn destroy(&self, label: &str) -> Result<(), HsmError> {
        let _objects = self.inner.lock_objects();
        self.inner.with_live(|live| {
            let mut s = live.pool.checkout()?;
            live.cache_evict(label);
            let private = s
                .find_objects(&private_by_label(label))
                .map_err(|e| s.fail(e))?;
            let public = s
                .find_objects(&public_by_label(label))
                .map_err(|e| s.fail(e))?;
            if private.is_empty() && public.is_empty() {
                return live.probe(&s);
            }
            // Private first: once it is gone the key can no longer sign, whatever happens.
            for h in private.into_iter().chain(public) {
                match s.destroy_object(h) {
                    Ok(()) => {}
                    Err(e) if is_stale_handle(&e) => {}
                    Err(e) => return Err(s.fail(e)),
                }
            }
            tracing::info!(label, "key destroyed on token");
            Ok(())
        })
    }

    /// Labels of all private keys on the token (sorted), for start-up reconciliation with
    /// the database. Fails rather than returning an empty list when the token's storage is
    /// unreadable.
    pub fn list_labels(&self) -> Result<Vec<String>, HsmError> {
        self.labels_of(ObjectClass::PRIVATE_KEY)
    }

    /// Labels of all public keys on the token (sorted): a public half whose private half is
    /// gone is found this way.
    pub fn list_public_labels(&self) -> Result<Vec<String>, HsmError> {
        self.labels_of(ObjectClass::PUBLIC_KEY)
    }

    fn labels_of(&self, class: ObjectClass) -> Result<Vec<String>, HsmError> {
        self.inner.with_live(|live| {
            let mut s = live.pool.checkout()?;
            let handles = s
                .find_objects(&[Attribute::Class(class)])
                .map_err(|e| s.fail(e))?;
            let mut labels = Vec::with_capacity(handles.len());
            for h in handles {
                if let Some(l) = read_bytes(&s, h, AttributeType::Label)?
                    && !l.is_empty()
                {
                    labels.push(String::from_utf8_lossy(&l).into_owned());
                }
            }
            live.probe(&s)?;
            labels.sort();
            labels.dedup();
            Ok(labels)
        })
    }

    /// Destroy key objects (private or public) that carry no label, returning how many.
    ///
    /// Why: a process killed inside `C_GenerateKeyPair` can leave SoftHSM 2.6 with a torn
    /// object: a private key with no CKA_LABEL, no CKA_ID and CKA_SENSITIVE false (measured by
    /// `tests/resilience.rs`). This daemon never creates a key without a label
    /// (`check_label`), no client was ever told of such an object, and it cannot be found by
    /// label; left alone, it would be unprotected key material on the token. Only call this
    /// on a token dedicated to one daemon (an ARCHITECTURE.md invariant).
    pub fn destroy_unlabelled_keys(&self) -> Result<usize, HsmError> {
        let _objects = self.inner.lock_objects();
        self.inner.with_live(|live| {
            let mut s = live.pool.checkout()?;
            let mut destroyed = 0;
            for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
                let handles = s
                    .find_objects(&[Attribute::Class(class)])
                    .map_err(|e| s.fail(e))?;
                for h in handles {
                    let label = read_bytes(&s, h, AttributeType::Label)?;
                    if label.is_some_and(|l| !l.is_empty()) {
                        continue;
                    }
                    match s.destroy_object(h) {
                        Ok(()) => destroyed += 1,
                        Err(e) if is_stale_handle(&e) => {}
                        Err(e) => return Err(s.fail(e)),
                    }
                }
            }
            live.probe(&s)?;
            Ok(destroyed)
        })
    }

    /// Import a client-supplied private key (and its public key) as a sensitive,
    /// non-extractable, non-modifiable token key. The key must then sign a test digest
    /// that verifies with the supplied public key, or it is destroyed again and the import
    /// fails with [`HsmError::InvalidKey`].
    pub fn import_private(
        &self,
        material: PrivateKeyMaterial,
        label: &str,
    ) -> Result<TokenKey, HsmError> {
        check_label(label)?;
        let (expected, mut private_extra, public_extra) = import_templates(&material)?;
        drop(material);
        let objects = self.inner.lock_objects();
        let key = self.inner.with_live(|live| {
            let mut s = live.pool.checkout()?;
            ensure_label_free(live, &s, label)?;
            let id = s.generate_random_vec(16).map_err(|e| s.fail(e))?;

            let mut private = SecretTemplate(private_key_policy(label, &id));
            private.0.push(Attribute::Class(ObjectClass::PRIVATE_KEY));
            // Moves the secret vectors (no copies) into the template that is wiped on drop.
            private.0.append(&mut private_extra.0);
            let mut public = public_key_policy(label, &id);
            public.push(Attribute::Class(ObjectClass::PUBLIC_KEY));
            public.extend(public_extra);

            let priv_h = s.create_object(&private.0).map_err(|e| s.fail(e))?;
            drop(private);
            let pub_h = match s.create_object(&public) {
                Ok(h) => h,
                Err(e) => {
                    let _ = s.destroy_object(priv_h);
                    return Err(s.fail(e));
                }
            };
            let h = KeyHandles {
                private: priv_h,
                public: Some(pub_h),
            };
            live.cache_put(label, h);
            Ok(TokenKey {
                token: self.clone(),
                label: label.to_owned(),
                public_key: expected.clone(),
                id,
                handles: Mutex::new((live.generation, h)),
            })
        })?;
        drop(private_extra);
        // Released before the proof below, which may call `destroy` (which takes it).
        drop(objects);

        // Prove the pair: sign through the same path certificates use, which verifies the
        // token's signature with the *supplied* public key.
        let alg: SignatureAlgorithm = key.algorithm().default_signature();
        let proof =
            crate::crypto::sign(&key, alg, b"hsm-pki import self-test").map_err(|e| match e {
                SignError::Key(h) => h,
                SignError::Crypto(_) => {
                    HsmError::invalid_key("private key does not match the supplied public key")
                }
            });
        match proof {
            Ok(_) => {
                tracing::info!(label, algorithm = key.algorithm().name(), "key imported");
                Ok(key)
            }
            Err(e) => {
                if let Err(d) = self.destroy(label) {
                    tracing::error!(label, error = %d, "could not remove a failed import");
                }
                Err(e)
            }
        }
    }

    /// Read the security attributes of the private key labelled `label`. For tests and
    /// audits; never returns secret values.
    #[doc(hidden)]
    pub fn inspect_private_key(&self, label: &str) -> Result<KeyAttributes, HsmError> {
        self.inner.with_live(|live| {
            let s = live.pool.checkout()?;
            let h = live.lookup(&s, label, true)?;
            let attrs = s
                .get_attributes(
                    h.private,
                    &[
                        AttributeType::Sensitive,
                        AttributeType::Extractable,
                        AttributeType::Modifiable,
                        AttributeType::AlwaysSensitive,
                        AttributeType::NeverExtractable,
                        AttributeType::Token,
                        AttributeType::Private,
                        AttributeType::Sign,
                        AttributeType::Decrypt,
                        AttributeType::Unwrap,
                        AttributeType::Derive,
                        AttributeType::Label,
                        AttributeType::Id,
                        AttributeType::KeyType,
                    ],
                )
                .map_err(classify)?;
            let mut k = KeyAttributes {
                sensitive: false,
                extractable: true,
                modifiable: true,
                always_sensitive: false,
                never_extractable: false,
                token: false,
                private: false,
                sign: false,
                other_use: false,
                has_label: false,
                has_id: false,
                value_readable: false,
            };
            let mut key_type = None;
            for a in attrs {
                match a {
                    Attribute::Sensitive(b) => k.sensitive = b,
                    Attribute::Extractable(b) => k.extractable = b,
                    Attribute::Modifiable(b) => k.modifiable = b,
                    Attribute::AlwaysSensitive(b) => k.always_sensitive = b,
                    Attribute::NeverExtractable(b) => k.never_extractable = b,
                    Attribute::Token(b) => k.token = b,
                    Attribute::Private(b) => k.private = b,
                    Attribute::Sign(b) => k.sign = b,
                    Attribute::Decrypt(b) | Attribute::Unwrap(b) | Attribute::Derive(b) => {
                        k.other_use |= b
                    }
                    Attribute::Label(v) => k.has_label = v == label.as_bytes(),
                    Attribute::Id(v) => k.has_id = v.len() == 16,
                    Attribute::KeyType(t) => key_type = Some(t),
                    _ => {}
                }
            }
            let secret = if key_type == Some(KeyType::EC) {
                AttributeType::Value
            } else {
                AttributeType::PrivateExponent
            };
            // A refusal (CKR_ATTRIBUTE_SENSITIVE) shows up either as an error or, with
            // cryptoki's two-pass read, as the attribute missing from the result.
            if let Ok(got) = s.get_attributes(h.private, &[secret]) {
                let got = SecretTemplate(got);
                k.value_readable = !got.0.is_empty();
            }
            Ok(k)
        })
    }
}

fn ensure_label_free(live: &Live, s: &Session, label: &str) -> Result<(), HsmError> {
    let found = s.find_objects(&private_by_label(label)).map_err(classify)?;
    if !found.is_empty() {
        return Err(HsmError::LabelInUse {
            label: label.to_owned(),
        });
    }
    // Probe so that an unreadable token is not mistaken for a free label.
    live.probe(s)
}

/// Build the key-type specific parts of the import templates, and the public key the
/// result must match.
fn import_templates(
    material: &PrivateKeyMaterial,
) -> Result<(PublicKey, SecretTemplate, Vec<Attribute>), HsmError> {
    match material {
        PrivateKeyMaterial::Ec { curve, d, public } => {
            if public.algorithm() != curve.key_algorithm() {
                return Err(HsmError::invalid_key("public key is on another curve"));
            }
            let n = curve.field_len();
            let significant = d.iter().skip_while(|b| **b == 0).count();
            if significant == 0 || significant > n {
                return Err(HsmError::invalid_key(
                    "EC private scalar has a wrong length",
                ));
            }
            // CKA_VALUE of an EC private key is the scalar d, big-endian (v2.40 section
            // 2.3.4); pad to the field length as tokens expect fixed-size scalars.
            // Sized up front so no reallocation leaves an unwiped copy behind.
            let mut value = Vec::with_capacity(n);
            value.resize(n - significant, 0);
            value.extend_from_slice(&d[d.len() - significant..]);
            let params = curve_params(*curve)?;
            let point = der::asn1::OctetString::new(public.raw_bytes())
                .and_then(|os| os.to_der())
                .map_err(|_| HsmError::invalid_key("cannot encode EC point"))?;
            Ok((
                public.clone(),
                SecretTemplate(vec![
                    Attribute::KeyType(KeyType::EC),
                    Attribute::EcParams(params.clone()),
                    Attribute::Value(value),
                ]),
                vec![
                    Attribute::KeyType(KeyType::EC),
                    Attribute::EcParams(params),
                    Attribute::EcPoint(point),
                ],
            ))
        }
        PrivateKeyMaterial::Rsa {
            n,
            e,
            d,
            p,
            q,
            dp,
            dq,
            qi,
        } => {
            let public = PublicKey::from_rsa_parts(n, e)
                .map_err(|err| HsmError::invalid_key(format!("RSA public key: {err}")))?;
            Ok((
                public,
                SecretTemplate(vec![
                    Attribute::KeyType(KeyType::RSA),
                    Attribute::Modulus(n.clone()),
                    Attribute::PublicExponent(e.clone()),
                    Attribute::PrivateExponent(d.to_vec()),
                    Attribute::Prime1(p.to_vec()),
                    Attribute::Prime2(q.to_vec()),
                    Attribute::Exponent1(dp.to_vec()),
                    Attribute::Exponent2(dq.to_vec()),
                    Attribute::Coefficient(qi.to_vec()),
                ]),
                vec![
                    Attribute::KeyType(KeyType::RSA),
                    Attribute::Modulus(n.clone()),
                    Attribute::PublicExponent(e.clone()),
                ],
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p256_point() -> Vec<u8> {
        crate::crypto::testkeys::ec_public_point(Curve::P256, &[5u8; 32])
    }

    #[test]
    fn ec_point_raw_and_der_wrapped() {
        let raw = p256_point();
        let a = parse_ec_point(Curve::P256, &raw).unwrap();
        let wrapped = der::asn1::OctetString::new(raw.clone())
            .unwrap()
            .to_der()
            .unwrap();
        assert_eq!(&wrapped[..3], &[0x04, 0x41, 0x04]);
        let b = parse_ec_point(Curve::P256, &wrapped).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.raw_bytes(), raw.as_slice());
    }

    #[test]
    fn ec_point_p521_long_form_length() {
        let mut d = [0u8; 66];
        d[65] = 3;
        let raw = crate::crypto::testkeys::ec_public_point(Curve::P521, &d);
        let wrapped = der::asn1::OctetString::new(raw.clone())
            .unwrap()
            .to_der()
            .unwrap();
        assert_eq!(&wrapped[..3], &[0x04, 0x81, 0x85]);
        assert_eq!(
            parse_ec_point(Curve::P521, &wrapped).unwrap(),
            parse_ec_point(Curve::P521, &raw).unwrap()
        );
    }

    #[test]
    fn ec_point_rejects_garbage_and_wrong_curve() {
        let raw = p256_point();
        assert!(parse_ec_point(Curve::P384, &raw).is_err());
        assert!(parse_ec_point(Curve::P256, &raw[..64]).is_err());
        let mut compressed = raw.clone();
        compressed[0] = 0x02;
        assert!(parse_ec_point(Curve::P256, &compressed).is_err());
    }

    #[test]
    fn material_debug_hides_secrets() {
        let m = PrivateKeyMaterial::Ec {
            curve: Curve::P256,
            d: Zeroizing::new(vec![0xAB; 32]),
            public: PublicKey::from_ec_point(Curve::P256, &p256_point()).unwrap(),
        };
        let s = format!("{m:?}");
        assert!(!s.to_lowercase().contains("ab, ") && !s.contains("171"));
    }
}
