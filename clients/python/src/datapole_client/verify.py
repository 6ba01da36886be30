"""Offline verification of datapole receipts (`datapole.receipt.v1`).

Written from datapole's format documents (docs/guide/receipts.md, docs/design/receipts.md,
docs/design/statements.md, docs/design/private-deposits.md, docs/design/consents.md,
docs/design/access-decisions.md, schemas/receipt.v1.schema.json) and from the specifications
they build on: RFC 9162 (`merkle`), c2sp.org/signed-note and tlog-checkpoint (`note`), DSSE
(`dsse`). It reports named checks, under the names `datapole verify` and the web verifier use:

``format``, ``log key``, ``checkpoint signature``, ``inclusion``, ``statement``,
``commitment``, ``statement signature``, ``statement matches entry``, ``record matches entry``,
``record`` (a citizen receipt's record), ``witness cosignatures`` (when witness keys are given).

A receipt is valid only if there is at least one check and every check passed.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import shapes
from .dsse import DsseError, Envelope
from .merkle import leaf_hash, verify_inclusion
from .note import Checkpoint, NoteError, parse_vkey, verify_checkpoint, verify_cosignature
from .shapes import ShapeError, parse_uuid
from .strict import StrictError, b64decode
from .strict import loads as strict_loads

__all__ = [
    "RECEIPT_FORMAT",
    "DEPOSIT_TYPE",
    "CONSENT_TYPE",
    "WITHDRAWAL_TYPE",
    "ERASURE_TYPE",
    "ACCESS_TYPE",
    "Check",
    "Report",
    "verify_receipt",
    "verify_document",
    "verify_tlog_proof",
    "commitment",
]

RECEIPT_FORMAT = "datapole.receipt.v1"
DEPOSIT_TYPE = "application/vnd.datapole.deposit.v1+json"
CONSENT_TYPE = "application/vnd.datapole.consent.v1+json"
WITHDRAWAL_TYPE = "application/vnd.datapole.consent-withdrawal.v1+json"
ERASURE_TYPE = "application/vnd.datapole.consent-erasure.v1+json"
ACCESS_TYPE = "application/vnd.datapole.access.v1+json"

RECORD_TYPES = frozenset({"consent", "withdrawal", "erasure", "access"})


@dataclass(frozen=True)
class Check:
    """One named check, whether it holds, and why (what it established, or the failure)."""

    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    """The checks made on a receipt or a chain, in order."""

    checks: list[Check] = field(default_factory=list)
    leaf: Any = None
    """The entry the receipt proves, parsed (None if it is not JSON)."""

    @property
    def ok(self) -> bool:
        """Valid: at least one check, and all passed."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[str]:
        """The names of the checks that failed, in order."""
        return [c.name for c in self.checks if not c.ok]

    def passed(self, name: str, detail: str) -> None:
        """Adds a passed check."""
        self.checks.append(Check(name, True, detail))

    def fail(self, name: str, detail: str) -> None:
        """Adds a failed check."""
        self.checks.append(Check(name, False, detail))

    def __str__(self) -> str:
        lines = [f"{'✓' if c.ok else '✗'} {c.name}: {c.detail}" for c in self.checks]
        bad = len(self.failed)
        lines.append(
            f"valid: {len(self.checks)} checks passed"
            if self.ok
            else f"INVALID: {bad} of {len(self.checks)} checks failed"
        )
        return "\n".join(lines)


class _Fail(Exception):
    """A check's failure, with its detail."""


def commitment(salt: bytes, committed: bytes) -> str:
    """hex(SHA-256(salt ‖ committed bytes)), the commitment of private deposits and records."""
    return hashlib.sha256(salt + committed).hexdigest()


def _same_uuid(a: str, b: str) -> bool:
    try:
        return parse_uuid(a) == parse_uuid(b)
    except ValueError:
        return False


def _strict_json(data: bytes, what: str) -> Any:
    try:
        return strict_loads(data)
    except StrictError as e:
        raise _Fail(f"{what} is not strict JSON: {e}") from None


def _typed(value: Any, spec: shapes.Spec, what: str) -> None:
    try:
        shapes.check(value, spec)
    except ShapeError as e:
        raise _Fail(f"{what}: {e}") from None


class _Receipt:
    """One receipt's verification in progress."""

    def __init__(self, receipt: dict[str, Any], report: Report) -> None:
        self.r = receipt
        self.report = report

    def require(self, name: str, step: Any) -> bool:
        """Runs a step that is reported only when it fails (under `name`); whether it passed."""
        try:
            step()
        except _Fail as e:
            self.report.fail(name, str(e))
            return False
        return True

    def run(self, name: str, step: Any) -> bool:
        """Runs one check; whether it passed."""
        try:
            detail = step()
        except _Fail as e:
            self.report.fail(name, str(e))
            return False
        self.report.passed(name, detail)
        return True


def _signer_key(r: dict[str, Any]) -> bytes:
    signer = r.get("signer")
    if signer is None:
        raise _Fail("no signer key to check the statement with")
    try:
        key = b64decode(signer["public_key"])
    except StrictError as e:
        raise _Fail(f"the signer's key: {e}") from None
    if len(key) != 32:
        raise _Fail("the signer's key is not a 32-byte Ed25519 key")
    return key


def _check_signed(
    r: dict[str, Any], envelope: Envelope, signer_id: str, payload_type: str, what: str
) -> bytes:
    """The statement is signed by `signer_id` (the receipt's signer, the envelope's keyid)
    with the receipt's signer key, with the payload type; its payload."""
    key = _signer_key(r)
    named = r["signer"]["participant_id"]
    if named != signer_id:
        raise _Fail(f"the signer {named} is not the entry's {what} {signer_id}")
    if envelope.keyid != named:
        raise _Fail(f"the statement's keyid {envelope.keyid} is not the signer {named}")
    if envelope.payload_type != payload_type:
        raise _Fail(f"the statement's payload type {envelope.payload_type} is not {payload_type}")
    try:
        return envelope.verify(key)
    except DsseError as e:
        raise _Fail(str(e)) from None


def _envelope(value: Any) -> Envelope:
    try:
        return Envelope.from_json(value)
    except DsseError as e:
        raise _Fail(str(e)) from None


def _opening(r: dict[str, Any]) -> tuple[bytes, bytes | None]:
    """The opening's salt (32 bytes) and document bytes, if any."""
    o = r["opening"]
    try:
        salt = b64decode(o["salt"])
        doc = None if o.get("document") is None else b64decode(o["document"])
    except StrictError as e:
        raise _Fail(f"the opening: {e}") from None
    if len(salt) != 32:
        raise _Fail("the salt is not 32 bytes")
    return salt, doc


def _open(leaf_commitment: Any, salt: bytes, committed: bytes) -> str:
    got = commitment(salt, committed)
    if not isinstance(leaf_commitment, str) or not hmac.compare_digest(got, leaf_commitment):
        raise _Fail("the opening does not open the entry's commitment")
    return f"the opening opens commitment {got}"


def _check_deposit(v: _Receipt, leaf_bytes: bytes) -> None:
    r = v.r
    leaf: dict[str, Any] = {}

    def parse() -> str:
        nonlocal leaf
        value = _strict_json(leaf_bytes, "the entry")
        _typed(value, shapes.DEPOSIT_LEAF, "the deposit entry")
        if value["v"] != 1:
            raise _Fail(f"entry version {value['v']} is not 1")
        leaf = value
        return "a deposit entry"

    if not v.require("statement", parse):
        return
    public = leaf["visibility"] == "public"
    opened = r.get("opening") is not None
    has_statement = r.get("statement") is not None
    envelope_value: Any = None

    def shape() -> str:
        nonlocal envelope_value
        if public:
            if leaf.get("statement") is None or leaf.get("commitment") is not None:
                raise _Fail("a public deposit entry must carry its statement and no commitment")
            if opened or has_statement:
                raise _Fail("a public deposit's receipt carries no statement or opening")
            envelope_value = leaf["statement"]
            return "the public entry carries its statement"
        if leaf.get("statement") is not None or leaf.get("commitment") is None:
            raise _Fail("a private deposit entry carries a commitment and no statement")
        if r.get("signer") is not None and not has_statement and not opened:
            raise _Fail("a signer is named but no statement is given")
        envelope_value = r.get("statement")
        return "the private entry's commitment" + (" is opened" if opened else "")

    if not v.require("statement", shape):
        return
    if not public and opened != has_statement:
        v.report.fail("commitment", "incomplete opening of a private entry")
        return
    if envelope_value is None:
        return
    envelope = _envelope_or_fail(v, envelope_value)
    if envelope is None:
        return
    if not public:

        def opens() -> str:
            salt, doc = _opening(r)
            if doc is not None:
                raise _Fail("a deposit's opening holds no document")
            return _open(leaf["commitment"], salt, envelope.to_bytes())

        v.run("commitment", opens)

    payload = b""

    def signature() -> str:
        nonlocal payload
        payload = _check_signed(r, envelope, leaf["depositor"], DEPOSIT_TYPE, "depositor")
        return f"signed by participant {envelope.keyid}"

    if not v.run("statement signature", signature):
        return

    def matches() -> str:
        p = _strict_json(payload, "the statement payload")
        _typed(p, shapes.DEPOSIT_PAYLOAD, "the statement payload")
        for k in ("sha256", "size", "visibility"):
            if p[k] != leaf[k]:
                raise _Fail(f"the statement's {k} is not the entry's")
        if p.get("dataset_id") is not None:
            if not _same_uuid(p["dataset_id"], leaf["dataset_id"]):
                raise _Fail("the statement names another dataset")
        named, entry = p.get("controller"), leaf.get("controller")
        if named is not None:
            if entry is None or not _same_uuid(named, entry):
                raise _Fail("the statement names another controller than the entry")
        elif entry is not None and leaf["version"] == 1:
            raise _Fail("the entry names a controller the statement does not")
        return (
            f"dataset {leaf['dataset_id']} version {leaf['version']}, sha256 {leaf['sha256']}"
        )

    v.run("statement matches entry", matches)


def _envelope_or_fail(v: _Receipt, value: Any) -> Envelope | None:
    try:
        return Envelope.from_json(value)
    except DsseError as e:
        v.report.fail("statement", str(e))
        return None


_STATEMENT_TYPES = {
    "consent": CONSENT_TYPE,
    "withdrawal": WITHDRAWAL_TYPE,
    "erasure": ERASURE_TYPE,
}


def _check_record(v: _Receipt, leaf_bytes: bytes) -> None:
    r = v.r
    leaf: dict[str, Any] = {}

    def parse() -> str:
        nonlocal leaf
        value = _strict_json(leaf_bytes, "the entry")
        _typed(value, shapes.RECORD_LEAF, "the record entry")
        if value["v"] != 1:
            raise _Fail(f"entry version {value['v']} is not 1")
        leaf = value
        return "a record entry"

    if not v.require("statement", parse):
        return
    if r.get("opening") is None:
        if r.get("statement") is not None or r.get("signer") is not None:
            v.report.fail("commitment", "a statement or signer is given without the opening")
        return
    statement, document = r.get("statement"), r["opening"].get("document")
    if (statement is None) == (document is None):
        v.report.fail("commitment", "an opening carries exactly one of a statement and a document")
        return
    salt_doc: list[bytes] = []

    if statement is not None:
        maybe = _envelope_or_fail(v, statement)
        if maybe is None:
            return
        envelope: Envelope = maybe

        def opens_statement() -> str:
            salt, _ = _opening(r)
            return _open(leaf["commitment"], salt, envelope.to_bytes())

        if not v.run("commitment", opens_statement):
            return
        kind = leaf["type"]
        if kind not in _STATEMENT_TYPES:
            v.report.fail("statement", f"a {kind} record opens a document, not a statement")
            return
        payload = b""

        def signature() -> str:
            nonlocal payload
            payload = _check_signed(r, envelope, leaf["issuer"], _STATEMENT_TYPES[kind], "issuer")
            return f"signed by participant {envelope.keyid}"

        if not v.run("statement signature", signature):
            return

        def matches() -> str:
            p = _strict_json(payload, "the statement payload")
            spec = shapes.CONSENT_PAYLOAD if kind == "consent" else shapes.CONSENT_ACTION_PAYLOAD
            _typed(p, spec, "the statement payload")
            return f"a {kind} statement, record {leaf['id']}"

        v.run("statement matches entry", matches)
        return

    def opens_document() -> str:
        salt, doc = _opening(r)
        assert doc is not None
        salt_doc.append(doc)
        return _open(leaf["commitment"], salt, doc)

    if not v.run("commitment", opens_document):
        return
    doc_bytes = salt_doc[0]
    if leaf["type"] == "access":
        record: dict[str, Any] = {}

        def access_record() -> str:
            nonlocal record
            d = _strict_json(doc_bytes, "the access record")
            _typed(d, shapes.ACCESS_RECORD, "the access record")
            record = d
            return "an access record"

        if not v.require("record matches entry", access_record):
            return
        payload = b""

        def access_signature() -> str:
            nonlocal payload
            envelope = _envelope(record["statement"])
            payload = _check_signed(r, envelope, leaf["issuer"], ACCESS_TYPE, "accessor")
            return f"signed by participant {envelope.keyid}"

        if not v.run("statement signature", access_signature):
            return

        def access_matches() -> str:
            if record["v"] != 1 or record["id"] != leaf["id"]:
                raise _Fail("the access record describes another entry")
            if record["accessor"] != leaf["issuer"]:
                raise _Fail("the access record describes another entry")
            p = _strict_json(payload, "the access statement payload")
            _typed(p, shapes.ACCESS_PAYLOAD, "the access statement payload")
            return (
                f"access {record['id']} on dataset {p['dataset_id']}: "
                f"{record['decision']} ({record['reason']})"
            )

        v.run("record matches entry", access_matches)
        return

    def event_matches() -> str:
        if r.get("signer") is not None:
            raise _Fail("a document the log wrote has no signer")
        d = _strict_json(doc_bytes, "the document")
        _typed(d, shapes.EVENT_DOCUMENT, "the document")
        if (
            d["v"] != 1
            or d["type"] != leaf["type"]
            or d["id"] != leaf["id"]
            or d["time"] != leaf["time"]
            or d["type"] not in ("withdrawal", "erasure")
        ):
            raise _Fail("the document describes another event")
        return f"a {d['type']} of consent {d['consent_id']} by the {d['initiated_by']}"

    v.run("record matches entry", event_matches)


def _check_other(v: _Receipt) -> None:
    r = v.r
    if any(r.get(k) is not None for k in ("statement", "opening", "signer")):
        v.report.fail("statement", "this entry carries no statement to open or check")


def verify_receipt(
    receipt: Any,
    vkey: str | None = None,
    witnesses: Sequence[str] = (),
    quorum: int | None = None,
) -> Report:
    """Verifies a receipt (a parsed JSON object) offline. `vkey` is the log's verifier key,
    obtained out of band (without it, the receipt's own key is used, which only shows that the
    receipt is consistent with itself). With `witnesses` (cosignature/v1 verifier keys), it
    also requires `quorum` (default: all) valid cosignatures on the checkpoint."""
    report = Report()
    v = _Receipt(receipt, report)

    def fmt() -> str:
        try:
            shapes.check(receipt, shapes.RECEIPT)
        except ShapeError as e:
            raise _Fail(f"not a receipt: {e}") from None
        if receipt["format"] != RECEIPT_FORMAT:
            raise _Fail(f"format {receipt['format']!r} is not {RECEIPT_FORMAT}")
        return RECEIPT_FORMAT

    if not v.run("format", fmt):
        return report
    r: dict[str, Any] = receipt
    key_text = vkey if vkey is not None else r["log"]["vkey"]

    def log_key() -> str:
        if vkey is None:
            return "no pinned key: the receipt's own key is used"
        if r["log"]["vkey"] != vkey:
            raise _Fail("the receipt names another log key than the pinned one")
        return "the receipt names the pinned log key"

    v.run("log key", log_key)
    cp: Checkpoint | None = None

    def signature() -> str:
        nonlocal cp
        try:
            verifier = parse_vkey(key_text)
            cp = verify_checkpoint(r["checkpoint"], verifier, r["log"]["origin"])
        except NoteError as e:
            raise _Fail(str(e)) from None
        return f"signed by {verifier.name} for {cp.origin} at size {cp.size}"

    try:
        leaf_bytes = b64decode(r["leaf"])
        report.leaf = strict_loads(leaf_bytes)
    except StrictError:
        leaf_bytes, report.leaf = b"", None
    if not v.run("checkpoint signature", signature):
        return report
    assert cp is not None
    checkpoint: Checkpoint = cp

    def inclusion() -> str:
        size = r["inclusion"]["tree_size"]
        if size != checkpoint.size:
            raise _Fail(f"the proof is for size {size}, the checkpoint's is {checkpoint.size}")
        try:
            leaf = b64decode(r["leaf"])
            path = [b64decode(h) for h in r["inclusion"]["hashes"]]
        except StrictError as e:
            raise _Fail(str(e)) from None
        if not verify_inclusion(leaf_hash(leaf), r["index"], size, path, checkpoint.root):
            raise _Fail("the inclusion proof does not lead to the checkpoint's root")
        return f"entry {r['index']} is in the tree of size {size}"

    # A proof that fails does not stop the checks of what the entry says.
    v.run("inclusion", inclusion)
    if witnesses:
        _check_witnesses(report, r["checkpoint"], witnesses, quorum)
    kind = report.leaf.get("type") if isinstance(report.leaf, dict) else None
    if kind == "deposit":
        _check_deposit(v, leaf_bytes)
    elif kind in RECORD_TYPES:
        _check_record(v, leaf_bytes)
    else:
        _check_other(v)
    return report


def _check_witnesses(
    report: Report, note: str, witnesses: Sequence[str], quorum: int | None
) -> None:
    need = len(witnesses) if quorum is None else quorum
    good = 0
    problems = []
    for w in witnesses:
        try:
            verify_cosignature(note, parse_vkey(w, key_type=0x04))
            good += 1
        except NoteError as e:
            problems.append(str(e))
    if good >= need and need > 0:
        report.passed("witness cosignatures", f"{good} of {len(witnesses)} witnesses cosigned")
    else:
        report.fail(
            "witness cosignatures",
            f"{good} valid cosignatures, {need} required: " + "; ".join(problems),
        )


def _check_citizen(report: Report, doc: dict[str, Any]) -> None:
    """A citizen receipt's `record` and `consent_id` are the signed statement's payload and
    the entry's id."""
    r = doc["receipt"]
    try:
        leaf = report.leaf
        if not isinstance(leaf, dict) or leaf.get("type") != "consent":
            raise _Fail("the receipt is not for a consent entry")
        if doc.get("consent_id") != leaf.get("id"):
            raise _Fail("the consent id shown is not the entry's")
        statement = r.get("statement") if isinstance(r, dict) else None
        if statement is None:
            raise _Fail("the receipt carries no statement")
        payload = Envelope.from_json(statement).payload()
        signed = strict_loads(payload)
        shown = doc.get("record")
        if _with_defaults(signed) != _with_defaults(shown):
            raise _Fail("the record shown is not the one the controller signed")
        _check_expiry(doc.get("expires_at"), signed, leaf)
    except _Fail as e:
        report.fail("record", str(e))
        return
    except (DsseError, StrictError) as e:
        report.fail("record", f"the statement payload: {e}")
        return
    report.passed("record", f"consent {doc['consent_id']}: the record the controller signed")


_DURATION = re.compile(
    r"\AP(?!\Z)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?!\Z)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?\Z"
)


def _instant(text: Any) -> datetime:
    """An RFC 3339 time."""
    if not isinstance(text, str) or not re.match(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", text):
        raise ValueError("not an RFC 3339 time")
    t = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if t.tzinfo is None:
        raise ValueError("an RFC 3339 time has an offset")
    return t


def _add_duration(start: datetime, duration: str) -> datetime:
    """`start` plus an ISO 8601 duration: years and months on the calendar (the day kept, or
    the month's last), then weeks, days and time."""
    m = _DURATION.match(duration)
    if m is None:
        raise ValueError(f"{duration} is not an ISO 8601 duration")
    y, mo, w, d, h, mi = (int(g) if g else 0 for g in m.groups()[:6])
    sec = float(m.group(7)) if m.group(7) else 0.0
    months = start.month - 1 + mo + 12 * y
    year, month = start.year + months // 12, months % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    t = start.replace(year=year, month=month, day=day)
    return t + timedelta(weeks=w, days=d, hours=h, minutes=mi, seconds=sec)


def _check_expiry(shown: Any, record: Any, leaf: dict[str, Any]) -> None:
    """The `expires_at` shown is the end of the signed validity: `until`, or the consent's
    time on the log plus `duration`."""
    validity = record.get("validity") if isinstance(record, dict) else None
    try:
        until = validity.get("until") if isinstance(validity, dict) else None
        duration = validity.get("duration") if isinstance(validity, dict) else None
        if until is not None:
            expected = _instant(until)
        elif isinstance(duration, str):
            expected = _add_duration(_instant(leaf.get("time")), duration)
        else:
            raise ValueError("the signed record has no validity")
        if _instant(shown) != expected:
            raise _Fail(f"expires_at {shown} is not the end of the signed validity ({expected})")
    except ValueError as e:
        raise _Fail(f"expires_at: {e}") from None


def _with_defaults(record: Any) -> Any:
    if isinstance(record, dict):
        out = {k: v for k, v in record.items() if v is not None}
        out.setdefault("datasets", [])
        out.setdefault("recipients", [])
        return out
    return record


TLOG_PROOF = "c2sp.org/tlog-proof@v1"


def verify_tlog_proof(text: str, vkey: str) -> Report:
    """Verifies a c2sp.org/tlog-proof@v1 text (`GET /v1/receipts/{index}?format=tlog-proof`):
    the checkpoint's signature by `vkey` and the inclusion of the `extra` line's bytes (the
    entry) at `index`. It carries no statement or opening: it proves inclusion only."""
    report = Report()
    head, sep, note_text = text.partition("\n\n")
    lines = head.split("\n")
    try:
        if not sep or lines[0] != TLOG_PROOF or len(lines) < 3:
            raise ValueError("not a c2sp.org/tlog-proof@v1 text")
        if not lines[1].startswith("extra ") or not lines[2].startswith("index "):
            raise ValueError("a datapole proof has its entry as the extra line, then the index")
        leaf = b64decode(lines[1][6:])
        index_text = lines[2][6:]
        if not index_text.isdigit() or (index_text != "0" and index_text.startswith("0")):
            raise ValueError("the index is not a decimal number")
        path = [b64decode(h) for h in lines[3:]]
        verifier = parse_vkey(vkey)
        cp = verify_checkpoint(note_text, verifier)
    except (ValueError, StrictError) as e:
        report.fail("checkpoint signature", str(e))
        return report
    report.passed(
        "checkpoint signature", f"signed by {verifier.name} for {cp.origin} at size {cp.size}"
    )
    index = int(index_text)
    if verify_inclusion(leaf_hash(leaf), index, cp.size, path, cp.root):
        report.passed("inclusion", f"entry {index} is in the tree of size {cp.size}")
    else:
        report.fail("inclusion", "the inclusion proof does not lead to the checkpoint's root")
    try:
        report.leaf = strict_loads(leaf)
    except StrictError:
        report.leaf = None
    return report


def verify_document(
    document: Any,
    vkey: str | None = None,
    witnesses: Sequence[str] = (),
    quorum: int | None = None,
) -> Report:
    """Verifies a receipt file: a receipt, or an answer that carries one in `receipt` (a
    deposit's, a citizen receipt, a withdrawal, an erasure, an access decision). A citizen
    receipt's `record` is checked too. Bytes or text are read as strict JSON first, unless they
    are a c2sp.org/tlog-proof text (which needs `vkey`). Anything else fails `format`."""
    if isinstance(document, bytes) and document.startswith(TLOG_PROOF.encode() + b"\n"):
        document = document.decode("utf-8", errors="replace")
    if isinstance(document, str) and document.startswith(TLOG_PROOF + "\n"):
        if vkey is None:
            return Report([Check("log key", False, "a tlog-proof names no key: pin the log's")])
        return verify_tlog_proof(document, vkey)
    if isinstance(document, (bytes, str)):
        try:
            document = strict_loads(document)
        except StrictError as e:
            return Report([Check("format", False, f"not strict JSON: {e}")])
    if isinstance(document, dict) and "format" not in document and "receipt" in document:
        report = verify_receipt(document["receipt"], vkey, witnesses, quorum)
        if "record" in document and report.checks and report.checks[0].ok:
            _check_citizen(report, document)
        return report
    if isinstance(document, dict) and "format" in document:
        return verify_receipt(document, vkey, witnesses, quorum)
    return Report([Check("format", False, "no receipt in this document")])
