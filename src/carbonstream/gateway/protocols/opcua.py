"""OPC UA (asyncua): subscriptions or polling, with the server's own time and status.

A reading's time is the value's SourceTimestamp (the device's clock), falling
back to the server's timestamp; its quality follows the status code's
severity: Good -> good, Uncertain -> uncertain, Bad -> bad_status (and a
source timestamp older than ``max_age_s`` -> stale). A value that is not good
is published with v = null, never as a number.

``mode: poll`` is a polled source: the gateway's Poller reads every node on the
device's grid, and a failed read drops the session (reopened at the next
attempt, with the Poller's backoff). ``mode: subscription`` is a subscribed
source: the session is watched by reading the server's state every
``WATCHDOG_S``; a lost session marks every point comm_error once and is
reopened by the Subscriber with the same backoff. A refused login or
certificate is a failure that needs a human: still retried, logged as such.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, assert_never

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.common.subscription import DataChangeNotif
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaStatusCodeError
from pydantic import Field, model_validator

from carbonstream.envsecret import env_secret
from carbonstream.errors import ConfigError
from carbonstream.gateway.points import meter_unit, resolve_each
from carbonstream.gateway.source import (
    ConfigModel,
    DeviceConfig,
    Hub,
    PointConfig,
    PolledSource,
    Polling,
    PollResult,
    Sink,
    Site,
    Source,
    SourceDownError,
    SourceSpec,
    SubscribedSource,
    failed,
    now_ms,
)
from carbonstream.transport.payload import Quality, Reading

log = logging.getLogger("carbonstream.gateway")

WATCHDOG_S = 2.0

# Status codes a retry will not cure: the server refuses who we are.
_NEEDS_HUMAN = frozenset(
    {
        StatusCodes.BadUserAccessDenied,
        StatusCodes.BadIdentityTokenInvalid,
        StatusCodes.BadIdentityTokenRejected,
        StatusCodes.BadSecurityChecksFailed,
        StatusCodes.BadSecurityPolicyRejected,
        StatusCodes.BadCertificateInvalid,
        StatusCodes.BadCertificateUntrusted,
        StatusCodes.BadCertificateUriInvalid,
        StatusCodes.BadCertificateRevoked,
        StatusCodes.BadCertificateTimeInvalid,
        StatusCodes.BadNoValidCertificates,
    }
)


class Security(ConfigModel):
    policy: Literal["None", "Basic256Sha256", "Aes128Sha256RsaOaep", "Aes256Sha256RsaPss"] = "None"
    mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    certificate: Path | None = None
    private_key: Path | None = None
    server_certificate: Path | None = None

    @model_validator(mode="after")
    def _pairs(self) -> Security:
        if (self.policy == "None") != (self.mode == "None"):
            raise ValueError("policy and mode are both None, or neither")
        if self.policy != "None" and not (self.certificate and self.private_key):
            raise ValueError("a security policy needs 'certificate' and 'private_key'")
        return self


class OpcuaPointConfig(PointConfig):
    node: str = Field(min_length=3, description="Node id, e.g. ns=2;s=foundry-steam")
    scale: float = 1.0


class OpcuaDevice(DeviceConfig):
    protocol: Literal["opcua"]
    endpoint: str = Field(pattern=r"^opc\.tcp://")
    mode: Literal["subscription", "poll"] = "subscription"
    sampling_interval_ms: float = Field(default=1000, ge=0)
    publishing_interval_ms: float = Field(default=1000, gt=0)
    max_age_s: float | None = Field(
        default=None, gt=0, description="Older source timestamps are marked stale."
    )
    username: str | None = None
    password_env: str | None = Field(
        default=None, description="Name of the environment variable holding the password."
    )
    security: Security = Security()
    points: list[OpcuaPointConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _login(self) -> OpcuaDevice:
        if self.password_env is not None and self.username is None:
            raise ValueError("'password_env' needs 'username'")
        return self


@dataclass(frozen=True, slots=True)
class OpcuaPoint:
    meter: str
    unit: str
    node: str
    scale: float


def _ms(ts: dt.datetime | None) -> int | None:
    if ts is None:
        return None
    if ts.tzinfo is None:  # OPC UA DateTime is UTC; asyncua may hand it over naive
        ts = ts.replace(tzinfo=dt.UTC)
    return int(ts.timestamp() * 1000)


def to_reading(point: OpcuaPoint, dv: ua.DataValue, max_age_s: float | None) -> Reading:
    now = now_ms()
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


def _needs_human(e: BaseException) -> bool:
    return isinstance(e, UaStatusCodeError) and e.code in _NEEDS_HUMAN


def _detail(e: BaseException) -> str:
    return str(e) or type(e).__name__


def read_password(device: OpcuaDevice) -> str | None:
    """The login password, read once at start: a missing secret is fatal, not a retry."""
    if device.password_env is None:
        return None
    return env_secret("password_env", device.password_env, source=f"device {device.id!r}")


class _Session:
    """How to open a session to one device: endpoint, login, security."""

    def __init__(self, device: OpcuaDevice, points: list[OpcuaPoint], polling: Polling) -> None:
        self.device = device
        self.points = points
        self.polling = polling
        self._password = read_password(device)

    async def open(self) -> Client:
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
        await client.connect()
        return client

    @staticmethod
    async def close(client: Client) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await client.disconnect()

    def readings(self, dvs: list[ua.DataValue]) -> list[Reading]:
        return [
            to_reading(p, dv, self.device.max_age_s) for p, dv in zip(self.points, dvs, strict=True)
        ]


class OpcuaPoll(PolledSource):
    """``mode: poll``: every node read in one request; the session is kept between polls."""

    def __init__(self, device: OpcuaDevice, points: list[OpcuaPoint], polling: Polling) -> None:
        self._session = _Session(device, points, polling)
        self._client: Client | None = None
        self._nodes: list[Node] = []

    async def poll(self) -> PollResult:
        s = self._session
        try:
            if self._client is None:
                client = await s.open()
                self._client, self._nodes = client, [client.get_node(p.node) for p in s.points]
            async with asyncio.timeout(s.polling.timeout_s):
                dvs = await self._client.read_attributes(self._nodes)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # asyncua raises many kinds; every one means "reopen"
            await self.close()
            return PollResult(
                failed(s.points, Quality.COMM_ERROR),
                ok=False,
                requests=1,
                detail=_detail(e),
                needs_human=_needs_human(e),
            )
        return PollResult(s.readings(dvs), ok=True, requests=1)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await _Session.close(client)


class _Handler:
    def __init__(self, session: _Session, sink: Sink, by_node: dict[str, OpcuaPoint]) -> None:
        self.session = session
        self.sink = sink
        self.by_node = by_node

    def datachange_notification(self, node: Node, val: Any, data: DataChangeNotif) -> None:
        point = self.by_node.get(node.nodeid.to_string())
        if point is not None:
            dv = data.monitored_item.Value
            self.sink([to_reading(point, dv, self.session.device.max_age_s)])

    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        log.warning("OPC UA subscription of %s changed status: %s", self.session.device.id, status)


class OpcuaSubscription(SubscribedSource):
    """``mode: subscription``: monitored items push changes; the server state is the watchdog."""

    def __init__(self, device: OpcuaDevice, points: list[OpcuaPoint], polling: Polling) -> None:
        self._session = _Session(device, points, polling)

    async def session(self, sink: Sink, established: Callable[[], None]) -> None:
        s, d = self._session, self._session.device
        try:
            client = await s.open()
        except Exception as e:
            raise SourceDownError(_detail(e), needs_human=_needs_human(e)) from e
        try:
            nodes = [client.get_node(p.node) for p in s.points]
            by_node = {n.nodeid.to_string(): p for n, p in zip(nodes, s.points, strict=True)}
            sub = await client.create_subscription(
                d.publishing_interval_ms, _Handler(s, sink, by_node)
            )
            await sub.subscribe_data_change(
                nodes, sampling_interval=ua.Double(d.sampling_interval_ms)
            )
            established()
            while True:
                await asyncio.sleep(WATCHDOG_S)
                async with asyncio.timeout(s.polling.timeout_s):
                    await client.nodes.server_state.read_value()
        except Exception as e:
            raise SourceDownError(_detail(e), needs_human=_needs_human(e)) from e
        finally:
            await _Session.close(client)

    def unavailable(self) -> list[Reading]:
        return failed(self._session.points, Quality.COMM_ERROR)


def resolve_opcua(site: Site, device: OpcuaDevice) -> list[OpcuaPoint]:
    return resolve_each(
        device.points,
        lambda p: OpcuaPoint(p.meter, meter_unit(site, p.meter, p.unit), p.node, p.scale),
    )


class OpcuaHub(Hub[OpcuaDevice]):
    """The gateway's OPC UA devices: one session each; the polled ones are closed at stop."""

    def __init__(self, site: Site) -> None:
        super().__init__(site)
        self._polled: list[OpcuaPoll] = []

    def check(self, device: OpcuaDevice) -> list[str]:
        problems: list[str] = []
        try:
            read_password(device)
        except ConfigError as e:
            problems += e.problems
        try:
            resolve_opcua(self.site, device)
        except ConfigError as e:
            problems += e.problems
        return problems

    def source(self, device: OpcuaDevice, polling: Polling) -> Source:
        points = resolve_opcua(self.site, device)
        match device.mode:
            case "poll":
                poll = OpcuaPoll(device, points, polling)
                self._polled.append(poll)
                return poll
            case "subscription":
                return OpcuaSubscription(device, points, polling)
            case _:
                assert_never(device.mode)

    async def close(self) -> None:
        for poll in self._polled:
            await poll.close()


SOURCE = SourceSpec(protocol="opcua", device=OpcuaDevice, hub=OpcuaHub)
