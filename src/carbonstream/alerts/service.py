"""The alert service: evaluate every rule on a schedule, persist, notify.

Runs inside the API process (started by the app's lifespan when ``alerts`` is
configured). Every ``evaluate_every_s``:

    one transaction: round lock ─► load state ─► signals at `now` ─► AlertEngine
      ─► save state ─► history rows ─► queued notifications ─► commit
    then: each notification is delivered in its own task (signed, retried with
    backoff) and its outcome written back; evaluation never waits for a webhook.

The clock is injected (``clock``; ``evaluate(now=...)``) so tests replay a
stream with a fake clock. Delivery is at least once: a notification still
pending after a crash is sent at the next start, so receivers de-duplicate by
the payload's ``id`` (the history row).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import httpx
import psycopg
from psycopg_pool import AsyncConnectionPool

from carbonstream.alerts import store
from carbonstream.alerts.engine import AlertEngine, Transition
from carbonstream.alerts.metrics import SEVERITIES, AlertMetrics
from carbonstream.alerts.notify import Delivery, deliver
from carbonstream.alerts.rules import AlertsConfig, bind
from carbonstream.alerts.signals import Signals
from carbonstream.config.plant import Plant
from carbonstream.forecast.service import Forecaster

log = logging.getLogger(__name__)
AsyncConn = psycopg.AsyncConnection[psycopg.rows.TupleRow]


class AlertService:
    def __init__(
        self,
        config: AlertsConfig,
        plant: Plant,
        pool: AsyncConnectionPool[AsyncConn],
        clock: Callable[[], float] = time.time,
        client: httpx.AsyncClient | None = None,
        forecaster: Forecaster | None = None,
        metrics: AlertMetrics | None = None,
    ) -> None:
        self.config = bind(config, plant)
        self.plant = plant
        self.pool = pool
        self.clock = clock
        self.started = clock()
        self.signals = Signals(self.config, plant, self.started, forecaster)
        self.hooks = {h.id: h for h in self.config.webhooks}
        self._client = client
        self._own_client = client is None
        self._deliveries: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._failing = False
        self.metrics = metrics or AlertMetrics(registry=None)

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Resume notifications a previous run left pending, then evaluate on schedule."""
        try:
            async with self.pool.connection() as conn:
                left = await store.pending(conn)
        except (psycopg.Error, TimeoutError) as e:
            log.warning("alerts: cannot read pending notifications yet: %s", e)
            left = []
        for n in left:
            self._spawn(n)
        self._loop_task = asyncio.create_task(self._loop(), name="alerts-loop")

    async def stop(self) -> None:
        """Stop evaluating; deliveries in flight are cancelled and stay pending in the table."""
        tasks = [t for t in (self._loop_task, *self._deliveries) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._loop_task = None
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def drain(self) -> None:
        """Wait until every delivery started so far has finished (tests, clean stops)."""
        while self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)

    async def _loop(self) -> None:
        every = self.config.evaluate_every_s
        while True:
            try:
                await self.evaluate()
                if self._failing:
                    log.info("alerts: evaluating again")
                self._failing = False
            except (psycopg.Error, TimeoutError, OSError) as e:
                self.metrics.rounds.labels("failed").inc()
                if not self._failing:  # log once per outage
                    log.warning("alerts: evaluation failed, retrying every %ss: %s", every, e)
                self._failing = True
            except Exception:
                self.metrics.rounds.labels("failed").inc()
                log.exception("alerts: evaluation failed")
            await asyncio.sleep(every)

    # --- one round ------------------------------------------------------------------

    async def evaluate(self, now: float | None = None) -> list[Transition]:
        """One round at ``now`` (default: the clock); returns the transitions it recorded."""
        now = self.clock() if now is None else now
        async with self.pool.connection() as conn, conn.transaction():
            if not await store.try_lock_round(conn):
                log.debug("alerts: another process is evaluating this round")
                self._round_done("skipped")
                return []
            engine = AlertEngine(self.config.rules, await store.load_state(conn))
            values = await self.signals.values(conn, now)
            transitions = engine.evaluate(now, values)
            await store.save_state(conn, engine, now)
            queued = await store.record(conn, transitions, {"plant": self.plant.name})
        self._round_done("ok")
        active: list[str] = [r.severity for r, _ in engine.active()]
        for severity in SEVERITIES:
            self.metrics.active.labels(severity).set(active.count(severity))
        for t in transitions:
            self.metrics.transitions.labels(t.status).inc()
            log.info(
                "alert %s %s: value %.6g, threshold %g",
                t.rule.id,
                t.status,
                t.value,
                t.rule.threshold,
            )
        for n in queued:
            self._spawn(n)
        return transitions

    def _round_done(self, outcome: str) -> None:
        self.metrics.rounds.labels(outcome).inc()
        self.metrics.last_round.set(time.time())

    # --- notifications --------------------------------------------------------------

    def _spawn(self, n: store.Notification) -> None:
        task = asyncio.create_task(self._deliver(n), name=f"alert-webhook-{n.id}")
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, n: store.Notification) -> None:
        hook = self.hooks.get(n.webhook)
        if hook is None:
            d = Delivery(n.webhook, False, 0, None, "webhook no longer configured")
        else:
            if self._client is None:
                self._client = httpx.AsyncClient()
            d = await deliver(hook, n.payload, self._client)
        self.metrics.notifications.labels(n.webhook, "delivered" if d.ok else "failed").inc()
        try:
            async with self.pool.connection() as conn:
                await store.finish(conn, n.id, d)
        except (psycopg.Error, TimeoutError) as e:
            log.warning("alerts: could not record delivery of notification %s: %s", n.id, e)
