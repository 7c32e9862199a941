"""Rolling rates over the covered time, budget states, and a meter's health: hand-worked
cases and a plain-Python reference."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonstream.core import plausible
from carbonstream.core.budget import (
    PROJECTION_MIN_COVERED_S,
    WARN_USED_PCT,
    BudgetState,
    budget_state,
)
from carbonstream.core.health import MeterState, meter_health, quality_name
from carbonstream.core.rates import covered_seconds, rates_until, rolling_rates
from carbonstream.transport.payload import QUALITY_CODE, Quality
from tests.plants import NS, ns


def test_a_young_plant_rate_is_over_the_372_s_its_data_covers() -> None:
    # The case, worked by hand: data began at 10:53:48, the rates end at 11:00:00,
    # so every window covers 372 s. The part minute 10:53 holds 0.001 t (12 s of data),
    # the six full minutes 10:54-10:59 hold 0.005 t each: 0.031 t in all.
    end = ns("2026-12-06T11:00:00+08:00")
    start = ns("2026-12-06T10:53:48+08:00")
    buckets = end - np.arange(7, 0, -1, dtype=np.int64) * 60 * NS
    tonnes = np.array([0.001] + [0.005] * 6)
    one, fifteen, sixty = rolling_rates(buckets, 60, tonnes, end, start)
    assert (one.window_s, one.covered_s) == (60, 60)
    assert one.tco2e_per_h == pytest.approx((0.005 * 60,))  # 0.3 t/h
    # 0.031 t × 3600 s/h / 372 s = 0.3 t/h; over the whole 900 s it read 0.124 t/h.
    assert (fifteen.covered_s, sixty.covered_s) == (372, 372)
    assert fifteen.tco2e_per_h == pytest.approx((0.3,))
    assert sixty.tco2e_per_h == pytest.approx((0.3,))
    # The covered seconds travel with the rate: rate × covered / 3600 gives the tonnes back.
    assert fifteen.tco2e_per_h is not None
    assert fifteen.tco2e_per_h[0] * fifteen.covered_s / 3600 == pytest.approx(0.031)


def test_columns_and_full_windows() -> None:
    # 60 one-minute buckets of (0.01, 0.02) t ending at the end: 0.6 and 1.2 t/h in every
    # window; then a quiet last quarter hour: 0 over 1 and 15 min, 0.45 t/h over the hour.
    end = ns("2026-11-23T10:00:00+08:00")
    buckets = end - np.arange(60, 0, -1, dtype=np.int64) * 60 * NS
    values = np.column_stack([np.full(60, 0.01), np.full(60, 0.02)])
    start = end - 2 * 3600 * NS
    for r in rolling_rates(buckets, 60, values, end, start):
        assert r.covered_s == r.window_s
        assert r.tco2e_per_h == pytest.approx((0.6, 1.2))
    values[-15:] = 0.0
    one, fifteen, sixty = rolling_rates(buckets, 60, values, end, start)
    assert one.tco2e_per_h == (0.0, 0.0) and fifteen.tco2e_per_h == (0.0, 0.0)
    assert sixty.tco2e_per_h == pytest.approx((0.45, 0.9))
    with pytest.raises(ValueError, match="shorter than"):
        rolling_rates(buckets, 60, values, end, start, (30,))


def test_no_data_yet_is_no_rate_not_zero() -> None:
    end = ns("2026-11-23T10:00:00+08:00")
    empty = np.zeros(0, dtype=np.int64)
    for r in rolling_rates(empty, 60, np.zeros(0), end, None):
        assert (r.covered_s, r.tco2e_per_h) == (0, None)
    # data that begins after the end (a clock ahead) covers nothing either
    assert covered_seconds(900, end, end + 5 * NS) == 0


def test_rates_end_at_the_last_settled_minute() -> None:
    at = dt.datetime(2026, 12, 6, 3, 4, 9, tzinfo=dt.UTC)  # 9 s past: 03:03 still settling
    assert rates_until(at) == dt.datetime(2026, 12, 6, 3, 3, tzinfo=dt.UTC)
    at = dt.datetime(2026, 12, 6, 3, 4, 10, tzinfo=dt.UTC)
    assert rates_until(at) == dt.datetime(2026, 12, 6, 3, 4, tzinfo=dt.UTC)


@given(
    st.lists(st.floats(0, 10, allow_nan=False), min_size=0, max_size=90),
    st.integers(0, 100 * 60),
    st.sampled_from([60, 900, 3600]),
)
def test_rates_agree_with_a_plain_reference(tonnes: list[float], age_s: int, w: int) -> None:
    end = ns("2026-11-23T10:00:00+08:00")
    n = len(tonnes)
    buckets = end - np.arange(n, 0, -1, dtype=np.int64) * 60 * NS
    start = end - age_s * NS
    (r,) = rolling_rates(buckets, 60, np.array(tonnes, dtype=np.float64), end, start, (w,))
    covered = min(w, age_s)
    assert r.covered_s == covered
    if covered == 0:
        assert r.tco2e_per_h is None
        return
    inside = [t for i, t in enumerate(tonnes) if (n - i) * 60 <= w]
    assert r.tco2e_per_h == pytest.approx((sum(inside) * 3600 / covered,))


def test_budget_states() -> None:
    ready, young = PROJECTION_MIN_COVERED_S, PROJECTION_MIN_COVERED_S - 1
    # The case: 30 s in, projected 176.2 % of the month: warming up, not judged.
    assert budget_state(0.4, 176.2, 30) is BudgetState.WARMING_UP
    assert budget_state(0.4, None, 0) is BudgetState.WARMING_UP
    assert budget_state(40.0, 176.2, ready) is BudgetState.WARNING
    assert budget_state(40.0, 99.9, ready) is BudgetState.OK
    # What is used is measured, not projected: it counts at once.
    assert budget_state(WARN_USED_PCT, 90.0, young) is BudgetState.WARNING
    assert budget_state(100.0, None, 0) is BudgetState.OVER
    assert budget_state(120.0, 150.0, ready) is BudgetState.OVER


NOW = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)
CODES = [*QUALITY_CODE.values(), *plausible.IMPLAUSIBLE, 99]


@given(
    st.one_of(st.none(), st.integers(-30, 3600)),
    st.sampled_from(CODES),
    st.sampled_from([60.0, 300.0]),
)
def test_state_and_quality_never_contradict(age_s: int | None, code: int, after: float) -> None:
    last = None if age_s is None else NOW - dt.timedelta(seconds=age_s)
    h = meter_health(last, code, NOW, after)
    match h.state:
        case MeterState.NO_DATA:
            assert last is None and h.quality is None and h.silent_s is None
        case MeterState.SILENT:
            assert h.quality == Quality.STALE.value and h.silent_s is not None
            assert h.silent_s > after
        case MeterState.BAD_QUALITY:
            assert code != 0 and h.quality == quality_name(code) != Quality.GOOD.value
        case MeterState.OK:
            assert code == 0 and h.quality == Quality.GOOD.value
    assert (h.quality == Quality.GOOD.value) == (h.state is MeterState.OK)


def test_a_silent_meter_whose_last_reading_was_good_is_stale() -> None:
    # foundry-output in the demo: its last reading was good, 400 s ago.
    h = meter_health(NOW - dt.timedelta(seconds=400), 0, NOW, 300.0)
    assert (h.state, h.quality, h.silent_s) == (MeterState.SILENT, "stale", 400.0)
    assert quality_name(plausible.IMPLAUSIBLE_NEGATIVE) == "implausible_negative"
