//! The command line: `keygen`, `serve` with its key, origin and admin-token options, and the
//! refusal to serve a data directory that belongs to another log.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::{binary, test_key, Server};
use datapole::verify;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn keygen_writes_a_private_key_and_prints_its_vkey() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("log.key");
    let out = Command::new(binary())
        .args(["keygen", "--name", "pole.example.org/log", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vkey = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(vkey.starts_with("pole.example.org/log+"), "{vkey}");
    assert_eq!(mode(&key), 0o600);
    let skey = std::fs::read_to_string(&key).unwrap();
    assert!(skey.starts_with("PRIVATE+KEY+pole.example.org/log+"));
    let signer = datapole::log::LogSigner::from_skey(&skey, None).unwrap();
    assert_eq!(signer.vkey(), vkey);

    // It will not overwrite a key without --force, and refuses invalid names.
    let again = Command::new(binary())
        .args(["keygen", "--name", "other", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&key).unwrap(), skey);
    let bad = Command::new(binary())
        .args(["keygen", "--name", "has space", "--out"])
        .arg(dir.path().join("x.key"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("invalid key name \"has space\""), "{err}");
    assert!(!dir.path().join("x.key").exists());
}

#[test]
fn help_describes_the_commands() {
    let out = Command::new(binary()).arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("serve") && text.contains("keygen"), "{text}");
    let out = Command::new(binary())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--listen",
        "--data-dir",
        "--origin",
        "--key-file",
        "--admin-token-file",
    ] {
        assert!(text.contains(flag), "serve --help lacks {flag}");
    }
}

#[test]
fn serve_with_no_flags_creates_its_secrets_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    assert_eq!(mode(&data.join("log.key")), 0o600);
    assert_eq!(mode(&data.join("admin-token")), 0o600);
    // The keys of the private records, created with the store.
    assert_eq!(mode(&data.join("store.keys")), 0o600);
    assert_eq!(mode(&data), 0o700);
    let info = server.get("/v1/log").json();
    // The origin defaults to the key's name.
    let vkey = info["vkey"].as_str().unwrap();
    assert_eq!(
        vkey.split('+').next().unwrap(),
        info["origin"].as_str().unwrap()
    );
    let cp = verify::verify_checkpoint(&server.checkpoint(), vkey).unwrap();
    assert_eq!(cp.origin, info["origin"].as_str().unwrap());
}

#[test]
fn serve_uses_the_given_key_origin_and_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("pole.key");
    let out = Command::new(binary())
        .args(["keygen", "--name", "pole.example.org/log", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    let vkey = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let data = dir.path().join("data");
    let key_arg = key.to_str().unwrap();
    let server = Server::start_with(
        &data,
        &["--key-file", key_arg, "--origin", "pole.example.org/log"],
        &[(
            "DATAPOLE_ADMIN_TOKEN",
            "env-secret-of-at-least-32-characters",
        )],
    );
    assert_eq!(server.vkey(), vkey);
    assert!(
        !data.join("log.key").exists(),
        "no key is generated when one is given"
    );
    assert!(
        !data.join("admin-token").exists(),
        "no token is generated when one is given"
    );
    assert_eq!(
        server
            .register(
                "env-secret-of-at-least-32-characters",
                "Org",
                &["auditor"],
                &test_key(1)
            )
            .status,
        201
    );
    let cp = verify::verify_checkpoint(&server.checkpoint(), &vkey).unwrap();
    assert_eq!((cp.origin.as_str(), cp.size), ("pole.example.org/log", 1));
    drop(server);

    // An admin token file works too.
    let token_file = dir.path().join("token");
    datapole::cli::write_secret(
        &token_file,
        "file-secret-of-at-least-32-characters\n",
        false,
    )
    .unwrap();
    let server = Server::start_with(
        &data,
        &[
            "--key-file",
            key_arg,
            "--origin",
            "pole.example.org/log",
            "--admin-token-file",
            token_file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(
        server
            .register(
                "file-secret-of-at-least-32-characters",
                "Org",
                &["auditor"],
                &test_key(2)
            )
            .status,
        201
    );
    server
        .register(
            "env-secret-of-at-least-32-characters",
            "Org",
            &["auditor"],
            &test_key(3),
        )
        .assert_error(401, "unauthorized", "old token");
}

#[test]
fn serve_refuses_a_data_dir_signed_by_another_key_or_origin() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    assert_eq!(
        server
            .register(&server.admin_token(), "Org", &["auditor"], &test_key(1))
            .status,
        201
    );
    server.stop();

    let other = dir.path().join("other.key");
    Command::new(binary())
        .args(["keygen", "--name", "datapole.localhost/log", "--out"])
        .arg(&other)
        .output()
        .unwrap();
    for args in [
        vec!["--key-file", other.to_str().unwrap()],
        vec!["--origin", "another.example/log"],
    ] {
        let out = Command::new(binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} should be refused");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not signed by key"), "{args:?}: {err}");
    }
    // The original configuration still serves the log, unchanged.
    let server = Server::start(&data);
    assert_eq!(server.size(), 1);
}

/// `datapole prefill` grows a log through the engine: the served log has every entry under a
/// signed checkpoint, and the monitor audits it clean.
#[test]
fn prefill_grows_a_log_that_serves_and_audits_clean() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = Command::new(binary())
        .args(["prefill", "--count", "5000", "--batch", "512", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("the log grew from 0 to 5001 entries"),
        "{stdout}"
    );
    let server = Server::start(&data);
    assert_eq!(server.size(), 5001);
    let vkey = server.vkey();
    let audit = Command::new(binary())
        .args([
            "audit",
            "--log-url",
            &server.base,
            "--vkey",
            &vkey,
            "--state-dir",
        ])
        .arg(dir.path().join("audit"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&audit.stdout);
    assert!(
        audit.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&audit.stderr)
    );
    assert!(text.contains("access: 5000"), "{text}");
}
