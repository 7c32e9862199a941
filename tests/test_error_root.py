"""Every error carbonstream defines derives from one root, so `except CarbonstreamError`
catches whatever carbonstream raises on purpose, and a new error cannot escape it."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

import carbonstream
from carbonstream.errors import CarbonstreamError
from carbonstream.ingest.sparkplug import WireError
from carbonstream.transport.payload import PayloadError
from carbonstream.units import UnitError


def _defined_exceptions() -> dict[str, type[BaseException]]:
    # Walk the files, not pkgutil: a package without an __init__.py (a namespace) and
    # pkgutil.walk_packages would silently skip them.
    root = Path(carbonstream.__file__).parent
    found: dict[str, type[BaseException]] = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__main__":
            continue  # importing it would start the CLI
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        module = importlib.import_module(name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == name:
                found[f"{name}.{obj.__qualname__}"] = obj
    return found


@pytest.mark.slow
def test_every_exception_defined_in_carbonstream_derives_from_the_root() -> None:
    found = _defined_exceptions()
    # The walk must see the errors named in errors.py and elsewhere, or it proves nothing.
    assert "carbonstream.errors.ConfigError" in found
    assert "carbonstream.gateway.modbus.ReadError" in found
    assert "carbonstream.ingest.service.StoreRejectedError" in found
    escaped = sorted(name for name, cls in found.items() if not issubclass(cls, CarbonstreamError))
    assert escaped == [], f"derive these from carbonstream.errors.CarbonstreamError: {escaped}"


def test_value_errors_stay_value_errors_for_callers_that_catch_them() -> None:
    # pydantic validators and `except ValueError` callers rely on these.
    for cls in (PayloadError, UnitError, WireError):
        assert issubclass(cls, ValueError)
        assert issubclass(cls, CarbonstreamError)
