"""Signed notes, checkpoints and cosignatures, from the C2SP specifications.

- c2sp.org/signed-note: a note is UTF-8 text ending in a newline, a blank line, then signature
  lines ``— <name> <base64(key ID ‖ signature)>``; the key ID is the first 4 bytes of
  SHA-256(name ‖ 0x0A ‖ type ‖ public key); a verifier key is ``<name>+<hex key ID>+<base64(type
  ‖ public key)>``, type 0x01 for Ed25519. Signatures by unknown keys are ignored.
- c2sp.org/tlog-checkpoint: the note's text is the origin, the tree size in decimal, the root
  hash in base64, then optional extension lines.
- c2sp.org/tlog-cosignature: a witness key has type 0x04; its signature is an 8-byte
  big-endian timestamp and an Ed25519 signature over ``cosignature/v1\\ntime <t>\\n`` followed
  by the checkpoint's text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "NoteError",
    "Verifier",
    "Checkpoint",
    "parse_vkey",
    "open_note",
    "parse_checkpoint",
    "verify_checkpoint",
    "verify_cosignature",
    "key_id",
]

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
_DASH = "\u2014 "
MAX_SIGNATURES = 100


class NoteError(ValueError):
    """A note, key or checkpoint that does not parse or does not verify."""


def key_id(name: str, key_type: int, public_key: bytes) -> bytes:
    """SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + public_key).digest()[:4]


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


@dataclass(frozen=True)
class Verifier:
    """A verifier key: its name, key ID, type and Ed25519 public key."""

    name: str
    key_id: bytes
    key_type: int
    public_key: bytes

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` is this key's Ed25519 signature of `message`."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def parse_vkey(vkey: str, key_type: int = ED25519) -> Verifier:
    """Reads a verifier key ``name+hash+base64``, of the given type (Ed25519 by default)."""
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise NoteError("a verifier key is name+hash+key")
    name, hex_id, b64 = parts
    if not _valid_name(name):
        raise NoteError("the verifier key's name is not a note key name")
    try:
        raw = base64.b64decode(b64, validate=True)
        kid = bytes.fromhex(hex_id)
    except (binascii.Error, ValueError):
        raise NoteError("the verifier key is not name+hex+base64") from None
    if len(hex_id) != 8 or hex_id != hex_id.lower():
        raise NoteError("the verifier key's hash is not 8 lower-case hex digits")
    if len(raw) != 33 or raw[0] != key_type:
        raise NoteError(f"the verifier key is not of type {key_type:#04x} with a 32-byte key")
    if key_id(name, raw[0], raw[1:]) != kid:
        raise NoteError("the verifier key's hash does not match its name and key")
    return Verifier(name, kid, raw[0], raw[1:])


@dataclass(frozen=True)
class Signature:
    """One signature line: the signer's name, key ID and signature bytes."""

    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class Note:
    """A signed note split into its text and its signature lines (not yet verified)."""

    text: str
    signatures: list[Signature] = field(default_factory=list)


def split_note(note: str) -> Note:
    """Splits a signed note at its last blank line and reads its signature lines."""
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("a note holds no control character other than newline")
    at = note.rfind("\n\n")
    if at < 0:
        raise NoteError("no blank line before the signatures")
    text, block = note[: at + 1], note[at + 2 :]
    if not block.endswith("\n"):
        raise NoteError("the signatures do not end in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError("too many signatures")
    sigs = []
    for line in lines:
        if not line.startswith(_DASH):
            raise NoteError("a signature line does not start with an em dash and a space")
        rest = line[len(_DASH) :]
        parts = rest.split(" ")
        if len(parts) != 2 or not _valid_name(parts[0]):
            raise NoteError("a signature line is not a name and a signature")
        try:
            raw = base64.b64decode(parts[1], validate=True)
        except binascii.Error:
            raise NoteError("a signature is not base64") from None
        if len(raw) < 5:
            raise NoteError("a signature is too short")
        sigs.append(Signature(parts[0], raw[:4], raw[4:]))
    if not sigs:
        raise NoteError("no signature")
    return Note(text, sigs)


def open_note(note: str, verifier: Verifier) -> Note:
    """Verifies the note's signature by `verifier`; the note. A signature line of that key
    that does not verify rejects the note; one with no such line is unsigned for it."""
    n = split_note(note)
    found = False
    for s in n.signatures:
        if s.name == verifier.name and s.key_id == verifier.key_id:
            if not verifier.verify(n.text.encode(), s.signature):
                raise NoteError(f"the signature of {verifier.name} does not verify")
            found = True
    if not found:
        raise NoteError(f"the note carries no signature of {verifier.name}")
    return n


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint's origin, tree size, root hash and extension lines, with the note's text."""

    origin: str
    size: int
    root: bytes
    extensions: list[str]
    text: str


def parse_checkpoint(text: str) -> Checkpoint:
    """Reads a checkpoint's text (the note's text, before the signatures)."""
    if not text.endswith("\n"):
        raise NoteError("a checkpoint ends in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint has an origin, a size and a root")
    origin, size, root = lines[0], lines[1], lines[2]
    if not origin:
        raise NoteError("the checkpoint has no origin")
    if not size.isascii() or not size.isdigit() or (size != "0" and size.startswith("0")):
        raise NoteError("the checkpoint's size is not a decimal number")
    try:
        raw = base64.b64decode(root, validate=True)
    except binascii.Error:
        raise NoteError("the checkpoint's root is not base64") from None
    if len(raw) != 32 or base64.b64encode(raw).decode() != root:
        raise NoteError("the checkpoint's root is not a 32-byte hash in base64")
    if any(not line for line in lines[3:]):
        raise NoteError("an empty extension line")
    n = int(size)
    if n >= 2**64:
        raise NoteError("the checkpoint's size is beyond 64 bits")
    return Checkpoint(origin, n, raw, lines[3:], text)


def verify_checkpoint(note: str, verifier: Verifier, origin: str | None = None) -> Checkpoint:
    """Verifies a signed checkpoint with the log's key and reads it; with `origin`, also that
    it is the checkpoint's origin."""
    cp = parse_checkpoint(open_note(note, verifier).text)
    if origin is not None and cp.origin != origin:
        raise NoteError(f"the checkpoint's origin {cp.origin} is not {origin}")
    return cp


def verify_cosignature(note: str, witness: Verifier) -> int:
    """Verifies the witness's cosignature/v1 on a signed checkpoint; its timestamp."""
    if witness.key_type != COSIGNATURE_V1:
        raise NoteError("a witness key has type 0x04")
    n = split_note(note)
    parse_checkpoint(n.text)
    for s in n.signatures:
        if s.name == witness.name and s.key_id == witness.key_id:
            if len(s.signature) != 72:
                raise NoteError("a cosignature is a timestamp and a 64-byte signature")
            t = int.from_bytes(s.signature[:8], "big")
            message = f"cosignature/v1\ntime {t}\n".encode() + n.text.encode()
            if not witness.verify(message, s.signature[8:]):
                raise NoteError(f"the cosignature of {witness.name} does not verify")
            return t
    raise NoteError(f"no cosignature of {witness.name}")
