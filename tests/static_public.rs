//! The log's public directory served by a plain static file server: after a clean stop,
//! `python3 -m http.server` over `<data>/public` serves the log, and the same two C2SP clients
//! as in tests/http_api.rs (the tile-authenticated root from the hash tiles, and the root
//! recomputed with rs_merkle from the entry bundles) verify it exactly as they verify the API.
//! The directory holds nothing but the checkpoint and canonical tile paths (no temporary file,
//! no private data), and the restarted server serves the same bytes at the same paths.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::prelude::*;
use common::{deposit_payload, leaked, register, Participant, Server};
use datapole::log::tiles::{unbundle, TileKind, TilePath, TILE_WIDTH};
use datapole::statement::deposit::DEPOSIT_TYPE;
use datapole::verify;
use serde_json::json;
use tlog_tiles::{Tile, TileHashReader, TileReader};

/// Deposits made: two full bundles and a partial one, with the registration.
const DEPOSITS: u64 = 600;
/// Every this many deposits, a private one (only a commitment goes on the log).
const PRIVATE_EVERY: u64 = 50;
const SECRET_TITLE: &str = "Registre confidentiel des essais cliniques";

/// `python3 -m http.server` over a directory, killed (by its pid) when dropped.
struct StaticServer {
    child: Child,
    base: String,
}

impl StaticServer {
    /// Starts it on a free port (it binds port 0 and prints the one it got), or `None` if
    /// there is no python3.
    fn start(dir: &Path) -> Option<StaticServer> {
        let mut child = match Command::new("python3")
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"])
            .arg("--directory")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => panic!("starting python3: {e}"),
        };
        let stdout = child.stdout.take().expect("stdout");
        // The guard exists from here: a panic below still kills the child.
        let mut server = StaticServer {
            child,
            base: String::new(),
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = line
                    .split_once(" port ")
                    .and_then(|(_, rest)| rest.split(' ').next())
                {
                    let _ = tx.send(port.to_owned());
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("python3 -m http.server did not say its port");
        server.base = format!("http://127.0.0.1:{port}");
        Some(server)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `base` + `path`: (status, body).
fn fetch(base: &str, path: &str) -> (u16, Vec<u8>) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let resp = match agent.get(&format!("{base}{path}")).call() {
        Ok(resp) => resp,
        Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => panic!("GET {base}{path}: {e}"),
    };
    let status = resp.status();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut body).expect("body");
    (status, body)
}

/// Hash tiles over HTTP from any base URL, for `tlog_tiles`' tile-checking hash reader.
struct HttpTiles<'a> {
    base: &'a str,
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
                match fetch(self.base, &format!("/{}", path.path())) {
                    (200, body) => Ok(body),
                    _ => Err(tlog_tiles::Error::InvalidTile),
                }
            })
            .collect()
    }

    fn save_tiles(&self, _: &[Tile], _: &[Vec<u8>]) {}
}

/// What a C2SP client made of a log.
#[derive(Debug)]
struct Verified {
    /// The signed checkpoint note.
    checkpoint: Vec<u8>,
    size: u64,
    /// Every level-0 tile and entry bundle it read, by path.
    read: BTreeMap<String, Vec<u8>>,
}

/// The C2SP clients of tests/http_api.rs against `base` (the API or a static server): the
/// checkpoint's signature, the root from the hash tiles (authenticated by `tlog_tiles`), and
/// the root recomputed with rs_merkle both from the level-0 tiles and from the bundles.
fn c2sp_clients(base: &str, vkey: &str) -> Verified {
    let (status, checkpoint) = fetch(base, "/checkpoint");
    assert_eq!(status, 200, "{base}/checkpoint");
    let note = String::from_utf8(checkpoint.clone()).expect("utf-8 checkpoint");
    let cp = verify::verify_checkpoint(&note, vkey)
        .unwrap_or_else(|e| panic!("{base}/checkpoint does not verify: {e}"));

    // The tile-authenticated root.
    let tiles = HttpTiles { base };
    let reader = TileHashReader::new(cp.size, tlog_tiles::Hash(cp.root), &tiles);
    let root = tlog_tiles::tree_hash(cp.size, &reader)
        .unwrap_or_else(|e| panic!("{base}: the hash tiles do not give the root: {e}"));
    assert_eq!(root.0, cp.root, "{base}: tile-authenticated root");

    // The bundle-recomputed root.
    let mut read = BTreeMap::new();
    let (mut tile_leaves, mut bundle_leaves) = (Vec::new(), Vec::new());
    for n in 0..cp.size.div_ceil(TILE_WIDTH) {
        let width = (cp.size - n * TILE_WIDTH).min(TILE_WIDTH);
        for kind in [TileKind::Hash(0), TileKind::Entries] {
            let path = TilePath { kind, n, width }.path();
            let (status, body) = fetch(base, &format!("/{path}"));
            assert_eq!(status, 200, "{base}/{path}");
            if kind == TileKind::Entries {
                let entries = unbundle(&body)
                    .unwrap_or_else(|| panic!("{base}/{path} is not a well-framed bundle"));
                assert_eq!(entries.len() as u64, width, "{base}/{path}");
                bundle_leaves.extend(entries.iter().map(|e| verify::leaf_hash(e)));
            } else {
                assert_eq!(body.len() as u64, width * 32, "{base}/{path}");
                tile_leaves.extend(body.chunks(32).map(|c| <[u8; 32]>::try_from(c).unwrap()));
            }
            read.insert(path, body);
        }
    }
    assert_eq!(tile_leaves, bundle_leaves, "{base}: tiles and bundles");
    assert_eq!(
        verify::root_from_leaf_hashes(&bundle_leaves),
        cp.root,
        "{base}: bundle-recomputed root"
    );
    Verified {
        checkpoint,
        size: cp.size,
        read,
    }
}

/// Every file under `root`, by its path relative to it (with `/`), and every directory.
fn tree(root: &Path) -> (BTreeMap<String, Vec<u8>>, Vec<PathBuf>) {
    let (mut files, mut dirs) = (BTreeMap::new(), Vec::new());
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let kind = std::fs::symlink_metadata(&path)
                .expect("metadata")
                .file_type();
            if kind.is_dir() {
                dirs.push(path.clone());
                stack.push(path);
            } else {
                assert!(kind.is_file(), "{} is not a plain file", path.display());
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .expect("utf-8 name");
                files.insert(rel.to_owned(), std::fs::read(&path).expect("read"));
            }
        }
    }
    (files, dirs)
}

/// The objects a log of `size` entries publishes: its checkpoint, every full tile and bundle,
/// and the partial one at the right edge of each level.
fn expected_objects(size: u64) -> BTreeSet<String> {
    let mut out = BTreeSet::from(["checkpoint".to_owned()]);
    for level in 0..8u8 {
        let positions = size >> (8 * u32::from(level));
        if positions == 0 {
            break;
        }
        let mut kinds = vec![TileKind::Hash(level)];
        if level == 0 {
            kinds.push(TileKind::Entries);
        }
        for kind in kinds {
            for n in 0..positions.div_ceil(TILE_WIDTH) {
                let width = (positions - n * TILE_WIDTH).min(TILE_WIDTH);
                out.insert(TilePath { kind, n, width }.path());
            }
        }
    }
    out
}

fn deposit(server: &Server, depositor: &Participant, i: u64) {
    let mut payload = deposit_payload(format!("rows of dataset {i}\n").as_bytes(), "public");
    if i % PRIVATE_EVERY == 0 {
        payload["visibility"] = json!("private");
        payload["title"] = json!(format!("{SECRET_TITLE} {i}"));
    }
    let a = common::post(
        server,
        "/v1/deposits",
        &depositor.sign(DEPOSIT_TYPE, &payload),
        None,
    );
    assert_eq!(a.status, 201, "deposit {i}: {}", a.text());
}

#[test]
fn a_static_file_server_over_the_public_directory_serves_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let public = data.join("public");
    let mut server = Server::start(&data);
    let admin = server.admin_token();
    let vkey = server.vkey();
    let depositor = register(&server, &admin, 1, &["depositor"]);

    // 600 deposits from 4 concurrent clients: two full bundles and a partial one.
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (server, depositor) = (&server, &depositor);
            s.spawn(move || {
                for i in (t..DEPOSITS).step_by(4) {
                    deposit(server, depositor, i);
                }
            });
        }
    });
    let size = server.size();
    assert_eq!(size, DEPOSITS + 1, "the registration and the deposits");
    assert!(size > 2 * TILE_WIDTH && size % TILE_WIDTH != 0);
    let from_api_before = c2sp_clients(&server.base, &vkey);
    server.stop();

    // The directory holds exactly the objects of the log's size: the checkpoint and
    // canonical tile paths, no temporary file, no partial tile a wider one replaced, no
    // directory left empty.
    let (files, dirs) = tree(&public);
    for name in files.keys() {
        if name != "checkpoint" {
            let rest = name
                .strip_prefix("tile/")
                .unwrap_or_else(|| panic!("{name} is neither the checkpoint nor a tile"));
            let parsed = TilePath::parse(rest).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(parsed.path(), *name);
        }
        assert!(!name.contains(".tmp-"), "a temporary file is left: {name}");
    }
    assert_eq!(
        files.keys().cloned().collect::<BTreeSet<_>>(),
        expected_objects(size),
        "the public directory of a log of size {size}"
    );
    for d in &dirs {
        assert!(
            std::fs::read_dir(d).unwrap().next().is_some(),
            "an empty directory is left: {}",
            d.display()
        );
    }

    // Nothing private is in it: neither the admin token, the depositor's API token, the log's
    // private key or the store's key-encryption keys, in clear, hex or base64, nor a private
    // deposit's title.
    let mut secrets: Vec<(String, Vec<u8>)> = vec![
        ("the admin token".into(), admin.as_bytes().to_vec()),
        (
            "the depositor's token".into(),
            depositor.token.as_bytes().to_vec(),
        ),
        (
            "the hash of the depositor's token".into(),
            hex_decode(&common::sha_hex(depositor.token.as_bytes())),
        ),
        ("a private title".into(), SECRET_TITLE.as_bytes().to_vec()),
    ];
    let log_key = std::fs::read_to_string(data.join("log.key")).expect("log.key");
    secrets.push((
        "the log key file".into(),
        log_key.trim().as_bytes().to_vec(),
    ));
    // PRIVATE+KEY+<name>+<key hash>+<base64 of the key type and the 32-byte seed>
    let encoded = log_key
        .trim()
        .splitn(5, '+')
        .nth(4)
        .expect("a signed-note key");
    let raw = BASE64_STANDARD.decode(encoded).expect("base64 key");
    secrets.push(("the log key's seed".into(), raw[raw.len() - 32..].to_vec()));
    // store.keys: a 16-byte magic, a u32 count, records of bucket (8) ‖ generation (4) ‖ KEK
    // (32), a SHA-256.
    let keys = std::fs::read(data.join("store.keys")).expect("store.keys");
    let records = &keys[20..keys.len() - 32];
    assert!(!records.is_empty() && records.len() % 44 == 0);
    secrets.extend(
        records
            .chunks(44)
            .map(|r| ("a key-encryption key".to_owned(), r[12..].to_vec())),
    );
    for (name, body) in &files {
        for (what, secret) in &secrets {
            assert_eq!(leaked(body, secret), None, "{what} is in public/{name}");
        }
    }

    // The static server, exactly as the API: same checkpoint, same roots, same bytes.
    let Some(stat) = StaticServer::start(&public) else {
        common::skip("static_public", "python3 is not on PATH");
        return;
    };
    let from_static = c2sp_clients(&stat.base, &vkey);
    assert_eq!(from_static.checkpoint, from_api_before.checkpoint);
    assert_eq!(from_static.size, size);
    assert_eq!(from_static.read, from_api_before.read);
    // And the level-1 tile, which only the tile-authenticated client read.
    assert_eq!(
        fetch(&stat.base, "/tile/1/000.p/2"),
        (200, files["tile/1/000.p/2"].clone())
    );

    // Restarted on the same directory, the server serves the same bytes at every path the
    // directory holds, and has changed none of them.
    let server = Server::start(&data);
    let from_api = c2sp_clients(&server.base, &vkey);
    assert_eq!(from_api.checkpoint, from_static.checkpoint);
    assert_eq!(from_api.read, from_static.read);
    for (name, body) in &files {
        let a = server.get(&format!("/{name}"));
        assert_eq!(a.status, 200, "/{name} from the API");
        assert!(a.body == *body, "/{name}: the API and the file differ");
        assert_eq!(fetch(&stat.base, &format!("/{name}")), (200, body.clone()));
    }
    assert_eq!(
        tree(&public).0,
        files,
        "the restart changed the public directory"
    );
    drop(stat);
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
