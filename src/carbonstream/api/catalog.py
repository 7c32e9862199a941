"""Site and meter keys, cached: they change only when a plant file is synced (at the start
of ingest or the API), so a request should not pay a query for them. An unknown id
reloads the cache (at most once a second) before it is called unknown."""

from __future__ import annotations

import time

from carbonstream.store.db import AsyncConn
from carbonstream.store.queries import energy, status

_RELOAD_S = 1.0


class Catalog:
    def __init__(self) -> None:
        self._sites: list[status.SiteRow] | None = None
        self._meters: dict[str, int] = {}
        self._loaded = 0.0

    async def _load(self, conn: AsyncConn) -> None:
        self._sites = await status.sites(conn)
        self._meters = await energy.meter_keys(conn)
        self._loaded = time.monotonic()

    async def _fresh(self, conn: AsyncConn, missing: bool) -> list[status.SiteRow]:
        if self._sites is None or (missing and time.monotonic() - self._loaded > _RELOAD_S):
            await self._load(conn)
        assert self._sites is not None
        return self._sites

    async def sites(self, conn: AsyncConn) -> list[status.SiteRow]:
        return await self._fresh(conn, False)

    async def site_keys(self, conn: AsyncConn, ids: list[str] | None) -> dict[str, int]:
        rows = await self._fresh(conn, False)
        if ids is not None and not set(ids) <= {s.id for s in rows}:
            rows = await self._fresh(conn, True)
        return {s.id: s.key for s in rows if ids is None or s.id in ids}

    async def meter_key(self, conn: AsyncConn, meter: str) -> int | None:
        await self._fresh(conn, False)
        if meter not in self._meters:
            await self._fresh(conn, True)
        return self._meters.get(meter)
