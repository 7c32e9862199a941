"""The MQTT side: a paho client with manual acknowledgement and a persistent session.

Why paho, not aiomqtt: as a subscriber paho receives about twice as many
messages per CPU second here (perf-limits §3), it acknowledges by packet id
from any thread (``manual_ack``), and the ingest loop is threads anyway
(writer connections), so asyncio would only add a hop.

Backpressure in messages: with MQTT v5 the broker never has more than
``receive_maximum`` unacknowledged messages out to us, and we ack only after
commit, so the in-memory queue is bounded by that number. While the database
is down nothing is acked, the broker stops sending and keeps the rest in our
session.

Backpressure in bytes: every message holds its payload's bytes from arrival
until the service releases it (after its batch committed and was acked). When
the bytes held would pass ``max_inflight_bytes``, the receive thread waits
before taking the message in, so paho reads nothing more from the socket and
the broker's TCP window fills: memory is bounded by bytes as well as by count.
A payload larger than ``max_payload_bytes`` is never kept whole: only its
first ``keep_bytes``, its length and its SHA-256 (for the dead letter), taken
before anything decodes it. (While the receive thread waits it sends no
keepalive; a wait longer than 1.5 x keepalive, i.e. a database outage with the
byte bound reached, makes the broker drop the connection, and the session
redelivers what was not acked: nothing is lost.)
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from carbonstream.ingest.settings import MqttSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    mid: int
    qos: int
    received_ns: int
    connection: int  # which connection delivered it: packet ids are per connection
    size: int = -1  # the payload's length as received (payload may be its first bytes only)
    sha256: bytes = b""  # of the whole payload, set when it was cut
    digest: bytes = b""  # SHA-256 of topic, NUL, whole payload: set when it was cut

    @property
    def cut(self) -> bool:
        """Only the first bytes of an oversized payload were kept."""
        return self.size > len(self.payload)


@dataclass(frozen=True)
class ByteLimits:
    max_payload_bytes: int  # larger payloads are cut to keep_bytes on arrival
    keep_bytes: int
    max_inflight_bytes: int  # payload bytes held from arrival to release


def digest(topic: str, payload: bytes) -> bytes:
    """The dead letter's identity: SHA-256 of topic, NUL, payload."""
    h = hashlib.sha256(topic.encode())
    h.update(b"\0")
    h.update(payload)
    return h.digest()


class Subscriber:
    def __init__(
        self, settings: MqttSettings, topics: list[str], limits: ByteLimits | None = None
    ) -> None:
        self.settings = settings
        self.topics = topics
        self.limits = limits
        self.queue: queue.Queue[Message] = queue.Queue()
        self._held = 0  # payload bytes received and not yet released
        self._room = threading.Condition()
        self.connected = False
        self.connection = 0
        self._unacked: set[int] = set()  # SUBSCRIBE packet ids of this connection not acked
        self._subscribed = threading.Event()
        self._logged_down = False
        self._stopping = False
        self.v5 = settings.protocol == "5"
        if self.v5:
            c = paho.Client(
                CallbackAPIVersion.VERSION2,
                client_id=settings.client_id,
                protocol=paho.MQTTv5,
                manual_ack=True,
            )
        else:  # 3.1.1: the persistent session is clean_session=False
            c = paho.Client(
                CallbackAPIVersion.VERSION2,
                client_id=settings.client_id,
                protocol=paho.MQTTv311,
                clean_session=False,
                manual_ack=True,
            )
        if settings.username:
            c.username_pw_set(settings.username, settings.secret())
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        c.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client = c

    def subscriptions(self) -> list[str]:
        g = self.settings.shared_group
        return [f"$share/{g}/{t}" if g else t for t in self.topics]

    def start(self) -> None:
        if self.v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self.settings.session_expiry_s
            props.ReceiveMaximum = self.settings.receive_maximum
            self.client.connect_async(
                self.settings.host,
                self.settings.port,
                keepalive=self.settings.keepalive_s,
                clean_start=False,
                properties=props,
            )
        else:
            self.client.connect_async(
                self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s
            )
        self.client.loop_start()

    def stop(self) -> None:
        self._stopping = True
        with self._room:
            self._room.notify_all()
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def held_bytes(self) -> int:
        return self._held

    def release(self, messages: Iterable[Message]) -> None:
        """The service is done with these messages (committed and acked, or given up)."""
        n = sum(len(m.payload) for m in messages)
        if n:
            with self._room:
                self._held -= n
                self._room.notify_all()

    def _admit(self, n: int) -> bool:
        """Wait until n more bytes fit under max_inflight_bytes (one message always fits
        when nothing is held); False when stopping."""
        limit = self.limits.max_inflight_bytes if self.limits else None
        with self._room:
            while (
                limit is not None and self._held > 0 and self._held + n > limit
            ) and not self._stopping:
                self._room.wait(0.5)
            if self._stopping:
                return False
            self._held += n
            return True

    def ack(self, messages: list[Message]) -> None:
        """PUBACK committed messages. One received on an earlier connection is not acked:
        its packet id may name another message by now; the broker has redelivered it on
        this connection, and that copy (found stored) is acked instead."""
        current = self.connection
        for m in messages:
            if m.qos > 0 and m.connection == current and self.connected:
                self.client.ack(m.mid, m.qos)

    def wait_connected(self, timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while not self.connected and time.monotonic() < end:
            time.sleep(0.02)
        return self.connected

    def wait_subscribed(self, timeout_s: float) -> bool:
        """Wait until the broker acknowledged every subscription of this connection: from
        then on a message published to our topics reaches us (or our session)."""
        return self._subscribed.wait(timeout_s)

    # --- paho callbacks (network thread) -------------------------------------------

    def _on_connect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("MQTT broker refused the connection: %s", reason)
            return
        self.connection += 1
        self._subscribed.clear()
        # Subscribing again on a resumed session is harmless and covers a lost one.
        self._unacked = set()
        for t in self.subscriptions():
            _, mid = client.subscribe(t, qos=1)
            if mid is not None:  # None: not sent (the connection is already gone)
                self._unacked.add(mid)
        self.connected = True
        if self._logged_down:
            log.info("MQTT connection back (session present: %s)", flags.session_present)
            self._logged_down = False
        else:
            log.info(
                "connected to MQTT %s:%s, subscribed to %s",
                self.settings.host,
                self.settings.port,
                self.subscriptions(),
            )

    def _on_subscribe(
        self,
        client: paho.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if any(r.is_failure for r in reason_codes):
            log.error("MQTT broker refused a subscription: %s", reason_codes)
            return
        self._unacked.discard(mid)
        if not self._unacked:
            self._subscribed.set()

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.connected = False
        self._subscribed.clear()
        if self._stopping:
            log.info("disconnected from MQTT (stopping)")
        elif not self._logged_down:
            log.warning("MQTT connection lost (%s); reconnecting", reason)
            self._logged_down = True

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        received = time.time_ns()
        data = msg.payload
        size = len(data)
        lim = self.limits
        if lim is not None and size > lim.max_payload_bytes:
            # Keep the evidence, not the blob: checked before anything decodes it.
            whole = bytes(data)
            m = Message(
                msg.topic,
                whole[: lim.keep_bytes],
                msg.mid,
                msg.qos,
                received,
                self.connection,
                size,
                hashlib.sha256(whole).digest(),
                digest(msg.topic, whole),
            )
            del whole, data
        else:
            m = Message(msg.topic, bytes(data), msg.mid, msg.qos, received, self.connection, size)
        if self._admit(len(m.payload)):
            self.queue.put(m)
