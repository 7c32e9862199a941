"""Seal days of stored readings into the evidence hash chain (``carbonstream seal``).

Each local day with readings after the last sealed one gets its digest over that
day's readings and the previous digest (:mod:`carbonstream.core.chain`), appended in
one transaction that holds the chain locked, so two sealers never fork it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from carbonstream.core.chain import GENESIS, DayDigest, day_digest
from carbonstream.store import evidence as ev
from carbonstream.store.db import Conn

if TYPE_CHECKING:
    from carbonstream.progress import Steps


def seal(conn: Conn, zone: ZoneInfo, until: dt.date, steps: Steps | None = None) -> list[DayDigest]:
    """Seal every day with readings after the last sealed one, up to ``until`` inclusive;
    ``steps`` hears each day.

    Call it only for days that can no longer change (past the ingest lateness).
    """
    with conn.transaction():
        head = ev.lock_chain(conn)
        prev = head[1] if head else GENESIS
        after = ev.local_bounds(head[0], head[0], zone)[1] if head else None
        first = ev.first_reading_at(conn, after)
        if first is None:
            return []
        day = first.astimezone(zone).date()
        sealed: list[DayDigest] = []
        if steps is not None:
            steps.phase(f"sealing {day}..{until}", max(0, (until - day).days + 1))
        while day <= until:
            lo, hi = ev.local_bounds(day, day, zone)
            r = ev.readings(conn, lo, hi)
            if len(r.ts_ns):
                d = day_digest(
                    prev, day.isoformat(), r.meter_ids, r.meter, r.ts_ns, r.value, r.quality
                )
                ev.append_day(conn, day, len(r.ts_ns), d, prev)
                sealed.append(DayDigest(day.isoformat(), len(r.ts_ns), d, prev))
                prev = d
            day += dt.timedelta(days=1)
            if steps is not None:
                steps.advance()
        return sealed
