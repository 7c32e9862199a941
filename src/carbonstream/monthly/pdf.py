"""The monthly report as a PDF: A4 landscape pages drawn with matplotlib (PdfPages).

Pages: summary; emissions by scope per day; Scope 2 both ways per site; top
sources; intensity; data coverage per meter; the factors used; data-quality
notes and evidence. Figures are drawn without pyplot (no global figure state),
and rendering is serialised by a lock because rcParams are process-wide.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import re
import textwrap
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.table import Table

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
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+")
_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei")
_TOKENS = re.compile(
    r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]|[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]+\s*|\s+"
)
_CJK_FILES = ("notosanscjk", "wqy-microhei", "wqy-zenhei")


@functools.cache
def _cjk_font() -> str | None:
    """A CJK font matplotlib can use: known to its font cache, or installed since the cache
    was built (Debian: fonts-wqy-microhei, fonts-noto-cjk), added once per process."""
    known = {f.name for f in font_manager.fontManager.ttflist}
    found = next((f for f in _CJK_FONTS if f in known), None)
    if found is not None:
        return found
    for path in font_manager.findSystemFonts():
        if any(k in Path(path).name.lower() for k in _CJK_FILES):
            with contextlib.suppress(OSError, RuntimeError, ValueError):
                font_manager.fontManager.addfont(path)
    known = {f.name for f in font_manager.fontManager.ttflist}
    return next((f for f in _CJK_FONTS if f in known), None)


class _Text:
    """Chinese text (factor sources) is drawn with a CJK font when one is installed;
    without one it is replaced by a marker, and the page says so (the XLSX keeps it)."""

    def __init__(self) -> None:
        self.cjk = _cjk_font()
        self.dropped = False

    def __call__(self, s: object) -> str:
        text = str(s)
        if self.cjk is None and _CJK.search(text):
            self.dropped = True
            return _CJK.sub("[…]", text)
        return text


def _fmt(v: float, digits: int = 3) -> str:
    return f"{v:,.{digits}f}"


def render_pdf(report: MonthlyReport) -> bytes:
    """The report as PDF bytes."""
    with _LOCK, _quiet_font_lookup():
        text = _Text()
        family = ["DejaVu Sans", *([text.cjk] if text.cjk else [])]
        pages: list[Callable[[Figure], None]] = [
            lambda f: _summary(f, report, text),
            lambda f: _by_scope(f, report),
            lambda f: _scope2(f, report, text),
            lambda f: _sources(f, report, text),
            lambda f: _intensity(f, report),
            lambda f: _coverage(f, report),
        ]
        chunks = _factor_pages(report, text)
        pages += [
            partial(_factors, r=report, rows=rows, k=k, n=len(chunks), text=text)
            for k, rows in enumerate(chunks, start=1)
        ]
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
        with rc, PdfPages(buf, metadata=_metadata(report)) as pdf:
            for i, draw in enumerate(pages, start=1):
                fig = Figure(figsize=A4_LANDSCAPE)
                draw(fig)
                _frame(fig, report, i, len(pages), text)
                pdf.savefig(fig)
        return buf.getvalue()


@contextlib.contextmanager
def _quiet_font_lookup() -> Iterator[None]:
    """A CJK font without a bold face is used regular in bold text: not worth a log line
    per lookup."""
    log = logging.getLogger("matplotlib.font_manager")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _metadata(r: MonthlyReport) -> dict[str, Any]:
    return {
        "Title": r.title,
        "Author": "carbonstream",
        "Subject": f"Scope 1 and Scope 2 inventory, {r.month}",
        "Creator": f"carbonstream {r.code_version}".strip(),
    }


def _frame(fig: Figure, r: MonthlyReport, page: int, pages: int, text: _Text) -> None:
    fig.text(0.03, 0.965, text(r.title), fontsize=11, weight="bold", va="top")
    sites = ", ".join(r.inventory.sites)
    fig.text(
        0.97,
        0.965,
        f"{r.days[0]} .. {r.days[-1]} ({r.inventory.timezone}) · sites: {sites}",
        fontsize=8,
        ha="right",
        va="top",
        color="#555555",
    )
    foot = f"carbonstream {r.code_version} · generated {r.generated_at.isoformat()}"
    if text.dropped:
        foot += " · Chinese text omitted (no CJK font installed; the XLSX has it)"
    fig.text(0.03, 0.02, foot, fontsize=7, color="#777777")
    fig.text(0.97, 0.02, f"page {page} of {pages}", fontsize=7, color="#777777", ha="right")


def _heading(fig: Figure, title: str, subtitle: str = "") -> None:
    fig.text(0.03, 0.925, title, fontsize=15, weight="bold", va="top")
    if subtitle:
        fig.text(0.03, 0.885, textwrap.fill(subtitle, 180), fontsize=8.5, color="#444444", va="top")


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
) -> None:
    """A plain table from the top of the axes: columns as wide as given (fractions of the
    axes) or as their longest text, text wrapped to them, rows as high as their text."""
    ax.axis("off")
    if not rows:
        ax.text(0, 1, "none", fontsize=fontsize, va="top", style="italic")
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
    _heading(
        fig,
        "Summary",
        f"{text(inv.plant)} · GWP {inv.gwp} · Scope 1 method {inv.method} · "
        f"net on {inv.net.scope2_basis}-based Scope 2 · all masses in tCO2e",
    )
    certificates = sum(c.allocated_mwh for c in inv.certificates)
    rows: list[tuple[str, str, str]] = [
        ("Scope 1 (direct: fuels)", _fmt(t.scope1_t), "tCO2e"),
        ("Scope 2, location-based (grid average)", _fmt(t.scope2_location_t), "tCO2e"),
        ("Scope 2, market-based (after certificates)", _fmt(t.scope2_market_t), "tCO2e"),
        ("  of which purchased heat and steam", _fmt(t.scope2_heat_t), "tCO2e"),
        ("GHG Protocol total, location-based", _fmt(t.ghg_total_location_t), "tCO2e"),
        ("GHG Protocol total, market-based", _fmt(t.ghg_total_market_t), "tCO2e"),
        ("China total (GB/T 32150, exports deducted)", _fmt(t.cn_total_t), "tCO2e"),
        ("  export deduction", _fmt(t.export_deduction_t), "tCO2e"),
        ("Grid electricity imported", _fmt(t.grid_import_mwh), "MWh"),
        ("  covered by certificates and contracts", _fmt(certificates), "MWh"),
        ("Offsets retired (CCER)", _fmt(inv.net.offsets_t), "tCO2e"),
        (f"Net ({inv.net.scope2_basis}-based, gross less offsets)", _fmt(inv.net.net_t), "tCO2e"),
        (
            "Zero-carbon status",
            "reached" if inv.net.zero_carbon else f"not reached: {_fmt(inv.net.remaining_t)} left",
            "",
        ),
        ("Mean meter coverage of the month", _fmt(inv.coverage_pct, 1), "%"),
    ]
    ax = fig.add_axes((0.03, 0.29, 0.5, 0.56))
    _table(ax, ["item", "value", "unit"], rows, [0.55, 0.33, 0.12], 8.5, ["left", "right", "left"])

    # Per site: totals and the month's budget.
    site_rows = []
    for s in inv.by_site:
        used = "-"
        if s.site in r.budgets:
            budget, basis = r.budgets[s.site]
            value = s.ghg_total_market_t if basis == "market" else s.ghg_total_location_t
            used = f"{_fmt(budget, 0)} t: {100 * value / budget:.0f} % used"
            used += " (location)" if basis == "location" else ""
        site_rows.append(
            (
                s.site,
                _fmt(s.scope1_t),
                _fmt(s.scope2_location_t),
                _fmt(s.scope2_market_t),
                _fmt(s.cn_total_t),
                used,
            )
        )
    ax = fig.add_axes((0.56, 0.62, 0.41, 0.22))
    _table(
        ax,
        ["site", "Scope 1", "S2 location", "S2 market", "China total", "month's budget"],
        site_rows,
        None,
        7.5,
        ["left", "right", "right", "right", "right", "left"],
    )

    # Scope split as a ring: what the month's market-based total is made of.
    ax = fig.add_axes((0.62, 0.3, 0.28, 0.3))
    parts = [
        ("Scope 1", t.scope1_t, SCOPE1),
        ("Scope 2 electricity (market)", t.scope2_market_t - t.scope2_heat_t, SCOPE2_MARKET),
        ("Scope 2 heat", t.scope2_heat_t, HEAT),
    ]
    parts = [p for p in parts if p[1] > 0]
    if parts:
        ax.pie(
            [p[1] for p in parts],
            colors=[p[2] for p in parts],
            labels=[f"{p[0]}\n{_fmt(p[1], 1)} t" for p in parts],
            startangle=90,
            counterclock=False,
            wedgeprops={"width": 0.38, "edgecolor": "white"},
            textprops={"fontsize": 7.5},
        )
        ax.set_title("Market-based total by source type", fontsize=9)
    else:
        ax.axis("off")

    lines = [
        f"Certificates allocated: {len(inv.certificates)} ({_fmt(certificates, 1)} MWh); "
        f"offsets retired: {len(inv.offsets)} ({_fmt(inv.net.offsets_t, 1)} tCO2e).",
        f"Data: {sum(r.has_data)} of {len(r.days)} days with stored data. "
        "Quality notes on the last page.",
    ]
    fig.text(0.03, 0.25, "\n".join(lines), fontsize=8.5, va="top")
    _evidence_box(fig, r, 0.03, 0.17)


def _evidence_box(fig: Figure, r: MonthlyReport, x: float, y: float) -> None:
    c = r.chain
    fig.text(x, y, "Evidence chain head", fontsize=9, weight="bold", va="top")
    if c is None:
        body = (
            "No day of this month is sealed in the readings hash chain yet "
            "(`carbonstream seal` seals closed days)."
        )
        fig.text(x, y - 0.03, body, fontsize=8.5, va="top")
        return
    fig.text(
        x,
        y - 0.03,
        f"sealed through {c.day} ({c.sealed_days} days of the month in the chain, "
        f"{c.readings} readings that day"
        + (f"; {len(c.unsealed)} days with data not sealed" if c.unsealed else "")
        + "); SHA-256 digest of the chain at that day:",
        fontsize=8.5,
        va="top",
    )
    fig.text(x, y - 0.06, c.digest, fontsize=9, family="monospace", va="top")
    fig.text(
        x,
        y - 0.09,
        f"Anchor it: `carbonstream export-evidence --from {r.days[0]} --to {r.days[-1]} "
        "--out DIR` and `carbonstream verify DIR`: the last digest in DIR/chain.json must "
        "equal the one above.",
        fontsize=7.5,
        va="top",
        color="#444444",
    )


# --- page 2: emissions by scope per day ----------------------------------------------


def _day_axis(ax: Axes, r: MonthlyReport) -> np.ndarray[Any, np.dtype[np.int64]]:
    x = np.arange(1, len(r.days) + 1)
    ax.set_xlim(0.4, len(r.days) + 0.6)
    ax.set_xticks(x[::2] if len(x) > 16 else x)
    ax.set_xlabel(f"day of {r.days[0]:%B %Y}")
    for i, h in enumerate(r.has_data):
        if not h:
            ax.axvspan(i + 0.5, i + 1.5, color="#f2f2f2", zorder=0, lw=0)
    return x


def _scope_chart(ax: Axes, r: MonthlyReport, key: str, legend: bool) -> None:
    d = r.daily[key]
    x = _day_axis(ax, r)
    s1 = np.array(d["scope1_t"])
    s2m = np.array(d["scope2_market_t"])
    loc = np.array(d["scope1_t"]) + np.array(d["scope2_location_t"])
    loc = np.where(np.array(r.has_data), loc, np.nan)
    ax.bar(x, s1, color=SCOPE1, label="Scope 1", zorder=2)
    ax.bar(x, s2m, bottom=s1, color=SCOPE2_MARKET, label="Scope 2 market-based", zorder=2)
    ax.plot(
        x,
        loc,
        color=SCOPE2_LOCATION,
        marker="o",
        ms=3.5,
        lw=1.6,
        label="Scope 1 + Scope 2 location-based",
        zorder=3,
    )
    ax.set_ylabel("tCO2e per day")
    ax.grid(axis="y", color="#e0e0e0", zorder=0)
    if legend:
        ax.legend(loc="upper left", fontsize=8, frameon=False, ncols=3)


def _by_scope(fig: Figure, r: MonthlyReport) -> None:
    _heading(
        fig,
        "Emissions by scope, per day",
        "Bars: Scope 1 and market-based Scope 2, stacked (the market-based total); line: "
        "Scope 1 + location-based Scope 2. Grey days have no stored data. Plant-local days.",
    )
    sites = r.inventory.sites
    small = sites if 1 < len(sites) <= 4 else []
    top = fig.add_axes((0.07, 0.47 if small else 0.1, 0.9, 0.36 if small else 0.73))
    _scope_chart(top, r, PLANT, True)
    top.set_title("Plant" if small else ", ".join(sites), fontsize=10, loc="left")
    for k, site in enumerate(small):
        w = 0.9 / len(small)
        ax = fig.add_axes((0.07 + k * w, 0.09, w - 0.05, 0.28))
        _scope_chart(ax, r, site, False)
        ax.set_title(site, fontsize=9, loc="left")
        ax.set_xlabel("")
        if k:
            ax.set_ylabel("")


# --- page 3: Scope 2 both ways ---------------------------------------------------------


def _scope2(fig: Figure, r: MonthlyReport, text: _Text) -> None:
    inv = r.inventory
    _heading(
        fig,
        "Scope 2, both ways, per site",
        "Location-based: grid average factor, certificates never change it. Market-based: "
        "certificates, green-power trades and PPAs first, then the residual factor. "
        "Heat and steam count the same in both.",
    )
    sites = [s.site for s in inv.by_site]
    x = np.arange(len(sites))
    ax = fig.add_axes((0.07, 0.45, 0.4, 0.34))
    loc = [s.scope2_location_t for s in inv.by_site]
    mkt = [s.scope2_market_t for s in inv.by_site]
    b1 = ax.bar(x - 0.2, loc, 0.4, color=SCOPE2_LOCATION, label="location-based", zorder=2)
    b2 = ax.bar(x + 0.2, mkt, 0.4, color=SCOPE2_MARKET, label="market-based", zorder=2)
    ax.bar_label(b1, fmt="%.2f", fontsize=7.5)
    ax.bar_label(b2, fmt="%.2f", fontsize=7.5)
    ax.set_xticks(x, sites)
    ax.set_ylabel("tCO2e")
    ax.set_title("Scope 2 (tCO2e)", fontsize=10, loc="left")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="y", color="#e0e0e0", zorder=0)
    ax.margins(y=0.15)

    ax = fig.add_axes((0.56, 0.45, 0.4, 0.34))
    covered = np.array([s.covered_mwh for s in inv.by_site])
    supplier = np.array([s.supplier_mwh for s in inv.by_site])
    residual = np.array([s.residual_mwh for s in inv.by_site])
    ax.bar(x, covered, 0.5, color=SCOPE2_MARKET, label="covered by instruments", zorder=2)
    ax.bar(x, supplier, 0.5, bottom=covered, color="#66a61e", label="supplier rate", zorder=2)
    ax.bar(
        x, residual, 0.5, bottom=covered + supplier, color=GREY, label="residual factor", zorder=2
    )
    ax.set_xticks(x, sites)
    ax.set_ylabel("MWh")
    ax.set_title("Grid electricity by market-based treatment (MWh)", fontsize=10, loc="left")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="y", color="#e0e0e0", zorder=0)

    rows = [
        (
            s.site,
            _fmt(s.grid_import_mwh),
            _fmt(s.covered_mwh),
            _fmt(s.supplier_mwh),
            _fmt(s.residual_mwh),
            _fmt(s.heat_import_gj),
            _fmt(s.scope2_location_t),
            _fmt(s.scope2_market_t),
        )
        for s in inv.by_site
    ]
    ax = fig.add_axes((0.03, 0.27, 0.94, 0.14))
    _table(
        ax,
        [
            "site",
            "grid MWh",
            "covered MWh",
            "supplier MWh",
            "residual MWh",
            "heat GJ",
            "location tCO2e",
            "market tCO2e",
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
            c.site,
            c.serials or "-",
            f"{c.claim_start}..{c.claim_end}",
            _fmt(c.allocated_mwh),
            _fmt(c.emission_factor_t_per_mwh, 4),
            textwrap.shorten(text(c.source), 48),
        )
        for c in inv.certificates
    ]
    fig.text(
        0.03,
        0.235,
        "Certificates and contracts allocated this month",
        fontsize=9,
        weight="bold",
        va="top",
    )
    ax = fig.add_axes((0.03, 0.07, 0.94, 0.15))
    _table(
        ax,
        ["instrument", "type", "site", "serials", "claim period", "MWh", "tCO2/MWh", "source"],
        certs,
        None,
        7.5,
    )


# --- page 4: top sources ---------------------------------------------------------------


def _category_colour(category: str) -> str:
    return next((c for k, c in CATEGORY_COLOURS.items() if category.startswith(k)), GREY)


def _sources(fig: Figure, r: MonthlyReport, text: _Text) -> None:
    inv = r.inventory
    _heading(
        fig,
        "Top sources",
        "Meters by tCO2e over the month. Electricity at the grid average factor "
        "(location-based; the market-based split is per site, on the Scope 2 page).",
    )
    top = r.sources[:12]
    ax = fig.add_axes((0.18, 0.38, 0.4, 0.44))
    if top:
        y = np.arange(len(top))[::-1]
        bars = ax.barh(
            y, [s.co2e_t for s in top], color=[_category_colour(s.category) for s in top], zorder=2
        )
        ax.bar_label(bars, fmt="%.2f", fontsize=7.5, padding=2)
        ax.set_yticks(y, [f"{s.meter} ({s.site})" for s in top])
        ax.set_xlabel("tCO2e")
        ax.grid(axis="x", color="#e0e0e0", zorder=0)
        ax.margins(x=0.15)
        seen = {s.category.split(" (")[0] for s in top}
        handles = [
            mpl.patches.Patch(color=c, label=k)
            for k, c in CATEGORY_COLOURS.items()
            if any(x.startswith(k) for x in seen)
        ]
        ax.legend(handles=handles, fontsize=8, frameon=False, loc="lower right")
    else:
        ax.axis("off")
        ax.text(0, 0.5, "No emissions stored this month.", fontsize=10)

    total = sum(s.co2e_t for s in r.sources) or 1.0
    rows = [(s.meter, s.category, _fmt(s.co2e_t), f"{100 * s.co2e_t / total:.1f} %") for s in top]
    ax = fig.add_axes((0.62, 0.38, 0.35, 0.44))
    _table(
        ax,
        ["meter", "category", "tCO2e", "share"],
        rows,
        [0.3, 0.4, 0.16, 0.14],
        7.5,
        ["left", "left", "right", "right"],
    )

    fig.text(0.03, 0.31, "Scope 1 by fuel", fontsize=9, weight="bold", va="top")
    fuel_rows = [
        (
            f.fuel,
            f"{_fmt(f.quantity)} {f.unit}",
            _fmt(f.energy_gj),
            _fmt(f.co2_t),
            _fmt(f.ch4_t, 6),
            _fmt(f.ch4_co2e_t),
            _fmt(f.n2o_t, 6),
            _fmt(f.n2o_co2e_t),
            _fmt(f.co2e_t),
            ", ".join(f.meters),
        )
        for f in inv.scope1.by_fuel
    ]
    ax = fig.add_axes((0.03, 0.08, 0.94, 0.2))
    # Gas masses and their CO2e side by side: a tonne of CH4 is 28 tCO2e under AR5.
    _table(
        ax,
        [
            "fuel",
            "quantity",
            "energy GJ",
            "tCO2",
            "tCH4",
            "CH4 tCO2e",
            "tN2O",
            "N2O tCO2e",
            "tCO2e",
            "meters",
        ],
        fuel_rows,
        [0.1, 0.13, 0.08, 0.08, 0.09, 0.09, 0.09, 0.09, 0.08, 0.17],
        8,
        ["left", *["right"] * 8, "left"],
    )


# --- page 5: intensity -----------------------------------------------------------------


def _intensity(fig: Figure, r: MonthlyReport) -> None:
    _heading(
        fig,
        "Emission intensity",
        "tCO2e per unit of product: Scope 1 + Scope 2 over the output of the site's "
        "production meters. Days without production have no value.",
    )
    if not r.intensity:
        fig.text(
            0.05,
            0.6,
            "No production meters at these sites: intensity is not available.\n"
            "Add a meter of kind `production` (t, pcs, ...) to the plant file.",
            fontsize=11,
        )
        return
    ax = fig.add_axes((0.07, 0.45, 0.36, 0.38))
    x = np.arange(len(r.intensity))
    mkt = [i.market.value or 0.0 for i in r.intensity]
    loc = [i.location.value or 0.0 for i in r.intensity]
    b1 = ax.bar(x - 0.2, mkt, 0.4, color=SCOPE2_MARKET, label="market-based", zorder=2)
    b2 = ax.bar(x + 0.2, loc, 0.4, color=SCOPE2_LOCATION, label="location-based", zorder=2)
    ax.bar_label(b1, fmt="%.4f", fontsize=7.5)
    ax.bar_label(b2, fmt="%.4f", fontsize=7.5)
    ax.set_xticks(x, [f"{i.site}\n(tCO2e/{i.unit})" for i in r.intensity])
    ax.set_xlim(-0.5 - 0.5 / len(x), len(x) - 0.5 + 0.5 / len(x))
    ax.set_title("Month", fontsize=10, loc="left")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="y", color="#e0e0e0", zorder=0)
    ax.margins(y=0.15)

    ax = fig.add_axes((0.52, 0.45, 0.45, 0.38))
    xs = _day_axis(ax, r)
    palette = [SCOPE2_MARKET, SCOPE1, SCOPE2_LOCATION, HEAT, "#66a61e"]
    for k, i in enumerate(r.intensity):
        ys = np.array([np.nan if v is None else v for v in i.daily_market])
        ax.plot(
            xs,
            ys,
            marker="o",
            ms=3.5,
            color=palette[k % len(palette)],
            label=f"{i.site} (tCO2e/{i.unit})",
        )
    ax.set_title("Per day, market-based", fontsize=10, loc="left")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="y", color="#e0e0e0", zorder=0)

    rows = [
        (
            i.site,
            f"{_fmt(i.production)} {i.unit}",
            _fmt(i.market.emissions_t),
            "-" if i.market.value is None else _fmt(i.market.value, 4),
            _fmt(i.location.emissions_t),
            "-" if i.location.value is None else _fmt(i.location.value, 4),
        )
        for i in r.intensity
    ]
    ax = fig.add_axes((0.03, 0.12, 0.94, 0.2))
    _table(
        ax,
        [
            "site",
            "production",
            "S1 + S2 market, tCO2e",
            "market, tCO2e/unit",
            "S1 + S2 location, tCO2e",
            "location, tCO2e/unit",
        ],
        rows,
        None,
        8.5,
        ["left", *["right"] * 5],
    )


# --- page 6: coverage ------------------------------------------------------------------


def _coverage(fig: Figure, r: MonthlyReport) -> None:
    inv = r.inventory
    _heading(
        fig,
        "Data coverage per meter",
        "Share of each period covered by counted intervals: gaps, resets and implausible "
        "jumps are missing coverage, never filled in.",
    )
    acts = inv.activity
    ax = fig.add_axes((0.18, 0.5, 0.5, 0.31))
    y = np.arange(len(acts))[::-1]
    month = [a.coverage_pct for a in acts]
    data = [r.coverage_on_data_days.get(a.meter, 0.0) for a in acts]
    ax.barh(y + 0.2, data, 0.4, color=SCOPE2_MARKET, label="of the days with data", zorder=2)
    ax.barh(y - 0.2, month, 0.4, color=SCOPE2_LOCATION, label="of the month", zorder=2)
    ax.set_yticks(y, [a.meter for a in acts])
    ax.set_xlim(0, 100)
    ax.set_xlabel("% covered")
    ax.legend(fontsize=8, frameon=False, loc="lower right", bbox_to_anchor=(1, 1.0), ncols=2)
    ax.grid(axis="x", color="#e0e0e0", zorder=0)
    for yy, a in zip(y, acts, strict=True):
        flags = ", ".join(f for f in a.flags if f not in ("factor_fallback", "unverified_factor"))
        if flags:
            ax.text(101, yy, flags, fontsize=7, va="center", color="#444444")

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
    ax.set_yticks(np.arange(len(acts)), [a.meter for a in acts])
    ax.set_xticks(np.arange(1, len(r.days) + 1, 2 if len(r.days) > 16 else 1))
    ax.set_xlabel(f"day of {r.days[0]:%B %Y}")
    ax.set_title("Coverage per day (%)", fontsize=10, loc="left")
    cbar = fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    cbar.set_label("%")


# --- pages 7..: factors ----------------------------------------------------------------

_FACTOR_COLUMNS = [
    "factor",
    "role",
    "value",
    "source",
    "table",
    "year",
    "verified",
    "used by",
    "fallback",
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
            ", ".join(f.used_by),
            "yes" if f.fallback else "",
        )
        for f in r.inventory.factors
    ]
    width_in, height_in = _FACTOR_BOX[2] * A4_LANDSCAPE[0], _FACTOR_BOX[3] * A4_LANDSCAPE[1]
    cells, _ = _cells(_FACTOR_COLUMNS, rows, _FACTOR_WIDTHS, width_in, _FACTOR_FONT)
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
    more = f" ({k} of {n})" if n > 1 else ""
    _heading(
        fig,
        f"Factors used{more}",
        "Every factor version behind a figure of this month: value in the unit the formula "
        "uses, source document and table, data year, verified mark, fallback (see notes).",
    )
    ax = fig.add_axes(_FACTOR_BOX)
    _table(ax, _FACTOR_COLUMNS, rows, _FACTOR_WIDTHS, _FACTOR_FONT)


# --- last page: data quality and evidence ----------------------------------------------


def _quality(fig: Figure, r: MonthlyReport, text: _Text) -> None:
    _heading(
        fig,
        "Data-quality notes and evidence",
        "Missing data, derived or corrected intervals, fallback and unverified factors; "
        "none of these are hidden in the figures.",
    )
    wrapped: list[str] = []
    for note in r.quality:
        wrapped += textwrap.wrap(text(note), 150, initial_indent="• ", subsequent_indent="   ")
    size = 8 if len(wrapped) <= 40 else 7 if len(wrapped) <= 48 else 6
    shown = wrapped[:56]
    if len(wrapped) > len(shown):
        shown.append(f"… {len(wrapped) - len(shown)} more lines: see the XLSX sheet 'Quality'.")
    fig.text(0.03, 0.84, "\n".join(shown), fontsize=size, va="top", linespacing=1.35)
    _evidence_box(fig, r, 0.03, 0.16)
