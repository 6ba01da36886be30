// Same-origin calls to the log's API, and the byte helpers the pages share.

/** Bytes to lower-case hex. */
export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** SHA-256 of bytes, computed by the browser (WebCrypto). */
export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/** Makes an element with text, safely (never innerHTML). */
export function el(tag, text, attrs = {}) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

/**
 * Calls `path` on this origin and reads its JSON answer: `method` (GET unless told) with no
 * body, and `bearer`, if given, sent as `Authorization: Bearer` (a secret goes in that header,
 * never in the URL). Nothing is cached. Throws an Error carrying the API's error message,
 * with its `status` and `code`, on an error status.
 */
export async function fetchJSON(path, { method = "GET", bearer } = {}) {
  const headers = { Accept: "application/json" };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const res = await fetch(path, { method, headers, cache: "no-store", credentials: "same-origin" });
  let body = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON: reported below by status.
  }
  if (!res.ok) {
    const message = body?.error?.message ?? `HTTP ${res.status}`;
    const err = new Error(message);
    err.status = res.status;
    err.code = body?.error?.code;
    throw err;
  }
  return body;
}
