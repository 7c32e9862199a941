"""Meter profiles: register maps as data files, one per meter model.

A profile names each quantity a meter offers (``import_active_energy``), where
it lives (table, zero-based address), its type, word order, resolution and
unit. The files are in ``carbonstream/data/profiles/*.yaml``; each cites the
manufacturer's register map it was written from and says what was checked.
A gateway file may add its own profile folder (``profile_dirs``).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from carbonstream import units
from carbonstream.config.loader import load_model
from carbonstream.errors import ConfigError
from carbonstream.gateway.decode import REGISTERS, DataType, Order
from carbonstream.gateway.grouping import DEFAULT_MAX_GAP, MAX_READ_REGISTERS, Table

ProfileId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Model):
    document: str = Field(min_length=1, description="Title of the manufacturer's register map.")
    version: str = Field(default="", description="Document version or date, as printed.")
    url: str = ""


class Quantity(_Model):
    address: int = Field(ge=0, le=65535, description="Zero-based address (register number - 1).")
    table: Table | None = None
    type: DataType | None = None
    order: Order | None = None
    scale: float = Field(default=1.0, description="Resolution: unit per raw count.")
    unit: str = Field(min_length=1, max_length=16)
    description: str = ""


class Defaults(_Model):
    table: Table = Table.HOLDING
    type: DataType = DataType.F32
    order: Order = Order.ABCD


class Profile(_Model):
    id: ProfileId
    manufacturer: str
    model: str
    source: Source
    verified: str = Field(min_length=1, description="What was checked, against what.")
    defaults: Defaults = Defaults()
    max_registers: int = Field(
        default=MAX_READ_REGISTERS,
        ge=1,
        le=MAX_READ_REGISTERS,
        description="Largest read the device accepts.",
    )
    max_gap: int = Field(
        default=DEFAULT_MAX_GAP, ge=0, description="Largest gap read across in one request."
    )
    quantities: dict[str, Quantity] = Field(min_length=1)

    @model_validator(mode="after")
    def _bits_are_bits(self) -> Profile:
        for name, q in self.quantities.items():
            table, dtype = self.table_of(name), self.type_of(name)
            is_bits = table in (Table.COIL, Table.DISCRETE)
            if is_bits != (dtype is DataType.BIT):
                raise ValueError(
                    f"quantity {name!r}: type {dtype.value} cannot be read from {table}"
                )
            if q.address + REGISTERS[dtype] > 65536:
                raise ValueError(f"quantity {name!r} runs past register 65535")
        return self

    def table_of(self, name: str) -> Table:
        return self.quantities[name].table or self.defaults.table

    def type_of(self, name: str) -> DataType:
        return self.quantities[name].type or self.defaults.type

    def order_of(self, name: str) -> Order:
        return self.quantities[name].order or self.defaults.order


def builtin_dir() -> Path:
    return Path(str(resources.files("carbonstream") / "data" / "profiles"))


def available(extra_dirs: tuple[Path, ...] = ()) -> dict[str, Path]:
    """Profile id -> file; a file in an extra folder overrides a built-in of the same id."""
    found: dict[str, Path] = {}
    for folder in (builtin_dir(), *extra_dirs):
        for path in sorted(folder.glob("*.yaml")):
            found[path.stem] = path
    return found


@cache
def _load(path: Path) -> Profile:
    profile = load_model(path, Profile)
    if profile.id != path.stem:
        raise ConfigError(str(path), [f"id: {profile.id!r} must equal the file name {path.stem!r}"])
    return profile


def load_profile(profile_id: str, extra_dirs: tuple[Path, ...] = ()) -> Profile:
    files = available(extra_dirs)
    if profile_id not in files:
        raise KeyError(f"unknown profile {profile_id!r}; built in: {', '.join(sorted(files))}")
    return _load(files[profile_id])


_CONVERTIBLE = (
    units.ELECTRICITY,
    units.ELECTRICITY_RATE,
    units.MASS,
    units.MASS_RATE,
    units.LIQUID_VOLUME_L,
    units.LIQUID_VOLUME_RATE_L,
    {"varh": 1.0, "kvarh": 1e3, "kVArh": 1e3, "Mvarh": 1e6},
    {"var": 1.0, "VAr": 1.0, "kvar": 1e3, "kVAr": 1e3},
)


def unit_factor(source: str, target: str) -> float | None:
    """Multiply a value in ``source`` by this to get ``target``; None if they do not convert."""
    if source == target:
        return 1.0
    for table in _CONVERTIBLE:
        if source in table and target in table:
            return table[source] / table[target]
    return None
