//! `datapole deposit` and `datapole download` against the real server, with only the binary:
//! a participant key from `keygen --participant`, a public and a private file deposited
//! (hashed, signed, uploaded, the receipt verified and saved), downloaded back and checked
//! against the receipt; a download whose bytes are not the receipt's is refused and leaves no
//! output; an accessor without a permit gets nothing.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use base64::prelude::*;
use common::*;
use serde_json::Value;

fn datapole(server: &Server, token: &str) -> Command {
    let mut cmd = Command::new(binary());
    for var in [
        "DATAPOLE_SERVER",
        "DATAPOLE_TOKEN",
        "DATAPOLE_PARTICIPANT",
        "DATAPOLE_KEY",
        "DATAPOLE_VKEY",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("XDG_CONFIG_HOME", "/nonexistent")
        .env("DATAPOLE_SERVER", &server.base)
        .env("DATAPOLE_TOKEN", token);
    cmd
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn file(dir: &Path, name: &str, rows: usize) -> std::path::PathBuf {
    let mut text = format!("pseudonym,value,{name}\n");
    for i in 0..rows {
        text.push_str(&format!("p{i:07},{}\n", i * 7 % 1000));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn deposit_and_download_with_the_binary_alone() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--fixity-interval-hours", "0"],
        &[],
    );
    let admin = server.admin_token();
    let key = dir.path().join("chu.pem");
    let out = Command::new(binary())
        .args(["keygen", "--participant", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    let public = ok(&out, "keygen").trim().to_owned();
    let raw: [u8; 32] = BASE64_STANDARD.decode(&public).unwrap().try_into().unwrap();
    let reg = server.register(&admin, "CHU", &["depositor"], &raw);
    assert_eq!(reg.status, 201, "{}", reg.text());
    let reg = reg.json();
    let id = reg["participant_id"].as_str().unwrap().to_owned();
    let token = reg["api_token"].as_str().unwrap().to_owned();

    for (name, private) in [("public.csv", false), ("private.csv", true)] {
        let data = file(dir.path(), name, 200_000);
        let mut cmd = datapole(&server, &token);
        cmd.args(["deposit", "--quiet", "--key"])
            .arg(&key)
            .args(["--participant", &id, "--retention", "P10Y"])
            .arg(&data);
        if private {
            cmd.arg("--private");
        }
        let said = ok(&cmd.output().unwrap(), "deposit");
        let receipt_path = dir.path().join(format!("{name}.receipt.json"));
        let saved: Value = serde_json::from_slice(&std::fs::read(&receipt_path).unwrap())
            .unwrap_or_else(|e| panic!("{said}: {e}"));
        // The receipt the CLI saved verifies on its own.
        let receipt = saved.get("receipt").cloned().unwrap_or(saved.clone());
        let receipt = serde_json::from_value(receipt).expect("a receipt");
        let report = datapole::verify::receipt::verify_receipt(&receipt, Some(&server.vkey()));
        assert!(report.ok(), "{report:?}");
        // The upload's state file is gone once it completed.
        assert!(!dir.path().join(format!("{name}.upload.json")).exists());

        let entry = server.get("/v1/entries/1");
        assert_eq!(entry.status, 200);
        let dataset = {
            let list = server.get(&format!(
                "/v1/deposits?sha256={}",
                sha_hex(&std::fs::read(&data).unwrap())
            ));
            list.json()["deposits"][0]["dataset_id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let back = dir.path().join(format!("{name}.back"));
        let out = datapole(&server, &token)
            .args(["download", "--quiet", &dataset, "--receipt"])
            .arg(&receipt_path)
            .arg("--out")
            .arg(&back)
            .output()
            .unwrap();
        ok(&out, "download");
        assert!(
            std::fs::read(&back).unwrap() == std::fs::read(&data).unwrap(),
            "{name}"
        );
    }

    // A receipt for other bytes: the download is refused and leaves no file.
    let other = file(dir.path(), "other.csv", 10);
    let out = datapole(&server, &token)
        .args(["deposit", "--quiet", "--key"])
        .arg(&key)
        .args(["--participant", &id])
        .arg(&other)
        .output()
        .unwrap();
    ok(&out, "deposit other");
    let public_dataset = {
        let data = std::fs::read(dir.path().join("public.csv")).unwrap();
        server
            .get(&format!("/v1/deposits?sha256={}", sha_hex(&data)))
            .json()["deposits"][0]["dataset_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let wrong = dir.path().join("wrong.out");
    let out = datapole(&server, &token)
        .args(["download", "--quiet", &public_dataset, "--receipt"])
        .arg(dir.path().join("other.csv.receipt.json"))
        .arg("--out")
        .arg(&wrong)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a receipt of other bytes must be refused"
    );
    assert!(!wrong.exists());

    // An accessor without a permit gets nothing.
    let lab = register(&server, &admin, 9, &["accessor"]);
    let denied = dir.path().join("denied.out");
    let out = datapole(&server, &lab.token)
        .args([
            "download",
            "--quiet",
            &public_dataset,
            "--version",
            "1",
            "--out",
        ])
        .arg(&denied)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("download_forbidden"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!denied.exists());
}
