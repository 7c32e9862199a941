"""Fixtures for tests that need the real services (see tests/services.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tests.hypothesis_profiles  # noqa: F401  (registers and loads the profile)
from tests.services import PG_ADMIN_URL, create_db, drop_db, url_with_db


@pytest.fixture
def db_url() -> Iterator[str]:
    """A fresh, empty database on the shared PostgreSQL, dropped afterwards."""
    name = create_db()
    try:
        yield url_with_db(PG_ADMIN_URL, name)
    finally:
        drop_db(name)
