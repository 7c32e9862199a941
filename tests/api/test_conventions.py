"""The API's conventions (docs/api.md, "API conventions"), checked on every operation of the
OpenAPI document and on real answers over the ingested example (real PostgreSQL):

- every time in a JSON answer is plant-local ISO 8601 with its offset (+08:00 for the
  example plant in Asia/Shanghai), the live stream's included;
- every number names its unit: a word of its name is a unit (``scope1_t``,
  ``grid_import_mwh``, ``covered_s``, ``kgco2e_per_unit_market``), or a ``unit`` /
  ``<x>_unit`` field of its object or an enclosing one says it (``value`` + ``unit``,
  ``quantity`` + ``quantity_unit``), or it is one of the documented counts, ids and
  dimensionless numbers (:data:`carbonstream.fieldunits.UNITLESS`);
- an unknown query parameter is a 422 problem naming it and the allowed ones;
- series have a point for every bucket: one without data is zeros with coverage 0.

The walkers are plain functions over the schema and the bodies, so planting a violation
(a unit-less number, a UTC time, a route that ignores a parameter) makes them fail; the
tests at the end show that they do.
"""

from __future__ import annotations

import contextvars
import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from carbonstream.api.schemas.values import LOCAL_TIME_PATTERN
from carbonstream.fieldunits import names_its_unit
from tests.api.conftest import Api

ZONE_OFFSET = "+08:00"  # the example plant's zone, Asia/Shanghai (no DST)
LOCAL_TIME = re.compile(LOCAL_TIME_PATTERN)
LOOKS_LIKE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")

# The ingested example covers 2026-11-22 .. 2026-11-24 (plant time).
RANGE = {"start": "2026-11-22T00:00:00", "end": "2026-11-25T00:00:00"}
MONTH = "2026-11"


# --- walkers --------------------------------------------------------------------------------


def unit_ok(name: str, around: frozenset[str] | set[str] = frozenset()) -> bool:
    return names_its_unit(name, around)


def schema_numbers(spec: dict[str, Any], schema: dict[str, Any]) -> Iterator[tuple[str, bool]]:
    """(field path, carries a unit) of every number in a response schema."""
    comps = spec.get("components", {}).get("schemas", {})

    def walk(
        s: dict[str, Any], path: str, seen: tuple[str, ...], around: frozenset[str]
    ) -> Iterator[tuple[str, bool]]:
        if "$ref" in s:
            name = s["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                yield from walk(comps[name], path, (*seen, name), around)
            return
        for k in ("anyOf", "oneOf", "allOf"):
            for x in s.get(k, []):
                yield from walk(x, path, seen, around)
        props = s.get("properties", {})
        inner = around | set(props)
        for name, p in props.items():
            if _is_number(p, comps):
                yield f"{path}.{name}", unit_ok(name, inner)
            yield from walk(p, f"{path}.{name}", seen, inner)
        if isinstance(s.get("items"), dict):
            yield from walk(s["items"], f"{path}[]", seen, around)
        if isinstance(s.get("additionalProperties"), dict):
            yield from walk(s["additionalProperties"], f"{path}.*", seen, around)

    yield from walk(schema, "", (), frozenset())


def _is_number(p: dict[str, Any], comps: dict[str, Any]) -> bool:
    if p.get("type") in ("number", "integer"):
        return True
    if p.get("type") == "array":
        return _is_number(p.get("items", {}), comps)
    return any(_is_number(x, comps) for x in p.get("anyOf", []))


def schema_times(spec: dict[str, Any], schema: dict[str, Any]) -> Iterator[tuple[str, bool]]:
    """(field path, says plant-local with offset) of every date-time in a response schema."""
    comps = spec.get("components", {}).get("schemas", {})

    def walk(s: dict[str, Any], path: str, seen: tuple[str, ...]) -> Iterator[tuple[str, bool]]:
        if "$ref" in s:
            name = s["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                yield from walk(comps[name], path, (*seen, name))
            return
        if s.get("format") == "date-time":
            yield path, s.get("pattern") == LOCAL_TIME_PATTERN
        for k in ("anyOf", "oneOf", "allOf"):
            for x in s.get(k, []):
                yield from walk(x, path, seen)
        for name, p in s.get("properties", {}).items():
            yield from walk(p, f"{path}.{name}", seen)
        if isinstance(s.get("items"), dict):
            yield from walk(s["items"], f"{path}[]", seen)
        if isinstance(s.get("additionalProperties"), dict):
            yield from walk(s["additionalProperties"], f"{path}.*", seen)

    yield from walk(schema, "", ())


def body_violations(
    body: Any, path: str = "", around: frozenset[str] = frozenset()
) -> Iterator[str]:
    """Every time not plant-local with the example's offset, and every number whose name
    carries no unit, in a JSON answer."""
    if isinstance(body, dict):
        keys = around | set(body)
        for k, v in body.items():
            p = f"{path}.{k}"
            numbers = v if isinstance(v, list) else [v]
            if (
                numbers
                and all(isinstance(x, int | float) or x is None for x in numbers)
                and any(isinstance(x, int | float) and not isinstance(x, bool) for x in numbers)
                and not unit_ok(k, keys)
            ):
                yield f"{p}: a number without a unit in its name"
            yield from body_violations(v, p, keys)
    elif isinstance(body, list):
        for i, v in enumerate(body):
            yield from body_violations(v, f"{path}[{i}]", around)
    elif (
        isinstance(body, str)
        and LOOKS_LIKE_TIME.match(body)
        and (not LOCAL_TIME.match(body) or not body.endswith(ZONE_OFFSET))
    ):
        yield f"{path}: {body!r} is not plant-local ISO 8601 with offset {ZONE_OFFSET}"


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path, op


def json_schema_of(op: dict[str, Any]) -> dict[str, Any] | None:
    for code, r in op.get("responses", {}).items():
        if code.startswith("2"):
            content = r.get("content", {})
            if "application/json" in content:
                return dict(content["application/json"].get("schema", {}))
    return None


def query_names(op: dict[str, Any]) -> list[str]:
    return sorted(p["name"] for p in op.get("parameters", []) if p["in"] == "query")


# --- the schema -----------------------------------------------------------------------------


def test_every_number_in_every_response_schema_names_its_unit(example: Api) -> None:
    spec = example.client.app.openapi()  # type: ignore[attr-defined]
    bad = [
        f"{m} {p} {field}"
        for m, p, op in operations(spec)
        if (schema := json_schema_of(op)) is not None
        for field, ok in schema_numbers(spec, schema)
        if not ok
    ]
    assert not bad, "numbers without a unit in their name:\n" + "\n".join(sorted(set(bad)))


def test_every_time_in_every_response_schema_is_plant_local(example: Api) -> None:
    spec = example.client.app.openapi()  # type: ignore[attr-defined]
    found = [
        (f"{m} {p} {field}", ok)
        for m, p, op in operations(spec)
        if (schema := json_schema_of(op)) is not None
        for field, ok in schema_times(spec, schema)
    ]
    assert len(found) > 20  # the walker sees the times (it would pass on none)
    bad = [f for f, ok in found if not ok]
    assert not bad, "times not declared plant-local with offset:\n" + "\n".join(sorted(set(bad)))


# --- unknown query parameters ---------------------------------------------------------------


def test_unknown_query_parameter_is_422_on_every_operation(example: Api) -> None:
    spec = example.client.app.openapi()  # type: ignore[attr-defined]
    ops = list(operations(spec))
    assert len(ops) > 50
    wrong = []
    for method, path, op in ops:
        url = re.sub(r"\{[^}]+\}", "x", path)
        r = example.client.request(
            method, url, params={"limit_zz": "10"}, headers=example.headers("admin")
        )
        body = r.json() if r.headers.get("content-type", "").startswith("application/") else {}
        if (
            r.status_code != 422
            or r.headers["content-type"] != "application/problem+json"
            or body.get("unknown") != ["limit_zz"]
            or body.get("allowed") != query_names(op)
            or "limit_zz" not in body.get("detail", "")
        ):
            wrong.append(f"{method} {path}: {r.status_code} {r.text[:200]}")
    assert not wrong, "\n".join(wrong)


def test_known_parameters_still_pass(example: Api) -> None:
    r = example.client.get(
        "/v1/alerts/history", params={"limit": "5"}, headers=example.headers("viewer")
    )
    assert r.status_code == 200, r.text
    r = example.client.get("/v1/emissions", params=RANGE, headers=example.headers("viewer"))
    assert r.status_code == 200, r.text


def test_unknown_parameter_problem_is_in_the_readers_language(example: Api) -> None:
    r = example.client.get(
        "/v1/sites",
        params={"offset": "5"},
        headers={**example.headers("viewer"), "Accept-Language": "zh-CN"},
    )
    assert r.status_code == 422
    body = r.json()
    assert body["title"] == "未知参数"
    assert "offset" in body["detail"] and "不接受" in body["detail"]


# --- real answers ---------------------------------------------------------------------------


CONTRACT = {
    "id": "GEC-CONVENTIONS",
    "type": "gec",
    "serials": "GECCONV000001-GECCONV000005",
    "generation": {"start": "2026-11-01", "end": "2026-11-30"},
    "source": "wind, Gansu (Jiuquan)",
}
OFFSET = {
    "id": "CCER-CONVENTIONS",
    "project": "Offshore wind, Jiangsu Rudong",
    "serials": "CCERCONV000001-CCERCONV000010",
    "vintage": 2025,
}


def _ids(example: Api) -> dict[str, str]:
    h = example.headers("admin")

    def first(url: str, key: str = "id") -> str | None:
        r = example.client.get(url, headers=h)
        assert r.status_code == 200, r.text
        items = r.json()
        items = items if isinstance(items, list) else next(iter(items.values()), [])
        return str(items[0][key]) if items and isinstance(items[0], dict) else None

    # A contract and an offset of its own (the example's instruments are in its plant file).
    r = example.client.post("/v1/contracts", json=CONTRACT, headers=h)
    assert r.status_code in (201, 409), r.text
    r = example.client.post("/v1/offsets", json=OFFSET, headers=h)
    assert r.status_code in (201, 409), r.text
    plant = example.client.app.state.plant  # type: ignore[attr-defined]
    found = {
        "site_id": plant.sites[0].id,
        "meter_id": plant.meters[0].id,
        "line": plant.footprint.lines[0].id,
        "product_id": plant.footprint.products[0].id,
        "slug": plant.footprint.disclosure.slug,
        "contract_id": first("/v1/contracts"),
        "offset_id": first("/v1/offsets"),
        "factor_id": first("/v1/factors", "factor_id"),
        "restatement_id": first("/v1/restatements"),
    }
    found["lot_id"] = "castings-20261123-0800"  # the production meter's lot of that shift
    return {k: v for k, v in found.items() if v is not None}


def _params(op: dict[str, Any]) -> dict[str, str]:
    names = {p["name"]: p.get("required", False) for p in op.get("parameters", [])}
    params: dict[str, str] = {}
    if "start" in names and "end" in names:
        params |= RANGE
    elif "month" in names:
        params["month"] = MONTH
    if names.get("month") and "month" not in params:
        params["month"] = MONTH
    if names.get("year"):
        params["year"] = "2026"
    if names.get("site"):
        params["site"] = "assembly"
    return params


def real_answers(example: Api) -> Iterator[tuple[str, Any]]:
    spec = example.client.app.openapi()  # type: ignore[attr-defined]
    ids = _ids(example)
    for method, path, op in operations(spec):
        if method != "GET" or json_schema_of(op) is None or "/stream" in path:
            continue
        names = re.findall(r"\{([^}]+)\}", path)
        if any(n not in ids for n in names):
            yield f"{method} {path}", None  # nothing to fill it with: reported below
            continue
        url = path.format(**{n: ids[n] for n in names})
        r = example.client.get(url, params=_params(op), headers=example.headers("admin"))
        if r.status_code == 404 and f"{method} {path}" in NO_EXAMPLE:
            yield f"{method} {path}", None
            continue
        assert r.status_code == 200, f"{method} {url}: {r.status_code} {r.text[:300]}"
        if not r.headers["content-type"].startswith("application/json"):
            continue  # a signature or key file, JSON only when asked for
        yield f"{method} {path}", r.json()


# Operations the example has nothing to call with: no restatement is made in it, and its
# one product is no battery. Their schemas are checked above all the same.
NO_EXAMPLE = {
    "GET /v1/restatements/{restatement_id}",
    "GET /v1/products/{product_id}/battery",
}


@pytest.fixture
def disclosure_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The public disclosure is signed: a key for it (the variable its plant config names)."""
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "disclosure.key").write_bytes(key)
    monkeypatch.setenv("CARBONSTREAM_DISCLOSURE_KEY_FILE", str(tmp_path / "disclosure.key"))


@pytest.mark.usefixtures("disclosure_key")
def test_every_json_answer_has_plant_local_times_and_units(example: Api) -> None:
    bad: list[str] = []
    called, missing = [], set()
    times = 0
    for op, body in real_answers(example):
        if body is None:
            missing.add(op)
            continue
        called.append(op)
        times += len(re.findall(r'"\d{4}-\d{2}-\d{2}T', json.dumps(body)))
        bad += [f"{op} {v}" for v in body_violations(body)]
    assert missing <= NO_EXAMPLE, f"operations not called: {sorted(missing - NO_EXAMPLE)}"
    assert len(called) > 35 and times > 100, (len(called), times)
    assert not bad, "\n".join(bad[:60])


def test_live_stream_events_follow_the_conventions(example: Api) -> None:
    with example.client.stream("GET", "/v1/live/stream", headers=example.headers("viewer")) as r:
        assert r.status_code == 200
        data = ""
        for line in r.iter_lines():
            if line.startswith("data: "):
                data = line.removeprefix("data: ")
                break
    snap = json.loads(data)
    assert snap["generated_at"].endswith(ZONE_OFFSET)
    assert not list(body_violations(snap))


# --- series ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bucket", ["hour", "day"])
def test_empty_buckets_are_zero_with_coverage_0(example: Api, bucket: str) -> None:
    """Two days before the data began and the data's first half day: every bucket of every
    site is a point; the ones before the data are zeros with coverage 0, and the sums are
    those of the range with data alone."""
    h = example.headers("viewer")
    before = {"start": "2026-11-20T00:00:00", "end": "2026-11-22T12:00:00", "bucket": bucket}
    only = {"start": "2026-11-22T00:00:00", "end": "2026-11-22T12:00:00", "bucket": bucket}
    a = example.client.get("/v1/emissions", params=before, headers=h).json()
    b = example.client.get("/v1/emissions", params=only, headers=h).json()
    sites = len(a["sites"])
    per_site = {"hour": 60, "day": 3}[bucket]
    assert len(a["points"]) == per_site * sites
    starts = sorted({p["start"] for p in a["points"]})
    assert len(starts) == per_site
    empty = [p for p in a["points"] if p["start"] < "2026-11-22"]
    assert len(empty) == (48 if bucket == "hour" else 2) * sites
    for p in empty:
        assert p["coverage_pct"] == 0
        assert p["scope1_t"] == p["scope2_location_t"] == p["scope2_market_t"] == 0
        assert p["grid_import_mwh"] == 0
    with_data = [p for p in a["points"] if p["start"] >= "2026-11-22"]
    assert with_data == b["points"]
    assert any(p["coverage_pct"] > 0 for p in with_data)
    # The energy account's rows per bucket and site follow the same grid.
    ea = example.client.get("/v1/energy", params=before, headers=h).json()
    eb = example.client.get("/v1/energy", params=only, headers=h).json()
    assert sorted((r["start"], r["site"]) for r in ea["buckets"]) == sorted(
        (p["start"], p["site"]) for p in a["points"]
    )
    for r in (r for r in ea["buckets"] if r["start"] < "2026-11-22"):
        assert r["coverage_pct"] == 0 and r["total_tce"] == r["total_equal_tce"] == 0
    assert [r for r in ea["buckets"] if r["start"] >= "2026-11-22"] == eb["buckets"]


def test_meter_series_has_every_bucket(example: Api) -> None:
    meter = example.client.app.state.plant.meters[0].id  # type: ignore[attr-defined]
    r = example.client.get(
        f"/v1/meters/{meter}/emissions",
        params={"start": "2026-11-21T00:00:00", "end": "2026-11-23T00:00:00", "bucket": "hour"},
        headers=example.headers("viewer"),
    )
    points = r.json()["points"]
    assert len(points) == 48
    day1 = points[:24]
    assert all(p["coverage_pct"] == 0 and p["co2e_t"] == 0 for p in day1)
    assert [dt.datetime.fromisoformat(p["start"]).hour for p in day1] == list(range(24))


# --- the walkers can fail -------------------------------------------------------------------


def test_the_body_walker_finds_planted_violations() -> None:
    good = {
        "start": "2026-11-22T00:00:00+08:00",
        "scope1_t": 1.0,
        "items": [{"value": 2.0, "unit": "kWh"}, {"covered_s": 3}],
        "id": 4,
    }
    assert not list(body_violations(good))
    planted = {
        **good,
        "generated_at": "2026-11-22T00:00:00Z",
        "rates": [{"scope1": 0.275}],
        "naive": "2026-11-22T00:00:00",
    }
    found = list(body_violations(planted))
    assert [v.split(":")[0] for v in found] == [".generated_at", ".rates[0].scope1", ".naive"]


def test_the_schema_walkers_find_planted_violations() -> None:
    spec: dict[str, Any] = {
        "components": {
            "schemas": {
                "Rate": {
                    "properties": {
                        "scope1": {"anyOf": [{"type": "number"}, {"type": "null"}]},
                        "covered_s": {"type": "integer"},
                        "at": {"type": "string", "format": "date-time"},
                        "start": {
                            "type": "string",
                            "format": "date-time",
                            "pattern": LOCAL_TIME_PATTERN,
                        },
                    }
                }
            }
        }
    }
    schema = {"type": "array", "items": {"$ref": "#/components/schemas/Rate"}}
    assert dict(schema_numbers(spec, schema)) == {"[].scope1": False, "[].covered_s": True}
    assert dict(schema_times(spec, schema)) == {"[].at": False, "[].start": True}


# --- XLSX -----------------------------------------------------------------------------------


def test_xlsx_times_are_date_cells_in_plant_time(example: Api) -> None:
    """Excel has no zones: a time is a date cell holding the plant's wall-clock time, with a
    number format, and the zone is named beside it (the unit column here; the header of a
    column of times, ``start (Asia/Shanghai)``)."""
    h = example.headers("viewer")
    inv = example.client.get("/v1/inventory", params=RANGE, headers=h).json()
    r = example.client.get("/v1/inventory", params={**RANGE, "format": "xlsx"}, headers=h)
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    summary = {row[0].value: row for row in wb["Summary"].iter_rows(min_row=2)}
    start = summary["period_start"]
    want = dt.datetime.fromisoformat(inv["period"]["start"])
    assert want.utcoffset() == dt.timedelta(hours=8)
    assert start[1].value == want.replace(tzinfo=None)  # a datetime cell, not text
    assert start[1].is_date and "yyyy" in start[1].number_format
    assert start[2].value == "Asia/Shanghai"
    texts = [
        c.value
        for ws in wb.worksheets
        for row in ws.iter_rows(min_row=2)
        for c in row
        if isinstance(c.value, str)
    ]
    assert not [t for t in texts if LOOKS_LIKE_TIME.match(t)], "a time written as text"


def test_monthly_xlsx_has_date_cells(example: Api) -> None:
    r = example.client.get(
        "/v1/reports/monthly",
        params={"month": MONTH, "format": "xlsx"},
        headers=example.headers("viewer"),
    )
    assert r.status_code == 200, r.text[:300]
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    summary = {row[0].value: row for row in wb.worksheets[0].iter_rows(min_row=2)}
    for item in ("period_start", "generated_at"):
        cell = summary[item][1]
        assert isinstance(cell.value, dt.datetime) and cell.is_date, (item, cell.value)
        assert str(summary[item][2].value).startswith("Asia/Shanghai")
    daily = wb.worksheets[1]  # one row per plant-local day: its first cell a date cell
    firsts = [row[0].value for row in daily.iter_rows(min_row=2, max_row=daily.max_row)]
    assert firsts and all(isinstance(v, dt.datetime) for v in firsts), firsts[:3]
    texts = [
        c.value
        for ws in wb.worksheets
        for row in ws.iter_rows(min_row=2)
        for c in row
        if isinstance(c.value, str)
    ]
    assert not [t for t in texts if LOOKS_LIKE_TIME.match(t)], "a time written as text"


def test_xlsx_column_of_times_names_the_zone() -> None:
    """The renderer on its own: a column of times gets the zone in its header and date
    cells of plant wall-clock time (the zone set as a request would set it)."""
    from zoneinfo import ZoneInfo

    from carbonstream.api.render import xlsx_response
    from carbonstream.localtime import set_zone

    def render() -> Any:
        set_zone(ZoneInfo("Asia/Shanghai"))  # in a copied context: it ends with the call
        t = dt.datetime(2026, 11, 22, 16, 30, tzinfo=dt.UTC)
        return xlsx_response([("S", ["start", "co2e_t"], [{"start": t, "co2e_t": 1.5}])], "x")

    r = contextvars.copy_context().run(render)
    ws = openpyxl.load_workbook(io.BytesIO(bytes(r.body))).active
    assert ws is not None
    assert [c.value for c in ws[1]] == ["start (Asia/Shanghai)", "co2e_t"]
    assert ws["A2"].value == dt.datetime(2026, 11, 23, 0, 30) and ws["A2"].is_date


def test_meter_series_csv_is_tidy_with_the_meters_unit(example: Api) -> None:
    params = {"start": "2026-11-22T00:00:00", "end": "2026-11-24T00:00:00", "bucket": "day"}
    h = example.headers("viewer")
    body = example.client.get("/v1/meters/foundry-gas/emissions", params=params, headers=h).json()
    r = example.client.get(
        "/v1/meters/foundry-gas/emissions", params={**params, "format": "csv"}, headers=h
    )
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == ["start", "field", "value", "unit"]
    units = {x["field"]: x["unit"] for x in rows}
    assert units == {
        "quantity": body["quantity_unit"],
        "co2e_t": "tCO2e",
        "coverage_pct": "%",
        "flags": "",
    } or units == {"quantity": body["quantity_unit"], "co2e_t": "tCO2e", "coverage_pct": "%"}
    assert [x["start"] for x in rows if x["field"] == "quantity"] == [
        p["start"] for p in body["points"]
    ]
