"""The monthly report shows the foundry's castings footprint per tonne (the example plant's
lots come from its production meter), equal to GET /v1/products/castings/footprint."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium  # type: ignore[import-untyped]  # ships no type information
import pytest
from openpyxl import load_workbook

from carbonstream.cli import main
from tests.api.conftest import Api

# slow: renders a monthly PDF (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow


def test_monthly_report_shows_castings_footprint_per_tonne(example: Api, tmp_path: Path) -> None:
    api_fp: dict[str, Any] = example.client.get(
        "/v1/products/castings/footprint",
        params={"month": "2026-11"},
        headers=example.headers("viewer"),
    ).json()["footprint"]
    assert api_fp["lots"] == 9 and api_fp["declared_unit"] == "t"
    per_t = api_fp["parts"]["kgco2e_per_unit_market"]
    assert per_t > 0
    pdf, xlsx = tmp_path / "r.pdf", tmp_path / "r.xlsx"
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(
            [
                *("report", "--month", "2026-11", "--db-url", example.db_url),
                *("--pdf", str(pdf), "--xlsx", str(xlsx)),
            ]
        )
    assert code == 0
    doc = pdfium.PdfDocument(pdf.read_bytes())
    texts = [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    page = next(t for t in texts if "Product carbon footprints" in t)
    assert "Aluminium die castings" in page and f"{per_t:,.1f}" in page
    assert "Data-quality notes and evidence" in texts[-1]  # still the last page
    ws = load_workbook(xlsx)["Footprints"]
    rows = list(ws.iter_rows(values_only=True))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["product"] == "castings" and row["declared_unit"] == "t"
    assert row["kgco2e_per_unit_market"] == pytest.approx(per_t, rel=1e-12)
