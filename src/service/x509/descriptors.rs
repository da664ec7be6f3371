//! Key descriptors: a key of the tenant's made with `POST /v1/keys` (checked against its
//! purpose), or a JWK (a private one is imported into the token for one signature).

use super::*;

/// A parsed key descriptor, not yet looked up.
pub(super) enum KeyRef {
    /// A key of the caller's tenant made with `POST /v1/keys`.
    Kms { name: String, param: String },
    /// A JWK: its public key, and the private key when it has `d`.
    Jwk {
        public: PublicKey,
        private: Option<Box<PrivateKeyMaterial>>,
        param: String,
    },
}

fn b64_secret(s: &api::Secret, param: &str) -> Result<Zeroizing<Vec<u8>>, ServiceError> {
    Base64UrlUnpadded::decode_vec(s.expose())
        .map(Zeroizing::new)
        .map_err(|_| invalid(param, "must be base64url without padding (RFC 7515 2)"))
}

fn b64_public(s: &Option<String>, param: &str) -> Result<Vec<u8>, ServiceError> {
    let s = s.as_deref().ok_or_else(|| invalid(param, "is required"))?;
    Base64UrlUnpadded::decode_vec(s)
        .map_err(|_| invalid(param, "must be base64url without padding (RFC 7515 2)"))
}

pub(super) fn parse_key(
    desc: &api::KeyDescriptor,
    param: &str,
    tenant: &str,
) -> Result<KeyRef, ServiceError> {
    match desc.kind.as_str() {
        "kms-hosted-key-descriptor" => {
            if desc.jwk.is_some() {
                return Err(invalid(
                    format!("{param}.jwk"),
                    "not allowed with kms-hosted-key-descriptor",
                ));
            }
            let p = format!("{param}.keyIdPath");
            let path = desc
                .key_id_path
                .as_deref()
                .ok_or_else(|| invalid(&p, "is required for kms-hosted-key-descriptor"))?;
            let parts: Vec<&str> = path.split('.').collect();
            if parts.len() != 4 || !parts.iter().all(|s| valid_segment(s)) {
                return Err(invalid(&p, "must be {org}.{tenant}.{kmsId}.{keyId}"));
            }
            // Another tenant's key is "not found", like an unknown one.
            if format!("{}.{}", parts[0], parts[1]) != tenant || !keys::valid_key_id(parts[3]) {
                return Err(not_found(&p, "no such key"));
            }
            Ok(KeyRef::Kms {
                name: parts[3].to_owned(),
                param: p,
            })
        }
        "jwk-encoded-key-descriptor" => {
            if desc.key_id_path.is_some() {
                return Err(invalid(
                    format!("{param}.keyIdPath"),
                    "not allowed with jwk-encoded-key-descriptor",
                ));
            }
            let p = format!("{param}.jwk");
            let jwk = desc
                .jwk
                .as_ref()
                .ok_or_else(|| invalid(&p, "is required for jwk-encoded-key-descriptor"))?;
            let public = PublicKey::from_jwk(&PublicJwk {
                kty: jwk.kty.clone(),
                crv: jwk.crv.clone(),
                x: jwk.x.clone(),
                y: jwk.y.clone(),
                n: jwk.n.clone(),
                e: jwk.e.clone(),
            })
            .map_err(|e| match e {
                crate::crypto::CryptoError::BadJwk(member) => {
                    invalid(format!("{p}.{member}"), "missing or invalid (RFC 7518 6)")
                }
                other => invalid(&p, other.to_string()),
            })?;
            let private = match &jwk.d {
                None => None,
                Some(d) => Some(Box::new(match public.algorithm().curve() {
                    Some(curve) => PrivateKeyMaterial::Ec {
                        curve,
                        d: b64_secret(d, &format!("{p}.d"))?,
                        public: public.clone(),
                    },
                    None => {
                        let need = |v: &Option<api::Secret>, m: &str| {
                            let f = format!("{p}.{m}");
                            v.as_ref()
                                .ok_or_else(|| {
                                    invalid(&f, "is required in a private RSA JWK (RFC 7518 6.3.2)")
                                })
                                .and_then(|s| b64_secret(s, &f))
                        };
                        PrivateKeyMaterial::Rsa {
                            n: b64_public(&jwk.n, &format!("{p}.n"))?,
                            e: b64_public(&jwk.e, &format!("{p}.e"))?,
                            d: b64_secret(d, &format!("{p}.d"))?,
                            p: need(&jwk.p, "p")?,
                            q: need(&jwk.q, "q")?,
                            dp: need(&jwk.dp, "dp")?,
                            dq: need(&jwk.dq, "dq")?,
                            qi: need(&jwk.qi, "qi")?,
                        }
                    }
                })),
            };
            Ok(KeyRef::Jwk {
                public,
                private,
                param: p,
            })
        }
        _ => Err(ServiceError::Invalid {
            location: "body",
            param: format!("{param}.type"),
            msg: "must be kms-hosted-key-descriptor or jwk-encoded-key-descriptor".into(),
            value: Some(desc.kind.chars().take(64).collect()),
        }),
    }
}

/// A token key that signs one request. An imported JWK is destroyed when this drops.
pub(super) struct SigningKey {
    pub key: TokenKey,
    ephemeral: Option<Arc<Token>>,
}

impl SigningKey {
    /// A key held in the token beyond this request (not a JWK imported for it).
    pub fn is_held(&self) -> bool {
        self.ephemeral.is_none()
    }
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        if let Some(token) = &self.ephemeral {
            let label = self.key.label().to_owned();
            if let Err(e) = token.destroy(&label) {
                tracing::error!(%label, error = %e, "could not destroy an ephemeral JWK key; start-up reconciliation will");
            }
        }
    }
}

/// The record of a key named by a kms descriptor, if the X.509 service may use it: a key of
/// a root CA or a signer belongs to that lifecycle and reads as absent here, like another
/// tenant's key.
fn kms_record(w: &Work, name: &str, param: &str) -> Result<KeyRecord, ServiceError> {
    match w.store().get_key(w.tenant(), name)? {
        Some(r) if !keys::is_lifecycle_owned(&r) => Ok(r),
        _ => Err(not_found(param, "no such key")),
    }
}

/// A key without a purpose gets `purpose` when the operation commits. One that has it
/// already needs no write: a purpose, once set, never changes (the store's UPDATE only
/// fills an empty one), so issuing with a key costs no extra row update.
fn bind_at_first_use(w: &mut Work, record: &KeyRecord, purpose: KeyPurpose, param: &str) {
    if record.purpose.is_none() {
        w.bind_purpose(&record.label, purpose, param);
    }
}

fn stored_purpose(r: &KeyRecord) -> Option<KeyPurpose> {
    r.purpose.as_deref().and_then(KeyPurpose::from_name)
}

/// The public key of a subject key descriptor, which becomes a `purpose` key by being
/// certified: a kms key must have that purpose or none yet (then it gets it at commit).
pub(super) fn resolve_public(
    w: &mut Work,
    key: KeyRef,
    purpose: KeyPurpose,
) -> Result<PublicKey, ServiceError> {
    match key {
        KeyRef::Kms { name, param } => {
            let record = kms_record(w, &name, &param)?;
            purpose::check_subject(stored_purpose(&record), purpose, &param)?;
            bind_at_first_use(w, &record, purpose, &param);
            PublicKey::from_spki_der(&record.public_key_der)
                .map_err(|e| ServiceError::Internal(format!("stored public key: {e}")))
        }
        // The private part, if any, is not needed: dropping it zeroizes it.
        KeyRef::Jwk { public, .. } => Ok(public),
    }
}

/// The token key of a signing key descriptor, checked to be a `purpose` key that may sign
/// `u` (a kms key with no purpose yet gets it at commit). A private JWK is imported for
/// this one signature: it is the client's own key, with no purpose of ours.
pub(super) fn resolve_signer(
    w: &mut Work,
    key: KeyRef,
    purpose: KeyPurpose,
    u: Use,
) -> Result<SigningKey, ServiceError> {
    match key {
        KeyRef::Kms { name, param } => {
            let record = kms_record(w, &name, &param)?;
            purpose::check(stored_purpose(&record), purpose, u, &param)?;
            bind_at_first_use(w, &record, purpose, &param);
            let key = w.token()?.find(&record.label).map_err(|e| match e {
                HsmError::KeyNotFound { .. } => {
                    not_found(&param, "the key is missing from the token")
                }
                e => e.into(),
            })?;
            Ok(SigningKey {
                key,
                ephemeral: None,
            })
        }
        KeyRef::Jwk { private, param, .. } => {
            let material = private.ok_or_else(|| {
                invalid(
                    format!("{param}.d"),
                    "a signing key needs a private JWK (with d)",
                )
            })?;
            let token = w.token()?.clone();
            let key = token
                .import_fresh(*material, EPHEMERAL_PREFIX)
                .map_err(|e| match e {
                    HsmError::InvalidKey { reason } => invalid(&param, reason),
                    e => e.into(),
                })?;
            Ok(SigningKey {
                key,
                ephemeral: Some(token),
            })
        }
    }
}

/// Where the subject's public key comes from.
pub(super) enum SubjectSource {
    Key(KeyRef),
    Csr(Box<ParsedCsr>),
}

pub(super) fn parse_source(
    src: &api::PublicKeySource,
    param: &str,
    tenant: &str,
) -> Result<SubjectSource, ServiceError> {
    match src.kind.as_str() {
        "key-descriptor" => {
            if src.csr_pem.is_some() {
                return Err(invalid(
                    format!("{param}.csrPEM"),
                    "not allowed with key-descriptor",
                ));
            }
            let d = src.key_descriptor.as_ref().ok_or_else(|| {
                invalid(
                    format!("{param}.keyDescriptor"),
                    "is required for key-descriptor",
                )
            })?;
            Ok(SubjectSource::Key(parse_key(
                d,
                &format!("{param}.keyDescriptor"),
                tenant,
            )?))
        }
        "csr" => {
            let p = format!("{param}.csrPEM");
            if src.key_descriptor.is_some() {
                return Err(invalid(
                    format!("{param}.keyDescriptor"),
                    "not allowed with csr",
                ));
            }
            let pem = src
                .csr_pem
                .as_deref()
                .ok_or_else(|| invalid(&p, "is required for csr"))?;
            // Proof of possession: the CSR's signature must verify with its own key.
            let csr =
                ParsedCsr::from_pem(pem.as_bytes()).map_err(|e| ServiceError::from(e).about(&p))?;
            Ok(SubjectSource::Csr(Box::new(csr)))
        }
        _ => Err(invalid(
            format!("{param}.type"),
            "must be key-descriptor or csr",
        )),
    }
}

pub(super) fn subject_key(
    w: &mut Work,
    src: SubjectSource,
    purpose: KeyPurpose,
) -> Result<PublicKey, ServiceError> {
    match src {
        SubjectSource::Key(k) => resolve_public(w, k, purpose),
        SubjectSource::Csr(c) => Ok(c.public_key.clone()),
    }
}
