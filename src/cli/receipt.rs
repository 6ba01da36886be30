//! `datapole receipt`: fetch an entry's receipt from the log (`GET /v1/receipts/{index}`,
//! opened for its owner and auditors, who send their token), and show what a receipt file is
//! about (the ids later commands need, without a JSON tool).

use std::path::PathBuf;

use anyhow::{bail, Context};
use base64::prelude::*;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value};

use super::client::{self, Client, ClientArgs};
use crate::receipt::Receipt;
use crate::statement::dsse::Envelope;

/// `datapole receipt` subcommands.
#[derive(Debug, Subcommand)]
pub enum ReceiptCommand {
    /// Fetch an entry's receipt against the log's latest checkpoint, verify it and save it
    /// (or print it). With the participant's token, a private entry it owns (or any, for an
    /// auditor) comes opened: with its statement and salt.
    Fetch(FetchArgs),
    /// Show what a receipt file is about: the entry's fields (type, ids, index ...) and those
    /// of the statement it carries, one `name: value` a line; --field prints one value alone.
    Show(ShowArgs),
}

/// The receipt's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `datapole.receipt.v1` JSON.
    Json,
    /// A c2sp.org/tlog-proof@v1 text.
    TlogProof,
}

/// Flags of `datapole receipt fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The entry's index.
    pub index: u64,
    /// Where to save it (never replaced; mode 0600, since an opened receipt holds a private
    /// statement) [default: print it].
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// The receipt's form.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// The server, and the token that opens a private entry.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Flags of `datapole receipt show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The receipt file: a receipt, or an answer that carries one (a deposit's, a citizen's
    /// receipt, a withdrawal's, an access decision's).
    pub receipt: PathBuf,
    /// Print only this field's value (`dataset_id`, `consent_id`, `access_id`, `index` ...).
    #[arg(long, value_name = "NAME")]
    pub field: Option<String>,
}

/// Runs a `receipt` subcommand.
pub fn run(command: ReceiptCommand) -> anyhow::Result<()> {
    match command {
        ReceiptCommand::Fetch(args) => fetch(args),
        ReceiptCommand::Show(args) => show(args),
    }
}

fn fetch(args: FetchArgs) -> anyhow::Result<()> {
    let settings = client::resolve_from_process(&args.client, None)?;
    if let Some(out) = &args.out {
        if out.exists() {
            bail!(
                "{} exists: move it or choose another --out (a receipt is never replaced)",
                out.display()
            );
        }
    }
    let client = Client::new(&settings);
    let vkey = client.log_vkey(settings.vkey.as_deref())?;
    let target = format!("/v1/receipts/{}", args.index);
    let url = client.url(&target);
    let response = client::answer(&url, client.request("GET", &target).call())?;
    let pending = response.status() == 202;
    let text = response
        .into_string()
        .with_context(|| format!("reading the answer of {url}"))?;
    let value: Value = crate::json::value(text.as_bytes())
        .map_err(|e| anyhow::anyhow!("the answer of {url} is not JSON: {e}"))?;
    let quiet = args.out.is_none();
    let receipt = client::check_receipt(&value, &vkey, quiet)?;
    let body = match args.format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&value)?),
        Format::TlogProof => receipt.to_tlog_proof(),
    };
    match &args.out {
        None => print!("{body}"),
        Some(out) => {
            super::write_secret(out, &body, false)
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "receipt of entry {} (tree size {}) saved to {}",
                receipt.index,
                receipt.inclusion.tree_size,
                out.display()
            );
        }
    }
    if pending {
        eprintln!("the log's witnesses have not cosigned this entry yet: fetch it again later for the witnessed receipt");
    }
    Ok(())
}

/// The scalar fields of `object`, and its lists of texts, into `out` (the first of a name
/// wins).
fn scalars(object: &Map<String, Value>, out: &mut Vec<(String, String)>) {
    for (name, value) in object {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => value.to_string(),
            // Lists of ids (a consent's datasets, an access's consent_ids): comma-separated.
            Value::Array(items) if items.iter().all(Value::is_string) && !items.is_empty() => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            _ => continue,
        };
        if !out.iter().any(|(n, _)| n == name) {
            out.push((name.clone(), text));
        }
    }
}

/// A base64 JSON object's fields.
fn decoded_object(b64: &str) -> Option<Map<String, Value>> {
    let bytes = BASE64_STANDARD.decode(b64).ok()?;
    match crate::json::value(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// What a receipt document is about: its own fields, the entry's, then the statement's.
pub fn fields(document: &Value) -> anyhow::Result<Vec<(String, String)>> {
    let (receipt_value, wrapper) = match document.get("receipt") {
        Some(r) if document.get("format").is_none() => (r, document.as_object()),
        _ => (document, None),
    };
    let receipt: Receipt = serde_json::from_value(receipt_value.clone())
        .context("not a datapole.receipt.v1 receipt, nor an answer that carries one")?;
    let mut out = Vec::new();
    if let Some(w) = wrapper {
        scalars(w, &mut out);
    }
    out.push(("index".into(), receipt.index.to_string()));
    let leaf = decoded_object(&receipt.leaf).context("the receipt's leaf is not a JSON entry")?;
    scalars(&leaf, &mut out);
    // A public entry carries its statement; a private one's is in the receipt, if opened.
    let statement: Option<Envelope> = leaf
        .get("statement")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
        .or_else(|| receipt.statement.clone());
    let payload = statement
        .as_ref()
        .and_then(|s| s.check().ok())
        .map(|(p, _)| p);
    if let Some(Ok(Value::Object(payload))) = payload.map(|p| crate::json::value(&p)) {
        scalars(&payload, &mut out);
    }
    Ok(out)
}

fn show(args: ShowArgs) -> anyhow::Result<()> {
    let text = std::fs::read(&args.receipt)
        .with_context(|| format!("reading {}", args.receipt.display()))?;
    let value = crate::json::value(&text)
        .map_err(|e| anyhow::anyhow!("{}: not JSON: {e}", args.receipt.display()))?;
    let fields = fields(&value).with_context(|| args.receipt.display().to_string())?;
    match &args.field {
        Some(name) => match fields.iter().find(|(n, _)| n == name) {
            Some((_, v)) => println!("{v}"),
            None => bail!(
                "{} has no field {name}; it has: {}",
                args.receipt.display(),
                fields
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        None => {
            // The citizen's secret is printed only when asked for by name.
            for (n, v) in fields.iter().filter(|(n, _)| n != "citizen_secret") {
                println!("{n}: {v}");
            }
        }
    }
    Ok(())
}
