"""The monthly report (`carbonstream report`, GET /v1/reports/monthly) on the example plant
ingested through Mosquitto: the PDF renders (pages as images: none blank, the chart pages
in colour), the XLSX opens with openpyxl with its sheets and native charts, and the
figures equal the inventory API's and `carbonstream compute` on the same readings.

Rendering a month's PDF takes seconds of CPU: the command renders it once per module
(``made``, its pages read once in ``made_pages``) and every test that reads the English
PDF or the XLSX asserts on that; the API renders its own, which is what it is tested on."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pypdfium2 as pdfium  # type: ignore[import-untyped]  # ships no type information
import pytest

from carbonstream import monthly
from carbonstream import report as compute_report
from carbonstream.cli import main
from carbonstream.compute import run
from carbonstream.config.loader import load_plant
from carbonstream.core.chain import DayDigest
from carbonstream.core.engine import Engine
from carbonstream.core.library import FactorLibrary
from carbonstream.evidence.seal import seal
from carbonstream.monthly.xlsx import REPORT_SHEETS
from carbonstream.store.db import connect
from tests.api.conftest import PLANT, Api
from tests.ingest import helpers as h

# slow: renders monthly PDFs (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

MONTH = "2026-11"
TOTALS = (
    "scope1_t",
    "scope2_location_t",
    "scope2_market_t",
    "scope2_heat_t",
    "ghg_total_location_t",
    "ghg_total_market_t",
    "cn_total_t",
    "export_deduction_t",
    "grid_import_mwh",
    "covered_mwh",
    "production",
)
CHART_PAGES = (2, 3, 4, 5, 6)  # scope per day, Scope 2, top sources, intensity, coverage
CHART_SHEETS = ("Daily", "Scope 2", "Top sources", "Intensity", "Coverage")
INVENTORY_SHEETS = ("Sites", "Scope 1 by fuel", "Scope 2 by source", "Activity", "Factors")


Pages = list[tuple[np.ndarray[Any, Any], str]]  # each page as an RGB image and its text


def close(a: float, b: float, rel: float = 1e-9) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(b))


@dataclass
class Made:
    pdf: bytes
    xlsx: bytes
    stdout: str
    head: DayDigest  # the newest sealed day of the month


@pytest.fixture(scope="module")
def computed() -> dict[str, Any]:
    ex = h.example()
    acc = run(Engine(ex.plant, FactorLibrary.load(ex.plant.factor_files)), ex.batch)
    return compute_report.build(acc, "day")


@pytest.fixture(scope="module")
def made(example: Api, tmp_path_factory: pytest.TempPathFactory) -> Made:
    """Seal the readings' days, then run `carbonstream report` on the module's database."""
    with connect(example.db_url) as conn:
        sealed = seal(conn, load_plant(PLANT).zone, dt.date(2026, 11, 30))
    assert sealed
    out = tmp_path_factory.mktemp("report")
    pdf, xlsx = out / "r.pdf", out / "r.xlsx"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(
            [
                *("report", "--month", MONTH, "--db-url", example.db_url),
                *("--pdf", str(pdf), "--xlsx", str(xlsx)),
            ]
        )
    assert code == 0
    return Made(pdf.read_bytes(), xlsx.read_bytes(), buf.getvalue(), sealed[-1])


@pytest.fixture(scope="module")
def made_pages(made: Made) -> Pages:
    return pages(made.pdf)


def page_count(pdf: bytes) -> int:
    doc = pdfium.PdfDocument(pdf)
    try:
        return len(doc)
    finally:
        doc.close()


def pages(pdf: bytes) -> Pages:
    """Each page as an RGB image (50 dpi) and its text."""
    doc = pdfium.PdfDocument(pdf)
    try:
        out = []
        for i in range(len(doc)):
            page = doc[i]
            img = page.render(scale=50 / 72).to_numpy()[..., :3].astype(np.int16)
            out.append((img, page.get_textpage().get_text_bounded()))
        return out
    finally:
        doc.close()


def sheet_rows(ws: Any) -> list[dict[str, Any]]:
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_pdf_pages_render_with_charts_in_colour(made: Made, made_pages: Pages) -> None:
    assert made.pdf.startswith(b"%PDF")
    got = made_pages
    assert len(got) >= 8
    titles = [
        "Summary",
        "Emissions by scope, per day",
        "Scope 2, both ways, per site",
        "Top sources",
        "Emission intensity",
        "Data coverage per meter",
        "Factors used",
    ]
    for k, title in enumerate(titles):
        assert title in got[k][1], (k + 1, title)
    assert "Data-quality notes and evidence" in got[-1][1]
    for k, (img, _) in enumerate(got, start=1):
        ink = (img.min(axis=2) < 200).mean()
        assert ink > 0.02, f"page {k} is (nearly) blank: {ink:.4f} of its pixels are dark"
        colour = (img.max(axis=2) - img.min(axis=2) > 80).mean()
        if k in CHART_PAGES:
            assert colour > 0.01, f"chart page {k} has too little colour: {colour:.4f}"


def test_pdf_figures_equal_compute_and_name_the_chain_head(
    made: Made, made_pages: Pages, computed: dict[str, Any]
) -> None:
    got = made_pages
    summary = got[0][1]
    want = computed["totals"]["plant"]
    for col in (
        "scope1_t",
        "scope2_location_t",
        "scope2_market_t",
        "ghg_total_location_t",
        "ghg_total_market_t",
        "cn_total_t",
    ):
        assert f"{want[col]:,.3f}" in summary, col
    for site, t in computed["totals"]["sites"].items():
        line = next(x for x in summary.splitlines() if x.startswith(site))
        assert f"{t['scope2_market_t']:,.3f}" in line, site
    # The chain head on the summary and the last page is the newest sealed day's digest.
    assert made.head.digest in summary.replace("\r\n", "")
    assert made.head.digest in got[-1][1].replace("\r\n", "")
    assert made.head.digest in made.stdout
    # The factors pages name every factor version the lineage used.
    factors = "".join(t for _, t in got if "Factors used" in t).replace("\r\n", "")
    for lin in computed["lineage"]:
        for f in lin["factors"]:
            assert f"{f['factor_id']}@v{f['version']}".replace("\n", "") in factors
    notes = got[-1][1].replace("\r\n", " ")
    assert "No data for 27 days" in notes and "warehouse-power" in notes
    assert "Fallback factor" in notes and "Unverified factor" in notes


def test_xlsx_has_the_sheets_and_native_charts(made: Made) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(made.xlsx))
    assert wb.sheetnames[: len(REPORT_SHEETS)] == list(REPORT_SHEETS)
    assert set(INVENTORY_SHEETS) <= set(wb.sheetnames)
    for name in CHART_SHEETS:
        ws: Any = wb[name]
        assert ws._charts, f"no chart on sheet {name}"  # openpyxl reads charts back
    with zipfile.ZipFile(io.BytesIO(made.xlsx)) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) >= 7


def test_xlsx_totals_equal_the_inventory_api(made: Made, example: Api) -> None:
    r = example.client.get(
        "/v1/inventory", params={"month": MONTH}, headers=example.headers("viewer")
    )
    assert r.status_code == 200, r.text
    inv = r.json()
    wb = openpyxl.load_workbook(io.BytesIO(made.xlsx))
    summary = {row["item"]: row["value"] for row in sheet_rows(wb["Summary"])}
    for col in TOTALS:
        assert close(summary[col], inv["totals"][col]), col
    assert close(summary["net_t (market-based)"], inv["net"]["net_t"])
    assert close(summary["offsets_retired_t"], inv["net"]["offsets_t"])
    assert close(summary["coverage_pct"], inv["coverage_pct"])
    sites = {row["site"]: row for row in sheet_rows(wb["Scope 2"])}
    for s in inv["by_site"]:
        assert close(sites[s["site"]]["scope2_location_t"], s["scope2_location_t"])
        assert close(sites[s["site"]]["scope2_market_t"], s["scope2_market_t"])
    factors = {(f["factor_id"], f["version"]) for f in inv["factors"]}
    assert {(f["factor_id"], f["version"]) for f in sheet_rows(wb["Factors"])} == factors


def test_xlsx_days_intensity_and_coverage_equal_compute(
    made: Made, computed: dict[str, Any]
) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(made.xlsx))
    want: dict[dt.date, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for b in computed["buckets"]:
        day = dt.datetime.fromisoformat(b["start"]).date()
        for col in ("scope1_t", "scope2_location_t", "scope2_market_t", "grid_import_mwh"):
            want[day][col] += b[col]
            want[day][f"{b['site']} {col}"] = b[col]
    daily = sheet_rows(wb["Daily"])
    assert len(daily) == 30
    for row in daily:
        day = row["date"].date()
        assert (row["data"] == "yes") == (day in want), day
        for col, v in want.get(day, {}).items():
            assert close(row[col], v), (day, col)
        if day not in want:
            assert row["scope1_t"] == 0 and row["scope2_market_t"] == 0
    # Intensity: (Scope 1 + Scope 2) / production of the site, both bases.
    t = computed["totals"]["sites"]["foundry"]
    (foundry,) = sheet_rows(wb["Intensity"])[:1]
    assert foundry["site"] == "foundry" and foundry["unit"] == "t"
    assert close(foundry["production"], t["production"])
    assert close(foundry["t_per_unit_market"], t["ghg_total_market_t"] / t["production"])
    assert close(foundry["t_per_unit_location"], t["ghg_total_location_t"] / t["production"])
    # Coverage over the days with data is compute's coverage over the readings' 72 hours.
    cov = {r["meter"]: r for r in sheet_rows(wb["Coverage"])}
    for m in computed["meters"]:
        assert close(cov[m["meter"]]["coverage_days_with_data_pct"], m["coverage_pct"], 1e-6)


def test_api_serves_the_report(example: Api, made: Made) -> None:
    c, viewer = example.client, example.headers("viewer")
    r = c.get("/v1/reports/monthly", params={"month": MONTH}, headers=viewer)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert 'filename="report-2026-11.pdf"' in r.headers["content-disposition"]
    assert page_count(r.content) == page_count(made.pdf)
    r = c.get(
        "/v1/reports/monthly",
        params={"month": MONTH, "format": "xlsx", "site": "foundry"},
        headers=viewer,
    )
    assert r.status_code == 200, r.text
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    summary = {row["item"]: row["value"] for row in sheet_rows(wb["Summary"])}
    inv = c.get("/v1/inventory", params={"month": MONTH, "site": "foundry"}, headers=viewer).json()
    assert summary["sites"] == "foundry"
    assert close(summary["ghg_total_market_t"], inv["totals"]["ghg_total_market_t"])
    bad = [
        ({"month": "2026-13"}, 422),
        ({"month": "0000-01"}, 422),
        ({}, 422),
        ({"month": MONTH, "site": "nowhere"}, 404),
        ({"month": MONTH, "format": "docx"}, 422),
    ]
    for params, status in bad:
        r = c.get("/v1/reports/monthly", params=params, headers=viewer)
        assert r.status_code == status, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("month", "en", "zh"),
    [
        (
            "2100-12",
            "month 2100-12 has not begun (it starts 2100-12-01T00:00:00+08:00)",
            "2100-12 月尚未开始（开始于 2100-12-01T00:00:00+08:00）",
        ),
        (
            "0000-01",
            "month '0000-01': the year must be between 2000 and 2100",
            "月份 '0000-01'：年份须在 2000 至 2100 之间",
        ),
        (  # past the energy account's int64 nanoseconds (2262): refused, not a 500
            "2806-05",
            "month '2806-05': the year must be between 2000 and 2100",
            "月份 '2806-05'：年份须在 2000 至 2100 之间",
        ),
        (
            "2026-13",
            "month '2026-13': give it as YYYY-MM, e.g. 2026-11",
            "月份 '2026-13'：请写成 YYYY-MM，例如 2026-11",
        ),
    ],
)
def test_a_refused_report_month_is_told_in_the_readers_language(
    example: Api, month: str, en: str, zh: str
) -> None:
    c, viewer = example.client, example.headers("viewer")
    for lang, title, detail in (("en", "Invalid request", en), ("zh-CN", "请求无效", zh)):
        r = c.get(
            "/v1/reports/monthly",
            params={"month": month},
            headers={**viewer, "Accept-Language": lang},
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-language"] == lang
        p = r.json()
        assert p["type"] == "https://carbonstream.dev/problems/invalid-request"
        assert (p["title"], p["detail"]) == (title, detail)


def test_cli_refuses_a_bad_month_and_an_unknown_site(example: Api, tmp_path: Path) -> None:
    base = ["report", "--db-url", example.db_url, "--pdf", str(tmp_path / "x.pdf")]
    assert main([*base, "--month", "2026-13"]) == 1
    assert main([*base, "--month", MONTH, "--site", "nowhere"]) == 1
    assert not (tmp_path / "x.pdf").exists()


def test_chinese_sources_always_print_in_the_font_the_package_installs(
    example: Api, made: Made, made_pages: Pages
) -> None:
    rep = asyncio.run(monthly.from_database(example.db_url, MONTH))
    chinese = [f.source for f in rep.inventory.factors if re.search("[\u4e00-\u9fff]", f.source)]
    assert chinese  # the grid factor's MEE notice
    data = made.pdf  # the report in English (the default locale)
    text = "".join(t for _, t in made_pages)
    assert "电力二氧化碳排放因子" in text.replace("\r\n", "")
    assert "omitted" not in text
    # Noto Sans SC from the pylopdf-fonts-zh-cn wheel, embedded as a subset (no system font).
    assert b"NotoSansSC" in data and b"/FontFile" in data


def test_the_pdf_in_english_keeps_its_words(
    made_pages: Pages,
) -> None:
    text = "".join(t for _, t in made_pages)
    assert "Summary" in text and "Scope 2, both ways, per site" in text
    assert "Example Precision Components (Suzhou) Co.: carbon inventory, November 2026" in text
    assert "范围一" not in text


def test_monthly_report_shows_castings_footprint_per_tonne(
    example: Api, made: Made, made_pages: Pages
) -> None:
    """The foundry's castings footprint per tonne (the example plant's lots come from its
    production meter), equal to GET /v1/products/castings/footprint."""
    api_fp: dict[str, Any] = example.client.get(
        "/v1/products/castings/footprint",
        params={"month": MONTH},
        headers=example.headers("viewer"),
    ).json()["footprint"]
    assert api_fp["lots"] == 9 and api_fp["declared_unit"] == "t"
    per_t = api_fp["parts"]["kgco2e_per_unit_market"]
    assert per_t > 0
    texts = [t for _, t in made_pages]
    page = next(t for t in texts if "Product carbon footprints" in t)
    assert "Aluminium die castings" in page and f"{per_t:,.1f}" in page
    assert "Data-quality notes and evidence" in texts[-1]  # still the last page
    ws = openpyxl.load_workbook(io.BytesIO(made.xlsx))["Footprints"]
    rows = list(ws.iter_rows(values_only=True))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["product"] == "castings" and row["declared_unit"] == "t"
    assert row["kgco2e_per_unit_market"] == pytest.approx(per_t, rel=1e-12)


def test_a_declared_fuel_reads_by_its_chinese_name() -> None:
    from carbonstream.i18n.locale import Locale
    from carbonstream.monthly.pdf import _Text

    zh = _Text(Locale.ZH_CN, {"fuel-tyre_chips": "轮胎衍生燃料"})
    assert zh.fuel("tyre_chips") == "轮胎衍生燃料"
    assert zh.fuel("coke_oven_gas") == "焦炉煤气"  # built-in: the catalogue's word
    assert zh.fuel("no_name_given") == "no_name_given"
    assert _Text(Locale.EN, {"fuel-tyre_chips": "轮胎衍生燃料"}).fuel("tyre_chips") == "tyre_chips"
