"""Synthetic readings for a plant: counters integrate the profiles, rate meters sample them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from carbonstream.config.plant import Measures, Plant
from carbonstream.sim.patterns import Pattern, WeatherLoad, planted_rate, weather_rate
from carbonstream.sim.profiles import fraction_of_rating


@dataclass(frozen=True)
class SimOptions:
    start: dt.datetime  # aware
    hours: float
    step_s: int = 300
    seed: int = 7
    start_registers: dict[str, float] | None = None  # raw register value at start, per meter
    faults: bool = False  # a rate meter drops out for 30 min and one reading is marked bad
    patterns: tuple[Pattern, ...] = ()  # waste planted on meters (sim.patterns)
    clean: bool = False  # meters named in patterns follow their profile, nothing planted
    weather: tuple[WeatherLoad, ...] = ()  # loads that follow the outdoor air (always on)


BATCH_STANDBY = 0.01  # of rating: a batch furnace idles between batches
RATE_STEP_S = 60  # rate meters are sampled more often: they have no register to fall back on


def simulate(plant: Plant, opt: SimOptions) -> pl.DataFrame:
    """Readings as a frame with columns ts (UTC datetime), meter, value, quality.

    Counters integrate the profile exactly; a counter with a counter_range starts
    a few full-load hours below it, so the example shows a rollover; a recorded
    replacement makes the register jump from old_final to new_initial at its time.
    """
    rng = np.random.default_rng(opt.seed)
    starts = opt.start_registers or {}
    frames = []
    for meter in plant.meters:
        step = min(opt.step_s, RATE_STEP_S) if meter.measures is Measures.RATE else opt.step_s
        epoch_s, hour, weekday, doy = _clock(plant, opt, step)
        n = len(epoch_s)
        mine = [p for p in opt.patterns if p.meter == meter.id]
        weather = [w for w in opt.weather if w.meter == meter.id]
        frac = fraction_of_rating(meter, hour, weekday, doy, rng, process=bool(mine))
        if weather or any(p.kind == "batch" for p in mine):
            frac = np.full_like(frac, BATCH_STANDBY)  # the batch or the weather is all it does
        rate = meter.rating * frac  # unit/h
        for w in weather:
            rate = rate + weather_rate(w, hour, doy)
        clean = rate
        for p in [] if opt.clean else mine:
            rate = rate + planted_rate(p, clean, epoch_s, hour, weekday)
        if meter.measures is Measures.RATE:
            raw = rate / meter.multiplier
        else:
            inc = np.concatenate([[0.0], 0.5 * (rate[1:] + rate[:-1]) * step / 3600])
            cum = np.cumsum(inc) / meter.multiplier
            default_start = (
                meter.counter_range - 6 * meter.rating / meter.multiplier
                if meter.counter_range
                else 0.0
            )
            raw = starts.get(meter.id, default_start) + cum
            swap = next((r for r in plant.replacements if r.meter == meter.id), None)
            if swap is not None:
                at = swap.at.timestamp()
                cum_at = float(np.interp(at, epoch_s, cum))
                raw = np.where(
                    epoch_s < at,
                    swap.old_final - (cum_at - cum),
                    swap.new_initial + (cum - cum_at),
                )
            if meter.counter_range:
                raw = np.mod(raw, meter.counter_range)
        frames.append(
            pl.DataFrame(
                {
                    "ts": (epoch_s * 1e6).astype(np.int64),
                    "meter": [meter.id] * n,
                    "value": np.round(raw, 4),
                    "quality": np.zeros(n, dtype=np.uint8),
                }
            )
        )
    out = pl.concat(frames)
    if opt.faults:
        out = _faults(plant, opt, out)
    out = out.with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
    return out.sort(["ts", "meter"])


def _faults(plant: Plant, opt: SimOptions, df: pl.DataFrame) -> pl.DataFrame:
    """A device drop-out (no readings for 30 min) and one reading with bad quality."""
    mid_us = int((opt.start.timestamp() + opt.hours * 1800) * 1e6)
    rate_meters = [m.id for m in plant.meters if m.measures is Measures.RATE]
    if rate_meters:
        gone = (pl.col("meter") == rate_meters[0]) & pl.col("ts").is_between(
            mid_us, mid_us + 1800 * 1_000_000, closed="left"
        )
        df = df.filter(~gone)
    first_counter = next(m.id for m in plant.meters if m.measures is Measures.COUNTER)
    bad = (pl.col("meter") == first_counter) & (
        pl.col("ts") == pl.col("ts").filter(pl.col("meter") == first_counter).get(10)
    )
    return df.with_columns(
        pl.when(bad).then(pl.lit(2, dtype=pl.UInt8)).otherwise(pl.col("quality")).alias("quality")
    )


def _clock(
    plant: Plant, opt: SimOptions, step_s: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = int(opt.hours * 3600 // step_s) + 1
    epoch_s = opt.start.timestamp() + np.arange(n) * float(step_s)
    local = [dt.datetime.fromtimestamp(s, plant.zone) for s in epoch_s]
    hour = np.array([x.hour + x.minute / 60 for x in local])
    weekday = np.array([x.weekday() for x in local])
    doy = np.array([x.timetuple().tm_yday for x in local])
    return epoch_s, hour, weekday, doy
