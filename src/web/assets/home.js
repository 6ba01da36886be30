// Home: the log's live status and its witnesses.
import { apply, lang, t } from "/assets/i18n.js";
import { el, fromBase64, getJSON, getText } from "/assets/api.js";

/** Cosignature timestamps by witness name, read from the checkpoint's signature lines. */
function cosignedAt(note) {
  const out = new Map();
  for (const line of note.split("\n")) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) continue;
    try {
      const raw = fromBase64(m[2]);
      // cosignature/v1: key ID (4), timestamp (8, big-endian), Ed25519 signature (64).
      if (raw.length !== 76) continue;
      const view = new DataView(raw.buffer);
      out.set(m[1], Number(view.getBigUint64(4)));
    } catch {
      // Not base64: not a cosignature.
    }
  }
  return out;
}

function when(seconds) {
  return new Date(seconds * 1000).toLocaleString(lang() === "fr" ? "fr-FR" : "en-GB");
}

async function load() {
  const message = document.getElementById("status-message");
  try {
    const info = await getJSON("/v1/log");
    document.getElementById("log-origin").textContent = info.origin;
    document.getElementById("log-size").textContent = info.size.toLocaleString(lang());
    document.getElementById("log-root").textContent = info.root;
    document.getElementById("log-vkey").textContent = info.vkey;
    document.getElementById("log-fetched").textContent = new Date().toLocaleString(
      lang() === "fr" ? "fr-FR" : "en-GB",
    );
    document.getElementById("status").hidden = false;
    message.hidden = true;
    const w = info.witnessing;
    document.getElementById("witnesses-none").hidden = Boolean(w);
    document.getElementById("witnesses").hidden = !w;
    if (w) {
      document.getElementById("witness-quorum").textContent = String(w.quorum);
      let times = new Map();
      try {
        times = cosignedAt(await getText("/checkpoint"));
      } catch {
        // No cosigned checkpoint yet.
      }
      const rows = document.getElementById("witness-rows");
      rows.replaceChildren();
      for (const witness of w.witnesses) {
        const tr = el("tr");
        tr.append(
          el("td", witness.name, { class: "mono" }),
          el("td", witness.size),
          el("td", times.has(witness.name) ? when(times.get(witness.name)) : "—"),
          el("td", witness.failures),
        );
        rows.append(tr);
      }
    }
  } catch (e) {
    message.textContent = t("status_error") + e.message;
    message.className = "bad";
  }
}

apply(load);
load();
