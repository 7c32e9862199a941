"""Finding titles and actions in both locales (the catalogue's ``energy`` entries): the
API returns both, so a page or report shows the reader's language without a request."""

from __future__ import annotations

import functools

from carbonstream.i18n import LOCALES, t

KINDS = ("idle_load", "drift", "demand_peak", "flexible_peak")


def both(key: str) -> dict[str, str]:
    """A catalogue entry as {locale: text} for every locale."""
    return {str(loc): t(key, loc) for loc in LOCALES}


@functools.cache
def finding_text(kind: str) -> dict[str, dict[str, str]]:
    return {"title": both(f"energy.{kind}-title"), "action": both(f"energy.{kind}-action")}
