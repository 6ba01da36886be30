//! Black-box tests of the HTTP API against the real binary on port 0: registering participants,
//! recomputing the signed root from hash tiles and from entry bundles like a generic
//! c2sp.org/tlog-tiles client, and checking proofs with the offline verifier.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::prelude::*;
use common::{b64_hash, hashes, q, test_key, Server};
use datapole::log::tiles::{unbundle, TileKind, TilePath, TILE_WIDTH};
use datapole::verify;
use tlog_tiles::{Tile, TileHashReader, TileReader};

/// A c2sp.org/tlog-tiles client: reads hash tiles over HTTP for `tlog_tiles`' tile-checking
/// hash reader, which authenticates every tile against the tree hash it is given.
struct HttpTiles<'a> {
    server: &'a Server,
}

impl TileReader for HttpTiles<'_> {
    fn height(&self) -> u8 {
        8
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|t| {
                let path = TilePath {
                    kind: TileKind::Hash(t.level()),
                    n: t.level_index(),
                    width: u64::from(t.width()),
                };
                let a = self.server.get(&format!("/{}", path.path()));
                if a.status == 200 {
                    Ok(a.body)
                } else {
                    Err(tlog_tiles::Error::InvalidTile)
                }
            })
            .collect()
    }

    fn save_tiles(&self, _: &[Tile], _: &[Vec<u8>]) {}
}

#[test]
fn participants_tiles_bundles_and_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let token = server.admin_token();
    let vkey = server.vkey();

    // The empty log has a signed checkpoint of size 0, also answered to HEAD (without a body).
    let empty = verify::verify_checkpoint(&server.checkpoint(), &vkey).unwrap();
    assert_eq!(empty.size, 0);
    let head = server.request("HEAD", "/checkpoint", &[], &[]);
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert!(head.content_type.starts_with("text/plain"));

    // 300 registrations from 4 concurrent clients: more than one full tile.
    let n = 300u64;
    let answers = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let server = &server;
            let token = &token;
            let answers = answers.clone();
            s.spawn(move || {
                for i in (t..n).step_by(4) {
                    let roles: &[&str] = if i % 2 == 0 {
                        &["depositor"]
                    } else {
                        &["controller", "accessor"]
                    };
                    let a = server.register(token, &format!("Org {i}"), roles, &test_key(i));
                    assert_eq!(a.status, 201, "{}", a.text());
                    answers.lock().unwrap().push((i, a.json()));
                }
            });
        }
    });
    let answers = Arc::try_unwrap(answers).unwrap().into_inner().unwrap();
    assert_eq!(answers.len() as u64, n);

    // Every acknowledgement carries an index under a checkpoint signed by the log key, and an
    // inclusion proof at that checkpoint verifies.
    let mut indexes = HashMap::new();
    let mut seen_checkpoints = Vec::new();
    for (i, a) in &answers {
        let index = a["index"].as_u64().unwrap();
        assert!(
            indexes.insert(index, *i).is_none(),
            "index {index} given twice"
        );
        let token = a["api_token"].as_str().unwrap();
        assert!(token.starts_with("dpt_") && token.len() > 40);
        let cp = verify::verify_checkpoint(a["checkpoint"].as_str().unwrap(), &vkey).unwrap();
        assert!(cp.size > index);
        let entry = server.get(&format!("/v1/entries/{index}")).json();
        assert_eq!(entry["entry"]["type"], "participant");
        assert_eq!(entry["entry"]["v"], 1);
        assert_eq!(entry["entry"]["id"], a["participant_id"]);
        assert_eq!(entry["entry"]["name"], format!("Org {i}"));
        let data = BASE64_STANDARD
            .decode(entry["data"].as_str().unwrap())
            .unwrap();
        let leaf = verify::leaf_hash(&data);
        assert_eq!(b64_hash(&entry["leaf_hash"]), leaf);
        let proof = server
            .get(&format!(
                "/v1/proofs/inclusion?index={index}&tree_size={}",
                cp.size
            ))
            .json();
        assert_eq!(proof["tree_size"], cp.size);
        verify::verify_inclusion(&leaf, index, cp.size, &hashes(&proof["hashes"]), &cp.root)
            .unwrap();
        seen_checkpoints.push(cp);
    }
    assert_eq!(indexes.len() as u64, n);

    // The latest checkpoint covers all of them.
    let latest = verify::verify_checkpoint(&server.checkpoint(), &vkey).unwrap();
    assert_eq!(latest.size, n);
    let info = server.get("/v1/log").json();
    assert_eq!(info["size"], n);
    assert_eq!(info["origin"], latest.origin);
    assert_eq!(
        BASE64_STANDARD
            .decode(info["public_key"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );

    // Every checkpoint handed out is consistent with the latest.
    for cp in &seen_checkpoints {
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
        .unwrap();
    }

    // A generic tile client recomputes (and authenticates) the root from the hash tiles.
    let tiles = HttpTiles { server: &server };
    let reader = TileHashReader::new(latest.size, tlog_tiles::Hash(latest.root), &tiles);
    assert_eq!(
        tlog_tiles::tree_hash(latest.size, &reader).unwrap().0,
        latest.root
    );

    // Independently: the level-0 tiles give every leaf hash, and the entry bundles give every
    // leaf; both recompute the signed root with rs_merkle.
    let full = n / TILE_WIDTH;
    let rest = n % TILE_WIDTH;
    let mut tile_leaves = Vec::new();
    let mut bundle_leaves = Vec::new();
    let mut paths = Vec::new();
    for k in 0..full {
        paths.push((
            TilePath::full(TileKind::Hash(0), k),
            TilePath::full(TileKind::Entries, k),
        ));
    }
    if rest > 0 {
        paths.push((
            TilePath {
                kind: TileKind::Hash(0),
                n: full,
                width: rest,
            },
            TilePath {
                kind: TileKind::Entries,
                n: full,
                width: rest,
            },
        ));
    }
    for (hash_tile, bundle) in paths {
        let a = server.get(&format!("/{}", hash_tile.path()));
        assert_eq!(a.status, 200);
        assert_eq!(a.content_type, "application/octet-stream");
        if hash_tile.is_full() {
            assert_eq!(a.cache_control, "public, max-age=31536000, immutable");
        } else {
            assert!(a.cache_control.contains("max-age=") && !a.cache_control.contains("immutable"));
        }
        assert_eq!(a.body.len() as u64, hash_tile.width * 32);
        tile_leaves.extend(a.body.chunks(32).map(|c| <[u8; 32]>::try_from(c).unwrap()));
        let b = server.get(&format!("/{}", bundle.path()));
        assert_eq!(b.status, 200);
        let entries = unbundle(&b.body).expect("well-framed bundle");
        assert_eq!(entries.len() as u64, bundle.width);
        for e in &entries {
            let v: serde_json::Value = serde_json::from_slice(e).unwrap();
            assert_eq!(v["type"], "participant");
            bundle_leaves.push(verify::leaf_hash(e));
        }
    }
    assert_eq!(tile_leaves, bundle_leaves);
    assert_eq!(verify::root_from_leaf_hashes(&bundle_leaves), latest.root);

    // A level-1 partial tile holds the hashes of the full level-0 tiles.
    let l1 = server.get("/tile/1/000.p/1");
    assert_eq!(l1.status, 200);
    assert_eq!(
        l1.body,
        verify::root_from_leaf_hashes(&bundle_leaves[..256]).to_vec()
    );
    // Smaller partial widths of a tile are prefixes of the wider ones.
    let p3 = server.get("/tile/0/000.p/3");
    assert_eq!(p3.body, server.get("/tile/0/000").body[..96].to_vec());

    // Inclusion by leaf hash (base64 percent-encoded, and with '+' sent as a space).
    let leaf = bundle_leaves[123];
    let encoded = BASE64_STANDARD.encode(leaf);
    let by_hash = server
        .get(&format!("/v1/proofs/inclusion?leaf_hash={}", q(&encoded)))
        .json();
    assert_eq!(by_hash["index"], 123);
    assert_eq!(by_hash["tree_size"], n);
    verify::verify_inclusion(&leaf, 123, n, &hashes(&by_hash["hashes"]), &latest.root).unwrap();
    let spaced = encoded
        .replace('+', "%20")
        .replace('/', "%2F")
        .replace('=', "%3D");
    assert_eq!(
        server
            .get(&format!("/v1/proofs/inclusion?leaf_hash={spaced}"))
            .json()["index"],
        123
    );

    // Public participant records.
    for (i, a) in answers.iter().take(5) {
        let id = a["participant_id"].as_str().unwrap();
        let p = server.get(&format!("/v1/participants/{id}"));
        assert_eq!(p.status, 200);
        let p = p.json();
        assert_eq!(p["participant_id"], id);
        assert_eq!(p["name"], format!("Org {i}"));
        assert_eq!(p["index"], a["index"]);
        assert_eq!(p["public_key"], BASE64_STANDARD.encode(test_key(*i)));
        assert!(p.get("api_token").is_none());
    }
}

#[test]
fn a_restart_keeps_entries_and_checkpoints_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    let token = server.admin_token();
    let vkey = server.vkey();
    let mut ids = Vec::new();
    for i in 0..20 {
        let a = server.register(&token, &format!("Org {i}"), &["auditor"], &test_key(i));
        assert_eq!(a.status, 201);
        ids.push(a.json()["participant_id"].as_str().unwrap().to_owned());
    }
    let before = server.checkpoint();
    let bundle = server.get("/tile/entries/000.p/20").body;
    server.stop();

    let server = Server::start(&data);
    assert_eq!(server.vkey(), vkey, "the key persists");
    assert_eq!(server.admin_token(), token, "the admin token persists");
    assert_eq!(
        server.checkpoint(),
        before,
        "the same signed checkpoint is served"
    );
    assert_eq!(server.get("/tile/entries/000.p/20").body, bundle);
    for id in &ids {
        assert_eq!(server.get(&format!("/v1/participants/{id}")).status, 200);
    }
    // Registering the same key again is still refused after the restart.
    server
        .register(&token, "Again", &["auditor"], &test_key(3))
        .assert_error(409, "duplicate_key", "duplicate after restart");
    for i in 20..30 {
        assert_eq!(
            server
                .register(&token, "More", &["auditor"], &test_key(i))
                .status,
            201
        );
    }
    let old = verify::verify_checkpoint(&before, &vkey).unwrap();
    let new = verify::verify_checkpoint(&server.checkpoint(), &vkey).unwrap();
    assert_eq!((old.size, new.size), (20, 30));
    let proof = server.get("/v1/proofs/consistency?from=20&to=30").json();
    verify::verify_consistency(20, 30, &old.root, &new.root, &hashes(&proof["hashes"])).unwrap();
}

/// The value of a Prometheus sample line `name{labels} value` in a scrape.
fn sample(scrape: &str, line_start: &str) -> Option<f64> {
    scrape
        .lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn metrics_show_the_sequencer_at_work_and_probes_answer() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let admin = server.admin_token();
    for i in 0..5 {
        assert_eq!(
            server
                .register(&admin, "P", &["auditor"], &test_key(i))
                .status,
            201
        );
    }
    server
        .get("/v1/entries/999")
        .assert_error(404, "entry_not_found", "beyond the log");
    server
        .get("/no/such/path")
        .assert_error(404, "not_found", "unknown path");

    let m = server.get("/metrics");
    assert_eq!(m.status, 200);
    assert!(
        m.content_type.starts_with("text/plain; version=0.0.4"),
        "{}",
        m.content_type
    );
    let text = m.text();
    let requests = |route: &str, method: &str, status: &str| {
        sample(
            &text,
            &format!(
                "datapole_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(
        requests("/v1/participants", "POST", "201"),
        Some(5.0),
        "{text}"
    );
    assert_eq!(
        requests("/v1/entries/{index}", "GET", "404"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(requests("unmatched", "GET", "404"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "datapole_log_size "), Some(5.0), "{text}");
    assert_eq!(sample(&text, "datapole_sequencer_queue_depth "), Some(0.0));
    assert_eq!(sample(&text, "datapole_sequencer_degraded "), Some(0.0));
    // Five registrations, one at a time: five batches of one entry.
    assert_eq!(
        sample(&text, "datapole_sequencer_batch_entries_count "),
        Some(5.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "datapole_sequencer_batch_entries_sum "),
        Some(5.0)
    );
    assert_eq!(
        sample(&text, "datapole_sequencer_commit_seconds_count "),
        Some(5.0)
    );
    assert!(sample(&text, "datapole_sequencer_commit_seconds_sum ").unwrap() > 0.0);
    assert_eq!(
        sample(&text, "datapole_sequencer_flush_seconds_count "),
        Some(5.0)
    );
    let flush = sample(&text, "datapole_sequencer_flush_seconds_sum ").unwrap();
    assert!(
        flush > 0.0 && flush <= sample(&text, "datapole_sequencer_commit_seconds_sum ").unwrap()
    );
    assert!(text.contains(
        "datapole_http_request_duration_seconds_bucket{route=\"/v1/participants\",le=\"0.001\"}"
    ));

    let h = server.get("/healthz");
    assert_eq!((h.status, h.json()["status"].as_str()), (200, Some("ok")));
    let r = server.get("/readyz");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["size"], 5);
    server.request("POST", "/metrics", &[], b"").assert_error(
        405,
        "method_not_allowed",
        "POST /metrics",
    );
}
