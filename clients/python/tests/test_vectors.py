"""The committed vectors (tests/vectors/receipts.json and custody.json, written from a real log
by tests/receipt_vectors.rs and tests/custody_verify.rs and kept equal to the Rust verifier's
verdicts there): this verifier fails exactly the checks the Rust one fails (and the web
verifier, tests/web_verifier.rs), on every genuine file (none) and every tampered one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from datapole_client import verify_custody, verify_document

VECTORS = Path(__file__).resolve().parents[3] / "tests" / "vectors"


def load(name: str) -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads((VECTORS / name).read_text())
    return vectors


RECEIPTS = load("receipts.json")
CUSTODY = load("custody.json")


def test_every_kind_of_receipt_is_there_genuine_and_tampered() -> None:
    names = {v["name"] for v in RECEIPTS}
    assert len(names) == len(RECEIPTS)
    for kind in [
        "registration",
        "public deposit",
        "private deposit",
        "consent",
        "access permit",
        "access deny",
        "citizen withdrawal",
        "citizen erasure",
        "controller withdrawal",
        "deposit under a controller",
    ]:
        assert kind in names
        assert any(n.startswith(kind + "/") for n in names), kind


@pytest.mark.parametrize("vector", RECEIPTS, ids=[v["name"] for v in RECEIPTS])
def test_a_receipt_fails_exactly_the_committed_checks(vector: dict[str, Any]) -> None:
    report = verify_document(vector["document"], vector["vkey"])
    assert report.failed == vector["failed"], str(report)
    assert report.ok == (not vector["failed"])


@pytest.mark.parametrize("vector", CUSTODY, ids=[v["name"] for v in CUSTODY])
def test_a_custody_chain_fails_exactly_the_committed_checks(vector: dict[str, Any]) -> None:
    report = verify_custody(vector["chain"], vector["vkey"])
    assert report.failed == vector["failed"], str(report)
    assert report.ok == (not vector["failed"])
