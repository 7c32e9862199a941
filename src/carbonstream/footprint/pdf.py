"""The footprint declaration as a PDF, labelled in Chinese and English (matplotlib text
pages, like the monthly report: no system dependency beyond an optional CJK font)."""

from __future__ import annotations

import io
import json
import textwrap
from typing import Any

import matplotlib as mpl
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from carbonstream.fonts import cjk_font as _cjk_font
from carbonstream.fonts import quiet_font_lookup as _quiet_font_lookup
from carbonstream.footprint.text import both

A4 = (8.27, 11.69)
LINES_PER_PAGE = 58


def _lines(d: dict[str, Any]) -> list[tuple[str, str]]:
    """(style, text) lines: headings bold, values wrapped."""
    r = d["result"]
    out: list[tuple[str, str]] = [("h1", both("declaration"))]

    def kv(label: str, value: object) -> None:
        for i, chunk in enumerate(textwrap.wrap(f"{label}: {value}", 95) or [""]):
            out.append(("t", chunk if i == 0 else "    " + chunk))

    def head(key: str) -> None:
        out.append(("h2", both(key)))

    kv(both("standards"), "; ".join(d["standards"]))
    kv(both("organisation"), d["organisation"])
    p = d["product"]
    kv(both("product"), f"{p['name']['zh']} / {p['name']['en']} ({p['id']})")
    kv(both("declared_unit"), d["declared_unit"])
    kv(both("period"), f"{d['period']['start']} .. {d['period']['end']}")
    head("result")
    per = r["kgco2e_per_declared_unit"]
    kv(both("per_unit_market"), f"{per['market_based_electricity']:,.2f}")
    kv(both("per_unit_location"), f"{per['location_based_electricity']:,.2f}")
    kv("GWP", r["gwp"])
    kv(both("lots"), f"{r['lots']} ({r['quantity']:,.3f} {d['declared_unit'][2:]})")
    head("by_stage")
    for k, v in r["by_stage_tco2e"].items():
        kv(both(k), f"{v:,.3f} tCO2e")
    head("boundary")
    for x in d["system_boundary"]["included"]:
        kv("+", x)
    for x in d["system_boundary"]["excluded"]:
        kv("-", x)
    head("allocation")
    kv("order", d["allocation"]["standard_order"])
    for ln in d["allocation"]["lines"]:
        kv(ln["line"], f"{ln['method']}: {ln['justification']}")
    kv("time", d["allocation"]["time_resolution"])
    head("data_quality")
    dq = d["data_quality"]
    kv("energy", dq["energy"] + "; meters " + ", ".join(dq["meters"]))
    kv("supplier-specific share of materials", f"{dq['supplier_specific_share_of_materials']:.1%}")
    kv("factor marks", json.dumps(dq["factor_verification_marks"]))
    kv("review", dq["critical_review"])
    head("exclusions")
    for x in d["exclusions"]:
        kv("-", x)
    head("factors")
    for f in d["factors"]:
        kv(
            f"{f['id']}@{f['version']}",
            f"{f['value']} {f['unit']} ({f['data_type']}; {f['supplier'] or f['database']}; "
            f"mark {f['verified']})",
        )
    out.append(("t", ""))
    out.append(("small", f"{d['generator']} · {d['generated_at']}"))
    return out


def render(d: dict[str, Any]) -> bytes:
    lines = _lines(d)
    pages = [lines[i : i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)]
    with _quiet_font_lookup():
        cjk = _cjk_font()
        family = ["DejaVu Sans", cjk]
        buf = io.BytesIO()
        rc = mpl.rc_context({"pdf.fonttype": 42, "font.family": family, "font.size": 8})
        meta = {"Title": f"Carbon footprint declaration {d['product']['id']}"}
        with rc, PdfPages(buf, metadata=meta) as pdf:
            for n, page in enumerate(pages, start=1):
                fig = Figure(figsize=A4)
                y = 0.96
                for style, text in page:
                    size, weight = {"h1": (12, "bold"), "h2": (10, "bold")}.get(
                        style, (7 if style == "small" else 8, "normal")
                    )
                    fig.text(0.06, y, text, fontsize=size, weight=weight, va="top")
                    y -= 0.0165 if style == "t" else 0.022
                fig.text(0.94, 0.02, f"{n} / {len(pages)}", fontsize=7, ha="right")
                pdf.savefig(fig)
        return buf.getvalue()
