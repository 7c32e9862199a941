"""Product footprints over the ingested example plant (real PostgreSQL, readings through
Mosquitto): castings lots from the foundry's production meter (one per shift), a lot CSV on
a variant plant, bills of materials, upstream factors and the Scope 3 block."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from carbonstream import report
from carbonstream.compute import run
from carbonstream.core.engine import Engine
from carbonstream.core.library import FactorLibrary
from carbonstream.store.db import connect
from tests.api import data
from tests.api.conftest import ROOT, Api, serve
from tests.ingest import helpers as h
from tests.services import PG_ADMIN_URL, drop_db, url_with_db

DAYS = {"start": "2026-11-22", "end": "2026-11-25"}
BOM = (ROOT / "config" / "bom.castings.example.csv").read_bytes()
LOTS = (ROOT / "config" / "lots.example.csv").read_bytes()
ZONE_OFFSET = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(scope="module")
def computed() -> dict[str, Any]:
    ex = h.example()
    acc = run(Engine(ex.plant, FactorLibrary.load(ex.plant.factor_files)), ex.batch)
    return report.build(acc, "day")


def get(api: Api, path: str, **params: Any) -> Any:
    r = api.client.get(path, params=params, headers=api.headers("viewer"))
    assert r.status_code == 200, r.text
    return r.json()


def post_csv(api: Api, path: str, body: bytes, role: str = "operator", **params: Any) -> Any:
    return api.client.post(
        path,
        content=body,
        params=params,
        headers={**api.headers(role), "Content-Type": "text/csv"},
    )


def sql_sum(api: Api, meter: str, start: dt.datetime, end: dt.datetime) -> float:
    with connect(api.db_url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(e.co2e_t), 0) FROM emission_lines e JOIN meters m"
            " ON m.key = e.meter WHERE m.id = %s AND e.bucket >= %s AND e.bucket < %s",
            (meter, start, end),
        ).fetchone()
    assert row is not None
    return float(row[0])


def test_line_allocation_balances_with_the_stored_line(
    example: Api, computed: dict[str, Any]
) -> None:
    meters = {m["meter"]: m for m in computed["meters"]}
    body = get(example, "/v1/lines/casting-1/allocation", **DAYS)
    bal, lots = body["balance"], body["lots"]
    # One lot per closed shift (00:00, 08:00, 16:00 local) with output: 3 days x 3 shifts.
    assert len(lots) == 9 and lots[0]["lot"] == "castings-20261122-0000"
    assert {x["allocation"]["method"] for x in lots} == {"mass"}
    # The line's figures are its meters' stored figures.
    assert bal["total"]["scope1_t"] == pytest.approx(meters["foundry-gas"]["co2e_t"], rel=1e-9)
    assert bal["total"]["grid_location_t"] == pytest.approx(
        meters["foundry-grid"]["co2e_t"], rel=1e-9
    )
    site = computed["totals"]["sites"]["foundry"]
    assert bal["total"]["grid_market_t"] + bal["total"]["heat_t"] == pytest.approx(
        site["scope2_market_t"], rel=1e-9
    )
    # Nothing lost, nothing counted twice: lots + idle minutes = the line, every column.
    for col, total in bal["total"].items():
        lots_sum = sum(
            {
                "scope1_t": x["energy"]["scope1_t"],
                "grid_location_t": x["energy"]["scope2_location_t"] - x["energy"]["heat_t"],
                "grid_market_t": x["energy"]["scope2_market_t"] - x["energy"]["heat_t"],
                "heat_t": x["energy"]["heat_t"],
                "grid_mwh": x["energy"]["grid_mwh"],
            }.get(col, x["energy"]["fuels"].get(col.removeprefix("fuel."), 0.0))
            for x in lots
        )
        assert lots_sum == pytest.approx(bal["allocated"][col], rel=1e-9, abs=1e-12), col
        assert bal["allocated"][col] + bal["unallocated"][col] == pytest.approx(
            total, rel=1e-9, abs=1e-12
        ), col
    # Every tonne the production meter counted is in a lot.
    made = sum(x["quantity"] for x in lots)
    assert made == pytest.approx(meters["foundry-output"]["quantity"], rel=1e-9)


def test_a_meter_lot_is_traceable_to_meters_lineage_and_its_shift(example: Api) -> None:
    lot = get(example, "/v1/lots/castings-20261123-0800/footprint")
    start = dt.datetime(2026, 11, 23, 8, tzinfo=ZONE_OFFSET)
    end = dt.datetime(2026, 11, 23, 16, tzinfo=ZONE_OFFSET)
    assert dt.datetime.fromisoformat(lot["start"]) == start
    assert dt.datetime.fromisoformat(lot["end"]) == end
    # The only product on the line: the lot carries the line's shift exactly.
    assert lot["energy"]["scope1_t"] == pytest.approx(
        sql_sum(example, "foundry-gas", start, end), rel=1e-9
    )
    assert lot["energy"]["scope2_location_t"] == pytest.approx(
        sql_sum(example, "foundry-grid", start, end)
        + sql_sum(example, "foundry-steam", start, end),
        rel=1e-9,
    )
    assert sorted(lot["energy"]["meters"]) == ["foundry-gas", "foundry-grid", "foundry-steam"]
    assert lot["energy"]["lineage_ids"]
    assert lot["allocation"]["key"] == pytest.approx(lot["quantity"])
    assert lot["allocation"]["key_unit"] == "t" and lot["allocation"]["mean_share"] == 1.0
    assert (
        example.client.get(
            "/v1/lots/castings-20261123-0900/footprint", headers=example.headers("viewer")
        ).status_code
        == 404
    )


@pytest.fixture
def writable(example_db: str) -> Iterator[Api]:
    yield from serve(example_db)


def test_bill_of_materials_and_footprint_per_tonne(writable: Api) -> None:
    api = writable
    r = post_csv(api, "/v1/products/castings/bom/import", BOM, valid_from="2026-11-01")
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1
    body = get(api, "/v1/products/castings/footprint", **DAYS)
    fp, lots = body["footprint"], body["lots"]
    q = fp["quantity"]
    assert q > 0 and fp["lots"] == 9 and fp["declared_unit"] == "t"
    # Materials per t: 0.95 t ADC12 x 2.9 + 0.12 t primary Al x 16.0 + 0.002 t agent x 2.5
    # = 2.755 + 1.92 + 0.005 = 4.68 tCO2e per t of castings.
    assert fp["parts"]["materials_t"] == pytest.approx(4.68 * q, rel=1e-9)
    # Transport per t: 0.95 x 60 km x 0.107 kg + 0.12 x 1800 x 0.028 + 0.002 x 40 x 0.107
    # = 6.099 + 6.048 + 0.00856 = 12.15556 kgCO2e.
    assert fp["parts"]["transport_t"] == pytest.approx(12.15556e-3 * q, rel=1e-9)
    total = fp["parts"]["total_market_t"]
    assert fp["parts"]["kgco2e_per_unit_market"] == pytest.approx(total * 1000 / q, rel=1e-9)
    assert total == pytest.approx(sum(x["totals"]["total_market_t"] for x in lots), rel=1e-9)
    assert fp["supplier_specific_share"] == pytest.approx(2.755 / 4.68, rel=1e-9)
    assert any("category 3B" in e for e in fp["exclusions"])
    # A new BOM version applies from its own date, the old one stays.
    r2 = post_csv(api, "/v1/products/castings/bom/import", BOM, valid_from="2026-12-01")
    assert r2.json()["version"] == 2
    assert [b["version"] for b in get(api, "/v1/products/castings/bom")] == [1, 2]


def test_scope3_block_is_separate_and_hand_checked(writable: Api, computed: dict[str, Any]) -> None:
    api = writable
    meters = {m["meter"]: m for m in computed["meters"]}
    block = get(api, "/v1/scope3", **DAYS)
    assert block["in_net"] is False and "never in the zero-carbon net" in block["note"]
    cats = {c["category"]: c for c in block["categories"]}
    # No BOM yet: category 1 and 4 are zero and say why.
    assert cats[1]["tco2e"] == 0 and cats[1]["exclusions"] == [
        "product castings: no bill of materials"
    ]
    # Category 3: gas Nm3 x 0.34 kg + diesel t x 740 kg + every grid meter's location t x 4.5 %.
    want = (
        meters["foundry-gas"]["quantity"] * 0.34e-3
        + meters["assembly-diesel"]["quantity"] * 0.740
        + 0.045
        * sum(meters[m]["co2e_t"] for m in ("assembly-grid", "foundry-grid", "warehouse-power"))
    )
    assert cats[3]["tco2e"] == pytest.approx(want, rel=1e-9)
    # The inventory carries the same block beside Scope 1 and 2; its net is untouched.
    inv = get(api, "/v1/inventory", **DAYS)
    assert inv["scope3"]["total_t"] == pytest.approx(block["total_t"], rel=1e-12)
    assert inv["scope3"]["in_net"] is False and inv["scope3"]["net_with_scope3_t"] is None
    assert inv["net"]["net_t"] == pytest.approx(
        inv["totals"]["scope1_t"] + inv["totals"]["scope2_market_t"] - inv["net"]["offsets_t"],
        rel=1e-9,
    )


def test_inputs_are_refused_with_reasons(writable: Api) -> None:
    api = writable
    # Viewers never write.
    r = post_csv(api, "/v1/products/castings/bom/import", BOM, "viewer", valid_from="2026-11-01")
    assert r.status_code == 403
    # Lots of a product made by its meter are refused, naming the meter.
    r = post_csv(api, "/v1/lots/import", LOTS)
    assert r.status_code == 422 and "foundry-output" in r.json()["detail"]
    # A BOM naming an unknown factor, and a malformed line: every problem listed.
    bad = b"material,quantity,unit,factor\nx,1,t,no.such\ny,-1,t,example.release_agent\n"
    r = post_csv(api, "/v1/products/castings/bom/import", bad, valid_from="2026-11-01")
    assert r.status_code == 422, r.text
    assert "quantity" in r.json()["detail"]
    bad2 = b"material,quantity,unit,factor\nx,1,t,no.such\n"
    r = post_csv(api, "/v1/products/castings/bom/import", bad2, valid_from="2026-11-01")
    assert r.status_code == 422 and "unknown upstream factor 'no.such'" in r.json()["detail"]
    # Too large: refused before it is parsed.
    r = post_csv(api, "/v1/lots/import", b"x" * 1_000_001)
    assert r.status_code == 413 and r.json()["max_bytes"] == 1_000_000
    # An upstream factor version is never edited (admin only).
    row = get(api, "/v1/upstream-factors")[0]
    r = api.client.post("/v1/upstream-factors", json=[row], headers=api.headers("operator"))
    assert r.status_code == 403
    r = api.client.post("/v1/upstream-factors", json=[row], headers=api.headers("admin"))
    assert r.status_code == 409
    r = api.client.post(
        "/v1/upstream-factors",
        json=[{**row, "version": row["version"] + 1, "data_type": "average", "database": ""}],
        headers=api.headers("admin"),
    )
    assert r.status_code == 422 and "named 'database'" in r.text
    r = api.client.post(
        "/v1/upstream-factors",
        json=[{**row, "version": row["version"] + 1, "value": row["value"] * 1.1}],
        headers=api.headers("admin"),
    )
    assert r.status_code == 201, r.text


@pytest.fixture(scope="module")
def by_hand(tmp_path_factory: pytest.TempPathFactory, example_template: str) -> Iterator[Api]:
    """The example plant with castings lots recorded by hand (no lot meter)."""
    fp = yaml.safe_load(data.PLANT.read_text(encoding="utf-8"))["footprint"]
    fp["products"][0].pop("lot_meter")
    fp["factor_files"] = [str(ROOT / "config" / f) for f in fp["factor_files"]]
    plant = data.plant_variant(tmp_path_factory.mktemp("fp") / "plant.yaml", footprint=fp)
    name = data.clone(example_template)
    try:
        yield from serve(url_with_db(PG_ADMIN_URL, name), plant)
    finally:
        drop_db(name)


def test_lot_csv_and_a_lot_across_midnight_and_a_shift_change(by_hand: Api) -> None:
    api = by_hand
    r = post_csv(api, "/v1/lots/import", LOTS)
    assert r.status_code == 201, r.text
    assert r.json()["created"] == 3
    again = post_csv(api, "/v1/lots/import", LOTS)
    assert again.status_code == 409 and again.json()["lots"] == [
        "L-2026-1122-A",
        "L-2026-1122-B",
        "L-2026-1123-A",
    ]
    # L-2026-1122-B runs 18:30 -> 07:15 next day: across midnight and the 00:00 and 08:00
    # shift edges. Alone on the line in those minutes, it carries exactly the line's
    # emissions between its start and end, read here straight from the stored lines.
    lot = get(api, "/v1/lots/L-2026-1122-B/footprint")
    start = dt.datetime(2026, 11, 22, 18, 30, tzinfo=ZONE_OFFSET)
    end = dt.datetime(2026, 11, 23, 7, 15, tzinfo=ZONE_OFFSET)
    assert lot["allocation"]["minutes"] == 765  # 12 h 45 min
    assert lot["energy"]["scope1_t"] == pytest.approx(
        sql_sum(api, "foundry-gas", start, end), rel=1e-9
    )
    assert lot["quantity"] == 38.2 and lot["declared_unit"] == "t"
    listed = get(api, "/v1/lots", **DAYS)
    assert [x["id"] for x in listed] == ["L-2026-1122-A", "L-2026-1122-B", "L-2026-1123-A"]
    # A lot that does not fit the plant is refused with the field and the fix.
    bad = (
        b"lot,product,line,start,end,quantity,unit\n"
        b"X,castings,casting-2,2026-11-22T00:00,2026-11-22T01:00,1,t\n"
    )
    r = post_csv(api, "/v1/lots/import", bad)
    assert (
        r.status_code == 422 and "is made on ['casting-1'], not 'casting-2'" in r.json()["detail"]
    )
    r = api.client.post(
        "/v1/lots",
        json=[{"id": "Y", "product": "castings", "line": "casting-1", "start": "2026-11-24T10:00",
               "end": "2026-11-24T09:00", "quantity": 1, "unit": "t"}],
        headers=api.headers("operator"),
    )  # fmt: skip
    assert r.status_code == 422 and "must be after start" in r.json()["detail"]


def test_example_plant_file_paths(tmp_path: Path) -> None:
    # The variant writer makes the footprint factor files absolute too.
    p = data.plant_variant(tmp_path / "p.yaml")
    text = p.read_text(encoding="utf-8")
    assert str(ROOT / "config" / "upstream.example.csv") in text


async def test_a_running_shift_is_a_provisional_lot_so_far(example: Api) -> None:
    import psycopg

    from carbonstream.config.loader import load_plant
    from carbonstream.footprint.meter_lots import meter_lots

    plant = load_plant(ROOT / "config" / "plant.example.yaml")
    (castings,) = plant.footprint.products
    now = dt.datetime(2026, 11, 23, 10, 30, 20, tzinfo=ZONE_OFFSET)
    day = dt.datetime(2026, 11, 23, tzinfo=ZONE_OFFSET)
    async with await psycopg.AsyncConnection.connect(example.db_url) as conn:
        closed = await meter_lots(conn, plant, castings, day, day + dt.timedelta(days=1), now)
        both = await meter_lots(
            conn, plant, castings, day, day + dt.timedelta(days=1), now, include_open=True
        )
    assert [x.id for x in closed] == ["castings-20261123-0000"]
    assert [x.id for x in both] == ["castings-20261123-0000", "castings-20261123-0800-open"]
    running = both[1]
    assert running.end == dt.datetime(2026, 11, 23, 10, 30, 20, tzinfo=ZONE_OFFSET)
    assert "open shift" in running.source


def test_declaration_and_cbam_of_the_example_castings(example: Api) -> None:
    fp = get(example, "/v1/products/castings/footprint", **DAYS)["footprint"]
    d = get(example, "/v1/products/castings/declaration", **DAYS)
    assert d["declared_unit"] == "1 t" and d["product"]["cn_code"] == "7616 99"
    assert d["result"]["kgco2e_per_declared_unit"]["market_based_electricity"] == pytest.approx(
        fp["parts"]["kgco2e_per_unit_market"], rel=1e-12
    )
    assert d["allocation"]["lines"] == [
        {
            "line": "casting-1",
            "method": "mass",
            "justification": "physical relationship: output mass or units of each lot",
        }
    ]
    assert sorted(d["data_quality"]["meters"]) == ["foundry-gas", "foundry-grid", "foundry-steam"]
    r = example.client.get(
        "/v1/products/castings/declaration",
        params={**DAYS, "format": "pdf"},
        headers=example.headers("viewer"),
    )
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    # CBAM: aluminium castings, direct = gas + purchased steam of the lots, per tonne made.
    c = get(example, "/v1/products/castings/cbam", **DAYS)
    lots = get(example, "/v1/lines/casting-1/allocation", **DAYS)["lots"]
    direct = sum(x["energy"]["scope1_t"] + x["energy"]["heat_t"] for x in lots)
    made = sum(x["quantity"] for x in lots)
    assert c["activity_level_t"] == pytest.approx(made, rel=1e-9)
    assert c["see_direct_t_per_t"] == pytest.approx(direct / made, rel=1e-9)
    assert c["indirect_counted"] is False
    assert c["see_total_t_per_t"] == pytest.approx(c["see_direct_t_per_t"], rel=1e-12)
    # Castings are not a battery: said, not an empty template.
    r = example.client.get(
        "/v1/products/castings/battery", params=DAYS, headers=example.headers("viewer")
    )
    assert r.status_code == 404 and "not declared a battery" in r.json()["detail"]


def test_a_footprint_too_large_for_one_request_is_a_422(
    example: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from carbonstream.core import allocation

    monkeypatch.setattr(allocation, "MAX_CELLS", 100)  # a shift is 480 lot-minutes
    r = example.client.get(
        "/v1/lots/castings-20261123-0800/footprint", headers=example.headers("viewer")
    )
    assert r.status_code == 422, r.text
    assert "exceed the bound of 100" in r.json()["detail"]


ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def test_refused_lots_are_said_in_chinese_to_a_chinese_client(by_hand: Api) -> None:
    api = by_hand
    bad = (
        b"lot,product,line,start,end,quantity,unit\n"
        b"X,castings,casting-2,2026-11-22T00:00,2026-11-22T01:00,1,t\n"
        b"Y,castings,casting-1,2026-11-22T02:00,2026-11-22T01:00,1,t\n"
        b"Z,castings,casting-1,2026-11-22T00:00,2026-11-22T01:00,1,furlong\n"
    )
    headers = {**api.headers("operator"), "Content-Type": "text/csv"}
    zh = api.client.post("/v1/lots/import", content=bad, headers={**headers, **ZH})
    en = api.client.post("/v1/lots/import", content=bad, headers=headers)
    assert zh.status_code == en.status_code == 422
    z, e = zh.json(), en.json()
    assert z["type"] == e["type"] == "https://carbonstream.dev/problems/input-refused"
    assert z["title"] == "输入被拒绝" and e["title"] == "Input refused"
    assert zh.headers["content-language"] == "zh-CN"
    assert z["problems"] == [
        "批次 'X'：line：产品 'castings' 在产线 ['casting-1'] 上生产，不在 'casting-2'",
        "批次 'Y'：结束时间 2026-11-22T01:00:00+08:00 必须晚于开始时间 2026-11-22T02:00:00+08:00",
        "批次 'Z'：unit：'furlong' 无法换算为产品 'castings' 的声明单位 't'",
    ]
    assert z["detail"] == "以下输入有误：" + "；".join(z["problems"])
    # The English is the wording it always had.
    assert e["problems"] == [
        "lot 'X': line: product 'castings' is made on ['casting-1'], not 'casting-2'",
        "lot 'Y': end 2026-11-22T01:00:00+08:00 must be after start 2026-11-22T02:00:00+08:00",
        "lot 'Z': unit: 'furlong' cannot be converted to 'castings''s declared unit 't'",
    ]
    assert e["detail"] == "; ".join(e["problems"])
    # A file that is not a lot file at all, and a JSON body: the same language.
    r = api.client.post("/v1/lots/import", content=b"lot,product\n", headers={**headers, **ZH})
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "批次文件的列必须为 lot,product,line,start,end,quantity,unit"
        "；缺少 ['line', 'start', 'end', 'quantity', 'unit']"
    )
    r = api.client.post(
        "/v1/lots",
        json=[{"id": "W", "product": "bolts", "line": "casting-1", "start": "2026-11-24T08:00",
               "end": "2026-11-24T09:00", "quantity": 1, "unit": "t"}],
        headers={**api.headers("operator"), **ZH},
    )  # fmt: skip
    assert r.status_code == 422
    assert r.json()["detail"] == "批次 'W'：product：未知产品 'bolts'；已配置的产品：['castings']"


def test_a_refused_bill_of_materials_is_said_in_chinese(writable: Api) -> None:
    api = writable
    headers = {**api.headers("operator"), "Content-Type": "text/csv"}
    bad = b"material,quantity,unit,factor\nx,1,t,no.such\n"
    path = "/v1/products/castings/bom/import?valid_from=2026-11-01"
    zh = api.client.post(path, content=bad, headers={**headers, **ZH})
    en = api.client.post(path, content=bad, headers=headers)
    assert zh.status_code == en.status_code == 422
    assert zh.json()["detail"] == "第 1 行（x）：未知的上游排放因子 'no.such'"
    assert en.json()["detail"] == "line 1 (x): unknown upstream factor 'no.such'"
    r = api.client.post(path, content=b"\xff\xfe\x00", headers={**headers, **ZH})
    assert r.status_code == 422 and r.json()["detail"] == "物料清单(BOM)不是 UTF-8 文本"
    r = api.client.post(path, content=b"material,quantity,unit,factor\n", headers={**headers, **ZH})
    assert r.status_code == 422 and r.json()["detail"] == "物料清单(BOM)没有任何行"


def test_a_footprint_too_large_for_one_request_is_said_in_chinese(
    example: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from carbonstream.core import allocation

    monkeypatch.setattr(allocation, "MAX_CELLS", 100)  # a shift is 480 lot-minutes
    r = example.client.get(
        "/v1/lots/castings-20261123-0800/footprint", headers={**example.headers("viewer"), **ZH}
    )
    assert r.status_code == 422, r.text
    assert r.json()["title"] == "无法计算碳足迹"
    assert r.json()["detail"] == "批次分钟数 480 超过上限 100：请缩短分配期间"
