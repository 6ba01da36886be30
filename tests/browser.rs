//! The web pages in a real headless Chromium, driven over WebDriver (chromedriver) against the
//! real binary:
//!
//! - the *verify a receipt* page, on every vector of `tests/common/vectors.rs` (receipt files
//!   of every kind and their tampered variants): a valid file shows every check ✓, a tampered
//!   one ✗ on exactly the checks the Rust verifier fails;
//! - the citizen's consent page, with only the receipt file: the receipt verified, the consent
//!   in words, the access list with each receipt verified; the withdraw flow done with the
//!   keyboard alone (cancel, then confirm), the withdrawal receipt downloaded and verified by
//!   the Rust verifier, and the lab's next access denied and listed;
//! - the explorer's "was this file deposited?", hashing a file picked in the browser;
//! - the explorer's custody timeline of an archived dataset that went through every kind of
//!   custody event: each item in log order with its label, its facts and its receipt verified
//!   (✓), the latest fixity run's proof of each copy checked; a downloaded receipt accepted by
//!   the Rust verifier; the timeline in English; and, with the server's answer forged in the
//!   page, ✗ on exactly the forged event and copy, whose claims are not shown;
//! - on every page: accessible names as Chromium computes them for screen readers, keyboard
//!   reachability with a visible focus, text contrast, no horizontal scroll on a phone.
//!
//! Screenshots of each page go to `target/tmp/browser/`. Without Chromium and chromedriver the
//! test says it was skipped; with `DATAPOLE_REQUIRE_ALL=1` (as in CI) it fails instead.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::vectors;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

/// A chromedriver process in its own process group, ended with the Chromium it started when
/// dropped (also when a test fails half-way, before the session is closed).
struct Chromedriver(Child);

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Starts chromedriver and a headless Chromium session downloading into `downloads`; `None`
/// (after saying so) when either is missing, unless the environment requires them.
async fn browser(downloads: &Path, profile: &Path) -> Option<(Chromedriver, Client)> {
    let driver = which(&["chromedriver"]);
    let chromium = which(&["chromium", "chromium-browser", "google-chrome"]);
    let (Some(driver), Some(chromium)) = (driver, chromium) else {
        common::skip(
            "browser",
            "chromium and chromedriver are needed (Debian: apt-get install chromium \
             chromium-driver)",
        );
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let guard = Chromedriver(child);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {
                "download.default_directory": downloads,
                "download.prompt_for_download": false,
            },
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Plain HTTP to chromedriver on loopback.
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return Some((guard, client)),
            Err(e) if Instant::now() > deadline => panic!("no WebDriver session: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// The page as the test sees it: the client and where screenshots go.
struct Page {
    c: Client,
    base: String,
    shots: PathBuf,
}

impl Page {
    async fn goto(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.c.execute(script, args).await.unwrap()
    }

    async fn find(&self, css: &str) -> Element {
        self.c.find(Locator::Css(css)).await.unwrap()
    }

    /// Saves a screenshot of the whole page (the window made as tall as the page for it).
    async fn shot(&self, name: &str) {
        self.js("window.scrollTo(0, 0)", vec![]).await;
        let (width, height) = self.c.get_window_size().await.unwrap();
        let full = self
            .js("return document.documentElement.scrollHeight", vec![])
            .await
            .as_u64()
            .unwrap_or(height)
            .clamp(height, 6000);
        self.c
            .set_window_size(width as u32, full as u32)
            .await
            .unwrap();
        let png = self.c.screenshot().await.unwrap();
        self.c
            .set_window_size(width as u32, height as u32)
            .await
            .unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// Waits until `script` (a function body) returns something truthy; that value.
    async fn wait(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.js(script, vec![]).await;
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!("") && v != json!(0);
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                self.shot(&format!("timeout-{}", what.replace(' ', "-")))
                    .await;
                let text = self.js("return document.body.innerText", vec![]).await;
                panic!("timed out waiting for {what}; the page shows:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Picks the file at `path` in the file input `input`, as a user does in its dialog.
    async fn pick(&self, input: &str, path: &str) {
        self.find(input).await.send_keys(path).await.unwrap();
    }

    /// Presses `key` on the keyboard (a WebDriver key action: whatever has the focus gets it).
    async fn press(&self, key: Key) {
        let k = char::from(key);
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: k })
            .then(KeyAction::Up { value: k });
        self.c.perform_actions(actions).await.unwrap();
    }

    /// Tabs until the element with id `id` has the focus; panics if it never does.
    async fn tab_to(&self, id: &str) {
        for _ in 0..80 {
            let at = self
                .js("return document.activeElement?.id ?? ''", vec![])
                .await;
            if at == json!(id) {
                return;
            }
            self.press(Key::Tab).await;
        }
        panic!("#{id} is not reachable with the Tab key");
    }

    /// The accessible name Chromium computes for an element (what a screen reader announces).
    async fn computed_label(&self, e: &Element) -> String {
        let answer = self
            .c
            .issue_cmd(ComputedLabel(e.element_id().to_string()))
            .await
            .unwrap();
        answer.as_str().unwrap_or_default().trim().to_owned()
    }

    /// The accessibility and layout checks every page must pass.
    async fn audit(&self, page: &str) {
        // Every control, link and table has a name a screen reader can announce (outside an
        // open modal dialog, the page is inert: only the dialog counts).
        self.js(MARK_NAMED_JS, vec![]).await;
        for e in self
            .c
            .find_all(Locator::Css("[data-audit-name]"))
            .await
            .unwrap()
        {
            let name = self.computed_label(&e).await;
            let html = e.html(false).await.unwrap();
            assert!(!name.is_empty(), "{page}: no accessible name for {html}");
        }
        self.js(
            "document.querySelectorAll('[data-audit-name]').forEach((e) => e.removeAttribute('data-audit-name'))",
            vec![],
        )
        .await;
        let problems = self.js(AUDIT_JS, vec![]).await;
        assert_eq!(problems, json!([]), "{page}: accessibility problems");
        // Every visible control is reached with Tab, and shows that it has the focus.
        let reached = self.js(TAB_TARGETS_JS, vec![]).await;
        let targets: Vec<String> = serde_json::from_value(reached).unwrap();
        self.js("document.activeElement?.blur(); window.focus()", vec![])
            .await;
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..(targets.len() * 2 + 10) {
            self.press(Key::Tab).await;
            let focus = self.js(FOCUS_JS, vec![]).await;
            if let Some(key) = focus["key"].as_str() {
                assert!(
                    focus["visible"] == json!(true),
                    "{page}: no visible focus on {key}"
                );
                seen.insert(key.to_owned());
            }
        }
        for t in &targets {
            assert!(seen.contains(t), "{page}: {t} is never reached with Tab");
        }
        // A phone: nothing wider than the screen.
        self.c.set_window_size(390, 844).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let overflow = self
            .js(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
                vec![],
            )
            .await;
        if overflow.as_i64().unwrap() > 0 {
            let wide = self
                .js(
                    "return [...document.querySelectorAll('body *')]\
                     .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth)\
                     .map((e) => e.outerHTML.slice(0, 120))",
                    vec![],
                )
                .await;
            panic!("{page}: {overflow} px wider than a phone's screen: {wide:#}");
        }
        self.shot(&format!("{page}-phone")).await;
        self.c.set_window_size(1280, 900).await.unwrap();
    }
}

/// `GET /session/{id}/element/{id}/computedlabel` (W3C WebDriver, "Get Computed Label").
#[derive(Debug)]
struct ComputedLabel(String);

impl WebDriverCompatibleCommand for ComputedLabel {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/element/{}/computedlabel",
            session.unwrap_or_default(),
            self.0
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::GET, None)
    }
}

/// Marks the visible controls, links and tables that are not inert behind a modal dialog.
const MARK_NAMED_JS: &str = r#"
const modal = document.querySelector("dialog:modal");
for (const e of document.querySelectorAll("a[href], button, input, textarea, select, table, dialog[open]")) {
  if (e.getClientRects().length === 0 || (modal && !modal.contains(e))) continue;
  e.setAttribute("data-audit-name", "");
}
"#;

/// In-page checks: document language, unique ids, heading order, labels bound to their
/// controls, and WCAG AA contrast (4.5:1) of every visible text against its background.
const AUDIT_JS: &str = r#"
const problems = [];
if (!["fr", "en"].includes(document.documentElement.lang)) problems.push("no document language");
const ids = [...document.querySelectorAll("[id]")].map((e) => e.id);
for (const id of new Set(ids)) if (ids.filter((x) => x === id).length > 1) problems.push(`duplicate id ${id}`);
let level = 0;
for (const h of document.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
  if (h.closest("[hidden]") || (h.closest("dialog") && !h.closest("dialog").open)) continue;
  const l = Number(h.tagName[1]);
  if (l > level + 1) problems.push(`heading ${h.tagName} "${h.textContent}" skips a level`);
  level = l;
}
if (document.querySelectorAll("h1").length !== 1) problems.push("not exactly one h1");
for (const l of document.querySelectorAll("label[for]")) if (!document.getElementById(l.htmlFor)) problems.push(`label for missing #${l.htmlFor}`);
const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
const lum = ([r, g, b]) => {
  const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
const background = (e) => {
  for (let n = e; n; n = n.parentElement) {
    const c = rgb(getComputedStyle(n).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
  }
  return [255, 255, 255];
};
for (const e of document.querySelectorAll("body *")) {
  const text = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== "");
  if (!text || e.offsetParent === null && getComputedStyle(e).position !== "fixed") continue;
  const r = e.getBoundingClientRect();
  if (r.width === 0 || r.height === 0 || r.right < 0 || r.bottom < 0) continue;
  const a = lum(rgb(getComputedStyle(e).color).slice(0, 3));
  const b = lum(background(e));
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)} for "${e.textContent.trim().slice(0, 40)}"`);
}
return problems;
"#;

/// A JavaScript function `key(e)` naming an element stably: its id, or its tag and text.
macro_rules! key_fn {
    () => {
        r#"const key = (e) => e.id ? `#${e.id}` : `${e.tagName.toLowerCase()}:${(e.getAttribute("href") || e.textContent || "").trim().slice(0, 60)}`;"#
    };
}

/// The keys of the visible controls and links that Tab should reach (outside closed dialogs).
const TAB_TARGETS_JS: &str = concat!(
    key_fn!(),
    r#"
const modal = document.querySelector("dialog:modal");
return [...document.querySelectorAll("a[href], button, input, textarea, select")]
  .filter((e) => !e.disabled && e.offsetParent !== null && !e.closest("dialog:not([open])") && !e.classList.contains("skip"))
  .filter((e) => !modal || modal.contains(e))
  .map(key);
"#
);

/// What has the focus, and whether the focus is visible (an outline or a shadow).
const FOCUS_JS: &str = concat!(
    key_fn!(),
    r#"
const e = document.activeElement;
if (!e || e === document.body) return {};
const s = getComputedStyle(e);
const visible = (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== "none";
return { key: key(e), visible };
"#
);

/// A log whose checkpoints a witness cosigns (quorum 1), with one deposit: (log, witness).
fn witnessed_log(dir: &Path) -> (common::Server, common::Server) {
    let dir = dir.join("witnessed");
    std::fs::create_dir_all(&dir).unwrap();
    let (log_key, log_vkey) = common::log_key(&dir, "witnessed.test/log");
    let (key, vkey) = common::witness_key(&dir, "witness.test/w1");
    let witness = common::Server::start_witness(&dir.join("w1"), &key, &[&log_vkey], "127.0.0.1:0");
    let spec = format!("{}={vkey}", witness.base);
    let log = common::Server::start_with(
        &dir.join("log"),
        &[
            "--key-file",
            log_key.to_str().unwrap(),
            "--witness",
            &spec,
            "--witness-quorum",
            "1",
        ],
        &[],
    );
    let admin = log.admin_token();
    common::register(&log, &admin, 1, &["depositor"]);
    (log, witness)
}

/// A log whose archive keeps each object on two disks, with one dataset that went through
/// every kind of custody event.
struct Archived {
    server: common::Server,
    dataset: String,
    depositor: String,
}

/// The custody events of [`archived_dataset`], in log order: (type, French label, English
/// label).
const CUSTODY: [(&str, &str, &str); 8] = [
    ("storage", "Stockage", "Stored"),
    ("legal_hold", "Gel légal posé", "Legal hold placed"),
    ("legal_hold", "Gel légal levé", "Legal hold lifted"),
    ("disposal", "Destruction", "Disposed of"),
    ("storage", "Stockage", "Stored"),
    ("download", "Téléchargement", "Downloaded"),
    (
        "fixity_failure",
        "Contrôle d'intégrité en échec",
        "Fixity check failed",
    ),
    ("repair", "Réparation", "Repaired"),
];

/// Version 1 (public) stored, held, released and disposed of by its depositor; version 2
/// (private, retained until 2099) stored and downloaded by its depositor; then a byte of its
/// copy on disk2 flipped, which the next fixity run finds and repairs from disk1.
fn archived_dataset(dir: &Path) -> Archived {
    let dir = dir.join("archived");
    std::fs::create_dir_all(&dir).unwrap();
    let disk = |name: &str| format!("{name}={}", dir.join(name).display());
    let (disk1, disk2) = (disk("disk1"), disk("disk2"));
    let server = common::Server::start_with(
        &dir.join("data"),
        &[
            "--fixity-interval-hours",
            "0",
            "--archive-location",
            &disk1,
            "--archive-location",
            &disk2,
        ],
        &[],
    );
    let admin = server.admin_token();
    let depositor = common::register(&server, &admin, 1, &["depositor", "controller"]);
    let bearer = |token: &str| format!("Bearer {token}");
    let upload =
        |payload: &Value, content: &[u8]| common::upload(&server, &depositor, payload, content);
    let version_path = |done: &Value, tail: &str| {
        format!(
            "/v1/datasets/{}/versions/{}/{tail}",
            done["dataset_id"].as_str().unwrap(),
            done["version"]
        )
    };
    let hold = |done: &Value, on: bool| {
        let r = server.request(
            "POST",
            &version_path(done, "hold"),
            &[
                ("authorization", &bearer(&admin)),
                ("content-type", "application/json"),
            ],
            json!({"hold": on, "reference": "TJ Toulouse 2026/1234"})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(r.status, 201, "{}", r.text());
    };

    let first = b"station,hour,no2\nToulouse-Berthelot,2026-11-30T10:00Z,31\n";
    let v1 = upload(&common::deposit_payload(first, "public"), first);
    let dataset = v1["dataset_id"].as_str().unwrap().to_owned();
    hold(&v1, true);
    hold(&v1, false);
    let disposed = server.request(
        "DELETE",
        &version_path(&v1, "content"),
        &[("authorization", &bearer(&depositor.token))],
        b"",
    );
    assert_eq!(disposed.status, 200, "{}", disposed.text());

    let second = b"patient_pseudonym,visit_date,hba1c\np-00000001,2026-11-02,6.1\n".repeat(200);
    let mut payload = common::deposit_payload(&second, "private");
    payload["dataset_id"] = json!(dataset);
    payload["retention"] = json!("2099-12-31");
    let v2 = upload(&payload, &second);
    assert_eq!(v2["version"], 2, "{v2}");
    let got = server.request(
        "GET",
        &version_path(&v2, "content"),
        &[("authorization", &bearer(&depositor.token))],
        b"",
    );
    assert_eq!(got.status, 200, "{}", got.text());
    assert!(got.body == second, "the bytes come back");

    // One byte of disk2's copy flipped: the next run finds it and repairs it from disk1.
    let object = v2["object"]["object_id"].as_str().unwrap();
    let copy = dir.join("disk2").join("objects").join(object);
    let mut perms = std::fs::metadata(&copy).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&copy, perms).unwrap();
    let mut bytes = std::fs::read(&copy).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&copy, bytes).unwrap();
    let run = server.request(
        "POST",
        "/v1/archive/fixity",
        &[("authorization", &bearer(&admin))],
        b"",
    );
    assert_eq!(run.status, 201, "{}", run.text());
    let run = run.json();
    assert_eq!(
        (run["failed"].as_u64(), run["repaired"].as_u64()),
        (Some(1), Some(1)),
        "{run}"
    );

    // The chain as the API lists it (the page must show the same, each proved).
    let chain = server
        .get(&format!("/v1/datasets/{dataset}/custody"))
        .json();
    let types: Vec<&str> = chain["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = CUSTODY.iter().map(|(t, _, _)| *t).collect();
    assert_eq!(types, expected);
    let depositor = depositor.id.clone();
    Archived {
        server,
        dataset,
        depositor,
    }
}

/// The labels, types and marks of the custody timeline's items, in page order.
const TIMELINE_JS: &str =
    "return [...document.querySelectorAll('#custody-list > li')].map((li) => \
     [li.dataset.type, li.querySelector('h4').textContent, li.dataset.verified, \
      li.querySelector('.proof [aria-hidden]').textContent, Number(li.dataset.index)])";

/// The rows of the latest fixity run's copies: [location, outcome, repaired, verified].
const COPIES_JS: &str =
    "return [...document.querySelectorAll('#fixity-copies tbody tr')].map((r) => \
     [r.dataset.location, r.dataset.outcome, r.dataset.repaired, r.dataset.verified])";

/// Replaces `fetch` in the page so that the custody chain it reads is forged: the download's
/// entry names another participant, and disk2's check in the latest run says intact.
const FORGE_JS: &str = r#"
const real = window.fetch.bind(window);
window.fetch = async (input, init) => {
  const res = await real(input, init);
  if (!String(input).includes("/custody")) return res;
  const body = await res.json();
  const download = body.entries.find((e) => e.type === "download");
  const leaf = JSON.parse(atob(download.receipt.leaf));
  leaf.by = "00000000-0000-4000-8000-00000000f0f0";
  download.receipt.leaf = btoa(JSON.stringify(leaf));
  for (const c of body.fixity.checks) c.record = c.record.replace('"mismatch"', '"intact"');
  return new Response(JSON.stringify(body), { status: res.status, headers: { "content-type": "application/json" } });
};
"#;

/// The explorer's custody timeline of [`archived_dataset`], opened three ways: a dataset link
/// in the latest entries, the address (in English), and the form (with the answer forged).
async fn custody_timeline(p: &Page, a: &Archived, downloads: &Path) {
    p.goto("/explorer").await;
    let link = format!("#latest-rows a[data-dataset='{}']", a.dataset);
    p.wait(
        "a dataset link in the latest entries",
        &format!("return document.querySelector(\"{link}\")"),
    )
    .await;
    p.find(&link).await.click().await.unwrap();
    p.wait(
        "the custody timeline verified",
        "return document.getElementById('custody-verdict')?.dataset.verified === 'true' \
         && document.getElementById('fixity-verdict')?.dataset.state === 'failed' \
         && document.querySelectorAll('#dataset-versions tr[data-verified=true]').length === 2",
    )
    .await;
    let focus = p
        .js(
            "return [document.activeElement.id, location.search]",
            vec![],
        )
        .await;
    assert_eq!(
        focus,
        json!(["dataset-title", format!("?dataset={}", a.dataset)]),
        "the link moves the focus to the dataset and names it in the address"
    );
    let items: Vec<(String, String, String, String, u64)> =
        serde_json::from_value(p.js(TIMELINE_JS, vec![]).await).unwrap();
    let shown: Vec<(&str, &str, &str, &str)> = items
        .iter()
        .map(|(t, l, v, m, _)| (t.as_str(), l.as_str(), v.as_str(), m.as_str()))
        .collect();
    let expected: Vec<(&str, &str, &str, &str)> = CUSTODY
        .iter()
        .map(|(t, fr, _)| (*t, *fr, "true", "✓ "))
        .collect();
    assert_eq!(
        shown, expected,
        "the timeline's items, each receipt verified"
    );
    assert!(
        items.windows(2).all(|w| w[0].4 < w[1].4),
        "in log order: {items:?}"
    );
    // The facts, from the verified entries.
    let text =
        |i: usize| format!("return document.querySelectorAll('#custody-list > li')[{i}].innerText");
    let stored = p.js(&text(4), vec![]).await;
    let stored = stored.as_str().unwrap();
    for fact in [
        "disk1, disk2",
        "Chiffré (age)",
        "Rien ne le supprime avant le",
        "Version 2",
    ] {
        assert!(
            stored.contains(fact),
            "{fact} not in the storage item:\n{stored}"
        );
    }
    let downloaded = p.js(&text(5), vec![]).await;
    let downloaded = downloaded.as_str().unwrap();
    for fact in [
        "Org 1",
        a.depositor.as_str(),
        "Son déposant",
        "Le fichier entier",
    ] {
        assert!(
            downloaded.contains(fact),
            "{fact} not in the download item:\n{downloaded}"
        );
    }
    let held = p.js(&text(1), vec![]).await;
    assert!(
        held.as_str().unwrap().contains("TJ Toulouse 2026/1234"),
        "{held}"
    );
    let copies = p.js(COPIES_JS, vec![]).await;
    assert_eq!(
        copies,
        json!([
            ["disk1", "intact", "false", "true"],
            ["disk2", "mismatch", "true", "true"]
        ]),
        "the latest run's check of each copy, proved"
    );
    // A receipt downloaded from the timeline is the entry's, and the Rust verifier takes it.
    let storage_index = items[4].4;
    let name = format!("receipt-{storage_index}.json");
    p.find(&format!(
        "#custody-list > li[data-index='{storage_index}'] a[download]"
    ))
    .await
    .click()
    .await
    .unwrap();
    let file = downloads.join(&name);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !file.exists() {
        assert!(
            Instant::now() < deadline,
            "no {name} in {}",
            downloads.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let receipt: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let receipt: datapole::receipt::Receipt = serde_json::from_value(receipt).unwrap();
    let report = datapole::verify::receipt::verify_receipt(&receipt, Some(&a.server.vkey()));
    assert!(report.ok(), "{report:#?}");
    assert_eq!(receipt.index, storage_index);
    p.shot("explorer-custody").await;
    p.audit("explorer-custody").await;

    // From the address, in English.
    p.goto(&format!("/explorer?dataset={}", a.dataset)).await;
    p.find("#lang-switch").await.click().await.unwrap();
    p.wait(
        "the timeline in English",
        "return document.documentElement.lang === 'en' \
         && document.getElementById('custody-verdict')?.dataset.verified === 'true'",
    )
    .await;
    let items: Vec<(String, String, String, String, u64)> =
        serde_json::from_value(p.js(TIMELINE_JS, vec![]).await).unwrap();
    let labels: Vec<&str> = items.iter().map(|i| i.1.as_str()).collect();
    let expected: Vec<&str> = CUSTODY.iter().map(|(_, _, en)| *en).collect();
    assert_eq!(labels, expected);
    p.shot("explorer-custody-en").await;
    p.find("#lang-switch").await.click().await.unwrap();

    // The server's answer forged in the page: ✗ on the forged download and on disk2's check,
    // and nothing of what they claim shown; the rest still ✓.
    p.goto("/explorer").await;
    p.js(FORGE_JS, vec![]).await;
    p.find("#dataset-input")
        .await
        .send_keys(&a.dataset)
        .await
        .unwrap();
    p.find("#dataset-form button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    p.wait(
        "the forged chain refused",
        "return document.getElementById('custody-verdict')?.dataset.verified === 'false' \
         && document.getElementById('fixity-verdict')?.dataset.state === 'unproved'",
    )
    .await;
    let items: Vec<(String, String, String, String, u64)> =
        serde_json::from_value(p.js(TIMELINE_JS, vec![]).await).unwrap();
    let verified: Vec<&str> = items.iter().map(|i| i.2.as_str()).collect();
    assert_eq!(
        verified,
        ["true", "true", "true", "true", "true", "false", "true", "true"],
        "only the forged download fails: {items:?}"
    );
    let copies = p.js(COPIES_JS, vec![]).await;
    assert_eq!(
        copies,
        json!([
            ["disk1", "intact", "false", "true"],
            ["disk2", "", "false", "false"]
        ]),
        "disk2's forged check is not proved"
    );
    let leaked = p
        .js(
            "return document.body.innerText.includes('00000000-0000-4000-8000-00000000f0f0')",
            vec![],
        )
        .await;
    assert_eq!(leaked, json!(false), "the forged participant is not shown");
    p.shot("explorer-custody-forged").await;
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_work_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let downloads = dir.path().join("downloads");
    let files = dir.path().join("files");
    let profile = dir.path().join("profile");
    for d in [&downloads, &files, &profile] {
        std::fs::create_dir_all(d).unwrap();
    }
    let Some((_driver, c)) = browser(&downloads, &profile).await else {
        return;
    };
    let s = vectors::scenario(dir.path());
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    // Only this run's screenshots.
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let p = Page {
        c,
        base: s.server.base.clone(),
        shots: shots.clone(),
    };

    // Home: the live status.
    p.goto("/").await;
    let size = s.server.size();
    p.wait(
        "the checkpoint verified on the home page, with the log's size",
        &format!(
            "return document.getElementById('checkpoint-verified')?.dataset.verified === 'true' \
             && document.getElementById('log-size')?.innerText.replace(/\\D/g, '') === '{size}'"
        ),
    )
    .await;
    p.shot("home").await;
    p.audit("home").await;

    // Verify a receipt: every vector, from a file, with the log key pinned.
    p.goto("/verify").await;
    // The page pins the key of the log that served it (a meta tag the server writes).
    let pinned = p
        .wait(
            "the served log key in the pinned-key field",
            "return document.getElementById('pinned-key').value",
        )
        .await;
    assert_eq!(pinned, json!(s.vkey), "the served key is prefilled");
    let all = vectors::all(&s);
    for (i, (name, doc)) in all.iter().enumerate() {
        let expected = vectors::rust_failed(doc, &s.vkey);
        let path = write_file(
            &files,
            &format!("vector-{i}.json"),
            &serde_json::to_vec(doc).unwrap(),
        );
        p.js(
            "document.getElementById('verdict').removeAttribute('data-valid')",
            vec![],
        )
        .await;
        p.pick("#receipt-file", &path).await;
        let valid = p
            .wait(
                &format!("the verdict on {name}"),
                "return document.getElementById('verdict').dataset.valid",
            )
            .await;
        let shown = p
            .js(
                "return [...document.querySelectorAll('#checks li')].map((li) => \
                 [li.dataset.check, li.dataset.ok === 'true', li.querySelector('[aria-hidden]').textContent])",
                vec![],
            )
            .await;
        let shown: Vec<(String, bool, String)> = serde_json::from_value(shown).unwrap();
        assert!(!shown.is_empty(), "{name}: no checks shown");
        let failed: Vec<String> = shown
            .iter()
            .filter(|(_, ok, _)| !ok)
            .map(|(n, _, _)| n.clone())
            .collect();
        assert_eq!(
            failed, expected,
            "{name}: the page and the Rust verifier disagree"
        );
        for (check, ok, mark) in &shown {
            assert_eq!(mark, if *ok { "✓" } else { "✗" }, "{name}: {check}");
        }
        assert_eq!(valid, json!(expected.is_empty().to_string()), "{name}");
        if name == "consent" {
            p.shot("verify-valid").await;
        }
        if name == "registration" || name == "controller withdrawal" {
            // The live log extends the receipt's checkpoint: a consistency proof from the
            // server, checked in the browser (or the same root when no entry came since).
            p.js(
                "document.getElementById('live-result').removeAttribute('data-consistent')",
                vec![],
            )
            .await;
            p.find("#live-button").await.click().await.unwrap();
            let consistent = p
                .wait(
                    &format!("the live comparison of {name}"),
                    "return document.getElementById('live-result').dataset.consistent",
                )
                .await;
            assert_eq!(consistent, json!("true"), "{name}");
        }
        if name == "consent/record purpose" {
            p.shot("verify-tampered").await;
        }
    }
    p.audit("verify").await;

    // The citizen's page, with the receipt file alone.
    let citizen = &s.citizen;
    let consent_id = citizen["consent_id"].as_str().unwrap().to_owned();
    let receipt_path = write_file(
        &files,
        "citizen-receipt.json",
        &serde_json::to_vec_pretty(citizen).unwrap(),
    );
    p.goto("/consent").await;

    // A tampered receipt (the purpose changed) shows the failed check, and nothing it says.
    let mut forged = citizen.clone();
    forged["record"]["purposes"][0]["text"] = json!("Prospection commerciale");
    let forged_path = write_file(&files, "forged.json", &serde_json::to_vec(&forged).unwrap());
    p.pick("#consent-file", &forged_path).await;
    p.wait(
        "the forged receipt refused",
        "return document.getElementById('receipt-verdict')?.dataset.valid === 'false' \
         && document.querySelector('#receipt-checks li[data-check=record][data-ok=false]')",
    )
    .await;
    let leaked = p
        .js(
            "return document.body.innerText.includes('Prospection commerciale') \
             || document.getElementById('withdraw-button').offsetParent !== null",
            vec![],
        )
        .await;
    assert_eq!(
        leaked,
        json!(false),
        "a forged receipt's record is not shown"
    );
    p.shot("consent-forged").await;

    // A genuine citizen receipt of another log: refused under this log's key, nothing shown.
    let (_, foreign) = s
        .foreign
        .iter()
        .find(|(n, _)| n == "another log/consent")
        .unwrap();
    let foreign_path = write_file(
        &files,
        "foreign.json",
        &serde_json::to_vec(foreign).unwrap(),
    );
    p.pick("#consent-file", &foreign_path).await;
    p.wait(
        "the other log's receipt refused",
        "return document.getElementById('receipt-verdict')?.dataset.valid === 'false' \
         && document.querySelector('#receipt-checks li[data-check=\"log key\"][data-ok=false]')",
    )
    .await;
    let leaked = p
        .js(
            "return document.getElementById('consent-details').innerText.trim() !== '' \
             && document.getElementById('consent-details').offsetParent !== null",
            vec![],
        )
        .await;
    assert_eq!(
        leaked,
        json!(false),
        "another log's receipt shows no record"
    );

    // A wrong secret: the server's 401, said in words; nothing shown of the consent's state.
    let mut wrong = citizen.clone();
    wrong["citizen_secret"] = json!("c2VjcmV0LW5vdC10aGUtcmlnaHQtb25lLTAwMDAwMDA");
    let wrong_path = write_file(
        &files,
        "wrong-secret.json",
        &serde_json::to_vec(&wrong).unwrap(),
    );
    p.pick("#consent-file", &wrong_path).await;
    p.wait(
        "the wrong secret reported",
        "const e = document.getElementById('consent-status'); \
         return e.classList.contains('bad') && !e.dataset.status && e.innerText.trim() !== ''",
    )
    .await;
    // Once the access list has been answered too (the same 401).
    p.wait(
        "the access list refused",
        "const m = document.getElementById('accesses-message'); \
         return m && m.classList.contains('bad') && m.innerText.trim() !== ''",
    )
    .await;
    let shown = p
        .js(
            "return [document.querySelectorAll('#accesses tr[data-access-id]').length, \
                     document.getElementById('withdraw-button').offsetParent === null]",
            vec![],
        )
        .await;
    assert_eq!(
        shown,
        json!([0, true]),
        "no accesses, no withdraw button with a wrong secret"
    );
    p.shot("consent-wrong-secret").await;

    p.pick("#consent-file", &receipt_path).await;
    p.wait(
        "the citizen receipt verified",
        "return document.getElementById('receipt-verdict')?.dataset.valid === 'true'",
    )
    .await;
    p.wait(
        "the status and the access",
        "return document.getElementById('consent-status')?.dataset.status === 'given' \
         && document.querySelectorAll('#accesses tr[data-access-id]').length === 1",
    )
    .await;
    let access = p
        .js(
            "const r = document.querySelector('#accesses tr[data-access-id]'); \
             return {decision: r.dataset.decision, reason: r.dataset.reason, verified: r.dataset.verified, \
                     text: r.innerText, download: !!r.querySelector('a[download]')}",
            vec![],
        )
        .await;
    assert_eq!(access["decision"], "permit", "{access}");
    assert_eq!(access["reason"], "consented", "{access}");
    assert_eq!(access["verified"], "true", "{access}");
    assert_eq!(access["download"], true, "{access}");
    assert!(
        access["text"].as_str().unwrap().contains("Org 3"),
        "the lab's name: {access}"
    );
    let details = p.find("#consent-details").await.text().await.unwrap();
    for shown in [
        "Étude de cohorte sur le diabète de type 2",
        "Org 3",
        "P5Y",
        "Org 1",
    ] {
        assert!(
            details.contains(shown),
            "{shown} not in the consent's details:\n{details}"
        );
    }
    p.shot("consent").await;
    p.audit("consent").await;

    // Withdraw with the keyboard: cancel first (nothing changes), then confirm.
    let before = s.server.size();
    p.tab_to("withdraw-button").await;
    p.press(Key::Enter).await;
    p.wait(
        "the confirmation dialog",
        "return document.getElementById('withdraw-dialog').open",
    )
    .await;
    let inside = p
        .js(
            "return !!document.activeElement.closest('#withdraw-dialog')",
            vec![],
        )
        .await;
    assert_eq!(inside, json!(true), "the focus moves into the dialog");
    p.shot("consent-confirm").await;
    p.audit("consent-dialog").await;
    p.press(Key::Escape).await;
    p.wait(
        "the dialog closed",
        "return !document.getElementById('withdraw-dialog').open",
    )
    .await;
    assert_eq!(s.server.size(), before, "cancelling withdrew nothing");
    p.tab_to("withdraw-button").await;
    p.press(Key::Enter).await;
    p.wait(
        "the confirmation dialog",
        "return document.getElementById('withdraw-dialog').open",
    )
    .await;
    p.tab_to("withdraw-yes").await;
    p.press(Key::Enter).await;
    p.wait(
        "the withdrawal receipt verified",
        "return document.getElementById('withdrawal-result')?.dataset.verified === 'true' \
         && document.getElementById('consent-status')?.dataset.status === 'withdrawn'",
    )
    .await;
    assert_eq!(s.server.size(), before + 1, "one withdrawal entry");
    p.shot("consent-withdrawn").await;

    // The withdrawal receipt downloads, and the Rust verifier accepts it.
    p.find("#withdrawal-download").await.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let downloaded = loop {
        let done: Vec<PathBuf> = std::fs::read_dir(&downloads)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        if let [file] = done.as_slice() {
            break file.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no download in {}",
            downloads.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let file: Value = serde_json::from_slice(&std::fs::read(&downloaded).unwrap()).unwrap();
    let (report, receipt) =
        datapole::verify::receipt::verify_document(&file, Some(&s.vkey)).unwrap();
    assert!(report.ok(), "{report:#?}");
    let leaf: Value = serde_json::from_slice(&receipt.leaf_bytes().unwrap()).unwrap();
    assert_eq!(leaf["type"], "withdrawal");

    // The lab's next access is denied, and shows in the list once refreshed.
    let deny = s.access(&consent_id);
    assert_eq!(deny.status, 403, "{}", deny.text());
    p.find("#refresh-button").await.click().await.unwrap();
    p.wait(
        "the denied access listed",
        "return document.querySelectorAll('#accesses tr[data-access-id]').length === 2 \
         && document.querySelector('#accesses tr[data-decision=deny][data-reason=consent_withdrawn][data-verified=true]')",
    )
    .await;
    let events = p
        .js(
            "return [...document.querySelectorAll('#events tr[data-type]')].map((r) => [r.dataset.type, r.dataset.verified])",
            vec![],
        )
        .await;
    assert_eq!(
        events,
        json!([["consent", "true"], ["withdrawal", "true"]]),
        "the events, each receipt verified"
    );
    p.wait(
        "the withdraw button hidden once withdrawn",
        "return document.getElementById('withdraw-button').offsetParent === null",
    )
    .await;
    p.shot("consent-accesses").await;

    // In English too.
    p.find("#lang-switch").await.click().await.unwrap();
    p.wait(
        "the page in English",
        "return document.documentElement.lang === 'en' \
         && document.getElementById('consent-status').innerText.includes('You withdrew your consent') \
         && document.getElementById('withdraw-dialog').textContent.includes('Cancel')",
    )
    .await;
    p.shot("consent-en").await;
    p.find("#lang-switch").await.click().await.unwrap();

    // The explorer: a file picked in the browser, hashed there, found; another not found.
    p.goto("/explorer").await;
    let deposited = write_file(&files, "air-quality.csv", vectors::PUBLIC_CONTENT);
    p.pick("#file-input", &deposited).await;
    let sha = common::sha_hex(vectors::PUBLIC_CONTENT);
    p.wait(
        "the deposited file found",
        &format!(
            "return document.getElementById('file-hash').textContent === '{sha}' \
             && document.querySelector('#file-result [data-result=found]') \
             && document.querySelectorAll('#file-result tbody tr[data-verified=true]').length === 1"
        ),
    )
    .await;
    p.shot("explorer-found").await;
    let other = write_file(&files, "never-deposited.csv", b"not in the log\n");
    p.pick("#file-input", &other).await;
    let other_sha = common::sha_hex(b"not in the log\n");
    p.wait(
        "the other file not found",
        &format!(
            "return document.getElementById('file-hash').textContent === '{other_sha}' \
             && document.querySelector('#file-result [data-result=not-found]')"
        ),
    )
    .await;
    p.audit("explorer").await;

    // An archived dataset's custody timeline, on a log whose archive keeps two copies.
    let archived = archived_dataset(dir.path());
    let custody = Page {
        c: p.c.clone(),
        base: archived.server.base.clone(),
        shots: shots.clone(),
    };
    custody_timeline(&custody, &archived, &downloads).await;

    // A log with a witness: the home page verifies the checkpoint and the cosignature.
    let witnessed = witnessed_log(dir.path());
    let (log, _witness) = &witnessed;
    let home = Page {
        c: p.c.clone(),
        base: log.base.clone(),
        shots: shots.clone(),
    };
    home.goto("/").await;
    home.wait(
        "the checkpoint and the cosignature verified",
        "return document.getElementById('checkpoint-verified')?.dataset.verified === 'true' \
         && document.querySelector('tr[data-witness][data-verified=true]')",
    )
    .await;
    home.shot("home-witnessed").await;
    home.audit("home-witnessed").await;
    p.c.close().await.unwrap();
    eprintln!("screenshots in {}", shots.display());
}
