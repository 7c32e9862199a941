"""Grafana's PostgreSQL query expansion, as Grafana does it, for testing dashboard SQL.

Two steps, like Grafana: the frontend replaces template variables and
``$__interval`` / ``$__interval_ms`` (multi-value and include-all variables
become single-quoted, comma-separated lists); the backend then expands the
macros (``pkg/tsdb/grafana-postgresql-datasource/macros.go``):

    $__time(c)                 c AS "time"
    $__timeEpoch(c)            extract(epoch from c) AS "time"
    $__timeFilter(c)           c BETWEEN '<from>' AND '<to>'      (RFC 3339, UTC)
    $__timeFrom(), $__timeTo() '<from>', '<to>'
    $__timeGroup(c, 5m)        floor(extract(epoch from c)/300)*300
    $__timeGroupAlias(c, 5m)   the same AS "time"
    $__unixEpochFilter(c)      c >= <from s> AND c <= <to s>

Anything still looking like ``$__name`` or ``$name`` after that is an error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_MACRO = re.compile(r"\$(__[_a-zA-Z0-9]+)\(([^\)]*)\)")
_VAR = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)\]\]|\$(\w+)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
# Grafana's roundInterval (kbn): the raw interval -> a nice one, in ms.
_ROUND = [
    (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000),
    (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000),
    (45000, 30000), (90000, 60000), (210000, 120000), (450000, 300000),
    (750000, 600000), (1050000, 900000), (1500000, 1200000), (2700000, 1800000),
    (5400000, 3600000), (9000000, 7200000), (16200000, 10800000), (32400000, 21600000),
    (86400000, 43200000), (604800000, 86400000), (1814400000, 604800000),
    (3628800000, 2592000000),
]  # fmt: skip


class ExpansionError(ValueError):
    pass


def parse_interval(text: str) -> float:
    """'5m' -> 300.0 seconds (Grafana's gtime.ParseInterval for the units used here)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)\s*", text)
    if not m:
        raise ExpansionError(f"not an interval: {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def format_interval(ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def panel_interval_ms(range_s: float, min_interval: str | None, max_points: int = 1000) -> int:
    """Grafana's interval: range / max data points, rounded, at least the minimum interval."""
    raw = range_s * 1000 / max_points
    ms = next((nice for limit, nice in _ROUND if raw <= limit), 31_536_000_000)
    if min_interval:
        ms = max(ms, int(parse_interval(min_interval) * 1000))
    return ms


@dataclass(frozen=True)
class Variable:
    name: str
    values: Sequence[str]
    quoted: bool  # multi-value or include-all: Grafana single-quotes each value


def _quote(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def _rfc3339(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def replace_variables(
    sql: str, variables: Mapping[str, Variable], interval_ms: int, range_ms: int
) -> str:
    builtins = {
        "__interval": format_interval(interval_ms),
        "__interval_ms": str(interval_ms),
        "__range_ms": str(range_ms),
        "__range_s": str(range_ms // 1000),
    }

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3) or m.group(4)
        fmt = m.group(2)
        if name in builtins:
            return builtins[name]
        if name.startswith("__"):
            return m.group(0)  # a macro, for the second step
        var = variables.get(name)
        if var is None:
            raise ExpansionError(f"unknown template variable ${name}")
        if fmt == "raw" or not var.quoted:
            return ",".join(var.values)
        if fmt not in (None, "sqlstring", "singlequote"):
            raise ExpansionError(f"format :{fmt} not supported here")
        return ",".join(_quote(v) for v in var.values)

    return _VAR.sub(sub, sql)


def expand_macros(sql: str, start: dt.datetime, end: dt.datetime) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        args = [a.strip() for a in m.group(2).split(",")] if m.group(2).strip() else []
        if name == "__time":
            return f'{args[0]} AS "time"'
        if name == "__timeEpoch":
            return f'extract(epoch from {args[0]}) AS "time"'
        if name == "__timeFilter":
            return f"{args[0]} BETWEEN '{_rfc3339(start)}' AND '{_rfc3339(end)}'"
        if name == "__timeFrom":
            return f"'{_rfc3339(start)}'"
        if name == "__timeTo":
            return f"'{_rfc3339(end)}'"
        if name in ("__timeGroup", "__timeGroupAlias"):
            if len(args) < 2:
                raise ExpansionError(f"${name} needs a column and an interval")
            s = parse_interval(args[1])
            expr = f"floor(extract(epoch from {args[0]})/{s:g})*{s:g}"
            return expr + (' AS "time"' if name == "__timeGroupAlias" else "")
        if name == "__unixEpochFilter":
            return f"{args[0]} >= {int(start.timestamp())} AND {args[0]} <= {int(end.timestamp())}"
        raise ExpansionError(f"macro ${name} not supported")

    out = _MACRO.sub(sub, sql)
    left = re.search(r"\$\w+|\[\[\w+\]\]", out)
    if left:
        raise ExpansionError(f"left unexpanded: {left.group(0)}")
    return out


def expand(
    sql: str,
    variables: Mapping[str, Variable],
    start: dt.datetime,
    end: dt.datetime,
    min_interval: str | None,
) -> str:
    range_s = (end - start).total_seconds()
    interval_ms = panel_interval_ms(range_s, min_interval)
    return expand_macros(
        replace_variables(sql, variables, interval_ms, int(range_s * 1000)), start, end
    )
