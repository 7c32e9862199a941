"""Zero-carbon status of sites and of a selection of sites for a period.

Net = Scope 1 + Scope 2 (the chosen basis) - CCER retired for that period
(:func:`carbonstream.ledger.net_emissions`); a site or the selection is
zero-carbon when net <= 0, otherwise ``remaining_t`` is what is left to reduce
or offset. A retirement names a site or none: a site's retirements count for
that site (and in any selection holding it); plant-wide ones only for the
whole plant. Gross figures are never reduced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from carbonstream.ledger.rules import NetEmissions, net_emissions


@dataclass(frozen=True)
class Status:
    site: str | None  # None: the selection together
    net: NetEmissions
    retirements: list[int]


def zero_carbon(
    gross: Mapping[str, tuple[float, float]],
    retirements: Iterable[tuple[int, str | None, float]],
    basis: str,
    plant_wide: bool,
) -> tuple[Status, list[Status]]:
    """``gross``: site -> (Scope 1 t, Scope 2 t on ``basis``); ``retirements``: (id, site or
    None, tCO2e) of the period. Returns the selection's status and each site's."""
    rets = list(retirements)
    sites = []
    for site, (s1, s2) in gross.items():
        mine = [r for r in rets if r[1] == site]
        n = net_emissions(s1, s2, sum(r[2] for r in mine), basis)
        sites.append(Status(site, n, [r[0] for r in mine]))
    counted = [r for r in rets if (r[1] in gross) or (r[1] is None and plant_wide)]
    total = net_emissions(
        sum(g[0] for g in gross.values()),
        sum(g[1] for g in gross.values()),
        sum(r[2] for r in counted),
        basis,
    )
    return Status(None, total, [r[0] for r in counted]), sites
