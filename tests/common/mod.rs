//! Black-box helpers: start the real `datapole` binary on port 0 in a temp data dir, talk
//! HTTP to it, and sign/verify with the library's offline verifier.
#![allow(dead_code)]

pub mod vectors;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::prelude::*;
use serde_json::{json, Value};

/// A running server.
pub struct Server {
    child: std::sync::Mutex<Child>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    agent: ureq::Agent,
}

/// An HTTP answer.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: String,
    pub cache_control: String,
    pub allow: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("utf-8")
    }

    /// Asserts a JSON error with this status and code.
    pub fn assert_error(&self, status: u16, code: &str, what: &str) {
        assert_eq!(
            self.status,
            status,
            "{what}: body {}",
            String::from_utf8_lossy(&self.body)
        );
        assert!(
            self.content_type.starts_with("application/json"),
            "{what}: content type {}",
            self.content_type
        );
        let v = self.json();
        assert_eq!(v["error"]["code"], code, "{what}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}: no message in {v}"
        );
        // Every error body lists the request's broken fields, empty when none is at fault.
        let errors = v["error"]["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no errors array in {v}"));
        for e in errors {
            assert!(
                e["field"].is_string() && e["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{what}: {e}"
            );
        }
    }

    /// The `errors` of a JSON error body: each broken field's path and message.
    pub fn field_errors(&self) -> Vec<(String, String)> {
        self.json()["error"]["errors"]
            .as_array()
            .expect("errors array")
            .iter()
            .map(|e| {
                (
                    e["field"].as_str().unwrap().to_owned(),
                    e["message"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_datapole")
}

impl Server {
    /// Starts `datapole serve` on port 0 in `data_dir`, with extra flags and environment.
    /// Its log goes to `<data_dir>.log`.
    pub fn start_with(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        Self::start_logged(data_dir, &data_dir.with_extension("log"), args, env)
    }

    /// Starts `datapole serve` with its log in `log_path`.
    pub fn start_logged(
        data_dir: &Path,
        log_path: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        Self::start_under(&[], data_dir, log_path, args, env)
    }

    /// Starts `datapole serve` through a wrapper command that runs the program named after
    /// it (for example `prlimit --nofile=256:256 --`); no wrapper with an empty `wrapper`.
    pub fn start_under(
        wrapper: &[&str],
        data_dir: &Path,
        log_path: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .expect("server log file");
        let mut cmd = match wrapper.split_first() {
            None => Command::new(binary()),
            Some((program, rest)) => {
                let mut cmd = Command::new(program);
                cmd.args(rest).arg(binary());
                cmd
            }
        };
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env_remove("DATAPOLE_ADMIN_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::spawn(cmd, data_dir, log_path, "datapole listening on ")
    }

    /// Starts `datapole witness` with its records in `data_dir`, the key in `key_file`,
    /// following the logs whose vkeys are given, listening on `listen` (port 0 for any).
    pub fn start_witness(data_dir: &Path, key_file: &Path, logs: &[&str], listen: &str) -> Server {
        let log_path = data_dir.with_extension("log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("witness log file");
        let mut cmd = Command::new(binary());
        cmd.arg("witness")
            .arg("--listen")
            .arg(listen)
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--key-file")
            .arg(key_file);
        for vkey in logs {
            cmd.arg("--log").arg(vkey);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        Self::spawn(cmd, data_dir, &log_path, "datapole witness listening on ")
    }

    /// Spawns a configured command and waits for the line `<marker><base URL>` on its stdout.
    fn spawn(mut cmd: Command, data_dir: &Path, log_path: &Path, marker: &'static str) -> Server {
        let mut child = cmd.spawn().expect("start datapole");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix(marker) {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(log_path).unwrap_or_default();
                panic!("datapole did not start; its log:\n{log}");
            }
        };
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build();
        Server {
            child: std::sync::Mutex::new(child),
            base,
            data_dir: data_dir.to_owned(),
            agent,
        }
    }

    /// Starts with no extra flags.
    pub fn start(data_dir: &Path) -> Server {
        Self::start_with(data_dir, &[], &[])
    }

    /// The admin token the server generated in its data dir.
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("admin-token"))
            .expect("admin-token")
            .trim()
            .to_owned()
    }

    fn answer(r: Result<ureq::Response, ureq::Error>) -> Answer {
        Self::try_answer(r).unwrap_or_else(|e| panic!("transport error: {e}"))
    }

    fn try_answer(r: Result<ureq::Response, ureq::Error>) -> Result<Answer, String> {
        let resp = match r {
            Ok(resp) => resp,
            Err(ureq::Error::Status(_, resp)) => resp,
            Err(e) => return Err(e.to_string()),
        };
        let status = resp.status();
        let content_type = resp.header("content-type").unwrap_or("").to_owned();
        let cache_control = resp.header("cache-control").unwrap_or("").to_owned();
        let allow = resp.header("allow").unwrap_or("").to_owned();
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut resp.into_reader(), &mut body)
            .map_err(|e| e.to_string())?;
        Ok(Answer {
            status,
            body,
            content_type,
            cache_control,
            allow,
        })
    }

    pub fn get(&self, path: &str) -> Answer {
        Self::answer(self.agent.get(&format!("{}{path}", self.base)).call())
    }

    /// A GET whose transport failure (server gone) is returned, not a panic.
    pub fn try_get(&self, path: &str) -> Result<Answer, String> {
        Self::try_answer(self.agent.get(&format!("{}{path}", self.base)).call())
    }

    /// A request whose transport failure (server gone) is returned, not a panic.
    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Answer, String> {
        let mut req = self.agent.request(method, &format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.set(k, v);
        }
        Self::try_answer(req.send_bytes(body))
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        let mut req = self.agent.request(method, &format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.set(k, v);
        }
        Self::answer(req.send_bytes(body))
    }

    /// Registers a participant with the admin token.
    pub fn register(&self, token: &str, name: &str, roles: &[&str], key: &[u8; 32]) -> Answer {
        self.try_register(token, name, roles, key)
            .unwrap_or_else(|e| panic!("transport error: {e}"))
    }

    /// Registers a participant; a transport failure (server gone) is returned, not a panic.
    pub fn try_register(
        &self,
        token: &str,
        name: &str,
        roles: &[&str],
        key: &[u8; 32],
    ) -> Result<Answer, String> {
        let body = json!({"name": name, "roles": roles, "public_key": BASE64_STANDARD.encode(key)});
        let mut req = self.agent.post(&format!("{}/v1/participants", self.base));
        req = req
            .set("authorization", &format!("Bearer {token}"))
            .set("content-type", "application/json");
        Self::try_answer(req.send_bytes(body.to_string().as_bytes()))
    }

    pub fn vkey(&self) -> String {
        self.get("/v1/log").json()["vkey"]
            .as_str()
            .expect("vkey")
            .to_owned()
    }

    pub fn checkpoint(&self) -> String {
        let a = self.get("/checkpoint");
        assert_eq!(a.status, 200);
        a.text()
    }

    pub fn size(&self) -> u64 {
        self.get("/v1/log").json()["size"].as_u64().expect("size")
    }

    /// Sends SIGKILL: no chance to flush or clean up.
    pub fn kill(&self) {
        let mut child = self.child.lock().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(&mut self) {
        let mut child = self.child.lock().unwrap();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        for _ in 0..200 {
            if let Ok(Some(status)) = child.try_wait() {
                assert!(status.success(), "datapole exited with {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("datapole did not stop on SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A deterministic, distinct Ed25519 signing key for test participant `i`.
pub fn test_signing_key(i: u64) -> ed25519_dalek::SigningKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&i.to_le_bytes());
    seed[31] = 0xd0;
    ed25519_dalek::SigningKey::from_bytes(&seed)
}

/// The public key of [`test_signing_key`]`(i)`.
pub fn test_key(i: u64) -> [u8; 32] {
    test_signing_key(i).verifying_key().to_bytes()
}

pub fn b64_hash(v: &Value) -> [u8; 32] {
    BASE64_STANDARD
        .decode(v.as_str().expect("string"))
        .expect("base64")
        .try_into()
        .expect("32 bytes")
}

pub fn hashes(v: &Value) -> Vec<[u8; 32]> {
    v.as_array().expect("array").iter().map(b64_hash).collect()
}

/// Percent-encodes a base64 value for a query string.
pub fn q(s: &str) -> String {
    s.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

/// A fresh random nonce for a statement.
pub fn nonce() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    BASE64_URL_SAFE_NO_PAD.encode(b)
}

/// SHA-256 of `data`, lower-case hex.
pub fn sha_hex(data: &[u8]) -> String {
    use sha2::Digest;
    datapole::field::hex(&sha2::Sha256::digest(data))
}

/// A valid, fresh deposit payload for `content`.
pub fn deposit_payload(content: &[u8], visibility: &str) -> Value {
    json!({
        "sha256": sha_hex(content),
        "size": content.len(),
        "media_type": "text/csv",
        "title": format!("Dataset {}", sha_hex(content)),
        "visibility": visibility,
        "issued_at": chrono::Utc::now().to_rfc3339(),
        "nonce": nonce(),
    })
}

/// Posts `body`, with `bearer` if given.
pub fn post(server: &Server, path: &str, body: &[u8], bearer: Option<&str>) -> Answer {
    let auth = bearer.map(|b| format!("Bearer {b}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a));
    }
    server.request("POST", path, &headers, body)
}

/// GETs `path` with `Authorization: Bearer <bearer>`.
pub fn get(server: &Server, path: &str, bearer: &str) -> Answer {
    server.request(
        "GET",
        path,
        &[("authorization", &format!("Bearer {bearer}"))],
        b"",
    )
}

/// A valid, fresh consent payload: given, for `recipient`, on `dataset`.
pub fn consent_payload(dataset: &str, recipient: &str) -> Value {
    json!({
        "subject_ref": format!("hmac-sha256:{}", &sha_hex(nonce().as_bytes())[..32]),
        "expressed_by": {"role": "self"},
        "indication_method": "web_form",
        "notice": {"url": "https://chu.example/notices/cohort-2027-v3", "sha256": sha_hex(b"notice v3"),
                   "version": "3", "language": "fr-FR"},
        "purposes": [{"code": "cohort-2027", "text": "Étude de cohorte sur le diabète de type 2"}],
        "legal_basis": "gdpr-9-2-a",
        "data_categories": ["health", "biometric-measurements"],
        "special_category": true,
        "datasets": [dataset],
        "recipients": [recipient],
        "jurisdiction": "FR",
        "storage_location": "FR, hébergeur de données de santé certifié",
        "retention_period": "P5Y",
        "validity": {"duration": "P2Y"},
        "withdrawal_method": "https://chu.example/consents/withdraw",
        "decision": "given",
        "issued_at": chrono::Utc::now().to_rfc3339(),
        "nonce": nonce(),
    })
}

/// A registered participant and its signing key.
pub struct Participant {
    pub id: String,
    pub token: String,
    pub key: ed25519_dalek::SigningKey,
}

impl Participant {
    /// A DSSE envelope of `payload_type` over `payload`, signed by this participant.
    pub fn sign(&self, payload_type: &str, payload: &Value) -> Vec<u8> {
        datapole::statement::dsse::Envelope::sign(
            payload_type,
            payload.to_string().as_bytes(),
            &self.id,
            &self.key,
        )
        .to_bytes()
        .unwrap()
    }
}

/// Registers participant `i` (key [`test_key`]`(i)`, name `Org i`) with `roles`.
pub fn register(server: &Server, admin: &str, i: u64, roles: &[&str]) -> Participant {
    let a = server.register(admin, &format!("Org {i}"), roles, &test_key(i));
    assert_eq!(a.status, 201, "{}", a.text());
    let v = a.json();
    Participant {
        id: v["participant_id"].as_str().unwrap().to_owned(),
        token: v["api_token"].as_str().unwrap().to_owned(),
        key: test_signing_key(i),
    }
}

/// `datapole keygen --witness`: writes the key, returns the cosignature/v1 vkey.
pub fn witness_key(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let path = dir.join(format!("{}.key", name.replace('/', "_")));
    let out = Command::new(binary())
        .args(["keygen", "--witness", "--name", name, "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vkey = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(vkey.starts_with(&format!("{name}+")), "{vkey}");
    // The key type byte 0x04 encodes to a base64 'B'.
    assert!(
        vkey.splitn(3, '+').nth(2).unwrap().starts_with('B'),
        "{vkey}"
    );
    (path, vkey)
}

/// `datapole keygen` for a log: (key file, vkey).
pub fn log_key(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let path = dir.join("log.key");
    let out = Command::new(binary())
        .args(["keygen", "--name", name, "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    (
        path,
        String::from_utf8(out.stdout).unwrap().trim().to_owned(),
    )
}

/// Says that test `name` cannot run on this machine, and why. With `DATAPOLE_REQUIRE_ALL=1`
/// (which `.ci/run` sets) that is a failure; otherwise `SKIPPED` on stderr and a marker in
/// `target/tmp/skipped/`, which `.ci/run` counts apart from the tests that passed.
pub fn skip(name: &str, why: &str) {
    if std::env::var("DATAPOLE_REQUIRE_ALL").is_ok_and(|v| v == "1") {
        panic!("{name} cannot run here ({why}); DATAPOLE_REQUIRE_ALL=1 makes every skip a failure");
    }
    eprintln!("SKIPPED: {name}: {why}");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("skipped");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(name), why);
}

/// `chmod -R go-rwx dir`: what `serve` asks of a data directory built outside it.
pub fn make_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(dir).expect("metadata");
    if meta.file_type().is_symlink() {
        return;
    }
    let mode = meta.permissions().mode() & 0o700;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).expect("chmod");
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            make_private(&entry.expect("entry").path());
        }
    }
}

/// Everything a stopped server's data directory holds for the log, raw: every key and value
/// of every tree of its sled store, and the key file. Two snapshots are equal only if nothing
/// at all was written in between (an entry, an index key, a nonce, a sidecar, a key).
pub fn store_contents(data_dir: &Path) -> std::collections::BTreeMap<(Vec<u8>, Vec<u8>), Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    {
        let db = sled::Config::new()
            .path(data_dir.join("store"))
            .open()
            .expect("the stopped server's store");
        for name in db.tree_names() {
            let tree = db.open_tree(&name).expect("tree");
            for kv in tree.iter() {
                let (k, v) = kv.expect("a key");
                out.insert((name.to_vec(), k.to_vec()), v.to_vec());
            }
        }
    }
    if let Ok(keys) = std::fs::read(data_dir.join("store.keys")) {
        out.insert((b"file".to_vec(), b"store.keys".to_vec()), keys);
    }
    // Opening the store here wrote files under this process's umask.
    make_private(data_dir);
    out
}

/// Asserts that two [`store_contents`] are the same, naming the keys that differ.
pub fn assert_same_store(
    before: &std::collections::BTreeMap<(Vec<u8>, Vec<u8>), Vec<u8>>,
    after: &std::collections::BTreeMap<(Vec<u8>, Vec<u8>), Vec<u8>>,
    what: &str,
) {
    let differ: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|(tree, key)| {
            format!(
                "{}/{}",
                String::from_utf8_lossy(tree),
                datapole::field::hex(key)
            )
        })
        .collect();
    assert!(differ.is_empty(), "{what}: the store changed at {differ:?}");
}

/// The signer's keyid and the payload's nonce of a DSSE envelope, when the body is one.
pub fn statement_nonce(body: &[u8]) -> Option<(String, String)> {
    let envelope: Value = serde_json::from_slice(body).ok()?;
    let keyid = envelope["signatures"][0]["keyid"].as_str()?.to_owned();
    let payload = BASE64_STANDARD.decode(envelope["payload"].as_str()?).ok()?;
    let payload: Value = serde_json::from_slice(&payload).ok()?;
    Some((keyid, payload["nonce"].as_str()?.to_owned()))
}

/// Whether `haystack` holds `secret`: as it is, in lower-case hex, or in base64 (standard or
/// URL-safe) at any of the three alignments it can have in a longer encoded text. The form
/// found, if any.
pub fn leaked(haystack: &[u8], secret: &[u8]) -> Option<&'static str> {
    let has =
        |needle: &[u8]| !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle);
    if has(secret) {
        return Some("in clear");
    }
    if has(datapole::field::hex(secret).as_bytes()) {
        return Some("in hex");
    }
    for (name, engine) in [
        ("in base64", &BASE64_STANDARD_NO_PAD),
        ("in URL-safe base64", &BASE64_URL_SAFE_NO_PAD),
    ] {
        for offset in 0..3 {
            // With `offset` bytes before it, the secret's own characters start at
            // ceil(offset * 4 / 3) and end with the last whole group of three bytes.
            let encoded = engine.encode([vec![0u8; offset], secret.to_vec()].concat());
            let start = (offset * 4).div_ceil(3);
            let end = ((offset + secret.len()) / 3 * 4).min(encoded.len());
            if end > start + 4 && has(&encoded.as_bytes()[start..end]) {
                return Some(name);
            }
        }
    }
    None
}

/// `Authorization: Bearer <token>`'s value.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Uploads `content` to the archive under the deposit statement `payload`, signed by `who`,
/// in one `PATCH`; answers the completing `PATCH`'s JSON (the deposit and its object).
pub fn upload(server: &Server, who: &Participant, payload: &Value, content: &[u8]) -> Value {
    let r = post(
        server,
        "/v1/uploads",
        &who.sign(datapole::statement::deposit::DEPOSIT_TYPE, payload),
        Some(&who.token),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let path = format!("/v1/uploads/{}", r.json()["upload_id"].as_str().unwrap());
    let r = server.request(
        "PATCH",
        &path,
        &[
            ("authorization", &bearer(&who.token)),
            ("content-type", "application/offset+octet-stream"),
            ("upload-offset", "0"),
        ],
        content,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}
