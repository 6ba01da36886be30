//! `datapole deposit`: deposits a file with a server. The file is hashed (SHA-256, streamed),
//! described in a deposit statement signed as a DSSE envelope
//! (`application/vnd.datapole.deposit.v1+json`, [`crate::statement::dsse`]), and sent with a
//! resumable upload in the manner of tus 1.0 (`POST /v1/uploads`, then `HEAD` for the offset and
//! `PATCH` with `Upload-Offset`); the receipt the last `PATCH` answers is verified offline
//! ([`crate::verify::receipt`]) and saved.
//!
//! An interrupted upload is resumed by running the same command again: the upload's URL is kept
//! in `<FILE>.upload.json` until the upload completes.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::client::{self, ApiError, Client, ClientArgs, SignerArgs};
use crate::entry::Entry;
use crate::statement::deposit::{Deposit, DepositPayload, Visibility, DEPOSIT_TYPE};
use crate::statement::dsse::Envelope;
use crate::verify::receipt::{verify_document, verify_receipt, Check, Report};

/// Flags of `datapole deposit`.
#[derive(Debug, Args)]
#[command(after_long_help = "\
The participant (a registered depositor: see `datapole participant register --help`) is named \
by --participant-file (the file its registration wrote: its id and token; or --participant and \
--token) and signs with --key; the server is --server. Each of these can also come from an \
environment variable or the client configuration file, for example \
~/.config/datapole/client.toml:

  server = \"https://datapole.example.org\"
  participant_file = \"depositor.json\"
  key = \"depositor.pem\"

examples/payloads/deposit.json is a deposit payload to describe the file with (--payload): \
title, description, licence, visibility, retention, metadata.

If the upload is interrupted, run the same command again: it continues where the server's \
offset stands (the upload's URL is kept in <FILE>.upload.json until it completes). A network \
error during the upload is retried from the server's offset, waiting 1, 2, 4 ... seconds, and \
given up after 5 attempts in a row that make no progress.")]
pub struct DepositArgs {
    /// The file to deposit.
    pub file: PathBuf,
    /// Who signs the deposit statement.
    #[command(flatten)]
    pub signer: SignerArgs,
    /// A deposit payload to describe the file with (for example
    /// examples/payloads/deposit.json): its title, description, licence, visibility,
    /// retention, controller, metadata ... `sha256` and `size` are the file's (when the payload
    /// has them, they must be the file's), `issued_at` and `nonce` are filled in when absent,
    /// and the flags below, when given, replace the payload's fields.
    #[arg(long, value_name = "PAYLOAD.json")]
    pub payload: Option<PathBuf>,
    /// Sets a field of the --payload (as `datapole consent record --set`).
    #[arg(long = "set", value_name = "FIELD=VALUE", requires = "payload")]
    pub set: Vec<String>,
    /// Deposit privately: only a salted commitment to the statement goes on the public log;
    /// the statement and its opening are in the receipt.
    #[arg(long)]
    pub private: bool,
    /// The dataset's title [default: the file's name].
    #[arg(long)]
    pub title: Option<String>,
    /// The media type [default: from the extension: csv, json, parquet, txt; else
    /// application/octet-stream].
    #[arg(long, value_name = "TYPE")]
    pub media_type: Option<String>,
    /// How long to keep it: an ISO 8601 duration (`P10Y`) or a date (`2036-12-31`).
    #[arg(long, value_name = "PERIOD")]
    pub retention: Option<String>,
    /// Deposit a new version of this dataset (one the participant deposited).
    #[arg(long, value_name = "ID")]
    pub dataset: Option<Uuid>,
    /// The licence: an SPDX identifier or a URL.
    #[arg(long)]
    pub license: Option<String>,
    /// A description.
    #[arg(long)]
    pub description: Option<String>,
    /// Where to save the receipt; an existing file is never replaced [default:
    /// `<FILE>.receipt.json`].
    #[arg(long, value_name = "PATH")]
    pub receipt_out: Option<PathBuf>,
    /// No progress bars (they are also hidden when stdout is not a terminal) and no checks
    /// listed: only the result.
    #[arg(long, short)]
    pub quiet: bool,
    /// The server and the participant's token.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// What describes the deposit beyond the file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DepositOptions {
    /// The title (default: the file's name).
    pub title: Option<String>,
    /// The media type (default: guessed from the extension).
    pub media_type: Option<String>,
    /// A private deposit.
    pub private: bool,
    /// The retention.
    pub retention: Option<String>,
    /// The dataset to add a version to.
    pub dataset: Option<Uuid>,
    /// The licence.
    pub license: Option<String>,
    /// The description.
    pub description: Option<String>,
}

/// The media type of a file name's extension (case ignored).
pub fn guess_media_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv") => "text/csv",
        Some("json") => "application/json",
        Some("parquet") => "application/vnd.apache.parquet",
        Some("txt") => "text/plain",
        _ => "application/octet-stream",
    }
}

/// SHA-256 and size of a file, read in 1 MiB blocks (constant memory), counted on `bar`.
pub fn hash_file(path: &Path, bar: &indicatif::ProgressBar) -> std::io::Result<([u8; 32], u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
        bar.inc(n as u64);
    }
    Ok((hasher.finalize().into(), size))
}

pub use super::payload::nonce;

/// The deposit payload of content (`sha256`, `size`) from the file `name`, issued at `now`.
pub fn build_payload(
    name: &str,
    sha256: &[u8; 32],
    size: u64,
    options: &DepositOptions,
    now: DateTime<Utc>,
    nonce: String,
) -> DepositPayload {
    DepositPayload {
        sha256: crate::field::hex(sha256),
        size,
        media_type: options
            .media_type
            .clone()
            .unwrap_or_else(|| guess_media_type(Path::new(name)).to_owned()),
        title: options.title.clone().unwrap_or_else(|| name.to_owned()),
        description: options.description.clone(),
        license: options.license.clone(),
        visibility: if options.private {
            Visibility::Private
        } else {
            Visibility::Public
        },
        retention: options.retention.clone(),
        dataset_id: options.dataset,
        controller: None,
        metadata: None,
        issued_at: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        nonce,
    }
}

/// The deposit payload of a file's content (`name`, `sha256` in hex, `size`) from a payload
/// file's fields: the content's digest and size (a payload that names others is refused), the
/// flags' options where given, the file's name as title and its extension's media type where
/// the payload has none, `issued_at` (`now`) and `nonce` where absent.
pub fn payload_from_template(
    mut template: serde_json::Map<String, Value>,
    (name, sha256, size): (&str, &str, u64),
    options: &DepositOptions,
    now: DateTime<Utc>,
    nonce: String,
) -> anyhow::Result<DepositPayload> {
    for (field, value) in [("sha256", Value::from(sha256)), ("size", Value::from(size))] {
        match template.get(field) {
            Some(named) if *named != value => {
                bail!("its {field} is {named}, the file's is {value}: remove it, or deposit the file it describes")
            }
            _ => {
                template.insert(field.to_owned(), value);
            }
        }
    }
    let mut set = |field: &str, value: Option<Value>| {
        if let Some(v) = value {
            template.insert(field.to_owned(), v);
        }
    };
    set("title", options.title.clone().map(Value::from));
    set("media_type", options.media_type.clone().map(Value::from));
    set("retention", options.retention.clone().map(Value::from));
    set(
        "dataset_id",
        options.dataset.map(|d| Value::from(d.to_string())),
    );
    set("license", options.license.clone().map(Value::from));
    set("description", options.description.clone().map(Value::from));
    set(
        "visibility",
        options.private.then(|| Value::from("private")),
    );
    template.entry("title").or_insert_with(|| Value::from(name));
    template
        .entry("visibility")
        .or_insert_with(|| Value::from("public"));
    template
        .entry("media_type")
        .or_insert_with(|| Value::from(guess_media_type(Path::new(name))));
    super::payload::fill_fresh(&mut template, now, nonce);
    serde_json::from_value(Value::Object(template)).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The upload in progress, kept in `<FILE>.upload.json` so that running the command again
/// resumes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadState {
    /// The upload's absolute URL.
    pub upload_url: String,
    /// The file's size when the upload began.
    pub size: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
}

impl UploadState {
    /// Reads the state file; `None` when there is none.
    pub fn load(path: &Path) -> anyhow::Result<Option<Self>> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{} is not an upload's state (delete it to start the upload again)",
                    path.display()
                )
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
        }
    }

    /// Writes the state file (mode 0600, replacing it).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        super::write_secret(path, &format!("{text}\n"), true)
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// The answer that completes an upload (201, or 202 while the witnesses have not cosigned).
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Completion {
    dataset_id: Uuid,
    version: u64,
    index: u64,
    #[serde(default)]
    duplicate: bool,
    receipt: Value,
    #[serde(default)]
    object: Option<Value>,
}

/// The answer of `POST /v1/uploads`.
#[derive(Debug, Clone, Deserialize)]
struct Created {
    upload_id: Uuid,
    offset: u64,
    size: u64,
}

/// What a `PATCH` came to.
enum Patched {
    /// The server has this many bytes and waits for more.
    Partial(u64),
    /// The upload completed: the status and the answer.
    Done(u16, Value),
}

/// The server's offset of an upload (`HEAD`). A 404 is `upload_not_found`: an answer to
/// `HEAD` has no body to carry the code.
fn head(client: &Client, url: &str) -> Result<u64, ApiError> {
    match client::answer(url, client.request("HEAD", url).call()) {
        Ok(response) => upload_offset(url, &response),
        Err(ApiError::Status { status: 404, .. }) => Err(ApiError::Server {
            status: 404,
            code: "upload_not_found".into(),
            message: format!("no upload at {url}"),
            errors: Vec::new(),
        }),
        Err(e) => Err(e),
    }
}

fn upload_offset(url: &str, response: &ureq::Response) -> Result<u64, ApiError> {
    response
        .header("Upload-Offset")
        .and_then(|o| o.trim().parse().ok())
        .ok_or_else(|| ApiError::Unexpected {
            url: url.to_owned(),
            reason: "no Upload-Offset header".into(),
        })
}

/// Sends the file's bytes from `offset` to its end (`remaining` bytes of `body`) in one
/// streamed `PATCH`.
fn patch(
    client: &Client,
    url: &str,
    body: impl Read,
    offset: u64,
    remaining: u64,
) -> Result<Patched, ApiError> {
    let response = client::answer(
        url,
        client
            .request("PATCH", url)
            .set("Content-Type", "application/offset+octet-stream")
            .set("Upload-Offset", &offset.to_string())
            .set("Content-Length", &remaining.to_string())
            .send(body),
    )?;
    match response.status() {
        204 => Ok(Patched::Partial(upload_offset(url, &response)?)),
        status @ 200..=202 => Ok(Patched::Done(status, client::json(url, response)?)),
        status => Err(ApiError::Unexpected {
            url: url.to_owned(),
            reason: format!("HTTP {status} to a PATCH"),
        }),
    }
}

/// Counts a failed attempt of the upload (see [`client::retry_after`]).
fn failed_attempt(e: ApiError, failures: &mut u32, quiet: bool) -> anyhow::Result<()> {
    if e.code() == Some("upload_not_found") {
        bail!("{e}: the upload expired or the server forgot it; run the command again to start a new one");
    }
    // Another offset than the one sent: ask the server's again.
    let mismatch = e.code() == Some("offset_mismatch");
    client::retry_after(e, mismatch, failures, quiet)
}

/// Sends the file from `offset` until the upload completes, retrying from the server's
/// offset after a network error.
fn upload(
    client: &Client,
    url: &str,
    path: &Path,
    size: u64,
    offset: u64,
    quiet: bool,
) -> anyhow::Result<(u16, Value)> {
    let bar = client::progress_bar(size, quiet, "uploading");
    let mut known = Some(offset);
    let mut best = offset;
    let mut failures = 0;
    loop {
        let offset = match known.take() {
            Some(o) => o,
            None => match head(client, url) {
                Ok(o) => o,
                Err(e) => {
                    failed_attempt(e, &mut failures, quiet)?;
                    continue;
                }
            },
        };
        if offset > size {
            bail!("the server holds {offset} bytes of a {size}-byte upload");
        }
        if offset > best {
            best = offset;
            failures = 0;
        }
        let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        file.seek(SeekFrom::Start(offset))
            .with_context(|| format!("reading {}", path.display()))?;
        bar.set_position(offset);
        let body = bar.wrap_read(file.take(size - offset));
        match patch(client, url, body, offset, size - offset) {
            Ok(Patched::Done(status, value)) => {
                bar.finish_and_clear();
                return Ok((status, value));
            }
            Ok(Patched::Partial(n)) if n > offset && n < size => known = Some(n),
            Ok(Patched::Partial(n)) => bail!(
                "the server answered offset {n} to {} bytes sent from {offset} of {size}, and did not complete the upload",
                size - offset
            ),
            Err(e) => failed_attempt(e, &mut failures, quiet)?,
        }
    }
}

/// Opens an upload with the signed statement; the answer when the server completes it at once.
fn open(
    client: &Client,
    envelope: &Envelope,
    size: u64,
) -> anyhow::Result<Result<(String, u64), (u16, Value)>> {
    let url = client.url("/v1/uploads");
    let response = client::answer(
        &url,
        client
            .request("POST", "/v1/uploads")
            .set("Content-Type", "application/json")
            .send_bytes(&envelope.to_bytes()?),
    )?;
    let status = response.status();
    let location = response.header("Location").map(|l| client.location(l));
    let value: Value = client::json(&url, response)?;
    if value.get("receipt").is_some() {
        return Ok(Err((status, value)));
    }
    let created: Created = serde_json::from_value(value).map_err(|e| ApiError::Unexpected {
        url: url.clone(),
        reason: e.to_string(),
    })?;
    if created.size != size {
        bail!(
            "the server opened an upload of {} bytes for a {size}-byte file",
            created.size
        );
    }
    let upload_url =
        location.unwrap_or_else(|| client.url(&format!("/v1/uploads/{}", created.upload_id)));
    Ok(Ok((upload_url, created.offset)))
}

/// Checks that the receipt is this deposit's: its entry is a deposit of this content, at the
/// dataset, version and index the server answered.
fn content_check(
    receipt: &crate::receipt::Receipt,
    done: &Completion,
    sha256: &str,
    size: u64,
) -> Check {
    let result = match receipt.leaf_bytes().map(|l| Entry::from_bytes(&l)) {
        Some(Ok(Entry::Deposit(leaf))) => {
            if leaf.sha256 != sha256 || leaf.size != size {
                Err(format!(
                    "the entry is of {} bytes with SHA-256 {}, the file of {size} with {sha256}",
                    leaf.size, leaf.sha256
                ))
            } else if leaf.dataset_id != done.dataset_id
                || leaf.version != done.version
                || receipt.index != done.index
            {
                Err(format!(
                    "the entry is version {} of dataset {} at index {}, the answer said version {} of {} at {}",
                    leaf.version, leaf.dataset_id, receipt.index, done.version, done.dataset_id, done.index
                ))
            } else {
                Ok(format!(
                    "the entry deposits these {size} bytes (SHA-256 {sha256})"
                ))
            }
        }
        _ => Err("the receipt's entry is not a deposit".to_owned()),
    };
    Check {
        name: "content",
        ok: result.is_ok(),
        detail: result.unwrap_or_else(|e| e),
    }
}

/// Verifies the receipt of the archived object's custody entry, if the answer has one.
fn custody_check(object: Option<&Value>, vkey: &str) -> Option<Check> {
    let receipt = object?.get("custody")?.get("receipt")?;
    let result = match serde_json::from_value::<crate::receipt::Receipt>(receipt.clone()) {
        Ok(r) => {
            let report = verify_receipt(&r, Some(vkey));
            match report.checks.iter().find(|c| !c.ok) {
                None if report.ok() => Ok(format!(
                    "entry {}: {} checks passed",
                    r.index,
                    report.checks.len()
                )),
                Some(c) => Err(format!("entry {}: {}: {}", r.index, c.name, c.detail)),
                None => Err("no check applies".to_owned()),
            }
        }
        Err(e) => Err(format!("not a receipt: {e}")),
    };
    Some(Check {
        name: "custody receipt",
        ok: result.is_ok(),
        detail: result.unwrap_or_else(|e| e),
    })
}

/// Runs the command.
pub fn run(args: DepositArgs) -> anyhow::Result<()> {
    let settings = client::resolve_from_process(&args.client, Some(&args.signer))?;
    let participant = settings.participant_id()?;
    let key = settings.signing_key()?;
    if settings.token.is_none() {
        bail!(settings.missing("token", "DATAPOLE_TOKEN", "token"));
    }
    let receipt_out = args
        .receipt_out
        .clone()
        .unwrap_or_else(|| client::beside(&args.file, ".receipt.json"));
    if receipt_out.exists() {
        bail!(
            "{} exists: move it or choose another --receipt-out (a receipt is never replaced)",
            receipt_out.display()
        );
    }
    let state_path = client::beside(&args.file, ".upload.json");
    let client = Client::new(&settings);
    let vkey = client.log_vkey(settings.vkey.as_deref())?;

    let len = std::fs::metadata(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?
        .len();
    let bar = client::progress_bar(len, args.quiet, "hashing");
    let (digest, size) =
        hash_file(&args.file, &bar).with_context(|| format!("reading {}", args.file.display()))?;
    bar.finish_and_clear();
    let sha256 = crate::field::hex(&digest);

    // A pending upload of this very content resumes; any other is abandoned.
    let mut resume = None;
    if let Some(state) = UploadState::load(&state_path)? {
        let same_server = state.upload_url.starts_with(&client.location("/"));
        if state.size == size && state.sha256 == sha256 && same_server {
            match head(&client, &state.upload_url) {
                Ok(offset) => {
                    if !args.quiet {
                        println!(
                            "resuming the upload {} at byte {offset} of {size}",
                            state.upload_url
                        );
                    }
                    resume = Some((state.upload_url.clone(), offset));
                }
                Err(e) if e.code() == Some("upload_not_found") => eprintln!(
                    "the upload {} is no longer on the server (expired, or completed while its answer was lost): starting a new one",
                    state.upload_url
                ),
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!(
                        "asking the offset of the upload {}",
                        state.upload_url
                    )))
                }
            }
        } else {
            eprintln!(
                "{} is of another content or server: abandoning the upload {} and starting a new one",
                state_path.display(),
                state.upload_url
            );
            // Cancelled where the token is the server's own; elsewhere it will expire.
            if same_server {
                let _ = client::answer(
                    &state.upload_url,
                    client.request("DELETE", &state.upload_url).call(),
                );
            }
        }
        if resume.is_none() {
            std::fs::remove_file(&state_path)
                .with_context(|| format!("removing {}", state_path.display()))?;
        }
    }

    let (status, answer) = match resume {
        Some((url, offset)) => upload(&client, &url, &args.file, size, offset, args.quiet)?,
        None => {
            let name = args.file.file_name().map_or_else(
                || "dataset".to_owned(),
                |n| n.to_string_lossy().into_owned(),
            );
            let options = DepositOptions {
                title: args.title.clone(),
                media_type: args.media_type.clone(),
                private: args.private,
                retention: args.retention.clone(),
                dataset: args.dataset,
                license: args.license.clone(),
                description: args.description.clone(),
            };
            let payload = match &args.payload {
                None => build_payload(&name, &digest, size, &options, Utc::now(), nonce()),
                Some(path) => {
                    let template = super::payload::load(&super::payload::PayloadArgs {
                        payload: path.clone(),
                        set: args.set.clone(),
                    })?;
                    let content = (name.as_str(), sha256.as_str(), size);
                    payload_from_template(template, content, &options, Utc::now(), nonce())
                        .with_context(|| format!("the deposit payload {}", path.display()))?
                }
            };
            Deposit::try_from(&payload).context("the deposit statement would be refused")?;
            let bytes = crate::json::to_vec("a deposit payload", &payload)?;
            let envelope = Envelope::sign(DEPOSIT_TYPE, &bytes, &participant.to_string(), &key);
            match open(&client, &envelope, size)? {
                Err(done) => done,
                Ok((url, offset)) => {
                    UploadState {
                        upload_url: url.clone(),
                        size,
                        sha256: sha256.clone(),
                    }
                    .save(&state_path)?;
                    upload(&client, &url, &args.file, size, offset, args.quiet)?
                }
            }
        }
    };
    // The upload is over: nothing is left to resume.
    if state_path.exists() {
        std::fs::remove_file(&state_path)
            .with_context(|| format!("removing {}", state_path.display()))?;
    }

    let done: Completion = serde_json::from_value(answer)
        .context("the server's answer to the completed upload is not a deposit's")?;
    let text = serde_json::to_string_pretty(&done.receipt)?;
    super::write_secret(&receipt_out, &format!("{text}\n"), false)
        .with_context(|| format!("writing {}", receipt_out.display()))?;

    let (mut report, receipt): (Report, _) =
        verify_document(&done.receipt, Some(&vkey)).context("the answer's receipt")?;
    report
        .checks
        .push(content_check(&receipt, &done, &sha256, size));
    report
        .checks
        .extend(custody_check(done.object.as_ref(), &vkey));
    if !args.quiet || !report.ok() {
        client::print_checks(&report);
    }
    println!(
        "dataset {} version {}, entry {}{}",
        done.dataset_id,
        done.version,
        done.index,
        if done.duplicate {
            " (already deposited: this is the earlier deposit's receipt)"
        } else {
            ""
        }
    );
    println!("receipt saved to {}", receipt_out.display());
    if status == 202 || receipt.witnessed == Some(false) {
        println!(
            "the log's witnesses have not cosigned it yet: GET /v1/receipts/{} gives the witnessed receipt later",
            done.index
        );
    }
    if !report.ok() {
        bail!("the receipt does not verify");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_follow_the_extension() {
        for (name, media) in [
            ("a.csv", "text/csv"),
            ("A.CSV", "text/csv"),
            ("x.json", "application/json"),
            ("t.parquet", "application/vnd.apache.parquet"),
            ("notes.txt", "text/plain"),
            ("archive.tar.gz", "application/octet-stream"),
            ("README", "application/octet-stream"),
            ("csv", "application/octet-stream"),
        ] {
            assert_eq!(guess_media_type(Path::new(name)), media, "{name}");
        }
    }

    #[test]
    fn the_payload_of_a_file_has_its_digest_and_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admissions.csv");
        // More than one read block, so that the streamed hash is exercised across blocks.
        let content: Vec<u8> = (0..(3 << 20) + 17).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let (digest, size) = hash_file(&path, &indicatif::ProgressBar::hidden()).unwrap();
        assert_eq!(size, content.len() as u64);
        assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(&content)));

        let now = DateTime::parse_from_rfc3339("2026-11-28T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc);
        let nonce = nonce();
        assert_eq!(nonce.len(), 32);
        assert!(nonce.bytes().all(|b| b.is_ascii_hexdigit()));
        let p = build_payload(
            "admissions.csv",
            &digest,
            size,
            &DepositOptions::default(),
            now,
            nonce.clone(),
        );
        assert_eq!(p.sha256, crate::field::hex(&Sha256::digest(&content)));
        assert_eq!(p.size, content.len() as u64);
        assert_eq!(p.title, "admissions.csv");
        assert_eq!(p.media_type, "text/csv");
        assert_eq!(p.visibility, Visibility::Public);
        assert_eq!(p.issued_at, "2026-11-28T10:00:00Z");
        // The server's own check of the statement accepts it.
        let d = Deposit::try_from(&p).unwrap();
        assert_eq!(d.sha256, digest);
        assert_eq!(d.freshness.nonce, nonce);

        let dataset = Uuid::now_v7();
        let options = DepositOptions {
            title: Some("Admissions".into()),
            media_type: Some("text/csv; charset=utf-8".into()),
            private: true,
            retention: Some("P10Y".into()),
            dataset: Some(dataset),
            license: Some("CC-BY-4.0".into()),
            description: Some("Daily admissions".into()),
        };
        let p = build_payload("admissions.csv", &digest, size, &options, now, nonce);
        assert_eq!(p.title, "Admissions");
        assert_eq!(p.media_type, "text/csv; charset=utf-8");
        assert_eq!(p.visibility, Visibility::Private);
        assert_eq!(p.retention.as_deref(), Some("P10Y"));
        assert_eq!(p.dataset_id, Some(dataset));
        assert_eq!(p.license.as_deref(), Some("CC-BY-4.0"));
        assert_eq!(p.description.as_deref(), Some("Daily admissions"));
        assert!(Deposit::try_from(&p).is_ok());
        // A bad retention is caught before anything is sent.
        let bad = DepositOptions {
            retention: Some("ten years".into()),
            ..DepositOptions::default()
        };
        let p = build_payload("a.csv", &digest, size, &bad, now, "0".repeat(32));
        assert_eq!(
            Deposit::try_from(&p).unwrap_err().first().unwrap().field,
            "retention"
        );
    }

    #[test]
    fn a_payload_file_describes_the_file_it_is_given_with() {
        let template: serde_json::Map<String, Value> = serde_json::from_str(
            &std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/payloads/deposit.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let sha = "ab".repeat(32);
        let now = Utc::now();
        let p = payload_from_template(
            template.clone(),
            ("cohort.csv", &sha, 42),
            &DepositOptions::default(),
            now,
            nonce(),
        )
        .unwrap();
        assert_eq!((p.sha256.as_str(), p.size), (sha.as_str(), 42));
        assert_eq!(p.visibility, Visibility::Private);
        assert_eq!(p.retention.as_deref(), Some("P20Y"));
        assert!(p.metadata.is_some());
        assert!(Deposit::try_from(&p).is_ok());
        // Flags replace the template's fields.
        let options = DepositOptions {
            title: Some("Autre titre".into()),
            retention: Some("P30Y".into()),
            ..DepositOptions::default()
        };
        let p = payload_from_template(
            template.clone(),
            ("c.csv", &sha, 42),
            &options,
            now,
            nonce(),
        )
        .unwrap();
        assert_eq!(p.title, "Autre titre");
        assert_eq!(p.retention.as_deref(), Some("P30Y"));
        // A payload naming other content is refused; an empty one takes the file's name,
        // media type and public visibility.
        let mut other = template.clone();
        other.insert("size".into(), Value::from(7));
        let e =
            payload_from_template(other, ("c.csv", &sha, 42), &options, now, nonce()).unwrap_err();
        assert!(
            e.to_string().contains("its size is 7, the file's is 42"),
            "{e}"
        );
        let p = payload_from_template(
            serde_json::Map::new(),
            ("notes.txt", &sha, 1),
            &DepositOptions::default(),
            now,
            nonce(),
        )
        .unwrap();
        assert_eq!(p.title, "notes.txt");
        assert_eq!(p.media_type, "text/plain");
        assert_eq!(p.visibility, Visibility::Public);
        // An unknown field is refused before anything is sent.
        let mut unknown = template;
        unknown.insert("titel".into(), Value::from("x"));
        assert!(
            payload_from_template(unknown, ("c.csv", &sha, 42), &options, now, nonce()).is_err()
        );
    }

    #[test]
    fn the_signed_statement_verifies_with_the_participant_key() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let p = build_payload(
            "a.txt",
            &[1; 32],
            3,
            &DepositOptions::default(),
            Utc::now(),
            nonce(),
        );
        let bytes = crate::json::to_vec("a deposit payload", &p).unwrap();
        let id = Uuid::now_v7().to_string();
        let env = Envelope::sign(DEPOSIT_TYPE, &bytes, &id, &key);
        assert_eq!(env.payload_type, DEPOSIT_TYPE);
        assert_eq!(env.signatures[0].keyid, id);
        let signed = env.verify(&key.verifying_key()).unwrap();
        assert_eq!(DepositPayload::from_statement_bytes(&signed).unwrap(), p);
    }

    #[test]
    fn the_receipt_must_be_of_this_content_where_the_answer_says() {
        let dataset = Uuid::now_v7();
        let (receipt, vkey) = client::testing::deposit_receipt(b"abc", dataset, 2);
        assert!(verify_receipt(&receipt, Some(&vkey)).ok());
        let sha = crate::field::hex(&Sha256::digest(b"abc"));
        let done = Completion {
            dataset_id: dataset,
            version: 2,
            index: 0,
            duplicate: false,
            receipt: Value::Null,
            object: None,
        };
        let check = content_check(&receipt, &done, &sha, 3);
        assert!(check.ok, "{check:?}");
        let other_content = crate::field::hex(&Sha256::digest(b"abd"));
        assert!(!content_check(&receipt, &done, &other_content, 3).ok);
        assert!(!content_check(&receipt, &done, &sha, 4).ok);
        for elsewhere in [
            Completion {
                version: 1,
                ..done.clone()
            },
            Completion {
                index: 7,
                ..done.clone()
            },
            Completion {
                dataset_id: Uuid::now_v7(),
                ..done.clone()
            },
        ] {
            let check = content_check(&receipt, &elsewhere, &sha, 3);
            assert!(
                !check.ok && check.detail.contains("the answer said"),
                "{check:?}"
            );
        }
    }

    #[test]
    fn a_custody_receipt_is_verified_when_there_is_one() {
        let (receipt, vkey) = client::testing::deposit_receipt(b"abc", Uuid::now_v7(), 1);
        assert_eq!(custody_check(None, &vkey), None);
        let object =
            serde_json::json!({"object_id": "o", "custody": {"index": 0, "receipt": receipt}});
        let check = custody_check(Some(&object), &vkey).unwrap();
        assert!(check.ok, "{check:?}");
        let (_, other_vkey) = crate::log::LogSigner::generate("other.example.org/log").unwrap();
        assert!(!custody_check(Some(&object), &other_vkey).unwrap().ok);
        let broken = serde_json::json!({"custody": {"receipt": {"format": 1}}});
        assert!(!custody_check(Some(&broken), &vkey).unwrap().ok);
    }

    #[test]
    fn the_upload_state_round_trips_and_refuses_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data.csv");
        let path = client::beside(&file, ".upload.json");
        assert_eq!(path, dir.path().join("data.csv.upload.json"));
        assert_eq!(UploadState::load(&path).unwrap(), None);
        let state = UploadState {
            upload_url: "http://127.0.0.1:8080/v1/uploads/0190f1d2-0000-7000-8000-000000000000"
                .into(),
            size: 12_345,
            sha256: "ab".repeat(32),
        };
        state.save(&path).unwrap();
        assert_eq!(UploadState::load(&path).unwrap(), Some(state.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Saving again replaces it.
        let other = UploadState {
            size: 1,
            ..state.clone()
        };
        other.save(&path).unwrap();
        assert_eq!(UploadState::load(&path).unwrap(), Some(other));
        std::fs::write(&path, "{\"upload_url\": 3}").unwrap();
        let e = UploadState::load(&path).unwrap_err();
        assert!(format!("{e:#}").contains("delete it"), "{e:#}");
    }
}
