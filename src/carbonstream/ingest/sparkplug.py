"""Sparkplug B payloads from third-party gateways (EMQX Neuron, Ignition, ...).

Topic ``spBv1.0/{group}/{NBIRTH|NDATA|DBIRTH|DDATA}/{edge node}[/{device}]``;
payload: the Sparkplug B protobuf ``Payload`` (Eclipse Tahu
``sparkplug_b.proto``). Only the fields ingest needs are read, with a small
protobuf wire-format reader (varint, 64-bit, length-delimited, 32-bit): no
generated code and no protobuf runtime.

Metrics are mapped to meters by config: ``group/node/metric`` or
``group/node/device/metric`` -> meter id. The map is also the binding: a
message from an edge node it does not name is refused whole (dead-lettered,
counted as unauthorised ``unmapped_node``); an edge node reports only the
meters mapped under its own group/node. Unmapped metrics of a mapped node (node
controls, diagnostics) are skipped. Aliases are learnt from birth certificates; a data
message that uses an alias before its birth was seen has those readings
rejected (ask the node for a rebirth). ``is_null`` gives a bad-quality
reading. Units are not carried by Sparkplug in a standard field: the mapping
asserts that the metric is in the meter's unit.
"""

from __future__ import annotations

import math
import struct
import time
from dataclasses import dataclass

import numpy as np

from carbonstream.config.plant import Plant
from carbonstream.errors import CarbonstreamError
from carbonstream.ingest.authorise import Refusal, UnauthorisedError, named, sparkplug_nodes
from carbonstream.ingest.decode import MAX_REASONS, NS_PER_MS, Decoded, Validator
from carbonstream.ingest.settings import SparkplugSettings
from carbonstream.transport.payload import QUALITY_CODE, PayloadError, Quality

SPARKPLUG_PREFIX = "spBv1.0/"
_DATA_TYPES = ("NBIRTH", "NDATA", "DBIRTH", "DDATA")
# Sparkplug B DataType codes with a numeric value.
_SIGNED32 = {1: 8, 2: 16, 3: 32}
_UNSIGNED32 = {5, 6, 7}
_INT64, _UINT64, _FLOAT, _DOUBLE = 4, 8, 9, 10


@dataclass
class Metric:
    name: str | None = None
    alias: int | None = None
    timestamp: int | None = None
    datatype: int = 0
    is_null: bool = False
    value: float | None = None


class WireError(CarbonstreamError, ValueError):
    pass


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise WireError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise WireError("varint too long")


def fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of a protobuf message, in order."""
    out: list[tuple[int, int, int | bytes]] = []
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
            out.append((num, wt, v))
        elif wt == 1:
            if i + 8 > len(buf):
                raise WireError("truncated 64-bit field")
            out.append((num, wt, buf[i : i + 8]))
            i += 8
        elif wt == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise WireError("truncated length-delimited field")
            out.append((num, wt, buf[i : i + n]))
            i += n
        elif wt == 5:
            if i + 4 > len(buf):
                raise WireError("truncated 32-bit field")
            out.append((num, wt, buf[i : i + 4]))
            i += 4
        else:
            raise WireError(f"unsupported wire type {wt}")
    return out


def parse_metric(buf: bytes) -> Metric:
    m = Metric()
    raw: dict[int, int | bytes] = {}
    for num, _wt, v in fields(buf):
        if num == 1 and isinstance(v, bytes):
            m.name = v.decode("utf-8", errors="strict")
        elif num == 2 and isinstance(v, int):
            m.alias = v
        elif num == 3 and isinstance(v, int):
            m.timestamp = v
        elif num == 4 and isinstance(v, int):
            m.datatype = v
        elif num == 7 and isinstance(v, int):
            m.is_null = bool(v)
        elif 10 <= num <= 13:
            raw[num] = v
    if m.is_null:
        return m
    dt_ = m.datatype
    if 10 in raw and isinstance(raw[10], int):
        iv = int(raw[10])
        if dt_ in _SIGNED32:
            bits = _SIGNED32[dt_]
            iv &= (1 << bits) - 1
            iv = iv - (1 << bits) if iv >> (bits - 1) else iv
        m.value = float(iv)
    elif 11 in raw and isinstance(raw[11], int):
        lv = int(raw[11])
        m.value = float(lv - (1 << 64) if dt_ == _INT64 and lv >> 63 else lv)
    elif 12 in raw and isinstance(raw[12], bytes):
        m.value = struct.unpack("<f", raw[12])[0]
    elif 13 in raw and isinstance(raw[13], bytes):
        m.value = struct.unpack("<d", raw[13])[0]
    return m


def parse_payload(buf: bytes) -> tuple[int | None, list[Metric]]:
    ts: int | None = None
    metrics = []
    for num, _wt, v in fields(buf):
        if num == 1 and isinstance(v, int):
            ts = v
        elif num == 2 and isinstance(v, bytes):
            metrics.append(parse_metric(v))
    return ts, metrics


class SparkplugDecoder:
    def __init__(self, plant: Plant, settings: SparkplugSettings, validator: Validator) -> None:
        self.settings = settings
        self.validator = validator
        self.metric_meter = dict(settings.metrics)
        self.nodes = sparkplug_nodes(settings)
        self.aliases: dict[tuple[str, str], dict[int, tuple[str | None, str]]] = {}
        del plant

    def subscriptions(self) -> list[str]:
        out = []
        for g in self.settings.group_ids:
            out += [f"spBv1.0/{g}/NBIRTH/+", f"spBv1.0/{g}/NDATA/+"]
            out += [f"spBv1.0/{g}/DBIRTH/+/+", f"spBv1.0/{g}/DDATA/+/+"]
        return out

    def decode(self, topic: str, payload: bytes, now_s: float | None = None) -> Decoded | None:
        parts = topic.split("/")
        if len(parts) not in (4, 5) or parts[0] != "spBv1.0":
            raise PayloadError(f"not a Sparkplug B topic: {topic!r}")
        group, kind, node = parts[1], parts[2], parts[3]
        device = parts[4] if len(parts) == 5 else None
        if kind not in _DATA_TYPES:
            return None  # deaths, commands, state: nothing to account
        if len(payload) > self.validator.limits.max_payload_bytes:
            raise PayloadError("Sparkplug payload exceeds max_payload_bytes")
        try:
            ts0, metrics = parse_payload(payload)
        except (WireError, UnicodeDecodeError) as e:
            raise PayloadError(f"not a Sparkplug B payload: {e}") from None
        if f"{group}/{node}" not in self.nodes:
            # Its metrics would map to no meter: say so instead of skipping them in silence.
            names = [m.name or f"alias {m.alias}" for m in metrics]
            raise UnauthorisedError(
                f"unauthorised: Sparkplug edge node {group}/{node} (gateway "
                f"'spb:{group}/{node}') is mapped to no meter in sparkplug.metrics; its "
                f"{len(metrics)} metrics refused ({named(names)})",
                Refusal.UNMAPPED_NODE,
                len(metrics),
            )
        aliases = self.aliases.setdefault((group, node), {})
        if kind.endswith("BIRTH"):
            for m in metrics:
                if m.alias is not None and m.name is not None:
                    aliases[m.alias] = (device, m.name)
        now = time.time() if now_s is None else now_s
        lo = self.validator._earliest_ms
        hi = int((now + self.validator.limits.future_s) * 1000)
        index = self.validator.index
        rows: list[tuple[int, int, float, int]] = []
        rejected: list[str] = []
        n_bad = 0
        for j, m in enumerate(metrics):
            name = m.name
            if name is None and m.alias is not None:
                known = aliases.get(m.alias)
                if known is None:
                    n_bad += 1
                    if len(rejected) < MAX_REASONS:
                        rejected.append(
                            f"metrics[{j}]: alias {m.alias} unknown (no birth seen: request a "
                            "rebirth)"
                        )
                    continue
                name = known[1]
            if name is None:
                continue
            key = f"{group}/{node}/{device}/{name}" if device else f"{group}/{node}/{name}"
            meter_id = self.metric_meter.get(key)
            if meter_id is None:
                continue  # not a meter: node controls, diagnostics
            i = index.get(meter_id)
            problem = None
            t = m.timestamp if m.timestamp is not None else ts0
            if i is None:
                problem = f"mapped meter {meter_id!r} is not in the plant"
            elif t is None or not lo <= t <= hi:
                problem = f"source time {t!r} ms missing or outside the sane range"
            elif not m.is_null and (m.value is None or not math.isfinite(m.value)):
                problem = f"value {m.value!r} of datatype {m.datatype} is not a finite number"
            if problem is not None or i is None or t is None:
                n_bad += 1
                if len(rejected) < MAX_REASONS:
                    rejected.append(f"metrics[{j}] {name!r}: {problem}")
                continue
            q = QUALITY_CODE[Quality.BAD_STATUS] if m.is_null else 0
            rows.append((i, t * NS_PER_MS, math.nan if m.is_null else float(m.value or 0.0), q))
        arr = np.array(rows, dtype=np.float64).reshape(-1, 4) if rows else np.zeros((0, 4))
        return Decoded(
            gateway=f"spb:{group}/{node}",
            stream="sparkplug",
            seq=None,
            meter=np.array([r[0] for r in rows], dtype=np.int32),
            ts=np.array([r[1] for r in rows], dtype=np.int64),
            value=arr[:, 2].astype(np.float64),
            quality=np.array([r[3] for r in rows], dtype=np.uint8),
            rejected=rejected,
            n_rejected=n_bad,
        )
