"""Plausible bounds on quantities a client registers: contracts, hourly profiles, offsets.

A contract of 10^18 MWh was accepted; a quantity no factory could use is a typo or
an attack, and it would sit in every total it touches. The bounds come from the
plant file where the physics gives one, and are a documented cap where it does not
(docs/api.md, "Plausible quantities"):

- **Electricity the plant could draw**: the sum of its grid-import meters' ratings
  (with the plant's ``rating_tolerance``), in MW. No certificate beyond what that
  draw could consume in the window the certificate can be claimed in (generation
  start to valid-until) can ever be used, and no hour of a contract's generation
  beyond one hour of that draw can ever be matched.
- **Offsets**: credits (1 = 1 tCO2e) in one holding or retirement are capped at
  :data:`MAX_OFFSET_T`, the yearly emissions of the largest single industrial
  sites (integrated steelworks emit of the order of 10 Mt CO2 a year). The
  emissions a plant could reach are not bounded by its meter ratings alone (fuel
  meters measure volume, not CO2), so this is a cap, not a physical bound.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from carbonstream.config.plant import MeterKind, Plant

MAX_OFFSET_T = 10_000_000

# The calendar years a period may name (a year, a month): the energy account counts
# int64 nanoseconds, which end in 2262, and no plant reports before 2000. The API's
# MONTH_PATTERN spells the same range as a regular expression (tests hold them equal).
FIRST_YEAR, LAST_YEAR = 2000, 2100


@dataclass(frozen=True)
class Bounds:
    grid_mw: float  # the plant's grid-import meters' ratings with tolerance, MW
    max_offset_t: int = MAX_OFFSET_T

    @classmethod
    def of(cls, plant: Plant) -> Bounds:
        tol = 1.0 + plant.rating_tolerance
        mw = 0.0
        for m in plant.meters:
            if m.kind is MeterKind.GRID_IMPORT:
                # rating is in the meter's unit per hour after the multiplier; the scale
                # gives MWh per raw unit (per raw unit-hour for a rate meter)
                mw += m.rating * tol * m.scale().per_unit / m.multiplier
        return cls(grid_mw=mw)

    def contract_mwh(self, generation_start: dt.date, valid_until: dt.date) -> float:
        """Most certificates the plant could ever claim: its draw over the claim window."""
        hours = ((valid_until - generation_start).days + 1) * 24
        return self.grid_mw * hours

    @property
    def hour_mwh(self) -> float:
        """Most of one hour's generation the plant could ever match: one hour of its draw."""
        return self.grid_mw
