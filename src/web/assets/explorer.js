// Explorer: latest entries, an entry by index, deposits by SHA-256, and whether a file the
// visitor picks was deposited (hashed in the browser: the file is never uploaded).
import { apply, t } from "/assets/i18n.js";
import { el, getJSON, sha256, toHex } from "/assets/api.js";

const LATEST = 10;

/** One line about an entry: its id, or for a deposit its content and dataset. */
function summary(entry) {
  if (!entry || typeof entry !== "object") return "";
  if (entry.type === "deposit") return `sha256 ${entry.sha256} · ${t("dataset")} ${entry.dataset_id} v${entry.version}`;
  if (entry.type === "participant") return `${entry.name ?? ""} (${(entry.roles ?? []).join(", ")})`;
  return entry.id ?? "";
}

function entryTime(entry) {
  return entry?.deposited_at ?? entry?.time ?? entry?.registered_at ?? "";
}

function entryRow(view) {
  const tr = el("tr");
  tr.append(
    el("td", view.index),
    el("td", view.entry?.type ?? "?"),
    el("td", entryTime(view.entry)),
    el("td", summary(view.entry), { class: "mono" }),
  );
  return tr;
}

async function latest() {
  const message = document.getElementById("latest-message");
  try {
    const info = await getJSON("/v1/log");
    const rows = document.getElementById("latest-rows");
    rows.replaceChildren();
    if (info.size === 0) {
      message.textContent = t("none_yet");
      return;
    }
    const first = Math.max(0, info.size - LATEST);
    const views = await Promise.all(
      Array.from({ length: info.size - first }, (_, k) => getJSON(`/v1/entries/${info.size - 1 - k}`)),
    );
    for (const view of views) rows.append(entryRow(view));
    document.getElementById("latest").hidden = false;
    message.textContent = "";
  } catch (e) {
    message.textContent = t("error") + e.message;
  }
}

function depositsTable(list) {
  const table = el("table");
  table.createCaption().textContent = t("deposits_of");
  const head = el("tr");
  for (const key of ["index", "dataset", "version", "depositor", "visibility", "deposited_at"]) {
    head.append(el("th", t(key), { scope: "col" }));
  }
  table.append(el("thead"), el("tbody"));
  table.tHead.append(head);
  for (const d of list.deposits) {
    const tr = el("tr");
    tr.append(
      el("td", d.index),
      el("td", d.dataset_id, { class: "mono" }),
      el("td", d.version),
      el("td", d.depositor, { class: "mono" }),
      el("td", d.visibility),
      el("td", d.deposited_at),
    );
    table.tBodies[0].append(tr);
  }
  const wrap = el("div", null, { class: "table-wrap" });
  wrap.append(table);
  return wrap;
}

/** Shows the deposits of `hex` in `out`. */
async function showDeposits(hex, out) {
  out.replaceChildren();
  try {
    const list = await getJSON(`/v1/deposits?sha256=${encodeURIComponent(hex)}`);
    if (list.deposits.length === 0) {
      out.append(el("p", t("not_found"), { class: "bad", "data-result": "not-found" }));
      return;
    }
    out.append(el("p", `${t("found")} (${list.deposits.length})`, { class: "ok", "data-result": "found" }));
    out.append(depositsTable(list));
  } catch (e) {
    out.append(el("p", t("error") + e.message, { class: "bad" }));
  }
}

function wire() {
  document.getElementById("file-input").addEventListener("change", async (event) => {
    const file = event.target.files?.[0];
    const out = document.getElementById("file-result");
    out.replaceChildren();
    if (!file) return;
    const hex = toHex(await sha256(await file.arrayBuffer()));
    document.getElementById("file-hash").textContent = hex;
    document.getElementById("file-hash-line").hidden = false;
    await showDeposits(hex, out);
  });
  document.getElementById("sha-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const hex = document.getElementById("sha-input").value.trim().toLowerCase();
    await showDeposits(hex, document.getElementById("sha-result"));
  });
  document.getElementById("entry-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = document.getElementById("entry-result");
    out.replaceChildren();
    const index = document.getElementById("entry-input").value;
    try {
      const view = await getJSON(`/v1/entries/${encodeURIComponent(index)}`);
      const dl = el("dl", null, { class: "facts" });
      dl.append(el("dt", t("index")), el("dd", view.index));
      dl.append(el("dt", t("type")), el("dd", view.entry?.type ?? "?"));
      dl.append(el("dt", t("time")), el("dd", entryTime(view.entry)));
      dl.append(el("dt", "leaf hash"), el("dd", view.leaf_hash, { class: "mono" }));
      const pre = el("pre", JSON.stringify(view.entry, null, 2), { class: "mono" });
      out.append(dl, pre);
    } catch (e) {
      out.append(el("p", t("error") + e.message, { class: "bad" }));
    }
  });
}

apply(latest);
wire();
latest();
