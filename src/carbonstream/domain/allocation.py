"""Allocate serials of a contract to a site's consumption, and restate what they cover.

An allocation claims serials of a contract for a site and period, once: the
ledger rules explain a refusal (serials claimed before, outside the contract,
expired, wrong vintage, more than the consumption not yet covered), and
exclusion constraints in the database make a double claim impossible even
between concurrent requests (the caller retries a deadlock and answers a
constraint violation). An allocation is also an instrument: the stored minutes
it can cover are restated (market-based Scope 2, :mod:`carbonstream.domain.reallocate`)
in the same transaction, and ingest uses it from its next batch.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from carbonstream.config.plant import Plant
from carbonstream.domain.errors import NotFoundError, RefusalError
from carbonstream.domain.reallocate import Restated, restate
from carbonstream.i18n import Msg
from carbonstream.ledger import Allocation, Certificate, LedgerError, SerialRange, check_allocation
from carbonstream.store import ledger
from carbonstream.store.db import AsyncConn


@dataclass(frozen=True)
class Claim:
    """What an allocation asks for: serials, or the lowest free run of ``mwh``."""

    site: str
    first_day: dt.date  # consumption period, plant-local days, inclusive
    last_day: dt.date
    serials: SerialRange | None
    mwh: int | None
    allocated_on: dt.date


def certificate(c: ledger.ContractRow) -> Certificate:
    return Certificate(c.id, c.serials, c.generation_start, c.generation_end, c.project)


async def allocate(
    conn: AsyncConn, plant: Plant, contract_id: str, claim: Claim, who: str
) -> tuple[ledger.AllocationRow, Restated]:
    """The allocation made (as stored) and the restatement of the minutes it can cover."""
    zone = plant.zone
    async with conn.transaction():
        await ledger.lock_ledger(conn)
        found = await ledger.contracts(conn, contract_id, lock=True)
        if not found:
            raise NotFoundError("contract", contract_id)
        c = found[0]
        site_key = await ledger.site_key(conn, claim.site)
        if site_key is None or claim.site not in {s.id for s in plant.sites}:
            raise NotFoundError("site", claim.site)
        existing = await ledger.allocations(conn, contract_id)
        taken = [a.serials for a in existing]
        if claim.serials is not None:
            serials = claim.serials
        else:
            assert claim.mwh is not None
            block = ledger.free_block(c.serials, taken, claim.mwh)
            if block is None:
                raise RefusalError(
                    "already-claimed",
                    Msg(
                        "problems.detail.no-unallocated-run",
                        {
                            "id": c.id,
                            "mwh": claim.mwh,
                            "left": c.serials.count - sum(t.count for t in taken),
                        },
                    ),
                )
            serials = block
        for a in existing:
            if a.serials.overlaps(serials):
                raise RefusalError(
                    "already-claimed",
                    Msg(
                        "problems.detail.serials-allocated",
                        {
                            "serials": serials,
                            "other": a.serials,
                            "site": a.site,
                            "start": a.period_start,
                            "end": a.period_end,
                        },
                    ),
                )
        first, last = claim.first_day, claim.last_day
        start = dt.datetime(first.year, first.month, first.day, tzinfo=zone)
        nxt = last + dt.timedelta(days=1)
        end = dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone)
        consumption = await ledger.consumption_mwh(conn, site_key, start, end)
        claimed = await ledger.claimed_mwh(conn, site_key, first, last)
        on = claim.allocated_on
        new = Allocation(c.id, serials, claim.site, first, last, on)
        old = [
            Allocation(c.id, a.serials, a.site, a.period_start, a.period_end, a.allocated_on)
            for a in existing
        ]
        try:
            check_allocation(certificate(c), new, old, consumption, claimed)
        except LedgerError as e:
            raise RefusalError("ledger-rule", e.detail) from None
        instrument = f"{c.id}:{len(existing) + 1}"
        await ledger.insert_allocation(
            conn, c, instrument, serials, site_key, (first, last), on, who
        )
        restated = await restate(conn, plant, claim.site, site_key, instrument)
        row = next(
            a for a in await ledger.allocations(conn, contract_id) if a.instrument == instrument
        )
    return row, restated
