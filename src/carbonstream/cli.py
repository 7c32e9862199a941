"""The ``carbonstream`` command: one subcommand per job."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

from carbonstream.errors import CarbonstreamError


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
        return code
    except CarbonstreamError as e:
        print(f"carbonstream: error: {e}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="carbonstream",
        description="Real-time Scope 1 / Scope 2 carbon accounting for factories.",
    )
    sub = p.add_subparsers(title="commands")

    c = sub.add_parser("compute", help="batch accounting of a readings file")
    c.add_argument("--config", required=True, type=Path, help="plant file (YAML or TOML)")
    c.add_argument("--readings", required=True, type=Path, help="CSV or Parquet readings")
    c.add_argument(
        "--bucket",
        default="hour",
        choices=["minute", "15min", "hour", "day", "month"],
        help="reporting bucket in the plant's time zone (default: hour)",
    )
    c.add_argument("--format", default="table", choices=["table", "json", "csv"])
    c.add_argument("--skip-bad", action="store_true", help="count and skip bad rows")
    c.add_argument("--output", type=Path, help="write here instead of standard output")
    c.set_defaults(func=_compute)

    e = sub.add_parser(
        "example-readings", help="write synthetic readings for a plant (demo and tests)"
    )
    e.add_argument("--config", required=True, type=Path)
    e.add_argument("--start", required=True, help="ISO-8601 start with offset")
    e.add_argument("--hours", type=float, default=48)
    e.add_argument("--step", type=int, default=300, help="seconds between readings")
    e.add_argument("--seed", type=int, default=7)
    e.add_argument("--faults", action="store_true", help="add a drop-out and a bad reading")
    e.add_argument("--output", required=True, type=Path)
    e.set_defaults(func=_example_readings)
    return p


def _compute(args: argparse.Namespace) -> int:
    from carbonstream import report
    from carbonstream.compute import compute_file

    base_s = 60 if args.bucket == "minute" else 900
    acc = compute_file(args.config, args.readings, skip_bad=args.skip_bad, base_s=base_s)
    rep = report.build(acc, args.bucket)
    render = {"table": report.to_table, "json": report.to_json, "csv": report.to_csv}
    text = render[args.format](rep)
    if args.output:
        args.output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _example_readings(args: argparse.Namespace) -> int:
    from carbonstream.config.loader import load_plant
    from carbonstream.sim.readings import SimOptions, simulate

    plant = load_plant(args.config)
    start = dt.datetime.fromisoformat(args.start)
    if start.tzinfo is None:
        raise CarbonstreamError("--start needs a UTC offset, e.g. 2026-11-23T00:00:00+08:00")
    df = simulate(
        plant,
        SimOptions(
            start=start, hours=args.hours, step_s=args.step, seed=args.seed, faults=args.faults
        ),
    )
    df.write_csv(args.output)
    print(f"wrote {df.height} readings to {args.output}")
    return 0
