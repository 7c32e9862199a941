"""An OPC UA server (asyncua) with one Double variable per meter: ns=2;s=<meter id>."""

from __future__ import annotations

import datetime as dt
import logging
from typing import cast

from asyncua import ua
from asyncua.common.node import Node
from asyncua.server.server import Server
from asyncua.ua.status_codes import StatusCodes

NAMESPACE = "urn:carbonstream:simulator"


class VariableServer:
    def __init__(self, names: list[str], *, host: str = "127.0.0.1", port: int = 4840) -> None:
        self.names = names
        self.endpoint = f"opc.tcp://{host}:{port}/carbonstream/"
        self.nodes: dict[str, Node] = {}
        self._server: Server | None = None

    async def start(self) -> None:
        for name in ("asyncua", "asyncua.server"):
            logging.getLogger(name).setLevel(logging.ERROR)
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("carbonstream simulator")
        idx = await server.register_namespace(NAMESPACE)  # the first one: index 2
        folder = await server.nodes.objects.add_folder(idx, "Meters")
        for name in self.names:
            self.nodes[name] = await folder.add_variable(
                ua.NodeId(ua.String(name), ua.Int16(idx)), name, 0.0
            )
        await server.start()
        self._server = server

    async def write(
        self,
        name: str,
        value: float,
        *,
        status: int = StatusCodes.Good,
        at: dt.datetime | None = None,
    ) -> None:
        assert self._server is not None
        at = at or dt.datetime.now(dt.UTC)
        dv = ua.DataValue(
            Value=ua.Variant(value, ua.VariantType.Double),
            StatusCode=ua.StatusCode(ua.UInt32(status)),
            SourceTimestamp=cast(ua.DateTime, at),
            ServerTimestamp=cast(ua.DateTime, dt.datetime.now(dt.UTC)),
        )
        await self._server.write_attribute_value(self.nodes[name].nodeid, dv)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None
