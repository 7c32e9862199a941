"""API fixtures: databases on the shared PostgreSQL (empty, or with the example readings
ingested through Mosquitto), the app in-process, and one key per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from carbonstream.api import ApiSettings, create_app
from carbonstream.api.settings import ApiLimits
from carbonstream.store import keys
from carbonstream.store.db import connect
from tests.api import data
from tests.services import PG_ADMIN_URL, drop_db, url_with_db

ROOT = Path(__file__).resolve().parents[2]
PLANT = ROOT / "config" / "plant.example.yaml"


@dataclass
class Api:
    client: TestClient
    db_url: str
    tokens: dict[str, str]  # role -> token

    def headers(self, role: str) -> dict[str, str]:
        return {"X-API-Key": self.tokens[role]}


def make_keys(db_url: str) -> dict[str, str]:
    tokens = {}
    with connect(db_url) as conn:
        for role in keys.Role:
            _, tokens[role.name.lower()] = keys.create(conn, f"test {role.name}", role)
    return tokens


def serve(db_url: str, plant: Path = PLANT, **settings: object) -> Iterator[Api]:
    tokens = make_keys(db_url)
    app = create_app(ApiSettings(plant=str(plant), **settings), db_url)
    with TestClient(app) as client:
        yield Api(client, db_url, tokens)


@pytest.fixture
def live_limits() -> ApiLimits:
    """Limits of the live server (fix_live.py). One viewer key opens 50 streams in
    test_fifty_clients_on_a_small_pool; a module that tests the limits overrides this."""
    return ApiLimits(streams_per_key=50)


@pytest.fixture
def migrated_db(migrated_url: str) -> str:
    return migrated_url


@pytest.fixture
def api(migrated_db: str) -> Iterator[Api]:
    yield from serve(migrated_db)


@pytest.fixture(scope="session")
def example_template() -> Iterator[str]:
    """A database with the example plant's readings ingested (never connected to after)."""
    name = data.template()
    try:
        yield name
    finally:
        drop_db(name)


@pytest.fixture(scope="session")
def bare_plant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plant without its instruments (they are allocated through the API)."""
    return data.plant_variant(tmp_path_factory.mktemp("plant") / "bare.yaml", instruments=None)


@pytest.fixture(scope="session")
def bare_template(bare_plant: Path) -> Iterator[str]:
    name = data.template(bare_plant)
    try:
        yield name
    finally:
        drop_db(name)


@pytest.fixture
def example_db(example_template: str) -> Iterator[str]:
    name = data.clone(example_template)
    try:
        yield url_with_db(PG_ADMIN_URL, name)
    finally:
        drop_db(name)


@pytest.fixture(scope="module")
def example(example_template: str) -> Iterator[Api]:
    """The API over the ingested example (read-only tests share it per module)."""
    name = data.clone(example_template)
    try:
        yield from serve(url_with_db(PG_ADMIN_URL, name))
    finally:
        drop_db(name)
