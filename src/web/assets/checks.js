// The list of a receipt's checks as a citizen can read it, shared by the "verify a receipt"
// and "my consent" pages: for each check its mark (✓ or ✗, with a text for screen readers),
// its name in words, a plain sentence saying what it proves (or, when it fails, what that
// means), and the verifier's own technical detail, in English, smaller.
import { el } from "/assets/api.js";
import { t } from "/assets/i18n.js";

/** The i18n key part of a check's name: `statement matches entry` → `statement_matches_entry`. */
function keyOf(name) {
  return String(name ?? "").replace(/ /g, "_");
}

/** `key`'s text, or null when there is none. */
function text(key) {
  const s = t(key);
  return s === key ? null : s;
}

/** A check's name in words (the name itself when it has no translation). */
export function checkName(name) {
  return text(`check_${keyOf(name)}`) ?? String(name ?? "");
}

/** The sentence for a check: what it proves when it holds, what its failure means otherwise.
 * `meanings` overrides the sentence keys of some checks: `{ "log key": { ok, fail } }`. */
export function checkSentence(c, meanings = {}) {
  const own = meanings[c.name] ?? {};
  const k = keyOf(c.name);
  const key = c.ok === true ? own.ok ?? `means_${k}` : own.fail ?? `fails_${k}`;
  return text(key) ?? "";
}

/** True when there are checks and every one holds. */
export function passed(checks) {
  return Array.isArray(checks) && checks.length > 0 && checks.every((c) => c.ok === true);
}

/** The names, in words, of the checks that fail. */
export function failedNames(checks) {
  return (checks ?? []).filter((c) => c.ok !== true).map((c) => checkName(c.name));
}

/** One check as a list item: `li[data-check][data-ok]`, its `[aria-hidden]` mark ✓ or ✗, then
 * the words. */
export function checkItem(c, meanings = {}) {
  const ok = c.ok === true;
  const li = el("li", null, { "data-check": c.name, "data-ok": String(ok) });
  const mark = el("span", ok ? "✓" : "✗", { class: ok ? "ok" : "bad", "aria-hidden": "true" });
  const sr = el("span", ok ? t("check_ok") : t("check_failed"), { class: "skip" });
  const name = el("strong", checkName(c.name));
  li.append(mark, sr, name);
  const sentence = checkSentence(c, meanings);
  if (sentence) li.append(" — ", el("span", sentence));
  if (c.detail !== undefined && c.detail !== null && String(c.detail) !== "") {
    const tech = el("span", null, { class: "tech" });
    tech.append(el("span", `${t("technical_detail")} `), el("span", String(c.detail), { lang: "en" }));
    li.append(tech);
  }
  return li;
}

/** Fills `list` (a `ul.checks`) with `checks`. */
export function renderChecks(list, checks, meanings = {}) {
  list.replaceChildren(...(checks ?? []).map((c) => checkItem(c, meanings)));
}

/** A short verdict for a table cell: "✓ verified in your browser", or "✗ not verified" and
 * the checks that failed, in words (never colour alone). */
export function verifiedCell(checks) {
  const ok = passed(checks);
  const span = el("span", null, { class: ok ? "ok" : "bad" });
  span.append(el("span", ok ? "✓ " : "✗ ", { "aria-hidden": "true" }));
  if (ok) {
    span.append(t("receipt_verified"));
  } else {
    const failed = failedNames(checks);
    span.append(failed.length ? `${t("receipt_not_verified")} (${failed.join(", ")})` : t("receipt_not_verified"));
  }
  return span;
}
