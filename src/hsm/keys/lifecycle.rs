//! Generation, import and destruction of key objects: serialised by the object lock, since
//! SoftHSM answers CKR_GENERAL_ERROR to concurrent object creation.

use super::*;

impl Token {
    /// Generate a key pair on the token, labelled `label` (the daemon's key id). The private
    /// key is sensitive, non-extractable, non-modifiable and may only sign. Fails with
    /// [`HsmError::LabelInUse`] if a private key with that label exists (callers serialise
    /// creation of one label; the token has no unique constraint on labels).
    pub fn generate(&self, alg: KeyAlgorithm, label: &str) -> Result<TokenKey, HsmError> {
        check_label(label)?;
        self.generate_labelled(alg, label)
    }

    /// [`generate`](Self::generate) for the daemon's own reserved key (the audit checkpoint
    /// key), which `check_label` refuses to everyone else.
    pub(crate) fn generate_reserved(
        &self,
        alg: KeyAlgorithm,
        label: &'static str,
    ) -> Result<TokenKey, HsmError> {
        debug_assert!(RESERVED_LABELS.contains(&label));
        self.generate_labelled(alg, label)
    }

    fn generate_labelled(&self, alg: KeyAlgorithm, label: &str) -> Result<TokenKey, HsmError> {
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
    let found = s.find_objects(&private_by_label(label)).map_err(classify)?;
    if !found.is_empty() {
        return Err(HsmError::LabelInUse {
            label: label.to_owned(),
        });
    }
    // Probe so that an unreadable token is not mistaken for a free label.
    live.probe(s)
}

fn session_objects(template: &mut [Attribute]) {
    for a in template.iter_mut() {
        if matches!(a, Attribute::Token(_)) {
            *a = Attribute::Token(false);
        }
    }
}
