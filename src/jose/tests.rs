//! The wallet attestation: its structure, the wallet key's and the request's refusals, the
//! signer chain, and (`checker`) the independent check with jwcrypto.

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use serde_json::{Value as Json, json};
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::crypto::testkeys::{SoftEcKey, SoftP384Key};
use crate::crypto::{self, Curve, DigestSigner};
use crate::x509::{
    DnFields, IssuedKind, IssuedSpec, KeyUsageName, ParsedCertificate, RootCaSpec, StringEncoding,
    build_issued, build_root_ca,
};

mod checker;

const CLIENT_ID: &str = "https://wallet.example.com/instance/1";
const NOW: OffsetDateTime = datetime!(2026-06-01 12:00:00.5 UTC);

/// A holder root (P-384) and a wallet attestation signer on `curve` under it.
struct Holder {
    root: ParsedCertificate,
    signer: ParsedCertificate,
    signer_key: SoftEcKey,
}

fn dn(cn: &str) -> DnFields {
    DnFields {
        common_name: Some(cn.into()),
        country: Some("AU".into()),
        organization: Some("Example Wallet Provider".into()),
        ..Default::default()
    }
}

fn holder_root(seed: u8) -> (ParsedCertificate, SoftP384Key) {
    let key = SoftP384Key::new(seed);
    let spec = RootCaSpec {
        subject: dn("Example Holder Root"),
        string_encoding: StringEncoding::Utf8,
        not_before: datetime!(2026-01-01 00:00:00 UTC),
        not_after: datetime!(2036-01-01 00:00:00 UTC),
        path_len: Some(0),
        digital_signature: false,
        issuer_alt_names: None,
        crl_distribution_point_uri: None,
    };
    (build_root_ca(&spec, &key, None).unwrap(), key)
}

fn signer_under(
    root: &ParsedCertificate,
    root_key: &SoftP384Key,
    key: &SoftEcKey,
    not_after: OffsetDateTime,
) -> ParsedCertificate {
    let spec = IssuedSpec {
        subject: dn("Example Wallet Attestation Signer"),
        string_encoding: StringEncoding::Utf8,
        not_before: datetime!(2026-01-01 00:00:00 UTC),
        not_after,
        kind: IssuedKind::EndEntity,
        key_usage: vec![KeyUsageName::DigitalSignature],
        extended_key_usage: Vec::new(),
        extended_key_usage_critical: false,
        subject_alt_names: None,
        issuer_alt_names: None,
        crl_distribution_point_uri: None,
    };
    build_issued(&spec, key.public_key(), root_key, root.certificate(), None).unwrap()
}

fn holder(curve: Curve) -> Holder {
    let (root, root_key) = holder_root(50);
    let signer_key = SoftEcKey::new(curve, 51);
    let signer = signer_under(
        &root,
        &root_key,
        &signer_key,
        datetime!(2027-01-01 00:00:00 UTC),
    );
    Holder {
        root,
        signer,
        signer_key,
    }
}

fn wallet_jwk() -> Json {
    let mut jwk = serde_json::to_value(SoftEcKey::p256(60).public_key().to_jwk()).unwrap();
    // Members besides kty/crv/x/y are accepted and not carried into cnf.jwk.
    jwk["kid"] = json!("wallet-key-1");
    jwk["use"] = json!("sig");
    jwk
}

fn policy() -> AttestationPolicy {
    AttestationPolicy {
        issuer: "https://wallet-provider.example.com".into(),
        default_expires_in: 3600,
        max_expires_in: 30 * 86_400,
    }
}

fn request(jwk: &Json) -> AttestationRequest<'_> {
    AttestationRequest {
        client_id: CLIENT_ID,
        wallet_key: jwk,
        expires_in: Some(86_400),
        wallet_name: Some("Example Wallet"),
        wallet_link: Some("https://wallet.example.com/about"),
    }
}

/// What the service does: prepare, `crypto::sign` with the (here software) key, finish.
fn attest(h: &Holder, req: &AttestationRequest<'_>) -> WalletAttestation {
    let prepared =
        prepare_attestation(req, &policy(), NOW, std::slice::from_ref(&h.signer)).unwrap();
    let sig = crypto::sign(
        &h.signer_key,
        prepared.signature_algorithm(),
        prepared.signing_input(),
    )
    .unwrap();
    prepared.finish(sig.to_fixed()).unwrap()
}

fn refused(req: &AttestationRequest<'_>) -> JoseError {
    let h = holder(Curve::P256);
    let e = prepare_attestation(req, &policy(), NOW, std::slice::from_ref(&h.signer)).unwrap_err();
    assert!(e.is_client_error(), "{e}");
    e
}

#[test]
fn the_attestation_has_the_drafts_header_and_claims_and_verifies() {
    for (curve, alg) in [
        (Curve::P256, "ES256"),
        (Curve::P384, "ES384"),
        (Curve::P521, "ES512"),
    ] {
        let h = holder(curve);
        let jwk = wallet_jwk();
        let att = attest(&h, &request(&jwk));
        let token = att.token();
        // Three unpadded base64url parts.
        assert_eq!(token.split('.').count(), 3);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "{token}"
        );
        let jws = decode_compact(token).unwrap();
        assert_eq!(
            jws.header(),
            &json!({
                "typ": "oauth-client-attestation+jwt",
                "alg": alg,
                "x5c": [Base64::encode_string(h.signer.der())],
            })
        );
        // x5c is standard base64 with padding (RFC 7515 4.1.6), decoding to the DER.
        let x5c0 = jws.header()["x5c"][0].as_str().unwrap();
        assert_eq!(Base64::decode_vec(x5c0).unwrap(), h.signer.der());
        assert_eq!(x5c0.len() % 4, 0);
        let wallet = SoftEcKey::p256(60);
        assert_eq!(
            jws.payload(),
            &json!({
                "iss": "https://wallet-provider.example.com",
                "sub": CLIENT_ID,
                "iat": datetime!(2026-06-01 12:00:00 UTC).unix_timestamp(),
                "exp": datetime!(2026-06-02 12:00:00 UTC).unix_timestamp(),
                "cnf": {"jwk": serde_json::to_value(wallet.public_key().to_jwk()).unwrap()},
                "wallet_name": "Example Wallet",
                "wallet_link": "https://wallet.example.com/about",
            })
        );
        assert_eq!(att.expires_at(), datetime!(2026-06-02 12:00:00 UTC));
        assert_eq!(att.issued_at(), datetime!(2026-06-01 12:00:00 UTC));
        // Verifies with the x5c leaf's key, through crypto, and with nothing else.
        let leaf = ParsedCertificate::from_der(&Base64::decode_vec(x5c0).unwrap()).unwrap();
        jws.verify(&leaf.public_key().unwrap()).unwrap();
        let (sig_alg, _) = jws_algorithm(curve);
        let (input, sig) = token.rsplit_once('.').unwrap();
        leaf.public_key()
            .unwrap()
            .verify_fixed(
                sig_alg,
                input.as_bytes(),
                &Base64UrlUnpadded::decode_vec(sig).unwrap(),
            )
            .unwrap();
        assert!(jws.verify(wallet.public_key()).is_err());
    }
}

#[test]
fn optional_claims_are_left_out_and_the_default_lifetime_applies() {
    let h = holder(Curve::P256);
    let jwk = wallet_jwk();
    let req = AttestationRequest {
        expires_in: None,
        wallet_name: None,
        wallet_link: None,
        ..request(&jwk)
    };
    let att = attest(&h, &req);
    let claims = decode_compact(att.token()).unwrap().payload().clone();
    let keys: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert_eq!(att.expires_at(), datetime!(2026-06-01 13:00:00 UTC));

    // The default is cut at the signer certificate's notAfter; a requested lifetime past it
    // is refused instead.
    let (root, root_key) = holder_root(50);
    let key = SoftEcKey::p256(52);
    let short = signer_under(&root, &root_key, &key, datetime!(2026-06-01 12:30:00 UTC));
    let prepared = prepare_attestation(&req, &policy(), NOW, std::slice::from_ref(&short)).unwrap();
    assert_eq!(prepared.expires_at(), datetime!(2026-06-01 12:30:00 UTC));
    let e = prepare_attestation(
        &AttestationRequest {
            expires_in: Some(3600),
            ..req
        },
        &policy(),
        NOW,
        std::slice::from_ref(&short),
    )
    .unwrap_err();
    assert_eq!(e.field(), Some("expiresIn"));
    assert!(
        e.to_string()
            .contains("notAfter (2026-06-01T12:30:00Z); at most 1800"),
        "{e}"
    );
}

#[test]
fn only_a_public_ec_wallet_key_is_bound() {
    let good = wallet_jwk();
    let with = |k: &str, v: Json| {
        let mut j = good.clone();
        j[k] = v;
        j
    };
    let secret = "c2VjcmV0LXNjYWxhci1kby1ub3QtZWNoby1tZS0wMTIzNDU2";
    // Refused by its kty before anything else is read.
    let rsa = json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"});
    let mut off_curve = good.clone();
    let mut y = Base64UrlUnpadded::decode_vec(good["y"].as_str().unwrap()).unwrap();
    y[31] ^= 1;
    off_curve["y"] = json!(Base64UrlUnpadded::encode_string(&y));
    let padded_x = format!("{}=", good["x"].as_str().unwrap());
    let cases = [
        (with("d", json!(secret)), "walletKey.d"),
        (with("k", json!(secret)), "walletKey.k"),
        (with("p", json!(secret)), "walletKey.p"),
        (rsa, "walletKey.kty"),
        (with("kty", json!("OKP")), "walletKey.kty"),
        (with("kty", json!(2)), "walletKey.kty"),
        (with("crv", json!("secp256k1")), "walletKey.crv"),
        (with("x", json!("AAAA")), "walletKey.x"),
        (with("x", json!(padded_x)), "walletKey.x"),
        (off_curve, "walletKey"),
        (json!("not a jwk"), "walletKey"),
    ];
    for (jwk, field) in cases {
        let e = refused(&request(&jwk));
        assert_eq!(e.field(), Some(field), "{e}");
        assert!(
            !e.to_string().contains(secret),
            "a private value was echoed: {e}"
        );
    }
    let mut no_kty = good.clone();
    no_kty.as_object_mut().unwrap().remove("kty");
    assert_eq!(refused(&request(&no_kty)).field(), Some("walletKey.kty"));
}

#[test]
fn request_fields_are_checked_by_name() {
    let jwk = wallet_jwk();
    let base = request(&jwk);
    let long = "x".repeat(MAX_NAME_LEN + 1);
    let cases: Vec<(AttestationRequest<'_>, &str)> = vec![
        (
            AttestationRequest {
                client_id: "",
                ..base
            },
            "clientId",
        ),
        (
            AttestationRequest {
                client_id: "a\u{0}b",
                ..base
            },
            "clientId",
        ),
        (
            AttestationRequest {
                client_id: &long,
                ..base
            },
            "clientId",
        ),
        (
            AttestationRequest {
                expires_in: Some(0),
                ..base
            },
            "expiresIn",
        ),
        (
            AttestationRequest {
                expires_in: Some(30 * 86_400 + 1),
                ..base
            },
            "expiresIn",
        ),
        (
            AttestationRequest {
                expires_in: Some(u64::MAX),
                ..base
            },
            "expiresIn",
        ),
        (
            AttestationRequest {
                wallet_name: Some(" "),
                ..base
            },
            "walletName",
        ),
        (
            AttestationRequest {
                wallet_link: Some("wallet.example.com"),
                ..base
            },
            "walletLink",
        ),
        (
            AttestationRequest {
                wallet_link: Some("https:///path"),
                ..base
            },
            "walletLink",
        ),
        (
            AttestationRequest {
                wallet_link: Some("https://wallet.example.com/a b"),
                ..base
            },
            "walletLink",
        ),
    ];
    for (req, field) in cases {
        assert_eq!(refused(&req).field(), Some(field));
    }
    // Past the signer certificate (2027-01-01) but within the maximum.
    let policy = AttestationPolicy {
        max_expires_in: 400 * 86_400,
        ..policy()
    };
    let h = holder(Curve::P256);
    let e = prepare_attestation(
        &AttestationRequest {
            expires_in: Some(300 * 86_400),
            ..base
        },
        &policy,
        NOW,
        std::slice::from_ref(&h.signer),
    )
    .unwrap_err();
    assert_eq!(e.field(), Some("expiresIn"));
}

#[test]
fn the_signer_chain_and_policy_are_the_callers() {
    let h = holder(Curve::P256);
    let jwk = wallet_jwk();
    let req = request(&jwk);
    let caller = |x5c: &[ParsedCertificate], policy: &AttestationPolicy, what: &str| {
        let e = prepare_attestation(&req, policy, NOW, x5c).unwrap_err();
        assert!(!e.is_client_error(), "{e}");
        assert!(e.to_string().contains(what), "{what}: {e}");
    };
    caller(&[], &policy(), "must hold");
    caller(std::slice::from_ref(&h.root), &policy(), "self-issued");
    caller(
        &[h.signer.clone(), h.root.clone()],
        &policy(),
        "self-issued",
    );
    let (other_root, other_key) = holder_root(53);
    let other_signer = signer_under(
        &other_root,
        &other_key,
        &SoftEcKey::p256(54),
        datetime!(2027-01-01 00:00:00 UTC),
    );
    caller(
        &[h.signer.clone(), other_signer],
        &policy(),
        "x5c[0] is not issued by x5c[1]",
    );
    let (root, root_key) = holder_root(50);
    let expired = signer_under(
        &root,
        &root_key,
        &h.signer_key,
        datetime!(2026-05-01 00:00:00 UTC),
    );
    caller(&[expired], &policy(), "expired");
    let signer = std::slice::from_ref(&h.signer);
    caller(
        signer,
        &AttestationPolicy {
            issuer: "".into(),
            ..policy()
        },
        "issuer",
    );
    caller(
        signer,
        &AttestationPolicy {
            default_expires_in: 31 * 86_400,
            ..policy()
        },
        "default",
    );
}

#[test]
fn finish_takes_only_the_signer_certificates_key() {
    let h = holder(Curve::P384);
    let jwk = wallet_jwk();
    let prepared = prepare_attestation(
        &request(&jwk),
        &policy(),
        NOW,
        std::slice::from_ref(&h.signer),
    )
    .unwrap();
    assert_eq!(prepared.public_key(), h.signer_key.public_key());
    let other = SoftEcKey::new(Curve::P384, 70);
    let sig = crypto::sign(
        &other,
        prepared.signature_algorithm(),
        prepared.signing_input(),
    )
    .unwrap();
    let e = prepared.clone().finish(sig.to_fixed()).unwrap_err();
    assert!(!e.is_client_error());
    assert!(e.to_string().contains("does not verify"), "{e}");
    let e = prepared.finish(&[1u8; 64]).unwrap_err();
    assert!(e.to_string().contains("64 bytes"), "{e}");
}

#[test]
fn compact_serialization_is_read_strictly() {
    let h = holder(Curve::P256);
    let jwk = wallet_jwk();
    let token = attest(&h, &request(&jwk)).token().to_owned();
    let (head, sig) = token.rsplit_once('.').unwrap();
    for bad in [
        head.to_owned(),
        format!("{token}.x"),
        format!("{head}.{sig}="),
        format!(
            "{}.{}",
            Base64UrlUnpadded::encode_string(b"[1]"),
            &token[token.find('.').unwrap() + 1..]
        ),
        "x".repeat(MAX_JWS_LEN + 1),
    ] {
        assert!(decode_compact(&bad).is_err(), "{bad}");
    }
    // A claim changed after signing no longer verifies.
    let jws = decode_compact(&token).unwrap();
    let mut claims = jws.payload().clone();
    claims["sub"] = json!("https://evil.example.com");
    let forged = format!(
        "{}.{}.{sig}",
        head.split('.').next().unwrap(),
        Base64UrlUnpadded::encode_string(&serde_json::to_vec(&claims).unwrap())
    );
    let leaf = h.signer.public_key().unwrap();
    assert!(decode_compact(&forged).unwrap().verify(&leaf).is_err());
    decode_compact(&token).unwrap().verify(&leaf).unwrap();
}
