"""Hourly vs annual matching on a hand-computed case."""

from __future__ import annotations

import numpy as np
import pytest

from carbonstream.ledger.matching import annual_match, hourly_match


def test_solar_ppa_hourly_vs_annual() -> None:
    # Four hours: a factory using 2 MWh every hour; solar 0, 3, 5, 0 MWh.
    # Annual (volume): 8 MWh instruments vs 8 MWh used -> fully covered, 0 t.
    # Hourly: min(2,0)+min(2,3)+min(2,5)+min(2,0) = 4 MWh covered, 4 uncovered
    # x residual 0.6096 = 2.4384 t; surplus 4 MWh (the noon excess).
    use = np.array([2.0, 2.0, 2.0, 2.0])
    sun = np.array([0.0, 3.0, 5.0, 0.0])
    a = annual_match(use, sun, 0.6096)
    h = hourly_match(use, sun, 0.6096)
    assert (a.covered_mwh, a.market_t, a.coverage_pct) == (8.0, 0.0, 100.0)
    assert h.covered_mwh == 4.0 and h.surplus_mwh == 4.0
    assert h.market_t == pytest.approx(2.4384)
    assert h.coverage_pct == 50.0


def test_shapes_must_match() -> None:
    with pytest.raises(ValueError, match="same hours"):
        hourly_match(np.zeros(3), np.zeros(4), 0.5)
