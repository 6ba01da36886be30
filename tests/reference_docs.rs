//! The committed reference documents (`docs/reference/cli.md`, `docs/reference/errors.md`) are
//! the ones the code generates (`src/cli/reference.rs`). To regenerate after an intended
//! change: `DATAPOLE_WRITE_REFERENCE=1 cargo test --test reference_docs`.

use std::path::Path;

use datapole::cli::reference::{self, REGENERATE};
use datapole::decision::{Reason, Verdict};
use datapole::error::Code;

/// Where the committed and the generated text first differ, for the failure message.
fn first_difference(committed: &str, generated: &str) -> String {
    let mut committed_lines = committed.lines();
    let mut generated_lines = generated.lines();
    for n in 1.. {
        match (committed_lines.next(), generated_lines.next()) {
            (None, None) => break,
            (c, g) if c == g => continue,
            (c, g) => return format!("line {n}: committed {c:?}, generated {g:?}"),
        }
    }
    "line endings differ".to_owned()
}

#[test]
fn committed_reference_documents_match_the_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let write = std::env::var_os("DATAPOLE_WRITE_REFERENCE").is_some();
    let mut drifted = Vec::new();
    for (path, generated) in reference::documents() {
        let file = root.join(path);
        if write {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, &generated).unwrap();
            continue;
        }
        match std::fs::read_to_string(&file) {
            Ok(committed) if committed == generated => {}
            Ok(committed) => drifted.push(format!(
                "{path} ({})",
                first_difference(&committed, &generated)
            )),
            Err(e) => drifted.push(format!("{path} ({e})")),
        }
    }
    assert!(
        drifted.is_empty(),
        "the reference differs from the code: {}; run `{REGENERATE}` and review the diff",
        drifted.join("; ")
    );
}

/// The table rows of a generated document that start with `prefix`.
fn rows<'a>(text: &'a str, prefix: &'a str) -> impl Iterator<Item = &'a str> {
    text.lines().filter(move |l| l.starts_with(prefix))
}

#[test]
fn every_code_and_every_reason_has_one_row() {
    let errors = reference::errors_markdown();
    for code in Code::ALL {
        let row = format!("| {} | `{}` | ", code.status(), code.as_str());
        assert_eq!(rows(&errors, &row).count(), 1, "{row}");
    }
    for reason in Reason::ALL {
        let row = match reason.verdict() {
            Verdict::Deny => format!("| 403 | `{}` | ", reason.code()),
            Verdict::Permit => format!("| `{}` | ", reason.code()),
        };
        assert_eq!(rows(&errors, &row).count(), 1, "{row}");
    }
    // Nothing else: one row per code and reason, none invented.
    let all_rows = errors.lines().filter(|l| l.starts_with("| ")).count();
    let headers = errors.lines().filter(|l| l.starts_with("|---|")).count();
    assert_eq!(all_rows - headers, Code::ALL.len() + Reason::ALL.len());
}

#[test]
fn every_subcommand_has_its_section() {
    let cli = reference::cli_markdown();
    fn visit(cmd: &clap::Command, path: &str, cli: &str) {
        let heading = format!("\n## {path}\n");
        assert_eq!(cli.matches(&heading).count(), 1, "{heading}");
        let usage = format!("\nUsage: {path}");
        assert!(cli.contains(&usage), "{usage}");
        for sub in cmd.get_subcommands() {
            visit(sub, &format!("{path} {}", sub.get_name()), cli);
        }
    }
    let root = datapole::cli::command();
    assert!(root.get_subcommands().count() >= 6);
    visit(&root, "datapole", &cli);
}
