"""The public disclosure page, rendered on the server from the signed document (no
script: the page holds exactly what the JSON holds), in Chinese or English."""

from __future__ import annotations

import html
from typing import Any

from carbonstream.footprint.text import Lang, t


def _num(v: object, digits: int = 2) -> str:
    if v is None:
        return "—"
    if isinstance(v, float | int):
        return f"{v:,.{digits}f}"
    return html.escape(str(v))


def _pct(share: object) -> str:
    return _num(None if share is None else 100 * float(share), 1)  # type: ignore[arg-type]


def render_page(doc: dict[str, Any], lang: Lang) -> str:
    e = html.escape
    other = "en" if lang == "zh" else "zh"
    rows = "".join(
        f"<tr><td>{e(m['month'])}</td><td>{_num(m['scope1_t'])}</td>"
        f"<td>{_num(m['scope2_location_t'])}</td><td>{_num(m['scope2_market_t'])}</td>"
        f"<td>{_num(m['energy_tce'])}</td>"
        f"<td>{_pct(m['green_electricity_share'])}</td></tr>"
        for m in doc["months"]
    )
    y = doc["year_total"]
    rows += (
        f"<tr><th>{t('year_total', lang)}</th><th>{_num(y['scope1_t'])}</th>"
        f"<th>{_num(y['scope2_location_t'])}</th><th>{_num(y['scope2_market_t'])}</th>"
        f"<th>{_num(y['energy_tce'])}</th><th>{_pct(y['green_electricity_share'])}</th></tr>"
    )
    offsets = (
        "".join(
            f"<li>{e(o['registry'])} · {e(o['project'])} · {e(o['serials'])} · "
            f"{_num(o['tco2e'])} tCO2e · {e(o['retired_on'])}</li>"
            for o in doc["offsets_retired"]
        )
        or "<li>—</li>"
    )
    zc = doc["zero_carbon"]
    products = (
        "".join(
            f"<li>{e(p['name'][lang])}: {_num(p['kgco2e_per_unit_market'])} kgCO2e / "
            f"{e(p['declared_unit'])} ({_num(p['kgco2e_per_unit_location'])} "
            f"{t('location_based', lang)}; {p['lots']} {t('lots', lang)})</li>"
            for p in doc["products"]
        )
        or "<li>—</li>"
    )
    method = "".join(f"<li>{e(m)}</li>" for m in doc["methodology"])
    head = doc["evidence_chain_head"]
    chain = "—" if head is None else f"{e(head['day'])} · sha256 {e(head['sha256'])}"
    slug = e(doc["slug"])
    return f"""<!doctype html>
<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<title>{t("disclosure", lang)} · {e(doc["plant"])} · {doc["year"]}</title></head>
<body>
<p><a href="?lang={other}&amp;year={doc["year"]}">{"English" if lang == "zh" else "中文"}</a></p>
<h1>{t("disclosure", lang)}: {e(doc["plant"])}, {doc["year"]}</h1>
<table>
<tr><th>{t("month", lang)}</th><th>{t("scope1", lang)} tCO2e</th>
<th>{t("scope2_location", lang)} tCO2e</th><th>{t("scope2_market", lang)} tCO2e</th>
<th>{t("energy_tce", lang)}</th><th>{t("green_share", lang)} %</th></tr>
{rows}
</table>
<p>{e(doc["energy_note"])}</p>
<h2>{t("offsets", lang)}</h2><ul>{offsets}</ul>
<h2>{t("zero_carbon", lang)}</h2>
<p>{_num(zc["gross_t"])} − {_num(zc["offsets_retired_t"])} = {_num(zc["net_t"])} tCO2e
({e(zc["scope2_basis"])}): {"✔" if zc["zero_carbon"] else "✘"}</p>
<h2>{t("products", lang)}</h2><ul>{products}</ul>
<h2>{t("methodology", lang)}</h2><ul>{method}</ul>
<h2>{t("evidence", lang)}</h2><p>{chain}</p>
<h2>{t("signature", lang)}</h2>
<p><a href="/public/{slug}/disclosure.json?year={doc["year"]}">disclosure.json</a> ·
<a href="/public/{slug}/disclosure.json.sig?year={doc["year"]}">disclosure.json.sig</a> ·
<a href="/public/{slug}/disclosure.pub.pem">disclosure.pub.pem</a></p>
<p>{t("verify_with", lang)}: <code>openssl pkeyutl -verify -pubin -inkey disclosure.pub.pem -rawin
-in disclosure.json -sigfile disclosure.json.sig</code></p>
</body></html>
"""
