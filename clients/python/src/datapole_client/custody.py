"""Offline verification of a dataset's custody chain (`GET /v1/datasets/{id}/custody`).

Written from docs/design/archive.md (the custody entries and their rules), docs/guide/receipts.md
("A custody chain") and schemas/custody-chain.schema.json. The checks, under the names
`datapole verify --custody` uses:

``log``, ``receipts``, ``entries``, ``dataset``, ``order``, ``chain rules``, ``fixity run``,
``fixity checks``, ``complete``.

A fixity run's checks are proved by RFC 9162 inclusion in the run's tree, whose root the run's
`fixity` entry carries (`merkle.verify_inclusion`), as any receipt is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import shapes
from .merkle import leaf_hash, verify_inclusion
from .shapes import Arr, Enum, Obj, Opt, ShapeError
from .strict import StrictError, b64decode
from .strict import loads as strict_loads
from .verify import Report, verify_receipt

__all__ = ["NotAChain", "verify_custody", "CUSTODY_TYPES"]

CUSTODY_TYPES = (
    "storage",
    "fixity",
    "fixity_failure",
    "repair",
    "download",
    "legal_hold",
    "disposal",
)

_KIND = Enum(frozenset(CUSTODY_TYPES))
_OUTCOME = Enum(frozenset({"intact", "mismatch", "missing", "unreadable"}))

LEAVES: dict[str, shapes.Spec] = {
    "storage": Obj(
        {
            "v": "u8",
            "type": _KIND,
            "object": "uuid",
            "dataset_id": "uuid",
            "version": "u64",
            "deposit": "u64",
            "encrypted": "bool",
            "locations": Arr("str"),
            "sha256": "str",
            "size": "u64",
            "retain_until": Opt("str"),
            "time": "str",
        }
    ),
    "fixity": Obj(
        {
            "v": "u8",
            "type": _KIND,
            "run": "uuid",
            "started": "str",
            "checked": "u64",
            "intact": "u64",
            "repaired": "u64",
            "root": "str",
            "time": "str",
        }
    ),
    "fixity_failure": Obj(
        {
            "v": "u8",
            "type": _KIND,
            "object": "uuid",
            "dataset_id": "uuid",
            "version": "u64",
            "run": "uuid",
            "location": "str",
            "outcome": _OUTCOME,
            "found_sha256": Opt("str"),
            "found_size": Opt("u64"),
            "time": "str",
        }
    ),
    "repair": Obj(
        {
            "v": "u8",
            "type": _KIND,
            "object": "uuid",
            "dataset_id": "uuid",
            "version": "u64",
            "run": "uuid",
            "location": "str",
            "source": "str",
            "failure": "u64",
            "time": "str",
        }
    ),
    "download": Obj(
        {
            "v": "u8",
            "type": _KIND,
            "object": "uuid",
            "dataset_id": "uuid",
            "version": "u64",
            "by": "uuid",
            "access": Opt("uuid"),
            "range": Opt("str"),
            "time": "str",
        }
    ),
    "legal_hold": Obj(
        {
            "v": "u8",
            "type": _KIND,
            "object": "uuid",
            "dataset_id": "uuid",
            "version": "u64",
            "hold": "bool",
            "reference": "str",
            "time": "str",
        }
    ),
    "disposal": Obj(
        {
            "v": "u8",
            "type": _KIND,
            "object": "uuid",
            "dataset_id": "uuid",
            "version": "u64",
            "storage": "u64",
            "by": Opt("uuid"),
            "locations": Arr("str"),
            "sha256": "str",
            "time": "str",
        }
    ),
}

CHECK_RECORD = Obj(
    {
        "object": "uuid",
        "location": "str",
        "outcome": _OUTCOME,
        "sha256": Opt("str"),
        "repaired": Opt("bool"),
    }
)

_LINK = Obj({"index": "u64", "type": "str", "receipt": "any"}, open=True)
_CHAIN = Obj(
    {
        "dataset_id": "str",
        "entries": Arr(_LINK),
        "truncated": "bool",
        "fixity": Opt(
            Obj(
                {
                    "run": _LINK,
                    "checks": Arr(
                        Obj(
                            {
                                "index": "u64",
                                "record": "str",
                                "leaf_index": "u64",
                                "checked": "u64",
                                "path": Arr("str"),
                            },
                            open=True,
                        )
                    ),
                },
                open=True,
            )
        ),
    },
    open=True,
)


class NotAChain(ValueError):
    """A document that is no custody chain."""


class _Fail(Exception):
    pass


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _leaf(receipt: Any) -> Any:
    """A receipt's entry, parsed as strict JSON; None if it cannot be."""
    try:
        return strict_loads(b64decode(receipt["leaf"]))
    except (StrictError, KeyError, TypeError):
        return None


@dataclass
class _Link:
    """One link of the chain: its listed index and type, its entry (if well formed)."""

    index: int
    listed: str
    receipt: Any
    leaf: Any
    well_formed: bool = False


@dataclass
class _Object:
    storage: dict[str, Any]
    storage_index: int
    held: bool = False
    disposed: bool = False
    failures: dict[int, dict[str, Any]] = field(default_factory=dict)
    repaired: set[int] = field(default_factory=set)


def _well_formed(leaf: Any) -> bool:
    if not isinstance(leaf, dict) or leaf.get("type") not in LEAVES:
        return False
    try:
        shapes.check(leaf, LEAVES[leaf["type"]])
    except ShapeError:
        return False
    return bool(leaf["v"] == 1)


def verify_custody(chain: Any, vkey: str | None = None) -> Report:
    """Verifies a custody chain (a parsed JSON object) offline, with the log's verifier key
    `vkey` (without it, the chain's own key: consistent, not proved genuine). Raises NotAChain
    for a document that is not one."""
    try:
        shapes.check(chain, _CHAIN)
    except ShapeError as e:
        raise NotAChain(f"not a custody chain: {e}") from None
    report = Report()

    def run(name: str, step: Callable[[], str]) -> bool:
        try:
            detail = step()
        except _Fail as e:
            report.fail(name, str(e))
            return False
        report.passed(name, detail)
        return True

    links = [
        _Link(e["index"], e["type"], e["receipt"], _leaf(e["receipt"])) for e in chain["entries"]
    ]
    fixity = chain.get("fixity")
    receipts = [link.receipt for link in links] + ([fixity["run"]["receipt"]] if fixity else [])

    def log() -> str:
        named = set()
        for r in receipts:
            try:
                named.add((r["log"]["origin"], r["log"]["vkey"]))
            except (KeyError, TypeError):
                raise _Fail("a receipt names no log") from None
        if len(named) > 1:
            raise _Fail(f"the receipts name {len(named)} different logs")
        if vkey is not None and named and next(iter(named))[1] != vkey:
            raise _Fail("the receipts name another log key than the pinned one")
        if not named:
            return "no receipt"
        origin = next(iter(named))[0]
        if vkey is None:
            return f"every receipt names log {origin} (its own key: consistent, not proved genuine)"
        return f"every receipt names log {origin} and the pinned key"

    run("log", log)

    def verified() -> str:
        bad = []
        for link in links:
            rep = verify_receipt(link.receipt, vkey)
            if not rep.ok:
                bad.append(f"entry {link.index}: {', '.join(rep.failed)}")
        if bad:
            raise _Fail("; ".join(bad))
        return f"{len(links)} receipts verify"

    run("receipts", verified)

    def entries() -> str:
        bad = []
        for link in links:
            link.well_formed = _well_formed(link.leaf)
            if not link.well_formed:
                bad.append(f"entry {link.index} is no well-formed custody entry")
            elif link.leaf["type"] == "fixity":
                bad.append(f"entry {link.index} is a fixity run, no dataset's entry")
            elif link.leaf["type"] != link.listed:
                bad.append(f"entry {link.index} is listed as {link.listed}, is {link.leaf['type']}")
            if isinstance(link.receipt, dict) and link.receipt.get("index") != link.index:
                bad.append(f"entry {link.index}'s receipt is for entry {link.receipt.get('index')}")
        if bad:
            raise _Fail("; ".join(bad))
        kinds = Counter(link.leaf["type"] for link in links)
        return f"{len(links)} custody entries of the listed types: " + ", ".join(
            f"{kinds[k]} {k}" for k in CUSTODY_TYPES if kinds[k]
        )

    run("entries", entries)
    usable = [ln for ln in links if ln.well_formed and ln.leaf["type"] != "fixity"]

    def dataset() -> str:
        for link in usable:
            if not _same_uuid(link.leaf["dataset_id"], chain["dataset_id"]):
                raise _Fail(f"entry {link.index} is about dataset {link.leaf['dataset_id']}")
        return f"every entry is about dataset {chain['dataset_id']}"

    run("dataset", dataset)

    def order() -> str:
        indexes = [
            link.receipt.get("index") if isinstance(link.receipt, dict) else None
            for link in links
        ]
        for a, b in zip(indexes, indexes[1:]):
            if not isinstance(a, int) or not isinstance(b, int) or a >= b:
                raise _Fail(f"entry {b} follows entry {a}")
        if not indexes:
            return "no entry"
        return f"entries {indexes[0]} to {indexes[-1]}, in strictly increasing order"

    run("order", order)
    objects: dict[str, _Object] = {}

    def rules() -> str:
        problems: list[str] = []
        disposed_ok = 0
        failures = repairs = 0
        for link in usable:
            leaf, at = link.leaf, link.receipt.get("index", link.index)
            kind, oid = leaf["type"], leaf["object"]
            obj = objects.get(oid)
            if kind == "storage":
                if obj is not None:
                    problems.append(f"object {oid} stored twice (entry {at})")
                    continue
                objects[oid] = _Object(leaf, at)
                continue
            if obj is None:
                problems.append(f"entry {at}: object {oid} has no storage entry before its {kind}")
                continue
            s = obj.storage
            if obj.disposed:
                problems.append(f"entry {at}: a {kind} after object {oid}'s disposal")
                continue
            if (leaf["dataset_id"], leaf["version"]) != (s["dataset_id"], s["version"]):
                problems.append(f"entry {at}: another dataset version than object {oid}'s")
                continue
            if kind == "fixity_failure":
                failures += 1
                if leaf["location"] not in s["locations"]:
                    problems.append(f"entry {at}: a failure at {leaf['location']}, no location of it")
                obj.failures[at] = leaf
            elif kind == "repair":
                repairs += 1
                failure = obj.failures.get(leaf["failure"])
                if leaf["location"] not in s["locations"] or leaf["source"] not in s["locations"]:
                    problems.append(f"entry {at}: a repair between unknown locations")
                elif leaf["source"] == leaf["location"]:
                    problems.append(f"entry {at}: a repair of a copy from itself")
                if failure is None or failure["location"] != leaf["location"]:
                    problems.append(f"entry {at}: the repair names no earlier failure of that copy")
                elif leaf["failure"] in obj.repaired:
                    problems.append(f"entry {at}: failure {leaf['failure']} repaired twice")
                else:
                    obj.repaired.add(leaf["failure"])
            elif kind == "legal_hold":
                obj.held = leaf["hold"]
            elif kind == "disposal":
                obj.disposed = True
                if leaf["storage"] != obj.storage_index:
                    problems.append(f"entry {at}: the disposal names storage entry {leaf['storage']}")
                if leaf["sha256"] != s["sha256"] or sorted(leaf["locations"]) != sorted(
                    s["locations"]
                ):
                    problems.append(f"entry {at}: the disposal names other bytes or locations")
                if obj.held:
                    problems.append(f"entry {at}: a disposal under a legal hold")
                retain = s.get("retain_until")
                try:
                    early = retain is not None and _time(leaf["time"]) < _time(retain)
                except ValueError:
                    early = True
                if early:
                    problems.append(f"entry {at}: a disposal before its retention end")
                if not obj.held and not early:
                    disposed_ok += 1
        if problems:
            raise _Fail("; ".join(problems))
        live = sum(1 for o in objects.values() if not o.disposed)
        return (
            f"{len(objects)} objects, each stored first ({live} live, {disposed_ok} disposed of "
            f"after its retention and any hold); {failures} fixity failures, {repairs} repaired"
        )

    run("chain rules", rules)
    if fixity is not None:
        _fixity(run, fixity, vkey, links, objects)

    def complete() -> str:
        if chain["truncated"]:
            raise _Fail("the chain is truncated: ask for the next page (after=) and join them")
        return "the chain is the whole of what the log listed (not truncated)"

    run("complete", complete)
    return report


def _same_uuid(a: str, b: str) -> bool:
    """Whether two UUID spellings name the same UUID."""
    try:
        return shapes.parse_uuid(a) == shapes.parse_uuid(b)
    except ValueError:
        return False


def _fixity(
    run: Callable[[str, Callable[[], str]], bool],
    fixity: dict[str, Any],
    vkey: str | None,
    links: list[_Link],
    objects: dict[str, _Object],
) -> None:
    link = fixity["run"]
    state: dict[str, Any] = {}

    def run_check() -> str:
        rep = verify_receipt(link["receipt"], vkey)
        if not rep.ok:
            raise _Fail(f"the run's receipt does not verify: {', '.join(rep.failed)}")
        leaf = rep.leaf
        if not _well_formed(leaf) or leaf["type"] != "fixity":
            raise _Fail("the run's receipt is not a fixity entry")
        if link["receipt"]["index"] != link["index"]:
            raise _Fail("the run's receipt is for another entry than listed")
        try:
            root = bytes.fromhex(leaf["root"])
        except ValueError:
            raise _Fail("the run's root is not hex") from None
        if len(root) != 32:
            raise _Fail("the run's root is not a 32-byte hash")
        state.update(leaf=leaf, root=root)
        return (
            f"run {leaf['run']} at entry {link['index']} checked {leaf['checked']} copies: "
            f"{leaf['intact']} intact, {leaf['repaired']} repaired"
        )

    run("fixity run", run_check)

    def checks() -> str:
        if "leaf" not in state:
            raise _Fail("no verified run to check against")
        leaf, root = state["leaf"], state["root"]
        problems: list[str] = []
        seen: set[tuple[str, str]] = set()
        failed_copies: set[tuple[str, str]] = set()
        repaired_copies: set[tuple[str, str]] = set()
        intact = failed = repaired = 0
        for i, c in enumerate(fixity["checks"]):
            try:
                record = strict_loads(c["record"].encode())
                shapes.check(record, CHECK_RECORD)
            except (StrictError, ShapeError) as e:
                problems.append(f"check {i}: the record is no check record ({e})")
                continue
            try:
                path = [b64decode(h) for h in c["path"]]
            except StrictError:
                path = []
                problems.append(f"check {i}: a path hash is not base64")
            if c["index"] != link["index"] or c["checked"] != leaf["checked"] or not (
                verify_inclusion(
                    leaf_hash(c["record"].encode()), c["leaf_index"], c["checked"], path, root
                )
            ):
                problems.append(
                    f"check {i}: the record is not leaf {c['leaf_index']} of the run's tree: "
                    "its path does not lead to the run's root"
                )
            copy = (record["object"], record["location"])
            seen.add(copy)
            obj = objects.get(record["object"])
            if obj is None or obj.disposed:
                problems.append(f"check {i}: object {record['object']} is no live object of the chain")
                continue
            if record["outcome"] == "intact":
                intact += 1
            else:
                failed += 1
                failed_copies.add(copy)
            if record.get("repaired"):
                repaired += 1
                repaired_copies.add(copy)
        on_chain_failed: set[tuple[str, str]] = set()
        on_chain_repaired: set[tuple[str, str]] = set()
        for ln in links:
            lf = ln.leaf
            if ln.well_formed and lf.get("run") == leaf["run"]:
                if lf["type"] == "fixity_failure":
                    on_chain_failed.add((lf["object"], lf["location"]))
                elif lf["type"] == "repair":
                    on_chain_repaired.add((lf["object"], lf["location"]))
        for copy in sorted(failed_copies - on_chain_failed):
            problems.append(
                f"object {copy[0]} at {copy[1]}: failed, but the chain has no such failure of it "
                "in this run"
            )
        for copy in sorted(on_chain_failed - failed_copies):
            problems.append(f"object {copy[0]} at {copy[1]}: a failure on the chain, no failed check")
        if repaired_copies != on_chain_repaired:
            problems.append("the repaired copies are not the chain's repairs of this run")
        checked_objects = {o for o, _ in seen}
        for oid in checked_objects:
            obj = objects.get(oid)
            if obj is not None:
                for loc in obj.storage["locations"]:
                    if (oid, loc) not in seen:
                        problems.append(f"object {oid}: no check of its copy at {loc}")
        if problems:
            raise _Fail("; ".join(problems))
        return (
            f"{len(fixity['checks'])} checks of {len(checked_objects)} live objects lead to the "
            f"run's root: {intact} intact, {failed} failed ({repaired} repaired)"
        )

    run("fixity checks", checks)
