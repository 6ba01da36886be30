"""Strict readings of the encodings datapole signs and commits to.

Strict JSON, as docs/design/statements.md defines it for every reader of statements, entries,
records and receipts: UTF-8 without a byte-order mark, one value, no key twice in any object at
any depth, no number beyond ±(2^53−1) whatever its form, nesting at most 64 deep (and, as
RFC 8259 §8.2 warns, no escape of a lone surrogate, which is no Unicode text). So that a
signed text has one meaning whichever reader reads it.

Base64 (RFC 4648 §4 and §5): the standard alphabet, padded, canonical (the unused bits of the
last character zero) for the receipt's own fields; DSSE's ``payload`` and ``sig`` may also be
URL-safe and unpadded (docs/design/statements.md), but never partly padded.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

__all__ = ["StrictError", "loads", "b64decode", "b64decode_lenient", "MAX_SAFE", "MAX_DEPTH"]

MAX_SAFE = 2**53 - 1
"""The largest integer every JSON reader (IEEE 754 doubles included) reads exactly."""
MAX_DEPTH = 64
"""The deepest nesting of arrays and objects a strict reader accepts."""


class StrictError(ValueError):
    """Bytes that are not strict JSON or canonical base64."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise StrictError(f"key {key!r} twice in an object")
        out[key] = value
    return out


def _int(text: str) -> int:
    n = int(text)
    if abs(n) > MAX_SAFE:
        raise StrictError(f"number {text} beyond ±(2^53−1)")
    return n


def _float(text: str) -> float:
    x = float(text)
    if abs(x) > MAX_SAFE:
        raise StrictError(f"number {text} beyond ±(2^53−1)")
    return x


def _constant(text: str) -> Any:
    raise StrictError(f"{text} is not JSON")


def _text(s: str) -> None:
    if any("\ud800" <= c <= "\udfff" for c in s):
        raise StrictError("a lone surrogate in an escape (not Unicode text)")


def _walk(value: Any, depth: int = 1) -> None:
    """Nesting at most MAX_DEPTH deep, and no string or key that is not Unicode text."""
    if isinstance(value, str):
        _text(value)
    elif isinstance(value, (dict, list)):
        if depth > MAX_DEPTH:
            raise StrictError(f"nested deeper than {MAX_DEPTH}")
        if isinstance(value, dict):
            for k in value:
                _text(k)
        for v in value.values() if isinstance(value, dict) else value:
            _walk(v, depth + 1)


def loads(data: bytes | str) -> Any:
    """Reads strict JSON; raises StrictError on anything else."""
    if isinstance(data, bytes):
        if data.startswith(b"\xef\xbb\xbf"):
            raise StrictError("a byte-order mark")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise StrictError(f"not UTF-8: {e}") from None
    else:
        text = data
        if text.startswith("\ufeff"):
            raise StrictError("a byte-order mark")
    try:
        value = json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_int=_int,
            parse_float=_float,
            parse_constant=_constant,
        )
    except StrictError:
        raise
    except (ValueError, RecursionError) as e:
        raise StrictError(f"not JSON: {e}") from None
    _walk(value)
    return value


_STANDARD = re.compile(r"\A[A-Za-z0-9+/]*\Z")
_URL = re.compile(r"\A[A-Za-z0-9\-_]*\Z")


def _decode(text: str, padded_required: bool, url_allowed: bool) -> bytes:
    body = text.rstrip("=")
    pad = len(text) - len(body)
    if pad > 2 or "=" in body:
        raise StrictError("misplaced base64 padding")
    if pad and len(text) % 4:
        raise StrictError("base64 padding short")
    if not pad and len(body) % 4 and padded_required:
        raise StrictError("base64 without its padding")
    if len(body) % 4 == 1:
        raise StrictError("base64 of an impossible length")
    if not _STANDARD.match(body):
        if not (url_allowed and _URL.match(body)):
            raise StrictError("not base64")
        body = body.replace("-", "+").replace("_", "/")
    padded = body + "=" * (-len(body) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except binascii.Error as e:
        raise StrictError(f"not base64: {e}") from None
    if base64.b64encode(raw).decode().rstrip("=") != body.rstrip("="):
        raise StrictError("base64 not canonical (unused bits set)")
    return raw


def b64decode(text: Any) -> bytes:
    """Standard, padded, canonical base64 (a receipt's `leaf`, hashes, salt, document, keys)."""
    if not isinstance(text, str):
        raise StrictError("base64 must be a string")
    return _decode(text, padded_required=True, url_allowed=False)


def b64decode_lenient(text: Any) -> bytes:
    """DSSE's `payload` and `sig`: standard or URL-safe, padded or not, canonical."""
    if not isinstance(text, str):
        raise StrictError("base64 must be a string")
    return _decode(text, padded_required=False, url_allowed=True)
