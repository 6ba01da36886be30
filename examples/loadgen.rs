//! A small load generator for `datapole serve`: registers participants (the log's only writer
//! so far) from C concurrent keep-alive connections and reports throughput and latency.
//! Every acknowledged checkpoint is verified against the log key.
//!
//! ```text
//! cargo run --release -- serve --data-dir /tmp/dp-bench &
//! cargo run --release --example loadgen -- --url http://127.0.0.1:8080 \
//!     --token "$(cat /tmp/dp-bench/admin-token)" --count 20000 --concurrency 64
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::prelude::*;
use clap::Parser;
use rand::RngCore;

/// Drives registrations against a running datapole.
#[derive(Parser)]
struct Args {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The admin token.
    #[arg(long, env = "DATAPOLE_ADMIN_TOKEN")]
    token: String,
    /// Registrations to send.
    #[arg(long, default_value_t = 10_000)]
    count: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    concurrency: u64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let agent = ureq::AgentBuilder::new().build();
    let info: serde_json::Value = agent
        .get(&format!("{}/v1/log", args.url))
        .call()?
        .into_json()?;
    let vkey = info["vkey"].as_str().unwrap_or_default().to_owned();
    let start_size = info["size"].as_u64().unwrap_or(0);

    // Pre-compute distinct keys and bodies before timing starts.
    let mut run = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut run);
    let bodies: Vec<String> = (0..args.count)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&run);
            seed[8..16].copy_from_slice(&i.to_le_bytes());
            let key = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
            serde_json::json!({
                "name": format!("Load {i}"),
                "roles": ["depositor"],
                "public_key": BASE64_STANDARD.encode(key.as_bytes()),
            })
            .to_string()
        })
        .collect();

    let next = AtomicU64::new(0);
    let latencies = Mutex::new(Vec::with_capacity(args.count as usize));
    let errors: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
    let checkpoints = Mutex::new(BTreeMap::new());
    let auth = format!("Bearer {}", args.token);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..args.concurrency {
            s.spawn(|| {
                let agent = ureq::AgentBuilder::new().build();
                let url = format!("{}/v1/participants", args.url);
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= args.count {
                        break;
                    }
                    let t = Instant::now();
                    let r = agent
                        .post(&url)
                        .set("authorization", &auth)
                        .set("content-type", "application/json")
                        .send_string(&bodies[i as usize]);
                    match r {
                        Ok(resp) => {
                            mine.push(t.elapsed());
                            let v: serde_json::Value = resp.into_json().unwrap_or_default();
                            if let Some(note) = v["checkpoint"].as_str() {
                                checkpoints
                                    .lock()
                                    .unwrap()
                                    .entry(note.to_owned())
                                    .or_insert(());
                            }
                        }
                        Err(ureq::Error::Status(code, resp)) => {
                            let v: serde_json::Value = resp.into_json().unwrap_or_default();
                            let key =
                                format!("{code} {}", v["error"]["code"].as_str().unwrap_or("?"));
                            *errors.lock().unwrap().entry(key).or_default() += 1;
                        }
                        Err(e) => {
                            *errors
                                .lock()
                                .unwrap()
                                .entry(format!("transport: {e}"))
                                .or_default() += 1;
                        }
                    }
                }
                latencies.lock().unwrap().extend(mine);
            });
        }
    });
    let elapsed = started.elapsed();
    let mut lat = latencies.into_inner().unwrap();
    lat.sort_unstable();
    let ok = lat.len() as u64;
    let checkpoints = checkpoints.into_inner().unwrap();
    let mut bad = 0;
    let mut max_size = start_size;
    for note in checkpoints.keys() {
        match datapole::verify::verify_checkpoint(note, &vkey) {
            Ok(cp) => max_size = max_size.max(cp.size),
            Err(_) => bad += 1,
        }
    }
    println!(
        "registrations: {ok} acknowledged of {} in {:.2} s",
        args.count,
        elapsed.as_secs_f64()
    );
    println!(
        "throughput:    {:.0} appends/s",
        ok as f64 / elapsed.as_secs_f64()
    );
    println!(
        "latency:       p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&lat, 50.0).as_secs_f64() * 1e3,
        percentile(&lat, 90.0).as_secs_f64() * 1e3,
        percentile(&lat, 99.0).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "checkpoints:   {} distinct (mean batch {:.1} entries), {bad} failed verification, log size {max_size}",
        checkpoints.len(),
        ok as f64 / checkpoints.len().max(1) as f64
    );
    for (code, n) in errors.into_inner().unwrap() {
        println!("errors:        {n} × {code}");
    }
    anyhow::ensure!(bad == 0, "some checkpoints did not verify");
    Ok(())
}
