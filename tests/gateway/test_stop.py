"""A stop never hangs, even when a library swallows the cancellation.

On Python 3.11 ``asyncio.wait_for`` (pymodbus awaits every answer with it)
returns the result instead of raising when the cancel arrives in the loop
iteration in which the answer does. That is how the benchmark used to hang:
the service cancelled its pollers and waited for one that never learned of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

import pytest

from carbonstream.gateway.poller import Poller
from carbonstream.gateway.service import cancel_all
from carbonstream.gateway.source import PollResult
from carbonstream.transport.payload import Reading


class _SwallowingPoll:
    """A poll that, like wait_for on 3.11, turns a cancel into a normal result."""

    def __init__(self) -> None:
        self.inside = asyncio.Event()

    async def __call__(self) -> PollResult:
        self.inside.set()
        with contextlib.suppress(asyncio.CancelledError):  # the answer came with the cancel
            await asyncio.sleep(10)  # only the cancel ends it
        return PollResult([], ok=True, requests=1)


async def test_poller_stops_although_the_poll_swallowed_the_cancel() -> None:
    got: list[list[Reading]] = []
    poll = _SwallowingPoll()
    poller = Poller("d", poll, got.append, interval_s=0.01, backoff_max_s=1)
    task = asyncio.create_task(poller.run())
    await asyncio.wait_for(poll.inside.wait(), 30)  # the cancel lands inside a poll
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5)  # the poll alone would take 10 s
    assert task in done and task.cancelled()


async def test_cancel_all_asks_again() -> None:
    cancels = 0

    async def stubborn() -> None:
        nonlocal cancels
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancels += 1
                if cancels >= 3:
                    raise
                asyncio.current_task().uncancel()  # type: ignore[union-attr]

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_all([task], within_s=5), 5)
    assert task.cancelled() and cancels == 3


async def test_cancel_all_gives_up_after_its_deadline(caplog: pytest.LogCaptureFixture) -> None:
    mortal = False

    async def immortal() -> None:
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if mortal:
                    raise
                asyncio.current_task().uncancel()  # type: ignore[union-attr]

    task = asyncio.create_task(immortal())
    await asyncio.sleep(0)
    t0 = asyncio.get_running_loop().time()
    await cancel_all([task], within_s=0.5)
    # Its own deadline, not the default 10 s (a hang bound with room for a busy machine).
    assert asyncio.get_running_loop().time() - t0 < 5
    assert "did not stop" in caplog.text
    mortal = True
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="wait_for was rewritten in 3.12")
async def test_wait_for_on_311_loses_a_cancel() -> None:
    """The CPython behaviour the gateway guards against (gh-86296), shown directly."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[int] = loop.create_future()

    async def ask() -> int:
        return await asyncio.wait_for(answer, 5)

    task = asyncio.create_task(ask())
    await asyncio.sleep(0)  # task now waits inside wait_for
    answer.set_result(42)  # the answer arrives ...
    task.cancel()  # ... in the same loop iteration as the cancel
    assert await task == 42  # the cancel is gone
