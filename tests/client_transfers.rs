//! `datapole deposit` and `datapole download`, the real binary, against a stand-in for the
//! server's upload and content endpoints: a few dozen lines of HTTP/1.1 over `TcpListener` that
//! follow the API contract (`POST /v1/uploads`, `HEAD` and `PATCH` with `Upload-Offset`,
//! `GET .../content` with `Range`) and cut connections where a test says. What the stand-in
//! logs is checked with the crate's own types: it verifies the statement's signature, and its
//! receipt is a real one (a one-entry log signed with a `LogSigner`), so the client's offline
//! verification runs for real.
//!
//! This tests the client's side of the contract: the interrupted runs, the resumption from the
//! state file and from the server's offset, the `.part` file and the checks before it is
//! renamed. The same flows against the real server belong in a black-box test once its upload
//! endpoints exist.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::prelude::*;
use chrono::Utc;
use datapole::log::LogSigner;
use datapole::receipt::{Receipt, ReceiptInclusion, ReceiptLog, ReceiptSigner, RECEIPT_FORMAT};
use datapole::statement::deposit::{Deposit, DepositLeaf, DepositPayload, Placement};
use datapole::statement::dsse::Envelope;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const UPLOAD_ID: &str = "0190f1d2-aaaa-7000-8000-000000000001";
const DATASET_ID: &str = "0190f1d2-bbbb-7000-8000-000000000002";
const PARTICIPANT: &str = "0190f1d2-cccc-7000-8000-000000000003";
const TOKEN: &str = "dpt_stand_in_token";

/// An upload the stand-in holds.
struct Upload {
    envelope: Envelope,
    payload: DepositPayload,
    bytes: Vec<u8>,
}

/// The stand-in's state and what the test scripts.
struct State {
    log: LogSigner,
    participant_key: ed25519_dalek::VerifyingKey,
    upload: Option<Upload>,
    /// The bytes of the last completed upload.
    completed: Option<Vec<u8>>,
    /// For each coming PATCH: cut the connection after this many bytes of its body.
    cut_patches: VecDeque<usize>,
    /// For each coming content GET: cut the connection after this many bytes of its body.
    cut_gets: VecDeque<usize>,
    /// Told when a PATCH is cut.
    on_cut: Option<mpsc::Sender<()>>,
    /// The content `GET .../content` serves.
    content: Vec<u8>,
    /// What `GET /v1/datasets/{id}` lists for version 1.
    listed: Option<(String, u64)>,
    /// Each request: method, path, and its Upload-Offset or Range header.
    requests: Vec<String>,
    /// Requests without the participant's token.
    unauthenticated: usize,
}

struct StandIn {
    url: String,
    vkey: String,
    state: Arc<Mutex<State>>,
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn content_length(&self) -> usize {
        self.header("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0)
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Some(Request {
        method,
        path,
        headers,
    })
}

fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

fn respond_json(stream: &mut TcpStream, status: &str, value: &Value) {
    respond(
        stream,
        status,
        &[("Content-Type", "application/json".into())],
        value.to_string().as_bytes(),
    );
}

fn error(stream: &mut TcpStream, status: &str, code: &str) {
    respond_json(
        stream,
        status,
        &json!({"error": {"code": code, "message": format!("stand-in says {code}")}}),
    );
}

/// The receipt of a one-entry log whose entry is the public deposit `envelope` makes, as
/// version 1 of [`DATASET_ID`].
fn receipt(log: &LogSigner, vkey: &str, envelope: &Envelope, participant_key: &str) -> Receipt {
    let (payload, _) = envelope.check().unwrap();
    let payload = DepositPayload::from_statement_bytes(&payload).unwrap();
    let deposit = Deposit::try_from(&payload).unwrap();
    let depositor = Uuid::parse_str(PARTICIPANT).unwrap();
    let place = Placement {
        dataset_id: Uuid::parse_str(DATASET_ID).unwrap(),
        version: 1,
        depositor,
        controller: depositor,
    };
    let leaf = DepositLeaf::new(&deposit, envelope, &[0; 32], place, Utc::now())
        .unwrap()
        .to_bytes()
        .unwrap();
    let root = datapole::log::Hash(datapole::verify::leaf_hash(&leaf));
    Receipt {
        format: RECEIPT_FORMAT.into(),
        log: ReceiptLog {
            origin: log.origin().into(),
            vkey: vkey.into(),
        },
        index: 0,
        leaf: BASE64_STANDARD.encode(&leaf),
        inclusion: ReceiptInclusion {
            tree_size: 1,
            hashes: vec![],
        },
        checkpoint: log.sign(1, root).unwrap().note,
        statement: None,
        opening: None,
        signer: Some(ReceiptSigner {
            participant_id: PARTICIPANT.into(),
            public_key: participant_key.into(),
        }),
        witnessed: None,
    }
}

impl StandIn {
    fn start(participant_key: &str) -> StandIn {
        let (skey, vkey) = LogSigner::generate("stand-in.example/log").unwrap();
        let state = Arc::new(Mutex::new(State {
            log: LogSigner::from_skey(&skey, None).unwrap(),
            participant_key: datapole::participant::parse_public_key(participant_key).unwrap(),
            upload: None,
            completed: None,
            cut_patches: VecDeque::new(),
            cut_gets: VecDeque::new(),
            on_cut: None,
            content: Vec::new(),
            listed: None,
            requests: Vec::new(),
            unauthenticated: 0,
        }));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = state.clone();
        let (vkey2, key2) = (vkey.clone(), participant_key.to_owned());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
                handle(stream, &shared, &vkey2, &key2);
            }
        });
        StandIn { url, vkey, state }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

fn handle(stream: TcpStream, state: &Mutex<State>, vkey: &str, participant_key: &str) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    let Some(req) = read_request(&mut reader) else {
        return;
    };
    let mut s = state.lock().unwrap();
    let detail = req
        .header("upload-offset")
        .or(req.header("range"))
        .unwrap_or("");
    s.requests.push(
        format!("{} {} {detail}", req.method, req.path)
            .trim_end()
            .to_owned(),
    );
    if req.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
        s.unauthenticated += 1;
    }
    let upload_path = format!("/v1/uploads/{UPLOAD_ID}");
    let content_path = format!("/v1/datasets/{DATASET_ID}/versions/1/content");
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/v1/log") => respond_json(
            &mut stream,
            "200 OK",
            &json!({"origin": s.log.origin(), "vkey": vkey}),
        ),
        ("POST", "/v1/uploads") => {
            let mut body = vec![0; req.content_length()];
            reader.read_exact(&mut body).unwrap();
            let envelope: Envelope = serde_json::from_slice(&body).unwrap();
            let payload = envelope.verify(&s.participant_key).unwrap();
            let payload = DepositPayload::from_statement_bytes(&payload).unwrap();
            let size = payload.size;
            s.upload = Some(Upload {
                envelope,
                payload,
                bytes: Vec::new(),
            });
            respond(
                &mut stream,
                "201 Created",
                &[
                    ("Location", upload_path.clone()),
                    ("Content-Type", "application/json".into()),
                ],
                json!({"upload_id": UPLOAD_ID, "offset": 0, "size": size,
                       "expires_at": "2099-01-01T00:00:00Z"})
                .to_string()
                .as_bytes(),
            );
        }
        ("HEAD", p) if p == upload_path => match &s.upload {
            Some(u) => respond(
                &mut stream,
                "200 OK",
                &[
                    ("Upload-Offset", u.bytes.len().to_string()),
                    ("Upload-Length", u.payload.size.to_string()),
                ],
                b"",
            ),
            None => respond(&mut stream, "404 Not Found", &[], b""),
        },
        ("PATCH", p) if p == upload_path => {
            let Some(upload) = s.upload.as_mut() else {
                return error(&mut stream, "404 Not Found", "upload_not_found");
            };
            let offset: Option<usize> = req.header("upload-offset").and_then(|o| o.parse().ok());
            if offset != Some(upload.bytes.len()) {
                return error(&mut stream, "409 Conflict", "offset_mismatch");
            }
            let length = req.content_length();
            if let Some(cut) = s.cut_patches.pop_front() {
                let mut body = vec![0; cut.min(length)];
                reader.read_exact(&mut body).unwrap();
                let upload = s.upload.as_mut().unwrap();
                upload.bytes.extend_from_slice(&body);
                if let Some(tx) = &s.on_cut {
                    let _ = tx.send(());
                }
                // Dropping the connection with the rest of the body unread.
                let _ = stream.shutdown(std::net::Shutdown::Both);
                return;
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let upload = s.upload.as_mut().unwrap();
            upload.bytes.extend_from_slice(&body);
            let size = upload.payload.size as usize;
            if upload.bytes.len() < size {
                let at = upload.bytes.len().to_string();
                return respond(&mut stream, "204 No Content", &[("Upload-Offset", at)], b"");
            }
            let upload = s.upload.take().unwrap();
            if datapole::field::hex(&Sha256::digest(&upload.bytes)) != upload.payload.sha256 {
                return error(&mut stream, "422 Unprocessable Entity", "digest_mismatch");
            }
            let r = receipt(&s.log, vkey, &upload.envelope, participant_key);
            s.completed = Some(upload.bytes);
            respond_json(
                &mut stream,
                "201 Created",
                &json!({"dataset_id": DATASET_ID, "version": 1, "index": 0, "duplicate": false,
                        "receipt": r}),
            );
        }
        ("GET", p) if p.starts_with(&content_path) => {
            let start: usize = req
                .header("range")
                .and_then(|r| r.strip_prefix("bytes="))
                .and_then(|r| r.strip_suffix('-'))
                .and_then(|r| r.parse().ok())
                .unwrap_or(0);
            let total = s.content.len();
            let body = s.content[start..].to_vec();
            let (status, mut headers) = if req.header("range").is_some() {
                (
                    "206 Partial Content",
                    vec![(
                        "Content-Range",
                        format!("bytes {start}-{}/{total}", total - 1),
                    )],
                )
            } else {
                ("200 OK", vec![])
            };
            headers.push(("Accept-Ranges", "bytes".into()));
            match s.cut_gets.pop_front() {
                Some(cut) => {
                    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
                    for (name, value) in &headers {
                        head.push_str(&format!("{name}: {value}\r\n"));
                    }
                    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(&body[..cut]);
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                }
                None => respond(&mut stream, status, &headers, &body),
            }
        }
        ("GET", p) if p.starts_with(&format!("/v1/datasets/{DATASET_ID}?")) => {
            let (sha256, size) = s.listed.clone().unwrap();
            respond_json(
                &mut stream,
                "200 OK",
                &json!({"dataset_id": DATASET_ID, "versions": [
                    {"index": 0, "dataset_id": DATASET_ID, "version": 1, "sha256": sha256,
                     "size": size}], "truncated": false}),
            );
        }
        _ => error(&mut stream, "404 Not Found", "not_found"),
    }
}

fn datapole(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_datapole"));
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
    cmd.env("HOME", home);
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A participant key from `datapole keygen --participant`: (PEM path, public key).
fn participant(dir: &Path) -> (PathBuf, String) {
    let key = dir.join("depositor.pem");
    let out = datapole(dir)
        .args(["keygen", "--participant", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let public = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    (key, public)
}

/// Bytes that are not a repetition of a short pattern.
fn content(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut block = Sha256::digest(b"datapole").to_vec();
    while out.len() < len {
        block = Sha256::digest(&block).to_vec();
        out.extend_from_slice(&block);
    }
    out.truncate(len);
    out
}

const MIB: usize = 1 << 20;

#[test]
fn an_interrupted_deposit_resumes_from_its_state_file_and_from_the_servers_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = participant(dir.path());
    let server = StandIn::start(&public);
    let file = dir.path().join("admissions.csv");
    let data = content(3 * MIB + 5);
    std::fs::write(&file, &data).unwrap();
    // Everything but the log key from a configuration file; the key pinned in the environment.
    let config = dir.path().join("client.toml");
    std::fs::write(
        &config,
        format!(
            "server = \"{}\"\ntoken = \"{TOKEN}\"\nparticipant = \"{PARTICIPANT}\"\nkey = \"depositor.pem\"\n",
            server.url
        ),
    )
    .unwrap();
    assert!(key.starts_with(dir.path()));
    let deposit = || {
        let mut cmd = datapole(dir.path());
        cmd.arg("deposit")
            .arg(&file)
            .arg("--config")
            .arg(&config)
            .env("DATAPOLE_VKEY", &server.vkey);
        cmd
    };

    // First run: killed once the server has 1 MiB.
    let (tx, rx) = mpsc::channel();
    {
        let mut s = server.state();
        s.cut_patches.push_back(MIB);
        s.on_cut = Some(tx);
    }
    let mut child = deposit()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the first PATCH never came");
    child.kill().unwrap();
    child.wait().unwrap();
    server.state().on_cut = None;
    let state_file = dir.path().join("admissions.csv.upload.json");
    let state: Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    assert_eq!(
        state["upload_url"],
        format!("{}/v1/uploads/{UPLOAD_ID}", server.url)
    );
    assert_eq!(state["size"], data.len());
    assert_eq!(
        state["sha256"],
        datapole::field::hex(&Sha256::digest(&data))
    );
    let receipt_file = dir.path().join("admissions.csv.receipt.json");
    assert!(!receipt_file.exists());

    // Second run: resumes at 1 MiB; its first PATCH is cut after another MiB, and it goes on
    // from the server's offset within the run.
    server.state().cut_patches.push_back(MIB);
    let out = deposit().output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "resuming the upload {}/v1/uploads/{UPLOAD_ID} at byte {MIB} of {}",
            server.url,
            data.len()
        )),
        "{}",
        text(&out)
    );
    assert!(
        stdout.contains(&format!("dataset {DATASET_ID} version 1, entry 0\n")),
        "{}",
        text(&out)
    );
    assert!(stdout.contains(&format!("receipt saved to {}", receipt_file.display())));
    assert!(stdout.contains("✓ content:"), "{}", text(&out));
    assert!(!stdout.contains('✗'), "{}", text(&out));

    let s = server.state();
    assert_eq!(s.completed.as_deref(), Some(data.as_slice()));
    assert_eq!(s.unauthenticated, 0, "{:?}", s.requests);
    let uploads: Vec<&str> = s
        .requests
        .iter()
        .map(String::as_str)
        .filter(|r| r.contains("/v1/uploads"))
        .collect();
    let u = format!("/v1/uploads/{UPLOAD_ID}");
    assert_eq!(
        uploads,
        [
            "POST /v1/uploads".to_owned(),
            format!("PATCH {u} 0"),
            format!("HEAD {u}"),
            format!("PATCH {u} {MIB}"),
            format!("HEAD {u}"),
            format!("PATCH {u} {}", 2 * MIB),
        ]
    );
    // Pinned: the log's key was never asked for.
    assert!(!s.requests.iter().any(|r| r.contains("/v1/log")));
    drop(s);
    assert!(!state_file.exists());
    let saved: Value = serde_json::from_slice(&std::fs::read(&receipt_file).unwrap()).unwrap();
    let (report, _) =
        datapole::verify::receipt::verify_document(&saved, Some(&server.vkey)).unwrap();
    assert!(report.ok(), "{report:?}");

    // A receipt is never replaced.
    let out = deposit().output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("exists"), "{}", text(&out));
}

#[test]
fn downloads_resume_and_are_renamed_only_when_the_receipt_proves_them() {
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = participant(dir.path());
    let server = StandIn::start(&public);
    let data = content(2 * MIB + 3);
    // The receipt a deposit of `data` would have had.
    let receipt_file = dir.path().join("receipt.json");
    {
        let signing =
            datapole::cli::client::load_participant_key(&dir.path().join("depositor.pem")).unwrap();
        let payload = json!({"sha256": datapole::field::hex(&Sha256::digest(&data)),
            "size": data.len(), "media_type": "text/csv", "title": "t", "visibility": "public",
            "issued_at": Utc::now().to_rfc3339(), "nonce": "0123456789abcdef"});
        let envelope = Envelope::sign(
            datapole::statement::deposit::DEPOSIT_TYPE,
            payload.to_string().as_bytes(),
            PARTICIPANT,
            &signing,
        );
        let s = server.state();
        let r = receipt(&s.log, &server.vkey, &envelope, &public);
        std::fs::write(&receipt_file, serde_json::to_vec(&r).unwrap()).unwrap();
    }
    let download = |out: &Path| {
        let mut cmd = datapole(dir.path());
        cmd.args(["download", DATASET_ID, "--server", &server.url, "--out"])
            .arg(out)
            .env("DATAPOLE_TOKEN", TOKEN);
        cmd
    };

    // Cut after 700,000 bytes: the rest comes with a Range request, within the run. The log's
    // key is fetched (and said so).
    server.state().content = data.clone();
    server.state().cut_gets.push_back(700_000);
    let out_file = dir.path().join("out.csv");
    let out = download(&out_file)
        .arg("--receipt")
        .arg(&receipt_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read(&out_file).unwrap(), data);
    assert!(!dir.path().join("out.csv.part").exists());
    let all = text(&out);
    assert!(all.contains("log key fetched from"), "{all}");
    assert!(
        all.contains(&format!("✓ content: {} bytes", data.len())),
        "{all}"
    );
    let path = format!("/v1/datasets/{DATASET_ID}/versions/1/content");
    {
        let s = server.state();
        let gets: Vec<&String> = s.requests.iter().filter(|r| r.contains(&path)).collect();
        assert_eq!(
            gets,
            [&format!("GET {path}"), &format!("GET {path} bytes=700000-")]
        );
        assert_eq!(s.unauthenticated, 0, "{:?}", s.requests);
    }

    // Content other than the receipt's: reported, kept as .part, never renamed.
    let mut tampered = data.clone();
    tampered[1000] ^= 1;
    server.state().content = tampered;
    let bad = dir.path().join("bad.csv");
    let out = download(&bad)
        .arg("--receipt")
        .arg(&receipt_file)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("SHA-256"), "{}", text(&out));
    assert!(!bad.exists());
    assert_eq!(
        std::fs::metadata(dir.path().join("bad.csv.part"))
            .unwrap()
            .len(),
        data.len() as u64
    );

    // A receipt of another dataset: nothing is downloaded.
    let other = dir.path().join("other.csv");
    let out = datapole(dir.path())
        .args([
            "download",
            &Uuid::now_v7().to_string(),
            "--server",
            &server.url,
        ])
        .arg("--out")
        .arg(&other)
        .arg("--receipt")
        .arg(&receipt_file)
        .arg("--vkey")
        .arg(&server.vkey)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("does not verify: nothing downloaded"),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join("other.csv.part").exists());

    // Without a receipt, from the listing, resuming an earlier .part; said so.
    server.state().content = data.clone();
    server.state().listed = Some((
        datapole::field::hex(&Sha256::digest(&data)),
        data.len() as u64,
    ));
    let listed = dir.path().join("listed.csv");
    std::fs::write(dir.path().join("listed.csv.part"), &data[..1000]).unwrap();
    let out = download(&listed).args(["--version", "1"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("the receipt was not checked"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(&listed).unwrap(), data);
    let s = server.state();
    assert_eq!(
        s.requests.last().map(String::as_str),
        Some(format!("GET {path} bytes=1000-").as_str())
    );
}

#[test]
fn server_errors_are_reported_as_code_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = participant(dir.path());
    let server = StandIn::start(&public);
    // No listing scripted for this dataset: the stand-in answers 404 not_found.
    let out = datapole(dir.path())
        .args(["download", &Uuid::now_v7().to_string(), "--version", "1"])
        .args(["--server", &server.url, "--out"])
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("not_found: stand-in says not_found (HTTP 404)"),
        "{}",
        text(&out)
    );
    // Missing settings are named with where they can come from.
    let file = dir.path().join("f.txt");
    std::fs::write(&file, "x").unwrap();
    let out = datapole(dir.path())
        .arg("deposit")
        .arg(&file)
        .arg("--key")
        .arg(&key)
        .args(["--participant", PARTICIPANT, "--server", &server.url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("no token: give --token, set DATAPOLE_TOKEN, or set `token` in"),
        "{}",
        text(&out)
    );
    assert!(server
        .state()
        .requests
        .iter()
        .all(|r| !r.contains("uploads")));
}
