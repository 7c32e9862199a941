"""The long commands draw their progress on a terminal and keep quiet with --quiet.

Standard error is replaced by a string buffer that says it is a terminal, and the bar's
two-second delay is set to zero, so that a small database shows what a large one would.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from carbonstream import progress
from carbonstream.cli import main

# slow: runs the restate and report commands (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


RESTATE = ["--from", "2026-11-22", "--to", "2026-11-24", "--label", "progress shown"]


@pytest.mark.parametrize("quiet", [False, True])
def test_restate_and_report_show_their_phases_unless_quiet(
    quiet: bool,
    filled_db: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 0.0)
    flag = ["--quiet"] if quiet else []
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["restate", "--db-url", filled_db, *RESTATE, *flag]) == 0
    restate_err = err.getvalue()
    err.seek(0)
    err.truncate()
    xlsx = tmp_path / "r.xlsx"
    report = ["report", "--db-url", filled_db, "--month", "2026-11", "--xlsx", str(xlsx)]
    assert main([*report, *flag]) == 0
    report_err = err.getvalue()
    out = capsys.readouterr().out
    assert "the live account is unchanged" in out and f"wrote {xlsx}" in out  # stdout as ever
    if quiet:
        assert restate_err == "" and report_err == ""
    else:
        assert "restate 2026-11-22..2026-11-24" in restate_err
        assert "report 2026-11" in report_err
