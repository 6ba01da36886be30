// Home: the log's status, verified here: the checkpoint `/checkpoint` serves is checked in the
// browser against this Data Pôle's key (named in the page), and the size and root shown are
// the verified checkpoint's; the latest entry's time comes from its receipt, verified too; and
// each witness's cosignature of that checkpoint is verified with the witness's key.
import { apply, lang, t } from "/assets/i18n.js";
import { el, fetchJSON } from "/assets/api.js";
import { opened, servedLogKey, verifyCheckpoint, verifyCosignatures, verifyReceipt } from "/assets/verify.js";

const $ = (id) => document.getElementById(id);

/** The key of the Data Pôle that served this page (undefined if it names none). */
const served = servedLogKey();

/** What was read and verified; redrawn when the language changes. */
let state = null;

function locale() {
  return lang() === "fr" ? "fr-FR" : "en-GB";
}

/** A `<time>`: ISO for machines, local for people. */
function timeEl(date) {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) return el("span", "—");
  return el("time", date.toLocaleString(locale(), { dateStyle: "long", timeStyle: "medium" }), {
    datetime: date.toISOString(),
  });
}

/** Bytes to standard base64. */
function toBase64(bytes) {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** `template` with each `{name}` replaced. */
function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
}

/** A ✓ or ✗ line: the mark hidden from screen readers, the words for everyone. */
function marked(ok, text) {
  const span = el("span", null, { class: ok ? "ok" : "bad" });
  span.append(el("span", ok ? "✓ " : "✗ ", { "aria-hidden": "true" }), text);
  return span;
}

/** GETs `/checkpoint`: `{note}`, or `{notWitnessed: true}` before the witnesses' first
 * cosigned checkpoint (503 `not_witnessed`). */
async function readCheckpoint() {
  const res = await fetch("/checkpoint", { cache: "no-store" });
  if (res.ok) return { note: await res.text() };
  let code;
  try {
    code = (await res.json())?.error?.code;
  } catch {
    code = undefined;
  }
  if (res.status === 503 && code === "not_witnessed") return { notWitnessed: true };
  throw new Error(`/checkpoint: HTTP ${res.status}`);
}

/** The latest entry's time, from its receipt verified against `key`: `{time, ok}`. */
async function latestEntry(size, key) {
  if (size === 0n) return { empty: true };
  try {
    const receipt = await fetchJSON(`/v1/receipts/${size - 1n}`);
    const checks = await verifyReceipt(receipt, key);
    // Valid, and the receipt of that very entry (not of an older one).
    const ok = checks.length > 0 && checks.every((c) => c.ok === true) && BigInt(receipt.index) === size - 1n;
    if (!ok) return { ok: false };
    const leaf = opened(receipt).leaf;
    const iso = leaf?.time ?? leaf?.deposited_at ?? leaf?.registered_at;
    return { ok: true, time: new Date(iso), index: (size - 1n).toString() };
  } catch (e) {
    return { ok: false, error: e.message };
  }
}

async function load() {
  const s = {};
  try {
    s.info = await fetchJSON("/v1/log");
  } catch (e) {
    state = { error: e.message };
    draw();
    return;
  }
  // This Data Pôle's key as the page names it; without it, the one its API gives.
  s.key = served ?? s.info.vkey;
  s.keyMismatch = Boolean(served) && s.info.vkey !== served;
  try {
    const read = await readCheckpoint();
    if (read.notWitnessed) s.notWitnessed = true;
    else {
      s.note = read.note;
      try {
        s.cp = await verifyCheckpoint(read.note, s.key);
        if (s.cp.origin !== s.info.origin) s.originMismatch = true;
      } catch (e) {
        s.cpError = e.message;
      }
    }
  } catch (e) {
    s.cpError = e.message;
  }
  if (s.cp) s.latest = await latestEntry(s.cp.size, s.key);
  const w = s.info.witnessing;
  if (w) {
    const vkeys = (w.witnesses ?? []).map((x) => x.vkey);
    // Cosignatures count only on a checkpoint the log's key signed.
    s.cosignatures = s.cp ? await verifyCosignatures(s.note, vkeys) : vkeys.map(() => null);
  }
  state = s;
  draw();
}

function drawStatus() {
  const message = $("status-message");
  const verified = $("checkpoint-verified");
  const facts = $("status");
  const note = $("log-key-note");
  if (!state) return;
  if (state.error) {
    message.hidden = false;
    message.textContent = t("status_error") + state.error;
    message.className = "bad";
    return;
  }
  message.hidden = true;
  const s = state;
  verified.hidden = false;
  verified.replaceChildren();
  if (s.cp && !s.originMismatch) {
    verified.dataset.verified = "true";
    verified.append(marked(true, t("checkpoint_verified")));
  } else {
    verified.dataset.verified = "false";
    if (s.notWitnessed) verified.append(el("span", t("checkpoint_not_witnessed")));
    else if (s.originMismatch) verified.append(marked(false, t("checkpoint_other_origin")));
    else {
      verified.append(marked(false, t("checkpoint_not_verified")));
      if (s.cpError) verified.append(" ", el("span", s.cpError, { lang: "en", class: "tech-inline" }));
    }
  }
  facts.hidden = false;
  $("log-origin").textContent = s.cp?.origin ?? s.info.origin;
  $("log-size").textContent = s.cp ? s.cp.size.toLocaleString(locale()) : "—";
  $("log-root").textContent = s.cp ? toBase64(s.cp.root) : "—";
  $("log-vkey").textContent = s.key;
  const latest = $("log-latest");
  latest.replaceChildren();
  if (!s.latest) latest.textContent = "—";
  else if (s.latest.empty) latest.textContent = t("none_yet");
  else if (s.latest.ok) {
    latest.append(timeEl(s.latest.time), " ");
    latest.append(el("span", fill(t("latest_entry_index"), { index: s.latest.index }), { class: "muted" }));
  } else latest.append(marked(false, t("latest_entry_unverified")));
  note.hidden = !s.keyMismatch;
  note.textContent = s.keyMismatch ? t("log_key_mismatch") : "";
}

function drawWitnesses() {
  if (!state || state.error) return;
  const w = state.info.witnessing;
  $("witnesses-none").hidden = Boolean(w);
  $("witnesses").hidden = !w;
  if (!w) return;
  $("witness-quorum").textContent = String(w.quorum);
  const results = state.cosignatures ?? [];
  const count = results.filter((r) => r?.ok).length;
  const summary = $("witness-summary");
  if (state.notWitnessed) {
    summary.textContent = t("checkpoint_not_witnessed");
    summary.className = "";
  } else if (!state.cp) {
    summary.textContent = t("witnesses_no_checkpoint");
    summary.className = "bad";
  } else {
    // The keys and the quorum are this Data Pôle's own list: say so.
    summary.textContent = `${fill(t("witnesses_count"), { n: count, total: results.length, quorum: w.quorum })} ${t("witnesses_keys_note")}`;
    summary.className = w.quorum >= 1 && count >= w.quorum ? "ok" : "bad";
  }
  const rows = $("witness-rows");
  rows.replaceChildren();
  (w.witnesses ?? []).forEach((witness, i) => {
    const r = results[i];
    const ok = r?.ok === true;
    const tr = el("tr", null, { "data-witness": String(witness.name ?? ""), "data-verified": String(ok) });
    const status = el("td");
    if (ok) status.append(marked(true, t("witness_cosignature_ok")));
    else if (r) {
      status.append(marked(false, t("witness_cosignature_bad")));
      status.append(el("br"), el("span", r.detail, { lang: "en", class: "tech-inline" }));
    } else status.append(el("span", "—"));
    const at = el("td");
    if (ok && r.time !== null) at.append(timeEl(new Date(r.time * 1000)));
    else at.append("—");
    tr.append(
      el("td", r?.name ?? witness.name, { class: "mono" }),
      status,
      at,
      el("td", Number(witness.size ?? 0).toLocaleString(locale())),
      el("td", Number(witness.failures ?? 0).toLocaleString(locale())),
    );
    rows.append(tr);
  });
}

function draw() {
  drawStatus();
  drawWitnesses();
}

apply(draw);
load();
