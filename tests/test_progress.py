"""Progress bars: drawn only on a terminal, only for work that lasts, never with --quiet.

The console is a rich Console writing to a string and told it is a terminal (what a
person's shell would be); nothing else is stood in for.
"""

from __future__ import annotations

import io
import time

from rich.console import Console

from carbonstream.progress import StepProgress


def _console(terminal: bool = True) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=100), out


def test_a_step_bar_on_a_terminal_shows_its_phase_and_count() -> None:
    console, out = _console()
    bar = StepProgress("restate", show_after_s=0, console=console)
    bar.phase("restate: writing site-days", 5)
    for _ in range(3):
        bar.advance()
    bar.close()
    assert "restate: writing site-days" in out.getvalue()
    assert "3/5" in out.getvalue()  # the last frame, drawn as the bar closes


def test_a_phase_of_unknown_length_shows_no_count() -> None:
    console, out = _console()
    bar = StepProgress("report", show_after_s=0, console=console)
    bar.phase("report 2026-11: gathering the month's account")
    bar.close()
    assert "gathering the month's account" in out.getvalue()
    assert "/" not in out.getvalue().split("account", 1)[1]


def test_short_work_draws_nothing() -> None:
    console, out = _console()
    bar = StepProgress("seal", show_after_s=60, console=console)
    bar.phase("sealing", 3)
    bar.advance(3)
    bar.close()
    assert out.getvalue() == ""


def test_no_bar_off_a_terminal_or_when_quiet() -> None:
    console, out = _console(terminal=False)
    bar = StepProgress("seal", show_after_s=0, console=console)
    bar.phase("sealing", 3)
    bar.advance()
    bar.close()
    assert not bar.enabled and out.getvalue() == ""
    console, out = _console()
    quiet = StepProgress("seal", show_after_s=0, enabled=False, console=console)
    quiet.phase("sealing", 3)
    quiet.advance()
    quiet.close()
    assert not quiet.enabled and out.getvalue() == ""


def test_a_long_step_shows_the_bar_without_waiting_for_the_next_update() -> None:
    """One long query reports nothing until it ends; the bar still appears on time."""
    console, out = _console()
    bar = StepProgress("restate", show_after_s=0.05, console=console)
    bar.phase("restate: reading the stored readings")
    deadline = time.monotonic() + 10
    try:
        while "reading the stored readings" not in out.getvalue():
            assert time.monotonic() < deadline, "the bar never appeared"
            time.sleep(0.01)
    finally:
        bar.close()
