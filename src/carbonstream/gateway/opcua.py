"""OPC UA acquisition (asyncua): subscriptions or polling, with the server's own time and status.

A reading's time is the value's SourceTimestamp (the device's clock), falling
back to the server's timestamp; its quality follows the status code's
severity: Good -> good, Uncertain -> uncertain, Bad -> bad_status (and a
source timestamp older than ``max_age_s`` -> stale). A value that is not good
is published with v = null, never as a number.

The session is watched by reading the server's state every few seconds; any
failure drops the session, marks every point comm_error once, and reconnects
with a capped backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.common.subscription import DataChangeNotif

from carbonstream.errors import ConfigError
from carbonstream.gateway.config import OpcuaDevice, Polling
from carbonstream.gateway.points import OpcuaPoint
from carbonstream.transport.payload import Quality, Reading

log = logging.getLogger("carbonstream.gateway")

WATCHDOG_S = 2.0


def _ms(ts: dt.datetime | None) -> int | None:
    if ts is None:
        return None
    if ts.tzinfo is None:  # OPC UA DateTime is UTC; asyncua may hand it over naive
        ts = ts.replace(tzinfo=dt.UTC)
    return int(ts.timestamp() * 1000)


def to_reading(point: OpcuaPoint, dv: ua.DataValue, max_age_s: float | None) -> Reading:
    now = time.time_ns() // 1_000_000
    t = _ms(dv.SourceTimestamp) or _ms(dv.ServerTimestamp) or now
    status = dv.StatusCode if dv.StatusCode is not None else ua.StatusCode()
    if status.is_bad():
        return Reading(m=point.meter, t=t, v=None, u=point.unit, q=Quality.BAD_STATUS)
    if status.is_uncertain():
        return Reading(m=point.meter, t=t, v=None, u=point.unit, q=Quality.UNCERTAIN)
    if max_age_s is not None and now - t > max_age_s * 1000:
        return Reading(m=point.meter, t=t, v=None, u=point.unit, q=Quality.STALE)
    value: Any = dv.Value.Value if dv.Value is not None else None
    try:
        v = float(value) * point.scale
    except (TypeError, ValueError):
        return Reading(m=point.meter, t=t, v=None, u=point.unit, q=Quality.DECODE_ERROR)
    return Reading(m=point.meter, t=t, v=v, u=point.unit)


class _Handler:
    def __init__(self, runner: OpcuaRunner, by_node: dict[str, OpcuaPoint]) -> None:
        self.runner = runner
        self.by_node = by_node

    def datachange_notification(self, node: Node, val: Any, data: DataChangeNotif) -> None:
        point = self.by_node.get(node.nodeid.to_string())
        if point is not None:
            dv = data.monitored_item.Value
            self.runner.sink([to_reading(point, dv, self.runner.device.max_age_s)])

    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        log.warning("OPC UA subscription of %s changed status: %s", self.runner.device.id, status)


class OpcuaRunner:
    def __init__(
        self,
        device: OpcuaDevice,
        points: list[OpcuaPoint],
        polling: Polling,
        sink: Callable[[list[Reading]], None],
        on_state: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.device = device
        self.points = points
        self.polling = polling
        self.sink = sink
        self.on_state = on_state or (lambda _d, _up: None)
        self.connected = False
        self._password = self._read_password(device)  # at start: a missing secret is fatal

    @staticmethod
    def _read_password(device: OpcuaDevice) -> str | None:
        if device.password_env is None:
            return None
        value = os.environ.get(device.password_env)
        if value is None:
            raise ConfigError(
                f"device {device.id!r}",
                [f"password_env: environment variable {device.password_env} is not set"],
            )
        return value

    async def _client(self) -> Client:
        d = self.device
        client = Client(d.endpoint, timeout=self.polling.timeout_s)
        if d.username:
            client.set_user(d.username)
            if self._password is not None:
                client.set_password(self._password)
        sec = d.security
        if sec.policy != "None":
            parts = [sec.policy, sec.mode, str(sec.certificate), str(sec.private_key)]
            if sec.server_certificate:
                parts.append(str(sec.server_certificate))
            await client.set_security_string(",".join(parts))
        return client

    async def run(self) -> None:
        failures = 0
        while True:
            client = await self._client()
            try:
                await client.connect()
                try:
                    nodes = [client.get_node(p.node) for p in self.points]
                    self._up(True)
                    failures = 0
                    if self.device.mode == "subscription":
                        await self._subscribe(client, nodes)
                    else:
                        await self._poll(client, nodes)
                finally:
                    with contextlib.suppress(Exception):
                        async with asyncio.timeout(2):
                            await client.disconnect()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # asyncua raises many kinds; every one means "reconnect"
                failures += 1
                if self.connected or failures == 1:
                    log.warning(
                        "OPC UA device %s unreachable: %s", self.device.id, e or type(e).__name__
                    )
                    now = time.time_ns() // 1_000_000
                    self.sink(
                        [
                            Reading(m=p.meter, t=now, v=None, u=p.unit, q=Quality.COMM_ERROR)
                            for p in self.points
                        ]
                    )
                self._up(False)
            wait = min(self.polling.backoff_max_s, self.polling.interval_s * 2 ** min(failures, 10))
            await asyncio.sleep(wait)

    def _up(self, up: bool) -> None:
        if up != self.connected:
            self.on_state(self.device.id, up)
            if up:
                log.info("OPC UA device %s connected", self.device.id)
        self.connected = up

    async def _subscribe(self, client: Client, nodes: list[Node]) -> None:
        by_node = {n.nodeid.to_string(): p for n, p in zip(nodes, self.points, strict=True)}
        sub = await client.create_subscription(
            self.device.publishing_interval_ms, _Handler(self, by_node)
        )
        await sub.subscribe_data_change(
            nodes, sampling_interval=ua.Double(self.device.sampling_interval_ms)
        )
        while True:
            await asyncio.sleep(WATCHDOG_S)
            async with asyncio.timeout(self.polling.timeout_s):
                await client.nodes.server_state.read_value()

    async def _poll(self, client: Client, nodes: list[Node]) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            async with asyncio.timeout(self.polling.timeout_s):
                dvs = await client.read_attributes(nodes)
            self.sink(
                [
                    to_reading(p, dv, self.device.max_age_s)
                    for p, dv in zip(self.points, dvs, strict=True)
                ]
            )
            due += self.polling.interval_s
            await asyncio.sleep(max(0.0, due - loop.time()))
