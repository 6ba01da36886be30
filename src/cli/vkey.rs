//! `datapole vkey`: prints the log's signed-note verifier key as the server states it
//! (`GET /v1/log`), after checking that it verifies the server's current checkpoint.
//!
//! A key fetched from the server proves receipts consistent with what that server says, not
//! genuine: an auditor pins the key printed when the log first started, obtained out of band
//! (from the operator, a publication, a witness), and passes it with --vkey or DATAPOLE_VKEY.

use anyhow::Context;
use clap::Args;
use serde_json::Value;

use super::client::{self, Client, ClientArgs};

/// Flags of `datapole vkey`.
#[derive(Debug, Args)]
#[command(after_long_help = "\
The key comes from the server itself: it proves receipts consistent with what this server says, \
not genuine. An auditor pins the key that `datapole serve` printed when the log first started, \
obtained out of band, instead.")]
pub struct VkeyArgs {
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Runs the command.
pub fn run(args: VkeyArgs) -> anyhow::Result<()> {
    let settings = client::resolve_from_process(&args.client, None)?;
    let client = Client::new(&settings).with_token(None);
    let log: Value = client.get_json("/v1/log")?;
    let vkey = log["vkey"]
        .as_str()
        .context("GET /v1/log named no vkey")?
        .to_owned();
    let url = client.url("/checkpoint");
    let note = client::answer(&url, client.request("GET", "/checkpoint").call())?
        .into_string()
        .with_context(|| format!("reading {url}"))?;
    crate::verify::verify_checkpoint(&note, &vkey)
        .context("the server's checkpoint does not verify with the key it names")?;
    println!("{vkey}");
    Ok(())
}
