"""Modbus on the wire: links (shared connections with a lock) and one device's poll.

The device config and its registration as a source live in
``carbonstream.gateway.protocols.modbus``; this module only talks Modbus.

A *link* is one connection: a serial bus, or a TCP connection to a meter or a
Modbus gateway. Requests on a link take its lock and wait ``pause_s`` after
each answer, because RS-485 devices and cheap gateways need quiet time. Devices
on different links never wait for each other, so a dead meter costs only its
own link's time.

Connections are opened on demand and reopened after any failure, so polling
resumes by itself when a device or a network comes back. After a timeout on a
TCP link the connection is closed: a late answer must never be taken for the
answer to the next request.

A Modbus exception 1, 2 or 3 (illegal function, address or value) is the device
saying the point is wrong for it: a misconfigured register, type or profile, which
no retry will mend. The poll flags those points ``EXCEPTION`` and says so as
needing a person (logged once at ERROR by the poller), while the device's other
points are read as before. Other exceptions (busy, a gateway's target not
answering) pass by themselves and are only flagged.

Deadlines use ``asyncio.timeout``, never ``asyncio.wait_for``: on Python 3.11
``wait_for`` loses a cancellation that arrives in the loop iteration in which
the awaited read completes (CPython gh-86296, fixed in 3.12), so a gateway
told to stop could wait forever for a poller that never learned of it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ExceptionResponse

from carbonstream.errors import CarbonstreamError
from carbonstream.gateway.decode import (
    REGISTERS,
    BlockDecoder,
    Conversion,
    DataType,
    DecodeError,
    Order,
)
from carbonstream.gateway.grouping import Request, Span, Table, group
from carbonstream.gateway.links import Link
from carbonstream.gateway.source import PolledSource, PollResult, failed, now_ms
from carbonstream.transport.payload import Quality, Reading

log = logging.getLogger("carbonstream.gateway")


# The exceptions that mean the request is wrong for the device, not that it is busy.
MISCONFIGURED = {
    ExcCodes.ILLEGAL_FUNCTION: "illegal function: the device has no such table",
    ExcCodes.ILLEGAL_ADDRESS: "illegal data address: the device has no such register",
    ExcCodes.ILLEGAL_VALUE: "illegal data value: the device refuses this register count",
}


class ReadError(CarbonstreamError):
    """A request that brought no registers; ``quality`` says why (timeout, exception, ...),
    ``code`` the Modbus exception code when the device answered with one."""

    def __init__(self, quality: Quality, detail: str, code: int | None = None) -> None:
        super().__init__(detail)
        self.quality = quality
        self.code = code


@dataclass(frozen=True, slots=True)
class ModbusPoint:
    """A point resolved against its profile and meter: what to read and how to decode it."""

    meter: str
    unit: str  # the meter's unit: what is published
    table: Table
    address: int
    type: DataType
    order: Order
    conversion: Conversion

    @property
    def span(self) -> Span:
        return Span(self.table, self.address, REGISTERS[self.type])


class ModbusLink:
    def __init__(self, link: Link) -> None:
        self.spec = link
        self.lock = asyncio.Lock()
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None
        self.requests = 0  # sent on this link, for metrics

    def _make(self, timeout: float) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        s = self.spec
        # retries=0 and reconnect_delay=0: retries, backoff and reconnects are ours,
        # per device, so one device's policy never changes another's.
        if s.transport == "rtu":
            assert s.serial_port is not None
            return AsyncModbusSerialClient(
                s.serial_port,
                framer=FramerType.RTU,
                baudrate=s.baudrate,
                parity=s.parity,
                stopbits=s.stopbits,
                bytesize=s.bytesize,
                timeout=timeout,
                retries=0,
                reconnect_delay=0,
            )
        assert s.host is not None
        framer = FramerType.RTU if s.transport == "rtu_over_tcp" else FramerType.SOCKET
        return AsyncModbusTcpClient(
            s.host, port=s.port, framer=framer, timeout=timeout, retries=0, reconnect_delay=0
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def _connected(self, timeout: float) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        if self._client is None:
            self._client = self._make(timeout)
        client = self._client
        if not client.connected:
            try:
                async with asyncio.timeout(timeout):
                    ok = await client.connect()
            except (TimeoutError, OSError) as e:
                self.close()
                raise ReadError(Quality.COMM_ERROR, f"cannot connect: {e or 'timeout'}") from None
            if not ok:
                self.close()
                raise ReadError(Quality.COMM_ERROR, "cannot connect")
        client.ctx.comm_params.timeout_connect = timeout  # the answer deadline of this device
        return client

    async def read(self, unit: int, req: Request, timeout: float) -> list[int]:
        async with self.lock:
            try:
                return await self._read(unit, req, timeout)
            finally:
                if self.spec.pause_s:
                    await asyncio.sleep(self.spec.pause_s)

    async def _read(self, unit: int, req: Request, timeout: float) -> list[int]:
        client = await self._connected(timeout)
        self.requests += 1
        call = {
            Table.COIL: client.read_coils,
            Table.DISCRETE: client.read_discrete_inputs,
            Table.HOLDING: client.read_holding_registers,
            Table.INPUT: client.read_input_registers,
        }[req.table]
        try:
            # pymodbus keeps its own deadline (timeout_connect); this one is the backstop.
            async with asyncio.timeout(timeout + 0.05):
                rr = await call(req.address, count=req.count, device_id=unit)
        except TimeoutError:
            self._after_timeout()
            raise ReadError(Quality.TIMEOUT, f"no answer within {timeout} s") from None
        except ModbusException as e:
            # pymodbus reports "no response" and lost connections as ModbusIOException.
            self._after_timeout()
            text = str(e)
            q = Quality.TIMEOUT if "No response" in text else Quality.COMM_ERROR
            raise ReadError(q, text) from None
        except OSError as e:
            self.close()
            raise ReadError(Quality.COMM_ERROR, str(e)) from None
        if isinstance(rr, ExceptionResponse) or rr.isError():
            code = getattr(rr, "exception_code", None)
            raise ReadError(Quality.EXCEPTION, f"Modbus exception code {code}", code)
        if req.table in (Table.COIL, Table.DISCRETE):
            return [1 if b else 0 for b in rr.bits[: req.count]]
        regs = list(rr.registers)
        if len(regs) != req.count:
            raise ReadError(Quality.DECODE_ERROR, f"asked {req.count} registers, got {len(regs)}")
        return regs

    def _after_timeout(self) -> None:
        if self.spec.transport != "rtu":
            self.close()


class ModbusDevicePoll(PolledSource):
    """Reads every point of one device: grouped requests, retries, decoding, qualities."""

    def __init__(
        self,
        device_id: str,
        unit: int,
        link: ModbusLink,
        points: list[ModbusPoint],
        *,
        timeout_s: float,
        retries: int,
        grouping: bool,
        max_gap: int,
        max_registers: int,
    ) -> None:
        self.device_id = device_id
        self.unit = unit
        self.link = link
        self.points = points
        self.timeout_s = timeout_s
        self.retries = retries
        self.requests = group(
            [p.span for p in points],
            enabled=grouping,
            max_gap=max_gap,
            max_registers=max_registers,
        )
        self._decoders = [
            BlockDecoder(
                [
                    (points[i].address - req.address, points[i].type, points[i].order)
                    for i in req.members
                ]
            )
            for req in self.requests
        ]

    async def poll(self) -> PollResult:
        out: list[Reading] = []
        sent = 0
        failure: ReadError | None = None
        wrong: list[str] = []  # requests the device refuses as misconfigured
        for req, decoder in zip(self.requests, self._decoders, strict=True):
            if failure is not None and failure.quality in (Quality.TIMEOUT, Quality.COMM_ERROR):
                # The device is not answering: asking again now would only add timeouts.
                out.extend(self._failed(req, failure.quality))
                continue
            regs: list[int] | None = None
            for _attempt in range(self.retries + 1):
                sent += 1
                try:
                    regs = await self.link.read(self.unit, req, self.timeout_s)
                    break
                except ReadError as e:
                    failure = e
                    if e.quality not in (Quality.TIMEOUT, Quality.COMM_ERROR):
                        break  # the device answered "no": asking again gives the same answer
            if regs is None:
                assert failure is not None
                out.extend(self._failed(req, failure.quality))
                if failure.code in MISCONFIGURED:
                    wrong.append(self._misconfigured(req, failure.code))
                continue
            out.extend(self._decode(req, decoder, regs, now_ms()))
        ok = failure is None or failure.quality not in (Quality.TIMEOUT, Quality.COMM_ERROR)
        if ok and wrong:
            return PollResult(out, ok, sent, "; ".join(wrong), needs_human=True)
        return PollResult(out, ok, sent, str(failure) if failure else "")

    __call__ = poll  # a device poll is also its own update method

    def _misconfigured(self, req: Request, code: int) -> str:
        meters = ", ".join(sorted({self.points[i].meter for i in req.members}))
        return (
            f"unit {self.unit} {req.table} registers {req.address}..{req.address + req.count - 1}"
            f" (meters {meters}): Modbus exception {code}, {MISCONFIGURED[ExcCodes(code)]}; "
            "check the points' register, type and table (or the profile), a retry will not help"
        )

    def _failed(self, req: Request, q: Quality) -> list[Reading]:
        return failed((self.points[i] for i in req.members), q)

    def _decode(
        self, req: Request, decoder: BlockDecoder, regs: list[int], t: int
    ) -> list[Reading]:
        out = []
        points = self.points
        for i, raw in zip(req.members, decoder.decode(regs), strict=True):
            p = points[i]
            if isinstance(raw, DecodeError):
                out.append(Reading(m=p.meter, t=t, v=None, u=p.unit, q=Quality.DECODE_ERROR))
            else:
                out.append(Reading(m=p.meter, t=t, v=p.conversion.apply(raw), u=p.unit))
        return out
