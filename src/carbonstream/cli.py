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

    g = sub.add_parser("gateway", help="run an edge gateway: poll meters, buffer, publish")
    g.add_argument("--config", required=True, type=Path, help="gateway file (YAML or TOML)")
    g.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    g.add_argument("--check", action="store_true", help="check the file and exit")
    g.add_argument(
        "--loop",
        default="auto",
        choices=["auto", "uvloop", "asyncio"],
        help="event loop: auto = uvloop when installed",
    )
    g.set_defaults(func=_gateway)

    s = sub.add_parser(
        "simulate", help="serve a plant's meters over Modbus TCP and OPC UA (demo and tests)"
    )
    s.add_argument("--config", required=True, type=Path, help="plant file")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--modbus-port", type=int, default=5020)
    s.add_argument("--opcua-port", type=int, default=4840)
    s.add_argument("--no-opcua", action="store_true", help="serve Modbus only")
    s.add_argument("--speed", type=float, default=1.0, help="simulated seconds per second")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--rollover-after", type=float, default=120.0, metavar="S")
    s.add_argument("--dropout-period", type=float, default=300.0, metavar="S")
    s.add_argument("--dropout-seconds", type=float, default=60.0, metavar="S")
    s.add_argument("--no-dropout", action="store_true")
    s.add_argument("--duration", type=float, help="stop after this many seconds")
    s.set_defaults(func=_simulate)
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


def _logging(level: str) -> None:
    import logging

    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # asyncua logs every notification at INFO: keep only its warnings.
    logging.getLogger("asyncua").setLevel(max(logging.WARNING, logging.getLogger().level))


def _gateway(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from carbonstream.gateway.config import load_gateway
    from carbonstream.gateway.service import GatewayService
    from carbonstream.gateway.service import run as run_gateway

    gateway = load_gateway(args.config)
    if args.check:
        print(f"{args.config}: ok ({len(gateway.file.devices)} devices)")
        return 0
    _logging(args.log_level)

    async def run() -> None:
        service = GatewayService(gateway)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, service.stop)
        await service.run()

    run_gateway(run(), loop=args.loop)
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import asyncio
    import contextlib
    import signal

    from carbonstream.config.loader import load_plant
    from carbonstream.sim.plant_sim import PlantSimulator, SimOptions

    plant = load_plant(args.config)
    _logging("warning")
    opt = SimOptions(
        host=args.host,
        modbus_port=args.modbus_port,
        opcua_port=None if args.no_opcua else args.opcua_port,
        seed=args.seed,
        speed=args.speed,
        rollover_after_s=args.rollover_after,
        dropout_unit=None if args.no_dropout else -1,
        dropout_period_s=args.dropout_period,
        dropout_s=args.dropout_seconds,
    )

    async def run() -> None:
        sim = PlantSimulator(plant, opt)
        await sim.start()
        for p in sim.points:
            where = f"unit {p.unit_id:<3} {p.profile}.{p.quantity}" if p.quantity else "OPC UA only"
            print(f"  {p.meter.id:<20} {where}   {p.node}")
        opcua = f", OPC UA {sim.opcua.endpoint}" if sim.opcua else ""
        print(f"ready: Modbus TCP {opt.host}:{opt.modbus_port}{opcua}", flush=True)
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), args.duration)
        await sim.stop()

    asyncio.run(run())
    return 0
