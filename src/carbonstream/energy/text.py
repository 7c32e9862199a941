"""What people read about energy findings, in zh-CN and en: the catalogue's ``energy.*``
entries (``data/i18n/energy.yaml``), as the ``{"zh", "en"}`` pairs the API returns."""

from __future__ import annotations

from typing import Final

from carbonstream.i18n import Locale, t

Text = dict[str, str]

KINDS: Final = ("idle_load", "drift", "demand_peak", "flexible_peak")
LABEL_NAMES: Final = (
    "opportunities",
    "tco2e_per_year",
    "cost_per_year",
    "energy_per_year",
    "evidence",
    "none",
    "comprehensive_energy",
)


def _pair(key: str) -> Text:
    return {"zh": t(key, Locale.ZH_CN), "en": t(key, Locale.EN)}


TEXT: Final[dict[str, dict[str, Text]]] = {
    kind: {"title": _pair(f"energy.{kind}.title"), "action": _pair(f"energy.{kind}.action")}
    for kind in KINDS
}

LABELS: Final[dict[str, Text]] = {name: _pair(f"energy.label.{name}") for name in LABEL_NAMES}
