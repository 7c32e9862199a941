"""The monthly report for a month in progress, with an injected clock: it stops at now and
says so (zh-CN and en), the hours after now are not data gaps, a chart with nothing to draw
says so, and labels keep their significant digits. On the example plant ingested into
PostgreSQL, whose readings begin 2026-11-22 00:00 plant time, every 5 minutes."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from zoneinfo import ZoneInfo

import openpyxl
import psycopg
import pypdfium2 as pdfium  # type: ignore[import-untyped]  # ships no type information
import pytest

from carbonstream import monthly
from carbonstream.config.loader import load_plant
from carbonstream.core.library import FactorLibrary
from carbonstream.core.meters import build_params
from carbonstream.figures import figure
from carbonstream.i18n import Locale, Msg
from carbonstream.monthly.gather import MonthlyReport, ReportError
from tests.api.conftest import PLANT, Api

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Eight minutes into the readings: two readings a meter (00:00, 00:05), 300 s counted.
NOW = dt.datetime(2026, 11, 22, 0, 8, tzinfo=SHANGHAI)


def _gather(db_url: str, month: str, now: dt.datetime) -> MonthlyReport:
    plant = load_plant(PLANT)
    params = build_params(plant, FactorLibrary.load(plant.factor_files))

    async def go() -> MonthlyReport:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            return await monthly.gather(conn, plant, params, month, now=now)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def report(example: Api) -> MonthlyReport:
    return _gather(example.db_url, "2026-11", NOW)


def _texts(pdf: bytes) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    try:
        return [doc[i].get_textpage().get_text_bounded() for i in range(len(doc))]
    finally:
        doc.close()


def test_the_report_stops_at_now(report: MonthlyReport, example: Api) -> None:
    assert report.until == NOW
    assert report.days[0] == dt.date(2026, 11, 1) and report.days[-1] == dt.date(2026, 11, 22)
    assert report.day_seconds[-1] == 480  # the 22nd so far: 8 minutes, not 24 hours
    assert report.has_data == [False] * 21 + [True]
    # The inventory of the report is the API's for the same period: 1 Nov to now.
    api = example.client.get(
        "/v1/inventory",
        params={"start": "2026-11-01T00:00", "end": "2026-11-22T00:08"},
        headers=example.headers("viewer"),
    ).json()
    assert report.inventory.totals.scope1_t == pytest.approx(api["totals"]["scope1_t"])
    assert report.inventory.totals.scope2_market_t == pytest.approx(
        api["totals"]["scope2_market_t"]
    )
    # One call makes both (domain.inventory.assemble): the net, and the Scope 3 block of a
    # plant-wide period, are the API's too.
    assert report.inventory.net.net_t == pytest.approx(api["net"]["net_t"])
    assert report.inventory.net.offsets_t == pytest.approx(api["net"]["offsets_t"])
    assert report.inventory.scope3 is not None and "scope3" in api


def test_hours_after_now_are_not_gaps(report: MonthlyReport) -> None:
    # Every minute from 00:00 to 00:08 is counted (the 00:05-00:10 interval is spread over
    # its minutes): 480 s of the 480 s so far. Over the whole day the same 480 s left
    # 24 h - 8 min = 23.87 h "without counted data", the note a month in progress printed.
    assert report.coverage_on_data_days["foundry-output"] == pytest.approx(100.0)
    gaps = {
        m.params["meter"]: m.params["hours"]
        for m in report.quality_msgs
        if isinstance(m, Msg) and m.key == "report.q-gap"
    }
    assert "foundry-output" not in gaps
    assert all(float(str(h)) <= 480 / 3600 for h in gaps.values()), gaps


def test_the_pdf_says_month_in_progress_and_where_a_chart_is_empty(
    report: MonthlyReport,
) -> None:
    en = _texts(monthly.render_pdf(report, Locale.EN))
    zh = _texts(monthly.render_pdf(report, Locale.ZH_CN))
    for page in en:
        assert "month in progress, to 2026-11-22 00:08" in page
    for page in zh:
        assert "本月进行中，截至 2026-11-22 00:08" in page
    assert not any("23.9" in page for page in en)
    # The summary's ring labels each part with its significant digits: the 8 minutes'
    # Scope 1 is 0.0166 t, which one fixed decimal printed as "0.0 t".
    t = report.inventory.totals
    assert 0 < t.scope1_t < 0.05
    for page in (en[0], zh[0]):
        assert f"{figure(t.scope1_t, 1)} t" in page
        assert f"{figure(t.scope2_heat_t, 1)} t" in page
        assert "\n0.0 t" not in page
    # No production in the 8 minutes: the intensity charts say so instead of empty axes.
    assert en[4].count("Nothing to draw: no production stored in this period") == 2
    assert zh[4].count("无可绘制内容：本期没有存储的产量数据") == 2


def test_the_xlsx_says_where_the_period_ends(report: MonthlyReport) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(monthly.render_xlsx(report, Locale.EN)))
    rows = {r[0]: r for r in wb["Summary"].iter_rows(values_only=True)}
    assert rows["period_end"][1] == NOW.replace(tzinfo=None)  # a date cell, plant time
    assert rows["period_end"][2] == "month in progress, to 2026-11-22 00:08"


def test_a_month_not_begun_has_no_report(example: Api) -> None:
    with pytest.raises(ReportError, match="has not begun"):
        _gather(example.db_url, "2026-12", NOW)
    done = _gather(example.db_url, "2026-10", NOW)
    assert done.until is None and done.days[-1] == dt.date(2026, 10, 31)
