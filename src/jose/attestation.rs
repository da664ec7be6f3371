//! The wallet (client) attestation JWT of draft-ietf-oauth-attestation-based-client-auth
//! (section "Client Attestation JWT", draft 10 of July 2026), as OpenID4VC HAIP profiles it:
//!
//! ```text
//! header { "typ": "oauth-client-attestation+jwt", "alg": ES256|ES384|ES512,
//!          "x5c": [signer certificate, ...chain, no trust anchor] }
//! claims { "iss", "sub": client_id, "iat", "exp", "cnf": {"jwk": public EC JWK},
//!          "wallet_name"?, "wallet_link"? }
//! ```
//!
//! The draft requires typ, alg, sub, exp and cnf (with a `jwk`) and allows iat; draft 08
//! removed `iss`, which is kept (readers of draft 07 and earlier require it; unknown claims
//! are ignored). HAIP requires x5c, whose leaf is not self-signed; `wallet_name`
//! and `wallet_link` are OpenID4VCI's (Appendix E). In two pure steps like the COSE ones:
//! [`prepare_attestation`] gives the JWS Signing Input, the caller has it signed through
//! `crypto::sign`, [`PreparedAttestation::finish`] takes `r || s`, verifies it again with
//! the x5c leaf's key and returns the compact JWT.

use base64ct::{Base64, Encoding};
use serde::Serialize;
use serde_json::Value as Json;
use time::OffsetDateTime;

use super::JoseError;
use super::jwk::public_ec_key_from_jwk;
use super::jws::{compact, jws_algorithm, signing_input};
use crate::crypto::{Curve, PublicJwk, PublicKey, SignatureAlgorithm};
use crate::x509::ParsedCertificate;

/// The JWT `typ` the draft requires.
pub const ATTESTATION_TYP: &str = "oauth-client-attestation+jwt";
/// Longest clientId, walletName and issuer, in characters.
pub const MAX_NAME_LEN: usize = 256;
/// Longest walletLink, in characters.
pub const MAX_LINK_LEN: usize = 2048;
/// Most certificates in x5c.
pub const MAX_X5C: usize = 8;

/// What the wallet provider's backend asks for (`POST /v1/holder/wallet-attestations`).
#[derive(Debug, Clone, Copy)]
pub struct AttestationRequest<'a> {
    /// `sub`: the OAuth client_id of the wallet (`clientId`).
    pub client_id: &'a str,
    /// `cnf.jwk`: the wallet instance's public key, as the request's JSON (`walletKey`).
    pub wallet_key: &'a Json,
    /// Seconds from now to `exp` (`expiresIn`); `None`: the configured default.
    pub expires_in: Option<u64>,
    pub wallet_name: Option<&'a str>,
    pub wallet_link: Option<&'a str>,
}

/// The caller's configuration.
#[derive(Debug, Clone)]
pub struct AttestationPolicy {
    /// `iss`: who attests (the wallet provider), e.g. its URL.
    pub issuer: String,
    /// Lifetime when the request names none; cut at the signer certificate's notAfter.
    pub default_expires_in: u64,
    /// Longest lifetime a request may ask for.
    pub max_expires_in: u64,
}

#[derive(Serialize)]
struct Header {
    typ: &'static str,
    alg: &'static str,
    x5c: Vec<String>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    iat: i64,
    exp: i64,
    cnf: Cnf,
    #[serde(skip_serializing_if = "Option::is_none")]
    wallet_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wallet_link: Option<&'a str>,
}

#[derive(Serialize)]
struct Cnf {
    jwk: PublicJwk,
}

/// An attestation whose signature is still to come.
#[derive(Debug, Clone)]
pub struct PreparedAttestation {
    signing_input: String,
    alg: SignatureAlgorithm,
    curve: Curve,
    key: PublicKey,
    wallet_key: PublicKey,
    issued_at: OffsetDateTime,
    expires_at: OffsetDateTime,
}

/// Check the request against the draft, the policy and the signer certificate, and build
/// the JWS Signing Input. `now` is the caller's clock (fractions of a second dropped: JWT
/// NumericDates here are whole seconds). `x5c` is the signer certificate first, each one
/// issued by the next, without the trust anchor (HAIP: the leaf is not self-signed; no
/// self-issued certificate is sent).
pub fn prepare_attestation(
    req: &AttestationRequest<'_>,
    policy: &AttestationPolicy,
    now: OffsetDateTime,
    x5c: &[ParsedCertificate],
) -> Result<PreparedAttestation, JoseError> {
    let now = now.replace_nanosecond(0).expect("0 is a nanosecond");
    let signer = check_x5c(x5c, now)?;
    check_policy(policy)?;
    check_text("clientId", req.client_id, MAX_NAME_LEN)?;
    let wallet_key = public_ec_key_from_jwk("walletKey", req.wallet_key)?;
    if let Some(name) = req.wallet_name {
        check_text("walletName", name, MAX_NAME_LEN)?;
    }
    if let Some(link) = req.wallet_link {
        check_link(link)?;
    }
    let expires_at = expiry(req.expires_in, policy, now, signer.not_after())?;

    let key = signer
        .public_key()
        .map_err(|e| JoseError::caller(format!("wallet attestation signer key: {e}")))?;
    let curve = key
        .algorithm()
        .curve()
        .ok_or_else(|| JoseError::caller("the wallet attestation signer key must be EC"))?;
    let (alg, alg_name) = jws_algorithm(curve);
    let header = Header {
        typ: ATTESTATION_TYP,
        alg: alg_name,
        // RFC 7515 section 4.1.6: base64 (standard, padded) DER, not base64url.
        x5c: x5c.iter().map(|c| Base64::encode_string(c.der())).collect(),
    };
    let claims = Claims {
        iss: &policy.issuer,
        sub: req.client_id,
        iat: now.unix_timestamp(),
        exp: expires_at.unix_timestamp(),
        cnf: Cnf {
            jwk: wallet_key.to_jwk(),
        },
        wallet_name: req.wallet_name,
        wallet_link: req.wallet_link,
    };
    Ok(PreparedAttestation {
        signing_input: signing_input(&header, &claims),
        alg,
        curve,
        key,
        wallet_key,
        issued_at: now,
        expires_at,
    })
}

fn check_x5c(
    x5c: &[ParsedCertificate],
    now: OffsetDateTime,
) -> Result<&ParsedCertificate, JoseError> {
    let signer = x5c.first().ok_or_else(|| {
        JoseError::caller("x5c must hold the wallet attestation signer certificate")
    })?;
    if x5c.len() > MAX_X5C {
        return Err(JoseError::caller(format!(
            "x5c holds {} certificates; at most {MAX_X5C}",
            x5c.len()
        )));
    }
    if x5c.iter().any(ParsedCertificate::is_self_issued) {
        return Err(JoseError::caller(
            "x5c must not hold a self-issued certificate (HAIP: the leaf is not self-signed, \
             and the holder root is not sent)",
        ));
    }
    for (i, pair) in x5c.windows(2).enumerate() {
        let (cert, issuer) = (&pair[0], &pair[1]);
        let linked = cert.certificate().tbs_certificate().issuer()
            == issuer.certificate().tbs_certificate().subject()
            && issuer
                .public_key()
                .is_ok_and(|k| cert.verify_signed_by(&k).is_ok());
        if !linked {
            return Err(JoseError::caller(format!(
                "x5c[{i}] is not issued by x5c[{}]",
                i + 1
            )));
        }
    }
    signer.check_valid_at(now).map_err(|e| {
        JoseError::caller(format!("the wallet attestation signer certificate: {e}"))
    })?;
    Ok(signer)
}

fn check_policy(policy: &AttestationPolicy) -> Result<(), JoseError> {
    if policy.issuer.trim().is_empty()
        || policy.issuer.chars().count() > MAX_NAME_LEN
        || policy.issuer.chars().any(char::is_control)
    {
        return Err(JoseError::caller(format!(
            "the attestation issuer must be 1 to {MAX_NAME_LEN} characters without control \
             characters"
        )));
    }
    if policy.default_expires_in == 0 || policy.default_expires_in > policy.max_expires_in {
        return Err(JoseError::caller(
            "the default attestation lifetime must be at least 1 s and at most the maximum",
        ));
    }
    Ok(())
}

/// `exp`: `expires_in` seconds from `now`, refused past the configured maximum or the
/// signer certificate's notAfter (an attestation must not outlive the certificate that
/// vouches for it); without one, the default, cut at that notAfter.
fn expiry(
    expires_in: Option<u64>,
    policy: &AttestationPolicy,
    now: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<OffsetDateTime, JoseError> {
    const F: &str = "expiresIn";
    let Some(secs) = expires_in else {
        let default = now + time::Duration::seconds(policy.default_expires_in as i64);
        return Ok(default.min(not_after));
    };
    if secs == 0 {
        return Err(JoseError::invalid(F, "must be at least 1 second"));
    }
    if secs > policy.max_expires_in {
        return Err(JoseError::invalid(
            F,
            format!(
                "must be at most {} seconds (the configured maximum)",
                policy.max_expires_in
            ),
        ));
    }
    // `secs` is at most the maximum, itself an i64 of seconds in any sane configuration;
    // a larger one overflows into "after notAfter" rather than wrapping.
    let exp = i64::try_from(secs)
        .ok()
        .and_then(|s| now.checked_add(time::Duration::seconds(s)));
    match exp {
        Some(exp) if exp <= not_after => Ok(exp),
        _ => Err(JoseError::invalid(
            F,
            format!(
                "would end after the signer certificate's notAfter ({}); at most {} seconds",
                not_after
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                (not_after - now).whole_seconds().max(0)
            ),
        )),
    }
}

fn check_text(field: &str, s: &str, max: usize) -> Result<(), JoseError> {
    if s.trim().is_empty() {
        return Err(JoseError::invalid(field, "must not be empty"));
    }
    let n = s.chars().count();
    if n > max {
        return Err(JoseError::invalid(
            field,
            format!("is {n} characters; at most {max} are accepted"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(JoseError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// OpenID4VCI Appendix E: "a URL to get further information about the Wallet": an absolute
/// https (or http) URL with a host and no spaces.
fn check_link(link: &str) -> Result<(), JoseError> {
    const F: &str = "walletLink";
    check_text(F, link, MAX_LINK_LEN)?;
    let rest = link
        .strip_prefix("https://")
        .or_else(|| link.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    if host.is_none_or(str::is_empty) || link.contains(char::is_whitespace) {
        return Err(JoseError::invalid(
            F,
            "must be an absolute https URL, such as https://wallet.example.com",
        ));
    }
    Ok(())
}

impl PreparedAttestation {
    /// The JWS Signing Input, what `crypto::sign` signs.
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    /// ES256, ES384 or ES512 by the signer key's curve.
    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.alg
    }

    /// The x5c leaf's key.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// The wallet instance's key, as validated (what `cnf.jwk` carries).
    pub fn wallet_key(&self) -> &PublicKey {
        &self.wallet_key
    }

    pub fn issued_at(&self) -> OffsetDateTime {
        self.issued_at
    }

    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }

    /// Complete with the raw `r || s` of [`PreparedAttestation::signing_input`]
    /// (`VerifiedSignature::to_fixed`): accepted only at the curve's length and if it
    /// verifies with the x5c leaf's key, so a token key paired with the wrong certificate
    /// fails here, not at the verifier.
    pub fn finish(self, signature: &[u8]) -> Result<WalletAttestation, JoseError> {
        let want = 2 * self.curve.field_len();
        if signature.len() != want {
            return Err(JoseError::caller(format!(
                "the signature is {} bytes; {} takes r || s of {want}",
                signature.len(),
                self.alg.name()
            )));
        }
        self.key
            .verify_fixed(self.alg, self.signing_input.as_bytes(), signature)
            .map_err(|_| {
                JoseError::caller(
                    "the signature does not verify with the wallet attestation signer certificate",
                )
            })?;
        Ok(WalletAttestation {
            token: compact(&self.signing_input, signature),
            issued_at: self.issued_at,
            expires_at: self.expires_at,
        })
    }
}

/// A signed wallet attestation.
#[derive(Debug, Clone)]
pub struct WalletAttestation {
    token: String,
    issued_at: OffsetDateTime,
    expires_at: OffsetDateTime,
}

impl WalletAttestation {
    /// The compact JWT (the response's `attestation`).
    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn issued_at(&self) -> OffsetDateTime {
        self.issued_at
    }

    /// `exp` (the response's `expiresAt`).
    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }
}
