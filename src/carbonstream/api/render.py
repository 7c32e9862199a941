"""CSV and XLSX renderings of API results (JSON is FastAPI's own).

CSV is tidy: one row per observation, with the observation's dimensions (``start``,
``site``; ``section``, ``item`` in the inventory), the ``field`` observed, its ``value``
and its ``unit`` on the same row (from a ``unit`` / ``<x>_unit`` field beside it, or from
the field's name: :mod:`carbonstream.fieldunits`). Times are plant-local ISO 8601 with
their offset, as in JSON.

XLSX has real date cells: a time is a plant-local wall-clock datetime with a number
format (Excel has no time zones), and its column header names the zone.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi.responses import Response

from carbonstream.api.deps import XLSX_MEDIA
from carbonstream.fieldunits import cell_text, tidy_rows
from carbonstream.localtime import EXCEL_DATE_FORMAT, EXCEL_TIME_FORMAT, excel_time, zoned_header

__all__ = ["TIDY_COLUMNS", "cell_text", "csv_response", "tidy_rows", "xlsx_response"]

TIDY_COLUMNS = ("field", "value", "unit")  # after the dimensions


def csv_response(
    dims: Sequence[str],
    fields: Sequence[str],
    rows: Iterable[dict[str, Any]],
    filename: str,
    lead: Iterable[list[Any]] = (),
) -> Response:
    """A tidy CSV: ``dims``, then field, value and unit, one row per observation."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*dims, *TIDY_COLUMNS])
    w.writerows(lead)
    w.writerows(tidy_rows(dims, fields, rows))
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _xlsx_cell(v: Any) -> tuple[Any, str | None]:
    if isinstance(v, dt.datetime):
        return excel_time(v), EXCEL_TIME_FORMAT
    if isinstance(v, dt.date):
        return v, EXCEL_DATE_FORMAT
    if isinstance(v, list | tuple):
        return "|".join(str(x) for x in v), None
    return v, None


def _all_times(values: list[Any]) -> bool:
    given = [v for v in values if v is not None]
    return bool(given) and all(isinstance(v, dt.datetime) for v in given)


def xlsx_response(
    sheets: Sequence[tuple[str, Sequence[str], Iterable[dict[str, Any]]]], filename: str
) -> Response:
    """One worksheet per (title, columns, rows); header row bold and frozen; times as date
    cells in plant time, the zone in their column's header."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    first = True
    for title, columns, rows in sheets:
        ws = wb.active if first else wb.create_sheet()
        assert ws is not None
        first = False
        ws.title = title[:31]
        items = list(rows)
        timed = {c for c in columns if _all_times([r.get(c) for r in items])}
        ws.append([zoned_header(c) if c in timed else c for c in columns])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
        for i, r in enumerate(items, start=2):
            for j, c in enumerate(columns, start=1):
                value, fmt = _xlsx_cell(r.get(c))
                cell = ws.cell(row=i, column=j, value=value)
                if fmt is not None:
                    cell.number_format = fmt
        for i, c in enumerate(columns, start=1):
            width = 20 if c in timed else max(12, min(48, len(c) + 4))
            ws.column_dimensions[get_column_letter(i)].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return Response(
        buf.getvalue(),
        media_type=XLSX_MEDIA,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _key(row: dict[str, Any], cols: Sequence[str]) -> str:
    return next(str(row[c]) for c in cols if row.get(c) not in (None, ""))


def sections_csv(
    sections: Sequence[tuple[str, Sequence[str], Iterable[dict[str, Any]]]], filename: str
) -> Response:
    """Sections of differing columns as one tidy table: section, item (the row's first
    non-empty column), field, value, unit. A section of (item, value, unit) rows, as the
    Summary, gives its rows as they are, under item ``plant``."""
    out: list[list[Any]] = []
    for title, cols, items in sections:
        if list(cols) == ["item", "value", "unit"]:
            out += [[title, "plant", r["item"], cell_text(r["value"]), r["unit"]] for r in items]
            continue
        keyed = [
            {
                **it,
                "section": title,
                "item": next(str(it[c]) for c in cols if it.get(c) not in (None, "")),
            }
            for it in items
        ]
        out += tidy_rows(["section", "item"], cols[1:], keyed)
    return csv_response(["section", "item"], [], [], filename, lead=out)
