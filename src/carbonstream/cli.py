"""The ``carbonstream`` command: one subcommand per job."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from carbonstream import __version__
from carbonstream.cli_help import add_examples
from carbonstream.errors import CarbonstreamError

if TYPE_CHECKING:
    from carbonstream.config.settings import ServiceSettings
    from carbonstream.store.db import Conn, EmbeddedPostgres


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
        from carbonstream.cli_help import DATABASE_HINT
        from carbonstream.store.errors import DatabaseUnavailableError

        hint = f"\n{DATABASE_HINT}" if isinstance(e, DatabaseUnavailableError) else ""
        print(f"carbonstream: error: {e}{hint}", file=sys.stderr)
        return 1
    except Exception as e:
        from carbonstream.cli_help import database_hint

        sentence = database_hint(e)
        if sentence is None:
            raise
        print(f"carbonstream: error: {sentence}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="carbonstream",
        description="Real-time Scope 1 / Scope 2 carbon accounting for factories.",
    )
    p.add_argument("--version", action="version", version=f"carbonstream {__version__}")
    sub = p.add_subparsers(title="commands")

    c = sub.add_parser("compute", help="batch accounting of a readings file")
    c.add_argument("--config", required=True, type=Path, help="plant file (YAML or TOML)")
    c.add_argument(
        "--readings",
        required=True,
        type=Path,
        help="CSV (plain, gzip or zstd) or Parquet readings",
    )
    c.add_argument(
        "--bucket",
        default="hour",
        choices=["minute", "15min", "hour", "day", "month"],
        help="reporting bucket in the plant's time zone (default: hour)",
    )
    c.add_argument(
        "--format",
        default="table",
        choices=["table", "json", "csv", "inventory-csv"],
        help="csv: one row per bucket and site; inventory-csv: totals, matching, offsets, net "
        "and zero-carbon status as a tidy table: section,item,field,value,unit",
    )
    c.add_argument(
        "--from",
        dest="period_from",
        help="report from this plant-local time (ISO date or datetime; an offset is accepted)",
    )
    c.add_argument("--to", dest="period_to", help="report until this time (exclusive), as --from")
    c.add_argument("--skip-bad", action="store_true", help="count and skip bad rows")
    c.add_argument(
        "--delimiter",
        choices=[",", ";", "tab"],
        help="CSV separator (default: detected from the header)",
    )
    _quiet_args(c)
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
    g.add_argument("--config", type=Path, help="gateway file (YAML or TOML); required")
    g.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    g.add_argument("--check", action="store_true", help="check the file and exit")
    g.add_argument(
        "--loop",
        default="auto",
        choices=["auto", "uvloop", "asyncio"],
        help="event loop: auto = uvloop when installed",
    )
    g.set_defaults(func=_gateway)
    gsub = g.add_subparsers(title="actions")
    gk = gsub.add_parser(
        "keygen", help="make the gateway's Ed25519 signing key; prints what to register"
    )
    gk.add_argument(
        "--config", type=Path, help="gateway file: the key goes to its signing.private_key_file"
    )
    gk.add_argument("--key", type=Path, help="private key file (instead of --config)")
    gk.add_argument("--gateway", help="gateway id (instead of --config)")
    gk.set_defaults(func=_gateway_keygen)

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

    i = sub.add_parser("ingest", help="run the ingest service: MQTT to PostgreSQL, exactly once")
    i.add_argument("--config", required=True, type=Path, help="ingest settings (YAML or TOML)")
    _db_args(i)
    i.add_argument("--mqtt-host", help="broker host (overrides mqtt.host)")
    i.add_argument("--mqtt-port", type=int, help="broker port (overrides mqtt.port)")
    i.add_argument("--client-id", help="MQTT client id: stable per worker (persistent session)")
    i.add_argument("--shared-group", help="join an MQTT shared subscription group")
    i.add_argument("--metrics-port", type=int, help="Prometheus port; 0 picks a free one")
    i.add_argument("--no-metrics", action="store_true", help="do not serve /metrics")
    i.add_argument("--log-level", default="INFO")
    i.set_defaults(func=_ingest)

    mg = sub.add_parser("migrate", help="create or upgrade the database schema")
    mg.add_argument("--config", type=Path, help="ingest settings (for database.url / data_dir)")
    _db_args(mg)
    mg.set_defaults(func=_migrate)

    sv = sub.add_parser("serve", help="run the API (FastAPI under /v1)")
    sv.add_argument("--config", required=True, type=Path, help="API settings (YAML or TOML)")
    _db_args(sv)
    sv.add_argument("--host", help="bind address (overrides host)")
    sv.add_argument("--port", type=int, help="port (overrides port)")
    sv.add_argument("--log-level", default="info")
    sv.set_defaults(func=_serve)

    se = sub.add_parser("seal", help="seal closed days into the readings hash chain")
    se.add_argument("--config", type=Path, help="API settings (for database.url / data_dir)")
    _db_args(se)
    se.add_argument(
        "--until", help="last local day to seal (default: two days ago, past the lateness)"
    )
    _quiet_args(se)
    se.set_defaults(func=_seal)

    ex = sub.add_parser("export-evidence", help="export a period's evidence for a verifier")
    ex.add_argument("--config", type=Path, help="API settings (for database.url / data_dir)")
    _db_args(ex)
    ex.add_argument("--from", dest="first", required=True, help="first local day, YYYY-MM-DD")
    ex.add_argument("--to", dest="last", required=True, help="last local day, YYYY-MM-DD")
    ex.add_argument("--out", required=True, type=Path, help="folder to write")
    _quiet_args(ex)
    ex.set_defaults(func=_export_evidence)

    ve = sub.add_parser("verify", help="verify an evidence export (chain and every figure)")
    ve.add_argument("folder", type=Path)
    ve.add_argument(
        "--require-signed",
        action="store_true",
        help="count readings that came unsigned as problems (production plants)",
    )
    ve.set_defaults(func=_verify)

    rs = sub.add_parser(
        "restate", help="recompute a past period with a new factor set, beside the old one"
    )
    rs.add_argument("--config", type=Path, help="API settings (for database.url / data_dir)")
    _db_args(rs)
    rs.add_argument("--from", dest="first", required=True, help="first local day, YYYY-MM-DD")
    rs.add_argument("--to", dest="last", required=True, help="last local day, YYYY-MM-DD")
    rs.add_argument("--label", required=True, help="what changed, e.g. '2024 grid factors'")
    rs.add_argument(
        "--factors", type=Path, action="append", default=[], help="extra factor file (repeat)"
    )
    _quiet_args(rs)
    rs.set_defaults(func=_restate)

    bt = sub.add_parser(
        "backtest",
        help="forecast error (MAPE, bias) on a site's stored history, against seasonal naive",
    )
    bt.add_argument("--config", type=Path, help="API settings (database and plant file)")
    _db_args(bt)
    bt.add_argument("--site", required=True, help="site id")
    bt.add_argument(
        "--scope",
        default="total_market",
        choices=["scope1", "scope2_location", "scope2_market", "total_location", "total_market"],
        help="what to forecast (default total_market: Scope 1 + Scope 2 market-based)",
    )
    bt.add_argument(
        "--weeks", type=int, default=8, help="weeks of history to use (default 8, at least 3)"
    )
    bt.add_argument(
        "--until", help="end of the history, ISO 8601 (no offset: plant-local; default now)"
    )
    bt.add_argument("--format", default="table", choices=["table", "json"])
    bt.set_defaults(func=_backtest)

    rp = sub.add_parser(
        "report", help="monthly inventory report: PDF with charts and XLSX with native charts"
    )
    rp.add_argument(
        "--config", type=Path, help="API settings (plant file, database.url / data_dir)"
    )
    _db_args(rp)
    rp.add_argument("--month", required=True, help="YYYY-MM, in the plant's time zone")
    rp.add_argument("--site", action="append", help="site id, repeatable (default: all)")
    rp.add_argument(
        "--scope2-basis",
        choices=["market", "location"],
        default="market",
        help="Scope 2 basis of the net figure (default market)",
    )
    rp.add_argument(
        "--locale",
        choices=["zh-CN", "en"],
        help="language of the PDF and XLSX (default: the plant's locale, else en)",
    )
    rp.add_argument("--pdf", type=Path, help="write the PDF here")
    rp.add_argument("--xlsx", type=Path, help="write the XLSX here")
    _quiet_args(rp)
    rp.set_defaults(func=_report)

    d = sub.add_parser(
        "demo",
        help="a live plant in one command: PostgreSQL, MQTT, simulator, gateways, ingest, "
        "API and the live page",
    )
    d.add_argument("--duration", type=float, metavar="S", help="stop by itself after S seconds")
    d.add_argument(
        "--broker-url", help="mqtt://[user:password@]host:port (default: an embedded amqtt)"
    )
    d.add_argument("--db-url", help="postgresql://... (default: an embedded PostgreSQL)")
    d.add_argument("--host", default="127.0.0.1", help="API bind address (default 127.0.0.1)")
    d.add_argument("--port", type=int, help="API port (default 8080, or a free one if taken)")
    d.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".carbonstream/demo"),
        help="embedded PostgreSQL's folder (default .carbonstream/demo)",
    )
    d.add_argument("--plant", type=Path, help="plant file (default config/plant.example.yaml)")
    d.add_argument("--log-level", default="warning", choices=["debug", "info", "warning"])
    d.add_argument(
        "--history-days",
        type=int,
        metavar="N",
        help="store N days of simulated history with planted waste first, so the "
        "opportunities show (default: the detectors' four-week window; 0: start empty)",
    )
    d.add_argument(
        "--gateway",
        type=Path,
        action="append",
        default=[],
        help="gateway file, repeatable (default gateways/*.yaml)",
    )
    d.set_defaults(func=_demo)

    k = sub.add_parser("keys", help="create, revoke and list API keys")
    ksub = k.add_subparsers(title="actions", required=True)
    kc = ksub.add_parser("create", help="make a key; the token is printed once")
    kc.add_argument("--name", required=True, help="who or what uses it")
    kc.add_argument("--role", required=True, choices=["viewer", "operator", "admin"])
    kr = ksub.add_parser("revoke", help="revoke a key by its id")
    kr.add_argument("key_id")
    kl = ksub.add_parser("list", help="list keys (never their secrets)")
    for kp, func in ((kc, _keys_create), (kr, _keys_revoke), (kl, _keys_list)):
        kp.add_argument("--config", type=Path, help="API settings (for database.url / data_dir)")
        _db_args(kp)
        kp.set_defaults(func=func)

    dp = sub.add_parser("deploy", help="generate deployment files from the configuration")
    dsub = dp.add_subparsers(title="files", required=True)
    da = dsub.add_parser("acl", help="the Mosquitto ACL from the plant's gateways: section")
    da.add_argument("--config", required=True, type=Path, help="plant file")
    da.add_argument("--ingest-config", type=Path, help="ingest settings: adds Sparkplug nodes")
    da.add_argument("--ingest-user", default="carbonstream-ingest", help="ingest's MQTT user")
    da.add_argument("--output", type=Path, help="write here instead of standard output")
    da.set_defaults(func=_deploy_acl)
    add_examples(p)
    return p


def _deploy_acl(args: argparse.Namespace) -> int:
    from carbonstream.config.loader import load_plant
    from carbonstream.deploy.acl import mosquitto_acl
    from carbonstream.errors import ConfigError
    from carbonstream.ingest.authorise import sparkplug_nodes
    from carbonstream.ingest.settings import load_ingest_settings

    plant = load_plant(args.config)
    if not plant.gateways:
        raise ConfigError(
            str(args.config),
            ["gateways: missing: the ACL gives each gateway its own site's topic; add the section"],
        )
    nodes: set[str] = set()
    if args.ingest_config is not None:
        sp = load_ingest_settings(args.ingest_config).sparkplug
        nodes = sparkplug_nodes(sp) if sp.enabled else set()
    text = mosquitto_acl(plant, args.config.name, args.ingest_user, nodes)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


def _quiet_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-q",
        "--quiet",
        "--no-progress",
        dest="quiet",
        action="store_true",
        help="no progress bar (one is drawn on standard error, on a terminal, for work "
        "longer than two seconds)",
    )


def _db_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db-url",
        help="postgresql://... (default: database.url, then $CARBONSTREAM_DB_URL, "
        "else an embedded PostgreSQL in database.data_dir)",
    )


def _db_url(args: argparse.Namespace, configured: str | None) -> str | None:
    import os

    url: str | None = args.db_url or configured or os.environ.get("CARBONSTREAM_DB_URL")
    return url


def _ingest(args: argparse.Namespace) -> int:
    import logging
    import signal

    from carbonstream.ingest.service import Service
    from carbonstream.ingest.settings import load_ingest_settings

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    s = load_ingest_settings(args.config)
    mqtt = s.mqtt.model_copy(
        update={
            k: v
            for k, v in {
                "host": args.mqtt_host,
                "port": args.mqtt_port,
                "client_id": args.client_id,
                "shared_group": args.shared_group,
            }.items()
            if v is not None
        }
    )
    update: dict[str, object] = {"mqtt": mqtt}
    if args.metrics_port is not None:
        update["metrics_port"] = args.metrics_port
    if args.no_metrics:
        update["metrics_port"] = None
    s = s.model_copy(update=update)
    configured = s.database.url.get_secret_value() if s.database.url else None
    service = Service(s, db_url=_db_url(args, configured))

    def _stop(signum: int, frame: object) -> None:
        service.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    totals = service.run()
    print(
        f"ingest stopped: {totals.messages} messages, {totals.stored} readings stored, "
        f"{totals.duplicates} duplicates, {totals.dead_letters} dead letters",
        file=sys.stderr,
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from carbonstream.ingest.settings import load_ingest_settings
    from carbonstream.store.migrate import migrate

    with _connection(args, load=load_ingest_settings) as conn:
        flavour, applied = migrate(conn)
    names = ", ".join(f"{m.version:04d}_{m.name}" for m in applied) or "nothing to do"
    print(f"schema is current ({flavour}): {names}")
    return 0


def _compute(args: argparse.Namespace) -> int:
    from carbonstream import report
    from carbonstream.compute import compute_file, period_ns, window
    from carbonstream.progress import byte_progress

    base_s = 60 if args.bucket == "minute" else 900
    with byte_progress(f"reading {args.readings.name}", enabled=not args.quiet) as bar:
        acc = compute_file(
            args.config,
            args.readings,
            skip_bad=args.skip_bad,
            base_s=base_s,
            delimiter=args.delimiter,
            progress=bar,
        )
    lo, hi = period_ns(acc.plant.zone, args.period_from, args.period_to, base_s)
    rep = report.build(window(acc, lo, hi), args.bucket)
    render = {
        "table": report.to_table,
        "json": report.to_json,
        "csv": report.to_csv,
        "inventory-csv": report.to_inventory_csv,
    }
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

    if args.config is None:
        print("carbonstream gateway: --config is required", file=sys.stderr)
        return 2
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


def _gateway_keygen(args: argparse.Namespace) -> int:
    from carbonstream.gateway.keygen import keygen

    print(keygen(args.config, args.key, args.gateway))
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


@contextmanager
def _database(
    args: argparse.Namespace, load: Callable[[Path], ServiceSettings] | None = None
) -> Iterator[str]:
    """The URL of the database a command uses: --db-url, database.url of the --config file
    (read by ``load``, the API's settings by default), then $CARBONSTREAM_DB_URL; else an
    embedded PostgreSQL in database.data_dir, started here and stopped when the block ends."""
    from carbonstream.config.database import DatabaseSettings, resolve_url

    db = DatabaseSettings()
    if getattr(args, "config", None):
        if load is None:
            from carbonstream.api.settings import load_api_settings

            load = load_api_settings
        db = load(args.config).database
    url = resolve_url(args.db_url, db)
    if url:
        yield url
        return
    embedded = _embedded(db.data_dir)
    try:
        yield embedded.url
    finally:
        embedded.stop()


@contextmanager
def _connection(
    args: argparse.Namespace,
    *,
    migrated: bool = False,
    load: Callable[[Path], ServiceSettings] | None = None,
) -> Iterator[Conn]:
    """A connection to the command's database (see ``_database``); ``migrated``: the schema
    is brought up to date first."""
    from carbonstream.store.db import connect
    from carbonstream.store.migrate import migrate

    with _database(args, load) as url, connect(url) as conn:
        if migrated:
            migrate(conn)
        yield conn


def _embedded(data_dir: str) -> EmbeddedPostgres:
    """The embedded PostgreSQL of a command given no database, or what to pass instead."""
    from carbonstream.cli_help import DATABASE_HINT
    from carbonstream.store.db import EmbeddedPostgres

    try:
        return EmbeddedPostgres(data_dir)
    except Exception as e:  # initdb refuses root, a full disk, a port in use...
        raise CarbonstreamError(
            f"no database given, and an embedded PostgreSQL in {data_dir} did not start "
            f"({type(e).__name__}): {DATABASE_HINT}"
        ) from None


def _serve(args: argparse.Namespace) -> int:
    import logging

    from carbonstream.api import create_app, load_api_settings, server
    from carbonstream.store.db import connect
    from carbonstream.store.migrate import migrate

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = load_api_settings(args.config)
    with _database(args) as url:
        if settings.database.migrate_on_start:
            with connect(url) as conn:
                migrate(conn)
        app = create_app(settings, url)
        server.run(
            app,
            args.host or settings.host,
            args.port if args.port is not None else settings.port,
            args.log_level,
        )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from carbonstream.demo import Options, run

    return run(
        Options(
            duration=args.duration,
            broker_url=args.broker_url,
            db_url=args.db_url,
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            plant=args.plant,
            gateways=args.gateway,
            **({} if args.history_days is None else {"history_days": args.history_days}),
        ),
        log_level=args.log_level,
    )


def _keys_create(args: argparse.Namespace) -> int:
    from carbonstream.store import keys

    with _connection(args, migrated=True) as conn:
        key, token = keys.create(conn, args.name, keys.Role.parse(args.role))
    print(f"key {key.id} ({key.name}, {key.role.name.lower()}); the token, shown once:")
    print(token)
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    from carbonstream.store import keys

    with _connection(args) as conn:
        done = keys.revoke(conn, args.key_id)
    if not done:
        print(f"carbonstream: no active key {args.key_id}", file=sys.stderr)
        return 1
    print(f"revoked {args.key_id}")
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    from carbonstream.store import keys

    with _connection(args) as conn:
        rows = keys.list_keys(conn)
    for k in rows:
        state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
        used = f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "never"
        print(f"{k.id}  {k.role.name.lower():<8} {state:<18} last used {used:<17} {k.name}")
    return 0


def _seal(args: argparse.Namespace) -> int:
    from carbonstream.evidence.seal import seal
    from carbonstream.progress import step_progress
    from carbonstream.store.plant import stored_plant

    with _connection(args, migrated=True) as conn:
        zone = stored_plant(conn).zone
        until = (
            dt.date.fromisoformat(args.until)
            if args.until
            else dt.datetime.now(zone).date() - dt.timedelta(days=2)
        )
        with step_progress("sealing", enabled=not args.quiet) as bar:
            sealed = seal(conn, zone, until, bar)
    for d in sealed:
        print(f"sealed {d.day}: {d.readings} readings, {d.digest}")
    if not sealed:
        print("nothing to seal")
    return 0


def _export_evidence(args: argparse.Namespace) -> int:
    from carbonstream.evidence.export import export
    from carbonstream.progress import step_progress

    first, last = dt.date.fromisoformat(args.first), dt.date.fromisoformat(args.last)
    with _connection(args) as conn, step_progress("export", enabled=not args.quiet) as bar:
        m = export(conn, first, last, args.out, bar)
    print(f"exported {m['readings']} readings and {m['sealed_days']} sealed days to {args.out}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from carbonstream.evidence.verify import verify

    rep = verify(args.folder, require_signed=args.require_signed)
    for c in rep.checked:
        print(f"checked: {c}")
    for p in rep.problems:
        print(f"PROBLEM: {p}")
    print("verified: every check passed" if rep.ok else f"{len(rep.problems)} problem(s) found")
    return 0 if rep.ok else 1


def _restate(args: argparse.Namespace) -> int:
    from carbonstream.progress import step_progress
    from carbonstream.restate import restate

    with (
        _connection(args, migrated=True) as conn,
        step_progress("restate", enabled=not args.quiet) as bar,
    ):
        r = restate(
            conn,
            dt.date.fromisoformat(args.first),
            dt.date.fromisoformat(args.last),
            args.label,
            args.factors,
            bar,
        )
    print(f"restatement {r.id} ({r.label}), {r.first}..{r.last}; the live account is unchanged")
    for site, t in r.totals.items():
        print(
            f"  {site:<12} Scope 1 {t['scope1_t']:.4f} t, Scope 2 location "
            f"{t['scope2_location_t']:.4f} t, market {t['scope2_market_t']:.4f} t"
        )
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from carbonstream.forecast import report
    from carbonstream.store.plant import site_keys, stored_plant

    if args.weeks < 3:
        raise CarbonstreamError("--weeks: at least 3 (two to start from, one to score)")
    with _connection(args) as conn:
        if getattr(args, "config", None):
            from carbonstream.api.settings import load_api_settings
            from carbonstream.config.loader import load_plant

            plant = load_plant(load_api_settings(args.config).plant)
        else:
            plant = stored_plant(conn)
        sites = sorted(site_keys(conn))
        if args.site not in sites:
            raise CarbonstreamError(
                f"--site: no site {args.site!r} in the database (sites: {', '.join(sites)})"
            )
        zone = plant.zone
        if args.until:
            until = dt.datetime.fromisoformat(args.until)
            until = until.replace(tzinfo=zone) if until.tzinfo is None else until
        else:
            until = dt.datetime.now(dt.UTC)
        result = report.run(conn, zone, args.site, args.scope, until, args.weeks)
    render = report.to_json if args.format == "json" else report.to_table
    sys.stdout.write(render(result))
    return 0


def _report(args: argparse.Namespace) -> int:
    import asyncio

    from carbonstream import monthly

    if args.pdf is None and args.xlsx is None:
        args.pdf, args.xlsx = Path(f"report-{args.month}.pdf"), Path(f"report-{args.month}.xlsx")
    plant = None
    if args.config:
        from carbonstream.api.settings import load_api_settings
        from carbonstream.config.loader import load_plant

        plant = load_plant(load_api_settings(args.config).plant)
    from carbonstream.i18n import Locale
    from carbonstream.progress import step_progress

    renders = ((args.pdf, monthly.render_pdf), (args.xlsx, monthly.render_xlsx))
    parts = [(path, render) for path, render in renders if path is not None]
    with step_progress(f"report {args.month}", enabled=not args.quiet) as bar:
        bar.phase(f"report {args.month}: gathering the month's account")
        with _database(args) as url:
            rep = asyncio.run(
                monthly.from_database(url, args.month, args.site, args.scope2_basis, plant)
            )
        locale = Locale(args.locale) if args.locale else rep.locale
        bar.phase(f"report {args.month}: drawing the files", len(parts))
        for path, render in parts:
            path.write_bytes(render(rep, locale))
            bar.advance()
    for path, _ in parts:
        print(f"wrote {path}")
    t, net = rep.inventory.totals, rep.inventory.net
    print(
        f"{rep.title}: Scope 1 {t.scope1_t:.3f} t, Scope 2 location {t.scope2_location_t:.3f} t, "
        f"market {t.scope2_market_t:.3f} t, China total {t.cn_total_t:.3f} t, "
        f"net ({net.scope2_basis}) {net.net_t:.3f} t; data on {sum(rep.has_data)} of "
        f"{len(rep.days)} days"
    )
    c = rep.chain
    print(
        f"evidence chain head: {c.day} {c.digest}" if c else "evidence: no day of the month sealed"
    )
    return 0
