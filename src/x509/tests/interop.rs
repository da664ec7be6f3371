//! The engine against material made elsewhere: public IACA/DS vectors, and OpenSSL
//! verifying what it builds and building what it parses.

use super::*;

/// A public certificate made outside the project (copies of ../shared/vectors, so the
/// tests do not depend on a checkout beside this one).
fn vector(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/data/iso/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

#[test]
fn real_world_iacas() {
    for (file, st, cn) in [
        ("us-oh-2024.pem", "US-OH", "Ohio mDL Root CA Gen 1"),
        ("us-hi-2024.pem", "US-HI", "HI_IACA_Prod"),
        ("us-az-2024.pem", "US-AZ", "AZ prod IACA certificate"),
    ] {
        let input = vector(file);
        let c = ParsedCertificate::parse(&input).unwrap();
        let key = c.public_key().unwrap();
        assert_eq!(key.algorithm(), crate::crypto::KeyAlgorithm::P256, "{file}");
        c.verify_signed_by(&key).unwrap();
        let subject = c.subject().unwrap();
        assert_eq!(subject.state_or_province.as_deref(), Some(st));
        assert_eq!(subject.country.as_deref(), Some("US"));
        assert_eq!(subject.common_name.as_deref(), Some(cn));
        assert!(c.is_self_issued());
        let bc = c.ext().basic_constraints().unwrap().unwrap();
        assert!(bc.critical && bc.value.ca && bc.value.path_len_constraint == Some(0));
        let ku = c.ext().key_usage().unwrap().unwrap().value;
        assert_eq!(ku, [KeyUsageName::KeyCertSign, KeyUsageName::CrlSign]);
        // The fingerprint is of the DER and stable across PEM/DER input.
        let again = ParsedCertificate::from_der(c.der()).unwrap();
        assert_eq!(c.fingerprint_sha256(), again.fingerprint_sha256());
        assert_eq!(c.fingerprint_sha256().len(), 64);
        assert_eq!(
            c.fingerprint_sha256(),
            c.fingerprint_sha256().to_lowercase()
        );
    }
    let oh = ParsedCertificate::parse(&vector("us-oh-2024.pem")).unwrap();
    assert_eq!(oh.subject().unwrap().locality.as_deref(), Some("Columbus"));
    assert_eq!(
        oh.ext().subject_key_identifier().unwrap().map(|k| hex(&k)),
        Some("2f1e24ff5293b14a39d6abee051109c181db5f08".into())
    );
}

#[test]
fn waltid_iaca_and_ds() {
    let iaca = ParsedCertificate::parse(&vector("waltid-iaca.der")).unwrap();
    let ds = ParsedCertificate::parse(&vector("waltid-ds.der")).unwrap();
    let iaca_key = iaca.public_key().unwrap();
    iaca.verify_signed_by(&iaca_key).unwrap();
    ds.verify_signed_by(&iaca_key).unwrap();
    assert!(ds.verify_signed_by(&ds.public_key().unwrap()).is_err());
    assert_eq!(
        ds.ext().authority_key_identifier().unwrap(),
        iaca.ext().subject_key_identifier().unwrap()
    );
    assert_eq!(
        issuer_key_identifier(iaca.certificate()).unwrap(),
        iaca.ext().subject_key_identifier().unwrap().unwrap()
    );
    let eku = ds.ext().extended_key_usage().unwrap().unwrap();
    assert!(eku.critical);
    assert_eq!(eku.value[0].to_string(), "1.0.18013.5.1.2");
    assert_eq!(
        ds.ext().crl_distribution_uris().unwrap().unwrap(),
        ["https://iaca.example.com/crl"]
    );
    let ian = ds.ext().issuer_alt_names().unwrap().unwrap().value;
    assert_eq!(ian.emails, ["iaca@example.com"]);
    assert_eq!(ds.subject().unwrap().locality.as_deref(), Some("Austin"));
    assert_eq!(ds.issuer().unwrap(), iaca.subject().unwrap());
}

/// Cross-check with an independent implementation when OpenSSL is installed.
#[test]
fn openssl_accepts_chain_and_csr() {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!("openssl not on PATH; skipping");
        return;
    }
    let ca_key = SoftEcKey::p256(1);
    let now = OffsetDateTime::now_utc();
    let spec = RootCaSpec {
        not_before: now - time::Duration::days(1),
        not_after: now + time::Duration::days(365),
        ..root_spec()
    };
    let root = build_root_ca(&spec, &ca_key, None).unwrap();
    let leaf_key = SoftEcKey::p256(2);
    let leaf = build_issued(
        &IssuedSpec {
            not_before: now - time::Duration::days(1),
            not_after: now + time::Duration::days(30),
            ..ds_spec()
        },
        leaf_key.public_key(),
        &ca_key,
        root.certificate(),
        None,
    )
    .unwrap();
    let csr = build_csr(
        &CsrSpec {
            subject: ds_spec().subject,
            key_usage: vec![KeyUsageName::DigitalSignature],
            ..Default::default()
        },
        &leaf_key,
        None,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let root_p = write("root.pem", root.to_pem().unwrap());
    let leaf_p = write("leaf.pem", leaf.to_pem().unwrap());
    let csr_p = write("csr.pem", csr.to_pem().unwrap());
    // The DS's EKU is critical; EKU is an extension OpenSSL knows, so an unknown purpose OID
    // inside it does not fail verification without -purpose.
    let out = std::process::Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(&root_p)
        .arg(&leaf_p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new("openssl")
        .args(["req", "-verify", "-noout", "-in"])
        .arg(&csr_p)
        .output()
        .unwrap();
    // OpenSSL 3.0 exits 0 even when the self-signature fails; judge by its verdict line.
    let verdict = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert!(
        out.status.success() && verdict(&out).contains("verify OK"),
        "openssl req -verify: {}",
        verdict(&out)
    );
    // And OpenSSL must reject a tampered CSR.
    let mut bad = csr.der().to_vec();
    let n = bad.len() - 5;
    bad[n] ^= 1;
    let bad_p = dir.path().join("bad.der");
    std::fs::write(&bad_p, &bad).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["req", "-verify", "-noout", "-inform", "DER", "-in"])
        .arg(&bad_p)
        .output()
        .unwrap();
    assert!(
        !out.status.success() || !verdict(&out).contains("verify OK"),
        "tampered CSR accepted: {}",
        verdict(&out)
    );
}

/// CSRs made by OpenSSL with every accepted algorithm: parsed, proof of possession verified,
/// and rejected after a one-bit change of the signature.
#[test]
fn openssl_csrs_of_every_algorithm_verify() {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!("openssl not on PATH; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let cases: [(&str, &[&str], &[&str], SignatureAlgorithm); 5] = [
        (
            "p384",
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
            ],
            &["-sha384"],
            SignatureAlgorithm::EcdsaSha384,
        ),
        (
            "p521",
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-521",
            ],
            &["-sha512"],
            SignatureAlgorithm::EcdsaSha512,
        ),
        (
            "rsa",
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ],
            &["-sha256"],
            SignatureAlgorithm::RsaPkcs1Sha256,
        ),
        (
            "pss",
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ],
            &[
                "-sha256",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:digest",
            ],
            SignatureAlgorithm::RsaPssSha256,
        ),
        (
            "pss384",
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ],
            &[
                "-sha384",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:digest",
            ],
            SignatureAlgorithm::RsaPssSha384,
        ),
    ];
    for (name, genkey, sigopts, alg) in cases {
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let mut g = genkey.to_vec();
        g.extend(["-out", &key]);
        run(&g);
        let mut r = vec![
            "req",
            "-new",
            "-key",
            &key,
            "-subj",
            "/C=US/ST=US-OH/CN=test",
            "-out",
            &csr,
        ];
        r.extend(sigopts);
        run(&r);
        let pem = std::fs::read(dir.path().join(&csr)).unwrap();
        let parsed = ParsedCsr::parse(&pem).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(parsed.signature_algorithm, alg, "{name}");
        assert_eq!(parsed.subject.state_or_province.as_deref(), Some("US-OH"));
        let mut bad = parsed.der().to_vec();
        let n = bad.len() - 3;
        bad[n] ^= 0x01;
        assert!(
            matches!(
                ParsedCsr::from_der(&bad),
                Err(X509Error::BadSignature { .. }) | Err(X509Error::Malformed { .. })
            ),
            "{name}: tampered CSR accepted"
        );
    }
}
