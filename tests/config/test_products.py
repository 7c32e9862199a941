"""The plant file's footprint section: a configuration that would give a wrong footprint
fails at load, naming the field and the fix."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from carbonstream.config.loader import validate
from carbonstream.config.plant import Plant
from carbonstream.errors import ConfigError

BASE: dict[str, Any] = {
    "name": "P",
    "sites": [{"id": "a"}, {"id": "b"}],
    "meters": [
        {"id": "gas", "site": "a", "kind": "fuel", "fuel": "natural_gas", "measures": "counter",
         "unit": "Nm3", "rating": 100, "line": "l1"},
        {"id": "out", "site": "a", "kind": "production", "measures": "counter", "unit": "t",
         "rating": 10, "line": "l1"},
        {"id": "grid-b", "site": "b", "kind": "grid_import", "measures": "counter",
         "unit": "kWh", "rating": 100, "line": "l2"},
    ],
    "footprint": {
        "products": [
            {"id": "p", "name": {"zh": "产品", "en": "P"}, "declared_unit": "t", "lines": ["l1"]}
        ]
    },
}  # fmt: skip


def plant(**fp: Any) -> Plant:
    data = copy.deepcopy(BASE)
    data["footprint"].update(fp)
    return validate(data, Plant, "plant.yaml")


def refused(match: str, **fp: Any) -> None:
    with pytest.raises(ConfigError, match=match):
        plant(**fp)


def product(**kw: Any) -> dict[str, Any]:
    return {
        "id": "p",
        "name": {"zh": "产品", "en": "P"},
        "declared_unit": "t",
        "lines": ["l1"],
    } | kw


def test_the_example_shape_loads() -> None:
    p = plant()
    assert p.footprint.line("l1").allocation.value == "mass"


def test_refusals_name_the_field_and_the_fix() -> None:
    refused(r"footprint.products\[0\] \(id 'p'\).lines: no meter has line 'l9'",
            products=[product(lines=["l9"])])  # fmt: skip
    refused("economic allocation needs a 'justification'",
            lines=[{"id": "l1", "allocation": "economic"}])  # fmt: skip
    refused(r"allocated by mass but product\(s\) \['p'\] have no mass",
            products=[product(declared_unit="pcs")])  # fmt: skip
    refused(r"have no value_per_unit",
            lines=[{"id": "l1", "allocation": "economic", "justification": "joint"}])  # fmt: skip
    refused("'gas' is not a production meter", products=[product(lot_meter="gas")])
    refused("declared_unit 'bags' is not a mass", products=[product(declared_unit="bags")])
    refused("a CBAM good is declared per tonne",
            products=[product(declared_unit="pcs", cbam={"cn_code": "7616 99",
                                                          "sector": "aluminium"})])  # fmt: skip
    refused(r"duplicate footprint.products id\(s\): p", products=[product(), product()])


def test_a_product_line_on_two_sites_is_refused() -> None:
    data = copy.deepcopy(BASE)
    data["meters"][2]["line"] = "l1"  # a grid meter of site b on line l1
    with pytest.raises(ConfigError, match=r"line 'l1' has meters on sites \['a', 'b'\]"):
        validate(data, Plant, "plant.yaml")
