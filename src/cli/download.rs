//! `datapole download`: fetches a dataset version's content
//! (`GET /v1/datasets/{id}/versions/{version}/content`), streamed to `<PATH>.part` and resumed
//! with `Range` from what that file holds, then checks its SHA-256 and size against the deposit
//! entry of a receipt verified offline ([`crate::verify::receipt`]), or without a receipt
//! against the server's listing of the dataset. `<PATH>` appears only when every check passes.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::client::{self, ApiError, Client, ClientArgs};
use crate::entry::Entry;
use crate::verify::receipt::{verify_document, Check};

/// Flags of `datapole download`.
#[derive(Debug, Args)]
#[command(after_long_help = "\
The content is written to <PATH>.part; if that file exists (an interrupted download), the \
download continues from its length with a Range request. A network error is retried from what \
was received, waiting 1, 2, 4 ... seconds, and given up after 5 attempts in a row that make no \
progress. <PATH>.part becomes <PATH> only when its size and SHA-256 are the ones the deposit's \
receipt proves (or, without --receipt, the ones the server lists); otherwise it is kept, the \
mismatch is reported and the command exits non-zero.")]
pub struct DownloadArgs {
    /// The dataset's id.
    #[arg(value_name = "DATASET_ID")]
    pub dataset: Uuid,
    /// The version [default: the receipt's; required without --receipt].
    #[arg(long, required_unless_present = "receipt")]
    pub version: Option<u64>,
    /// The access decision that permits this download (for an accessor).
    #[arg(long, value_name = "ACCESS_ID")]
    pub access: Option<Uuid>,
    /// The deposit's receipt (`datapole.receipt.v1`, or a deposit answer that carries one): it
    /// is verified offline, and the content must be the one its entry names.
    #[arg(long, value_name = "RECEIPT.json")]
    pub receipt: Option<PathBuf>,
    /// Where to write the content.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// Replace PATH if it exists.
    #[arg(long)]
    pub force: bool,
    /// No progress bar (it is also hidden when stdout is not a terminal) and no checks listed.
    #[arg(long, short)]
    pub quiet: bool,
    /// The server and the participant's token.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// What the content must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The version.
    pub version: u64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// The expected content from a receipt's JSON (verified with `vkey`): the checks made, and
/// what the deposit entry names if they all pass.
pub fn from_receipt(
    value: &Value,
    vkey: &str,
    dataset: Uuid,
    version: Option<u64>,
) -> anyhow::Result<(Vec<Check>, Option<Expected>)> {
    let (mut report, receipt) = verify_document(value, Some(vkey))?;
    let leaf = match receipt.leaf_bytes().map(|l| Entry::from_bytes(&l)) {
        Some(Ok(Entry::Deposit(leaf))) => Some(leaf),
        _ => None,
    };
    let result = match &leaf {
        None => Err("the receipt's entry is not a deposit".to_owned()),
        Some(l) if l.dataset_id != dataset => Err(format!(
            "the receipt is of dataset {}, not {dataset}",
            l.dataset_id
        )),
        Some(l) if version.is_some_and(|v| v != l.version) => Err(format!(
            "the receipt is of version {}, not {}",
            l.version,
            version.unwrap_or_default()
        )),
        Some(l) => Ok(format!(
            "version {} of dataset {dataset}: {} bytes, SHA-256 {}",
            l.version, l.size, l.sha256
        )),
    };
    report.checks.push(Check {
        name: "deposit",
        ok: result.is_ok(),
        detail: result.unwrap_or_else(|e| e),
    });
    let expected = match leaf {
        Some(l) if report.ok() => Some(Expected {
            version: l.version,
            sha256: l.sha256,
            size: l.size,
        }),
        _ => None,
    };
    Ok((report.checks, expected))
}

/// The expected content from `GET /v1/datasets/{id}`'s listing of one version.
pub fn from_listing(listing: &Value, version: u64) -> anyhow::Result<Expected> {
    let entry = listing["versions"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["version"].as_u64() == Some(version)))
        .with_context(|| format!("the server lists no version {version} of this dataset"))?;
    let sha256 = entry["sha256"]
        .as_str()
        .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .context("the listing's sha256 is not 64 hex digits")?
        .to_ascii_lowercase();
    let size = entry["size"]
        .as_u64()
        .context("the listing's size is not a number")?;
    Ok(Expected {
        version,
        sha256,
        size,
    })
}

/// The content's path below the server: `/v1/datasets/{id}/versions/{v}/content[?access=]`.
pub fn content_path(dataset: Uuid, version: u64, access: Option<Uuid>) -> String {
    let mut path = format!("/v1/datasets/{dataset}/versions/{version}/content");
    if let Some(a) = access {
        path.push_str(&format!("?access={a}"));
    }
    path
}

/// Appends the content to `part` until it holds `size` bytes, resuming with `Range` from its
/// length; returns the SHA-256 of the whole file.
fn fetch(
    client: &Client,
    target: &str,
    part: &Path,
    size: u64,
    quiet: bool,
) -> anyhow::Result<[u8; 32]> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(part)
        .with_context(|| format!("opening {}", part.display()))?;
    let mut have = file.metadata()?.len();
    if have > size {
        bail!(
            "{} holds {have} bytes, more than the content's {size}: delete it and download again",
            part.display()
        );
    }
    let bar = client::progress_bar(size, quiet, "downloading");
    // What an earlier run received, hashed once.
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    {
        let mut prefix = File::open(part)?.take(have);
        loop {
            let n = prefix.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
    }
    bar.set_position(have);
    let url = client.url(target);
    let mut failures = 0;
    while have < size {
        let mut request = client.request("GET", target);
        if have > 0 {
            request = request.set("Range", &format!("bytes={have}-"));
        }
        let response = match client::answer(&url, request.call()) {
            Ok(r) => r,
            Err(e) => {
                client::retry_after(e, false, &mut failures, quiet)?;
                continue;
            }
        };
        match response.status() {
            206 => {
                let range = response.header("Content-Range").unwrap_or("");
                if !range.starts_with(&format!("bytes {have}-")) {
                    bail!("asked for bytes {have}- and the server sent {range:?}");
                }
            }
            200 if have > 0 => {
                // The server ignored the range: start again from the first byte.
                file.set_len(0)?;
                have = 0;
                hasher = Sha256::new();
                bar.set_position(0);
            }
            200 => {}
            status => bail!("HTTP {status} to GET {url}"),
        }
        let before = have;
        let mut body = response.into_reader();
        let interrupted = loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    break Some(ApiError::Io {
                        context: format!("receiving {url}"),
                        source,
                    })
                }
            };
            if have + n as u64 > size {
                bail!("the server sent more than the content's {size} bytes");
            }
            file.write_all(&buf[..n])
                .with_context(|| format!("writing {}", part.display()))?;
            hasher.update(&buf[..n]);
            have += n as u64;
            bar.set_position(have);
        };
        if have > before {
            failures = 0;
        }
        if let Some(e) = interrupted {
            client::retry_after(e, false, &mut failures, quiet)?;
        } else if have < size {
            let e = ApiError::Unexpected {
                url: url.clone(),
                reason: format!("the body ended at byte {have} of {size}"),
            };
            client::retry_after(e, true, &mut failures, quiet)?;
        }
    }
    file.sync_all()
        .with_context(|| format!("syncing {}", part.display()))?;
    bar.finish_and_clear();
    Ok(hasher.finalize().into())
}

/// Runs the command; exits non-zero unless the content is the one expected.
pub fn run(args: DownloadArgs) -> anyhow::Result<()> {
    let settings = client::resolve_from_process(&args.client, None)?;
    let client = Client::new(&settings);
    if args.out.exists() && !args.force {
        bail!("{} exists (use --force to replace it)", args.out.display());
    }
    let expected = match &args.receipt {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let value = crate::json::value(&bytes).with_context(|| {
                format!("{} is not a receipt (nor strict JSON)", path.display())
            })?;
            let vkey = client.log_vkey(settings.vkey.as_deref())?;
            let (checks, expected) = from_receipt(&value, &vkey, args.dataset, args.version)?;
            if !args.quiet || expected.is_none() {
                for c in &checks {
                    println!("{} {}: {}", if c.ok { "✓" } else { "✗" }, c.name, c.detail);
                }
            }
            expected.with_context(|| {
                format!(
                    "the receipt {} does not verify: nothing downloaded",
                    path.display()
                )
            })?
        }
        None => {
            // clap requires --version without --receipt.
            let version = args
                .version
                .context("--version is required without --receipt")?;
            let listing: Value = client.get_json(&format!(
                "/v1/datasets/{}?after={}&limit=1",
                args.dataset,
                version.saturating_sub(1)
            ))?;
            from_listing(&listing, version)?
        }
    };
    let part = client::beside(&args.out, ".part");
    let target = content_path(args.dataset, expected.version, args.access);
    let digest = fetch(&client, &target, &part, expected.size, args.quiet)?;
    let got = crate::field::hex(&digest);
    if got != expected.sha256 {
        bail!(
            "the content's SHA-256 is {got}, not {}: {} kept, {} not written",
            expected.sha256,
            part.display(),
            args.out.display()
        );
    }
    std::fs::rename(&part, &args.out)
        .with_context(|| format!("renaming {} to {}", part.display(), args.out.display()))?;
    if args.receipt.is_some() {
        if !args.quiet {
            println!("✓ content: {} bytes, SHA-256 {got}", expected.size);
        }
    } else {
        println!(
            "the receipt was not checked (no --receipt): the content matches the SHA-256 the server lists for version {}",
            expected.version
        );
    }
    println!(
        "version {} of dataset {} saved to {}",
        expected.version,
        args.dataset,
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_gives_the_version_asked() {
        let listing = serde_json::json!({"versions": [
            {"version": 2, "sha256": "AB".repeat(32), "size": 10},
            {"version": 3, "sha256": "cd".repeat(32), "size": 11},
        ]});
        assert_eq!(
            from_listing(&listing, 2).unwrap(),
            Expected {
                version: 2,
                sha256: "ab".repeat(32),
                size: 10
            }
        );
        assert!(from_listing(&listing, 4)
            .unwrap_err()
            .to_string()
            .contains("no version 4"));
        let bad = serde_json::json!({"versions": [{"version": 1, "sha256": "xyz", "size": 1}]});
        assert!(from_listing(&bad, 1).is_err());
    }

    #[test]
    fn a_verified_receipt_gives_the_content_it_proves() {
        let dataset = Uuid::now_v7();
        let (receipt, vkey) = client::testing::deposit_receipt(b"hello", dataset, 3);
        let value = serde_json::to_value(&receipt).unwrap();
        let hello = Expected {
            version: 3,
            sha256: crate::field::hex(&Sha256::digest(b"hello")),
            size: 5,
        };
        let (checks, expected) = from_receipt(&value, &vkey, dataset, None).unwrap();
        assert!(checks.iter().all(|c| c.ok), "{checks:?}");
        assert_eq!(expected, Some(hello.clone()));
        // The version named, and a deposit's answer that carries the receipt, do as well.
        let answer = serde_json::json!({"dataset_id": dataset, "version": 3, "receipt": value});
        assert_eq!(
            from_receipt(&answer, &vkey, dataset, Some(3)).unwrap().1,
            Some(hello)
        );
        // Another dataset, another version, another log key: nothing to download.
        for (vkey, dataset, version, failed) in [
            (vkey.clone(), Uuid::now_v7(), None, "deposit"),
            (vkey.clone(), dataset, Some(2), "deposit"),
            (
                crate::log::LogSigner::generate("log.example.org/test")
                    .unwrap()
                    .1,
                dataset,
                None,
                "log key",
            ),
        ] {
            let (checks, expected) = from_receipt(&value, &vkey, dataset, version).unwrap();
            assert_eq!(expected, None);
            assert!(
                checks.iter().any(|c| !c.ok && c.name == failed),
                "{failed}: {checks:?}"
            );
        }
        assert!(from_receipt(&serde_json::json!({"format": 1}), &vkey, dataset, None).is_err());
    }

    #[test]
    fn content_paths_carry_the_access() {
        let d = Uuid::nil();
        assert_eq!(
            content_path(d, 3, None),
            format!("/v1/datasets/{d}/versions/3/content")
        );
        let a = Uuid::max();
        assert_eq!(
            content_path(d, 1, Some(a)),
            format!("/v1/datasets/{d}/versions/1/content?access={a}")
        );
    }
}
