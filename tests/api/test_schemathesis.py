"""Property-based requests generated from the OpenAPI schema (schemathesis) against the real
server (uvicorn on a free port, the example data ingested): no input makes it fail with a
server error, and every response matches the schema it documents."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from carbonstream.api import ApiSettings, create_app
from tests.api import data
from tests.api.conftest import PLANT, make_keys
from tests.services import PG_ADMIN_URL, drop_db, free_port, url_with_db

EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class _Server:
    def __init__(self, db_url: str) -> None:
        app = create_app(ApiSettings(plant=str(PLANT)), db_url)
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        end = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < end, "uvicorn did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)


@pytest.fixture(scope="module")
def live(example_template: str) -> Iterator[tuple[str, dict[str, str]]]:
    name = data.clone(example_template)
    url = url_with_db(PG_ADMIN_URL, name)
    tokens = make_keys(url)
    server = _Server(url)
    try:
        yield f"http://127.0.0.1:{server.port}", tokens
    finally:
        server.stop()
        drop_db(name)


def _run(op: Any, mode: GenerationMode, base: str, token: str, checks: list[Any]) -> None:
    @given(case=op.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: Any) -> None:
        with requests.Session() as session:
            session.headers["X-API-Key"] = token
            case.call_and_validate(base_url=base, session=session, checks=checks)

    check()


def test_no_server_error(live: tuple[str, dict[str, str]]) -> None:
    base, tokens = live
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        op = result.ok()
        if op.path.endswith("/stream"):
            continue  # never ends by design; its events and auth are tested in test_live.py
        operations += 1
        for mode, checks in (
            (GenerationMode.POSITIVE, CHECKS),
            (GenerationMode.NEGATIVE, [not_a_server_error]),
        ):
            try:
                _run(op, mode, base, tokens["admin"], checks)
            except Unsatisfiable:
                pass  # nothing to make invalid (no parameters, or only free-form strings)
            except (Exception, BaseExceptionGroup) as e:  # collect them all, then report
                failures.append(f"{op.label} ({mode.value}): {e}")
    assert operations >= 20
    assert not failures, "\n\n".join(failures)
