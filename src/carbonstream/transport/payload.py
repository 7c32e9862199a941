"""The v1 JSON payload of a readings batch, decoded with msgspec (typed, fast).

    {
      "v": 1,                      # payload version: a change of meaning needs a new one
      "gateway": "gw-hall1",       # sender
      "stream": "3f2a...",         # id of the gateway's queue; seq restarts only with a new stream
      "seq": 1042,                 # per-stream message number: 1, 2, 3 ... gap-free
      "readings": [
        {"m": "assembly-grid",     # meter id (the plant model's)
         "t": 1764489600000,       # source timestamp, ms since the Unix epoch, UTC
         "v": 51234.5,             # value in the meter's unit; null when quality is not good
         "u": "kWh",               # unit, must equal the meter's configured unit
         "q": "good"}              # good | timeout | exception | decode_error | stale |
      ]                            #   comm_error | bad_status | uncertain
    }

The JSON Schema is ``schema/readings-v1.json`` (checked against these types in
the tests). A failed read is sent with ``v: null`` and its reason so the
receiver sees the drop-out; it is never sent as a value.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Protocol, TypeVar

import msgspec
from msgspec import Meta

from carbonstream.errors import CarbonstreamError

PAYLOAD_VERSION = 1
MAX_READINGS = 10_000  # per message; larger batches are split by the sender


# A stream id is stored as text: no control characters (PostgreSQL refuses NUL in
# text, and a refused write would take the other messages of its batch with it).
STREAM_PATTERN = r"^[^\x00-\x1f\x7f]{1,64}$"


class Quality(StrEnum):
    GOOD = "good"
    TIMEOUT = "timeout"
    EXCEPTION = "exception"  # the device answered with a Modbus exception code
    DECODE_ERROR = "decode_error"
    STALE = "stale"
    COMM_ERROR = "comm_error"
    BAD_STATUS = "bad_status"  # OPC UA status code Bad*
    UNCERTAIN = "uncertain"  # OPC UA status code Uncertain*


# The core's quality codes: 0 = good, anything else = not usable.
QUALITY_CODE = {q: i for i, q in enumerate(Quality)}


Id = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


# gc=False: a reading holds only strings and numbers, so it can never be part of a
# reference cycle; leaving it out of the cyclic collector's lists keeps a gateway's
# collections short (20,000 readings a second at 2000 devices).
class Reading(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """One reading of one meter."""

    m: Annotated[Id, Meta(description="meter id, as in the plant model")]
    t: Annotated[int, Meta(ge=0, description="source timestamp, ms since the Unix epoch, UTC")]
    v: Annotated[float | None, Meta(description="value in the meter's unit; null unless good")]
    u: Annotated[str, Meta(max_length=16, description="unit; must equal the meter's unit")]
    q: Annotated[Quality, Meta(description="good, or why the value is not usable")] = Quality.GOOD


class ReadingsMessage(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A batch of readings from one gateway (topic carbonstream/v1/{site}/{gateway}/readings)."""

    v: Annotated[int, Meta(description="payload version (1)")]
    gateway: Annotated[Id, Meta(description="gateway id")]
    stream: Annotated[
        str,
        Meta(
            pattern=STREAM_PATTERN,
            description="id of the gateway's send queue (1-64 characters, no control characters)",
        ),
    ]
    seq: Annotated[int, Meta(ge=1, description="message number in the stream, gap-free")]
    readings: Annotated[list[Reading], Meta(max_length=MAX_READINGS)]


class StatusMessage(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    v: int
    gateway: str
    state: str  # online | offline
    t: int  # ms since epoch, UTC


class ReceivedReading(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """A reading as the receiver decodes it: the fields of ``Reading``, their checks left out.

    The receiver checks each reading itself (against the plant model, see the ingest
    validator), so that one bad reading (a bad id, an unknown quality, a negative time) is
    rejected on its own with its reason while the message's other readings are kept."""

    m: str
    t: int
    v: float | None
    u: str
    q: str = Quality.GOOD.value


class ReceivedMessage(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """A ``ReadingsMessage`` as the receiver decodes it: the message's own fields are checked
    as strictly, its readings are ``ReceivedReading`` (about 3x faster to decode)."""

    v: int
    gateway: Id
    stream: Annotated[str, Meta(pattern=STREAM_PATTERN)]
    seq: Annotated[int, Meta(ge=1)]
    readings: Annotated[list[ReceivedReading], Meta(max_length=MAX_READINGS)]


_readings_decoder = msgspec.json.Decoder(ReadingsMessage)
_received_decoder = msgspec.json.Decoder(ReceivedMessage)
_status_decoder = msgspec.json.Decoder(StatusMessage)
_encoder = msgspec.json.Encoder()


class PayloadError(CarbonstreamError, ValueError):
    """A payload that does not decode or validate; the text is the dead-letter reason."""


class _Versioned(Protocol):
    @property
    def v(self) -> int: ...


_M = TypeVar("_M", bound=_Versioned)


def _decode(decoder: msgspec.json.Decoder[_M], data: bytes, version: int) -> _M:
    try:
        msg = decoder.decode(data)
    except msgspec.DecodeError as e:
        raise PayloadError(f"not a v{version} readings payload: {e}") from None
    if msg.v != version:
        raise PayloadError(
            f"payload version {msg.v} is not supported here (this receiver reads v{version})"
        )
    return msg


def encode_readings(msg: ReadingsMessage) -> bytes:
    return _encoder.encode(msg)


def decode_readings(data: bytes, version: int = PAYLOAD_VERSION) -> ReadingsMessage:
    """A v1 payload, or (version=2) the body of a signed batch: the same fields."""
    return _decode(_readings_decoder, data, version)


def decode_received(data: bytes, version: int = PAYLOAD_VERSION) -> ReceivedMessage:
    """As ``decode_readings``, for a receiver that checks each reading itself.

    What ``decode_readings`` accepts decodes here to the same values; a payload this
    refuses, ``decode_readings`` refuses too (with the same reason)."""
    return _decode(_received_decoder, data, version)


def encode_status(msg: StatusMessage) -> bytes:
    return _encoder.encode(msg)


def decode_status(data: bytes) -> StatusMessage:
    try:
        return _status_decoder.decode(data)
    except msgspec.DecodeError as e:
        raise PayloadError(f"not a v1 status payload: {e}") from None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the v1 readings payload (the file in schema/ is this, saved)."""
    schema: dict[str, Any] = msgspec.json.schema(ReadingsMessage)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://carbonstream.dev/schema/readings-v1.json",
    } | schema


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
