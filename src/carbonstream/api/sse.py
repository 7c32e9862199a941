"""Server-sent events of the live snapshot (``text/event-stream``).

The stream is state, not a log: every event carries the whole snapshot, so a
client that reconnects (after ``retry`` ms, sending ``Last-Event-ID``) is
complete with the first event it gets and nothing needs replaying. Events:

- ``snapshot``: a :class:`~carbonstream.domain.live.LiveSnapshot` as JSON, sent at
  once and then whenever it changed (checked every ``interval`` seconds); the
  ``id`` is its time in epoch milliseconds.
- ``problem``: an RFC 9457 problem, of the type the API gives the same condition
  (``database-unavailable``: the stream stays open and resumes; ``unauthorized``, a
  revoked key: the stream ends).
- ``bye``: the server is shutting down; reconnect after ``retry``.
- a ``: heartbeat`` comment when nothing else was sent for ``heartbeat_s``, so
  proxies and clients can tell a quiet stream from a dead one.

The key is checked again every :data:`RECHECK_S` seconds: a revoked key loses
its stream within that time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import psycopg
from psycopg_pool import PoolTimeout

from carbonstream.api.db import unavailable
from carbonstream.api.problems import Problem, document
from carbonstream.domain.live import LiveHub
from carbonstream.i18n import DEFAULT_LOCALE, Locale

log = logging.getLogger(__name__)

RETRY_MS = 3000
HEARTBEAT_S = 15.0
RECHECK_S = 60.0
MEDIA_TYPE = "text/event-stream"
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def event(name: str, data: str, event_id: str | None = None) -> str:
    lines = [f"event: {name}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines += [f"data: {line}" for line in data.splitlines() or [""]]
    return "\n".join(lines) + "\n\n"


def _problem(p: Problem, locale: Locale) -> str:
    """A ``problem`` event in the reader's language, the very document the API answers
    the same condition with (``database-unavailable``, ``unauthorized``): one type per
    condition, whichever way a client reads it."""
    return event("problem", json.dumps(document(p, None, locale), ensure_ascii=False))


async def stream(
    hub: LiveHub,
    recheck: Callable[[], Awaitable[None]],
    interval_s: float,
    locale: Locale = DEFAULT_LOCALE,
) -> AsyncIterator[str]:
    """The event stream of one client; ends on disconnect (cancelled), revocation or close.
    Its ``problem`` events are in ``locale`` (the request's Accept-Language)."""
    heartbeat_s, recheck_s = HEARTBEAT_S, RECHECK_S
    hub.bind()
    hub.streams += 1
    try:
        yield f"retry: {RETRY_MS}\n\n"
        last_key: str | None = None
        last_sent = time.monotonic()
        last_check = time.monotonic()
        db_down = False
        while not hub.closing.is_set():
            try:
                snap = await hub.snapshot(max_age_s=interval_s / 2)
            except (psycopg.OperationalError, PoolTimeout) as e:
                if not db_down:
                    log.warning("live stream: database unavailable: %s", e)
                    yield _problem(unavailable(e), locale)
                    last_sent = time.monotonic()
                    db_down = True
            else:
                db_down = False
                key = snap.change_key()
                if key != last_key:
                    ms = str(int(snap.generated_at.timestamp() * 1000))
                    yield event("snapshot", snap.model_dump_json(), ms)
                    last_key, last_sent = key, time.monotonic()
            if time.monotonic() - last_sent >= heartbeat_s:
                yield ": heartbeat\n\n"
                last_sent = time.monotonic()
            if time.monotonic() - last_check >= recheck_s:
                last_check = time.monotonic()
                try:
                    await recheck()
                except Problem as p:
                    if p.status in (401, 403):
                        yield _problem(p, locale)
                        return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hub.closing.wait(), interval_s)
        yield event("bye", json.dumps({"reason": "server shutting down"}))
    finally:
        hub.streams -= 1
