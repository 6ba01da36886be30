//! The witness as a real process (`datapole witness`): c2sp.org/tlog-witness over HTTP, with
//! the independent vectors of tests/vectors/witness-cosignature.json, its exact status codes
//! and 409 body, and its records surviving a restart and a kill.

mod common;

use std::process::Command;

use common::{binary, log_key, witness_key, Server};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/witness-cosignature.json")).unwrap()
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap().to_owned()
}

fn post(w: &Server, body: &[u8]) -> common::Answer {
    w.request("POST", "/add-checkpoint", &[], body)
}

#[test]
fn add_checkpoint_over_http_follows_the_spec_and_survives_restarts() {
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    let (key, vkey) = witness_key(dir.path(), "witness.test/w1");
    let log_vkey = s(&v, "log_vkey");
    let data = dir.path().join("w1");
    let mut w = Server::start_witness(&data, &key, &[&log_vkey], "127.0.0.1:0");

    // First contact: old 0 and no proof.
    let a = post(
        &w,
        s(&v, "add_checkpoint_request_first_old0_size3").as_bytes(),
    );
    assert_eq!(a.status, 200, "{}", a.text());
    let line = a.text();
    assert!(
        line.starts_with("— witness.test/w1 ") && line.ends_with('\n'),
        "{line:?}"
    );
    let cosigned = format!("{}{line}", s(&v, "checkpoint3"));
    check_cosignature(&cosigned, &vkey);

    // The same request again: the witness is at 3 now, so 409 with exactly "3\n" as
    // text/x.tlog.size.
    let again = post(
        &w,
        s(&v, "add_checkpoint_request_first_old0_size3").as_bytes(),
    );
    assert_eq!(again.status, 409);
    assert_eq!(again.content_type, "text/x.tlog.size");
    assert_eq!(again.body, b"3\n");

    // Errors other than the size conflict are JSON, with the spec's statuses.
    post(&w, b"old 3\n").assert_error(400, "malformed_request", "no empty line");
    post(&w, b"old 03\n\nx\n").assert_error(400, "malformed_request", "leading zero");
    let other_origin = s(&v, "checkpoint3").replace("datapole-test-log", "other-log");
    post(&w, format!("old 0\n\n{other_origin}").as_bytes()).assert_error(
        404,
        "unknown_origin",
        "unknown origin",
    );
    let tampered = s(&v, "checkpoint7").replace("\n7\n", "\n8\n");
    post(&w, format!("old 3\n\n{tampered}").as_bytes()).assert_error(
        403,
        "untrusted_signature",
        "signature over another text",
    );
    post(&w, format!("old 9\n\n{}", s(&v, "checkpoint7")).as_bytes()).assert_error(
        400,
        "old_size_too_large",
        "old size beyond the checkpoint",
    );
    let proof: Vec<&str> = v["proof_3_7"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let wrong_proof = format!(
        "old 3\n{}\n{}\n{}\n{}\n\n{}",
        proof[1],
        proof[0],
        proof[2],
        proof[3],
        s(&v, "checkpoint7")
    );
    post(&w, wrong_proof.as_bytes()).assert_error(
        422,
        "invalid_consistency_proof",
        "proof hashes out of order",
    );
    let huge = vec![b'a'; 100 * 1024];
    post(&w, &huge).assert_error(413, "payload_too_large", "oversized body");
    w.request("GET", "/add-checkpoint", &[], b"").assert_error(
        405,
        "method_not_allowed",
        "GET on add-checkpoint",
    );
    assert_eq!(info(&w)["logs"][0]["size"], 3, "refusals changed nothing");
    assert_eq!(w.request("HEAD", "/", &[], b"").status, 200);
    assert_eq!(w.get("/healthz").status, 200);

    // Restarted cleanly, it still knows size 3.
    w.stop();
    let w = Server::start_witness(&data, &key, &[&log_vkey], "127.0.0.1:0");
    let a = post(
        &w,
        s(&v, "add_checkpoint_request_first_old0_size3").as_bytes(),
    );
    assert_eq!((a.status, a.body.as_slice()), (409, b"3\n".as_slice()));
    // 3 → 7 with the vectors' proof.
    let a = post(&w, s(&v, "add_checkpoint_request_old3_to7").as_bytes());
    assert_eq!(a.status, 200, "{}", a.text());
    check_cosignature(&format!("{}{}", s(&v, "checkpoint7"), a.text()), &vkey);
    // Killed right after answering: the cosigned size was durable before the answer.
    w.kill();
    let w = Server::start_witness(&data, &key, &[&log_vkey], "127.0.0.1:0");
    let i = info(&w);
    assert_eq!(i["logs"][0]["size"], 7);
    assert_eq!(i["logs"][0]["root"], s(&v, "root7"));
    assert_eq!(i["vkey"], vkey);
}

fn info(w: &Server) -> Value {
    let a = w.get("/");
    assert_eq!(a.status, 200);
    a.json()
}

/// Checks the witness's cosignature line on a cosigned checkpoint by hand, from the bytes
/// (c2sp.org/tlog-cosignature): key ID, timestamp, Ed25519 over the spec's message.
fn check_cosignature(cosigned: &str, vkey: &str) {
    use base64::prelude::*;
    use sha2::{Digest, Sha256};
    let mut parts = vkey.splitn(3, '+');
    let (name, id, key) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let typed = BASE64_STANDARD.decode(key).unwrap();
    assert_eq!(typed[0], 0x04);
    let expected_id = &Sha256::digest([name.as_bytes(), b"\n", &typed].concat())[..4];
    assert_eq!(hex(expected_id), id);
    let (text, sigs) = cosigned.rsplit_once("\n\n").unwrap();
    let text = format!("{text}\n");
    let line = sigs
        .lines()
        .find(|l| l.starts_with(&format!("— {name} ")))
        .expect("a line of the witness");
    let raw = BASE64_STANDARD
        .decode(line.rsplit(' ').next().unwrap())
        .unwrap();
    assert_eq!(raw.len(), 4 + 8 + 64);
    assert_eq!(&raw[..4], expected_id);
    let t = u64::from_be_bytes(raw[4..12].try_into().unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        t <= now && now - t < 600,
        "timestamp {t} is not now ({now})"
    );
    let message = format!("cosignature/v1\ntime {t}\n{text}");
    let key = ed25519_dalek::VerifyingKey::from_bytes(&typed[1..].try_into().unwrap()).unwrap();
    let sig = ed25519_dalek::Signature::from_slice(&raw[12..]).unwrap();
    key.verify_strict(message.as_bytes(), &sig)
        .expect("the cosignature verifies");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn deposit(log: &Server, p: &common::Participant, content: &[u8]) -> common::Answer {
    let body = p.sign(
        datapole::statement::deposit::DEPOSIT_TYPE,
        &common::deposit_payload(content, "public"),
    );
    log.request(
        "POST",
        "/v1/deposits",
        &[("content-type", "application/json")],
        &body,
    )
}

/// The witnesses (by vkey) whose cosignature on `note` verifies, checked by hand.
fn cosigners(note: &str, vkeys: &[String]) -> usize {
    vkeys
        .iter()
        .filter(|vkey| {
            let name = vkey.split('+').next().unwrap();
            note.contains(&format!("\n— {name} "))
                && std::panic::catch_unwind(|| check_cosignature(note, vkey)).is_ok()
        })
        .count()
}

fn verify_cli(receipt: &Value, log_vkey: &str, witnesses: &[String], quorum: usize) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("receipt.json");
    std::fs::write(&path, receipt.to_string()).unwrap();
    let mut cmd = Command::new(binary());
    cmd.arg("verify").arg(&path).args(["--vkey", log_vkey]);
    for w in witnesses {
        cmd.args(["--witness", w]);
    }
    if !witnesses.is_empty() {
        cmd.args(["--quorum", &quorum.to_string()]);
    }
    let out = cmd.output().unwrap();
    out.status.success()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..300 {
        if f() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

/// The root of `log`'s tree at `size`, proven to be on its history (consistency proof to its
/// current checkpoint, checked with the offline verifier).
fn on_history(log: &Server, log_vkey: &str, size: u64, root_b64: &str) -> bool {
    use base64::prelude::*;
    let cp = datapole::verify::verify_checkpoint(&log.checkpoint(), log_vkey).unwrap();
    let root: [u8; 32] = BASE64_STANDARD
        .decode(root_b64)
        .unwrap()
        .try_into()
        .unwrap();
    if size == cp.size {
        return root == cp.root;
    }
    let p = log
        .get(&format!(
            "/v1/proofs/consistency?from={size}&to={}",
            cp.size
        ))
        .json();
    let proof = common::hashes(&p["hashes"]);
    datapole::verify::verify_consistency(size, cp.size, &root, &cp.root, &proof).is_ok()
}

#[test]
fn a_log_with_three_witnesses_serves_only_quorum_cosigned_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let (log_key_file, log_vkey) = log_key(dir.path(), "witnessed.test/log");
    let mut keys = Vec::new();
    let mut witnesses = Vec::new();
    for i in 1..=3 {
        let (key, vkey) = witness_key(dir.path(), &format!("witness.test/w{i}"));
        let w = Server::start_witness(
            &dir.path().join(format!("w{i}")),
            &key,
            &[&log_vkey],
            "127.0.0.1:0",
        );
        keys.push((key, vkey));
        witnesses.push(Some(w));
    }
    let vkeys: Vec<String> = keys.iter().map(|(_, v)| v.clone()).collect();
    let urls: Vec<String> = witnesses
        .iter()
        .map(|w| w.as_ref().unwrap().base.clone())
        .collect();
    let mut args: Vec<String> = vec![
        "--key-file".into(),
        log_key_file.display().to_string(),
        "--witness-quorum".into(),
        "2".into(),
        // How long a write waits for the quorum: a liveness deadline for the writes that
        // must be witnessed (cosigning takes milliseconds), not a bound on it; the writes
        // made while two witnesses are down wait for all of it before their 202.
        "--witness-wait-ms".into(),
        "15000".into(),
        "--witness-timeout-ms".into(),
        "1000".into(),
    ];
    for (url, vkey) in urls.iter().zip(&vkeys) {
        args.push("--witness".into());
        args.push(format!("{url}={vkey}"));
    }
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut log = Server::start_with(&dir.path().join("log"), &arg_refs, &[]);
    let admin = log.admin_token();

    // Everything witnessed: registration and deposits wait for the quorum.
    let p = common::register(&log, &admin, 1, &["depositor"]);
    let a = deposit(&log, &p, b"first dataset");
    assert_eq!(a.status, 201, "{}", a.text());
    let receipt = a.json()["receipt"].clone();
    assert_eq!(receipt["witnessed"], true);
    let note = receipt["checkpoint"].as_str().unwrap();
    assert!(cosigners(note, &vkeys) >= 2, "{note}");
    assert!(verify_cli(&receipt, &log_vkey, &vkeys, 2));
    // The log's key alone does not make a witness quorum.
    assert!(!verify_cli(
        &receipt,
        &log_vkey,
        &[
            keys[0].1.clone(),
            witness_key(dir.path(), "witness.test/other").1
        ],
        2
    ));
    let served = log.checkpoint();
    assert!(cosigners(&served, &vkeys) >= 2, "{served}");
    // The public directory serves what the API serves: the cosigned checkpoint, never the
    // log's alone (the collector publishes it once the quorum cosigned).
    let public = dir.path().join("log/public/checkpoint");
    wait_until("the public checkpoint is the cosigned one", || {
        std::fs::read_to_string(&public).is_ok_and(|p| p == log.checkpoint())
    });
    let info = log.get("/v1/log").json();
    assert_eq!(info["witnessing"]["quorum"], 2);
    assert_eq!(info["witnessing"]["witnesses"].as_array().unwrap().len(), 3);

    // One witness down: still witnessed by the other two.
    witnesses[2].take().unwrap().kill();
    let a = deposit(&log, &p, b"second dataset");
    assert_eq!(a.status, 201, "{}", a.text());
    let receipt = a.json()["receipt"].clone();
    assert_eq!(receipt["witnessed"], true);
    let note = receipt["checkpoint"].as_str().unwrap();
    assert_eq!(cosigners(note, &vkeys[..2]), 2, "{note}");

    // Two down: 202 with the log's own receipt, and /checkpoint keeps serving the last
    // cosigned one.
    let w2 = witnesses[1].take().unwrap();
    let w2_before = info_of(&w2);
    let w2_addr = w2.base.trim_start_matches("http://").to_owned();
    w2.kill();
    let a = deposit(&log, &p, b"third dataset");
    assert_eq!(a.status, 202, "{}", a.text());
    let v = a.json();
    let index = v["index"].as_u64().unwrap();
    assert_eq!(v["receipt"]["witnessed"], false);
    // The log's own receipt is valid, but not witnessed.
    assert!(verify_cli(&v["receipt"], &log_vkey, &[], 0));
    assert!(!verify_cli(&v["receipt"], &log_vkey, &vkeys, 2));
    let served = log.checkpoint();
    let served_size: u64 = served.lines().nth(1).unwrap().parse().unwrap();
    assert!(served_size <= index, "served {served_size}, entry {index}");
    let r = log.get(&format!("/v1/receipts/{index}"));
    assert_eq!(r.status, 202);
    assert_eq!(r.json()["witnessed"], false);
    let failing = log.get("/v1/log").json();
    assert!(
        failing["witnessing"]["witnesses"][1]["failures"]
            .as_u64()
            .unwrap()
            > 0
    );

    // The second witness comes back with its records: the entry gets witnessed.
    let w2 = Server::start_witness(&dir.path().join("w2"), &keys[1].0, &[&log_vkey], &w2_addr);
    assert_eq!(
        info_of(&w2)["logs"][0]["size"],
        w2_before["logs"][0]["size"]
    );
    wait_until("the entry to be witnessed", || {
        log.get(&format!("/v1/receipts/{index}")).status == 200
    });
    let receipt = log.get(&format!("/v1/receipts/{index}")).json();
    assert_eq!(receipt["witnessed"], true);
    assert!(verify_cli(&receipt, &log_vkey, &vkeys, 2));
    witnesses[1] = Some(w2);

    // A fork: another log with the same key and another history, submitting to the same
    // witnesses, gets no cosignature: its writes are never witnessed, it serves no checkpoint.
    let mut fork_args: Vec<String> = vec![
        "--key-file".into(),
        log_key_file.display().to_string(),
        "--witness-wait-ms".into(),
        "300".into(),
    ];
    for (url, vkey) in urls.iter().zip(&vkeys).take(2) {
        fork_args.push("--witness".into());
        fork_args.push(format!("{url}={vkey}"));
    }
    let fork_refs: Vec<&str> = fork_args.iter().map(String::as_str).collect();
    let fork = Server::start_with(&dir.path().join("fork"), &fork_refs, &[]);
    let fork_admin = fork.admin_token();
    let w1 = witnesses[0].as_ref().unwrap();
    let target = info_of(w1)["logs"][0]["size"].as_u64().unwrap();
    let mut n = 100;
    // The fork's own checkpoints come with its (unwitnessed) answers.
    let fork_register = |n: u64| -> String {
        let a = fork.register(
            &fork_admin,
            &format!("Fork {n}"),
            &["depositor"],
            &common::test_key(n),
        );
        assert_eq!(a.status, 202, "{}", a.text());
        a.json()["checkpoint"].as_str().unwrap().to_owned()
    };
    let mut fork_checkpoint = String::new();
    while fork.size() < target {
        fork_checkpoint = fork_register(n);
        n += 1;
    }
    assert_eq!(
        fork.size(),
        target,
        "the fork reached the witness's size exactly"
    );
    for w in witnesses.iter().flatten() {
        let size = info_of(w)["logs"][0]["size"].as_u64().unwrap();
        if size == fork.size() {
            // Same size, another root.
            let a = post(w, format!("old {size}\n\n{fork_checkpoint}").as_bytes());
            a.assert_error(409, "root_mismatch", "a fork at the same size");
        }
    }
    let fork_checkpoint = fork_register(n);
    for w in witnesses.iter().flatten() {
        let size = info_of(w)["logs"][0]["size"].as_u64().unwrap();
        let to = fork.size();
        let proof = fork
            .get(&format!("/v1/proofs/consistency?from={size}&to={to}"))
            .json();
        let mut body = format!("old {size}\n");
        for h in proof["hashes"].as_array().unwrap() {
            body.push_str(h.as_str().unwrap());
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&fork_checkpoint);
        post(w, body.as_bytes()).assert_error(
            422,
            "invalid_consistency_proof",
            "a fork's consistency proof",
        );
    }
    fork.get("/checkpoint")
        .assert_error(503, "not_witnessed", "the fork's checkpoint");
    let fork_info = fork.get("/v1/log").json();
    for w in fork_info["witnessing"]["witnesses"].as_array().unwrap() {
        assert_eq!(w["cosignatures"], 0, "{w}");
        assert!(w["failures"].as_u64().unwrap() > 0, "{w}");
    }
    // Every witness's record is on the true log's history.
    for w in witnesses.iter().flatten() {
        let i = info_of(w);
        let size = i["logs"][0]["size"].as_u64().unwrap();
        let root = i["logs"][0]["root"].as_str().unwrap();
        assert!(on_history(&log, &log_vkey, size, root), "{i}");
    }

    // /metrics shows each witness at work.
    let metrics = log.get("/metrics").text();
    for i in 1..=3 {
        let line = format!("datapole_witness_cosignatures{{witness=\"witness.test/w{i}\"}}");
        assert!(metrics.contains(&line), "{line} not in\n{metrics}");
    }
    assert!(metrics.contains("datapole_cosigned_size "));

    // Restarted while every witness is down, the log serves its last cosigned checkpoint at
    // once, and new writes wait for the quorum.
    let served = log.checkpoint();
    drop(fork);
    witnesses.clear();
    log.stop();
    let log = Server::start_with(&dir.path().join("log"), &arg_refs, &[]);
    assert_eq!(log.checkpoint(), served);
    assert!(cosigners(&served, &vkeys) >= 2);
    let a = deposit(&log, &p, b"after the restart");
    assert_eq!(a.status, 202, "{}", a.text());
}

fn info_of(w: &Server) -> Value {
    info(w)
}

/// A client of the witness that stalls on a kept-alive connection (the next request head
/// trickled, or a body that never comes) is cut off: each must see its connection closed
/// within a liveness deadline many times the witness's 5 s request and keep-alive times.
#[test]
fn stalled_clients_of_the_witness_are_cut_off() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let (_, log_vkey) = log_key(dir.path(), "stalled.test/log");
    let (key, _) = witness_key(dir.path(), "witness.test/w1");
    let w = Server::start_witness(&dir.path().join("w"), &key, &[&log_vkey], "127.0.0.1:0");
    let addr = w.base.trim_start_matches("http://").to_owned();
    let liveness = std::time::Duration::from_secs(60);
    let next = [
        b"GET / HTTP/1.1\r\nHo".as_slice(),
        b"POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nold 0\n"
            .as_slice(),
        b"POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n40\r\nold"
            .as_slice(),
    ];
    let stalled: Vec<std::net::TcpStream> = next
        .iter()
        .map(|next| {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(liveness)).unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut answer = [0u8; 12];
            s.read_exact(&mut answer).unwrap();
            assert_eq!(&answer, b"HTTP/1.1 200");
            s.write_all(next).unwrap();
            s
        })
        .collect();
    for (mut s, next) in stalled.into_iter().zip(next) {
        let mut rest = Vec::new();
        let read = s.read_to_end(&mut rest);
        let what = String::from_utf8_lossy(next);
        if let Err(e) = read {
            assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "{what:?}: still open after {liveness:?}"
            );
        }
    }
    assert_eq!(w.get("/healthz").status, 200);
}
