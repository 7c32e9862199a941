"""A line's minute-by-minute emissions shared among the lots it made, exact to the second.

Each lot produced its allocation key (t, pieces, or value) evenly over ``[start, end)``.
In each minute bucket the line's figures go to the lots active in that minute in
proportion to the key each produced *in that minute*: ``key × overlap_s / duration_s``.
A minute no lot touched is idle: its figures are returned as ``unallocated``, never
dropped, so ``sum(lots) + unallocated == line total`` for every column (the property
``tests/core/test_allocation.py`` checks against :mod:`reference_allocate`).

Vectorized over the ragged (lot, minute) cells: no Python loop per lot or minute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from carbonstream.i18n import Msg
from carbonstream.refusals import FootprintError

BUCKET_S = 60
# A dense (lot x minute) grid would be large; the ragged cells are bounded instead.
MAX_CELLS = 20_000_000


class AllocationError(FootprintError):
    """Lots or minute series that cannot be allocated as given."""


@dataclass(frozen=True)
class Allocated:
    """Per-lot sums of every column, the idle remainder, and each lot's allocation trace."""

    lots: NDArray[np.float64]  # (n_lots, n_columns)
    unallocated: NDArray[np.float64]  # (n_columns,)
    minutes: NDArray[np.int64]  # per lot: minute buckets it shares
    shared_key: NDArray[np.float64]  # per lot: its key inside the window (== key if inside)
    mean_share: NDArray[np.float64]  # per lot: key-weighted share of its minutes' figures


def allocate(
    bucket_s: NDArray[np.int64],
    values: NDArray[np.float64],
    lot_start_s: NDArray[np.int64],
    lot_end_s: NDArray[np.int64],
    lot_key: NDArray[np.float64],
) -> Allocated:
    """Share ``values`` (n_minutes x n_columns, one row per minute bucket starting at
    ``bucket_s``, sorted, spaced by whole minutes) among lots ``[start, end)`` by key.

    Lots may overlap each other (products made side by side on one line) and may reach
    outside the buckets given (only the part inside is allocated here).
    """
    bucket_s = np.asarray(bucket_s, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != bucket_s.shape[0]:
        raise AllocationError("values need one row per minute bucket")
    n_lots = lot_start_s.shape[0]
    n_cols = values.shape[1]
    if np.any(np.diff(bucket_s) <= 0) or np.any(bucket_s % BUCKET_S):
        raise AllocationError("minute buckets must be whole minutes, sorted, without repeats")
    if np.any(lot_end_s <= lot_start_s):
        raise AllocationError("every lot must end after it starts")
    if np.any(~np.isfinite(lot_key)) or np.any(lot_key <= 0):
        raise AllocationError("every lot needs a positive allocation key")
    if bucket_s.size == 0 or n_lots == 0:
        return Allocated(
            np.zeros((n_lots, n_cols)),
            values.sum(axis=0),
            np.zeros(n_lots, np.int64),
            np.zeros(n_lots),
            np.zeros(n_lots),
        )
    # The buckets each lot touches: a contiguous index range [i0, i1).
    i0 = np.searchsorted(bucket_s, lot_start_s - (BUCKET_S - 1), side="left")
    i1 = np.searchsorted(bucket_s, lot_end_s, side="left")
    lens = np.maximum(i1 - i0, 0)
    total = int(lens.sum())
    if total > MAX_CELLS:
        raise AllocationError(
            Msg("problems.detail.lot-minutes-bound", {"total": total, "limit": MAX_CELLS})
        )
    lot_idx = np.repeat(np.arange(n_lots), lens)
    offsets = np.concatenate(([0], np.cumsum(lens)[:-1]))
    minute_idx = i0[lot_idx] + (np.arange(total) - offsets[lot_idx])
    t0 = bucket_s[minute_idx]
    overlap = np.minimum(lot_end_s[lot_idx], t0 + BUCKET_S) - np.maximum(lot_start_s[lot_idx], t0)
    overlap = np.clip(overlap, 0, BUCKET_S).astype(np.float64)
    rate = lot_key / (lot_end_s - lot_start_s).astype(np.float64)
    weight = overlap * rate[lot_idx]
    denom = np.bincount(minute_idx, weights=weight, minlength=bucket_s.size)
    share = np.divide(weight, denom[minute_idx], out=np.zeros_like(weight), where=weight > 0)
    out = np.empty((n_lots, n_cols))
    for c in range(n_cols):  # columns are few (tonnes by scope, MWh, fuels)
        out[:, c] = np.bincount(lot_idx, weights=share * values[minute_idx, c], minlength=n_lots)
    idle = denom <= 0
    unallocated = values[idle].sum(axis=0)
    minutes = np.bincount(lot_idx, weights=(overlap > 0).astype(np.float64), minlength=n_lots)
    shared_key = np.bincount(lot_idx, weights=weight, minlength=n_lots).astype(np.float64)
    mean_share = np.divide(
        np.bincount(lot_idx, weights=weight * share, minlength=n_lots),
        shared_key,
        out=np.zeros(n_lots),
        where=shared_key > 0,
    )
    return Allocated(out, unallocated, minutes.astype(np.int64), shared_key, mean_share)


# The columns of a line's minute series, in the order the allocation gets them.
BASE_COLUMNS = ("scope1_t", "grid_location_t", "grid_market_t", "heat_t", "grid_mwh")
FUEL_PREFIX = "fuel."


@dataclass(frozen=True)
class LineSeries:
    """A line's figures per minute bucket (a dense grid: zeros where nothing was metered)."""

    line: str
    site: str
    bucket_s: NDArray[np.int64]
    columns: Mapping[str, NDArray[np.float64]]
    meters: tuple[str, ...] = ()
    lineage_ids: tuple[int, ...] = ()

    @property
    def names(self) -> list[str]:
        fuels = sorted(c for c in self.columns if c.startswith(FUEL_PREFIX))
        return [*BASE_COLUMNS, *fuels]

    def matrix(self) -> NDArray[np.float64]:
        n = self.bucket_s.shape[0]
        return np.column_stack([self.columns.get(c, np.zeros(n)) for c in self.names]).reshape(
            n, len(self.names)
        )
