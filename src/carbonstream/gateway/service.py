"""Wiring: sources -> disk queue -> sealer -> publisher, plus metrics.

Each device's protocol (found by the registry) makes its source; a polled
source runs under a Poller, a subscribed one under a Subscriber; the service
knows no protocol by name. Readings flow one way. Sources hand readings to
``_sink`` (no await, no I/O); one writer task appends everything that arrived
in the last ``WRITE_EVERY_S`` to the SQLite queue in one transaction (in the
queue's thread), so the queue keeps up with thousands of devices without
blocking the event loop. Batches are sealed by count in that same transaction
(as soon as ``batch_max_readings`` are waiting) and by time (every
``batch_interval_s``).

Once the first polls are done the objects built at start (devices, clients,
connections: hundreds of thousands at 2000 devices) are moved out of the cyclic
garbage collector's reach (``gc.freeze``). Otherwise every full collection
walks them all and stops the event loop for up to 0.3 s, which is what made
the 99th percentile of poll lateness miss 100 ms at 2000 devices. Then the
young-generation threshold is raised from 700 to ``GC_YOUNG_THRESHOLD``: a poll
cycle's objects die by reference counting, but with 700 the collector still
ran about 50 times a second at 2000 devices (5 % of a core, pauses of 10-45 ms
in the older generations); with 20,000 it runs about once in 10 s. Cyclic
garbage still goes, 20,000 objects later.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections import Counter
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

from carbonstream.gateway import registry
from carbonstream.gateway.buffer import AsyncQueue, Queue
from carbonstream.gateway.config import Gateway
from carbonstream.gateway.metrics import GatewayMetrics
from carbonstream.gateway.poller import Poller, Subscriber, schedule
from carbonstream.gateway.source import Hub
from carbonstream.transport.payload import Reading
from carbonstream.transport.publisher import Publisher

log = logging.getLogger("carbonstream.gateway")

T = TypeVar("T")

# Readings wait in memory at most this long before their transaction: a few
# commits a second instead of one per poll (at 2000 devices, 2000 a second).
WRITE_EVERY_S = 0.05

GC_YOUNG_THRESHOLD = 20_000


class GatewayService:
    def __init__(self, gateway: Gateway, *, metrics: GatewayMetrics | None = None) -> None:
        self.gateway = gateway
        gw = gateway.file
        self.metrics = metrics or GatewayMetrics()
        signer = gateway.signer()
        if signer is None:
            log.warning(
                "gateway %s has no signing key: batches go unsigned (v1); ingest in "
                "production refuses them (docs/security.md: gateway keys)",
                gw.id,
            )
        self.queue = AsyncQueue(
            lambda: Queue(
                gateway.buffer_path,
                gw.id,
                max_readings=gw.buffer.max_readings,
                when_full=gw.buffer.when_full,
                synchronous=gw.buffer.synchronous,
                signer=signer,
            )
        )
        self.publisher = Publisher(
            gw.broker,
            site=gw.site,
            gateway=gw.id,
            source=self.queue,
            max_inflight=gw.publish.max_inflight,
            on_connection=lambda up: self.metrics.connected.set(1 if up else 0),
            on_sent=self._sent,
        )
        self._inbox: list[Reading] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._closing = False  # the writer's last round
        self._gc_threshold: tuple[int, int, int] | None = None  # set when tuned at start
        self.metrics_port: int | None = None
        self._build()

    def _sent(self, n: int) -> None:
        self.metrics.published_messages.inc()
        self.metrics.published_readings.inc(n)

    def _build(self) -> None:
        gw = self.gateway.file
        site = self.gateway.site()
        specs = registry.protocols()
        self.hubs: dict[str, Hub[Any]] = {}
        self.pollers: list[Poller] = []
        self.subscribers: list[Subscriber] = []
        n = len(gw.devices)
        for i, device in enumerate(gw.devices):
            polling = gw.polling_of(device)
            hub = self.hubs.get(device.protocol)
            if hub is None:
                hub = self.hubs[device.protocol] = specs[device.protocol].hub(site)
            runner = schedule(
                device.id,
                hub.source(device, polling),
                self._sink_for(device.id),
                polling,
                # Spread devices over the interval so requests do not all leave at once.
                phase_s=polling.interval_s * i / n,
                observer=self.metrics,
            )
            if isinstance(runner, Poller):
                self.pollers.append(runner)
            else:
                self.subscribers.append(runner)
        self.devices_by_protocol = Counter(d.protocol for d in gw.devices)

    async def close_sources(self) -> None:
        """Close what the sources share (connections); after they have stopped."""
        for hub in self.hubs.values():
            await hub.close()

    def _sink_for(self, device: str) -> _Sink:
        return _Sink(self, device)

    def _accept(self, device: str, readings: list[Reading]) -> None:
        if readings:
            self._inbox.extend(readings)
            self.metrics.observe_readings(device, readings)
            self._wake.set()

    async def _writer(self) -> None:
        batch_max = self.gateway.file.publish.batch_max_readings
        while True:
            await self._wake.wait()
            if not self._closing:
                await asyncio.sleep(WRITE_EVERY_S)  # let more polls end: one transaction for all
            self._wake.clear()
            batch, self._inbox = self._inbox, []
            if batch:
                await self.queue.append(batch, batch_max=batch_max)
            if self._closing and not self._inbox:  # what came during the append goes too
                return

    async def _sealer(self) -> None:
        pub = self.gateway.file.publish
        while True:
            await asyncio.sleep(pub.batch_interval_s)
            await self.queue.seal(pub.batch_max_readings, force=True)
            self.metrics.observe_buffer(await self.queue.stats())

    async def _freeze_startup_objects(self) -> None:
        # After every device's first poll (answered or not), or 30 s: connections are built.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30.0
        while loop.time() < deadline and any(p.polls == 0 for p in self.pollers):
            await asyncio.sleep(0.5)
        gc.collect()
        gc.freeze()
        self._gc_threshold = gc.get_threshold()
        young, older, oldest = self._gc_threshold
        gc.set_threshold(max(young, GC_YOUNG_THRESHOLD), older, oldest)
        log.debug("%d objects built at start left out of garbage collection", gc.get_freeze_count())

    async def run(self) -> None:
        """Run until stop() is called or the task is cancelled."""
        await self.queue.open()
        m = self.gateway.file.metrics
        if m.port is not None:
            self.metrics_port = self.metrics.serve(m.host, m.port)
        self.metrics.observe_buffer(await self.queue.stats())
        log.info(
            "gateway %s: devices %s, queue %s (stream %s)",
            self.gateway.file.id,
            ", ".join(f"{p} {k}" for p, k in sorted(self.devices_by_protocol.items())),
            self.gateway.buffer_path,
            self.queue.stream,
        )
        acquisition = [asyncio.create_task(p.run()) for p in self.pollers] + [
            asyncio.create_task(r.run()) for r in self.subscribers
        ]
        settle = asyncio.create_task(self._freeze_startup_objects())
        writer = asyncio.create_task(self._writer())
        sealer = asyncio.create_task(self._sealer())
        publisher = asyncio.create_task(self.publisher.run())
        self._tasks = [*acquisition, settle, writer, sealer, publisher]
        try:
            await self._stopping.wait()
        finally:
            await cancel_all([*acquisition, settle])
            await self.close_sources()
            # Everything polled goes to disk and into a batch before we let go: the
            # writer is told to finish, not cancelled, so no append is cut short.
            self._closing = True
            self._wake.set()
            await asyncio.wait([writer], timeout=10)
            await cancel_all([writer])
            if self._inbox:  # the writer did not finish in time: store the rest here
                await self.queue.append(self._inbox)
                self._inbox = []
            await cancel_all([sealer])
            await self.queue.seal(self.gateway.file.publish.batch_max_readings, force=True)
            await self.publisher.stop()
            await asyncio.wait([publisher], timeout=5)
            await cancel_all([publisher])
            await self.queue.close()
            self.metrics.close()
            if self._gc_threshold is not None:  # the process goes on: leave the GC as it was
                gc.set_threshold(*self._gc_threshold)
                gc.unfreeze()

    def stop(self) -> None:
        self._stopping.set()


async def cancel_all(tasks: list[asyncio.Task[None]], *, within_s: float = 10.0) -> None:
    """Cancel tasks and wait until they have ended, cancelling again any that go on.

    A library may swallow a cancellation (Python 3.11's ``asyncio.wait_for`` does
    when the awaited result arrives in the same loop iteration); asking again
    ends such a task at its next await. After ``within_s`` the rest is left,
    logged, so a stop never hangs.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    pending = {t for t in tasks if not t.done()}
    while pending and loop.time() < deadline:
        for t in pending:
            t.cancel()
        _done, pending = await asyncio.wait(pending, timeout=0.2)
    if pending:
        log.error("%d task(s) did not stop within %.0f s", len(pending), within_s)
    for t in tasks:
        if t.done() and not t.cancelled() and t.exception() is not None:
            log.error("task %s failed: %r", t.get_name(), t.exception())


class _Sink:
    """A device's hand-over point: counts readings and queues them for the writer."""

    def __init__(self, service: GatewayService, device: str) -> None:
        self.service = service
        self.device = device

    def __call__(self, readings: list[Reading]) -> None:
        self.service._accept(self.device, readings)


def run(main: Coroutine[Any, Any, T], *, loop: Literal["auto", "uvloop", "asyncio"] = "auto") -> T:
    """Run the gateway's main coroutine on uvloop when it is installed ("auto"), else asyncio.

    uvloop (libuv, C) costs less per socket event than asyncio's Python loop: in
    the benchmark at 2000 devices the gateway used 0.36-0.41 of a core on uvloop
    and 0.48-0.53 on asyncio; both held the p99 poll lateness under 0.1 s
    (docs/gateway.md). Less CPU matters on small plant hardware.
    """
    if loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if loop == "uvloop":
                raise
        else:
            return uvloop.run(main)
    return asyncio.run(main)
