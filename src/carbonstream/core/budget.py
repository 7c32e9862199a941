"""A budget's state (ok, warning, over, warming up): one definition for the API and the page.

The live projection holds the trailing hour's rate to the end of the day or
month. It is *warming up* until that rate rests on :data:`PROJECTION_MIN_COVERED_S`
of data: before the site's data covers the whole hour, the rate rests on a few
minutes that include start-up (in the demo the first minute read 0.959 t/h and
six minutes later 0.331 t/h), and it is multiplied by up to 743 hours left in
a month, which made a fresh hall read "projected 176.2 %" thirty seconds in.
An hour also spans the plant's shorter cycles (furnace charges, compressor
duty), so the projection no longer swings with them.

What has been used is a measured fact and not a projection, so ``over`` and
``warning`` from use apply at once, also while the projection warms up.
"""

from __future__ import annotations

from enum import StrEnum

PROJECTION_MIN_COVERED_S = 3600  # the whole trailing hour whose rate is held
WARN_USED_PCT = 80.0  # used this much of the budget: warning, whatever is projected
WARN_PROJECTED_PCT = 100.0  # projected to pass the budget: warning


class BudgetState(StrEnum):
    OK = "ok"
    WARNING = "warning"  # used ≥ WARN_USED_PCT, or projected (when ready) ≥ WARN_PROJECTED_PCT
    OVER = "over"  # used ≥ 100 %
    WARMING_UP = "warming_up"  # the projection rests on too little data to judge


def projection_ready(covered_s: int) -> bool:
    """Whether a projection holding a rate over ``covered_s`` seconds may be judged."""
    return covered_s >= PROJECTION_MIN_COVERED_S


def budget_state(used_pct: float, projected_pct: float | None, covered_s: int) -> BudgetState:
    """The state of a budget from its use so far and its projection (None: no rate yet)."""
    if used_pct >= 100.0:
        return BudgetState.OVER
    if used_pct >= WARN_USED_PCT:
        return BudgetState.WARNING
    if projected_pct is None or not projection_ready(covered_s):
        return BudgetState.WARMING_UP
    if projected_pct >= WARN_PROJECTED_PCT:
        return BudgetState.WARNING
    return BudgetState.OK
