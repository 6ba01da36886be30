//! The documentation's shell blocks, run against the real binary: the README (its quick start
//! and its deposit from end to end) and every walkthrough under `docs/guide/`. A command that
//! no longer works, a field that was renamed, an answer that changed: the test fails with the
//! file, the block's line, the block and what it printed.
//!
//! How the files are read:
//!
//! - A fenced block whose info string is exactly `sh` runs. `sh no-run` does not (the quick
//!   start's `cargo run --release -- serve` would build a release binary; `cargo test` would
//!   run this test again). `sh expect-error` runs, and every `curl` in it must get an HTTP
//!   error status (4xx or 5xx): it shows a refusal. Any other shell-like info string (`bash`,
//!   `shell`, `console`) or a fence without one fails the test, so that no block escapes it by
//!   its spelling.
//! - A block `json output` or `text output` right after a run block (blank lines between at
//!   most) is what that block prints, and is checked. JSON: the same values in the same shape,
//!   except that a string with `…` matches any text in its place, and a UUID or an RFC 3339
//!   time in the docs matches any UUID or time. Text: the same lines, `…` matching any text.
//! - Every block of one file runs in order in one `bash` session (`set -euo pipefail`), so
//!   variables and functions carry from block to block, in a fresh temporary directory, with a
//!   deadline. Before it, the test starts a fresh `datapole serve` whose data directory is
//!   `./datapole-data` there, unless the file says `<!-- docs_shell: own-server -->` (the
//!   witness and operator guides start their own servers, as a reader would).
//! - The docs say `http://127.0.0.1:8080`: the test rewrites every `127.0.0.1:<port>` in the
//!   blocks, 8080 to the test's server and every other port to a free one. A file that starts
//!   its own servers must give each a `--listen 127.0.0.1:<port>`, so that none of them takes a
//!   fixed port on the machine running the tests.
//! - `datapole` on the blocks' `PATH` is the binary under test, and the temporary directory
//!   holds a copy of `examples/payloads/`, as the repository's root does.
//! - The README's blocks use the binary alone: no `curl`, `jq` or `openssl` in them (the test
//!   fails if one appears), and they run wherever `bash` does.
//! - In every block, `curl` fails on an HTTP error status (`--fail-with-body`) unless the block
//!   is `sh expect-error`, so a request the server refuses cannot pass unnoticed. A `curl` that
//!   prints its own status (`-w '%{http_code}'`) or passes `-f` itself is left as it is: what it
//!   prints is the check.
//! - The blocks use `curl`, `openssl`, `jq` and `sha256sum`; a file may need more
//!   (`<!-- docs_shell: needs python3:cryptography -->`: a command, or `python3:<module>`).
//!   When one is missing the file is skipped (`SKIPPED`), and with `DATAPOLE_REQUIRE_ALL=1`
//!   (as in CI, which installs them) that is a failure.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The walkthroughs under `docs/guide/`; `every_guide_is_run` checks that none is missing.
const GUIDES: &[&str] = &[
    "consents.md",
    "curl.md",
    "deposits.md",
    "operating.md",
    "receipts.md",
    "witnesses.md",
];

/// The tools every file's blocks may use.
const TOOLS: &[&str] = &["bash", "curl", "openssl", "jq", "sha256sum"];

/// How long one file's blocks may take in all (a liveness deadline, not a measurement).
const DEADLINE: Duration = Duration::from_secs(180);

/// The commands the README's blocks must not use: its journey is the binary's alone.
const NOT_IN_README: &[&str] = &["curl", "jq", "openssl"];

#[test]
fn readme() {
    let mut doc = Doc::read("README.md");
    // The two set-up commands a newcomer copies first stay as they are, and do not run here.
    for command in ["cargo run --release -- serve", "cargo test"] {
        assert!(
            doc.blocks
                .iter()
                .any(|b| b.info == "sh no-run" && b.text.trim() == command),
            "README.md: the quick start must keep `{command}` alone in a `sh no-run` block"
        );
    }
    for block in doc.blocks.iter().filter(|b| b.runs()) {
        let words: Vec<&str> = block
            .text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .collect();
        for tool in NOT_IN_README {
            assert!(
                !words.contains(tool),
                "README.md:{}: the README's journey uses the datapole binary alone, not `{tool}`",
                block.fence_line
            );
        }
    }
    doc.tools = &["bash"];
    run(&doc);
}

#[test]
fn guide_consents() {
    run(&Doc::read("docs/guide/consents.md"));
}

#[test]
fn guide_curl() {
    run(&Doc::read("docs/guide/curl.md"));
}

#[test]
fn guide_deposits() {
    run(&Doc::read("docs/guide/deposits.md"));
}

#[test]
fn guide_operating() {
    run(&Doc::read("docs/guide/operating.md"));
}

#[test]
fn guide_receipts() {
    run(&Doc::read("docs/guide/receipts.md"));
}

#[test]
fn guide_witnesses() {
    run(&Doc::read("docs/guide/witnesses.md"));
}

#[test]
fn every_guide_is_run() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guide");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .expect("docs/guide")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .collect();
    found.sort();
    assert_eq!(
        found, GUIDES,
        "docs/guide/ and this test's GUIDES differ: add a #[test] for the new guide"
    );
}

/// A fenced code block.
#[derive(Debug)]
struct Block {
    /// The info string after the opening fence, trimmed.
    info: String,
    /// The 1-based line number of the opening fence.
    fence_line: usize,
    /// The block's lines, without the fence's indentation.
    text: String,
    /// Whether only blank lines separate it from the block before it.
    follows_previous: bool,
}

impl Block {
    fn runs(&self) -> bool {
        self.info == "sh" || self.info == "sh expect-error"
    }

    fn output_kind(&self) -> Option<&str> {
        match self.info.as_str() {
            "json output" => Some("json"),
            "text output" => Some("text"),
            _ => None,
        }
    }
}

/// A Markdown file: its code blocks and its `docs_shell` directives.
struct Doc {
    /// The path from the repository's root.
    name: String,
    blocks: Vec<Block>,
    own_server: bool,
    needs: Vec<String>,
    /// The tools its blocks may use ([`TOOLS`] unless the test says less).
    tools: &'static [&'static str],
}

impl Doc {
    fn read(name: &str) -> Doc {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut blocks = Vec::new();
        let mut own_server = false;
        let mut needs = Vec::new();
        let mut open: Option<(usize, usize, String, bool, Vec<&str>)> = None;
        let mut blank_since_block = false;
        let mut seen_block = false;
        for (i, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if let Some((fence_line, fence_indent, info, follows, mut lines)) = open.take() {
                if trimmed.trim_end() == "```" {
                    blocks.push(Block {
                        info,
                        fence_line,
                        text: lines.join("\n") + "\n",
                        follows_previous: follows,
                    });
                    seen_block = true;
                    blank_since_block = true;
                } else {
                    lines.push(line.get(fence_indent..).unwrap_or(line.trim_start()));
                    open = Some((fence_line, fence_indent, info, follows, lines));
                }
                continue;
            }
            if let Some(info) = trimmed.strip_prefix("```") {
                let follows = seen_block && blank_since_block;
                open = Some((i + 1, indent, info.trim().to_owned(), follows, Vec::new()));
                continue;
            }
            if let Some(directive) = trimmed.strip_prefix("<!-- docs_shell:") {
                let directive = directive.trim_end().trim_end_matches("-->").trim();
                if directive == "own-server" {
                    own_server = true;
                } else if let Some(list) = directive.strip_prefix("needs ") {
                    needs.extend(list.split_whitespace().map(str::to_owned));
                } else {
                    panic!(
                        "{name}:{}: unknown docs_shell directive {directive:?}",
                        i + 1
                    );
                }
            }
            if !trimmed.is_empty() {
                blank_since_block = false;
            }
        }
        if let Some((fence_line, ..)) = open {
            panic!("{name}:{fence_line}: a code block is never closed");
        }
        for b in &blocks {
            let first = b.info.split_whitespace().next().unwrap_or("");
            assert!(
                !b.info.is_empty(),
                "{name}:{}: give the code block a language (`sh`, `sh no-run`, `json`, `text` ...)",
                b.fence_line
            );
            assert!(
                !["bash", "shell", "console", "zsh"].contains(&first),
                "{name}:{}: write shell blocks as `sh` (runs) or `sh no-run`, not `{}`",
                b.fence_line,
                b.info
            );
            assert!(
                first != "sh" || ["sh", "sh no-run", "sh expect-error"].contains(&b.info.as_str()),
                "{name}:{}: unknown shell block kind `{}`",
                b.fence_line,
                b.info
            );
        }
        Doc {
            name: name.to_owned(),
            blocks,
            own_server,
            needs,
            tools: TOOLS,
        }
    }
}

/// Whether `tool` (a command, or `python3:<module>`) is available.
fn available(tool: &str) -> bool {
    let check = match tool.split_once(':') {
        Some((python, module)) => format!("{python} -c 'import {module}' 2>/dev/null"),
        None => format!("command -v {tool} >/dev/null 2>&1"),
    };
    Command::new("sh")
        .args(["-c", &check])
        .status()
        .is_ok_and(|s| s.success())
}

/// A free port on 127.0.0.1 (free when asked: the port is released at once).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Rewrites every `127.0.0.1:<port>` in `text` with `ports`.
fn rewrite_ports(text: &str, ports: &BTreeMap<u16, u16>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("127.0.0.1:") {
        let (before, after) = rest.split_at(at + "127.0.0.1:".len());
        out.push_str(before);
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        match after[..digits]
            .parse::<u16>()
            .ok()
            .and_then(|p| ports.get(&p))
        {
            Some(port) => out.push_str(&port.to_string()),
            None => out.push_str(&after[..digits]),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// Every port named as `127.0.0.1:<port>` in `text`.
fn ports_in(text: &str) -> Vec<u16> {
    text.match_indices("127.0.0.1:")
        .filter_map(|(at, m)| {
            let after = &text[at + m.len()..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            after[..digits].parse().ok()
        })
        .collect()
}

/// Whether `number` appears in `text` as a whole number (not inside a longer one).
fn has_number(text: &str, number: u16) -> bool {
    let number = number.to_string();
    text.match_indices(&number).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + number.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// The block's commands, with lines continued by a backslash joined.
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        match line.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(line);
                lines.push(std::mem::take(&mut current));
            }
        }
    }
    lines
}

/// Run before the blocks: strict mode, the line of the first failing command, and `curl`
/// failing on HTTP errors (or, in an `expect-error` block, on their absence).
const PREAMBLE: &str = r#"set -Eeuo pipefail
trap '[[ -e "$__ds/failed_line" ]] || echo "$LINENO" > "$__ds/failed_line"' ERR
__ds_expect=
curl() {
    local arg fail=--fail-with-body rc=0
    for arg in "$@"; do
        case "$arg" in
            --fail|--fail-with-body|-[!-]*f*|*%{http_code}*|*%{response_code}*) fail= ;;
        esac
    done
    command curl ${fail:+"$fail"} "$@" || rc=$?
    if [[ -n $fail && $__ds_expect == error ]]; then
        if (( rc == 0 )); then
            echo "docs_shell: this block is sh expect-error, but curl $* got no HTTP error" >&2
            return 1
        fi
        (( rc == 22 )) && return 0
    fi
    return "$rc"
}
"#;

/// Runs `doc`'s blocks (see the module's doc) and checks their outputs.
fn run(doc: &Doc) {
    let name = &doc.name;
    let mut missing: Vec<String> = doc
        .tools
        .iter()
        .map(|t| t.to_string())
        .chain(doc.needs.iter().cloned())
        .filter(|t| !available(t))
        .collect();
    missing.dedup();
    if !missing.is_empty() {
        common::skip(
            &format!("docs_shell-{}", name.replace('/', "_")),
            &format!(
                "the shell blocks of {name} need {} (Debian: apt-get install curl openssl jq \
                 python3-cryptography)",
                missing.join(", ")
            ),
        );
        return;
    }
    let runs: Vec<&Block> = doc.blocks.iter().filter(|b| b.runs()).collect();
    assert!(!runs.is_empty(), "{name}: no `sh` block to run");

    // A server of its own for the file, unless the file starts its own.
    let work = tempfile::tempdir().expect("tempdir");
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/payloads");
    let copies = work.path().join("examples/payloads");
    std::fs::create_dir_all(&copies).expect("examples/payloads");
    for entry in std::fs::read_dir(&templates).expect("examples/payloads") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), copies.join(entry.file_name())).expect("copy a template");
    }
    let harness = tempfile::tempdir().expect("tempdir");
    let server =
        (!doc.own_server).then(|| common::Server::start(&work.path().join("datapole-data")));
    let mut ports = BTreeMap::new();
    for block in &runs {
        for port in ports_in(&block.text) {
            ports.entry(port).or_insert_with(|| match &server {
                Some(s) if port == 8080 => s
                    .base
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("the server's port"),
                _ => free_port(),
            });
        }
    }
    for block in &runs {
        let rewritten = rewrite_ports(&block.text, &ports);
        for (from, to) in &ports {
            assert!(
                from == to || !has_number(&rewritten, *from),
                "{name}:{}: port {from} appears without `127.0.0.1:` before it, so the test \
                 cannot give it a free port: write it as 127.0.0.1:{from}",
                block.fence_line
            );
        }
        if doc.own_server {
            for line in logical_lines(&block.text) {
                let starts_server =
                    line.contains("datapole serve") || line.contains("datapole witness ");
                assert!(
                    !starts_server || line.contains("--listen 127.0.0.1:"),
                    "{name}:{}: a server started here needs `--listen 127.0.0.1:<port>`: {line}",
                    block.fence_line
                );
            }
        }
    }

    // One script: the preamble, then each block in a group whose output goes to its own files.
    let hdir = harness.path();
    let mut script = format!("__ds='{}'\n{PREAMBLE}", hdir.display());
    let mut line_map = Vec::new(); // (first script line, block number)
    for (n, block) in runs.iter().enumerate() {
        let expect = if block.info == "sh expect-error" {
            "error"
        } else {
            ""
        };
        let _ = writeln!(script, "__ds_expect={expect}\n{{");
        line_map.push((script.lines().count() + 1, n));
        script.push_str(&rewrite_ports(&block.text, &ports));
        let _ = writeln!(script, "}} > \"$__ds/out.{n}\" 2> \"$__ds/err.{n}\"");
    }
    script.push_str(": > \"$__ds/done\"\n");
    let script_path = hdir.join("blocks.sh");
    std::fs::write(&script_path, &script).expect("write script");

    let bin_dir = Path::new(common::binary()).parent().expect("binary dir");
    let path = std::env::join_paths(std::iter::once(bin_dir.to_owned()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("PATH");
    let outside = std::fs::File::create(hdir.join("outside")).expect("file");
    let mut child = Command::new("bash")
        .arg(&script_path)
        .current_dir(work.path())
        .env("PATH", path)
        .env_remove("DATAPOLE_ADMIN_TOKEN")
        .stdin(Stdio::null())
        .stdout(outside.try_clone().expect("file"))
        .stderr(outside)
        .process_group(0)
        .spawn()
        .expect("bash starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > DEADLINE {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Whatever the blocks left running (servers, witnesses) ends with the session.
    let group = format!("-{}", child.id());
    let kill = |signal: &str| {
        let _ = Command::new("kill")
            .args([signal, "--", &group])
            .stderr(Stdio::null())
            .status();
    };
    kill("-TERM");
    std::thread::sleep(Duration::from_millis(300));
    kill("-KILL");
    let _ = child.wait();

    let read = |file: &str| std::fs::read_to_string(hdir.join(file)).unwrap_or_default();
    if !hdir.join("done").exists() {
        let reached = (0..runs.len())
            .rev()
            .find(|n| hdir.join(format!("out.{n}")).exists());
        let mut report = format!("{name}: ");
        match status {
            None => {
                let _ = write!(report, "the blocks did not finish within {DEADLINE:?}");
            }
            Some(s) => {
                let _ = write!(report, "a shell block failed ({s})");
            }
        }
        match reached {
            None => {
                let _ = write!(report, " before its first block:\n{}", read("outside"));
            }
            Some(n) => {
                let block = runs[n];
                let first = block.fence_line + 1;
                let _ = write!(
                    report,
                    "\n\nblock {} of {}, at {name}:{first}:\n",
                    n + 1,
                    runs.len()
                );
                for (i, line) in block.text.lines().enumerate() {
                    let _ = writeln!(report, "{:>5} | {line}", first + i);
                }
                let failed_line = read("failed_line").trim().parse::<usize>().ok();
                // The line may be in an earlier block: the body of a function defined there.
                if let Some(doc_line) = failed_line.and_then(|l| {
                    let (start, m) = line_map.iter().rev().find(|(s, _)| *s <= l)?;
                    Some(runs[*m].fence_line + 1 + (l - start))
                }) {
                    let _ = writeln!(
                        report,
                        "\nthe failing command is at or near {name}:{doc_line}"
                    );
                }
                let _ = write!(
                    report,
                    "\n--- its stdout:\n{}\n--- its stderr:\n{}",
                    tail(&read(&format!("out.{n}"))),
                    tail(&read(&format!("err.{n}")))
                );
            }
        }
        if let Some(server) = &server {
            let log =
                std::fs::read_to_string(server.data_dir.with_extension("log")).unwrap_or_default();
            let _ = write!(
                report,
                "\n--- the server's log, last lines:\n{}",
                tail(&log)
            );
        }
        panic!("{report}");
    }

    // The outputs the docs show.
    for (i, block) in doc.blocks.iter().enumerate() {
        let Some(kind) = block.output_kind() else {
            continue;
        };
        let previous = i.checked_sub(1).map(|p| &doc.blocks[p]);
        let Some(n) = previous
            .filter(|p| block.follows_previous && p.runs())
            .and_then(|p| runs.iter().position(|r| std::ptr::eq(*r, p)))
        else {
            panic!(
                "{name}:{}: an output block must come right after the `sh` block it shows",
                block.fence_line
            );
        };
        let shown = rewrite_ports(&block.text, &ports);
        let actual = read(&format!("out.{n}"));
        let outcome = match kind {
            "json" => check_json(&shown, &actual),
            _ => check_text(&shown, &actual),
        };
        if let Err(why) = outcome {
            panic!(
                "{name}:{}: the block at line {} does not print what the docs show: {why}\n\
                 --- the docs show:\n{shown}--- it printed:\n{}",
                block.fence_line,
                runs[n].fence_line,
                tail(&actual)
            );
        }
    }
    drop(server);
}

/// The end of a long text.
fn tail(text: &str) -> String {
    const MAX: usize = 6000;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut cut = text.len() - MAX;
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    format!("[… {cut} bytes]\n{}", &text[cut..])
}

/// Every JSON value in `text`, in order.
fn json_values(text: &str) -> Result<Vec<Value>, String> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not a sequence of JSON values ({e})"))
}

fn check_json(shown: &str, actual: &str) -> Result<(), String> {
    let shown = json_values(shown).map_err(|e| format!("the docs' output is {e}"))?;
    let actual = json_values(actual).map_err(|e| format!("the output is {e}"))?;
    if shown.len() != actual.len() {
        return Err(format!(
            "{} JSON values shown, {} printed",
            shown.len(),
            actual.len()
        ));
    }
    for (s, a) in shown.iter().zip(&actual) {
        same_json(s, a, "$")?;
    }
    Ok(())
}

/// Whether `actual` matches what the docs show (`shown`), as the module's doc says.
fn same_json(shown: &Value, actual: &Value, at: &str) -> Result<(), String> {
    match (shown, actual) {
        (Value::Object(s), Value::Object(a)) => {
            let sk: Vec<&String> = s.keys().collect();
            let ak: Vec<&String> = a.keys().collect();
            if sk != ak {
                return Err(format!("at {at}: keys {sk:?} shown, {ak:?} printed"));
            }
            for (k, v) in s {
                same_json(v, &a[k], &format!("{at}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(s), Value::Array(a)) => {
            if s.len() != a.len() {
                return Err(format!(
                    "at {at}: {} items shown, {} printed",
                    s.len(),
                    a.len()
                ));
            }
            for (i, (sv, av)) in s.iter().zip(a).enumerate() {
                same_json(sv, av, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        (Value::String(s), Value::String(a)) if same_text(s, a) => Ok(()),
        (s, a) if s == a => Ok(()),
        (s, a) => Err(format!("at {at}: {s} shown, {a} printed")),
    }
}

/// A UUID's shape: 8-4-4-4-12 hex digits.
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_time(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// `shown` and `actual` are the same text, `…` in `shown` matching any text; or both are
/// UUIDs, or both RFC 3339 times.
fn same_text(shown: &str, actual: &str) -> bool {
    if (is_uuid(shown) && is_uuid(actual)) || (is_time(shown) && is_time(actual)) {
        return true;
    }
    let mut parts = shown.split('…');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = actual.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

fn check_text(shown: &str, actual: &str) -> Result<(), String> {
    let shown: Vec<&str> = shown.lines().collect();
    let actual: Vec<&str> = actual.lines().collect();
    if shown.len() != actual.len() {
        return Err(format!(
            "{} lines shown, {} printed",
            shown.len(),
            actual.len()
        ));
    }
    for (i, (s, a)) in shown.iter().zip(&actual).enumerate() {
        if !same_text(s, a) {
            return Err(format!("line {}: {s:?} shown, {a:?} printed", i + 1));
        }
    }
    Ok(())
}

#[test]
fn text_matching_follows_the_convention() {
    assert!(same_text("dpt_…", "dpt_3KS7abc"));
    assert!(same_text("a…b…c", "a12b34c"));
    assert!(!same_text("a…b…c", "a12b34"));
    assert!(same_text("…", ""));
    assert!(!same_text("abc", "abd"));
    assert!(same_text(
        "01a2235b-0d21-7265-abf1-7ec45ae624b6",
        "01a22d7b-d6bb-7151-b5b2-0e8a614ec290"
    ));
    assert!(same_text(
        "2026-11-28T18:11:39.425Z",
        "2027-01-01T00:00:00Z"
    ));
    assert!(!same_text("2026-11-28T18:11:39.425Z", "yesterday"));
    assert!(same_json(
        &serde_json::json!({"a": 1, "b": ["x…"]}),
        &serde_json::json!({"a": 1, "b": ["xyz"]}),
        "$"
    )
    .is_ok());
    assert!(same_json(
        &serde_json::json!({"a": 1, "b": true}),
        &serde_json::json!({"a": 1, "b": false}),
        "$"
    )
    .is_err());
    assert!(same_json(
        &serde_json::json!({"a": 1}),
        &serde_json::json!({"a": 1, "c": 2}),
        "$"
    )
    .is_err());
    assert_eq!(
        rewrite_ports(
            "curl http://127.0.0.1:8080/x 127.0.0.1:8091 127.0.0.1:",
            &BTreeMap::from([(8080, 40000), (8091, 40001)])
        ),
        "curl http://127.0.0.1:40000/x 127.0.0.1:40001 127.0.0.1:"
    );
}
