"""What `carbonstream ... --help` shows beyond the options: examples for each command, and
what to do when a command finds no usable database (said in words, not a traceback)."""

from __future__ import annotations

import argparse

import psycopg

_DB = "postgresql://postgres@127.0.0.1:5432/carbonstream"

EXAMPLES: dict[str, list[str]] = {
    "compute": [
        "carbonstream example-readings --config config/plant.example.yaml "
        "--start 2026-11-01T00:00:00+08:00 --hours 48 --output readings.csv",
        "carbonstream compute --config config/plant.example.yaml --readings readings.csv",
        "carbonstream compute --config config/plant.example.yaml --readings readings.csv "
        "--bucket day --format json",
    ],
    "example-readings": [
        "carbonstream example-readings --config config/plant.example.yaml "
        "--start 2026-11-01T00:00:00+08:00 --hours 48 --faults --output readings.csv",
    ],
    "gateway": ["carbonstream gateway --config gateways/assembly.yaml --check"],
    "simulate": ["carbonstream simulate --config config/plant.example.yaml --duration 60"],
    "ingest": ["carbonstream ingest --config config/ingest.example.yaml"],
    "migrate": [f"carbonstream migrate --db-url {_DB}"],
    "serve": ["carbonstream serve --config config/api.example.yaml"],
    "seal": [f"carbonstream seal --db-url {_DB}"],
    "export-evidence": [
        f"carbonstream export-evidence --db-url {_DB} --from 2026-11-01 --to 2026-11-30 "
        "--out evidence-2026-11",
    ],
    "verify": ["carbonstream verify evidence-2026-11"],
    "restate": [
        f"carbonstream restate --db-url {_DB} --from 2026-01-01 --to 2026-06-30 "
        "--label '2024 grid factors' --factors my-factors.csv",
    ],
    "backtest": [f"carbonstream backtest --db-url {_DB} --site foundry --weeks 8"],
    "report": [
        f"carbonstream report --db-url {_DB} --month 2026-11",
        f"carbonstream report --db-url {_DB} --month 2026-11 --locale zh-CN --pdf report-zh.pdf",
        "carbonstream report --config config/api.example.yaml --month 2026-11 --site foundry",
    ],
    "demo": [
        "carbonstream demo",
        "carbonstream demo --duration 300 --port 8090",
        f"carbonstream demo --db-url {_DB}",
    ],
    "keys": [
        f"carbonstream keys create --db-url {_DB} --name grafana --role viewer",
        f"carbonstream keys list --db-url {_DB}",
    ],
    "deploy": ["carbonstream deploy acl --config config/plant.example.yaml --output acl"],
}

TOP = [
    "carbonstream demo",
    "carbonstream compute --config config/plant.example.yaml --readings readings.csv",
    f"carbonstream report --db-url {_DB} --month 2026-11",
    "carbonstream COMMAND --help",
]


def _epilog(lines: list[str]) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def add_examples(parser: argparse.ArgumentParser) -> None:
    """Put the examples under each command's --help (and the top one's)."""
    parser.epilog = _epilog(TOP)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for action in parser._actions:  # argparse keeps subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if name in EXAMPLES:
                    sub.epilog = _epilog(EXAMPLES[name])
                    sub.formatter_class = argparse.RawDescriptionHelpFormatter


DATABASE_HINT = (
    "pass --db-url postgresql://USER@HOST:PORT/DATABASE with the database that ingest writes "
    "to (`carbonstream demo` prints its own), or set CARBONSTREAM_DB_URL, or database.url in "
    "the --config file"
)


def database_hint(e: BaseException) -> str | None:
    """A sentence for a database failure a user can fix by pointing at the right database;
    None for anything else (that is a bug and keeps its traceback)."""
    if isinstance(e, psycopg.errors.UndefinedTable):
        what = (e.diag.message_primary or str(e)).strip()
        return (
            f"this database holds no carbonstream tables ({what}). "
            f"{DATABASE_HINT[0].upper()}{DATABASE_HINT[1:]}."
        )
    if isinstance(e, psycopg.OperationalError):
        first = (str(e).strip().splitlines() or ["cannot connect"])[0]
        return f"cannot reach the database ({first}): {DATABASE_HINT}."
    return None
