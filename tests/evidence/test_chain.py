"""The hash chain finds any change to a stored reading, and nothing when there is none."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np

from carbonstream.evidence import GENESIS, chain_days, verify_chain
from carbonstream.readings_file import load_readings
from tests.test_compute_cli import READINGS

ZONE = ZoneInfo("Asia/Shanghai")
IDS = [
    "assembly-grid",
    "assembly-pv",
    "assembly-export",
    "assembly-diesel",
    "foundry-grid",
    "foundry-gas",
    "foundry-steam",
    "warehouse-power",
    "foundry-output",
]


def _readings() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    b = load_readings(READINGS, IDS).batch
    return b.meter, b.ts, b.value, b.quality


def test_chain_is_stable_and_order_independent() -> None:
    m, t, v, q = _readings()
    a = chain_days(IDS, m, t, v, q, ZONE)
    perm = np.random.default_rng(1).permutation(len(m))
    b = chain_days(IDS, m[perm], t[perm], v[perm], q[perm], ZONE)
    assert [d.day for d in a] == ["2026-11-22", "2026-11-23", "2026-11-24", "2026-11-25"]
    assert a == b
    assert a[0].prev == GENESIS and all(x.prev == y.digest for x, y in zip(a[1:], a, strict=False))
    assert verify_chain(a, b) == []


def test_tampering_with_one_reading_is_found() -> None:
    m, t, v, q = _readings()
    recorded = chain_days(IDS, m, t, v, q, ZONE)
    v2 = v.copy()
    i = len(v) // 2  # a reading on the second day
    v2[i] = np.nextafter(v2[i], np.inf)  # the smallest possible change
    problems = verify_chain(recorded, chain_days(IDS, m, t, v2, q, ZONE))
    assert problems and "2026-11-23" in problems[0]
    # every later day's digest changes too (the chain)
    assert len(problems) == 3


def test_deleted_reading_is_found() -> None:
    m, t, v, q = _readings()
    recorded = chain_days(IDS, m, t, v, q, ZONE)
    keep = np.ones(len(m), bool)
    keep[5] = False
    problems = verify_chain(recorded, chain_days(IDS, m[keep], t[keep], v[keep], q[keep], ZONE))
    assert problems and problems[0].startswith("2026-11-22")
