"""Signed readings batches (payload v2): an Ed25519 signature over the exact body bytes.

    {"v":2,"alg":"ed25519","kid":"9c1f0a7be4d2c813","sig":"<base64, 64 bytes>",
     "body":{"v":2,"gateway":"gw-assembly","stream":"...","seq":1042,"readings":[...]}}

The body is a readings message (the v1 fields, ``"v": 2``). The signature is over
``DOMAIN + body``, where ``body`` is the exact bytes of the ``body`` value as they
stand in the envelope: the receiver takes them out undecoded (``msgspec.Raw``) and
verifies those bytes, never a re-encoding, so no two JSON encoders have to agree
on a canonical form. ``DOMAIN`` names the format and its version, so a signature
made for anything else (another format, a later version) never verifies here.
``kid`` is the key id: the first 16 hex digits of the SHA-256 of the raw 32-byte
public key (``key_id``), so it follows from the key and cannot be mistyped.

Signed batches travel on ``carbonstream/v2/{site}/{gateway}/readings`` (topics: a
new payload version gets new topics), so a broker ACL can keep unsigned input out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from msgspec import Meta

from carbonstream.errors import CarbonstreamError
from carbonstream.transport.payload import PayloadError, ReadingsMessage

SIGNED_VERSION = 2
DOMAIN = b"carbonstream.readings.v2\x00"
ALG = "ed25519"
KEY_ID_HEX = 16
SIG_BYTES = 64


class SigningKeyError(CarbonstreamError):
    """A private key that is missing, unreadable, not Ed25519 or readable by others."""


class Envelope(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A signed batch on the wire (the body stays undecoded: its exact bytes are signed)."""

    v: Annotated[int, Meta(description="payload version (2: signed)")]
    alg: Annotated[Literal["ed25519"], Meta(description="signature algorithm")]
    kid: Annotated[
        str, Meta(pattern=r"^[0-9a-f]{16}$", description="key id: sha256(public key)[:8], hex")
    ]
    sig: Annotated[str, Meta(min_length=88, max_length=88, description="Ed25519 signature, base64")]
    body: msgspec.Raw


_envelope_decoder = msgspec.json.Decoder(Envelope)


@dataclass(frozen=True, slots=True)
class Opened:
    """An envelope taken apart: the exact signed body bytes and what names the key."""

    kid: str
    signature: bytes
    body: bytes

    @property
    def digest(self) -> bytes:
        """SHA-256 of the signed body: the batch's identity in the store."""
        return hashlib.sha256(self.body).digest()


def key_id(public: Ed25519PublicKey | bytes) -> str:
    raw = public if isinstance(public, bytes) else raw_public(public)
    return hashlib.sha256(raw).hexdigest()[:KEY_ID_HEX]


def raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_from_text(text: str) -> Ed25519PublicKey:
    """A public key as registered: base64 of the raw 32 bytes."""
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, this is {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def public_text(public: Ed25519PublicKey) -> str:
    return base64.b64encode(raw_public(public)).decode()


def signed_message(body: bytes) -> bytes:
    return DOMAIN + body


class Signer:
    """Signs the bodies a gateway seals, with its private key."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._key = private
        self.kid = key_id(private.public_key())
        self._head = b'{"v":2,"alg":"ed25519","kid":"' + self.kid.encode() + b'","sig":"'

    def envelope(self, body: bytes) -> bytes:
        sig = base64.b64encode(self._key.sign(signed_message(body)))
        return self._head + sig + b'","body":' + body + b"}"


def open_envelope(data: bytes) -> Opened:
    """Take a v2 payload apart (no key needed yet); PayloadError names what is wrong."""
    try:
        env = _envelope_decoder.decode(data)
    except msgspec.DecodeError as e:
        raise PayloadError(f"not a v2 signed readings payload: {e}") from None
    if env.v != SIGNED_VERSION:
        raise PayloadError(f"payload version {env.v} on a v2 topic (signed batches are v2)")
    try:
        sig = base64.b64decode(env.sig, validate=True)
    except binascii.Error:
        raise PayloadError("signature is not base64") from None
    if len(sig) != SIG_BYTES:
        raise PayloadError(f"signature of {len(sig)} bytes (Ed25519: {SIG_BYTES})")
    return Opened(env.kid, sig, bytes(env.body))


def verifies(public: Ed25519PublicKey, signature: bytes, body: bytes) -> bool:
    try:
        public.verify(signature, signed_message(body))
    except InvalidSignature:
        return False
    return True


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a signed batch (the file schema/readings-v2.json is this, saved)."""
    body: dict[str, Any] = msgspec.json.schema(ReadingsMessage)
    env: dict[str, Any] = msgspec.json.schema(Envelope)
    defs = body["$defs"] | env["$defs"]
    e = defs["Envelope"]
    e["properties"]["v"] = {"const": SIGNED_VERSION, "description": "payload version (2: signed)"}
    e["properties"]["body"] = {
        "$ref": "#/$defs/ReadingsMessage",
        "description": "the readings message (v1 fields, v = 2); the signature is over "
        "'carbonstream.readings.v2' + 0x00 + the exact bytes of this value as sent",
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://carbonstream.dev/schema/readings-v2.json",
        "$ref": "#/$defs/Envelope",
        "$defs": defs,
    }


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


# --- private key files ----------------------------------------------------------


def generate(path: Path) -> Ed25519PrivateKey:
    """A new key in a PKCS#8 PEM file readable by its owner only (0600); never overwrites."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: an existing key is never replaced by accident (rotation makes a new file).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key


def load_private(path: Path) -> Ed25519PrivateKey:
    """Read a gateway's key; refused if others may read it (as ssh refuses such keys)."""
    try:
        mode = path.stat().st_mode
    except OSError as e:
        raise SigningKeyError(f"{path}: {e.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SigningKeyError(
            f"{path}: permissions {stat.S_IMODE(mode):04o} let others read the private key; "
            f"chmod 600 {path}"
        )
    return private_from_pem(path.read_bytes(), str(path))


def private_from_pem(pem: bytes, source: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as e:
        raise SigningKeyError(f"{source}: not an unencrypted PEM private key ({e})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{source}: not an Ed25519 key ({type(key).__name__})")
    return key
