"""One root for every error carbonstream raises on purpose.

Each stage decides what an error means for it: *fatal* errors (bad config,
unknown factor) stop a command at start with the field and the reason;
*transient* ones (a device timeout, a broker outage) are flagged, retried and
logged once by the stage that owns them.
"""

from __future__ import annotations


class CarbonstreamError(Exception):
    """Base class: catch this to handle any carbonstream failure."""


class ConfigError(CarbonstreamError):
    """A configuration file is invalid. Fix the named field and start again."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration in {source}:\n{lines}")


class FactorError(CarbonstreamError):
    """An emission factor is missing, ambiguous or malformed in the factor library."""


class FactorOverlapError(FactorError):
    """Two factors of one series cover the same date: a lookup would pick one silently."""

    def __init__(self, message: str, first: str, second: str, series: str, region: str) -> None:
        super().__init__(message)
        self.first, self.second, self.series, self.region = first, second, series, region


class ReadingsError(CarbonstreamError):
    """A readings file or batch cannot be used as given (bad row, unknown meter)."""
