"""Configuration models and their loader (YAML or TOML files)."""

from carbonstream.config.loader import load_model, load_plant
from carbonstream.config.plant import (
    Fuel,
    GwpSet,
    Instrument,
    InstrumentType,
    Measures,
    Meter,
    MeterKind,
    Method,
    Plant,
    Replacement,
    Site,
)

__all__ = [
    "Fuel",
    "GwpSet",
    "Instrument",
    "InstrumentType",
    "Measures",
    "Meter",
    "MeterKind",
    "Method",
    "Plant",
    "Replacement",
    "Site",
    "load_model",
    "load_plant",
]
