"""The demo's embedded MQTT broker: amqtt, in this process, on a loopback port.

amqtt speaks MQTT 3.1.1 only (it refuses a v5 CONNECT), so the demo's ingest
connects with ``mqtt.protocol: "3.1.1"``. Sessions and messages live in memory
and end with the process; nothing is retained across runs.
"""

from __future__ import annotations

import logging
from typing import Any

from amqtt.broker import Broker  # type: ignore[import-untyped]  # amqtt ships no py.typed


class EmbeddedBroker:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._broker: Broker | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    async def start(self) -> None:
        # amqtt logs every connection at INFO and its shutdown chatter at WARNING.
        logging.getLogger("amqtt").setLevel(logging.ERROR)
        config: dict[str, Any] = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            # No $SYS publisher and no packet logger: anonymous access on loopback only.
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        self._broker = Broker(config)
        await self._broker.start()

    async def stop(self) -> None:
        if self._broker is not None:
            broker, self._broker = self._broker, None
            await broker.shutdown()
