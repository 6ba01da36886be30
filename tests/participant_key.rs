//! `datapole keygen --participant`: the PKCS#8 PEM key it writes is read by OpenSSL and by
//! Python's `cryptography` (pyca), which share no code with ed25519-dalek, and both find the
//! public key the command printed for registration; the key signs as the same key in all
//! three. The other way round, `datapole deposit` reads a key OpenSSL made and refuses one of
//! another algorithm before anything is sent.
//!
//! Needs `openssl` and `python3` with `cryptography` (`.ci/run` installs `openssl` and
//! `python3-cryptography`): without them the test fails, saying what to install.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use base64::prelude::*;
use ed25519_dalek::Signer;

fn datapole() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_datapole"));
    // No configuration or environment of the machine's user leaks in.
    for var in [
        "DATAPOLE_SERVER",
        "DATAPOLE_TOKEN",
        "DATAPOLE_PARTICIPANT",
        "DATAPOLE_KEY",
        "DATAPOLE_VKEY",
        "XDG_CONFIG_HOME",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs a tool the test needs, failing with what to install when it is missing.
fn tool(cmd: &mut Command, install: &str) -> Output {
    match cmd.output() {
        Ok(out) => out,
        Err(e) => panic!(
            "cannot run {:?} ({e}): install {install}",
            cmd.get_program()
        ),
    }
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The raw 32-byte public key in OpenSSL's SubjectPublicKeyInfo DER of `key`.
fn openssl_public_key(key: &Path) -> Vec<u8> {
    let out = tool(
        Command::new("openssl")
            .args(["pkey", "-in"])
            .arg(key)
            .args(["-pubout", "-outform", "DER"]),
        "openssl",
    );
    assert!(
        out.status.success(),
        "openssl pkey: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // RFC 8410: a 12-byte header, then the 32 key bytes.
    assert_eq!(out.stdout.len(), 44, "{:?}", out.stdout);
    out.stdout[12..].to_vec()
}

const PYTHON_READS_THE_KEY: &str = r#"
import base64, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
with open(sys.argv[1], "rb") as f:
    key = serialization.load_pem_private_key(f.read(), password=None)
assert isinstance(key, Ed25519PrivateKey), type(key)
raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
print(base64.b64encode(raw).decode())
print(base64.b64encode(key.sign(b"datapole participant key")).decode())
"#;

#[test]
fn openssl_and_python_read_the_participant_key_and_find_the_printed_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("depositor.pem");
    let out = datapole()
        .args(["keygen", "--participant", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    let printed = ok(&out, "datapole keygen --participant").trim().to_owned();
    let public = BASE64_STANDARD.decode(&printed).unwrap();
    assert_eq!(public.len(), 32, "{printed}");
    // Registration takes exactly this form.
    datapole::participant::parse_public_key(&printed).unwrap();
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
    assert!(
        pem.trim_end().ends_with("-----END PRIVATE KEY-----"),
        "{pem}"
    );
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // OpenSSL.
    assert_eq!(openssl_public_key(&key), public);

    // Python's cryptography: the same public key, and (Ed25519 being deterministic) the same
    // signature as the key datapole reads back from the file.
    let probe = tool(
        Command::new("python3").args(["-c", "import cryptography"]),
        "python3",
    );
    assert!(
        probe.status.success(),
        "Python's `cryptography` is not installed: install it (Debian: apt-get install \
         python3-cryptography; or pip install cryptography) to run this test ({})",
        String::from_utf8_lossy(&probe.stderr).trim()
    );
    let out = tool(
        Command::new("python3")
            .args(["-c", PYTHON_READS_THE_KEY])
            .arg(&key),
        "python3",
    );
    let python = ok(&out, "python3 (cryptography) reading the key");
    let mut lines = python.lines();
    assert_eq!(lines.next(), Some(printed.as_str()));
    let ours = datapole::cli::client::load_participant_key(&key).unwrap();
    assert_eq!(
        ours.verifying_key().as_bytes().as_slice(),
        public.as_slice()
    );
    let signature = ours.sign(b"datapole participant key");
    assert_eq!(
        lines.next(),
        Some(BASE64_STANDARD.encode(signature.to_bytes()).as_str())
    );

    // Never over an existing key without --force.
    let again = datapole()
        .args(["keygen", "--participant", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&key).unwrap(), pem);
}

#[test]
fn participant_keys_take_no_name_and_other_keys_need_one() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["keygen", "--participant", "--witness"][..],
        &["keygen", "--participant", "--name", "x.example/log"],
        &["keygen"],
        &["keygen", "--witness"],
    ] {
        let out = datapole()
            .args(args)
            .arg("--out")
            .arg(dir.path().join("k"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?} is a usage error");
        assert!(!dir.path().join("k").exists(), "{args:?}");
    }
}

#[test]
fn deposit_reads_an_openssl_key_and_refuses_other_algorithms_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.csv");
    std::fs::write(&data, "a,b\n1,2\n").unwrap();
    // No server listens on port 9 of the loopback: a key that is read gets as far as the
    // network; a key that is refused stops before.
    let deposit = |key: &Path| {
        datapole()
            .env("HOME", dir.path())
            .arg("deposit")
            .arg(&data)
            .arg("--key")
            .arg(key)
            .args([
                "--participant",
                "0190f1d2-0000-7000-8000-000000000000",
                "--token",
                "dpt_test",
                "--server",
                "http://127.0.0.1:9",
            ])
            .output()
            .unwrap()
    };
    let ed25519 = dir.path().join("ed25519.pem");
    let out = tool(
        Command::new("openssl")
            .args(["genpkey", "-algorithm", "ed25519", "-out"])
            .arg(&ed25519),
        "openssl",
    );
    ok(&out, "openssl genpkey ed25519");
    let read = datapole::cli::client::load_participant_key(&ed25519).unwrap();
    assert_eq!(
        read.verifying_key().as_bytes().to_vec(),
        openssl_public_key(&ed25519)
    );
    let out = deposit(&ed25519);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("GET /v1/log"), "{err}");

    let ec = dir.path().join("p256.pem");
    let out = tool(
        Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
            ])
            .arg(&ec),
        "openssl",
    );
    ok(&out, "openssl genpkey EC");
    let out = deposit(&ec);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("an EC (ECDSA) key, not Ed25519"), "{err}");
    assert!(!err.contains("/v1/log"), "{err}");
    // Nothing was left beside the file.
    assert!(!dir.path().join("data.csv.upload.json").exists());
    assert!(!dir.path().join("data.csv.receipt.json").exists());
}
