"""Liveness and readiness (no key needed: load balancers and orchestrators call them)."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter, Request
from psycopg_pool import AsyncConnectionPool

from carbonstream.api.problems import Problem
from carbonstream.i18n import Msg
from carbonstream.store.db import AsyncConn
from carbonstream.store.migrate import available
from carbonstream.store.queries import status

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database answers and its schema is current")
async def readyz(request: Request) -> dict[str, object]:
    pool: AsyncConnectionPool[AsyncConn] = request.app.state.pool
    want = max(m.version for m in available())
    try:
        async with pool.connection(timeout=3) as conn:
            have = await status.schema_version(conn)
    except (psycopg.Error, TimeoutError) as e:
        raise Problem(
            503,
            "Not ready",
            Msg("problems.detail.database-error", {"error": str(e).strip()}),
            "not-ready",
        ) from None
    if have < want:
        raise Problem(
            503,
            "Not ready",
            Msg("problems.detail.schema-old", {"have": have, "want": want}),
            "not-ready",
        )
    return {"status": "ready", "schema_version": have}
