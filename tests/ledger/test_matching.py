"""Hourly vs annual matching on a hand-computed case."""

from __future__ import annotations

import numpy as np
import pytest

from carbonstream.ledger.matching import InstrumentHours, annual_match, hourly_match, match_site


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


def test_match_site_counts_hourly_only_what_is_known_hour_by_hour() -> None:
    # The API test's case: 3 MWh an hour; a PPA of 8 (0, 3, 5, 0 by hour) and 2 GECs
    # without hourly data; residual 0.6 t/MWh in every hour.
    use = np.full(4, 3.0)
    ppa = InstrumentHours(8.0, 0.0, np.array([0.0, 3.0, 5.0, 0.0]))
    gec = InstrumentHours(2.0, 0.0, None)
    annual, hourly = match_site(use, np.full(4, 0.6), [ppa, gec])
    assert (annual.covered_mwh, annual.uncovered_mwh, annual.surplus_mwh) == (10.0, 2.0, 0.0)
    assert annual.market_t == pytest.approx(1.2)
    assert (hourly.instruments_mwh, hourly.covered_mwh, hourly.surplus_mwh) == (8.0, 6.0, 2.0)
    assert hourly.market_t == pytest.approx(3.6) and hourly.coverage_pct == 50.0


def test_residual_per_hour_and_instrument_rate() -> None:
    # Residual 0.5 then 1.0 t/MWh; 1 MWh an hour; 1 MWh of a 0.1 t/MWh instrument in hour 2.
    use = np.array([1.0, 1.0])
    gen = np.array([0.0, 1.0])
    res = np.array([0.5, 1.0])
    h = hourly_match(use, gen, res, instrument_ef=0.1)
    assert h.market_t == pytest.approx(1 * 0.5 + 1 * 0.1)  # hour 1 uncovered, hour 2 covered
    a = annual_match(use, gen, res, instrument_ef=0.1)
    # Volume: 1 of 2 MWh covered; the uncovered MWh at the consumption-weighted 0.75.
    assert a.market_t == pytest.approx(0.75 + 0.1)
