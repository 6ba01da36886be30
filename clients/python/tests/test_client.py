"""Every client call against a real server (conftest.py starts it): what it answers verifies
with the independent verifier, and refusals come as ApiError with the server's code."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from datapole_client import (
    ApiError,
    Client,
    Signer,
    VerificationError,
    fresh,
    generate_key,
    public_key_b64,
    verify_custody,
    verify_document,
)
from datapole_client.verify import CONSENT_TYPE, DEPOSIT_TYPE

from conftest import Server


def consent_payload(dataset: str, recipient: str) -> dict[str, Any]:
    return {
        "subject_ref": "hmac-sha256:" + hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
        "expressed_by": {"role": "self"},
        "indication_method": "web_form",
        "notice": {
            "url": "https://chu.example/notices/cohort-2027",
            "sha256": hashlib.sha256(b"the notice").hexdigest(),
            "version": "3",
            "language": "fr-FR",
        },
        "purposes": [{"code": "cohort-2027", "text": "Étude de cohorte sur le diabète"}],
        "legal_basis": "gdpr-9-2-a",
        "data_categories": ["health"],
        "special_category": True,
        "datasets": [dataset],
        "recipients": [recipient],
        "jurisdiction": "FR",
        "storage_location": "FR, certified health data host",
        "retention_period": "P5Y",
        "validity": {"duration": "P2Y"},
        "withdrawal_method": "https://chu.example/consents/withdraw",
        "decision": "given",
    }


def access_payload(dataset: str, consent_id: str, action: str = "query") -> dict[str, Any]:
    return {
        "dataset_id": dataset,
        "action": action,
        "purpose": {"code": "cohort-2027"},
        "legal_basis": "consent",
        "consent_ids": [consent_id],
    }


def deposit_payload(content: bytes, visibility: str) -> dict[str, Any]:
    return {
        "sha256": hashlib.sha256(content).hexdigest(),
        "size": len(content),
        "media_type": "text/csv",
        "title": "Cohorte diabète 2027",
        "visibility": visibility,
    }


class World:
    """A hospital (controller, depositor), a lab (accessor), a private dataset."""

    def __init__(self, server: Server, tmp: Path) -> None:
        self.server = server
        self.admin = server.admin()
        self.client = Client(server.url)
        self.hospital = self.admin.register_signer("CHU de Toulouse", ["controller", "depositor"])
        self.lab = self.admin.register_signer("Laboratoire", ["accessor"])
        self.content = b"patient,hba1c\nP-1042,7.9\n" * 500
        self.file = tmp / "cohort.csv"
        self.file.write_bytes(self.content)
        self.deposited = self.client.deposit(
            self.hospital, self.file, title="Cohorte", media_type="text/csv",
            visibility="private", chunk_size=4096,
        )
        self.dataset = str(self.deposited["dataset_id"])


@pytest.fixture(scope="module")
def world(server: Server, tmp_path_factory: pytest.TempPathFactory) -> World:
    return World(server, tmp_path_factory.mktemp("world"))


def failed(doc: Any, vkey: str) -> list[str]:
    return verify_document(doc, vkey).failed


def test_the_log_and_a_participant_are_read(server: Server, world: World) -> None:
    info = world.client.log_info()
    assert info["vkey"].startswith(info["origin"] + "+")
    assert world.client.log_vkey() == info["vkey"]
    p = world.client.participant(world.lab.participant_id)
    assert p["roles"] == ["accessor"]
    assert p["public_key"] == public_key_b64(world.lab.key)
    # The registration's receipt (entry of the lab) verifies, and proves its key.
    r = world.client.receipt(p["index"])
    report = world.client.verify(r)
    assert report.leaf["public_key"] == p["public_key"]
    assert world.client.entry(p["index"])["entry"]["id"] == world.lab.participant_id
    # The same proof as a c2sp.org/tlog-proof text: inclusion only.
    text = world.client.tlog_proof(p["index"])
    proof = verify_document(text, world.client.log_vkey())
    assert [c.name for c in proof.checks] == ["checkpoint signature", "inclusion"] and proof.ok
    assert proof.leaf["id"] == world.lab.participant_id
    wrong_index = text.replace(f"\nindex {p['index']}\n", f"\nindex {p['index'] + 1}\n")
    assert verify_document(wrong_index, world.client.log_vkey()).failed == ["inclusion"]


def test_registration_refusals_carry_their_code(server: Server, world: World) -> None:
    with pytest.raises(ApiError) as e:
        Client(server.url, token="not-the-admin").register("X", ["depositor"], generate_key())
    assert (e.value.status, e.value.code) == (401, "unauthorized")
    with pytest.raises(ApiError) as e:
        world.admin.register("Encore", ["accessor"], world.lab.key)
    assert (e.value.status, e.value.code) == (409, "duplicate_key")
    assert e.value.errors == []
    with pytest.raises(ApiError) as e:
        world.admin.register("", ["nobody"], generate_key())
    assert e.value.status in (400, 422)
    assert e.value.message
    # Every problem named at once, when the server lists them (the `errors` array).
    for fe in e.value.errors:
        assert fe.field and fe.message


def test_an_uploaded_deposit_verifies_and_is_about_the_file(world: World) -> None:
    d = world.deposited
    assert d["version"] == 1 and d["duplicate"] is False
    report = verify_document(d, world.client.log_vkey())
    assert report.ok, str(report)
    assert [c.name for c in report.checks if c.name == "commitment"] == ["commitment"]
    leaf = report.leaf
    assert leaf["sha256"] == hashlib.sha256(world.content).hexdigest()
    assert leaf["size"] == len(world.content) and leaf["visibility"] == "private"
    # The storage entry's receipt too.
    assert verify_document(d["object"]["custody"], world.client.log_vkey()).ok


def test_an_interrupted_upload_resumes_from_the_servers_offset(world: World, tmp_path: Path) -> None:
    content = b"commune,population\nToulouse,504078\n" * 300
    path = tmp_path / "communes.csv"
    path.write_bytes(content)
    opened = world.client.open_upload(world.hospital, deposit_payload(content, "public"))
    token = world.hospital.token
    assert token is not None
    upload = str(opened["upload_id"])
    assert world.client.send_chunk(token, upload, 0, content[:1000]) == 1000
    assert world.client.upload_offset(token, upload) == 1000
    # A PATCH at another offset is refused: the server holds 1000 bytes.
    with pytest.raises(ApiError) as e:
        world.client.send_chunk(token, upload, 10, content[10:20])
    assert (e.value.status, e.value.code) == (409, "offset_mismatch")
    done = world.client.deposit(world.hospital, path, title="x", upload_id=upload, chunk_size=777)
    assert verify_document(done, world.client.log_vkey()).ok
    # The same content deposited again is a duplicate of that version.
    again = world.client.notarise(world.hospital, deposit_payload(content, "public"))
    assert again["duplicate"] is True and again["index"] == done["index"]


def test_an_upload_of_other_bytes_than_signed_is_refused(world: World, tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_bytes(b"not what was signed\n")
    opened = world.client.open_upload(world.hospital, deposit_payload(b"something else\n", "public"))
    token = world.hospital.token
    assert token is not None
    with pytest.raises(ApiError) as e:
        world.client.deposit(world.hospital, path, title="x", upload_id=str(opened["upload_id"]))
    assert e.value.code in ("content_mismatch", "upload_too_long")
    # A session abandoned by its owner is gone.
    opened = world.client.open_upload(world.hospital, deposit_payload(b"abc", "public"))
    world.client.cancel_upload(token, str(opened["upload_id"]))
    with pytest.raises(ApiError) as e:
        world.client.upload_offset(token, str(opened["upload_id"]))
    assert e.value.status == 404


def test_a_download_resumes_and_is_checked_against_the_receipt(
    world: World, tmp_path: Path
) -> None:
    token = world.hospital.token
    assert token is not None
    out = tmp_path / "copy.csv"
    # Half of it already there, from an interrupted run.
    part = tmp_path / "copy.csv.part"
    part.write_bytes(world.content[: len(world.content) // 2])
    world.client.download(token, world.deposited, out)
    assert out.read_bytes() == world.content and not part.exists()
    # A wrong partial file is caught by the check against the receipt, and removed.
    part.write_bytes(b"X" * 100)
    with pytest.raises(VerificationError):
        world.client.download(token, world.deposited, tmp_path / "copy.csv")
    assert not part.exists()
    # Another participant without an access decision may not download.
    with pytest.raises(ApiError) as e:
        world.client.download(str(world.lab.token), world.deposited, tmp_path / "lab.csv")
    assert e.value.status == 403


def test_a_private_receipt_opens_for_its_depositor_only(world: World) -> None:
    index = int(world.deposited["index"])
    closed = world.client.receipt(index)
    assert "opening" not in closed and "signer" not in closed
    assert verify_document(closed, world.client.log_vkey()).ok
    opened = world.client.receipt(index, token=world.hospital.token)
    assert opened.get("opening") is not None
    assert "commitment" in [c.name for c in verify_document(opened, world.client.log_vkey()).checks]
    with pytest.raises(ApiError) as e:
        world.client.receipt(index, token="dpt_nobody")
    assert e.value.status == 401


def test_consent_access_and_the_citizens_actions(world: World, tmp_path: Path) -> None:
    c = world.client
    vkey = c.log_vkey()
    citizen = c.record_consent(world.hospital, consent_payload(world.dataset, world.lab.participant_id))
    assert verify_document(citizen, vkey).failed == []
    assert "record" in [ch.name for ch in verify_document(citizen, vkey).checks]
    # A citizen receipt whose record was changed fails the record check.
    changed = json.loads(json.dumps(citizen))
    changed["record"]["purposes"][0]["text"] = "Prospection commerciale"
    assert failed(changed, vkey) == ["record"]

    read = c.citizen_read(citizen)
    assert read["status"] == "given" and read["consent_id"] == citizen["consent_id"]

    permit = c.request_access(world.lab, access_payload(world.dataset, citizen["consent_id"]))
    assert permit["decision"] == "permit"
    checks = [ch.name for ch in verify_document(permit, vkey).checks]
    assert "record matches entry" in checks and "statement signature" in checks

    # The lab downloads the bytes under a permit for `download` of its own.
    fetch = c.request_access(
        world.lab, access_payload(world.dataset, citizen["consent_id"], "download")
    )
    assert fetch["decision"] == "permit", fetch
    out = tmp_path / "lab.csv"
    c.download(str(world.lab.token), world.deposited, out, access=fetch["access_id"])
    assert out.read_bytes() == world.content

    listed = c.citizen_accesses(citizen)
    assert [a["access_id"] for a in listed["accesses"]] == [
        permit["access_id"],
        fetch["access_id"],
    ]
    assert len(listed.get("downloads", [])) == 1
    for d in listed["downloads"]:
        assert verify_document(d, vkey).ok

    withdrawn = c.citizen_withdraw(citizen)
    assert withdrawn["status"] == "withdrawn" and withdrawn["initiated_by"] == "subject"
    with pytest.raises(ApiError) as e:
        c.citizen_withdraw(citizen)
    assert (e.value.status, e.value.code) == (409, "already_withdrawn")

    deny = c.request_access(world.lab, access_payload(world.dataset, citizen["consent_id"]))
    assert deny["decision"] == "deny" and deny["reason"] == "consent_withdrawn"
    assert verify_document(deny, vkey).ok

    erased = c.citizen_erase(citizen)
    assert verify_document(erased, vkey).ok
    read = c.citizen_read(citizen)
    assert read["status"] == "erased" and read.get("record") is None
    assert [ev["type"] for ev in read["events"]] == ["consent", "withdrawal", "erasure"]
    with pytest.raises(ApiError) as e:
        c.citizen_erase(citizen)
    assert (e.value.status, e.value.code) == (409, "already_erased")
    # A wrong secret reads nothing.
    with pytest.raises(ApiError) as e:
        c.citizen_read({**citizen, "citizen_secret": "not-the-secret"})
    assert (e.value.status, e.value.code) == (401, "unauthorized")


def test_a_controller_withdraws_and_erases_with_signed_statements(world: World) -> None:
    c = world.client
    citizen = c.record_consent(world.hospital, consent_payload(world.dataset, world.lab.participant_id))
    w = c.controller_withdraw(world.hospital, citizen["consent_id"], "asked at the front desk")
    assert w["initiated_by"] == "controller"
    report = verify_document(w, c.log_vkey())
    assert "statement signature" in [ch.name for ch in report.checks] and report.ok
    e = c.controller_erase(world.hospital, citizen["consent_id"])
    assert verify_document(e, c.log_vkey()).ok
    # The lab is no controller.
    other = c.record_consent(world.hospital, consent_payload(world.dataset, world.lab.participant_id))
    with pytest.raises(ApiError) as err:
        c.controller_withdraw(world.lab, other["consent_id"])
    assert (err.value.status, err.value.code) == (403, "forbidden_role")


def test_statement_refusals_carry_their_code(world: World) -> None:
    c = world.client
    stranger = Signer(str(uuid.uuid4()), generate_key())
    with pytest.raises(ApiError) as e:
        c.notarise(stranger, deposit_payload(b"x", "public"))
    assert (e.value.status, e.value.code) == (401, "unknown_participant")
    impostor = Signer(world.hospital.participant_id, generate_key())
    with pytest.raises(ApiError) as e:
        c.notarise(impostor, deposit_payload(b"x", "public"))
    assert (e.value.status, e.value.code) == (401, "bad_signature")
    with pytest.raises(ApiError) as e:
        c.notarise(world.lab, deposit_payload(b"x", "public"))
    assert (e.value.status, e.value.code) == (403, "forbidden_role")
    stale = {**deposit_payload(b"x", "public"), "issued_at": "2020-01-01T00:00:00Z"}
    with pytest.raises(ApiError) as e:
        c.notarise(world.hospital, stale)
    assert (e.value.status, e.value.code) == (422, "stale_statement")
    once = {**deposit_payload(b"once", "public"), **fresh()}
    c.notarise(world.hospital, once)
    with pytest.raises(ApiError) as e:
        c.notarise(world.hospital, {**once, "sha256": hashlib.sha256(b"twice").hexdigest()})
    assert (e.value.status, e.value.code) == (409, "replayed")
    bad = consent_payload(world.dataset, world.lab.participant_id)
    bad["purposes"] = [{"code": "", "text": ""}]
    with pytest.raises(ApiError) as e:
        c.record_consent(world.hospital, bad)
    assert e.value.status == 422 and e.value.code == "invalid_field"
    assert "purposes" in e.value.message
    for fe in e.value.errors:
        assert fe.field.startswith("payload.")


def test_an_answer_changed_in_transit_is_refused_by_the_client(world: World) -> None:
    # The client verifies what it is given with the pinned key: another log's key refuses it.
    other = Client(world.server.url, vkey="other.example/log+00000000+" + base64.b64encode(
        b"\x01" + bytes(32)).decode())
    with pytest.raises(VerificationError) as e:
        other.verify(world.deposited)
    assert e.value.report is not None and "log key" in e.value.report.failed
    sig = Signer(world.hospital.participant_id, world.hospital.key, world.hospital.token)
    body = json.loads(sig.sign(CONSENT_TYPE, {"a": 1}))
    assert body["payloadType"] == CONSENT_TYPE and body["signatures"][0]["keyid"] == sig.participant_id
    assert DEPOSIT_TYPE != CONSENT_TYPE


def test_the_custody_chain_of_an_uploaded_dataset_verifies(world: World) -> None:
    chain = world.client.custody(world.dataset)
    report = verify_custody(chain, world.client.log_vkey())
    assert report.ok, str(report)
    assert [c.name for c in report.checks][:5] == ["log", "receipts", "entries", "dataset", "order"]
