"""Contracts, allocations, offsets and retirements: a serial is claimed once and a credit
retired once (the ledger rules and the database's exclusion constraints, concurrent
requests included); an allocation restates stored market-based Scope 2 and ingest uses
the new instrument from its next batch, so the result equals `carbonstream compute`
with the same instruments in the plant file."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from carbonstream.store.db import connect
from tests.api import data
from tests.api.conftest import Api, make_keys, serve
from tests.ingest import helpers as h
from tests.services import PG_ADMIN_URL, drop_db, unique, url_with_db

# slow: ingests and restates the example plant (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

GEC = {
    "id": "GEC-2026-0001",
    "type": "gec",
    "serials": "GEC2026110001-GEC2026110020",
    "generation": {"start": "2026-11-01", "end": "2026-11-30"},
    "source": "wind, Gansu (Jiuquan)",
}
GPT = {
    "id": "GPT-2026-11",
    "type": "green_power_trade",
    "serials": "GPT2026110001-GPT2026110015",
    "generation": {"start": "2026-11-01", "end": "2026-11-30"},
    "source": "solar, Jiangsu provincial green-power trade",
}
NOVEMBER = {"start": "2026-11-01", "end": "2026-11-30"}
CCER = {
    "id": "CCER-OW-1",
    "project": "Offshore wind, Jiangsu Rudong",
    "serials": "CCER2025000001-CCER2025000100",
    "vintage": 2025,
}


@pytest.fixture
def bare(bare_template: str, bare_plant: Path) -> Iterator[Api]:
    """The example readings ingested for a plant without instruments; the API on it."""
    name = data.clone(bare_template)
    try:
        yield from serve(url_with_db(PG_ADMIN_URL, name), bare_plant)
    finally:
        drop_db(name)


def post(api: Api, path: str, body: dict[str, Any], role: str = "operator") -> Any:
    return api.client.post(path, json=body, headers=api.headers(role))


def test_allocation_restates_stored_minutes_and_ingest_uses_it_next(
    db_url: str, bare_plant: Path
) -> None:
    """Ingest runs; 60 % of the readings are in (some of the last hours held back);
    certificates are allocated through the API; the held-back readings arrive late (ingest
    rebuilds minutes the new certificates cover: it must know them) and then the rest.
    The account equals compute with the plant file's instruments."""
    ex = h.example()
    gw = unique("gw")
    run = h.Running(h.settings(db_url, gw, plant=str(bare_plant)), db_url)
    try:
        msgs = h.payloads(ex, gw)
        cut = len(msgs) * 6 // 10
        late = [i for i in range(cut * 6 // 10, cut) if i % 3 == 0]
        first = [m for i, m in enumerate(msgs[:cut]) if i not in late]
        h.publish(first)
        h.wait_until(lambda: run.service.totals.messages >= len(first), 60, "the first part")
        for api in serve(db_url, bare_plant):
            assert post(api, "/v1/contracts", GEC).status_code == 201
            assert post(api, "/v1/contracts", GPT).status_code == 201
            body = {"site": "assembly", "period": NOVEMBER, "mwh": 20}
            a = post(api, "/v1/contracts/GEC-2026-0001/allocations", body)
            assert a.status_code == 201, a.text
            assert a.json()["restated"]["minutes"] > 0
            assert a.json()["serials"] == GEC["serials"]
            body = {"site": "foundry", "period": NOVEMBER, "serials": GPT["serials"]}
            b = post(api, "/v1/contracts/GPT-2026-11/allocations", body)
            assert b.status_code == 201, b.text
        h.publish([msgs[i] for i in late])
        h.publish(msgs[cut:])
        h.wait_until(lambda: run.service.totals.messages >= len(msgs), 60, "all messages")
        assert run.service.totals.late_recomputed > 0
    finally:
        run.stop()
    # The plant file's PPA (kWh, hourly profile) is not a certificate contract of the API.
    file_certificates = [i for i in ex.plant.instruments if i.type.value != "ppa"]
    ex = h.Example(ex.plant.model_copy(update={"instruments": file_certificates}), ex.batch)
    h.assert_totals_equal(h.db_totals(db_url), h.compute_totals(ex), rel=1e-9)
    with psycopg.connect(db_url) as c:
        used: dict[str, float] = dict(
            c.execute("SELECT instrument, used_mwh FROM instrument_usage").fetchall()
        )
        alloc: dict[str, float] = dict(
            c.execute("SELECT instrument, sum(mwh) FROM allocations GROUP BY 1").fetchall()
        )
    assert used == pytest.approx({"GEC-2026-0001:1": 20.0, "GPT-2026-11:1": 15.0})
    assert alloc == pytest.approx(used)


def test_contract_rules(bare: Api) -> None:
    assert post(bare, "/v1/contracts", GEC).status_code == 201
    r = post(bare, "/v1/contracts", GEC)
    assert r.status_code == 409
    overlap = {**GEC, "id": "GEC-other", "serials": "GEC2026110015-GEC2026110030"}
    r = post(bare, "/v1/contracts", overlap)
    assert r.status_code == 409 and "GEC-2026-0001" in r.json()["detail"]
    r = post(bare, "/v1/contracts", {**GEC, "id": "X1", "serials": "A1-A10", "mwh": 11})
    assert r.status_code == 422 and "10 serials" in r.json()["detail"]
    r = post(bare, "/v1/contracts", {**GEC, "id": "X2", "serials": "A1-B10"})
    assert r.status_code == 422 and r.json()["type"].endswith("invalid-serials")
    r = post(bare, "/v1/contracts", {**GEC, "id": "X3", "serials": "I1-I5", "market": "EU"})
    assert r.status_code == 422 and "Quality Criterion 5" in r.json()["detail"]
    r = post(bare, "/v1/contracts", {**GEC, "id": "X4", "serials": "V1-V5"}, role="viewer")
    assert r.status_code == 403
    listed = bare.client.get("/v1/contracts", headers=bare.headers("viewer")).json()
    assert [c["id"] for c in listed] == ["GEC-2026-0001"]
    assert listed[0]["valid_until"] == "2028-10-31" and listed[0]["unallocated_mwh"] == 20


def test_allocation_rules(bare: Api) -> None:
    assert post(bare, "/v1/contracts", GEC).status_code == 201
    url = "/v1/contracts/GEC-2026-0001/allocations"
    first = {"site": "assembly", "period": NOVEMBER, "serials": "GEC2026110001-GEC2026110005"}
    assert post(bare, url, first).status_code == 201
    again = post(bare, url, first)
    assert again.status_code == 409 and "claimed once" in again.json()["detail"]
    partial = {**first, "serials": "GEC2026110005-GEC2026110006"}
    assert post(bare, url, partial).status_code == 409
    outside = {**first, "serials": "GEC2026110019-GEC2026110021"}
    r = post(bare, url, outside)
    assert r.status_code == 422 and "not part of certificate" in r.json()["detail"]
    vintage = {"site": "assembly", "period": {"start": "2027-01-01", "end": "2027-01-31"}, "mwh": 1}
    r = post(bare, url, vintage)
    assert r.status_code == 422 and "vintage" in r.json()["detail"]
    expired = {"site": "assembly", "period": NOVEMBER, "mwh": 1, "allocated_on": "2029-01-01"}
    r = post(bare, url, expired)
    assert r.status_code == 422 and "expired" in r.json()["detail"]
    no_use = {"site": "assembly", "period": {"start": "2026-11-01", "end": "2026-11-10"}, "mwh": 1}
    r = post(bare, url, no_use)
    assert r.status_code == 422 and "consumption" in r.json()["detail"]
    # By count: the lowest free run after the first allocation.
    r = post(bare, url, {"site": "assembly", "period": NOVEMBER, "mwh": 10})
    assert r.status_code == 201 and r.json()["serials"] == "GEC2026110006-GEC2026110015"
    r = post(bare, url, {"site": "assembly", "period": NOVEMBER, "mwh": 6})
    assert r.status_code == 409 and "5 left" in r.json()["detail"]
    r = post(bare, url, {"site": "nowhere", "period": NOVEMBER, "mwh": 1})
    assert r.status_code == 404
    c = bare.client.get("/v1/contracts/GEC-2026-0001", headers=bare.headers("viewer")).json()
    assert c["allocated_mwh"] == 15 and [a["instrument"] for a in c["allocations"]] == [
        "GEC-2026-0001:1",
        "GEC-2026-0001:2",
    ]
    assert sum(a["used_mwh"] for a in c["allocations"]) == pytest.approx(15)
    # Claims are final: the contract cannot be removed now (admin), and operators never can.
    assert (
        bare.client.delete(
            "/v1/contracts/GEC-2026-0001", headers=bare.headers("operator")
        ).status_code
        == 403
    )
    assert (
        bare.client.delete("/v1/contracts/GEC-2026-0001", headers=bare.headers("admin")).status_code
        == 409
    )


def _race(api: Api, calls: list[tuple[str, dict[str, Any]]]) -> list[int]:
    """Send the requests at the same moment from separate threads; their status codes."""
    barrier = threading.Barrier(len(calls))
    codes: list[int] = [0] * len(calls)

    def go(i: int, path: str, body: dict[str, Any]) -> None:
        barrier.wait()
        codes[i] = post(api, path, body).status_code

    threads = [threading.Thread(target=go, args=(i, *c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return codes


def test_concurrent_double_allocation_and_retirement_one_wins(bare: Api) -> None:
    assert post(bare, "/v1/contracts", GEC).status_code == 201
    assert post(bare, "/v1/offsets", CCER).status_code == 201
    same = {"site": "assembly", "period": NOVEMBER, "serials": "GEC2026110001-GEC2026110010"}
    codes = _race(bare, [("/v1/contracts/GEC-2026-0001/allocations", same)] * 2)
    assert sorted(codes) == [201, 409]
    ret = {
        "serials": "CCER2025000001-CCER2025000050",
        "purpose": "2026 claim",
        "period": {"start": "2026-01-01", "end": "2026-12-31"},
    }
    codes = _race(bare, [("/v1/offsets/CCER-OW-1/retirements", ret)] * 3)
    assert sorted(codes) == [201, 409, 409]
    with connect(bare.db_url) as c:
        assert c.execute("SELECT count(*) FROM contract_allocations").fetchone() == (1,)
        assert c.execute("SELECT count(*) FROM offset_retirements").fetchone() == (1,)


def test_database_refuses_double_claims_without_the_api(bare: Api) -> None:
    """The exclusion constraints hold for any writer, even two transactions at once."""
    assert post(bare, "/v1/contracts", GEC).status_code == 201
    assert post(bare, "/v1/offsets", CCER).status_code == 201
    a = {"site": "assembly", "period": NOVEMBER, "serials": "GEC2026110001-GEC2026110002"}
    assert post(bare, "/v1/contracts/GEC-2026-0001/allocations", a).status_code == 201
    with connect(bare.db_url) as c1, connect(bare.db_url) as c2:
        ins = (
            "INSERT INTO offset_retirements (offset_id, serial_prefix, serial_start, serial_end,"
            " retired_on, purpose, period_start, period_end, created_by)"
            " VALUES ('CCER-OW-1', 'CCER', %s, %s, '2026-11-30', 'x', '2026-01-01',"
            " '2026-12-31', 'sql')"
        )
        c1.execute(ins, (2025000010, 2025000020))  # not committed yet
        done = threading.Event()
        error: list[BaseException] = []

        def second() -> None:
            try:
                c2.execute(ins, (2025000020, 2025000030))  # waits for c1, then fails
            except psycopg.Error as e:
                error.append(e)
            done.set()

        t = threading.Thread(target=second)
        t.start()
        assert not done.wait(0.5)  # blocked on c1's uncommitted range
        c1.commit()
        t.join(10)
        assert error and isinstance(error[0], psycopg.errors.ExclusionViolation)
        c2.rollback()
        with pytest.raises(psycopg.errors.ExclusionViolation):
            c2.execute(
                "INSERT INTO contracts (id, type, serial_prefix, serial_start, serial_end,"
                " generation_start, generation_end, market, created_by) VALUES"
                " ('dup', 'gec', 'GEC', 2026110020, 2026110021, '2026-11-01', '2026-11-30',"
                " 'CN', 'sql')"
            )
        c2.rollback()
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation):
            c2.execute("DELETE FROM contract_allocations")
        c2.rollback()
        with pytest.raises(psycopg.errors.CheckViolation):
            c2.execute(
                "INSERT INTO offset_retirements (offset_id, serial_prefix, serial_start,"
                " serial_end, retired_on, purpose, period_start, period_end, created_by)"
                " VALUES ('CCER-OW-1', 'CCER', 2025000099, 2025000101, '2026-11-30', 'x',"
                " '2026-01-01', '2026-12-31', 'sql')"
            )


def test_offsets_retire_once_and_reduce_net_only(bare: Api) -> None:
    r = post(bare, "/v1/offsets", CCER)
    assert r.status_code == 201 and r.json()["tco2e"] == 100
    assert post(bare, "/v1/offsets", {**CCER, "id": "other"}).status_code == 409
    url = "/v1/offsets/CCER-OW-1/retirements"
    period = {"start": "2026-11-22", "end": "2026-11-24"}
    r = post(bare, url, {"tco2e": 30, "purpose": "zero-carbon claim", "period": period})
    assert r.status_code == 201 and r.json()["serials"] == "CCER2025000001-CCER2025000030"
    r = post(
        bare,
        url,
        {"serials": "CCER2025000030-CCER2025000031", "purpose": "again", "period": period},
    )
    assert r.status_code == 409 and "cannot be used again" in r.json()["detail"]
    r = post(bare, url, {"tco2e": 71, "purpose": "too many", "period": period})
    assert r.status_code == 409 and "70 left" in r.json()["detail"]
    # Outside the inventory period: does not count in it.
    year = {"start": "2026-01-01", "end": "2026-12-31"}
    assert post(bare, url, {"tco2e": 5, "purpose": "year", "period": year}).status_code == 201
    inv = bare.client.get(
        "/v1/inventory",
        params={"start": "2026-11-22T00:00", "end": "2026-11-25T00:00"},
        headers=bare.headers("viewer"),
    ).json()
    t = inv["totals"]
    assert inv["net"]["offsets_t"] == 30
    assert inv["net"]["net_t"] == pytest.approx(t["scope1_t"] + t["scope2_market_t"] - 30)
    assert [o["tco2e"] for o in inv["offsets"]] == [30]
    o = bare.client.get("/v1/offsets/CCER-OW-1", headers=bare.headers("viewer")).json()
    assert o["retired_t"] == 35 and o["available_t"] == 65 and len(o["retirements"]) == 2


def test_writes_are_recorded_with_the_key(bare: Api) -> None:
    tokens = make_keys(bare.db_url)
    r = bare.client.post("/v1/contracts", json=GEC, headers={"X-API-Key": tokens["admin"]})
    assert r.status_code == 201 and "test ADMIN" in r.json()["created_by"]


def test_ledger_refusals_are_said_in_chinese_to_a_chinese_client(bare: Api) -> None:
    zh = {**bare.headers("operator"), "Accept-Language": "zh-CN"}
    r = bare.client.post("/v1/contracts", json={**GEC, "id": "X2", "serials": "A9-A1"}, headers=zh)
    assert r.status_code == 422 and r.json()["title"] == "证书序列号无效"
    assert r.json()["detail"] == "序列号范围 'A9-A1' 的结束号小于起始号"
    en = post(bare, "/v1/contracts", {**GEC, "id": "X2", "serials": "A9-A1"})
    assert en.json()["detail"] == "serial range 'A9-A1' ends before it starts"
    assert post(bare, "/v1/contracts", GEC).status_code == 201
    url = "/v1/contracts/GEC-2026-0001/allocations"
    outside = {"site": "assembly", "period": NOVEMBER, "serials": "GEC2026110019-GEC2026110021"}
    r = bare.client.post(url, json=outside, headers=zh)
    assert r.status_code == 422 and r.json()["title"] == "台账规则拒绝"
    assert r.json()["detail"] == (
        "序列号 GEC2026110019-GEC2026110021 不属于绿证 GEC-2026-0001（GEC2026110001-GEC2026110020）"
    )
    assert post(bare, "/v1/offsets", CCER).status_code == 201
    retire = "/v1/offsets/CCER-OW-1/retirements"
    period = {"start": "2026-11-22", "end": "2026-11-24"}
    body = {"serials": "CCER2025000001-CCER2025000002", "purpose": "claim", "period": period}
    assert post(bare, retire, body).status_code == 201
    r = bare.client.post(retire, json={**body, "purpose": "again"}, headers=zh)
    assert r.status_code == 409
    assert r.json()["detail"].startswith("减排量 CCER2025000001-CCER2025000002 与")
    assert "已注销的减排量不能再次使用" in r.json()["detail"]
