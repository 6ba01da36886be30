// Runs the web pages' receipt verifier (src/web/assets/verify.js) under Node's WebCrypto on
// the receipts of a vectors file; prints, for each, the names of the checks that failed.
// Usage: node --experimental-default-type=module run-verifier.mjs VERIFY_JS VECTORS_JSON
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [verifier, vectors] = process.argv.slice(2);
const { verifyReceipt } = await import(pathToFileURL(verifier).href);
const out = {};
for (const v of JSON.parse(readFileSync(vectors, "utf8"))) {
  const checks = await verifyReceipt(v.receipt, v.vkey);
  out[v.name] = { failed: checks.filter((c) => !c.ok).map((c) => c.name), count: checks.length };
}
console.log(JSON.stringify(out));
