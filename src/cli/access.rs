//! `datapole access request`: the accessor signs an access payload and asks the log
//! (`POST /v1/accesses`); the log decides from the consents it holds and records the decision,
//! permit (201) or deny (403), with a receipt either way, which is verified and saved.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::Value;

use super::client::{self, ApiError, Client, ClientArgs, SignerArgs};
use super::payload::{self, PayloadArgs};
use crate::statement::access::ACCESS_TYPE;

/// The exit status of `access request` when the log denies the access: the decision is
/// recorded and its receipt saved, but the access must not happen.
pub const DENIED_EXIT: i32 = 3;

/// `datapole access` subcommands.
#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Ask the log before using data (accessor): sign the payload file, send it, print the
    /// decision (permit or deny), verify its receipt and save it. Exits with status 3 when
    /// the access is denied.
    Request(RequestArgs),
}

/// Flags of `datapole access request`.
#[derive(Debug, Args)]
#[command(after_long_help = "\
examples/payloads/access.json is a filled access payload to start from; the ids that exist only \
at run time are set on the command line:

  datapole access request examples/payloads/access.json \\
    --set dataset_id=$DATASET --set consent_ids=$CONSENT \\
    --participant-file lab.json --key lab.pem

The exit status is 0 for a permit, 3 for a denial (recorded on the log too), 1 for an error \
(the statement was refused and nothing was recorded).")]
pub struct RequestArgs {
    /// The access payload and the changes to make to it.
    #[command(flatten)]
    pub payload: PayloadArgs,
    /// Where to save the decision's receipt (mode 0600; never replaced) [default:
    /// access-<ID>.receipt.json].
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Print only the decision, not the receipt's checks.
    #[arg(long, short)]
    pub quiet: bool,
    /// Who signs.
    #[command(flatten)]
    pub signer: SignerArgs,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Runs an `access` subcommand.
pub fn run(command: AccessCommand) -> anyhow::Result<()> {
    match command {
        AccessCommand::Request(args) => request(args),
    }
}

fn request(args: RequestArgs) -> anyhow::Result<()> {
    let settings = client::resolve_from_process(&args.client, Some(&args.signer))?;
    if let Some(out) = &args.out {
        if out.exists() {
            bail!(
                "{} exists: move it or choose another --out (a receipt is never replaced)",
                out.display()
            );
        }
    }
    let mut body = payload::load(&args.payload)?;
    let envelope = payload::sign(&settings, ACCESS_TYPE, &mut body)?;
    let client = Client::new(&settings).with_token(None);
    let vkey = client.log_vkey(settings.vkey.as_deref())?;
    let url = client.url("/v1/accesses");
    let request = client
        .request("POST", "/v1/accesses")
        .set("Content-Type", "application/json");
    // A denial is a 403 whose body is the recorded decision; any other error status is a
    // refusal of the statement, and nothing was recorded.
    let answer: Value = match request.send_bytes(&envelope) {
        Ok(response) => client::json(&url, response)?,
        Err(ureq::Error::Status(403, response)) => {
            let text = response
                .into_string()
                .with_context(|| format!("reading the answer of {url}"))?;
            match serde_json::from_str::<Value>(&text) {
                Ok(v) if v.get("decision").is_some() => v,
                _ => return Err(client::status_error(403, &url, &text).into()),
            }
        }
        Err(e) => {
            return Err(client::answer(&url, Err(e))
                .err()
                .unwrap_or_else(|| ApiError::Unexpected {
                    url: url.clone(),
                    reason: "an error without a status".into(),
                })
                .into())
        }
    };
    let id = answer["access_id"]
        .as_str()
        .context("the answer names no access_id")?
        .to_owned();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("access-{id}.receipt.json")));
    let text = format!("{}\n", serde_json::to_string_pretty(&answer)?);
    super::write_secret(&out, &text, false)
        .with_context(|| format!("writing {}", out.display()))?;
    client::check_receipt(&answer, &vkey, args.quiet)?;
    let decision = answer["decision"].as_str().unwrap_or("?");
    let reason = answer["reason"].as_str().unwrap_or("?");
    let emergency = if answer["emergency"].as_bool() == Some(true) {
        " (emergency)"
    } else {
        ""
    };
    println!(
        "{decision}: {reason}{emergency}, access {id}, entry {}",
        answer["index"]
    );
    if let Some(message) = answer["error"]["message"].as_str() {
        println!("{message}");
    }
    println!("receipt saved to {}", out.display());
    if decision != "permit" {
        std::process::exit(DENIED_EXIT);
    }
    Ok(())
}
