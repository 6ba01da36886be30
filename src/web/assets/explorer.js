// Explorer: latest entries, an entry by index, deposits by SHA-256, whether a file the
// visitor picks was deposited (hashed in the browser: the file is never uploaded), and a
// dataset: its versions and its custody timeline (dataset.js). Each deposit found is proved
// here: its receipt is verified in the browser against this Data Pôle's key, and its entry
// must name the digest looked up; so is each version and custody event of a dataset, and the
// latest fixity run's checks of its copies. A dataset opens from its id, from a link on any
// dataset id the page shows, or from the address (`/explorer?dataset=<id>`).
import { apply, lang, t } from "/assets/i18n.js";
import { el, fetchJSON, sha256, toHex } from "/assets/api.js";
import { passed, verifiedCell } from "/assets/checks.js";
import { datasetId, loadDataset } from "/assets/dataset.js";
import { opened, servedLogKey, verifyReceipt } from "/assets/verify.js";

const LATEST = 10;
/** Receipts verified at once. */
const BATCH = 20;

/** The key of the Data Pôle that served this page (undefined if it names none). */
const served = servedLogKey();

const $ = (id) => document.getElementById(id);

/** What each part shows, redrawn when the language changes. */
const shown = { latest: null, entry: null, file: null, sha: null, dataset: null };
/** Bumped at each lookup, per part: an older answer is dropped. */
const generations = { file: 0, sha: 0, entry: 0, dataset: 0 };
/** Participants' names by id (public: `GET /v1/participants/{id}`; null when unknown). */
const names = new Map();
/** How many participants' names one dataset may look up. */
const MAX_NAMES = 50;
/** The blob: URLs of the dataset's receipt download links, revoked when it is redrawn. */
let blobs = [];

function locale() {
  return lang() === "fr" ? "fr-FR" : "en-GB";
}

/** `template` with each `{name}` replaced. */
function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
}

/** The words for `value` of a kind of code; unknown codes as they are. */
function word(kind, value) {
  const key = `${kind}_${value}`;
  const text = t(key);
  return text === key ? String(value ?? "?") : text;
}

/** A `<time>`: the ISO date for machines, the local one for people. */
function timeEl(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return el("span", iso ? String(iso) : "—");
  return el("time", d.toLocaleString(locale(), { dateStyle: "short", timeStyle: "medium" }), {
    datetime: String(iso),
  });
}

function td(...content) {
  const cell = el("td");
  cell.append(...content);
  return cell;
}

/** A link that opens dataset `id` in this page (and works as an address too). */
function datasetLink(id) {
  const clean = datasetId(id);
  if (!clean) return el("span", String(id ?? ""), { class: "mono" });
  return el("a", clean, { href: `/explorer?dataset=${clean}`, class: "mono", "data-dataset": clean });
}

/** One line about an entry: its id, or for a deposit its content and dataset, or for a
 * custody event its dataset (as a link to it), as a list of nodes and strings. */
function summary(entry) {
  if (!entry || typeof entry !== "object") return [""];
  if (entry.type === "deposit") {
    return [
      `sha256 ${entry.sha256} · ${t("dataset")} `,
      datasetLink(entry.dataset_id),
      ` · ${t("version")} ${entry.version} · ${word("visibility", entry.visibility)}`,
    ];
  }
  if (entry.type === "participant") {
    const roles = (entry.roles ?? []).map((r) => word("participant_role", r)).join(", ");
    return [`${entry.name ?? ""} (${roles})`];
  }
  if (entry.type === "participant_roles") {
    const roles = (entry.roles ?? []).map((r) => word("participant_role", r)).join(", ");
    return [fill(t("participant_change_roles"), { id: entry.participant ?? "", roles: roles || t("participant_roles_none") })];
  }
  if (entry.type === "participant_token") {
    return [fill(t("participant_change_token"), { id: entry.participant ?? "", token: entry.token ?? "?" })];
  }
  if (typeof entry.dataset_id === "string") {
    return [`${t("dataset")} `, datasetLink(entry.dataset_id), ` · ${t("version")} ${entry.version}`];
  }
  if (entry.type === "fixity") {
    return [fill(t("fixity_summary"), { checked: entry.checked, intact: entry.intact, repaired: entry.repaired })];
  }
  return [entry.id ?? ""];
}

function entryTime(entry) {
  return entry?.deposited_at ?? entry?.time ?? entry?.registered_at ?? entry?.at ?? "";
}

function entryRow(view) {
  const tr = el("tr");
  tr.append(
    el("td", view.index),
    el("td", word("entry_type", view.entry?.type)),
    td(timeEl(entryTime(view.entry))),
    el("td", null, { class: "mono" }),
  );
  tr.lastChild.append(...summary(view.entry));
  return tr;
}

function drawLatest() {
  const message = $("latest-message");
  const rows = $("latest-rows");
  const s = shown.latest;
  rows.replaceChildren();
  if (!s) return;
  if (s.error) {
    message.textContent = t("error") + s.error;
    return;
  }
  if (s.views.length === 0) {
    message.textContent = t("none_yet");
    $("latest").hidden = true;
    return;
  }
  for (const view of s.views) rows.append(entryRow(view));
  $("latest").hidden = false;
  message.textContent = "";
}

async function latest() {
  try {
    const info = await fetchJSON("/v1/log");
    const first = Math.max(0, info.size - LATEST);
    const views = await Promise.all(
      Array.from({ length: info.size - first }, (_, k) => fetchJSON(`/v1/entries/${info.size - 1 - k}`)),
    );
    shown.latest = { views };
  } catch (e) {
    shown.latest = { error: e.message };
  }
  drawLatest();
}

/** Verifies the receipt of each deposit listed, pinned to this Data Pôle's key; each row
 * gets `{claim, checks, leaf}` (`leaf` only when the receipt verifies and names `hex`). */
async function verifyDeposits(deposits, hex) {
  const out = [];
  for (let i = 0; i < deposits.length; i += BATCH) {
    const batch = deposits.slice(i, i + BATCH).map(async (d) => {
      let checks;
      let leaf = null;
      try {
        const receipt = await fetchJSON(`/v1/receipts/${encodeURIComponent(d.index)}`);
        checks = await verifyReceipt(receipt, served);
        if (passed(checks)) {
          const entry = opened(receipt).leaf;
          const same = entry?.type === "deposit" && String(entry.sha256).toLowerCase() === hex && receipt.index === d.index;
          checks = [
            ...checks,
            {
              name: "content",
              ok: same,
              detail: same ? `entry ${receipt.index} is a deposit of sha256 ${hex}` : `entry ${receipt.index} is not a deposit of sha256 ${hex}`,
            },
          ];
          if (same) leaf = entry;
        }
      } catch (e) {
        checks = [{ name: "format", ok: false, detail: e.message }];
      }
      return { claim: d, checks, leaf };
    });
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

/** The deposits found: each row from its verified entry (the server's listing only where the
 * receipt does not verify, and then marked so). */
function depositsTable(rows) {
  const table = el("table");
  table.createCaption().textContent = t("deposits_of");
  const head = el("tr");
  for (const key of ["index", "dataset", "version", "depositor", "visibility", "deposited_at", "receipt_col"]) {
    head.append(el("th", t(key), { scope: "col" }));
  }
  table.append(el("thead"), el("tbody"));
  table.tHead.append(head);
  for (const row of rows) {
    const ok = Boolean(row.leaf);
    const d = ok ? row.leaf : row.claim;
    const tr = el("tr", null, { "data-index": String(row.claim.index), "data-verified": String(ok) });
    if (ok) {
      tr.append(
        el("td", row.claim.index),
        td(datasetLink(d.dataset_id)),
        el("td", d.version),
        el("td", d.depositor, { class: "mono" }),
        el("td", word("visibility", d.visibility)),
        td(timeEl(d.deposited_at)),
      );
    } else {
      const cell = el("td", null, { colspan: "5", class: "bad" });
      cell.append(el("span", "✗ ", { "aria-hidden": "true" }), t("deposit_not_verified"));
      tr.append(el("td", row.claim.index), cell);
    }
    const receipt = td(verifiedCell(row.checks));
    tr.append(receipt);
    table.tBodies[0].append(tr);
  }
  const wrap = el("div", null, { class: "table-wrap" });
  wrap.append(table);
  return wrap;
}

function drawDeposits(part, out) {
  const s = shown[part];
  out.replaceChildren();
  if (!s) return;
  if (s.loading) {
    out.append(el("p", t("status_loading")));
    return;
  }
  if (s.error) {
    out.append(el("p", t("error") + s.error, { class: "bad" }));
    return;
  }
  if (s.rows.length === 0) {
    out.append(el("p", t("not_found"), { class: "bad", "data-result": "not-found" }));
    return;
  }
  const verified = s.rows.filter((r) => r.leaf).length;
  // "Deposited" only on the strength of receipts verified here, not of the server's listing.
  if (verified > 0) {
    out.append(el("p", `${t("found")} (${verified})`, { class: "ok", "data-result": "found" }));
  } else {
    out.append(el("p", t("found_unverified"), { class: "bad", "data-result": "unverified" }));
  }
  const line = el("p", null, { class: verified === s.rows.length ? "ok" : "bad" });
  line.append(
    el("span", verified === s.rows.length ? "✓ " : "✗ ", { "aria-hidden": "true" }),
    fill(t(verified === s.rows.length ? "deposits_verified" : "deposits_unverified"), {
      n: verified,
      total: s.rows.length,
    }),
  );
  out.append(line);
  if (!served) out.append(el("p", t("key_warning_page"), { class: "warn" }));
  out.append(depositsTable(s.rows));
}

/** Shows the deposits of `hex` in `out`, each one's receipt verified here. */
async function showDeposits(part, hex, out) {
  const gen = ++generations[part];
  shown[part] = { loading: true };
  drawDeposits(part, out);
  try {
    const list = await fetchJSON(`/v1/deposits?sha256=${encodeURIComponent(hex)}`);
    const deposits = Array.isArray(list?.deposits) ? list.deposits : [];
    const rows = await verifyDeposits(deposits, hex);
    if (gen !== generations[part]) return;
    shown[part] = { rows };
  } catch (e) {
    if (gen !== generations[part]) return;
    shown[part] = { error: e.message };
  }
  drawDeposits(part, out);
}

function drawEntry() {
  const out = $("entry-result");
  out.replaceChildren();
  const s = shown.entry;
  if (!s) return;
  if (s.error) {
    out.append(el("p", t("error") + s.error, { class: "bad" }));
    return;
  }
  const view = s.view;
  const dl = el("dl", null, { class: "facts" });
  dl.append(el("dt", t("index")), el("dd", view.index));
  dl.append(el("dt", t("type")), el("dd", word("entry_type", view.entry?.type)));
  const time = el("dd");
  time.append(timeEl(entryTime(view.entry)));
  dl.append(el("dt", t("time")), time);
  if (typeof view.entry?.dataset_id === "string") {
    const dataset = el("dd");
    dataset.append(datasetLink(view.entry.dataset_id));
    dl.append(el("dt", t("dataset")), dataset);
  }
  dl.append(el("dt", t("leaf_hash")), el("dd", view.leaf_hash, { class: "mono" }));
  const pre = el("pre", JSON.stringify(view.entry, null, 2), { class: "mono" });
  out.append(dl, pre);
}

// ---------------------------------------------------------------------------------------
// A dataset: its versions, its custody timeline, the latest fixity run's checks of its copies.

/** `n` bytes, in words. */
function bytes(n) {
  return fill(t("bytes"), { n: new Intl.NumberFormat(locale()).format(n) });
}

/** A participant: its name, if this Data Pôle gives one, and its id. */
function participant(id) {
  const span = el("span");
  const name = names.get(id);
  if (name) span.append(el("span", name), " ");
  span.append(el("span", name ? `(${id})` : id, { class: name ? "mono muted" : "mono" }));
  return span;
}

/** A custody event's name in words: "Legal hold placed" or "lifted" after its `hold`. */
function custodyLabel(leaf) {
  if (leaf.type === "legal_hold") return t(leaf.hold ? "custody_legal_hold_placed" : "custody_legal_hold_lifted");
  return word("custody", leaf.type);
}

/** A link that downloads `receipt` as a JSON file, to check again on /verify or with
 * `datapole verify`. */
function receiptLink(receipt, index, label) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(receipt, null, 2)], { type: "application/json" }));
  blobs.push(url);
  const a = el("a", t("download_receipt"), { href: url, download: `receipt-${index}.json` });
  a.setAttribute("aria-label", fill(t("download_entry_receipt"), { index, what: label }));
  return a;
}

/** The facts of a verified custody event, as `[term, value]` pairs (a value a string or node). */
function custodyFacts(leaf) {
  const list = (xs) => xs.join(", ");
  const entryNo = (i) => fill(t("entry_number"), { index: i });
  switch (leaf.type) {
    case "storage": {
      const retention = el("span");
      if (leaf.retain_until) retention.append(t("retained_until"), " ", timeEl(leaf.retain_until));
      else retention.append(t("no_retention"));
      return [
        ["fact_locations", list(leaf.locations)],
        ["fact_encryption", t(leaf.encrypted ? "encrypted_yes" : "encrypted_no")],
        ["fact_retention", retention],
        ["fact_stored_sha256", el("span", leaf.sha256, { class: "mono" })],
        ["fact_stored_size", bytes(leaf.size)],
        ["fact_deposit_entry", entryNo(leaf.deposit)],
        ["fact_object", el("span", leaf.object, { class: "mono" })],
      ];
    }
    case "fixity_failure": {
      const facts = [
        ["fact_location", leaf.location],
        ["fact_outcome", word("outcome", leaf.outcome)],
      ];
      if (leaf.found_sha256) facts.push(["fact_found_sha256", el("span", leaf.found_sha256, { class: "mono" })]);
      return facts;
    }
    case "repair":
      return [
        ["fact_repaired_location", leaf.location],
        ["fact_repair_source", leaf.source],
        ["fact_failure_entry", entryNo(leaf.failure)],
      ];
    case "download":
      return [
        ["fact_downloaded_by", participant(leaf.by)],
        ["fact_under", leaf.access ? el("span", fill(t("under_access"), { id: leaf.access }), { class: "mono" }) : t("under_depositor")],
        ["fact_range", leaf.range ? fill(t("range_part"), { range: leaf.range }) : t("range_whole")],
      ];
    case "legal_hold":
      return [["fact_reference", leaf.reference]];
    case "disposal":
      return [
        ["fact_disposed_by", leaf.by ? participant(leaf.by) : t("disposed_by_policy")],
        ["fact_deleted_at", list(leaf.locations)],
        ["fact_destroyed_sha256", el("span", leaf.sha256, { class: "mono" })],
        ["fact_storage_entry", entryNo(leaf.storage)],
      ];
    default:
      return [];
  }
}

/** One item of the custody timeline. */
function custodyItem(item) {
  const leaf = item.leaf;
  const index = item.claim.index;
  const ok = Boolean(leaf);
  const li = el("li", null, {
    "data-index": String(index),
    "data-type": ok ? leaf.type : String(item.claim.type ?? ""),
    "data-verified": String(ok),
  });
  const label = ok ? custodyLabel(leaf) : fill(t("entry_number"), { index });
  li.append(el("h4", label));
  if (ok) {
    const when = el("p", null, { class: "when" });
    when.append(timeEl(leaf.time), ` · ${fill(t("entry_number"), { index })} · ${t("version")} ${leaf.version}`);
    const dl = el("dl", null, { class: "facts" });
    for (const [term, value] of custodyFacts(leaf)) {
      const dd = el("dd");
      dd.append(value);
      dl.append(el("dt", t(term)), dd);
    }
    li.append(when, dl);
  } else {
    const p = el("p", null, { class: "bad" });
    p.append(el("span", "✗ ", { "aria-hidden": "true" }), t("custody_not_verified"));
    li.append(p);
  }
  const proof = el("p", null, { class: "proof" });
  proof.append(verifiedCell(item.checks), " · ", receiptLink(item.claim.receipt, index, label));
  li.append(proof);
  return li;
}

/** A verdict line, ✓ or ✗ with the words (never colour alone). */
function verdict(ok, text, attrs = {}) {
  const p = el("p", null, { class: ok ? "ok" : "bad", ...attrs });
  p.append(el("span", ok ? "✓ " : "✗ ", { "aria-hidden": "true" }), text);
  return p;
}

function versionsTable(rows) {
  const table = el("table", null, { id: "dataset-versions" });
  table.createCaption().textContent = t("versions_caption");
  const head = el("tr");
  for (const key of ["version", "index", "sha256", "size_col", "visibility", "deposited_at", "receipt_col"]) {
    head.append(el("th", t(key), { scope: "col" }));
  }
  table.append(el("thead"), el("tbody"));
  table.tHead.append(head);
  for (const row of rows) {
    const leaf = row.leaf;
    const tr = el("tr", null, { "data-index": String(row.claim.index), "data-verified": String(Boolean(leaf)) });
    if (leaf) {
      tr.append(
        el("td", leaf.version),
        el("td", row.claim.index),
        el("td", leaf.sha256, { class: "mono" }),
        el("td", bytes(leaf.size)),
        el("td", word("visibility", leaf.visibility)),
        td(timeEl(leaf.deposited_at)),
      );
    } else {
      const cell = el("td", null, { colspan: "5", class: "bad" });
      cell.append(el("span", "✗ ", { "aria-hidden": "true" }), t("deposit_not_verified"));
      tr.append(el("td", row.claim.version ?? "?"), cell);
    }
    const label = `${t("version")} ${leaf?.version ?? row.claim.version ?? "?"}`;
    const receipt = td(verifiedCell(row.checks));
    if (row.receipt) receipt.append(el("br"), receiptLink(row.receipt, row.claim.index, label));
    tr.append(receipt);
    table.tBodies[0].append(tr);
  }
  const wrap = el("div", null, { class: "table-wrap" });
  wrap.append(table);
  return wrap;
}

function drawVersions(out, d) {
  out.append(el("h3", t("versions_title")));
  if (d.versions.length === 0) {
    out.append(el("p", t("versions_none")));
    return;
  }
  out.append(versionsTable(d.versions));
  if (d.versionsTruncated) out.append(el("p", fill(t("list_truncated"), { n: d.versions.length }), { class: "warn" }));
}

function drawChain(out, d) {
  out.append(el("h3", t("custody_title"), { id: "custody-title" }));
  const intro = el("p", null, { class: "muted" });
  intro.append(t("custody_intro"), " ", el("a", t("custody_intro_verify"), { href: "/verify" }), ".");
  out.append(intro);
  if (d.chain.length === 0) {
    out.append(el("p", t("custody_none"), { id: "custody-verdict", "data-verified": "none" }));
    return;
  }
  const verified = d.chain.filter((item) => item.leaf).length;
  const all = verified === d.chain.length;
  const text = all
    ? fill(t(d.chain.length === 1 ? "custody_verified_one" : "custody_verified"), { n: d.chain.length })
    : fill(t("custody_unverified"), { n: verified, total: d.chain.length });
  out.append(verdict(all, text, { id: "custody-verdict", "data-verified": String(all) }));
  if (d.chainTruncated) out.append(el("p", fill(t("list_truncated"), { n: d.chain.length }), { class: "warn" }));
  const ol = el("ol", null, { id: "custody-list", class: "timeline", "aria-labelledby": "custody-title" });
  for (const item of d.chain) ol.append(custodyItem(item));
  out.append(ol);
}

/** What a copy's row says of it: the outcome its proved record gives, or why there is none. */
function copyResult(copy) {
  if (copy.record) {
    const text = word("outcome", copy.record.outcome) + (copy.record.repaired ? t("outcome_repaired") : "");
    return el("span", text, { class: copy.record.outcome === "intact" ? "ok" : "bad" });
  }
  if (copy.checks.length === 0) {
    return el("span", t(copy.after ? "copy_after_run" : "copy_not_in_run"), { class: copy.after ? "" : "bad" });
  }
  return el("span", t("copy_not_proved"), { class: "bad" });
}

function copiesTable(copies) {
  const table = el("table", null, { id: "fixity-copies" });
  table.createCaption().textContent = t("copies_caption");
  const head = el("tr");
  for (const key of ["version", "fact_location", "fact_outcome", "proof_col"]) head.append(el("th", t(key), { scope: "col" }));
  table.append(el("thead"), el("tbody"));
  table.tHead.append(head);
  for (const copy of copies) {
    const tr = el("tr", null, {
      "data-location": String(copy.location ?? ""),
      "data-outcome": copy.record ? copy.record.outcome : "",
      "data-repaired": String(Boolean(copy.record?.repaired)),
      "data-verified": String(Boolean(copy.record)),
    });
    tr.append(
      el("td", copy.version ?? "?"),
      el("td", copy.location ?? "?"),
      td(copyResult(copy)),
      td(copy.checks.length ? verifiedCell(copy.checks) : el("span", "—")),
    );
    table.tBodies[0].append(tr);
  }
  const wrap = el("div", null, { class: "table-wrap" });
  wrap.append(table);
  return wrap;
}

function drawFixity(out, d) {
  out.append(el("h3", t("fixity_title")));
  const live = d.chain.some((item) => item.leaf?.type === "storage");
  const f = d.fixity;
  if (!f) {
    out.append(el("p", t(live ? "fixity_none" : "fixity_nothing"), { id: "fixity-verdict", "data-state": "none" }));
    return;
  }
  const run = f.run;
  const label = t("custody_fixity");
  if (!run.leaf) {
    out.append(verdict(false, t("fixity_not_verified"), { id: "fixity-verdict", "data-state": "unverified" }));
    const proof = el("p");
    proof.append(verifiedCell(run.checks), " · ", receiptLink(run.claim.receipt, run.claim.index, label));
    out.append(proof);
    return;
  }
  const about = el("p");
  about.append(
    fill(t("fixity_run"), { index: run.claim.index }),
    " ",
    timeEl(run.leaf.time),
    fill(t("fixity_counts"), { checked: run.leaf.checked, intact: run.leaf.intact, repaired: run.leaf.repaired }),
  );
  const proof = el("p", null, { class: "proof" });
  proof.append(verifiedCell(run.checks), " · ", receiptLink(run.claim.receipt, run.claim.index, label));
  out.append(about, proof);
  const copies = f.copies;
  const proved = copies.filter((c) => c.record);
  const failed = proved.filter((c) => c.record.outcome !== "intact");
  const unproved = copies.filter((c) => !c.record && !c.after);
  let line;
  if (copies.length === 0) {
    line = el("p", t("fixity_no_copies"), { id: "fixity-verdict", "data-state": "none" });
  } else if (unproved.length > 0) {
    line = verdict(false, fill(t("fixity_unproved"), { n: unproved.length, total: copies.length }), { id: "fixity-verdict", "data-state": "unproved" });
  } else if (failed.length > 0) {
    const repaired = failed.filter((c) => c.record.repaired).length;
    // A fact the proofs establish, not a check that failed: a warning, without ✗.
    line = el("p", fill(t("fixity_failed"), { n: failed.length, total: proved.length, repaired }), {
      class: "warn",
      id: "fixity-verdict",
      "data-state": "failed",
    });
  } else if (proved.length > 0) {
    line = verdict(true, fill(t("fixity_intact"), { n: proved.length }), { id: "fixity-verdict", "data-state": "intact" });
  } else {
    line = el("p", t("fixity_none"), { id: "fixity-verdict", "data-state": "none" });
  }
  out.append(line);
  if (copies.length > 0) out.append(copiesTable(copies));
}

function drawDataset() {
  const status = $("dataset-status");
  const out = $("dataset-result");
  for (const url of blobs) URL.revokeObjectURL(url);
  blobs = [];
  out.replaceChildren();
  status.className = "";
  const s = shown.dataset;
  if (!s) {
    status.textContent = "";
    return;
  }
  if (s.loading) {
    status.textContent = t("status_loading");
    return;
  }
  if (s.error !== undefined) {
    status.className = "bad";
    if (s.code === "invalid") status.textContent = t("dataset_invalid");
    else if (s.code === "dataset_not_found") status.textContent = t("dataset_not_found");
    else status.textContent = t("error") + s.error;
    return;
  }
  const d = s.data;
  status.textContent = fill(t("dataset_shown"), { versions: d.versions.length, events: d.chain.length });
  const line = el("p");
  line.append(t("dataset_id_line"), el("code", d.id, { id: "dataset-shown" }));
  out.append(line);
  if (!served) out.append(el("p", t("key_warning_page"), { class: "warn" }));
  drawVersions(out, d);
  drawChain(out, d);
  drawFixity(out, d);
}

/** Looks up the names of the participants a dataset's verified events name. */
async function loadNames(d) {
  const ids = new Set();
  for (const item of d.chain) {
    if (item.leaf?.by) ids.add(item.leaf.by);
  }
  const wanted = [...ids].filter((id) => !names.has(id)).slice(0, MAX_NAMES);
  for (const id of wanted) {
    try {
      const p = await fetchJSON(`/v1/participants/${encodeURIComponent(id)}`);
      names.set(id, typeof p?.name === "string" && p.name ? p.name : null);
    } catch {
      names.set(id, null);
    }
  }
}

/** Shows dataset `id` (as typed, a link's or the address's). */
async function showDataset(id) {
  const gen = ++generations.dataset;
  const clean = datasetId(id);
  if (!clean) {
    shown.dataset = { error: null, code: "invalid" };
    drawDataset();
    return;
  }
  $("dataset-input").value = clean;
  shown.dataset = { loading: true };
  drawDataset();
  try {
    const data = await loadDataset(clean, served);
    await loadNames(data);
    if (gen !== generations.dataset) return;
    shown.dataset = { data };
    drawDataset();
  } catch (e) {
    if (gen !== generations.dataset) return;
    shown.dataset = { error: e.message, code: e.code };
    drawDataset();
  }
}

/** Opens dataset `id` from a link or the form: the address says which (so it can be shared,
 * and Back returns), and the focus moves to the dataset's heading when `focus`. */
function openDataset(id, focus) {
  const clean = datasetId(id);
  const url = clean ? `/explorer?dataset=${clean}` : "/explorer";
  if (`${location.pathname}${location.search}` !== url) history.pushState({ dataset: clean }, "", url);
  showDataset(id);
  if (focus) {
    const heading = $("dataset-title");
    heading.scrollIntoView({ block: "start" });
    heading.focus({ preventScroll: true });
  }
}

/** The dataset the address names, if any. */
function datasetFromAddress() {
  return new URLSearchParams(location.search).get("dataset");
}

function drawAll() {
  drawLatest();
  drawEntry();
  drawDeposits("file", $("file-result"));
  drawDeposits("sha", $("sha-result"));
  drawDataset();
}

function wire() {
  $("file-input").addEventListener("change", async (event) => {
    const file = event.target.files?.[0];
    const out = $("file-result");
    generations.file++;
    shown.file = null;
    out.replaceChildren();
    if (!file) return;
    const hex = toHex(await sha256(await file.arrayBuffer()));
    $("file-hash").textContent = hex;
    $("file-hash-line").hidden = false;
    await showDeposits("file", hex, out);
  });
  $("sha-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const hex = $("sha-input").value.trim().toLowerCase();
    await showDeposits("sha", hex, $("sha-result"));
  });
  $("dataset-form").addEventListener("submit", (event) => {
    event.preventDefault();
    openDataset($("dataset-input").value, false);
  });
  // Any dataset link the page draws opens the dataset here (a new tab or window still works).
  document.addEventListener("click", (event) => {
    const a = event.target.closest?.("a[data-dataset]");
    if (!a || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    openDataset(a.dataset.dataset, true);
  });
  window.addEventListener("popstate", () => {
    const id = datasetFromAddress();
    if (id) showDataset(id);
    else {
      generations.dataset++;
      shown.dataset = null;
      $("dataset-input").value = "";
      drawDataset();
    }
  });
  $("entry-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const gen = ++generations.entry;
    const index = $("entry-input").value;
    try {
      const view = await fetchJSON(`/v1/entries/${encodeURIComponent(index)}`);
      if (gen !== generations.entry) return;
      shown.entry = { view };
    } catch (e) {
      if (gen !== generations.entry) return;
      shown.entry = { error: e.message };
    }
    drawEntry();
  });
}

apply(drawAll);
wire();
latest();
if (datasetFromAddress()) showDataset(datasetFromAddress());
