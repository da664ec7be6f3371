//! Certificates and CSRs made by the X.509 engine with keys in a real token (SoftHSM2 or
//! Kryoptic), cross-checked by independent implementations: `openssl verify`,
//! `openssl req -verify`, and pkilint's RFC 5280 linters.
//!
//! One test function: the token is opened in this process, and PKCS#11 allows one context
//! per process (SoftHSM2 breaks when one process initialises it concurrently).

mod common;

use std::path::{Path, PathBuf};

use hsm_pki::crypto::{KeyAlgorithm, SignatureAlgorithm};
use hsm_pki::hsm::{Pin, Token, TokenConfig, TokenSelector};
use hsm_pki::x509::{
    self, AltNames, DnFields, IssuedKind, IssuedSpec, KeyUsageName, RootCaSpec, StringEncoding,
};
use time::{Duration, OffsetDateTime};

use common::{TestToken, assert_lint_clean, openssl};

/// pkilint findings accepted for these test certificates, each with its reason.
const ACCEPTED_WARNINGS: &[&str] = &[
    // None. Add a code here only with a comment saying why it is correct for us.
];

/// Accepted for the RSA-PSS chain only. pkilint 0.13.3's chain linter
/// (`pkix/certificate/certificate_key.py`, IssuerSignatureValidator) calls
/// `verify_signature` without the signature algorithm or its parameters, so it checks every
/// RSA signature as PKCS#1 v1.5 and a PSS signature can never pass. The same signature is
/// verified above by `openssl verify -x509_strict` and by our own verifier.
const ACCEPTED_PSS_CHAIN: &[&str] = &["pkix.signature_verification_failed"];

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn dn(cn: &str) -> DnFields {
    DnFields {
        common_name: Some(cn.into()),
        country: Some("NL".into()),
        organization: Some("hsm-pki test".into()),
        ..Default::default()
    }
}

#[test]
fn token_keys_make_certificates_and_csrs_that_outside_verifiers_accept() {
    let hsm = TestToken::new("x509-token");
    hsm.export_env();
    let cfg = TokenConfig::new(
        hsm.module(),
        TokenSelector::Label(hsm.label.clone()),
        Pin::new(hsm.pin.clone()),
    );
    let token = Token::open(cfg).expect("open token");
    let dir = tempfile::tempdir().unwrap();
    let now = OffsetDateTime::now_utc();

    let cases = [
        ("p256", KeyAlgorithm::P256, None),
        ("p384", KeyAlgorithm::P384, None),
        ("p521", KeyAlgorithm::P521, None),
        (
            "rsa2048-pkcs1",
            KeyAlgorithm::Rsa2048,
            Some(SignatureAlgorithm::RsaPkcs1Sha256),
        ),
        (
            "rsa2048-pss",
            KeyAlgorithm::Rsa2048,
            Some(SignatureAlgorithm::RsaPssSha256),
        ),
    ];
    for (name, alg, sig_alg) in cases {
        let root_key = token.generate(alg, &format!("{name}-root")).unwrap();
        let leaf_key = token.generate(alg, &format!("{name}-leaf")).unwrap();

        let root = x509::build_root_ca(
            &RootCaSpec {
                subject: dn(&format!("{name} root")),
                string_encoding: StringEncoding::Utf8,
                not_before: now - Duration::minutes(1),
                not_after: now + Duration::days(3650),
                path_len: Some(0),
                digital_signature: false,
                issuer_alt_names: None,
                crl_distribution_point_uri: None,
            },
            &root_key,
            sig_alg,
        )
        .unwrap_or_else(|e| panic!("{name}: root: {e}"));
        let leaf = x509::build_issued(
            &IssuedSpec {
                subject: dn(&format!("{name} leaf")),
                string_encoding: StringEncoding::Utf8,
                not_before: now - Duration::minutes(1),
                not_after: now + Duration::days(365),
                kind: IssuedKind::EndEntity,
                key_usage: vec![KeyUsageName::DigitalSignature],
                extended_key_usage: vec![],
                extended_key_usage_critical: false,
                subject_alt_names: Some(AltNames {
                    dns_names: vec!["leaf.example.com".into()],
                    ..Default::default()
                }),
                issuer_alt_names: None,
                crl_distribution_point_uri: Some("http://crl.example.com/root.crl".into()),
            },
            leaf_key.public_key(),
            &root_key,
            root.certificate(),
            sig_alg,
        )
        .unwrap_or_else(|e| panic!("{name}: leaf: {e}"));
        let csr = x509::build_csr(
            &x509::CsrSpec {
                subject: dn(&format!("{name} csr")),
                string_encoding: StringEncoding::Utf8,
                subject_alt_names: Some(AltNames {
                    dns_names: vec!["csr.example.com".into()],
                    ..Default::default()
                }),
                ..Default::default()
            },
            &leaf_key,
            sig_alg,
        )
        .unwrap_or_else(|e| panic!("{name}: csr: {e}"));

        let root_pem = write(
            dir.path(),
            &format!("{name}-root.pem"),
            &root.to_pem().unwrap(),
        );
        let leaf_pem = write(
            dir.path(),
            &format!("{name}-leaf.pem"),
            &leaf.to_pem().unwrap(),
        );
        let csr_pem = write(dir.path(), &format!("{name}.csr"), &csr.to_pem().unwrap());

        // OpenSSL: chain and CSR self-signature.
        let (ok, out) = openssl(&[
            "verify",
            "-x509_strict",
            "-CAfile",
            root_pem.to_str().unwrap(),
            leaf_pem.to_str().unwrap(),
        ]);
        assert!(ok, "{name}: openssl verify: {out}");
        // OpenSSL 3.0's `req -verify` exits 0 even when the signature is bad: read its verdict.
        let (ok, out) = openssl(&["req", "-verify", "-noout", "-in", csr_pem.to_str().unwrap()]);
        assert!(
            ok && out.contains("verify OK"),
            "{name}: openssl req -verify: {out}"
        );

        // pkilint: each certificate, and the pair as issuer/subject.
        assert_lint_clean("lint_pkix_cert", &[&root_pem], ACCEPTED_WARNINGS);
        assert_lint_clean("lint_pkix_cert", &[&leaf_pem], ACCEPTED_WARNINGS);
        let chain_accepted = if sig_alg.is_some_and(|a| a.is_pss()) {
            ACCEPTED_PSS_CHAIN
        } else {
            ACCEPTED_WARNINGS
        };
        assert_lint_clean(
            "lint_pkix_signer_signee_cert_chain",
            &[&root_pem, &leaf_pem],
            chain_accepted,
        );

        // Our own parser agrees: the CSR verifies and carries the leaf key.
        let parsed = x509::ParsedCsr::parse(csr.to_pem().unwrap().as_bytes())
            .unwrap_or_else(|e| panic!("{name}: parse csr: {e}"));
        assert_eq!(&parsed.public_key, leaf_key.public_key());

        // A CSR with one flipped bit in its signature is rejected.
        let mut der = csr.der().to_vec();
        let n = der.len();
        der[n - 3] ^= 0x01;
        assert!(
            x509::ParsedCsr::parse(&der).is_err(),
            "{name}: CSR with a flipped signature bit was accepted"
        );

        // A certificate checked against a key that did not sign it is rejected, and openssl
        // agrees when given the wrong CA.
        assert!(leaf.verify_signed_by(leaf_key.public_key()).is_err());
        let (ok, _) = openssl(&[
            "verify",
            "-CAfile",
            leaf_pem.to_str().unwrap(),
            root_pem.to_str().unwrap(),
        ]);
        assert!(
            !ok,
            "{name}: openssl accepted the root as issued by the leaf"
        );
    }
}
