"""An HTTP client of a datapole server (docs/reference/http-api.md), on the standard library's
`urllib`: register participants, deposit files through the resumable upload protocol, record
consents, request accesses, act as a citizen with a consent's secret, fetch receipts and
download content. Every receipt the server answers can be checked with `verify`; the calls
that write verify their receipt before returning.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import dsse
from .verify import (
    ACCESS_TYPE,
    CONSENT_TYPE,
    DEPOSIT_TYPE,
    ERASURE_TYPE,
    WITHDRAWAL_TYPE,
    Report,
    verify_document,
)

__all__ = [
    "ApiError",
    "FieldError",
    "VerificationError",
    "Client",
    "Signer",
    "load_key",
    "generate_key",
    "public_key_b64",
    "sha256_file",
    "fresh",
]

CHUNK = 1 << 20
"""How many bytes are hashed or read at a time."""


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of a request: its JSON path and what is wrong."""

    field: str
    message: str


class ApiError(Exception):
    """An error answer: its HTTP status, its machine-readable `code`, its `message`, and
    `errors`, every problem of the request's fields (empty when the error is not about a
    field)."""

    def __init__(
        self, status: int, code: str, message: str, errors: list[FieldError], body: Any = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.body = body


class VerificationError(Exception):
    """A receipt or a download that does not verify; `report` says which checks failed."""

    def __init__(self, message: str, report: Report | None = None) -> None:
        super().__init__(message if report is None else f"{message}\n{report}")
        self.report = report


def load_key(path: str | os.PathLike[str], password: bytes | None = None) -> Ed25519PrivateKey:
    """Reads an Ed25519 private key, PKCS#8 in PEM or DER (`datapole keygen --participant`,
    `openssl genpkey -algorithm ed25519`)."""
    data = Path(path).read_bytes()
    if data.lstrip().startswith(b"-----"):
        key = serialization.load_pem_private_key(data, password)
    else:
        key = serialization.load_der_private_key(data, password)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 key")
    return key


def generate_key() -> Ed25519PrivateKey:
    """A new Ed25519 key."""
    return Ed25519PrivateKey.generate()


def public_key_b64(key: Ed25519PrivateKey) -> str:
    """The key's 32-byte public key in standard base64, as registration takes it."""
    raw = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return base64.b64encode(raw).decode()


def sha256_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """The SHA-256 (lower-case hex) and size of a file, read in chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def fresh() -> dict[str, str]:
    """The `issued_at` (now, RFC 3339 UTC) and a random `nonce` every statement needs."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {"issued_at": now, "nonce": secrets.token_hex(16)}


@dataclass
class Signer:
    """A registered participant: its id, its signing key and its participant token."""

    participant_id: str
    key: Ed25519PrivateKey
    token: str | None = None

    def sign(self, payload_type: str, payload: Mapping[str, Any]) -> bytes:
        """The DSSE envelope of a payload (its `issued_at` and `nonce` added if absent),
        signed with this participant's key, as request body bytes."""
        body = dict(payload)
        for k, v in fresh().items():
            body.setdefault(k, v)
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        envelope = dsse.sign(payload_type, raw, self.participant_id, self.key)
        return json.dumps(envelope.to_json()).encode()


@dataclass
class _Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _error(status: int, body: bytes) -> ApiError:
    try:
        v = json.loads(body)
        e = v["error"]
        errors = [FieldError(str(x["field"]), str(x["message"])) for x in e.get("errors", [])]
        return ApiError(status, str(e["code"]), str(e["message"]), errors, v)
    except (ValueError, KeyError, TypeError):
        return ApiError(status, "http_error", body.decode(errors="replace")[:500], [], None)


@dataclass
class Client:
    """A datapole server at `url`. `vkey`, the log's verifier key obtained out of band, pins
    the key receipts are verified with; without it the server's `/v1/log` key is fetched once
    and used (trust on first use)."""

    url: str
    token: str | None = None
    vkey: str | None = None
    timeout: float = 30.0
    _log_vkey: str | None = field(default=None, repr=False)

    # ----------------------------------------------------------------------------- transport

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201),
    ) -> _Answer:
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        if body is not None and "Content-Type" not in h:
            h["Content-Type"] = "application/json"
        req = urllib.request.Request(
            self.url.rstrip("/") + path, data=body, method=method, headers=h
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                answer = _Answer(resp.status, dict(resp.headers.items()), resp.read())
        except urllib.error.HTTPError as e:
            answer = _Answer(e.code, dict(e.headers.items()), e.read())
        if answer.status not in ok:
            raise _error(answer.status, answer.body)
        return answer

    def _json(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        token: str | None = None,
        ok: tuple[int, ...] = (200, 201),
    ) -> Any:
        return self._request(method, path, body, token, ok=ok).json()

    # ----------------------------------------------------------------------------- the log

    def log_info(self) -> dict[str, Any]:
        """`GET /v1/log`: the log's origin, verifier key, size and root."""
        info: dict[str, Any] = self._json("GET", "/v1/log")
        return info

    def log_vkey(self) -> str:
        """The key receipts are verified with: the pinned `vkey`, or the server's."""
        if self.vkey is not None:
            return self.vkey
        if self._log_vkey is None:
            self._log_vkey = str(self.log_info()["vkey"])
        return self._log_vkey

    def verify(self, document: Any) -> Report:
        """Verifies a receipt or an answer carrying one with the log's key; raises
        VerificationError unless every check passed."""
        report = verify_document(document, self.log_vkey())
        if not report.ok:
            raise VerificationError("the receipt does not verify", report)
        return report

    def receipt(self, index: int, token: str | None = None) -> dict[str, Any]:
        """`GET /v1/receipts/{index}`: any entry's receipt against the latest checkpoint,
        opened for its issuer's (or an auditor's) participant token."""
        r: dict[str, Any] = self._json("GET", f"/v1/receipts/{index}", token=token)
        return r

    def tlog_proof(self, index: int) -> str:
        """`GET /v1/receipts/{index}?format=tlog-proof`: the c2sp.org/tlog-proof text."""
        return self._request("GET", f"/v1/receipts/{index}?format=tlog-proof").body.decode()

    def entry(self, index: int) -> dict[str, Any]:
        """`GET /v1/entries/{index}`."""
        r: dict[str, Any] = self._json("GET", f"/v1/entries/{index}")
        return r

    # ----------------------------------------------------------------------------- participants

    def register(
        self, name: str, roles: list[str], public_key: str | Ed25519PrivateKey
    ) -> dict[str, Any]:
        """`POST /v1/participants` with the admin token (the client's `token`): registers an
        organisation; the answer's `participant_id` and `api_token` (shown this once)."""
        key = public_key if isinstance(public_key, str) else public_key_b64(public_key)
        body = json.dumps({"name": name, "roles": roles, "public_key": key}).encode()
        r: dict[str, Any] = self._json("POST", "/v1/participants", body, token=self.token)
        return r

    def register_signer(self, name: str, roles: list[str]) -> Signer:
        """Registers a participant with a new key; its Signer (id, key, token)."""
        key = generate_key()
        r = self.register(name, roles, key)
        return Signer(r["participant_id"], key, r["api_token"])

    def participant(self, participant_id: str) -> dict[str, Any]:
        """`GET /v1/participants/{id}`: the public record."""
        r: dict[str, Any] = self._json("GET", f"/v1/participants/{_q(participant_id)}")
        return r

    # ----------------------------------------------------------------------------- deposits

    def notarise(self, signer: Signer, payload: Mapping[str, Any]) -> dict[str, Any]:
        """`POST /v1/deposits`: a deposit statement without the bytes; the answer, its receipt
        verified."""
        answer: dict[str, Any] = self._json(
            "POST", "/v1/deposits", signer.sign(DEPOSIT_TYPE, payload)
        )
        self.verify(answer)
        return answer

    def deposit(
        self,
        signer: Signer,
        path: str | os.PathLike[str],
        *,
        title: str,
        media_type: str = "application/octet-stream",
        visibility: str = "public",
        extra: Mapping[str, Any] | None = None,
        upload_id: str | None = None,
        chunk_size: int = 8 * CHUNK,
        retries: int = 3,
    ) -> dict[str, Any]:
        """Deposits a file into the archive through `/v1/uploads` (tus-like): hashes it in
        chunks, signs the deposit statement, opens an upload session (or resumes `upload_id`),
        sends the bytes with `PATCH` from the server's offset, resuming after a dropped
        connection up to `retries` times; the completing answer, its receipt verified and
        checked to be about these bytes. `extra` adds payload fields (`description`,
        `license`, `retention`, `dataset_id`, `controller`, `metadata`)."""
        if signer.token is None:
            raise ValueError("an upload needs the depositor's participant token")
        digest, size = sha256_file(path)
        if upload_id is None:
            payload: dict[str, Any] = {
                "sha256": digest,
                "size": size,
                "media_type": media_type,
                "title": title,
                "visibility": visibility,
                **(extra or {}),
            }
            opened = self._json(
                "POST", "/v1/uploads", signer.sign(DEPOSIT_TYPE, payload), token=signer.token
            )
            upload_id = str(opened["upload_id"])
        done = self._send(signer.token, upload_id, path, chunk_size, retries)
        self.verify(done)
        _about(done["receipt"], digest, size)
        return done

    def upload_offset(self, token: str, upload_id: str) -> int:
        """`HEAD /v1/uploads/{id}`: how many bytes the server holds."""
        a = self._request("HEAD", f"/v1/uploads/{_q(upload_id)}", token=token, ok=(200,))
        return int(_header(a.headers, "Upload-Offset"))

    def send_chunk(
        self, token: str, upload_id: str, offset: int, chunk: bytes
    ) -> int | dict[str, Any]:
        """`PATCH /v1/uploads/{id}`: appends `chunk` at `offset`; the new offset, or the
        completing answer (the deposit and its stored object) once the last byte arrived."""
        a = self._request(
            "PATCH",
            f"/v1/uploads/{_q(upload_id)}",
            chunk,
            token=token,
            headers={
                "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": str(offset),
            },
            ok=(201, 202, 204),
        )
        if a.status in (201, 202):
            done: dict[str, Any] = a.json()
            return done
        return int(_header(a.headers, "Upload-Offset"))

    def _send(
        self,
        token: str,
        upload_id: str,
        path: str | os.PathLike[str],
        chunk_size: int,
        retries: int,
    ) -> dict[str, Any]:
        offset = self.upload_offset(token, upload_id)
        failures = 0
        with open(path, "rb") as f:
            while True:
                f.seek(offset)
                chunk = f.read(chunk_size)
                try:
                    sent = self.send_chunk(token, upload_id, offset, chunk)
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    failures += 1
                    if failures > retries:
                        raise
                    offset = self.upload_offset(token, upload_id)
                    continue
                if isinstance(sent, dict):
                    return sent
                if not chunk:
                    raise ApiError(0, "upload_incomplete", "no completion after the last byte", [])
                offset = sent

    def cancel_upload(self, token: str, upload_id: str) -> None:
        """`DELETE /v1/uploads/{id}`: the session and its bytes are deleted."""
        self._request("DELETE", f"/v1/uploads/{_q(upload_id)}", token=token, ok=(204,))

    def open_upload(self, signer: Signer, payload: Mapping[str, Any]) -> dict[str, Any]:
        """`POST /v1/uploads`: opens a session for a deposit statement; `{upload_id, offset,
        size, expires_at}`. Send the bytes with `deposit(..., upload_id=...)`."""
        if signer.token is None:
            raise ValueError("an upload needs the depositor's participant token")
        r: dict[str, Any] = self._json(
            "POST", "/v1/uploads", signer.sign(DEPOSIT_TYPE, payload), token=signer.token
        )
        return r

    def download(
        self,
        token: str,
        receipt: Mapping[str, Any],
        out: str | os.PathLike[str],
        *,
        access: str | None = None,
    ) -> Path:
        """Downloads a deposit's content to `out`: into `out.part`, resuming with `Range`
        from what it already holds, then checks its SHA-256 and size against the deposit's
        receipt (verified first) and renames it to `out`. `access` names an access decision
        that permitted `download`, for an accessor."""
        self.verify(receipt)
        inner = receipt["receipt"] if "receipt" in receipt else receipt
        leaf = json.loads(base64.b64decode(inner["leaf"]))
        if leaf.get("type") != "deposit":
            raise VerificationError("the receipt is not a deposit's")
        path = (
            f"/v1/datasets/{_q(leaf['dataset_id'])}/versions/{leaf['version']}/content"
            + (f"?access={_q(access)}" if access else "")
        )
        target = Path(out)
        part = target.with_name(target.name + ".part")
        have = part.stat().st_size if part.exists() else 0
        if have < leaf["size"]:
            headers = {"Range": f"bytes={have}-"} if have else {}
            with self._stream(path, token, headers) as (status, chunks):
                mode = "ab" if status == 206 else "wb"
                with open(part, mode) as f:
                    for chunk in chunks:
                        f.write(chunk)
        digest, size = sha256_file(part)
        if digest != leaf["sha256"] or size != leaf["size"]:
            part.unlink()
            raise VerificationError(
                f"the download has sha256 {digest} and {size} bytes, the receipt says "
                f"{leaf['sha256']} and {leaf['size']}"
            )
        part.replace(target)
        return target

    def _stream(
        self, path: str, token: str, headers: Mapping[str, str]
    ) -> _Stream:
        req = urllib.request.Request(
            self.url.rstrip("/") + path,
            headers={"Authorization": f"Bearer {token}", **headers},
        )
        try:
            resp = urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            raise _error(e.code, e.read()) from None
        return _Stream(resp)

    # ----------------------------------------------------------------------------- consents

    def record_consent(self, controller: Signer, payload: Mapping[str, Any]) -> dict[str, Any]:
        """`POST /v1/consents`: the controller records a consent; the citizen receipt (with its
        `citizen_secret`, shown this once), verified, record included."""
        answer: dict[str, Any] = self._json(
            "POST", "/v1/consents", controller.sign(CONSENT_TYPE, payload)
        )
        self.verify(answer)
        return answer

    def request_access(self, accessor: Signer, payload: Mapping[str, Any]) -> dict[str, Any]:
        """`POST /v1/accesses`: the decision, permit (201) or deny (403), both recorded and
        returned (not raised), the receipt verified; `decision` says which."""
        answer: dict[str, Any] = self._json(
            "POST", "/v1/accesses", accessor.sign(ACCESS_TYPE, payload), ok=(201, 403)
        )
        if "receipt" not in answer:
            raise _error(403, json.dumps(answer).encode())
        self.verify(answer)
        return answer

    def controller_withdraw(
        self, controller: Signer, consent_id: str, reason: str | None = None
    ) -> dict[str, Any]:
        """The controller withdraws a consent it recorded, with a signed statement."""
        return self._controller_event("withdraw", WITHDRAWAL_TYPE, controller, consent_id, reason)

    def controller_erase(
        self, controller: Signer, consent_id: str, reason: str | None = None
    ) -> dict[str, Any]:
        """The controller erases a consent's off-log record, with a signed statement."""
        return self._controller_event("erase", ERASURE_TYPE, controller, consent_id, reason)

    def _controller_event(
        self, what: str, payload_type: str, controller: Signer, consent_id: str, reason: str | None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"consent_id": consent_id}
        if reason is not None:
            payload["reason"] = reason
        answer: dict[str, Any] = self._json(
            "POST",
            f"/v1/consents/{_q(consent_id)}/{what}",
            controller.sign(payload_type, payload),
        )
        self.verify(answer)
        return answer

    # ----------------------------------------------------------------------------- citizens

    def citizen_read(self, citizen_receipt: Mapping[str, Any]) -> dict[str, Any]:
        """`GET /v1/consents/{id}` with the secret of a citizen receipt: the consent, its
        status and its events (each event's receipt verified)."""
        consent_id, secret = _citizen(citizen_receipt)
        answer: dict[str, Any] = self._json("GET", f"/v1/consents/{_q(consent_id)}", token=secret)
        for event in answer.get("events", []):
            self.verify(event)
        return answer

    def citizen_accesses(self, citizen_receipt: Mapping[str, Any]) -> dict[str, Any]:
        """`GET /v1/consents/{id}/accesses` with the citizen's secret: the access decisions
        that cited the consent and the downloads made under them, each receipt verified."""
        consent_id, secret = _citizen(citizen_receipt)
        answer: dict[str, Any] = self._json(
            "GET", f"/v1/consents/{_q(consent_id)}/accesses", token=secret
        )
        for listed in answer.get("accesses", []) + answer.get("downloads", []):
            self.verify(listed)
        return answer

    def citizen_withdraw(self, citizen_receipt: Mapping[str, Any]) -> dict[str, Any]:
        """The citizen withdraws the consent with the secret of their receipt; the answer,
        its receipt verified."""
        return self._citizen_event("withdraw", citizen_receipt)

    def citizen_erase(self, citizen_receipt: Mapping[str, Any]) -> dict[str, Any]:
        """The citizen erases the consent's off-log record; the answer, verified."""
        return self._citizen_event("erase", citizen_receipt)

    def _citizen_event(self, what: str, citizen_receipt: Mapping[str, Any]) -> dict[str, Any]:
        consent_id, secret = _citizen(citizen_receipt)
        answer: dict[str, Any] = self._json(
            "POST", f"/v1/consents/{_q(consent_id)}/{what}", b"", token=secret
        )
        self.verify(answer)
        return answer

    # ----------------------------------------------------------------------------- custody

    def custody(self, dataset_id: str) -> dict[str, Any]:
        """`GET /v1/datasets/{id}/custody`: the dataset's custody chain (one page)."""
        r: dict[str, Any] = self._json("GET", f"/v1/datasets/{_q(dataset_id)}/custody")
        return r


class _Stream:
    """An open download: its status and its body in chunks."""

    def __init__(self, resp: Any) -> None:
        self.resp = resp

    def __enter__(self) -> tuple[int, Iterator[bytes]]:
        def chunks() -> Iterator[bytes]:
            while chunk := self.resp.read(CHUNK):
                yield chunk

        return int(self.resp.status), chunks()

    def __exit__(self, *exc: object) -> None:
        self.resp.close()


def _about(receipt: Mapping[str, Any], digest: str, size: int) -> None:
    leaf = json.loads(base64.b64decode(receipt["leaf"]))
    if leaf.get("sha256") != digest or leaf.get("size") != size:
        raise VerificationError(
            f"the receipt is about sha256 {leaf.get('sha256')} and {leaf.get('size')} bytes, "
            f"not {digest} and {size}"
        )


def _citizen(r: Mapping[str, Any]) -> tuple[str, str]:
    try:
        return str(r["consent_id"]), str(r["citizen_secret"])
    except KeyError:
        raise ValueError("a citizen receipt has consent_id and citizen_secret") from None


def _q(s: str) -> str:
    return urllib.parse.quote(str(s), safe="")


def _header(headers: Mapping[str, str], name: str) -> str:
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    raise ApiError(0, "missing_header", f"no {name} header", [])
