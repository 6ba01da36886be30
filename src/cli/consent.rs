//! `datapole consent`: the controller records a consent from a payload file (signed,
//! `POST /v1/consents`) and gets the citizen's receipt; the citizen, with that receipt file and
//! nothing else, reads the consent and the accesses made under it, withdraws it or erases it;
//! the controller withdraws or erases one it recorded with a signed payload.
//!
//! The citizen's receipt holds the citizen's secret, a bearer capability: it is written mode
//! 0600, never over an existing file, and sent only as `Authorization: Bearer` to the server
//! the receipt's commands talk to.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{ArgGroup, Args, Subcommand};
use serde_json::Value;

use super::client::{self, Client, ClientArgs, SignerArgs};
use super::payload::{self, PayloadArgs};
use crate::statement::consent::{CONSENT_TYPE, ERASURE_TYPE, WITHDRAWAL_TYPE};

/// `datapole consent` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Record a consent (controller): sign the payload file, send it, verify the citizen's
    /// receipt and save it (mode 0600: it holds the citizen's secret).
    Record(RecordArgs),
    /// Read a consent with the citizen's receipt file: its status, its history and every
    /// access decision made under it, each receipt verified.
    Show(ShowArgs),
    /// Withdraw a consent: the citizen with the receipt file (--receipt), or the controller
    /// with a signed withdrawal payload (--payload).
    Withdraw(EndArgs),
    /// Erase a consent's record: the citizen with the receipt file (--receipt), or the
    /// controller with a signed erasure payload (--payload). The log keeps the entries; the
    /// server deletes the signed statement and its salt.
    Erase(EndArgs),
}

/// Flags of `datapole consent record`.
#[derive(Debug, Args)]
#[command(after_long_help = "\
examples/payloads/consent.json is a filled consent payload to start from; the ids that exist \
only at run time are set on the command line:

  datapole consent record examples/payloads/consent.json \\
    --set datasets=$DATASET --set recipients=$LAB_ID \\
    --participant-file hospital.json --key hospital.pem --out citizen-receipt.json

Hand the citizen's receipt to the person (the web page /consent reads it): it is their only \
key to the consent.")]
pub struct RecordArgs {
    /// The consent payload and the changes to make to it.
    #[command(flatten)]
    pub payload: PayloadArgs,
    /// Where to save the citizen's receipt (mode 0600; an existing file is never replaced)
    /// [default: consent-<ID>.citizen-receipt.json].
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Print only the result, not the receipt's checks.
    #[arg(long, short)]
    pub quiet: bool,
    /// Who signs.
    #[command(flatten)]
    pub signer: SignerArgs,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Flags of `datapole consent show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The citizen's receipt file (what `consent record` saved).
    #[arg(long, value_name = "CITIZEN_RECEIPT")]
    pub receipt: PathBuf,
    /// Print the server's answers (the consent, then its accesses) as JSON.
    #[arg(long)]
    pub json: bool,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Flags of `datapole consent withdraw` and `erase`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("who").required(true).args(["receipt", "payload"])))]
pub struct EndArgs {
    /// The citizen's receipt file: the citizen acts with its secret, no key needed.
    #[arg(long, value_name = "CITIZEN_RECEIPT")]
    pub receipt: Option<PathBuf>,
    /// The controller's payload (`consent_id`, an optional `reason`; see
    /// examples/payloads/consent-withdrawal.json), signed with the controller's key.
    #[arg(long, value_name = "PAYLOAD.json")]
    pub payload: Option<PathBuf>,
    /// Sets a field of the --payload before signing (as `consent record --set`).
    #[arg(long = "set", value_name = "FIELD=VALUE", requires = "payload")]
    pub set: Vec<String>,
    /// Where to save the receipt of the withdrawal or erasure (mode 0600; never replaced)
    /// [default: beside the citizen's receipt, `<RECEIPT>.withdrawal.json` or
    /// `.erasure.json`; with --payload, `consent-<ID>.withdrawal.json` or `.erasure.json`].
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Print only the result, not the receipt's checks.
    #[arg(long, short)]
    pub quiet: bool,
    /// Who signs (with --payload).
    #[command(flatten)]
    pub signer: SignerArgs,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Runs a `consent` subcommand.
pub fn run(command: ConsentCommand) -> anyhow::Result<()> {
    match command {
        ConsentCommand::Record(args) => record(args),
        ConsentCommand::Show(args) => show(args),
        ConsentCommand::Withdraw(args) => end(args, End::Withdraw),
        ConsentCommand::Erase(args) => end(args, End::Erase),
    }
}

/// Refuses to go on when `path` exists: what would be written there is shown only once.
fn refuse_existing(path: &Path, flag: &str) -> anyhow::Result<()> {
    if path.exists() {
        bail!(
            "{} exists: move it or choose another {flag} (a receipt is never replaced)",
            path.display()
        );
    }
    Ok(())
}

/// Saves a JSON document, mode 0600, never over an existing file.
fn save(path: &Path, document: &Value) -> anyhow::Result<()> {
    let text = format!("{}\n", serde_json::to_string_pretty(document)?);
    super::write_secret(path, &text, false).with_context(|| format!("writing {}", path.display()))
}

fn record(args: RecordArgs) -> anyhow::Result<()> {
    let settings = client::resolve_from_process(&args.client, Some(&args.signer))?;
    if let Some(out) = &args.out {
        refuse_existing(out, "--out")?;
    }
    let mut body = payload::load(&args.payload)?;
    let envelope = payload::sign(&settings, CONSENT_TYPE, &mut body)?;
    // A signed statement needs no token; the server ignores none, so send none.
    let client = Client::new(&settings).with_token(None);
    let vkey = client.log_vkey(settings.vkey.as_deref())?;
    let (_, answer): (u16, Value) = client::send_json(&client, "POST", "/v1/consents", &envelope)?;
    let id = answer["consent_id"]
        .as_str()
        .context("the answer names no consent_id")?
        .to_owned();
    // The secret is shown once: the receipt is saved before anything else can fail, and
    // printed rather than lost if it cannot be.
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("consent-{id}.citizen-receipt.json")));
    if let Err(e) = save(&out, &answer) {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Err(e.context("the citizen's receipt is printed above"));
    }
    client::check_receipt(&answer, &vkey, args.quiet)?;
    println!(
        "consent {id} {}, entry {}, expires at {}",
        answer["status"].as_str().unwrap_or("?"),
        answer["index"],
        answer["expires_at"].as_str().unwrap_or("?")
    );
    println!(
        "citizen's receipt saved to {}: hand it to the person, it holds their secret",
        out.display()
    );
    Ok(())
}

/// What the citizen's receipt file gives: the consent's id, the secret, and the key of the
/// log that issued it.
struct CitizenReceipt {
    id: String,
    secret: String,
    vkey: Option<String>,
}

impl CitizenReceipt {
    fn read(path: &Path) -> anyhow::Result<Self> {
        let doc = payload::read_object(path)?;
        let field = |name: &str| {
            doc.get(name).and_then(Value::as_str).map(str::to_owned).with_context(|| {
                format!(
                    "{} has no {name}: it is not a citizen's receipt (the file `datapole consent record` saved)",
                    path.display()
                )
            })
        };
        Ok(Self {
            id: field("consent_id")?,
            secret: field("citizen_secret")?,
            vkey: doc
                .get("receipt")
                .and_then(|r| r["log"]["vkey"].as_str())
                .map(str::to_owned),
        })
    }

    /// Refuses to send the secret to another log than the one that issued the receipt (the
    /// log's key: pinned, or the one the server names).
    fn check_log(&self, vkey: &str) -> anyhow::Result<()> {
        match &self.vkey {
            Some(issuer) if issuer != vkey => bail!(
                "the receipt was issued by the log {issuer}, not by this server's ({vkey}): the citizen's secret is not sent"
            ),
            _ => Ok(()),
        }
    }
}

/// Verifies the receipt of each item of a list; the number verified.
fn check_all(items: &[Value], vkey: &str) -> anyhow::Result<usize> {
    for item in items {
        client::check_receipt(item, vkey, true)
            .with_context(|| format!("the receipt of entry {}", item["index"]))?;
    }
    Ok(items.len())
}

fn show(args: ShowArgs) -> anyhow::Result<()> {
    let settings = client::resolve_from_process(&args.client, None)?;
    let citizen = CitizenReceipt::read(&args.receipt)?;
    let client = Client::new(&settings).with_token(Some(citizen.secret.clone()));
    let vkey = client.log_vkey(settings.vkey.as_deref())?;
    citizen.check_log(&vkey)?;
    let consent: Value = client.get_json(&format!("/v1/consents/{}", citizen.id))?;
    let mut accesses = Vec::new();
    let mut after: Option<u64> = None;
    loop {
        let page: Value = client.get_json(&match after {
            Some(a) => format!("/v1/consents/{}/accesses?after={a}", citizen.id),
            None => format!("/v1/consents/{}/accesses", citizen.id),
        })?;
        let items = page["accesses"].as_array().cloned().unwrap_or_default();
        let last = items.last().and_then(|a| a["index"].as_u64());
        accesses.extend(items);
        match (page["truncated"].as_bool(), last) {
            (Some(true), Some(last)) => after = Some(last),
            _ => break,
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&consent)?);
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"accesses": accesses}))?
        );
        return Ok(());
    }
    let events = consent["events"].as_array().cloned().unwrap_or_default();
    let verified = check_all(&events, &vkey)? + check_all(&accesses, &vkey)?;
    let text = |v: &Value| v.as_str().unwrap_or("?").to_owned();
    println!(
        "consent {} recorded by {} at entry {}: {}",
        citizen.id,
        text(&consent["controller_name"]),
        consent["index"],
        text(&consent["status"])
    );
    println!(
        "recorded at {}, expires at {}",
        text(&consent["recorded_at"]),
        text(&consent["expires_at"])
    );
    for e in &events {
        let by = e["initiated_by"]
            .as_str()
            .map(|b| format!(" by the {b}"))
            .unwrap_or_default();
        println!(
            "entry {}: {}{by}, {}",
            e["index"],
            text(&e["type"]),
            text(&e["time"])
        );
    }
    for a in &accesses {
        println!(
            "entry {}: {} {} by {} ({})",
            a["index"],
            text(&a["decision"]),
            text(&a["action"]),
            text(&a["accessor_name"]),
            text(&a["reason"])
        );
    }
    println!("{verified} receipts verified");
    Ok(())
}

/// A withdrawal or an erasure.
#[derive(Debug, Clone, Copy)]
enum End {
    Withdraw,
    Erase,
}

impl End {
    fn path(self) -> &'static str {
        match self {
            End::Withdraw => "withdraw",
            End::Erase => "erase",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            End::Withdraw => ".withdrawal.json",
            End::Erase => ".erasure.json",
        }
    }

    fn payload_type(self) -> &'static str {
        match self {
            End::Withdraw => WITHDRAWAL_TYPE,
            End::Erase => ERASURE_TYPE,
        }
    }
}

fn end(args: EndArgs, what: End) -> anyhow::Result<()> {
    let settings = client::resolve_from_process(&args.client, Some(&args.signer))?;
    let base = Client::new(&settings);
    let vkey = base.log_vkey(settings.vkey.as_deref())?;
    let (id, client, body, default_out) = match (&args.receipt, &args.payload) {
        (Some(receipt), _) => {
            let citizen = CitizenReceipt::read(receipt)?;
            citizen.check_log(&vkey)?;
            let out = client::beside(receipt, what.suffix());
            (citizen.id, base.with_token(Some(citizen.secret)), None, out)
        }
        (None, Some(path)) => {
            let mut body = payload::load(&PayloadArgs {
                payload: path.clone(),
                set: args.set.clone(),
            })?;
            let id = body
                .get("consent_id")
                .and_then(Value::as_str)
                .with_context(|| {
                    format!(
                        "{} has no consent_id: set it with --set consent_id=ID",
                        path.display()
                    )
                })?
                .to_owned();
            let envelope = payload::sign(&settings, what.payload_type(), &mut body)?;
            let out = PathBuf::from(format!("consent-{id}{}", what.suffix()));
            // The signed statement is the controller's proof: no Authorization with it.
            (id, base.with_token(None), Some(envelope), out)
        }
        (None, None) => bail!("give --receipt (the citizen) or --payload (the controller)"),
    };
    let out = args.out.clone().unwrap_or(default_out);
    refuse_existing(&out, "--out")?;
    let target = format!("/v1/consents/{id}/{}", what.path());
    let (_, answer): (u16, Value) = match body {
        Some(envelope) => client::send_json(&client, "POST", &target, &envelope)?,
        None => {
            let url = client.url(&target);
            let response = client::answer(&url, client.request("POST", &target).call())?;
            (response.status(), client::json(&url, response)?)
        }
    };
    save(&out, &answer)?;
    client::check_receipt(&answer, &vkey, args.quiet)?;
    println!(
        "consent {id} {} by the {}, entry {}",
        answer["status"].as_str().unwrap_or("?"),
        answer["initiated_by"].as_str().unwrap_or("?"),
        answer["index"]
    );
    println!("receipt saved to {}", out.display());
    Ok(())
}
