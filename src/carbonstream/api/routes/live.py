"""The live plant: a snapshot (GET /v1/live) and its server-sent event stream."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from carbonstream.api import sse
from carbonstream.api.admission import TOO_MANY, Gate, Slot
from carbonstream.api.auth import ViewerReleased, viewer_released
from carbonstream.api.deps import ReaderLocale, live_snapshot
from carbonstream.api.problems import PROBLEM_RESPONSES
from carbonstream.domain.live import LiveHub, LiveSnapshot

router = APIRouter(prefix="/v1", tags=["live"], responses=PROBLEM_RESPONSES)

# One server-sent event, as clients (and schemathesis) parse it: `data` holds the
# JSON LiveSnapshot for `snapshot` events, a problem document for `problem`.
_SSE_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["snapshot", "problem", "bye"]},
        "data": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}


def _hub(request: Request) -> LiveHub:
    hub: LiveHub = request.app.state.live
    return hub


class _HeldStream(StreamingResponse):
    """Gives its admission slot back however the stream ends, even when the client left
    before the first event (a generator never started runs no ``finally``)."""

    def __init__(self, slot: Slot, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slot.release()


@router.get(
    "/live",
    summary="Live rates by scope, today's and this month's totals against budget, meters",
    response_model=LiveSnapshot,
)
async def live(request: Request, _: ViewerReleased) -> LiveSnapshot:
    # A pool that cannot lend the build its connection is a 503, as on /v1/sites.
    return await live_snapshot(_hub(request))


@router.get(
    "/live/stream",
    summary="The live snapshot as server-sent events (text/event-stream)",
    description=(sse.__doc__ or "").strip(),
    response_class=StreamingResponse,
    responses={200: {"content": {sse.MEDIA_TYPE: {"schema": _SSE_EVENT}}}, **TOO_MANY},
)
async def live_stream(
    request: Request,
    who: ViewerReleased,
    locale: ReaderLocale,
    interval: Annotated[
        float, Query(ge=1, le=60, description="Seconds between checks for a new snapshot.")
    ] = 2.0,
) -> StreamingResponse:
    async def recheck() -> None:
        await viewer_released(request)

    gate: Gate = request.app.state.streams
    return _HeldStream(
        gate.admit(who.key_id),
        sse.stream(_hub(request), recheck, interval, locale),
        media_type=sse.MEDIA_TYPE,
        headers=sse.HEADERS,
    )
