"""The example gateway files load, bad files fail with field path and reason, and the
example gateways read the simulated example plant end to end through the shared broker."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from carbonstream.config.loader import load_plant, validate
from carbonstream.errors import ConfigError
from carbonstream.gateway.config import Gateway, GatewayFile, check, load_gateway
from carbonstream.gateway.service import GatewayService
from carbonstream.sim.plant_sim import PlantSimulator, SimOptions
from carbonstream.transport.payload import Quality

from .conftest import Collector, free_port

ROOT = Path(__file__).resolve().parents[2]
GATEWAYS = sorted((ROOT / "gateways").glob("*.yaml"))


def test_there_are_examples() -> None:
    assert len(GATEWAYS) >= 1


@pytest.mark.parametrize("path", GATEWAYS, ids=lambda p: p.name)
def test_example_gateway_loads(path: Path) -> None:
    gw = load_gateway(path)
    assert gw.plant is not None


def _broken(path: Path, tmp_path: Path, edit: Any) -> Path:
    data = yaml.safe_load(path.read_text())
    data["plant"] = str((path.parent / data["plant"]).resolve())
    edit(data)
    out = tmp_path / "bad.yaml"
    out.write_text(yaml.safe_dump(data))
    return out


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["devices"][0]["points"][0].update(meter="nope"),
            "devices[0] (id 'assembly-incomer').points[0] (meter 'nope').meter: "
            "'nope' is not a meter",
        ),
        (
            lambda d: d["devices"][0]["points"][0].update(quantity="volts"),
            "quantity: 'volts' is not in profile 'eastron-sdm630'",
        ),
        (
            lambda d: d["devices"][0].update(profile="acme-9000"),
            "profile: unknown profile 'acme-9000'",
        ),
        (lambda d: d["devices"][0].update(unit=300), "devices[0] (id 'assembly-incomer').unit"),
        (
            lambda d: d["devices"][0]["points"][0].update(meter="foundry-gas"),
            "is at site 'foundry'",
        ),
        (lambda d: d["devices"][1].update(link="nowhere"), "unknown link 'nowhere'"),
        (  # the plant's gateways: section binds gw-assembly to site assembly
            lambda d: d.update(site="foundry"),
            "site: 'foundry' is not 'assembly', the site the plant binds gateway 'gw-assembly' to",
        ),
        (  # ... and assembly's meters to gw-assembly, not gw-foundry
            lambda d: d.update(id="gw-foundry", site="foundry"),
            "devices[0] (id 'assembly-incomer').points[0] (meter 'assembly-grid'): the plant "
            "does not bind meter 'assembly-grid' to gateway 'gw-foundry'",
        ),
        (
            lambda d: d["broker"].update(password_env="CARBONSTREAM_TEST_UNSET_SECRET"),
            "broker.password_env",
        ),
        (
            lambda d: d["devices"][3]["points"][0].update(quantity="temperature"),
            "'degC' but meter 'assembly-diesel' is in 'L'",
        ),
    ],
)
def test_bad_file_names_field_and_reason(tmp_path: Path, edit: Any, message: str) -> None:
    bad = _broken(ROOT / "gateways" / "assembly.yaml", tmp_path, edit)
    with pytest.raises(ConfigError) as err:
        load_gateway(bad)
    assert message in str(err.value)


def _local(path: Path, tmp_path: Path, prefix: str, modbus: int, opcua: int) -> Gateway:
    data: dict[str, Any] = copy.deepcopy(yaml.safe_load(path.read_text()))
    data["plant"] = str((path.parent / data["plant"]).resolve())
    data["broker"] |= {"topic_prefix": prefix, "client_id": f"{data['id']}-{prefix[5:15]}"}
    data["buffer"]["path"] = str(tmp_path / f"{data['id']}.sqlite")
    data["metrics"] = {"port": None}
    for link in data.get("links", []):
        link["port"] = modbus
    for d in data["devices"]:
        if d.get("protocol") == "opcua":
            d["endpoint"] = f"opc.tcp://127.0.0.1:{opcua}/carbonstream/"
    gw = Gateway(
        file=validate(data, GatewayFile, path.name),
        plant=load_plant(data["plant"]),
        base_dir=path.parent,
    )
    assert check(gw) == []
    return gw


@pytest.mark.slow
async def test_example_gateways_read_the_simulated_plant(tmp_path: Path, prefix: str) -> None:
    plant = load_plant(ROOT / "config" / "plant.example.yaml")
    modbus, opcua = free_port(), free_port()
    # foundry-grid (unit 5) drops out for 1.5 s of every 3 s: the Modbus gateway answers 0x0B.
    sim = PlantSimulator(
        plant,
        SimOptions(
            modbus_port=modbus,
            opcua_port=opcua,
            dropout_unit=5,
            dropout_period_s=3,
            dropout_s=1.5,
            opcua_update_s=0.5,
        ),
    )
    await sim.start()
    services = [GatewayService(_local(p, tmp_path, prefix, modbus, opcua)) for p in GATEWAYS]
    meters = {m.id: m for m in plant.meters}

    def seen_enough() -> bool:
        """Every meter read well, a drop-out of the grid meter, five steam counts."""
        rs = collector.readings()
        good = {r.m for r in rs if r.q is Quality.GOOD}
        grid = {r.q for r in rs if r.m == "foundry-grid"}
        steam = [r for r in rs if r.m == "foundry-steam" and r.v is not None]
        return good >= set(meters) and Quality.EXCEPTION in grid and len(steam) >= 5

    async with Collector("127.0.0.1", 1883, prefix) as collector:
        tasks = [asyncio.create_task(s.run()) for s in services]
        await collector.wait_for(seen_enough, 60)
        for s in services:
            s.stop()
        await asyncio.gather(*tasks)
        await collector.wait_for(lambda: any(b"offline" in b for b in collector.status), 30)
    await sim.stop()
    readings = collector.readings()
    good = {r.m for r in readings if r.q is Quality.GOOD}
    assert good == set(meters), f"missing: {set(meters) - good}"
    for r in readings:
        assert r.u == meters[r.m].unit
    grid = [r for r in readings if r.m == "foundry-grid"]
    assert any(r.q is Quality.EXCEPTION and r.v is None for r in grid)
    assert any(r.q is Quality.GOOD for r in grid)
    steam = [r.v for r in readings if r.m == "foundry-steam" and r.v is not None]
    assert steam == sorted(steam) and len(steam) >= 5  # a counter, advancing with the profile
    assert {b for b in collector.status if b"online" in b} and {
        b for b in collector.status if b"offline" in b
    }
