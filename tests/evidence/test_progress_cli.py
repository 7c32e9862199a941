"""The long commands draw their progress on a terminal and keep quiet with --quiet.

Standard error is replaced by a string buffer that says it is a terminal, and the bar's
two-second delay is set to zero, so that a small database shows what a large one would.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
from pathlib import Path

import pytest

from carbonstream import progress
from carbonstream.cli import main
from carbonstream.evidence.seal import seal
from carbonstream.store.db import connect
from carbonstream.store.plant import stored_plant

# slow: runs the restate and report commands (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


RESTATE = ["--from", "2026-11-22", "--to", "2026-11-24", "--label", "progress shown"]


@pytest.mark.parametrize("quiet", [False, True])
def test_restate_report_and_export_show_their_phases_unless_quiet(
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
    err.seek(0)
    err.truncate()
    export = ["export-evidence", "--db-url", filled_db, "--from", "2026-11-22", "--to"]
    assert main([*export, "2026-11-24", "--out", str(tmp_path / "ev"), *flag]) == 0
    export_err = err.getvalue()
    out = capsys.readouterr().out
    assert "the live account is unchanged" in out and f"wrote {xlsx}" in out  # stdout as ever
    assert "exported" in out
    if quiet:
        assert restate_err == report_err == export_err == ""
    else:
        assert "restate 2026-11-22..2026-11-24" in restate_err
        assert "report 2026-11" in report_err
        assert "export 2026-11-22..2026-11-24" in export_err


class _Recorder:
    """A ``Steps`` that remembers what it heard."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, int | None]] = []
        self.done = 0

    def phase(self, label: str, total: int | None = None) -> None:
        self.phases.append((label, total))
        self.done = 0

    def advance(self, steps: int = 1) -> None:
        self.done += steps


def test_seal_counts_every_day_it_walks(filled_db: str) -> None:
    """Sealed in a transaction that is rolled back, so the shared database keeps its chain."""
    rec = _Recorder()
    with connect(filled_db) as conn:
        conn.execute("DELETE FROM evidence_chain")
        zone = stored_plant(conn).zone
        sealed = seal(conn, zone, dt.date(2026, 11, 25), rec)
        conn.rollback()
    [(label, total)] = rec.phases
    first = dt.date.fromisoformat(label.removeprefix("sealing ").split("..")[0])
    assert label.endswith("..2026-11-25") and total == (dt.date(2026, 11, 25) - first).days + 1
    assert rec.done == total and 0 < len(sealed) <= total
