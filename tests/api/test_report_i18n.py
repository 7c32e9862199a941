"""The monthly PDF in Chinese: headings, tables, legends and axes from the catalogue,
the plant's Chinese names, the standards' terms, and a Chinese font that the package's
own dependencies install (Noto Sans SC, embedded). Its pages are rendered to images;
with CARBONSTREAM_UPDATE_IMAGES=1 they are written to docs/img. The English PDF's words
are checked on the one test_report.py renders (rendering a PDF costs seconds of CPU)."""

from __future__ import annotations

import asyncio
import io
import os
import re
from pathlib import Path

import openpyxl
import pypdfium2 as pdfium  # type: ignore[import-untyped]  # ships no type information
import pytest

from carbonstream import monthly
from carbonstream.i18n import Locale
from tests.api.conftest import Api

# slow: renders monthly PDFs in both languages (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

MONTH = "2026-11"
IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
KEPT = {
    1: "report-zh-page1.png",
    2: "report-zh-page2.png",
    4: "report-zh-page4.png",
    -1: "report-zh-quality.png",
}
# What stays Latin in a Chinese report: units, ids of meters and sites in the data, the
# method's and the GWP set's codes, standards' names, commands and their options, the
# brand, ISO times (T04:...), the code's git commit and the chain's hash.
LATIN_OK = re.compile(
    r"^(t|tCO2e?(/\w+)?|tCH4|tN2O|MWh|GJ|GWP|AR[456]|CO2|CH4|N2O|CCER|SHA-256|GB/T|carbonstream|"
    r"cn_gbt32150|ipcc2006|Asia/Shanghai|pcs|kWh|Nm3|DIR|\w+\.json|seal|export-evidence|"
    r"verify|from|to|out|[\d-]*T\d\d|[0-9a-f]{7,}|[0-9.]+\+[0-9a-f]{7,})$"
)


@pytest.fixture(scope="module")
def report(example: Api) -> monthly.MonthlyReport:
    return asyncio.run(monthly.from_database(example.db_url, MONTH))


def _pages(pdf: bytes) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    try:
        return [doc[i].get_textpage().get_text_bounded() for i in range(len(doc))]
    finally:
        doc.close()


def test_the_pdf_in_chinese_uses_the_standards_terms_and_the_plants_names(
    report: monthly.MonthlyReport, tmp_path: Path
) -> None:
    pdf = monthly.render_pdf(report, Locale.ZH_CN)
    pages = _pages(pdf)
    text = "".join(pages).replace("\r\n", "")
    for term in ("范围一", "范围二", "基于位置", "基于市场", "概要", "主要排放源", "排放强度"):
        assert term in text, term
    assert "示例精密零部件（苏州）有限公司：碳排放清单，2026 年 11 月" in text
    assert "二号厂房（压铸）" in text and "二号厂房熔炉天然气" in text
    assert "Summary" not in text and "Top sources" not in text and "omitted" not in text
    # The chart pages' own words are Chinese: what is Latin there is a unit or a code.
    ids = set(report.names_zh) | set(report.inventory.sites)
    # The certificates table shows the plant's own records as entered (ids, serials, the
    # source text): data, not the report's words.
    for c in report.inventory.certificates:
        record = f"{c.instrument} {c.type} {c.serials}{c.claim_start}..{c.claim_end} {c.source}"
        ids |= set(re.findall(r"[\w./-]*[A-Za-z][\w./-]*", record))
    for k in range(6):
        latin = {
            w
            for w in re.findall(r"[\w./-]*[A-Za-z][\w./-]*", pages[k])
            if not LATIN_OK.match(w) and w not in ids
        }
        assert not latin, (k + 1, sorted(latin))
    assert b"NotoSansSC" in pdf and b"/FontFile" in pdf  # the font is embedded
    last = pages[-1].replace("\r\n", "")
    assert "数据质量说明与证据" in last and "本月 30 天中有 3 天存储了数据" in last
    assert "Data stored for" not in last

    doc = pdfium.PdfDocument(pdf)
    try:
        for page, name in KEPT.items():
            path = tmp_path / name
            doc[page - 1 if page > 0 else len(doc) + page].render(scale=110 / 72).to_pil().save(
                path
            )
            assert path.stat().st_size > 50_000
            if os.environ.get("CARBONSTREAM_UPDATE_IMAGES") == "1":
                path.replace(IMG / name)
    finally:
        doc.close()


def test_the_docs_keep_the_chinese_report_pages() -> None:
    for name in KEPT.values():
        data = (IMG / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000, name


def test_the_xlsx_in_chinese_names_its_sheets_and_charts_in_chinese_with_the_same_figures(
    report: monthly.MonthlyReport,
) -> None:
    en = openpyxl.load_workbook(io.BytesIO(monthly.render_xlsx(report, Locale.EN)))
    zh = openpyxl.load_workbook(io.BytesIO(monthly.render_xlsx(report, Locale.ZH_CN)))
    assert en.sheetnames[:3] == ["Summary", "Daily", "Scope 2"]
    assert zh.sheetnames[:3] == ["概要", "每日", "范围二"]
    assert "按燃料划分的范围一" in zh.sheetnames and "排放因子" in zh.sheetnames
    assert len(en.sheetnames) == len(zh.sheetnames)
    # Column names are identifiers (as in the API): the same cells, the same figures.
    for a, b in zip(en.worksheets, zh.worksheets, strict=True):
        numbers_a = [c for row in a.iter_rows(values_only=True) for c in row if _number(c)]
        numbers_b = [c for row in b.iter_rows(values_only=True) for c in row if _number(c)]
        assert numbers_a == numbers_b, a.title
    titles = {
        "".join(r.t for p in chart.title.tx.rich.p for r in (p.r or []))
        for ws in zh.worksheets
        for chart in ws._charts  # type: ignore[attr-defined]  # openpyxl keeps them private
    }
    assert "按范围划分的每日排放（tCO2e）" in titles and "范围二双重报告（tCO2e）" in titles


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)
