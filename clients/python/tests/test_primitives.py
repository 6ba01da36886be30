"""The verifier's building blocks against vectors made by other implementations: the Go
reference implementation's Merkle proofs and signed note (tests/vectors/tlog-reference.json),
the witness cosignatures of tests/vectors/witness-cosignature.json, and the DSSE
specification's PAE example."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from datapole_client import merkle, note, strict
from datapole_client.dsse import Envelope, pae, sign
from datapole_client.client import generate_key, public_key_b64

VECTORS = Path(__file__).resolve().parents[3] / "tests" / "vectors"


def b64(s: str) -> bytes:
    return base64.b64decode(s)


@pytest.fixture(scope="module")
def reference() -> Any:
    return json.loads((VECTORS / "tlog-reference.json").read_text())


def test_leaf_hashes_and_roots_are_the_reference_ones(reference: Any) -> None:
    leaves = [f"entry-{i}".encode() for i in range(300)]
    for i in (0, 1, 7, 100):
        assert merkle.leaf_hash(leaves[i]) == b64(reference["leaf_hashes"][i])
    for n in (1, 2, 3, 7, 8, 9, 100, 257):
        assert merkle.root_of(leaves[:n]) == b64(reference["roots"][str(n)])


def test_every_reference_inclusion_proof_verifies_and_none_once_tampered(reference: Any) -> None:
    roots = reference["roots"]
    count = 0
    for p in reference["inclusion"]:
        leaf = b64(reference["leaf_hashes"][p["index"]])
        path = [b64(h) for h in p["proof"]]
        root = b64(roots[str(p["tree_size"])])
        assert merkle.verify_inclusion(leaf, p["index"], p["tree_size"], path, root), p
        bad = bytes([leaf[0] ^ 1]) + leaf[1:]
        assert not merkle.verify_inclusion(bad, p["index"], p["tree_size"], path, root)
        assert not merkle.verify_inclusion(leaf, p["index"] + 1, p["tree_size"], path, root)
        count += 1
    assert count == 148


def test_every_reference_consistency_proof_verifies_and_none_once_tampered(reference: Any) -> None:
    roots = reference["roots"]
    count = 0
    for p in reference["consistency"]:
        path = [b64(h) for h in p["proof"]]
        first, second = b64(roots[str(p["from"])]), b64(roots[str(p["to"])])
        assert merkle.verify_consistency(p["from"], p["to"], first, second, path), p
        bad = bytes([first[0] ^ 1]) + first[1:]
        assert not merkle.verify_consistency(p["from"], p["to"], bad, second, path)
        count += 1
    assert count == 145


def test_the_reference_signed_note_verifies_and_not_once_changed(reference: Any) -> None:
    n = reference["signed_note"]
    v = note.parse_vkey(n["vkey"])
    cp = note.verify_checkpoint(n["signed"], v, "example.org/datapole-test")
    assert cp.size == 1100
    assert cp.root == b64(reference["roots"]["1100"])
    with pytest.raises(note.NoteError):
        note.verify_checkpoint(n["signed"].replace("1100", "1101"), v)
    with pytest.raises(note.NoteError):
        note.parse_vkey(n["vkey"].replace("+816ccf32+", "+816ccf33+"))


def test_witness_cosignatures_verify_with_the_witness_key_only() -> None:
    w = json.loads((VECTORS / "witness-cosignature.json").read_text())
    witness = note.parse_vkey(w["wit_vkey_cosig_v1"], key_type=note.COSIGNATURE_V1)
    assert witness.key_id.hex() == w["wit_keyid_cosig_v1"]
    assert note.verify_cosignature(w["cosigned_checkpoint7"], witness) == w["cosig_timestamp"]
    log = note.parse_vkey(w["log_vkey"])
    assert note.verify_checkpoint(w["cosigned_checkpoint7"], log).size == 7
    with pytest.raises(note.NoteError):
        note.verify_cosignature(w["checkpoint7"], witness)
    # The size-3 cosignature is no cosignature of the size-7 checkpoint.
    swapped = w["checkpoint7"] + w["cosig3_line"]
    with pytest.raises(note.NoteError):
        note.verify_cosignature(swapped, witness)
    path = [b64(h) for h in w["proof_3_7"]]
    assert merkle.verify_consistency(3, 7, b64(w["root3"]), b64(w["root7"]), path)


def test_pae_is_the_dsse_specifications_example() -> None:
    # From the DSSE protocol document's test vector.
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_an_envelope_signed_here_verifies_and_its_bytes_are_in_order() -> None:
    key = generate_key()
    e = sign("application/x", b'{"a":1}', "someone", key)
    assert e.verify(b64(public_key_b64(key))) == b'{"a":1}'
    assert e.to_bytes().startswith(b'{"payloadType":"application/x","payload":"eyJhIjoxfQ=="')
    other = generate_key()
    with pytest.raises(ValueError):
        e.verify(b64(public_key_b64(other)))
    unpadded = Envelope(e.payload_type, e.payload_b64.rstrip("="), e.keyid, e.sig_b64.rstrip("="))
    assert unpadded.verify(b64(public_key_b64(key))) == b'{"a":1}'


@pytest.mark.parametrize(
    "text",
    [
        b'{"a":1,"a":2}',
        b'{"a":{"b":[{"c":1,"c":1}]}}',
        b"\xef\xbb\xbf{}",
        b'{"a":9007199254740992}',
        b'{"a":-9007199254740992}',
        b'{"a":1e300}',
        b'{"a":NaN}',
        b"{} {}",
        b"[" * 65 + b"]" * 65,
        b'"\xff"',
        b'{"a":"\\ud800"}',
        b'{"\\udc00x":1}',
    ],
)
def test_strict_json_refuses(text: bytes) -> None:
    with pytest.raises(strict.StrictError):
        strict.loads(text)


def test_strict_json_reads_what_is_strict() -> None:
    assert strict.loads(b'{"a":9007199254740991,"b":[1.5,null],"c":"\xc3\xa9"}') == {
        "a": 9007199254740991,
        "b": [1.5, None],
        "c": "é",
    }
    assert strict.loads(b"[" * 64 + b"]" * 64) is not None


@pytest.mark.parametrize("text", ["AA==\n", "AB==", "AA=", "A", "AA", "-_8="])
def test_receipt_base64_is_standard_padded_and_canonical(text: str) -> None:
    with pytest.raises(strict.StrictError):
        strict.b64decode(text)


def test_dsse_base64_may_be_url_safe_or_unpadded_but_not_partly_padded() -> None:
    assert strict.b64decode_lenient("-_8") == b"\xfb\xff"
    assert strict.b64decode_lenient("AA") == b"\x00"
    assert strict.b64decode_lenient("AA==") == b"\x00"
    with pytest.raises(strict.StrictError):
        strict.b64decode_lenient("AA=")


def test_a_validity_duration_is_added_on_the_calendar() -> None:
    from datetime import datetime, timezone

    from datapole_client.verify import _add_duration

    start = datetime(2024, 1, 31, 10, 0, tzinfo=timezone.utc)
    assert _add_duration(start, "P1M") == datetime(2024, 2, 29, 10, 0, tzinfo=timezone.utc)
    assert _add_duration(start, "P2Y") == datetime(2026, 1, 31, 10, 0, tzinfo=timezone.utc)
    assert _add_duration(start, "P1W") == datetime(2024, 2, 7, 10, 0, tzinfo=timezone.utc)
    assert _add_duration(start, "PT36H") == datetime(2024, 2, 1, 22, 0, tzinfo=timezone.utc)
    for bad in ("P", "PT", "2Y", "P1.5Y", "P1Y2"):
        with pytest.raises(ValueError):
            _add_duration(start, bad)
