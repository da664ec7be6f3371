//! Token layer against a real token of the run's backend (SoftHSM2 or Kryoptic,
//! `HSM_PKI_TEST_BACKEND`).
//!
//! Both modules read their configuration variable at C_Initialize and PKCS#11 allows one
//! context per process, so everything runs in ONE test function, in this test binary's own
//! process.

use std::time::{Duration, Instant};

use hsm_pki::crypto::{
    Curve, DigestSigner, KeyAlgorithm, KeySigner, PublicKey, SignError, SignatureAlgorithm,
    ecdsa_der_to_raw, ecdsa_raw_to_der, sign,
};
use hsm_pki::hsm::{HsmError, Pin, PrivateKeyMaterial, Token, TokenConfig, TokenSelector};
use zeroize::Zeroizing;

mod common;

use common::{Backend, TestToken};

const LABEL: &str = "hsm-pki-test";

/// A fresh token of this run's backend, its module pointed at it for this process. Panics
/// (never skips) when the backend is missing.
fn fresh_token() -> TestToken {
    let hsm = TestToken::new(LABEL);
    hsm.export_env();
    hsm
}

fn config(hsm: &TestToken, pin: &str, label: &str) -> TokenConfig {
    let mut cfg = TokenConfig::new(
        hsm.module(),
        TokenSelector::Label(label.into()),
        Pin::new(pin),
    );
    cfg.pool_size = 3;
    cfg
}

/// A key creation fails as an outage (never as a bug or a missing key) and marks the token
/// unhealthy, so the next check proves writes as well.
fn writes_fail(token: &Token) {
    let err = token
        .generate_fresh(KeyAlgorithm::P256, "during-outage.")
        .expect_err("no key creation without storage");
    eprintln!("generate with the storage gone: {err}");
    assert!(err.is_transient(), "{err:?}");
    assert!(!token.is_healthy());
}

/// Sign `msg` through `crypto::sign` (the only way to the token's signature) and through
/// KeySigner, and verify both in both encodings.
fn sign_and_verify<K: DigestSigner>(key: &K, alg: SignatureAlgorithm)
where
    K::Error: std::fmt::Debug,
{
    let msg = format!("message for {}", alg.name());
    let sig = sign(key, alg, msg.as_bytes()).expect("token signs");
    let pk = key.public_key();
    match pk.algorithm().curve() {
        Some(curve) => {
            assert_eq!(
                sig.to_fixed().len(),
                2 * curve.field_len(),
                "r||s of the curve's size"
            );
            assert_eq!(
                ecdsa_raw_to_der(curve, sig.to_fixed()).unwrap(),
                sig.to_der()
            );
            assert_eq!(
                ecdsa_der_to_raw(curve, sig.to_der()).unwrap(),
                sig.to_fixed()
            );
        }
        None => assert_eq!(sig.to_fixed(), sig.to_der()),
    }
    pk.verify(alg, msg.as_bytes(), sig.to_der())
        .unwrap_or_else(|e| panic!("{} signature does not verify: {e}", alg.name()));
    pk.verify_fixed(alg, msg.as_bytes(), sig.to_fixed())
        .unwrap_or_else(|e| panic!("{} fixed-width signature does not verify: {e}", alg.name()));

    let signer = KeySigner::new(key, alg).expect("algorithm fits key");
    let sig = signature::Signer::try_sign(&signer, msg.as_bytes()).expect("KeySigner signs");
    pk.verify(alg, msg.as_bytes(), sig.to_der())
        .expect("KeySigner output verifies");
}

/// The key's own error from a signing attempt that must fail at the token.
fn token_error<T: std::fmt::Debug>(r: Result<T, SignError<HsmError>>, what: &str) -> HsmError {
    match r.expect_err(what) {
        SignError::Key(e) => e,
        SignError::Crypto(e) => panic!("{what}: expected a token error, got {e}"),
    }
}

fn all_signature_algorithms() -> Vec<SignatureAlgorithm> {
    [
        "ecdsa-sha256",
        "ecdsa-sha384",
        "ecdsa-sha512",
        "rsa-pkcs1-sha256",
        "rsa-pkcs1-sha384",
        "rsa-pkcs1-sha512",
        "rsa-pss-sha256",
        "rsa-pss-sha384",
        "rsa-pss-sha512",
    ]
    .into_iter()
    .map(|n| SignatureAlgorithm::from_name(n).expect("known name"))
    .collect()
}

fn software_p256(seed: u8) -> (Zeroizing<Vec<u8>>, PublicKey) {
    use aws_lc_rs::agreement;
    let d = Zeroizing::new(vec![seed; 32]);
    let point = agreement::PrivateKey::from_private_key(&agreement::ECDH_P256, &d)
        .expect("valid scalar")
        .compute_public_key()
        .expect("public point");
    let pk = PublicKey::from_ec_point(Curve::P256, point.as_ref()).expect("valid point");
    (d, pk)
}

#[test]
fn token_end_to_end() {
    let hsm = fresh_token();

    // --- opening: wrong PIN and unknown label are permanent errors, PIN never shown.
    let err = Token::open(config(&hsm, "00000000", LABEL)).expect_err("wrong PIN");
    assert!(matches!(err, HsmError::Unusable { .. }), "{err:?}");
    assert!(err.to_string().contains("CKR_PIN_INCORRECT"), "{err}");
    assert!(!err.to_string().contains("00000000") && !format!("{err:?}").contains("00000000"));
    let err = Token::open(config(&hsm, &hsm.pin, "no-such-token")).expect_err("unknown label");
    assert!(matches!(err, HsmError::Unusable { .. }), "{err:?}");

    let token = Token::open(config(&hsm, &hsm.pin, LABEL)).expect("open token");
    assert!(!format!("{token:?}").contains(&hsm.pin));
    token.check().expect("healthy after open");
    assert!(token.is_healthy());
    let err =
        Token::open(config(&hsm, &hsm.pin, LABEL)).expect_err("second context in one process");
    assert!(matches!(err, HsmError::Unusable { .. }), "{err:?}");

    // --- generation, attributes, signing for every algorithm.
    let algs = all_signature_algorithms();
    let mut keys = Vec::new();
    for alg in KeyAlgorithm::ALL {
        let label = format!("key-{}", alg.name());
        let started = Instant::now();
        let key = token.generate(alg, &label).expect("generate");
        eprintln!("generated {} in {:?}", alg.name(), started.elapsed());
        assert_eq!(key.algorithm(), alg);
        assert_eq!(key.label(), label);
        assert_eq!(key.id().len(), 16);
        assert_eq!(key.public_key().algorithm(), alg);
        let jwk = key.public_key().to_jwk();
        assert_eq!(jwk.kty, if alg.is_ec() { "EC" } else { "RSA" });

        let u = token.inspect_public_key(&label).expect("inspect public");
        assert!(u.verify && !u.other_use, "{alg:?} public key uses: {u:?}");
        let a = token.inspect_private_key(&label).expect("inspect");
        assert!(a.sensitive, "{alg:?} CKA_SENSITIVE");
        assert!(!a.extractable, "{alg:?} CKA_EXTRACTABLE");
        assert!(!a.modifiable, "{alg:?} CKA_MODIFIABLE");
        assert!(a.always_sensitive, "{alg:?} CKA_ALWAYS_SENSITIVE");
        assert!(a.never_extractable, "{alg:?} CKA_NEVER_EXTRACTABLE");
        assert!(a.token && a.private && a.sign, "{alg:?} {a:?}");
        assert!(
            !a.other_use,
            "{alg:?}: a signing key that can decrypt, unwrap or derive"
        );
        assert!(a.has_label && a.has_id, "{alg:?} {a:?}");
        assert!(
            !a.value_readable,
            "{alg:?}: the token handed out the private value"
        );

        // ECDSA with every hash on every curve; every RSA scheme on RSA-2048 and the
        // default one on the larger moduli (they take long to sign in SoftHSM).
        for sig_alg in algs.iter().copied().filter(|s| s.fits_key(alg)) {
            if alg.is_ec() || alg == KeyAlgorithm::Rsa2048 || sig_alg == alg.default_signature() {
                sign_and_verify(&key, sig_alg);
            }
        }
        // A wrong algorithm is refused before reaching the token. (A digest of the wrong
        // length can no longer be sent: `crypto::sign` computes it; `hsm::sign`'s unit test
        // covers the token layer's own check.)
        let wrong = if alg.is_ec() { &algs[3] } else { &algs[0] };
        let before = token.stats();
        assert!(matches!(
            sign(&key, *wrong, b"m"),
            Err(SignError::Crypto(hsm_pki::crypto::CryptoError::KeyMismatch))
        ));
        let after = token.stats();
        assert_eq!(
            (before.signatures, before.sign_errors),
            (after.signatures, after.sign_errors),
            "a refused algorithm reached the token"
        );
        keys.push(key);
    }
    let stats = token.stats();
    assert!(stats.signatures >= 20, "{stats:?}");
    // Every attempt is timed and no session stays checked out.
    assert_eq!(
        stats.sign_latency.count(),
        stats.signatures + stats.sign_errors,
        "{stats:?}"
    );
    assert!(stats.sign_latency.sum_nanos > 0, "{stats:?}");
    assert_eq!((stats.sessions_in_use, stats.sessions_max), (0, 3));

    // --- labels are unique.
    let err = token
        .generate(KeyAlgorithm::P256, "key-secp256r1")
        .expect_err("duplicate label");
    assert!(matches!(err, HsmError::LabelInUse { .. }), "{err:?}");

    // --- find by label, also after the handle cache is dropped.
    let p256 = &keys[0];
    let first = token.find("key-secp256r1").expect("find");
    assert_eq!(first.public_key(), p256.public_key());
    assert_eq!(first.id(), p256.id());
    token.forget_cached_handles().expect("drop cache");
    let found = token.find("key-secp256r1").expect("find after cache drop");
    assert_eq!(found.public_key(), p256.public_key());
    sign_and_verify(&found, SignatureAlgorithm::EcdsaSha256);
    let rsa = token.find("key-rsa2048").expect("find rsa");
    assert_eq!(rsa.public_key(), keys[3].public_key());

    // --- the daemon's own paths do not search the token (on SoftHSM a search reads every
    // object, so its cost grows with the token): a key under a fresh label is generated,
    // found, signs and is destroyed through its cached handles, and the check reads the
    // sentinel by handle.
    let before = token.stats().searches;
    let fresh = token
        .generate_fresh(KeyAlgorithm::P256, "hsm-pki.")
        .expect("generate under a fresh label");
    assert!(fresh.label().starts_with("hsm-pki.") && fresh.label().len() == 8 + 36);
    let fresh_found = token.find(fresh.label()).expect("find fresh");
    assert_eq!(fresh_found.public_key(), fresh.public_key());
    sign_and_verify(&fresh_found, SignatureAlgorithm::EcdsaSha256);
    token.check().expect("check");
    token.destroy(fresh.label()).expect("destroy fresh");
    assert_eq!(token.stats().searches, before, "a search on a hot path");
    let err = token_error(
        sign(&fresh, SignatureAlgorithm::EcdsaSha256, b"m"),
        "destroyed through cached handles",
    );
    assert!(matches!(err, HsmError::KeyNotFound { .. }), "{err:?}");
    drop((fresh, fresh_found));

    // Reconciliation's scan reads each key object once (two searches) and fills the cache,
    // so keys are found without a search afterwards.
    token.forget_cached_handles().expect("drop cache");
    let before = token.stats().searches;
    let scan = token.scan_keys().expect("scan");
    assert_eq!(
        token.stats().searches - before,
        2,
        "one search per key class"
    );
    assert_eq!(scan.private, token.list_labels().unwrap());
    assert_eq!(scan.torn_destroyed, 0);
    for alg in KeyAlgorithm::ALL {
        let label = format!("key-{}", alg.name());
        assert!(scan.public.contains(&label), "{scan:?}");
    }
    let before = token.stats().searches;
    let warm = token.find("key-rsa2048").expect("find after scan");
    sign_and_verify(&warm, SignatureAlgorithm::RsaPkcs1Sha256);
    assert_eq!(
        token.stats().searches,
        before,
        "the scan did not fill the cache"
    );
    drop(warm);

    // --- the health check takes no object lock, so it runs beside generations; it must
    // not fail there (SoftHSM failed a search beside a generation; a read by handle touches
    // no object being written). Generations of RSA-2048 keys take long enough to overlap
    // many checks.
    let generating = std::sync::atomic::AtomicBool::new(true);
    let checks = std::thread::scope(|scope| {
        scope.spawn(|| {
            for i in 0..10 {
                let alg = if i % 2 == 0 {
                    KeyAlgorithm::Rsa2048
                } else {
                    KeyAlgorithm::P256
                };
                let k = token
                    .generate_fresh(alg, "beside-check.")
                    .expect("generate");
                token.destroy(k.label()).expect("destroy");
            }
            generating.store(false, std::sync::atomic::Ordering::Release);
        });
        let mut checks = 0;
        while generating.load(std::sync::atomic::Ordering::Acquire) {
            token.check().expect("a check beside a generation failed");
            checks += 1;
        }
        checks
    });
    eprintln!("{checks} checks beside 10 generations and destructions, none failed");
    assert!(
        checks > 10,
        "too few checks overlapped the generations: {checks}"
    );

    // --- list, destroy, idempotence, KeyNotFound.
    let labels = token.list_labels().expect("list");
    for alg in KeyAlgorithm::ALL {
        assert!(
            labels.contains(&format!("key-{}", alg.name())),
            "{labels:?}"
        );
    }
    assert!(!labels.iter().any(|l| l.contains("sentinel")), "{labels:?}");
    token.destroy("key-secp384r1").expect("destroy");
    let err = token.find("key-secp384r1").expect_err("destroyed");
    assert!(matches!(err, HsmError::KeyNotFound { ref label } if label == "key-secp384r1"));
    let err = token_error(
        sign(&keys[1], SignatureAlgorithm::EcdsaSha384, b"m"),
        "destroyed key cannot sign",
    );
    assert!(matches!(err, HsmError::KeyNotFound { .. }), "{err:?}");
    token
        .destroy("key-secp384r1")
        .expect("destroy is idempotent");
    assert!(
        !token
            .list_labels()
            .unwrap()
            .contains(&"key-secp384r1".to_string())
    );

    // A key re-created under a destroyed label is a different key: old handles must not
    // silently sign with it.
    token.destroy("key-secp521r1").expect("destroy p521");
    let replacement = token
        .generate(KeyAlgorithm::P521, "key-secp521r1")
        .expect("re-create label");
    let err = token_error(
        sign(&keys[2], SignatureAlgorithm::EcdsaSha512, b"m"),
        "old key object is gone",
    );
    assert!(matches!(err, HsmError::KeyNotFound { .. }), "{err:?}");
    // Failed attempts (the two above) are timed and counted too.
    let stats = token.stats();
    assert!(stats.sign_errors >= 2, "{stats:?}");
    assert_eq!(
        stats.sign_latency.count(),
        stats.signatures + stats.sign_errors,
        "{stats:?}"
    );
    sign_and_verify(&replacement, SignatureAlgorithm::EcdsaSha512);

    // --- import.
    let (d, public) = software_p256(0x42);
    let imported = token
        .import_private(
            PrivateKeyMaterial::Ec {
                curve: Curve::P256,
                d,
                public: public.clone(),
            },
            "imported-p256",
        )
        .expect("import");
    assert_eq!(imported.public_key(), &public);
    sign_and_verify(&imported, SignatureAlgorithm::EcdsaSha256);
    let u = token
        .inspect_public_key("imported-p256")
        .expect("inspect public");
    assert!(u.verify && !u.other_use, "imported public key uses: {u:?}");
    let a = token.inspect_private_key("imported-p256").expect("inspect");
    eprintln!("imported key attributes: {a:?}");
    // Imported for one request: a session object (CKA_TOKEN false), gone with the session.
    assert!(a.sensitive && !a.extractable && !a.modifiable && !a.token && a.private);
    assert!(!a.value_readable && !a.other_use);
    let again = token.find("imported-p256").expect("find imported");
    assert_eq!(again.public_key(), &public);

    let (d, _) = software_p256(0x43);
    let (_, other_public) = software_p256(0x44);
    let material = PrivateKeyMaterial::Ec {
        curve: Curve::P256,
        d,
        public: other_public,
    };
    assert!(!format!("{material:?}").contains("67")); // 0x43, in decimal
    let err = token
        .import_private(material, "mismatched")
        .expect_err("mismatched pair");
    assert!(matches!(err, HsmError::InvalidKey { .. }), "{err:?}");
    assert!(matches!(
        token.find("mismatched"),
        Err(HsmError::KeyNotFound { .. })
    ));

    // RSA import, from a PKCS#1 key made once with `openssl genrsa 2048` (test data only).
    let rsa_material = |swap_modulus: Option<&PublicKey>| {
        use der::Decode;
        let der = include_bytes!("data/rsa2048-pkcs1.der");
        let k = pkcs1::RsaPrivateKey::<der::asn1::UintRef<'_>>::from_der(der).expect("PKCS#1");
        let z = |u: der::asn1::UintRef<'_>| Zeroizing::new(u.as_bytes().to_vec());
        let n = match swap_modulus {
            Some(other) => {
                let jwk = other.to_jwk();
                <base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(&jwk.n.expect("n"))
                    .expect("b64")
            }
            None => k.modulus.as_bytes().to_vec(),
        };
        PrivateKeyMaterial::Rsa {
            n,
            e: k.public_exponent.as_bytes().to_vec(),
            d: z(k.private_exponent),
            p: z(k.prime1),
            q: z(k.prime2),
            dp: z(k.exponent1),
            dq: z(k.exponent2),
            qi: z(k.coefficient),
        }
    };
    let imported_rsa = token
        .import_private(rsa_material(None), "imported-rsa")
        .expect("import RSA");
    assert_eq!(imported_rsa.algorithm(), KeyAlgorithm::Rsa2048);
    sign_and_verify(&imported_rsa, SignatureAlgorithm::RsaPkcs1Sha256);
    sign_and_verify(&imported_rsa, SignatureAlgorithm::RsaPssSha384);
    let a = token.inspect_private_key("imported-rsa").expect("inspect");
    assert!(a.sensitive && !a.extractable && !a.modifiable && !a.value_readable && !a.other_use);
    let err = token
        .import_private(rsa_material(Some(keys[3].public_key())), "mismatched-rsa")
        .expect_err("RSA parts of two keys");
    eprintln!("mismatched RSA import: {err}");
    assert!(!err.is_transient(), "{err:?}");
    assert!(matches!(
        token.find("mismatched-rsa"),
        Err(HsmError::KeyNotFound { .. })
    ));
    drop(imported_rsa);

    // --- concurrency: more signers than pool sessions.
    std::thread::scope(|scope| {
        for i in 0..6u8 {
            let key = &imported;
            scope.spawn(move || {
                for j in 0..5u8 {
                    sign(key, SignatureAlgorithm::EcdsaSha256, &[i, j]).expect("concurrent sign");
                }
            });
        }
    });

    // --- token loss: move the token's storage directory away, then back.
    hsm.take_away();
    if hsm.backend == Backend::Kryoptic {
        // Kryoptic keeps its database open, so reads still succeed and only writes fail;
        // a failed write makes the next check write too (src/hsm/heartbeat.rs).
        writes_fail(&token);
        sign_and_verify(&keys[0], SignatureAlgorithm::EcdsaSha256);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let err = loop {
        match token.check() {
            Err(e) => break e,
            Ok(()) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Ok(()) => panic!("check() still passes 5 s after the token's storage vanished"),
        }
    };
    eprintln!("check() with the storage gone: {err}");
    assert!(err.is_transient(), "{err:?}");
    assert!(!token.is_healthy());
    if hsm.backend == Backend::SoftHsm {
        // SoftHSM re-reads its files: every read fails too, and none may look like a
        // missing key or an empty token.
        let err = token_error(
            sign(&keys[0], SignatureAlgorithm::EcdsaSha256, b"m"),
            "no signing without storage",
        );
        eprintln!("sign with the storage gone: {err}");
        assert!(
            err.is_transient(),
            "an outage must not look like a missing key: {err:?}"
        );
        let err = token
            .find("key-secp256r1")
            .expect_err("no lookup without storage");
        assert!(err.is_transient(), "{err:?}");
        let err = token
            .list_labels()
            .expect_err("no empty listing without storage");
        assert!(err.is_transient(), "{err:?}");
    }
    let err = token
        .recover()
        .expect_err("cannot recover while the storage is gone");
    eprintln!("recover() with the storage gone: {err}");
    assert!(err.is_transient(), "{err:?}");
    assert!(token.check().is_err());
    // A failed C_Initialize leaves nothing initialised behind: the next attempt fails for
    // the same reason, not with CKR_CRYPTOKI_ALREADY_INITIALIZED (Kryoptic 1.5.4 stays
    // initialised after failing with CKR_TOKEN_NOT_PRESENT).
    let retry = token.recover().expect_err("storage still gone");
    assert!(retry.is_transient(), "{retry:?}");
    assert!(
        !retry.to_string().contains("ALREADY_INITIALIZED"),
        "{retry}"
    );
    let err = token_error(
        sign(&keys[0], SignatureAlgorithm::EcdsaSha256, b"m"),
        "disconnected",
    );
    assert!(err.is_transient(), "{err:?}");

    hsm.bring_back();
    token.recover().expect("recover once storage is back");
    token.check().expect("healthy after recovery");
    assert!(token.is_healthy());
    // Keys obtained before the outage keep working (handles re-resolved).
    sign_and_verify(&keys[0], SignatureAlgorithm::EcdsaSha256);
    sign_and_verify(&keys[3], SignatureAlgorithm::RsaPssSha256);
    assert!(
        token
            .list_labels()
            .unwrap()
            .contains(&"key-secp256r1".to_string())
    );
    // The imported key was a session object: the re-initialisation discarded it, so a
    // client's key is never left stored in the token.
    assert!(matches!(
        token.find("imported-p256"),
        Err(HsmError::KeyNotFound { .. })
    ));
    assert!(token.stats().reconnects >= 3);

    // Only part of the storage vanishing (SoftHSM: the token's own subdirectory; Kryoptic:
    // the database file): a reconnect then finds the token absent (SoftHSM lists only its
    // empty slot, Kryoptic makes a new, uninitialised database), which must read as an
    // outage, not a config error.
    hsm.take_away_partly();
    if hsm.backend == Backend::Kryoptic {
        writes_fail(&token);
    }
    let err = token.check().expect_err("part of the storage gone");
    assert!(err.is_transient(), "{err:?}");
    let err = token.recover().expect_err("token not present");
    eprintln!("recover() with part of the storage gone: {err}");
    assert!(
        err.is_transient() && err.to_string().contains("no token"),
        "{err:?}"
    );
    let err = token_error(
        sign(&keys[0], SignatureAlgorithm::EcdsaSha256, b"m"),
        "disconnected",
    );
    assert!(err.is_transient(), "{err:?}");
    hsm.bring_back_partly();
    token
        .recover()
        .expect("recover after the storage is whole again");
    token.check().expect("healthy again");
    sign_and_verify(&keys[0], SignatureAlgorithm::EcdsaSha256);

    // Every TokenKey holds the token; all must go before the context is finalized.
    drop(keys);
    drop(first);
    drop(replacement);
    drop(found);
    drop(again);
    drop(rsa);
    drop(imported);
    drop(token);
    // The context is finalized on drop: a new one can be opened in the same process.
    let mut small = config(&hsm, &hsm.pin, LABEL);
    small.key_cache_size = 2;
    let token = Token::open(small).expect("reopen after drop");
    token.check().expect("healthy after reopen");

    // --- the key cache is bounded: with room for 2, a scan and every key used keep at most
    // 2, and a key that is not kept is found again with one search.
    let scan = token.scan_keys().expect("scan");
    assert!(scan.private.len() > 2, "{scan:?}");
    assert_eq!(token.stats().cached_keys, 2);
    for label in &scan.private {
        let before = token.stats().searches;
        let key = token.find(label).expect("find with a small cache");
        sign_and_verify(&key, key.algorithm().default_signature());
        let stats = token.stats();
        assert!(stats.searches - before <= 1, "{label}: {stats:?}");
        assert!(stats.cached_keys <= 2, "{stats:?}");
    }
}
