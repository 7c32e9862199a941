"""CSV and XLSX renderings of API results (JSON is FastAPI's own)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi.responses import Response

from carbonstream.api.deps import XLSX_MEDIA


def _cell(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.isoformat()
    if isinstance(v, list):
        return "|".join(str(x) for x in v)
    return v


def csv_response(columns: Sequence[str], rows: Iterable[dict[str, Any]], filename: str) -> Response:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in columns])
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def xlsx_response(
    sheets: Sequence[tuple[str, Sequence[str], Iterable[dict[str, Any]]]], filename: str
) -> Response:
    """One worksheet per (title, columns, rows); header row bold and frozen."""
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
        ws.append(list(columns))
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
        for r in rows:
            ws.append([_cell(r.get(c)) for c in columns])
        for i, c in enumerate(columns, start=1):
            ws.column_dimensions[get_column_letter(i)].width = max(12, min(48, len(c) + 4))
    buf = io.BytesIO()
    wb.save(buf)
    return Response(
        buf.getvalue(),
        media_type=XLSX_MEDIA,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def sections_csv(
    sections: Sequence[tuple[str, Sequence[str], Iterable[dict[str, Any]]]], filename: str
) -> Response:
    """Sections of differing columns as one long table: section, item (the row's first
    non-empty column), then each other column as a field=value pair."""
    rows: list[dict[str, Any]] = []
    for title, cols, items in sections:
        for it in items:
            key = next(str(it[c]) for c in cols if it.get(c) not in (None, ""))
            for c in cols:
                if c == cols[0] or it.get(c) is None:
                    continue
                rows.append({"section": title, "item": key, "field": c, "value": it[c]})
    return csv_response(["section", "item", "field", "value"], rows, filename)
