"""The plant's gateways: section: a bad binding fails at load with the field path and the fix;
the example plant binds exactly the meters its shipped gateway files read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from carbonstream.config.loader import load_plant, validate
from carbonstream.config.plant import Plant
from carbonstream.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _plant(gateways: list[dict[str, Any]]) -> dict[str, Any]:
    def meter(id: str, site: str) -> dict[str, Any]:
        return {
            "id": id,
            "site": site,
            "kind": "grid_import",
            "measures": "counter",
            "unit": "kWh",
            "rating": 100,
        }

    return {
        "name": "p",
        "sites": [{"id": "a"}, {"id": "b"}],
        "meters": [meter("a1", "a"), meter("a2", "a"), meter("b1", "b")],
        "gateways": gateways,
    }


def _problems(gateways: list[dict[str, Any]]) -> str:
    with pytest.raises(ConfigError) as e:
        validate(_plant(gateways), Plant, "plant.yaml")
    return "\n".join(e.value.problems)


def test_good_bindings_load() -> None:
    p = validate(
        _plant(
            [
                {"id": "gw-a", "site": "a", "meters": ["a1", "a2"]},
                {"id": "gw-b", "site": "b", "meters": ["b1"]},
            ]
        ),
        Plant,
        "plant.yaml",
    )
    assert [(g.id, g.site, g.meters) for g in p.gateways] == [
        ("gw-a", "a", ["a1", "a2"]),
        ("gw-b", "b", ["b1"]),
    ]


@pytest.mark.parametrize(
    ("gateways", "expected"),
    [
        (
            [{"id": "gw-a", "site": "a", "meters": ["zz"]}],
            "gateways[0] (id 'gw-a').meters[0]: unknown meter 'zz'; add it under meters: or "
            "remove it",
        ),
        (
            [{"id": "gw-a", "site": "a", "meters": ["a1", "b1"]}],
            "gateways[0] (id 'gw-a').meters[1]: meter 'b1' is at site 'b', not the gateway's "
            "site 'a'; bind it to a gateway of site 'b'",
        ),
        (
            [
                {"id": "gw-a", "site": "a", "meters": ["a1"]},
                {"id": "gw-a2", "site": "a", "meters": ["a2", "a1"]},
            ],
            "gateways[1] (id 'gw-a2').meters[1]: meter 'a1' is already bound to gateway 'gw-a'; "
            "a meter has one gateway: remove it from one of them",
        ),
        (
            [{"id": "gw-x", "site": "x", "meters": ["a1"]}],
            "gateways[0] (id 'gw-x').site: unknown site 'x'; use one of ['a', 'b']",
        ),
        (
            [
                {"id": "gw-a", "site": "a", "meters": ["a1"]},
                {"id": "gw-a", "site": "a", "meters": ["a2"]},
            ],
            "gateways[1] (id 'gw-a').id: gateway 'gw-a' is listed twice; merge the entries",
        ),
        (
            [{"id": "gw-a", "site": "a", "meters": ["a1", "a1"]}],
            "gateways[0] (id 'gw-a').meters[1]: meter 'a1' is listed twice; remove one",
        ),
    ],
)
def test_bad_binding_names_the_field_and_the_fix(
    gateways: list[dict[str, Any]], expected: str
) -> None:
    assert expected in _problems(gateways)


def test_gateway_fields_are_checked_like_every_field() -> None:
    text = _problems([{"id": "gw a", "site": "a", "meters": []}])
    assert "gateways[0] (id 'gw a').id: String should match pattern" in text
    assert "gateways[0] (id 'gw a').meters: List should have at least 1 item" in text
    assert "gateways[0].mqtt_user: Extra inputs are not permitted" in _problems(
        [{"id": "gw-a", "site": "a", "meters": ["a1"], "mqtt_user": "x"}]
    ).replace(" (id 'gw-a')", "")


def test_example_plant_binds_what_the_gateway_files_read() -> None:
    plant = load_plant(ROOT / "config" / "plant.example.yaml")
    bound = {g.id: (g.site, sorted(g.meters)) for g in plant.gateways}
    shipped = {}
    for f in sorted((ROOT / "gateways").glob("*.yaml")):
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
        points = sorted(p["meter"] for d in data["devices"] for p in d["points"])
        shipped[data["id"]] = (data["site"], points)
    assert bound == shipped
    assert {m.id for m in plant.meters} == {m for _, ms in bound.values() for m in ms}
