// A dataset as the explorer shows it, judged in the browser: its versions (GET
// /v1/datasets/{id}) and its custody chain (GET /v1/datasets/{id}/custody). Every receipt is
// verified with this Data Pôle's key (verify.js), and its entry must be what the listing says
// it is: a deposit of this dataset at that version, or a custody event of this dataset
// (src/custody/mod.rs) of the type listed. The latest fixity run's receipt is verified too,
// and each of this dataset's checks in it is proved by its RFC 9162 audit path to the run's
// `root` (src/custody/run.rs), then tied to a copy that a verified `storage` entry names.
// What a receipt that fails says is never used. No DOM here: explorer.js draws the result.
import { fetchJSON, sha256 } from "/assets/api.js";
import { passed } from "/assets/checks.js";
import { fromBase64, opened, parseDocument, verifyInclusion, verifyReceipt } from "/assets/verify.js";

/** Pages of a listing followed (1,000 items each, the API's largest page). */
const MAX_PAGES = 10;
/** Receipts verified at once. */
const BATCH = 20;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/** The custody events a dataset's chain lists, in the order of a chain (a fixity run is
 * about every object, and is not listed). */
const CHAIN_KINDS = ["storage", "fixity_failure", "repair", "download", "legal_hold", "disposal"];

/** A dataset id as the log writes it (lower-case, hyphenated); null if `text` is none. */
export function datasetId(text) {
  const v = String(text ?? "").trim().toLowerCase();
  return UUID.test(v) ? v : null;
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

// Readers of the entries' fields, as serde reads them into the Rust types (unknown fields
// refused; an optional field absent, or null).
const str = (v) => typeof v === "string";
const u64 = (v) => Number.isSafeInteger(v) && v >= 0;
const bool = (v) => typeof v === "boolean";
const uuid = (v) => typeof v === "string" && UUID.test(v);
const hex64 = (v) => typeof v === "string" && HEX64.test(v);
const strings = (v) => Array.isArray(v) && v.every(str);
const oneOf = (...names) => (v) => names.includes(v);
const optional = (check) => ({ check, optional: true });

/** Why `v` is not of the shape `spec`; null if it is. */
function shapeError(v, spec) {
  if (!isObject(v)) return "not an object";
  for (const k of Object.keys(v)) if (!Object.hasOwn(spec, k)) return `unknown field ${k}`;
  for (const [k, f] of Object.entries(spec)) {
    const field = typeof f === "function" ? { check: f, optional: false } : f;
    if (v[k] === undefined || v[k] === null) {
      if (field.optional) continue;
      return `missing field ${k}`;
    }
    if (!field.check(v[k])) return `field ${k} is malformed`;
  }
  return null;
}

const OBJECT = { v: (v) => v === 1, type: str, object: uuid, dataset_id: uuid, version: u64, time: str };

/** The custody entries' formats (src/custody/mod.rs). */
const LEAVES = {
  storage: {
    ...OBJECT, deposit: u64, encrypted: bool, locations: strings, sha256: hex64, size: u64, retain_until: optional(str),
  },
  fixity_failure: {
    ...OBJECT, run: uuid, location: str, outcome: oneOf("mismatch", "missing", "unreadable"),
    found_sha256: optional(hex64), found_size: optional(u64),
  },
  repair: { ...OBJECT, run: uuid, location: str, source: str, failure: u64 },
  download: { ...OBJECT, by: uuid, access: optional(uuid), range: optional(str) },
  legal_hold: { ...OBJECT, hold: bool, reference: str },
  disposal: { ...OBJECT, storage: u64, by: optional(uuid), locations: strings, sha256: hex64 },
  fixity: {
    v: (v) => v === 1, type: str, run: uuid, started: str, checked: u64, intact: u64, repaired: u64, root: hex64, time: str,
  },
};

/** One copy's check in a run (src/custody/run.rs, CheckRecord). */
const RECORD = {
  object: uuid, location: str, outcome: oneOf("intact", "mismatch", "missing", "unreadable"),
  sha256: optional(hex64), repaired: optional(bool),
};

/** Verifies each receipt, `BATCH` at a time, with the log key `vkey`; a throw is a failed
 * check. */
async function verifyAll(receipts, vkey) {
  const out = [];
  for (let i = 0; i < receipts.length; i += BATCH) {
    const batch = receipts.slice(i, i + BATCH).map(async (r) => {
      try {
        return await verifyReceipt(r, vkey);
      } catch (e) {
        return [{ name: "format", ok: false, detail: e.message }];
      }
    });
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

/** The entry of a receipt whose checks all pass; null otherwise. */
function leafIfValid(receipt, checks) {
  if (!passed(checks)) return null;
  try {
    return opened(receipt).leaf;
  } catch {
    return null;
  }
}

/** `checks` and one more; `leaf` kept only when every one holds. */
function judged(checks, leaf, extra) {
  if (!leaf) return { checks, leaf: null };
  const all = [...checks, extra];
  return { checks: all, leaf: extra.ok ? leaf : null };
}

/** The `dataset` check of a version's receipt: a deposit of this dataset, at the version and
 * index listed. */
function versionConcerns(receipt, leaf, listed, id) {
  const fail = (detail) => ({ name: "dataset", ok: false, detail });
  if (leaf?.type !== "deposit") return fail(`entry ${receipt.index} is not a deposit`);
  if (leaf.dataset_id !== id) return fail(`entry ${receipt.index} is a deposit of dataset ${leaf.dataset_id}, not ${id}`);
  if (receipt.index !== listed.index || leaf.version !== listed.version) {
    return fail(`entry ${receipt.index} is version ${leaf.version}, listed as version ${listed.version} at entry ${listed.index}`);
  }
  return { name: "dataset", ok: true, detail: `entry ${receipt.index} is version ${leaf.version} of dataset ${id}` };
}

/** The `dataset` check of a custody receipt: a custody event of this dataset, well formed, of
 * the type and at the index listed. */
function custodyConcerns(receipt, leaf, listed, id) {
  const fail = (detail) => ({ name: "dataset", ok: false, detail });
  const type = leaf?.type;
  if (!CHAIN_KINDS.includes(type)) return fail(`entry ${receipt.index} is not a custody event of a dataset`);
  const shape = shapeError(leaf, LEAVES[type]);
  if (shape) return fail(`entry ${receipt.index} is not a ${type} entry: ${shape}`);
  if (leaf.dataset_id !== id) return fail(`entry ${receipt.index} is about dataset ${leaf.dataset_id}, not ${id}`);
  if (receipt.index !== listed.index || type !== listed.type) {
    return fail(`entry ${receipt.index} is a ${type}, listed as a ${listed.type} at entry ${listed.index}`);
  }
  return { name: "dataset", ok: true, detail: `entry ${receipt.index}: ${type} of dataset ${id} version ${leaf.version}` };
}

/** The `fixity run` check of the run's receipt: a well-formed `fixity` entry at the index
 * listed. */
function runConcerns(receipt, leaf, listed) {
  const fail = (detail) => ({ name: "fixity run", ok: false, detail });
  if (leaf?.type !== "fixity") return fail(`entry ${receipt.index} is not a fixity run`);
  const shape = shapeError(leaf, LEAVES.fixity);
  if (shape) return fail(`entry ${receipt.index} is not a fixity entry: ${shape}`);
  if (receipt.index !== listed.index) return fail(`entry ${receipt.index} is listed at ${listed.index}`);
  return { name: "fixity run", ok: true, detail: `run ${leaf.run}: ${leaf.checked} copies checked, ${leaf.intact} intact` };
}

/** Every page of `path` (a listing with `truncated`, asked again with `after` = `cursor` of
 * its last item): `{answers, items, truncated}`, `items` gathered from each answer's `key`,
 * `truncated` when more remain after `MAX_PAGES`. */
async function allPages(path, key, cursor) {
  let after = null;
  const answers = [];
  const items = [];
  for (let page = 0; page < MAX_PAGES; page++) {
    const answer = await fetchJSON(after === null ? path : `${path}?after=${encodeURIComponent(after)}`);
    answers.push(answer);
    const got = Array.isArray(answer?.[key]) ? answer[key] : [];
    items.push(...got);
    if (!answer?.truncated || got.length === 0) return { answers, items, truncated: false };
    after = cursor(got[got.length - 1]);
  }
  return { answers, items, truncated: true };
}

/** The latest fixity run the custody pages name, with its checks gathered from every page
 * that names that run (each page lists the checks of the objects archived in it). */
function latestRun(answers) {
  const named = answers.map((a) => a?.fixity).filter((f) => isObject(f) && isObject(f.run));
  if (named.length === 0) return null;
  const run = named[named.length - 1].run;
  const checks = [];
  const seen = new Set();
  for (const f of named.filter((x) => x.run.index === run.index)) {
    for (const c of Array.isArray(f.checks) ? f.checks : []) {
      const key = c?.leaf_index;
      if (seen.has(key)) continue;
      seen.add(key);
      checks.push(c);
    }
  }
  return { run, checks };
}

/** The versions: each `{claim, receipt, checks, leaf}`, `leaf` only when its receipt verifies
 * and is a deposit of this dataset at the version listed. */
async function judgeVersions(id, versions, vkey) {
  const receipts = [];
  for (let i = 0; i < versions.length; i += BATCH) {
    const batch = versions.slice(i, i + BATCH).map(async (v) => {
      try {
        return await fetchJSON(`/v1/receipts/${encodeURIComponent(v.index)}`);
      } catch (e) {
        return { error: e.message };
      }
    });
    receipts.push(...(await Promise.all(batch)));
  }
  const checks = await verifyAll(receipts.map((r) => (r.error ? null : r)), vkey);
  return versions.map((claim, i) => {
    if (receipts[i].error) return { claim, receipt: null, checks: [{ name: "format", ok: false, detail: receipts[i].error }], leaf: null };
    const leaf = leafIfValid(receipts[i], checks[i]);
    return { claim, receipt: receipts[i], ...judged(checks[i], leaf, versionConcerns(receipts[i], leaf, claim, id)) };
  });
}

/** The custody chain: each `{claim, checks, leaf}` in log order, `leaf` only when its receipt
 * verifies and is a custody event of this dataset of the type listed. */
async function judgeChain(id, links, vkey) {
  const sorted = [...links].sort((a, b) => Number(a.index) - Number(b.index));
  const checks = await verifyAll(sorted.map((l) => l.receipt), vkey);
  const seen = new Set();
  return sorted.map((claim, i) => {
    const leaf = leafIfValid(claim.receipt, checks[i]);
    let concerns = custodyConcerns(claim.receipt, leaf, claim, id);
    // One entry is one event: listed twice, it does not count twice.
    if (concerns.ok && seen.has(claim.index)) concerns = { name: "dataset", ok: false, detail: `entry ${claim.index} is listed twice` };
    seen.add(claim.index);
    return { claim, ...judged(checks[i], leaf, concerns) };
  });
}

function hexBytes(h) {
  return Uint8Array.from(h.match(/../g), (b) => parseInt(b, 16));
}

/** A check record's text, read strictly; null if it is not one. */
function readRecord(text) {
  try {
    const record = parseDocument(text);
    return shapeError(record, RECORD) === null ? record : null;
  } catch {
    return null;
  }
}

/** The `fixity proof` check of one of the run's checks: its record's RFC 9162 audit path leads
 * to the verified run's `root`, in a tree of the run's size. Returns `{check, record,
 * claimed}`: `record` (parsed) only when it holds; `claimed`, the record as the server gives
 * it (null if unreadable), only to say which copy a failed proof was about. */
async function proveCheck(proof, runIndex, run) {
  const claimed = isObject(proof) && str(proof.record) ? readRecord(proof.record) : null;
  const fail = (detail) => ({ check: { name: "fixity proof", ok: false, detail }, record: null, claimed });
  if (!isObject(proof)) return fail("not a proof");
  if (proof.index !== runIndex) return fail(`the proof is for entry ${proof.index}, not the run's ${runIndex}`);
  if (proof.checked !== run.checked) return fail(`the proof is for a run of ${proof.checked} checks, the run made ${run.checked}`);
  if (!u64(proof.leaf_index) || proof.leaf_index >= run.checked) return fail("the check's position is not in the run");
  if (!str(proof.record) || !strings(proof.path)) return fail("the record or its path is malformed");
  let path;
  try {
    path = proof.path.map(fromBase64);
  } catch {
    return fail("a path hash is not base64");
  }
  if (path.some((h) => h.length !== 32)) return fail("a path hash is not 32 bytes");
  const bytes = new TextEncoder().encode(proof.record);
  const leaf = new Uint8Array(bytes.length + 1);
  leaf.set(bytes, 1);
  const leafHash = await sha256(leaf);
  const ok = await verifyInclusion(leafHash, BigInt(proof.leaf_index), BigInt(run.checked), path, hexBytes(run.root));
  if (!ok) return fail(`the audit path of check ${proof.leaf_index} does not lead to the run's root`);
  if (!claimed) return fail("the record is not a check record");
  return {
    check: { name: "fixity proof", ok: true, detail: `check ${proof.leaf_index} of ${run.checked} is under the run's root` },
    record: claimed,
    claimed,
  };
}

/** This dataset's archived objects, from its verified `storage` and `disposal` entries:
 * `[{object, version, locations, storage (index), disposed (index or null)}]`, in log order. */
function objectsOf(chain) {
  const objects = [];
  for (const item of chain) {
    const leaf = item.leaf;
    if (leaf?.type === "storage") {
      objects.push({ object: leaf.object, version: leaf.version, locations: leaf.locations, storage: item.claim.index, disposed: null });
    } else if (leaf?.type === "disposal") {
      const o = objects.find((x) => x.object === leaf.object);
      if (o) o.disposed = item.claim.index;
    }
  }
  return objects;
}

/** The latest fixity run: `{run: {claim, checks, leaf}, copies: [...]}`, one copy per
 * location of each live object (from verified `storage` entries) and one for any check the
 * server lists that is no such copy. A copy is `{object, version, location, checks, record}`:
 * `record` (its outcome) only when its proof holds and it is this copy's check; `checks`
 * empty when the run has no check of it (`after` true when the object was archived after the
 * run). Null when the server lists no run. */
async function judgeFixity(fixity, objects, vkey) {
  if (!isObject(fixity) || !isObject(fixity.run)) return null;
  const claim = fixity.run;
  let checks;
  try {
    checks = await verifyReceipt(claim.receipt, vkey);
  } catch (e) {
    checks = [{ name: "format", ok: false, detail: e.message }];
  }
  const leaf = leafIfValid(claim.receipt, checks);
  const run = { claim, ...judged(checks, leaf, runConcerns(claim.receipt, leaf, claim)) };
  const proofs = Array.isArray(fixity.checks) ? fixity.checks : [];
  const proved = run.leaf
    ? await Promise.all(proofs.map((p) => proveCheck(p, claim.index, run.leaf)))
    : proofs.map(() => ({ check: { name: "fixity run", ok: false, detail: "the run's receipt does not verify" }, record: null }));
  const copies = [];
  const used = new Set();
  for (const o of objects.filter((x) => x.disposed === null)) {
    for (const location of o.locations) {
      // A proved check of this copy; else a check that claims to be of it (its proof failed).
      const of = (p, i) => !used.has(i) && p.claimed?.object === o.object && p.claimed.location === location;
      let at = proved.findIndex((p, i) => of(p, i) && p.record);
      if (at < 0) at = proved.findIndex(of);
      if (at < 0) {
        copies.push({ object: o.object, version: o.version, location, checks: [], record: null, after: o.storage > claim.index });
        continue;
      }
      used.add(at);
      const p = proved[at];
      const copy = { name: "copy", ok: true, detail: `object ${o.object} at ${location}, version ${o.version}` };
      copies.push({ object: o.object, version: o.version, location, checks: p.record ? [p.check, copy] : [p.check], record: p.record, after: false });
    }
  }
  // A check the server lists that proves nothing about a live copy of this dataset (a proved
  // check of a copy since disposed of is left out: the chain shows its disposal).
  const disposed = new Set(objects.filter((x) => x.disposed !== null).map((x) => x.object));
  proved.forEach((p, i) => {
    if (used.has(i) || (p.record && disposed.has(p.record.object))) return;
    const object = p.record?.object ?? null;
    const checks = p.record
      ? [p.check, { name: "copy", ok: false, detail: `object ${object} at ${p.record.location} is no live copy of this dataset` }]
      : [p.check];
    copies.push({ object, version: null, location: p.record?.location ?? null, checks, record: null, after: false });
  });
  return { run, copies };
}

/** Reads and judges the dataset `id` (lower-case) with the log key `vkey`: `{id, versions,
 * versionsTruncated, chain, chainTruncated, fixity}`. Throws the API's error when the dataset
 * cannot be read. */
export async function loadDataset(id, vkey) {
  const base = `/v1/datasets/${encodeURIComponent(id)}`;
  const [versions, custody] = await Promise.all([
    allPages(base, "versions", (v) => v.version),
    allPages(`${base}/custody`, "entries", (e) => e.index),
  ]);
  const [judgedVersions, chain] = await Promise.all([
    judgeVersions(id, versions.items, vkey),
    judgeChain(id, custody.items, vkey),
  ]);
  const fixity = await judgeFixity(latestRun(custody.answers), objectsOf(chain), vkey);
  return {
    id,
    versions: judgedVersions,
    versionsTruncated: versions.truncated,
    chain,
    chainTruncated: custody.truncated,
    fixity,
  };
}
