"""The commands the demo prints: each works against the demo's database while it runs."""

from __future__ import annotations

import datetime as dt
import shlex
from pathlib import Path


def try_commands(db_url: str, plant_file: Path, today: dt.date) -> list[tuple[str, str]]:
    """(what, command line) for the monthly report, compute on an evidence export, and the
    API keys; `today` is the plant-local date (the report's month, the export's day)."""
    url = shlex.quote(db_url)
    export = "demo-export"
    return [
        (
            "monthly report (PDF + XLSX)",
            f"carbonstream report --db-url {url} --month {today:%Y-%m} "
            f"--pdf demo-report.pdf --xlsx demo-report.xlsx",
        ),
        (
            "export today's evidence, then compute on it",
            f"carbonstream export-evidence --db-url {url} --from {today} --to {today} "
            f"--out {export} && carbonstream compute --config {shlex.quote(str(plant_file))} "
            f"--readings {export}/readings.csv --bucket hour",
        ),
        ("API keys", f"carbonstream keys list --db-url {url}"),
    ]
