"""The monthly report as an XLSX workbook: the report's sections as sheets with native
Excel charts (openpyxl.chart), followed by the inventory's own sheets (the same rows
``GET /v1/inventory?format=xlsx`` gives: sites, Scope 1 by fuel and source, Scope 2 by
source, activity, factors, lineage, certificates, offsets).

Cells hold the figures unrounded (a number format shows three decimals, more where
a small figure needs them to keep its significant digits: ``figures.excel_format``),
so a sheet can be summed and compared with the API to the last digit. A chart with
nothing to draw is a sentence in its place, not empty axes.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from carbonstream.core.engine import SCOPE2_COLUMNS
from carbonstream.domain.inventory_tables import sections, summary_rows
from carbonstream.figures import excel_format
from carbonstream.i18n import DEFAULT_LOCALE, Locale, Msg, catalogue, t
from carbonstream.localtime import (
    EXCEL_DATE_FORMAT,
    EXCEL_TIME_FORMAT,
    excel_time,
    set_zone,
    zoned_header,
)
from carbonstream.monthly.gather import PLANT, MonthlyReport

SCOPE1 = "D95F02"
SCOPE2_MARKET = "1B9E77"
SCOPE2_LOCATION = "7570B3"
GREY = "BDBDBD"
Tr = Callable[..., str]  # a catalogue key (and its parameters) to text in the report's locale
REPORT_SHEETS = (
    "Summary",
    "Daily",
    "Scope 2",
    "Top sources",
    "Intensity",
    "Coverage",
    "Coverage by day",
    "Quality",
    "Evidence",
)


def render_xlsx(report: MonthlyReport, locale: Locale = DEFAULT_LOCALE) -> bytes:
    """The workbook; in zh-CN its sheet names, chart titles and words in cells are Chinese,
    its column names (identifiers with their unit, as in the API) the same in both."""
    tr = functools.partial(_text, locale)
    # Times are written as the plant's wall-clock time (Excel has no zones).
    set_zone(ZoneInfo(report.inventory.timezone))
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    _summary(ws, report, tr)
    _daily(wb.create_sheet(), report, tr)
    _scope2(wb.create_sheet(), report, tr)
    _sources(wb.create_sheet(), report, tr)
    _intensity(wb.create_sheet(), report, tr)
    _coverage(wb.create_sheet(), wb.create_sheet(), report, tr)
    _quality(wb.create_sheet(), report, locale)
    _evidence(wb.create_sheet(), report, tr)
    for title, columns, rows in sections(report.inventory)[1:]:  # the summary is above
        _write(wb.create_sheet(), title, columns, [[r.get(c) for c in columns] for r in rows])
    if report.footprints:
        _footprints(wb.create_sheet(), report)
    for sheet in wb.worksheets:
        key = "report.sheet-" + sheet.title.lower().replace(" ", "-")
        if key in catalogue().entries:
            sheet.title = t(key, locale)[:31]
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _text(locale: Locale, key: str, **params: object) -> str:
    return t(key, locale, **params)


def _value(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return excel_time(v)  # a date cell in plant time; the header or unit names the zone
    if isinstance(v, list):
        return "|".join(str(x) for x in v)
    return v


def _write(
    ws: Worksheet, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], row: int = 1
) -> int:
    """A table with a bold header at ``row``; returns the row after it."""
    if row == 1:
        ws.title = title[:31]
        ws.freeze_panes = "A2"
        ws.page_setup.orientation = "landscape"  # printed one page wide, charts included
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    cols = [[r[j] if j < len(r) else None for r in rows] for j in range(len(columns))]
    timed = {
        j
        for j, values in enumerate(cols)
        if any(isinstance(v, dt.datetime) for v in values)
        and all(v is None or isinstance(v, dt.datetime) for v in values)
    }
    for j, c in enumerate(columns, start=1):
        cell = ws.cell(row, j, zoned_header(c) if j - 1 in timed else c)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E8EEF4")
        letter = get_column_letter(j)
        ws.column_dimensions[letter].width = max(
            ws.column_dimensions[letter].width or 0, 12, min(48, len(c) + 4)
        )
    for i, values in enumerate(rows, start=row + 1):
        for j, v in enumerate(values, start=1):
            cell = ws.cell(i, j, _value(v))
            if isinstance(v, float):
                cell.number_format = excel_format(v)
            elif isinstance(v, dt.datetime):
                cell.number_format = EXCEL_TIME_FORMAT
            elif isinstance(v, dt.date):
                cell.number_format = EXCEL_DATE_FORMAT
    return row + 1 + len(rows)


def _axes(chart: BarChart | LineChart, reversed_categories: bool = False) -> None:
    """Axes shown (openpyxl 3.1 leaves them deleted unless told), plain numbers on the
    value axis; with the categories top-down, the value axis stays at the bottom."""
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.y_axis.number_format = "General"
    if reversed_categories:
        chart.x_axis.scaling.orientation = "maxMin"
        chart.y_axis.crosses = "max"


def _no_chart(ws: Worksheet, anchor: str, message: str) -> None:
    """In a chart's place when it would have nothing to draw: the reason, in words."""
    ws[anchor] = message
    ws[anchor].font = Font(italic=True, color="555555")


def _colour(chart: BarChart | LineChart, colours: Sequence[str]) -> None:
    for s, c in zip(chart.series, colours, strict=False):
        if isinstance(chart, LineChart):
            s.graphicalProperties.line.solidFill = c
            s.graphicalProperties.line.width = 22000
            s.smooth = False
        else:
            s.graphicalProperties.solidFill = c
            s.graphicalProperties.line.solidFill = c


def _bars(
    ws: Worksheet,
    title: str,
    columns: Sequence[tuple[int, int]],
    n: int,
    colours: Sequence[str],
    *,
    across: bool = False,
    stacked: bool = False,
) -> BarChart:
    """Bars of the table's columns (each span first..last, titled by the header row) over
    its first column, rows 2..n: upright, or across with the categories top-down."""
    chart = BarChart()
    chart.type = "bar" if across else "col"
    if stacked:
        chart.grouping = "stacked"
        chart.overlap = 100
    chart.title = title
    for first, last in columns:
        chart.add_data(
            Reference(ws, min_col=first, max_col=last, min_row=1, max_row=n),
            titles_from_data=True,
        )
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=n))
    _colour(chart, colours)
    _axes(chart, reversed_categories=across)
    return chart


def _summary(ws: Worksheet, r: MonthlyReport, tr: Tr) -> None:
    inv = r.inventory
    rows: list[list[Any]] = [[x["item"], x["value"], x["unit"]] for x in summary_rows(inv)]
    rows += [
        ["month", r.month, inv.timezone],
        [
            "period_end",
            r.until or r.days[-1] + dt.timedelta(days=1),
            "" if r.until is None else tr("report.in-progress", time=f"{r.until:%Y-%m-%d %H:%M}"),
        ],
        ["days_with_data", sum(r.has_data), tr("report.cell-of-days", n=len(r.days))],
        ["certificates_allocated_mwh", sum(c.allocated_mwh for c in inv.certificates), "MWh"],
        ["remaining_to_zero_carbon_t", inv.net.remaining_t, "tCO2e"],
        [
            "evidence_chain_head_day",
            r.chain.day if r.chain else tr("report.cell-not-sealed"),
            "",
        ],
        ["evidence_chain_head_digest", r.chain.digest if r.chain else "", "SHA-256"],
        ["generated_at", r.generated_at, inv.timezone],
        ["code_version", r.code_version, ""],
    ]
    _write(ws, "Summary", ["item", "value", "unit"], rows)
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 70


def _daily(ws: Worksheet, r: MonthlyReport, tr: Tr) -> None:
    sites = r.inventory.sites
    cols = [
        "date",
        "data",
        "scope1_t",
        "scope2_market_t",
        "scope1_plus_scope2_location_t",
        "scope2_location_t",
        "grid_import_mwh",
        "production",
    ]
    per_site = ["scope1_t", "scope2_location_t", "scope2_market_t", "grid_import_mwh"]
    cols += [f"{s} {c}" for s in sites for c in per_site]
    p = r.daily[PLANT]
    rows = []
    for i, d in enumerate(r.days):
        row: list[Any] = [
            d,
            tr("report.cell-yes") if r.has_data[i] else tr("report.cell-no"),
            p["scope1_t"][i],
            p["scope2_market_t"][i],
            p["scope1_t"][i] + p["scope2_location_t"][i],
            p["scope2_location_t"][i],
            p["grid_import_mwh"][i],
            p["production"][i],
        ]
        row += [r.daily[s][c][i] for s in sites for c in per_site]
        rows.append(row)
    _write(ws, "Daily", cols, rows)
    for i in range(2, len(rows) + 2):
        ws.cell(i, 1).number_format = "yyyy-mm-dd"
    n = len(rows) + 1
    if not any(r.has_data):
        _no_chart(ws, f"C{len(rows) + 4}", tr("report.chart-empty"))
        return
    bar = _bars(ws, tr("report.chart-by-scope"), [(3, 4)], n, [SCOPE1, SCOPE2_MARKET], stacked=True)
    bar.y_axis.title = "tCO2e"
    bar.x_axis.title = tr("report.axis-day")
    line = LineChart()
    line.add_data(Reference(ws, min_col=5, min_row=1, max_row=n), titles_from_data=True)
    _colour(line, [SCOPE2_LOCATION])
    bar += line
    bar.height, bar.width = 9, 24
    ws.add_chart(bar, f"C{len(rows) + 4}")  # under the table: it is wide


def _scope2(ws: Worksheet, r: MonthlyReport, tr: Tr) -> None:
    cols = ["site", *SCOPE2_COLUMNS]
    rows = [[getattr(s, c) for c in cols] for s in r.inventory.by_site]
    _write(ws, "Scope 2", cols, rows)
    n = len(rows) + 1
    if not any(s.scope2_location_t or s.scope2_market_t for s in r.inventory.by_site):
        _no_chart(ws, "K2", tr("report.chart-empty"))
        return
    both = _bars(ws, tr("report.chart-scope2-both"), [(2, 3)], n, [SCOPE2_LOCATION, SCOPE2_MARKET])
    ws.add_chart(both, "K2")
    mwh = _bars(
        ws,
        tr("report.grid-by-treatment"),
        [(6, 8)],
        n,
        [SCOPE2_MARKET, "66A61E", GREY],
        stacked=True,
    )
    ws.add_chart(mwh, "K18")


def _sources(ws: Worksheet, r: MonthlyReport, tr: Tr) -> None:
    total = sum(s.co2e_t for s in r.sources) or 1.0
    rows = [
        [s.meter, s.site, s.kind, s.category, s.co2e_t, 100 * s.co2e_t / total] for s in r.sources
    ]
    _write(ws, "Top sources", ["meter", "site", "kind", "category", "co2e_t", "share_pct"], rows)
    if not rows:
        _no_chart(ws, "H2", tr("report.chart-empty"))
        return
    n = len(rows) + 1
    chart = _bars(ws, tr("report.chart-top-sources"), [(5, 5)], n, [SCOPE1], across=True)
    chart.legend = None
    ws.add_chart(chart, "H2")


def _intensity(ws: Worksheet, r: MonthlyReport, tr: Tr) -> None:
    cols = [
        "site",
        "unit",
        "production",
        "scope1_plus_scope2_market_t",
        "t_per_unit_market",
        "scope1_plus_scope2_location_t",
        "t_per_unit_location",
    ]
    rows = [
        [
            i.site,
            i.unit,
            i.production,
            i.market.emissions_t,
            i.market.value,
            i.location.emissions_t,
            i.location.value,
        ]
        for i in r.intensity
    ]
    end = _write(ws, "Intensity", cols, rows)
    if not rows:
        ws.cell(3, 1, tr("report.cell-no-production"))
        return
    if all(i.market.value is None and i.location.value is None for i in r.intensity):
        _no_chart(ws, "J2", tr("report.chart-empty-intensity"))
        return
    n = len(rows) + 1
    month = _bars(
        ws,
        tr("report.chart-intensity-month"),
        [(5, 5), (7, 7)],
        n,
        [SCOPE2_MARKET, SCOPE2_LOCATION],
    )
    ws.add_chart(month, "J2")

    top = end + 2
    daily = [[d, *(i.daily_market[k] for i in r.intensity)] for k, d in enumerate(r.days)]
    _write(ws, "", ["date", *(f"{i.site} t_per_{i.unit}_market" for i in r.intensity)], daily, top)
    for k in range(top + 1, top + 1 + len(daily)):
        ws.cell(k, 1).number_format = "yyyy-mm-dd"
    line = LineChart()
    line.title = tr("report.chart-intensity-day")
    last = top + len(daily)
    line.add_data(
        Reference(ws, min_col=2, max_col=1 + len(r.intensity), min_row=top, max_row=last),
        titles_from_data=True,
    )
    line.set_categories(Reference(ws, min_col=1, min_row=top + 1, max_row=last))
    _colour(line, [SCOPE2_MARKET, SCOPE1, SCOPE2_LOCATION])
    line.width = 20
    _axes(line)
    ws.add_chart(line, "J18")


def _coverage(ws: Worksheet, by_day: Worksheet, r: MonthlyReport, tr: Tr) -> None:
    rows = [
        [
            a.meter,
            a.site,
            a.kind,
            a.coverage_pct,
            r.coverage_on_data_days.get(a.meter, 0.0),
            ", ".join(a.flags),
        ]
        for a in r.inventory.activity
    ]
    cols = ["meter", "site", "kind", "coverage_month_pct", "coverage_days_with_data_pct", "flags"]
    _write(ws, "Coverage", cols, rows)
    if rows:
        n = len(rows) + 1
        chart = _bars(
            ws,
            tr("report.chart-coverage"),
            [(4, 5)],
            n,
            [SCOPE2_LOCATION, SCOPE2_MARKET],
            across=True,
        )
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = 100
        chart.height = 10
        ws.add_chart(chart, "H2")
    else:
        _no_chart(ws, "H2", tr("report.chart-empty-coverage"))

    days = [d.isoformat() for d in r.days]
    grid = [[a.meter, *r.meter_coverage.get(a.meter, [])] for a in r.inventory.activity]
    _write(by_day, "Coverage by day", [tr("report.cell-coverage-header"), *days], grid)
    by_day.column_dimensions["A"].width = 30
    for j in range(2, len(days) + 2):
        by_day.column_dimensions[get_column_letter(j)].width = 11
    if grid:
        cells = f"B2:{get_column_letter(len(days) + 1)}{len(grid) + 1}"
        by_day.conditional_formatting.add(
            cells,
            ColorScaleRule(  # type: ignore[no-untyped-call]  # openpyxl's stubs leave it untyped
                start_type="num",
                start_value=0,
                start_color="FFFFE5",
                end_type="num",
                end_value=100,
                end_color="238443",
            ),
        )


def _quality(ws: Worksheet, r: MonthlyReport, locale: Locale) -> None:
    notes = [m.render(locale) if isinstance(m, Msg) else m for m in r.quality_msgs] or r.quality
    _write(ws, "Quality", ["note"], [[n] for n in notes])
    ws.column_dimensions["A"].width = 160


def _evidence(ws: Worksheet, r: MonthlyReport, tr: Tr) -> None:
    c = r.chain
    rows: list[list[Any]] = [
        ["sealed", tr("report.cell-yes") if c else tr("report.cell-no")],
        ["head_day", c.day if c else ""],
        ["head_digest_sha256", c.digest if c else ""],
        ["readings_that_day", c.readings if c else ""],
        ["sealed_days_in_month", c.sealed_days if c else 0],
        ["days_with_data", sum(r.has_data)],
        ["days_with_data_not_sealed", ", ".join(str(d) for d in c.unsealed) if c else ""],
        [
            "how_to_anchor",
            tr("report.cell-anchor", first=r.days[0], last=r.days[-1]),
        ],
    ]
    _write(ws, "Evidence", ["item", "value"], rows)
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 80


def _footprints(ws: Worksheet, r: MonthlyReport) -> None:
    """Product footprints of the lots finished in the month, per declared unit."""
    cols = (
        "product",
        "name_zh",
        "name_en",
        "declared_unit",
        "lots",
        "quantity",
        "kgco2e_per_unit_market",
        "kgco2e_per_unit_location",
        "materials_t",
        "energy_market_t",
        "energy_location_t",
        "transport_t",
        "total_market_t",
        "total_location_t",
        "supplier_specific_share",
        "exclusions",
    )
    rows = [
        [
            f.product,
            f.name_zh,
            f.name_en,
            f.declared_unit,
            f.lots,
            f.quantity,
            f.parts.kgco2e_per_unit_market,
            f.parts.kgco2e_per_unit_location,
            f.parts.materials_t,
            f.parts.energy_market_t,
            f.parts.energy_location_t,
            f.parts.transport_t,
            f.parts.total_market_t,
            f.parts.total_location_t,
            f.supplier_specific_share,
            "; ".join(f.exclusions),
        ]
        for f in r.footprints
    ]
    _write(ws, "Footprints", cols, rows)
