"""Every example configuration in the repository loads with the models the code uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from carbonstream.config.loader import load_plant
from carbonstream.core import Engine, FactorLibrary

ROOT = Path(__file__).resolve().parents[2]
PLANT_FILES = sorted((ROOT / "config").glob("plant*.yaml")) + sorted(
    (ROOT / "config").glob("plant*.toml")
)


def test_there_are_examples() -> None:
    assert PLANT_FILES, "config/ should hold at least one example plant"


@pytest.mark.parametrize("path", PLANT_FILES, ids=lambda p: p.name)
def test_example_plant_loads_and_has_factors(path: Path) -> None:
    plant = load_plant(path)
    library = FactorLibrary.load(plant.factor_files)
    engine = Engine(plant, library)
    engine.check_factors(2026)  # every meter resolves a factor for every month


def test_yaml_and_toml_examples_agree() -> None:
    yaml_plant = load_plant(ROOT / "config" / "plant.example.yaml")
    toml_plant = load_plant(ROOT / "config" / "plant.small.toml")
    assert toml_plant.timezone == yaml_plant.timezone
