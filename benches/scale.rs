//! `scripts/scale`: what a big token costs, the token's part beside the daemon's (issue 11,
//! items 3 and 4). Not run by CI: populating 10 000 keys takes minutes.
//!
//! One fixture directory (default `target/scale-fixture`) holds a SoftHSM2 token, the daemon's
//! database and config, and an API token. It is kept between runs, so the keys are made
//! once; copy it (`cp -a`) to measure another build on the same token.
//!
//! 1. At the fixture's current size: daemon start to `/readyz` 200, its RSS, the median and
//!    p90 of `POST /v1/keys` (P-256) one at a time and four at once; then, in a child process
//!    with no daemon code, the same token through raw cryptoki: C_Initialize + login, the
//!    process's RSS, a C_GenerateKeyPair with the daemon's templates, a C_FindObjects by
//!    label, the health probe's calls (old: search for the sentinel; new: read it by handle).
//! 2. Populate to `--keys` through the daemon's own API (so every key has its label and its
//!    record, as reconciliation requires), then measure again.
//! 3. `--soak-secs S`: four clients create keys (`--soak-rate`, default 4 a second in all,
//!    so the token grows by that much), two sign CSRs with existing keys, and `/readyz` is
//!    polled every 100 ms; every answer that is not 2xx and every log line about the token
//!    going down is counted.
//!
//! Options (after `--`): `--fixture DIR`, `--keys N` (default 10000), `--samples K` (default
//! 40), `--soak-secs S` (default 0), `--daemon BIN` (default: this build's release binary),
//! `--touch N` (sign once with each of N existing keys before the second RSS reading, so the
//! key cache is full), `--no-measure` (populate and soak only).

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{call, http, softhsm_module};

const TOKEN_LABEL: &str = "scale";
const TENANT: &str = "org.scale";

struct Options {
    fixture: PathBuf,
    keys: usize,
    samples: usize,
    soak: Duration,
    daemon: PathBuf,
    touch: usize,
    measure: bool,
    soak_rate: f64,
}

fn options() -> Options {
    let mut o = Options {
        fixture: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/scale-fixture"),
        keys: 10_000,
        samples: 40,
        soak: Duration::ZERO,
        daemon: PathBuf::from(common::DAEMON_BIN),
        touch: 0,
        measure: true,
        soak_rate: 4.0,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let next = || args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--fixture" => o.fixture = PathBuf::from(next()),
            "--keys" => o.keys = next().parse().expect("--keys N"),
            "--samples" => o.samples = next().parse().expect("--samples K"),
            "--soak-secs" => o.soak = Duration::from_secs(next().parse().expect("--soak-secs S")),
            "--daemon" => o.daemon = PathBuf::from(next()),
            "--touch" => o.touch = next().parse().expect("--touch N"),
            "--soak-rate" => o.soak_rate = next().parse().expect("--soak-rate KEYS_PER_SEC"),
            "--no-measure" => {
                o.measure = false;
                i += 1;
                continue;
            }
            "--raw-child" => {
                raw_child(Path::new(&next()), o.samples);
                std::process::exit(0);
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

/// The fixture: token, database, config, PIN and API token in one directory.
struct Fixture {
    dir: PathBuf,
    api_token: String,
}

impl Fixture {
    fn open_or_create(dir: &Path, daemon: &Path) -> Fixture {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| {
            std::fs::create_dir_all(dir).expect("create fixture dir");
            std::fs::canonicalize(dir).unwrap()
        });
        let pin_file = dir.join("user.pin");
        if !pin_file.exists() {
            create_fixture(&dir, daemon);
        }
        // The token directory is named by absolute path: written again on every open, so a
        // copied fixture uses its own token, not the original's.
        write_softhsm_conf(&dir);
        Fixture {
            api_token: std::fs::read_to_string(dir.join("api.token"))
                .unwrap()
                .trim()
                .to_owned(),
            dir,
        }
    }

    fn softhsm_conf(&self) -> PathBuf {
        self.dir.join("softhsm2.conf")
    }

    /// Keys recorded in the database (read beside a running daemon: WAL).
    fn recorded_keys(&self) -> usize {
        let conn = rusqlite::Connection::open_with_flags(
            self.dir.join("hsm-pki.sqlite3"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        conn.query_row("SELECT count(*) FROM keys", [], |r| r.get::<_, i64>(0))
            .unwrap() as usize
    }
}

fn create_fixture(dir: &Path, daemon: &Path) {
    eprintln!("==> creating fixture in {}", dir.display());
    std::fs::create_dir_all(dir.join("tokens")).unwrap();
    write_softhsm_conf(dir);
    let pin = hex16();
    let out = Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", dir.join("softhsm2.conf"))
        .args(["--init-token", "--free", "--label", TOKEN_LABEL])
        .args(["--so-pin", &hex16(), "--pin", &pin])
        .output()
        .expect("softhsm2-util not found: scripts/scale installs softhsm2");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pin_file = dir.join("user.pin");
    std::fs::write(&pin_file, &pin).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // The issue's settings: the default probe interval; one tenant may hold every key.
    std::fs::write(
        dir.join("hsm-pki.toml"),
        format!(
            r#"[server]
listen = "127.0.0.1:0"
shutdown_grace_secs = 5
[database]
path = "hsm-pki.sqlite3"
[token]
module = "{module}"
label = "{TOKEN_LABEL}"
pin_file = "user.pin"
pool_size = 4
max_keys_per_tenant = 1000000
[health]
probe_interval_ms = 1000
max_backoff_ms = 5000
[logging]
filter = "info"
"#,
            module = softhsm_module().display()
        ),
    )
    .unwrap();
    let out = Command::new(daemon)
        .args(["api-token", "create", "--config"])
        .arg(dir.join("hsm-pki.toml"))
        .args(["--tenant", TENANT, "--role", "issuer"])
        .output()
        .expect("run api-token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.join("api.token"), &out.stdout).unwrap();
}

fn write_softhsm_conf(dir: &Path) {
    let template = include_str!("../hsm-config/softhsm2.conf.template");
    std::fs::write(
        dir.join("softhsm2.conf"),
        template.replace("@TOKENDIR@", dir.join("tokens").to_str().unwrap()),
    )
    .unwrap();
}

fn hex16() -> String {
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A daemon on the fixture.
struct Running {
    child: Child,
    addr: SocketAddr,
    /// From spawn to the first `/readyz` 200 (start-up reconciliation included).
    ready_after: Duration,
}

impl Running {
    fn start(fx: &Fixture, bin: &Path) -> Running {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(fx.dir.join("daemon.log"))
            .unwrap();
        let started = Instant::now();
        let mut child = Command::new(bin)
            .args(["serve", "--config"])
            .arg(fx.dir.join("hsm-pki.toml"))
            .env("SOFTHSM2_CONF", fx.softhsm_conf())
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start hsm-pki");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr: SocketAddr = line
            .trim()
            .strip_prefix("hsm-pki listening on ")
            .unwrap_or_else(|| panic!("daemon did not start: {line:?}"))
            .parse()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            if http(addr, "GET", "/readyz", None).0 == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "not ready within 600 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        Running {
            child,
            addr,
            ready_after: started.elapsed(),
        }
    }

    fn rss_mib(&self) -> f64 {
        rss_kib(self.child.id()) as f64 / 1024.0
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A value from `/metrics` (`hsm_pki_token_searches_total` and `hsm_pki_token_cached_keys`
/// are absent before issue 11).
fn metric(addr: SocketAddr, name: &str) -> Option<u64> {
    let (_, text) = http(addr, "GET", "/metrics", None);
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn create_key(addr: SocketAddr, token: &str) -> (u16, String, Duration) {
    let t = Instant::now();
    let (s, b) = call(
        addr,
        token,
        "POST",
        "/v1/keys",
        Some(r#"{"algorithm":"secp256r1"}"#),
    );
    (s, b, t.elapsed())
}

/// Key creation latencies (ms) with `clients` at once, `n` creations in all, and the
/// answers that were not 201.
fn creations(
    addr: SocketAddr,
    token: &str,
    n: usize,
    clients: usize,
) -> (Vec<f64>, Vec<(u16, String)>) {
    let left = AtomicUsize::new(n);
    let out = Mutex::new(Vec::new());
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..clients {
            s.spawn(|| {
                while left
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| v.checked_sub(1))
                    .is_ok()
                {
                    let (st, b, d) = create_key(addr, token);
                    if st == 201 {
                        out.lock().unwrap().push(d.as_secs_f64() * 1e3);
                    } else {
                        failed.lock().unwrap().push((st, b));
                    }
                }
            });
        }
    });
    (out.into_inner().unwrap(), failed.into_inner().unwrap())
}

fn measure(fx: &Fixture, o: &Options, touch: usize) {
    let n = fx.recorded_keys();
    println!("--- at {n} keys ({})", o.daemon.display());
    let d = Running::start(fx, &o.daemon);
    println!(
        "daemon start to /readyz 200: {:.2} s",
        d.ready_after.as_secs_f64()
    );
    // A few probe intervals, so the probe has run at this size.
    std::thread::sleep(Duration::from_secs(3));
    println!("daemon RSS after start: {:.1} MiB", d.rss_mib());
    let searches = metric(d.addr, "hsm_pki_token_searches_total");
    for clients in [1, 4] {
        let (mut v, failed) = creations(d.addr, &fx.api_token, o.samples, clients);
        println!(
            "POST /v1/keys P-256, {clients} at once: median {:.1} ms, p90 {:.1} ms ({} samples, {} not 201{})",
            percentile(&mut v, 0.5),
            percentile(&mut v, 0.9),
            v.len(),
            failed.len(),
            failed
                .first()
                .map(|f| format!(", first: {} {}", f.0, f.1))
                .unwrap_or_default()
        );
    }
    if touch > 0 {
        println!(
            "daemon RSS before signing with each key: {:.1} MiB",
            d.rss_mib()
        );
        let t = Instant::now();
        let done = touch_keys(d.addr, &fx.api_token, touch);
        println!(
            "signed once with each of {done} keys in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    println!("daemon RSS at the end: {:.1} MiB", d.rss_mib());
    match (searches, metric(d.addr, "hsm_pki_token_searches_total")) {
        (Some(a), Some(b)) => println!(
            "token searches by the daemon meanwhile: {}; keys in its cache: {}",
            b - a,
            metric(d.addr, "hsm_pki_token_cached_keys").unwrap_or(0)
        ),
        _ => println!("token searches by the daemon meanwhile: not reported by this build"),
    }
    d.stop();

    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--samples", &o.samples.to_string(), "--raw-child"])
        .arg(&fx.dir)
        .env("SOFTHSM2_CONF", fx.softhsm_conf())
        .output()
        .expect("raw child");
    assert!(
        out.status.success(),
        "raw child: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
}

/// The ids of the tenant's first `n` keys (the keys API pages them).
fn key_names(addr: SocketAddr, token: &str, n: usize) -> Vec<String> {
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    while names.len() < n {
        let path = match &cursor {
            Some(c) => format!("/v1/keys?limit=100&cursor={c}"),
            None => "/v1/keys?limit=100".to_owned(),
        };
        let (s, b) = call(addr, token, "GET", &path, None);
        assert_eq!(s, 200, "{b}");
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        for k in v["data"].as_array().cloned().unwrap_or_default() {
            names.push(k["keyId"].as_str().unwrap().to_owned());
        }
        match v["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    names.truncate(n);
    names
}

/// A CSR signed by key `name`: the daemon looks the key up in the token and signs.
fn sign_csr(addr: SocketAddr, token: &str, name: &str) -> (u16, String) {
    let body = format!(
        r#"{{"type":"generic","subjectName":{{"commonName":"scale"}},
            "subjectKeyDescriptor":{{"type":"kms-hosted-key-descriptor","keyIdPath":"{TENANT}.kms1.{name}"}}}}"#
    );
    call(
        addr,
        token,
        "POST",
        &format!("/v1/{TENANT}.x509-service-1/x509-service-api/csrs"),
        Some(&body),
    )
}

/// Sign one CSR with each of the first `n` keys, so that every one of them is loaded into
/// the daemon's key cache.
fn touch_keys(addr: SocketAddr, token: &str, n: usize) -> usize {
    let names = key_names(addr, token, n);
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                while let Some(name) = names.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let (st, b) = sign_csr(addr, token, name);
                    assert_eq!(st, 200, "{b}");
                }
            });
        }
    });
    names.len()
}

fn populate(fx: &Fixture, o: &Options) {
    let have = fx.recorded_keys();
    if have >= o.keys {
        return;
    }
    println!("--- populating {have} -> {} keys through the API", o.keys);
    let d = Running::start(fx, &o.daemon);
    let left = AtomicUsize::new(o.keys - have);
    let done = AtomicUsize::new(0);
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                while left
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| v.checked_sub(1))
                    .is_ok()
                {
                    let (st, b, _) = create_key(d.addr, &fx.api_token);
                    assert_eq!(st, 201, "{b}");
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if n.is_multiple_of(1000) {
                        eprintln!(
                            "    {} keys, {:.0} s, {:.1} ms per key so far",
                            have + n,
                            t.elapsed().as_secs_f64(),
                            t.elapsed().as_secs_f64() * 1e3 / n as f64
                        );
                    }
                }
            });
        }
    });
    println!(
        "populated {} keys in {:.0} s",
        done.load(Ordering::Relaxed),
        t.elapsed().as_secs_f64()
    );
    d.stop();
}

/// For `o.soak`: four clients create keys, `o.soak_rate` a second in all (the token grows
/// by that much), two more sign CSRs with keys made before, and `/readyz` is polled every
/// 100 ms. Every answer that is not 2xx is counted, and the daemon's log is searched for the
/// token going down.
fn soak(fx: &Fixture, o: &Options) {
    let n = fx.recorded_keys();
    let log_before = std::fs::read_to_string(fx.dir.join("daemon.log"))
        .unwrap_or_default()
        .len();
    println!(
        "--- soak at {n} keys for {} s: 4 clients create {} keys/s, 2 sign CSRs with old keys, /readyz every 100 ms",
        o.soak.as_secs(),
        o.soak_rate
    );
    let d = Running::start(fx, &o.daemon);
    let old = key_names(d.addr, &fx.api_token, 2000);
    let stop = AtomicBool::new(false);
    let failed = Mutex::new(Vec::new());
    let (ready_ok, ready_bad) = (AtomicUsize::new(0), Mutex::new(Vec::new()));
    let csrs = AtomicUsize::new(0);
    let t0 = Instant::now();
    let period = Duration::from_secs_f64(4.0 / o.soak_rate.max(0.001));
    let mut lat = Vec::new();
    std::thread::scope(|s| {
        let mut creators = Vec::new();
        for _ in 0..4 {
            creators.push(s.spawn(|| {
                let mut lat = Vec::new();
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let (st, b, dur) = create_key(d.addr, &fx.api_token);
                    if st == 201 {
                        lat.push(dur.as_secs_f64() * 1e3);
                    } else {
                        failed.lock().unwrap().push((t0.elapsed(), st, b));
                    }
                    next += period;
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                }
                lat
            }));
        }
        for w in 0..2 {
            let (old, stop, failed, csrs) = (&old, &stop, &failed, &csrs);
            let (addr, token) = (d.addr, &fx.api_token);
            s.spawn(move || {
                let mut i = w;
                while !stop.load(Ordering::Relaxed) && !old.is_empty() {
                    let (st, b) = sign_csr(addr, token, &old[i % old.len()]);
                    if st == 200 {
                        csrs.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.lock().unwrap().push((t0.elapsed(), st, b));
                    }
                    i += 7;
                    std::thread::sleep(Duration::from_millis(50));
                }
            });
        }
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let (st, b) = http(d.addr, "GET", "/readyz", None);
                if st == 200 {
                    ready_ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    ready_bad.lock().unwrap().push((t0.elapsed(), st, b));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        std::thread::sleep(o.soak);
        stop.store(true, Ordering::Relaxed);
        for c in creators {
            lat.extend(c.join().unwrap());
        }
    });
    let rss = d.rss_mib();
    let log = std::fs::read_to_string(fx.dir.join("daemon.log")).unwrap_or_default();
    let log = &log[log_before.min(log.len())..];
    let downs = log.matches("token unavailable").count();
    let unhealthy = log.matches("token marked unhealthy").count();
    let reconciled = log.matches("token and database reconciled").count();
    let failed = failed.into_inner().unwrap();
    let ready_bad = ready_bad.into_inner().unwrap();
    let created = lat.len();
    println!(
        "soak: {created} keys created (now {}), create median {:.1} ms p90 {:.1} ms p99 {:.1} ms; {} CSRs; {} requests not 2xx; /readyz {} x 200, {} x other; daemon RSS {rss:.1} MiB",
        fx.recorded_keys(),
        percentile(&mut lat, 0.5),
        percentile(&mut lat, 0.9),
        percentile(&mut lat, 0.99),
        csrs.load(Ordering::Relaxed),
        failed.len(),
        ready_ok.load(Ordering::Relaxed),
        ready_bad.len()
    );
    println!(
        "soak log: {downs} x 'token unavailable', {unhealthy} x 'token marked unhealthy', {reconciled} reconciliations (1 is the start)"
    );
    for f in failed.iter().take(5) {
        println!("  not 2xx: {f:?}");
    }
    for f in ready_bad.iter().take(5) {
        println!("  /readyz: {f:?}");
    }
    d.stop();
}

// ---- the raw child: the token alone, no daemon code.

fn raw_child(fixture: &Path, samples: usize) {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::mechanism::Mechanism;
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;

    let me = std::process::id();
    let pin = std::fs::read_to_string(fixture.join("user.pin")).unwrap();
    let rss0 = rss_kib(me);
    let t = Instant::now();
    let ctx = Pkcs11::new(softhsm_module()).expect("load module");
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .expect("C_Initialize");
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .map(|i| i.label().trim() == TOKEN_LABEL)
                .unwrap_or(false)
        })
        .expect("scale token");
    let s = ctx.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&AuthPin::new(pin.trim().into())))
        .unwrap();
    let open = t.elapsed();
    let objects = s.find_objects(&[]).unwrap().len();
    println!(
        "raw: {objects} objects; C_Initialize+login {:.0} ms; process RSS {:.1} MiB (module loaded, token open: +{:.1} MiB)",
        open.as_secs_f64() * 1e3,
        rss_kib(me) as f64 / 1024.0,
        (rss_kib(me) - rss0) as f64 / 1024.0
    );

    let time = |f: &mut dyn FnMut()| -> f64 {
        let mut v: Vec<f64> = (0..samples)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        percentile(&mut v, 0.5)
    };
    let sentinel = [
        Attribute::Class(ObjectClass::DATA),
        Attribute::Label(b"hsm-pki.sentinel".to_vec()),
        Attribute::Application(b"hsm-pki".to_vec()),
    ];
    let handle = s.find_objects(&sentinel).unwrap()[0];
    let old_probe = time(&mut || {
        ctx.get_token_info(slot).unwrap();
        let h = s.find_objects(&sentinel).unwrap()[0];
        s.get_attributes(h, &[AttributeType::Value]).unwrap();
    });
    let new_probe = time(&mut || {
        s.get_session_info().unwrap();
        ctx.get_token_info(slot).unwrap();
        s.get_attributes(handle, &[AttributeType::Value]).unwrap();
    });
    let by_label = time(&mut || {
        s.find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(b"hsm-pki.nobody".to_vec()),
        ])
        .unwrap();
    });
    println!(
        "raw: health probe, old (C_GetTokenInfo + C_FindObjects sentinel + read) median {old_probe:.2} ms; new (C_GetSessionInfo + C_GetTokenInfo + read sentinel by handle) median {new_probe:.3} ms"
    );
    println!("raw: C_FindObjects by class+label median {by_label:.2} ms");

    // The daemon's key templates (src/hsm/keys/templates.rs), P-256.
    let p256 = vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let mut made = Vec::new();
    let generate = time(&mut || {
        let label = format!("scale-raw.{}", hex16()).into_bytes();
        let id = hex16().into_bytes();
        let public = [
            Attribute::Token(true),
            Attribute::Verify(true),
            Attribute::Encrypt(false),
            Attribute::Wrap(false),
            Attribute::Derive(false),
            Attribute::Label(label.clone()),
            Attribute::Id(id.clone()),
            Attribute::EcParams(p256.clone()),
        ];
        let private = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Modifiable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(false),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
            Attribute::Label(label),
            Attribute::Id(id),
        ];
        made.push(
            s.generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
                .unwrap(),
        );
    });
    for (public, private) in made {
        s.destroy_object(private).unwrap();
        s.destroy_object(public).unwrap();
    }
    println!("raw: C_GenerateKeyPair P-256 (daemon's templates) median {generate:.2} ms");
    let end = rss_kib(me);
    // What the module keeps live, not what the allocator merely holds on to.
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe { libc::malloc_trim(0) };
    println!(
        "raw: process RSS at the end {:.1} MiB ({:.1} MiB after malloc_trim)",
        end as f64 / 1024.0,
        rss_kib(me) as f64 / 1024.0
    );
}

fn main() {
    let o = options();
    let fx = Fixture::open_or_create(&o.fixture, &o.daemon);
    let before = fx.recorded_keys();
    if o.measure && before < o.keys {
        measure(&fx, &o, 0);
    }
    populate(&fx, &o);
    if o.measure {
        measure(&fx, &o, o.touch);
    }
    if !o.soak.is_zero() {
        soak(&fx, &o);
    }
}
