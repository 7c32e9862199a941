"""A database filled by the real ingest service with the example readings (once per session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ingest import helpers as h
from tests.services import PG_ADMIN_URL, create_db, drop_db, unique, url_with_db


@pytest.fixture(scope="session")
def filled_db() -> Iterator[str]:
    name = create_db()
    url = url_with_db(PG_ADMIN_URL, name)
    ex = h.example()
    gw = unique("gw")
    run = h.Running(h.settings(url, gw), url)
    try:
        msgs = h.payloads(ex, gw)
        h.publish(msgs)
        h.wait_until(lambda: run.service.totals.messages >= len(msgs), 60, "all messages")
    finally:
        run.stop()
    yield url
    drop_db(name)
