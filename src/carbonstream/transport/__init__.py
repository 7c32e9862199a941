"""Transport: MQTT topics and the versioned wire format between gateways and ingest."""

from carbonstream.transport.payload import (
    PAYLOAD_VERSION,
    Quality,
    Reading,
    ReadingsMessage,
    StatusMessage,
    decode_readings,
    encode_readings,
)
from carbonstream.transport.topics import readings_topic, status_topic

__all__ = [
    "PAYLOAD_VERSION",
    "Quality",
    "Reading",
    "ReadingsMessage",
    "StatusMessage",
    "decode_readings",
    "encode_readings",
    "readings_topic",
    "status_topic",
]
