"""Fixtures for tests that need the real services (see tests/services.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tests.hypothesis_profiles  # noqa: F401  (registers and loads the profile)
from carbonstream.store.db import connect
from carbonstream.store.migrate import migrate
from tests.services import PG_ADMIN_URL, create_db, drop_db, finish_drops, url_with_db

# Fixtures that make every test using them slow (out of `make test-fast`; CI runs all).
SLOW_FIXTURES = {
    "example_template": "ingests the example plant through Mosquitto (once per session)",
    "bare_template": "ingests the example plant through Mosquitto (once per session)",
    "browser": "drives Chromium",
    "own_pg": "starts a PostgreSQL cluster of its own",
    "api": "starts the whole app (lifespan, pool, alert service) for each test",
    "live_server": "serves the API with uvicorn in a thread, live hub and streams",
}


# The longest tests (nodeid prefixes, longest first; --durations of a full run). Under
# pytest-xdist they start first, spread over the workers, then the other slow ones: a long
# test that starts last would keep one worker busy while the others idle.
LONG_FIRST = (
    "tests/api/test_timescale.py",
    "tests/ingest/test_malformed.py::test_thousands_of_malformed_payloads",
    "tests/api/test_schemathesis.py",
    "tests/api/test_docs_offline.py",
    "tests/test_demo.py",
    "tests/test_demo_to_report.py",
    "tests/alerts/test_forecast_rule.py",
    "tests/api/test_report",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    if hasattr(config, "workerinput"):  # an xdist worker: all collect, then share this order
        items[:] = _long_first(items, int(config.workerinput["workercount"]))


def _long_first(items: list[pytest.Item], workers: int) -> list[pytest.Item]:
    """The order that starts the known-long tests first on every worker.

    ``--dist load`` first hands each worker a run of consecutive tests (a quarter of its
    share), then the rest in order as they finish: the long modules are dealt one by one
    to the front of those runs (a module stays whole: its module fixtures are built once).
    """
    ranked = sorted(items, key=_start_rank)
    modules: dict[str, list[pytest.Item]] = {}
    rest: list[pytest.Item] = []
    for item in ranked:
        if _start_rank(item) < len(LONG_FIRST):
            modules.setdefault(item.nodeid.split("::")[0], []).append(item)
        else:
            rest.append(item)
    first = max(len(items) // workers // 4, 2)  # xdist's LoadScheduling first hand-out
    runs: list[list[pytest.Item]] = [[] for _ in range(workers)]
    for i, module in enumerate(modules.values()):
        runs[i % workers] += module
    out: list[pytest.Item] = []
    for run in runs:
        out += run + rest[: max(first - len(run), 0)]
        rest = rest[max(first - len(run), 0) :]
    return out + rest


def _start_rank(item: pytest.Item) -> int:
    """Known-long tests in LONG_FIRST's order, then the other slow tests, then the rest
    (a stable sort: collection order within each group)."""
    for rank, prefix in enumerate(LONG_FIRST):
        if item.nodeid.startswith(prefix):
            return rank
    return len(LONG_FIRST) + (0 if item.get_closest_marker("slow") else 1)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    finish_drops()


@pytest.fixture
def db_url() -> Iterator[str]:
    """A fresh, empty database on the shared PostgreSQL, dropped afterwards."""
    name = create_db()
    try:
        yield url_with_db(PG_ADMIN_URL, name)
    finally:
        drop_db(name)


@pytest.fixture(scope="session")
def migrated_template() -> Iterator[str]:
    """A database with every migration applied, made once per session and copied by
    ``migrated_url``: a copy takes a tenth of the time the migrations take."""
    name = create_db()
    with connect(url_with_db(PG_ADMIN_URL, name)) as conn:
        migrate(conn)
    try:
        yield name
    finally:
        drop_db(name)


@pytest.fixture
def migrated_url(migrated_template: str) -> Iterator[str]:
    """A fresh database with the current schema (a copy of the migrated template)."""
    name = create_db(template=migrated_template)
    try:
        yield url_with_db(PG_ADMIN_URL, name)
    finally:
        drop_db(name)
