"""The figures of a monthly report, gathered from the stored account.

No accounting and no second copy of the inventory queries: the month's totals,
Scope 1 by fuel and source, Scope 2 both ways, exports, factors, certificates,
offsets and net are the inventory's (``domain.inventory.assemble`` of the month's
:class:`~carbonstream.domain.selection.Selection`), the call ``GET /v1/inventory``
makes, so the report serves exactly what the API does for the same period.
The daily series are the emission series queries (``store.queries.series``,
what ``GET /v1/emissions`` and ``/v1/meters/{id}/emissions`` serve) in day
buckets of the plant's time zone. Intensity divides with ``core.intensity``.
The evidence chain head is read from ``evidence_chain`` (``carbonstream seal``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

from carbonstream.config.plant import MeterKind, Plant
from carbonstream.core.intensity import Intensity, intensity
from carbonstream.core.library import FactorLibrary
from carbonstream.core.meters import MeterParams
from carbonstream.domain import inventory as inventory_builder
from carbonstream.domain.bounds import FIRST_YEAR, LAST_YEAR
from carbonstream.domain.inventory_model import Inventory
from carbonstream.domain.selection import Selection
from carbonstream.errors import CarbonstreamError
from carbonstream.footprint import service as footprint_service
from carbonstream.footprint.model import ProductFootprint
from carbonstream.i18n import DEFAULT_LOCALE, Locale, Msg
from carbonstream.monthly.energy import EnergySection, gather_energy
from carbonstream.store import evidence as evidence_q
from carbonstream.store.db import AsyncConn
from carbonstream.store.queries import energy as energy_q
from carbonstream.store.queries import series
from carbonstream.store.queries.series import Bucket

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
DAILY_COLUMNS = ("scope1_t", "scope2_location_t", "scope2_market_t", "grid_import_mwh")
PLANT = "plant"  # the key of the plant-wide daily series

# What a meter flag means for the reader of the report (core/flags.py).
FLAG_NOTES = {
    "derived": "integrated from instantaneous power (no energy register)",
    "rollover": "counter wrapped at its range (counted)",
    "reset": "counter dropped without a possible wrap (interval not counted)",
    "replacement": "a recorded meter replacement was applied",
    "gap": "samples too far apart (not bridged, not counted)",
    "implausible": "a jump above the meter's rating (not counted)",
    "spread": "a counter delta over a long gap, spread evenly",
}


class ReportError(CarbonstreamError):
    """The report cannot be made as asked (bad month, unknown site, no plant). ``detail``
    says why in both languages (a catalogue message; ``str()`` is the English)."""

    def __init__(self, detail: Msg) -> None:
        super().__init__(str(detail))
        self.detail = detail


@dataclass(frozen=True)
class ChainHead:
    """The newest sealed day of the month in the readings hash chain."""

    day: dt.date
    digest: str
    readings: int
    sealed_days: int  # days of the month in the chain
    unsealed: list[dt.date]  # days of the month with stored data not (yet) in the chain


@dataclass(frozen=True)
class Source:
    meter: str
    site: str
    kind: str
    category: str  # "Scope 1 <fuel>", "Scope 2 electricity (location-based)", "Scope 2 heat"
    co2e_t: float


@dataclass(frozen=True)
class SiteIntensity:
    site: str
    unit: str
    production: float
    market: Intensity
    location: Intensity
    daily_market: list[float | None]  # tCO2e per unit per day; None without production


@dataclass
class MonthlyReport:
    month: str  # YYYY-MM
    inventory: Inventory
    days: list[dt.date]  # every local day of the month
    has_data: list[bool]  # per day: any stored site minute
    daily: dict[str, dict[str, list[float]]]  # "plant" or site -> column -> value per day
    meter_coverage: dict[str, list[float]]  # meter -> % of each day covered
    coverage_on_data_days: dict[str, float]  # meter -> % of the days with data covered
    sources: list[Source]  # meters with emissions, largest first
    intensity: list[SiteIntensity]
    chain: ChainHead | None
    quality: list[str]
    basis: Literal["market", "location"]
    generated_at: dt.datetime
    code_version: str
    budgets: dict[str, tuple[float, str]] = field(default_factory=dict)  # site -> (t, basis)
    footprints: list[ProductFootprint] = field(default_factory=list)  # lots ended in the month
    plant_zh: str = ""  # the plant's Chinese name (name_zh), shown in zh-CN
    locale: Locale = DEFAULT_LOCALE  # the plant's configured language of reports
    quality_msgs: list[Msg | str] = field(default_factory=list)  # quality, in any locale
    names_zh: dict[str, str] = field(default_factory=dict)  # site or meter id -> name_zh
    energy: EnergySection | None = None  # tce of the month and top opportunities
    # Set for a month in progress: the report's period ends here (now), not at the month's
    # end, and says so; the hours after it are not data gaps.
    until: dt.datetime | None = None

    @property
    def day_seconds(self) -> list[float]:
        """Seconds of each day inside the report's period (the last stops at ``until``)."""
        return day_seconds(self.days, ZoneInfo(self.inventory.timezone), self.until)

    @property
    def title(self) -> str:
        first = self.days[0]
        return f"{self.inventory.plant}: carbon inventory, {first:%B %Y}"


def month_bounds(month: str, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """[local midnight of the 1st, local midnight of the next month's 1st)."""
    m = MONTH.match(month)
    if m is None:
        raise ReportError(Msg("problems.detail.report-month-format", {"month": month}))
    y, mo = int(m.group(1)), int(m.group(2))
    if not FIRST_YEAR <= y <= LAST_YEAR:
        raise ReportError(
            Msg(
                "problems.detail.report-month-year",
                {"month": month, "first": FIRST_YEAR, "last": LAST_YEAR},
            )
        )
    start = dt.datetime(y, mo, 1, tzinfo=zone)
    end = dt.datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=zone)
    return start, end


def local_days(start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    d, last = start.date(), (end - dt.timedelta(microseconds=1)).date()
    out = []
    while d <= last:
        out.append(d)
        d += dt.timedelta(days=1)
    return out


def day_seconds(
    days: list[dt.date], zone: ZoneInfo, until: dt.datetime | None = None
) -> list[float]:
    """Length of each local day (23 or 25 hours on a DST change), up to ``until`` when it
    is given: converted to UTC first, because aware datetimes of one zone subtract as
    wall-clock times."""
    out = []
    for d in days:
        a = dt.datetime(d.year, d.month, d.day, tzinfo=zone).astimezone(dt.UTC)
        n = d + dt.timedelta(days=1)
        b = dt.datetime(n.year, n.month, n.day, tzinfo=zone).astimezone(dt.UTC)
        if until is not None:
            b = max(a, min(b, until.astimezone(dt.UTC)))
        out.append((b - a).total_seconds())
    return out


def report_period(
    month: str, zone: ZoneInfo, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime, dt.datetime | None]:
    """Start and end of the report's period, and ``until`` (the end) for a month in
    progress: a report stops at now, so hours to come are neither data nor gaps."""
    start, month_end = month_bounds(month, zone)
    if now <= start:
        raise ReportError(
            Msg("problems.detail.report-not-begun", {"month": month, "start": start.isoformat()})
        )
    if now >= month_end:
        return start, month_end, None
    until = now.astimezone(zone).replace(microsecond=0)
    return start, until, until


async def gather(
    conn: AsyncConn,
    plant: Plant,
    params: MeterParams,
    month: str,
    sites: list[str] | None = None,
    basis: Literal["market", "location"] = "market",
    code_version: str = "",
    now: dt.datetime | None = None,
    library: FactorLibrary | None = None,
) -> MonthlyReport:
    """The month's figures, up to ``now`` (the clock, unless given) for a month in progress;
    ``library`` is the plant's factor library (loaded from its files unless given)."""
    zone = plant.zone
    clock = dt.datetime.now(zone) if now is None else now
    start, end, until = report_period(month, zone, clock)
    keys = await series.site_keys(conn, None)
    wanted = [s.id for s in plant.sites] if sites is None else sites
    unknown = sorted(set(wanted) - {s.id for s in plant.sites} | (set(wanted) - set(keys)))
    if unknown:
        sites_text = ", ".join(unknown)
        raise ReportError(Msg("problems.detail.report-unknown-site", {"sites": sites_text}))
    site_ids = [s.id for s in plant.sites if s.id in wanted]
    site_keys = [keys[s] for s in site_ids]
    days = local_days(start, end)
    first, last = days[0], days[-1]

    sel = Selection(
        start=start,
        end=end,
        sites=site_ids,
        site_keys=site_keys,
        plant_wide=sites is None,
        basis=basis,
    )
    inv = await inventory_builder.assemble(
        conn, plant, params, library or FactorLibrary.load(plant.factor_files), sel
    )

    # --- daily series per site and for the plant -------------------------------------
    index = {d: i for i, d in enumerate(days)}
    n = len(days)
    daily: dict[str, dict[str, list[float]]] = {
        k: {c: [0.0] * n for c in (*DAILY_COLUMNS, "production")} for k in (PLANT, *site_ids)
    }
    has_data = [False] * n
    site_of_key = {keys[s]: s for s in site_ids}
    rows = await series.site_series(
        conn, site_keys, start, end, Bucket.DAY, plant.timezone, (n + 2) * len(site_keys)
    )
    for r in rows:
        i = index[r[0].astimezone(zone).date()]
        has_data[i] = True
        for c, v in zip(DAILY_COLUMNS, (r[2], r[3], r[4], r[5]), strict=True):
            daily[site_of_key[r[1]]][c][i] += float(v or 0.0)
            daily[PLANT][c][i] += float(v or 0.0)

    # --- per meter and day: coverage, and production --------------------------------
    seconds = day_seconds(days, zone, until)
    meter_keys = await energy_q.meter_keys(conn)
    meters = [m for m in plant.meters if m.site in site_ids]
    coverage: dict[str, list[float]] = {}
    on_data_days: dict[str, float] = {}
    data_s = sum(s for s, h in zip(seconds, has_data, strict=True) if h)
    for m in meters:
        covered = [0.0] * n
        key = meter_keys.get(m.id)
        points = (
            []
            if key is None
            else await series.meter_series(conn, key, start, end, Bucket.DAY, plant.timezone, n + 2)
        )
        for p in points:
            i = index[p.start.astimezone(zone).date()]
            covered[i] += p.covered_s
            if m.kind is MeterKind.PRODUCTION:
                daily[m.site]["production"][i] += p.quantity
                daily[PLANT]["production"][i] += p.quantity
        coverage[m.id] = [min(100.0, 100.0 * c / s) for c, s in zip(covered, seconds, strict=True)]
        on_data_days[m.id] = min(100.0, 100.0 * sum(covered) / data_s) if data_s else 0.0

    # --- top sources ------------------------------------------------------------------
    sources = [
        Source(s.meter, s.site, s.kind, f"Scope 1 {s.fuel or ''}".strip(), s.co2e_t)
        for s in inv.scope1.by_source
    ]
    sources += [
        Source(
            s.meter,
            s.site,
            s.kind,
            "Scope 2 electricity (location-based)"
            if s.kind == MeterKind.GRID_IMPORT.value
            else "Scope 2 heat",
            s.co2e_t,
        )
        for s in inv.scope2.by_source
    ]
    sources = sorted((s for s in sources if s.co2e_t > 0), key=lambda s: (-s.co2e_t, s.meter))

    # --- intensity per site with production meters --------------------------------------
    unit_of = dict(zip(params.ids, params.canonical_unit, strict=True))
    by_site = {s.site: s for s in inv.by_site}
    intensities = []
    for site in site_ids:
        units = {unit_of[m.id] for m in meters if m.site == site and m.kind is MeterKind.PRODUCTION}
        if not units:
            continue
        unit = units.pop()  # one production unit per site (checked when the plant loads)
        t = by_site[site]
        d = daily[site]
        intensities.append(
            SiteIntensity(
                site=site,
                unit=unit,
                production=t.production,
                market=intensity(t.scope1_t, t.scope2_market_t, t.production, unit, "market"),
                location=intensity(t.scope1_t, t.scope2_location_t, t.production, unit, "location"),
                daily_market=[
                    intensity(s1, s2, p, unit).value
                    for s1, s2, p in zip(
                        d["scope1_t"], d["scope2_market_t"], d["production"], strict=True
                    )
                ],
            )
        )

    sealed = await evidence_q.sealed_days(conn, first, last)
    chain = None
    if sealed:
        day, digest, readings = sealed[-1]
        done = {d for d, _, _ in sealed}
        unsealed = [d for d, h in zip(days, has_data, strict=True) if h and d not in done]
        chain = ChainHead(day, digest, readings, len(sealed), unsealed)
    report = MonthlyReport(
        month=month,
        inventory=inv,
        days=days,
        has_data=has_data,
        daily=daily,
        meter_coverage=coverage,
        coverage_on_data_days=on_data_days,
        sources=sources,
        intensity=intensities,
        chain=chain,
        quality=[],
        basis=basis,
        generated_at=clock.astimezone(zone).replace(microsecond=0),
        code_version=code_version,
        budgets={
            s.id: (s.budget.monthly_t, s.budget.basis)
            for s in plant.sites
            if s.id in site_ids and s.budget is not None and s.budget.monthly_t
        },
        plant_zh=plant.name_zh,
        locale=plant.locale,
        names_zh={s.id: s.name_zh for s in plant.sites if s.name_zh}
        | {f"fuel-{f.id}": f.name_zh for f in plant.fuels if f.name_zh}
        | {m.id: m.name_zh for m in plant.meters if m.name_zh},
        energy=await gather_energy(conn, plant, params, start, end),
        until=until,
    )
    report.footprints = [
        x.footprint for x in await footprint_service.all_products(conn, plant, start, end)
    ]
    report.quality_msgs = quality_messages(report)
    report.quality = [str(m) for m in report.quality_msgs]
    return report


def _ranges(days: list[dt.date]) -> str:
    """2026-11-01..2026-11-21, 2026-11-25 (consecutive days joined)."""
    out: list[str] = []
    run: list[dt.date] = []
    for d in days:
        if run and d - run[-1] != dt.timedelta(days=1):
            out.append(_span(run))
            run = []
        run.append(d)
    if run:
        out.append(_span(run))
    return ", ".join(out)


def _span(run: list[dt.date]) -> str:
    return run[0].isoformat() if len(run) == 1 else f"{run[0]}..{run[-1]}"


def quality_messages(r: MonthlyReport) -> list[Msg | str]:
    """What a reader must know about the figures: missing data, estimated or derived
    intervals, fallback and unverified factors, and whether the readings are sealed.
    Catalogue messages (rendered in the reader's language); the notes the inventory
    itself carries (e.g. a factor's fallback reason) are passed on as written."""
    inv = r.inventory
    notes: list[Msg | str] = []
    n = len(r.days)
    missing = [d for d, h in zip(r.days, r.has_data, strict=True) if not h]
    notes.append(
        Msg(
            "report.q-data",
            {"days": n - len(missing), "n": n, "pct": f"{inv.coverage_pct:.1f}"},
        )
    )
    if missing:
        notes.append(Msg("report.q-no-data", {"n": len(missing), "ranges": _ranges(missing)}))
    hours = sum(s for s, h in zip(r.day_seconds, r.has_data, strict=True) if h) / 3600
    for a in inv.activity:
        on_days = r.coverage_on_data_days.get(a.meter, 0.0)
        if hours and on_days < 99.95:
            notes.append(
                Msg(
                    "report.q-gap",
                    {
                        "meter": a.meter,
                        "pct": f"{on_days:.2f}",
                        "hours": f"{(100 - on_days) / 100 * hours:.2f}",
                    },
                )
            )
        for flag in a.flags:
            if flag in FLAG_NOTES:
                notes.append(
                    Msg(
                        "report.q-flag",
                        {
                            "meter": a.meter,
                            "flag": Msg(f"report.flag-{flag}"),
                            "note": Msg(f"report.flag-note-{flag}"),
                        },
                    )
                )
    for fu in inv.factors:
        who = ", ".join(fu.used_by)
        factor = {"id": fu.factor_id, "version": fu.version, "role": fu.role, "who": who}
        if fu.fallback:
            notes.append(Msg("report.q-fallback", {**factor, "fallback": fu.fallback}))
        if fu.verified != "yes":
            notes.append(Msg("report.q-unverified", {**factor, "mark": fu.verified}))
    fallbacks = {fu.fallback for fu in inv.factors}
    notes += [x for x in inv.notes if x not in fallbacks]  # those are listed above
    if r.chain is None:
        notes.append(Msg("report.q-not-sealed"))
    elif r.chain.unsealed:
        notes.append(
            Msg(
                "report.q-unsealed",
                {"ranges": _ranges(r.chain.unsealed), "day": r.chain.day},
            )
        )
    return notes
