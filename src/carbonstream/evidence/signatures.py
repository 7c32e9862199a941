"""Verify the signed batches of an export, and that each stored reading is one a gateway signed.

For every batch in ``batches.jsonl``: its digest is the SHA-256 of the signed
bytes, its key is registered for its gateway in ``plant.json`` (gateways[].keys)
and was not revoked when the batch arrived, the Ed25519 signature verifies over
exactly those bytes (the same check ingest made, redone without ingest), and the
body names the same gateway. Then every reading of ``readings.csv`` that names a
batch must be in that batch with the same value and quality: a reading changed
in the database after ingest is named here, with what the gateway signed.
Readings that name no batch were accepted unsigned (by ingest's configuration);
they are counted per meter, and are problems only when signatures are required.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.gateway_keys import KeyRing, plant_keys
from carbonstream.config.plant import Plant
from carbonstream.core import plausible
from carbonstream.transport import signing
from carbonstream.transport.payload import QUALITY_CODE, PayloadError, decode_readings

MAX_NAMED = 20  # readings named one by one; the rest are counted


@dataclass
class StoredRows:
    meter_ids: list[str]
    meter: NDArray[np.int32]
    ts: NDArray[np.int64]  # ns
    value: NDArray[np.float64]  # NaN where not good
    quality: NDArray[np.uint8]
    batch: NDArray[np.int64]  # -1: unsigned


@dataclass
class Outcome:
    problems: list[str]
    checked: list[str]


_Signed = dict[tuple[str, int], tuple[float | None, int]]


def verify_signatures(folder: Path, plant: Plant, r: StoredRows, require: bool) -> Outcome:
    out = Outcome([], [])
    path = folder / "batches.jsonl"
    docs = (
        [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
        if path.is_file()
        else []
    )
    ring = KeyRing(plant_keys(plant.gateways))
    signed: dict[int, tuple[str, _Signed]] = {}
    for doc in docs:
        content = _batch(doc, ring, out.problems)
        if content is not None:
            signed[int(doc["id"])] = (str(doc["gateway"]), content)
    out.checked.append(f"{len(signed)} of {len(docs)} signed batches against the gateway keys")
    _readings(r, signed, {int(d["id"]) for d in docs}, out)
    unsigned = Counter(r.meter_ids[m] for m in r.meter[r.batch < 0].tolist())
    if unsigned:
        text = ", ".join(f"{m} {n}" for m, n in sorted(unsigned.items()))
        line = f"{sum(unsigned.values())} readings unsigned (accepted by configuration): {text}"
        (out.problems if require else out.checked).append(line)
    return out


def _batch(doc: dict[str, object], ring: KeyRing, problems: list[str]) -> _Signed | None:
    """The (meter, ms) -> (value, quality) a batch's gateway signed, or None with the problem."""
    name = f"batch {doc.get('id')} (gateway {doc.get('gateway')!r}, key {doc.get('kid')})"
    try:
        body = base64.b64decode(str(doc["body"]), validate=True)
        sig = base64.b64decode(str(doc["signature"]), validate=True)
    except (binascii.Error, KeyError) as e:
        problems.append(f"{name}: unreadable ({e})")
        return None
    if hashlib.sha256(body).hexdigest() != doc.get("digest"):
        problems.append(f"{name}: the signed bytes do not match the digest")
        return None
    key = ring.get(str(doc.get("kid")))
    if key is None:
        problems.append(f"{name}: the key is not registered in plant.json (gateways[].keys)")
        return None
    if key.gateway != doc.get("gateway"):
        problems.append(f"{name}: the key is registered for gateway {key.gateway!r}")
        return None
    if key.revoked_at is not None:
        arrived = dt.datetime.fromisoformat(str(doc["received_at"]))
        if arrived >= key.revoked_at:
            problems.append(
                f"{name}: arrived {arrived.isoformat()}, after the key was revoked "
                f"({key.revoked_at.isoformat()})"
            )
            return None
    if not signing.verifies(key.public, sig, body):
        problems.append(f"{name}: the signature does not verify over the stored bytes")
        return None
    try:
        msg = decode_readings(body, version=signing.SIGNED_VERSION)
    except PayloadError as e:
        problems.append(f"{name}: the signed body does not decode ({e})")
        return None
    if msg.gateway != key.gateway:
        problems.append(f"{name}: the signed body is from gateway {msg.gateway!r}")
        return None
    return {(x.m, x.t): (x.v, QUALITY_CODE[x.q]) for x in msg.readings}


def _readings(
    r: StoredRows, signed: dict[int, tuple[str, _Signed]], listed: set[int], out: Outcome
) -> None:
    named = 0
    bad = 0
    checked = 0
    for i in np.flatnonzero(r.batch >= 0).tolist():
        b = int(r.batch[i])
        if b not in signed:
            if b not in listed:
                bad += 1
                if named < MAX_NAMED:
                    named += 1
                    out.problems.append(f"{_where(r, i)}: names batch {b}, not in batches.jsonl")
            continue  # a batch that failed is reported once, above
        checked += 1
        gateway, content = signed[b]
        t_ms = int(r.ts[i]) // 1_000_000
        got = content.get((r.meter_ids[r.meter[i]], t_ms))
        v, q = float(r.value[i]), int(r.quality[i])
        stored = None if v != v else v
        # Ingest marks a physically impossible reading after verifying it (core.plausible):
        # the gateway signed it good, with the value kept as stored.
        signed_q = 0 if q in plausible.IMPLAUSIBLE else q
        if got is not None and got == (stored, signed_q):
            continue
        bad += 1
        if named < MAX_NAMED:
            named += 1
            if got is None:
                out.problems.append(f"{_where(r, i)}: not in batch {b} of gateway {gateway!r}")
            else:
                out.problems.append(
                    f"{_where(r, i)}: stored value {stored!r} (quality {q}), but gateway "
                    f"{gateway!r} signed {got[0]!r} (quality {got[1]}) in batch {b}"
                )
    if bad > named:
        out.problems.append(f"... and {bad - named} more readings that differ from their batch")
    out.checked.append(f"{checked} signed readings against the bytes their gateway signed")


def _where(r: StoredRows, i: int) -> str:
    t = dt.datetime.fromtimestamp(int(r.ts[i]) / 1e9, dt.UTC).isoformat().replace("+00:00", "Z")
    return f"reading {r.meter_ids[r.meter[i]]} at {t}"
