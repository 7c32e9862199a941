"""carbonstream deploy acl: each gateway's site written into its topics, Sparkplug B nodes of
the ingest settings added, and nothing that could widen a topic or start a line accepted.
(The file run on a real Mosquitto: tests/deploy/test_mosquitto.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from carbonstream.cli import main
from carbonstream.config.loader import load_plant
from carbonstream.deploy.acl import mosquitto_acl
from carbonstream.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PLANT = ROOT / "config" / "plant.example.yaml"


def _blocks(text: str) -> dict[str, list[str]]:
    """Each user's topic lines."""
    out: dict[str, list[str]] = {}
    user = None
    for line in text.splitlines():
        if line.startswith("user "):
            user = line.removeprefix("user ")
            out.setdefault(user, [])
        elif line.startswith("topic ") and user is not None:
            out[user].append(line)
    return out


def test_sparkplug_nodes_of_the_ingest_settings_get_their_own_block(tmp_path: Path) -> None:
    ingest = tmp_path / "ingest.yaml"
    ingest.write_text(
        yaml.safe_dump(
            {
                "plant": str(PLANT),
                "sparkplug": {
                    "enabled": True,
                    "metrics": {
                        "plant1/neuron-hall2/SteamTotal": "foundry-steam",
                        "plant1/neuron-hall2/pm1/Energy": "foundry-grid",
                    },
                },
                "signatures": {"required": False},
            }
        ),
        encoding="utf-8",
    )
    out = tmp_path / "acl"
    args = ["deploy", "acl", "--config", str(PLANT), "--ingest-config", str(ingest)]
    assert main([*args, "--output", str(out)]) == 0
    blocks = _blocks(out.read_text())
    assert blocks["neuron-hall2"] == [
        "topic write spBv1.0/plant1/+/neuron-hall2",
        "topic write spBv1.0/plant1/+/neuron-hall2/#",
    ]
    plant = load_plant(PLANT)
    assert set(blocks) == {
        "carbonstream-ingest", "healthcheck", "neuron-hall2", *(g.id for g in plant.gateways)
    }  # fmt: skip
    for g in plant.gateways:
        assert blocks[g.id], g.id
        for line in blocks[g.id]:
            assert line.startswith("topic write carbonstream/v") and "+" not in line
            assert f"/{g.site}/{g.id}/" in line


@pytest.mark.parametrize("name", ["plant1/a b", "plant1/x\nuser admin", "plant1/#", "+/n"])
def test_names_that_would_widen_a_topic_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="cannot be an MQTT user or topic segment"):
        mosquitto_acl(load_plant(PLANT), "plant.yaml", sparkplug_nodes=[name])


def test_a_plant_without_gateways_gets_no_acl(tmp_path: Path) -> None:
    plant = tmp_path / "plant.yaml"
    data = {
        "name": "p",
        "sites": [{"id": "a"}],
        "meters": [
            {"id": "g", "site": "a", "kind": "grid_import", "measures": "counter",
             "unit": "kWh", "rating": 100}
        ],
    }  # fmt: skip
    plant.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["deploy", "acl", "--config", str(plant)]) == 1
