//! TLS over real sockets, checked with the openssl CLI (an implementation the daemon does
//! not use): the API served with a file key and with a key in the token (the handshake's
//! signature made by the token: its signature counter moves), TLS 1.3 and 1.2, ALPN h2, HSTS;
//! client certificates required (a client without one is refused in the handshake) or
//! optional; `SIGHUP` swaps the certificate while a keep-alive connection opened before keeps
//! working.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Daemon, SoftHsm, openssl};

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A P-256 key (mode 0600) and a self-signed certificate for 127.0.0.1 and localhost.
fn self_signed(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let cert = dir.join(format!("{name}.pem"));
    let (ok, out) = openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        p(&key),
        "-out",
        p(&cert),
        "-days",
        "2",
        "-subj",
        &format!("/CN={name}"),
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ]);
    assert!(ok, "{out}");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    (key, cert)
}

/// One HTTPS exchange with `openssl s_client`, verifying the server against `ca`:
/// (handshake and verification succeeded, everything printed).
fn s_client(addr: std::net::SocketAddr, ca: &Path, extra: &[&str], path: &str) -> (bool, String) {
    let target = addr.to_string();
    let mut args = vec![
        "s_client",
        "-connect",
        &target,
        "-CAfile",
        p(ca),
        "-verify_return_error",
        "-verify_hostname",
        "localhost",
        "-servername",
        "localhost",
        "-ign_eof",
    ];
    args.extend_from_slice(extra);
    let mut child = Command::new("openssl")
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl");
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let _ = child.stdin.take().unwrap().write_all(req.as_bytes());
    let out = child.wait_with_output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (
        out.status.success() && text.contains("Verify return code: 0 (ok)"),
        text,
    )
}

fn wait_ready(d: &Daemon, ca: &Path) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (ok, out) = s_client(d.addr, ca, &[], "/readyz");
        if ok && out.contains("HTTP/1.1 200") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never ready over TLS: {out}\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn tls_daemon(hsm: &SoftHsm, tls: &str) -> Daemon {
    Daemon::start_tables(hsm, 2, "debug", &format!("[server.tls]\n{tls}\n"), "", "")
}

fn token_signatures(d: &Daemon, ca: &Path) -> u64 {
    let (ok, out) = s_client(d.addr, ca, &[], "/metrics");
    assert!(ok, "{out}");
    out.lines()
        .find_map(|l| l.strip_prefix("hsm_pki_token_signatures_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no signature counter: {out}")) as u64
}

#[test]
fn file_key_versions_alpn_hsts_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = self_signed(dir.path(), "first");
    let hsm = SoftHsm::new("tls-file");
    let d = tls_daemon(
        &hsm,
        &format!(
            "certificate_chain = \"{}\"\nkey_file = \"{}\"\nhsts_max_age_secs = 600",
            cert.display(),
            key.display()
        ),
    );
    wait_ready(&d, &cert);

    let (ok, out) = s_client(d.addr, &cert, &["-tls1_3"], "/healthz");
    assert!(
        ok && out.contains("TLSv1.3") && out.contains("HTTP/1.1 200"),
        "{out}"
    );
    assert!(
        out.contains("strict-transport-security: max-age=600"),
        "{out}"
    );
    let (ok, out) = s_client(d.addr, &cert, &["-tls1_2"], "/healthz");
    assert!(
        ok && out.contains("TLSv1.2") && out.contains("HTTP/1.1 200"),
        "{out}"
    );
    let (ok, out) = s_client(d.addr, &cert, &["-alpn", "h2,http/1.1"], "/healthz");
    assert!(ok && out.contains("ALPN protocol: h2"), "{out}");
    // The wrong CA is refused by the client: the check can fail.
    let (other_key, other) = self_signed(dir.path(), "other");
    let (ok, _) = s_client(d.addr, &other, &[], "/healthz");
    assert!(!ok);
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = common::try_request(d.addr, "GET", "/healthz", &[], None);
    assert!(!matches!(plain, Ok((200, _))), "{plain:?}");

    // A keep-alive connection opened before the swap...
    let target = d.addr.to_string();
    let mut kept = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &target,
            "-CAfile",
            p(&cert),
            "-quiet",
            "-ign_eof",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let seen = Arc::new(Mutex::new(String::new()));
    let mut stdout = kept.stdout.take().unwrap();
    let sink = seen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let mut stdin = kept.stdin.take().unwrap();
    let ask = |stdin: &mut std::process::ChildStdin| {
        stdin
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        stdin.flush().unwrap();
    };
    let answers = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.lock().unwrap().matches("HTTP/1.1 200").count() < n {
            assert!(Instant::now() < deadline, "{}", seen.lock().unwrap());
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    ask(&mut stdin);
    answers(1);
    // ...then the files are replaced and SIGHUP sent: new connections get the new
    // certificate, the old connection keeps working.
    std::fs::copy(&other, &cert).unwrap();
    std::fs::copy(&other_key, &key).unwrap();
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(d.child.id() as i32, libc::SIGHUP) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (ok, _) = s_client(d.addr, &other, &[], "/healthz");
        if ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "new certificate never served: {}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    ask(&mut stdin);
    answers(2);
    let _ = kept.kill();
    let _ = kept.wait();
    assert!(d.log_text().contains("TLS certificate reloaded"));
}

#[test]
fn token_key_signs_the_handshake() {
    let hsm = SoftHsm::new("tls-token");
    let mut d = Daemon::start(&hsm);
    d.wait_status("/readyz", 200, Duration::from_secs(10));
    let cert = d.dir.path().join("dev-cert.pem");
    let (ok, out) = d.cli(&["tls", "dev-cert", "--out", p(&cert)]);
    assert!(ok, "{out}");
    assert!(
        out.contains("key_label = \"hsm-pki.tls-server-key\""),
        "{out}"
    );
    let _ = d.stop();
    let cfg = std::fs::read_to_string(d.config_path()).unwrap();
    std::fs::write(
        d.config_path(),
        format!(
            "{cfg}\n[server.tls]\ncertificate_chain = \"{}\"\nkey_label = \"hsm-pki.tls-server-key\"\n",
            cert.display()
        ),
    )
    .unwrap();
    d.crash_and_restart(&hsm);
    wait_ready(&d, &cert);
    // The key is the daemon's own: reconciliation at start neither destroyed nor reported it.
    assert!(
        !d.log_text().contains("hsm-pki.tls-server-key"),
        "{}",
        d.log_text()
    );
    // Every full handshake is one token signature.
    let before = token_signatures(&d, &cert);
    for _ in 0..3 {
        let (ok, out) = s_client(d.addr, &cert, &[], "/healthz");
        assert!(ok && out.contains("HTTP/1.1 200"), "{out}");
    }
    let after = token_signatures(&d, &cert);
    assert!(after >= before + 4, "{before} -> {after}");
    let (ok, out) = s_client(d.addr, &cert, &["-tls1_2"], "/healthz");
    assert!(ok && out.contains("HTTP/1.1 200"), "{out}");
    // dev-cert again reuses the key: the old certificate still matches.
    let again = d.dir.path().join("again.pem");
    let (ok, out) = d.cli(&["tls", "dev-cert", "--out", p(&again)]);
    assert!(ok, "{out}");
    let pubkey = |c: &Path| openssl(&["x509", "-in", p(c), "-noout", "-pubkey"]).1;
    assert_eq!(pubkey(&cert), pubkey(&again));
}

#[test]
fn client_certificates_required_and_optional() {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = self_signed(dir.path(), "server");
    let (ca_key, ca) = self_signed(dir.path(), "client-ca");
    let client_key = dir.path().join("client.key");
    let csr = dir.path().join("client.csr");
    let client = dir.path().join("client.pem");
    let (ok, out) = openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        p(&client_key),
        "-out",
        p(&csr),
        "-subj",
        "/CN=operator",
    ]);
    assert!(ok, "{out}");
    let ext = dir.path().join("client.ext");
    std::fs::write(
        &ext,
        "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let (ok, out) = openssl(&[
        "x509",
        "-req",
        "-in",
        p(&csr),
        "-CA",
        p(&ca),
        "-CAkey",
        p(&ca_key),
        "-CAcreateserial",
        "-out",
        p(&client),
        "-days",
        "2",
        "-extfile",
        p(&ext),
    ]);
    assert!(ok, "{out}");
    let with_cert = ["-cert", p(&client), "-key", p(&client_key)];

    for (mode, refused_without) in [("required", true), ("optional", false)] {
        let hsm = SoftHsm::new(&format!("tls-client-{mode}"));
        let d = tls_daemon(
            &hsm,
            &format!(
                "certificate_chain = \"{}\"\nkey_file = \"{}\"\nclient_ca = \"{}\"\nclient_auth = \"{mode}\"",
                cert.display(),
                key.display(),
                ca.display()
            ),
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (ok, out) = s_client(d.addr, &cert, &with_cert, "/readyz");
            if ok && out.contains("HTTP/1.1 200") {
                break;
            }
            assert!(Instant::now() < deadline, "{out}\n{}", d.log_text());
            std::thread::sleep(Duration::from_millis(200));
        }
        let (_, out) = s_client(d.addr, &cert, &[], "/healthz");
        assert_eq!(
            !out.contains("HTTP/1.1 200"),
            refused_without,
            "{mode}: {out}"
        );
        // A certificate from another CA is refused in both modes.
        let (other_key, other) = self_signed(dir.path(), &format!("stranger-{mode}"));
        let (_, out) = s_client(
            d.addr,
            &cert,
            &["-cert", p(&other), "-key", p(&other_key)],
            "/healthz",
        );
        assert!(!out.contains("HTTP/1.1 200"), "{mode}: {out}");
    }
}
