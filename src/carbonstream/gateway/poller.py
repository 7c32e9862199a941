"""The polling schedule of one device: fixed interval, lateness, capped backoff.

Each device runs in its own task, so a slow or dead device never holds up the
others. Polls are scheduled on a fixed grid (start + k × interval) rather than
"interval after the last poll", so timestamps do not drift; a poll that
overruns skips the slots it missed (counted) instead of bunching up. After a
failed poll (no answer) the next attempt waits interval × 2^(failures-1),
capped at ``backoff_max_s``; the first success returns to the grid.

A cancellation that a library swallowed (pymodbus awaits its answer with
``asyncio.wait_for``, which on Python 3.11 drops a cancel that arrives just as
the answer does) still stops the poller: it checks ``Task.cancelling()``
after every poll.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

from carbonstream.gateway.modbus import PollResult
from carbonstream.transport.payload import Reading

log = logging.getLogger("carbonstream.gateway")


class PollObserver:
    """What the poller reports; metrics.py implements it."""

    def poll_done(
        self, device: str, duration_s: float, lateness_s: float, result: PollResult
    ) -> None:
        pass

    def skipped(self, device: str, slots: int) -> None:
        pass

    def device_up(self, device: str, up: bool) -> None:
        pass


class Poller:
    def __init__(
        self,
        device: str,
        poll: Callable[[], Awaitable[PollResult]],
        sink: Callable[[list[Reading]], None],
        *,
        interval_s: float,
        backoff_max_s: float,
        phase_s: float = 0.0,
        observer: PollObserver | None = None,
    ) -> None:
        self.device = device
        self.poll = poll
        self.sink = sink
        self.interval = interval_s
        self.backoff_max = backoff_max_s
        self.phase = phase_s
        self.observer = observer or PollObserver()
        self.failures = 0
        self.polls = 0  # polls done, answered or not

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time() + self.phase
        slot = 0
        due = start
        while True:
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            began = loop.time()
            lateness = began - due
            result = await self.poll()
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError  # asked to stop while the answer arrived
            ended = loop.time()
            self.polls += 1
            self.sink(result.readings)
            self.observer.poll_done(self.device, ended - began, lateness, result)
            ok, detail = result.ok, result.detail
            del result  # not kept for a whole interval: long-lived objects slow the GC
            if ok:
                if self.failures:
                    log.info("device %s answers again", self.device)
                if self.failures or self.polls == 1:
                    self.observer.device_up(self.device, True)
                self.failures = 0
                next_slot = max(slot + 1, math.ceil((ended - start) / self.interval))
                if next_slot > slot + 1:
                    self.observer.skipped(self.device, next_slot - slot - 1)
                slot = next_slot
                due = start + slot * self.interval
            else:
                self.failures += 1
                if self.failures == 1:
                    # Log when a device goes down and when it returns, not on every retry.
                    log.warning("device %s not answering: %s", self.device, detail)
                    self.observer.device_up(self.device, False)
                wait = min(self.backoff_max, self.interval * 2 ** (self.failures - 1))
                slot = math.ceil((ended + wait - start) / self.interval)
                due = start + slot * self.interval
