"""An OPC UA server (asyncua) with one Double variable per meter: ns=2;s=<meter id>.

With ``certificate`` and ``private_key`` it offers only Basic256Sha256 with
SignAndEncrypt; with ``users`` it accepts only those user names and passwords
(no anonymous sessions).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any, cast

from asyncua import ua
from asyncua.common.node import Node
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.server import Server
from asyncua.server.user_managers import UserManager
from asyncua.ua.status_codes import StatusCodes

NAMESPACE = "urn:carbonstream:simulator"


class _Users(UserManager):
    def __init__(self, users: dict[str, str]) -> None:
        self.users = users

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if username is not None and self.users.get(username) == password:
            return User(role=UserRole.User, name=username)
        return None


class VariableServer:
    def __init__(
        self,
        names: list[str],
        *,
        host: str = "127.0.0.1",
        port: int = 4840,
        certificate: Path | None = None,
        private_key: Path | None = None,
        users: dict[str, str] | None = None,
    ) -> None:
        self.names = names
        self.certificate = certificate
        self.private_key = private_key
        self.users = users
        self.host = host
        self.port = port  # 0: a free one, chosen by the kernel when the server binds (start)
        self.endpoint = f"opc.tcp://{host}:{port}/carbonstream/"
        self.nodes: dict[str, Node] = {}
        self._server: Server | None = None

    async def start(self) -> None:
        for name in ("asyncua", "asyncua.server"):
            logging.getLogger(name).setLevel(logging.ERROR)
        server = Server(user_manager=_Users(self.users) if self.users is not None else None)
        await server.init()
        server.set_endpoint(self.endpoint)
        if self.certificate is not None and self.private_key is not None:
            await server.load_certificate(str(self.certificate))
            await server.load_private_key(str(self.private_key))
            server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        if self.users is not None:
            server.set_security_IDs(["Username"])
        server.set_server_name("carbonstream simulator")
        idx = await server.register_namespace(NAMESPACE)  # the first one: index 2
        folder = await server.nodes.objects.add_folder(idx, "Meters")
        for name in self.names:
            self.nodes[name] = await folder.add_variable(
                ua.NodeId(ua.String(name), ua.Int16(idx)), name, 0.0
            )
        await server.start()
        self._server = server
        if self.port == 0 and server.bserver is not None:  # the port it bound, for clients
            self.port = server.bserver.port
            self.endpoint = f"opc.tcp://{self.host}:{self.port}/carbonstream/"

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
