//! The crate's architecture, checked on its source text: no two modules import each other,
//! directly or through others, and each layer names only what is below it.
//!
//! # What counts as an import
//!
//! Every `.rs` file under `src/` (but `main.rs`, a crate of its own) is read as text, with its
//! comments (`//`, `///`, `//!`, `/* */`) and literals (strings, raw strings, chars) blanked
//! out first, so that docs and messages never count. A reference is a path that starts with
//! `crate::`, `super::` or `self::`, in a `use` (grouped ones too: `use crate::{a, b::c}`) or
//! anywhere in code; `super` and `self` are resolved against the module the text is in,
//! inline modules (`mod tests { use super::*; }`) included.
//!
//! # The graphs
//!
//! One graph per module that has modules of its own in other files: the crate (`src/`) and
//! each folder (`src/api/`, `src/log/`, ...). Its nodes are that module's children (a file
//! `x.rs`, or a folder `x/` taken as a whole) and the module's own root file (`mod.rs`, or
//! `lib.rs` for the crate). A file inside child `x` that names `crate::...::y::...` where `y` is
//! a sibling makes the arrow `x -> y`; naming an item of the root file (`super::AppState`)
//! makes the arrow `x -> root`. Names outside the module belong to the graph of a module
//! above it (`src/api/consents.rs` naming `crate::decision` is the arrow `api -> decision`
//! of the crate's graph).
//!
//! The root file's own references to its children are not arrows: declaring them (`mod x;`),
//! re-exporting them (`pub use x::Y`) and wiring them together (a `routes()` naming each
//! handler, a state struct holding each part's type) is how Rust builds a module from its
//! files, and children use their root's shared items all the time, so counting both
//! directions would flag every parent and child. The root is thus a sink: it can close no
//! cycle, and a cycle is always between siblings, directly (`accesses -> consents ->
//! accesses`) or through other siblings. What this cannot see is a cycle through an item of
//! the root file (`a` uses `super::helper`, which calls `b`, which uses `a`): keep root files
//! to shared types and the wiring, and put logic in the children, where it is checked.
//! Likewise a child that glob-imports its parent (`use super::*;`) could name its siblings bare;
//! a test below forbids that glob, so every sibling is named by a path that is seen.
//!
//! A cycle is reported as a path, each arrow with the first file and line that makes it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;

/// Cycles that exist today, tolerated until they go. An entry that no longer occurs fails the
/// test, so that the list only shrinks.
const ALLOWED_CYCLES: &[&str] = &[];

/// The only top-level modules the Merkle log may name: none. It knows no entry's meaning and
/// no transport (STYLE.md: the core apart from I/O).
const LOG_MAY_USE: &[&str] = &[];

/// Where actix may be named (after `src/`): the HTTP layers and the commands that start them.
/// The witness's core, state and cosignatures stay sans-I/O: only its server is actix.
const ACTIX_MAY_APPEAR_IN: &[&str] = &["api/", "cli/", "http/", "web/", "witness/http.rs"];

/// Modules that must never name actix, whatever the list above becomes.
const NEVER_ACTIX: &[&str] = &["error.rs", "ledger/", "log/", "verify/", "witnessing/"];

/// What the domain layer must not name: it serves the HTTP API and the CLI, not the other way.
const LEDGER_MUST_NOT_USE: &[&str] = &["api", "cli", "http", "web"];

/// A source file: its path under `src/`, its text, and its text without comments and
/// literals.
struct Source {
    path: String,
    text: String,
    code: String,
}

impl Source {
    fn new(path: String, text: String) -> Self {
        let code = strip(&text);
        Self { path, text, code }
    }
}

/// A crate-internal reference, resolved to a path from the crate root.
#[derive(Debug, Clone)]
struct Reference {
    /// The file, under `src/`.
    file: String,
    /// 1-based line of the path's first segment (`crate`, `super`, `self`).
    line: usize,
    /// The resolved path, from the crate root (`["api", "consents", "load_at"]`); `*` for a
    /// glob.
    path: Vec<String>,
}

/// The module path of a file under `src/` (`api/mod.rs` → `["api"]`), `None` for files that
/// are not the library's (`main.rs`, `bin/`).
fn module_of(path: &str) -> Option<Vec<String>> {
    if path == "main.rs" || path.starts_with("bin/") || !path.ends_with(".rs") {
        return None;
    }
    let mut parts: Vec<String> = path
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    Some(parts)
}

/// `src` with comments and literals replaced by spaces (newlines kept, so lines still count).
fn strip(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let at = |i: usize| b.get(i).copied().unwrap_or('\0');
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == '/' && at(i + 1) == '/' {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
            continue;
        }
        if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            continue;
        }
        if c == 'r' && (at(i + 1) == '"' || at(i + 1) == '#') {
            // A raw string (r"..", r#".."#, and br/cr ones: their prefix letter went out as
            // it is), unless it is a raw identifier (r#type).
            let mut j = i + 1;
            while at(j) == '#' {
                j += 1;
            }
            if at(j) == '"' {
                let hashes = j - i - 1;
                let closing: Vec<char> = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                for _ in i..=j {
                    out.push(' ');
                }
                i = j + 1;
                while i < b.len() && !b[i..].starts_with(&closing) {
                    out.push(blank(b[i]));
                    i += 1;
                }
                for _ in 0..closing.len().min(b.len() - i) {
                    out.push(' ');
                }
                i += closing.len();
                continue;
            }
        }
        if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() {
                match b[i] {
                    '\\' => {
                        out.push(' ');
                        if let Some(&n) = b.get(i + 1) {
                            out.push(blank(n));
                        }
                        i += 2;
                    }
                    '"' => {
                        out.push(' ');
                        i += 1;
                        break;
                    }
                    other => {
                        out.push(blank(other));
                        i += 1;
                    }
                }
            }
            continue;
        }
        if c == '\'' {
            // A char literal ('x', '\n', '\u{1F600}', '"'), not a lifetime ('a).
            let end = if at(i + 1) == '\\' {
                (i + 3..b.len().min(i + 12)).find(|&k| b[k] == '\'')
            } else if at(i + 2) == '\'' {
                Some(i + 2)
            } else {
                None
            };
            if let Some(end) = end {
                out.extend(b[i..=end].iter().map(|&c| blank(c)));
                i = end + 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token<'a> {
    Ident(&'a str),
    PathSep,
    Punct(char),
}

/// The tokens of stripped text, each with its 1-based line. (Non-ASCII characters count as
/// identifier characters: after stripping, they can only be in identifiers.)
fn tokens(text: &str) -> Vec<(Token<'_>, usize)> {
    let b = text.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line += 1;
            i += 1;
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else if ident(c) {
            let start = i;
            while i < b.len() && ident(b[i]) {
                i += 1;
            }
            out.push((Token::Ident(&text[start..i]), line));
        } else if c == b':' && b.get(i + 1) == Some(&b':') {
            out.push((Token::PathSep, line));
            i += 2;
        } else {
            out.push((Token::Punct(char::from(c)), line));
            i += 1;
        }
    }
    out
}

fn is_ident(t: Option<&(Token, usize)>, name: &str) -> bool {
    matches!(t, Some((Token::Ident(s), _)) if *s == name)
}

fn is_punct(t: Option<&(Token, usize)>, p: char) -> bool {
    matches!(t, Some((Token::Punct(c), _)) if *c == p)
}

/// Parses a path or `use` tree at `toks[i..]` below `base`: its leaves, and where it ends.
fn use_tree(toks: &[(Token, usize)], mut i: usize, base: Vec<String>) -> (Vec<Vec<String>>, usize) {
    match toks.get(i) {
        Some((Token::Punct('{'), _)) => {
            let mut leaves = Vec::new();
            i += 1;
            loop {
                if is_punct(toks.get(i), '}') {
                    return (leaves, i + 1);
                }
                if i >= toks.len() {
                    return (leaves, i);
                }
                let (more, next) = use_tree(toks, i, base.clone());
                leaves.extend(more);
                i = next;
                if is_punct(toks.get(i), ',') {
                    i += 1;
                } else if is_punct(toks.get(i), '}') {
                    return (leaves, i + 1);
                } else {
                    return (leaves, i);
                }
            }
        }
        Some((Token::Punct('*'), _)) => {
            let mut glob = base;
            glob.push("*".into());
            (vec![glob], i + 1)
        }
        Some((Token::Ident(name), _)) => {
            let mut path = base;
            if *name != "self" {
                path.push((*name).to_owned());
            }
            i += 1;
            let deeper = toks.get(i).map(|t| &t.0) == Some(&Token::PathSep)
                && matches!(
                    toks.get(i + 1),
                    Some((Token::Ident(_) | Token::Punct('{') | Token::Punct('*'), _))
                );
            if deeper {
                return use_tree(toks, i + 1, path);
            }
            if is_ident(toks.get(i), "as") {
                i += 2;
            }
            (vec![path], i)
        }
        _ => (vec![base], i),
    }
}

/// The crate-internal references in one file, from its stripped text.
fn references(file: &str, code: &str) -> Vec<Reference> {
    let Some(module) = module_of(file) else {
        return Vec::new();
    };
    let toks = tokens(code);
    let mut found = Vec::new();
    // Inline modules open at this point, with the brace depth inside each.
    let mut inline: Vec<(&str, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < toks.len() {
        match &toks[i].0 {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Ident("mod") => {
                if let (Some((Token::Ident(name), _)), true) =
                    (toks.get(i + 1), is_punct(toks.get(i + 2), '{'))
                {
                    depth += 1;
                    inline.push((name, depth));
                    i += 3;
                    continue;
                }
            }
            Token::Ident(kw)
                if matches!(*kw, "crate" | "super" | "self")
                    && toks.get(i + 1).map(|t| &t.0) == Some(&Token::PathSep)
                    && !(i > 0 && toks[i - 1].0 == Token::PathSep) =>
            {
                let line = toks[i].1;
                let mut here: Vec<String> = module.clone();
                here.extend(inline.iter().map(|(n, _)| (*n).to_owned()));
                let mut base = if *kw == "crate" { Vec::new() } else { here };
                let mut j = i;
                let mut escaped = false;
                // The prefix: `crate::`, `self::`, `super::super::`, ...
                while toks.get(j + 1).map(|t| &t.0) == Some(&Token::PathSep) {
                    match &toks[j].0 {
                        Token::Ident("super") => {
                            if base.pop().is_none() {
                                escaped = true;
                            }
                        }
                        Token::Ident("crate" | "self") if j == i => {}
                        _ => break,
                    }
                    j += 2;
                }
                let (leaves, next) = use_tree(&toks, j, base);
                if !escaped {
                    for path in leaves {
                        found.push(Reference {
                            file: file.to_owned(),
                            line,
                            path,
                        });
                    }
                }
                i = next.max(i + 1);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// An arrow and the reference that makes it.
#[derive(Debug, Clone)]
struct Arrow {
    from: String,
    to: String,
    by: Reference,
}

/// One graph: the children of `module` and its root, with their arrows.
struct Graph {
    module: Vec<String>,
    arrows: BTreeMap<(String, String), Reference>,
    /// Glob imports of `module` itself by its children (`use super::*` in `src/api/x.rs`):
    /// they bring the sibling modules into scope by their bare names, which this test does
    /// not follow.
    globs: Vec<Reference>,
}

impl Graph {
    fn title(&self) -> String {
        if self.module.is_empty() {
            "the crate's top-level modules".to_owned()
        } else {
            format!("the files of module {}", self.module.join("::"))
        }
    }
}

fn node(module: &[String], child: Option<&str>) -> String {
    let mut parts: Vec<&str> = module.iter().map(String::as_str).collect();
    parts.extend(child);
    if parts.is_empty() {
        "crate".to_owned()
    } else {
        parts.join("::")
    }
}

/// Every graph of the sources: one per module with children in other files.
fn graphs(sources: &[Source]) -> Vec<Graph> {
    let modules: Vec<(Vec<String>, &Source)> = sources
        .iter()
        .filter_map(|s| module_of(&s.path).map(|m| (m, s)))
        .collect();
    // Each module's children, as files or folders.
    let mut children: BTreeMap<Vec<String>, BTreeSet<String>> = BTreeMap::new();
    for (m, _) in &modules {
        for k in 0..m.len() {
            children
                .entry(m[..k].to_vec())
                .or_default()
                .insert(m[k].clone());
        }
    }
    let refs: Vec<(Vec<String>, Vec<Reference>)> = modules
        .iter()
        .map(|(m, s)| (m.clone(), references(&s.path, &s.code)))
        .collect();
    let mut out = Vec::new();
    for (parent, kids) in &children {
        let mut arrows = BTreeMap::new();
        let mut globs = Vec::new();
        for (m, rs) in &refs {
            if m.len() <= parent.len() || !m.starts_with(parent) {
                continue; // the root file itself, or outside this module
            }
            let from = &m[parent.len()];
            for r in rs {
                if !r.path.starts_with(parent) {
                    continue;
                }
                if r.path.len() == parent.len() + 1 && r.path[parent.len()] == "*" {
                    globs.push(r.clone());
                }
                let to = match r.path.get(parent.len()) {
                    Some(seg) if kids.contains(seg) => {
                        if seg == from {
                            continue;
                        }
                        node(parent, Some(seg))
                    }
                    _ => node(parent, None),
                };
                arrows
                    .entry((node(parent, Some(from)), to))
                    .or_insert_with(|| r.clone());
            }
        }
        out.push(Graph {
            module: parent.clone(),
            arrows,
            globs,
        });
    }
    out
}

/// A cycle: its nodes in order (the first not repeated at the end) and its arrows.
struct Cycle {
    name: String,
    arrows: Vec<Arrow>,
}

/// The cycles of a graph: for each strongly connected part, cycles that cover all its arrows
/// (each the shortest way back), named from their smallest node.
fn cycles(graph: &Graph) -> Vec<Cycle> {
    let mut next: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (from, to) in graph.arrows.keys() {
        next.entry(from).or_default().insert(to);
        next.entry(to).or_default();
    }
    let reach = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(n) = todo.pop() {
            for &m in next.get(n.as_str()).into_iter().flatten() {
                if seen.insert(m.to_owned()) {
                    todo.push(m.to_owned());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&str, BTreeSet<String>> = next.keys().map(|&n| (n, reach(n))).collect();
    let mut covered: BTreeSet<(String, String)> = BTreeSet::new();
    let mut names = BTreeSet::new();
    let mut out = Vec::new();
    for (from, to) in graph.arrows.keys() {
        // An arrow is on a cycle when its end leads back to its start.
        if !reachable[to.as_str()].contains(from) || covered.contains(&(from.clone(), to.clone())) {
            continue;
        }
        // The shortest way back from `to` to `from`.
        let mut prev: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = VecDeque::from([to.clone()]);
        while let Some(n) = queue.pop_front() {
            if n == *from {
                break;
            }
            for &m in &next[n.as_str()] {
                if m != to && !prev.contains_key(m) {
                    prev.insert(m.to_owned(), n.clone());
                    queue.push_back(m.to_owned());
                }
            }
        }
        let mut path = vec![from.clone()];
        let mut n = from.clone();
        while n != *to {
            n = prev[&n].clone();
            path.push(n.clone());
        }
        path.reverse(); // to ... from
        let mut nodes = vec![from.clone()];
        nodes.extend(path.into_iter().take_while(|x| x != from));
        let start = (0..nodes.len()).min_by_key(|&k| &nodes[k]).unwrap_or(0);
        nodes.rotate_left(start);
        let arrows: Vec<Arrow> = (0..nodes.len())
            .map(|k| {
                let (a, b) = (&nodes[k], &nodes[(k + 1) % nodes.len()]);
                covered.insert((a.clone(), b.clone()));
                Arrow {
                    from: a.clone(),
                    to: b.clone(),
                    by: graph.arrows[&(a.clone(), b.clone())].clone(),
                }
            })
            .collect();
        let name = format!("{} -> {}", nodes.join(" -> "), nodes[0]);
        if names.insert(name.clone()) {
            out.push(Cycle { name, arrows });
        }
    }
    out
}

/// The cycles of every graph of `sources`, each with its report.
fn all_cycles(sources: &[Source]) -> Vec<(String, String)> {
    report(sources, &graphs(sources))
}

/// The cycles of `graphs`, each named and reported with the lines of `sources`.
fn report(sources: &[Source], graphs: &[Graph]) -> Vec<(String, String)> {
    let lines: BTreeMap<&str, Vec<&str>> = sources
        .iter()
        .map(|s| (s.path.as_str(), s.text.lines().collect()))
        .collect();
    let mut out = Vec::new();
    for graph in graphs {
        for cycle in cycles(graph) {
            let mut report = format!("cycle between {}: {}\n", graph.title(), cycle.name);
            for a in &cycle.arrows {
                let text = lines
                    .get(a.by.file.as_str())
                    .and_then(|l| l.get(a.by.line - 1))
                    .map_or("", |l| l.trim());
                let _ = writeln!(
                    report,
                    "    {} -> {}: src/{}:{}: {}    (crate::{})",
                    a.from,
                    a.to,
                    a.by.file,
                    a.by.line,
                    text,
                    a.by.path.join("::")
                );
            }
            out.push((cycle.name, report));
        }
    }
    out
}

/// Every `.rs` file under `src/`.
fn crate_sources() -> Vec<Source> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<Source>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                let text = std::fs::read_to_string(&path).unwrap();
                out.push(Source::new(rel, text));
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    assert!(
        out.iter().any(|s| s.path == "lib.rs"),
        "no src/lib.rs under {}",
        root.display()
    );
    out
}

/// The crate's sources and graphs, read and built once for all the tests.
struct Analysis {
    sources: Vec<Source>,
    graphs: Vec<Graph>,
}

fn analysis() -> &'static Analysis {
    static ANALYSIS: OnceLock<Analysis> = OnceLock::new();
    ANALYSIS.get_or_init(|| {
        let sources = crate_sources();
        let graphs = graphs(&sources);
        Analysis { sources, graphs }
    })
}

/// The arrows between top-level modules, each with its first reference.
fn top_level(graphs: &[Graph]) -> &BTreeMap<(String, String), Reference> {
    &graphs
        .iter()
        .find(|g| g.module.is_empty())
        .expect("the crate's graph")
        .arrows
}

fn describe(r: &Reference) -> String {
    format!("src/{}:{} (crate::{})", r.file, r.line, r.path.join("::"))
}

#[test]
fn no_two_modules_import_each_other() {
    let a = analysis();
    let found = report(&a.sources, &a.graphs);
    let mut unexpected = String::new();
    for (name, report) in &found {
        let allowed = ALLOWED_CYCLES.contains(&name.as_str());
        eprint!(
            "{}{report}",
            if allowed {
                "allowed until removed: "
            } else {
                ""
            }
        );
        if !allowed {
            unexpected.push_str(report);
        }
    }
    let stale: Vec<&&str> = ALLOWED_CYCLES
        .iter()
        .filter(|a| !found.iter().any(|(n, _)| n == *a))
        .collect();
    assert!(
        unexpected.is_empty(),
        "modules that import each other (make the arrow go one way: move what both need \
         below both, or pass it in):\n{unexpected}"
    );
    assert!(
        stale.is_empty(),
        "these allowed cycles are gone: remove them from ALLOWED_CYCLES: {stale:?}"
    );
}

/// A file that glob-imports its parent module (`use super::*;` at the top of
/// `src/api/accesses.rs`, or `use crate::*;`) may then name its siblings bare (`consents::x`),
/// which the cycle test does not see: name what is used instead. (A test module's
/// `use super::*;` imports its own file's items, which is fine.)
#[test]
fn no_file_glob_imports_its_parent_module() {
    let globs: Vec<String> = analysis()
        .graphs
        .iter()
        .flat_map(|g| &g.globs)
        .map(describe)
        .collect();
    assert!(globs.is_empty(), "{}", globs.join("\n"));
}

#[test]
fn the_log_names_no_other_module() {
    let wrong: Vec<String> = top_level(&analysis().graphs)
        .iter()
        .filter(|((from, to), _)| from == "log" && !LOG_MAY_USE.contains(&to.as_str()))
        .map(|((_, to), r)| format!("{to}: {}", describe(r)))
        .collect();
    assert!(
        wrong.is_empty(),
        "src/log/ must stay below everything else; it names:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn only_the_http_layers_name_actix() {
    for never in NEVER_ACTIX {
        assert!(
            !ACTIX_MAY_APPEAR_IN
                .iter()
                .any(|a| a.starts_with(never) || never.starts_with(a)),
            "{never} must never name actix"
        );
    }
    let mut wrong = Vec::new();
    for source in &analysis().sources {
        if ACTIX_MAY_APPEAR_IN
            .iter()
            .any(|a| source.path.starts_with(a))
        {
            continue;
        }
        for (tok, line) in tokens(&source.code) {
            if matches!(tok, Token::Ident(s) if s == "actix" || s.starts_with("actix_")) {
                wrong.push(format!("src/{}:{line}", source.path));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "actix outside the HTTP layers ({ACTIX_MAY_APPEAR_IN:?}):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_ledger_stays_below_the_http_api_and_the_cli() {
    let wrong: Vec<String> = top_level(&analysis().graphs)
        .iter()
        .filter(|((from, to), _)| from == "ledger" && LEDGER_MUST_NOT_USE.contains(&to.as_str()))
        .map(|((_, to), r)| format!("{to}: {}", describe(r)))
        .collect();
    assert!(wrong.is_empty(), "src/ledger/ names:\n{}", wrong.join("\n"));
}

#[test]
fn the_witness_and_the_pages_stand_apart_from_the_log_server() {
    // The witness is a program of its own, which the log's side and the verifier use; the
    // pages get the log's key from the server that composes them with the API.
    let rules: &[(&str, &[&str])] = &[
        ("witness", &["api", "verify", "witnessing", "cli", "web"]),
        ("web", &["api", "log", "witness", "witnessing", "cli"]),
        ("witnessing", &["api", "web", "cli"]),
    ];
    let arrows = top_level(&analysis().graphs);
    let mut wrong = Vec::new();
    for (module, forbidden) in rules {
        for ((from, to), r) in arrows {
            if from == module && forbidden.contains(&to.as_str()) {
                wrong.push(format!("{from} -> {to}: {}", describe(r)));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The checker itself, on small made-up crates.
mod checker {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> Vec<Source> {
        files
            .iter()
            .map(|(p, t)| Source::new((*p).to_owned(), (*t).to_owned()))
            .collect()
    }

    fn names(files: &[(&str, &str)]) -> Vec<String> {
        all_cycles(&tree(files))
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }

    const LIB: (&str, &str) = ("lib.rs", "pub mod a; pub mod b; pub mod c; pub mod p;");

    #[test]
    fn a_two_cycle_is_found_with_its_lines() {
        let files = [
            LIB,
            ("a.rs", "//! A.\nuse crate::b::X;\n"),
            ("b.rs", "fn f() {\n    let _ = crate::a::g();\n}\n"),
        ];
        let found = all_cycles(&tree(&files));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "a -> b -> a");
        let report = &found[0].1;
        assert!(
            report.contains("a -> b: src/a.rs:2: use crate::b::X;"),
            "{report}"
        );
        assert!(
            report.contains("b -> a: src/b.rs:2: let _ = crate::a::g();"),
            "{report}"
        );
    }

    #[test]
    fn a_three_cycle_through_super_is_found() {
        let files = [
            LIB,
            ("p/mod.rs", "mod x; mod y; mod z;\npub struct Shared;\n"),
            ("p/x.rs", "use super::y::A;\nuse super::Shared;\n"),
            ("p/y.rs", "use super::{z::B, Shared};\n"),
            ("p/z.rs", "fn f() { super::x::c(); }\n"),
        ];
        assert_eq!(names(&files), ["p::x -> p::y -> p::z -> p::x"]);
        // One arrow fewer, no cycle.
        let mut open = files;
        open[4] = ("p/z.rs", "fn f() { super::Shared::new(); }\n");
        assert!(names(&open).is_empty());
    }

    #[test]
    fn grouped_uses_count_each_branch() {
        let files = [
            LIB,
            (
                "a.rs",
                "use crate::{\n    b,\n    c::{self as cc, D},\n};\n",
            ),
            ("b.rs", ""),
            ("c.rs", "pub use crate::a::E;\n"),
        ];
        assert_eq!(names(&files), ["a -> c -> a"]);
        let graphs = graphs(&tree(&files));
        let arrows = top_level(&graphs);
        assert!(arrows.contains_key(&("a".into(), "b".into())));
        assert_eq!(arrows[&("a".into(), "c".into())].line, 1);
    }

    #[test]
    fn comments_and_strings_do_not_count() {
        let files = [
            LIB,
            ("a.rs", "use crate::b::X;\n"),
            (
                "b.rs",
                "//! See [`crate::a`].\n// use crate::a::Y;\n/// crate::a::Z\n/* crate::a /* nested */ crate::a */\n\
                 fn f() { let s = \"crate::a::W \\\" crate::a\"; let r = r#\"crate::a \" crate::a\"#; \
                 let q = '\"'; let l: &'static str = \"\"; }\n",
            ),
        ];
        assert!(names(&files).is_empty(), "{:?}", all_cycles(&tree(&files)));
        // The same reference in code counts, after a char literal holding a quote.
        let mut live = files;
        live[2] = (
            "b.rs",
            "fn f<'a>(_: &'a str) { let q = '\"'; crate::a::g(); }\n",
        );
        assert_eq!(names(&live), ["a -> b -> a"]);
    }

    #[test]
    fn parent_and_child_are_not_a_cycle_but_siblings_through_crate_paths_are() {
        let files = [
            LIB,
            (
                "p/mod.rs",
                "pub mod x; pub mod y;\npub use x::A;\npub struct State { x: x::Part }\n\
                 fn routes() { x::handler(); self::y::handler(); crate::p::x::h(); }\n\
                 #[cfg(test)]\nmod tests { use super::*; use super::x::A; }\n",
            ),
            (
                "p/x.rs",
                "use super::State;\npub fn handler(_: &super::State) {}\n",
            ),
            (
                "p/y.rs",
                "use super::*;\nmod tests { use super::super::x::A; }\n",
            ),
        ];
        assert!(names(&files).is_empty(), "{:?}", all_cycles(&tree(&files)));
        // y's test module names x through super::super: an arrow y -> x. Then x naming y by
        // its crate path closes a cycle.
        let mut closed = files;
        closed[2] = ("p/x.rs", "fn f() { crate::p::y::g(); }\n");
        assert_eq!(names(&closed), ["p::x -> p::y -> p::x"]);
    }

    #[test]
    fn a_glob_of_the_parent_is_seen_but_a_test_modules_glob_of_its_file_is_not() {
        let files = [
            LIB,
            ("p/mod.rs", "mod x;\nmod tests { use super::*; }\n"),
            ("p/x.rs", "use super::*;\nmod tests { use super::*; }\n"),
            ("a.rs", "mod tests { use super::*; }\n"),
            ("b.rs", "use crate::*;\n"),
        ];
        let graphs = graphs(&tree(&files));
        let globs: Vec<String> = graphs.iter().flat_map(|g| &g.globs).map(describe).collect();
        assert_eq!(
            globs,
            ["src/b.rs:1 (crate::*)", "src/p/x.rs:1 (crate::p::*)"]
        );
    }

    #[test]
    fn look_alikes_are_not_references() {
        let files = [
            LIB,
            ("a.rs", "use crate::b::X;\n"),
            (
                "b.rs",
                "pub(crate) fn f() -> Self { Self::new(); my_crate::a::g(); other::super_::a(); \
                 let r#type = 1; }\n",
            ),
        ];
        assert!(names(&files).is_empty(), "{:?}", all_cycles(&tree(&files)));
    }

    #[test]
    fn a_bigger_tangle_reports_every_arrow_on_a_cycle() {
        let files = [
            LIB,
            ("a.rs", "use crate::b::X; use crate::c::Y;\n"),
            ("b.rs", "use crate::a::X;\n"),
            ("c.rs", "use crate::b::X;\n"),
        ];
        assert_eq!(names(&files), ["a -> b -> a", "a -> c -> b -> a"]);
    }
}
