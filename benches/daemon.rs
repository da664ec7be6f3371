//! `scripts/bench`: the token's raw signing ceiling and the daemon's rates, side by side, from
//! one run on one machine.
//!
//! 1. Ceiling: CKM_ECDSA P-256 over a precomputed SHA-256 digest, straight through cryptoki
//!    (no daemon code), one session per thread, for 1 thread and for one thread per core.
//!    Floor: what this design cannot avoid per signature, measured the same way: hash the
//!    message in Rust, the token signs the digest, the signature is verified in Rust with the
//!    verifier the daemon uses (`crypto::PublicKey::verify_fixed`, aws-lc-rs). Every
//!    scenario's rate is printed as a ratio to both, beside the daemon's CPU per request.
//! 2. The release daemon over real HTTP on 127.0.0.1, driven by the built-in load generator
//!    (keep-alive connections, closed loop at full speed, then paced at half the peak rate):
//!    CA-signed certificate issuance for a public JWK, document signer issuance, CSR creation,
//!    mdoc signing (ten elements), wallet attestations, a public CRL fetch (stored bytes), and
//!    a mix (80% mdoc, 15% certificate, 5% reads).
//! 3. Ratio daemon/ceiling and the daemon's RSS, sampled once a second.
//!
//! 4. With `--audit-events N`: N audit events written into the daemon's database, then
//!    certificate issuance measured alone and beside eight clients running filtered audit
//!    searches that match nothing (the worst case for the indexes), p50 side by side.
//!
//! 5. With `--preload N`: N issued certificates with their audit events and ledger rows
//!    written into the store before the phases (setup, `support/preload.rs`), so that a
//!    run with 0 and one with millions compare rate, p99 and RSS at scale.
//!
//! Options (after `--`): `--duration SECS` (per phase, default 10), `--concurrency N`
//! (default 2 × cores), `--scenario NAME` (repeatable; default all), `--audit-events N`
//! (default 0: no audit phase), `--preload N` (default 0), `--peak-only` (no half-rate
//! phases: for a long full-load run, `--duration 600`, whose RSS after the first minute
//! and at the end are printed).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/preload.rs"]
mod preload;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Daemon, TestToken, call};

struct Options {
    duration: Duration,
    concurrency: usize,
    scenarios: Vec<String>,
    audit_events: u64,
    preload: u64,
    /// Skip the half-rate phases (the 10-minute RSS run measures full load only).
    peak_only: bool,
}

fn options() -> Options {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut o = Options {
        duration: Duration::from_secs(10),
        concurrency: 2 * cores,
        scenarios: Vec::new(),
        audit_events: 0,
        preload: 0,
        peak_only: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let next = || args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--duration" => {
                o.duration = Duration::from_secs(next().parse().expect("--duration SECS"))
            }
            "--concurrency" => o.concurrency = next().parse().expect("--concurrency N"),
            "--scenario" => o.scenarios.push(next()),
            "--audit-events" => o.audit_events = next().parse().expect("--audit-events N"),
            "--preload" => o.preload = next().parse().expect("--preload N"),
            "--peak-only" => {
                o.peak_only = true;
                i += 1;
                continue;
            }
            // cargo bench passes --bench; ignore what we do not know.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

/// Raw ceiling and the design's floor, signatures per second with `threads` threads, each
/// with its own session: (C_Sign of a precomputed digest alone, hash + C_Sign + verify).
fn ceiling(hsm: &TestToken, threads: usize, duration: Duration) -> (f64, f64) {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::mechanism::Mechanism;
    use cryptoki::object::{Attribute, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;

    let ctx = Pkcs11::new(hsm.module()).expect("load module");
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .expect("C_Initialize");
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .map(|i| i.label().trim() == hsm.label)
                .unwrap_or(false)
        })
        .expect("bench token");
    let login = ctx.open_rw_session(slot).unwrap();
    login
        .login(UserType::User, Some(&AuthPin::new(hsm.pin.clone().into())))
        .unwrap();
    let label = format!("bench-ceiling-{threads}");
    // P-256 named curve OID, DER.
    let params = vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let (public, key) = login
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(false),
                Attribute::EcParams(params),
                Attribute::Verify(true),
            ],
            &[
                Attribute::Token(false),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Sign(true),
                Attribute::Label(label.into_bytes()),
                Attribute::Class(ObjectClass::PRIVATE_KEY),
            ],
        )
        .expect("generate ceiling key");
    let point = match login
        .get_attributes(public, &[cryptoki::object::AttributeType::EcPoint])
        .unwrap()
        .pop()
    {
        Some(Attribute::EcPoint(p)) => p,
        other => panic!("no EC point: {other:?}"),
    };
    let verifier =
        hsm_pki::hsm::parse_ec_point(hsm_pki::crypto::Curve::P256, &point).expect("EC point");
    // A message the size of a certificate's TBS: what the daemon hashes per request.
    let message = vec![0x5au8; 600];
    let digest = hsm_pki::crypto::HashAlg::Sha256.digest(&message);
    let phase = |full: bool| {
        let total = AtomicU64::new(0);
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let session = ctx.open_ro_session(slot).unwrap();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        if full {
                            let d = hsm_pki::crypto::HashAlg::Sha256.digest(&message);
                            let sig = session.sign(&Mechanism::Ecdsa, key, &d).expect("C_Sign");
                            verifier
                                .verify_fixed(
                                    hsm_pki::crypto::SignatureAlgorithm::EcdsaSha256,
                                    &message,
                                    &sig,
                                )
                                .expect("verify");
                        } else {
                            session
                                .sign(&Mechanism::Ecdsa, key, &digest)
                                .expect("C_Sign");
                        }
                        n += 1;
                    }
                    total.fetch_add(n, Ordering::Relaxed);
                });
            }
            std::thread::sleep(duration);
            stop.store(true, Ordering::Relaxed);
        });
        total.load(Ordering::Relaxed) as f64 / duration.as_secs_f64()
    };
    let raw = phase(false);
    let floor = phase(true);
    drop(login);
    drop(ctx); // C_Finalize: the daemon gets the token to itself afterwards.
    (raw, floor)
}

/// One request of a scenario: GET when `body` is empty.
#[derive(Clone)]
struct Req {
    path: String,
    body: String,
}

/// One scenario: the requests the load generator repeats, in this order (a mix lists each
/// as often as its share).
struct Scenario {
    name: &'static str,
    path: String,
    body: String,
    mix: Vec<Req>,
}

impl Scenario {
    fn one(name: &'static str, path: String, body: String) -> Scenario {
        Scenario {
            name,
            mix: vec![Req {
                path: path.clone(),
                body: body.clone(),
            }],
            path,
            body,
        }
    }
}

fn scenarios(target: &str, crl_path: &str) -> Vec<Scenario> {
    // A fixed public P-256 JWK for the subject: only the public half is sent.
    let subject_jwk = r#"{"kty":"EC","crv":"P-256","x":"q0xi21uudhkC1QMykfYryN9bcDx480iJLSaRI05CWgY","y":"NhD-09xqrUgE2-qSt8g5imePgKPPNVpYoHmsTL2f4io"}"#;
    let mut v = vec![
        Scenario::one(
            "certificate",
            format!("/v1/{target}/x509-service-api/certificate"),
            format!(
                r#"{{"certificateData":{{"subjectName":{{"commonName":"Bench Leaf","country":"US"}},"keyUsage":["DigitalSignature"]}},
                   "subjectPublicKeySource":{{"type":"key-descriptor","keyDescriptor":{{"type":"jwk-encoded-key-descriptor","jwk":{subject_jwk}}}}},
                   "issuer":{{"type":"ca-signed","issuerKeyDescriptor":{{"type":"kms-hosted-key-descriptor","keyIdPath":"bench.tenant.kms1.ca"}}}}}}"#
            ),
        ),
        Scenario::one(
            "document-signer",
            format!("/v1/{target}/x509-service-api/iso/document-signers"),
            format!(
                r#"{{"iacaSigner":{{"type":"iaca-cert-data-descriptor","iacaKeyDesc":{{"type":"kms-hosted-key-descriptor","keyIdPath":"bench.tenant.kms1.iaca"}},
                     "certificateData":{{"country":"US","commonName":"Bench IACA","notBefore":"2025-05-28T12:23:01Z","notAfter":"2040-05-24T12:23:01Z","issuerAlternativeNameConf":{{"uri":"https://iaca.example.com"}}}}}},
                   "certificateData":{{"country":"US","commonName":"Bench DS","crlDistributionPointUri":"https://crl.example.com"}},
                   "dsPublicKeySource":{{"type":"key-descriptor","keyDescriptor":{{"type":"jwk-encoded-key-descriptor","jwk":{subject_jwk}}}}}}}"#
            ),
        ),
        Scenario::one(
            "csr",
            format!("/v1/{target}/x509-service-api/csrs"),
            r#"{"type":"generic","subjectKeyDescriptor":{"type":"kms-hosted-key-descriptor","keyIdPath":"bench.tenant.kms1.leaf"},
                     "subjectName":{"commonName":"Bench CSR","country":"US"}}"#
                .to_owned(),
        ),
        Scenario::one(
            "mdoc",
            "/v2/credentials/mobile/sign".to_owned(),
            mdoc_body(subject_jwk),
        ),
        Scenario::one(
            "wallet-attestation",
            "/v1/holder/wallet-attestations".to_owned(),
            format!(
                r#"{{"clientId":"https://wallet.example.com/app","walletKey":{subject_jwk},"walletName":"Bench Wallet"}}"#
            ),
        ),
    ];
    let pick = |name: &str| {
        let s = v.iter().find(|s| s.name == name).unwrap();
        Req {
            path: s.path.clone(),
            body: s.body.clone(),
        }
    };
    // 80% mdoc, 15% certificate, 5% reads, interleaved.
    let mut mix = Vec::new();
    for i in 0..20 {
        mix.push(match i {
            3 | 10 | 17 => pick("certificate"),
            // Reads: a page of the certificate store (the table that grows) and of keys.
            19 => Req {
                path: "/v1/bench.tenant.x509-store-1/x509-store-api/certificates?limit=10".into(),
                body: String::new(),
            },
            _ => pick("mdoc"),
        });
    }
    v.push(Scenario::one(
        "crl-fetch",
        crl_path.to_owned(),
        String::new(),
    ));
    v.push(Scenario {
        name: "mixed",
        path: String::new(),
        body: String::new(),
        mix,
    });
    v
}

/// A sign request with ten elements, by the document signer the daemon provisions under
/// the tenant's managed IACA. Valid from an hour from now (so the run may take that long)
/// for 30 days.
fn mdoc_body(device_jwk: &str) -> String {
    let fmt = |t: time::OffsetDateTime| {
        t.replace_nanosecond(0)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let from = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let until = from + time::Duration::days(30);
    format!(
        r#"{{"payload":{{"docType":"org.iso.18013.5.1.mDL","deviceKeyInfo":{{"deviceKey":{device_jwk}}},
            "validityInfo":{{"validFrom":"{}","validUntil":"{}"}},
            "itemsToSign":{{"org.iso.18013.5.1":{{
              "family_name":{{"type":"string","value":"Doe"}},"given_name":{{"type":"string","value":"Jane"}},
              "birth_date":{{"type":"full-date","value":"1990-04-01"}},"issue_date":{{"type":"full-date","value":"2026-12-01"}},
              "expiry_date":{{"type":"full-date","value":"2031-12-01"}},"issuing_country":{{"type":"string","value":"US"}},
              "document_number":{{"type":"string","value":"D1234567"}},"age_over_18":{{"type":"boolean","value":true}},
              "height":{{"type":"number","value":170}},
              "driving_privileges":{{"type":"org.iso.18013.5.1.driving_privileges","value":[{{"vehicle_category_code":"C","issue_date":"2020-01-01","expiry_date":"2030-01-01"}}]}}}}}}}}}}"#,
        fmt(from),
        fmt(until)
    )
}

#[derive(Default)]
struct Run {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
    fn pct(&mut self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        self.latencies.sort_unstable();
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1e3
    }
}

/// Drive `sc` with `conns` keep-alive connections for `duration`. With `rate`, each
/// connection sends on a fixed schedule (open loop, so slow responses show as latency);
/// without, as fast as responses come back.
fn load(
    addr: SocketAddr,
    token: &str,
    sc: &Scenario,
    conns: usize,
    duration: Duration,
    rate: Option<f64>,
) -> Run {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let auth = format!("Bearer {token}");
    let started = Instant::now();
    let runs = rt.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..conns {
            let (auth, mix) = (auth.clone(), sc.mix.clone());
            tasks.push(tokio::spawn(async move {
                use http_body_util::{BodyExt, Full};
                let mut run = Run::default();
                let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(conn);
                let deadline = tokio::time::Instant::now() + duration;
                let interval = rate.map(|r| Duration::from_secs_f64(conns as f64 / r));
                // Stagger paced connections so their sends spread over the interval.
                let mut next = tokio::time::Instant::now()
                    + interval.map_or(Duration::ZERO, |i| i.mul_f64(c as f64 / conns as f64));
                // Each connection starts at its own place in the mix.
                let mut turn = c;
                while tokio::time::Instant::now() < deadline {
                    if let Some(i) = interval {
                        tokio::time::sleep_until(next).await;
                        next += i;
                    }
                    let r = &mix[turn % mix.len()];
                    turn += 1;
                    let builder = if r.body.is_empty() {
                        hyper::Request::get(r.path.as_str())
                    } else {
                        hyper::Request::post(r.path.as_str())
                            .header("content-type", "application/json")
                    };
                    let req = builder
                        .header("host", "127.0.0.1")
                        .header("authorization", auth.as_str())
                        .body(Full::new(bytes::Bytes::from(r.body.clone())))
                        .unwrap();
                    let t = Instant::now();
                    match sender.send_request(req).await {
                        Ok(resp) => {
                            let status = resp.status();
                            let bytes = resp.into_body().collect().await.map(|b| b.to_bytes());
                            if status.is_success() && bytes.is_ok() {
                                run.ok += 1;
                                run.latencies.push(t.elapsed());
                            } else {
                                run.errors += 1;
                                if run.first_error.is_none() {
                                    run.first_error = Some(format!(
                                        "{status} {}",
                                        bytes
                                            .map(|b| String::from_utf8_lossy(&b).into_owned())
                                            .unwrap_or_default()
                                    ));
                                }
                            }
                        }
                        Err(e) => {
                            run.errors += 1;
                            run.first_error.get_or_insert_with(|| e.to_string());
                            break;
                        }
                    }
                }
                run
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.push(t.await.unwrap());
        }
        all
    });
    let mut total = Run {
        elapsed: started.elapsed(),
        ..Default::default()
    };
    for r in runs {
        total.ok += r.ok;
        total.errors += r.errors;
        total.latencies.extend(r.latencies);
        if total.first_error.is_none() {
            total.first_error = r.first_error;
        }
    }
    total
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// CPU time (user + system) the process `pid` has used so far.
fn cpu_time(pid: u32) -> Duration {
    // /proc/<pid>/stat fields 14 and 15 (utime, stime) in clock ticks; the command name in
    // field 2 may hold spaces, so count from the closing parenthesis.
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.to_owned();
            let f: Vec<u64> = rest
                .split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|v| v.parse().ok())
                .collect();
            (f.len() == 2).then(|| f[0] + f[1])
        })
        .unwrap_or(0);
    // USER_HZ is 100 on every Linux ABI this runs on.
    Duration::from_millis(ticks * 10)
}

/// Context switches (voluntary and not) of all the threads of `pid` so far: each hop of a
/// request from one thread to another (a tokio worker handing work to the blocking pool, a
/// writer waiting for the group fsync, a parked worker woken by a response) is at least one.
fn context_switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("status")).ok())
        .flat_map(|s| {
            s.lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

fn main() {
    let o = options();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let hsm = TestToken::new("bench");
    hsm.export_env();

    eprintln!(
        "measuring the token's ceiling ({} s per phase)...",
        o.duration.min(Duration::from_secs(10)).as_secs()
    );
    // At most 10 s each: a long run is about the daemon, and these rates settle fast.
    let raw = o.duration.min(Duration::from_secs(10));
    let (ceil_1, floor_1) = ceiling(&hsm, 1, raw);
    let (ceil_n, floor_n) = ceiling(&hsm, cores, raw);

    // One token session per core: more cannot sign faster, fewer leaves a core idle. The
    // public budget per address is lifted: the load generator is one address.
    let daemon = Daemon::start_tables(
        &hsm,
        cores.max(2),
        "warn",
        "public_burst = 1000000\npublic_requests_per_minute = 1000000",
        "",
        "",
    );
    daemon.wait_status("/readyz", 200, Duration::from_secs(20));
    // Issuer for the X.509 and mobile scenarios, holder for the wallet attestations.
    let token = daemon.create_token("bench.tenant", &["issuer", "holder"]);
    for (id, alg) in [
        ("ca", "secp256r1"),
        ("iaca", "secp256r1"),
        ("leaf", "secp256r1"),
    ] {
        let (s, b) = call(
            daemon.addr,
            &token,
            "POST",
            "/v1/keys",
            Some(&format!(r#"{{"keyId":"{id}","algorithm":"{alg}"}}"#)),
        );
        assert_eq!(s, 201, "{b}");
    }
    // The CA key needs a certificate for CA-signed issuance in some designs; issuing a
    // self-signed CA certificate for it first keeps either design satisfied.
    let target = "bench.tenant.x509-service-1";
    let _ = call(
        daemon.addr,
        &token,
        "POST",
        &format!("/v1/{target}/x509-service-api/certificate"),
        Some(
            r#"{"certificateData":{"subjectName":{"commonName":"Bench CA","country":"US"},"isCertificateAuthority":true,"pathLengthConstraint":0,"keyUsage":["KeyCertSign","CRLSign"]},
                 "subjectPublicKeySource":{"type":"key-descriptor","keyDescriptor":{"type":"kms-hosted-key-descriptor","keyIdPath":"bench.tenant.kms1.ca"}},
                 "issuer":{"type":"self-signed"}}"#,
        ),
    );

    // The mdoc scenario: a managed IACA, active; its document signer is provisioned by the
    // first sign request (before the measured phases: the warm-up below).
    let (ok, out) = daemon.cli(&[
        "tenant",
        "set",
        "--tenant",
        "bench.tenant",
        "--country",
        "US",
        "--issuer-alt-uri",
        "https://iaca.example.com",
    ]);
    assert!(ok, "{out}");
    let (s, b) = call(
        daemon.addr,
        &token,
        "POST",
        "/v2/credentials/mobile/iacas",
        Some(r#"{"commonName":"Bench IACA"}"#),
    );
    assert_eq!(s, 201, "{b}");
    let iaca: serde_json::Value = serde_json::from_str(&b).unwrap();
    // The crl-fetch scenario reads the managed IACA's stored CRL (signed by the daemon's
    // timer when the IACA was made).
    let crl_path = format!("/crl/{}.crl", iaca["id"].as_str().unwrap());
    daemon.wait_status(&crl_path, 200, Duration::from_secs(10));
    let (s, b) = call(
        daemon.addr,
        &token,
        "PUT",
        &format!(
            "/v2/credentials/mobile/iacas/{}",
            iaca["id"].as_str().unwrap()
        ),
        Some(r#"{"active":true}"#),
    );
    assert_eq!(s, 200, "{b}");
    // The wallet-attestation scenario: a managed holder root, active; its signer is
    // provisioned by the first request (the warm-up).
    let (s, b) = call(
        daemon.addr,
        &token,
        "POST",
        "/v1/holder/certificates/ca",
        Some("{}"),
    );
    assert_eq!(s, 201, "{b}");
    let root: serde_json::Value = serde_json::from_str(&b).unwrap();
    let (s, b) = call(
        daemon.addr,
        &token,
        "PUT",
        &format!(
            "/v1/holder/certificates/ca/{}",
            root["id"].as_str().unwrap()
        ),
        Some(r#"{"active":true}"#),
    );
    assert_eq!(s, 200, "{b}");
    // The certificate warm-up also gives `--preload` its template.
    for name in ["mdoc", "wallet-attestation", "certificate"] {
        let warm = scenarios(target, &crl_path)
            .into_iter()
            .find(|s| s.name == name)
            .unwrap();
        let (s, b) = call(daemon.addr, &token, "POST", &warm.path, Some(&warm.body));
        assert_eq!(s, 200, "{name}: {b}");
    }

    let preloaded = if o.preload > 0 {
        eprintln!(
            "preloading {} certificates (setup, not measured)...",
            o.preload
        );
        let secs = preload::preload(
            &daemon.db_path(),
            "bench.tenant",
            "X509_CERTIFICATE_CREATE",
            o.preload,
        );
        Some(secs)
    } else {
        None
    };

    let pid = daemon.child.id();
    let rss_start = rss_kib(pid, "VmRSS:");
    let sampler_stop = Arc::new(AtomicBool::new(false));
    let samples = {
        let stop = sampler_stop.clone();
        std::thread::spawn(move || {
            let mut v = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                v.push(rss_kib(pid, "VmRSS:"));
                std::thread::sleep(Duration::from_secs(1));
            }
            v
        })
    };

    println!();
    println!(
        "hsm-pki benchmark: {cores} cores, {} s per phase, {} connections",
        o.duration.as_secs(),
        o.concurrency
    );
    println!();
    let db_mib = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len()) >> 20;
    match preloaded {
        Some(secs) => println!(
            "store: {} certificates, {} audit events preloaded in {secs:.0} s (setup); \
             database {} MiB",
            o.preload,
            2 * o.preload,
            db_mib(&daemon.db_path())
        ),
        None => println!(
            "store: empty but for the setup; database {} MiB",
            db_mib(&daemon.db_path())
        ),
    }
    println!();
    println!("token ceiling (CKM_ECDSA P-256, precomputed digest, session per thread)");
    println!("  1 thread          {ceil_1:>10.0} sig/s");
    println!("  {cores} threads         {ceil_n:>10.0} sig/s");
    println!("floor (SHA-256 in Rust + C_Sign + aws-lc-rs verification, session per thread)");
    println!(
        "  1 thread          {floor_1:>10.0} sig/s   {:>6.1} µs",
        1e6 / floor_1
    );
    println!(
        "  {cores} threads         {floor_n:>10.0} sig/s   {:>6.1} µs of CPU each",
        1e6 * cores as f64 / floor_n
    );
    println!();
    println!(
        "{:<18} {:>8} {:>6} {:>6} {:>7} {:>7} {:>7} {:>6} {:>7} {:>5} | {:>9} {:>7} {:>6}",
        "daemon",
        "req/s",
        "/floor",
        "/ceil",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "errors",
        "cpu µs",
        "cs",
        "half req/s",
        "p99 ms",
        "errors"
    );
    for sc in scenarios(target, &crl_path) {
        if !o.scenarios.is_empty() && !o.scenarios.iter().any(|s| s == sc.name) {
            continue;
        }
        let (cpu_before, cs_before) = (cpu_time(pid), context_switches(pid));
        let mut peak = load(daemon.addr, &token, &sc, o.concurrency, o.duration, None);
        let switches = (context_switches(pid) - cs_before) as f64 / peak.ok.max(1) as f64;
        // Daemon CPU per successful request: steadier than req/s when other work shares the
        // machine.
        let cpu_ms = (cpu_time(pid) - cpu_before).as_secs_f64() * 1e6 / peak.ok.max(1) as f64;
        let rate = peak.rate();
        let mut half = if rate > 0.0 && !o.peak_only {
            load(
                daemon.addr,
                &token,
                &sc,
                o.concurrency,
                o.duration,
                Some(rate / 2.0),
            )
        } else {
            Run::default()
        };
        let half_rate = if half.elapsed.is_zero() {
            0.0
        } else {
            half.rate()
        };
        println!(
            "{:<18} {:>8.0} {:>6.3} {:>6.3} {:>7.2} {:>7.2} {:>7.2} {:>6} {:>7.0} {:>5.1} | {:>9.0} {:>7.2} {:>6}",
            sc.name,
            rate,
            rate / floor_n,
            rate / ceil_n,
            peak.pct(0.50),
            peak.pct(0.90),
            peak.pct(0.99),
            peak.errors,
            cpu_ms,
            switches,
            half_rate,
            half.pct(0.99),
            half.errors
        );
        if let Some(e) = peak.first_error.as_ref().or(half.first_error.as_ref()) {
            println!("  first error: {}", e.chars().take(300).collect::<String>());
        }
    }
    if o.audit_events > 0 {
        audit_phase(&daemon, &token, target, &o);
    }
    sampler_stop.store(true, Ordering::Relaxed);
    let samples = samples.join().unwrap();
    let rss_end = rss_kib(pid, "VmRSS:");
    let hwm = rss_kib(pid, "VmHWM:");
    println!();
    println!(
        "daemon RSS: start {} MiB, after 1 min {}, end {} MiB, peak {} MiB, max sampled {} MiB \
         over {} samples; database {} MiB",
        rss_start / 1024,
        samples
            .get(60)
            .map_or("-".to_owned(), |k| format!("{} MiB", k / 1024)),
        rss_end / 1024,
        hwm / 1024,
        samples.iter().max().copied().unwrap_or(0) / 1024,
        samples.len(),
        db_mib(&daemon.db_path())
    );
    println!(
        "(/floor, /ceil = daemon req/s ÷ the {cores}-thread floor and ceiling; each signing request is"
    );
    println!(
        " one token signature, crl-fetch none; cpu µs = daemon CPU, user + system, per request at peak;"
    );
    println!(
        " cs = the daemon's context switches per request at peak, all threads: its hand-offs)"
    );
}

/// Certificate issuance p50 with `o.audit_events` events in the log, alone and while eight
/// clients search the log with filters that match nothing.
fn audit_phase(daemon: &Daemon, token: &str, target: &str, o: &Options) {
    // Written straight into the database (the daemon's own path would take hours): events
    // of this tenant and others, spread over event names and object ids like real ones. Their
    // hashes are not a chain; this phase measures reads, not `audit verify`.
    {
        let conn = rusqlite::Connection::open(daemon.db_path()).unwrap();
        conn.busy_timeout(Duration::from_secs(30)).unwrap();
        let tx = conn.unchecked_transaction().unwrap();
        {
            let mut stmt = tx
                .prepare(
                    "INSERT INTO audit_events (at, tenant, token_id, request_id, event, object_id,
                                               outcome, error_code, prev_hash, hash)
                     VALUES ('2026-12-01T00:00:00Z', ?1, NULL, NULL, ?2, ?3, 'success', NULL,
                             x'00', x'00')",
                )
                .unwrap();
            for i in 0..o.audit_events {
                let tenant = if i % 2 == 0 {
                    "bench.tenant"
                } else {
                    "bench.other"
                };
                let event = format!(
                    "X509_CERTIFICATE_CREATE_{}",
                    ["START", "SUCCESS"][(i % 2) as usize]
                );
                stmt.execute(rusqlite::params![
                    tenant,
                    event,
                    format!("obj-{}", i % 5000)
                ])
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let auditor = daemon.create_token("bench.tenant", &["auditor"]);
    let sc = scenarios(target, "")
        .into_iter()
        .find(|s| s.name == "certificate")
        .unwrap();
    let mut alone = load(daemon.addr, token, &sc, o.concurrency, o.duration, None);
    let stop = Arc::new(AtomicBool::new(false));
    let searches = Arc::new(AtomicU64::new(0));
    let searchers: Vec<_> = (0..8)
        .map(|i| {
            let (stop, searches, auditor, addr) =
                (stop.clone(), searches.clone(), auditor.clone(), daemon.addr);
            std::thread::spawn(move || {
                let path = if i % 2 == 0 {
                    "/v1/audit-events?event=NO_SUCH_EVENT&limit=100"
                } else {
                    "/v1/audit-events?objectId=no-such-object&limit=100"
                };
                while !stop.load(Ordering::Relaxed) {
                    let (s, b) = call(addr, &auditor, "GET", path, None);
                    assert_eq!(s, 200, "{b}");
                    searches.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut loaded = load(daemon.addr, token, &sc, o.concurrency, o.duration, None);
    stop.store(true, Ordering::Relaxed);
    for t in searchers {
        t.join().unwrap();
    }
    let (a, l) = (alone.pct(0.50), loaded.pct(0.50));
    println!();
    println!(
        "certificate issuance with {} audit events: p50 {a:.2} ms alone, {l:.2} ms beside 8 \
         filtered searches ({:.0} searches/s): {:.2}x",
        o.audit_events,
        searches.load(Ordering::Relaxed) as f64 / o.duration.as_secs_f64(),
        l / a
    );
}
