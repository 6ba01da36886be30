//! `datapole audit`: monitors a log with nothing but its URL and key. Each round verifies the
//! checkpoint, proves it consistent with the last verified one from the hash tiles (not the
//! server's proof endpoint), downloads the new entry bundles, recomputes every leaf hash and
//! the root, checks every entry (`crate::audit`), then saves the new state: the checkpoint
//! and the tree's right edge, so that a restart downloads only what is new.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;

use crate::audit::{b64, AuditState};
use crate::log::tiles::{unbundle, TileKind, TilePath, TILE_WIDTH};
use crate::verify::{verify_checkpoint, verify_consistency};

/// Flags of `datapole audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The log's base URL.
    #[arg(long)]
    pub log_url: String,
    /// The log's signed-note verifier key, pinned out of band.
    #[arg(long)]
    pub vkey: String,
    /// Where the verified state is kept between runs.
    #[arg(long, default_value = "./datapole-audit")]
    pub state_dir: PathBuf,
    /// Keep auditing, every --interval.
    #[arg(long)]
    pub follow: bool,
    /// Seconds between rounds with --follow.
    #[arg(long, default_value_t = 30)]
    pub interval: u64,
    /// A witness's `cosignature/v1` verifier key: require its cosignature on every checkpoint
    /// (see --quorum). Repeatable.
    #[arg(long = "witness", value_name = "VKEY")]
    pub witnesses: Vec<String>,
    /// How many of the --witness keys must have cosigned each checkpoint (default: all).
    #[arg(long, requires = "witnesses")]
    pub quorum: Option<usize>,
}

fn get(url: &str) -> anyhow::Result<Vec<u8>> {
    let resp = ureq::get(url)
        .call()
        .with_context(|| format!("GET {url}"))?;
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader().take(16 << 20), &mut body)?;
    Ok(body)
}

use std::io::Read as _;

/// Hash tiles over HTTP, for `tlog_tiles`' tile-authenticating hash reader.
struct HttpTiles<'a> {
    base: &'a str,
}

impl tlog_tiles::TileReader for HttpTiles<'_> {
    fn height(&self) -> u8 {
        8
    }

    fn read_tiles(&self, tiles: &[tlog_tiles::Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|t| {
                let path = TilePath {
                    kind: TileKind::Hash(t.level()),
                    n: t.level_index(),
                    width: u64::from(t.width()),
                };
                get(&format!("{}/{}", self.base, path.path()))
                    .ok()
                    .filter(|b| b.len() == t.width() as usize * 32)
                    .ok_or(tlog_tiles::Error::InvalidTile)
            })
            .collect()
    }

    fn save_tiles(&self, _: &[tlog_tiles::Tile], _: &[Vec<u8>]) {}
}

fn load(dir: &Path, vkey: &str) -> anyhow::Result<AuditState> {
    let path = dir.join("state.json");
    if !path.exists() {
        return Ok(AuditState::new(vkey));
    }
    let state: AuditState = crate::json::from_slice(&std::fs::read(&path)?)
        .with_context(|| format!("reading {}", path.display()))?;
    if state.vkey != vkey {
        bail!(
            "{} holds the state of another log key ({})",
            path.display(),
            state.vkey
        );
    }
    if !state.frontier.is_valid() {
        bail!("{} is corrupt", path.display());
    }
    Ok(state)
}

fn save(dir: &Path, state: &AuditState) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join("state.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec(state)?)?;
    std::fs::rename(&tmp, dir.join("state.json"))?;
    Ok(())
}

/// One round; returns the problems found (index or `-`, what).
fn round(args: &AuditArgs, state: &mut AuditState) -> anyhow::Result<Vec<String>> {
    let base = args.log_url.trim_end_matches('/');
    let note = String::from_utf8(get(&format!("{base}/checkpoint"))?)?;
    let new = verify_checkpoint(&note, &args.vkey).context("the log's checkpoint")?;
    if !args.witnesses.is_empty() {
        let quorum = args.quorum.unwrap_or(args.witnesses.len());
        let check = crate::verify::receipt::check_witnesses(&note, &args.witnesses, quorum);
        if !check.ok {
            bail!(
                "the log's checkpoint at size {}: {}",
                new.size,
                check.detail
            );
        }
    }
    println!(
        "checkpoint: {} size {} root {}",
        new.origin,
        new.size,
        b64(&new.root)
    );
    let old_size = state.frontier.size;
    if !state.checkpoint.is_empty() {
        let old =
            verify_checkpoint(&state.checkpoint, &args.vkey).context("the saved checkpoint")?;
        if new.size < old.size {
            return Ok(vec![format!(
                "- the log shrank from {} to {} entries",
                old.size, new.size
            )]);
        }
        if new.size == old.size {
            if new.root != old.root {
                return Ok(vec![format!(
                    "- fork: two roots at size {}: {} and {}",
                    new.size,
                    b64(&old.root),
                    b64(&new.root)
                )]);
            }
        } else {
            // Consistency from the tiles, authenticated against the new root.
            let tiles = HttpTiles { base };
            let reader =
                tlog_tiles::TileHashReader::new(new.size, tlog_tiles::Hash(new.root), &tiles);
            let proof = tlog_tiles::prove_tree(new.size, old.size, &reader).map_err(|e| {
                anyhow::anyhow!("the hash tiles do not support the new checkpoint: {e}")
            });
            let checked = proof.and_then(|p| {
                let p: Vec<[u8; 32]> = p.iter().map(|h| h.0).collect();
                verify_consistency(old.size, new.size, &old.root, &new.root, &p).map_err(Into::into)
            });
            if let Err(e) = checked {
                return Ok(vec![format!(
                    "- fork: the checkpoint of size {} is not consistent with the verified one of size {}: {e:#}",
                    new.size, old.size
                )]);
            }
        }
    }
    let mut problems = Vec::new();
    let todo = new.size - old_size;
    let bar = indicatif::ProgressBar::new(todo);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} entries {per_sec} {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut next = old_size;
    while next < new.size {
        let n = next / TILE_WIDTH;
        let end = ((n + 1) * TILE_WIDTH).min(new.size);
        let path = TilePath {
            kind: TileKind::Entries,
            n,
            width: end - n * TILE_WIDTH,
        };
        let bytes = get(&format!("{base}/{}", path.path()))?;
        let entries = unbundle(&bytes)
            .filter(|e| e.len() as u64 == path.width)
            .with_context(|| format!("{} is not a well-formed bundle", path.path()))?;
        for (i, entry) in entries
            .iter()
            .enumerate()
            .skip((next - n * TILE_WIDTH) as usize)
        {
            let index = n * TILE_WIDTH + i as u64;
            if let Err(why) = state.check_entry(index, entry) {
                problems.push(format!("{index} {why}"));
            }
        }
        bar.inc(end - next);
        next = end;
    }
    bar.finish_and_clear();
    if state.frontier.root() != new.root {
        problems.push(format!(
            "- the entry bundles give root {}, not the signed {}",
            b64(&state.frontier.root()),
            b64(&new.root)
        ));
        return Ok(problems);
    }
    state.checkpoint = note;
    println!(
        "entries checked: {} new, {} in all",
        new.size - old_size,
        new.size
    );
    for (kind, n) in &state.counts {
        println!("  {kind}: {n}");
    }
    Ok(problems)
}

/// Runs the audit; exits non-zero if a round found a problem (with --follow, keeps going).
pub fn run(args: AuditArgs) -> anyhow::Result<()> {
    let mut state = load(&args.state_dir, &args.vkey)?;
    let mut failed = false;
    loop {
        let mut candidate = state.clone();
        match round(&args, &mut candidate) {
            Ok(problems) if problems.is_empty() => {
                state = candidate;
                save(&args.state_dir, &state)?;
                println!("ok: the log is consistent with everything verified before");
            }
            Ok(problems) => {
                failed = true;
                println!("PROBLEMS: {}", problems.len());
                for p in &problems {
                    println!("  {p}");
                }
                // The state is not advanced past a log that misbehaved.
            }
            Err(e) => {
                failed = true;
                println!("ERROR: {e:#}");
            }
        }
        if !args.follow {
            break;
        }
        std::thread::sleep(Duration::from_secs(args.interval.max(1)));
    }
    if failed {
        std::process::exit(1);
    }
    Ok(())
}
