"""Real services for integration tests: database URLs, brokers, and own instances.

The shared PostgreSQL (127.0.0.1:5432) and Mosquitto (127.0.0.1:1883) are taken
from $CARBONSTREAM_TEST_PG_URL / $CARBONSTREAM_TEST_MQTT (host:port) when set.
Tests that stop a server start their own on a free port and stop it by PID.
"""

from __future__ import annotations

import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psycopg

PG_ADMIN_URL = os.environ.get(
    "CARBONSTREAM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MQTT = os.environ.get("CARBONSTREAM_TEST_MQTT", "127.0.0.1:1883")
PG_BIN = Path(os.environ.get("CARBONSTREAM_PG_BIN", "/usr/lib/postgresql/15/bin"))
MOSQUITTO = os.environ.get("CARBONSTREAM_MOSQUITTO", "/usr/sbin/mosquitto")
T = TypeVar("T")


def mqtt_host_port() -> tuple[str, int]:
    host, port = MQTT.rsplit(":", 1)
    return host, int(port)


def unique(prefix: str) -> str:
    return f"{prefix}{os.getpid()}x{uuid.uuid4().hex[:8]}"


# Test servers take ports below the kernel's ephemeral range (32768-60999 on Linux), where
# no outgoing connection is ever given a port: a bind(0) port, closed and handed to a
# server, could be taken by any process's outgoing connection before the server bound it
# (the soak met "address already in use" that way). Each process draws at random, so
# pytest-xdist workers rarely meet; a server that still finds its port taken starts
# again on a new one (``start_on_free_port``).
TEST_PORTS = range(20_000, 32_768)
_given: set[int] = set()  # two calls before either server binds must differ
_draw = random.SystemRandom()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago, outside the ephemeral range.
    A server that then fails to bind it starts again on a new one: see ``Mosquitto`` and
    ``PgServer``."""
    while True:
        port = _draw.choice(TEST_PORTS)
        if port in _given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:  # in use (a listener, or another worker's server)
                continue
        _given.add(port)
        return port


def url_with_db(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


class Mosquitto:
    """A private broker on a free port (unlimited queues); with ``persist``, sessions and
    queued messages survive a restart on the same port."""

    def __init__(self, workdir: Path, persist: bool = False) -> None:
        self.conf = workdir / "mosquitto.conf"
        self.port, self.proc = start_on_free_port(
            lambda port: self._start_on(port, workdir, persist)
        )

    def _start_on(self, port: int, workdir: Path, persist: bool) -> subprocess.Popen[bytes]:
        self.port = port
        lines = [
            f"listener {port} 127.0.0.1",
            "allow_anonymous true",
            "max_queued_messages 0",
            "max_inflight_messages 0",
            "log_dest none",
        ]
        if persist:
            lines += ["persistence true", f"persistence_location {workdir}/"]
            if os.geteuid() == 0:
                lines.append("user root")  # else it drops to 'mosquitto' and cannot save here
        else:
            lines.append("persistence false")
        self.conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        return start_mosquitto([MOSQUITTO, "-c", str(self.conf)], self.port)

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.proc = self._start()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)


class PgServer:
    """A private PostgreSQL cluster (Debian binaries) in a temp dir, on a free TCP port."""

    def __init__(self) -> None:
        workdir = Path(tempfile.mkdtemp(prefix="carbonstream-pg-"))
        self.workdir = workdir
        self.port = 0  # chosen when it starts
        self.data = workdir / "pgdata"
        self.log = workdir / "pg.log"
        self._as: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            self._as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(workdir, "postgres")
        self._run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )
        self.port = start_on_free_port(self._start_on)[0]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _start_on(self, port: int) -> None:
        self.port = port
        try:
            self.start()
        except subprocess.CalledProcessError as e:  # pg_ctl -w: the postmaster did not come up
            raise PortTakenError(port, f"PostgreSQL ({self.log})") from e

    def _run(self, cmd: list[str]) -> None:
        subprocess.run(
            self._as + cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def start(self) -> None:
        self._run(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-o",
                f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c fsync=off",
                "start",
            ]
        )

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def stop(self) -> None:
        """Stop by the postmaster's PID (fast shutdown: clients are cut off)."""
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, signal.SIGINT)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)


class PortTakenError(Exception):
    """A server could not listen on the port it was given: another process took it, or it
    failed for another reason (then every attempt fails and the last one says so)."""

    def __init__(self, port: int, what: str) -> None:
        super().__init__(f"{what} could not listen on port {port} (taken, or see its log)")


def start_on_free_port(start: Callable[[int], T], attempts: int = 5) -> tuple[int, T]:
    """Call ``start(port)`` on a free port, again on a new port while it raises PortTakenError:
    between ``free_port`` and the server's bind, another process may take the port."""
    for _ in range(attempts - 1):
        port = free_port()
        try:
            return port, start(port)
        except PortTakenError:
            continue
    port = free_port()
    return port, start(port)


def start_mosquitto(cmd: list[str], port: int, **popen: Any) -> subprocess.Popen[bytes]:
    """Start Mosquitto listening on ``port``; PortTakenError when it exits instead (it cannot
    bind), so that the caller can try another port. Ready means that this process holds
    the listening socket: a connection alone might reach whoever took the port."""
    proc = subprocess.Popen(cmd, **popen)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise PortTakenError(port, f"mosquitto (exit {proc.returncode})")
        if listens(proc.pid, port):
            return proc
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"mosquitto does not listen on port {port} after 10 s")


def listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds a TCP socket listening on ``port`` (Linux /proc)."""
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()  # local address hex ip:port, state 0A is LISTEN, inode
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                sockets.add(f"socket:[{f[9]}]")
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # it exited
        return False
    for fd in fds:
        try:
            if str(fd.readlink()) in sockets:
                return True
        except OSError:  # closed meanwhile
            continue
    return False


def _wait_port(port: int, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


def create_db(admin_url: str = PG_ADMIN_URL, template: str | None = None) -> str:
    """A new database (a copy of ``template`` when given: no one may be connected to it)."""
    name = unique("cs_test_")
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"{copy}')
    return name


def drop_db(name: str, admin_url: str = PG_ADMIN_URL) -> None:
    """Drop a database; on the shared server in the background (see ``_Dropper``)."""
    if admin_url == PG_ADMIN_URL:
        _dropper.put(name)
    else:
        _drop_now(name, admin_url)


def finish_drops() -> None:
    """Wait until every database given to drop_db is gone (at the end of the session)."""
    _dropper.finish()


def _drop_now(name: str, admin_url: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _Dropper:
    """Drops the test databases of the shared server on a thread of its own.

    DROP DATABASE makes the server run a checkpoint of the whole cluster, 0.2 to 1.5 s
    on a busy shared machine: mostly disk waits that need not hold up the next test.
    """

    def __init__(self) -> None:
        self._names: queue.Queue[str] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, name: str) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="drop-db", daemon=True)
                self._thread.start()
        self._names.put(name)

    def finish(self) -> None:
        self._names.join()

    def _run(self) -> None:
        while True:
            name = self._names.get()
            try:
                _drop_now(name, PG_ADMIN_URL)
            except psycopg.Error as e:  # a leftover database is not a test failure: say so
                print(f"could not drop test database {name}: {e}", file=sys.stderr)
            finally:
                self._names.task_done()


_dropper = _Dropper()
