"""Active alerts and the alert history (read from the database the alert service writes)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from carbonstream.alerts import store as alert_store
from carbonstream.alerts.rules import RuleKind
from carbonstream.alerts.signals import UNITS
from carbonstream.api.auth import Viewer
from carbonstream.api.db import Connection
from carbonstream.api.problems import PROBLEM_RESPONSES
from carbonstream.api.schemas.values import Instant, LocalTime

router = APIRouter(prefix="/v1/alerts", tags=["alerts"], responses=PROBLEM_RESPONSES)

MAX_PAGE = 500
IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


class ActiveAlert(BaseModel):
    rule: str
    status: Literal["firing", "clearing"] = Field(
        description="clearing: back under the clear threshold, not yet for clear_for_s"
    )
    severity: str
    site: str | None
    meter: str | None
    value: float | None = Field(description="The signal at the last evaluation")
    threshold: float
    since: LocalTime = Field(description="When the alert fired")
    kind: str
    unit: str


class HistoryEntry(BaseModel):
    id: int
    rule: str
    status: Literal["firing", "resolved"]
    at: LocalTime
    fired_at: LocalTime
    value: float
    threshold: float
    clear_threshold: float
    severity: str
    kind: str
    measure: str
    site: str | None
    meter: str | None
    unit: str
    description: str


class HistoryPage(BaseModel):
    items: list[HistoryEntry]
    next_before: int | None = Field(
        description="Pass as ?before= for the next (older) page; null on the last page"
    )


@router.get("/active", summary="Alerts firing now", response_model=list[ActiveAlert])
async def active(_: Viewer, conn: Connection) -> list[ActiveAlert]:
    rows = await alert_store.active(conn)
    return [
        ActiveAlert(
            rule=r[0],
            status=r[1],
            severity=r[2],
            site=r[3],
            meter=r[4],
            value=r[5],
            threshold=r[6],
            since=r[7],
            kind=r[8],
            unit=UNITS[RuleKind(r[8])],
        )
        for r in rows
    ]


@router.get(
    "/history",
    summary="Alert transitions (fired, resolved), newest first, paged",
    response_model=HistoryPage,
)
async def history(
    _: Viewer,
    conn: Connection,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="Entries older than this id")
    ] = None,
    rule: Annotated[str | None, Query(pattern=IDENTIFIER)] = None,
    site: Annotated[str | None, Query(pattern=IDENTIFIER)] = None,
    status: Literal["firing", "resolved"] | None = None,
    since: Annotated[Instant | None, Query(description="at >= since")] = None,
    until: Annotated[Instant | None, Query(description="at < until")] = None,
) -> HistoryPage:
    rows = await alert_store.history(
        conn,
        limit=limit + 1,
        before=before,
        rule=rule,
        site=site,
        status=status,
        since=since,
        until=until,
    )
    items = [
        HistoryEntry(
            id=r[0],
            rule=r[1],
            status=r[2],
            at=r[3],
            fired_at=r[4],
            value=r[5],
            threshold=r[6],
            clear_threshold=r[7],
            severity=r[8],
            kind=r[9],
            measure=r[10],
            site=r[11],
            meter=r[12],
            unit=UNITS[RuleKind(r[9])],
            description=r[13],
        )
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    return HistoryPage(items=items, next_before=items[-1].id if more and items else None)
