"""The worked example of docs/guides/add-a-protocol.md: a third protocol, ASCII registers
(``example_protocols/ascii.py``), added as one module with its config model.

The registry finds it among the protocols' modules; a gateway file takes its
devices under ``protocol: ascii``; the gateway polls a real TCP server on
loopback with the one Poller and publishes through the shared broker, beside
a Modbus device. No other module of the gateway names it.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
import yaml

import carbonstream
from carbonstream.errors import CarbonstreamError, ConfigError
from carbonstream.gateway import protocols, registry
from carbonstream.gateway.config import load_gateway
from carbonstream.gateway.service import GatewayService
from carbonstream.sim.modbus_server import RegisterServer
from carbonstream.transport.payload import Quality

from .conftest import Collector, free_port, gateway_config, make_gateway
from .counters import counting_device, counting_spec

EXAMPLE = Path(__file__).parent / "example_protocols"
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "add-a-protocol.md"
GATEWAY_SRC = Path(carbonstream.__file__).parent / "gateway"
NAMES = ("Ascii", '"ascii"', "'ascii'", "protocols.ascii")  # how a module would name it


@pytest.fixture
def ascii_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example's folder joins the protocols package's folders: to the registry this is the
    same as copying ascii.py into src/carbonstream/gateway/protocols/, and it edits no file."""
    monkeypatch.setattr(protocols, "__path__", [*protocols.__path__, str(EXAMPLE)])


class AsciiServer:
    """A device speaking the example protocol: ``RD n`` -> ``= value`` or ``! reason``.

    Register 7 counts its own reads (1, 2, 3, ...), so the readings prove their order.
    """

    def __init__(self) -> None:
        self.reads = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            match line.split():
                case [b"RD", b"7"]:
                    self.reads += 1
                    writer.write(f"= {self.reads}\r\n".encode())
                case [b"RD", b"8"]:
                    writer.write(b"= 230.5\r\n")
                case _:
                    writer.write(b"! no such register\r\n")
            await writer.drain()
        writer.close()


def _ascii_device(port: int) -> dict[str, object]:
    return {
        "protocol": "ascii",
        "id": "press-7",
        "host": "127.0.0.1",
        "port": port,
        "polling": {"interval_s": 0.2, "timeout_s": 0.5, "backoff_max_s": 0.5},
        "points": [
            {"meter": "press-7-energy", "address": 7, "scale": 0.5, "unit": "kWh"},
            {"meter": "press-7-voltage", "address": 8, "unit": "V"},
            {"meter": "press-7-missing", "address": 99, "unit": "kWh"},
        ],
    }


def test_the_registry_finds_the_new_module_and_nothing_else_names_it(
    ascii_protocol: None,
) -> None:
    found = registry.protocols()
    assert set(found) == {"ascii", "modbus", "opcua"}
    assert found["ascii"].device.__name__ == "AsciiDevice"
    assert found["ascii"].device.__module__ == f"{protocols.__name__}.ascii"
    # The seam is the only way in: no gateway module, config or service among them, names it.
    for path in GATEWAY_SRC.rglob("*.py"):
        text = path.read_text()
        assert not [n for n in NAMES if n in text], path


def test_without_the_module_the_protocol_is_unknown(tmp_path: Path) -> None:
    bad = tmp_path / "gw.yaml"
    bad.write_text(yaml.safe_dump(gateway_config(tmp_path, [_ascii_device(1)], prefix="")))
    with pytest.raises(ConfigError) as err:
        load_gateway(bad)
    assert "devices[0] (id 'press-7'): protocol: unknown; this gateway knows modbus, opcua" in str(
        err.value
    )


def test_a_bad_entry_of_the_new_protocol_names_field_and_reason(
    ascii_protocol: None, tmp_path: Path
) -> None:
    device = _ascii_device(70000)
    bad = tmp_path / "gw.yaml"
    bad.write_text(yaml.safe_dump(gateway_config(tmp_path, [device], prefix="")))
    with pytest.raises(ConfigError) as err:
        load_gateway(bad)
    assert "devices[0] (id 'press-7').port: Input should be less than or equal to 65535" in str(
        err.value
    )


async def test_a_gateway_reads_the_new_protocol_end_to_end(
    ascii_protocol: None, tmp_path: Path, prefix: str
) -> None:
    device = AsciiServer()
    await device.start()
    modbus_port = free_port()
    meter = RegisterServer([counting_spec(1)], port=modbus_port)
    await meter.start()
    devices = [_ascii_device(device.port), counting_device("incomer", modbus_port, 1)]
    service = GatewayService(make_gateway(tmp_path, devices, prefix=prefix))
    # The new protocol's device is polled by the one Poller, like the Modbus one.
    assert sorted(p.device for p in service.pollers) == ["incomer", "press-7"]
    async with Collector("127.0.0.1", 1883, prefix) as collector:
        task = asyncio.create_task(service.run())

        def energy() -> list[float | None]:
            return [r.v for r in collector.readings() if r.m == "press-7-energy"]

        await collector.wait_for(lambda: len(energy()) >= 5, 15)
        service.stop()
        await asyncio.wait_for(task, 15)
    await device.stop()
    await meter.stop()
    readings = collector.readings()
    # Every read of register 7 arrived once and in order, scaled by 0.5.
    assert energy() == [0.5 * n for n in range(1, device.reads + 1)]
    voltage = [r for r in readings if r.m == "press-7-voltage"]
    assert voltage and all(r.q is Quality.GOOD and r.v == 230.5 and r.u == "V" for r in voltage)
    # The device said "no" for register 99: published as such, without a value.
    missing = [r for r in readings if r.m == "press-7-missing"]
    assert missing and all(r.q is Quality.EXCEPTION and r.v is None for r in missing)
    assert any(r.m == "incomer-m" and r.q is Quality.GOOD for r in readings)
    # The Poller's metrics cover it: durations observed, requests counted (3 a poll).
    duration = service.metrics.poll_duration.labels("press-7")
    assert duration._sum.get() > 0
    assert service.metrics.requests.labels("press-7")._value.get() == 3


def test_the_guide_shows_the_tested_code() -> None:
    module = (EXAMPLE / "ascii.py").read_text()
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 5
    for line in (x.strip() for block in blocks for x in block.splitlines()):
        assert line in module, f"the guide shows a line the example does not have: {line!r}"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("X = 1\n", "declares no SOURCE = SourceSpec(...)"),
        (
            "from typing import Literal\n"
            "from carbonstream.gateway.source import DeviceConfig, Hub, SourceSpec\n"
            "class D(DeviceConfig):\n"
            "    protocol: Literal['other']\n"
            "SOURCE = SourceSpec(protocol='mine', device=D, hub=Hub)\n",
            "D.protocol must be Literal['mine']",
        ),
    ],
)
def test_a_module_that_does_not_declare_its_protocol_fails_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: str, message: str
) -> None:
    name = f"broken_{tmp_path.name.replace('-', '_')}"  # a module name of its own per case
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.setattr(protocols, "__path__", [*protocols.__path__, str(tmp_path)])
    with pytest.raises(CarbonstreamError, match=re.escape(f"protocols.{name}")) as err:
        registry.protocols()
    assert message in str(err.value)
