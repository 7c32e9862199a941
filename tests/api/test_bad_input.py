"""Every bad input is a 4xx problem, never a 500 (issue 10): each request below was a 500
(unhandled psycopg.DataError) or silently accepted before, on the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from carbonstream.api import ApiSettings, create_app
from carbonstream.api.db import Connection
from carbonstream.api.problems import MEDIA_TYPE
from carbonstream.api.selection import MONTH_PATTERN
from carbonstream.config.loader import load_plant
from carbonstream.domain.bounds import FIRST_YEAR, LAST_YEAR, MAX_OFFSET_T, Bounds
from carbonstream.ledger.rules import MAX_SERIAL
from carbonstream.store.db import connect
from carbonstream.store.migrate import migrate
from tests.api.conftest import PLANT, make_keys
from tests.services import PG_ADMIN_URL, create_db, drop_db, url_with_db

CONTRACT: dict[str, Any] = {
    "id": "GEC-X",
    "type": "gec",
    "serials": "GEC2026110001-GEC2026110020",
    "generation": {"start": "2026-11-01", "end": "2026-11-30"},
}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """The app as a client sees it (a bug is a 500 response, not an exception in the test),
    on one migrated database for the module: tests use ids of their own."""
    name = create_db()
    url = url_with_db(PG_ADMIN_URL, name)
    try:
        with connect(url) as conn:
            migrate(conn)
        tokens = make_keys(url)
        app = create_app(ApiSettings(plant=str(PLANT)), url)
        with TestClient(app, raise_server_exceptions=False) as c:
            c.headers["X-API-Key"] = tokens["admin"]
            yield c
    finally:
        drop_db(name)


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == MEDIA_TYPE
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    return body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/meters?site=assembly%00"),
        ("GET", "/v1/meters/assembly-grid%00"),
        ("GET", "/v1/contracts/a%00"),
        ("GET", "/v1/offsets/a%00"),
        ("GET", "/v1/contracts/a%00/hourly"),
        ("DELETE", "/v1/contracts/a%00"),
        ("GET", "/v1/meters?site=assembly%1b%5b31m"),  # ESC: a terminal escape
        ("GET", "/v1/sites/assembly%0d%0aforged"),  # CR LF: a forged log line
        ("GET", "/v1/emissions?site=a+%7f"),  # DEL
    ],
)
def test_control_character_in_path_or_query_is_422(
    client: TestClient, method: str, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        body = _problem(client.request(method, path), 422)
    assert body["type"].endswith("/control-character")
    # the instance is JSON-escaped in the body; nothing raw reaches a log line
    for record in caplog.records:
        assert not any(ord(c) < 0x20 and c not in "\t\n" for c in record.getMessage())


@pytest.mark.parametrize(
    ("field", "value"),
    [("project", "a\x00b"), ("source", "wind\x1b[2J"), ("market", "CN\r")],
)
def test_control_character_in_a_body_string_is_422(
    client: TestClient, field: str, value: str
) -> None:
    body = _problem(client.post("/v1/contracts", json={**CONTRACT, field: value}), 422)
    assert body["errors"][0]["field"] == f"body.{field}"


def test_a_note_may_have_line_breaks_but_no_nul(client: TestClient) -> None:
    offset = {"id": "O1", "project": "wind", "serials": "N1-N10", "vintage": 2025}
    _problem(client.post("/v1/offsets", json={**offset, "note": "a\x00"}), 422)
    r = client.post("/v1/offsets", json={**offset, "note": "line 1\nline 2\ttab"})
    assert r.status_code == 201, r.text
    assert r.json()["note"] == "line 1\nline 2\ttab"


@pytest.mark.parametrize(
    "serials",
    [
        "GEC1-GEC9223372036854775807",  # int8range(start, end + 1) overflowed: a 500
        "GEC1-GEC1000000000000000000",
        "GEC9223372036854775808-GEC9223372036854775809",
    ],
)
def test_serials_past_18_digits_are_422(client: TestClient, serials: str) -> None:
    contract = {**CONTRACT, "serials": serials}
    offset = {"id": "O3", "project": "p", "vintage": 2025, "serials": serials}
    for path, payload in (("/v1/contracts", contract), ("/v1/offsets", offset)):
        body = _problem(client.post(path, json=payload), 422)
        assert "above 999999999999999999 (18 digits)" in body["detail"], body


def test_a_contract_beyond_what_the_plant_could_draw_is_422(client: TestClient) -> None:
    # The example plant's grid imports: assembly-grid 2000 kW, foundry-grid 3000 kW,
    # warehouse-power 150 kW, rating_tolerance 0.1: 5150 kW x 1.1 = 5.665 MW.
    # Generation from 2026-11-01, certificates valid until 2028-10-31: 731 days = 17,544 h.
    # 5.665 MW x 17,544 h = 99,386.76 MWh.
    bounds = Bounds.of(load_plant(PLANT))
    assert bounds.grid_mw == pytest.approx(5.665)
    most = bounds.contract_mwh(dt.date(2026, 11, 1), dt.date(2028, 10, 31))
    assert most == pytest.approx(99_386.76)
    # 10^18 MWh was accepted before
    big = {**CONTRACT, "serials": "GEC1-GEC999999999999999999"}
    body = _problem(client.post("/v1/contracts", json=big), 422)
    assert body["type"].endswith("/implausible-quantity")
    assert body["bound"] == pytest.approx(99_386.76)
    over = {**CONTRACT, "id": "GEC-O", "serials": "B1-B99387"}
    _problem(client.post("/v1/contracts", json=over), 422)
    at = {**CONTRACT, "id": "GEC-A", "serials": "B1-B99386"}
    assert client.post("/v1/contracts", json=at).status_code == 201


def test_an_offset_holding_beyond_the_cap_is_422(client: TestClient) -> None:
    offset = {"id": "O2", "project": "p", "vintage": 2025}  # serials C: no other test's
    n = MAX_OFFSET_T
    body = _problem(client.post("/v1/offsets", json={**offset, "serials": f"C1-C{n + 1}"}), 422)
    assert body["type"].endswith("/implausible-quantity")
    ok = client.post("/v1/offsets", json={**offset, "serials": f"C1-C{n}"})
    assert ok.status_code == 201, ok.text


def test_an_hour_beyond_one_hour_of_the_plants_draw_is_422(client: TestClient) -> None:
    contract = {**CONTRACT, "id": "GEC-H", "serials": "H1-H20"}
    assert client.post("/v1/contracts", json=contract).status_code == 201
    # one hour of 5.665 MW = 5.665 MWh; the contract holds 20 certificates
    rows = [{"hour": "2026-11-02T11:00", "mwh": 5.666}]
    body = _problem(client.post("/v1/contracts/GEC-H/hourly", json={"rows": rows}), 422)
    assert body["type"].endswith("/implausible-quantity")
    rows = [{"hour": "2026-11-02T11:00", "mwh": 5.665}]
    assert client.post("/v1/contracts/GEC-H/hourly", json={"rows": rows}).status_code == 201


def test_a_data_error_past_the_types_is_422_only_when_the_value_is_at_fault(
    client: TestClient,
) -> None:
    """The net under the types: a route that forgot them (added here, taking any JSON)
    still answers 4xx for a value the database cannot hold; a DataError that is our own
    bug (division by zero) stays a 500."""
    app = client.app
    assert isinstance(app, FastAPI)

    @app.post("/test/forgot-the-types")
    async def forgot(body: dict[str, Any], conn: Connection) -> dict[str, str]:
        await conn.execute(body["sql"], (body["value"],))
        return {"ok": "yes"}

    def post(sql: str, value: Any) -> Any:
        return client.post("/test/forgot-the-types", json={"sql": sql, "value": value})

    nul = _problem(post("SELECT %s::text", "a\x00b"), 422)
    assert nul["type"].endswith("/invalid-value")
    over = _problem(post("SELECT int8range(1, %s::int8, '[]')", 2**63 - 1), 422)
    assert over["sqlstate"] == "22003"
    assert post("SELECT 1 / %s::int", 0).status_code == 500
    assert post("SELECT %s::text", "fine").status_code == 200


def test_serial_limit_is_18_digits() -> None:
    assert len(str(MAX_SERIAL)) == 18
    assert MAX_SERIAL + 1 < 2**63 - 1


@pytest.mark.parametrize(
    "query",
    [
        "/v1/baselines?end=0001-01-05T00:00",  # end - 30 days: OverflowError, a 500
        "/v1/emissions?start=9999-12-31T23:00&end=9999-12-31T23:30",
        "/v1/inventory?start=1969-12-31&end=1970-01-02",
    ],
)
def test_a_time_outside_1970_to_2199_is_422(client: TestClient, query: str) -> None:
    body = _problem(client.get(query), 422)
    assert "a time from 1970 to 2199" in body["detail"]


@pytest.mark.parametrize(
    "query",
    [
        "/v1/energy?month=2806-05",  # past int64 nanoseconds: OverflowError, a 500
        "/v1/inventory?month=0000-01",  # no year 0
        "/v1/matching?site=foundry&month=1999-12",
        "/v1/reports/monthly?month=2101-01",
    ],
)
def test_a_month_outside_2000_to_2100_is_422(client: TestClient, query: str) -> None:
    body = _problem(client.get(query), 422)
    assert "month" in body["detail"], body


@pytest.mark.parametrize(
    "csv_body",
    [
        "hour,mwh\n2026-11-02T11:00,1\r\x00",  # a lone CR inside a field: csv.Error, was a 500
        "hour,mwh\n" + "0" * 200_000,  # a field past the csv module's limit: was a 500
    ],
)
def test_an_unreadable_csv_is_422(client: TestClient, csv_body: str) -> None:
    contract = {**CONTRACT, "id": "GEC-CSV", "serials": "V1-V20"}
    client.post("/v1/contracts", json=contract)
    r = client.post(
        "/v1/contracts/GEC-CSV/hourly",
        content=csv_body.encode(),
        headers={"Content-Type": "text/csv"},
    )
    body = _problem(r, 422)
    assert body["detail"].startswith("the CSV cannot be read")


def test_the_month_pattern_spells_the_years_a_period_may_name() -> None:
    """MONTH_PATTERN and YearQuery take the same years (domain.bounds, defined once)."""
    pattern = re.compile(MONTH_PATTERN)
    for year in (FIRST_YEAR, FIRST_YEAR + 1, LAST_YEAR - 1, LAST_YEAR):
        assert pattern.match(f"{year:04d}-01") and pattern.match(f"{year:04d}-12"), year
    for year in (0, 1999, FIRST_YEAR - 1, LAST_YEAR + 1, 2262, 2806, 9999):
        assert not pattern.match(f"{year:04d}-06"), year
