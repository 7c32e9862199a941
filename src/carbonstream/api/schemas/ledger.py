"""Contracts (certificates, green-power trades, PPAs) and offsets (CCER)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from carbonstream.api.schemas.values import Line, LocalTime, Text
from carbonstream.domain.green_model import DateRange as DateRange
from carbonstream.ledger.offsets import CorrespondingAdjustment, Standard
from carbonstream.ledger.rules import MAX_SERIAL

SERIALS_PATTERN = r"^[A-Za-z0-9_-]*?\d{1,18}-[A-Za-z0-9_-]*?\d{1,18}$"
# Contract and offset ids (no ':': an allocation's instrument id is <contract>:<n>).
Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
SiteId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
Serials = Annotated[
    str,
    Field(
        pattern=SERIALS_PATTERN,
        max_length=100,
        description="Serial range as registered: PREFIX<start>-PREFIX<end>, inclusive.",
        examples=["GEC2026110001-GEC2026110020"],
    ),
]


class ContractType(StrEnum):
    GEC = "gec"  # unbundled green electricity certificates (1 GEC = 1 MWh)
    GREEN_POWER_TRADE = "green_power_trade"  # energy with GECs transferred at settlement
    PPA = "ppa"  # direct contract, attributes conveyed (with its certificates)


class ContractCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Ident
    type: ContractType
    serials: Serials
    mwh: int | None = Field(
        default=None,
        ge=1,
        le=MAX_SERIAL,
        description="Optional check: must equal the number of serials.",
    )
    generation: DateRange = Field(description="When the electricity was generated.")
    market: Line | None = Field(
        default=None, max_length=16, description="Market boundary (default: the plant's)."
    )
    emission_factor_t_per_mwh: float = Field(default=0.0, ge=0, lt=3)
    project: Line = Field(default="", max_length=500)
    source: Line = Field(default="", max_length=500, description="Technology, place, registry.")


class AllocationCreate(BaseModel):
    """Claim serials of a contract for a site's consumption in a period."""

    model_config = ConfigDict(extra="forbid")

    site: SiteId
    period: DateRange = Field(description="Consumption period covered (plant-local days).")
    serials: Serials | None = Field(
        default=None, description="Serials to claim; or give mwh to take the lowest free run."
    )
    mwh: int | None = Field(default=None, ge=1, le=10_000_000)
    allocated_on: dt.date | None = Field(default=None, description="Default: today (plant time).")

    @model_validator(mode="after")
    def _one(self) -> AllocationCreate:
        if (self.serials is None) == (self.mwh is None):
            raise ValueError("give either serials or mwh")
        return self


class AllocationPublic(BaseModel):
    instrument: str = Field(description="The instrument ingest allocates to consumption.")
    contract: str
    serials: str
    mwh: float
    site: str
    period: DateRange
    allocated_on: dt.date
    used_mwh: float = Field(description="Consumption it has covered so far.")
    created_at: LocalTime
    created_by: str


class Restatement(BaseModel):
    start: LocalTime
    end: LocalTime
    minutes: int = Field(description="Stored site minutes whose market-based Scope 2 was restated.")
    covered_mwh: float = Field(description="MWh covered by instruments in that span, after.")


class AllocationResult(AllocationPublic):
    restated: Restatement


class ContractPublic(BaseModel):
    id: str
    type: ContractType
    serials: str
    mwh: float
    generation: DateRange
    valid_until: dt.date = Field(description="Last day its certificates can be claimed.")
    market: str
    emission_factor_t_per_mwh: float
    project: str
    source: str
    allocated_mwh: float
    unallocated_mwh: float
    allocations: list[AllocationPublic]
    created_at: LocalTime
    created_by: str


class OffsetCreate(BaseModel):
    """Credits held: CCER, or an international credit with its standard and status."""

    model_config = ConfigDict(extra="forbid")

    id: Ident
    project: Line = Field(min_length=1, max_length=500)
    standard: Standard = Field(
        default=Standard.CCER, description="Programme: ccer, vcs, gold_standard, cdm, article_6_4."
    )
    registry: Line | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Default 'CCER' for CCER; required for international credits.",
    )
    serials: Serials
    vintage: int = Field(ge=2005, le=2100)
    corresponding_adjustment: CorrespondingAdjustment | None = Field(
        default=None,
        description="Host-country corresponding adjustment (Paris Art. 6): required for "
        "international credits; not_applicable for CCER (the default).",
    )
    ets_surrendered: bool = Field(
        default=False,
        description="Surrendered for national ETS compliance: such credits are never retired.",
    )
    site: SiteId | None = None
    note: Text = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _international(self) -> OffsetCreate:
        if self.standard is Standard.CCER:
            self.registry = self.registry or "CCER"
            self.corresponding_adjustment = (
                self.corresponding_adjustment or CorrespondingAdjustment.NOT_APPLICABLE
            )
        elif self.corresponding_adjustment is None or self.registry is None:
            raise ValueError(
                f"an international credit ({self.standard.value}) needs registry and "
                "corresponding_adjustment (applied, not_applied or unknown)"
            )
        return self


class RetirementCreate(BaseModel):
    """Retire credits (1 credit = 1 tCO2e) against the emissions of a period."""

    model_config = ConfigDict(extra="forbid")

    serials: Serials | None = Field(default=None, description="Credits to retire; or give tco2e.")
    tco2e: int | None = Field(default=None, ge=1, le=100_000_000)
    purpose: Text = Field(min_length=1, max_length=500, examples=["2026 zero-carbon claim"])
    period: DateRange = Field(description="The emissions this retirement offsets.")
    site: SiteId | None = None
    retired_on: dt.date | None = Field(default=None, description="Default: today (plant time).")

    @model_validator(mode="after")
    def _one(self) -> RetirementCreate:
        if (self.serials is None) == (self.tco2e is None):
            raise ValueError("give either serials or tco2e")
        return self


class RetirementPublic(BaseModel):
    id: int
    offset: str
    serials: str
    tco2e: float
    retired_on: dt.date
    purpose: str
    site: str | None
    period: DateRange
    created_at: LocalTime
    created_by: str


class OffsetPublic(BaseModel):
    id: str
    project: str
    kind: str = Field(description="ccer or international (CCER first in the net).")
    standard: Standard
    registry: str
    serials: str
    vintage: int
    corresponding_adjustment: CorrespondingAdjustment
    ets_surrendered: bool
    usable: bool = Field(description="Its credits may be retired for a claim.")
    refusal: str | None = Field(description="Why not, naming the rule and its source.")
    tco2e: float
    site: str | None
    note: str
    retired_t: float
    available_t: float
    retirements: list[RetirementPublic]
    created_at: LocalTime
    created_by: str | None
