// Explorer: latest entries, an entry by index, deposits by SHA-256, and whether a file the
// visitor picks was deposited (hashed in the browser: the file is never uploaded). Each
// deposit found is proved here: its receipt is verified in the browser against this Data
// Pôle's key, and its entry must name the digest looked up.
import { apply, lang, t } from "/assets/i18n.js";
import { el, fetchJSON, sha256, toHex } from "/assets/api.js";
import { passed, verifiedCell } from "/assets/checks.js";
import { opened, servedLogKey, verifyReceipt } from "/assets/verify.js";

const LATEST = 10;
/** Receipts verified at once. */
const BATCH = 20;

/** The key of the Data Pôle that served this page (undefined if it names none). */
const served = servedLogKey();

const $ = (id) => document.getElementById(id);

/** What each part shows, redrawn when the language changes. */
const shown = { latest: null, entry: null, file: null, sha: null };
/** Bumped at each lookup, per part: an older answer is dropped. */
const generations = { file: 0, sha: 0, entry: 0 };

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

/** One line about an entry: its id, or for a deposit its content and dataset. */
function summary(entry) {
  if (!entry || typeof entry !== "object") return "";
  if (entry.type === "deposit") {
    return `sha256 ${entry.sha256} · ${t("dataset")} ${entry.dataset_id} · ${t("version")} ${entry.version} · ${word("visibility", entry.visibility)}`;
  }
  if (entry.type === "participant") {
    const roles = (entry.roles ?? []).map((r) => word("participant_role", r)).join(", ");
    return `${entry.name ?? ""} (${roles})`;
  }
  return entry.id ?? "";
}

function entryTime(entry) {
  return entry?.deposited_at ?? entry?.time ?? entry?.registered_at ?? "";
}

function entryRow(view) {
  const tr = el("tr");
  tr.append(
    el("td", view.index),
    el("td", word("entry_type", view.entry?.type)),
    td(timeEl(entryTime(view.entry))),
    el("td", summary(view.entry), { class: "mono" }),
  );
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
        el("td", d.dataset_id, { class: "mono" }),
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
  dl.append(el("dt", t("leaf_hash")), el("dd", view.leaf_hash, { class: "mono" }));
  const pre = el("pre", JSON.stringify(view.entry, null, 2), { class: "mono" });
  out.append(dl, pre);
}

function drawAll() {
  drawLatest();
  drawEntry();
  drawDeposits("file", $("file-result"));
  drawDeposits("sha", $("sha-result"));
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
