"""`datapole-py verify` on committed vectors: exit 0 only when every check passed; `--file`
checks that a deposit's receipt is about the given bytes; `--custody` reads a chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from datapole_client.cli import main

VECTORS = Path(__file__).resolve().parents[3] / "tests" / "vectors"
# The public deposit's content in tests/common/vectors.rs.
PUBLIC_CONTENT = b"Occitanie air quality, hourly, 2026\n"


def vector(file: str, name: str) -> dict[str, Any]:
    for v in json.loads((VECTORS / file).read_text()):
        if v["name"] == name:
            found: dict[str, Any] = v
            return found
    raise KeyError(name)


def write(tmp_path: Path, doc: Any) -> str:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_a_genuine_receipt_passes_and_a_tampered_one_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v = vector("receipts.json", "public deposit")
    assert main(["verify", write(tmp_path, v["document"]), "--vkey", v["vkey"]]) == 0
    assert "✓ inclusion" in capsys.readouterr().out
    t = vector("receipts.json", "public deposit/index")
    assert main(["verify", write(tmp_path, t["document"]), "--vkey", t["vkey"], "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in out["checks"] if not c["ok"]] == t["failed"]


def test_file_checks_the_receipt_is_about_those_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v = vector("receipts.json", "public deposit")
    doc = write(tmp_path, v["document"])
    data = tmp_path / "data.csv"
    data.write_bytes(PUBLIC_CONTENT)
    assert main(["verify", doc, "--vkey", v["vkey"], "--file", str(data)]) == 0
    assert "✓ file" in capsys.readouterr().out
    data.write_bytes(PUBLIC_CONTENT + b"!")
    assert main(["verify", doc, "--vkey", v["vkey"], "--file", str(data)]) == 1
    assert "✗ file" in capsys.readouterr().out


def test_a_chain_is_verified_with_custody_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v = vector("custody.json", "chain")
    path = write(tmp_path, v["chain"])
    assert main(["verify", path, "--custody", "--vkey", v["vkey"]]) == 0
    assert "✓ fixity checks" in capsys.readouterr().out
    assert main(["verify", path, "--vkey", v["vkey"]]) == 1
    receipt = write(tmp_path, vector("receipts.json", "registration")["document"])
    assert main(["verify", receipt, "--custody"]) == 2
    assert "not a custody chain" in capsys.readouterr().err
