//! The load generator for `datapole serve`: deposits, the log's main write.
//!
//! It registers K depositors, pre-signs N deposit statements before timing starts, then drives
//! the server from C concurrent keep-alive connections, as fast as it answers or at a fixed
//! offered rate (open loop: latency counts from when each request was due, so a slow server
//! is not hidden by a client that waits for it), for a duration. It reports throughput,
//! latency percentiles and errors by code, then verifies every receipt it was given, offline,
//! with the pinned log key. It also measures this machine's single-core Ed25519 verification
//! rate in the same run and prints throughput as a ratio to it, so that figures compare
//! across machines.
//!
//! ```text
//! cargo run --release -- serve --data-dir /tmp/dp-bench &
//! cargo run --release --example loadgen -- --url http://127.0.0.1:8080 \
//!     --token "$(cat /tmp/dp-bench/admin-token)" --duration 60 --concurrency 64 [--rate 5000]
//! ```

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::prelude::*;
use clap::Parser;
use datapole::receipt::Receipt;
use datapole::statement::deposit::DEPOSIT_TYPE;
use datapole::statement::dsse::Envelope;
use datapole::verify::receipt::verify_receipt;
use ed25519_dalek::{Signer, SigningKey};
use rand::RngCore;
use serde_json::{json, Value};

/// Drives deposits against a running datapole.
#[derive(Parser)]
struct Args {
    /// Base URL of the server (http only: the generator speaks plain HTTP/1.1).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The admin token (to register the depositors).
    #[arg(long, env = "DATAPOLE_ADMIN_TOKEN")]
    token: String,
    /// Depositors to register and sign with.
    #[arg(long, default_value_t = 16)]
    participants: u64,
    /// Statements to pre-sign; the run stops when they are all sent (default: enough for the
    /// duration at the offered rate, or 20,000 per second of duration when unlimited).
    #[arg(long)]
    count: Option<u64>,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Offered load in deposits per second (0: as fast as the server answers).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// How long to drive the server, in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Deposit visibility: `public` (the statement is in the leaf) or `private`.
    #[arg(long, default_value = "public")]
    visibility: String,
    /// Drive reads instead of deposits: `inclusion` (inclusion proofs of random entries of
    /// the current tree) or `tiles` (random full level-0 hash tiles). Nothing is registered
    /// or signed; answers are counted, not verified.
    #[arg(long, value_parser = ["inclusion", "tiles"])]
    read: Option<String>,
    /// Skip verifying the receipts afterwards.
    #[arg(long)]
    no_verify: bool,
    /// The log's signed-note verifier key, pinned (default: read from the server under test).
    #[arg(long)]
    vkey: Option<String>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

/// A plain HTTP/1.1 keep-alive connection: the generator must cost the server's machine as
/// little as possible, so requests are pre-encoded bytes and answers are read by hand.
struct Conn {
    addr: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    fn new(addr: &str) -> Self {
        Self {
            addr: addr.to_owned(),
            stream: None,
            buf: Vec::with_capacity(16 * 1024),
        }
    }

    /// Sends `request` (a whole HTTP/1.1 request) and reads the answer: status and body.
    fn call(&mut self, request: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        if self.stream.is_none() {
            let s = TcpStream::connect(&self.addr)?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
        }
        let result = self.exchange(request);
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    fn exchange(&mut self, request: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
        let stream = self.stream.as_mut().ok_or_else(|| bad("not connected"))?;
        stream.write_all(request)?;
        self.buf.clear();
        let mut chunk = [0u8; 16 * 1024];
        let head_end = loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Err(bad("connection closed"));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(|_| bad("head"))?;
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("status line"))?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())
                    .flatten()
            })
            .ok_or_else(|| bad("no content-length"))?;
        while self.buf.len() < head_end + length {
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Err(bad("connection closed mid-body"));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok((status, self.buf[head_end..head_end + length].to_vec()))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Single-core Ed25519 verifications per second on this machine, measured for ~1 s.
fn ed25519_rate() -> f64 {
    let key = SigningKey::from_bytes(&[3; 32]);
    let vk = key.verifying_key();
    let msg = [0x5au8; 300];
    let sig = key.sign(&msg);
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(1) {
        for _ in 0..100 {
            let _ = std::hint::black_box(vk.verify_strict(std::hint::black_box(&msg), &sig));
        }
        n += 100;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Drives GET requests (pre-built) from C connections at the offered rate or unlimited.
/// Returns (latencies of 200 answers, errors by code, elapsed).
fn drive(
    args: &Args,
    addr: &str,
    requests: &[Vec<u8>],
    ok_status: u16,
    keep_bodies: bool,
) -> (Vec<Duration>, BTreeMap<String, u64>, Vec<Vec<u8>>, Duration) {
    let next = AtomicUsize::new(0);
    let latencies = Mutex::new(Vec::with_capacity(requests.len()));
    let errors: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
    let bodies_out: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let deadline = Duration::from_secs_f64(args.duration);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..args.concurrency.max(1) {
            s.spawn(|| {
                let mut conn = Conn::new(addr);
                let mut mine = Vec::new();
                let mut bodies = Vec::new();
                let mut errs: BTreeMap<String, u64> = BTreeMap::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= requests.len() {
                        break;
                    }
                    // Open loop: request i is due at i / rate; latency counts from then.
                    let due = if args.rate > 0.0 {
                        Duration::from_secs_f64(i as f64 / args.rate)
                    } else {
                        started.elapsed()
                    };
                    if due >= deadline {
                        break;
                    }
                    let now = started.elapsed();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    match conn.call(&requests[i]) {
                        Ok((status, body)) if status == ok_status => {
                            mine.push(started.elapsed().saturating_sub(due));
                            if keep_bodies {
                                bodies.push(body);
                            }
                        }
                        Ok((status, body)) => {
                            let v: Value = serde_json::from_slice(&body).unwrap_or_default();
                            let code = v["error"]["code"].as_str().unwrap_or("?").to_owned();
                            *errs.entry(format!("{status} {code}")).or_default() += 1;
                        }
                        Err(e) => {
                            *errs.entry(format!("transport: {}", e.kind())).or_default() += 1;
                        }
                    }
                }
                latencies
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(mine);
                bodies_out
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(bodies);
                let mut all = errors.lock().unwrap_or_else(|p| p.into_inner());
                for (k, n) in errs {
                    *all.entry(k).or_default() += n;
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let mut lat = latencies.into_inner().unwrap_or_default();
    lat.sort_unstable();
    (
        lat,
        errors.into_inner().unwrap_or_default(),
        bodies_out.into_inner().unwrap_or_default(),
        elapsed,
    )
}

fn report_latency(lat: &[Duration]) {
    println!(
        "latency:       p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(lat, 50.0)),
        ms(percentile(lat, 90.0)),
        ms(percentile(lat, 99.0)),
        ms(lat.last().copied().unwrap_or_default())
    );
}

/// The read benchmark: inclusion proofs or hash tiles of the log as it is.
fn reads(args: &Args, addr: &str, mode: &str, size: u64, ed_rate: f64) -> anyhow::Result<()> {
    anyhow::ensure!(size >= 256, "the log has {size} entries: prefill it first");
    let count = args.count.unwrap_or_else(|| {
        let per_second = if args.rate > 0.0 {
            args.rate
        } else {
            100_000.0
        };
        (per_second * args.duration).ceil() as u64
    });
    let mut rng = [0u8; 8];
    let requests: Vec<Vec<u8>> = (0..count)
        .map(|_| {
            rand::rngs::OsRng.fill_bytes(&mut rng);
            let r = u64::from_le_bytes(rng);
            let path = match mode {
                "inclusion" => format!("/v1/proofs/inclusion?index={}", r % size),
                _ => format!(
                    "/{}",
                    datapole::log::tiles::TilePath::full(
                        datapole::log::tiles::TileKind::Hash(0),
                        r % (size / 256)
                    )
                    .path()
                ),
            };
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes()
        })
        .collect();
    let (lat, errors, _, elapsed) = drive(args, addr, &requests, 200, false);
    let throughput = lat.len() as f64 / elapsed.as_secs_f64();
    println!(
        "reads:         {} {mode} answered 200 of a {size}-entry log in {:.2} s ({} connections)",
        lat.len(),
        elapsed.as_secs_f64(),
        args.concurrency
    );
    println!(
        "throughput:    {throughput:.0} reads/s = {:.3} × one core's Ed25519 verification rate",
        throughput / ed_rate
    );
    report_latency(&lat);
    for (code, n) in &errors {
        println!("errors:        {n} × {code}");
    }
    if let Some(path) = &args.json {
        let out = json!({
            "mode": mode,
            "log_size": size,
            "offered_rate": args.rate,
            "concurrency": args.concurrency,
            "duration_s": elapsed.as_secs_f64(),
            "answered": lat.len(),
            "throughput": throughput,
            "ed25519_single_core": ed_rate,
            "ratio_to_ed25519": throughput / ed_rate,
            "p50_ms": ms(percentile(&lat, 50.0)),
            "p90_ms": ms(percentile(&lat, 90.0)),
            "p99_ms": ms(percentile(&lat, 99.0)),
            "max_ms": ms(lat.last().copied().unwrap_or_default()),
            "errors": errors,
        });
        std::fs::write(path, serde_json::to_vec_pretty(&out)?)?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let addr = args
        .url
        .strip_prefix("http://")
        .context("--url must be http://host:port")?
        .trim_end_matches('/')
        .to_owned();
    let agent = ureq::AgentBuilder::new().build();
    let info: Value = agent
        .get(&format!("{}/v1/log", args.url))
        .call()?
        .into_json()?;
    let vkey = match &args.vkey {
        Some(v) => v.clone(),
        None => info["vkey"]
            .as_str()
            .context("the server named no vkey; pass --vkey")?
            .to_owned(),
    };

    println!("measuring single-core Ed25519 verification ...");
    let ed_rate = ed25519_rate();
    println!("ed25519:       {ed_rate:.0} verifications/s on one core");

    if let Some(mode) = &args.read {
        return reads(
            &args,
            &addr,
            mode,
            info["size"].as_u64().unwrap_or(0),
            ed_rate,
        );
    }

    // Depositors.
    let mut run = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut run);
    let mut depositors = Vec::new();
    for i in 0..args.participants.max(1) {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&run);
        seed[8..16].copy_from_slice(&i.to_le_bytes());
        let key = SigningKey::from_bytes(&seed);
        let r: Value = agent
            .post(&format!("{}/v1/participants", args.url))
            .set("authorization", &format!("Bearer {}", args.token))
            .send_json(json!({
                "name": format!("Load depositor {i}"),
                "roles": ["depositor"],
                "public_key": BASE64_STANDARD.encode(key.verifying_key().as_bytes()),
            }))
            .context("registering a depositor")?
            .into_json()?;
        let id = r["participant_id"].as_str().unwrap_or_default().to_owned();
        depositors.push((id, key));
    }

    // Pre-signed requests, on every core, before timing starts.
    let count = args.count.unwrap_or_else(|| {
        let per_second = if args.rate > 0.0 { args.rate } else { 20_000.0 };
        (per_second * args.duration).ceil() as u64
    });
    println!(
        "pre-signing {count} deposit statements ({} depositors) ...",
        depositors.len()
    );
    let signed_at = Instant::now();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = AtomicU64::new(0);
    let requests: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            break;
                        }
                        let (id, key) = &depositors[(i % depositors.len() as u64) as usize];
                        let mut digest = [0u8; 32];
                        rand::rngs::OsRng.fill_bytes(&mut digest);
                        let mut nonce = [0u8; 16];
                        rand::rngs::OsRng.fill_bytes(&mut nonce);
                        let payload = json!({
                            "sha256": datapole::field::hex(&digest),
                            "size": 1_000_000 + i,
                            "media_type": "text/csv",
                            "title": format!("Load dataset {i}"),
                            "visibility": args.visibility,
                            "issued_at": chrono::Utc::now().to_rfc3339(),
                            "nonce": BASE64_URL_SAFE_NO_PAD.encode(nonce),
                        });
                        let body =
                            Envelope::sign(DEPOSIT_TYPE, payload.to_string().as_bytes(), id, key)
                                .to_bytes().unwrap();
                        let mut req = format!(
                            "POST /v1/deposits HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        req.extend_from_slice(&body);
                        out.push((i, req));
                    }
                    out
                })
            })
            .collect();
        let mut all: Vec<(u64, Vec<u8>)> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect();
        all.sort_unstable_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, r)| r).collect()
    });
    println!(
        "pre-signed in {:.1} s; statements stay fresh for 5 minutes",
        signed_at.elapsed().as_secs_f64()
    );

    // The run.
    let (lat, errors, receipts, elapsed) = drive(&args, &addr, &requests, 201, true);
    let ok = lat.len();
    let failed: u64 = errors.values().sum();
    let throughput = ok as f64 / elapsed.as_secs_f64();
    println!(
        "deposits:      {ok} acknowledged, {failed} failed, in {:.2} s ({} connections, offered {})",
        elapsed.as_secs_f64(),
        args.concurrency,
        if args.rate > 0.0 {
            format!("{:.0}/s", args.rate)
        } else {
            "as fast as answered".into()
        }
    );
    println!(
        "throughput:    {throughput:.0} deposits/s = {:.3} × one core's Ed25519 verification rate",
        throughput / ed_rate
    );
    report_latency(&lat);
    for (code, n) in &errors {
        println!("errors:        {n} × {code}");
    }

    // Every receipt, offline, with the pinned key, on every core.
    let mut checkpoints = std::collections::HashSet::new();
    let mut verified = 0usize;
    let mut invalid = 0usize;
    if !args.no_verify {
        let verify_started = Instant::now();
        let next = AtomicUsize::new(0);
        let results: Vec<(usize, usize, Vec<String>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let (mut good, mut bad, mut notes) = (0, 0, Vec::new());
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= receipts.len() {
                                break;
                            }
                            let v: Value = serde_json::from_slice(&receipts[i]).unwrap_or_default();
                            match serde_json::from_value::<Receipt>(v["receipt"].clone()) {
                                Ok(r) if verify_receipt(&r, Some(&vkey)).ok() => {
                                    good += 1;
                                    notes.push(r.checkpoint);
                                }
                                _ => bad += 1,
                            }
                        }
                        (good, bad, notes)
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        for (good, bad, notes) in results {
            verified += good;
            invalid += bad;
            checkpoints.extend(notes);
        }
        println!(
            "receipts:      {verified} verified offline, {invalid} invalid, in {:.1} s; {} checkpoints (mean batch {:.1})",
            verify_started.elapsed().as_secs_f64(),
            checkpoints.len(),
            verified as f64 / checkpoints.len().max(1) as f64
        );
    }
    if let Some(path) = &args.json {
        let out = json!({
            "offered_rate": args.rate,
            "concurrency": args.concurrency,
            "duration_s": elapsed.as_secs_f64(),
            "acknowledged": ok,
            "failed": failed,
            "throughput": throughput,
            "ed25519_single_core": ed_rate,
            "ratio_to_ed25519": throughput / ed_rate,
            "p50_ms": ms(percentile(&lat, 50.0)),
            "p90_ms": ms(percentile(&lat, 90.0)),
            "p99_ms": ms(percentile(&lat, 99.0)),
            "max_ms": ms(lat.last().copied().unwrap_or_default()),
            "errors": errors,
            "receipts_verified": verified,
            "receipts_invalid": invalid,
            "checkpoints": checkpoints.len(),
        });
        std::fs::write(path, serde_json::to_vec_pretty(&out)?)?;
    }
    if invalid > 0 {
        bail!("{invalid} receipts did not verify");
    }
    Ok(())
}
