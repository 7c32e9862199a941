"""The meter a point feeds and its unit: the one check every protocol makes of its points.

A point names a plant meter. With a plant file the meter must be one of this
gateway's site and the published unit is the meter's; without one the point
gives its unit (or the protocol knows it from a profile).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from carbonstream.errors import ConfigError
from carbonstream.gateway.source import PointConfig, Site

P = TypeVar("P", bound=PointConfig)
R = TypeVar("R")


def meter_unit(site: Site, meter: str, given: str | None, source: str | None = None) -> str:
    """The unit a point's readings are published in; ConfigError naming the field if none fits.

    ``given`` is the point's own ``unit``; ``source`` is what the device reports in, when
    the protocol knows it (a profile's unit), used when there is no plant.
    """
    plant = site.plant
    if plant is None:
        unit = given or source
        if unit is None:
            raise ConfigError("", ["unit: without a plant file every point needs 'unit'"])
        return unit
    m = next((x for x in plant.meters if x.id == meter), None)
    if m is None:
        raise ConfigError("", [f"meter: {meter!r} is not a meter of plant {plant.name!r}"])
    if m.site != site.id:
        raise ConfigError(
            "", [f"meter: {meter!r} is at site {m.site!r}, not this gateway's {site.id!r}"]
        )
    if given is not None and given != m.unit:
        raise ConfigError("", [f"unit: {given!r} differs from the plant's unit {m.unit!r}"])
    return m.unit


def resolve_each(points: Sequence[P], resolve: Callable[[P], R]) -> list[R]:
    """Every point resolved, or one ConfigError listing each bad point's problems as
    ``points[i] (meter 'm').field: reason``."""
    out: list[R] = []
    problems: list[str] = []
    for i, p in enumerate(points):
        try:
            out.append(resolve(p))
        except ConfigError as e:
            problems.extend(f"points[{i}] (meter {p.meter!r}).{x}".rstrip(".") for x in e.problems)
    if problems:
        raise ConfigError("", problems)
    return out
