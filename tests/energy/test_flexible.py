"""Lowest-emission hours for a flexible load: hand-worked on a day with PV surplus."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from carbonstream.config.loader import validate
from carbonstream.config.plant import Plant
from carbonstream.core import opportunities as det
from carbonstream.energy.flexible import hour_of_day_mean, schedule
from tests.energy.simplant import plant_data


def test_marginal_intensity_and_best_slot_by_hand() -> None:
    # Grid 0.5 tCO2e/MWh. PV surplus (would be exported) 0.2 MWh at 11:00, 0.4 MWh at 12:00
    # and 13:00. Load 400 kW = 0.4 MWh an hour, 2 hours, between 08:00 and 18:00.
    # Marginal intensity: 0.5 x (1 - surplus/0.4): 11:00 0.25, 12:00 0, 13:00 0, else 0.5.
    surplus = np.zeros(24)
    surplus[11], surplus[12], surplus[13] = 0.2, 0.4, 0.4
    i = det.marginal_intensity(0.5, surplus, 0.4)
    assert i[10] == 0.5 and i[11] == pytest.approx(0.25) and i[12] == 0 and i[13] == 0
    # Best 2-hour run: 12:00-14:00, 0 t. Worst: any two grid hours, 0.4 MWh x 0.5 x 2 = 0.4 t.
    slot = det.lowest_emission_slot(i, 0.4, 2, 8, 18)
    assert slot is not None and slot.start_hour == 12 and slot.tco2e == 0
    assert slot.worst_tco2e == pytest.approx(0.4)
    # Allowed only until 13:00: 11:00-13:00 = 0.4 x (0.25 + 0) = 0.1 t.
    slot = det.lowest_emission_slot(i, 0.4, 2, 8, 13)
    assert slot is not None and slot.start_hour == 11 and slot.tco2e == pytest.approx(0.1)
    assert det.lowest_emission_slot(i, 0.4, 2, 8, 9) is None


def test_schedule_for_the_configured_load() -> None:
    plant = validate(plant_data(), Plant, "sim plant")  # batch: 400 kW, 2 h, any time
    surplus = np.zeros(24)
    surplus[12:14] = 0.4
    (s,) = schedule(plant, "hall", 0.6, surplus, dt.date(2026, 11, 3))
    assert (s["load"], s["start"], s["end"]) == ("batch", "12:00", "14:00")
    assert s["tco2e"] == 0 and s["saved_tco2e"] == pytest.approx(0.48)  # 0.8 MWh x 0.6
    assert not s["all_hours_alike"]
    (flat,) = schedule(plant, "hall", 0.6, np.zeros(24), dt.date(2026, 11, 3))
    assert flat["all_hours_alike"] and flat["saved_tco2e"] == pytest.approx(0, abs=1e-12)


def test_hour_of_day_mean() -> None:
    hod = np.array([0, 1, 0, 1, 2])
    assert hour_of_day_mean(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), hod)[:3].tolist() == [2, 3, 5]
