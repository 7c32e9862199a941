"""Seal, export and verify against a database filled by the real ingest service.

The example readings go through Mosquitto and ingest into a fresh database;
the sealed chain and the export must verify, and changing one stored reading
afterwards must be found by `carbonstream verify`.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from carbonstream.cli import main

# slow: ingests the example plant, exports and verifies it (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow


def _export(url: str, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seal", "--db-url", url, "--until", "2026-11-25"]) == 0
    assert (
        main(
            [
                "export-evidence",
                "--db-url",
                url,
                "--from",
                "2026-11-22",
                "--to",
                "2026-11-24",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    capsys.readouterr()


def test_export_verifies(
    filled_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _export(filled_db, tmp_path / "ev", capsys)
    manifest = json.loads((tmp_path / "ev" / "manifest.json").read_text())
    assert manifest["sealed_days"] == 3 and manifest["readings"] > 10_000
    assert main(["verify", str(tmp_path / "ev")]) == 0
    out = capsys.readouterr().out
    assert "verified: every check passed" in out
    assert "re-derived from" in out


def test_sealing_is_idempotent(filled_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seal", "--db-url", filled_db, "--until", "2026-11-25"]) == 0
    assert main(["seal", "--db-url", filled_db, "--until", "2026-11-25"]) == 0
    assert "nothing to seal" in capsys.readouterr().out


def test_tampered_reading_is_found(
    filled_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["seal", "--db-url", filled_db, "--until", "2026-11-25"]) == 0
    # What seal said is not verify's report: it names each day it sealed, 2026-11-24 among
    # them, unless a test before this one (the database is the session's) sealed them first.
    capsys.readouterr()
    with psycopg.connect(filled_db) as c:
        row = c.execute(
            "SELECT meter, ts, value FROM readings r JOIN meters m ON m.key = r.meter"
            " WHERE m.id = 'foundry-gas' AND ts > '2026-11-23T10:00:00+08:00' AND quality = 0"
            " ORDER BY ts LIMIT 1"
        ).fetchone()
        assert row is not None
        c.execute(
            "UPDATE readings SET value = %s WHERE meter = %s AND ts = %s",
            (row[2] * 0.9, row[0], row[1]),
        )
    try:
        assert (
            main(
                [
                    "export-evidence",
                    "--db-url",
                    filled_db,
                    "--from",
                    "2026-11-22",
                    "--to",
                    "2026-11-24",
                    "--out",
                    str(tmp_path / "ev"),
                ]
            )
            == 0
        )
        assert main(["verify", str(tmp_path / "ev")]) == 1
        out = capsys.readouterr().out
        assert "2026-11-23: digest differs" in out
        assert "2026-11-24" not in out  # reported once, on its own day
        # the stored account no longer matches the (changed) readings either
        assert "PROBLEM: site foundry" in out
    finally:
        with psycopg.connect(filled_db) as c:
            c.execute(
                "UPDATE readings SET value = %s WHERE meter = %s AND ts = %s",
                (row[2], row[0], row[1]),
            )


def test_edited_export_file_is_found(
    filled_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _export(filled_db, tmp_path / "ev", capsys)
    totals = tmp_path / "ev" / "totals.json"
    doc = json.loads(totals.read_text())
    doc["foundry"]["scope1_t"] *= 0.5
    totals.write_text(json.dumps(doc))
    assert main(["verify", str(tmp_path / "ev")]) == 1
    out = capsys.readouterr().out
    assert "totals.json: content differs from the manifest" in out
    assert "site foundry scope1_t" in out
