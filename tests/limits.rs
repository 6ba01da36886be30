//! Limits and transport: per-client rate limiting (and who counts as a client behind a
//! proxy), slow clients cut off (request heads, bodies, kept-alive connections, with few file
//! descriptors), private key files enforced, and HTTPS with rustls.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{binary, Server};

#[test]
fn clients_over_their_rate_get_429_and_forwarded_for_is_trusted_only_from_proxies() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &dir.path().join("a"),
        &["--rate-limit", "2", "--rate-burst", "5"],
        &[],
    );
    let statuses: Vec<u16> = (0..8).map(|_| server.get("/checkpoint").status).collect();
    assert_eq!(&statuses[..5], &[200; 5], "{statuses:?}");
    let limited = server.get("/checkpoint");
    limited.assert_error(429, "rate_limited", "over the limit");
    // Forging X-Forwarded-For from an untrusted peer does not buy a new bucket.
    server
        .request(
            "GET",
            "/checkpoint",
            &[("x-forwarded-for", "198.51.100.1")],
            &[],
        )
        .assert_error(429, "rate_limited", "forged X-Forwarded-For");
    // After a pause the bucket refills.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(server.get("/checkpoint").status, 200);

    // Behind a trusted proxy (here, loopback), each forwarded client has its own bucket.
    let proxied = Server::start_with(
        &dir.path().join("b"),
        &[
            "--rate-limit",
            "1",
            "--rate-burst",
            "2",
            "--trusted-proxy",
            "127.0.0.1",
        ],
        &[],
    );
    for client in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        for _ in 0..2 {
            let a = proxied.request("GET", "/v1/log", &[("x-forwarded-for", client)], &[]);
            assert_eq!(a.status, 200, "{client}");
        }
        proxied
            .request("GET", "/v1/log", &[("x-forwarded-for", client)], &[])
            .assert_error(429, "rate_limited", client);
    }
}

#[test]
fn a_slow_client_is_cut_off_and_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--request-timeout-ms", "500"],
        &[],
    );
    let addr = server.base.trim_start_matches("http://").to_owned();
    // Slowloris: a request head that never ends.
    let mut slow: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(b"GET /checkpoint HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
            s
        })
        .collect();
    // Meanwhile others are served.
    assert_eq!(server.get("/checkpoint").status, 200);
    for s in &mut slow {
        // The server answers 408 and/or closes the connection: the read ends at the end of the
        // stream (a liveness deadline: it comes after the request timeout, not after 60 s).
        s.set_read_timeout(Some(LIVENESS)).unwrap();
        let mut buf = Vec::new();
        let ended = s.read_to_end(&mut buf);
        let text = String::from_utf8_lossy(&buf);
        assert!(ended.is_ok(), "a slow client was never cut off: {ended:?}");
        assert!(buf.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
    }
    assert_eq!(server.get("/checkpoint").status, 200);
}

/// How long a stalled client may wait for the server to cut it off, and the probe to be
/// answered: a liveness deadline, many times the 2 s request timeout the tests configure and
/// thousands of times a normal answer (a few milliseconds).
const LIVENESS: Duration = Duration::from_secs(60);

/// Reads one HTTP/1.1 response with a `Content-Length` (what the server sends) from `s`.
fn read_response(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "connection closed mid-head");
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    head + &String::from_utf8_lossy(&body)
}

/// The ways a client can stall after its request head was read.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Stall {
    /// A POST whose handler reads the body, which never comes.
    BodyRead,
    /// A GET with a chunked body its handler never reads, never finished.
    ChunkedUnread,
    /// A GET with a `Content-Length` body its handler never reads, never sent.
    SizedUnread,
    /// One request answered on a kept-alive connection, then the next head trickled.
    KeptAliveHead,
    /// One request answered on a kept-alive connection, then a POST head and no body.
    KeptAliveBody,
}

const POST_HEAD: &[u8] = b"POST /v1/deposits HTTP/1.1\r\nHost: x\r\n\
Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"name\": ";

/// Opens a connection to `addr` and leaves it stalled as `kind` says; `None` when the server
/// could not be reached in time (its accept queue full).
fn stall(addr: &SocketAddr, kind: Stall) -> Option<TcpStream> {
    let mut s = TcpStream::connect_timeout(addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(LIVENESS)).unwrap();
    let first: &[u8] = b"GET /checkpoint HTTP/1.1\r\nHost: x\r\n\r\n";
    match kind {
        Stall::BodyRead => s.write_all(POST_HEAD).ok()?,
        Stall::ChunkedUnread => s
            .write_all(
                b"GET /checkpoint HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nab",
            )
            .ok()?,
        Stall::SizedUnread => s
            .write_all(b"GET /v1/log HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab")
            .ok()?,
        Stall::KeptAliveHead | Stall::KeptAliveBody => {
            s.write_all(first).ok()?;
            let answer = read_response(&mut s);
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            if kind == Stall::KeptAliveHead {
                s.write_all(b"GET /checkpoint HTTP/1.1\r\nHo").ok()?;
            } else {
                s.write_all(POST_HEAD).ok()?;
            }
        }
    }
    Some(s)
}

/// Holds `count` stalled connections of every kind (the kept-alive ones first, while the
/// server can still answer them), then probes `GET /checkpoint` on a new connection: it must
/// be answered before [`LIVENESS`]. Returns the probe's latency. Then every stalled
/// connection must have been closed by the server, the ones whose body was awaited with a
/// 408 `request_timeout`.
fn stalled_clients_are_cut_off(addr: &SocketAddr, count: usize) -> Duration {
    let kinds = [
        Stall::KeptAliveHead,
        Stall::KeptAliveBody,
        Stall::BodyRead,
        Stall::ChunkedUnread,
        Stall::SizedUnread,
    ];
    let mut held = Vec::new();
    for kind in kinds {
        // The kept-alive kinds need an answer first: fewer of them, opened first. actix-http
        // itself closes a connection whose sized body was not read: a few of those only, on
        // top of `count`.
        let n = match kind {
            Stall::KeptAliveHead | Stall::KeptAliveBody => count / 8,
            Stall::BodyRead | Stall::ChunkedUnread => (count - 2 * (count / 8)) / 2 + 1,
            Stall::SizedUnread => 10,
        };
        held.extend((0..n).filter_map(|_| stall(addr, kind).map(|s| (kind, s))));
    }
    assert!(held.len() >= count, "only {} connections held", held.len());

    let started = Instant::now();
    let probe = (|| {
        let mut s = TcpStream::connect_timeout(addr, LIVENESS).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(LIVENESS)).unwrap();
        s.write_all(b"GET /checkpoint HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
        Ok::<_, String>(String::from_utf8_lossy(&buf).into_owned())
    })();
    let latency = started.elapsed();
    println!(
        "probe GET /checkpoint: {} after {latency:?}, with {} stalled connections held",
        if probe.is_ok() {
            "answered"
        } else {
            "no answer"
        },
        held.len()
    );
    let answer = probe.unwrap_or_else(|e| panic!("no answer to the probe after {latency:?}: {e}"));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(latency < LIVENESS, "the probe took {latency:?}");

    for (kind, mut s) in held {
        let mut buf = Vec::new();
        let read = s.read_to_end(&mut buf);
        let text = String::from_utf8_lossy(&buf);
        // An error other than a timeout (a reset) is a cut-off too.
        if let Err(e) = &read {
            assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "{kind:?}: still open after {LIVENESS:?}"
            );
        }
        if kind == Stall::BodyRead && read.is_ok() && !buf.is_empty() {
            assert!(text.starts_with("HTTP/1.1 408"), "{kind:?}: {text}");
            assert!(text.contains("\"request_timeout\""), "{kind:?}: {text}");
        }
    }
    latency
}

fn addr_of(server: &Server) -> SocketAddr {
    server.base.trim_start_matches("http://").parse().unwrap()
}

#[test]
fn stalled_bodies_and_kept_alive_requests_are_cut_off_under_the_hardening_flags() {
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--max-connections",
        "100",
        "--workers",
        "2",
        "--request-timeout-ms",
        "2000",
    ];
    let server = Server::start_with(&dir.path().join("data"), &flags, &[]);
    // More than the 200 connections the two workers take.
    stalled_clients_are_cut_off(&addr_of(&server), 260);
    // A client that does not stall is still kept alive.
    let mut s = TcpStream::connect(addr_of(&server)).unwrap();
    s.set_read_timeout(Some(LIVENESS)).unwrap();
    for _ in 0..2 {
        s.write_all(b"GET /checkpoint HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let answer = read_response(&mut s).to_ascii_lowercase();
        assert!(answer.starts_with("http/1.1 200"), "{answer}");
        assert!(!answer.contains("connection: close"), "{answer}");
    }
    // The server still serves, on new and kept-alive connections.
    for _ in 0..3 {
        assert_eq!(server.get("/checkpoint").status, 200);
    }
}

#[test]
fn stalled_clients_beyond_the_open_file_limit_are_cut_off_and_the_server_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start_under(
        &["prlimit", "--nofile=256:256", "--"],
        &data,
        &data.with_extension("log"),
        &["--request-timeout-ms", "2000"],
        &[],
    );
    // More than the 256 file descriptors the server may open: it runs out (EMFILE).
    stalled_clients_are_cut_off(&addr_of(&server), 300);
    for _ in 0..3 {
        assert_eq!(server.get("/checkpoint").status, 200);
    }
}

#[test]
fn key_and_token_files_readable_by_others_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    drop(Server::start(&data));
    for file in ["log.key", "admin-token"] {
        let path = data.join(file);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = Command::new(binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{file} readable by others was accepted"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        // Named, with the command that makes it private (the data directory's check).
        assert!(
            err.contains(&path.display().to_string())
                && err.contains("other users")
                && err.contains("chmod -R go-rwx"),
            "{err}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    drop(Server::start(&data));
}

#[test]
fn https_with_rustls() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    datapole::cli::write_secret(&key_path, &cert.signing_key.serialize_pem(), false).unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &[
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ],
        &[],
    );
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let port = server.base.rsplit(':').next().unwrap().to_owned();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let agent = ureq::AgentBuilder::new()
        .tls_config(Arc::new(config))
        .build();
    let answer = agent
        .get(&format!("https://localhost:{port}/checkpoint"))
        .call()
        .unwrap();
    // The connection watchdog found the socket under TLS: the connection is kept alive.
    assert_eq!(answer.header("connection"), None);
    let note = answer.into_string().unwrap();
    assert!(note.starts_with("datapole.localhost/log\n0\n"), "{note}");
    // Plain HTTP on the TLS port gets nowhere.
    assert!(ureq::get(&format!("http://127.0.0.1:{port}/checkpoint"))
        .call()
        .is_err());
}
