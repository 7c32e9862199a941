"""Which simulated device serves which plant meter: one rule, used by the simulator and
documented for the example gateway files.

Every meter gets a Modbus unit id (1, 2, 3, ... in plant order) on the
simulator's one Modbus TCP port, as if the meters hung on an RS-485 line behind
a Modbus TCP gateway, and an OPC UA variable ``ns=2;s=<meter id>``.

- electricity counters and rates rotate through the three meter profiles
  (Eastron SDM630, Schneider PM5xxx, Janitza UMG 96): import and generation
  counters use the import register, export counters the export register,
  rate meters the total active power;
- fuel, heat and production meters use the generic flow computer: gas its base
  volume, liquids the actual volume, masses (t, kg) the mass total.
"""

from __future__ import annotations

from dataclasses import dataclass

from carbonstream.config.plant import Measures, Meter, MeterKind, Plant

_ELECTRIC = (MeterKind.GRID_IMPORT, MeterKind.GRID_EXPORT, MeterKind.ONSITE_GENERATION)
_ROTATION = ("eastron-sdm630", "schneider-pm5xxx", "janitza-umg96")
_COUNTER = {
    "eastron-sdm630": ("import_active_energy", "export_active_energy"),
    "schneider-pm5xxx": ("active_energy_delivered", "active_energy_received"),
    "janitza-umg96": ("active_energy_consumed", "active_energy_delivered"),
}
_POWER = {
    "eastron-sdm630": "total_active_power",
    "schneider-pm5xxx": "active_power_total",
    "janitza-umg96": "active_power_total",
}


@dataclass(frozen=True, slots=True)
class SimPoint:
    meter: Meter
    unit_id: int
    profile: str
    quantity: str | None  # None: served over OPC UA only (no fitting register)

    @property
    def node(self) -> str:
        return f"ns=2;s={self.meter.id}"


def layout(plant: Plant) -> list[SimPoint]:
    out: list[SimPoint] = []
    electric = 0
    for i, m in enumerate(plant.meters, start=1):
        if m.kind in _ELECTRIC:
            quantity: str | None
            profile = _ROTATION[electric % len(_ROTATION)]
            electric += 1
            if m.measures is Measures.RATE:
                quantity = _POWER[profile]
            else:
                imp, exp = _COUNTER[profile]
                quantity = exp if m.kind is MeterKind.GRID_EXPORT else imp
        else:
            profile = "generic-gas-flow-computer"
            if m.measures is Measures.RATE:
                quantity = "base_flow_rate" if m.unit.startswith(("m3", "Nm3")) else None
            elif m.unit in ("m3", "Nm3"):
                quantity = "base_volume" if m.kind is MeterKind.FUEL else "actual_volume"
            elif m.unit in ("L",):
                quantity = "actual_volume"
            elif m.unit in ("t", "kg"):
                quantity = "mass_total"
            else:
                quantity = None
        out.append(SimPoint(m, i, profile, quantity))
    return out
