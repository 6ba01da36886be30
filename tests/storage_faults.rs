//! Storage faults: when the data directory's disk fills up, writes get 503
//! `storage_unavailable`, no new checkpoint is signed or served, reads go on, and writes
//! resume by themselves once space is back, with a checkpoint consistent with the old one.
//!
//! The test mounts a small tmpfs, which needs root (CI runs as root). Elsewhere it says so and
//! skips, unless `DATAPOLE_REQUIRE_ALL=1` (as `.ci/run` sets), where not being able to run it
//! is a failure.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{hashes, test_key, Server};
use datapole::verify;

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then(|| Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system holding `path` until it is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
}

#[test]
fn a_full_disk_gives_503_keeps_reads_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let Some(_tmpfs) = Tmpfs::mount(&mnt, "64m") else {
        common::skip("storage_faults", "mounting a tmpfs needs root");
        return;
    };
    let data = mnt.join("data");
    // The server's own log is on the full disk too: that must not take it down either.
    let log = mnt.join("server.log");
    let server = Server::start_logged(&data, &log, &[], &[]);
    let admin = server.admin_token();
    let vkey = server.vkey();
    let mut acked = Vec::new();
    for i in 0..3 {
        let a = server.register(&admin, "Before", &["auditor"], &test_key(i));
        assert_eq!(a.status, 201);
        acked.push(a.json()["participant_id"].as_str().unwrap().to_owned());
    }

    let filler = mnt.join("filler");
    fill(&filler);
    // sled may still have room in its current segment for a write or two.
    let mut key = 100;
    let mut first_failure = None;
    for _ in 0..50 {
        key += 1;
        let a = server.register(&admin, "During", &["auditor"], &test_key(key));
        if a.status == 201 {
            acked.push(a.json()["participant_id"].as_str().unwrap().to_owned());
            continue;
        }
        a.assert_error(503, "storage_unavailable", "write on a full disk");
        first_failure = Some(server.checkpoint());
        break;
    }
    let frozen = first_failure.expect("writes never failed on a full disk");
    for _ in 0..5 {
        key += 1;
        server
            .register(&admin, "During", &["auditor"], &test_key(key))
            .assert_error(503, "storage_unavailable", "write while the disk is full");
        assert_eq!(
            server.checkpoint(),
            frozen,
            "no new checkpoint while the disk is full"
        );
        let read = server.get("/v1/entries/0");
        assert_eq!(read.status, 200, "reads go on: {}", read.text());
    }
    // Reads go on.
    let size = verify::verify_checkpoint(&frozen, &vkey).unwrap().size;
    let entry = server.get("/v1/entries/0");
    assert_eq!(entry.status, 200, "{}", entry.text());
    let tile = server.get(&format!("/tile/entries/000.p/{size}"));
    assert_eq!(tile.status, 200, "{}", tile.text());
    assert_eq!(
        server.get(&format!("/v1/participants/{}", acked[0])).status,
        200
    );
    assert_eq!(server.get("/v1/proofs/inclusion?index=0").status, 200);
    // The probes tell an orchestrator: alive, not ready for writes; the metrics show why.
    assert_eq!(server.get("/healthz").status, 200);
    server
        .get("/readyz")
        .assert_error(503, "not_ready", "readiness while writes are refused");
    let metrics = server.get("/metrics").text();
    assert!(
        metrics.contains("datapole_sequencer_degraded 1"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("datapole_sequencer_batch_failures_total 0"),
        "{metrics}"
    );

    // Space is back: the log recovers by itself, without waiting for a write, and the next
    // write succeeds.
    std::fs::remove_file(&filler).unwrap();
    let mut ready = false;
    for _ in 0..50 {
        if server.get("/readyz").status == 200 {
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(ready, "readiness came back without a write");
    key += 1;
    let a = server.register(&admin, "After", &["auditor"], &test_key(key));
    assert_eq!(a.status, 201, "{}", a.text());
    acked.push(a.json()["participant_id"].as_str().unwrap().to_owned());
    let old = verify::verify_checkpoint(&frozen, &vkey).unwrap();
    let new = verify::verify_checkpoint(&server.checkpoint(), &vkey).unwrap();
    assert!(new.size > old.size);
    let p = server
        .get(&format!(
            "/v1/proofs/consistency?from={}&to={}",
            old.size, new.size
        ))
        .json();
    verify::verify_consistency(
        old.size,
        new.size,
        &old.root,
        &new.root,
        &hashes(&p["hashes"]),
    )
    .unwrap();

    // And everything acknowledged survives a crash.
    server.kill();
    let server = Server::start_logged(&data, &log, &[], &[]);
    for id in &acked {
        assert_eq!(
            server.get(&format!("/v1/participants/{id}")).status,
            200,
            "{id} lost"
        );
    }
    assert!(
        verify::verify_checkpoint(&server.checkpoint(), &vkey)
            .unwrap()
            .size
            >= new.size
    );
}
