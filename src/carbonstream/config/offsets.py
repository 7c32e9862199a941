"""Offset credits held and retired, as the plant file records them.

A holding is a serial range in a registry (CCER, or an international
programme); a retirement cancels part of it for the emissions of a period. The
rules are :mod:`carbonstream.ledger` (the API applies the same ones): a retirement
the ledger would refuse fails here, at load, with the field and the reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from carbonstream.ledger import LedgerError, Offset, Retirement, SerialRange, check_retirement
from carbonstream.ledger.offsets import CorrespondingAdjustment, Standard, check_credit

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
SiteRef = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _serials(text: str) -> SerialRange:
    try:
        return SerialRange.parse(text)
    except LedgerError as e:
        raise ValueError(str(e)) from None


class DateSpan(_Model):
    start: dt.date
    end: dt.date = Field(description="Inclusive last day.")

    @model_validator(mode="after")
    def _ordered(self) -> DateSpan:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class OffsetRetirement(_Model):
    """Credits cancelled in the registry for the emissions of a period (1 credit = 1 tCO2e)."""

    serials: str = Field(max_length=100, description="As cancelled: PREFIX<start>-PREFIX<end>.")
    period: DateSpan = Field(description="The emissions this retirement offsets (local days).")
    purpose: str = Field(min_length=1, max_length=500)
    retired_on: dt.date
    site: SiteRef | None = Field(default=None, description="None: plant-wide.")

    @property
    def range(self) -> SerialRange:
        return _serials(self.serials)

    @property
    def tco2e(self) -> int:
        return self.range.count


class OffsetHolding(_Model):
    """Credits held: CCER, or an international credit with its standard and status."""

    id: Identifier
    standard: Standard = Standard.CCER
    registry: str = Field(default="", max_length=100, description="Default: CCER registry.")
    project: str = Field(min_length=1, max_length=500)
    serials: str = Field(max_length=100)
    vintage: int = Field(ge=2005, le=2100)
    corresponding_adjustment: CorrespondingAdjustment | None = Field(
        default=None,
        description="International credits: applied | not_applied | unknown (required); "
        "CCER: not_applicable (the default).",
    )
    ets_surrendered: bool = Field(
        default=False, description="Surrendered for national ETS compliance (then cancelled)."
    )
    note: str = Field(default="", max_length=2000)
    retirements: list[OffsetRetirement] = Field(default_factory=list)

    @property
    def range(self) -> SerialRange:
        return _serials(self.serials)

    @property
    def adjustment(self) -> CorrespondingAdjustment:
        assert self.corresponding_adjustment is not None  # set by the validator
        return self.corresponding_adjustment

    @property
    def registry_name(self) -> str:
        return self.registry or ("CCER" if self.standard is Standard.CCER else "")

    @model_validator(mode="before")
    @classmethod
    def _default_adjustment(cls, data: object) -> object:
        if (
            isinstance(data, dict)
            and data.get("corresponding_adjustment") is None
            and data.get("standard", Standard.CCER.value) == Standard.CCER.value
        ):
            return {**data, "corresponding_adjustment": "not_applicable"}
        return data

    @model_validator(mode="after")
    def _rules(self) -> OffsetHolding:
        held = self.range
        if self.standard is not Standard.CCER:
            if self.corresponding_adjustment is None:
                raise ValueError(
                    f"an international credit ({self.standard.value}) needs "
                    "corresponding_adjustment: applied, not_applied or unknown"
                )
            if not self.registry:
                raise ValueError(
                    "an international credit needs its registry (e.g. Verra, Gold Standard "
                    "Impact Registry, CDM Registry, Article 6.4 Mechanism Registry)"
                )
        done: list[Retirement] = []
        off = Offset(self.id, held, self.project, self.vintage)
        for k, r in enumerate(self.retirements):
            new = Retirement(self.id, r.range, r.retired_on, r.purpose, r.site)
            try:
                check_credit(self.id, self.standard, self.adjustment, self.ets_surrendered)
                check_retirement(off, new, done)
            except LedgerError as e:
                raise ValueError(f"retirements[{k}]: {e}; remove this retirement") from None
            done.append(new)
        return self


def check_holdings(holdings: list[OffsetHolding], site_ids: set[str]) -> None:
    """Plant-level rules: unique ids, credits held once, retirements name known sites."""
    seen: dict[str, OffsetHolding] = {}
    for h in holdings:
        if h.id in seen:
            raise ValueError(f"duplicate offsets id: {h.id}")
        for other in seen.values():
            if other.range.overlaps(h.range):
                raise ValueError(
                    f"offset {h.id!r} ({h.serials}) overlaps {other.id!r} ({other.serials}): "
                    "credits are held once"
                )
        seen[h.id] = h
        for r in h.retirements:
            if r.site is not None and r.site not in site_ids:
                raise ValueError(f"offset {h.id!r}: a retirement names unknown site {r.site!r}")
