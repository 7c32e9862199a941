"""Ledger rules on hand-made cases: double and over-allocation, expiry, double retirement."""

from __future__ import annotations

import datetime as dt

import pytest

from carbonstream.ledger import (
    Allocation,
    Certificate,
    LedgerError,
    Offset,
    Retirement,
    SerialRange,
    check_allocation,
    check_retirement,
    net_emissions,
)
from carbonstream.ledger.status import zero_carbon

D = dt.date
CERT = Certificate(
    "gec-1",
    SerialRange.parse("GEC2026110001-GEC2026110100"),
    D(2026, 11, 1),
    D(2026, 11, 30),
    "wind, Gansu",
)


NOV_1, NOV_30, DEC_5 = D(2026, 11, 1), D(2026, 11, 30), D(2026, 12, 5)


def alloc(serials: str, start: D = NOV_1, end: D = NOV_30, on: D = DEC_5) -> Allocation:
    return Allocation("gec-1", SerialRange.parse(serials), "assembly", start, end, on)


def test_serial_range() -> None:
    r = SerialRange.parse("GEC2026110001-GEC2026110100")
    assert r.count == 100 and r.prefix == "GEC"
    assert str(r) == "GEC2026110001-GEC2026110100"
    with pytest.raises(LedgerError, match="same prefix"):
        SerialRange.parse("GEC1-XYZ5")
    with pytest.raises(LedgerError, match="ends before"):
        SerialRange.parse("A10-A5")


def test_valid_allocation_passes() -> None:
    check_allocation(CERT, alloc("GEC2026110001-GEC2026110040"), [], 60.0, 0.0)


def test_double_allocation_is_refused() -> None:
    first = alloc("GEC2026110001-GEC2026110040")
    with pytest.raises(LedgerError, match="claimed once"):
        check_allocation(CERT, alloc("GEC2026110040-GEC2026110050"), [first], 500.0, 40.0)


def test_over_allocation_beyond_consumption_is_refused() -> None:
    with pytest.raises(LedgerError, match=r"exceed the 20\.000 MWh"):
        check_allocation(CERT, alloc("GEC2026110001-GEC2026110030"), [], 50.0, 30.0)


def test_serials_outside_the_certificate_are_refused() -> None:
    with pytest.raises(LedgerError, match="not part of"):
        check_allocation(CERT, alloc("GEC2026110090-GEC2026110110"), [], 500.0, 0.0)


def test_expired_certificate_is_refused() -> None:
    # Generated Nov 2026: valid until 2028-10-31.
    assert CERT.valid_until == D(2028, 10, 31)
    old = Certificate("gec-1", CERT.serials, D(2023, 6, 1), D(2023, 6, 30))
    assert old.valid_until == D(2025, 12, 31)
    with pytest.raises(LedgerError, match="expired"):
        check_allocation(
            old,
            alloc("GEC2026110001-GEC2026110002", D(2023, 6, 1), D(2023, 6, 30), on=D(2026, 1, 2)),
            [],
            10.0,
            0.0,
        )


def test_vintage_must_match_consumption_year() -> None:
    with pytest.raises(LedgerError, match="vintage"):
        check_allocation(
            CERT, alloc("GEC2026110001-GEC2026110002", D(2027, 1, 1), D(2027, 1, 31)), [], 10.0, 0.0
        )


def test_offset_retired_once() -> None:
    off = Offset("ccer-1", SerialRange.parse("CCER1000-CCER1999"), "offshore wind, Jiangsu", 2025)
    first = Retirement(
        "ccer-1", SerialRange.parse("CCER1000-CCER1099"), D(2026, 12, 1), "2026 claim"
    )
    check_retirement(off, first, [])
    with pytest.raises(LedgerError, match="cannot be used again"):
        check_retirement(
            off,
            Retirement("ccer-1", SerialRange.parse("CCER1099-CCER1100"), D(2026, 12, 2), "again"),
            [first],
        )
    with pytest.raises(LedgerError, match="needs a purpose"):
        check_retirement(
            off,
            Retirement("ccer-1", SerialRange.parse("CCER1200-CCER1200"), D(2026, 12, 2), " "),
            [first],
        )


def test_net_and_zero_carbon() -> None:
    # 120 t Scope 1 + 380 t market-based Scope 2 - 450 t retired = 50 t left.
    n = net_emissions(120.0, 380.0, 450.0)
    assert (
        n.net_t == pytest.approx(50.0)
        and not n.zero_carbon
        and n.remaining_t == pytest.approx(50.0)
    )
    z = net_emissions(120.0, 380.0, 500.0)
    assert z.zero_carbon and z.remaining_t == 0.0 and z.scope1_t == 120.0  # gross kept


def test_zero_carbon_per_site_and_together() -> None:
    gross = {"assembly": (4.0, 1.2), "foundry": (0.0, 0.0)}
    rets = [(1, "assembly", 5.0), (2, None, 1.0)]
    total, sites = zero_carbon(gross, rets, "market", plant_wide=True)
    a = sites[0].net
    assert (
        a.net_t == pytest.approx(0.2) and not a.zero_carbon and a.remaining_t == pytest.approx(0.2)
    )
    assert sites[0].retirements == [1] and sites[1].net.zero_carbon
    assert total.net.net_t == pytest.approx(-0.8) and total.net.zero_carbon
    assert total.retirements == [1, 2] and total.net.remaining_t == 0.0
    # A selection of sites: plant-wide retirements do not count in it.
    sel, _ = zero_carbon({"assembly": (4.0, 1.2)}, rets, "market", plant_wide=False)
    assert sel.net.net_t == pytest.approx(0.2) and sel.retirements == [1]
