//! Attribute templates: the policy every private key gets, lookups by label, and the
//! key-type parts of an import (secrets zeroized on drop).

use super::*;

/// Longest label accepted. CKA_LABEL has no limit in the spec, but the label is the
/// daemon's key id and some tokens truncate long labels silently.
pub(super) const MAX_LABEL_LEN: usize = 128;

/// RSA public exponent F4 = 65537 (NIST SP 800-56B requires an odd e >= 65537).
pub(super) const RSA_F4: [u8; 3] = [0x01, 0x00, 0x01];

/// A template that carries secrets: every byte-string attribute is zeroized on drop.
/// cryptoki's `Attribute` owns plain `Vec<u8>`s and hands the token pointers to them (no
/// copies), so wiping these vectors after C_CreateObject leaves no plaintext copy on our
/// side.
pub(super) struct SecretTemplate(pub(super) Vec<Attribute>);

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

/// Labels of the daemon's own objects, which no key made for a client may carry.
pub(super) const RESERVED_LABELS: [&str; 3] = [
    crate::hsm::SENTINEL_LABEL,
    crate::hsm::AUDIT_KEY_LABEL,
    crate::hsm::TLS_KEY_LABEL,
];

pub(super) fn check_label(label: &str) -> Result<(), HsmError> {
    if label.is_empty() || label.len() > MAX_LABEL_LEN || RESERVED_LABELS.contains(&label) {
        return Err(HsmError::invalid_key(format!(
            "label must be 1..={MAX_LABEL_LEN} bytes and not reserved"
        )));
    }
    Ok(())
}

pub(super) fn private_by_label(label: &str) -> [Attribute; 2] {
    [
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

/// Every object labelled `label`: both halves of a key pair in one search.
pub(super) fn by_label(label: &str) -> [Attribute; 1] {
    [Attribute::Label(label.as_bytes().to_vec())]
}

/// The security attributes every private key gets, generated or imported.
pub(super) fn private_key_policy(label: &str, id: &[u8]) -> Vec<Attribute> {
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

/// The public half verifies and does nothing else: SoftHSM's defaults would let an EC or
/// RSA public key object encrypt, wrap and derive, uses no key of ours has.
pub(super) fn public_key_policy(label: &str, id: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::Encrypt(false),
        Attribute::Wrap(false),
        Attribute::Derive(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
    ]
}

/// Build the key-type specific parts of the import templates, and the public key the
/// result must match.
pub(super) fn import_templates(
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
