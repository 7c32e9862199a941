"""Calendar buckets and the engine state as a plain serialisable object."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from carbonstream.compute import run
from carbonstream.config.loader import load_plant
from carbonstream.core import Engine, EngineState, FactorLibrary
from carbonstream.core.calendar import bucket_start, label, to_calendar
from carbonstream.readings_file import load_readings
from tests.plants import ns
from tests.test_compute_cli import PLANT, READINGS

SH = ZoneInfo("Asia/Shanghai")
KOLKATA = ZoneInfo("Asia/Kolkata")


def test_calendar_buckets_in_local_time() -> None:
    t = ns("2026-11-23T01:20:30+08:00")
    assert label(bucket_start(t, "minute", SH), SH) == "2026-11-23T01:20:00+08:00"
    assert label(bucket_start(t, "15min", SH), SH) == "2026-11-23T01:15:00+08:00"
    assert label(bucket_start(t, "hour", SH), SH) == "2026-11-23T01:00:00+08:00"
    assert label(bucket_start(t, "day", SH), SH) == "2026-11-23T00:00:00+08:00"
    assert label(bucket_start(t, "month", SH), SH) == "2026-11-01T00:00:00+08:00"
    # A half-hour zone: the local hour starts at :30 UTC.
    k = ns("2026-11-23T10:10:00+05:30")
    assert label(bucket_start(k, "hour", KOLKATA), KOLKATA) == "2026-11-23T10:00:00+05:30"
    with pytest.raises(ValueError, match="unknown bucket"):
        bucket_start(t, "week", SH)


def test_fall_back_hours_are_distinct_buckets() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-10-25: 02:00-03:00 local happens twice (00:00 and 01:00 UTC).
    first, second = ns("2026-10-25T00:30:00+00:00"), ns("2026-10-25T01:30:00+00:00")
    a, b = to_calendar(np.array([first, second], dtype=np.int64), "hour", berlin)
    assert a != b
    assert label(int(a), berlin) == "2026-10-25T02:00:00+02:00"
    assert label(int(b), berlin) == "2026-10-25T02:00:00+01:00"


def test_state_survives_json_and_a_new_engine() -> None:
    plant = load_plant(PLANT)
    lib = FactorLibrary.load(plant.factor_files)
    whole_engine = Engine(plant, lib)
    batch = load_readings(READINGS, whole_engine.params.ids).batch
    order = np.argsort(batch.ts, kind="stable")
    batch = batch.take(order)
    whole = run(whole_engine, batch)

    first = Engine(plant, lib)
    half = len(batch) // 2
    a = run(first, batch.take(slice(0, half)))
    saved = json.dumps(a.state.to_dict(first.params.ids))
    second = Engine(plant, lib)  # e.g. a restarted worker
    state = EngineState.from_dict(json.loads(saved), second.params.ids)
    b = run(second, batch.take(slice(half, None)), state=state)
    for col in ("scope1_t", "scope2_location_t", "scope2_market_t", "grid_import_mwh"):
        assert a.column(col).sum() + b.column(col).sum() == pytest.approx(
            whole.column(col).sum(), rel=1e-12
        )


def test_state_of_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown engine state version"):
        EngineState.from_dict({"version": 99}, ["a"])
