"""ASCII registers: a small line-based protocol over TCP, the worked example of
docs/guides/add-a-protocol.md.

The device keeps numbered registers and answers one line per request::

    RD 7\r\n        ->  = 1234.5\r\n      (the value, a decimal number)
                    ->  ! no such register\r\n   (the device refuses)

This whole file is the protocol: its config model (``AsciiDevice``), how its
points resolve (meter and unit), its source (``AsciiPoll``: one connection per
device, kept between polls), its hub, and ``SOURCE``, which the registry
finds. Nothing else in the gateway names it.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from carbonstream.errors import ConfigError
from carbonstream.gateway.points import meter_unit, resolve_each
from carbonstream.gateway.source import (
    DeviceConfig,
    Hub,
    PointConfig,
    PolledSource,
    Polling,
    PollResult,
    Site,
    SourceSpec,
    failed,
    now_ms,
)
from carbonstream.transport.payload import Quality, Reading

LINE_MAX_BYTES = 64  # a longer answer is not this protocol: a decode error, not a read


# 1. The config model: what a devices: entry with `protocol: ascii` may say.
class AsciiPoint(PointConfig):
    address: int = Field(ge=0, le=9999, description="Register number on the device.")
    scale: float = Field(default=1.0, description="Multiplies the device's value.")


class AsciiDevice(DeviceConfig):
    protocol: Literal["ascii"]
    host: str
    port: int = Field(ge=1, le=65535)
    points: list[AsciiPoint] = Field(min_length=1)


# 2. A point resolved at start: the meter's unit is checked against the plant.
@dataclass(frozen=True, slots=True)
class AsciiRegister:
    meter: str
    unit: str
    address: int
    scale: float


def resolve(site: Site, device: AsciiDevice) -> list[AsciiRegister]:
    return resolve_each(
        device.points,
        lambda p: AsciiRegister(p.meter, meter_unit(site, p.meter, p.unit), p.address, p.scale),
    )


# 3. The source: the Poller calls poll() on the device's grid, with its backoff.
class AsciiPoll(PolledSource):
    def __init__(self, device: AsciiDevice, points: list[AsciiRegister], polling: Polling) -> None:
        self.device = device
        self.points = points
        self.timeout_s = polling.timeout_s
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def poll(self) -> PollResult:
        out: list[Reading] = []
        sent = 0
        try:
            async with asyncio.timeout(self.timeout_s):  # every wait on a device is bounded
                reader, writer = await self._connected()
                for p in self.points:
                    writer.write(f"RD {p.address}\r\n".encode())
                    sent += 1
                    await writer.drain()
                    out.append(self._reading(p, await reader.readline()))
        except (TimeoutError, OSError) as e:
            self.close()  # a late answer must never be taken for the next request's
            quality = Quality.TIMEOUT if isinstance(e, TimeoutError) else Quality.COMM_ERROR
            detail = str(e) or f"no answer within {self.timeout_s} s"
            return PollResult(failed(self.points, quality), ok=False, requests=sent, detail=detail)
        return PollResult(out, ok=True, requests=sent)

    async def _connected(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._conn is None:
            self._conn = await asyncio.open_connection(self.device.host, self.device.port)
        return self._conn

    def _reading(self, p: AsciiRegister, line: bytes) -> Reading:
        t = now_ms()
        if not line:
            raise ConnectionResetError("the device closed the connection")
        text = line.decode("ascii", "replace").strip()
        if text.startswith("!"):  # the device answered "no": its own reason, no value
            return Reading(m=p.meter, t=t, v=None, u=p.unit, q=Quality.EXCEPTION)
        try:
            if len(line) > LINE_MAX_BYTES or not text.startswith("= "):
                raise ValueError(text)
            return Reading(m=p.meter, t=t, v=float(text[2:]) * p.scale, u=p.unit)
        except ValueError:
            return Reading(m=p.meter, t=t, v=None, u=p.unit, q=Quality.DECODE_ERROR)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn[1].close()


# 4. The hub: checks devices at load, makes their sources, closes them at stop.
class AsciiHub(Hub[AsciiDevice]):
    def __init__(self, site: Site) -> None:
        super().__init__(site)
        self.polls: list[AsciiPoll] = []

    def check(self, device: AsciiDevice) -> list[str]:
        try:
            resolve(self.site, device)
        except ConfigError as e:
            return e.problems  # each "points[i] (meter 'm').field: reason"
        return []

    def source(self, device: AsciiDevice, polling: Polling) -> AsciiPoll:
        poll = AsciiPoll(device, resolve(self.site, device), polling)
        self.polls.append(poll)
        return poll

    async def close(self) -> None:
        for poll in self.polls:
            poll.close()


# 5. The declaration the registry looks for.
SOURCE = SourceSpec(protocol="ascii", device=AsciiDevice, hub=AsciiHub)
