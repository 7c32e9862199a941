"""The MQTT side: a paho client with manual acknowledgement and a persistent session.

Why paho, not aiomqtt: as a subscriber paho receives about twice as many
messages per CPU second here (perf-limits §3), it acknowledges by packet id
from any thread (``manual_ack``), and the ingest loop is threads anyway
(writer connections), so asyncio would only add a hop.

Backpressure needs no extra buffer: with MQTT v5 the broker never has more
than ``receive_maximum`` unacknowledged messages out to us, and we ack only
after commit, so the in-memory queue is bounded by that number. While the
database is down nothing is acked, the broker stops sending and keeps the
rest in our session.
"""

from __future__ import annotations

import logging
import queue
import time
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


class Subscriber:
    def __init__(self, settings: MqttSettings, topics: list[str]) -> None:
        self.settings = settings
        self.topics = topics
        self.queue: queue.Queue[Message] = queue.Queue()
        self.connected = False
        self.connection = 0
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
        self.client.disconnect()
        self.client.loop_stop()

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
        # Subscribing again on a resumed session is harmless and covers a lost one.
        for t in self.subscriptions():
            client.subscribe(t, qos=1)
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

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.connected = False
        if self._stopping:
            log.info("disconnected from MQTT (stopping)")
        elif not self._logged_down:
            log.warning("MQTT connection lost (%s); reconnecting", reason)
            self._logged_down = True

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        self.queue.put(
            Message(
                msg.topic, bytes(msg.payload), msg.mid, msg.qos, time.time_ns(), self.connection
            )
        )
