"""OPC UA with a security policy and a user login, against an asyncua server that offers
only Basic256Sha256/SignAndEncrypt and accepts one user; a password named by an unset
variable fails at start with the field and the reason."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from carbonstream.config.loader import validate
from carbonstream.errors import ConfigError
from carbonstream.gateway.config import Gateway, GatewayFile, check
from carbonstream.gateway.poller import schedule
from carbonstream.gateway.protocols.opcua import OpcuaDevice, OpcuaHub
from carbonstream.gateway.source import Polling, Site
from carbonstream.sim.opcua_server import VariableServer
from carbonstream.transport.payload import Quality, Reading

from .certs import opcua_app
from .conftest import gateway_config

# slow: makes certificates and runs secured OPC UA sessions (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

PASSWORD_ENV = "CARBONSTREAM_TEST_OPCUA_PASSWORD"
CLIENT_URI = "urn:example.org:FreeOpcUa:opcua-asyncio"  # asyncua's client application URI


def _device(endpoint: str, certs: dict[str, Path], **login: Any) -> OpcuaDevice:
    return validate(
        {
            "protocol": "opcua",
            "id": "scada",
            "endpoint": endpoint,
            "mode": "poll",
            "security": {
                "policy": "Basic256Sha256",
                "mode": "SignAndEncrypt",
                "certificate": str(certs["cert"]),
                "private_key": str(certs["key"]),
                "server_certificate": str(certs["server_cert"]),
            },
            "points": [{"meter": "steam", "node": "ns=2;s=steam", "unit": "t"}],
        }
        | login,
        OpcuaDevice,
        "test",
    )


@pytest.fixture
async def secure_server(tmp_path: Path) -> Any:
    server_cert, server_key = opcua_app(
        tmp_path, "server", "urn:freeopcua:python:server", server=True
    )
    cert, key = opcua_app(tmp_path, "client", CLIENT_URI, server=False)
    server = VariableServer(
        ["steam"],
        port=0,  # bound by the server itself (free_port's could be taken before it binds)
        certificate=server_cert,
        private_key=server_key,
        users={"operator": "s3cret"},
    )
    await server.start()
    await server.write("steam", 12.5)
    try:
        yield server, {"cert": cert, "key": key, "server_cert": server_cert}
    finally:
        await server.stop()


async def _run(
    device: OpcuaDevice, polling: Polling, got: list[Reading], until: Any, seconds: float
) -> None:
    hub = OpcuaHub(Site(id="s1", plant=None))
    task = asyncio.create_task(
        schedule(device.id, hub.source(device, polling), got.extend, polling).run()
    )
    try:
        for _ in range(int(seconds * 10)):
            if until():
                break
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await hub.close()


async def test_signed_and_encrypted_session_with_login(
    secure_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, certs = secure_server
    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    device = _device(server.endpoint, certs, username="operator", password_env=PASSWORD_ENV)
    got: list[Reading] = []
    polling = Polling(interval_s=0.2, timeout_s=3)
    await _run(device, polling, got, lambda: any(r.q is Quality.GOOD for r in got), 15)
    good = [r for r in got if r.q is Quality.GOOD]
    assert good and good[0].v == 12.5


@pytest.mark.parametrize(
    ("login", "why"),
    [({"username": "operator", "password_env": PASSWORD_ENV}, "wrong password"), ({}, "anonymous")],
)
async def test_the_server_refuses_a_bad_login(
    secure_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    login: dict[str, str],
    why: str,
) -> None:
    server, certs = secure_server
    monkeypatch.setenv(PASSWORD_ENV, "guess")
    device = _device(server.endpoint, certs, **login)
    got: list[Reading] = []
    polling = Polling(interval_s=0.2, timeout_s=3, backoff_max_s=0.5)
    with caplog.at_level(logging.WARNING, logger="carbonstream.gateway"):
        # Several attempts (backoff 0.5 s), however long a busy machine takes to make them.
        await _run(device, polling, got, lambda: len(got) >= 3, 30)
    assert got, why
    assert all(r.q is Quality.COMM_ERROR and r.v is None for r in got), why
    # A refused login will not pass by itself: said once, as needing a person, not as a
    # device that does not answer.
    said = [r for r in caplog.records if r.name == "carbonstream.gateway"]
    assert [r.levelno for r in said] == [logging.ERROR], why
    assert "needs attention" in said[0].getMessage(), why


def test_unset_password_variable_fails_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    device = {
        "protocol": "opcua",
        "id": "scada",
        "endpoint": "opc.tcp://127.0.0.1:4840/",
        "username": "operator",
        "password_env": PASSWORD_ENV,
        "points": [{"meter": "steam", "node": "ns=2;s=steam", "unit": "t"}],
    }
    data = gateway_config(tmp_path, [device], prefix="")
    gateway = Gateway(file=validate(data, GatewayFile, "test"), plant=None, base_dir=tmp_path)
    assert check(gateway) == [
        f"devices[0] (id 'scada').password_env: environment variable {PASSWORD_ENV} is not "
        "set: set it, or remove password_env"
    ]
    # The source refuses too, so a service built without check() cannot start with "".
    opcua_device = gateway.file.devices[0]
    assert isinstance(opcua_device, OpcuaDevice)
    with pytest.raises(ConfigError, match=f"password_env: environment variable {PASSWORD_ENV}"):
        OpcuaHub(gateway.site()).source(opcua_device, Polling())


def test_password_without_user_is_refused() -> None:
    with pytest.raises(ConfigError, match="'password_env' needs 'username'"):
        validate(
            {
                "protocol": "opcua",
                "id": "scada",
                "endpoint": "opc.tcp://127.0.0.1:4840/",
                "password_env": PASSWORD_ENV,
                "points": [{"meter": "steam", "node": "ns=2;s=steam", "unit": "t"}],
            },
            OpcuaDevice,
            "test",
        )
