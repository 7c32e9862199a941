"""Modbus TCP, RTU over TCP and RTU over serial: the device config and its source.

A point reads either a quantity of the device's profile or a register spelled
out in the gateway file; both resolve to a :class:`ModbusPoint` (table, address,
type, word order, conversion to the meter's unit). Devices on one link share
its connection and lock (the hub holds the links). The wire itself is in
``carbonstream.gateway.modbus``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from carbonstream.config.plant import Identifier
from carbonstream.errors import ConfigError
from carbonstream.gateway.decode import Conversion, DataType, Order
from carbonstream.gateway.grouping import DEFAULT_MAX_GAP, MAX_READ_REGISTERS, Table
from carbonstream.gateway.links import Link
from carbonstream.gateway.modbus import ModbusDevicePoll, ModbusLink, ModbusPoint
from carbonstream.gateway.points import meter_unit, resolve_each
from carbonstream.gateway.profiles import Profile, load_profile, unit_factor
from carbonstream.gateway.source import (
    ConfigModel,
    DeviceConfig,
    Hub,
    PointConfig,
    Polling,
    Site,
    SourceSpec,
)


class Register(ConfigModel):
    """A register spelled out in the gateway file, for meters without a profile."""

    table: Table = Table.HOLDING
    address: int = Field(ge=0, le=65535, description="Zero-based address (register number - 1).")
    type: DataType = DataType.F32
    order: Order | None = Field(default=None, description="Overrides the device's order.")
    scale: float = 1.0
    unit: str | None = Field(default=None, description="Unit of the register after scale.")


class ModbusPointConfig(PointConfig):
    quantity: str | None = Field(default=None, description="A quantity of the device's profile.")
    # "register" is the file's name for it; the attribute avoids BaseModel's own names.
    reg: Register | None = Field(default=None, alias="register")
    order: Order | None = Field(default=None, description="Overrides the profile's word order.")
    multiplier: float = Field(default=1.0, description="Device-side factor, e.g. a CT ratio.")
    offset: float = 0.0

    @model_validator(mode="after")
    def _one_source(self) -> ModbusPointConfig:
        if (self.quantity is None) == (self.reg is None):
            raise ValueError("give either 'quantity' (from the profile) or 'register'")
        return self


class Grouping(ConfigModel):
    enabled: bool = True
    max_gap: int | None = Field(default=None, ge=0, description="Default: the profile's.")
    max_registers: int | None = Field(default=None, ge=1, le=MAX_READ_REGISTERS)


class ModbusDevice(DeviceConfig):
    protocol: Literal["modbus"] = "modbus"
    link: Identifier | None = Field(default=None, description="A link id; or give host/port.")
    host: str | None = None
    port: int = Field(default=502, ge=1, le=65535)
    transport: Literal["tcp", "rtu_over_tcp"] = "tcp"
    unit: int = Field(default=1, ge=0, le=247, description="Modbus unit (slave) id.")
    profile: str | None = None
    order: Order | None = Field(default=None, description="Default word order of the device.")
    grouping: Grouping = Grouping()
    points: list[ModbusPointConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _where(self) -> ModbusDevice:
        if (self.link is None) == (self.host is None):
            raise ValueError("give either 'link' (a shared connection) or 'host'")
        for i, p in enumerate(self.points):
            if p.quantity is not None and self.profile is None:
                raise ValueError(f"points[{i}] names a quantity but the device has no 'profile'")
        return self


def profile_of(site: Site, device: ModbusDevice) -> Profile | None:
    if device.profile is None:
        return None
    try:
        return load_profile(device.profile, site.profile_dirs)
    except KeyError as e:
        raise ConfigError("", [f"profile: {e.args[0]}"]) from None


def resolve_point(
    site: Site, device: ModbusDevice, profile: Profile | None, p: ModbusPointConfig
) -> ModbusPoint:
    if p.quantity is not None:
        assert profile is not None  # the model checks a quantity comes with a profile
        if p.quantity not in profile.quantities:
            raise ConfigError(
                "",
                [
                    f"quantity: {p.quantity!r} is not in profile {profile.id!r} "
                    f"(it has {', '.join(profile.quantities)})"
                ],
            )
        q = profile.quantities[p.quantity]
        table, dtype = profile.table_of(p.quantity), profile.type_of(p.quantity)
        order = p.order or device.order or profile.order_of(p.quantity)
        address, scale = q.address, q.scale
        src_unit: str | None = q.unit
    else:
        r = p.reg
        assert r is not None
        table, dtype, address, scale, src_unit = r.table, r.type, r.address, r.scale, r.unit
        order = p.order or r.order or device.order or Order.ABCD
    if (table in (Table.COIL, Table.DISCRETE)) != (dtype is DataType.BIT):
        raise ConfigError("", [f"register: type {dtype.value} cannot be read from {table}"])
    unit = meter_unit(site, p.meter, p.unit, src_unit)
    factor = 1.0 if src_unit is None else unit_factor(src_unit, unit)
    if factor is None:
        raise ConfigError(
            "",
            [
                f"unit: the register is in {src_unit!r} but meter {p.meter!r} is in "
                f"{unit!r}; use a 'register' entry with a scale that converts"
            ],
        )
    conv = Conversion(scale=scale * factor, multiplier=p.multiplier, offset=p.offset)
    return ModbusPoint(p.meter, unit, table, address, dtype, order, conv)


def resolve_modbus(site: Site, device: ModbusDevice) -> list[ModbusPoint]:
    """Every point of the device resolved; ConfigError naming each bad field."""
    profile = profile_of(site, device)
    return resolve_each(device.points, lambda p: resolve_point(site, device, profile, p))


class ModbusHub(Hub[ModbusDevice]):
    """The gateway's Modbus devices: one connection (and lock) per link, shared."""

    def __init__(self, site: Site) -> None:
        super().__init__(site)
        self.links: dict[str, ModbusLink] = {}

    def check(self, device: ModbusDevice) -> list[str]:
        links = self.site.links or {}
        if device.link is not None and device.link not in links:
            return [
                f"link: unknown link {device.link!r} (the links: section has "
                f"{', '.join(sorted(links)) or 'none'})"
            ]
        try:
            resolve_modbus(self.site, device)
        except ConfigError as e:
            return e.problems
        return []

    def _link(self, device: ModbusDevice) -> ModbusLink:
        if device.link is not None:
            key = device.link
            spec = (self.site.links or {})[device.link]
        else:
            assert device.host is not None
            key = f"{device.transport}://{device.host}:{device.port}"
            spec = Link(id="inline", transport=device.transport, host=device.host, port=device.port)
        if key not in self.links:
            self.links[key] = ModbusLink(spec)
        return self.links[key]

    def source(self, device: ModbusDevice, polling: Polling) -> ModbusDevicePoll:
        profile = profile_of(self.site, device)
        g = device.grouping
        return ModbusDevicePoll(
            device.id,
            device.unit,
            self._link(device),
            resolve_modbus(self.site, device),
            timeout_s=polling.timeout_s,
            retries=polling.retries,
            grouping=g.enabled,
            max_gap=g.max_gap
            if g.max_gap is not None
            else (profile.max_gap if profile else DEFAULT_MAX_GAP),
            max_registers=g.max_registers
            or (profile.max_registers if profile else MAX_READ_REGISTERS),
        )

    async def close(self) -> None:
        for link in self.links.values():
            link.close()


SOURCE = SourceSpec(protocol="modbus", device=ModbusDevice, hub=ModbusHub)
