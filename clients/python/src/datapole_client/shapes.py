"""The shapes of datapole's documents, from its JSON Schemas (`schemas/` in the repository) and
format documents (docs/design/): which fields each object has, of what type, which are
required; unknown fields are refused. A small checker, so that a typed reading here refuses
what the log's typed readers refuse.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union

__all__ = ["ShapeError", "check", "Obj", "Opt", "Arr", "Enum", "parse_uuid"]


class ShapeError(ValueError):
    """A value that does not have the shape asked for; its message names the path."""


@dataclass(frozen=True)
class Opt:
    """A field that may be absent or null."""

    inner: Spec


@dataclass(frozen=True)
class Arr:
    """An array of values of one shape."""

    item: Spec


@dataclass(frozen=True)
class Enum:
    """One of a few strings."""

    values: frozenset[str]


@dataclass(frozen=True)
class Obj:
    """An object with these fields (required unless `Opt` or listed in `defaults`), no other."""

    fields: Mapping[str, Spec]
    defaults: frozenset[str] = frozenset()
    open: bool = False


# "str", "u64", "u8", "bool", "uuid", "any", "object" (an object of anything)
Spec = Union[str, Opt, Arr, Enum, Obj]


def parse_uuid(text: str) -> uuid.UUID:
    """Reads a UUID in any spelling the `uuid` crate reads: hyphenated, simple, braced or as a
    URN, in either case."""
    t = text
    if t.lower().startswith("urn:uuid:"):
        t = t[9:]
    elif t.startswith("{") and t.endswith("}"):
        t = t[1:-1]
    if len(t) == 36:
        if [i for i, c in enumerate(t) if c == "-"] != [8, 13, 18, 23]:
            raise ValueError("not a UUID")
    elif len(t) != 32 or "-" in t:
        raise ValueError("not a UUID")
    if not all(c in "0123456789abcdefABCDEF" for c in t.replace("-", "")):
        raise ValueError("not a UUID")
    return uuid.UUID(t.replace("-", ""))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check(value: Any, spec: Spec, path: str = "") -> None:
    """Raises ShapeError unless `value` has the shape `spec`."""
    where = path or "the document"
    if isinstance(spec, Opt):
        if value is not None:
            check(value, spec.inner, path)
        return
    if isinstance(spec, Arr):
        if not isinstance(value, list):
            raise ShapeError(f"{where}: not an array")
        for i, v in enumerate(value):
            check(v, spec.item, f"{path}[{i}]")
        return
    if isinstance(spec, Enum):
        if value not in spec.values:
            raise ShapeError(f"{where}: not one of {sorted(spec.values)}")
        return
    if isinstance(spec, Obj):
        if not isinstance(value, dict):
            raise ShapeError(f"{where}: not an object")
        if not spec.open:
            for k in value:
                if k not in spec.fields:
                    raise ShapeError(f"{where}: unknown field {k}")
        for k, s in spec.fields.items():
            sub = f"{path}.{k}" if path else k
            if k not in value:
                if not isinstance(s, Opt) and k not in spec.defaults:
                    raise ShapeError(f"{sub}: missing")
                continue
            check(value[k], s, sub)
        return
    if spec == "any":
        return
    if spec == "object":
        if not isinstance(value, dict):
            raise ShapeError(f"{where}: not an object")
        return
    if spec == "str":
        ok = isinstance(value, str)
    elif spec == "bool":
        ok = isinstance(value, bool)
    elif spec == "u64":
        ok = _is_int(value) and 0 <= value < 2**64
    elif spec == "u8":
        ok = _is_int(value) and 0 <= value < 256
    elif spec == "uuid":
        ok = isinstance(value, str)
        if ok:
            try:
                parse_uuid(value)
            except ValueError:
                ok = False
    else:
        raise AssertionError(f"unknown spec {spec}")
    if not ok:
        raise ShapeError(f"{where}: not a {spec}")


ENVELOPE = Obj(
    {
        "payloadType": "str",
        "payload": "str",
        "signatures": Arr(Obj({"keyid": "str", "sig": "str"})),
    }
)

RECEIPT = Obj(
    {
        "format": "str",
        "log": Obj({"origin": "str", "vkey": "str"}),
        "index": "u64",
        "leaf": "str",
        "inclusion": Obj({"tree_size": "u64", "hashes": Arr("str")}),
        "checkpoint": "str",
        "statement": Opt(ENVELOPE),
        "opening": Opt(Obj({"salt": "str", "document": Opt("str")})),
        "signer": Opt(Obj({"participant_id": "str", "public_key": "str"})),
        "witnessed": Opt("bool"),
    }
)

VISIBILITY = Enum(frozenset({"public", "private"}))

DEPOSIT_LEAF = Obj(
    {
        "v": "u8",
        "type": "str",
        "dataset_id": "uuid",
        "version": "u64",
        "depositor": "uuid",
        "controller": Opt("uuid"),
        "sha256": "str",
        "size": "u64",
        "visibility": VISIBILITY,
        "deposited_at": "str",
        "statement": Opt(ENVELOPE),
        "commitment": Opt("str"),
    }
)

RECORD_KIND = Enum(frozenset({"consent", "withdrawal", "erasure", "access"}))

RECORD_LEAF = Obj(
    {
        "v": "u8",
        "type": RECORD_KIND,
        "id": "uuid",
        "issuer": "uuid",
        "time": "str",
        "commitment": "str",
    }
)

EVENT_DOCUMENT = Obj(
    {
        "v": "u8",
        "type": RECORD_KIND,
        "id": "uuid",
        "consent_id": "uuid",
        "initiated_by": Enum(frozenset({"subject", "controller"})),
        "time": "str",
    }
)

REASON = Enum(
    frozenset(
        {
            "consented",
            "authorization_recorded",
            "emergency_override",
            "unknown_consent",
            "consent_refused",
            "consent_withdrawn",
            "consent_erased",
            "consent_expired",
            "dataset_not_covered",
            "purpose_not_consented",
            "recipient_not_allowed",
            "consent_unreadable",
        }
    )
)

ACCESS_RECORD = Obj(
    {
        "v": "u8",
        "id": "uuid",
        "accessor": "uuid",
        "statement": ENVELOPE,
        "decision": Enum(frozenset({"permit", "deny"})),
        "reason": REASON,
        "consent_id": Opt("uuid"),
        "emergency": "bool",
        "overridden": Opt(REASON),
        "evaluated_at_size": "u64",
        "decided_at": "str",
    }
)

DEPOSIT_PAYLOAD = Obj(
    {
        "sha256": "str",
        "size": "u64",
        "media_type": "str",
        "title": "str",
        "description": Opt("str"),
        "license": Opt("str"),
        "visibility": VISIBILITY,
        "retention": Opt("str"),
        "dataset_id": Opt("uuid"),
        "controller": Opt("uuid"),
        "metadata": Opt("object"),
        "issued_at": "str",
        "nonce": "str",
    }
)

CONSENT_PAYLOAD = Obj(
    {
        "subject_ref": "str",
        "expressed_by": Obj(
            {"role": Enum(frozenset({"self", "parent", "guardian", "representative"}))}
        ),
        "indication_method": "str",
        "notice": Obj({"url": "str", "sha256": "str", "version": "str", "language": "str"}),
        "purposes": Arr(Obj({"code": "str", "text": "str"})),
        "legal_basis": "str",
        "data_categories": Arr("str"),
        "special_category": "bool",
        "datasets": Arr("uuid"),
        "recipients": Arr("uuid"),
        "jurisdiction": "str",
        "storage_location": "str",
        "retention_period": "str",
        "validity": Obj({"until": Opt("str"), "duration": Opt("str")}),
        "withdrawal_method": "str",
        "decision": Enum(frozenset({"given", "refused"})),
        "issued_at": "str",
        "nonce": "str",
    },
    defaults=frozenset({"datasets", "recipients"}),
)

CONSENT_ACTION_PAYLOAD = Obj(
    {"consent_id": "uuid", "reason": Opt("str"), "issued_at": "str", "nonce": "str"}
)

ACCESS_PAYLOAD = Obj(
    {
        "dataset_id": "uuid",
        "action": Enum(frozenset({"read", "query", "export", "compute", "download"})),
        "purpose": Obj({"code": "str"}),
        "legal_basis": Enum(frozenset({"consent", "permit", "public_interest", "contract"})),
        "consent_ids": Opt(Arr("uuid")),
        "authorization_ref": Opt("str"),
        "emergency": Opt(Obj({"justification": "str"})),
        "issued_at": "str",
        "nonce": "str",
    }
)
