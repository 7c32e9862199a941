"""What a question about a period of the account asks for, already checked.

The API builds a :class:`Selection` from a request's query (period, sites, basis,
version) and the monthly report from its month; the domain's assemblers take it
whole, so a new option is one field here instead of one more parameter in every
call between a route and the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field

from carbonstream.domain.green_model import Basis, PeriodOut

# Times the database part of an assembly under a name (the API's latency histogram).
Timer = Callable[[str], AbstractAsyncContextManager[None]]


def untimed(_: str) -> AbstractAsyncContextManager[None]:
    return nullcontext()


@dataclass(frozen=True)
class Selection:
    start: dt.datetime  # aware, inclusive
    end: dt.datetime  # aware, exclusive
    sites: list[str]  # site ids, in the plant's order
    site_keys: list[int] = field(repr=False)  # their database keys, same order
    plant_wide: bool  # no site filter: plant-wide retirements count too
    basis: Basis  # Scope 2 basis of net, zero-carbon status and intensity
    version: str = "live"  # 'live' or a restatement id

    def period(self, zone: dt.tzinfo) -> PeriodOut:
        return PeriodOut(
            start=self.start.astimezone(zone),
            end=self.end.astimezone(zone),
            hours=(self.end - self.start).total_seconds() / 3600,
        )
