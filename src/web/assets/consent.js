// My consent: the citizen opens the receipt of their consent (a file or pasted text). The
// browser verifies it (WebCrypto) before showing anything it says; then, with the receipt's
// secret, reads the consent's status, its history and every access that invoked it, verifies
// each of their receipts here too, and lets the citizen withdraw it. The secret stays in this
// page's memory: never stored in the browser, never put in a URL.
import { apply, lang, t } from "/assets/i18n.js";
import { el, fetchJSON, getJSON } from "/assets/api.js";
import { verifyDocument, verifyReceipt } from "/assets/verify.js";

/** At most this many pages of accesses (1,000 each) are read. */
const MAX_PAGES = 10;
/** At most this many recipients' names are looked up; the others show their id. */
const MAX_NAMES = 100;
/** Receipts verified at once. */
const BATCH = 50;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const MEANING = {
  format: "means_format",
  "log key": "means_log_key_consent",
  "checkpoint signature": "means_checkpoint",
  inclusion: "means_inclusion",
  commitment: "means_commitment",
  "statement signature": "means_statement_signature",
  "statement matches entry": "means_statement_matches",
  statement: "means_statement",
  "record matches entry": "means_record_matches",
  record: "means_record",
  event: "means_event",
};

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

/** The log key of the citizen's verified receipt: every later receipt (events, accesses, the
 * withdrawal) must be signed by the same log, so a server cannot answer with another key. */
function logKey() {
  return state?.valid ? state.value.receipt.log.vkey : undefined;
}

/** Verifies each receipt in the browser, `BATCH` at a time; a throw is a failed check. */
async function verifyAll(receipts) {
  const out = [];
  for (let i = 0; i < receipts.length; i += BATCH) {
    const batch = receipts.slice(i, i + BATCH).map(async (r) => {
      try {
        return await verifyReceipt(r, logKey());
      } catch (e) {
        return [{ name: "format", ok: false, detail: e.message }];
      }
    });
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

function passed(checks) {
  return Array.isArray(checks) && checks.length > 0 && checks.every((c) => c.ok === true);
}

/** The list of checks, each with its mark, a text for screen readers, and what it means. */
function fillChecks(list, checks) {
  list.replaceChildren();
  for (const c of checks) {
    const li = el("li", null, { "data-check": c.name, "data-ok": String(c.ok === true) });
    const mark = el("span", c.ok ? "✓" : "✗", { class: c.ok ? "ok" : "bad", "aria-hidden": "true" });
    const sr = el("span", c.ok ? t("check_ok") : t("check_failed"), { class: "skip" });
    const name = el("strong", ` ${c.name} `);
    const meaning = el("span", MEANING[c.name] ? t(MEANING[c.name]) : "", { class: "muted" });
    li.append(mark, sr, name, el("span", `— ${c.detail}. `), meaning);
    list.append(li);
  }
}

/** "✓ verified in your browser", or "✗" and the checks that failed: in words, not colour. */
function verifiedCell(checks) {
  const ok = passed(checks);
  const span = el("span", null, { class: ok ? "ok" : "bad" });
  span.append(el("span", ok ? "✓ " : "✗ ", { "aria-hidden": "true" }));
  if (ok) {
    span.append(t("receipt_verified"));
  } else {
    const failed = (checks ?? []).filter((c) => !c.ok).map((c) => c.name);
    span.append(failed.length ? `${t("receipt_not_verified")} (${failed.join(", ")})` : t("receipt_not_verified"));
  }
  return span;
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
  if (!state?.checks) {
    section.hidden = true;
    verdict.textContent = "";
    verdict.removeAttribute("data-valid");
    list.replaceChildren();
    return;
  }
  section.hidden = false;
  fillChecks(list, state.checks);
  verdict.textContent = state.valid ? t("consent_receipt_valid") : t("consent_receipt_invalid");
  verdict.className = state.valid ? "ok" : "bad";
  verdict.dataset.valid = String(state.valid);
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
  const controllerId = view?.controller ?? state.value.receipt?.signer?.participant_id ?? "";
  fact("controller", ...participant(controllerId, view?.controller_name));
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
  const expires = state.value.expires_at ?? view?.expires_at;
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
  if (view?.status === "given") withdraw.append(el("br"), el("span", t("withdraw_here"), { class: "muted" }));
  fact("withdrawal_method", withdraw);
  $("details-erased").hidden = view?.status !== "erased";
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
  out.className = "";
  if (state.viewError) {
    out.textContent = errorText(state.viewError);
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
  whenLine.append(`${t("recorded_on")} `, timeEl(view.recorded_at, true));
  const ended = (view.events ?? []).filter((ev) => ev.type === "withdrawal" || ev.type === "erasure");
  for (const ev of ended) whenLine.append(" · ", `${t(`${ev.type}_on`)} `, timeEl(ev.time, true));
  if (view.expires_at && (view.status === "given" || view.status === "expired")) {
    const key = view.status === "expired" ? "expired_on" : "expires_on";
    whenLine.append(" · ", `${t(key)} `, timeEl(view.expires_at, true));
  }
  button.hidden = view.status !== "given";
}

function drawEvents() {
  const section = $("events-section");
  const rows = $("event-rows");
  revoke("events");
  rows.replaceChildren();
  const view = state?.valid ? state.view : null;
  section.hidden = !view;
  if (!view) return;
  for (const ev of view.events ?? []) {
    const checks = state.eventChecks?.get(ev.index);
    const tr = el("tr", null, {
      "data-type": ev.type,
      "data-index": String(ev.index),
      "data-verified": String(passed(checks)),
    });
    const what = ev.type === "consent" ? word("event_consent", state.value.record.decision) : word("event", ev.type);
    const by = ev.initiated_by ?? "controller";
    const receipt = el("td");
    receipt.append(
      checks ? verifiedCell(checks) : el("span", t("verifying")),
      el("br"),
      downloadLink(
        "events",
        ev.receipt,
        `${ev.type}-receipt-${ev.id}.json`,
        fill(t("download_event_label"), { event: what, date: when(ev.time) }),
      ),
    );
    const time = el("td");
    time.append(timeEl(ev.time));
    tr.append(time, el("td", what), el("td", word("initiator", by)), receipt);
    rows.append(tr);
  }
}

/** The purpose's text as the citizen read it, if the consent names it, and its code. */
function purposeCell(code) {
  const td = el("td");
  const known = (state.value.record.purposes ?? []).find((p) => p.code === code);
  if (known) td.append(el("span", known.text), " ");
  td.append(el("span", known ? `(${code})` : code, { class: known ? "mono muted" : "mono" }));
  return td;
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
    message.textContent = errorText(state.accessError);
    message.className = "bad";
    table.hidden = true;
    return;
  }
  if (!state.accesses) {
    message.textContent = t("status_loading");
    table.hidden = true;
    return;
  }
  if (state.accesses.length === 0) {
    message.textContent = t("accesses_none");
    message.dataset.empty = "true";
    table.hidden = true;
    return;
  }
  delete message.dataset.empty;
  const n = state.accesses.length.toLocaleString(locale());
  message.textContent = state.accessesTruncated
    ? fill(t("accesses_truncated"), { n })
    : fill(t(state.accesses.length === 1 ? "accesses_count_one" : "accesses_count"), { n });
  for (const a of state.accesses) {
    const checks = state.accessChecks?.get(a.access_id);
    const permit = a.decision === "permit";
    const tr = el("tr", null, {
      "data-access-id": a.access_id,
      "data-decision": a.decision,
      "data-reason": a.reason,
      "data-verified": String(passed(checks)),
    });
    const time = el("td");
    time.append(timeEl(a.time));
    const org = a.accessor_name ? el("td", a.accessor_name) : el("td", a.accessor, { class: "mono" });
    const decision = el("td", null, { class: permit ? "ok" : "bad" });
    decision.append(el("span", permit ? "✓ " : "✗ ", { "aria-hidden": "true" }), word("verdict", a.decision));
    const reason = el("td");
    reason.append(el("span", word("reason", a.reason)));
    if (a.emergency) {
      reason.append(el("br"), el("strong", t("emergency")));
      if (a.justification) reason.append(el("br"), `${t("justification")} ${a.justification}`);
    }
    const receipt = el("td");
    receipt.append(
      checks ? verifiedCell(checks) : el("span", t("verifying")),
      el("br"),
      downloadLink(
        "accesses",
        a.receipt,
        `access-receipt-${a.access_id}.json`,
        fill(t("download_access_label"), { date: when(a.time) }),
      ),
    );
    tr.append(time, org, purposeCell(a.purpose), el("td", word("action", a.action)), decision, reason, receipt);
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
  sentence.textContent = fill(t(ok ? "withdrawal_done" : "withdrawal_unverified"), { index: w.answer.index });
  sentence.className = ok ? "ok" : "bad";
  fillChecks($("withdrawal-checks"), w.checks);
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
      const checks = await verifyAll((view.events ?? []).map((ev) => ev.receipt));
      if (gen !== generation) return;
      s.eventChecks = new Map((view.events ?? []).map((ev, i) => [ev.index, checks[i]]));
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
    s.accessChecks = new Map(all.map((a, i) => [a.access_id, checks[i]]));
    s.accesses = all;
    s.accessesTruncated = truncated;
    s.accessError = null;
  } catch (e) {
    if (gen !== generation) return;
    s.accesses = null;
    s.accessError = e;
  }
  drawAccesses();
}

/** The names of the consent's recipients (public: `GET /v1/participants/{id}`). */
async function loadNames() {
  const gen = generation;
  const ids = (state.value.record.recipients ?? []).filter((id) => !names.has(id)).slice(0, MAX_NAMES);
  for (const id of ids) {
    if (!UUID.test(String(id))) continue;
    try {
      const p = await getJSON(`/v1/participants/${encodeURIComponent(id)}`);
      names.set(id, p?.name || null);
    } catch {
      names.set(id, null);
    }
    if (gen !== generation) return;
  }
  if (ids.length) drawDetails();
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
    value = JSON.parse(text);
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
    const result = await verifyDocument(value);
    checks = Array.isArray(result?.checks) ? [...result.checks] : [];
  } catch (e) {
    checks = [{ name: "format", ok: false, detail: e.message }];
  }
  if (gen !== generation) return;
  // The record shown must be the one the controller signed: without that check, nothing.
  if (!checks.some((c) => c.name === "record")) {
    checks.push({ name: "record", ok: false, detail: t("record_unchecked") });
  }
  state = {
    value,
    id: value.consent_id,
    secret: value.citizen_secret,
    checks,
    valid: passed(checks),
    error: null,
  };
  draw();
  if (!state.valid) return;
  await Promise.all([loadStatus(), loadAccesses(), loadNames()]);
}

/** The withdrawal receipt opens a withdrawal of this very consent. */
function withdrawalEvent(receipt, id) {
  try {
    const doc = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(receipt.opening.document), (c) => c.charCodeAt(0))));
    const ok = doc?.type === "withdrawal" && doc?.consent_id === id;
    return { name: "event", ok, detail: ok ? `withdrawal ${doc.id} of consent ${id}` : "the receipt is not a withdrawal of this consent" };
  } catch {
    return { name: "event", ok: false, detail: "the receipt opens no withdrawal document" };
  }
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
    if (state?.view?.status !== "given") return;
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
