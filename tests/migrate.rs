//! `datapole migrate` on a data directory that store format 3 wrote (commit 53f0790, committed
//! as `tests/fixtures/store-v3.tar.gz` with what that server answered): the migrated directory
//! serves the same checkpoint, the same entries, byte-identical receipts and the same consent
//! reads, its `public/` directory holds the log as tiles, and it takes new writes.

mod common;

use std::path::Path;
use std::process::Command;

use common::{binary, get, Server};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string("tests/fixtures/store-v3.expected.json").unwrap())
        .unwrap()
}

/// The fixture, unpacked into `dir/data` (private, as `serve` requires).
fn unpack(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    let status = Command::new("tar")
        .args(["-xzpf", "tests/fixtures/store-v3.tar.gz", "-C"])
        .arg(&data)
        .status()
        .unwrap();
    assert!(status.success());
    let status = Command::new("chmod")
        .args(["-R", "go-rwx"])
        .arg(&data)
        .status()
        .unwrap();
    assert!(status.success());
    data
}

fn migrate(data: &Path) -> std::process::Output {
    Command::new(binary())
        .args(["migrate", "--data-dir"])
        .arg(data)
        .output()
        .unwrap()
}

fn sha_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

#[test]
fn a_format_3_data_dir_is_migrated_with_the_same_roots_receipts_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    let data = unpack(dir.path());
    let want = expected();

    // Before the migration the server refuses the directory and says what to do.
    let out = Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("datapole migrate"), "{stderr}");

    let out = migrate(&data);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = want["log"]["root"].as_str().unwrap();
    assert!(
        stdout.contains(&format!("size 48, root {root}")),
        "{stdout}"
    );
    // Once is enough; again, it says so and changes nothing.
    let out = migrate(&data);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("already"));

    // The log as tiles: full and partial objects at the C2SP paths, the same checkpoint.
    let public = data.join("public");
    assert_eq!(
        std::fs::read_to_string(public.join("checkpoint")).unwrap(),
        want["checkpoint"].as_str().unwrap()
    );
    assert!(public.join("tile/0/000.p/48").is_file());
    assert!(public.join("tile/entries/000.p/48").is_file());

    let server = Server::start(&data);
    assert_eq!(server.checkpoint(), want["checkpoint"].as_str().unwrap());
    let log = server.get("/v1/log").json();
    for k in ["origin", "vkey", "size", "root"] {
        assert_eq!(log[k], want["log"][k], "{k}");
    }
    let auditor = want["participants"]["auditor"]["api_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for e in want["entries"].as_array().unwrap() {
        let i = e["index"].as_u64().unwrap();
        assert_eq!(
            server.get(&format!("/v1/entries/{i}")).json(),
            e["entry"],
            "{i}"
        );
        let with = get(&server, &format!("/v1/receipts/{i}"), &auditor);
        assert_eq!(with.status, 200);
        assert_eq!(
            sha_hex(&with.body),
            e["receipt_sha256"].as_str().unwrap(),
            "{i}"
        );
        let without = server.get(&format!("/v1/receipts/{i}"));
        assert_eq!(
            sha_hex(&without.body),
            e["receipt_public_sha256"].as_str().unwrap(),
            "{i}"
        );
    }
    for label in ["active", "withdrawn", "erased"] {
        let c = &want["consents"][label];
        let id = c["consent_id"].as_str().unwrap();
        let secret = c["citizen_secret"].as_str().unwrap();
        let read = get(&server, &format!("/v1/consents/{id}"), secret);
        assert_eq!(
            u64::from(read.status),
            c["read"]["status"].as_u64().unwrap()
        );
        assert_eq!(read.json(), c["read"]["body"], "{label}");
        let accesses = get(&server, &format!("/v1/consents/{id}/accesses"), secret);
        assert_eq!(accesses.json(), c["accesses"]["body"], "{label}");
    }
    let list = &want["consents"]["controller_list"];
    let chu = want["participants"]["chu"]["api_token"].as_str().unwrap();
    let answer = get(
        &server,
        &format!(
            "/v1/consents?controller={}",
            list["controller"].as_str().unwrap()
        ),
        chu,
    );
    assert_eq!(answer.json(), list["body"]);

    // The migrated log takes writes: a new participant, then a deposit by the region.
    let admin = want["admin_token"].as_str().unwrap();
    let added = server.register(
        admin,
        "After the migration",
        &["depositor"],
        &common::test_key(900),
    );
    assert_eq!(added.status, 201, "{}", added.text());
    assert_eq!(server.size(), 49);
}

#[test]
fn a_migration_cut_before_its_flip_leaves_a_directory_the_next_run_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let data = unpack(dir.path());
    // As if a first run died after writing some objects: a stray partial and a wrong
    // checkpoint object. The store still holds format 3, so the next run starts over.
    std::fs::create_dir_all(data.join("public/tile/0/000.p")).unwrap();
    std::fs::write(data.join("public/tile/0/000.p/7"), [0u8; 7 * 32]).unwrap();
    std::fs::write(data.join("public/checkpoint"), "half").unwrap();
    let out = migrate(&data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!data.join("public/tile/0/000.p/7").exists());
    assert_eq!(
        std::fs::read_to_string(data.join("public/checkpoint")).unwrap(),
        expected()["checkpoint"].as_str().unwrap()
    );
}
