"""The one scheduler of every source: fixed grid, lateness, one backoff, one failure policy.

Each device runs in its own task, so a slow or dead device never holds up the
others. A polled source (:class:`Poller`) is polled on a fixed grid
(start + k × interval) rather than "interval after the last poll", so
timestamps do not drift; a poll that overruns skips the slots it missed
(counted) instead of bunching up. A subscribed source (:class:`Subscriber`)
keeps a session open and reopens it after a loss.

Both follow one policy for a failing device (:class:`Health`):

- the next attempt waits :func:`backoff_s` (interval × 2^(failures-1), capped
  at ``backoff_max_s``); the first success returns a polled device to its grid;
- a device going down is logged once and its return once (a warning when the
  failure is transient, an error when it needs a human, e.g. a refused login),
  and ``device_up`` is reported on each change.

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
from typing import assert_never

from carbonstream.gateway.source import (
    PolledSource,
    Polling,
    PollResult,
    Sink,
    Source,
    SourceDownError,
    SubscribedSource,
)

log = logging.getLogger("carbonstream.gateway")

# 2^62 × any interval ≥ 1 ns is far past any backoff_max_s; the exponent stops there so
# that a device down for days (thousands of failures) never overflows a float.
_MAX_EXPONENT = 62


def backoff_s(failures: int, interval_s: float, backoff_max_s: float) -> float:
    """The wait before the next attempt at a device that failed ``failures`` times in a row."""
    if failures <= 0:
        return interval_s
    return min(backoff_max_s, math.ldexp(interval_s, min(failures - 1, _MAX_EXPONENT)))


class PollObserver:
    """What the scheduler reports; metrics.py implements it."""

    def poll_done(
        self, device: str, duration_s: float, lateness_s: float, result: PollResult
    ) -> None:
        pass

    def skipped(self, device: str, slots: int) -> None:
        pass

    def device_up(self, device: str, up: bool) -> None:
        pass


class Health:
    """The failure policy of one device: counts failures, logs each change once."""

    def __init__(self, device: str, observer: PollObserver) -> None:
        self.device = device
        self.observer = observer
        self.failures = 0  # in a row
        self.needs_human = False  # the kind of the current outage
        self.attention = ""  # what needs a person although the device answers
        self._reported = False  # device_up said at least once

    def answered(self, attention: str = "") -> None:
        """The device answered; ``attention`` says what of it still needs a person (points
        it refuses as misconfigured), logged once when it appears or changes."""
        if self.failures:
            log.info("device %s answers again", self.device)
        if self.failures or not self._reported:
            self.observer.device_up(self.device, True)
            self._reported = True
        self.failures = 0
        self.needs_human = False
        if attention and attention != self.attention:
            log.error("device %s needs attention (still polled): %s", self.device, attention)
        elif self.attention and not attention:
            log.info("device %s no longer needs attention", self.device)
        self.attention = attention

    def failed(self, detail: str, *, needs_human: bool = False) -> bool:
        """Count a failure; True when the device has just gone down."""
        self.failures += 1
        down = self.failures == 1
        if down or (needs_human and not self.needs_human):
            # Once when a device goes down, and once more if it turns out a human must act.
            if needs_human:
                log.error("device %s needs attention (retrying): %s", self.device, detail)
            else:
                log.warning("device %s not answering: %s", self.device, detail)
        self.needs_human = needs_human
        if down:
            self.observer.device_up(self.device, False)
            self._reported = True
        return down

    def wait_s(self, interval_s: float, backoff_max_s: float) -> float:
        return backoff_s(self.failures, interval_s, backoff_max_s)


class Poller:
    """Polls one device through its update method (``poll``) on a fixed grid."""

    def __init__(
        self,
        device: str,
        poll: Callable[[], Awaitable[PollResult]],
        sink: Sink,
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
        self.health = Health(device, self.observer)
        self.polls = 0  # polls done, answered or not

    @property
    def failures(self) -> int:
        return self.health.failures

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
            ok, detail, human = result.ok, result.detail, result.needs_human
            del result  # not kept for a whole interval: long-lived objects slow the GC
            if ok:
                self.health.answered(detail if human else "")
                next_slot = max(slot + 1, math.ceil((ended - start) / self.interval))
                if next_slot > slot + 1:
                    self.observer.skipped(self.device, next_slot - slot - 1)
                slot = next_slot
            else:
                self.health.failed(detail, needs_human=human)
                wait = self.health.wait_s(self.interval, self.backoff_max)
                slot = math.ceil((ended + wait - start) / self.interval)
            due = start + slot * self.interval


class Subscriber:
    """Keeps one subscribed device's session open; reopens it after a loss with the backoff."""

    def __init__(
        self,
        device: str,
        source: SubscribedSource,
        sink: Sink,
        *,
        interval_s: float,
        backoff_max_s: float,
        observer: PollObserver | None = None,
    ) -> None:
        self.device = device
        self.source = source
        self.sink = sink
        self.interval = interval_s
        self.backoff_max = backoff_max_s
        self.health = Health(device, observer or PollObserver())

    async def run(self) -> None:
        while True:
            try:
                await self.source.session(self.sink, self.health.answered)
                detail, human = "session ended", False
            except asyncio.CancelledError:
                raise
            except SourceDownError as e:
                detail, human = str(e), e.needs_human
            except Exception as e:  # a library's own error: the session is gone, reopen it
                detail, human = str(e) or type(e).__name__, False
            if self.health.failed(detail, needs_human=human):
                # Once per outage: the points' last values are no longer current.
                self.sink(self.source.unavailable())
            await asyncio.sleep(self.health.wait_s(self.interval, self.backoff_max))


def schedule(
    device: str,
    source: Source,
    sink: Sink,
    polling: Polling,
    *,
    phase_s: float = 0.0,
    observer: PollObserver | None = None,
) -> Poller | Subscriber:
    """The runner of any source: a polled one on its grid, a subscribed one kept open."""
    match source:
        case PolledSource():
            return Poller(
                device,
                source.poll,
                sink,
                interval_s=polling.interval_s,
                backoff_max_s=polling.backoff_max_s,
                phase_s=phase_s,
                observer=observer,
            )
        case SubscribedSource():
            return Subscriber(
                device,
                source,
                sink,
                interval_s=polling.interval_s,
                backoff_max_s=polling.backoff_max_s,
                observer=observer,
            )
        case _:
            assert_never(source)
