"""core.allocation: a line's minute figures shared among its lots, against hand-worked cases
and a plain-Python reference on random lots (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonstream.core.allocation import AllocationError, allocate
from carbonstream.core.allocation_reference import reference_allocate

T0 = 1_790_000_040  # a whole minute (UTC seconds)


def run(buckets: list[int], values: list[list[float]], lots: list[tuple[int, int, float]]):  # type: ignore[no-untyped-def]
    return allocate(
        np.array(buckets, dtype=np.int64),
        np.array(values, dtype=np.float64).reshape(len(buckets), -1),
        np.array([x[0] for x in lots], dtype=np.int64),
        np.array([x[1] for x in lots], dtype=np.int64),
        np.array([x[2] for x in lots], dtype=np.float64),
    )


def test_two_products_sharing_a_line_by_mass_hand_worked() -> None:
    # One hour of a line emitting 0.06 t/min (3.6 t). Lot A: 20 t over the whole hour;
    # lot B: 10 t over the second half hour only.
    # First 30 min: A alone -> A gets 30 x 0.06 = 1.8 t.
    # Second 30 min: A made 10 t, B made 10 t in that half -> each 0.9 t.
    # A = 1.8 + 0.9 = 2.7 t, B = 0.9 t; A + B = 3.6 t = the line's hour.
    buckets = [T0 + 60 * i for i in range(60)]
    values = [[0.06] for _ in buckets]
    a = run(buckets, values, [(T0, T0 + 3600, 20.0), (T0 + 1800, T0 + 3600, 10.0)])
    assert a.lots[:, 0] == pytest.approx([2.7, 0.9], abs=1e-12)
    assert a.unallocated[0] == pytest.approx(0.0, abs=1e-12)
    assert a.minutes.tolist() == [60, 30]


def test_partial_minutes_are_shared_by_seconds() -> None:
    # A lot starting 20 s into a minute it shares with no one takes that whole minute (the
    # minute's figures went to production); shared with another lot, by what each made in it.
    buckets = [T0, T0 + 60]
    values = [[1.0], [1.0]]
    a = run(buckets, values, [(T0 + 20, T0 + 120, 5.0)])
    assert a.lots[0, 0] == pytest.approx(2.0)
    # Lot X [T0, T0+30) key 3 -> 3 in minute 0; lot Y [T0+20, T0+120) key 5 (0.05/s):
    # 40 s x 0.05 = 2 in minute 0, 3 in minute 1. Minute 0: X 3/5, Y 2/5; minute 1: Y.
    b = run(buckets, values, [(T0, T0 + 30, 3.0), (T0 + 20, T0 + 120, 5.0)])
    assert b.lots[:, 0] == pytest.approx([0.6, 1.4])


def test_idle_minutes_are_returned_not_dropped() -> None:
    buckets = [T0 + 60 * i for i in range(10)]
    values = [[1.0, 2.0] for _ in buckets]
    a = run(buckets, values, [(T0 + 120, T0 + 300, 1.0)])
    assert a.lots[0].tolist() == pytest.approx([3.0, 6.0])
    assert a.unallocated.tolist() == pytest.approx([7.0, 14.0])


def test_bad_lots_are_refused() -> None:
    with pytest.raises(AllocationError, match="end after it starts"):
        run([T0], [[1.0]], [(T0 + 60, T0, 1.0)])
    with pytest.raises(AllocationError, match="positive allocation key"):
        run([T0], [[1.0]], [(T0, T0 + 60, 0.0)])
    with pytest.raises(AllocationError, match="whole minutes"):
        run([T0 + 1], [[1.0]], [(T0, T0 + 60, 1.0)])


lot_strategy = st.tuples(
    st.integers(min_value=-3000, max_value=20_000),
    st.integers(min_value=1, max_value=8_000),
    st.floats(min_value=0.001, max_value=1e4, allow_nan=False),
).map(lambda x: (T0 + x[0], T0 + x[0] + x[1], x[2]))


@settings(max_examples=150, deadline=None)
@given(
    n_minutes=st.integers(min_value=1, max_value=300),
    seed=st.integers(min_value=0, max_value=2**31),
    lots=st.lists(lot_strategy, min_size=0, max_size=12),
)
def test_lots_plus_idle_sum_to_the_line_and_match_the_reference(
    n_minutes: int, seed: int, lots: list[tuple[int, int, float]]
) -> None:
    rng = np.random.default_rng(seed)
    buckets = [T0 + 60 * i for i in range(n_minutes)]
    values = rng.uniform(0, 2, size=(n_minutes, 3)).tolist()
    a = run(buckets, values, lots)
    want, want_idle = reference_allocate(buckets, values, lots)
    total = np.array(values).sum(axis=0)
    # Nothing lost, nothing counted twice: every column balances.
    assert a.lots.sum(axis=0) + a.unallocated == pytest.approx(total, rel=1e-9, abs=1e-9)
    if lots:
        assert a.lots == pytest.approx(np.array(want), rel=1e-9, abs=1e-9)
    assert a.unallocated == pytest.approx(np.array(want_idle), rel=1e-9, abs=1e-9)
