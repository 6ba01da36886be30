// Verify a receipt: everything is checked here, in the browser, with WebCrypto; nothing is
// sent anywhere until the visitor asks to compare with the live log.
import { apply, t } from "/assets/i18n.js";
import { el } from "/assets/api.js";
import { fromBase64, verifyCheckpoint, verifyConsistency, verifyDocument } from "/assets/verify.js";

let current = null;

const MEANING = {
  format: "means_format",
  "log key": "means_log_key",
  "checkpoint signature": "means_checkpoint",
  inclusion: "means_inclusion",
  commitment: "means_commitment",
  "statement signature": "means_statement_signature",
  "statement matches entry": "means_statement_matches",
  statement: "means_statement",
  "record matches entry": "means_record_matches",
  record: "means_record",
};

async function check(text) {
  const list = document.getElementById("checks");
  const verdict = document.getElementById("verdict");
  list.replaceChildren();
  document.getElementById("live-result").textContent = "";
  document.getElementById("live-button").hidden = true;
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    verdict.textContent = t("not_json");
    verdict.className = "bad";
    return;
  }
  const pinned = document.getElementById("pinned-key").value.trim() || undefined;
  // A receipt, or an answer that carries one (a deposit's, an access decision's, a
  // withdrawal's, or a citizen's consent receipt, whose record is checked too).
  const { receipt, checks } = await verifyDocument(value, pinned);
  for (const c of checks) {
    const li = el("li", null, { "data-check": c.name, "data-ok": String(c.ok) });
    const mark = el("span", c.ok ? "✓" : "✗", { class: c.ok ? "ok" : "bad", "aria-hidden": "true" });
    const name = el("strong", ` ${c.name} `);
    const sr = el("span", c.ok ? t("check_ok") : t("check_failed"), { class: "skip" });
    const meaning = el("span", MEANING[c.name] ? t(MEANING[c.name]) : "", { class: "muted" });
    li.append(mark, sr, name, el("span", `— ${c.detail}. `), meaning);
    list.append(li);
  }
  const ok = checks.length > 0 && checks.every((c) => c.ok);
  verdict.textContent = ok ? t("receipt_valid") : t("receipt_invalid");
  verdict.className = ok ? "ok" : "bad";
  verdict.dataset.valid = String(ok);
  current = ok ? receipt : null;
  document.getElementById("live-button").hidden = !ok;
}

/** Compares the receipt's checkpoint with the live log's, by a consistency proof. */
async function live() {
  const out = document.getElementById("live-result");
  out.className = "";
  try {
    const receiptCp = await verifyCheckpoint(current.checkpoint, current.log.vkey);
    const note = await (await fetch("/checkpoint")).text();
    const liveCp = await verifyCheckpoint(note, current.log.vkey);
    if (liveCp.origin !== receiptCp.origin) throw new Error(t("live_other_log"));
    let ok;
    if (liveCp.size < receiptCp.size) ok = false;
    else if (liveCp.size === receiptCp.size) ok = liveCp.root.every((b, i) => b === receiptCp.root[i]);
    else {
      const res = await fetch(`/v1/proofs/consistency?from=${receiptCp.size}&to=${liveCp.size}`);
      const proof = (await res.json()).hashes.map(fromBase64);
      ok = await verifyConsistency(receiptCp.size, liveCp.size, receiptCp.root, liveCp.root, proof);
    }
    out.textContent = ok
      ? `${t("live_ok")} (${receiptCp.size} → ${liveCp.size})`
      : t("live_bad");
    out.className = ok ? "ok" : "bad";
    out.dataset.consistent = String(ok);
  } catch (e) {
    out.textContent = t("error") + e.message;
    out.className = "bad";
  }
}

document.getElementById("receipt-file").addEventListener("change", async (event) => {
  const file = event.target.files?.[0];
  if (!file) return;
  const text = await file.text();
  document.getElementById("receipt-text").value = text;
  await check(text);
});
document.getElementById("paste-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  await check(document.getElementById("receipt-text").value);
});
document.getElementById("live-button").addEventListener("click", live);
apply();
