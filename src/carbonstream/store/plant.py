"""The plant model in the database: synced in (sites, meters, instruments, state rows), and
read back as the configuration the stored account was computed with.

Rows are matched by their plant ids and never deleted (history refers to
them); the integer keys the hot tables use are returned as arrays indexed
like the core's dense meter and site indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.plant import Plant
from carbonstream.store.db import AsyncConn, Conn
from carbonstream.store.errors import NoPlantError

_SELECT_PLANT = "SELECT config FROM plant"
_NO_PLANT = "the database holds no plant yet: run ingest first"


@dataclass(frozen=True)
class Keys:
    """Database keys by core index, and back."""

    meter: NDArray[np.int32]  # meter key by dense meter index
    site: NDArray[np.int32]  # site key by site index
    meter_index: dict[int, int]  # meter key -> dense index
    site_index: dict[int, int]  # site key -> site index


def stored_plant(conn: Conn) -> Plant:
    """The plant stored by ingest; ``NoPlantError`` (saying what to do) when there is none."""
    return _plant(conn.execute(_SELECT_PLANT).fetchone())


async def stored_plant_async(conn: AsyncConn) -> Plant:
    """``stored_plant`` on an async connection."""
    return _plant(await (await conn.execute(_SELECT_PLANT)).fetchone())


def site_keys(conn: Conn) -> dict[str, int]:
    """Site id -> the integer key the hot tables use."""
    return {str(r[0]): int(r[1]) for r in conn.execute("SELECT id, key FROM sites").fetchall()}


def _plant(row: tuple[object, ...] | None) -> Plant:
    if row is None:
        raise NoPlantError(_NO_PLANT)
    return Plant.model_validate(row[0])


def sync_plant(conn: Conn, plant: Plant) -> Keys:
    """Upsert the plant's sites, meters and instruments; one transaction."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO plant (id, name, timezone, config) VALUES (true, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
            " timezone = excluded.timezone, config = excluded.config, updated_at = now()",
            (plant.name, plant.timezone, plant.model_dump_json()),
        )
        site_keys = []
        for s in plant.sites:
            row = conn.execute(
                "INSERT INTO sites (id, name, grid_region) VALUES (%s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                " grid_region = excluded.grid_region RETURNING key",
                (s.id, s.name, s.grid_region or plant.grid_region),
            ).fetchone()
            assert row is not None
            site_keys.append(int(row[0]))
        by_site = {s.id: k for s, k in zip(plant.sites, site_keys, strict=True)}
        meter_keys = []
        for m in plant.meters:
            row = conn.execute(
                "INSERT INTO meters (id, site, kind, measures, unit, config)"
                " VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET site = excluded.site, kind = excluded.kind,"
                " measures = excluded.measures, unit = excluded.unit, config = excluded.config"
                " RETURNING key",
                (
                    m.id,
                    by_site[m.site],
                    m.kind.value,
                    m.measures.value,
                    m.unit,
                    m.model_dump_json(),
                ),
            ).fetchone()
            assert row is not None
            meter_keys.append(int(row[0]))
        conn.execute(
            "INSERT INTO meter_state (meter) SELECT unnest(%s::int[]) ON CONFLICT DO NOTHING",
            (meter_keys,),
        )
        for i in plant.instruments:
            claim = i.claim_period
            conn.execute(
                "INSERT INTO instruments (id, type, site, mwh, generation_start, generation_end,"
                " claim_start, claim_end, ef_t_per_mwh, market, source, serials)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET type = excluded.type, site = excluded.site,"
                " mwh = excluded.mwh, generation_start = excluded.generation_start,"
                " generation_end = excluded.generation_end, claim_start = excluded.claim_start,"
                " claim_end = excluded.claim_end, ef_t_per_mwh = excluded.ef_t_per_mwh,"
                " market = excluded.market, source = excluded.source, serials = excluded.serials",
                (
                    i.id,
                    i.type.value,
                    by_site[i.site],
                    i.mwh,
                    i.generation.start,
                    i.generation.end,
                    claim.start,
                    claim.end,
                    i.emission_factor_t_per_mwh,
                    i.market,
                    i.source,
                    i.serials,
                ),
            )
            conn.execute(
                "INSERT INTO instrument_usage (instrument) VALUES (%s) ON CONFLICT DO NOTHING",
                (i.id,),
            )
    meter_arr = np.array(meter_keys, dtype=np.int32)
    site_arr = np.array(site_keys, dtype=np.int32)
    return Keys(
        meter=meter_arr,
        site=site_arr,
        meter_index={k: i for i, k in enumerate(meter_keys)},
        site_index={k: i for i, k in enumerate(site_keys)},
    )
