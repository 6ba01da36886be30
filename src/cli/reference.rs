//! The reference documents generated from the code: `docs/reference/cli.md` from the clap
//! definitions ([`super::command`]) and `docs/reference/errors.md` from the error codes
//! ([`Code`]) and the reasons of an access decision ([`Reason`]).
//!
//! Plain functions from the definitions to Markdown, deterministic whatever the machine: help
//! is wrapped at [`HELP_WIDTH`] columns, unstyled, and no environment variable's value is
//! shown. `tests/reference_docs.rs` fails when the committed files drift from them;
//! [`REGENERATE`] rewrites the files.

use std::fmt::Write as _;

use clap::Command;

use crate::decision::{Reason, Verdict};
use crate::error::Code;

/// The command line reference, relative to the crate root.
pub const CLI_PATH: &str = "docs/reference/cli.md";

/// The error reference, relative to the crate root.
pub const ERRORS_PATH: &str = "docs/reference/errors.md";

/// The command that rewrites the committed documents from the code.
pub const REGENERATE: &str = "DATAPOLE_WRITE_REFERENCE=1 cargo test --test reference_docs";

/// The width the help in `cli.md` is wrapped at, whatever the terminal.
pub const HELP_WIDTH: usize = 100;

/// The prefix of the [`Code::when`] of the witness server's codes.
const WITNESS_PREFIX: &str = "Witness: ";

/// Every generated document: its path relative to the crate root, and its text.
pub fn documents() -> Vec<(&'static str, String)> {
    vec![(CLI_PATH, cli_markdown()), (ERRORS_PATH, errors_markdown())]
}

/// `docs/reference/cli.md`: `datapole` and each of its subcommands, recursively and in
/// declaration order, with its about text and its long help (`--help`).
pub fn cli_markdown() -> String {
    let mut root = stable(super::command());
    root.build();
    let mut out = String::new();
    out.push_str("# Command line reference\n\n");
    let _ = writeln!(
        out,
        "What `datapole` and each of its subcommands print for `--help` (`-h` prints a more compact \
         form), wrapped at {HELP_WIDTH} columns. This file is \
         generated from the clap definitions in `src/cli/`, and `tests/reference_docs.rs` \
         fails when it drifts from them: do not edit it by hand; after changing the command \
         line, regenerate it with `{REGENERATE}`.",
    );
    command_section(&mut out, &mut root, "datapole");
    out
}

/// The command with everything that could vary between machines fixed: the wrapping width
/// (not the terminal's, nor `COLUMNS`), no colours, and the names of environment variables
/// shown without their current values. Applied to every subcommand.
fn stable(cmd: Command) -> Command {
    cmd.term_width(HELP_WIDTH)
        .max_term_width(HELP_WIDTH)
        .color(clap::ColorChoice::Never)
        .mut_args(|arg| arg.hide_env_values(true))
        .mut_subcommands(stable)
}

/// Appends the section of `cmd` (already built, so its usage names its parents), then those
/// of its subcommands. clap's own `help` subcommand is left out: it only prints these texts.
fn command_section(out: &mut String, cmd: &mut Command, path: &str) {
    let _ = write!(out, "\n## {path}\n\n");
    if let Some(about) = cmd.get_about() {
        let _ = write!(out, "{}\n\n", inline(&about.to_string()));
    }
    // Display renders the help without styles.
    let help = cmd.render_long_help().to_string();
    let help: Vec<&str> = help.lines().map(str::trim_end).collect();
    let help = help.join("\n");
    let fence = fence_for(&help);
    let _ = writeln!(out, "{fence}text\n{}\n{fence}", help.trim_matches('\n'));
    for sub in cmd.get_subcommands_mut() {
        if sub.get_name() == "help" {
            continue;
        }
        let path = format!("{path} {}", sub.get_name());
        command_section(out, sub, &path);
    }
}

/// A code fence longer than any run of backticks in `text`.
fn fence_for(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// `docs/reference/errors.md`: every [`Code`], the log's grouped by status and the witness
/// server's apart, then every [`Reason`] of an access decision.
pub fn errors_markdown() -> String {
    let mut out = String::new();
    out.push_str("# Error codes\n\n");
    let _ = writeln!(
        out,
        "Every error answer of the log's API and of the witness server has the body \
         `{{\"error\":{{\"code\":\"…\",\"message\":\"…\",\"errors\":[{{\"field\":\"…\",\"message\":\"…\"}}]}}}}` \
         (one exception: the witness's 409 `old_size_conflict`, below). The `code` is stable \
         and machine-readable, and fixes the HTTP status; the `message` says in words what \
         went wrong in this request: act on the code, not on the message. `errors` lists \
         every broken field of the request at once, each with its JSON path \
         (`payload.purposes[1].code`, `name`) and what is wrong with it; it is empty when the \
         error is not about the request's fields. A request whose fields break several rules \
         gets 422 `invalid_field` with all of them; a statement whose only problem has a code \
         of its own (`identifier_not_pseudonymous`, `endless_consent`, `unknown_recipient` \
         ...) gets that code, its field in `errors`. Values sent are never repeated back in \
         `errors` (they may be personal data). Every 429 and 503 answer carries `Retry-After` (whole \
         seconds); a 401 `unauthorized` carries `WWW-Authenticate: Bearer`. This file is \
         generated from `src/error.rs` and `src/decision/mod.rs`, and \
         `tests/reference_docs.rs` fails when it drifts from them: do not edit it by hand; \
         regenerate it with `{REGENERATE}`.",
    );

    let log: Vec<Code> = Code::ALL
        .iter()
        .copied()
        .filter(|c| witness_when(*c).is_none())
        .collect();
    out.push_str("\n## The log's API\n");
    let mut statuses: Vec<u16> = log.iter().map(|c| c.status()).collect();
    statuses.sort_unstable();
    statuses.dedup();
    for status in statuses {
        let _ = write!(out, "\n### {status} {}\n\n", reason_phrase(status));
        table_head(&mut out, &["Status", "Code", "When"]);
        for code in log.iter().filter(|c| c.status() == status) {
            table_row(
                &mut out,
                &[&status.to_string(), &code_span(code.as_str()), code.when()],
            );
        }
        if status == 403 {
            out.push_str(
                "\n`POST /v1/accesses` also answers 403 when the access is denied: see \
                 [Access decisions](#access-decisions).\n",
            );
        }
    }

    let mut witness: Vec<(Code, &str)> = Code::ALL
        .iter()
        .filter_map(|c| witness_when(*c).map(|when| (*c, when)))
        .collect();
    witness.sort_by_key(|(c, _)| c.status());
    out.push_str("\n## The witness server\n\n");
    out.push_str(
        "`datapole witness` (c2sp.org/tlog-witness) refuses a `POST /add-checkpoint` with \
         these codes. Its other answers use the log's general codes above: an unknown route, a \
         wrong method, a body too large or too slow, a store or a server that is unavailable.\n\n",
    );
    table_head(&mut out, &["Status", "Code", "When"]);
    for (code, when) in witness {
        table_row(
            &mut out,
            &[
                &code.status().to_string(),
                &code_span(code.as_str()),
                &capitalise(when),
            ],
        );
    }

    out.push_str("\n## Access decisions\n\n");
    out.push_str(
        "`POST /v1/accesses` records every decision on the log, permit or deny, and answers \
         with it: `decision`, `reason`, `consent_id`, `emergency`, `access_id`, `index` and \
         `receipt`. A denial is answered 403 and its body also has `error`, in the usual \
         shape, whose `code` is the reason. A permit is answered 201 (202 when the log's \
         witnesses did not cosign in time), without `error`. On the `consent` basis, each \
         cited consent is checked in turn and the first that fails gives the reason.\n",
    );
    out.push_str("\n### Denials\n\n");
    table_head(&mut out, &["Status", "Code", "When"]);
    for reason in Reason::ALL.iter().filter(|r| r.verdict() == Verdict::Deny) {
        table_row(&mut out, &["403", &code_span(reason.code()), reason.when()]);
    }
    out.push_str("\n### Permits\n\n");
    table_head(&mut out, &["Reason", "When"]);
    for reason in Reason::ALL
        .iter()
        .filter(|r| r.verdict() == Verdict::Permit)
    {
        table_row(&mut out, &[&code_span(reason.code()), reason.when()]);
    }
    out
}

/// A witness code's meaning without its prefix; `None` for the log's codes.
fn witness_when(code: Code) -> Option<&'static str> {
    code.when().strip_prefix(WITNESS_PREFIX)
}

/// The standard reason phrase of an HTTP status.
fn reason_phrase(status: u16) -> &'static str {
    actix_web::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn code_span(code: &str) -> String {
    format!("`{code}`")
}

fn table_head(out: &mut String, columns: &[&str]) {
    let _ = writeln!(out, "| {} |", columns.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(columns.len()));
}

fn table_row(out: &mut String, cells: &[&str]) {
    let cells: Vec<String> = cells.iter().map(|c| cell(c)).collect();
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

/// Text for a table cell: one line, `|` escaped (also inside code spans, as GitHub's tables
/// need).
fn cell(text: &str) -> String {
    inline(text).replace(['\r', '\n'], " ").replace('|', "\\|")
}

/// Text for Markdown prose: `<` outside code spans would open an HTML tag.
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_code = false;
    for c in text.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                out.push(c);
            }
            '<' if !in_code => out.push_str("&lt;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documents_are_deterministic() {
        assert_eq!(documents(), documents());
    }

    #[test]
    fn help_is_wrapped_at_the_fixed_width() {
        let cli = cli_markdown();
        let mut in_block = false;
        for line in cli.lines() {
            if line.starts_with("```") {
                in_block = !in_block;
            } else if in_block {
                assert!(line.chars().count() <= HELP_WIDTH, "too wide: {line:?}");
                assert!(!line.contains('\u{1b}'), "styled: {line:?}");
            }
        }
        assert!(!in_block, "an unclosed block");
    }

    /// The arguments read from an environment variable, in `cmd` and its subcommands, and
    /// whether each hides the variable's value.
    fn env_args(cmd: &Command) -> Vec<(String, bool)> {
        let mut found: Vec<(String, bool)> = cmd
            .get_arguments()
            .filter(|a| a.get_env().is_some())
            .map(|a| (a.get_id().to_string(), a.is_hide_env_values_set()))
            .collect();
        for sub in cmd.get_subcommands() {
            found.extend(env_args(sub));
        }
        found
    }

    #[test]
    fn environment_values_are_never_shown() {
        let mut cmd = stable(
            Command::new("t")
                .arg(clap::Arg::new("a").long("a").env("DATAPOLE_REFERENCE_A"))
                .subcommand(
                    Command::new("s")
                        .arg(clap::Arg::new("b").long("b").env("DATAPOLE_REFERENCE_B")),
                ),
        );
        cmd.build();
        assert_eq!(
            env_args(&cmd),
            [("a".to_owned(), true), ("b".to_owned(), true)]
        );
        // And on the real command line, whether it has such arguments or not.
        let mut root = stable(crate::cli::command());
        root.build();
        assert!(env_args(&root).iter().all(|(_, hidden)| *hidden));
        // A variable that is set (PATH, read only) is named, its value not shown.
        if std::env::var_os("PATH").is_some() {
            let help = stable(Command::new("t").arg(clap::Arg::new("p").long("p").env("PATH")))
                .render_long_help()
                .to_string();
            assert!(help.contains("[env: PATH]"), "{help}");
            assert!(!help.contains("PATH="), "{help}");
        }
    }

    #[test]
    fn the_help_subcommand_is_left_out() {
        let cli = cli_markdown();
        assert!(cli.contains("\n## datapole serve\n"));
        assert!(!cli.contains("\n## datapole help"));
    }

    #[test]
    fn cells_stay_in_their_column() {
        assert_eq!(cell("a | `b|c`\nd"), "a \\| `b\\|c` d");
        assert_eq!(inline("x <y> `<z>`"), "x &lt;y> `<z>`");
    }

    #[test]
    fn the_witness_codes_are_apart() {
        let errors = errors_markdown();
        let (log, rest) = errors.split_once("\n## The witness server\n").unwrap();
        let (witness, _) = rest.split_once("\n## Access decisions\n").unwrap();
        for code in Code::ALL {
            let row = format!("| `{}` |", code.as_str());
            let (here, there) = match witness_when(*code) {
                Some(_) => (witness, log),
                None => (log, witness),
            };
            assert!(here.contains(&row), "{row}");
            assert!(!there.contains(&row), "{row}");
        }
        assert!(!errors.contains(WITNESS_PREFIX));
    }

    #[test]
    fn fences_outrun_backticks() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ``` b"), "````");
    }
}
