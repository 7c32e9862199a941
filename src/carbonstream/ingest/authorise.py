"""Who may report what: the plant's gateway bindings applied to each message.

A v1 message is accepted only on a topic whose gateway is a gateway of the
plant and whose site is that gateway's site; inside it, a reading only for a
meter bound to that gateway. A Sparkplug B message only from an edge node
(group/node) that ``sparkplug.metrics`` maps to meters. Anything else is
refused with a reason naming gateway, site and meter, and counted by kind
(``carbonstream_ingest_unauthorised_total{reason}``).

A refused reading never reaches the store, so an injected reading cannot take
the (meter, time) of the real one: the real reading, when it comes from its
own gateway, is stored as if the injection had not happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.plant import Plant
from carbonstream.errors import ConfigError
from carbonstream.ingest.settings import SparkplugSettings
from carbonstream.transport.payload import PayloadError

MAX_NAMED = 5  # meters named in a whole-message refusal


class Refusal(StrEnum):
    """Why a reading was refused (the metric's ``reason`` label)."""

    BAD_TOPIC = "bad_topic"  # not carbonstream/v1/{site}/{gateway}/readings
    UNKNOWN_GATEWAY = "unknown_gateway"  # the topic's gateway is not in the plant
    WRONG_SITE = "wrong_site"  # the topic's site is not the gateway's site
    METER_NOT_BOUND = "meter_not_bound"  # the meter belongs to no gateway or another one
    UNMAPPED_NODE = "unmapped_node"  # a Sparkplug edge node with no meter in the map


class UnauthorisedError(PayloadError):
    """A whole message refused: its sender may not report any of it."""

    def __init__(self, reason: str, kind: Refusal, readings: int) -> None:
        super().__init__(reason)
        self.kind = kind
        self.readings = readings


def named(meters: Sequence[str]) -> str:
    """'meters 'a', 'b' and 3 more' for a refusal reason."""
    distinct = list(dict.fromkeys(meters))
    shown = ", ".join(repr(m) for m in distinct[:MAX_NAMED])
    more = len(distinct) - MAX_NAMED
    return f"meters {shown}" + (f" and {more} more" if more > 0 else "") if distinct else "none"


class Bindings:
    """The plant's ``gateways:`` section as arrays over the core's meter index."""

    def __init__(self, plant: Plant) -> None:
        index = {m.id: i for i, m in enumerate(plant.meters)}
        self.meter_ids = [m.id for m in plant.meters]
        self.meter_site = [m.site for m in plant.meters]
        self.gateway_index = {g.id: k for k, g in enumerate(plant.gateways)}
        self.gateway_ids = [g.id for g in plant.gateways]
        self.gateway_site = [g.site for g in plant.gateways]
        self.owner = np.full(len(plant.meters), -1, dtype=np.int32)
        for k, g in enumerate(plant.gateways):
            self.owner[[index[m] for m in g.meters]] = k

    def gateway(self, site: str, gateway: str, meters: Sequence[str]) -> int:
        """The index of the gateway publishing on (site, gateway), or UnauthorisedError for
        a gateway the plant does not have or a site that is not its own."""
        k = self.gateway_index.get(gateway)
        if k is None:
            raise UnauthorisedError(
                f"unauthorised: gateway {gateway!r} (topic site {site!r}) is not in the "
                f"plant's gateways: section; its {len(meters)} readings refused "
                f"({named(meters)})",
                Refusal.UNKNOWN_GATEWAY,
                len(meters),
            )
        own = self.gateway_site[k]
        if site != own:
            raise UnauthorisedError(
                f"unauthorised: gateway {gateway!r} is bound to site {own!r}, not {site!r} "
                f"of its topic; its {len(meters)} readings refused ({named(meters)})",
                Refusal.WRONG_SITE,
                len(meters),
            )
        return k

    def not_bound(self, k: int, meter: NDArray[np.int32]) -> NDArray[np.bool_]:
        """Known meters (index >= 0) that gateway k does not own."""
        safe = np.where(meter >= 0, meter, 0)
        out: NDArray[np.bool_] = (meter >= 0) & (self.owner[safe] != k)
        return out

    def why_not(self, k: int, meter: int) -> str:
        m, site = self.meter_ids[meter], self.meter_site[meter]
        owner = int(self.owner[meter])
        whose = f"its gateway is {self.gateway_ids[owner]!r}" if owner >= 0 else "no gateway"
        return (
            f"unauthorised: meter {m!r} (site {site!r}) is not bound to gateway "
            f"{self.gateway_ids[k]!r} (site {self.gateway_site[k]!r}); {whose}"
        )


def sparkplug_nodes(settings: SparkplugSettings) -> set[str]:
    """'group/node' of every edge node the metric map names."""
    return {"/".join(key.split("/")[:2]) for key in settings.metrics}


def sparkplug_problems(plant: Plant, settings: SparkplugSettings) -> list[str]:
    """A meter has one source: not two Sparkplug nodes, not a node and a v1 gateway."""
    if not settings.enabled:
        return []
    problems = []
    owner = {m: g.id for g in plant.gateways for m in g.meters}
    node_of: dict[str, str] = {}
    for key, meter in settings.metrics.items():
        node = "/".join(key.split("/")[:2])
        where = f"sparkplug.metrics[{key!r}]"
        if meter in owner:
            problems.append(
                f"{where}: meter {meter!r} is bound to gateway {owner[meter]!r} in the plant; "
                "a meter has one source: remove it here or from that gateway"
            )
        elif node_of.setdefault(meter, node) != node:
            problems.append(
                f"{where}: meter {meter!r} is also mapped from edge node {node_of[meter]!r}; "
                "a meter has one source: map it from one node"
            )
    return problems


def check_start(
    plant: Plant, plant_file: str, required: bool, sparkplug: SparkplugSettings
) -> None:
    """Refuse to start without bindings when they are required, or with a meter of two sources."""
    if required and not plant.gateways:
        raise ConfigError(
            plant_file,
            [
                "gateways: missing: ingest accepts a reading only from the gateway the plant "
                "binds its meter to; add a gateways: section (see config/plant.example.yaml), "
                "or set gateway_binding: off in the ingest settings on a test bench"
            ],
        )
    problems = sparkplug_problems(plant, sparkplug) if required else []
    if problems:
        raise ConfigError("ingest settings", problems)
