//! The sovereign archive, black box: the real server on port 0 keeps a dataset's bytes. An
//! upload opened with the signed deposit statement, sent in pieces (and resumed after a
//! dropped connection, sending only what was missing), downloaded back byte for byte, with
//! ranges; a private dataset is ciphertext on every disk; a byte flipped on one disk is found
//! by the next fixity run, logged, and repaired from the other disk; disposal before the
//! retention ends or under a legal hold is refused; an accessor without a permit gets 403 and
//! nothing; every custody event is on the log with its receipt.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use common::*;
use datapole::statement::access::ACCESS_TYPE;
use datapole::statement::consent::CONSENT_TYPE;
use datapole::statement::deposit::DEPOSIT_TYPE;
use datapole::verify::receipt::verify_receipt;
use serde_json::{json, Value};

/// Bytes that look like a real extract and are easy to find on a disk.
fn extract(rows: usize, seed: &str) -> Vec<u8> {
    let mut out = b"patient_pseudonym,visit_date,hba1c\n".to_vec();
    for i in 0..rows {
        out.extend_from_slice(
            format!(
                "{seed}-{i:08},2026-11-{:02},{}.{}\n",
                i % 28 + 1,
                5 + i % 5,
                i % 10
            )
            .as_bytes(),
        );
    }
    out
}

struct Archive {
    server: Server,
    admin: String,
    vkey: String,
    chu: Participant,
}

fn start(dir: &Path, two_disks: bool) -> Archive {
    let data = dir.join("data");
    let disk1 = format!("disk1={}", dir.join("disk1").display());
    let disk2 = format!("disk2={}", dir.join("disk2").display());
    let mut args: Vec<&str> = vec!["--fixity-interval-hours", "0"];
    if two_disks {
        args.extend(["--archive-location", &disk1, "--archive-location", &disk2]);
    }
    let server = Server::start_with(&data, &args, &[]);
    let admin = server.admin_token();
    let vkey = server.vkey();
    let chu = register(&server, &admin, 1, &["depositor", "controller"]);
    Archive {
        server,
        admin,
        vkey,
        chu,
    }
}

fn payload(content: &[u8], visibility: &str) -> Value {
    deposit_payload(content, visibility)
}

/// Opens an upload; answers the session's path.
fn open(a: &Archive, who: &Participant, payload: &Value) -> String {
    let r = post(
        &a.server,
        "/v1/uploads",
        &who.sign(DEPOSIT_TYPE, payload),
        Some(&who.token),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    assert_eq!(v["offset"], 0);
    format!("/v1/uploads/{}", v["upload_id"].as_str().unwrap())
}

fn patch(a: &Archive, who: &Participant, path: &str, offset: u64, bytes: &[u8]) -> Answer {
    a.server.request(
        "PATCH",
        path,
        &[
            ("authorization", &bearer(&who.token)),
            ("content-type", "application/offset+octet-stream"),
            ("upload-offset", &offset.to_string()),
        ],
        bytes,
    )
}

fn offset(a: &Archive, who: &Participant, path: &str) -> u64 {
    let r = get(&a.server, path, &who.token);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["offset"].as_u64().unwrap()
}

/// Uploads `content` in pieces of `piece` bytes; answers the completing `PATCH`'s JSON.
fn upload(a: &Archive, who: &Participant, payload: &Value, content: &[u8], piece: usize) -> Value {
    let path = open(a, who, payload);
    let mut at = 0;
    loop {
        let end = (at + piece).min(content.len());
        let r = patch(a, who, &path, at as u64, &content[at..end]);
        if end == content.len() {
            assert_eq!(r.status, 201, "{}", r.text());
            return r.json();
        }
        assert_eq!(r.status, 204, "{}", r.text());
        at = end;
        assert_eq!(offset(a, who, &path), at as u64);
    }
}

fn download(
    a: &Archive,
    who: &Participant,
    done: &Value,
    extra: &str,
    range: Option<&str>,
) -> Answer {
    let path = format!(
        "/v1/datasets/{}/versions/{}/content{extra}",
        done["dataset_id"].as_str().unwrap(),
        done["version"]
    );
    let auth = bearer(&who.token);
    let mut headers = vec![("authorization", auth.as_str())];
    if let Some(r) = range {
        headers.push(("range", r));
    }
    a.server.request("GET", &path, &headers, b"")
}

fn chain(a: &Archive, dataset: &str) -> Value {
    let r = a.server.get(&format!("/v1/datasets/{dataset}/custody"));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn types(chain: &Value) -> Vec<String> {
    chain["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

fn verified(a: &Archive, receipt: &Value) {
    let r = serde_json::from_value(receipt.clone()).expect("a receipt");
    let report = verify_receipt(&r, Some(&a.vkey));
    assert!(report.ok(), "{report:?}");
}

/// Every regular file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn object_file(root: &Path, object: &str) -> PathBuf {
    root.join("objects").join(object)
}

#[test]
fn the_bytes_come_back_and_a_private_dataset_is_ciphertext_on_every_disk() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), true);

    // Public, in three pieces.
    let public = extract(40_000, "pub");
    let done = upload(&a, &a.chu, &payload(&public, "public"), &public, 700_000);
    assert_eq!(done["duplicate"], false);
    assert_eq!(done["object"]["encrypted"], false);
    verified(&a, &done["receipt"]);
    verified(&a, &done["object"]["custody"]["receipt"]);
    let got = download(&a, &a.chu, &done, "", None);
    assert_eq!(got.status, 200, "{}", got.text());
    assert!(got.body == public, "the downloaded bytes differ");

    // Ranges: one in the middle, an open end and a suffix.
    let r = download(&a, &a.chu, &done, "", Some("bytes=1000-1999"));
    assert_eq!(r.status, 206);
    assert_eq!(r.body, public[1000..2000]);
    let r = download(
        &a,
        &a.chu,
        &done,
        "",
        Some(&format!("bytes={}-", public.len() - 10)),
    );
    assert_eq!(r.body, public[public.len() - 10..]);
    let r = download(&a, &a.chu, &done, "", Some("bytes=-5"));
    assert_eq!(r.body, public[public.len() - 5..]);
    let size = a.server.size();
    download(
        &a,
        &a.chu,
        &done,
        "",
        Some(&format!("bytes={}-", public.len())),
    )
    .assert_error(416, "range_not_satisfiable", "a range past the end");
    assert_eq!(a.server.size(), size, "a refused download logs nothing");

    // Private, in pieces that do not fall on the 64 KiB chunks of the encryption.
    let private = extract(30_000, "priv");
    let done = upload(&a, &a.chu, &payload(&private, "private"), &private, 333_333);
    assert_eq!(done["object"]["encrypted"], true);
    let object = done["object"]["object_id"].as_str().unwrap().to_owned();
    // No file anywhere (log, state, both disks, the staging area) holds 64 plaintext bytes.
    let needle = &private[100_000..100_064];
    for f in files(dir.path()) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{} holds plaintext",
            f.display()
        );
    }
    for disk in ["disk1", "disk2"] {
        let stored = std::fs::read(object_file(&dir.path().join(disk), &object)).unwrap();
        assert!(stored.starts_with(b"age-encryption.org/v1\n"), "{disk}");
    }
    let got = download(&a, &a.chu, &done, "", None);
    assert_eq!(got.status, 200, "{}", got.text());
    assert!(got.body == private, "the decrypted bytes differ");
    let r = download(&a, &a.chu, &done, "", Some("bytes=65530-131080"));
    assert_eq!(r.status, 206);
    assert_eq!(r.body, private[65530..=131080]);

    // Every download is on the chain: 1 + 3 ranges (+1 refused, not logged) public, 2 private.
    let c = chain(&a, done["dataset_id"].as_str().unwrap());
    assert_eq!(types(&c), ["storage", "download", "download"]);
    for link in c["entries"].as_array().unwrap() {
        verified(&a, &link["receipt"]);
    }
}

#[test]
fn a_resumed_upload_sends_only_the_missing_part_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = start(dir.path(), false);
    let content = extract(60_000, "resume");
    let path = open(&a, &a.chu, &payload(&content, "public"));

    // A connection that drops half way through its body.
    let half = content.len() / 2;
    let addr = a.server.base.trim_start_matches("http://").to_owned();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "PATCH {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: {}\r\n\r\n",
        a.chu.token,
        content.len()
    )
    .unwrap();
    s.write_all(&content[..half]).unwrap();
    s.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(s);
    // The server keeps what arrived; HEAD (here GET) says where to resume.
    let mut at = 0;
    for _ in 0..50 {
        let r = get(&a.server, &path, &a.chu.token);
        if r.status == 200 {
            at = r.json()["offset"].as_u64().unwrap();
            if at > 0 {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(at, half as u64, "what arrived is kept");
    // A wrong offset is refused and changes nothing.
    patch(&a, &a.chu, &path, 0, &content[..10]).assert_error(409, "offset_mismatch", "offset 0");
    assert_eq!(offset(&a, &a.chu, &path), at);

    // Killed and restarted: the acknowledged bytes are still there.
    a.server.kill();
    a.server = Server::start_with(
        &dir.path().join("data"),
        &["--fixity-interval-hours", "0"],
        &[],
    );
    assert_eq!(offset(&a, &a.chu, &path), at);

    // Only the missing part is sent.
    let rest = &content[at as usize..];
    let r = patch(&a, &a.chu, &path, at, rest);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(rest.len(), content.len() - half);
    let done = r.json();
    let got = download(&a, &a.chu, &done, "", None);
    assert!(got.body == content);
    // The session is gone.
    get(&a.server, &path, &a.chu.token).assert_error(404, "upload_not_found", "finished session");
}

#[test]
fn wrong_bytes_and_bad_requests_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), false);
    let other = register(&a.server, &a.admin, 2, &["depositor"]);
    let content = extract(1000, "bad");
    let size = a.server.size();

    // Bytes that are not the statement's: 422, nothing logged, the session and its bytes gone.
    let path = open(&a, &a.chu, &payload(&content, "public"));
    let mut wrong = content.clone();
    wrong[500] ^= 0x20;
    patch(&a, &a.chu, &path, 0, &wrong).assert_error(422, "content_mismatch", "other bytes");
    assert_eq!(a.server.size(), size);
    get(&a.server, &path, &a.chu.token).assert_error(404, "upload_not_found", "after a mismatch");
    assert!(files(&dir.path().join("data/archive/uploads")).is_empty());
    assert!(files(&dir.path().join("data/archive/objects")).is_empty());

    let path = open(&a, &a.chu, &payload(&content, "public"));
    // More bytes than the statement's size.
    let mut long = content.clone();
    long.push(b'x');
    patch(&a, &a.chu, &path, 0, &long).assert_error(413, "upload_too_long", "one byte too many");
    // Not the upload media type.
    a.server
        .request(
            "PATCH",
            &path,
            &[
                ("authorization", &bearer(&a.chu.token)),
                ("content-type", "application/octet-stream"),
                ("upload-offset", "0"),
            ],
            &content,
        )
        .assert_error(415, "unsupported_media_type", "octet-stream");
    // No offset.
    a.server
        .request(
            "PATCH",
            &path,
            &[
                ("authorization", &bearer(&a.chu.token)),
                ("content-type", "application/offset+octet-stream"),
            ],
            &content,
        )
        .assert_error(400, "invalid_offset", "no Upload-Offset");
    // Another participant's session is not found; no token is 401.
    patch(&a, &other, &path, 0, &content).assert_error(404, "upload_not_found", "another's");
    a.server
        .request("GET", &path, &[], b"")
        .assert_error(401, "unauthorized", "no token");
    assert_eq!(offset(&a, &a.chu, &path), 0);
    // The statement signed by one participant, sent with another's token.
    post(
        &a.server,
        "/v1/uploads",
        &a.chu.sign(DEPOSIT_TYPE, &payload(b"x", "public")),
        Some(&other.token),
    )
    .assert_error(403, "not_statement_signer", "another's token");
    // The same nonce while its session is open.
    let p = payload(b"nonce", "public");
    let first = post(
        &a.server,
        "/v1/uploads",
        &a.chu.sign(DEPOSIT_TYPE, &p),
        Some(&a.chu.token),
    );
    assert_eq!(first.status, 201);
    post(
        &a.server,
        "/v1/uploads",
        &a.chu.sign(DEPOSIT_TYPE, &p),
        Some(&a.chu.token),
    )
    .assert_error(409, "replayed", "the same nonce twice");
    // Abandoned: gone.
    let r = a.server.request(
        "DELETE",
        &path,
        &[("authorization", &bearer(&a.chu.token))],
        b"",
    );
    assert_eq!(r.status, 204);
    get(&a.server, &path, &a.chu.token).assert_error(404, "upload_not_found", "abandoned");
    assert_eq!(a.server.size(), size, "nothing was logged");
}

#[test]
fn limits_and_quotas_are_refused_before_a_byte_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start_with(
        &data,
        &[
            "--archive-max-object-mb",
            "1",
            "--archive-quota-mb",
            "2",
            "--fixity-interval-hours",
            "0",
        ],
        &[],
    );
    let admin = server.admin_token();
    let vkey = server.vkey();
    let chu = register(&server, &admin, 1, &["depositor"]);
    let a = Archive {
        server,
        admin,
        vkey,
        chu,
    };
    let big = vec![7u8; (1 << 20) + 1];
    let before = a.server.size();
    post(
        &a.server,
        "/v1/uploads",
        &a.chu.sign(DEPOSIT_TYPE, &payload(&big, "public")),
        Some(&a.chu.token),
    )
    .assert_error(413, "object_too_large", "over the largest object");
    assert_eq!(a.server.size(), before, "a refused upload logs nothing");
    let one = vec![1u8; 1 << 20];
    upload(&a, &a.chu, &payload(&one, "public"), &one, 1 << 20);
    let open_one = vec![2u8; 1 << 20];
    open(&a, &a.chu, &payload(&open_one, "public"));
    let third = vec![3u8; 10];
    let before = a.server.size();
    post(
        &a.server,
        "/v1/uploads",
        &a.chu.sign(DEPOSIT_TYPE, &payload(&third, "public")),
        Some(&a.chu.token),
    )
    .assert_error(403, "quota_exceeded", "archived plus open uploads");
    // The same content again is already archived.
    post(
        &a.server,
        "/v1/uploads",
        &a.chu.sign(DEPOSIT_TYPE, &payload(&one, "public")),
        Some(&a.chu.token),
    )
    .assert_error(409, "already_archived", "the same content twice");
    assert_eq!(a.server.size(), before, "refused uploads log nothing");
}

/// Flips one byte in the middle of a file, keeping its size and modification time.
fn flip(path: &Path) {
    let meta = std::fs::metadata(path).unwrap();
    let mtime = meta.modified().unwrap();
    let mut perms = meta.permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mid = meta.len() / 2;
    let mut b = [0u8; 1];
    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(mid)).unwrap();
    f.read_exact(&mut b).unwrap();
    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(mid)).unwrap();
    f.write_all(&[b[0] ^ 0x01]).unwrap();
    f.set_modified(mtime).unwrap();
    drop(f);
    let after = std::fs::metadata(path).unwrap();
    assert_eq!(after.len(), meta.len());
    assert_eq!(after.modified().unwrap(), mtime);
}

fn fixity(a: &Archive) -> Value {
    let r = a.server.request(
        "POST",
        "/v1/archive/fixity",
        &[("authorization", &bearer(&a.admin))],
        b"",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

#[test]
fn a_flipped_byte_is_found_by_the_next_run_logged_and_repaired_from_the_other_disk() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), true);
    let content = extract(50_000, "fix");
    let done = upload(&a, &a.chu, &payload(&content, "private"), &content, 1 << 20);
    let object = done["object"]["object_id"].as_str().unwrap().to_owned();
    let dataset = done["dataset_id"].as_str().unwrap().to_owned();
    let run = fixity(&a);
    assert_eq!(
        (run["checked"].as_u64(), run["intact"].as_u64()),
        (Some(2), Some(2))
    );

    let copy = object_file(&dir.path().join("disk2"), &object);
    let good = std::fs::read(&copy).unwrap();
    flip(&copy);
    // Only the scrubber reads it: a download is served from the good copy on disk1.
    let run = fixity(&a);
    assert_eq!(run["checked"], 2);
    assert_eq!(run["intact"], 1);
    assert_eq!(run["failed"], 1);
    assert_eq!(run["repaired"], 1);
    assert!(
        std::fs::read(&copy).unwrap() == good,
        "the copy is repaired"
    );
    verified(&a, &run["custody"]["receipt"]);

    let c = chain(&a, &dataset);
    assert_eq!(types(&c), ["storage", "fixity_failure", "repair"]);
    let failure = &c["entries"][1]["receipt"]["entry"];
    let failure: Value =
        serde_json::from_str(failure.as_str().unwrap_or("{}")).unwrap_or(Value::Null);
    let _ = failure;
    // The latest run's proof for each copy checks against its root.
    let latest = &c["fixity"];
    assert_eq!(latest["checks"].as_array().unwrap().len(), 2);
    let mismatch = latest["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["record"].as_str().unwrap().contains("disk2"))
        .unwrap();
    assert!(mismatch["record"]
        .as_str()
        .unwrap()
        .contains("\"outcome\":\"mismatch\""));
    assert!(mismatch["record"]
        .as_str()
        .unwrap()
        .contains("\"repaired\":true"));
    let metrics = a.server.get("/metrics").text();
    assert!(
        metrics.contains("datapole_archive_fixity_failures_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("datapole_archive_repairs_total 1"),
        "{metrics}"
    );
    assert_eq!(a.server.get("/readyz").status, 200);

    // The next run finds both copies intact again.
    let run = fixity(&a);
    assert_eq!(run["intact"], 2);

    // With the good copy also damaged, nothing can repair it: logged, and readiness says so.
    flip(&object_file(&dir.path().join("disk1"), &object));
    flip(&copy);
    let run = fixity(&a);
    assert_eq!(
        (run["failed"].as_u64(), run["repaired"].as_u64()),
        (Some(2), Some(0))
    );
    let ready = a.server.get("/readyz");
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(ready.json()["archive"], "degraded", "{}", ready.text());
}

#[test]
fn disposal_waits_for_the_retention_and_the_hold_then_destroys_every_copy_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), true);
    let size_before = a.server.size();
    let _ = size_before;
    // Retained until 2099: the archive refuses, and so does each disk.
    let kept = extract(100, "kept");
    let mut p = payload(&kept, "public");
    p["retention"] = json!("2099-12-31");
    let done = upload(&a, &a.chu, &p, &kept, 1 << 20);
    let object = done["object"]["object_id"].as_str().unwrap().to_owned();
    let dispose = |done: &Value, token: &str| {
        a.server.request(
            "DELETE",
            &format!(
                "/v1/datasets/{}/versions/{}/content",
                done["dataset_id"].as_str().unwrap(),
                done["version"]
            ),
            &[("authorization", &bearer(token))],
            b"",
        )
    };
    let size = a.server.size();
    dispose(&done, &a.chu.token).assert_error(409, "retention_active", "before 2099");
    dispose(&done, &a.admin).assert_error(409, "retention_active", "the operator too");
    assert_eq!(a.server.size(), size);
    for disk in ["disk1", "disk2"] {
        assert!(object_file(&dir.path().join(disk), &object).exists());
    }

    // No retention, but a legal hold: refused until the hold is lifted.
    let content = extract(100, "held");
    let done = upload(&a, &a.chu, &payload(&content, "private"), &content, 1 << 20);
    let object = done["object"]["object_id"].as_str().unwrap().to_owned();
    let hold = |on: bool| {
        let r = a.server.request(
            "POST",
            &format!(
                "/v1/datasets/{}/versions/{}/hold",
                done["dataset_id"].as_str().unwrap(),
                done["version"]
            ),
            &[
                ("authorization", &bearer(&a.admin)),
                ("content-type", "application/json"),
            ],
            json!({"hold": on, "reference": "TJ Toulouse 2026/1234"})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(r.status, 201, "{}", r.text());
    };
    hold(true);
    dispose(&done, &a.chu.token).assert_error(409, "legal_hold", "held");
    hold(false);
    let stranger = register(&a.server, &a.admin, 3, &["depositor"]);
    dispose(&done, &stranger.token).assert_error(403, "not_depositor", "another depositor");
    let r = dispose(&done, &a.chu.token);
    assert_eq!(r.status, 200, "{}", r.text());
    let certificate = r.json();
    verified(&a, &certificate["receipt"]);
    for disk in ["disk1", "disk2"] {
        assert!(
            !object_file(&dir.path().join(disk), &object).exists(),
            "{disk}"
        );
    }
    download(&a, &a.chu, &done, "", None).assert_error(410, "object_disposed", "after disposal");
    dispose(&done, &a.chu.token).assert_error(410, "object_disposed", "twice");
    let c = chain(&a, done["dataset_id"].as_str().unwrap());
    assert_eq!(
        types(&c),
        ["storage", "legal_hold", "legal_hold", "disposal"]
    );
    // The auditor follows the whole log, custody entries included.
    let out = std::process::Command::new(binary())
        .args(["audit", "--log-url", &a.server.base, "--vkey", &a.vkey])
        .args([
            "--state-dir",
            &dir.path().join("audit").display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_accessor_downloads_only_under_a_permit_for_download_that_still_holds() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), false);
    let lab = register(&a.server, &a.admin, 3, &["accessor"]);
    let content = extract(2000, "cohort");
    let done = upload(&a, &a.chu, &payload(&content, "private"), &content, 1 << 20);
    let dataset = done["dataset_id"].as_str().unwrap().to_owned();
    let size = a.server.size();

    // No access decision at all.
    let r = download(&a, &lab, &done, "", None);
    r.assert_error(403, "download_forbidden", "no access");
    assert!(!r.body.windows(20).any(|w| w == &content[100..120]));
    assert_eq!(a.server.size(), size, "a refused download logs nothing");

    let access = |action: &str, consents: Option<&[&str]>| -> Value {
        let mut p = json!({
            "dataset_id": dataset,
            "action": action,
            "purpose": {"code": "cohort-2027"},
            "issued_at": chrono::Utc::now().to_rfc3339(),
            "nonce": nonce(),
        });
        match consents {
            Some(c) => {
                p["legal_basis"] = json!("consent");
                p["consent_ids"] = json!(c);
            }
            None => {
                p["legal_basis"] = json!("permit");
                p["authorization_ref"] = json!("CESREES-2026-042");
            }
        }
        let r = post(&a.server, "/v1/accesses", &lab.sign(ACCESS_TYPE, &p), None);
        assert!(r.status == 201 || r.status == 403, "{}", r.text());
        r.json()
    };
    // A permit for another action does not cover a download.
    let read = access("read", None);
    assert_eq!(read["decision"], "permit");
    let id = read["access_id"].as_str().unwrap();
    download(&a, &lab, &done, &format!("?access={id}"), None).assert_error(
        403,
        "download_forbidden",
        "a read permit",
    );
    // Another accessor cannot use the lab's permit.
    let other = register(&a.server, &a.admin, 4, &["accessor"]);
    let dl = access("download", None);
    let id = dl["access_id"].as_str().unwrap().to_owned();
    download(&a, &other, &done, &format!("?access={id}"), None).assert_error(
        403,
        "download_forbidden",
        "another's permit",
    );
    // The lab's own permit for download: the bytes, and a download entry naming it.
    let got = download(&a, &lab, &done, &format!("?access={id}"), None);
    assert_eq!(got.status, 200, "{}", got.text());
    assert!(got.body == content);

    // Under a consent: permitted while it stands, refused once the citizen withdraws it.
    let consent = json!({
        "subject_ref": format!("hmac-sha256:{}", &sha_hex(nonce().as_bytes())[..32]),
        "expressed_by": {"role": "self"},
        "indication_method": "web_form",
        "notice": {"url": "https://chu.example/notices/v3", "sha256": sha_hex(b"notice"), "version": "3", "language": "fr-FR"},
        "purposes": [{"code": "cohort-2027", "text": "Cohorte diabète"}],
        "legal_basis": "gdpr-9-2-a",
        "data_categories": ["health"],
        "special_category": true,
        "datasets": [dataset],
        "recipients": [lab.id],
        "jurisdiction": "FR",
        "storage_location": "FR",
        "retention_period": "P5Y",
        "validity": {"duration": "P2Y"},
        "withdrawal_method": "https://chu.example/withdraw",
        "decision": "given",
        "issued_at": chrono::Utc::now().to_rfc3339(),
        "nonce": nonce(),
    });
    let c = post(
        &a.server,
        "/v1/consents",
        &a.chu.sign(CONSENT_TYPE, &consent),
        None,
    );
    assert_eq!(c.status, 201, "{}", c.text());
    let c = c.json();
    let consent_id = c["consent_id"].as_str().unwrap().to_owned();
    let secret = c["citizen_secret"].as_str().unwrap().to_owned();
    let permit = access("download", Some(&[&consent_id]));
    assert_eq!(permit["decision"], "permit", "{permit}");
    let id = permit["access_id"].as_str().unwrap().to_owned();
    let got = download(
        &a,
        &lab,
        &done,
        &format!("?access={id}"),
        Some("bytes=0-99"),
    );
    assert_eq!(got.status, 206, "{}", got.text());
    assert_eq!(got.body, content[..100]);
    // The citizen sees that download on the consent's page.
    let page = get(
        &a.server,
        &format!("/v1/consents/{consent_id}/accesses"),
        &secret,
    );
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(
        page.json()["downloads"].as_array().map(Vec::len),
        Some(1),
        "{}",
        page.text()
    );
    let wd = post(
        &a.server,
        &format!("/v1/consents/{consent_id}/withdraw"),
        b"",
        Some(&secret),
    );
    assert_eq!(wd.status, 201, "{}", wd.text());
    let size = a.server.size();
    download(&a, &lab, &done, &format!("?access={id}"), None).assert_error(
        403,
        "download_forbidden",
        "after the withdrawal",
    );
    assert_eq!(a.server.size(), size);

    let chain = chain(&a, &dataset);
    let downloads: Vec<&Value> = chain["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "download")
        .collect();
    assert_eq!(downloads.len(), 2);
}
