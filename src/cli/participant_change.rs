//! `datapole participant roles` and `datapole participant reissue-token`: the operator's
//! changes of a registered participant, over `POST /v1/participants/{id}/roles` and
//! `POST /v1/participants/{id}/token` with the admin token. Each answer carries the change
//! entry's receipt, verified here against the log's key before anything is reported.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::client::{self, AdminArgs, ApiError, Client, ClientArgs};
use crate::participant::Role;
use crate::verify::receipt::verify_document;

/// `datapole participant roles ID --add ROLE --remove ROLE`.
#[derive(Debug, Clone, Args)]
pub struct RolesArgs {
    /// The participant's id.
    #[arg(value_name = "ID")]
    pub id: Uuid,
    /// A role to give it (repeatable): depositor, controller, accessor or auditor.
    #[arg(long = "add", value_name = "ROLE", value_parser = parse_role)]
    pub add: Vec<Role>,
    /// A role to take from it (repeatable).
    #[arg(long = "remove", value_name = "ROLE", value_parser = parse_role)]
    pub remove: Vec<Role>,
    /// The server and the log's key (`--token` is not used: the admin token is).
    #[command(flatten)]
    pub client: ClientArgs,
    /// The operator's admin token.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// `datapole participant reissue-token ID [--out FILE]`.
#[derive(Debug, Clone, Args)]
pub struct ReissueTokenArgs {
    /// The participant's id.
    #[arg(value_name = "ID")]
    pub id: Uuid,
    /// Where to write the new token (mode 0600; an existing file is not replaced). Without
    /// it the token is printed on stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The server and the log's key (`--token` is not used: the admin token is).
    #[command(flatten)]
    pub client: ClientArgs,
    /// The operator's admin token.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// A role by its name, as in JSON.
fn parse_role(name: &str) -> Result<Role, String> {
    serde_json::from_value(Value::String(name.to_owned())).map_err(|_| {
        format!("{name:?} is not a role: use depositor, controller, accessor or auditor")
    })
}

/// The answer to a change of roles, as read here.
#[derive(Deserialize)]
struct RolesChanged {
    seq: u64,
    added: Vec<Role>,
    removed: Vec<Role>,
    roles: Vec<Role>,
    index: u64,
    receipt: Value,
}

/// The answer to a reissue, as read here.
#[derive(Deserialize)]
struct TokenReissued {
    seq: u64,
    token: u64,
    api_token: String,
    index: u64,
    receipt: Value,
}

/// An admin POST with a JSON body (`None`: no body); its JSON answer.
fn post(
    client: &Client,
    admin: &str,
    target: &str,
    body: Option<Value>,
) -> Result<Value, ApiError> {
    let url = client.url(target);
    let request = client
        .request("POST", target)
        .set("Authorization", &format!("Bearer {admin}"));
    let result = match body {
        Some(body) => request.send_json(body),
        None => request.call(),
    };
    client::json(&url, client::answer(&url, result)?)
}

/// Verifies `receipt` against `vkey` and that it is of participant `id`'s change of type
/// `kind`; prints the checks.
fn check_receipt(receipt: &Value, vkey: &str, id: Uuid, kind: &str) -> anyhow::Result<()> {
    let (report, receipt) = verify_document(receipt, Some(vkey)).context("the answer's receipt")?;
    client::print_checks(&report);
    if !report.ok() {
        bail!("the change's receipt does not verify: the change may not be what the log recorded");
    }
    let leaf = receipt.leaf_bytes().context("the receipt's leaf")?;
    match crate::entry::Entry::from_bytes(&leaf) {
        Ok(crate::entry::Entry::ParticipantChange(c))
            if c.participant == id && c.kind.as_str() == kind => {}
        _ => bail!("the receipt is not of a {kind} entry of participant {id}"),
    }
    Ok(())
}

fn names(roles: &[Role]) -> String {
    if roles.is_empty() {
        return "none".to_owned();
    }
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `datapole participant roles`.
pub fn run_roles(args: RolesArgs) -> anyhow::Result<()> {
    if args.add.is_empty() && args.remove.is_empty() {
        bail!("nothing to change: give --add ROLE or --remove ROLE");
    }
    let settings = client::resolve_admin_from_process(&args.client, &args.admin)?;
    let admin = settings.admin_token()?;
    let client = Client::new(&settings);
    let vkey = client.log_vkey(settings.vkey.as_deref())?;
    let body = json!({ "add": args.add, "remove": args.remove });
    let answer = post(
        &client,
        &admin,
        &format!("/v1/participants/{}/roles", args.id),
        Some(body),
    )?;
    let changed: RolesChanged =
        serde_json::from_value(answer).context("the server's answer is not a change of roles")?;
    check_receipt(&changed.receipt, &vkey, args.id, "participant_roles")?;
    let mut what = Vec::new();
    if !changed.added.is_empty() {
        what.push(format!("added {}", names(&changed.added)));
    }
    if !changed.removed.is_empty() {
        what.push(format!("removed {}", names(&changed.removed)));
    }
    println!(
        "participant {}: {}; its roles now: {} (change {}, entry {})",
        args.id,
        what.join(", "),
        names(&changed.roles),
        changed.seq,
        changed.index
    );
    Ok(())
}

/// Runs `datapole participant reissue-token`.
pub fn run_reissue_token(args: ReissueTokenArgs) -> anyhow::Result<()> {
    if let Some(out) = &args.out {
        if out.exists() {
            bail!(
                "{} exists: move it or choose another --out (a token file is never replaced)",
                out.display()
            );
        }
    }
    let settings = client::resolve_admin_from_process(&args.client, &args.admin)?;
    let admin = settings.admin_token()?;
    let client = Client::new(&settings);
    let vkey = client.log_vkey(settings.vkey.as_deref())?;
    let answer = post(
        &client,
        &admin,
        &format!("/v1/participants/{}/token", args.id),
        None,
    )?;
    let reissued: TokenReissued =
        serde_json::from_value(answer).context("the server's answer is not a token reissue")?;
    // The token first: the log has already revoked the old one, so losing the new one would
    // leave the participant with none.
    match &args.out {
        Some(out) => {
            super::write_secret(out, &format!("{}\n", reissued.api_token), false)
                .with_context(|| format!("writing {}", out.display()))?;
        }
        None => println!("{}", reissued.api_token),
    }
    check_receipt(&reissued.receipt, &vkey, args.id, "participant_token")?;
    if let Some(out) = &args.out {
        println!("new token written to {}", out.display());
    }
    println!(
        "participant {}: token no. {} issued, the previous one no longer works (change {}, entry {})",
        args.id, reissued.token, reissued.seq, reissued.index
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_by_their_json_names() {
        assert_eq!(parse_role("auditor"), Ok(Role::Auditor));
        assert!(parse_role("admin").unwrap_err().contains("not a role"));
        assert_eq!(names(&[]), "none");
        assert_eq!(
            names(&[Role::Depositor, Role::Auditor]),
            "depositor, auditor"
        );
    }
}
