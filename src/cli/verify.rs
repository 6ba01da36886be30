//! `datapole verify`: checks a receipt (`datapole.receipt.v1` JSON, or a
//! c2sp.org/tlog-proof@v1 text), or with `--custody` a dataset's custody chain, offline with
//! the log's key, or with `--log-url` also against the live log: the key is fetched once and
//! printed so it can be pinned, the signer's registration is compared, and the receipts'
//! checkpoints are proven consistent with the log's current one. With `--file DATA`, it also
//! checks that the receipt is a deposit's of exactly those bytes.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use base64::prelude::*;
use clap::Args;
use serde_json::Value;

use crate::entry::Entry;
use crate::receipt::{Receipt, TlogProof};
use crate::statement::deposit::DepositPayload;
use crate::statement::dsse::Envelope;
use crate::verify::custody::{looks_like_chain, verify_custody, Chain};
use crate::verify::receipt::{check_witnesses, verify_document, verify_tlog_proof, Check, Report};
use crate::verify::{verify_checkpoint, verify_consistency};

/// Flags of `datapole verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The receipt: a `datapole.receipt.v1` JSON file or a c2sp.org/tlog-proof text (`-` for
    /// standard input); with --custody, a custody chain's JSON.
    pub receipt: PathBuf,
    /// The file is a dataset's custody chain (the JSON of `GET /v1/datasets/{id}/custody`):
    /// check every entry's receipt against one log key, that the entries are custody entries
    /// of that dataset in log order, the chain rules (stored first; failures, repairs, holds
    /// and the disposal of a stored copy; nothing after the disposal, which waits for the
    /// retention and any hold), and the latest fixity run's checks against its root. A
    /// truncated chain fails: fetch every page. Without this flag a chain is refused, not
    /// guessed.
    #[arg(long)]
    pub custody: bool,
    /// The log's signed-note verifier key, pinned out of band [env: DATAPOLE_VKEY, when
    /// neither --vkey nor --log-url is given].
    #[arg(long, conflicts_with = "log_url")]
    pub vkey: Option<String>,
    /// The log's base URL: its key is fetched (and printed, to pin it) and the receipt (every
    /// receipt of a chain) is also checked against the live log.
    #[arg(long)]
    pub log_url: Option<String>,
    /// Print the checks as JSON.
    #[arg(long)]
    pub json: bool,
    /// A witness's `cosignature/v1` verifier key: require its cosignature on the receipt's
    /// checkpoint (on each checkpoint of a chain's receipts; see --quorum). Repeatable.
    #[arg(long = "witness", value_name = "VKEY")]
    pub witnesses: Vec<String>,
    /// How many of the --witness keys must have cosigned (default: all of them).
    #[arg(long, requires = "witnesses")]
    pub quorum: Option<usize>,
    /// The data the receipt should be about: check also that the receipt is a deposit's whose
    /// entry (public or private: both name the content) and signed statement, when the
    /// receipt carries it, name this file's SHA-256 and size.
    #[arg(long, value_name = "DATA", conflicts_with = "custody")]
    pub file: Option<PathBuf>,
}

/// The check that `data` (its SHA-256 and size) is what the deposit entry `leaf` names, and
/// what its statement, when the receipt carries it, says too.
pub fn content_check(leaf: &[u8], statement: Option<&Envelope>, data: &Path) -> Check {
    let result = (|| -> anyhow::Result<String> {
        let deposit = match Entry::from_bytes(leaf) {
            Ok(Entry::Deposit(d)) => d,
            Ok(other) => bail!(
                "the entry is a {} entry, not a deposit: --file checks a deposit's receipt",
                other.type_name()
            ),
            Err(e) => bail!("the entry cannot be read: {e}"),
        };
        let (sha256, size) = super::deposit::hash_file(data, &indicatif::ProgressBar::hidden())
            .with_context(|| format!("reading {}", data.display()))?;
        let sha256 = crate::field::hex(&sha256);
        // The statement the depositor signed, when the receipt has it.
        let signed = deposit
            .statement
            .as_ref()
            .or(statement)
            .and_then(|s| s.check().ok())
            .and_then(|(p, _)| DepositPayload::from_statement_bytes(&p).ok());
        // Every deposit entry names the content, a private one too (its title and metadata
        // stay off the log); the statement, when there is one, must agree.
        if let Some(p) = &signed {
            if p.sha256 != deposit.sha256 || p.size != deposit.size {
                bail!("the entry and its signed statement name different contents");
            }
        }
        if sha256 != deposit.sha256 || size != deposit.size {
            bail!(
                "{} has SHA-256 {sha256} and {size} bytes; the deposit names {} and {} bytes",
                data.display(),
                deposit.sha256,
                deposit.size
            );
        }
        Ok(format!(
            "{} is the content of dataset {} version {} ({size} bytes, sha256 {sha256}){}",
            data.display(),
            deposit.dataset_id,
            deposit.version,
            if signed.is_some() {
                ""
            } else {
                "; the entry names it, the depositor's signed statement is not in this receipt"
            }
        ))
    })();
    Check {
        name: "content",
        ok: result.is_ok(),
        detail: result.unwrap_or_else(|e| format!("{e:#}")),
    }
}

fn get_json(url: &str) -> anyhow::Result<Value> {
    match ureq::get(url).call() {
        Ok(r) => Ok(r.into_json()?),
        Err(ureq::Error::Status(code, r)) => {
            let body: Value = r.into_json().unwrap_or_default();
            bail!("{url}: HTTP {code} {}", body["error"]["code"])
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("fetching {url}"))),
    }
}

/// Checks against the live log: the signer's registration and the checkpoint's consistency.
fn online_checks(
    base: &str,
    vkey: &str,
    checkpoint: &str,
    receipt: Option<&Receipt>,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut push = |name, r: anyhow::Result<String>| {
        let ok = r.is_ok();
        let detail = r.unwrap_or_else(|e| format!("{e:#}"));
        checks.push(Check { name, ok, detail });
    };
    if let Some(signer) = receipt.and_then(|r| r.signer.as_ref()) {
        push(
            "signer registration",
            (|| {
                let p = get_json(&format!("{base}/v1/participants/{}", signer.participant_id))?;
                if p["public_key"].as_str() != Some(signer.public_key.as_str()) {
                    bail!(
                        "the log registered another key for participant {}",
                        signer.participant_id
                    );
                }
                Ok(format!(
                    "participant {} ({}) registered this key at entry {}",
                    signer.participant_id,
                    p["name"].as_str().unwrap_or("?"),
                    p["index"]
                ))
            })(),
        );
    }
    push(
        "consistent with the live log",
        (|| {
            let old = verify_checkpoint(checkpoint, vkey)?;
            let note = ureq::get(&format!("{base}/checkpoint"))
                .call()?
                .into_string()?;
            let new = verify_checkpoint(&note, vkey).context("the live checkpoint")?;
            if new.size < old.size {
                bail!(
                    "the live log (size {}) is smaller than the receipt's checkpoint ({})",
                    new.size,
                    old.size
                );
            }
            if new.size > old.size {
                let p = get_json(&format!(
                    "{base}/v1/proofs/consistency?from={}&to={}",
                    old.size, new.size
                ))?;
                let hashes = p["hashes"]
                    .as_array()
                    .and_then(|a| {
                        a.iter()
                            .map(|h| {
                                h.as_str()
                                    .and_then(|h| BASE64_STANDARD.decode(h).ok())
                                    .and_then(|b| b.try_into().ok())
                            })
                            .collect::<Option<Vec<[u8; 32]>>>()
                    })
                    .context("malformed consistency proof")?;
                verify_consistency(old.size, new.size, &old.root, &new.root, &hashes)?;
            } else if new.root != old.root {
                bail!("the live log has another root at size {}", new.size);
            }
            Ok(format!(
                "the live log at size {} extends the receipt's tree of size {}",
                new.size, old.size
            ))
        })(),
    );
    checks
}

/// Runs the command; exits non-zero unless every check passes.
pub fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let text = if args.receipt.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(&args.receipt)
            .with_context(|| format!("reading {}", args.receipt.display()))?
    };
    let base = args
        .log_url
        .as_deref()
        .map(|u| u.trim_end_matches('/').to_owned());
    let vkey = match (&args.vkey, &base) {
        (Some(v), _) => Some(v.clone()),
        (None, Some(base)) => {
            let log = get_json(&format!("{base}/v1/log"))?;
            let vkey = log["vkey"]
                .as_str()
                .context("the log named no vkey")?
                .to_owned();
            if !args.json {
                println!("log key fetched from {base}: {vkey}");
                println!("(pin it and pass --vkey next time, so that verifying trusts no server)");
            }
            Some(vkey)
        }
        (None, None) => std::env::var("DATAPOLE_VKEY")
            .ok()
            .filter(|v| !v.is_empty()),
    };
    let (mut report, checkpoints, receipt): (Report, Vec<String>, Option<Receipt>) = if args.custody
    {
        let value: Value =
            crate::json::value(text.as_bytes()).context("not a custody chain (nor strict JSON)")?;
        let chain = Chain::from_value(&value)?;
        if vkey.is_none() && !args.json {
            println!("no --vkey or --log-url: checking with the key the first receipt names, which proves the chain consistent, not genuine");
        }
        let mut checkpoints: Vec<String> = Vec::new();
        let links = chain
            .entries
            .iter()
            .chain(chain.fixity.as_ref().map(|f| &f.run));
        for link in links {
            if !checkpoints.contains(&link.receipt.checkpoint) {
                checkpoints.push(link.receipt.checkpoint.clone());
            }
        }
        (verify_custody(&chain, vkey.as_deref()), checkpoints, None)
    } else if text.starts_with("c2sp.org/tlog-proof@v1\n") {
        let proof =
            TlogProof::parse(&text).context("not a well-formed c2sp.org/tlog-proof@v1 text")?;
        let vkey = vkey
            .as_deref()
            .context("a tlog-proof names no key: give --vkey or --log-url")?;
        let mut report = verify_tlog_proof(&proof, vkey);
        if let Some(data) = &args.file {
            let leaf = proof.extra.clone().unwrap_or_default();
            report.checks.push(content_check(&leaf, None, data));
        }
        (report, vec![proof.checkpoint], None)
    } else {
        // A receipt, or an answer that carries one (a deposit's, a citizen's consent receipt,
        // a withdrawal's or an access decision's).
        // The strict reader, as for what the log signs: a key twice is no receipt.
        let value: Value = crate::json::value(text.as_bytes())
            .context("not a datapole.receipt.v1 receipt (nor strict JSON)")?;
        if looks_like_chain(&value) && value.get("receipt").is_none() {
            bail!("this is a custody chain, not a receipt: verify it with --custody");
        }
        if vkey.is_none() && !args.json {
            println!("no --vkey or --log-url: checking with the key the receipt names, which proves it consistent, not genuine");
        }
        let (mut report, receipt) = verify_document(&value, vkey.as_deref())?;
        if let Some(data) = &args.file {
            let leaf = receipt.leaf_bytes().unwrap_or_default();
            report
                .checks
                .push(content_check(&leaf, receipt.statement.as_ref(), data));
        }
        (report, vec![receipt.checkpoint.clone()], Some(receipt))
    };
    if !args.witnesses.is_empty() {
        let quorum = args.quorum.unwrap_or(args.witnesses.len());
        for checkpoint in &checkpoints {
            report
                .checks
                .push(check_witnesses(checkpoint, &args.witnesses, quorum));
        }
    }
    if let (Some(base), Some(vkey)) = (&base, &vkey) {
        if report.ok() {
            for checkpoint in &checkpoints {
                report
                    .checks
                    .extend(online_checks(base, vkey, checkpoint, receipt.as_ref()));
            }
        }
    }
    let ok = report.ok();
    if args.json {
        println!("{}", serde_json::json!({"ok": ok, "checks": report.checks}));
    } else {
        for c in &report.checks {
            println!("{} {}: {}", if c.ok { "✓" } else { "✗" }, c.name, c.detail);
        }
        let failed = report.checks.iter().filter(|c| !c.ok).count();
        if ok {
            println!("valid: {} checks passed", report.checks.len());
        } else {
            println!("INVALID: {failed} of {} checks failed", report.checks.len());
        }
    }
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}
