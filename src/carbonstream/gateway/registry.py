"""The one place that knows which acquisition protocols exist.

Every module in the ``carbonstream.gateway.protocols`` package declares
``SOURCE = SourceSpec(...)``; this registry imports them all and maps each
``protocol:`` name of the gateway file to its spec (config model and hub).
Nothing is listed by hand: a new module in that package is a new protocol.
The gateway file's device entries are validated by a pydantic discriminated
union built here from the registered config models, so a new protocol's
fields are checked (and its errors named ``devices[i].field``) like the
built-in ones.
"""

from __future__ import annotations

import importlib
import pkgutil
import typing
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, Union

from pydantic import Discriminator, Tag, TypeAdapter

from carbonstream.errors import CarbonstreamError
from carbonstream.gateway import protocols as _package
from carbonstream.gateway.source import DeviceConfig, SourceSpec

# A device without ``protocol:`` is Modbus, as every file was before OPC UA came.
DEFAULT_PROTOCOL = "modbus"


class RegistryError(CarbonstreamError):
    """A module in the protocols package does not declare a usable ``SOURCE``."""


def protocols() -> Mapping[str, SourceSpec[Any]]:
    """Protocol name -> spec, for every module of the protocols package."""
    return _discover(tuple(_package.__path__))


def validate_device(value: Any) -> DeviceConfig:
    """One ``devices:`` entry as the config model of its ``protocol``."""
    adapter: TypeAdapter[DeviceConfig] = _adapter(tuple(_package.__path__))
    return adapter.validate_python(value)


def _protocol_of(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("protocol", DEFAULT_PROTOCOL))
    return str(getattr(value, "protocol", DEFAULT_PROTOCOL))


@cache
def _discover(paths: tuple[str, ...]) -> Mapping[str, SourceSpec[Any]]:
    found: dict[str, SourceSpec[Any]] = {}
    for info in sorted(pkgutil.iter_modules(list(paths)), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        name = f"{_package.__name__}.{info.name}"
        spec = getattr(importlib.import_module(name), "SOURCE", None)
        if not isinstance(spec, SourceSpec):
            raise RegistryError(f"{name} declares no SOURCE = SourceSpec(...)")
        literal = typing.get_args(spec.device.model_fields["protocol"].annotation)
        if literal != (spec.protocol,):
            raise RegistryError(
                f"{name}: {spec.device.__name__}.protocol must be Literal[{spec.protocol!r}]"
            )
        if spec.protocol in found:
            raise RegistryError(f"{name}: protocol {spec.protocol!r} is declared twice")
        found[spec.protocol] = spec
    return found


@cache
def _adapter(paths: tuple[str, ...]) -> TypeAdapter[DeviceConfig]:
    specs = _discover(paths)
    members = tuple(Annotated[s.device, Tag(name)] for name, s in specs.items())
    union: Any = Union[members]  # noqa: UP007 - a union of run-time values needs Union[...]
    known = ", ".join(specs)
    return TypeAdapter(
        Annotated[
            union,
            Discriminator(
                _protocol_of,
                custom_error_type="unknown_protocol",
                custom_error_message=f"protocol: unknown; this gateway knows {known}",
            ),
        ]
    )
