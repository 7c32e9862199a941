"""core.plausible: readings no meter can give get a quality of their own, by hand-computed
cases, and the rule over a whole file equals the rule applied batch by batch with the
previous plausible reading carried (what ingest does)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonstream.core import plausible
from carbonstream.core.library import FactorLibrary
from carbonstream.core.meters import MeterParams, build_params
from carbonstream.core.state import NO_TIME
from tests.plants import NS, meter, ns, plant

NEG, HIGH, JUMP = plausible.IMPLAUSIBLE
T0 = ns("2026-11-23T08:00:00+08:00")
MIN5 = 300 * NS


def _params(**extra: object) -> MeterParams:
    p = plant(
        [
            # counter, rating 1000 kW: with the plant's 10 % tolerance at most 1100 kWh an
            # hour, 91.67 kWh in 5 minutes
            meter("c", rating=1000.0),
            # a register that wraps at 1 000 000
            meter("wrap", rating=1000.0, counter_range=1_000_000),
            # a power meter rated 150 kW: at most 165 kW
            meter("p", measures="rate", unit="kW", rating=150.0),
        ],
        **extra,
    )
    return build_params(p, FactorLibrary.load(p.factor_files))


def _mark(p: MeterParams, m: list[int], v: list[float], q: list[int] | None = None) -> list[int]:
    n = len(m)
    t = np.array([T0 + MIN5 * i for i in range(n)], dtype=np.int64)
    order = np.lexsort((t, np.array(m)))
    mm = np.array(m, dtype=np.int32)[order]
    out, _ = plausible.mark(
        mm,
        t[order],
        np.array(v, dtype=np.float64)[order],
        np.array(q or [0] * n, dtype=np.uint8)[order],
        p,
        np.full(n, NO_TIME, dtype=np.int64),
        np.zeros(n),
    )
    back = np.empty_like(out)
    back[order] = out
    return [int(x) for x in back]


def test_negative_counter_and_a_jump_beyond_the_rating() -> None:
    p = _params()
    # 5 minutes apart; the rating allows 91.67 kWh per step.
    values = [100.0, -5.0, 100.2, 1e12, 1e12 + 0.1, 100.3, 191.0, 300.0]
    assert _mark(p, [0] * 8, values) == [
        0,  # the first reading: nothing to compare with
        NEG,  # a register below zero
        0,  # +0.2 over 10 minutes since 100 (the negative one is no reference)
        JUMP,  # +1e12 in 5 minutes
        0,  # +0.1 since the jump: it carries on from there (one reading lost, not the rest)
        0,  # a drop is the core's business (rollover or reset), not a jump
        0,  # +90.7 in 5 minutes: within 91.67
        JUMP,  # +109 in 5 minutes: beyond
    ]


def test_register_range_rate_rating_and_bad_readings() -> None:
    p = _params()
    assert _mark(p, [1, 1], [999_999.9, 1_000_000.0]) == [0, HIGH]
    assert _mark(p, [2, 2, 2, 2, 2], [50.0, 165.0, 165.1, -1.0, 60.0]) == [0, 0, HIGH, NEG, 0]
    # bad readings keep their own quality; a NaN value of a bad reading is no evidence
    assert _mark(p, [0, 0, 0], [100.0, float("nan"), 100.1], [0, 3, 0]) == [0, 3, 0]


def test_a_recorded_replacement_is_not_a_jump() -> None:
    p = _params(
        replacements=[
            {"meter": "c", "at": "2026-11-23T08:07:00+08:00", "old_final": 120.0,
             "new_initial": 5000.0}
        ]
    )  # fmt: skip
    # 100 at 08:00, 110 at 08:05, the swap at 08:07, 5010 at 08:10 on the new register
    assert _mark(p, [0, 0, 0], [100.0, 110.0, 5010.0]) == [0, 0, 0]
    assert _mark(_params(), [0, 0, 0], [100.0, 110.0, 5010.0]) == [0, 0, JUMP]


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.floats(-20, 150), min_size=2, max_size=40),  # never below zero
    cut=st.integers(0, 40),
)
def test_batch_by_batch_with_carried_state_equals_the_whole_file(
    steps: list[float], cut: int
) -> None:
    """A counter that mostly rises within its rating, sometimes drops or jumps: marking the
    whole series at once (carbonstream compute) gives the qualities that marking it in two
    batches, carrying the previous plausible reading (ingest), gives."""
    p = _params()
    v = np.cumsum(np.array(steps)) + 1000.0
    n = len(v)
    m = np.zeros(n, dtype=np.int32)
    t = T0 + MIN5 * np.arange(n, dtype=np.int64)
    q = np.zeros(n, dtype=np.uint8)
    whole = plausible.mark_batch(m, t, v, q, p)
    cut = min(cut, n)
    first, cand = plausible.mark(
        m[:cut], t[:cut], v[:cut], q[:cut], p, np.full(cut, NO_TIME), np.zeros(cut)
    )
    last = np.flatnonzero(cand)
    prev_t = int(t[last[-1]]) if len(last) else NO_TIME
    prev_v = float(v[last[-1]]) if len(last) else 0.0
    rest, _ = plausible.mark(
        m[cut:],
        t[cut:],
        v[cut:],
        q[cut:],
        p,
        np.full(n - cut, prev_t, dtype=np.int64),
        np.full(n - cut, prev_v),
    )
    assert np.concatenate([first, rest]).tolist() == whole.tolist()
    # and the rule, written out: a rise beyond 91.67 kWh in a step since the previous one
    expected = [0] + [JUMP if b - a > 1100 / 12 else 0 for a, b in itertools.pairwise(v)]
    assert whole.tolist() == expected
