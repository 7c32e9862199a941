"""Offset credits under the 2026 zero-carbon factory guidance: which qualify, in what order.

One module for the plant file (``carbonstream compute``) and the API ledger
(``/v1/offsets``): both refuse a retirement with :func:`check_credit` and count
the retirements of a period with :func:`apply_offsets`. Each rule names its
source and how sure we are of it ([V] official text seen, [V2] third party,
[M] from memory / standard practice; see ``shared/reference``).

The guidance (工信部联节〔2026〕13号) lets a factory offset what it cannot reduce:
CCER first, qualifying international credits after, for residual emissions only.
Its conditions for international credits (which standards, corresponding
adjustment) were not found in any stored copy, so the conditions below are the
conservative reading, marked [M], and a refusal says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from carbonstream.i18n import Msg
from carbonstream.ledger.rules import LedgerError


class Standard(StrEnum):
    """The programme a credit was issued under."""

    CCER = "ccer"  # 国家核证自愿减排量, China's national voluntary scheme
    VCS = "vcs"  # Verra Verified Carbon Standard
    GOLD_STANDARD = "gold_standard"
    CDM = "cdm"  # Kyoto Clean Development Mechanism (CERs, incl. those moved to Art. 6.4)
    ARTICLE_6_4 = "article_6_4"  # Paris Agreement crediting mechanism (A6.4ERs)


class CorrespondingAdjustment(StrEnum):
    """Whether the host country adjusted its NDC account for the credit (Paris Art. 6)."""

    APPLIED = "applied"
    NOT_APPLIED = "not_applied"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"  # a domestic credit (CCER) used in its own country


INTERNATIONAL = frozenset(s for s in Standard if s is not Standard.CCER)


@dataclass(frozen=True)
class Rule:
    id: str
    text: str
    source: str


RULES: tuple[Rule, ...] = (
    Rule(
        "ccer-first",
        "In the net, CCER retired for the period covers the gross emissions first; "
        "international credits cover only what CCER leaves (the residual).",
        "工信部联节〔2026〕13号 as explained by China Energy News (2026-01-27, interview with "
        "Wang Naixiang) and a commentary (shangjiandao.com/forum-post/4466) [V2]",
    ),
    Rule(
        "international-standard",
        "An international credit must come from VCS, Gold Standard, CDM or the Paris "
        "Article 6.4 mechanism; any other programme is refused.",
        "[M] the guidance's list of qualifying international credits was not found "
        "(reference/energy.md, Not confirmed 4); these are the programmes with public "
        "registries and serial-level retirement",
    ),
    Rule(
        "corresponding-adjustment",
        "An international credit counts only when the host country applied a corresponding "
        "adjustment; 'not_applied' or 'unknown' is refused (the reduction would be claimed "
        "twice, by the host country's NDC and by the factory).",
        "[M] Paris Agreement Art. 6.2 and 6.4 (decisions 2/CMA.3, 3/CMA.3); the guidance's "
        "own condition was not found (reference/energy.md, Not confirmed 4)",
    ),
    Rule(
        "ets-surrendered",
        "Credits surrendered for national ETS compliance are cancelled: they cannot be "
        "retired again for a zero-carbon claim.",
        "《温室气体自愿减排交易管理办法（试行）》(MEE, SAMR, 2023): a credit is cancelled "
        "(注销) once, for one use [M] (reference/accounting.md §8)",
    ),
    Rule(
        "retired-once",
        "A credit is retired once, for one purpose; a retirement never overlaps another.",
        "reference/accounting.md §8 [M]",
    ),
    Rule(
        "gross-kept",
        "Offsets never change Scope 1 or Scope 2; net = Scope 1 + Scope 2 (basis) - counted "
        "credits, never clamped at zero: an over-offset shows as a negative net and as its "
        "own flag.",
        "GHG Protocol Corporate Standard ch. 9 and ISO 14064-1 §5.2.4 (offsets reported "
        "separately from the gross inventory) [M]; reference/accounting.md §8",
    ),
)
RULE = {r.id: r for r in RULES}


def kind(standard: Standard) -> str:
    return "ccer" if standard is Standard.CCER else "international"


def check_credit(
    offset_id: str,
    standard: Standard,
    corresponding_adjustment: CorrespondingAdjustment,
    ets_surrendered: bool,
) -> None:
    """Raise LedgerError when credits of this holding may not be retired for a claim."""
    if ets_surrendered:
        raise LedgerError(
            Msg(
                "problems.detail.credits-ets-surrendered",
                {"offset": offset_id, "source": RULE["ets-surrendered"].source},
            )
        )
    if standard is Standard.CCER:
        return  # a domestic credit used in its own country: no adjustment involved
    if corresponding_adjustment is not CorrespondingAdjustment.APPLIED:
        raise LedgerError(
            Msg(
                "problems.detail.credits-no-adjustment",
                {
                    "offset": offset_id,
                    "standard": standard.value,
                    "adjustment": corresponding_adjustment.value,
                    "source": RULE["corresponding-adjustment"].source,
                },
            )
        )


# --- the net of a period --------------------------------------------------------------------


@dataclass(frozen=True)
class Credit:
    """Credits retired for a period: one retirement."""

    id: str
    standard: Standard
    tco2e: float


@dataclass(frozen=True)
class CreditUse:
    id: str
    kind: str  # ccer | international
    standard: str
    tco2e: float
    applied_t: float  # the part that covered gross emissions, in priority order
    surplus_t: float  # the part beyond them (an over-offset)


@dataclass(frozen=True)
class Offsetting:
    gross_t: float
    ccer_t: float
    international_t: float
    offsets_t: float
    net_t: float  # gross - offsets, never clamped
    zero_carbon: bool  # net <= 0
    over_offset: bool  # net < 0: more credits retired than emissions
    over_offset_t: float
    remaining_t: float  # what is left to reduce or offset; 0 when zero-carbon
    credits: list[CreditUse]


def apply_offsets(gross_t: float, credits: Iterable[Credit]) -> Offsetting:
    """Net of a period: CCER first, then international credits, in the order given.

    Every counted credit reduces the net (no clamping); the priority decides which
    credits covered the emissions (``applied_t``) and which are the over-offset
    (``surplus_t``): international credits beyond what CCER left are surplus first.
    """
    ordered = sorted(credits, key=lambda c: c.standard is not Standard.CCER)
    left = max(gross_t, 0.0)
    uses = []
    for c in ordered:
        applied = min(c.tco2e, left)
        left -= applied
        uses.append(
            CreditUse(c.id, kind(c.standard), c.standard.value, c.tco2e, applied, c.tco2e - applied)
        )
    ccer = sum(c.tco2e for c in ordered if c.standard is Standard.CCER)
    intl = sum(c.tco2e for c in ordered if c.standard is not Standard.CCER)
    offsets = ccer + intl
    net = gross_t - offsets
    return Offsetting(
        gross_t=gross_t,
        ccer_t=ccer,
        international_t=intl,
        offsets_t=offsets,
        net_t=net,
        zero_carbon=net <= 0.0,
        over_offset=net < 0.0,
        over_offset_t=max(-net, 0.0),
        remaining_t=max(net, 0.0),
        credits=uses,
    )


@dataclass(frozen=True)
class Retired:
    """A retirement counted in a period: for one site, or plant-wide (site None)."""

    id: str
    site: str | None
    standard: Standard
    tco2e: float


@dataclass(frozen=True)
class SiteGross:
    scope1_t: float
    scope2_location_t: float
    scope2_market_t: float

    def scope2(self, basis: str) -> float:
        return self.scope2_market_t if basis == "market" else self.scope2_location_t


@dataclass(frozen=True)
class NetStatus:
    """Gross, offsets and net of a site (or the sites together) on one Scope 2 basis."""

    site: str | None  # None: the sites together
    scope2_basis: str
    scope1_t: float
    scope2_t: float
    gross_t: float
    ccer_t: float
    international_t: float
    offsets_t: float
    net_t: float  # never clamped
    zero_carbon: bool
    over_offset: bool
    over_offset_t: float
    remaining_t: float
    credits: list[CreditUse]


@dataclass(frozen=True)
class NetInventory:
    """Net and zero-carbon status on both Scope 2 bases, for the selection and per site."""

    zero_carbon_basis: str  # the basis the plant's zero-carbon rule judges on
    zero_carbon: bool  # on that basis, the sites together
    over_offset: bool
    market: NetStatus
    location: NetStatus
    sites_market: list[NetStatus]
    sites_location: list[NetStatus]


def net_status(
    site: str | None, basis: str, scope1_t: float, scope2_t: float, credits: Iterable[Credit]
) -> NetStatus:
    o = apply_offsets(scope1_t + scope2_t, credits)
    return NetStatus(
        site=site,
        scope2_basis=basis,
        scope1_t=scope1_t,
        scope2_t=scope2_t,
        gross_t=o.gross_t,
        ccer_t=o.ccer_t,
        international_t=o.international_t,
        offsets_t=o.offsets_t,
        net_t=o.net_t,
        zero_carbon=o.zero_carbon,
        over_offset=o.over_offset,
        over_offset_t=o.over_offset_t,
        remaining_t=o.remaining_t,
        credits=o.credits,
    )


def counts_in(period_start: dt.date, period_end: dt.date, first: dt.date, last: dt.date) -> bool:
    """A retirement counts in a period's net when the emissions it offsets lie inside it."""
    return first <= period_start and period_end <= last


def whole_days(start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> tuple[dt.date, dt.date]:
    """The local days lying wholly inside [start, end): a retirement offsets whole days, so
    an hour of a day does not hold that day's retirements (first > last: none)."""
    s = start.astimezone(zone)
    first = s.date()
    if s != dt.datetime(first.year, first.month, first.day, tzinfo=zone):
        first += dt.timedelta(days=1)
    return first, end.astimezone(zone).date() - dt.timedelta(days=1)


def net_inventory(
    gross: dict[str, SiteGross],
    retired: Sequence[Retired],
    zero_carbon_basis: str,
    plant_wide: bool,
) -> NetInventory:
    """A site's retirements count for it (and in any selection holding it); plant-wide ones
    (site None) only when the selection is the whole plant."""
    counted = [r for r in retired if (r.site in gross) or (r.site is None and plant_wide)]

    def credits(rs: Iterable[Retired]) -> list[Credit]:
        return [Credit(r.id, r.standard, r.tco2e) for r in rs]

    total: dict[str, NetStatus] = {}
    sites: dict[str, list[NetStatus]] = {}
    for basis in ("market", "location"):
        sites[basis] = [
            net_status(
                site,
                basis,
                g.scope1_t,
                g.scope2(basis),
                credits(r for r in retired if r.site == site),
            )
            for site, g in gross.items()
        ]
        total[basis] = net_status(
            None,
            basis,
            sum(g.scope1_t for g in gross.values()),
            sum(g.scope2(basis) for g in gross.values()),
            credits(counted),
        )
    judged = total[zero_carbon_basis]
    return NetInventory(
        zero_carbon_basis=zero_carbon_basis,
        zero_carbon=judged.zero_carbon,
        over_offset=judged.over_offset,
        market=total["market"],
        location=total["location"],
        sites_market=sites["market"],
        sites_location=sites["location"],
    )
