//! Nothing acknowledged is ever lost: concurrent clients register participants while the
//! server is killed with SIGKILL at arbitrary moments (so also during batch flushes), then
//! restarted on the same data directory. After every cycle, every acknowledged entry is at its
//! index with the same content, every checkpoint handed out is consistent with the new one, and
//! no entry appears twice.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::prelude::*;
use common::{hashes, test_key, Server};
use datapole::log::tiles::unbundle;
use datapole::verify;

struct Ack {
    index: u64,
    participant_id: String,
    checkpoint: String,
}

#[test]
fn sigkill_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    let token = server.admin_token();
    let vkey = server.vkey();
    let next_key = AtomicU64::new(0);
    let acks: Mutex<Vec<Ack>> = Mutex::new(Vec::new());
    let cycles = 6;
    let mut refused = 0u64;

    for cycle in 0..cycles {
        let stop_at = Instant::now() + Duration::from_millis(150 + 97 * cycle);
        let before = acks.lock().unwrap().len();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| loop {
                    let i = next_key.fetch_add(1, Ordering::Relaxed);
                    match server.try_register(
                        &token,
                        &format!("Org {i}"),
                        &["depositor"],
                        &test_key(i),
                    ) {
                        Ok(a) if a.status == 201 => {
                            let v = a.json();
                            acks.lock().unwrap().push(Ack {
                                index: v["index"].as_u64().unwrap(),
                                participant_id: v["participant_id"].as_str().unwrap().to_owned(),
                                checkpoint: v["checkpoint"].as_str().unwrap().to_owned(),
                            });
                        }
                        Ok(a) => panic!("unexpected answer {}: {}", a.status, a.text()),
                        Err(_) => break, // the server is gone
                    }
                });
            }
            // Kill while the writers are busy.
            while Instant::now() < stop_at {
                std::thread::sleep(Duration::from_millis(5));
            }
            server.kill();
        });
        let written = acks.lock().unwrap().len() - before;
        assert!(
            written > 0,
            "cycle {cycle}: no write was acknowledged before the kill"
        );

        let started = Instant::now();
        server = Server::start(&data);
        let restart = started.elapsed();
        assert!(
            restart < Duration::from_secs(5),
            "slow restart: {restart:?}"
        );

        // Everything acknowledged is there, at its index, under a checkpoint consistent with
        // every checkpoint handed out.
        let latest = verify::verify_checkpoint(&server.checkpoint(), &vkey).unwrap();
        let acks = acks.lock().unwrap();
        let mut ids = HashSet::new();
        let mut proven = HashSet::new();
        for ack in acks.iter() {
            assert!(
                ack.index < latest.size,
                "acknowledged index {} lost (size {})",
                ack.index,
                latest.size
            );
            let entry = server.get(&format!("/v1/entries/{}", ack.index)).json();
            assert_eq!(
                entry["entry"]["id"],
                ack.participant_id.as_str(),
                "entry {} changed",
                ack.index
            );
            let cp = verify::verify_checkpoint(&ack.checkpoint, &vkey).unwrap();
            if !proven.insert(cp.size) {
                // Checkpoints of one size were all signed once per batch: same note, already proven.
            } else if cp.size < latest.size {
                let proof = server
                    .get(&format!(
                        "/v1/proofs/consistency?from={}&to={}",
                        cp.size, latest.size
                    ))
                    .json();
                verify::verify_consistency(
                    cp.size,
                    latest.size,
                    &cp.root,
                    &latest.root,
                    &hashes(&proof["hashes"]),
                )
                .unwrap_or_else(|e| {
                    panic!(
                        "checkpoint {} inconsistent with {}: {e}",
                        cp.size, latest.size
                    )
                });
            } else {
                assert_eq!(cp.root, latest.root);
            }
            assert!(ids.insert(ack.participant_id.clone()));
        }
        // No entry appears twice, and the entries give the signed root.
        let mut leaves = Vec::new();
        let mut seen_ids = HashSet::new();
        let mut n = 0;
        while n < latest.size {
            let width = (latest.size - n).min(256);
            let path = if width == 256 {
                format!("/tile/entries/{:03}", n / 256)
            } else {
                format!("/tile/entries/{:03}.p/{width}", n / 256)
            };
            for e in unbundle(&server.get(&path).body).unwrap() {
                let v: serde_json::Value = serde_json::from_slice(&e).unwrap();
                assert!(
                    seen_ids.insert(v["id"].as_str().unwrap().to_owned()),
                    "duplicate entry"
                );
                assert!(seen_ids.len() <= 1_000_000);
                leaves.push(verify::leaf_hash(&e));
            }
            n += width;
        }
        assert_eq!(verify::root_from_leaf_hashes(&leaves), latest.root);
        // A key whose registration was acknowledged stays taken.
        let first = &acks[0];
        let first_key = server
            .get(&format!("/v1/participants/{}", first.participant_id))
            .json()["public_key"]
            .as_str()
            .map(|k| BASE64_STANDARD.decode(k).unwrap())
            .unwrap();
        let key: [u8; 32] = first_key.try_into().unwrap();
        if server
            .register(&token, "Again", &["depositor"], &key)
            .status
            == 409
        {
            refused += 1;
        }
        eprintln!(
            "cycle {cycle}: {written} acknowledged, log size {}, restarted in {restart:?}",
            latest.size
        );
    }
    assert_eq!(refused, cycles);
    let total = acks.lock().unwrap().len();
    eprintln!("{cycles} SIGKILL cycles, {total} writes acknowledged, 0 lost");
}
