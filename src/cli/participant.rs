//! `datapole participant ...`: the operator's commands about participants. (Minimal: the
//! changes of a registered participant; registration and `show` join them.)

use clap::Subcommand;

use super::participant_change::{self, ReissueTokenArgs, RolesArgs};

/// The `participant` subcommands.
#[derive(Debug, Subcommand)]
pub enum ParticipantCommand {
    /// Add or remove a participant's roles (a logged `participant_roles` entry); verifies the
    /// entry's receipt.
    Roles(Box<RolesArgs>),
    /// Issue a participant a new API token, revoking the previous one (a logged
    /// `participant_token` entry that does not carry the token); verifies the entry's receipt.
    ReissueToken(Box<ReissueTokenArgs>),
}

/// Runs a `participant` subcommand.
pub fn run(command: ParticipantCommand) -> anyhow::Result<()> {
    match command {
        ParticipantCommand::Roles(args) => participant_change::run_roles(*args),
        ParticipantCommand::ReissueToken(args) => participant_change::run_reissue_token(*args),
    }
}
