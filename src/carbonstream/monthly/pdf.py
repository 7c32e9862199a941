"""The monthly report as a PDF: A4 landscape pages drawn with matplotlib (PdfPages).

Pages: summary; emissions by scope per day; Scope 2 both ways per site; top
sources; intensity; data coverage per meter; the factors used; data-quality
notes and evidence. Figures are drawn without pyplot (no global figure state),
and rendering is serialised by a lock because rcParams are process-wide.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import textwrap
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.table import Table

from carbonstream.figures import TABLE_DECIMALS, figure
from carbonstream.fonts import cjk_font, quiet_font_lookup
from carbonstream.i18n import DEFAULT_LOCALE, Locale, Msg, catalogue, localized, t
from carbonstream.monthly.gather import PLANT, MonthlyReport

A4_LANDSCAPE = (11.69, 8.27)
SCOPE1 = "#d95f02"
SCOPE2_MARKET = "#1b9e77"
SCOPE2_LOCATION = "#7570b3"
HEAT = "#e7298a"
GREY = "#bdbdbd"
HEADER = "#e8eef4"
CATEGORY_COLOURS = {"Scope 1": SCOPE1, "Scope 2 electricity": SCOPE2_LOCATION, "Scope 2 heat": HEAT}

_LOCK = threading.Lock()
_TOKENS = re.compile(
    r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]|[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]+\s*|\s+"
)


# Kept under these names for the modules that import them from here.
_cjk_font = cjk_font
_quiet_font_lookup = quiet_font_lookup


class _Text:
    """The report's words in its locale (the catalogue's report.* entries) and the plant's,
    sites' and meters' names in that locale (name_zh in zh-CN). Data (factor sources, ids)
    passes through as it is: the Chinese font draws Chinese sources in either locale."""

    def __init__(self, locale: Locale = DEFAULT_LOCALE, names: Mapping[str, str] = {}) -> None:
        self.locale = locale
        self.names = names
        self.cjk = _cjk_font()

    def __call__(self, s: object) -> str:
        return str(s)

    def t(self, key: str, **params: object) -> str:
        return t(key, self.locale, **params)

    def name(self, ident: str) -> str:
        """A site's or meter's name in zh-CN (its id when it has none); the id in en, where
        the tables have always shown ids."""
        return localized(ident, self.names.get(ident), self.locale, ident)

    def basis(self, basis: str) -> str:
        return self.t("report.basis-location" if basis == "location" else "report.basis-market")

    def month(self, d: dt.date) -> str:
        return f"{d.year} 年 {d.month} 月" if self.locale == Locale.ZH_CN else f"{d:%B %Y}"

    def category(self, category: str) -> str:
        """A source's category ("Scope 1 natural_gas", "Scope 2 heat", ...) in the locale."""
        for en, key in (
            ("Scope 2 electricity (location-based)", "report.scope2-electricity-location"),
            ("Scope 2 electricity", "report.scope2-electricity"),
            ("Scope 2 heat", "report.scope2-heat"),
            ("Scope 1", "report.scope1"),
        ):
            if category.startswith(en):
                rest = category[len(en) :]
                return self.t(key) + (
                    " " + self.fuel(rest.strip()) if rest.startswith(" ") else rest
                )
        return category

    def fuel(self, fuel: str) -> str:
        return self.code("fuel", fuel)

    def code(self, kind: str, code: str) -> str:
        """A code (a fuel, a meter flag) in words in zh-CN; the code as it is in en, where
        the report has always shown codes."""
        key = f"report.{kind}-{code}"
        if self.locale == Locale.EN:
            return code
        if key not in catalogue().entries:  # a fuel the plant declared: its name_zh, if any
            return self.names.get(f"{kind}-{code}", code)
        return self.t(key)


def _label(digits: int) -> Callable[[float], str]:
    """A bar label in the same writing (matplotlib's bar_label calls it with the value)."""
    return partial(figure, min_decimals=digits)


def render_pdf(report: MonthlyReport, locale: Locale = DEFAULT_LOCALE) -> bytes:
    """The report as PDF bytes, in zh-CN or en."""
    with _LOCK, _quiet_font_lookup():
        text = _Text(locale, report.names_zh)
        # Latin text in DejaVu Sans, anything it lacks (Chinese) from Noto Sans SC.
        family = ["DejaVu Sans", text.cjk]
        pages: list[Callable[[Figure], None]] = [
            lambda f: _summary(f, report, text),
            lambda f: _by_scope(f, report, text),
            lambda f: _scope2(f, report, text),
            lambda f: _sources(f, report, text),
            lambda f: _intensity(f, report, text),
            lambda f: _coverage(f, report, text),
        ]
        chunks = _factor_pages(report, text)
        pages += [
            partial(_factors, r=report, rows=rows, k=k, n=len(chunks), text=text)
            for k, rows in enumerate(chunks, start=1)
        ]
        if report.footprints:
            pages.append(lambda f: _footprints(f, report, text))
        if report.energy is not None:
            pages.append(lambda f: _energy(f, report, text))
        pages.append(lambda f: _quality(f, report, text))
        buf = io.BytesIO()
        rc = mpl.rc_context(
            {
                "pdf.fonttype": 42,  # TrueType: text stays searchable and extractable
                "font.family": family,
                "font.size": 9,
                "axes.spines.top": False,
                "axes.spines.right": False,
            }
        )
        with rc, PdfPages(buf, metadata=_metadata(report, text)) as pdf:
            for i, draw in enumerate(pages, start=1):
                fig = Figure(figsize=A4_LANDSCAPE)
                draw(fig)
                _frame(fig, report, i, len(pages), text)
                pdf.savefig(fig)
        return buf.getvalue()


def _title(r: MonthlyReport, text: _Text) -> str:
    plant = localized(r.inventory.plant, r.plant_zh, text.locale)
    return text.t("report.title", plant=plant, month=text.month(r.days[0]))


def _in_progress(r: MonthlyReport, text: _Text) -> str | None:
    """For a month in progress: "month in progress, to <time>" (the report stops at now)."""
    if r.until is None:
        return None
    return text.t("report.in-progress", time=f"{r.until:%Y-%m-%d %H:%M}")


def _no_data(ax: Axes, message: str) -> None:
    """Where a chart has nothing to draw: say so, instead of drawing empty axes."""
    ax.clear()
    ax.axis("off")
    ax.text(
        0.5,
        0.5,
        _fill(message, 60),
        ha="center",
        va="center",
        fontsize=10,
        color="#555555",
        transform=ax.transAxes,
    )


def _metadata(r: MonthlyReport, text: _Text) -> dict[str, Any]:
    note = _in_progress(r, text)
    return {
        "Title": _title(r, text) + (f" ({note})" if note else ""),
        "Author": "carbonstream",
        "Subject": text.t("report.subject", month=r.month),
        "Creator": f"carbonstream {r.code_version}".strip(),
    }


def _frame(fig: Figure, r: MonthlyReport, page: int, pages: int, text: _Text) -> None:
    fig.text(0.03, 0.965, _title(r, text), fontsize=11, weight="bold", va="top")
    sites = ", ".join(text.name(s) for s in r.inventory.sites)
    fig.text(
        0.97,
        0.965,
        text.t(
            "report.frame-range",
            first=r.days[0],
            last=r.days[-1],
            zone=r.inventory.timezone,
            sites=sites,
        ),
        fontsize=8,
        ha="right",
        va="top",
        color="#555555",
    )
    note = _in_progress(r, text)
    if note:  # on every page, under the period: the figures stop at now
        fig.text(0.97, 0.94, note, fontsize=9, weight="bold", ha="right", va="top", color=SCOPE1)
    foot = text.t("report.footer", version=r.code_version, at=r.generated_at.isoformat())
    fig.text(0.03, 0.02, foot, fontsize=7, color="#777777")
    fig.text(
        0.97,
        0.02,
        text.t("report.page", page=page, pages=pages),
        fontsize=7,
        color="#777777",
        ha="right",
    )


def _heading(fig: Figure, title: str, subtitle: str = "") -> None:
    fig.text(0.03, 0.925, title, fontsize=15, weight="bold", va="top")
    if subtitle:
        fig.text(0.03, 0.885, _fill(subtitle, 180), fontsize=8.5, color="#444444", va="top")


def _width(text: str) -> int:
    """Display width in Latin characters: CJK characters are twice as wide."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _fill(text: str, chars: int) -> str:
    """Greedy line breaking by display width: at spaces, around CJK characters, and inside
    a token longer than a line (a URL)."""
    if _width(text) <= chars:
        return text
    lines: list[str] = []
    line = ""
    for token in _TOKENS.findall(text):
        if line and _width(line + token.rstrip()) > chars:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
        while _width(line.rstrip()) > chars:  # a token longer than a line
            cut = 1
            while _width(line[: cut + 1]) <= chars:
                cut += 1
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip():
        lines.append(line.rstrip())
    return "\n".join(lines)


def _wrap(text: str, chars: int) -> str:
    return "\n".join(_fill(part, chars) for part in text.split("\n"))


def _cells(
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    widths: Sequence[float] | None,
    width_in: float,
    fontsize: float,
) -> tuple[list[list[str]], list[float]]:
    """Header and rows as text wrapped to their column's width; the widths used."""
    cells = [list(columns), *[[str(c) for c in row] for row in rows]]
    em = fontsize * 0.58 / 72  # inches per character, DejaVu Sans on average
    if widths is None:
        natural = [
            3 + max(_width(line) for row in cells for line in row[j].split("\n"))
            for j in range(len(columns))
        ]
        fitted = _fit(natural, width_in / em)
        widths = [w / sum(fitted) for w in fitted]
    chars = [max(4, int(w * 0.98 * width_in / em) - 1) for w in widths]
    return [[_wrap(c, n) for c, n in zip(row, chars, strict=True)] for row in cells], list(widths)


def _fit(natural: list[int], room: float) -> list[float]:
    """Column widths in characters: every column its natural width if they all fit (spread
    to fill the room), else the narrow ones whole and the wide ones share what is left."""
    if sum(natural) <= room:
        return [n * room / sum(natural) for n in natural]
    out = [0.0] * len(natural)
    left = sorted(range(len(natural)), key=lambda j: natural[j])
    free = room
    while left:
        share = free / len(left)
        j = left[0]
        if natural[j] > share:
            for k in left:
                out[k] = share
            break
        out[j] = natural[j]
        free -= natural[j]
        left.pop(0)
    return out


def _lines(row: Sequence[str]) -> int:
    return 1 + max(c.count("\n") for c in row)


def _table(
    ax: Axes,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    widths: Sequence[float] | None = None,
    fontsize: float = 8,
    align: Sequence[str] | None = None,
    none: str = "none",
) -> None:
    """A plain table from the top of the axes: columns as wide as given (fractions of the
    axes) or as their longest text, text wrapped to them, rows as high as their text."""
    ax.axis("off")
    if not rows:
        ax.text(0, 1, none, fontsize=fontsize, va="top", style="italic")
        return
    fig = ax.get_figure(root=True)
    assert isinstance(fig, Figure)
    box = ax.get_position()
    size = fig.get_size_inches()
    cells, widths = _cells(columns, rows, widths, box.width * size[0], fontsize)
    line = fontsize * 1.6 / 72 / (box.height * size[1])
    table = Table(ax, loc="upper left")
    table.auto_set_font_size(False)
    y = 1.0
    for i, row in enumerate(cells):
        h = line * (_lines(row) + 0.5)
        y -= h
        x = 0.0
        for j, (text, w) in enumerate(zip(row, widths, strict=True)):
            loc = "left" if i == 0 or not align else align[j]
            cell = table.add_cell(i, j, w * 0.98, h, text=text, loc=loc)
            cell.PAD = 0.6 * fontsize / 72 / (w * box.width * size[0])  # 0.6 em, not 10 %
            cell.set_xy((x, y))
            cell.set_edgecolor("#cccccc")
            cell.set_linewidth(0.4)
            if i == 0:
                cell.set_facecolor(HEADER)
                cell.get_text().set_fontweight("bold")
            x += w * 0.98
    table.set_fontsize(fontsize)
    ax.add_table(table)


# --- page 1: summary -------------------------------------------------------------------


def _summary(fig: Figure, r: MonthlyReport, text: _Text) -> None:
    inv = r.inventory
    t = inv.totals
    tr = text.t
    _heading(
        fig,
        tr("report.summary"),
        tr(
            "report.summary-sub",
            plant=localized(inv.plant, r.plant_zh, text.locale),
            gwp=inv.gwp,
            method=inv.method,
            basis=text.basis(inv.net.scope2_basis),
        ),
    )
    certificates = sum(c.allocated_mwh for c in inv.certificates)
    rows: list[tuple[str, str, str]] = [
        (tr("report.row-scope1"), figure(t.scope1_t, TABLE_DECIMALS), "tCO2e"),
        (tr("report.row-s2-location"), figure(t.scope2_location_t, TABLE_DECIMALS), "tCO2e"),
        (tr("report.row-s2-market"), figure(t.scope2_market_t, TABLE_DECIMALS), "tCO2e"),
        (tr("report.row-heat"), figure(t.scope2_heat_t, TABLE_DECIMALS), "tCO2e"),
        (tr("report.row-ghg-location"), figure(t.ghg_total_location_t, TABLE_DECIMALS), "tCO2e"),
        (tr("report.row-ghg-market"), figure(t.ghg_total_market_t, TABLE_DECIMALS), "tCO2e"),
        (tr("report.row-cn-total"), figure(t.cn_total_t, TABLE_DECIMALS), "tCO2e"),
        (tr("report.row-export"), figure(t.export_deduction_t, TABLE_DECIMALS), "tCO2e"),
        (tr("report.row-grid"), figure(t.grid_import_mwh, TABLE_DECIMALS), "MWh"),
        (tr("report.row-covered"), figure(certificates, TABLE_DECIMALS), "MWh"),
        (tr("report.row-offsets"), figure(inv.net.offsets_t, TABLE_DECIMALS), "tCO2e"),
        (
            tr("report.row-net", basis=text.basis(inv.net.scope2_basis)),
            figure(inv.net.net_t, TABLE_DECIMALS),
            "tCO2e",
        ),
        (
            tr("report.row-zc"),
            tr("report.zc-reached")
            if inv.net.zero_carbon
            else tr("report.zc-not", left=figure(inv.net.remaining_t, TABLE_DECIMALS)),
            "",
        ),
        (tr("report.row-coverage"), figure(inv.coverage_pct, 1), "%"),
    ]
    ax = fig.add_axes((0.03, 0.29, 0.5, 0.56))
    _table(
        ax,
        [tr("report.col-item"), tr("report.col-value"), tr("report.col-unit")],
        rows,
        [0.55, 0.33, 0.12],
        8.5,
        ["left", "right", "left"],
    )

    # Per site: totals and the month's budget.
    site_rows = []
    for s in inv.by_site:
        used = "-"
        if s.site in r.budgets:
            budget, basis = r.budgets[s.site]
            value = s.ghg_total_market_t if basis == "market" else s.ghg_total_location_t
            used = tr(
                "report.budget-used", budget=figure(budget, 0), pct=figure(100 * value / budget, 0)
            )
            used += tr("report.budget-location") if basis == "location" else ""
        site_rows.append(
            (
                text.name(s.site),
                figure(s.scope1_t, TABLE_DECIMALS),
                figure(s.scope2_location_t, TABLE_DECIMALS),
                figure(s.scope2_market_t, TABLE_DECIMALS),
                figure(s.cn_total_t, TABLE_DECIMALS),
                used,
            )
        )
    ax = fig.add_axes((0.56, 0.62, 0.41, 0.22))
    _table(
        ax,
        [
            tr("report.col-site"),
            tr("report.col-scope1"),
            tr("report.col-s2-location"),
            tr("report.col-s2-market"),
            tr("report.col-cn-total"),
            tr("report.col-budget"),
        ],
        site_rows,
        None,
        7.5,
        ["left", "right", "right", "right", "right", "left"],
    )

    # Scope split as a ring: what the month's market-based total is made of.
    ax = fig.add_axes((0.62, 0.3, 0.28, 0.3))
    parts = [
        (tr("report.scope1"), t.scope1_t, SCOPE1),
        (
            tr("report.scope2-electricity-market"),
            t.scope2_market_t - t.scope2_heat_t,
            SCOPE2_MARKET,
        ),
        (tr("report.scope2-heat"), t.scope2_heat_t, HEAT),
    ]
    parts = [p for p in parts if p[1] > 0]
    if parts:
        ax.pie(
            [p[1] for p in parts],
            colors=[p[2] for p in parts],
            labels=[f"{p[0]}\n{figure(p[1], 1)} t" for p in parts],
            startangle=90,
            counterclock=False,
            wedgeprops={"width": 0.38, "edgecolor": "white"},
            textprops={"fontsize": 7.5},
        )
        ax.set_title(tr("report.pie-title"), fontsize=9)
    else:
        ax.axis("off")

    lines = [
        tr(
            "report.summary-certs",
            n=len(inv.certificates),
            mwh=figure(certificates, 1),
            k=len(inv.offsets),
            t=figure(inv.net.offsets_t, 1),
        ),
        tr("report.summary-data", days=sum(r.has_data), total=len(r.days)),
    ]
    fig.text(0.03, 0.25, "\n".join(lines), fontsize=8.5, va="top")
    _evidence_box(fig, r, 0.03, 0.17, text)


def _evidence_box(fig: Figure, r: MonthlyReport, x: float, y: float, text: _Text) -> None:
    c = r.chain
    tr = text.t
    fig.text(x, y, tr("report.evidence-head"), fontsize=9, weight="bold", va="top")
    if c is None:
        fig.text(x, y - 0.03, tr("report.evidence-none"), fontsize=8.5, va="top")
        return
    unsealed = tr("report.evidence-unsealed", n=len(c.unsealed)) if c.unsealed else ""
    fig.text(
        x,
        y - 0.03,
        tr(
            "report.evidence-sealed",
            day=c.day,
            days=c.sealed_days,
            readings=c.readings,
            unsealed=unsealed,
        ),
        fontsize=8.5,
        va="top",
    )
    fig.text(x, y - 0.06, c.digest, fontsize=9, family="monospace", va="top")
    fig.text(
        x,
        y - 0.09,
        tr("report.evidence-anchor", first=r.days[0], last=r.days[-1]),
        fontsize=7.5,
        va="top",
        color="#444444",
    )


# --- page 2: emissions by scope per day ----------------------------------------------


def _day_axis(ax: Axes, r: MonthlyReport, text: _Text) -> np.ndarray[Any, np.dtype[np.int64]]:
    x = np.arange(1, len(r.days) + 1)
    ax.set_xlim(0.4, len(r.days) + 0.6)
    ax.set_xticks(x[::2] if len(x) > 16 else x)
    ax.set_xlabel(text.t("report.day-of", month=text.month(r.days[0])))
    for i, h in enumerate(r.has_data):
        if not h:
            ax.axvspan(i + 0.5, i + 1.5, color="#f2f2f2", zorder=0, lw=0)
    return x


def _scope_chart(ax: Axes, r: MonthlyReport, key: str, legend: bool, text: _Text) -> None:
    d = r.daily[key]
    if not any(r.has_data) or not any(
        d["scope1_t"] + d["scope2_market_t"] + d["scope2_location_t"]
    ):
        _no_data(ax, text.t("report.chart-empty"))
        return
    x = _day_axis(ax, r, text)
    s1 = np.array(d["scope1_t"])
    s2m = np.array(d["scope2_market_t"])
    loc = np.array(d["scope1_t"]) + np.array(d["scope2_location_t"])
    loc = np.where(np.array(r.has_data), loc, np.nan)
    ax.bar(x, s1, color=SCOPE1, label=text.t("report.scope1"), zorder=2)
    ax.bar(x, s2m, bottom=s1, color=SCOPE2_MARKET, label=text.t("report.s2-market-based"), zorder=2)
    ax.plot(
        x,
        loc,
        color=SCOPE2_LOCATION,
        marker="o",
        ms=3.5,
        lw=1.6,
        label=text.t("report.s1-s2-location"),
        zorder=3,
    )
    ax.set_ylabel(text.t("report.t-per-day"))
    ax.grid(axis="y", color="#e0e0e0", zorder=0)
    if legend:
        ax.legend(loc="upper left", fontsize=8, frameon=False, ncols=3)


def _by_scope(fig: Figure, r: MonthlyReport, text: _Text) -> None:
    _heading(fig, text.t("report.by-scope"), text.t("report.by-scope-sub"))
    sites = r.inventory.sites
    small = sites if 1 < len(sites) <= 4 else []
    top = fig.add_axes((0.07, 0.47 if small else 0.1, 0.9, 0.36 if small else 0.73))
    _scope_chart(top, r, PLANT, True, text)
    top.set_title(
        text.t("report.plant") if small else ", ".join(text.name(s) for s in sites),
        fontsize=10,
        loc="left",
    )
    for k, site in enumerate(small):
        w = 0.9 / len(small)
        ax = fig.add_axes((0.07 + k * w, 0.09, w - 0.05, 0.28))
        _scope_chart(ax, r, site, False, text)
        ax.set_title(text.name(site), fontsize=9, loc="left")
        ax.set_xlabel("")
        if k:
            ax.set_ylabel("")


# --- page 3: Scope 2 both ways ---------------------------------------------------------


def _scope2(fig: Figure, r: MonthlyReport, text: _Text) -> None:
    inv = r.inventory
    tr = text.t
    _heading(fig, tr("report.scope2"), tr("report.scope2-sub"))
    sites = [text.name(s.site) for s in inv.by_site]
    x = np.arange(len(sites))
    ax = fig.add_axes((0.07, 0.45, 0.4, 0.34))
    loc = [s.scope2_location_t for s in inv.by_site]
    mkt = [s.scope2_market_t for s in inv.by_site]
    b1 = ax.bar(x - 0.2, loc, 0.4, color=SCOPE2_LOCATION, label=text.basis("location"), zorder=2)
    b2 = ax.bar(x + 0.2, mkt, 0.4, color=SCOPE2_MARKET, label=text.basis("market"), zorder=2)
    ax.bar_label(b1, fmt=_label(2), fontsize=7.5)
    ax.bar_label(b2, fmt=_label(2), fontsize=7.5)
    ax.set_xticks(x, sites)
    ax.set_ylabel("tCO2e")
    ax.set_title(tr("report.scope2-t"), fontsize=10, loc="left")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="y", color="#e0e0e0", zorder=0)
    ax.margins(y=0.15)
    if not any(loc + mkt):
        _no_data(ax, tr("report.chart-empty"))

    ax = fig.add_axes((0.56, 0.45, 0.4, 0.34))
    covered = np.array([s.covered_mwh for s in inv.by_site])
    supplier = np.array([s.supplier_mwh for s in inv.by_site])
    residual = np.array([s.residual_mwh for s in inv.by_site])
    ax.bar(
        x, covered, 0.5, color=SCOPE2_MARKET, label=tr("report.covered-by-instruments"), zorder=2
    )
    ax.bar(
        x,
        supplier,
        0.5,
        bottom=covered,
        color="#66a61e",
        label=tr("report.supplier-rate"),
        zorder=2,
    )
    ax.bar(
        x,
        residual,
        0.5,
        bottom=covered + supplier,
        color=GREY,
        label=tr("report.residual-factor"),
        zorder=2,
    )
    ax.set_xticks(x, sites)
    ax.set_ylabel("MWh")
    ax.set_title(tr("report.grid-by-treatment"), fontsize=10, loc="left")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="y", color="#e0e0e0", zorder=0)
    if not (covered + supplier + residual).any():
        _no_data(ax, tr("report.chart-empty-grid"))

    rows = [
        (
            text.name(s.site),
            figure(s.grid_import_mwh, TABLE_DECIMALS),
            figure(s.covered_mwh, TABLE_DECIMALS),
            figure(s.supplier_mwh, TABLE_DECIMALS),
            figure(s.residual_mwh, TABLE_DECIMALS),
            figure(s.heat_import_gj, TABLE_DECIMALS),
            figure(s.scope2_location_t, TABLE_DECIMALS),
            figure(s.scope2_market_t, TABLE_DECIMALS),
        )
        for s in inv.by_site
    ]
    ax = fig.add_axes((0.03, 0.27, 0.94, 0.14))
    _table(
        ax,
        [
            tr("report.col-site"),
            tr("report.col-grid-mwh"),
            tr("report.col-covered-mwh"),
            tr("report.col-supplier-mwh"),
            tr("report.col-residual-mwh"),
            tr("report.col-heat-gj"),
            tr("report.col-location-t"),
            tr("report.col-market-t"),
        ],
        rows,
        None,
        8,
        ["left", *["right"] * 7],
    )
    certs = [
        (
            c.instrument,
            c.type,
            text.name(c.site),
            c.serials or "-",
            f"{c.claim_start}..{c.claim_end}",
            figure(c.allocated_mwh, TABLE_DECIMALS),
            figure(c.emission_factor_t_per_mwh, 4),
            textwrap.shorten(text(c.source), 48),
        )
        for c in inv.certificates
    ]
    fig.text(
        0.03,
        0.235,
        tr("report.certs-title"),
        fontsize=9,
        weight="bold",
        va="top",
    )
    ax = fig.add_axes((0.03, 0.07, 0.94, 0.15))
    _table(
        ax,
        [
            tr("report.col-instrument"),
            tr("report.col-type"),
            tr("report.col-site"),
            tr("report.col-serials"),
            tr("report.col-claim-period"),
            "MWh",
            "tCO2/MWh",
            tr("report.col-source"),
        ],
        certs,
        None,
        7.5,
        none=tr("report.none"),
    )


# --- page 4: top sources ---------------------------------------------------------------


def _category_colour(category: str) -> str:
    return next((c for k, c in CATEGORY_COLOURS.items() if category.startswith(k)), GREY)


def _sources(fig: Figure, r: MonthlyReport, text: _Text) -> None:
    inv = r.inventory
    tr = text.t
    _heading(fig, tr("report.sources"), tr("report.sources-sub"))
    top = r.sources[:12]
    ax = fig.add_axes((0.18, 0.38, 0.4, 0.44))
    if top:
        y = np.arange(len(top))[::-1]
        bars = ax.barh(
            y, [s.co2e_t for s in top], color=[_category_colour(s.category) for s in top], zorder=2
        )
        ax.bar_label(bars, fmt=_label(2), fontsize=7.5, padding=2)
        # A Chinese meter name already says where it is; an id gets its site beside it.
        ax.set_yticks(
            y,
            [
                text.name(s.meter)
                if text.name(s.meter) != s.meter
                else f"{s.meter} ({text.name(s.site)})"
                for s in top
            ],
        )
        ax.set_xlabel("tCO2e")
        ax.grid(axis="x", color="#e0e0e0", zorder=0)
        ax.margins(x=0.15)
        seen = {s.category.split(" (")[0] for s in top}
        handles = [
            mpl.patches.Patch(color=c, label=text.category(k))
            for k, c in CATEGORY_COLOURS.items()
            if any(x.startswith(k) for x in seen)
        ]
        ax.legend(handles=handles, fontsize=8, frameon=False, loc="lower right")
    else:
        ax.axis("off")
        ax.text(0, 0.5, tr("report.no-emissions"), fontsize=10)

    total = sum(s.co2e_t for s in r.sources) or 1.0
    rows = [
        (
            text.name(s.meter),
            text.category(s.category),
            figure(s.co2e_t, TABLE_DECIMALS),
            f"{figure(100 * s.co2e_t / total, 1)} %",
        )
        for s in top
    ]
    ax = fig.add_axes((0.62, 0.38, 0.35, 0.44))
    _table(
        ax,
        [tr("report.col-meter"), tr("report.col-category"), "tCO2e", tr("report.col-share")],
        rows,
        [0.3, 0.4, 0.16, 0.14],
        7.5,
        ["left", "left", "right", "right"],
    )

    fig.text(0.03, 0.31, tr("report.scope1-by-fuel"), fontsize=9, weight="bold", va="top")
    fuel_rows = [
        (
            text.fuel(f.fuel),
            f"{figure(f.quantity, TABLE_DECIMALS)} {f.unit}",
            figure(f.energy_gj, TABLE_DECIMALS),
            figure(f.co2_t, TABLE_DECIMALS),
            figure(f.ch4_t, 6),
            figure(f.ch4_co2e_t, TABLE_DECIMALS),
            figure(f.n2o_t, 6),
            figure(f.n2o_co2e_t, TABLE_DECIMALS),
            figure(f.co2e_t, TABLE_DECIMALS),
            ", ".join(text.name(m) for m in f.meters),
        )
        for f in inv.scope1.by_fuel
    ]
    ax = fig.add_axes((0.03, 0.08, 0.94, 0.2))
    # Gas masses and their CO2e side by side: a tonne of CH4 is 28 tCO2e under AR5.
    _table(
        ax,
        [
            tr("report.col-fuel"),
            tr("report.col-quantity"),
            tr("report.col-energy-gj"),
            "tCO2",
            "tCH4",
            "CH4 tCO2e",
            "tN2O",
            "N2O tCO2e",
            "tCO2e",
            tr("report.col-meters"),
        ],
        fuel_rows,
        [0.1, 0.13, 0.08, 0.08, 0.09, 0.09, 0.09, 0.09, 0.08, 0.17],
        8,
        ["left", *["right"] * 8, "left"],
        none=tr("report.none"),
    )


# --- page 5: intensity -----------------------------------------------------------------


def _intensity(fig: Figure, r: MonthlyReport, text: _Text) -> None:
    tr = text.t
    _heading(fig, tr("report.intensity"), tr("report.intensity-sub"))
    if not r.intensity:
        fig.text(0.05, 0.6, tr("report.no-production"), fontsize=11)
        return
    ax = fig.add_axes((0.07, 0.45, 0.36, 0.38))
    x = np.arange(len(r.intensity))
    mkt = [i.market.value or 0.0 for i in r.intensity]
    loc = [i.location.value or 0.0 for i in r.intensity]
    b1 = ax.bar(x - 0.2, mkt, 0.4, color=SCOPE2_MARKET, label=text.basis("market"), zorder=2)
    b2 = ax.bar(x + 0.2, loc, 0.4, color=SCOPE2_LOCATION, label=text.basis("location"), zorder=2)
    ax.bar_label(b1, fmt=_label(4), fontsize=7.5)
    ax.bar_label(b2, fmt=_label(4), fontsize=7.5)
    ax.set_xticks(x, [f"{text.name(i.site)}\n(tCO2e/{i.unit})" for i in r.intensity])
    ax.set_xlim(-0.5 - 0.5 / len(x), len(x) - 0.5 + 0.5 / len(x))
    ax.set_title(tr("report.month"), fontsize=10, loc="left")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="y", color="#e0e0e0", zorder=0)
    ax.margins(y=0.15)
    if all(i.market.value is None and i.location.value is None for i in r.intensity):
        _no_data(ax, tr("report.chart-empty-intensity"))

    ax = fig.add_axes((0.52, 0.45, 0.45, 0.38))
    xs = _day_axis(ax, r, text)
    palette = [SCOPE2_MARKET, SCOPE1, SCOPE2_LOCATION, HEAT, "#66a61e"]
    for k, i in enumerate(r.intensity):
        ys = np.array([np.nan if v is None else v for v in i.daily_market])
        ax.plot(
            xs,
            ys,
            marker="o",
            ms=3.5,
            color=palette[k % len(palette)],
            label=f"{text.name(i.site)} (tCO2e/{i.unit})",
        )
    ax.set_title(tr("report.per-day-market"), fontsize=10, loc="left")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="y", color="#e0e0e0", zorder=0)
    if all(v is None for i in r.intensity for v in i.daily_market):
        _no_data(ax, tr("report.chart-empty-intensity"))

    rows = [
        (
            text.name(i.site),
            f"{figure(i.production, TABLE_DECIMALS)} {i.unit}",
            figure(i.market.emissions_t, TABLE_DECIMALS),
            "-" if i.market.value is None else figure(i.market.value, 4),
            figure(i.location.emissions_t, TABLE_DECIMALS),
            "-" if i.location.value is None else figure(i.location.value, 4),
        )
        for i in r.intensity
    ]
    ax = fig.add_axes((0.03, 0.12, 0.94, 0.2))
    _table(
        ax,
        [
            tr("report.col-site"),
            tr("report.col-production"),
            tr("report.col-s1s2-market-t"),
            tr("report.col-market-per-unit"),
            tr("report.col-s1s2-location-t"),
            tr("report.col-location-per-unit"),
        ],
        rows,
        None,
        8.5,
        ["left", *["right"] * 5],
    )


# --- page 6: coverage ------------------------------------------------------------------


def _coverage(fig: Figure, r: MonthlyReport, text: _Text) -> None:
    inv = r.inventory
    tr = text.t
    _heading(fig, tr("report.coverage"), tr("report.coverage-sub"))
    acts = inv.activity
    ax = fig.add_axes((0.18, 0.5, 0.5, 0.31))
    if not acts:
        _no_data(ax, tr("report.chart-empty-coverage"))
        _no_data(fig.add_axes((0.18, 0.1, 0.72, 0.32)), tr("report.chart-empty-coverage"))
        return
    y = np.arange(len(acts))[::-1]
    month = [a.coverage_pct for a in acts]
    data = [r.coverage_on_data_days.get(a.meter, 0.0) for a in acts]
    b1 = ax.barh(
        y + 0.2, data, 0.4, color=SCOPE2_MARKET, label=tr("report.of-days-with-data"), zorder=2
    )
    b2 = ax.barh(y - 0.2, month, 0.4, color=SCOPE2_LOCATION, label=tr("report.of-month"), zorder=2)
    # A bar of 0.1 % is invisible: its figure stands beside it.
    ax.bar_label(b1, fmt=_label(1), fontsize=6.5, padding=2)
    ax.bar_label(b2, fmt=_label(1), fontsize=6.5, padding=2)
    ax.set_yticks(y, [text.name(a.meter) for a in acts])
    ax.set_xlim(0, 100)
    ax.set_xlabel(tr("report.pct-covered"))
    ax.legend(fontsize=8, frameon=False, loc="lower right", bbox_to_anchor=(1, 1.0), ncols=2)
    ax.grid(axis="x", color="#e0e0e0", zorder=0)
    for yy, a in zip(y, acts, strict=True):
        flags = ", ".join(
            text.code("flag", f)
            for f in a.flags
            if f not in ("factor_fallback", "unverified_factor")
        )
        if flags:
            ax.text(112, yy, flags, fontsize=7, va="center", color="#444444")

    ax = fig.add_axes((0.18, 0.1, 0.72, 0.32))
    grid = np.array([r.meter_coverage.get(a.meter, [0.0] * len(r.days)) for a in acts])
    im = ax.imshow(
        grid if len(acts) else np.zeros((1, len(r.days))),
        aspect="auto",
        cmap="YlGn",
        vmin=0,
        vmax=100,
        interpolation="nearest",
        extent=(0.5, len(r.days) + 0.5, len(acts) - 0.5, -0.5),
    )
    ax.set_yticks(np.arange(len(acts)), [text.name(a.meter) for a in acts])
    ax.set_xticks(np.arange(1, len(r.days) + 1, 2 if len(r.days) > 16 else 1))
    ax.set_xlabel(tr("report.day-of", month=text.month(r.days[0])))
    ax.set_title(tr("report.coverage-per-day"), fontsize=10, loc="left")
    cbar = fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    cbar.set_label("%")


# --- pages 7..: factors ----------------------------------------------------------------

_FACTOR_COLUMNS = [
    "report.col-factor",
    "report.col-role",
    "report.col-value",
    "report.col-source",
    "report.col-table",
    "report.col-year",
    "report.col-verified",
    "report.col-used-by",
    "report.col-fallback",
]
_FACTOR_WIDTHS = [0.17, 0.08, 0.09, 0.3, 0.08, 0.04, 0.055, 0.135, 0.05]
_FACTOR_BOX = (0.03, 0.07, 0.94, 0.78)
_FACTOR_FONT = 6.8


def _factor_pages(r: MonthlyReport, text: _Text) -> list[list[tuple[str, ...]]]:
    """The factor rows split into pages by their wrapped height."""
    rows: list[tuple[str, ...]] = [
        (
            f"{f.factor_id}@v{f.version}",
            f.role,
            f"{f.value:.6g} {f.unit}",
            text(f.source),
            text(f.table),
            "" if f.data_year is None else str(f.data_year),
            f.verified,
            ", ".join(text.name(u) for u in f.used_by),
            text.t("report.fallback-yes") if f.fallback else "",
        )
        for f in r.inventory.factors
    ]
    width_in, height_in = _FACTOR_BOX[2] * A4_LANDSCAPE[0], _FACTOR_BOX[3] * A4_LANDSCAPE[1]
    columns = [text.t(c) for c in _FACTOR_COLUMNS]
    cells, _ = _cells(columns, rows, _FACTOR_WIDTHS, width_in, _FACTOR_FONT)
    per_line = _FACTOR_FONT * 1.6 / 72
    budget = height_in / per_line - (_lines(cells[0]) + 0.5)
    heights = [_lines(wrapped) + 0.5 for wrapped in cells[1:]]
    pages = _rows_into_pages(rows, heights, budget)
    if len(pages) > 1:
        # Balance the pages, so the last is not a near-empty one with a row or two.
        balanced = _rows_into_pages(rows, heights, min(budget, 1.1 * sum(heights) / len(pages)))
        if len(balanced) == len(pages):
            pages = balanced
    return pages


def _rows_into_pages(
    rows: list[tuple[str, ...]], heights: list[float], budget: float
) -> list[list[tuple[str, ...]]]:
    pages: list[list[tuple[str, ...]]] = [[]]
    used = 0.0
    for row, n in zip(rows, heights, strict=True):
        if pages[-1] and used + n > budget:
            pages.append([])
            used = 0.0
        pages[-1].append(row)
        used += n
    return pages


def _factors(
    fig: Figure, r: MonthlyReport, rows: list[tuple[str, ...]], k: int, n: int, text: _Text
) -> None:
    more = text.t("report.factors-more", k=k, n=n) if n > 1 else ""
    _heading(fig, text.t("report.factors-used", more=more), text.t("report.factors-sub"))
    ax = fig.add_axes(_FACTOR_BOX)
    columns = [text.t(c) for c in _FACTOR_COLUMNS]
    _table(ax, columns, rows, _FACTOR_WIDTHS, _FACTOR_FONT, none=text.t("report.none"))


# --- last page: data quality and evidence ----------------------------------------------


def _energy(fig: Figure, r: MonthlyReport, text: _Text) -> None:
    """Comprehensive energy (GB/T 2589) of the month and the top reduction opportunities."""
    e = r.energy
    assert e is not None
    tr = text.t
    _heading(fig, tr("energy.report-title"), tr("energy.report-sub"))

    def per_unit(t: dict[str, object]) -> str:
        v = t.get("tce_per_unit")
        return "-" if not isinstance(v, float) else f"{v:,.4f} tce/{t.get('production_unit')}"

    rows = [
        (
            text.name(name),
            figure(float(str(t["total_tce"])), TABLE_DECIMALS),
            figure(float(str(t["total_equal_tce"])), TABLE_DECIMALS),
            figure(float(str(t["onsite_renewable_tce"])), TABLE_DECIMALS),
            figure(float(str(t["green_power_mwh"])), TABLE_DECIMALS),
            figure(float(str(t["total_excl_green_tce"])), TABLE_DECIMALS),
            per_unit(t),
        )
        for name, t in [*e.sites.items(), (tr("energy.report-plant"), e.plant)]
    ]
    ax = fig.add_axes((0.03, 0.55, 0.94, 0.3))
    _table(
        ax,
        [
            tr("report.col-site"),
            tr("energy.col-total"),
            tr("energy.col-total-equal"),
            tr("energy.col-onsite"),
            tr("energy.col-green-mwh"),
            tr("energy.col-excl-green"),
            tr("energy.col-per-unit"),
        ],
        rows,
    )
    lang = str(text.locale)
    ops = [
        (
            str(o["rank"]),
            o["title"][lang],
            o["meter"] or text.name(o["site"]),
            o["hours"],
            figure(o["tco2e_per_year"], 2),
            "-" if o["cost_yuan_per_year"] is None else figure(o["cost_yuan_per_year"], 0),
        )
        for o in e.opportunities
    ]
    fig.text(
        0.03,
        0.5,
        tr(
            "energy.report-opportunities",
            start=e.window_start.date().isoformat(),
            end=e.window_end.date().isoformat(),
        ),
        fontsize=11,
        weight="bold",
    )
    ax = fig.add_axes((0.03, 0.12, 0.94, 0.36))
    _table(
        ax,
        [
            "#",
            tr("energy.col-finding"),
            tr("energy.col-meter"),
            tr("energy.col-hours"),
            tr("energy.col-t-per-year"),
            tr("energy.col-yuan-per-year"),
        ],
        ops,
        none=tr("energy.no-opportunities"),
    )
    if e.unverified:
        fig.text(
            0.03,
            0.07,
            _fill(tr("energy.unverified-note", ids=", ".join(e.unverified)), 190),
            fontsize=7,
            color="#444444",
            va="top",
        )


def _quality(fig: Figure, r: MonthlyReport, text: _Text) -> None:
    _heading(fig, text.t("report.quality"), text.t("report.quality-sub"))
    wrapped: list[str] = []
    notes = [
        m.render(text.locale) if isinstance(m, Msg) else m for m in r.quality_msgs
    ] or r.quality
    for note in notes:
        lines = _fill(note, 146).split("\n")  # breaks Chinese too (no spaces)
        wrapped += ["• " + lines[0], *("   " + line for line in lines[1:])]
    size = 8 if len(wrapped) <= 40 else 7 if len(wrapped) <= 48 else 6
    shown = wrapped[:56]
    if len(wrapped) > len(shown):
        shown.append(text.t("report.quality-more", n=len(wrapped) - len(shown)))
    fig.text(0.03, 0.84, "\n".join(shown), fontsize=size, va="top", linespacing=1.35)
    _evidence_box(fig, r, 0.03, 0.16, text)


def _per_unit(t: float, quantity: float) -> str:
    """tCO2e over a quantity, as kgCO2e per unit."""
    return figure(t * 1000 / quantity, 1) if quantity > 0 else "-"


def _footprints(fig: Figure, r: MonthlyReport, text: _Text) -> None:
    """Product carbon footprints of the lots finished in the month (docs/footprint.md)."""
    _heading(fig, text.t("footprint.report-title"), text.t("footprint.report-sub"))
    cols = [
        text.t(f"footprint.col-{c}")
        for c in (
            "product",
            "lots",
            "quantity",
            "per-unit-market",
            "per-unit-location",
            "materials",
            "energy",
            "transport",
        )
    ]
    zh = text.locale == Locale.ZH_CN
    rows = []
    for f in r.footprints:
        q = f.quantity
        rows.append(
            [
                f.name_zh if zh else f.name_en,
                str(f.lots),
                f"{figure(q, TABLE_DECIMALS)} {f.declared_unit}",
                figure(f.parts.kgco2e_per_unit_market, 1) if f.lots else "-",
                figure(f.parts.kgco2e_per_unit_location, 1) if f.lots else "-",
                _per_unit(f.parts.materials_t, q),
                _per_unit(f.parts.energy_market_t, q),
                _per_unit(f.parts.transport_t, q),
            ]
        )
    ax = fig.add_axes((0.03, 0.35, 0.94, 0.45))
    ax.axis("off")
    table = ax.table(cellText=rows, colLabels=cols, loc="upper left", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(8.5)
    table.scale(1, 1.6)
    notes = sorted({e for f in r.footprints for e in f.exclusions})
    fig.text(
        0.03,
        0.3,
        "\n".join(_fill(text.t("footprint.not-counted", what=e), 170) for e in notes[:8]),
        fontsize=7.5,
        va="top",
        color="#444444",
    )
