//! The archive's load client, for `benches/archive/run.sh`: registers a depositor, then either
//! uploads one file (streamed from disk in one `PATCH`, timed from the first byte sent to the
//! completing answer) or fills the archive with many small random objects from several
//! connections. Prints one JSON line of figures.
//!
//! ```text
//! cargo run --release --example archive_bench -- --url http://127.0.0.1:8080 \
//!     --token "$(cat data/admin-token)" upload --file big.bin [--private]
//! cargo run --release --example archive_bench -- ... fill --count 10000 --size 262144
//! ```

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{bail, Context};
use base64::prelude::*;
use clap::{Parser, Subcommand};
use datapole::statement::deposit::DEPOSIT_TYPE;
use datapole::statement::dsse::Envelope;
use ed25519_dalek::SigningKey;
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[derive(Parser)]
struct Args {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The admin token (to register the depositor).
    #[arg(long, env = "DATAPOLE_ADMIN_TOKEN")]
    token: String,
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Upload one file in one streamed PATCH.
    Upload {
        /// The file.
        #[arg(long)]
        file: std::path::PathBuf,
        /// A private deposit (encrypted at rest).
        #[arg(long)]
        private: bool,
    },
    /// Upload many small random objects.
    Fill {
        /// How many.
        #[arg(long, default_value_t = 10_000)]
        count: u64,
        /// Each one's size in bytes.
        #[arg(long, default_value_t = 262_144)]
        size: usize,
        /// Concurrent connections.
        #[arg(long, default_value_t = 8)]
        concurrency: u64,
    },
}

struct Depositor {
    id: String,
    token: String,
    key: SigningKey,
}

fn register(agent: &ureq::Agent, url: &str, admin: &str) -> anyhow::Result<Depositor> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    let answer: Value = agent
        .post(&format!("{url}/v1/participants"))
        .set("authorization", &format!("Bearer {admin}"))
        .send_json(json!({
            "name": format!("bench {}", hex(&seed[..4])),
            "roles": ["depositor"],
            "public_key": BASE64_STANDARD.encode(key.verifying_key().as_bytes()),
        }))?
        .into_json()?;
    Ok(Depositor {
        id: answer["participant_id"]
            .as_str()
            .context("participant_id")?
            .to_owned(),
        token: answer["api_token"]
            .as_str()
            .context("api_token")?
            .to_owned(),
        key,
    })
}

fn hex(b: &[u8]) -> String {
    datapole::field::hex(b)
}

/// Opens an upload for `size` bytes of digest `sha256`; answers its path.
fn open(
    agent: &ureq::Agent,
    url: &str,
    who: &Depositor,
    sha256: &[u8],
    size: u64,
    private: bool,
) -> anyhow::Result<String> {
    let mut nonce = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let payload = json!({
        "sha256": hex(sha256),
        "size": size,
        "media_type": "application/octet-stream",
        "title": "benchmark object",
        "visibility": if private { "private" } else { "public" },
        "issued_at": chrono::Utc::now().to_rfc3339(),
        "nonce": hex(&nonce),
    });
    let envelope = Envelope::sign(
        DEPOSIT_TYPE,
        payload.to_string().as_bytes(),
        &who.id,
        &who.key,
    )
    .to_bytes()?;
    let answer: Value = agent
        .post(&format!("{url}/v1/uploads"))
        .set("authorization", &format!("Bearer {}", who.token))
        .set("content-type", "application/json")
        .send_bytes(&envelope)?
        .into_json()?;
    Ok(format!(
        "/v1/uploads/{}",
        answer["upload_id"].as_str().context("upload_id")?
    ))
}

fn patch(
    agent: &ureq::Agent,
    url: &str,
    who: &Depositor,
    path: &str,
    size: u64,
    body: impl Read,
) -> anyhow::Result<Value> {
    let r = agent
        .request("PATCH", &format!("{url}{path}"))
        .set("authorization", &format!("Bearer {}", who.token))
        .set("content-type", "application/offset+octet-stream")
        .set("upload-offset", "0")
        .set("content-length", &size.to_string())
        .send(body)?;
    if r.status() != 201 {
        bail!("upload answered {}", r.status());
    }
    Ok(r.into_json()?)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let agent = ureq::AgentBuilder::new().build();
    let who = register(&agent, &args.url, &args.token)?;
    match args.what {
        What::Upload { file, private } => {
            let size = std::fs::metadata(&file)?.len();
            let mut sha = Sha256::new();
            let mut f = std::fs::File::open(&file)?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                sha.update(&buf[..n]);
            }
            let path = open(&agent, &args.url, &who, &sha.finalize(), size, private)?;
            let started = Instant::now();
            let done = patch(
                &agent,
                &args.url,
                &who,
                &path,
                size,
                std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&file)?),
            )?;
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{}",
                json!({
                    "bytes": size,
                    "seconds": secs,
                    "mb_per_s": size as f64 / secs / 1e6,
                    "private": private,
                    "dataset_id": done["dataset_id"],
                    "version": done["version"],
                    "depositor_token": who.token,
                })
            );
        }
        What::Fill {
            count,
            size,
            concurrency,
        } => {
            let next = AtomicU64::new(0);
            let failed = AtomicU64::new(0);
            let started = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..concurrency {
                    s.spawn(|| loop {
                        if next.fetch_add(1, Ordering::Relaxed) >= count {
                            break;
                        }
                        let agent = ureq::AgentBuilder::new().build();
                        let mut body = vec![0u8; size];
                        rand::rngs::OsRng.fill_bytes(&mut body);
                        let one = open(
                            &agent,
                            &args.url,
                            &who,
                            &Sha256::digest(&body),
                            size as u64,
                            false,
                        )
                        .and_then(|path| {
                            patch(&agent, &args.url, &who, &path, size as u64, &body[..])
                        });
                        if let Err(e) = one {
                            eprintln!("an upload failed: {e}");
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                }
            });
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{}",
                json!({"objects": count, "failed": failed.load(Ordering::Relaxed), "size": size, "seconds": secs, "objects_per_s": count as f64 / secs})
            );
        }
    }
    Ok(())
}
