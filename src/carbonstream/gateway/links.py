"""Links: connections that several devices share (a serial bus, or a Modbus TCP gateway).

A link is declared once at the top of the gateway file (``links:``) and named by
its devices; the protocol that owns the devices opens it and keeps its lock.
Today Modbus is the only protocol with shared links.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from carbonstream.config.plant import Identifier


class Link(BaseModel):
    """A connection that devices share: a serial bus, or a Modbus TCP gateway."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Identifier
    transport: Literal["tcp", "rtu_over_tcp", "rtu"] = "tcp"
    host: str | None = None
    port: int = Field(default=502, ge=1, le=65535)
    serial_port: str | None = Field(default=None, description="e.g. /dev/ttyUSB0")
    baudrate: int = Field(default=9600, ge=300)
    parity: Literal["N", "E", "O"] = "E"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    pause_s: float = Field(
        default=0.0, ge=0, le=5, description="Quiet time between requests on this link."
    )

    @model_validator(mode="after")
    def _where(self) -> Link:
        if self.transport == "rtu":
            if not self.serial_port:
                raise ValueError("an rtu link needs 'serial_port'")
        elif not self.host:
            raise ValueError(f"a {self.transport} link needs 'host'")
        return self
