"""The ledger part of a batch run: matching, offsets and net, from the plant file.

The same rules the API applies to its stored account: annual and hourly
matching are :func:`carbonstream.ledger.matching.match_site` (``/v1/matching``),
the net and zero-carbon status are :func:`carbonstream.ledger.offsets.net_inventory`
(``/v1/inventory``'s ``offsetting``), and a retirement counts in a period when
the emissions it offsets lie inside it (:func:`carbonstream.ledger.offsets.counts_in`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

import numpy as np
from numpy.typing import NDArray

from carbonstream.compute import Account, concat_parts
from carbonstream.config.plant import InstrumentType, Plant
from carbonstream.core.batch import NS_PER_S
from carbonstream.core.calendar import to_calendar
from carbonstream.ledger.matching import (
    InstrumentHours,
    Matching,
    claim_inside,
    match_site,
    profile_hours,
    surplus_hours,
)
from carbonstream.ledger.offsets import (
    RULES,
    Retired,
    SiteGross,
    check_credit,
    counts_in,
    kind,
    net_inventory,
    whole_days,
)
from carbonstream.ledger.rules import LedgerError

NS_PER_H = 3600 * NS_PER_S


def span_ns(acc: Account) -> tuple[int, int] | None:
    """The reporting window: the --from/--to cut, or first .. last reading."""
    if acc.window_ns is not None:
        return acc.window_ns
    if acc.first_ns is None or acc.last_ns is None:
        return None
    return acc.first_ns, acc.last_ns


def local_days(plant: Plant, lo_ns: int, hi_ns: int) -> tuple[dt.date, dt.date]:
    """The plant-local days lying wholly inside the window [lo, hi)."""
    return whole_days(
        dt.datetime.fromtimestamp(lo_ns // NS_PER_S, dt.UTC),
        dt.datetime.fromtimestamp(hi_ns // NS_PER_S, dt.UTC),
        plant.zone,
    )


# --- offsets and net -----------------------------------------------------------------


def offsets(
    plant: Plant, site_totals: dict[str, dict[str, float]], lo_ns: int, hi_ns: int
) -> dict[str, Any]:
    """Holdings, the retirements counted for the window, and the net on both bases."""
    first, last = local_days(plant, lo_ns, hi_ns)
    holdings = []
    counted: list[dict[str, Any]] = []
    retired: list[Retired] = []
    for h in plant.offsets:
        try:
            check_credit(h.id, h.standard, h.adjustment, h.ets_surrendered)
            refusal = None
        except LedgerError as e:
            refusal = str(e)
        holdings.append(
            {
                "id": h.id,
                "kind": kind(h.standard),
                "standard": h.standard.value,
                "registry": h.registry_name,
                "project": h.project,
                "serials": h.serials,
                "vintage": h.vintage,
                "corresponding_adjustment": h.adjustment.value,
                "ets_surrendered": h.ets_surrendered,
                "tco2e": float(h.range.count),
                "retired_t": float(sum(r.tco2e for r in h.retirements)),
                "usable": refusal is None,
                "refusal": refusal,
            }
        )
        for r in h.retirements:
            if not counts_in(r.period.start, r.period.end, first, last):
                continue
            cid = f"{h.id}:{r.range}"
            retired.append(Retired(cid, r.site, h.standard, float(r.tco2e)))
            counted.append(
                {
                    "id": cid,
                    "offset": h.id,
                    "kind": kind(h.standard),
                    "standard": h.standard.value,
                    "registry": h.registry_name,
                    "project": h.project,
                    "vintage": h.vintage,
                    "corresponding_adjustment": h.adjustment.value,
                    "serials": str(r.range),
                    "tco2e": float(r.tco2e),
                    "retired_on": r.retired_on.isoformat(),
                    "purpose": r.purpose,
                    "site": r.site,
                    "period": {
                        "start": r.period.start.isoformat(),
                        "end": r.period.end.isoformat(),
                    },
                }
            )
    gross = {
        s.id: SiteGross(
            site_totals.get(s.id, {}).get("scope1_t", 0.0),
            site_totals.get(s.id, {}).get("scope2_location_t", 0.0),
            site_totals.get(s.id, {}).get("scope2_market_t", 0.0),
        )
        for s in plant.sites
    }
    net = net_inventory(gross, retired, plant.zero_carbon.scope2_basis, plant_wide=True)
    return {
        "days": {"first": first.isoformat(), "last": last.isoformat()},
        "holdings": holdings,
        "retirements": counted,
        "offsetting": asdict(net),
        "rules": [asdict(r) for r in RULES],
    }


# --- matching --------------------------------------------------------------------------


def _hour_floor(ns: int, plant: Plant) -> int:
    return int(to_calendar(np.array([ns], dtype=np.int64), "hour", plant.zone)[0])


def matching(acc: Account, lo_ns: int, hi_ns: int) -> list[dict[str, Any]]:
    """Per site: annual and hourly matching of its instruments over the window's whole
    local hours, with the hours where generation exceeded consumption."""
    plant = acc.plant
    zone = plant.zone
    s_ns = _hour_floor(lo_ns, plant)
    e_ns = _hour_floor(hi_ns - 1, plant) + NS_PER_H
    n = (e_ns - s_ns) // NS_PER_H
    s = dt.datetime.fromtimestamp(s_ns / NS_PER_S, dt.UTC)
    e = dt.datetime.fromtimestamp(e_ns / NS_PER_S, dt.UTC)
    site = concat_parts(acc.site, np.int32)
    bucket = concat_parts(acc.bucket, np.int64)
    grid = acc.column("grid_import_mwh")
    lin = concat_parts(acc.residual_lineage, np.int32)
    ef_of = np.array([x.ef_co2e for x in acc.engine.lineages] or [0.0])
    inside = (bucket >= s_ns) & (bucket < e_ns)
    hour_idx = np.zeros(len(bucket), dtype=np.intp)
    if inside.any():
        hour_idx[inside] = (to_calendar(bucket[inside], "hour", zone) - s_ns) // NS_PER_H
    first_day = s.astimezone(zone).date()
    last_day = (e - dt.timedelta(microseconds=1)).astimezone(zone).date()
    out = []
    for k, st in enumerate(plant.sites):
        sel = inside & (site == k)
        cons = np.bincount(hour_idx[sel], weights=grid[sel], minlength=n)[:n].astype(np.float64)
        ef = np.zeros(n)
        np.maximum.at(ef, hour_idx[sel], ef_of[lin[sel]])
        listed, counted = _site_instruments(plant, st.id, s, e, n, first_day, last_day)
        annual, hourly = match_site(cons, ef, counted)
        gen = np.zeros(n)
        for c in counted:
            if c.hourly is not None:
                gen += c.hourly
        out.append(
            {
                "site": st.id,
                "period": {
                    "start": s.astimezone(zone).isoformat(),
                    "end": e.astimezone(zone).isoformat(),
                    "hours": float(n),
                },
                "residual_factor_t_per_mwh": float((cons * ef).sum() / cons.sum())
                if cons.sum() > 0
                else 0.0,
                "instruments": listed,
                "annual": _result(annual),
                "hourly": _result(hourly),
                "difference_t": hourly.market_t - annual.market_t,
                "surplus_hours": [
                    {
                        "hour": (s + dt.timedelta(hours=int(i))).astimezone(zone).isoformat(),
                        "consumption_mwh": float(cons[i]),
                        "instruments_mwh": float(gen[i]),
                        "surplus_mwh": float(gen[i] - cons[i]),
                    }
                    for i in surplus_hours(cons, gen)
                ],
            }
        )
    return out


def _result(m: Matching) -> dict[str, float]:
    return {
        "consumption_mwh": m.consumption_mwh,
        "instruments_mwh": m.instruments_mwh,
        "covered_mwh": m.covered_mwh,
        "uncovered_mwh": m.uncovered_mwh,
        "surplus_mwh": m.surplus_mwh,
        "coverage_pct": m.coverage_pct,
        "market_t": m.market_t,
    }


def _site_instruments(
    plant: Plant,
    site: str,
    s: dt.datetime,
    e: dt.datetime,
    n: int,
    first_day: dt.date,
    last_day: dt.date,
) -> tuple[list[dict[str, Any]], list[InstrumentHours]]:
    """The site's certificates and contracts whose claim overlaps the days, as the API lists
    them (claim end, then id); counted when the whole claim lies inside the period."""
    zone = plant.zone
    mine = [
        i
        for i in plant.instruments
        if i.site == site
        and i.type is not InstrumentType.SUPPLIER_FACTOR
        and i.claim_period.start <= last_day
        and i.claim_period.end >= first_day
    ]
    mine.sort(key=lambda i: (i.claim_period.end, i.id))
    listed, counted = [], []
    for i in mine:
        assert i.mwh is not None
        c = i.claim_period
        lo = dt.datetime(c.start.year, c.start.month, c.start.day, tzinfo=zone)
        end = c.end + dt.timedelta(days=1)
        hi = dt.datetime(end.year, end.month, end.day, tzinfo=zone)
        profile: NDArray[np.float64] | None = None
        if i.hourly is not None:
            profile = profile_hours(((x.hour, x.kwh / 1000.0) for x in i.hourly), s, n, lo, hi)
        counts = claim_inside(lo, hi, s, e)
        if counts:
            counted.append(InstrumentHours(i.mwh, i.emission_factor_t_per_mwh, profile))
        listed.append(
            {
                "instrument": i.id,
                "type": i.type.value,
                "serials": i.serials,
                "claim": {"start": c.start.isoformat(), "end": c.end.isoformat()},
                "mwh": i.mwh,
                "kwh": i.mwh * 1000.0,
                "emission_factor_t_per_mwh": i.emission_factor_t_per_mwh,
                "counted": counts,
                "hourly": profile is not None,
                "hourly_mwh": float(profile.sum()) if profile is not None else 0.0,
                "note": (
                    "counted in annual and hourly matching (hourly profile of the plant file)"
                    if counts and profile is not None
                    else "counted in annual matching only (no hourly profile)"
                    if counts
                    else f"claim period {c.start}..{c.end} is not inside the period: not counted"
                ),
            }
        )
    return listed, counted
