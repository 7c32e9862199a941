"""Publishing to a broker that wants TLS and a user name and password: a private Mosquitto
with a certificate made in the test (its own CA) and a password file."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from carbonstream.gateway.service import GatewayService
from carbonstream.sim.modbus_server import RegisterServer
from carbonstream.transport.payload import decode_status

from .certs import broker_tls
from .conftest import Collector, Mosquitto, free_port, make_gateway
from .counters import counting_device, counting_spec

MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"
PASSWORD_ENV = "CARBONSTREAM_TEST_BROKER_PASSWORD"


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[tuple[Mosquitto, Path]]:
    folder = tmp_path / "broker"
    folder.mkdir()
    ca, cert, key = broker_tls(folder)
    passwords = folder / "passwd"
    subprocess.run(
        [MOSQUITTO_PASSWD, "-b", "-c", str(passwords), "gateway", "s3cret"],
        check=True,
        capture_output=True,
    )
    broker = Mosquitto(
        folder,
        listener=(
            f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
            f"allow_anonymous false\npassword_file {passwords}\n"
        ),
    )
    broker.start()
    try:
        yield broker, ca
    finally:
        broker.stop()


async def _depth(service: GatewayService) -> int:
    try:
        return (await service.queue.stats()).depth
    except RuntimeError:  # the service has not opened its disk buffer yet
        return 0


def _gateway(tmp_path: Path, port: int, broker: Mosquitto, ca: Path) -> GatewayService:
    gw = make_gateway(
        tmp_path,
        [counting_device("d1", port, 1)],
        prefix="",
        broker_port=broker.port,
        broker_extra={"username": "gateway", "password_env": PASSWORD_ENV, "tls": {"ca_file": ca}},
    )
    return GatewayService(gw)


async def test_tls_and_password(
    tmp_path: Path, secure_broker: tuple[Mosquitto, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    broker, ca = secure_broker
    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    port = free_port()
    server = RegisterServer([counting_spec(1)], port=port)
    await server.start()
    service = _gateway(tmp_path, port, broker, ca)
    collector = Collector(
        "127.0.0.1", broker.port, "", ca_file=ca, username="gateway", password="s3cret"
    )
    async with collector:
        task = asyncio.create_task(service.run())
        await collector.wait_for(lambda: len(collector.readings()) >= 5, 15)
        service.stop()
        await asyncio.wait_for(task, 15)
    await server.stop()
    values = [r.v for r in collector.readings()]
    assert values[:5] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert decode_status(collector.status[0]).state == "online"


@pytest.mark.parametrize("fault", ["wrong password", "broker certificate from another CA"])
async def test_refused_connection_keeps_buffering(
    tmp_path: Path,
    secure_broker: tuple[Mosquitto, Path],
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
) -> None:
    broker, ca = secure_broker
    monkeypatch.setenv(PASSWORD_ENV, "guess" if fault == "wrong password" else "s3cret")
    if fault != "wrong password":
        (tmp_path / "other").mkdir()
        ca, _cert, _key = broker_tls(tmp_path / "other")  # trusts a CA that did not sign it
    port = free_port()
    server = RegisterServer([counting_spec(1)], port=port)
    await server.start()
    service = _gateway(tmp_path, port, broker, ca)
    task = asyncio.create_task(service.run())
    try:
        # Polling goes on and the readings wait on disk, never sent: however long the
        # machine takes to read five of them (a fixed 2.5 s was too short under load).
        deadline = time.monotonic() + 30
        while await _depth(service) < 5:
            assert service.metrics.connected._value.get() == 0
            assert time.monotonic() < deadline, "the readings did not reach the disk buffer"
            await asyncio.sleep(0.1)
        assert service.metrics.connected._value.get() == 0
    finally:
        service.stop()
        await asyncio.wait_for(task, 15)
        await server.stop()
