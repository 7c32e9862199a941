"""Ingest's signature check: a batch is accepted only as its gateway signed it.

Order of the checks on a signed (v2) payload, each refusal with its reason:

1. the envelope decodes (``malformed``);
2. its key id is registered (``unknown_key``);
3. the key was not revoked before the batch arrived (``revoked``; arrival time,
   because whoever holds a stolen key also picks the source times);
4. the signature verifies over the exact body bytes received (``bad_signature``:
   the batch was altered after signing, e.g. a value changed in a replay, or it
   was signed with another key than the one it names);
5. after the body is decoded: the key belongs to the gateway the batch is from
   (``foreign_key``), and every reading's source time lies in the key's
   [valid_from, valid_to) (``key_not_valid``; rotation is judged on source times
   so a batch buffered through an outage is still accepted).

Unsigned input (v1, Sparkplug B) is refused (``unsigned``) unless the settings
accept it for that source; accepted, its readings are stored with no batch,
which marks them unsigned all the way to the inventory's coverage.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from carbonstream.config.gateway_keys import KeyRing, RegisteredKey
from carbonstream.ingest.decode import NS_PER_MS, Decoded
from carbonstream.ingest.settings import SignatureSettings
from carbonstream.store.batches import BatchRow
from carbonstream.transport import signing
from carbonstream.transport.payload import PayloadError


class Refusal(StrEnum):
    UNSIGNED = "unsigned"
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    REVOKED = "revoked"
    BAD_SIGNATURE = "bad_signature"
    FOREIGN_KEY = "foreign_key"
    KEY_NOT_VALID = "key_not_valid"


class SignatureRefusedError(PayloadError):
    """A batch refused by the signature check; the text is the dead-letter reason."""

    def __init__(self, refusal: Refusal, text: str) -> None:
        self.refusal = refusal
        super().__init__(f"signature check ({refusal.value}): {text}")


class Verifier:
    def __init__(self, ring: KeyRing, settings: SignatureSettings) -> None:
        self.ring = ring
        self.settings = settings
        self._unsigned_ok = set(settings.unsigned_gateways)

    def open(self, payload: bytes, received_ns: int) -> tuple[signing.Opened, RegisteredKey]:
        """Checks 1-4: the envelope, the key, revocation, the signature over the body bytes."""
        try:
            opened = signing.open_envelope(payload)
        except PayloadError as e:
            raise SignatureRefusedError(Refusal.MALFORMED, str(e)) from None
        key = self.ring.get(opened.kid)
        if key is None:
            raise SignatureRefusedError(
                Refusal.UNKNOWN_KEY,
                f"key {opened.kid} is not registered for any gateway (plant file: gateways[].keys)",
            )
        if key.revoked_at is not None:
            arrived = dt.datetime.fromtimestamp(received_ns / 1e9, dt.UTC)
            if arrived >= key.revoked_at:
                raise SignatureRefusedError(
                    Refusal.REVOKED,
                    f"key {key.kid} of gateway {key.gateway!r} was revoked at "
                    f"{key.revoked_at.isoformat()}; the batch arrived at {arrived.isoformat()}",
                )
        if not signing.verifies(key.public, opened.signature, opened.body):
            raise SignatureRefusedError(
                Refusal.BAD_SIGNATURE,
                f"the signature does not verify with key {key.kid} of gateway {key.gateway!r}: "
                "the batch was changed after it was signed, or signed with another key",
            )
        return opened, key

    def check(self, key: RegisteredKey, d: Decoded) -> None:
        """Check 5, on the decoded body: the key's gateway and its validity in source time."""
        if d.gateway != key.gateway:
            raise SignatureRefusedError(
                Refusal.FOREIGN_KEY,
                f"a batch of gateway {d.gateway!r} signed with key {key.kid} of gateway "
                f"{key.gateway!r}",
            )
        if not len(d):
            return
        lo_ms = int(d.ts.min()) // NS_PER_MS
        hi_ms = int(d.ts.max()) // NS_PER_MS
        if lo_ms < key.valid_from_ms or (key.valid_to_ms is not None and hi_ms >= key.valid_to_ms):
            raise SignatureRefusedError(
                Refusal.KEY_NOT_VALID,
                f"source times {_iso(lo_ms)} .. {_iso(hi_ms)} are outside the validity of key "
                f"{key.kid} of gateway {key.gateway!r} ({_iso(key.valid_from_ms)} .. "
                f"{_iso(key.valid_to_ms) if key.valid_to_ms is not None else 'open'})",
            )

    def row(self, opened: signing.Opened, key: RegisteredKey, received_ns: int) -> BatchRow:
        return BatchRow(
            opened.digest,
            key.gateway,
            key.kid,
            opened.signature,
            opened.body,
            dt.datetime.fromtimestamp(received_ns / 1e9, dt.UTC),
        )

    def allow_unsigned(self, source: str, gateway: str) -> None:
        """Unsigned input is accepted only where the settings say so."""
        s = self.settings
        if not s.required:
            return
        if source == "sparkplug":
            if s.unsigned_sparkplug:
                return
            hint = "signatures.unsigned_sparkplug: true"
        elif gateway in self._unsigned_ok:
            return
        else:
            hint = f"signatures.unsigned_gateways: [{gateway}]"
        raise SignatureRefusedError(
            Refusal.UNSIGNED,
            f"unsigned {source} batch from gateway {gateway!r}: signatures are required "
            f"(signatures.required); sign it with the gateway's key (payload v2), or accept "
            f"this gateway's unsigned input with {hint}",
        )


def _iso(ms: int) -> str:
    return (
        dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
