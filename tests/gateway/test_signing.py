"""The real gateway signs what it publishes: a Modbus device on loopback, the gateway
service with a key from `signing.private_key_file`, the shared Mosquitto; every batch
arrives on the v2 topic as an envelope whose signature verifies over the exact body bytes
with the gateway's public key, and a gateway without a usable key fails at load."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from carbonstream.config.loader import validate
from carbonstream.errors import ConfigError
from carbonstream.gateway.config import Gateway, GatewayFile, check
from carbonstream.gateway.service import GatewayService
from carbonstream.sim.modbus_server import RegisterServer
from carbonstream.transport import signing
from carbonstream.transport.payload import Quality, decode_readings

from .conftest import free_port, gateway_config
from .counters import counting_device, counting_spec


def _gateway(tmp_path: Path, data: dict[str, Any]) -> Gateway:
    return Gateway(file=validate(data, GatewayFile, "test"), plant=None, base_dir=tmp_path)


@pytest.mark.slow
async def test_the_gateway_signs_every_batch_it_publishes(tmp_path: Path, prefix: str) -> None:
    key = signing.generate(tmp_path / "gw1.key")
    port = free_port()
    server = RegisterServer([counting_spec(1)], port=port)
    await server.start()
    data = gateway_config(tmp_path, [counting_device("d1", port, 1)], prefix=prefix)
    data["signing"] = {"private_key_file": "gw1.key"}  # relative to the gateway file
    service = GatewayService(_gateway(tmp_path, data))
    got: list[tuple[str, bytes]] = []
    async with aiomqtt.Client("127.0.0.1", 1883) as client:
        await client.subscribe(f"{prefix}carbonstream/+/+/+/readings", qos=1)
        task = asyncio.create_task(service.run())

        async def collect() -> None:
            async for m in client.messages:
                assert isinstance(m.payload, bytes)
                got.append((str(m.topic), m.payload))
                if len(got) >= 3:
                    return

        try:
            await asyncio.wait_for(collect(), 15)
        finally:
            service.stop()
            await asyncio.wait_for(task, 15)
    await server.stop()

    assert len(got) >= 3
    kid = signing.key_id(key.public_key())
    for topic, payload in got:
        assert topic == f"{prefix}carbonstream/v2/s1/gw1/readings"
        opened = signing.open_envelope(payload)
        assert opened.kid == kid
        assert signing.verifies(key.public_key(), opened.signature, opened.body)
        msg = decode_readings(opened.body, version=2)
        assert msg.gateway == "gw1" and msg.readings
        assert all(r.q is Quality.GOOD for r in msg.readings)
    seqs = [decode_readings(signing.open_envelope(p).body, version=2).seq for _, p in got]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


@pytest.mark.parametrize(
    ("signing_section", "mode", "message"),
    [
        ({"private_key_file": "missing.key"}, None, "signing.private_key_file"),
        ({"private_key_file": "gw1.key"}, 0o644, "chmod 600"),
        ({"private_key_env": "CARBONSTREAM_TEST_UNSET_KEY"}, None, "is not set"),
    ],
)
def test_a_gateway_without_a_usable_key_fails_at_load(
    tmp_path: Path, signing_section: dict[str, str], mode: int | None, message: str
) -> None:
    key_file = tmp_path / "gw1.key"
    signing.generate(key_file)
    if mode is not None:
        key_file.chmod(mode)
    data = gateway_config(tmp_path, [counting_device("d1", 1502, 1)], prefix="x/")
    data["signing"] = signing_section
    problems = check(_gateway(tmp_path, data))
    assert any(message in p and "carbonstream gateway keygen" in p for p in problems), problems
    with pytest.raises(ConfigError, match=message):
        _gateway(tmp_path, data).signer()


def test_signing_needs_exactly_one_key_source(tmp_path: Path) -> None:
    data = gateway_config(tmp_path, [counting_device("d1", 1502, 1)], prefix="x/")
    data["signing"] = {}
    with pytest.raises(ConfigError, match="give private_key_file or private_key_env"):
        _gateway(tmp_path, data)
