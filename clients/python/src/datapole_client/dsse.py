"""DSSE envelopes (Dead Simple Signing Envelope, protocol v1), as datapole uses them.

From the DSSE specification (github.com/secure-systems-lab/dsse, protocol.md and
envelope.md): the signature covers the pre-authentication encoding
``PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body``, lengths as decimal
byte counts. datapole (docs/design/statements.md) requires exactly one signature, whose
``keyid`` is the signer's participant id, and an Ed25519 key; ``payload`` and ``sig`` may be
standard or URL-safe base64, padded or not. Its *envelope bytes*, which commitments cover
(docs/design/private-deposits.md), are the compact JSON ``{"payloadType","payload",
"signatures":[{"keyid","sig"}]}`` in that order, with the strings as received.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .strict import StrictError, b64decode_lenient

__all__ = ["DsseError", "Envelope", "pae", "sign"]


class DsseError(ValueError):
    """An envelope that is malformed, or whose signature does not verify."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """The DSSE v1 pre-authentication encoding of a type and a payload."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope with one signature, its strings as received."""

    payload_type: str
    payload_b64: str
    keyid: str
    sig_b64: str

    @staticmethod
    def from_json(value: Any) -> Envelope:
        """Reads an envelope (a parsed JSON object): the three fields, no other, one
        signature of `keyid` and `sig`."""
        if not isinstance(value, dict) or set(value) != {"payloadType", "payload", "signatures"}:
            raise DsseError("an envelope has exactly payloadType, payload and signatures")
        sigs = value["signatures"]
        if not isinstance(sigs, list) or len(sigs) != 1:
            raise DsseError("datapole's envelopes carry exactly one signature")
        sig = sigs[0]
        if not isinstance(sig, dict) or set(sig) != {"keyid", "sig"}:
            raise DsseError("a signature has exactly keyid and sig")
        fields = (value["payloadType"], value["payload"], sig["keyid"], sig["sig"])
        if not all(isinstance(f, str) for f in fields):
            raise DsseError("an envelope's fields are strings")
        return Envelope(*fields)

    def to_json(self) -> dict[str, Any]:
        """The envelope as a JSON object."""
        return {
            "payloadType": self.payload_type,
            "payload": self.payload_b64,
            "signatures": [{"keyid": self.keyid, "sig": self.sig_b64}],
        }

    def to_bytes(self) -> bytes:
        """The envelope bytes a commitment covers: compact JSON, fields in order."""
        return json.dumps(self.to_json(), separators=(",", ":"), ensure_ascii=False).encode()

    def payload(self) -> bytes:
        """The payload's bytes."""
        try:
            return b64decode_lenient(self.payload_b64)
        except StrictError as e:
            raise DsseError(f"payload: {e}") from None

    def signature(self) -> bytes:
        """The signature's bytes."""
        try:
            return b64decode_lenient(self.sig_b64)
        except StrictError as e:
            raise DsseError(f"sig: {e}") from None

    def verify(self, public_key: bytes) -> bytes:
        """Verifies the signature over PAE(type, payload) with an Ed25519 public key; the
        payload's bytes."""
        payload = self.payload()
        sig = self.signature()
        if len(sig) != 64:
            raise DsseError("an Ed25519 signature has 64 bytes")
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(
                sig, pae(self.payload_type, payload)
            )
        except (InvalidSignature, ValueError):
            raise DsseError("the signature does not verify with the signer's key") from None
        return payload


def sign(payload_type: str, payload: bytes, keyid: str, key: Ed25519PrivateKey) -> Envelope:
    """Signs a payload: an envelope with standard padded base64."""
    sig = key.sign(pae(payload_type, payload))
    return Envelope(
        payload_type,
        base64.b64encode(payload).decode(),
        keyid,
        base64.b64encode(sig).decode(),
    )
