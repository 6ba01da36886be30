// Verify a receipt: everything is checked here, in the browser, with WebCrypto; nothing is
// sent anywhere until the visitor asks to compare with the live log. The log key is pinned:
// the field starts with this Data Pôle's key (from the page), and an auditor may replace it
// with one obtained elsewhere; emptied, the receipt is checked against the key it names
// itself, which proves it consistent, not genuine, and the page says so.
import { apply, t } from "/assets/i18n.js";
import { passed, renderChecks } from "/assets/checks.js";
import {
  fromBase64,
  parseDocument,
  servedLogKey,
  verifyCheckpoint,
  verifyConsistency,
  verifyDocument,
} from "/assets/verify.js";

const $ = (id) => document.getElementById(id);

/** The key of the Data Pôle that served this page (undefined if it names none). */
const served = servedLogKey();

/** What the result shows; null before the first verification. */
let result = null;
/** The live comparison's outcome, kept to redraw it in the other language. */
let liveState = null;
/** Bumped at each verification: an older one's answer is dropped. */
let generation = 0;

/** Which key a verification was pinned to: this Data Pôle's, another one given, or none. */
function keyKind(pinned) {
  if (!pinned) return "none";
  return served && pinned === served ? "served" : "other";
}

/** The `log key` sentence fits the key the receipt was checked against. */
function meanings(kind) {
  if (kind === "served") return { "log key": { ok: "means_log_key_served", fail: "fails_log_key_served" } };
  return {};
}

function drawHelp() {
  const help = $("pinned-key-help");
  help.replaceChildren(t(served ? "pinned_key_help" : "pinned_key_help_none"));
  const value = $("pinned-key").value.trim();
  const note = $("pinned-key-note");
  note.hidden = true;
  note.textContent = "";
  if (!value) {
    note.textContent = t("pinned_key_empty");
    note.hidden = false;
  } else if (served && value !== served) {
    note.textContent = t("pinned_key_other");
    note.hidden = false;
  }
}

function draw() {
  drawHelp();
  const list = $("checks");
  const verdict = $("verdict");
  const warning = $("key-warning");
  if (!result) {
    list.replaceChildren();
    warning.hidden = true;
    return;
  }
  if (result.notJson) {
    list.replaceChildren();
    verdict.textContent = t("not_json");
    verdict.className = "bad";
    verdict.removeAttribute("data-valid");
    warning.hidden = true;
    $("live-button").hidden = true;
    return;
  }
  renderChecks(list, result.checks, meanings(result.kind));
  const ok = passed(result.checks);
  let text;
  if (!ok) text = t("receipt_invalid");
  else if (result.kind === "none") text = t("receipt_consistent");
  else if (result.kind === "served") text = t("receipt_valid_served");
  else text = t("receipt_valid");
  verdict.textContent = text;
  verdict.className = ok ? "ok" : "bad";
  verdict.dataset.valid = String(ok);
  warning.hidden = result.kind !== "none";
  warning.textContent = result.kind === "none" ? t("key_warning_none") : "";
  $("live-button").hidden = !ok;
  drawLive();
}

async function check(text) {
  const gen = ++generation;
  liveState = null;
  const live = $("live-result");
  live.textContent = "";
  live.removeAttribute("data-consistent");
  $("live-button").hidden = true;
  let value;
  try {
    value = parseDocument(text);
  } catch {
    result = { notJson: true };
    draw();
    return;
  }
  const pinned = $("pinned-key").value.trim() || undefined;
  // A receipt, or an answer that carries one (a deposit's, an access decision's, a
  // withdrawal's, or a citizen's consent receipt, whose record is checked too).
  let receipt;
  let checks;
  try {
    ({ receipt, checks } = await verifyDocument(value, pinned));
  } catch (e) {
    receipt = null;
    checks = [{ name: "format", ok: false, detail: e.message }];
  }
  if (gen !== generation) return;
  result = {
    checks,
    kind: keyKind(pinned),
    // The key the receipt's checkpoint was verified with: the live one must verify with it.
    key: pinned ?? receipt?.log?.vkey,
    receipt: passed(checks) ? receipt : null,
  };
  draw();
}

function drawLive() {
  const out = $("live-result");
  if (!liveState) return;
  out.replaceChildren();
  if (liveState.error !== undefined) {
    out.textContent = t("error") + liveState.error;
    out.className = "bad";
    return;
  }
  const ok = liveState.ok;
  out.textContent = ok ? `${t("live_ok")} (${liveState.from} → ${liveState.to})` : t("live_bad");
  out.className = ok ? "ok" : "bad";
  out.dataset.consistent = String(ok);
}

/** Compares the receipt's checkpoint with the live log's, by a consistency proof. */
async function live() {
  const gen = generation;
  const out = $("live-result");
  out.className = "";
  out.removeAttribute("data-consistent");
  const current = result?.receipt;
  if (!current) return;
  try {
    const key = result.key;
    const receiptCp = await verifyCheckpoint(current.checkpoint, key);
    const res = await fetch("/checkpoint", { cache: "no-store" });
    if (res.status === 503) throw new Error(t("checkpoint_not_witnessed"));
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const liveCp = await verifyCheckpoint(await res.text(), key);
    if (liveCp.origin !== receiptCp.origin) throw new Error(t("live_other_log"));
    let ok;
    if (liveCp.size < receiptCp.size) ok = false;
    else if (liveCp.size === receiptCp.size) ok = liveCp.root.every((b, i) => b === receiptCp.root[i]);
    else {
      const proofRes = await fetch(`/v1/proofs/consistency?from=${receiptCp.size}&to=${liveCp.size}`);
      if (!proofRes.ok) throw new Error(`HTTP ${proofRes.status}`);
      const proof = (await proofRes.json()).hashes.map(fromBase64);
      ok = await verifyConsistency(receiptCp.size, liveCp.size, receiptCp.root, liveCp.root, proof);
    }
    if (gen !== generation) return;
    liveState = { ok, from: receiptCp.size.toString(), to: liveCp.size.toString() };
  } catch (e) {
    if (gen !== generation) return;
    liveState = { error: e.message };
  }
  drawLive();
}

$("pinned-key").value = served ?? "";
$("pinned-key").addEventListener("input", drawHelp);
$("receipt-file").addEventListener("change", async (event) => {
  const file = event.target.files?.[0];
  if (!file) return;
  const text = await file.text();
  $("receipt-text").value = text;
  await check(text);
});
$("paste-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  await check($("receipt-text").value);
});
$("live-button").addEventListener("click", live);
apply(draw);
draw();
