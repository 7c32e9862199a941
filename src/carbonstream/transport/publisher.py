"""MQTT publishing of sealed readings messages (aiomqtt 2.x).

aiomqtt and its exceptions stay inside this module: the gateway hands over a
``MessageSource`` (its disk queue) and gets callbacks. The publisher

- connects with a retained last will ``offline`` on the status topic and
  publishes a retained ``online`` birth after every connect;
- sends the source's messages in sequence order with QoS 1, up to
  ``max_inflight`` at a time, and acknowledges each to the source only after
  the broker's PUBACK, so a message is deleted from disk only once the broker
  has it;
- after a lost connection it reconnects by itself (capped backoff) and sends
  again everything not yet acknowledged, from the lowest sequence number, so
  the receiver sees each message in order, possibly twice, never a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import aiomqtt

from carbonstream.transport.payload import PAYLOAD_VERSION, StatusMessage, encode_status
from carbonstream.transport.settings import BrokerSettings
from carbonstream.transport.topics import readings_topic, signed_readings_topic, status_topic

log = logging.getLogger("carbonstream.transport")

PUBLISH_TIMEOUT_S = 15.0  # no PUBACK by then: treat the connection as broken
DRAIN_S = 3.0  # on a clean stop, time to send the last sealed messages

_SIGNED_HEAD = b'{"v":2,'  # how transport.signing.Signer starts every envelope

# aiomqtt warns whenever more than 10 publishes await their PUBACK: that is our
# normal window (max_inflight), not a problem.
_mqtt_log = logging.getLogger("carbonstream.transport.mqtt")
_mqtt_log.setLevel(logging.ERROR)


class MessageSource(Protocol):
    changed: asyncio.Event  # set when new messages may be pending

    async def pending(self, after_seq: int, limit: int) -> list[tuple[int, int, bytes]]: ...

    async def ack(self, seqs: Sequence[int]) -> None: ...


class Publisher:
    def __init__(
        self,
        settings: BrokerSettings,
        *,
        site: str,
        gateway: str,
        source: MessageSource,
        max_inflight: int = 20,
        on_connection: Callable[[bool], None] | None = None,
        on_sent: Callable[[int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.gateway = gateway
        self.source = source
        self.max_inflight = max_inflight
        self.readings_topic = settings.topic_prefix + readings_topic(site, gateway)
        self.signed_topic = settings.topic_prefix + signed_readings_topic(site, gateway)
        self.status_topic = settings.topic_prefix + status_topic(site, gateway)
        self.connected = False
        self._on_connection = on_connection or (lambda _up: None)
        self._on_sent = on_sent or (lambda _n: None)
        self._stop = asyncio.Event()
        self._password = settings.password()  # read once, at start: a missing secret is fatal

    def _status(self, state: str) -> bytes:
        return encode_status(
            StatusMessage(
                v=PAYLOAD_VERSION, gateway=self.gateway, state=state, t=time.time_ns() // 1_000_000
            )
        )

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        tls = None
        if s.tls is not None:
            tls = aiomqtt.TLSParameters(
                ca_certs=str(s.tls.ca_file) if s.tls.ca_file else None,
                certfile=str(s.tls.cert_file) if s.tls.cert_file else None,
                keyfile=str(s.tls.key_file) if s.tls.key_file else None,
            )
        return aiomqtt.Client(
            s.host,
            s.port,
            identifier=s.client_id or self.gateway,
            logger=_mqtt_log,
            username=s.username,
            password=self._password,
            keepalive=s.keepalive_s,
            clean_session=True,
            timeout=PUBLISH_TIMEOUT_S,
            max_inflight_messages=self.max_inflight,
            will=aiomqtt.Will(self.status_topic, self._status("offline"), qos=1, retain=True),
            tls_params=tls,
            tls_insecure=s.tls.insecure if s.tls is not None else None,
        )

    async def stop(self) -> None:
        """Ask run() to finish: in-flight messages get a moment, then 'offline' is published."""
        self._stop.set()

    async def run(self) -> None:
        backoff = 0.2
        failures = 0
        while not self._stop.is_set():
            try:
                async with self._client() as client:
                    await client.publish(
                        self.status_topic, self._status("online"), qos=1, retain=True
                    )
                    self._set_connected(True)
                    failures, backoff = 0, 0.2
                    await self._pump(client)
                    await client.publish(
                        self.status_topic, self._status("offline"), qos=1, retain=True
                    )
                    return
            except aiomqtt.MqttError as e:
                failures += 1
                if self.connected or failures == 1:
                    # Log when the broker goes away, not on every retry.
                    log.warning(
                        "broker %s:%s unreachable (%s); buffering",
                        self.settings.host,
                        self.settings.port,
                        e,
                    )
                self._set_connected(False)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff):
                    await self._stop.wait()
            backoff = min(backoff * 2, self.settings.reconnect_max_s)

    def _set_connected(self, up: bool) -> None:
        if up and not self.connected:
            log.info("connected to broker %s:%s", self.settings.host, self.settings.port)
        self.connected = up
        self._on_connection(up)

    async def _wait_stop(self) -> None:
        await self._stop.wait()

    async def _watch(self, client: aiomqtt.Client) -> None:
        # Iterating the message stream is aiomqtt's way to learn of a disconnect.
        async for _ in client.messages:
            pass

    async def _send(self, client: aiomqtt.Client, seq: int, n: int, payload: bytes) -> None:
        # A queue may hold both kinds (sealed before and after the key was configured).
        signed = payload.startswith(_SIGNED_HEAD)
        await client.publish(self.signed_topic if signed else self.readings_topic, payload, qos=1)
        await self.source.ack([seq])
        self._on_sent(n)

    async def _drain(
        self, client: aiomqtt.Client, last: int, inflight: set[asyncio.Task[None]]
    ) -> None:
        """Stopping: send what was sealed last, for up to DRAIN_S, then let go."""
        deadline = asyncio.get_running_loop().time() + DRAIN_S
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            room = self.max_inflight - len(inflight)
            batch = await self.source.pending(last, room) if room > 0 else []
            for seq, n, payload in batch:
                inflight.add(asyncio.create_task(self._send(client, seq, n, payload)))
                last = seq
            if not inflight:
                return
            done, _ = await asyncio.wait(
                inflight, timeout=left, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                inflight.discard(task)
                task.result()

    async def _pump(self, client: aiomqtt.Client) -> None:
        last = 0  # after a (re)connect, everything unacknowledged goes again
        inflight: set[asyncio.Task[None]] = set()
        watcher = asyncio.create_task(self._watch(client))
        stop = asyncio.create_task(self._wait_stop())
        try:
            while not self._stop.is_set():
                self.source.changed.clear()
                room = self.max_inflight - len(inflight)
                batch = await self.source.pending(last, room) if room > 0 else []
                for seq, n, payload in batch:
                    inflight.add(asyncio.create_task(self._send(client, seq, n, payload)))
                    last = seq
                if batch and len(inflight) < self.max_inflight:
                    continue
                changed = asyncio.create_task(self.source.changed.wait())
                done, _ = await asyncio.wait(
                    {changed, stop, watcher, *inflight},
                    timeout=1.0,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                changed.cancel()
                if watcher in done:
                    watcher.result()  # raises the MqttError of the lost connection
                    raise aiomqtt.MqttError("connection closed")
                for task in [t for t in inflight if t.done()]:
                    inflight.discard(task)
                    task.result()
            await self._drain(client, last, inflight)
        finally:
            for task in (*inflight, watcher, stop):
                task.cancel()
            await asyncio.gather(*inflight, watcher, stop, return_exceptions=True)
