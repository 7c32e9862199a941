"""Signed test batches: keys, envelopes (as a gateway makes them) and forged ones."""

from __future__ import annotations

import base64
import datetime as dt

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from carbonstream.config.gateway_keys import GatewayKey
from carbonstream.config.gateways import GatewayBinding
from carbonstream.config.plant import Plant
from carbonstream.transport import signing
from carbonstream.transport.payload import ReadingsMessage, decode_readings, encode_readings
from tests.ingest.helpers import Example, payloads

UTC = dt.UTC


def registered(
    key: Ed25519PrivateKey,
    valid_from: dt.datetime = dt.datetime(2026, 1, 1, tzinfo=UTC),
    valid_to: dt.datetime | None = None,
    revoked_at: dt.datetime | None = None,
) -> GatewayKey:
    return GatewayKey(
        public_key=signing.public_text(key.public_key()),
        valid_from=valid_from,
        valid_to=valid_to,
        revoked_at=revoked_at,
    )


def bound(plant: Plant, gateways: list[GatewayBinding]) -> Plant:
    """The plant with these gateways (unique ids per test keep tests apart on the broker)."""
    return plant.model_copy(update={"gateways": gateways})


def gateway(id: str, site: str, meters: list[str], *keys: GatewayKey) -> GatewayBinding:
    return GatewayBinding(id=id, site=site, meters=meters, keys=list(keys))


def body(msg: ReadingsMessage) -> bytes:
    """The v2 body of a readings message (as the gateway's queue seals it)."""
    m = ReadingsMessage(
        v=2, gateway=msg.gateway, stream=msg.stream, seq=msg.seq, readings=msg.readings
    )
    return encode_readings(m)


def sign(key: Ed25519PrivateKey, data: bytes) -> bytes:
    return signing.Signer(key).envelope(data)


def forge(kid_of: Ed25519PrivateKey, signed_by: Ed25519PrivateKey, data: bytes) -> bytes:
    """An envelope naming one key's id, signed with another key."""
    sig = base64.b64encode(signed_by.sign(signing.signed_message(data))).decode()
    kid = signing.key_id(kid_of.public_key())
    return f'{{"v":2,"alg":"ed25519","kid":"{kid}","sig":"{sig}","body":'.encode() + data + b"}"


def v2_topic(topic_v1: str) -> str:
    return topic_v1.replace("carbonstream/v1/", "carbonstream/v2/", 1)


def site_payloads(ex: Example, gateway: str, site: str) -> list[tuple[str, bytes]]:
    """The example readings of one site's meters, as that site's gateway sends them (v1)."""
    idx = [i for i, m in enumerate(ex.plant.meters) if m.site == site]
    sel = np.flatnonzero(np.isin(ex.batch.meter, idx))
    return payloads(Example(ex.plant, ex.batch.take(sel)), gateway, site=site)


def signed_payloads(v1: list[tuple[str, bytes]], key: Ed25519PrivateKey) -> list[tuple[str, bytes]]:
    """v1 test payloads as the same batches signed (v2 topic and envelope)."""
    return [(v2_topic(t), sign(key, body(decode_readings(p)))) for t, p in v1]
