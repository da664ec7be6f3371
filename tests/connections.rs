//! Connection slots under a flood, over real sockets against the real daemon: idle sockets
//! cannot keep a well-behaved client out (per-address limit with eviction of connections
//! that never sent a request), a connection that sends no request head is closed within the
//! header timeout of its accept, and when every ordinary slot is taken the reserve still
//! answers the health probes.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{Daemon, TestToken};

/// One HTTP/1.1 request on its own connection; (status, elapsed).
fn timed_get(addr: SocketAddr, path: &str) -> (u16, Duration) {
    let t = Instant::now();
    let (s, _) = common::http(addr, "GET", path, None);
    (s, t.elapsed())
}

/// A keep-alive connection that has sent one request and read its answer.
fn used_connection(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\n\r\n").as_bytes())
        .unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    s
}

/// A raw request on a new connection: the status line's code, or None if it was closed.
fn raw_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").as_bytes(),
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn idle_sockets_cannot_keep_clients_out() {
    let hsm = TestToken::new("conn-flood");
    let d = Daemon::start_tables(&hsm, 2, "info", "header_timeout_secs = 2", "", "");
    d.wait_status("/readyz", 200, Duration::from_secs(10));

    // 400 sockets that never send a byte, all from this address.
    let idle: Vec<TcpStream> = (0..400)
        .filter_map(|_| TcpStream::connect(d.addr).ok())
        .collect();
    assert!(idle.len() >= 300, "only {} sockets connected", idle.len());
    let (s, t) = timed_get(d.addr, "/readyz");
    assert_eq!(s, 200);
    assert!(
        t < Duration::from_secs(1),
        "/readyz took {t:?} under the flood"
    );
    let (s, t) = timed_get(d.addr, "/openapi.json");
    assert_eq!(s, 200);
    assert!(
        t < Duration::from_secs(2),
        "a request took {t:?} under the flood"
    );

    // None of the idle sockets is still open after the header timeout from its accept.
    std::thread::sleep(Duration::from_millis(3_000));
    let mut open = 0;
    for mut s in idle {
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let mut b = [0u8; 1];
        // EOF or a reset: the daemon closed it. A timeout: still open.
        if let Err(e) = s.read(&mut b)
            && matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            )
        {
            open += 1;
        }
    }
    assert_eq!(open, 0, "{open} sockets without a request are still open");
}

#[test]
fn the_reserve_answers_health_probes_when_every_slot_is_taken() {
    let hsm = TestToken::new("conn-reserve");
    let d = Daemon::start_tables(&hsm, 2, "info", "max_connections = 4", "", "");
    d.wait_status("/readyz", 200, Duration::from_secs(10));
    // Four keep-alive connections that have sent a request: not evictable, every ordinary
    // slot taken.
    let held: Vec<TcpStream> = (0..4).map(|_| used_connection(d.addr)).collect();
    assert_eq!(raw_status(d.addr, "/readyz"), Some(200));
    assert_eq!(raw_status(d.addr, "/healthz"), Some(200));
    assert_eq!(raw_status(d.addr, "/openapi.json"), Some(503));
    drop(held);
    // Slots freed: ordinary service again.
    let deadline = Instant::now() + Duration::from_secs(5);
    while raw_status(d.addr, "/openapi.json") != Some(200) {
        assert!(Instant::now() < deadline, "slots not freed");
        std::thread::sleep(Duration::from_millis(100));
    }
}
