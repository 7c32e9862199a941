"""A progress bar on standard error for long batch work (compute, backfills).

Shown only when standard error is a terminal and the work has run longer than
``SHOW_AFTER_S``: short runs, pipes and logs stay clean, and standard output
(``--format json``) never carries it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

SHOW_AFTER_S = 2.0


class Work(Protocol):
    """Something that counts its progress in bytes (e.g. a ReadingsReader)."""

    @property
    def bytes_done(self) -> int: ...
    @property
    def bytes_total(self) -> int: ...


class ByteProgress:
    """Call with the work after each step; the bar appears after ``show_after_s``."""

    def __init__(self, label: str, show_after_s: float = SHOW_AFTER_S, enabled: bool = True):
        self.label = label
        self.show_after_s = show_after_s
        self.enabled = enabled and sys.stderr.isatty()
        self.started = time.monotonic()
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, work: Work) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            if time.monotonic() - self.started < self.show_after_s:
                return
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=work.bytes_total)
        assert self._task is not None
        self._bar.update(self._task, completed=work.bytes_done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


@contextmanager
def byte_progress(label: str, enabled: bool = True) -> Iterator[ByteProgress]:
    bar = ByteProgress(label, enabled=enabled)
    try:
        yield bar
    finally:
        bar.close()
