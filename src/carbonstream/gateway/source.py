"""The seam between the gateway and its acquisition protocols.

A protocol is one module in ``carbonstream.gateway.protocols`` that declares
``SOURCE = SourceSpec(protocol=..., device=..., hub=...)``:

- ``device`` is its config model, a :class:`DeviceConfig` whose ``protocol``
  field is the literal name; the gateway file's ``devices:`` accept it under
  ``protocol: <name>`` (the registry builds the union, nothing else is edited);
- ``hub`` is made once per gateway (:class:`Hub`): it checks a device against
  the plant at load (``check``), makes one source per device (``source``) and
  holds what the protocol's devices share (connections, locks), closed at stop.

A source is either

- a :class:`PolledSource`: its ``poll`` is the update method that the one
  scheduler, :class:`carbonstream.gateway.poller.Poller`, calls on the device's
  grid, with the one backoff and the one failure policy (the shape of Home
  Assistant's ``DataUpdateCoordinator``); or
- a :class:`SubscribedSource`: the device pushes values over a session;
  :class:`carbonstream.gateway.poller.Subscriber` opens it and reopens it after
  a loss with the same backoff and the same failure policy.

Failures come in two kinds, as in Home Assistant: *transient* (no answer, no
connection: retried, logged once) and *needs a human* (a refused login, a
rejected certificate: retried too, but logged as an error that says so).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from carbonstream.config.plant import Identifier, Plant
from carbonstream.errors import CarbonstreamError
from carbonstream.gateway.links import Link
from carbonstream.transport.payload import Quality, Reading

Sink = Callable[[list[Reading]], None]


class ConfigModel(BaseModel):
    """Base of every gateway-file model: unknown fields refused, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Polling(ConfigModel):
    interval_s: float = Field(default=1.0, gt=0, le=86400)
    timeout_s: float = Field(default=1.0, gt=0, le=60)
    retries: int = Field(default=1, ge=0, le=10)
    backoff_max_s: float = Field(
        default=60.0, gt=0, description="Longest wait between attempts at a failing device."
    )


class PointConfig(ConfigModel):
    """What every protocol's point has: the plant meter it feeds and, without a plant, its unit."""

    meter: Identifier
    unit: str | None = Field(default=None, description="Needed when the gateway has no plant.")


class DeviceConfig(ConfigModel):
    """What every protocol's device has; a protocol's model narrows ``protocol`` to its name."""

    protocol: str
    id: Identifier
    polling: Polling | None = Field(default=None, description="Overrides the gateway's polling.")
    points: Sequence[PointConfig] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Site:
    """What a protocol may know of its gateway: the site, the plant, profiles and links."""

    id: str
    plant: Plant | None
    profile_dirs: tuple[Path, ...] = ()
    links: Mapping[str, Link] | None = None


@dataclass(slots=True)
class PollResult:
    readings: list[Reading]
    ok: bool  # False when the device did not answer at all (timeout, no connection)
    requests: int
    detail: str = ""
    # The failure will not pass by itself (refused login, ...); with ok, what the device
    # answered still needs a person (a point it refuses as misconfigured): ``detail`` says.
    needs_human: bool = False


class SourceDownError(CarbonstreamError):
    """A session was lost or could not be opened; ``needs_human`` when retrying will not help."""

    def __init__(self, detail: str, *, needs_human: bool = False) -> None:
        super().__init__(detail)
        self.needs_human = needs_human


class PolledSource(ABC):
    """A device read on a schedule: each ``poll`` reads every point once."""

    @abstractmethod
    async def poll(self) -> PollResult:
        """Read every point; a device that does not answer gives ``ok=False``, never raises."""


class SubscribedSource(ABC):
    """A device that pushes its values over a session (e.g. OPC UA subscriptions)."""

    @abstractmethod
    async def session(self, sink: Sink, established: Callable[[], None]) -> None:
        """Open a session, call ``established``, then hand readings to ``sink`` until the
        session is lost: then raise (:class:`SourceDownError` says whether a human is needed)."""

    @abstractmethod
    def unavailable(self) -> list[Reading]:
        """Readings that mark every point as unreachable, now."""


Source = PolledSource | SubscribedSource

D = TypeVar("D", bound=DeviceConfig)


class Hub(ABC, Generic[D]):
    """One protocol within one gateway: checks its devices, makes their sources, and holds
    what they share (connections, locks) until ``close``."""

    def __init__(self, site: Site) -> None:
        self.site = site

    @abstractmethod
    def check(self, device: D) -> list[str]:
        """Problems that need the plant or files, each ``field.path: reason``; [] when fine."""

    @abstractmethod
    def source(self, device: D, polling: Polling) -> Source:
        """The device's source; called after ``check`` found no problem."""

    async def close(self) -> None:
        """Close what the sources share; called once, after every source has stopped."""


@dataclass(frozen=True, slots=True)
class SourceSpec(Generic[D]):
    """A protocol as the registry knows it: its name in ``protocol:``, its config model, its hub."""

    protocol: str
    device: type[D]
    hub: Callable[[Site], Hub[D]]


class MeterPoint(Protocol):
    @property
    def meter(self) -> str: ...

    @property
    def unit(self) -> str: ...


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def failed(points: Iterable[MeterPoint], quality: Quality, t: int | None = None) -> list[Reading]:
    """One reading per point without a value, with the reason as its quality."""
    t = now_ms() if t is None else t
    return [Reading(m=p.meter, t=t, v=None, u=p.unit, q=quality) for p in points]
