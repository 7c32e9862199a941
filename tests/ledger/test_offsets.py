"""Offsets under the 2026 zero-carbon factory guidance, on hand-worked cases.

The rules are ledger.offsets (the plant file, compute and the API apply the same).
"""

from __future__ import annotations

import pytest

from carbonstream.ledger import LedgerError
from carbonstream.ledger.offsets import (
    RULES,
    CorrespondingAdjustment,
    Credit,
    Retired,
    SiteGross,
    Standard,
    apply_offsets,
    check_credit,
    net_inventory,
)

CA = CorrespondingAdjustment


def test_ccer_first_then_international_whatever_the_order_retired() -> None:
    """Gross 60 t. Retired: 50 t VCS (listed first) and 30 t CCER.
    CCER first: CCER applies min(30, 60) = 30 t, 30 t left; VCS applies min(50, 30) = 30 t,
    its other 20 t are surplus. Net = 60 - 80 = -20 t (not clamped): zero-carbon, over-offset
    20 t, nothing remaining."""
    o = apply_offsets(
        60.0, [Credit("vcs", Standard.VCS, 50.0), Credit("ccer", Standard.CCER, 30.0)]
    )
    assert [c.id for c in o.credits] == ["ccer", "vcs"]
    ccer, vcs = o.credits
    assert (ccer.kind, ccer.applied_t, ccer.surplus_t) == ("ccer", 30.0, 0.0)
    assert (vcs.kind, vcs.applied_t, vcs.surplus_t) == ("international", 30.0, 20.0)
    assert (o.ccer_t, o.international_t, o.offsets_t) == (30.0, 50.0, 80.0)
    assert o.net_t == -20.0 and o.zero_carbon and o.over_offset and o.over_offset_t == 20.0
    assert o.remaining_t == 0.0 and o.gross_t == 60.0


def test_ccer_alone_covers_and_international_is_all_surplus() -> None:
    """Gross 25 t; CCER 40 t covers it (applied 25, surplus 15); Gold Standard 10 t finds
    nothing left: applied 0, surplus 10. Net = 25 - 50 = -25 t."""
    o = apply_offsets(
        25.0, [Credit("gs", Standard.GOLD_STANDARD, 10.0), Credit("c", Standard.CCER, 40.0)]
    )
    assert [(c.id, c.applied_t, c.surplus_t) for c in o.credits] == [
        ("c", 25.0, 15.0),
        ("gs", 0.0, 10.0),
    ]
    assert o.net_t == -25.0 and o.over_offset_t == 25.0


def test_under_offset_leaves_a_remainder_and_no_flag() -> None:
    """Gross 100 t - CCER 30 t - CDM 20 t = 50 t left: not zero-carbon, no over-offset."""
    o = apply_offsets(100.0, [Credit("a", Standard.CCER, 30.0), Credit("b", Standard.CDM, 20.0)])
    assert (o.net_t, o.remaining_t, o.zero_carbon, o.over_offset) == (50.0, 50.0, False, False)
    # Exactly covered: zero-carbon, not over-offset.
    e = apply_offsets(50.0, [Credit("a", Standard.CCER, 50.0)])
    assert e.net_t == 0.0 and e.zero_carbon and not e.over_offset


def test_credits_surrendered_for_the_ets_are_refused_with_the_rule() -> None:
    with pytest.raises(LedgerError, match="surrendered for national ETS compliance") as e:
        check_credit("CCER-ETS", Standard.CCER, CA.NOT_APPLICABLE, ets_surrendered=True)
    assert "ets-surrendered" in str(e.value) and "温室气体自愿减排交易管理办法" in str(e.value)
    # The same credits, not surrendered: usable.
    check_credit("CCER-OK", Standard.CCER, CA.NOT_APPLICABLE, ets_surrendered=False)


@pytest.mark.parametrize("ca", [CA.NOT_APPLIED, CA.UNKNOWN])
def test_international_credit_needs_a_corresponding_adjustment(ca: CA) -> None:
    with pytest.raises(LedgerError, match="corresponding-adjustment"):
        check_credit("VCS-1", Standard.VCS, ca, ets_surrendered=False)
    check_credit("VCS-2", Standard.VCS, CA.APPLIED, ets_surrendered=False)
    check_credit("A64", Standard.ARTICLE_6_4, CA.APPLIED, ets_surrendered=False)


def test_every_rule_names_its_source() -> None:
    ids = {r.id for r in RULES}
    assert {"ccer-first", "corresponding-adjustment", "ets-surrendered", "gross-kept"} <= ids
    assert all(r.source.strip() and r.text.strip() for r in RULES)


def test_net_on_both_bases_per_site_and_plant_wide() -> None:
    """assembly: Scope 1 4 t, Scope 2 location 4.8 t, market 1.2 t; foundry: 10, 20, 15.
    Retired: 5 t CCER for assembly, 12 t VCS plant-wide.
    Plant, market: gross 4 + 1.2 + 10 + 15 = 30.2; net 30.2 - 17 = 13.2.
    Plant, location: 4 + 4.8 + 10 + 20 = 38.8; net 21.8.
    Assembly, market: 5.2 - 5 = 0.2 (the plant-wide credit counts only plant-wide).
    A selection of sites (plant_wide False): 30.2 - 5 = 25.2."""
    gross = {"assembly": SiteGross(4.0, 4.8, 1.2), "foundry": SiteGross(10.0, 20.0, 15.0)}
    rets = [
        Retired("c:1", "assembly", Standard.CCER, 5.0),
        Retired("v:1", None, Standard.VCS, 12.0),
    ]
    n = net_inventory(gross, rets, "market", plant_wide=True)
    assert n.market.net_t == pytest.approx(13.2) and n.location.net_t == pytest.approx(21.8)
    assert n.market.gross_t == pytest.approx(30.2) and n.location.gross_t == pytest.approx(38.8)
    assert (n.zero_carbon, n.over_offset, n.zero_carbon_basis) == (False, False, "market")
    a = n.sites_market[0]
    assert a.site == "assembly" and a.net_t == pytest.approx(0.2) and a.offsets_t == 5.0
    assert n.sites_market[1].offsets_t == 0.0
    sel = net_inventory(gross, rets, "location", plant_wide=False)
    assert sel.market.net_t == pytest.approx(25.2) and sel.zero_carbon_basis == "location"
    assert sel.zero_carbon == sel.location.zero_carbon
