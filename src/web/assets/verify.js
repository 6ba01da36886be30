// Offline verification of a datapole.receipt.v1 receipt in the browser, with WebCrypto only
// (SHA-256 and Ed25519): the checkpoint's signature (c2sp.org/signed-note), the inclusion
// proof (RFC 9162 §2.1.3.2), the commitment opening of a private entry, and the statement's
// DSSE signature. The same checks, in the same order and under the same names, as the Rust
// verifier (src/verify/receipt.rs). No network request.

const enc = new TextEncoder();

/** Standard, padded, canonical base64 to bytes, as the Rust verifier decodes it (atob alone
 * would accept white space and stray trailing bits). */
function b64(s) {
  if (typeof s !== "string" || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) {
    throw new Error("not base64");
  }
  const bin = atob(s);
  if (btoa(bin) !== s) throw new Error("not canonical base64");
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

async function ed25519(publicKey, message, signature) {
  const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
}

/** Parses a signed-note verifier key `name+id+base64(type ‖ key)`: type 0x01 for a log's
 * Ed25519 key, 0x04 for a witness's cosignature/v1 key. */
async function parseVkey(vkey, type = 0x01) {
  if (typeof vkey !== "string") throw new Error("not a signed-note verifier key");
  const [name, id, key] = [vkey.split("+")[0], vkey.split("+")[1], vkey.split("+").slice(2).join("+")];
  let raw;
  try {
    raw = b64(key);
  } catch {
    raw = new Uint8Array();
  }
  if (!name || !/^[0-9a-f]{8}$/.test(id) || raw.length !== 33 || raw[0] !== type) {
    throw new Error(type === 0x01 ? "not a signed-note Ed25519 verifier key" : "not a cosignature/v1 verifier key");
  }
  const digest = await sha256(concat(enc.encode(name + "\n"), raw));
  if (hex(digest.subarray(0, 4)) !== id) throw new Error("the key ID does not match the key");
  return { name, id: digest.subarray(0, 4), key: raw.subarray(1) };
}

/** Verifies a signed checkpoint with the verifier key; returns {origin, size, root}. */
export async function verifyCheckpoint(note, vkey) {
  const k = await parseVkey(vkey);
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) throw new Error("malformed signed note");
  const text = note.slice(0, split + 1);
  let signed = false;
  for (const line of note.slice(split + 2).split("\n").filter((l) => l !== "")) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) throw new Error("malformed signature line");
    if (m[1] !== k.name) continue;
    const raw = b64(m[2]);
    if (raw.length < 5 || !equal(raw.subarray(0, 4), k.id)) continue;
    if (!(await ed25519(k.key, enc.encode(text), raw.subarray(4)))) {
      throw new Error(`the signature of ${k.name} does not verify`);
    }
    signed = true;
  }
  if (!signed) throw new Error("the checkpoint is not signed by the log key");
  const lines = text.split("\n");
  if (lines.length < 4 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new Error("not a checkpoint");
  const root = b64(lines[2]);
  if (root.length !== 32) throw new Error("not a checkpoint");
  return { origin: lines[0], size: BigInt(lines[1]), root, keyName: k.name };
}

/** RFC 9162 §2.1.3.2: does the audit path lead from `leaf` at `index` to `root`? */
export async function verifyInclusion(leafHash, index, size, path, root) {
  if (index >= size) return false;
  let fn = index;
  let sn = size - 1n;
  let r = leafHash;
  for (const p of path) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await sha256(concat(Uint8Array.of(1), p, r));
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await sha256(concat(Uint8Array.of(1), r, p));
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(r, root);
}

/** DSSE pre-authentication encoding. */
function pae(type, payload) {
  const t = enc.encode(type);
  return concat(enc.encode(`DSSEv1 ${t.length} `), t, enc.encode(` ${payload.length} `), payload);
}

/** The bytes a commitment covers for an envelope: its JSON as the log serialised it. */
function envelopeBytes(e) {
  return enc.encode(
    JSON.stringify({
      payloadType: e.payloadType,
      payload: e.payload,
      signatures: e.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })),
    }),
  );
}

/** DSSE base64 as the log decodes it (src/statement/dsse.rs, decode_any): standard, then
 * URL-safe, then each unpadded; every one strict and canonical, no mixed alphabets. */
function fromB64Any(s) {
  if (typeof s !== "string") throw new Error("not base64");
  const attempts = [];
  if (/^[A-Za-z0-9+/]*={0,2}$/.test(s)) attempts.push(s);
  if (/^[A-Za-z0-9_-]*={0,2}$/.test(s)) attempts.push(s.replace(/-/g, "+").replace(/_/g, "/"));
  for (const padded of attempts.slice()) {
    if (!padded.includes("=") && padded.length % 4 !== 0) attempts.push(padded + "=".repeat((4 - (padded.length % 4)) % 4));
  }
  for (const a of attempts) {
    try {
      return b64(a);
    } catch {
      // The next form.
    }
  }
  throw new Error("not base64");
}

async function checkSignature(r, st, type, expected, report) {
  const signer = r.signer;
  try {
    if (!signer) throw new Error("no signer key to check the statement with");
    if (signer.participant_id !== expected) throw new Error(`the signer is not participant ${expected}, who issued the entry`);
    if (st.payloadType !== type) throw new Error(`the statement's payloadType is ${st.payloadType}, not ${type}`);
    if (st.signatures?.length !== 1 || st.signatures[0].keyid !== signer.participant_id) throw new Error("the statement's keyid is not the signer");
    const payload = fromB64Any(st.payload);
    const ok = await ed25519(b64(signer.public_key), pae(st.payloadType, payload), fromB64Any(st.signatures[0].sig));
    if (!ok) throw new Error("the signature does not verify");
    report.push({ name: "statement signature", ok: true, detail: `signed by participant ${signer.participant_id}` });
    // Wrapped: a payload that is JSON null or false is still a signed payload.
    return { payload: parseJSON(payload, type === TYPES.deposit ? "deposit" : "strict") };
  } catch (e) {
    report.push({ name: "statement signature", ok: false, detail: e.message });
    return null;
  }
}

const TYPES = {
  deposit: "application/vnd.datapole.deposit.v1+json",
  consent: "application/vnd.datapole.consent.v1+json",
  withdrawal: "application/vnd.datapole.consent-withdrawal.v1+json",
  erasure: "application/vnd.datapole.consent-erasure.v1+json",
  access: "application/vnd.datapole.access.v1+json",
};

/** Why `value` is not of the shape `spec` (as serde reads it: unknown fields refused, a
 * missing or null optional field is absent); null if it is. */
function shapeError(value, spec, path = "receipt") {
  if (!isObject(value)) return `${path} is not an object`;
  for (const k of Object.keys(value)) if (!(k in spec)) return `unknown field ${path}.${k}`;
  for (const [k, kind] of Object.entries(spec)) {
    const optional = kind.endsWith("?");
    const t = optional ? kind.slice(0, -1) : kind;
    const v = value[k];
    if (v === undefined || (optional && v === null)) {
      if (optional) continue;
      return `missing field ${path}.${k}`;
    }
    const at = `${path}.${k}`;
    let bad;
    if (t === "string") bad = typeof v !== "string";
    else if (t === "u64") bad = !Number.isSafeInteger(v) || v < 0;
    else if (t === "bool") bad = typeof v !== "boolean";
    else if (t === "strings") bad = !Array.isArray(v) || v.some((x) => typeof x !== "string");
    else if (t === "signatures") {
      if (!Array.isArray(v)) bad = true;
      else for (const [i, x] of v.entries()) {
        const e = shapeError(x, SHAPES.signature, `${at}[${i}]`);
        if (e) return e;
      }
    } else {
      const e = shapeError(v, SHAPES[t], at);
      if (e) return e;
    }
    if (bad) return `${at} is not a ${t === "u64" ? "non-negative integer" : t}`;
  }
  return null;
}

const SHAPES = {
  receipt: {
    format: "string", log: "log", index: "u64", leaf: "string", inclusion: "inclusion", checkpoint: "string",
    statement: "envelope?", opening: "opening?", signer: "signer?", witnessed: "bool?",
  },
  log: { origin: "string", vkey: "string" },
  inclusion: { tree_size: "u64", hashes: "strings" },
  envelope: { payloadType: "string", payload: "string", signatures: "signatures" },
  signature: { keyid: "string", sig: "string" },
  opening: { salt: "string", document: "string?" },
  signer: { participant_id: "string", public_key: "string" },
};

/** Verifies a receipt; returns the list of checks {name, ok, detail}. */
export async function verifyReceipt(r, pinnedVkey) {
  const report = [];
  const push = (name, ok, detail) => report.push({ name, ok, detail });
  const shape = shapeError(r, SHAPES.receipt);
  if (shape) {
    push("format", false, `not a datapole.receipt.v1 receipt: ${shape}`);
    return report;
  }
  if (r?.format !== "datapole.receipt.v1") {
    push("format", false, `unknown format ${JSON.stringify(r?.format)}`);
    return report;
  }
  push("format", true, "datapole.receipt.v1");
  const vkey = pinnedVkey ?? r.log.vkey;
  if (pinnedVkey) push("log key", r.log.vkey === vkey, r.log.vkey === vkey ? "the receipt names the pinned log key" : "the receipt names another key");
  let cp;
  try {
    cp = await verifyCheckpoint(r.checkpoint, vkey);
    if (cp.origin !== r.log.origin) throw new Error(`checkpoint origin ${cp.origin} is not the receipt's ${r.log.origin}`);
    push("checkpoint signature", true, `signed by ${cp.keyName} for ${cp.origin} at size ${cp.size}`);
  } catch (e) {
    push("checkpoint signature", false, e.message);
    return report;
  }
  let leaf;
  try {
    leaf = b64(r.leaf);
  } catch {
    push("inclusion", false, "the leaf is not base64");
    return report;
  }
  try {
    if (BigInt(r.inclusion.tree_size) !== cp.size) throw new Error(`the proof is for size ${r.inclusion.tree_size}, the checkpoint for ${cp.size}`);
    const path = r.inclusion.hashes.map(b64);
    if (path.some((h) => h.length !== 32)) throw new Error("a proof hash is not 32 bytes of base64");
    const lh = await sha256(concat(Uint8Array.of(0), leaf));
    if (!(await verifyInclusion(lh, BigInt(r.index), cp.size, path, cp.root))) throw new Error("the inclusion proof does not lead to the checkpoint's root");
    push("inclusion", true, `entry ${r.index} is in the tree of size ${cp.size}`);
  } catch (e) {
    push("inclusion", false, e.message);
  }
  const entry = parseJSON(leaf);
  if (isDepositLeaf(entry)) await checkDeposit(r, entry, report);
  else if (isRecordLeaf(entry)) await checkRecord(r, entry, report);
  else if (r.statement || r.opening || r.signer) push("statement", false, "this entry carries no statement to open or check");
  return report;
}

async function checkDeposit(r, leaf, report) {
  const push = (name, ok, detail) => report.push({ name, ok, detail });
  let st;
  if (leaf.visibility === "public") {
    if (r.statement || r.opening) return void push("statement", false, "a public entry's statement is in its leaf; the receipt must not carry another");
    if (!isObject(leaf.statement) || leaf.commitment != null) return void push("statement", false, "a public deposit entry must carry its statement and no commitment");
    st = leaf.statement;
  } else if (r.statement && r.opening && typeof leaf.commitment === "string") {
    let salt = null;
    try {
      salt = b64(r.opening.salt);
    } catch {
      // Reported below as an opening that does not open.
    }
    const opened = salt !== null && salt.length === 32 && hex(await sha256(concat(salt, envelopeBytes(r.statement)))) === leaf.commitment;
    push("commitment", opened, opened ? "the statement and salt open the entry's commitment" : "the statement and salt do not open the entry's commitment");
    st = r.statement;
  } else if (!r.statement && !r.opening && typeof leaf.commitment === "string") {
    st = null;
  } else {
    return void push("commitment", false, "incomplete opening of a private entry");
  }
  if (!st) {
    if (r.signer) push("statement", false, "a signer is named but no statement is given");
    return;
  }
  const signed = await checkSignature(r, st, TYPES.deposit, leaf.depositor, report);
  if (!signed) return;
  const p = signed.payload;
  // The dataset's controller: the statement's, when it names one; a first version that names
  // none is the depositor's (as src/verify/receipt.rs reads it).
  const controller = uuidOf(leaf.controller == null ? leaf.depositor : leaf.controller);
  const named = p?.controller != null ? uuidOf(p.controller) : leaf.version === 1 ? uuidOf(leaf.depositor) : controller;
  const ok = PAYLOADS.deposit(p) && p.sha256.toLowerCase() === leaf.sha256 && p.size === leaf.size &&
    p.visibility === leaf.visibility && (p.dataset_id == null || uuidOf(p.dataset_id) === leaf.dataset_id) &&
    named === controller;
  push("statement matches entry", ok, ok ? `dataset ${leaf.dataset_id} version ${leaf.version}, sha256 ${leaf.sha256}` : "the statement does not describe the entry's content");
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Readers of JSON values as serde reads them into the statement types (src/statement): a
 * struct refuses unknown fields and needs its required fields, not null; an `Option` field
 * may be absent or null; a `#[serde(default)]` list may be absent but not null. */
const is = {
  string: (v) => typeof v === "string",
  bool: (v) => typeof v === "boolean",
  u64: (v) => Number.isSafeInteger(v) && v >= 0,
  uuid: (v) => uuidOf(v) !== null,
  object: isObject,
  oneOf: (...names) => (v) => names.includes(v),
  list: (item) => (v) => Array.isArray(v) && v.every(item),
  option: (check) => ({ check, absent: true, nullable: true }),
  defaulted: (check) => ({ check, absent: true, nullable: false }),
  struct: (spec) => (v) =>
    isObject(v) && Object.keys(v).every((k) => Object.hasOwn(spec, k)) &&
    Object.entries(spec).every(([k, f]) => {
      const field = typeof f === "function" ? { check: f, absent: false, nullable: false } : f;
      if (!Object.hasOwn(v, k)) return field.absent;
      return (v[k] === null && field.nullable) || field.check(v[k]);
    }),
};

/** The signed payloads, as DepositPayload, ConsentPayload, ConsentActionPayload and
 * AccessPayload read them. */
const PAYLOADS = {
  deposit: is.struct({
    sha256: is.string, size: is.u64, media_type: is.string, title: is.string, description: is.option(is.string),
    license: is.option(is.string), visibility: is.oneOf("public", "private"), retention: is.option(is.string),
    dataset_id: is.option(is.uuid), controller: is.option(is.uuid), metadata: is.option(is.object),
    issued_at: is.string, nonce: is.string,
  }),
  consent: is.struct({
    subject_ref: is.string, expressed_by: is.struct({ role: is.oneOf("self", "parent", "guardian", "representative") }),
    indication_method: is.string, notice: is.struct({ url: is.string, sha256: is.string, version: is.string, language: is.string }),
    purposes: is.list(is.struct({ code: is.string, text: is.string })), legal_basis: is.string,
    data_categories: is.list(is.string), special_category: is.bool, datasets: is.defaulted(is.list(is.uuid)),
    recipients: is.defaulted(is.list(is.uuid)), jurisdiction: is.string, storage_location: is.string,
    retention_period: is.string, validity: is.struct({ until: is.option(is.string), duration: is.option(is.string) }),
    withdrawal_method: is.string, decision: is.oneOf("given", "refused"), issued_at: is.string, nonce: is.string,
  }),
  action: is.struct({ consent_id: is.uuid, reason: is.option(is.string), issued_at: is.string, nonce: is.string }),
  access: is.struct({
    dataset_id: is.uuid, action: is.oneOf("read", "query", "export", "compute"), purpose: is.struct({ code: is.string }),
    legal_basis: is.oneOf("consent", "permit", "public_interest", "contract"), consent_ids: is.option(is.list(is.uuid)),
    authorization_ref: is.option(is.string), emergency: is.option(is.struct({ justification: is.string })),
    issued_at: is.string, nonce: is.string,
  }),
};

/** The access decision's reason codes (src/decision/mod.rs). */
const REASONS = [
  "consented", "authorization_recorded", "emergency_override", "unknown_consent", "consent_refused",
  "consent_withdrawn", "consent_erased", "consent_expired", "dataset_not_covered", "purpose_not_consented",
  "recipient_not_allowed", "consent_unreadable",
];

/** A UUID in any spelling the uuid crate parses (simple, hyphenated, braced, URN; either case),
 * as lower-case hyphenated text; null if it is none. */
function uuidOf(v) {
  if (typeof v !== "string") return null;
  const h = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
  const m = new RegExp(`^(?:([0-9a-fA-F]{32})|(${h})|\\{(${h})\\}|[uU][rR][nN]:[uU][uU][iI][dD]:(${h}))$`).exec(v);
  if (!m) return null;
  const hex = (m[1] ?? m[2] ?? m[3] ?? m[4]).replace(/-/g, "").toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function isUuid(v) {
  return typeof v === "string" && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v);
}

/** Parses JSON bytes strictly (UTF-8, one value); null if they are not JSON, or JSON that the
 * log's strict reader refuses (see strictJSON). */
function parseJSON(bytes, mode = "strict") {
  let text;
  try {
    // A byte-order mark is kept, so that JSON.parse refuses it as serde_json does.
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
  if (strictJSON(text, mode) !== null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Reads a receipt file's text as `datapole verify` does (src/json.rs): JSON.parse's reading,
 * but a key twice, a number beyond ±(2^53−1), a lone surrogate or nesting deeper than 64 is
 * refused (thrown), not read one way here and another there. */
export function parseDocument(text) {
  const why = strictJSON(text, "free");
  if (why !== null) throw new Error(why);
  return JSON.parse(text);
}

/** How deep objects and arrays may nest (src/json.rs, MAX_DEPTH). */
const MAX_DEPTH = 64;

/** Why JSON text is refused by the log's strict reader (src/json.rs) or by the types it reads
 * into, although JSON.parse takes it; null if it is not. Everywhere: a key twice in one object
 * (JSON.parse keeps the last), a number beyond ±(2^53−1) whatever its form (JSON.parse rounds
 * it), a lone UTF-16 surrogate in an escape, objects and arrays nested deeper than 64. And
 * outside free-form values, a number with a fraction or an exponent, or -0 (no entry's,
 * document's or statement's number may have one: serde reads those as floats). In `deposit`
 * mode (a deposit statement) the top-level `metadata` is free-form; in `free` mode (a receipt
 * file, which `datapole verify` reads with src/json.rs alone) everything is. Text that is not
 * JSON at all is left to JSON.parse. */
function strictJSON(text, mode = "strict") {
  const freeKey = mode === "deposit" ? "metadata" : null;
  const allFree = mode === "free";
  // One frame per open object (keys: a Set) or array (keys: null); `free` for free-form ones.
  const stack = [];
  let expectKey = false;
  // The value after a root-level key `freeKey` is free-form.
  let freeValue = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const top = stack[stack.length - 1];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') {
        if (text[j] !== "\\") {
          j += 1;
          continue;
        }
        if (text[j + 1] === "u") {
          const unit = parseInt(text.slice(j + 2, j + 6), 16);
          if (unit >= 0xdc00 && unit <= 0xdfff) return "a lone surrogate in an escape";
          if (unit >= 0xd800 && unit <= 0xdbff) {
            const next = text.slice(j + 6, j + 8) === "\\u" ? parseInt(text.slice(j + 8, j + 12), 16) : NaN;
            if (!(next >= 0xdc00 && next <= 0xdfff)) return "a lone surrogate in an escape";
            j += 12;
          } else {
            j += 6;
          }
        } else {
          j += 2;
        }
      }
      if (top?.keys && expectKey) {
        let key;
        try {
          key = JSON.parse(text.slice(i, j + 1));
        } catch {
          return "not JSON";
        }
        if (top.keys.has(key)) return `duplicate key ${JSON.stringify(key)}`;
        top.keys.add(key);
        expectKey = false;
        if (stack.length === 1) freeValue = key === freeKey;
      }
      i = j + 1;
      continue;
    }
    if (c === "{" || c === "[") {
      if (stack.length >= MAX_DEPTH) return `objects and arrays nest deeper than ${MAX_DEPTH} levels`;
      stack.push({ keys: c === "{" ? new Set() : null, free: Boolean(top?.free) || (stack.length === 1 && freeValue) });
      expectKey = c === "{";
    } else if (c === "}" || c === "]") {
      stack.pop();
      if (stack.length === 1) freeValue = false;
    } else if (c === ",") {
      expectKey = Boolean(top?.keys);
      if (stack.length === 1) freeValue = false;
    } else if (c === "-" || (c >= "0" && c <= "9")) {
      const m = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
      m.lastIndex = i;
      const n = m.exec(text);
      if (!n) return "not JSON";
      const token = n[0];
      const integer = n[1] === undefined && n[2] === undefined;
      const big = integer ? BigInt(token) : null;
      if (integer ? big > 2n ** 53n - 1n || big < -(2n ** 53n - 1n) : !(Math.abs(Number(token)) <= Number.MAX_SAFE_INTEGER)) {
        return `number ${token} is beyond ±(2^53-1)`;
      }
      const free = allFree || Boolean(top?.free) || (stack.length === 1 && freeValue);
      if (!free && (!integer || token === "-0")) return `number ${token} is not an integer`;
      i += token.length;
      continue;
    }
    i += 1;
  }
  return null;
}

/** True when `v` is an object whose keys are all in `allowed` and include `required`. */
function exactKeys(v, required, optional = []) {
  if (!isObject(v)) return false;
  const allowed = new Set([...required, ...optional]);
  return Object.keys(v).every((k) => allowed.has(k)) && required.every((k) => Object.hasOwn(v, k));
}

const u64 = (v) => Number.isSafeInteger(v) && v >= 0;

/** A deposit entry as the Rust verifier reads one (DepositLeaf, v 1). */
function isDepositLeaf(e) {
  return (
    exactKeys(e, ["v", "type", "dataset_id", "version", "depositor", "sha256", "size", "visibility", "deposited_at"], ["controller", "statement", "commitment"]) &&
    e.v === 1 && e.type === "deposit" && isUuid(e.dataset_id) && u64(e.version) && isUuid(e.depositor) &&
    (e.controller == null || isUuid(e.controller)) &&
    typeof e.sha256 === "string" && u64(e.size) && ["public", "private"].includes(e.visibility) &&
    typeof e.deposited_at === "string" && (e.statement == null || !shapeError(e.statement, SHAPES.envelope)) &&
    (e.commitment == null || typeof e.commitment === "string")
  );
}

/** A consent, event or access entry as the Rust verifier reads one (RecordLeaf, v 1). */
function isRecordLeaf(e) {
  return (
    exactKeys(e, ["v", "type", "id", "issuer", "time", "commitment"]) && e.v === 1 &&
    ["consent", "withdrawal", "erasure", "access"].includes(e.type) && isUuid(e.id) && isUuid(e.issuer) &&
    typeof e.time === "string" && typeof e.commitment === "string"
  );
}

/** Checks a consent, consent event or access entry: the opening, then what it opens. */
async function checkRecord(r, leaf, report) {
  const push = (name, ok, detail) => report.push({ name, ok, detail });
  const op = r.opening;
  if (!op) {
    if (r.statement || r.signer) push("commitment", false, "a statement or signer is given without the opening");
    // Inclusion only: the record stays private (or was erased).
    return;
  }
  let bytes;
  try {
    if (r.statement && op.document == null) bytes = envelopeBytes(r.statement);
    else if (!r.statement && op.document != null) {
      try {
        bytes = b64(op.document);
      } catch {
        throw new Error("the opening's document is not base64");
      }
    } else throw new Error("an opening carries exactly one of a statement and a document");
    let salt;
    try {
      salt = b64(op.salt);
    } catch {
      salt = null;
    }
    if (!salt || salt.length !== 32) throw new Error("the salt is not 32 bytes of base64");
    if (hex(await sha256(concat(salt, bytes))) !== leaf.commitment) throw new Error("the opening does not open the entry's commitment");
  } catch (e) {
    return void push("commitment", false, e.message);
  }
  push("commitment", true, `the opening opens the ${leaf.type} entry's commitment`);
  if (leaf.type === "consent" && r.statement) {
    const signed = await checkSignature(r, r.statement, TYPES.consent, leaf.issuer, report);
    if (!signed) return;
    const p = signed.payload;
    const ok = PAYLOADS.consent(p);
    push("statement matches entry", ok, ok ? `consent ${leaf.id} ${p.decision} by controller ${leaf.issuer} for ${p.purposes.length} purpose(s)` : "the statement is not a consent");
  } else if ((leaf.type === "withdrawal" || leaf.type === "erasure") && r.statement) {
    const signed = await checkSignature(r, r.statement, TYPES[leaf.type], leaf.issuer, report);
    if (!signed) return;
    const p = signed.payload;
    const ok = PAYLOADS.action(p);
    push("statement matches entry", ok, ok ? `${leaf.type} of consent ${p.consent_id} by its controller` : `the statement is not a consent ${leaf.type}`);
  } else if (leaf.type === "withdrawal" || leaf.type === "erasure") {
    if (r.signer) return void push("record matches entry", false, "a citizen's event names a signer, but the citizen signs nothing");
    const d = parseJSON(bytes);
    if (!exactKeys(d, ["v", "type", "id", "consent_id", "initiated_by", "time"]) || d.v !== 1 || !isUuid(d.id) ||
        !isUuid(d.consent_id) || typeof d.time !== "string" || !["consent", "withdrawal", "erasure", "access"].includes(d.type) ||
        !["subject", "controller"].includes(d.initiated_by)) {
      return void push("record matches entry", false, "the document is not a consent event");
    }
    const ok = d.type === leaf.type && d.id === leaf.id && d.time === leaf.time;
    push("record matches entry", ok, ok ? `${leaf.type} of consent ${d.consent_id} by the citizen` : "the document describes another event");
  } else if (leaf.type === "access" && !r.statement) {
    const rec = parseJSON(bytes);
    const shaped =
      exactKeys(rec, ["v", "id", "accessor", "statement", "decision", "reason", "emergency", "evaluated_at_size", "decided_at"], ["consent_id", "overridden"]) &&
      rec.v === 1 && isUuid(rec.id) && isUuid(rec.accessor) && !shapeError(rec.statement, SHAPES.envelope) &&
      ["permit", "deny"].includes(rec.decision) && REASONS.includes(rec.reason) && typeof rec.emergency === "boolean" &&
      u64(rec.evaluated_at_size) && typeof rec.decided_at === "string" && (rec.consent_id == null || isUuid(rec.consent_id)) &&
      (rec.overridden == null || REASONS.includes(rec.overridden));
    if (!shaped) {
      return void push("record matches entry", false, "the document is not an access record");
    }
    if (rec.id !== leaf.id || rec.accessor !== leaf.issuer || rec.decided_at !== leaf.time) {
      return void push("record matches entry", false, "the access record describes another entry");
    }
    const signed = await checkSignature(r, rec.statement, TYPES.access, leaf.issuer, report);
    if (!signed) return;
    // The statement the log decided on reads as the API read it (AccessPayload).
    if (!PAYLOADS.access(signed.payload)) {
      return void push("record matches entry", false, "the statement is not an access");
    }
    push("record matches entry", true, `access ${leaf.id}: ${rec.decision} (${rec.reason})${rec.emergency ? ", emergency" : ""}`);
  } else {
    push("statement", false, `a ${leaf.type} entry does not open to ${r.statement ? "a statement" : "a document"}`);
  }
}

/** Deep equality of JSON values (object keys in any order). */
function sameJSON(a, b) {
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJSON(x, b[i]));
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && sameJSON(a[k], b[k]));
  }
  return a === b;
}

/** `start` (a Date) plus an ISO 8601 duration as the log adds it (calendar months, clamped to
 * the month's last day, then days, then seconds); null if it is not one. */
function addDuration(start, text) {
  const m = /^P(?:(\d{1,9})Y)?(?:(\d{1,9})M)?(?:(\d{1,9})W)?(?:(\d{1,9})D)?(?:T(?:(\d{1,9})H)?(?:(\d{1,9})M)?(?:(\d{1,9})S)?)?$/.exec(text);
  if (!m || text === "P" || text.endsWith("T")) return null;
  const n = m.slice(1).map((x) => Number(x ?? 0));
  const months = n[0] * 12 + n[1];
  const y = start.getUTCFullYear() + Math.floor((start.getUTCMonth() + months) / 12);
  const mo = (start.getUTCMonth() + months) % 12;
  const lastDay = new Date(Date.UTC(y, mo + 1, 0)).getUTCDate();
  const t = new Date(start.getTime());
  t.setUTCFullYear(y, mo, Math.min(start.getUTCDate(), lastDay));
  return new Date(t.getTime() + ((n[2] * 7 + n[3]) * 86400 + n[4] * 3600 + n[5] * 60 + n[6]) * 1000);
}

/** The end of a consent's validity (RFC 3339, milliseconds, UTC): its signed `validity.until`,
 * or `validity.duration` after the time the log recorded it; null if there is none. */
function validityEnd(payload, recordedAt) {
  const v = payload?.validity ?? {};
  let end = null;
  if (typeof v.until === "string") end = new Date(v.until);
  else if (typeof v.duration === "string") end = addDuration(new Date(recordedAt), v.duration);
  return end && !Number.isNaN(end.getTime()) ? end.toISOString() : null;
}

/** When the consent of a citizen's receipt ends, from its signed statement and its entry's
 * time alone (not from what the file or the server says); null if it cannot be told. Use on a
 * receipt that verified. */
export function consentEnd(receipt) {
  const { leaf, payload } = opened(receipt);
  return leaf?.type === "consent" ? validityEnd(payload, leaf.time) : null;
}

/** The `record` check of a citizen's consent receipt: the consent id, record and end of
 * validity shown beside the log receipt are what its entry and signed statement say. */
function checkCitizenRecord(r, consentId, record, expiresAt) {
  const fail = (detail) => ({ name: "record", ok: false, detail });
  let leaf;
  try {
    leaf = parseJSON(b64(r.leaf));
  } catch {
    leaf = null;
  }
  if (!isRecordLeaf(leaf) || leaf.type !== "consent") return fail("the receipt is not for a consent entry");
  if (consentId !== leaf.id) return fail(`the consent id shown is not the entry's (${leaf.id})`);
  if (!r.statement) return fail("the receipt carries no statement");
  let signed;
  try {
    signed = parseJSON(fromB64Any(r.statement.payload));
  } catch {
    return fail("the payload is not base64");
  }
  if (signed === null) return fail("statement payload: not JSON");
  if (!sameJSON(signed, record)) return fail("the record shown is not the one the controller signed");
  if (expiresAt !== undefined && expiresAt !== null && typeof expiresAt !== "string") return fail("expires_at is not a string");
  if (typeof expiresAt === "string") {
    const computed = validityEnd(signed, leaf.time);
    if (!computed) return fail("the consent's validity has no computable end");
    if (computed !== expiresAt) return fail(`expires_at ${expiresAt} is not the signed validity's end (${computed})`);
  }
  return { name: "record", ok: true, detail: `the record shown is the signed statement of consent ${leaf.id}` };
}

/** Verifies a receipt file's JSON as `datapole verify` does: a bare receipt, or an answer that
 * carries one under `receipt` (a deposit's, a withdrawal's, an access decision's, or a
 * citizen's consent receipt, whose record adds the `record` check). Returns the receipt, the
 * answer around it (or null) and the checks. */
export async function verifyDocument(value, pinnedVkey) {
  const wrapped = isObject(value) && value.format === undefined && value.receipt !== undefined;
  const receipt = wrapped ? value.receipt : value;
  let checks;
  try {
    checks = await verifyReceipt(receipt, pinnedVkey);
  } catch (e) {
    // A shape the receipt format does not allow (a field missing or of another type).
    return { receipt, wrapper: wrapped ? value : null, checks: [{ name: "format", ok: false, detail: `not a datapole.receipt.v1 receipt: ${e.message}` }] };
  }
  if (wrapped && value.record !== undefined) {
    checks.push(checkCitizenRecord(receipt, value.consent_id, value.record, value.expires_at));
  }
  return { receipt, wrapper: wrapped ? value : null, checks };
}

/** RFC 9162 §2.1.4.2: does `proof` show the tree of `first` leaves (root `firstRoot`) to be a
 * prefix of the tree of `second` leaves (root `secondRoot`)? Sizes are BigInts. */
export async function verifyConsistency(first, second, firstRoot, secondRoot, proof) {
  if (first > second || first === 0n) return false;
  if (first === second) return proof.length === 0 && equal(firstRoot, secondRoot);
  let path = proof;
  if ((first & (first - 1n)) === 0n) path = [firstRoot, ...proof];
  if (path.length === 0) return false;
  let fn = first - 1n;
  let sn = second - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await sha256(concat(Uint8Array.of(1), c, fr));
      sr = await sha256(concat(Uint8Array.of(1), c, sr));
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = await sha256(concat(Uint8Array.of(1), sr, c));
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(fr, firstRoot) && equal(sr, secondRoot);
}

export { b64 as fromBase64 };

/** The log key of the server that served this page (a `<meta name="datapole-log-key">` the
 * server writes into every page); undefined outside a page or if there is none. The pages pin
 * it: a receipt signed with any other key fails the `log key` check. */
export function servedLogKey() {
  if (typeof document === "undefined") return undefined;
  const key = document.querySelector('meta[name="datapole-log-key"]')?.content?.trim();
  return key ? key : undefined;
}

/** What a receipt's entry and opening say, parsed: the entry (`leaf`), the opened document
 * (`document`: a citizen's event document or an access record) and the signed statement's
 * payload (`payload`: the receipt's statement, a public deposit's statement in its entry, or
 * an access record's statement). Null where absent or unreadable. Meaningful only for a
 * receipt that `verifyReceipt` found valid. */
export function opened(r) {
  const json = (bytes) => parseJSON(bytes);
  let leaf = null;
  let document = null;
  let payload = null;
  try {
    leaf = json(b64(r.leaf));
  } catch {
    leaf = null;
  }
  try {
    if (r.opening?.document != null) document = json(b64(r.opening.document));
  } catch {
    document = null;
  }
  const statement = r.statement ?? (leaf?.type === "deposit" ? leaf.statement : null) ?? document?.statement ?? null;
  try {
    if (isObject(statement) && typeof statement.payload === "string") {
      payload = parseJSON(fromB64Any(statement.payload), statement.payloadType === TYPES.deposit ? "deposit" : "strict");
    }
  } catch {
    payload = null;
  }
  return { leaf, document, payload };
}

/** Checks a checkpoint's cosignature/v1 signature lines (c2sp.org/tlog-cosignature) against
 * the witnesses' verifier keys (`name+id+base64(0x04 ‖ key)`). One result per witness:
 * {name, ok, time (Unix seconds, or null), detail}. */
export async function verifyCosignatures(note, witnessVkeys) {
  const split = typeof note === "string" ? note.lastIndexOf("\n\n") : -1;
  const out = [];
  const seen = new Set();
  for (const vkey of witnessVkeys) {
    let k;
    try {
      k = await parseVkey(vkey, 0x04);
    } catch (e) {
      out.push({ name: String(vkey).split("+")[0], ok: false, time: null, detail: e.message });
      continue;
    }
    // A witness counts once: a key or a name listed twice does not make two cosignatures.
    const name = `name:${k.name}`;
    const key = `key:${hex(k.key)}`;
    if (seen.has(name) || seen.has(key)) {
      out.push({ name: k.name, ok: false, time: null, detail: "this witness is listed twice" });
      continue;
    }
    seen.add(name);
    seen.add(key);
    let result = { name: k.name, ok: false, time: null, detail: "no cosignature of this witness" };
    if (split >= 0) {
      const text = note.slice(0, split + 1);
      for (const line of note.slice(split + 2).split("\n")) {
        const m = /^\u2014 (\S+) (\S+)$/.exec(line);
        if (!m || m[1] !== k.name) continue;
        let raw;
        try {
          raw = b64(m[2]);
        } catch {
          continue;
        }
        if (raw.length !== 4 + 72 || !equal(raw.subarray(0, 4), k.id)) continue;
        const time = new DataView(raw.buffer, raw.byteOffset + 4, 8).getBigUint64(0);
        const message = concat(enc.encode(`cosignature/v1\ntime ${time}\n`), enc.encode(text));
        if (time <= 2n ** 63n - 1n && (await ed25519(k.key, message, raw.subarray(12)))) {
          result = { name: k.name, ok: true, time: Number(time), detail: `cosigned at ${time}` };
        } else {
          result = { name: k.name, ok: false, time: null, detail: "the cosignature does not verify" };
        }
        break;
      }
    }
    out.push(result);
  }
  return out;
}
