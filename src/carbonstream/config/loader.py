"""Load a configuration file (YAML or TOML) into a pydantic model.

A bad file fails here, at start, with every problem listed as
``field.path: reason`` so the operator can fix them all in one go.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ValidationError

from carbonstream.config.hourly import ProfileError, read_profile
from carbonstream.config.plant import Plant
from carbonstream.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def read_mapping(path: Path) -> dict[str, Any]:
    """Parse a YAML or TOML file into a mapping, or raise ConfigError."""
    if not path.is_file():
        raise ConfigError(str(path), ["file not found"])
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            raise ConfigError(str(path), ["unknown file type: use .yaml, .yml or .toml"])
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(str(path), [f"cannot parse: {e}"]) from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), ["the top level must be a mapping of fields"])
    return data


def load_model(path: str | Path, model: type[M]) -> M:
    path = Path(path)
    data = read_mapping(path)
    return validate(data, model, str(path))


def validate(data: dict[str, Any], model: type[M], source: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(source, [_describe(err, data) for err in e.errors()]) from None


def load_plant(path: str | Path) -> Plant:
    """Load a plant file; relative factor_files are resolved against the file's folder, and
    instruments' hourly profiles (CSV files, relative to it too) are read into the model."""
    path = Path(path)
    data = read_mapping(path)
    problems = read_profiles(data, path.parent)
    if problems:
        raise ConfigError(str(path), problems)
    plant = validate(data, Plant, str(path))
    resolved = [str((path.parent / f).resolve()) for f in plant.factor_files]
    upstream = [str((path.parent / f).resolve()) for f in plant.footprint.factor_files]
    footprint = plant.footprint.model_copy(update={"factor_files": upstream})
    return plant.model_copy(update={"factor_files": resolved, "footprint": footprint})


def read_profiles(data: dict[str, Any], folder: Path) -> list[str]:
    """Put each ``hourly_profile`` file's rows into the instrument's ``hourly`` (in place)."""
    problems = []
    instruments = data.get("instruments")
    if not isinstance(instruments, list):
        return []
    zone = _zone(data.get("timezone"))
    for k, ins in enumerate(instruments):
        if not isinstance(ins, dict) or ins.get("hourly_profile") is None:
            continue
        where = _path(("instruments", k, "hourly_profile"), data)
        if ins.get("hourly") is not None:
            problems.append(f"{where}: give the hours in the file or inline (hourly), not both")
            continue
        try:
            rows = read_profile(folder / str(ins["hourly_profile"]), zone)
        except ProfileError as e:
            problems.append(f"{where}: {e}")
            continue
        ins["hourly"] = [{"hour": h, "kwh": kwh} for h, kwh in rows]
    return problems


def _zone(name: object) -> ZoneInfo:
    try:
        return ZoneInfo(str(name or Plant.model_fields["timezone"].default))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")  # the plant's own check names the bad zone


def _describe(err: Any, data: dict[str, Any]) -> str:
    loc = err.get("loc", ())
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{_path(loc, data) or '(top level)'}: {msg}"


def _path(loc: tuple[Any, ...], data: Any) -> str:
    """Render ('meters', 3, 'rating') as meters[3] (id 'gas-1').rating."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int):
            label = f"[{key}]"
            if isinstance(node, list) and key < len(node):
                node = node[key]
                if isinstance(node, dict) and "id" in node:
                    label += f" (id {node['id']!r})"
            else:
                node = None
            parts.append(label)
        else:
            parts.append(("." if parts else "") + str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts)
