"""One scheduler, one backoff, one failure policy for every source.

The sources here are small in-test update methods and sessions (our own code
driving our own scheduler, nothing outside our control is replaced); the real
Modbus and OPC UA sources run through the same scheduler in test_devices.py,
test_opcua.py and test_opcua_security.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from carbonstream.gateway import poller
from carbonstream.gateway.poller import Poller, PollObserver, Subscriber, backoff_s, schedule
from carbonstream.gateway.source import (
    PolledSource,
    Polling,
    PollResult,
    Sink,
    SourceDownError,
    SubscribedSource,
    failed,
)
from carbonstream.transport.payload import Quality, Reading


class _Point:
    meter, unit = "m1", "kWh"


def test_backoff_doubles_from_the_interval_up_to_the_cap() -> None:
    # Worked by hand: interval 0.5 s, cap 10 s -> 0.5, 1, 2, 4, 8, 10, 10.
    assert [backoff_s(n, 0.5, 10.0) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 10, 10]


def test_backoff_of_a_device_down_for_days_does_not_overflow() -> None:
    # At a 60 s cap a device fails about 1440 times a day; 2 ** 1100 as a float overflows,
    # which is what interval * 2 ** (failures - 1) did (and ended the device's task).
    with pytest.raises(OverflowError):
        _ = 1.0 * 2 ** (1100 - 1)
    assert backoff_s(1100, 1.0, 60.0) == 60.0
    assert backoff_s(10**9, 0.001, 3600.0) == 3600.0


class _Record(PollObserver):
    def __init__(self) -> None:
        self.up: list[bool] = []

    def device_up(self, device: str, up: bool) -> None:
        self.up.append(up)


def _script(outcomes: list[str]) -> Callable[[], PollResult]:
    """An update method answering as scripted: ok, down (transient) or human."""
    it = iter(outcomes)

    def next_result() -> PollResult:
        match next(it, "ok"):
            case "ok":
                return PollResult([], ok=True, requests=1)
            case "down":
                return PollResult(failed([_Point()], Quality.TIMEOUT), ok=False, requests=1)
            case _:
                return PollResult([], ok=False, requests=1, detail="refused", needs_human=True)

    return next_result


async def _poll_until(p: Poller, polls: int) -> None:
    task = asyncio.create_task(p.run())
    while p.polls < polls:
        await asyncio.sleep(0.005)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


class _Scripted(PolledSource):
    def __init__(self, outcomes: list[str]) -> None:
        self.next = _script(outcomes)

    async def poll(self) -> PollResult:
        return self.next()


async def test_down_and_back_are_logged_once_each(caplog: pytest.LogCaptureFixture) -> None:
    obs = _Record()
    got: list[Reading] = []
    source = _Scripted(["ok", "down", "down", "down", "ok", "ok"])
    p = schedule(
        "d1", source, got.extend, Polling(interval_s=0.01, backoff_max_s=0.02), observer=obs
    )
    assert isinstance(p, Poller)
    with caplog.at_level(logging.INFO, logger="carbonstream.gateway"):
        await _poll_until(p, 6)
    said = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert said == [
        (logging.WARNING, "device d1 not answering: "),
        (logging.INFO, "device d1 answers again"),
    ]
    assert obs.up == [True, False, True]
    assert [r.q for r in got] == [Quality.TIMEOUT] * 3  # every failed poll shows, as null


async def test_a_failure_that_needs_a_human_is_said_as_such(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = _Scripted(["down", "human", "human", "human", "ok"])
    p = schedule("d1", source, lambda _r: None, Polling(interval_s=0.01, backoff_max_s=0.02))
    assert isinstance(p, Poller)
    with caplog.at_level(logging.INFO, logger="carbonstream.gateway"):
        await _poll_until(p, 5)
    said = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert said == [
        (logging.WARNING, "device d1 not answering: "),
        (logging.ERROR, "device d1 needs attention (retrying): refused"),
        (logging.INFO, "device d1 answers again"),
    ]


class _Flaky(SubscribedSource):
    """A session that cannot open twice, then opens and is lost, then stays open."""

    def __init__(self) -> None:
        self.sessions = 0

    async def session(self, sink: Sink, established: Callable[[], None]) -> None:
        self.sessions += 1
        if self.sessions <= 2:
            raise SourceDownError("connection refused")
        established()
        sink([Reading(m="m1", t=1, v=1.0, u="kWh")])
        if self.sessions == 3:
            raise RuntimeError("session lost")  # a library's own error
        await asyncio.sleep(3600)

    def unavailable(self) -> list[Reading]:
        return failed([_Point()], Quality.COMM_ERROR)


async def test_polled_and_subscribed_sources_wait_by_the_same_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[tuple[int, float, float]] = []

    def recorded(failures: int, interval_s: float, backoff_max_s: float) -> float:
        waits.append((failures, interval_s, backoff_max_s))
        return 0.0

    monkeypatch.setattr(poller, "backoff_s", recorded)
    obs = _Record()
    got: list[Reading] = []
    source = _Flaky()
    sub = schedule("s1", source, got.extend, Polling(interval_s=0.5, backoff_max_s=7), observer=obs)
    assert isinstance(sub, Subscriber)
    task = asyncio.create_task(sub.run())
    while source.sessions < 4:
        await asyncio.sleep(0.005)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    # Two failures in a row, then a session that was established and lost: counted afresh.
    assert waits == [(1, 0.5, 7), (2, 0.5, 7), (1, 0.5, 7)]
    # comm_error once per outage, not once per attempt; up and down reported on each change.
    assert [r.q for r in got] == [
        Quality.COMM_ERROR,
        Quality.GOOD,
        Quality.COMM_ERROR,
        Quality.GOOD,
    ]
    assert obs.up == [False, True, False, True]

    waits.clear()
    polled = _Scripted(["down", "down"])
    p = schedule("d1", polled, lambda _r: None, Polling(interval_s=0.5, backoff_max_s=7))
    assert isinstance(p, Poller)
    await _poll_until(p, 3)
    assert waits == [(1, 0.5, 7), (2, 0.5, 7)]
