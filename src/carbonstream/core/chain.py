"""A hash chain over readings: each local day's digest covers that day's readings
and the previous day's digest, so changing any stored reading (or deleting or
adding one) changes that day's digest and every digest after it.

Canonical form of a day (bit-exact, independent of storage order):

    sha256( prev_digest_hex
            || "\\n" || day (YYYY-MM-DD, plant time zone) || "\\n"
            || for each meter id in sorted order:
                 meter id (UTF-8) || 0x00 || row count (u64 LE)
                 || rows sorted by time, each ts_ns (i64 LE) value (f64 LE) quality (u8) )

The genesis "previous digest" is 64 zeros.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

GENESIS = "0" * 64
_ROW = np.dtype([("ts", "<i8"), ("value", "<f8"), ("quality", "u1")])


@dataclass(frozen=True)
class DayDigest:
    day: str
    readings: int
    digest: str
    prev: str


def day_digest(
    prev: str,
    day: str,
    meter_ids: list[str],
    meter: NDArray[np.int32],
    ts: NDArray[np.int64],
    value: NDArray[np.float64],
    quality: NDArray[np.uint8],
) -> str:
    """Digest of one day's readings (meter indexes into ``meter_ids``), chained to ``prev``."""
    h = hashlib.sha256(f"{prev}\n{day}\n".encode())
    names = np.array(meter_ids, dtype=object)[meter] if len(meter) else np.empty(0, object)
    order = np.lexsort((ts, names.astype(str))) if len(meter) else np.empty(0, np.intp)
    rows = np.empty(len(order), dtype=_ROW)
    rows["ts"], rows["value"], rows["quality"] = ts[order], value[order], quality[order]
    sorted_names = names[order].astype(str)
    edges = np.flatnonzero(sorted_names[1:] != sorted_names[:-1]) + 1
    for lo, hi in zip(
        np.concatenate([[0], edges]), np.concatenate([edges, [len(order)]]), strict=True
    ):
        if hi > lo:  # one block per meter
            h.update(str(sorted_names[lo]).encode() + b"\0" + np.uint64(hi - lo).tobytes())
            h.update(rows[lo:hi].tobytes())
    return h.hexdigest()


def chain_days(
    meter_ids: list[str],
    meter: NDArray[np.int32],
    ts: NDArray[np.int64],
    value: NDArray[np.float64],
    quality: NDArray[np.uint8],
    zone: ZoneInfo,
    prev: str = GENESIS,
) -> list[DayDigest]:
    """Digests for every local day that has readings, in order."""
    if not len(ts):
        return []
    days = _local_days(ts, zone)
    out: list[DayDigest] = []
    for day in np.unique(days):
        sel = np.flatnonzero(days == day)
        label = str(day)
        d = day_digest(prev, label, meter_ids, meter[sel], ts[sel], value[sel], quality[sel])
        out.append(DayDigest(label, len(sel), d, prev))
        prev = d
    return out


def verify_chain(expected: list[DayDigest], actual: list[DayDigest]) -> list[str]:
    """Problems found comparing a recorded chain with one recomputed from the readings."""
    problems: list[str] = []
    rec = {d.day: d for d in expected}
    now = {d.day: d for d in actual}
    for day in sorted(set(rec) | set(now)):
        a, b = rec.get(day), now.get(day)
        if a is None:
            problems.append(f"{day}: readings present but the day is not in the recorded chain")
        elif b is None:
            problems.append(f"{day}: recorded in the chain but no readings found")
        elif a.digest != b.digest:
            problems.append(
                f"{day}: digest differs (recorded {a.digest[:12]}…, recomputed {b.digest[:12]}…; "
                f"{a.readings} vs {b.readings} readings): a stored reading was changed"
            )
    return problems


def _local_days(ts: NDArray[np.int64], zone: ZoneInfo) -> NDArray[np.str_]:
    """Local calendar day of each timestamp (the conversion runs per distinct UTC hour)."""
    hours = ts // (3600 * 1_000_000_000)
    uniq, inv = np.unique(hours, return_inverse=True)
    labels = np.array(
        [
            dt.datetime.fromtimestamp(int(h) * 3600, dt.UTC).astimezone(zone).date().isoformat()
            for h in uniq
        ]
    )
    return labels[inv]
