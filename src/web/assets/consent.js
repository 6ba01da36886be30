// My consent: the citizen opens the receipt of their consent (a file or pasted text). The
// browser verifies it (WebCrypto), pinned to the key of the Data Pôle that served this page,
// before showing anything it says; then, with the receipt's secret, reads the consent's status,
// its history and every access that invoked it, verifies each of their receipts here too
// (pinned to the same key), and shows what those verified receipts say, not what the server
// claims beside them. The citizen can withdraw the consent. The secret stays in this page's
// memory: never stored in the browser, never put in a URL.
import { apply, lang, t } from "/assets/i18n.js";
import { el, fetchJSON } from "/assets/api.js";
import { passed, renderChecks, verifiedCell } from "/assets/checks.js";
import { consentEnd, opened, parseDocument, servedLogKey, verifyDocument, verifyReceipt } from "/assets/verify.js";

/** At most this many pages of accesses (1,000 each) are read. */
const MAX_PAGES = 10;
/** At most this many recipients' names are looked up; the others show their id. */
const MAX_NAMES = 100;
/** Receipts verified at once. */
const BATCH = 50;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The key of the Data Pôle that served this page (undefined if it names none). */
const served = servedLogKey();

/** What is shown; `null` until a receipt is opened. */
let state = null;
/** Bumped at each opening: answers for an older receipt are dropped. */
let generation = 0;
/** Participants' names by id (`null`: unknown). */
const names = new Map();
/** The blob: URLs of the download links, by part of the page, revoked when redrawn. */
const blobs = { events: [], accesses: [], withdrawal: [] };

const $ = (id) => document.getElementById(id);

function locale() {
  return lang() === "fr" ? "fr-FR" : "en-GB";
}

/** A local date and time, short. */
function when(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso ?? "");
  return d.toLocaleString(locale(), { dateStyle: "short", timeStyle: "short" });
}

/** A local date and time, long. */
function longWhen(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso ?? "");
  return d.toLocaleString(locale(), { dateStyle: "long", timeStyle: "short" });
}

/** A `<time>` with the ISO date for machines and the local one for people. */
function timeEl(iso, long = false) {
  return el("time", long ? longWhen(iso) : when(iso), { datetime: String(iso ?? "") });
}

/** `template` with each `{name}` replaced. */
function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
}

/** The words for `value` of a kind of code (`reason`, `action`...); unknown codes as they are. */
function word(kind, value) {
  const key = `${kind}_${value}`;
  const text = t(key);
  return text === key ? String(value ?? "") : text;
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Two UUIDs are the same (case aside). */
function sameId(a, b) {
  return typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
}
/** An ISO 8601 duration in words (`P5Y`: "5 ans"); as it is if it is not one. */
function duration(iso) {
  const m = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(
    String(iso ?? ""),
  );
  if (!m || String(iso).endsWith("T")) return String(iso ?? "");
  const units = ["year", "month", "week", "day", "hour", "minute", "second"];
  const parts = [];
  units.forEach((unit, i) => {
    if (m[i + 1] === undefined) return;
    const n = Number(m[i + 1]);
    const one = n === 1 || (lang() === "fr" && n === 0);
    parts.push(`${n.toLocaleString(locale())} ${t(one ? `unit_${unit}` : `unit_${unit}s`)}`);
  });
  if (parts.length === 0) return String(iso);
  let words;
  try {
    words = new Intl.ListFormat(locale(), { type: "conjunction" }).format(parts);
  } catch {
    words = parts.join(", ");
  }
  return `${words} (${iso})`;
}

/** A legal basis code in words: the known ones, GDPR articles, others as they are. */
function legalBasis(code) {
  const known = t(`basis_${code}`);
  if (known !== `basis_${code}`) return known;
  const m = /^gdpr-(\d+)-(\d+)-([a-z])$/.exec(String(code ?? ""));
  if (m) return fill(t("basis_gdpr"), { article: m[1], paragraph: m[2], point: m[3] });
  return String(code ?? "");
}

/** An http(s) URL, normalised, or null. */
function webUrl(value) {
  try {
    const url = new URL(String(value));
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** A link to another site, opened in a new tab, or the text itself if it is not a URL. */
function outLink(value) {
  const href = webUrl(value);
  if (!href) return el("span", value ?? "—");
  const a = el("a", href, { href, rel: "noopener", target: "_blank", class: "mono" });
  a.append(el("span", ` ${t("new_tab")}`, { class: "skip" }));
  return a;
}

/** An error as the citizen should read it: translated for the API's known codes. */
function errorText(e) {
  if (e?.code) {
    const key = `api_error_${e.code}`;
    const text = t(key);
    if (text !== key) return text;
  }
  return t("error") + (e?.message ?? String(e));
}

/** Whether the server refused the secret (the same 401 for a wrong secret and an unknown id). */
function unauthorized(e) {
  return e?.status === 401 || e?.code === "unauthorized";
}

/** The key every receipt on this page is verified with: this Data Pôle's, from the page; when
 * the page names none, the key of the citizen's verified receipt, so that at least every later
 * receipt (events, accesses, the withdrawal) comes from the same log. */
function logKey() {
  if (served) return served;
  return state?.valid ? state.value.receipt.log.vkey : undefined;
}

/** What the `log key` check proves, for the key it was pinned to. */
function meanings() {
  return served
    ? { "log key": { ok: "means_log_key_served", fail: "fails_log_key_served" } }
    : { "log key": { ok: "means_log_key_consent", fail: "fails_log_key_consent" } };
}

/** Verifies each receipt in the browser, `BATCH` at a time; a throw is a failed check. */
async function verifyAll(receipts) {
  const out = [];
  const key = logKey();
  for (let i = 0; i < receipts.length; i += BATCH) {
    const batch = receipts.slice(i, i + BATCH).map(async (r) => {
      try {
        return await verifyReceipt(r, key);
      } catch (e) {
        return [{ name: "format", ok: false, detail: e.message }];
      }
    });
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

/** What a receipt says, once verified: its entry, opened document and signed payload; null
 * for a receipt that does not verify (nothing it says is used). */
function openedIfValid(receipt, checks) {
  if (!passed(checks)) return null;
  try {
    return opened(receipt);
  } catch {
    return null;
  }
}

/** The `concerns` check of an event's receipt: the event is about this very consent (the
 * consent's own entry, or a withdrawal or erasure whose document or signed statement names
 * it). */
function eventConcerns(open, id) {
  const fail = (detail) => ({ name: "concerns", ok: false, detail });
  const leaf = open?.leaf;
  if (!isObject(leaf)) return fail("the receipt's entry is not readable");
  if (leaf.type === "consent") {
    return sameId(leaf.id, id)
      ? { name: "concerns", ok: true, detail: `the entry is consent ${leaf.id}` }
      : fail(`the entry is consent ${leaf.id}, not ${id}`);
  }
  if (leaf.type === "withdrawal" || leaf.type === "erasure") {
    const named = isObject(open.document) ? open.document.consent_id : open.payload?.consent_id;
    if (named === undefined || named === null) return fail(`the receipt does not say which consent the ${leaf.type} ends`);
    return sameId(named, id)
      ? { name: "concerns", ok: true, detail: `${leaf.type} of consent ${named}` }
      : fail(`${leaf.type} of consent ${named}, not ${id}`);
  }
  return fail(`the entry is a ${leaf.type}, not an event of a consent`);
}

/** The `concerns` check of an access's receipt: it opens an access record, with the id the
 * server listed, whose signed statement invokes this consent. */
function accessConcerns(open, id, listedId) {
  const fail = (detail) => ({ name: "concerns", ok: false, detail });
  const doc = open?.document;
  if (open?.leaf?.type !== "access" || !isObject(doc)) return fail("the receipt opens no access record");
  if (!sameId(doc.id, listedId)) return fail(`the receipt is for access ${doc.id}, not the listed ${listedId}`);
  const ids = open.payload?.consent_ids;
  if (!Array.isArray(ids) || !ids.some((c) => sameId(c, id))) {
    return fail(`the signed access statement does not invoke consent ${id}`);
  }
  return { name: "concerns", ok: true, detail: `access ${doc.id} invokes consent ${id}` };
}

/** A receipt verified, then checked to concern this consent: `{checks, open}`. */
function judged(receipt, checks, concerns) {
  const open = openedIfValid(receipt, checks);
  if (!open) return { checks, open: null };
  const c = concerns(open);
  return { checks: [...checks, c], open: c.ok ? open : null };
}

/** A link that downloads `receipt` as a JSON file. */
function downloadLink(part, receipt, filename, label, link) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(receipt, null, 2)], { type: "application/json" }));
  blobs[part].push(url);
  const a = link ?? el("a", t("download_receipt"));
  a.href = url;
  a.download = filename;
  a.setAttribute("aria-label", label);
  return a;
}

function revoke(part) {
  for (const url of blobs[part]) URL.revokeObjectURL(url);
  blobs[part] = [];
}

// ---------------------------------------------------------------------------------------
// Drawing what is known. Every function here draws from `state` only, so that switching the
// language redraws everything without asking anything again.

function showError() {
  const out = $("consent-error");
  out.replaceChildren();
  const e = state?.error;
  if (!e) return;
  if (e.key) out.append(t(e.key));
  else out.append(errorText(e.err));
  if (e.verifyLink) {
    out.append(" ");
    out.append(el("a", t("consent_use_verify"), { href: "/verify" }));
  }
}

function drawReceipt() {
  const section = $("receipt-section");
  const verdict = $("receipt-verdict");
  const list = $("receipt-checks");
  const warning = $("receipt-key-warning");
  if (!state?.checks) {
    section.hidden = true;
    verdict.textContent = "";
    verdict.removeAttribute("data-valid");
    list.replaceChildren();
    warning.hidden = true;
    return;
  }
  section.hidden = false;
  renderChecks(list, state.checks, meanings());
  let text;
  if (state.otherLog) text = t("consent_other_log");
  else if (state.valid) text = t(served ? "consent_receipt_valid" : "consent_receipt_consistent");
  else text = t("consent_receipt_invalid");
  verdict.textContent = text;
  verdict.className = state.valid ? "ok" : "bad";
  verdict.dataset.valid = String(state.valid);
  // Without this Data Pôle's key, a consistent receipt is not yet a genuine one: say so.
  warning.hidden = Boolean(served) || state.otherLog;
  warning.textContent = warning.hidden ? "" : t("consent_key_warning");
}

/** A list in a `<dd>`, or `empty` when there is nothing. */
function listOf(items, render, empty) {
  if (!items || items.length === 0) return el("span", empty);
  const ul = el("ul", null, { class: "plain" });
  for (const item of items) {
    const li = el("li");
    li.append(...render(item));
    ul.append(li);
  }
  return ul;
}

/** A participant's name and id (the id alone while the name is unknown). */
function participant(id, name) {
  if (!name) return [el("span", id, { class: "mono" })];
  return [el("span", name), " ", el("span", `(${id})`, { class: "mono muted" })];
}

/** The controller named by the verified receipt (its entry's issuer), and its name: the
 * server's, only when it is about that same participant, else the public register's. */
function controller() {
  const id = state?.leaf?.issuer ?? state?.value?.receipt?.signer?.participant_id ?? "";
  const view = state?.view;
  const name = view && sameId(view.controller, id) ? view.controller_name : names.get(id);
  return { id, name };
}

function drawDetails() {
  const section = $("details-section");
  const dl = $("consent-details");
  dl.replaceChildren();
  if (!state?.valid) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  const r = state.value.record;
  const view = state.view;
  const fact = (key, ...content) => {
    const dd = el("dd", null, { "data-fact": key });
    dd.append(...content);
    dl.append(el("dt", t(`fact_${key}`)), dd);
  };
  fact("decision", el("span", word("decision", r.decision)));
  const who = controller();
  fact("controller", ...participant(who.id, who.name));
  fact(
    "purposes",
    listOf(
      r.purposes,
      (p) => [el("span", p.text), " ", el("span", `(${p.code})`, { class: "mono muted" })],
      "—",
    ),
  );
  fact("datasets", listOf(r.datasets, (d) => [el("span", d, { class: "mono" })], t("datasets_all")));
  fact(
    "recipients",
    listOf(r.recipients, (id) => participant(id, names.get(id)), t("recipients_none")),
  );
  fact("data_categories", listOf(r.data_categories, (c) => [el("span", c)], "—"));
  fact("special_category", el("span", r.special_category ? t("special_yes") : t("special_no")));
  fact("legal_basis", el("span", legalBasis(r.legal_basis)));
  const validity = r.validity ?? {};
  // From the verified signed validity and entry time, not from the file or the server.
  const expires = consentEnd(state.value.receipt);
  const v = el("span");
  if (validity.until) v.append(t("validity_until"), " ", timeEl(validity.until, true));
  else if (validity.duration) v.append(fill(t("validity_duration"), { duration: duration(validity.duration) }));
  if (expires && !validity.until) {
    v.append(el("br"), `${t("expires_on")} `, timeEl(expires, true));
  }
  fact("validity", v);
  fact("indication_method", el("span", word("method", r.indication_method)));
  fact("expressed_by", el("span", word("role", r.expressed_by?.role)));
  fact("retention_period", el("span", duration(r.retention_period)));
  fact("storage_location", el("span", r.storage_location ?? "—"));
  fact("jurisdiction", el("span", r.jurisdiction ?? "—"));
  const notice = el("span");
  if (r.notice) {
    notice.append(outLink(r.notice.url), el("br"));
    notice.append(
      el(
        "span",
        fill(t("notice_meta"), { version: r.notice.version ?? "—", language: r.notice.language ?? "—" }),
        { class: "muted" },
      ),
    );
  } else notice.append("—");
  fact("notice", notice);
  const withdraw = el("span");
  withdraw.append(outLink(r.withdrawal_method));
  if (withdrawable(view?.status)) withdraw.append(el("br"), el("span", t("withdraw_here"), { class: "muted" }));
  fact("withdrawal_method", withdraw);
  $("details-erased").hidden = view?.status !== "erased";
}

/** The 401 in words: the receipt is genuine, but this Data Pôle gives no access to the consent
 * with it; the citizen can turn to the controller the receipt names. */
function unauthorizedMessage(out) {
  const who = controller();
  out.append(el("span", t("consent_unauthorized")), " ");
  out.append(el("span", t("consent_unauthorized_contact")), " ");
  out.append(...participant(who.id, who.name), ". ");
  out.append(el("span", t("consent_unauthorized_how")));
}

function drawStatus() {
  const section = $("status-section");
  const out = $("consent-status");
  const whenLine = $("status-when");
  const button = $("withdraw-button");
  if (!state?.valid) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  whenLine.replaceChildren();
  out.replaceChildren();
  out.className = "";
  if (state.viewError) {
    if (unauthorized(state.viewError)) unauthorizedMessage(out);
    else out.textContent = errorText(state.viewError);
    out.className = "bad";
    out.removeAttribute("data-status");
    button.hidden = true;
    return;
  }
  if (!state.view) {
    out.textContent = t("status_loading");
    out.removeAttribute("data-status");
    button.hidden = true;
    return;
  }
  const view = state.view;
  out.textContent = word("state", view.status);
  out.className = view.status === "given" ? "ok" : "";
  out.dataset.status = view.status;
  // The status is the server's word; a verified withdrawal or erasure overrules it.
  const proven = (state.eventRows ?? []).map((row) => row.open?.leaf?.type);
  const provenStatus = proven.includes("erasure") ? "erased" : proven.includes("withdrawal") ? "withdrawn" : null;
  const contradicted = provenStatus !== null && view.status !== provenStatus;
  if (contradicted) {
    out.textContent = fill(t("status_contradicted"), {
      claimed: word("state", view.status),
      event: t(provenStatus === "erased" ? "event_erasure" : "event_withdrawal").toLowerCase(),
    });
    out.className = "bad";
    out.dataset.status = provenStatus;
  }
  // Times from verified entries: the consent's own, and each verified withdrawal or erasure.
  whenLine.append(`${t("recorded_on")} `, timeEl(state.leaf?.time ?? view.recorded_at, true));
  for (const row of state.eventRows ?? []) {
    const leaf = row.open?.leaf;
    if (leaf?.type === "withdrawal" || leaf?.type === "erasure") {
      whenLine.append(" · ", `${t(`${leaf.type}_on`)} `, timeEl(leaf.time, true));
    }
  }
  const end = consentEnd(state.value.receipt);
  if (end && (view.status === "given" || view.status === "expired") && !contradicted) {
    const key = view.status === "expired" ? "expired_on" : "expires_on";
    whenLine.append(" · ", `${t(key)} `, timeEl(end, true));
  }
  button.hidden = !withdrawable(view.status) || contradicted;
}

/** Whether a consent of this status can be withdrawn: one in force, or one whose record the
 * Data Pôle cannot read (its citizen can always end it). */
function withdrawable(status) {
  return status === "given" || status === "unreadable";
}

/** "Not verified": what stands in a row in place of what its receipt would have proved. */
function unverifiedCell(colspan) {
  const td = el("td", null, { colspan: String(colspan), class: "bad" });
  td.append(el("span", "✗ ", { "aria-hidden": "true" }), t("row_not_verified"));
  return td;
}

function drawEvents() {
  const section = $("events-section");
  const rows = $("event-rows");
  revoke("events");
  rows.replaceChildren();
  const view = state?.valid ? state.view : null;
  section.hidden = !view;
  if (!view) return;
  for (const row of state.eventRows ?? []) {
    const ev = row.claim;
    const leaf = row.open?.leaf;
    const ok = Boolean(leaf);
    const tr = el("tr", null, {
      "data-type": ok ? leaf.type : String(ev.type ?? ""),
      "data-index": String(ev.index),
      "data-verified": String(ok),
    });
    let what = t("row_not_verified_short");
    const receipt = el("td");
    if (ok) {
      what = leaf.type === "consent" ? word("event_consent", state.value.record.decision) : word("event", leaf.type);
      const time = el("td");
      time.append(timeEl(leaf.time));
      let by;
      if (leaf.type === "consent") {
        const who = controller();
        by = el("td");
        const named = who.name ? el("span", who.name) : el("span", who.id, { class: "mono" });
        by.append(`${t("initiator_subject")} (${t("collected_by")} `, named, ")");
      } else {
        // A citizen's event opens to a document the log wrote; a controller's to its statement.
        by = el("td", t(isObject(row.open.document) ? "initiator_subject" : "initiator_controller"));
      }
      tr.append(time, el("td", what), by);
    } else {
      tr.append(unverifiedCell(3));
    }
    receipt.append(
      verifiedCell(row.checks),
      el("br"),
      downloadLink(
        "events",
        ev.receipt,
        `${ok ? leaf.type : "event"}-receipt-${ev.index}.json`,
        fill(t("download_event_label"), { event: what, date: ok ? when(leaf.time) : `n° ${ev.index}` }),
      ),
    );
    tr.append(receipt);
    rows.append(tr);
  }
}

/** The purpose's text as the citizen read it, if the consent names it, and its code. */
function purposeCell(code) {
  const td = el("td");
  const known = (state.value.record.purposes ?? []).find((p) => p.code === code);
  if (known) td.append(el("span", known.text), " ");
  td.append(el("span", known ? `(${code})` : String(code ?? ""), { class: known ? "mono muted" : "mono" }));
  return td;
}

/** One access, from its verified receipt: the record the log wrote and the statement the
 * accessor signed. The server's name for the accessor only if it is about that accessor. */
function accessCells(row) {
  const a = row.claim;
  const doc = row.open.document;
  const p = row.open.payload;
  const permit = doc.decision === "permit";
  const time = el("td");
  time.append(timeEl(doc.decided_at));
  const org = el("td");
  if (a.accessor_name && sameId(a.accessor, doc.accessor)) org.append(...participant(doc.accessor, a.accessor_name));
  else org.append(...participant(doc.accessor, names.get(doc.accessor)));
  const dataset = el("td", p.dataset_id ?? "—", { class: "mono" });
  const decision = el("td", null, { class: permit ? "ok" : "bad" });
  decision.append(el("span", permit ? "✓ " : "✗ ", { "aria-hidden": "true" }), word("verdict", doc.decision));
  const reason = el("td");
  reason.append(el("span", word("reason", doc.reason)));
  if (doc.overridden) reason.append(el("br"), el("span", `${t("overridden")} ${word("reason", doc.overridden)}`));
  if (doc.emergency) {
    reason.append(el("br"), el("strong", t("emergency")));
    const why = p.emergency?.justification;
    if (why) reason.append(el("br"), `${t("justification")} ${why}`);
  }
  return [time, org, dataset, purposeCell(p.purpose?.code), el("td", word("action", p.action)), decision, reason];
}

function drawAccesses() {
  const section = $("accesses-section");
  const message = $("accesses-message");
  const table = $("accesses");
  const rows = $("access-rows");
  revoke("accesses");
  rows.replaceChildren();
  message.className = "";
  if (!state?.valid) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  if (state.accessError) {
    message.textContent = unauthorized(state.accessError) ? t("accesses_unauthorized") : errorText(state.accessError);
    message.className = "bad";
    table.hidden = true;
    return;
  }
  if (!state.accessRows) {
    message.textContent = t("status_loading");
    table.hidden = true;
    return;
  }
  if (state.accessRows.length === 0) {
    message.textContent = t("accesses_none");
    message.dataset.empty = "true";
    table.hidden = true;
    return;
  }
  delete message.dataset.empty;
  const n = state.accessRows.length.toLocaleString(locale());
  let text = state.accessesTruncated
    ? fill(t("accesses_truncated"), { n })
    : fill(t(state.accessRows.length === 1 ? "accesses_count_one" : "accesses_count"), { n });
  const failed = state.accessRows.filter((row) => !row.open).length;
  if (failed) text += ` ${fill(t("accesses_unverified"), { n: failed.toLocaleString(locale()) })}`;
  message.textContent = text;
  if (failed) message.className = "bad";
  for (const row of state.accessRows) {
    const a = row.claim;
    const ok = Boolean(row.open);
    const doc = row.open?.document;
    // The data attributes say what the verified record says; for a receipt that does not
    // verify, what the server claims (and `data-verified="false"` says it is only a claim).
    const tr = el("tr", null, {
      "data-access-id": String(a.access_id ?? ""),
      "data-decision": String(ok ? doc.decision : a.decision ?? ""),
      "data-reason": String(ok ? doc.reason : a.reason ?? ""),
      "data-verified": String(ok),
    });
    if (ok) tr.append(...accessCells(row));
    else tr.append(unverifiedCell(7));
    const receipt = el("td");
    receipt.append(
      verifiedCell(row.checks),
      el("br"),
      downloadLink(
        "accesses",
        a.receipt,
        `access-receipt-${ok ? doc.id : a.index}.json`,
        fill(t("download_access_label"), { date: ok ? when(doc.decided_at) : `n° ${a.index}` }),
      ),
    );
    tr.append(receipt);
    rows.append(tr);
  }
  table.hidden = false;
}

function drawWithdrawal() {
  const section = $("withdrawal-result");
  revoke("withdrawal");
  const w = state?.withdrawal;
  if (!w) {
    section.hidden = true;
    section.removeAttribute("data-verified");
    return;
  }
  const ok = passed(w.checks);
  section.hidden = false;
  section.dataset.verified = String(ok);
  const sentence = $("withdrawal-sentence");
  sentence.textContent = fill(t(ok ? "withdrawal_done" : "withdrawal_unverified"), { index: w.answer.receipt?.index ?? "?" });
  sentence.className = ok ? "ok" : "bad";
  renderChecks($("withdrawal-checks"), w.checks, meanings());
  const link = $("withdrawal-download");
  link.textContent = t("withdrawal_download");
  downloadLink("withdrawal", w.answer.receipt, `withdrawal-receipt-${state.id}.json`, t("withdrawal_download"), link);
}

function draw() {
  showError();
  drawReceipt();
  drawDetails();
  drawStatus();
  drawWithdrawal();
  drawEvents();
  drawAccesses();
}

// ---------------------------------------------------------------------------------------
// Reading from the server.

function consentPath(suffix = "") {
  return `/v1/consents/${encodeURIComponent(state.id)}${suffix}`;
}

/** The consent's status and events, each event's receipt verified here. */
async function loadStatus() {
  const gen = generation;
  const s = state;
  try {
    const view = await fetchJSON(consentPath(), { bearer: s.secret });
    if (gen !== generation) return;
    if (view?.index !== s.value.receipt.index) {
      // Not the consent the verified receipt is about: show nothing the server says of it.
      s.view = null;
      s.viewError = { code: "receipt_mismatch", message: t("api_error_receipt_mismatch") };
    } else {
      const events = Array.isArray(view.events) ? view.events : [];
      const checks = await verifyAll(events.map((ev) => ev.receipt));
      if (gen !== generation) return;
      s.eventRows = events.map((ev, i) => ({
        claim: ev,
        ...judged(ev.receipt, checks[i], (open) => eventConcerns(open, s.id)),
      }));
      s.view = view;
      s.viewError = null;
    }
  } catch (e) {
    if (gen !== generation) return;
    s.view = null;
    s.viewError = e;
  }
  drawDetails();
  drawStatus();
  drawEvents();
}

/** Every access that invoked the consent (up to `MAX_PAGES` pages), each receipt verified. */
async function loadAccesses() {
  const gen = generation;
  const s = state;
  const all = [];
  let truncated = false;
  try {
    let after = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const query = after === null ? "" : `?after=${encodeURIComponent(after)}`;
      const list = await fetchJSON(consentPath(`/accesses${query}`), { bearer: s.secret });
      if (gen !== generation) return;
      const accesses = Array.isArray(list?.accesses) ? list.accesses : [];
      all.push(...accesses);
      truncated = list?.truncated === true && accesses.length > 0;
      if (!truncated) break;
      after = accesses[accesses.length - 1].index;
    }
    const checks = await verifyAll(all.map((a) => a.receipt));
    if (gen !== generation) return;
    s.accessRows = all.map((a, i) => ({
      claim: a,
      ...judged(a.receipt, checks[i], (open) => accessConcerns(open, s.id, a.access_id)),
    }));
    s.accessesTruncated = truncated;
    s.accessError = null;
  } catch (e) {
    if (gen !== generation) return;
    s.accessRows = null;
    s.accessError = e;
  }
  drawAccesses();
}

/** The names of the consent's controller and recipients (public: `GET /v1/participants/{id}`). */
async function loadNames() {
  const gen = generation;
  const wanted = [state.leaf?.issuer, ...(state.value.record.recipients ?? [])];
  const ids = [...new Set(wanted)].filter((id) => id && !names.has(id)).slice(0, MAX_NAMES);
  for (const id of ids) {
    if (!UUID.test(String(id))) continue;
    try {
      const p = await fetchJSON(`/v1/participants/${encodeURIComponent(id)}`);
      names.set(id, p?.name || null);
    } catch {
      names.set(id, null);
    }
    if (gen !== generation) return;
  }
  if (ids.length) {
    drawDetails();
    drawStatus();
    drawEvents();
  }
}

async function refresh() {
  if (!state?.valid) return;
  const button = $("refresh-button");
  button.disabled = true;
  try {
    await Promise.all([loadStatus(), loadAccesses()]);
  } finally {
    button.disabled = false;
  }
}

/** Is `value` the answer of `POST /v1/consents` (what the citizen was given)? */
function isCitizenReceipt(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof value.consent_id === "string" &&
    UUID.test(value.consent_id) &&
    typeof value.citizen_secret === "string" &&
    /^[\x21-\x7e]{1,512}$/.test(value.citizen_secret) &&
    value.receipt !== null &&
    typeof value.receipt === "object" &&
    value.record !== null &&
    typeof value.record === "object"
  );
}

/** Opens a receipt: verifies it, and only if it holds, shows it and asks the server. */
async function openReceipt(text) {
  const gen = ++generation;
  state = { error: null };
  draw();
  let value;
  try {
    value = parseDocument(text);
  } catch {
    state.error = { key: "not_json" };
    showError();
    return;
  }
  if (!isCitizenReceipt(value)) {
    state.error = { key: "consent_not_citizen", verifyLink: true };
    showError();
    return;
  }
  let checks;
  try {
    // Pinned to this Data Pôle's key: a receipt from another log, or re-signed with any other
    // key, fails here.
    const result = await verifyDocument(value, served);
    checks = Array.isArray(result?.checks) ? [...result.checks] : [];
  } catch (e) {
    checks = [{ name: "format", ok: false, detail: e.message }];
  }
  if (gen !== generation) return;
  // The record shown must be the one the controller signed: without that check, nothing.
  if (!checks.some((c) => c.name === "record")) {
    checks.push({ name: "record", ok: false, detail: "the consent shown could not be compared with the one the controller signed" });
  }
  const valid = passed(checks);
  state = {
    value,
    id: value.consent_id,
    secret: value.citizen_secret,
    checks,
    valid,
    otherLog: checks.some((c) => c.name === "log key" && c.ok !== true),
    leaf: valid ? openedIfValid(value.receipt, checks)?.leaf ?? null : null,
    error: null,
  };
  draw();
  if (!state.valid) return;
  await Promise.all([loadStatus(), loadAccesses(), loadNames()]);
}

/** The withdrawal receipt opens a withdrawal of this very consent. */
function withdrawalEvent(receipt, id) {
  let open;
  try {
    open = opened(receipt);
  } catch {
    open = null;
  }
  const doc = open?.document;
  if (!isObject(doc)) return { name: "event", ok: false, detail: "the receipt opens no withdrawal document" };
  const ok = open.leaf?.type === "withdrawal" && doc.type === "withdrawal" && sameId(doc.consent_id, id);
  return {
    name: "event",
    ok,
    detail: ok ? `withdrawal ${doc.id} of consent ${id}` : "the receipt is not a withdrawal of this consent",
  };
}

async function withdraw() {
  const gen = generation;
  const s = state;
  const yes = $("withdraw-yes");
  const button = $("withdraw-button");
  yes.disabled = true;
  button.disabled = true;
  s.error = null;
  showError();
  try {
    const answer = await fetchJSON(consentPath("/withdraw"), { method: "POST", bearer: s.secret });
    let checks;
    try {
      checks = await verifyReceipt(answer.receipt, logKey());
    } catch (e) {
      checks = [{ name: "format", ok: false, detail: e.message }];
    }
    checks = [...checks, withdrawalEvent(answer.receipt, s.id)];
    if (gen !== generation) return;
    s.withdrawal = { answer, checks };
    drawWithdrawal();
    $("withdrawal-title").focus();
  } catch (e) {
    if (gen !== generation) return;
    s.error = { err: e };
    showError();
  } finally {
    yes.disabled = false;
    button.disabled = false;
  }
  await refresh();
}

function wire() {
  $("consent-file").addEventListener("change", async (event) => {
    const file = event.target.files?.[0];
    if (!file) return;
    $("consent-text").value = "";
    await openReceipt(await file.text());
  });
  $("consent-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    await openReceipt($("consent-text").value);
  });
  $("consent-file-form").addEventListener("submit", (event) => event.preventDefault());
  $("refresh-button").addEventListener("click", refresh);
  const dialog = $("withdraw-dialog");
  $("withdraw-button").addEventListener("click", () => {
    if (!withdrawable(state?.view?.status)) return;
    dialog.showModal();
  });
  $("withdraw-no").addEventListener("click", () => dialog.close("cancel"));
  $("withdraw-yes").addEventListener("click", async () => {
    dialog.close("confirm");
    await withdraw();
  });
}

apply(draw);
wire();
