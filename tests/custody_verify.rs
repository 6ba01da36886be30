//! `datapole verify --custody` on a real custody chain: the server on port 0 with two archive
//! disks keeps two versions of a dataset; a byte flipped on one disk is found by a fixity run,
//! logged and repaired; the first version is downloaded, held, released and disposed of. The
//! chain the server answers verifies offline with the pinned key (and against the live log),
//! and each tampered copy of it fails with a non-zero exit, naming the check that caught it.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Command, Output};

use base64::prelude::*;
use common::*;
use serde_json::{json, Value};

/// `/v1/datasets/{id}/versions/{v}` of an upload's answer.
fn version_path(done: &Value) -> String {
    format!(
        "/v1/datasets/{}/versions/{}",
        done["dataset_id"].as_str().unwrap(),
        done["version"]
    )
}

/// Flips one byte in the middle of a file (the archive keeps its copies read-only).
fn flip(path: &Path) {
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mid = f.metadata().unwrap().len() / 2;
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(mid)).unwrap();
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(mid)).unwrap();
    f.write_all(&[b[0] ^ 0x01]).unwrap();
}

fn chain(server: &Server, dataset: &str) -> Value {
    let r = server.get(&format!("/v1/datasets/{dataset}/custody"));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn verify(file: &Path, args: &[&str]) -> Output {
    Command::new(binary())
        .arg("verify")
        .arg(file)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The names of the checks printed as failed (`✗ name: detail`).
fn failed(o: &Output) -> BTreeSet<String> {
    stdout(o)
        .lines()
        .filter_map(|l| l.strip_prefix("✗ "))
        .map(|l| l.split_once(": ").map_or(l, |(name, _)| name).to_owned())
        .collect()
}

/// A real chain: two versions, a failure and its repair, a download, a hold placed and
/// lifted, a disposal, and the latest run's checks of the live version.
struct Fixture {
    _dir: tempfile::TempDir,
    server: Server,
    vkey: String,
    dir: std::path::PathBuf,
    chain: Value,
    other: Value,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let disk1 = format!("disk1={}", root.join("disk1").display());
    let disk2 = format!("disk2={}", root.join("disk2").display());
    let server = Server::start_with(
        &root.join("data"),
        &[
            "--fixity-interval-hours",
            "0",
            "--archive-location",
            &disk1,
            "--archive-location",
            &disk2,
        ],
        &[],
    );
    let admin = server.admin_token();
    let vkey = server.vkey();
    let chu = register(&server, &admin, 1, &["depositor", "controller"]);

    let first = b"commune,population\nToulouse,504078\nAlbi,49236\n".repeat(200);
    let v1 = upload(&server, &chu, &deposit_payload(&first, "public"), &first);
    let dataset = v1["dataset_id"].as_str().unwrap().to_owned();
    let second = b"commune,population\nToulouse,511684\nAlbi,49889\n".repeat(200);
    let mut p = deposit_payload(&second, "private");
    p["dataset_id"] = json!(dataset);
    let v2 = upload(&server, &chu, &p, &second);
    assert_eq!(v2["version"], 2, "{v2}");

    // A byte flipped on disk2: found by the run, logged, repaired from disk1.
    let object = v2["object"]["object_id"].as_str().unwrap();
    flip(&root.join("disk2").join("objects").join(object));
    let r = server.request(
        "POST",
        "/v1/archive/fixity",
        &[("authorization", &bearer(&admin))],
        b"",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let run = r.json();
    assert_eq!(
        (run["failed"].as_u64(), run["repaired"].as_u64()),
        (Some(1), Some(1))
    );

    // The first version: downloaded, held, released, disposed of.
    let auth = bearer(&chu.token);
    let r = server.request(
        "GET",
        &format!("{}/content", version_path(&v1)),
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    for hold in [true, false] {
        let r = server.request(
            "POST",
            &format!("{}/hold", version_path(&v1)),
            &[
                ("authorization", &bearer(&admin)),
                ("content-type", "application/json"),
            ],
            json!({"hold": hold, "reference": "TJ Toulouse 2026/1234"})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let r = server.request(
        "DELETE",
        &format!("{}/content", version_path(&v1)),
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // Another dataset, whose receipts a forger could borrow.
    let third = b"year,admissions\n2025,12004\n".repeat(100);
    let other = upload(&server, &chu, &deposit_payload(&third, "public"), &third);
    let other = chain(&server, other["dataset_id"].as_str().unwrap());

    let chain = chain(&server, &dataset);
    let types: Vec<&str> = chain["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "storage",
            "storage",
            "fixity_failure",
            "repair",
            "download",
            "legal_hold",
            "legal_hold",
            "disposal"
        ]
    );
    assert_eq!(chain["truncated"], false);
    assert_eq!(chain["fixity"]["checks"].as_array().map(Vec::len), Some(2));
    Fixture {
        _dir: dir,
        server,
        vkey,
        dir: root,
        chain,
        other,
    }
}

impl Fixture {
    fn write(&self, name: &str, chain: &Value) -> std::path::PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(chain).unwrap()).unwrap();
        path
    }
}

#[test]
fn a_real_chain_verifies_offline_and_against_the_live_log() {
    let f = fixture();
    let file = f.write("chain.json", &f.chain);

    let out = verify(&file, &["--custody", "--vkey", &f.vkey]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    for line in [
        "✓ log: every receipt names log datapole.localhost/log and the pinned key",
        "✓ receipts: 8 receipts verify: each entry is in a checkpoint signed by datapole.localhost/log",
        "✓ entries: 8 custody entries of the listed types: 2 storage, 1 fixity_failure, 1 repair, 1 download, 2 legal_hold, 1 disposal",
        "✓ dataset: every entry is about dataset ",
        "✓ order: entries ",
        "✓ chain rules: 2 objects, each stored first (1 live, 1 disposed of after its retention and any hold); 1 fixity failure, 1 repaired",
        "✓ fixity run: run ",
        "✓ fixity checks: 2 checks of 1 live object lead to the run's root: 1 intact, 1 failed (1 repaired)",
        "✓ complete: ",
        "valid: 9 checks passed",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }

    // The same as JSON.
    let out = verify(&file, &["--custody", "--vkey", &f.vkey, "--json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    let names: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "log",
            "receipts",
            "entries",
            "dataset",
            "order",
            "chain rules",
            "fixity run",
            "fixity checks",
            "complete"
        ]
    );

    // Against the live log: its key fetched, and the receipts' checkpoint proved an earlier
    // state of the log it has now (which has grown since: one more entry).
    register(&f.server, &f.server.admin_token(), 9, &["auditor"]);
    let out = verify(&file, &["--custody", "--log-url", &f.server.base]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("✓ consistent with the live log"), "{text}");

    // Not pinned: it verifies, and says what that proves.
    let out = verify(&file, &["--custody"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("consistent, not proved genuine"), "{text}");

    // A chain given as a receipt is refused with a hint, not guessed.
    let out = verify(&file, &["--vkey", &f.vkey]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--custody"), "{err}");
    // And a receipt given as a chain is no chain.
    let receipt = f.write("receipt.json", &f.chain["entries"][0]["receipt"]);
    let out = verify(&receipt, &["--custody", "--vkey", &f.vkey]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a custody chain"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A copy of the chain's links.
fn entries(c: &Value) -> Vec<Value> {
    c["entries"].as_array().unwrap().clone()
}

/// The index in `chain.fixity.checks` of the check whose record says `outcome`.
fn check_with(chain: &Value, outcome: &str) -> usize {
    chain["fixity"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| {
            c["record"]
                .as_str()
                .unwrap()
                .contains(&format!("\"outcome\":\"{outcome}\""))
        })
        .unwrap()
}

type Tamper = Box<dyn Fn(&mut Value)>;

/// The tampered copies of the fixture's chain: what was changed, how, and the checks that
/// must catch it.
fn cases(f: &Fixture) -> Vec<(&'static str, Tamper, &'static [&'static str])> {
    let other_storage = f.other["entries"][0]["receipt"].clone();
    let other_dataset = f.other["dataset_id"].clone();
    vec![
        (
            "the first version's storage link dropped",
            Box::new(|c| {
                let mut e = entries(c);
                e.remove(0);
                c["entries"] = json!(e);
            }),
            &["chain rules"],
        ),
        (
            "two links swapped",
            Box::new(|c| {
                let mut e = entries(c);
                e.swap(4, 5);
                c["entries"] = json!(e);
            }),
            &["order"],
        ),
        (
            "the failure dropped (its repair names nothing, the run's mismatch has no failure)",
            Box::new(|c| {
                let mut e = entries(c);
                e.remove(2);
                c["entries"] = json!(e);
            }),
            &["chain rules", "fixity checks"],
        ),
        (
            "an intact check record said missing",
            Box::new(|c| {
                let at = check_with(c, "intact");
                let record = c["fixity"]["checks"][at]["record"].as_str().unwrap();
                let changed = record.replace("\"intact\"", "\"missing\"");
                c["fixity"]["checks"][at]["record"] = json!(changed);
            }),
            &["fixity checks"],
        ),
        (
            "the mismatch said intact",
            Box::new(|c| {
                let at = check_with(c, "mismatch");
                let record: Value =
                    serde_json::from_str(c["fixity"]["checks"][at]["record"].as_str().unwrap())
                        .unwrap();
                let intact = json!({"object": record["object"], "location": record["location"], "outcome": "intact"});
                c["fixity"]["checks"][at]["record"] = json!(intact.to_string());
            }),
            &["fixity checks"],
        ),
        (
            "a path hash changed",
            Box::new(|c| {
                c["fixity"]["checks"][0]["path"][0] = json!(BASE64_STANDARD.encode([7u8; 32]));
            }),
            &["fixity checks"],
        ),
        (
            "the dataset_id changed",
            Box::new(move |c| c["dataset_id"] = other_dataset.clone()),
            &["dataset"],
        ),
        (
            "the download's receipt replaced by another dataset's storage receipt",
            Box::new(move |c| c["entries"][4]["receipt"] = other_storage.clone()),
            &["entries", "dataset", "order"],
        ),
        (
            "a link relabelled",
            Box::new(|c| c["entries"][4]["type"] = json!("storage")),
            &["entries"],
        ),
        (
            "an entry's bytes changed (a hold that was never lifted)",
            Box::new(|c| {
                let receipt = &mut c["entries"][6]["receipt"];
                let leaf = BASE64_STANDARD
                    .decode(receipt["leaf"].as_str().unwrap())
                    .unwrap();
                let leaf = String::from_utf8(leaf)
                    .unwrap()
                    .replace("\"hold\":false", "\"hold\":true");
                receipt["leaf"] = json!(BASE64_STANDARD.encode(leaf));
            }),
            &["receipts", "chain rules"],
        ),
        (
            "the run's receipt replaced by a storage entry's",
            Box::new(|c| {
                let storage = c["entries"][1]["receipt"].clone();
                c["fixity"]["run"]["receipt"] = storage;
            }),
            &["fixity run", "fixity checks"],
        ),
        (
            "a truncated chain",
            Box::new(|c| c["truncated"] = json!(true)),
            &["complete"],
        ),
    ]
}

#[test]
fn every_tampered_chain_fails_naming_the_check_that_caught_it() {
    let f = fixture();
    let cases = cases(&f);
    for (what, tamper, want) in &cases {
        let mut c = f.chain.clone();
        tamper(&mut c);
        let file = f.write("tampered.json", &c);
        let out = verify(&file, &["--custody", "--vkey", &f.vkey]);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{what}: {text}");
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        assert_eq!(failed(&out), want, "{what}:\n{text}");
    }

    // Another log's key: every receipt fails it.
    let (_, other_vkey) = log_key(&f.dir, "other.example/log");
    let file = f.write("chain.json", &f.chain);
    let out = verify(&file, &["--custody", "--vkey", &other_vkey]);
    assert_eq!(out.status.code(), Some(1));
    let names = failed(&out);
    for name in ["log", "receipts", "fixity run", "fixity checks"] {
        assert!(names.contains(name), "{name} in {names:?}");
    }
}

/// The committed custody vectors, `tests/vectors/custody.json`: the fixture's genuine chain and
/// its tampered copies (and the chain under another log's key), each with the log key to pin
/// and the names of the checks the Rust verifier fails, for other verifiers (the Python
/// client's) to fail exactly those. With `DATAPOLE_WRITE_VECTORS=1` it writes them afresh from
/// a real chain; otherwise it checks that the Rust verifier's verdicts on the committed chains
/// are still the committed ones.
#[test]
fn the_committed_custody_vectors_are_the_rust_verifiers_verdicts() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/custody.json");
    let failed_of = |chain: &Value, vkey: &str| -> Vec<String> {
        let chain = datapole::verify::custody::Chain::from_value(chain).unwrap();
        datapole::verify::custody::verify_custody(&chain, Some(vkey))
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.to_owned())
            .collect()
    };
    if std::env::var("DATAPOLE_WRITE_VECTORS").is_ok_and(|v| v == "1") {
        let f = fixture();
        let mut out = vec![json!({"name": "chain", "chain": f.chain, "vkey": f.vkey})];
        for (what, tamper, _) in cases(&f) {
            let mut c = f.chain.clone();
            tamper(&mut c);
            out.push(json!({"name": format!("chain/{what}"), "chain": c, "vkey": f.vkey}));
        }
        let (_, other_vkey) = log_key(&f.dir, "other.example/log");
        out.push(json!({"name": "chain/another log's key", "chain": f.chain, "vkey": other_vkey}));
        for v in &mut out {
            v["failed"] = json!(failed_of(&v["chain"], v["vkey"].as_str().unwrap()));
        }
        let mut text = serde_json::to_string_pretty(&out).unwrap();
        text.push('\n');
        std::fs::write(&file, text).unwrap();
    }
    let vectors: Vec<Value> =
        serde_json::from_slice(&std::fs::read(&file).expect("tests/vectors/custody.json")).unwrap();
    assert!(vectors.len() > 10, "{} vectors", vectors.len());
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let committed: Vec<String> = serde_json::from_value(v["failed"].clone()).unwrap();
        assert_eq!(
            failed_of(&v["chain"], v["vkey"].as_str().unwrap()),
            committed,
            "{name}: the Rust verifier's verdict changed"
        );
        assert_eq!(
            committed.is_empty(),
            !name.contains('/'),
            "{name}: {committed:?}"
        );
    }
}
