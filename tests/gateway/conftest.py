"""Fixtures for gateway tests: free ports, a private Mosquitto, an MQTT collector, gateway files.

Tests talk to real peers on loopback: pymodbus and asyncua servers started in
the test, the shared Mosquitto at 127.0.0.1:1883 (each test under its own topic
prefix), or a private Mosquitto on a free port when the test stops the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from carbonstream.config.loader import validate
from carbonstream.gateway.config import Gateway, GatewayFile
from carbonstream.transport.payload import ReadingsMessage, decode_readings
from tests.services import free_port, start_mosquitto

__all__ = ["free_port"]  # the tests here import it from this conftest

MOSQUITTO = "/usr/sbin/mosquitto"
SHARED_BROKER = ("127.0.0.1", 1883)


@pytest.fixture
def prefix() -> str:
    """A topic prefix of our own on the shared broker."""
    return f"test-{uuid.uuid4().hex[:10]}/"


class Mosquitto:
    """A private broker process, started and stopped by PID; persistence keeps sessions."""

    def __init__(self, workdir: Path, *, listener: str = "allow_anonymous true\n") -> None:
        """``listener``: lines for the listener (TLS files, password file); default anonymous."""
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.conf = workdir / "mosquitto.conf"
        # Started as root, Mosquitto drops to user "mosquitto", who cannot read pytest's
        # private folders (certificates, password file, persistence): stay who we are.
        stay = "user root\n" if os.geteuid() == 0 else ""
        self.conf.write_text(
            f"{stay}listener {self.port} 127.0.0.1\n{listener}"
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 100000\n"
        )

    def start(self) -> None:
        """Start (again) on the port chosen at creation: tests configure gateways with it
        before the first start, so a taken port fails the test (PortTakenError), never moves."""
        self.proc = start_mosquitto(
            [MOSQUITTO, "-c", str(self.conf)],
            self.port,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    (tmp_path / "broker").mkdir()
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


class Collector:
    """Subscribes to a prefix's readings and status topics; reconnects by itself."""

    def __init__(
        self,
        host: str,
        port: int,
        prefix: str,
        *,
        persistent: bool = False,
        ca_file: Path | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.host, self.port, self.prefix = host, port, prefix
        self.persistent = persistent
        self.tls = aiomqtt.TLSParameters(ca_certs=str(ca_file)) if ca_file else None
        self.username, self.password = username, password
        self.messages: list[ReadingsMessage] = []
        self.status: list[bytes] = []
        self.subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._id = f"collector-{uuid.uuid4().hex[:8]}"

    async def _run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    identifier=self._id,
                    clean_session=not self.persistent,
                    tls_params=self.tls,
                    username=self.username,
                    password=self.password,
                ) as client:
                    await client.subscribe(f"{self.prefix}carbonstream/v1/#", qos=1)
                    self.subscribed.set()
                    async for m in client.messages:
                        payload = (
                            bytes(m.payload) if isinstance(m.payload, bytes | bytearray) else b""
                        )
                        if str(m.topic).endswith("/readings"):
                            self.messages.append(decode_readings(payload))
                        else:
                            self.status.append(payload)
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)

    async def __aenter__(self) -> Collector:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.subscribed.wait(), 10)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def readings(self) -> list[Any]:
        return [r for m in self.messages for r in m.readings]

    async def wait_for(self, predicate: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the expected messages")
            await asyncio.sleep(0.1)


@pytest.fixture
async def shared_collector(prefix: str) -> AsyncIterator[Collector]:
    async with Collector(*SHARED_BROKER, prefix) as c:
        yield c


def gateway_config(
    tmp_path: Path,
    devices: list[dict[str, Any]],
    *,
    prefix: str,
    broker_port: int = 1883,
    broker_extra: dict[str, Any] | None = None,
    site: str = "s1",
    gateway: str = "gw1",
    **extra: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": gateway,
        "site": site,
        "broker": {
            "host": "127.0.0.1",
            "port": broker_port,
            "topic_prefix": prefix,
            "reconnect_max_s": 1.0,
            "client_id": f"{gateway}-{uuid.uuid4().hex[:6]}",
        },
        "buffer": {"path": str(tmp_path / f"{gateway}.queue.sqlite")},
        "metrics": {"port": None},
        "publish": {"batch_max_readings": 50, "batch_interval_s": 0.2},
        "devices": devices,
    }
    data["broker"] |= broker_extra or {}
    data.update(extra)
    return data


def make_gateway(tmp_path: Path, devices: list[dict[str, Any]], **kw: Any) -> Gateway:
    data = gateway_config(tmp_path, devices, **kw)
    return Gateway(file=validate(data, GatewayFile, "test"), plant=None, base_dir=tmp_path)
