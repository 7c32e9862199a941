"""A bad plant file fails at load with the field path and the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from carbonstream.config.loader import load_plant
from carbonstream.errors import ConfigError

GOOD: dict[str, Any] = {
    "name": "p",
    "sites": [{"id": "a"}],
    "meters": [
        {
            "id": "g",
            "site": "a",
            "kind": "grid_import",
            "measures": "counter",
            "unit": "kWh",
            "rating": 100,
        },
        {
            "id": "gas",
            "site": "a",
            "kind": "fuel",
            "fuel": "natural_gas",
            "measures": "counter",
            "unit": "Nm3",
            "rating": 100,
        },
    ],
}


def load(tmp_path: Path, data: dict[str, Any]) -> None:
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    load_plant(path)


def broken(change: dict[str, Any], meter: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(yaml.safe_dump(GOOD))
    data.update(change)
    if meter is not None:
        data["meters"][1].update(meter)
    return data


def test_good_file_loads(tmp_path: Path) -> None:
    load(tmp_path, GOOD)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (broken({}, {"rating": -5}), "meters[1] (id 'gas').rating: Input should be greater than 0"),
        (broken({}, {"ratng": 5}), "meters[1] (id 'gas').ratng: Extra inputs are not permitted"),
        (broken({}, {"unit": "m3"}), "needs reference_conditions"),
        (broken({}, {"unit": "kWh"}), "unit 'kWh' is not a gas volume unit"),
        (broken({}, {"fuel": None}), "a fuel meter needs 'fuel'"),
        (broken({}, {"site": "nowhere"}), "meter 'gas' names unknown site 'nowhere'"),
        (broken({}, {"kind": "coal"}), "meters[1] (id 'gas').kind: Input should be"),
        (broken({"timezone": "Mars/Olympus"}), "timezone: unknown time zone 'Mars/Olympus'"),
        (broken({"gwp": "AR9"}), "gwp: Input should be 'SAR', 'AR4', 'AR5' or 'AR6'"),
        (broken({}, {"id": "g"}), "duplicate meters id(s): g"),
        (
            broken({}, {"fuel": "raw_coal", "unit": "t", "method": "ipcc2006"}),
            "IPCC 2006 has no 'raw coal'",
        ),
        (broken({}, {"scope": 2}), "scope 2 does not fit kind fuel"),
        (broken({}, {"factors": {"nvc": "x"}}), "unknown factor role(s) ['nvc']"),
        (
            broken(
                {
                    "instruments": [
                        {
                            "id": "i",
                            "type": "gec",
                            "site": "a",
                            "generation": {"start": "2026-01-01", "end": "2026-12-31"},
                        }
                    ]
                }
            ),
            "a gec instrument needs 'mwh'",
        ),
        (
            broken(
                {
                    "instruments": [
                        {
                            "id": "i",
                            "type": "gec",
                            "site": "a",
                            "mwh": 5,
                            "market": "EU",
                            "generation": {"start": "2026-01-01", "end": "2026-12-31"},
                        }
                    ]
                }
            ),
            "Scope 2 Quality Criterion 5",
        ),
        (
            broken({"replacements": [{"meter": "g", "at": "2026-01-01T00:00:00", "old_final": 1}]}),
            "replacements[0].at: give the time with its UTC offset",
        ),
    ],
)
def test_bad_field_is_named_with_reason(
    tmp_path: Path, data: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, data)
    assert expected in str(err.value)


def test_unparseable_file(tmp_path: Path) -> None:
    path = tmp_path / "plant.yaml"
    path.write_text("name: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_plant(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_plant(tmp_path / "none.yaml")


def test_every_problem_listed_at_once(tmp_path: Path) -> None:
    data = broken({"gwp": "AR9"}, {"rating": 0})
    with pytest.raises(ConfigError) as err:
        load(tmp_path, data)
    assert len(err.value.problems) == 2
