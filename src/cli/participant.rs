//! `datapole participant`: the operator registers a participant (`POST /v1/participants`,
//! with the admin token) and anyone reads a participant's public record
//! (`GET /v1/participants/{id}`).
//!
//! The registration's answer holds the participant's API token, shown this once: `register
//! --out FILE` writes the answer to FILE (mode 0600), which the participant's later commands
//! read with `--participant-file FILE` (the id and the token; no copying by hand).

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::client::{self, AdminArgs, Client, ClientArgs};
use super::participant_change::{self, ReissueTokenArgs, RolesArgs};
use crate::participant::Role;

/// `datapole participant` subcommands.
#[derive(Debug, Subcommand)]
pub enum ParticipantCommand {
    /// Register a participant (operator): an organisation with roles and an Ed25519 public key.
    /// The answer (its id and its API token, shown this once) goes to --out, mode 0600.
    Register(RegisterArgs),
    /// Show a participant's public record: its name, roles, public key and registration entry.
    Show(ShowArgs),
    /// Add or remove a participant's roles (operator; a logged `participant_roles` entry);
    /// verifies the entry's receipt.
    Roles(Box<RolesArgs>),
    /// Issue a participant a new API token, revoking the previous one (operator; a logged
    /// `participant_token` entry that does not carry the token); verifies the entry's receipt.
    ReissueToken(Box<ReissueTokenArgs>),
}

/// Flags of `datapole participant register`.
#[derive(Debug, Args)]
#[command(after_long_help = "\
The participant makes its key (`datapole keygen --participant --out KEY.pem` prints the public \
key) and gives the operator the public key only. For example:

  datapole participant register --name \"CHU de Toulouse\" --role controller --role depositor \\
    --public-key \"$(datapole keygen --participant --out hospital.pem)\" --out hospital.json

then the participant's commands take --participant-file hospital.json --key hospital.pem.")]
pub struct RegisterArgs {
    /// The organisation's name (1 to 200 characters).
    #[arg(long)]
    pub name: String,
    /// A role: depositor, controller, accessor or auditor (repeatable; at least one).
    #[arg(long = "role", value_name = "ROLE", required = true, value_parser = parse_role)]
    pub roles: Vec<Role>,
    /// Its Ed25519 public key, 32 bytes in standard base64 (what `datapole keygen
    /// --participant` prints).
    #[arg(long, value_name = "BASE64")]
    pub public_key: String,
    /// Where to write the answer (participant id, entry, checkpoint, API token), mode 0600;
    /// an existing file is never replaced. The participant id alone is then printed (what
    /// was registered is said on stderr). Without --out, the answer is printed as JSON.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// The operator's admin token.
    #[command(flatten)]
    pub admin: AdminArgs,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Flags of `datapole participant show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The participant id.
    pub id: uuid::Uuid,
    /// Print the record as the server answers it (JSON).
    #[arg(long)]
    pub json: bool,
    /// The server.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// A role's name, as the API spells it.
fn parse_role(text: &str) -> Result<Role, String> {
    serde_json::from_value(Value::String(text.to_owned()))
        .map_err(|_| "the roles are depositor, controller, accessor and auditor".to_owned())
}

/// Runs a `participant` subcommand.
pub fn run(command: ParticipantCommand) -> anyhow::Result<()> {
    match command {
        ParticipantCommand::Register(args) => register(args),
        ParticipantCommand::Show(args) => show(args),
        ParticipantCommand::Roles(args) => participant_change::run_roles(*args),
        ParticipantCommand::ReissueToken(args) => participant_change::run_reissue_token(*args),
    }
}

fn register(args: RegisterArgs) -> anyhow::Result<()> {
    let settings = client::resolve_admin_from_process(&args.client, &args.admin)?;
    if let Some(out) = &args.out {
        if out.exists() {
            bail!(
                "{} exists: move it or choose another --out (it may hold a token shown only once)",
                out.display()
            );
        }
    }
    let admin = settings.admin_token()?;
    let client = Client::new(&settings).with_token(Some(admin));
    let roles: Vec<&str> = args.roles.iter().map(|r| r.as_str()).collect();
    let body = json!({"name": args.name, "roles": roles, "public_key": args.public_key});
    let (_, answer): (u16, Value) = client::send_json(
        &client,
        "POST",
        "/v1/participants",
        &serde_json::to_vec(&body)?,
    )?;
    let id = answer["participant_id"]
        .as_str()
        .context("the answer names no participant_id")?;
    let text = format!("{}\n", serde_json::to_string_pretty(&answer)?);
    match &args.out {
        None => print!("{text}"),
        Some(out) => {
            if let Err(e) = super::write_secret(out, &text, false) {
                // The token is shown only once: rather on the terminal than lost.
                print!("{text}");
                bail!(
                    "writing {}: {e} (the answer is printed above)",
                    out.display()
                );
            }
            // The id alone on stdout, for `ID=$(datapole participant register ...)`.
            println!("{id}");
            eprintln!(
                "participant {id} registered at entry {}: {} ({})",
                answer["index"],
                args.name.trim(),
                roles.join(", ")
            );
            eprintln!(
                "its id and API token (shown this once) are in {}: its commands take --participant-file {}",
                out.display(),
                out.display()
            );
        }
    }
    Ok(())
}

fn show(args: ShowArgs) -> anyhow::Result<()> {
    let settings = client::resolve_from_process(&args.client, None)?;
    let client = Client::new(&settings).with_token(None);
    let record: Value = client.get_json(&format!("/v1/participants/{}", args.id))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&record)?);
        return Ok(());
    }
    let roles: Vec<&str> = record["roles"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    println!(
        "participant {}: {}",
        args.id,
        record["name"].as_str().unwrap_or("?")
    );
    println!("roles: {}", roles.join(", "));
    println!(
        "public key: {}",
        record["public_key"].as_str().unwrap_or("?")
    );
    println!(
        "registered at {}, entry {}",
        record["registered_at"].as_str().unwrap_or("?"),
        record["index"]
    );
    Ok(())
}
