"""Figures written for people keep their significant digits: hand-worked cases of the one
rule the PDF, the XLSX and the live page use (the page's copy is checked in Chromium by
tests/api/test_live_page.py)."""

from __future__ import annotations

import pytest

from carbonstream.figures import decimals, excel_format, figure


@pytest.mark.parametrize(
    ("value", "min_decimals", "shown"),
    [
        (0.016, 1, "0.0160"),  # the pie's heat: "0.0 t" with one fixed decimal
        (0.016, 3, "0.0160"),
        (0.0004, 3, "0.000400"),  # a table's three decimals would print 0.000
        (45.25, 1, "45.3"),  # an exact tie: away from zero, as the page's JavaScript
        (2.675, 2, "2.67"),  # 2.67499999... in binary: no tie
        (45.25, 3, "45.250"),
        (1190.62, 0, "1,191"),
        (1234.5678, 3, "1,234.568"),
        (176.2, 0, "176"),
        (0.0, 3, "0.000"),
        (-0.016, 0, "-0.0160"),
        (float("nan"), 3, "-"),
    ],
)
def test_figures_keep_three_significant_digits(value: float, min_decimals: int, shown: str) -> None:
    assert figure(value, min_decimals) == shown


def test_excel_formats_follow_the_same_rule() -> None:
    assert decimals(0.016) == 4 and decimals(0.016, 5) == 5
    assert excel_format(0.016) == "#,##0.0000"
    assert excel_format(1234.5) == "#,##0.000"  # three decimals in tables, as before
    assert excel_format(1234.5, 0) == "#,##0"
