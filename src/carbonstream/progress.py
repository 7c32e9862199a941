"""Progress bars on standard error for long batch work (compute, restate, report, seal).

A bar is drawn only on a terminal and only once the work has run longer than
``SHOW_AFTER_S``: short runs, pipes and logs stay clean, ``--quiet`` switches it
off, and standard output (``--format json``, a summary) never carries it. It
appears on time even while one step is still running (a long query): a timer
shows it, not the next update.
"""

from __future__ import annotations

import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

SHOW_AFTER_S = 2.0


class Work(Protocol):
    """Something that counts its progress in bytes (e.g. a ReadingsReader)."""

    @property
    def bytes_done(self) -> int: ...
    @property
    def bytes_total(self) -> int: ...


class Steps(Protocol):
    """What long work reports: the phase it is in, and each step done in it."""

    def phase(self, label: str, total: int | None = None) -> None: ...
    def advance(self, steps: int = 1) -> None: ...


class NoSteps:
    """``Steps`` for a caller that shows no progress."""

    def phase(self, label: str, total: int | None = None) -> None:
        pass

    def advance(self, steps: int = 1) -> None:
        pass


class _Late(ABC):
    """One rich bar on ``console`` (standard error by default), started once the work has
    run ``show_after_s``; never on a console that is not a terminal, nor when not enabled."""

    def __init__(
        self,
        label: str,
        total: float | None = None,
        *,
        show_after_s: float | None = None,
        enabled: bool = True,
        console: Console | None = None,
    ) -> None:
        self.label = label
        self.show_after_s = SHOW_AFTER_S if show_after_s is None else show_after_s
        # A console given (tests force one) says itself whether it is a terminal; standard
        # error is asked directly, so that FORCE_COLOR in a CI log does not draw bars there.
        self.console = console if console is not None else Console(stderr=True)
        terminal = self.console.is_terminal if console is not None else sys.stderr.isatty()
        self.enabled = enabled and terminal
        self.started = time.monotonic()
        # No redirection: what a command prints to standard output stays there, even while
        # the bar is up (rich would otherwise send it through the bar's console).
        self._bar = Progress(
            *self._columns(),
            console=self.console,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = self._bar.add_task(label, total=total)
        self._lock = threading.Lock()
        self._shown = self._closed = False
        self._timer: threading.Timer | None = None
        if self.enabled:
            self._timer = threading.Timer(self.show_after_s, self._show)
            self._timer.daemon = True
            self._timer.start()

    @abstractmethod
    def _columns(self) -> list[ProgressColumn]:
        """What the bar shows, left to right."""

    def _show(self) -> None:
        with self._lock:
            if not self._shown and not self._closed:
                self._shown = True
                self._bar.start()

    def _update(
        self,
        *,
        completed: float | None = None,
        total: float | None = None,
        advance: float | None = None,
    ) -> None:
        self._bar.update(self._task, completed=completed, total=total, advance=advance)
        late = time.monotonic() - self.started >= self.show_after_s
        if self.enabled and not self._shown and late:
            self._show()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
            if self._shown:
                self._bar.stop()


class ByteProgress(_Late):
    """Call with the work after each step; the bar appears after ``show_after_s``."""

    def _columns(self) -> list[ProgressColumn]:
        return [
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        ]

    def __call__(self, work: Work) -> None:
        self._update(completed=work.bytes_done, total=work.bytes_total)


class _Count(ProgressColumn):
    """``done/total`` of a phase that knows its total; nothing for one that does not."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text(f"{int(task.completed)}/{int(task.total)}", style="progress.download")


class StepProgress(_Late):
    """Work counted in steps (days sealed, site-days written), in named phases; the bar
    appears after ``show_after_s`` (pulsing while a phase's total is unknown)."""

    def _columns(self) -> list[ProgressColumn]:
        return [TextColumn("{task.description}"), BarColumn(), _Count(), TimeElapsedColumn()]

    def phase(self, label: str, total: int | None = None) -> None:
        # A new task: rich's update() reads total=None as "keep", not "unknown".
        self._bar.remove_task(self._task)
        self._task = self._bar.add_task(label, total=total)
        self._update()

    def advance(self, steps: int = 1) -> None:
        self._update(advance=steps)


@contextmanager
def byte_progress(label: str, enabled: bool = True) -> Iterator[ByteProgress]:
    bar = ByteProgress(label, enabled=enabled)
    try:
        yield bar
    finally:
        bar.close()


@contextmanager
def step_progress(
    label: str, total: int | None = None, *, enabled: bool = True
) -> Iterator[StepProgress]:
    """A ``StepProgress`` on standard error, closed (and wiped) when the block ends."""
    bar = StepProgress(label, total, enabled=enabled)
    try:
        yield bar
    finally:
        bar.close()
