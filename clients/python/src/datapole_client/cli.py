"""`datapole-py`: verify a receipt file or a custody chain offline, from the command line.

    datapole-py verify FILE [--vkey VKEY] [--custody] [--file DATA] [--json]

It prints one line per check (✓ or ✗) and a summary, and exits 0 only when every check
passed. `-` reads standard input. `--file` also checks that a deposit's receipt is about
those bytes (their SHA-256 and size).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from typing import Any

from .client import sha256_file
from .custody import NotAChain, verify_custody
from .strict import StrictError
from .strict import loads as strict_loads
from .verify import Check, Report, verify_document


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as f:
        return f.read()


def _about_file(report: Report, doc: Any, data: str) -> None:
    receipt = doc.get("receipt", doc) if isinstance(doc, dict) else None
    digest, size = sha256_file(data)
    try:
        leaf = json.loads(base64.b64decode(receipt["leaf"])) if receipt else None
    except (ValueError, KeyError, TypeError):
        leaf = None
    if not isinstance(leaf, dict) or leaf.get("type") != "deposit":
        report.checks.append(Check("file", False, "the receipt is not a deposit's"))
    elif leaf.get("sha256") != digest or leaf.get("size") != size:
        report.checks.append(
            Check("file", False, f"{data} has sha256 {digest} and {size} bytes, not the entry's")
        )
    else:
        report.checks.append(Check("file", True, f"{data} is the deposit's content ({size} bytes)"))


def main(argv: list[str] | None = None) -> int:
    """The command line; the exit code."""
    parser = argparse.ArgumentParser(prog="datapole-py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify", help="verify a receipt file or a custody chain offline")
    v.add_argument("path", help="the receipt file, an answer carrying one, or a chain (- reads stdin)")
    v.add_argument("--vkey", help="the log's verifier key, obtained out of band (pin it)")
    v.add_argument("--custody", action="store_true", help="the file is a custody chain")
    v.add_argument("--file", help="the deposit's content: check that the receipt is about it")
    v.add_argument("--json", action="store_true", help="print the checks as JSON")
    args = parser.parse_args(argv)
    try:
        doc = strict_loads(_read(args.path))
    except (OSError, StrictError) as e:
        print(f"error: {args.path}: {e}", file=sys.stderr)
        return 2
    if args.custody:
        try:
            report = verify_custody(doc, args.vkey)
        except NotAChain as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    else:
        report = verify_document(doc, args.vkey)
        if args.file:
            _about_file(report, doc, args.file)
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in report.checks],
                }
            )
        )
    else:
        print(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
