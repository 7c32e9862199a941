"""How a figure is written for a person: enough decimals to keep its significant digits.

One rule for every label the PDF report, the XLSX workbook and the live page make
(``fmt`` in ``api/static/live.js`` is this rule in JavaScript, checked against it
by a test): a figure shows at least :data:`SIGNIFICANT` significant digits, and at
least the decimals its place asks for. A fixed one decimal printed the month's
0.016 t of heat as "0.0 t"; it is "0.0160 t" now.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

SIGNIFICANT = 3
# A report's tables (the PDF's and the XLSX's) show three decimals at least.
TABLE_DECIMALS = 3


def decimals(value: float, min_decimals: int = 0, significant: int = SIGNIFICANT) -> int:
    """Decimals that show ``significant`` digits of ``value``, and never fewer than given."""
    if value == 0 or not math.isfinite(value):
        return min_decimals
    return max(min_decimals, significant - 1 - math.floor(math.log10(abs(value))))


def figure(value: float, min_decimals: int = 0, significant: int = SIGNIFICANT) -> str:
    """``value`` with thousands separators and its significant digits: 0.016 -> "0.0160",
    45.25 -> "45.3" (45.250 with ``min_decimals=3``), 1190.6 -> "1,191"."""
    if not math.isfinite(value):
        return "-"
    d = decimals(value, min_decimals, significant)
    # Ties away from zero on the exact binary value, as JavaScript's toLocaleString rounds.
    exact = Decimal(value).quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_UP)
    return f"{exact:,.{d}f}"


def excel_format(value: float, min_decimals: int = TABLE_DECIMALS) -> str:
    """An Excel number format showing ``value`` as :func:`figure` writes it."""
    d = decimals(value, min_decimals)
    return "#,##0" + ("." + "0" * d if d else "")
