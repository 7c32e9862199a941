"""Annual vs hourly matching of a site's instruments, side by side.

The 2015 GHG Protocol Scope 2 Guidance matches instruments to consumption by
volume over the period; the 2025-27 revision proposes hourly matching. Both are
computed here from the same data: the site's consumption per local hour (grid
import of the stored minutes) and, per instrument counted, its MWh (annual) and
its share of its contract's hourly generation (hourly). A contract without
hourly data counts in annual matching only, and the report says so. The
arithmetic is the ledger's (:mod:`carbonstream.ledger.matching`).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from carbonstream.config.plant import Plant
from carbonstream.core.library import FactorLibrary
from carbonstream.core.meters import MeterParams
from carbonstream.core.resolve import Resolver
from carbonstream.domain.green_model import (
    DateRange,
    MatchedInstrument,
    MatchingHour,
    MatchingReport,
    MatchingResult,
    PeriodOut,
    StoredAccount,
)
from carbonstream.ledger.matching import (
    InstrumentHours,
    Matching,
    claim_inside,
    match_site,
    profile_hours,
)
from carbonstream.store import green as q
from carbonstream.store.db import AsyncConn


def _result(m: Matching) -> MatchingResult:
    return MatchingResult(
        consumption_mwh=m.consumption_mwh,
        instruments_mwh=m.instruments_mwh,
        covered_mwh=m.covered_mwh,
        uncovered_mwh=m.uncovered_mwh,
        surplus_mwh=m.surplus_mwh,
        coverage_pct=m.coverage_pct,
        market_t=m.market_t,
    )


def _midnight(d: dt.date, plant: Plant) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day, tzinfo=plant.zone)


async def matching_report(
    conn: AsyncConn,
    plant: Plant,
    library: FactorLibrary,
    params: MeterParams,
    site: str,
    site_key: int,
    s: dt.datetime,
    e: dt.datetime,
    hours: bool,
) -> MatchingReport:
    """Matching of ``site`` over [s, e), whole local hours; ``hours``: every hour's figures."""
    zone = plant.zone
    n = round((e - s).total_seconds() / 3600)
    first_day = s.astimezone(zone).date()
    last_day = (e - dt.timedelta(microseconds=1)).astimezone(zone).date()

    use = await q.hourly_consumption(conn, site_key, s, e, plant.timezone)
    cons = np.zeros(n)
    ef = np.full(n, np.nan)
    stored = np.zeros(3)
    for u in use:
        i = round((u.hour - s).total_seconds() / 3600)
        if 0 <= i < n:
            cons[i] += u.mwh
            if u.residual_ef is not None:
                ef[i] = u.residual_ef
        stored += (u.covered_mwh, u.market_t, u.location_t)
    notes: list[str] = []
    missing = np.isnan(ef) & (cons > 0)
    if missing.any():
        resolver = Resolver(plant, library, params)
        site_index = [x.id for x in plant.sites].index(site)
        for k in np.flatnonzero(missing):
            local = (s + dt.timedelta(hours=int(k))).astimezone(zone)
            ef[k] = resolver.month(local.year, local.month).residual_ef[site_index]
        notes.append(
            f"{int(missing.sum())} hours had no stored residual factor: the plant's factor "
            "library gave it"
        )
    ef = np.nan_to_num(ef)
    residual_mean = float((cons * ef).sum() / cons.sum()) if cons.sum() > 0 else 0.0

    instruments = await q.site_instruments(conn, site_key, first_day, last_day)
    contracts = sorted({i.contract for i in instruments if i.contract is not None})
    profiles = await q.hourly_rows(conn, contracts)
    listed: list[MatchedInstrument] = []
    counted: list[InstrumentHours] = []
    annual_only: list[str] = []
    in_file = {i.id: i for i in plant.instruments}
    for ins in instruments:
        lo, hi = (
            _midnight(ins.claim_start, plant),
            _midnight(ins.claim_end + dt.timedelta(days=1), plant),
        )
        inside = claim_inside(lo, hi, s, e)
        rows = profiles.get(ins.contract or "", [])
        profile: np.ndarray | None = None
        note = ""
        mine = in_file.get(ins.id) if ins.contract is None else None
        if mine is not None and mine.hourly is not None:
            profile = profile_hours(((x.hour, x.kwh / 1000.0) for x in mine.hourly), s, n, lo, hi)
            note = "the hourly profile of the plant file, inside its claim period"
        elif ins.contract is None:
            note = "an instrument of the plant file: no hourly data (annual matching only)"
        elif not rows:
            note = "no hourly data loaded for its contract: counts in annual matching only"
        else:
            share = ins.mwh / ins.contract_mwh if ins.contract_mwh else 0.0
            profile = profile_hours(rows, s, n, lo, hi, share)
            note = (
                f"its share ({ins.mwh:g} of {ins.contract_mwh:g} certificates) of contract "
                f"{ins.contract}'s hourly generation in its claim period"
            )
        if not inside:
            note = (
                f"claim period {ins.claim_start}..{ins.claim_end} is not inside the period: "
                "not counted (ask for a period that holds it)"
            )
        elif profile is None:
            annual_only.append(ins.id)
        if inside:
            counted.append(InstrumentHours(ins.mwh, ins.ef_t_per_mwh, profile))
        listed.append(
            MatchedInstrument(
                instrument=ins.id,
                contract=ins.contract,
                type=ins.type,
                serials=ins.serials,
                claim=DateRange(start=ins.claim_start, end=ins.claim_end),
                mwh=ins.mwh,
                emission_factor_t_per_mwh=ins.ef_t_per_mwh,
                counted=inside,
                hourly=profile is not None,
                hourly_mwh=float(profile.sum()) if profile is not None else 0.0,
                note=note,
            )
        )
    annual, hourly = match_site(cons, ef, counted)
    if annual_only:
        notes.append(
            "without hourly data, counted in annual matching only: " + ", ".join(annual_only)
        )
    notes += [
        "Annual matching is the GHG Protocol Scope 2 Guidance (2015) method; hourly matching "
        "is the revision's proposal (consultation 2025, final standard expected 2027).",
        "An instrument covers only its own hour's consumption in hourly matching; a surplus "
        "never makes emissions negative and does not carry to another hour.",
        "The residual factor is the one the stored minutes used (China: MEE/NBS national "
        "factor excluding market-traded non-fossil power, a proxy for a residual mix).",
    ]
    gen = np.zeros(n)
    for c in counted:
        if c.hourly is not None:
            gen += c.hourly
    return MatchingReport(
        site=site,
        period=PeriodOut(start=s.astimezone(zone), end=e.astimezone(zone), hours=float(n)),
        residual_factor_t_per_mwh=residual_mean,
        instruments=listed,
        annual=_result(annual),
        hourly=_result(hourly),
        difference_t=hourly.market_t - annual.market_t,
        stored=StoredAccount(
            covered_mwh=float(stored[0]), market_t=float(stored[1]), location_t=float(stored[2])
        ),
        hours=[
            MatchingHour(
                hour=(s + dt.timedelta(hours=i)).astimezone(zone),
                consumption_mwh=float(cons[i]),
                instruments_mwh=float(gen[i]),
                covered_mwh=float(min(cons[i], gen[i])),
            )
            for i in range(n)
        ]
        if hours
        else None,
        notes=notes,
    )
