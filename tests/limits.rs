//! Limits and transport: per-client rate limiting (and who counts as a client behind a
//! proxy), slow clients cut off, private key files enforced, and HTTPS with rustls.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
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
    let started = Instant::now();
    for s in &mut slow {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = Vec::new();
        // The server answers 408 and/or closes: either way the read ends well before 5 s.
        let _ = s.read_to_end(&mut buf);
        let text = String::from_utf8_lossy(&buf);
        assert!(buf.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "slow clients held on for {:?}",
        started.elapsed()
    );
    assert_eq!(server.get("/checkpoint").status, 200);
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
    let note = agent
        .get(&format!("https://localhost:{port}/checkpoint"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(note.starts_with("datapole.localhost/log\n0\n"), "{note}");
    // Plain HTTP on the TLS port gets nowhere.
    assert!(ureq::get(&format!("http://127.0.0.1:{port}/checkpoint"))
        .call()
        .is_err());
}
