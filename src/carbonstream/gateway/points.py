"""Resolve a device's points: profile quantity or register, meter unit, conversion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from carbonstream.errors import ConfigError
from carbonstream.gateway.decode import REGISTERS, Conversion, DataType, Order
from carbonstream.gateway.grouping import Span, Table
from carbonstream.gateway.profiles import Profile, load_profile, unit_factor

if TYPE_CHECKING:
    from carbonstream.gateway.config import Gateway, ModbusDevice, OpcuaDevice


@dataclass(frozen=True, slots=True)
class ModbusPoint:
    meter: str
    unit: str  # the meter's unit: what is published
    table: Table
    address: int
    type: DataType
    order: Order
    conversion: Conversion

    @property
    def span(self) -> Span:
        return Span(self.table, self.address, REGISTERS[self.type])


@dataclass(frozen=True, slots=True)
class OpcuaPoint:
    meter: str
    unit: str
    node: str
    scale: float


def _meter_unit(gateway: Gateway, meter: str, given: str | None, source: str | None) -> str:
    plant = gateway.plant
    if plant is None:
        unit = given or source
        if unit is None:
            raise ConfigError("", ["unit: without a plant file every point needs 'unit'"])
        return unit
    m = next((x for x in plant.meters if x.id == meter), None)
    if m is None:
        raise ConfigError("", [f"meter: {meter!r} is not a meter of plant {plant.name!r}"])
    if m.site != gateway.file.site:
        raise ConfigError(
            "",
            [f"meter: {meter!r} is at site {m.site!r}, not this gateway's {gateway.file.site!r}"],
        )
    if given is not None and given != m.unit:
        raise ConfigError("", [f"unit: {given!r} differs from the plant's unit {m.unit!r}"])
    return m.unit


def resolve_device(gateway: Gateway, device: ModbusDevice | OpcuaDevice) -> list[object]:
    from carbonstream.gateway.config import ModbusDevice

    if isinstance(device, ModbusDevice):
        return list(resolve_modbus(gateway, device))
    return list(resolve_opcua(gateway, device))


def profile_of(gateway: Gateway, device: ModbusDevice) -> Profile | None:
    if device.profile is None:
        return None
    try:
        return load_profile(device.profile, gateway.profile_dirs)
    except KeyError as e:
        raise ConfigError("", [f"profile: {e.args[0]}"]) from None


def resolve_modbus(gateway: Gateway, device: ModbusDevice) -> list[ModbusPoint]:
    profile = profile_of(gateway, device)
    out: list[ModbusPoint] = []
    problems: list[str] = []
    for i, p in enumerate(device.points):
        try:
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
            unit = _meter_unit(gateway, p.meter, p.unit, src_unit)
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
            out.append(ModbusPoint(p.meter, unit, table, address, dtype, order, conv))
        except ConfigError as e:
            problems.extend(f"points[{i}] (meter {p.meter!r}).{x}".rstrip(".") for x in e.problems)
    if problems:
        raise ConfigError("", problems)
    return out


def resolve_opcua(gateway: Gateway, device: OpcuaDevice) -> list[OpcuaPoint]:
    out: list[OpcuaPoint] = []
    problems: list[str] = []
    for i, p in enumerate(device.points):
        try:
            out.append(
                OpcuaPoint(p.meter, _meter_unit(gateway, p.meter, p.unit, None), p.node, p.scale)
            )
        except ConfigError as e:
            problems.extend(f"points[{i}] (meter {p.meter!r}).{x}" for x in e.problems)
    if problems:
        raise ConfigError("", problems)
    return out
