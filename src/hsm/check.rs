//! `hsm-pki token check`, an operator's first command on a new HSM, and the token listing
//! behind `check-config`'s explanation of a selector.
//!
//! The check opens the token exactly as the daemon does (same selector, PIN, template
//! policy), then reports what the module and token say of themselves, whether each
//! mechanism the daemon uses is there with the key sizes it needs, whether the session
//! limits leave room for the configured pool, and whether a key of every algorithm can be
//! generated with the daemon's template, keeps the attributes that template asks for, and
//! makes signatures that verify in Rust. Each failed requirement becomes a named reason in
//! [`CheckReport::failures`]; the caller exits non-zero when there is one.

use std::sync::atomic::Ordering;
use std::time::Instant;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::MechanismType;
use cryptoki::slot::Limit;

use super::error::{HsmError, classify};
use super::token::{TOKEN_OPEN, slot_facts};
use super::{SlotFacts, Token, TokenConfig};
use crate::crypto::{KeyAlgorithm, SignatureAlgorithm, sign};

/// What the check found: lines to print, in order, and the reasons it fails (empty: the
/// token can serve the daemon).
#[derive(Debug, Default)]
pub struct CheckReport {
    pub lines: Vec<String>,
    pub failures: Vec<String>,
}

impl CheckReport {
    fn say(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }

    fn fail(&mut self, reason: impl Into<String>) {
        let reason = reason.into();
        self.lines.push(format!("  FAIL: {reason}"));
        self.failures.push(reason);
    }
}

/// A mechanism the daemon uses, what for, and whether its absence fails the check.
struct Need {
    mechanism: MechanismType,
    name: &'static str,
    used_for: &'static str,
    /// `(min, max)` RSA modulus bits the daemon generates, checked against the
    /// mechanism info (RSA sizes are in bits in every PKCS#11 version; EC sizes are not
    /// compared: modules disagree on bits or bytes, and the test keys decide).
    rsa_bits: Option<(u32, u32)>,
    sign: bool,
    required: bool,
}

fn needs() -> Vec<Need> {
    let rsa: Vec<u32> = KeyAlgorithm::ALL
        .iter()
        .filter_map(|a| a.rsa_bits())
        .collect();
    let rsa_range = (
        rsa.iter().copied().min().unwrap_or(2048),
        rsa.iter().copied().max().unwrap_or(4096),
    );
    let need = |mechanism, name, used_for, sign, required| Need {
        mechanism,
        name,
        used_for,
        rsa_bits: None,
        sign,
        required,
    };
    vec![
        need(
            MechanismType::ECC_KEY_PAIR_GEN,
            "CKM_EC_KEY_PAIR_GEN",
            "P-256/P-384/P-521 keys",
            false,
            true,
        ),
        need(
            MechanismType::ECDSA,
            "CKM_ECDSA",
            "ECDSA over a digest computed here",
            true,
            true,
        ),
        Need {
            rsa_bits: Some(rsa_range),
            ..need(
                MechanismType::RSA_PKCS_KEY_PAIR_GEN,
                "CKM_RSA_PKCS_KEY_PAIR_GEN",
                "RSA keys",
                false,
                true,
            )
        },
        need(
            MechanismType::RSA_PKCS,
            "CKM_RSA_PKCS",
            "RSASSA-PKCS1-v1_5 over a DigestInfo",
            true,
            true,
        ),
        need(
            MechanismType::RSA_PKCS_PSS,
            "CKM_RSA_PKCS_PSS",
            "RSASSA-PSS over a digest",
            true,
            true,
        ),
        // Not used yet; listed so an operator choosing an HSM now knows.
        need(
            MechanismType::ECC_EDWARDS_KEY_PAIR_GEN,
            "CKM_EC_EDWARDS_KEY_PAIR_GEN",
            "later: Ed25519 keys (COSE/JOSE EdDSA)",
            false,
            false,
        ),
        need(
            MechanismType::EDDSA,
            "CKM_EDDSA",
            "later: EdDSA signatures",
            true,
            false,
        ),
        need(
            MechanismType::ML_DSA_KEY_PAIR_GEN,
            "CKM_ML_DSA_KEY_PAIR_GEN",
            "later: ML-DSA keys (FIPS 204)",
            false,
            false,
        ),
        need(
            MechanismType::ML_DSA,
            "CKM_ML_DSA",
            "later: ML-DSA signatures",
            true,
            false,
        ),
    ]
}

fn limit(l: Limit) -> String {
    match l {
        Limit::Max(n) => n.to_string(),
        Limit::Unavailable => "not reported".into(),
        Limit::Infinite => "unlimited".into(),
    }
}

/// Run the check against the token `cfg` selects. Never panics on what the token says;
/// everything it refuses is a failure in the report.
pub fn check_token(cfg: &TokenConfig) -> CheckReport {
    let mut r = CheckReport::default();
    r.say(format!("module: {}", cfg.module_path.display()));
    let token = match Token::open(cfg.clone()) {
        Ok(t) => t,
        Err(e) => {
            r.fail(format!("cannot open the token ({}): {e}", cfg.token));
            // Say what the module does offer, so a wrong selector is visible at once.
            match list_tokens(cfg) {
                Ok(all) if all.is_empty() => r.say("  the module lists no token"),
                Ok(all) => {
                    r.say("  tokens the module lists:");
                    for f in all {
                        r.say(format!("    {}", describe(&f)));
                    }
                }
                Err(e) => r.say(format!("  listing the module's tokens failed too: {e}")),
            }
            return r;
        }
    };
    if let Err(e) = describe_token(&token, cfg, &mut r) {
        r.fail(format!("reading module and token info: {e}"));
    }
    test_keys(&token, &mut r);
    r
}

fn describe_token(token: &Token, cfg: &TokenConfig, r: &mut CheckReport) -> Result<(), HsmError> {
    token.inner.with_live(|live| {
        let lib = &live.ctx;
        let info = lib.get_library_info().map_err(classify)?;
        let v = info.cryptoki_version();
        let lv = info.library_version();
        r.say(format!(
            "library: {} / {} version {}.{}, PKCS#11 {}.{}",
            info.manufacturer_id().trim_end(),
            info.library_description().trim_end(),
            lv.major(),
            lv.minor(),
            v.major(),
            v.minor()
        ));
        let facts = slot_facts(lib, live.slot).map_err(classify)?;
        r.say(format!("token: {}", describe(&facts)));
        let t = lib.get_token_info(live.slot).map_err(classify)?;
        r.say(format!(
            "  flags: login required {}, RNG {}, write protected {}, user PIN locked {}, \
             final try {}, count low {}",
            t.login_required(),
            t.rng(),
            t.write_protected(),
            t.user_pin_locked(),
            t.user_pin_final_try(),
            t.user_pin_count_low()
        ));
        if t.write_protected() {
            r.fail("the token is write protected (CKF_WRITE_PROTECTED): no key can be made");
        }
        // The daemon holds one login session and `pool_size` operation sessions, all
        // read-write, for as long as it runs.
        let wanted = cfg.pool_size.max(1) as u64 + 1;
        r.say(format!(
            "  sessions: at most {} ({} read-write), {} open now; the daemon keeps {wanted} \
             read-write (token.pool_size {} + its login session)",
            limit(t.max_session_count()),
            limit(t.max_rw_session_count()),
            t.session_count()
                .map_or("not reported".into(), |n| n.to_string()),
            cfg.pool_size
        ));
        for (what, l) in [
            ("sessions", t.max_session_count()),
            ("read-write sessions", t.max_rw_session_count()),
        ] {
            if let Limit::Max(n) = l
                && n < wanted
            {
                r.fail(format!(
                    "the token allows {n} {what}, the daemon needs {wanted}: lower \
                     token.pool_size to {} or below",
                    n.saturating_sub(1).max(1)
                ));
            }
        }
        let offered = lib.get_mechanism_list(live.slot).map_err(classify)?;
        r.say(format!("mechanisms ({} offered):", offered.len()));
        for n in needs() {
            let tag = if n.required { "required" } else { "optional" };
            if !offered.contains(&n.mechanism) {
                if n.required {
                    r.fail(format!("{} missing ({})", n.name, n.used_for));
                } else {
                    r.say(format!("  {:<28} absent   {tag}: {}", n.name, n.used_for));
                }
                continue;
            }
            let m = lib
                .get_mechanism_info(live.slot, n.mechanism)
                .map_err(classify)?;
            r.say(format!(
                "  {:<28} key sizes {}..{}{} {tag}: {}",
                n.name,
                m.min_key_size(),
                m.max_key_size(),
                if m.hardware() { ", hardware" } else { "" },
                n.used_for
            ));
            let flag_ok = if n.sign {
                m.sign()
            } else {
                m.generate_key_pair()
            };
            if n.required && !flag_ok {
                let flag = if n.sign {
                    "CKF_SIGN"
                } else {
                    "CKF_GENERATE_KEY_PAIR"
                };
                r.fail(format!("{} is offered without {flag}", n.name));
            }
            if let Some((lo, hi)) = n.rsa_bits
                && (m.min_key_size() > lo as usize || m.max_key_size() < hi as usize)
            {
                r.fail(format!(
                    "{} supports {}..{} bits; the daemon generates {lo}..{hi}",
                    n.name,
                    m.min_key_size(),
                    m.max_key_size()
                ));
            }
        }
        Ok(())
    })
}

/// One key of every algorithm, made exactly as the daemon makes its keys, checked, used and
/// destroyed. Its label has the daemon's prefix, so a key left by a crash in the middle is
/// destroyed by the daemon's next reconciliation.
fn test_keys(token: &Token, r: &mut CheckReport) {
    r.say("test keys (the daemon's template, signed here, verified in Rust):");
    for alg in KeyAlgorithm::ALL {
        let started = Instant::now();
        let key = match token.generate_fresh(alg, "hsm-pki.token-check.") {
            Ok(k) => k,
            Err(e) => {
                r.fail(format!(
                    "generating a {} key with the daemon's template: {e}",
                    alg.name()
                ));
                continue;
            }
        };
        let took = started.elapsed();
        let mut problems = Vec::new();
        match token.inspect_private_key(key.label()) {
            Ok(a) => {
                for (ok, what) in [
                    (a.sensitive, "CKA_SENSITIVE is false"),
                    (!a.extractable, "CKA_EXTRACTABLE is true"),
                    (!a.modifiable, "CKA_MODIFIABLE is true"),
                    (a.token && a.private, "not a private token object"),
                    (a.sign, "CKA_SIGN is false"),
                    (!a.other_use, "may decrypt, unwrap or derive"),
                    (!a.value_readable, "the private value is readable"),
                ] {
                    if !ok {
                        problems.push(what.to_owned());
                    }
                }
            }
            Err(e) => problems.push(format!("reading its attributes: {e}")),
        }
        let sigs: Vec<SignatureAlgorithm> = signature_algorithms(alg);
        for s in &sigs {
            if let Err(e) = sign(&key, *s, b"hsm-pki token check") {
                problems.push(format!("{}: {e}", s.name()));
            }
        }
        let label = key.label().to_owned();
        drop(key);
        if let Err(e) = token.destroy(&label) {
            problems.push(format!("destroying it: {e}"));
        }
        if problems.is_empty() {
            let names: Vec<&str> = sigs.iter().map(|s| s.name()).collect();
            r.say(format!(
                "  {:<10} generated in {} ms, attributes as asked, {} verify",
                alg.name(),
                took.as_millis(),
                names.join(", ")
            ));
        } else {
            r.fail(format!("{} test key: {}", alg.name(), problems.join("; ")));
        }
    }
}

/// Every signature algorithm the daemon may use with a key of `alg`.
fn signature_algorithms(alg: KeyAlgorithm) -> Vec<SignatureAlgorithm> {
    use SignatureAlgorithm::*;
    if alg.is_ec() {
        vec![alg.default_signature()]
    } else {
        vec![RsaPkcs1Sha256, RsaPssSha256, RsaPssSha512]
    }
}

/// One token as an operator would select it: its RFC 7512 URI and the rest of its info.
pub fn describe(f: &SlotFacts) -> String {
    format!(
        "pkcs11:token={};serial={};slot-id={} (manufacturer {:?}, model {:?}, slot {:?})",
        uri_escape(&f.token),
        uri_escape(&f.serial),
        f.slot_id,
        f.manufacturer,
        f.model,
        f.slot_description
    )
}

fn uri_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Every token `cfg.module_path` lists, for explaining a selector that matches none or
/// several. Loads and initialises the module for the duration, so it must run where no
/// [`Token`] is open (the CLI; one PKCS#11 context per process).
pub fn list_tokens(cfg: &TokenConfig) -> Result<Vec<SlotFacts>, HsmError> {
    if TOKEN_OPEN
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err(HsmError::unusable(
            "a token is already open in this process (one PKCS#11 context per process)",
        ));
    }
    let result = (|| {
        let lib = Pkcs11::new(&cfg.module_path).map_err(classify)?;
        if let Err(e) = lib.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            // As in `TokenInner::initialize`: some modules stay initialised after failing.
            let _ = lib.finalize();
            return Err(classify(e));
        }
        let facts = lib.get_slots_with_token().map(|slots| {
            slots
                .into_iter()
                .filter_map(|s| slot_facts(&lib, s).ok())
                .collect()
        });
        let _ = lib.finalize();
        facts.map_err(classify)
    })();
    TOKEN_OPEN.store(false, Ordering::Release);
    result
}
