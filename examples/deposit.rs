//! Deposit a file with a running datapole, the way a company's script would, printing each
//! step: generate a key, have the operator register it as a depositor, hash the file, sign the
//! deposit statement (DSSE), submit it, and verify the receipt offline.
//!
//! ```text
//! cargo run --release -- serve &
//! cargo run --release --example deposit -- --admin-token-file datapole-data/admin-token \
//!     --file README.md [--private] [--title "..."] [--out receipt.json]
//! ```

use std::path::PathBuf;

use anyhow::{bail, Context};
use base64::prelude::*;
use clap::Parser;
use datapole::receipt::Receipt;
use datapole::statement::deposit::DEPOSIT_TYPE;
use datapole::statement::dsse::Envelope;
use datapole::verify::receipt::verify_receipt;
use ed25519_dalek::SigningKey;
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Deposits a file and verifies its receipt.
#[derive(Parser)]
struct Args {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// File holding the operator's admin token (to register the depositor).
    #[arg(long, default_value = "datapole-data/admin-token")]
    admin_token_file: PathBuf,
    /// The file to deposit.
    #[arg(long)]
    file: PathBuf,
    /// Deposit privately: only a commitment goes on the public log.
    #[arg(long)]
    private: bool,
    /// The dataset's title (default: the file name).
    #[arg(long)]
    title: Option<String>,
    /// Where to save the receipt.
    #[arg(long, default_value = "receipt.json")]
    out: PathBuf,
}

fn call(r: Result<ureq::Response, ureq::Error>) -> anyhow::Result<(u16, Value)> {
    match r {
        Ok(resp) => Ok((resp.status(), resp.into_json()?)),
        Err(ureq::Error::Status(code, resp)) => {
            let body: Value = resp.into_json().unwrap_or_default();
            bail!("HTTP {code}: {}", body["error"]);
        }
        Err(e) => Err(e.into()),
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let admin = std::fs::read_to_string(&args.admin_token_file)
        .with_context(|| format!("reading {}", args.admin_token_file.display()))?;

    println!("1. Generate the depositor's Ed25519 key");
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let public = BASE64_STANDARD.encode(key.verifying_key().as_bytes());
    println!("   public key {public}");

    println!("2. The operator registers it as a depositor");
    let (_, registered) = call(
        ureq::post(&format!("{}/v1/participants", args.url))
            .set("authorization", &format!("Bearer {}", admin.trim()))
            .send_json(
                json!({"name": "Example depositor", "roles": ["depositor"], "public_key": public}),
            ),
    )?;
    let participant = registered["participant_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    println!(
        "   participant {participant}, registration entry {}",
        registered["index"]
    );

    println!("3. Hash the file");
    let content =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let sha256 = datapole::field::hex(&Sha256::digest(&content));
    println!("   {} bytes, sha256 {sha256}", content.len());

    println!("4. Sign the deposit statement (DSSE, {DEPOSIT_TYPE})");
    let mut nonce = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let title = args.title.clone().unwrap_or_else(|| {
        args.file
            .file_name()
            .map_or("dataset".into(), |n| n.to_string_lossy().into_owned())
    });
    let payload = json!({
        "sha256": sha256,
        "size": content.len(),
        "media_type": "application/octet-stream",
        "title": title,
        "visibility": if args.private { "private" } else { "public" },
        "issued_at": chrono::Utc::now().to_rfc3339(),
        "nonce": BASE64_URL_SAFE_NO_PAD.encode(nonce),
    });
    let envelope = Envelope::sign(
        DEPOSIT_TYPE,
        payload.to_string().as_bytes(),
        &participant,
        &key,
    );
    println!("   signature {}", envelope.signatures[0].sig);

    println!("5. Submit it");
    let (status, accepted) = call(
        ureq::post(&format!("{}/v1/deposits", args.url))
            .set("content-type", "application/json")
            .send_bytes(&envelope.to_bytes().unwrap()),
    )?;
    println!(
        "   {status}: dataset {}, version {}, entry {}{}",
        accepted["dataset_id"].as_str().unwrap_or_default(),
        accepted["version"],
        accepted["index"],
        if accepted["duplicate"] == true {
            " (already deposited)"
        } else {
            ""
        }
    );
    let receipt: Receipt = serde_json::from_value(accepted["receipt"].clone())?;
    std::fs::write(&args.out, serde_json::to_string_pretty(&receipt)?)?;
    println!("   receipt saved to {}", args.out.display());

    println!("6. Verify the receipt offline, with the log key");
    // A real auditor pins the log's key once, out of band; here it is read from the log.
    let (_, log) = call(ureq::get(&format!("{}/v1/log", args.url)).call())?;
    let vkey = log["vkey"].as_str().unwrap_or_default();
    println!("   log key {vkey}");
    let report = verify_receipt(&receipt, Some(vkey));
    for check in &report.checks {
        println!(
            "   {} {}: {}",
            if check.ok { "✓" } else { "✗" },
            check.name,
            check.detail
        );
    }
    if !report.ok() {
        bail!("the receipt does not verify");
    }
    println!("   the receipt is valid");
    Ok(())
}
