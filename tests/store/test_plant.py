"""The plant in the database: what ingest stores is what the commands read back."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from carbonstream.store.db import connect
from carbonstream.store.errors import NoPlantError
from carbonstream.store.migrate import migrate
from carbonstream.store.plant import stored_plant, stored_plant_async, sync_plant
from tests import plants


def test_no_plant_says_to_run_ingest_first_on_both_connections(db_url: str) -> None:
    with connect(db_url) as conn:
        migrate(conn)
        with pytest.raises(NoPlantError, match="no plant yet: run ingest first"):
            stored_plant(conn)

    async def read() -> None:
        async with await psycopg.AsyncConnection.connect(db_url) as aconn:
            await stored_plant_async(aconn)

    with pytest.raises(NoPlantError, match="no plant yet: run ingest first"):
        asyncio.run(read())


def test_the_synced_plant_reads_back_equal_on_both_connections(db_url: str) -> None:
    plant = plants.plant(
        [plants.meter("grid-1"), plants.meter("grid-2", site="s2")], name="back and forth"
    )
    with connect(db_url) as conn:
        migrate(conn)
        sync_plant(conn, plant)
        assert stored_plant(conn) == plant

    async def read() -> object:
        async with await psycopg.AsyncConnection.connect(db_url) as aconn:
            return await stored_plant_async(aconn)

    assert asyncio.run(read()) == plant
