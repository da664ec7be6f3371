//! Generation, import and destruction of key objects: serialised by the object lock, since
//! SoftHSM answers CKR_GENERAL_ERROR to concurrent object creation.
//!
//! None of the daemon's own paths searches the token (a search reads every object on
//! SoftHSM, see `token.rs`): new keys get labels nobody can hold yet ([`Token::generate_fresh`],
//! [`Token::import_fresh`]), a key is destroyed through its cached handles, and
//! reconciliation reads each object once ([`Token::scan_keys`]).

use std::collections::HashMap;

use super::*;

/// Whether a new key's label must be searched for first.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Label {
    /// Chosen by the caller: refuse it if a private key carries it.
    Checked,
    /// Made here from a random UUID: no object can carry it yet.
    Fresh,
}

/// `prefix` and a random (version 4) UUID: 122 random bits, so no object carries it unless
/// someone copied it from this daemon, and then lookups by it fail ("2 private keys are
/// labelled ..."); they never pick the wrong one silently.
fn fresh_label(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4())
}

impl Token {
    /// Generate a key pair on the token, labelled `label` (the daemon's key id). The private
    /// key is sensitive, non-extractable, non-modifiable and may only sign. Fails with
    /// [`HsmError::LabelInUse`] if a private key with that label exists (callers serialise
    /// creation of one label; the token has no unique constraint on labels). That check is
    /// a search, whose cost grows with the token: the daemon's keys use
    /// [`generate_fresh`](Self::generate_fresh).
    pub fn generate(&self, alg: KeyAlgorithm, label: &str) -> Result<TokenKey, HsmError> {
        check_label(label)?;
        self.generate_as(alg, label, Label::Checked)
    }

    /// [`generate`](Self::generate) for the daemon's own reserved key (the audit checkpoint
    /// key), which `check_label` refuses to everyone else.
    pub(crate) fn generate_reserved(
        &self,
        alg: KeyAlgorithm,
        label: &'static str,
    ) -> Result<TokenKey, HsmError> {
        debug_assert!(RESERVED_LABELS.contains(&label));
        self.generate_as(alg, label, Label::Checked)
    }

    /// [`generate`](Self::generate) under a new label, `prefix` and a random UUID (read it
    /// from [`TokenKey::label`]), without searching the token: its cost does not depend on
    /// how many objects the token holds.
    pub fn generate_fresh(&self, alg: KeyAlgorithm, prefix: &str) -> Result<TokenKey, HsmError> {
        let label = fresh_label(prefix);
        check_label(&label)?;
        self.generate_as(alg, &label, Label::Fresh)
    }

    fn generate_as(
        &self,
        alg: KeyAlgorithm,
        label: &str,
        kind: Label,
    ) -> Result<TokenKey, HsmError> {
        let _objects = self.inner.lock_objects();
        self.inner.with_live(|live| {
            let mut s = live.pool.checkout()?;
            if kind == Label::Checked {
                ensure_label_free(live, &s, label)?;
            }
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
                    // Read back a moment ago: the key's first use reads nothing again.
                    live.loaded_put(label, h, &k.public_key, &k.id);
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

    /// Destroy the private and public objects labelled `label`. Idempotent: an absent key
    /// is `Ok(())` (so a retry after a partial failure succeeds), but only after the token
    /// proved it is alive; an unreachable token is `Unavailable`, never a silent success.
    ///
    /// Through the cached handles when they still carry the label, else after one search.
    /// (SoftHSM's C_DestroyObject itself re-lists the token directory: that cost is the
    /// token's.)
    pub fn destroy(&self, label: &str) -> Result<(), HsmError> {
        let _objects = self.inner.lock_objects();
        self.inner.with_live(|live| {
            let mut s = live.pool.checkout()?;
            let cached = live.cached(label);
            live.cache_evict(label);
            let known = match cached {
                Some(h) => still_labelled(&s, h, label)?,
                None => None,
            };
            let objects = match known {
                Some(objects) => objects,
                None => {
                    let mut private = Vec::new();
                    let mut public = Vec::new();
                    for h in live.search(&s, &by_label(label)).map_err(|e| s.fail(e))? {
                        match read_class_and_id(&s, h)? {
                            Some((ObjectClass::PRIVATE_KEY, _)) => private.push(h),
                            Some((ObjectClass::PUBLIC_KEY, _)) => public.push(h),
                            _ => {}
                        }
                    }
                    private.append(&mut public);
                    private
                }
            };
            if objects.is_empty() {
                return live.probe(&s);
            }
            // Private first: once it is gone the key can no longer sign, whatever happens.
            for h in objects {
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

    /// Every key object of the token, read once, for reconciliation: the labels of private
    /// and of public keys (sorted), after destroying the key objects that carry no label.
    /// The handles of each labelled key pair go into the key cache (as far as it holds), so
    /// the keys are found without a search afterwards.
    ///
    /// Why unlabelled objects go: a process killed inside `C_GenerateKeyPair` can leave
    /// SoftHSM 2.6 with a torn object: a private key with no CKA_LABEL, no CKA_ID and
    /// CKA_SENSITIVE false (measured by `tests/resilience.rs`). This daemon never creates a
    /// key without a label (`check_label`), no client was ever told of such an object, and
    /// it cannot be found by label; left alone, it would be unprotected key material on the
    /// token. Only call this on a token dedicated to one daemon (an ARCHITECTURE.md
    /// invariant).
    ///
    /// Two searches and one attribute read per object, whatever it finds (it used to be
    /// four searches and three reads per object, in three calls).
    pub fn scan_keys(&self) -> Result<KeyScan, HsmError> {
        let _objects = self.inner.lock_objects();
        self.inner.with_live(|live| {
            let mut s = live.pool.checkout()?;
            let mut scan = KeyScan::default();
            // label -> (private halves, public halves), each with its CKA_ID.
            type Halves = Vec<(ObjectHandle, Vec<u8>)>;
            let mut pairs: HashMap<String, (Halves, Halves)> = HashMap::new();
            for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
                let handles = live
                    .search(&s, &[Attribute::Class(class)])
                    .map_err(|e| s.fail(e))?;
                for h in handles {
                    let attrs = match read_attrs(&s, h, &[AttributeType::Label, AttributeType::Id])
                    {
                        Err(Stale) => continue,
                        Ok(a) => a?,
                    };
                    let (mut label, mut id) = (Vec::new(), Vec::new());
                    for a in attrs {
                        match a {
                            Attribute::Label(v) => label = v,
                            Attribute::Id(v) => id = v,
                            _ => {}
                        }
                    }
                    if label.is_empty() {
                        match s.destroy_object(h) {
                            Ok(()) => scan.torn_destroyed += 1,
                            Err(e) if is_stale_handle(&e) => {}
                            Err(e) => return Err(s.fail(e)),
                        }
                        continue;
                    }
                    let label = String::from_utf8_lossy(&label).into_owned();
                    let entry = pairs.entry(label.clone()).or_default();
                    if class == ObjectClass::PRIVATE_KEY {
                        entry.0.push((h, id));
                        scan.private.push(label);
                    } else {
                        entry.1.push((h, id));
                        scan.public.push(label);
                    }
                }
            }
            live.probe(&s)?;
            for (label, (private, public)) in pairs {
                // Only an unambiguous pair: several private keys under one label is an
                // error that `lookup` reports when the key is used.
                if let [(private, id)] = private.as_slice() {
                    let public = public.iter().find(|(_, p)| p == id).map(|(h, _)| *h);
                    live.cache_put(
                        &label,
                        KeyHandles {
                            private: *private,
                            public,
                        },
                    );
                }
            }
            for labels in [&mut scan.private, &mut scan.public] {
                labels.sort();
                labels.dedup();
            }
            Ok(scan)
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
        self.import_as(material, label, Label::Checked)
    }

    /// [`import_private`](Self::import_private) under a new label, `prefix` and a random
    /// UUID, without searching the token first.
    pub fn import_fresh(
        &self,
        material: PrivateKeyMaterial,
        prefix: &str,
    ) -> Result<TokenKey, HsmError> {
        let label = fresh_label(prefix);
        check_label(&label)?;
        self.import_as(material, &label, Label::Fresh)
    }

    fn import_as(
        &self,
        material: PrivateKeyMaterial,
        label: &str,
        kind: Label,
    ) -> Result<TokenKey, HsmError> {
        let (expected, mut private_extra, public_extra) = import_templates(&material)?;
        drop(material);
        let objects = self.inner.lock_objects();
        let key = self.inner.with_live(|live| {
            let mut s = live.pool.checkout()?;
            if kind == Label::Checked {
                ensure_label_free(live, &s, label)?;
            }
            let id = s.generate_random_vec(16).map_err(|e| s.fail(e))?;

            let mut private = SecretTemplate(private_key_policy(label, &id));
            private.0.push(Attribute::Class(ObjectClass::PRIVATE_KEY));
            // Moves the secret vectors (no copies) into the template that is wiped on drop.
            private.0.append(&mut private_extra.0);
            let mut public = public_key_policy(label, &id);
            public.push(Attribute::Class(ObjectClass::PUBLIC_KEY));
            public.extend(public_extra);
            // A client's key is imported for one request: as session objects (CKA_TOKEN
            // false), which the token discards with the session, so a crash or a lost token
            // cannot leave the client's key stored in it.
            session_objects(&mut private.0);
            session_objects(&mut public);

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
}

pub(super) fn ensure_label_free(live: &Live, s: &Session, label: &str) -> Result<(), HsmError> {
    let found = live.search(s, &private_by_label(label)).map_err(classify)?;
    if !found.is_empty() {
        return Err(HsmError::LabelInUse {
            label: label.to_owned(),
        });
    }
    // Probe so that an unreadable token is not mistaken for a free label.
    live.probe(s)
}

/// `h`'s objects (private first) if they are still there and still labelled `label`; `None`
/// if not (stale or reused handles: search instead).
fn still_labelled(
    s: &Session,
    h: KeyHandles,
    label: &str,
) -> Result<Option<Vec<ObjectHandle>>, HsmError> {
    let mut objects = Vec::with_capacity(2);
    for obj in [Some(h.private), h.public].into_iter().flatten() {
        match read_attrs(s, obj, &[AttributeType::Label]) {
            Err(Stale) => return Ok(None),
            Ok(attrs) => {
                let labelled = attrs?
                    .iter()
                    .any(|a| matches!(a, Attribute::Label(l) if l == label.as_bytes()));
                if !labelled {
                    return Ok(None);
                }
            }
        }
        objects.push(obj);
    }
    Ok(Some(objects))
}

fn session_objects(template: &mut [Attribute]) {
    for a in template.iter_mut() {
        if matches!(a, Attribute::Token(_)) {
            *a = Attribute::Token(false);
        }
    }
}
