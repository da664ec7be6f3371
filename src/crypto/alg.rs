//! Key and signature algorithms: names on the wire, OIDs in certificates, digests.
//!
//! This is the one place that knows which hash goes with which signature algorithm and how
//! each is identified in X.509 (RFC 5758 for ECDSA, RFC 8017 / RFC 4055 for RSA).

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5912;
use der::asn1::Null;
use der::{Any, Decode, Encode};
use spki::AlgorithmIdentifierOwned;

use super::CryptoError;

/// The algorithms of keys this daemon generates, imports and accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    P256,
    P384,
    P521,
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl KeyAlgorithm {
    pub const ALL: [KeyAlgorithm; 6] = [
        KeyAlgorithm::P256,
        KeyAlgorithm::P384,
        KeyAlgorithm::P521,
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa3072,
        KeyAlgorithm::Rsa4096,
    ];

    /// The name used on the API (`POST /v1/keys {algorithm}`) and in the database.
    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::P256 => "secp256r1",
            KeyAlgorithm::P384 => "secp384r1",
            KeyAlgorithm::P521 => "secp521r1",
            KeyAlgorithm::Rsa2048 => "rsa2048",
            KeyAlgorithm::Rsa3072 => "rsa3072",
            KeyAlgorithm::Rsa4096 => "rsa4096",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn curve(self) -> Option<Curve> {
        match self {
            KeyAlgorithm::P256 => Some(Curve::P256),
            KeyAlgorithm::P384 => Some(Curve::P384),
            KeyAlgorithm::P521 => Some(Curve::P521),
            _ => None,
        }
    }

    pub fn rsa_bits(self) -> Option<u32> {
        match self {
            KeyAlgorithm::Rsa2048 => Some(2048),
            KeyAlgorithm::Rsa3072 => Some(3072),
            KeyAlgorithm::Rsa4096 => Some(4096),
            _ => None,
        }
    }

    pub fn is_ec(self) -> bool {
        self.curve().is_some()
    }

    /// The signature algorithm used when a caller does not choose one: the hash strength
    /// matched to the key (NIST SP 800-57; RFC 5758 section 3.2 pairs P-384 with SHA-384).
    pub fn default_signature(self) -> SignatureAlgorithm {
        match self {
            KeyAlgorithm::P256 => SignatureAlgorithm::EcdsaSha256,
            KeyAlgorithm::P384 => SignatureAlgorithm::EcdsaSha384,
            KeyAlgorithm::P521 => SignatureAlgorithm::EcdsaSha512,
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                SignatureAlgorithm::RsaPkcs1Sha256
            }
        }
    }
}

/// The NIST curves supported for ECDSA keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    /// The named-curve OID (RFC 5480 section 2.1.1.1), the SPKI parameter and CKA_EC_PARAMS.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Curve::P256 => rfc5912::SECP_256_R_1,
            Curve::P384 => rfc5912::SECP_384_R_1,
            Curve::P521 => rfc5912::SECP_521_R_1,
        }
    }

    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        [Curve::P256, Curve::P384, Curve::P521]
            .into_iter()
            .find(|c| c.oid() == *oid)
    }

    /// Size of one field element (and of r and s) in bytes.
    pub fn field_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// The JWK `crv` value (RFC 7518 section 6.2.1.1).
    pub fn jwk_name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    pub fn from_jwk_name(name: &str) -> Option<Self> {
        [Curve::P256, Curve::P384, Curve::P521]
            .into_iter()
            .find(|c| c.jwk_name() == name)
    }

    pub fn key_algorithm(self) -> KeyAlgorithm {
        match self {
            Curve::P256 => KeyAlgorithm::P256,
            Curve::P384 => KeyAlgorithm::P384,
            Curve::P521 => KeyAlgorithm::P521,
        }
    }
}

/// SHA-2 digests: the only hashes we sign with or accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// The digest of `msg`, computed by aws-lc-rs: the same implementation that hashes the
    /// message again when the token's signature is verified (and, with the `fips` feature,
    /// the validated module).
    pub fn digest(self, msg: &[u8]) -> Vec<u8> {
        aws_lc_rs::digest::digest(self.aws_lc(), msg)
            .as_ref()
            .to_vec()
    }

    pub(crate) fn aws_lc(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            HashAlg::Sha256 => &aws_lc_rs::digest::SHA256,
            HashAlg::Sha384 => &aws_lc_rs::digest::SHA384,
            HashAlg::Sha512 => &aws_lc_rs::digest::SHA512,
        }
    }

    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    pub fn oid(self) -> ObjectIdentifier {
        match self {
            HashAlg::Sha256 => rfc5912::ID_SHA_256,
            HashAlg::Sha384 => rfc5912::ID_SHA_384,
            HashAlg::Sha512 => rfc5912::ID_SHA_512,
        }
    }

    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512]
            .into_iter()
            .find(|h| h.oid() == *oid)
    }

    /// DER of `DigestInfo ::= SEQUENCE { digestAlgorithm AlgorithmIdentifier, digest OCTET
    /// STRING }` up to the digest itself (RFC 8017 section 9.2, note 1). CKM_RSA_PKCS signs
    /// whatever it is given, so the DigestInfo is built here, in Rust, and the token only pads.
    fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            HashAlg::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            HashAlg::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            HashAlg::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }

    /// Wrap a digest in its DigestInfo, the input CKM_RSA_PKCS expects.
    pub fn digest_info(self, digest: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if digest.len() != self.output_len() {
            return Err(CryptoError::DigestLength);
        }
        let mut out = self.digest_info_prefix().to_vec();
        out.extend_from_slice(digest);
        Ok(out)
    }
}

/// Signature algorithms, as they appear in `signatureAlgorithm` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    EcdsaSha256,
    EcdsaSha384,
    EcdsaSha512,
    RsaPkcs1Sha256,
    RsaPkcs1Sha384,
    RsaPkcs1Sha512,
    /// RSASSA-PSS with MGF1 over the same hash and salt length = hash length (RFC 4055 s3.1).
    RsaPssSha256,
    RsaPssSha384,
    RsaPssSha512,
}

/// `RSASSA-PSS-params` (RFC 4055 section 3.1). Trailer field is always 1 and so omitted.
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
struct PssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    hash: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    mask_gen: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    salt_len: Option<u32>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    trailer: Option<u32>,
}

const OID_MGF1: ObjectIdentifier = rfc5912::ID_MGF_1;

impl SignatureAlgorithm {
    pub fn hash(self) -> HashAlg {
        use SignatureAlgorithm::*;
        match self {
            EcdsaSha256 | RsaPkcs1Sha256 | RsaPssSha256 => HashAlg::Sha256,
            EcdsaSha384 | RsaPkcs1Sha384 | RsaPssSha384 => HashAlg::Sha384,
            EcdsaSha512 | RsaPkcs1Sha512 | RsaPssSha512 => HashAlg::Sha512,
        }
    }

    pub fn is_ecdsa(self) -> bool {
        use SignatureAlgorithm::*;
        matches!(self, EcdsaSha256 | EcdsaSha384 | EcdsaSha512)
    }

    pub fn is_pss(self) -> bool {
        use SignatureAlgorithm::*;
        matches!(self, RsaPssSha256 | RsaPssSha384 | RsaPssSha512)
    }

    /// Whether a key of `key` can make this kind of signature.
    pub fn fits_key(self, key: KeyAlgorithm) -> bool {
        self.is_ecdsa() == key.is_ec()
    }

    /// Names on the API (e.g. a `signatureAlgorithm` option), stable.
    pub fn name(self) -> &'static str {
        use SignatureAlgorithm::*;
        match self {
            EcdsaSha256 => "ecdsa-sha256",
            EcdsaSha384 => "ecdsa-sha384",
            EcdsaSha512 => "ecdsa-sha512",
            RsaPkcs1Sha256 => "rsa-pkcs1-sha256",
            RsaPkcs1Sha384 => "rsa-pkcs1-sha384",
            RsaPkcs1Sha512 => "rsa-pkcs1-sha512",
            RsaPssSha256 => "rsa-pss-sha256",
            RsaPssSha384 => "rsa-pss-sha384",
            RsaPssSha512 => "rsa-pss-sha512",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        use SignatureAlgorithm::*;
        [
            EcdsaSha256,
            EcdsaSha384,
            EcdsaSha512,
            RsaPkcs1Sha256,
            RsaPkcs1Sha384,
            RsaPkcs1Sha512,
            RsaPssSha256,
            RsaPssSha384,
            RsaPssSha512,
        ]
        .into_iter()
        .find(|a| a.name() == name)
    }

    /// The AlgorithmIdentifier written into certificates, CSRs and CRLs.
    ///
    /// ECDSA: parameters absent (RFC 5758 section 3.2). RSA PKCS#1 v1.5: parameters NULL
    /// (RFC 8017 appendix A.2.4). PSS: explicit parameters naming hash, MGF1 with the same
    /// hash, and salt length equal to the hash length (RFC 4055 section 3.1). The SHA-2
    /// identifiers inside carry NULL parameters: RFC 4055 allows either form, and NULL is the
    /// byte-exact encoding OpenSSL emits and CA/B Forum BR 7.1.3.2.1 mandates.
    pub fn algorithm_identifier(self) -> AlgorithmIdentifierOwned {
        use SignatureAlgorithm::*;
        let ecdsa = |oid| AlgorithmIdentifierOwned {
            oid,
            parameters: None,
        };
        let pkcs1 = |oid| AlgorithmIdentifierOwned {
            oid,
            parameters: Some(Any::from(Null)),
        };
        match self {
            EcdsaSha256 => ecdsa(rfc5912::ECDSA_WITH_SHA_256),
            EcdsaSha384 => ecdsa(rfc5912::ECDSA_WITH_SHA_384),
            EcdsaSha512 => ecdsa(rfc5912::ECDSA_WITH_SHA_512),
            RsaPkcs1Sha256 => pkcs1(rfc5912::SHA_256_WITH_RSA_ENCRYPTION),
            RsaPkcs1Sha384 => pkcs1(rfc5912::SHA_384_WITH_RSA_ENCRYPTION),
            RsaPkcs1Sha512 => pkcs1(rfc5912::SHA_512_WITH_RSA_ENCRYPTION),
            RsaPssSha256 | RsaPssSha384 | RsaPssSha512 => {
                let h = self.hash();
                let hash_id = AlgorithmIdentifierOwned {
                    oid: h.oid(),
                    parameters: Some(Any::from(Null)),
                };
                let params = PssParams {
                    hash: Some(hash_id.clone()),
                    mask_gen: Some(AlgorithmIdentifierOwned {
                        oid: OID_MGF1,
                        parameters: Some(
                            Any::encode_from(&hash_id).expect("AlgorithmIdentifier encodes"),
                        ),
                    }),
                    salt_len: Some(h.output_len() as u32),
                    trailer: None,
                };
                AlgorithmIdentifierOwned {
                    oid: rfc5912::ID_RSASSA_PSS,
                    parameters: Some(Any::encode_from(&params).expect("PSS params encode")),
                }
            }
        }
    }

    /// Recognise a signatureAlgorithm from a certificate or CSR made elsewhere.
    ///
    /// PSS is accepted only in the shape we produce (MGF1 with the same hash, salt length =
    /// hash length); anything else is reported as unsupported rather than half-verified.
    pub fn from_algorithm_identifier(id: &AlgorithmIdentifierOwned) -> Result<Self, CryptoError> {
        use SignatureAlgorithm::*;
        let simple = [
            (rfc5912::ECDSA_WITH_SHA_256, EcdsaSha256),
            (rfc5912::ECDSA_WITH_SHA_384, EcdsaSha384),
            (rfc5912::ECDSA_WITH_SHA_512, EcdsaSha512),
            (rfc5912::SHA_256_WITH_RSA_ENCRYPTION, RsaPkcs1Sha256),
            (rfc5912::SHA_384_WITH_RSA_ENCRYPTION, RsaPkcs1Sha384),
            (rfc5912::SHA_512_WITH_RSA_ENCRYPTION, RsaPkcs1Sha512),
        ];
        if let Some((_, alg)) = simple.iter().find(|(oid, _)| *oid == id.oid) {
            // RFC 5758 3.2: ECDSA identifiers MUST omit the parameters. RFC 8017 A.2.4 /
            // RFC 4055 5: PKCS#1 v1.5 identifiers carry NULL (absent is tolerated, as most
            // verifiers do); anything else is a malformed identifier, not a variant.
            let ok = if alg.is_ecdsa() {
                id.parameters.is_none()
            } else {
                null_or_absent(&id.parameters)
            };
            if !ok {
                return Err(CryptoError::UnsupportedAlgorithm(format!(
                    "{} with unexpected parameters",
                    id.oid
                )));
            }
            return Ok(*alg);
        }
        if id.oid != rfc5912::ID_RSASSA_PSS {
            return Err(CryptoError::UnsupportedAlgorithm(id.oid.to_string()));
        }
        let unsupported = || CryptoError::UnsupportedAlgorithm("RSASSA-PSS parameters".into());
        let params_any = id.parameters.as_ref().ok_or_else(unsupported)?;
        let params = PssParams::from_der(&params_any.to_der().map_err(|_| unsupported())?)
            .map_err(|_| unsupported())?;
        // RFC 4055 defaults (SHA-1) are not accepted: SHA-1 is not a hash we verify with.
        let hash_id = params.hash.ok_or_else(unsupported)?;
        let hash = HashAlg::from_oid(&hash_id.oid).ok_or_else(unsupported)?;
        // RFC 4055 2.1: the SHA-2 identifiers' parameters are NULL or absent. The outer
        // signatureAlgorithm is not covered by the signature, so laxness here would let
        // anyone re-encode an accepted CSR or certificate (found by tests/fuzz_parsing.rs).
        if !null_or_absent(&hash_id.parameters) {
            return Err(unsupported());
        }
        let mgf = params.mask_gen.ok_or_else(unsupported)?;
        if mgf.oid != OID_MGF1 {
            return Err(unsupported());
        }
        let mgf_hash: AlgorithmIdentifierOwned = mgf
            .parameters
            .ok_or_else(unsupported)?
            .decode_as()
            .map_err(|_| unsupported())?;
        if HashAlg::from_oid(&mgf_hash.oid) != Some(hash)
            || !null_or_absent(&mgf_hash.parameters)
            || params.salt_len != Some(hash.output_len() as u32)
            || params.trailer.is_some_and(|t| t != 1)
        {
            return Err(unsupported());
        }
        Ok(match hash {
            HashAlg::Sha256 => RsaPssSha256,
            HashAlg::Sha384 => RsaPssSha384,
            HashAlg::Sha512 => RsaPssSha512,
        })
    }
}

/// AlgorithmIdentifier parameters that are absent or exactly NULL.
fn null_or_absent(params: &Option<der::Any>) -> bool {
    params
        .as_ref()
        .is_none_or(|p| der::Tagged::tag(p) == der::Tag::Null && p.value().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_info_matches_rfc8017_prefixes() {
        for h in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
            let d = h.digest(b"abc");
            let di = h.digest_info(&d).unwrap();
            // Decode it as a generic SEQUENCE { AlgorithmIdentifier, OCTET STRING }.
            #[derive(der::Sequence)]
            struct DigestInfo {
                alg: AlgorithmIdentifierOwned,
                digest: der::asn1::OctetString,
            }
            let parsed = DigestInfo::from_der(&di).unwrap();
            assert_eq!(parsed.alg.oid, h.oid());
            assert_eq!(parsed.digest.as_bytes(), d.as_slice());
        }
        assert!(HashAlg::Sha256.digest_info(&[0u8; 31]).is_err());
    }

    #[test]
    fn algorithm_identifiers_round_trip() {
        use SignatureAlgorithm::*;
        for alg in [
            EcdsaSha256,
            EcdsaSha384,
            EcdsaSha512,
            RsaPkcs1Sha256,
            RsaPkcs1Sha384,
            RsaPkcs1Sha512,
            RsaPssSha256,
            RsaPssSha384,
            RsaPssSha512,
        ] {
            let id = alg.algorithm_identifier();
            assert_eq!(
                SignatureAlgorithm::from_algorithm_identifier(&id).unwrap(),
                alg
            );
            assert_eq!(SignatureAlgorithm::from_name(alg.name()), Some(alg));
        }
    }

    #[test]
    fn malformed_parameters_are_refused() {
        use der::asn1::Null;
        let mut id = SignatureAlgorithm::RsaPkcs1Sha256.algorithm_identifier();
        id.parameters = Some(der::Any::from_der(&[0x85, 0x00]).unwrap());
        assert!(SignatureAlgorithm::from_algorithm_identifier(&id).is_err());
        id.parameters = None;
        assert!(SignatureAlgorithm::from_algorithm_identifier(&id).is_ok());
        let mut id = SignatureAlgorithm::EcdsaSha256.algorithm_identifier();
        id.parameters = Some(der::Any::encode_from(&Null).unwrap());
        assert!(SignatureAlgorithm::from_algorithm_identifier(&id).is_err());
        // The MGF1 hash's NULL turned into [5] (the mutation the fuzzer found).
        let pss = SignatureAlgorithm::RsaPssSha256.algorithm_identifier();
        let mut der = pss.to_der().unwrap();
        let null_at = der.windows(2).rposition(|w| w == [0x05, 0x00]).unwrap();
        der[null_at] = 0x85;
        let id = AlgorithmIdentifierOwned::from_der(&der).unwrap();
        assert!(SignatureAlgorithm::from_algorithm_identifier(&id).is_err());
    }

    #[test]
    fn pss_identifiers_match_openssl_encoding() {
        // An independent encoder of the same structure: the signatureAlgorithm of
        // `openssl req -x509 -<hash> -sigopt rsa_padding_mode:pss -sigopt
        // rsa_pss_saltlen:digest` (OpenSSL 3.0.19), byte for byte.
        let openssl = [
            (
                SignatureAlgorithm::RsaPssSha256,
                "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a0609\
                 2a864886f70d010108300d06096086480165030402010500a203020120",
            ),
            (
                SignatureAlgorithm::RsaPssSha384,
                "304106092a864886f70d01010a3034a00f300d06096086480165030402020500a11c301a0609\
                 2a864886f70d010108300d06096086480165030402020500a203020130",
            ),
            (
                SignatureAlgorithm::RsaPssSha512,
                "304106092a864886f70d01010a3034a00f300d06096086480165030402030500a11c301a0609\
                 2a864886f70d010108300d06096086480165030402030500a203020140",
            ),
        ];
        for (alg, hex) in openssl {
            let ours = alg.algorithm_identifier().to_der().unwrap();
            let theirs: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            assert_eq!(ours, theirs, "\nours   {ours:02x?}\ntheirs {theirs:02x?}");
        }
    }

    #[test]
    fn key_algorithm_names_round_trip() {
        for k in KeyAlgorithm::ALL {
            assert_eq!(KeyAlgorithm::from_name(k.name()), Some(k));
            assert!(k.default_signature().fits_key(k));
        }
        assert_eq!(KeyAlgorithm::from_name("secp256k1"), None);
    }
}
