// Runs the web pages' receipt verifier (src/web/assets/verify.js) under Node's WebCrypto:
// on the receipt files of a vectors file (verifyDocument), printing for each the names of
// the checks that failed;
// and on the Go reference implementation's inclusion and consistency proofs, counting those
// that verify (and that fail once tampered).
// Usage: node run-verifier.mjs VERIFY_MJS VECTORS_JSON TLOG_REFERENCE_JSON
// (VERIFY_MJS: a copy of verify.js named .mjs, so that any Node reads it as a module.)
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { webcrypto } from "node:crypto";

// Node 18 has WebCrypto in node:crypto but not yet as the global `crypto` of browsers.
globalThis.crypto ??= webcrypto;

const [verifier, vectors, reference] = process.argv.slice(2);
const { verifyDocument, verifyInclusion, verifyConsistency, fromBase64 } = await import(
  pathToFileURL(verifier).href
);
const receipts = {};
for (const v of JSON.parse(readFileSync(vectors, "utf8"))) {
  const { checks } = await verifyDocument(v.document, v.vkey);
  receipts[v.name] = { failed: checks.filter((c) => !c.ok).map((c) => c.name), count: checks.length };
}
const ref = JSON.parse(readFileSync(reference, "utf8"));
const root = (n) => fromBase64(ref.roots[String(n)]);
const flip = (h) => {
  const c = Uint8Array.from(h);
  c[0] ^= 1;
  return c;
};
const tally = { inclusion_ok: 0, inclusion_bad: 0, consistency_ok: 0, consistency_bad: 0, tampered_accepted: 0 };
for (const p of ref.inclusion) {
  const leaf = fromBase64(ref.leaf_hashes[p.index]);
  const proof = p.proof.map(fromBase64);
  const ok = await verifyInclusion(leaf, BigInt(p.index), BigInt(p.tree_size), proof, root(p.tree_size));
  tally[ok ? "inclusion_ok" : "inclusion_bad"]++;
  if (await verifyInclusion(flip(leaf), BigInt(p.index), BigInt(p.tree_size), proof, root(p.tree_size))) {
    tally.tampered_accepted++;
  }
}
for (const p of ref.consistency) {
  const proof = p.proof.map(fromBase64);
  const ok = await verifyConsistency(BigInt(p.from), BigInt(p.to), root(p.from), root(p.to), proof);
  tally[ok ? "consistency_ok" : "consistency_bad"]++;
  if (await verifyConsistency(BigInt(p.from), BigInt(p.to), flip(root(p.from)), root(p.to), proof)) {
    tally.tampered_accepted++;
  }
}
console.log(JSON.stringify({ receipts, reference: tally }));
