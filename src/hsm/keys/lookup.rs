//! Finding keys by label (with the handle cache) and reading their public halves back.
//!
//! A search reads every object of the token on SoftHSM (`token.rs` module docs), so a
//! lookup searches only when the key is not in the cache, and then once for both halves.

use super::*;

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
        let mut private = Vec::new();
        let mut public = Vec::new();
        for h in self.search(s, &by_label(label)).map_err(classify)? {
            // A handle that went stale since the search was destroyed meanwhile: not a half.
            let Some((class, id)) = read_class_and_id(s, h)? else {
                continue;
            };
            if class == ObjectClass::PRIVATE_KEY {
                private.push((h, id));
            } else if class == ObjectClass::PUBLIC_KEY {
                public.push((h, id));
            }
        }
        let (private, id) = match private.as_slice() {
            [(h, id)] => (*h, id),
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
        // The public half is the one with the private half's CKA_ID.
        let public = public.iter().find(|(_, p)| p == id).map(|(h, _)| *h);
        let h = KeyHandles { private, public };
        self.cache_put(label, h);
        Ok(h)
    }

    /// Build the TokenKey for `label`: look it up and read its public half. Retries once
    /// with a fresh search if the cached handles went stale.
    pub(super) fn load(
        &self,
        token: &Token,
        s: &Session,
        label: &str,
    ) -> Result<TokenKey, HsmError> {
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
    pub(super) fn finish_and_remember(
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
pub(super) struct Stale;

/// CKA_CLASS and CKA_ID of `h`; `None` if the handle is stale.
pub(super) fn read_class_and_id(
    s: &Session,
    h: ObjectHandle,
) -> Result<Option<(ObjectClass, Vec<u8>)>, HsmError> {
    let attrs = match read_attrs(s, h, &[AttributeType::Class, AttributeType::Id]) {
        Err(Stale) => return Ok(None),
        Ok(a) => a?,
    };
    let (mut class, mut id) = (None, Vec::new());
    for a in attrs {
        match a {
            Attribute::Class(c) => class = Some(c),
            Attribute::Id(v) => id = v,
            _ => {}
        }
    }
    Ok(class.map(|c| (c, id)))
}

pub(super) fn finish(
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

pub(super) fn read_attrs(
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

pub(super) fn read_bytes(
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
pub(super) fn read_public(
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

    /// Labels of all private keys on the token (sorted). Fails rather than returning an
    /// empty list when the token's storage is unreadable. Reconciliation uses
    /// [`Token::scan_keys`], which reads each object once for everything it needs.
    pub fn list_labels(&self) -> Result<Vec<String>, HsmError> {
        self.inner.with_live(|live| {
            let mut s = live.pool.checkout()?;
            let handles = live
                .search(&s, &[Attribute::Class(ObjectClass::PRIVATE_KEY)])
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

    /// What the public key object labelled `label` may be used for. For tests and audits.
    #[doc(hidden)]
    pub fn inspect_public_key(&self, label: &str) -> Result<PublicKeyUses, HsmError> {
        self.inner.with_live(|live| {
            let s = live.pool.checkout()?;
            let h = live.lookup(&s, label, true)?;
            let public = h.public.ok_or_else(|| HsmError::KeyNotFound {
                label: label.to_owned(),
            })?;
            let attrs = s
                .get_attributes(
                    public,
                    &[
                        AttributeType::Verify,
                        AttributeType::Encrypt,
                        AttributeType::Wrap,
                        AttributeType::Derive,
                    ],
                )
                .map_err(classify)?;
            let mut u = PublicKeyUses::default();
            for a in attrs {
                match a {
                    Attribute::Verify(b) => u.verify = b,
                    Attribute::Encrypt(b) | Attribute::Wrap(b) | Attribute::Derive(b) => {
                        u.other_use |= b
                    }
                    _ => {}
                }
            }
            Ok(u)
        })
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
