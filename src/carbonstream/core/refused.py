"""Footprint inputs refused as a whole: every problem of a file or request at once, and a
header that does not fit, each said as a catalogue message (zh-CN and en)."""

from __future__ import annotations

from carbonstream.i18n import Msg
from carbonstream.refusals import FootprintInputError

MAX_LISTED = 50  # problems written into the detail; ``problems`` keeps them all


def listed(problems: list[Msg]) -> FootprintInputError:
    """All problems of an input at once: the first MAX_LISTED in the detail (a single one
    as it is), all in ``problems``."""
    if len(problems) == 1:
        return FootprintInputError(problems[0])
    items = tuple(problems[:MAX_LISTED])
    return FootprintInputError(Msg("problems.detail.footprint-list", {"items": items}), problems)


def column_parts(
    columns: tuple[str, ...], found: list[str], required: tuple[str, ...]
) -> dict[str, object] | None:
    """A header that does not fit said as ``columns``, ``missing`` and ``unknown`` message
    parameters (the caller's message names the file), or None when it fits."""
    missing = [c for c in required if c not in found]
    unknown = [c for c in found if c not in columns]
    if not (missing or unknown):
        return None
    return {
        "columns": ",".join(columns),
        "missing": Msg("problems.detail.columns-missing", {"names": missing}) if missing else "",
        "unknown": Msg("problems.detail.columns-unknown", {"names": unknown}) if unknown else "",
    }
