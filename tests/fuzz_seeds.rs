//! Every committed fuzz seed (fuzz/corpus/<target>/) through its target's body
//! (`datapole::fuzz`), on the stable toolchain: the seeds are regression inputs, and a change
//! that makes one of them panic or fail an assertion fails `cargo test`, not only a nightly
//! fuzzing run. Every target of fuzz/Cargo.toml must be listed here, with seeds.

use std::path::Path;

/// A fuzz target's body.
type Body = fn(&[u8]);

/// The fuzz targets and their bodies.
const TARGETS: &[(&str, Body)] = &[
    ("checkpoint_note", datapole::fuzz::checkpoint_note),
    ("consent_access", datapole::fuzz::consent_access),
    ("deposit_payload", datapole::fuzz::deposit_payload),
    ("dsse_envelope", datapole::fuzz::dsse_envelope),
    ("receipt_verify", datapole::fuzz::receipt_verify),
    ("strict_json", datapole::fuzz::strict_json),
    ("tile_path", datapole::fuzz::tile_path),
    ("witness_request", datapole::fuzz::witness_request),
];

#[test]
fn every_committed_seed_runs_through_its_target() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    // The targets the fuzz crate builds are the ones listed here.
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).unwrap();
    let mut built: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|n| *n != "datapole-fuzz")
        .collect();
    built.sort();
    let listed: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        built, listed,
        "fuzz/Cargo.toml and this test list other targets"
    );
    for (name, run) in TARGETS {
        let dir = fuzz.join("corpus").join(name);
        let mut seeds = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{name}: seed {} fails", path.display());
            seeds += 1;
        }
        assert!(seeds > 0, "{name} has no committed seed");
    }
}
