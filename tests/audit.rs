//! `datapole audit` against real logs: a healthy log is checked incrementally; a log that was
//! replaced by another history under the same key (larger, or of the same size) is reported
//! as a fork with a non-zero exit, and the saved state does not move past it.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{binary, deposit_payload, test_key, test_signing_key, Server};
use datapole::statement::deposit::DEPOSIT_TYPE;
use datapole::statement::dsse::Envelope;

fn audit(server: &Server, vkey: &str, state: &Path) -> Output {
    Command::new(binary())
        .args([
            "audit",
            "--log-url",
            &server.base,
            "--vkey",
            vkey,
            "--state-dir",
        ])
        .arg(state)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

fn deposit(server: &Server, id: &str, i: u64, content: &[u8], visibility: &str) {
    let env = Envelope::sign(
        DEPOSIT_TYPE,
        deposit_payload(content, visibility).to_string().as_bytes(),
        id,
        &test_signing_key(i),
    );
    let a = server.request(
        "POST",
        "/v1/deposits",
        &[("content-type", "application/json")],
        &env.to_bytes().unwrap(),
    );
    assert_eq!(a.status, 201, "{}", a.text());
}

#[test]
fn a_healthy_log_audits_clean_and_incrementally() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let admin = server.admin_token();
    let vkey = server.vkey();
    let id = server
        .register(&admin, "D", &["depositor"], &test_key(1))
        .json()["participant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for k in 0..300u32 {
        deposit(
            &server,
            &id,
            1,
            &k.to_be_bytes(),
            if k % 2 == 0 { "public" } else { "private" },
        );
    }
    let state = dir.path().join("audit");
    let out = audit(&server, &vkey, &state);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("entries checked: 301 new, 301 in all"), "{t}");
    assert!(
        t.contains("participant: 1")
            && t.contains("deposit (public): 150")
            && t.contains("deposit (private): 150"),
        "{t}"
    );
    assert!(state.join("state.json").exists());

    // Only what is new is downloaded and checked next time.
    deposit(&server, &id, 1, b"one more", "public");
    let out = audit(&server, &vkey, &state);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("entries checked: 1 new, 302 in all"),
        "{}",
        text(&out)
    );

    // The wrong key is refused.
    let (_, other) = datapole::log::LogSigner::generate("datapole.localhost/log").unwrap();
    let out = audit(&server, &other, &dir.path().join("other"));
    assert!(!out.status.success());
}

#[test]
fn a_rewritten_history_under_the_same_key_is_reported_as_a_fork() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("log.key");
    let out = Command::new(binary())
        .args(["keygen", "--name", "fork.example/log", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    let vkey = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let key_arg = key.to_str().unwrap();
    let register_n = |server: &Server, first: u64, n: u64| {
        let admin = server.admin_token();
        for i in first..first + n {
            assert_eq!(
                server
                    .register(&admin, "Org", &["auditor"], &test_key(i))
                    .status,
                201
            );
        }
    };
    let state = dir.path().join("audit");
    {
        let a = Server::start_with(&dir.path().join("a"), &["--key-file", key_arg], &[]);
        register_n(&a, 0, 5);
        let out = audit(&a, &vkey, &state);
        assert!(out.status.success(), "{}", text(&out));
    }
    let saved = std::fs::read(state.join("state.json")).unwrap();
    // The same size, another history.
    {
        let b = Server::start_with(&dir.path().join("b"), &["--key-file", key_arg], &[]);
        register_n(&b, 100, 5);
        let out = audit(&b, &vkey, &state);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            text(&out).contains("fork: two roots at size 5"),
            "{}",
            text(&out)
        );
    }
    // A larger, inconsistent history.
    {
        let c = Server::start_with(&dir.path().join("c"), &["--key-file", key_arg], &[]);
        register_n(&c, 200, 9);
        let out = audit(&c, &vkey, &state);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            text(&out).contains("fork: the checkpoint of size 9 is not consistent"),
            "{}",
            text(&out)
        );
    }
    assert_eq!(
        std::fs::read(state.join("state.json")).unwrap(),
        saved,
        "the state did not move"
    );
}

/// A man in the middle that serves the log faithfully except that it flips a byte in every
/// entry bundle.
fn tampering_proxy(upstream: String) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(10_000) {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request_line.split(' ').nth(1).unwrap_or("/").to_owned();
            let bytes = |r: ureq::Response| {
                let mut b = Vec::new();
                let _ = std::io::Read::read_to_end(&mut r.into_reader(), &mut b);
                b
            };
            let (status, mut body) = match ureq::get(&format!("{upstream}{path}")).call() {
                Ok(r) => (r.status(), bytes(r)),
                Err(ureq::Error::Status(code, r)) => (code, bytes(r)),
                Err(_) => (502, Vec::new()),
            };
            if path.starts_with("/tile/entries/") && status == 200 {
                if let Some(last) = body.last_mut() {
                    *last ^= 1;
                }
            }
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&body);
        }
    });
    format!("http://{addr}")
}

#[test]
fn bundles_that_do_not_match_the_tiles_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let admin = server.admin_token();
    for i in 0..3 {
        assert_eq!(
            server
                .register(&admin, "Org", &["auditor"], &test_key(i))
                .status,
            201
        );
    }
    let vkey = server.vkey();
    let proxy = tampering_proxy(server.base.clone());
    let out = Command::new(binary())
        .args(["audit", "--log-url", &proxy, "--vkey", &vkey, "--state-dir"])
        .arg(dir.path().join("audit"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("the entry bundles give root"),
        "{}",
        text(&out)
    );
}

/// Starts a log whose entries were appended straight through the engine (sequencer, sled,
/// one checkpoint per batch), bypassing the API's checks; returns it and its key.
fn engine_log(dir: &Path, entries: Vec<Vec<u8>>) -> (Server, String) {
    use std::sync::Arc;

    use datapole::log::tiled::Options;
    use datapole::log::{AppendRequest, DiskStore, LogSigner, Sequencer, SequencerConfig};
    let key = dir.join("log.key");
    let out = Command::new(binary())
        .args(["keygen", "--name", "engine.example/log", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    let vkey = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    {
        let signer = LogSigner::from_skey(&std::fs::read_to_string(&key).unwrap(), None).unwrap();
        let store = DiskStore::open_dir(&data, &Options::default()).unwrap();
        let config = SequencerConfig {
            max_batch: 8192,
            queue: entries.len() + 1,
            ..SequencerConfig::default()
        };
        let (log, thread) = Sequencer::start(Arc::new(store), signer, config).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let appends = entries.into_iter().map(|entry| {
            let log = log.clone();
            async move {
                log.append(AppendRequest {
                    entry,
                    ..AppendRequest::default()
                })
                .await
            }
        });
        for result in rt.block_on(futures_util::future::join_all(appends)) {
            result.unwrap();
        }
        drop(log);
        thread.join().unwrap();
    }
    datapole::cli::write_secret(&data.join("admin-token"), &"unused".repeat(6), false).unwrap();
    // Built by this process, whose files are not private: `serve` would refuse it.
    common::make_private(&data);
    let server = Server::start_with(&data, &["--key-file", key.to_str().unwrap()], &[]);
    (server, vkey)
}

fn participant_leaf(id: uuid::Uuid, roles: &[&str], public_key: &[u8; 32]) -> Vec<u8> {
    serde_json::json!({"v": 1, "type": "participant", "id": id, "name": "P", "roles": roles,
        "public_key": datapole::audit::b64(public_key), "registered_at": "2026-11-28T00:00:00.000Z"})
    .to_string()
    .into_bytes()
}

#[test]
fn bad_entries_are_reported_with_their_index_and_why() {
    let dir = tempfile::tempdir().unwrap();
    // A log that accepted what datapole's API would refuse.
    let id = uuid::Uuid::new_v4();
    let forged = Envelope::sign(
        DEPOSIT_TYPE,
        deposit_payload(b"x", "public").to_string().as_bytes(),
        &id.to_string(),
        &test_signing_key(9),
    );
    let deposit = serde_json::json!({"v":1,"type":"deposit","dataset_id":uuid::Uuid::now_v7(),"version":1,"depositor":id,
        "sha256":common::sha_hex(b"x"),"size":1,"visibility":"public","deposited_at":"2026-11-28T00:00:00.000Z","statement":forged});
    let entries = vec![
        participant_leaf(id, &["depositor"], &test_key(1)),
        deposit.to_string().into_bytes(),
        b"not json".to_vec(),
        // A consent recorded by a participant that is no controller.
        serde_json::json!({"v":1,"type":"consent","id":uuid::Uuid::new_v4(),"issuer":id,
            "time":"2026-11-28T00:00:00.000Z","commitment":"ab".repeat(32)})
        .to_string()
        .into_bytes(),
    ];
    let (server, vkey) = engine_log(dir.path(), entries);
    let out = audit(&server, &vkey, &dir.path().join("audit"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("PROBLEMS: 3"), "{t}");
    assert!(t.contains("3 participant"), "{t}");
    assert!(t.contains("lacks the controller role"), "{t}");
    assert!(
        t.contains("1 statement: the signature does not verify"),
        "{t}"
    );
    assert!(t.contains("2 not JSON"), "{t}");
}

#[test]
fn a_signed_statement_with_two_meanings_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    // A log that logged a public deposit whose signed payload names a metadata key twice: one
    // signature over two readings (serde_json's map keeps the last `x`, JSON.parse too, a
    // typed reader refuses it).
    let id = uuid::Uuid::new_v4();
    let mut payload = deposit_payload(b"x", "public");
    payload["metadata"] = serde_json::json!({"a": {"placeholder": 0}});
    let twice = payload
        .to_string()
        .replace(r#"{"placeholder":0}"#, r#"{"x":1,"x":2}"#);
    let statement = Envelope::sign(
        DEPOSIT_TYPE,
        twice.as_bytes(),
        &id.to_string(),
        &test_signing_key(1),
    );
    let deposit = serde_json::json!({"v":1,"type":"deposit","dataset_id":uuid::Uuid::now_v7(),"version":1,"depositor":id,
        "sha256":common::sha_hex(b"x"),"size":1,"visibility":"public","deposited_at":"2026-11-28T00:00:00.000Z","statement":statement});
    let entries = vec![
        participant_leaf(id, &["depositor"], &test_key(1)),
        deposit.to_string().into_bytes(),
    ];
    let (server, vkey) = engine_log(dir.path(), entries);
    let out = audit(&server, &vkey, &dir.path().join("audit"));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("PROBLEMS: 1"), "{t}");
    assert!(
        t.contains(r#"1 statement payload.metadata.a: duplicate key "x""#),
        "{t}"
    );
}

#[test]
fn a_100k_entry_log_audits_in_one_run() {
    const N: u64 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    // Participants with valid, distinct keys (the audit refuses a key registered twice).
    let entries = (0..N)
        .map(|i| {
            participant_leaf(
                uuid::Uuid::from_u128(u128::from(i) + 1),
                &["auditor"],
                &test_key(i),
            )
        })
        .collect();
    let (server, vkey) = engine_log(dir.path(), entries);
    assert_eq!(server.size(), N);
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
    let out = String::from_utf8_lossy(&audit.stdout);
    assert!(audit.status.success(), "{out}");
    assert!(out.contains("entries checked: 100000 new"), "{out}");
    // Its peak memory is a measurement (docs/BENCHMARKS.md, *Auditing a 100,000-entry log*), not
    // a bound a test could hold on a shared machine.
}
