"""Gateway keys in the plant file: a bad key, a reversed validity window and one key for two
gateways fail at load, naming the field; the key id follows from the key."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from carbonstream.config.gateway_keys import GatewayKey, KeyRing, plant_keys
from carbonstream.config.loader import load_plant
from carbonstream.config.plant import Plant
from carbonstream.transport import signing
from tests.ingest.helpers import PLANT_FILE

T = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _key() -> str:
    return signing.public_text(Ed25519PrivateKey.generate().public_key())


def _plant_with(keys: dict[str, list[dict[str, Any]]]) -> Plant:
    data = load_plant(PLANT_FILE).model_dump(mode="json")
    for g in data["gateways"]:
        g["keys"] = keys.get(g["id"], [])
    return Plant.model_validate(data)


def test_registered_keys_load_and_are_found_by_their_id() -> None:
    a, b = _key(), _key()
    plant = _plant_with(
        {
            "gw-assembly": [{"public_key": a, "valid_from": T.isoformat()}],
            "gw-foundry": [{"public_key": b, "valid_from": T.isoformat()}],
        }
    )
    ring = KeyRing(plant_keys(plant.gateways))
    kid = signing.key_id(signing.public_from_text(a))
    found = ring.get(kid)
    assert found is not None and found.gateway == "gw-assembly"
    assert found.valid_from_ms == int(T.timestamp() * 1000) and found.valid_to_ms is None
    assert ring.gateways() == {"gw-assembly", "gw-foundry"}


def test_one_key_for_two_gateways_is_refused() -> None:
    a = _key()
    entry = [{"public_key": a, "valid_from": T.isoformat()}]
    with pytest.raises(ValidationError, match=r"gateways\[1\] \(id 'gw-foundry'\)\.keys\[0\]"):
        _plant_with({"gw-assembly": entry, "gw-foundry": entry})


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"public_key": "not base64!", "valid_from": T.isoformat()}, "not an Ed25519"),
        ({"public_key": "AAAA", "valid_from": T.isoformat()}, "32 bytes"),
        ({"public_key": _key(), "valid_from": "2026-12-01T00:00:00"}, "timezone"),
        (
            {"public_key": _key(), "valid_from": T.isoformat(), "valid_to": T.isoformat()},
            "valid_to must be after valid_from",
        ),
    ],
)
def test_a_bad_key_entry_names_the_problem(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        GatewayKey.model_validate(entry)
