"""An interval that was not counted is a flag on its meter's lines, not only a number
in the quality counts: the stored lines (and so the API's meter quality) show it."""

from __future__ import annotations

import numpy as np
import pytest

from carbonstream.compute import run
from carbonstream.core import Engine, FactorLibrary, Flag, ReadingBatch
from tests.plants import meter, ns, plant

LIB = FactorLibrary.load()


def test_reset_leaves_a_flagged_line_with_no_quantity_and_no_site_minute() -> None:
    # kWh counter without a range: 100 -> 150 (counted, 50 kWh), then 150 -> 20 (a drop
    # that cannot be a wrap: a reset, not counted), then 20 -> 60 (counted, 40 kWh).
    p = plant([meter("g", rating=10_000.0)])  # up to 183 kWh a minute is plausible
    engine = Engine(p, LIB)
    rows = [
        ("2026-03-02T08:00:30+08:00", 100.0),
        ("2026-03-02T08:01:30+08:00", 150.0),
        ("2026-03-02T08:03:00+08:00", 20.0),
        ("2026-03-02T08:04:00+08:00", 60.0),
    ]
    batch = ReadingBatch.of([0] * 4, [ns(t) for t, _ in rows], [v for _, v in rows])
    acc = run(engine, batch)
    flags = np.concatenate(acc.line_flags)
    qty = np.concatenate(acc.line_qty)
    covered = np.concatenate(acc.line_covered)
    reset = np.flatnonzero(flags & Flag.RESET)
    # The reset interval (08:01:30, 08:03:00] ends in the 08:02 minute: one flagged line
    # with nothing counted in it.
    assert len(reset) == 1 and qty[reset[0]] == 0 and covered[reset[0]] == 0
    assert qty.sum() == pytest.approx(0.090)  # 50 + 40 kWh = 0.090 MWh
    assert acc.counts.resets == 1
    # No site minute is made by the flag alone: minutes 08:00, 08:01 (first interval)
    # and 08:03 (the last one) carry counted time; 08:02 carries the flag only.
    assert len(np.concatenate(acc.site)) == 3
    rep_flags = {int(f) for f in flags}
    assert any(f & Flag.RESET for f in rep_flags)
