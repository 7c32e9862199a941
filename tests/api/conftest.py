"""API fixtures: a migrated database on the shared PostgreSQL, the app in-process, keys."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from carbonstream.api import ApiSettings, create_app
from carbonstream.store import keys
from carbonstream.store.db import connect
from carbonstream.store.migrate import migrate

ROOT = Path(__file__).resolve().parents[2]
PLANT = ROOT / "config" / "plant.example.yaml"


@dataclass
class Api:
    client: TestClient
    db_url: str
    tokens: dict[str, str]  # role -> token

    def headers(self, role: str) -> dict[str, str]:
        return {"X-API-Key": self.tokens[role]}


@pytest.fixture
def migrated_db(db_url: str) -> str:
    with connect(db_url) as conn:
        migrate(conn)
    return db_url


@pytest.fixture
def api(migrated_db: str) -> Iterator[Api]:
    tokens = {}
    with connect(migrated_db) as conn:
        for role in keys.Role:
            _, tokens[role.name.lower()] = keys.create(conn, f"test {role.name}", role)
    app = create_app(ApiSettings(plant=str(PLANT)), migrated_db)
    with TestClient(app) as client:
        yield Api(client, migrated_db, tokens)
