"""Migrations on a real PostgreSQL (plain flavour) and the TimescaleDB statements.

TimescaleDB is not installable here, so its migration is checked two ways:
parsed by PostgreSQL's own parser (pglast), and run inside a rolled-back
transaction against the real plain schema with stub functions of the same
signatures (create_hypertable, by_range, add_*_policy, time_bucket), which
resolves every table, column and named argument. The `timescaledb.*` storage
options cannot run without the extension; their column names are checked.
"""

from __future__ import annotations

import re

import pglast
import psycopg
from pglast import ast

from carbonstream.store.migrate import Flavour, available, current_flavour, detect, migrate

STUBS = """
CREATE FUNCTION by_range(text, interval) RETURNS text LANGUAGE sql AS 'SELECT $1';
CREATE FUNCTION create_hypertable(regclass, text, migrate_data boolean) RETURNS void
    LANGUAGE sql AS 'SELECT';
CREATE FUNCTION add_compression_policy(regclass, compress_after interval) RETURNS int
    LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION add_retention_policy(regclass, drop_after interval) RETURNS int
    LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION add_continuous_aggregate_policy(regclass, start_offset interval,
    end_offset interval, schedule_interval interval) RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION time_bucket(interval, timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE AS 'SELECT date_bin($1, $2, timestamptz ''2000-01-01'')';
"""


def _timescale_sql() -> str:
    """0002, the TimescaleDB step with hypertables, policies and aggregates."""
    [m] = [m for m in available() if m.flavour is Flavour.TIMESCALE and m.version == 2]
    return m.sql


def test_plain_schema_applies_once_and_is_detected(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        assert detect(conn) is Flavour.PLAIN
        flavour, applied = migrate(conn)
        assert flavour is Flavour.PLAIN
        shipped = sorted({m.version for m in available() if m.flavour is not Flavour.TIMESCALE})
        assert [m.version for m in applied] == shipped
        again = migrate(conn)[1]
        assert again == []
        assert current_flavour(conn) is Flavour.PLAIN
        tables = {
            str(r[0])
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchall()
        }
    assert {
        "sites",
        "meters",
        "factors",
        "lineage",
        "lineage_factors",
        "readings",
        "late_readings",
        "emission_lines",
        "site_minute",
        "site_scope_minute",
        "site_hour",
        "site_day",
        "instruments",
        "instrument_usage",
        "allocations",
        "offsets",
        "dead_letters",
        "meter_state",
        "stream_positions",
        "schema_migrations",
    } <= tables


def test_timescale_migration_parses() -> None:
    stmts = pglast.parse_sql(_timescale_sql())
    kinds = [type(s.stmt).__name__ for s in stmts]
    assert kinds.count("CreateTableAsStmt") == 2  # the two continuous aggregates
    assert kinds.count("AlterTableStmt") == 2  # compression settings


def test_timescale_migration_runs_against_stubs(db_url: str) -> None:
    text = _timescale_sql()
    with psycopg.connect(db_url) as conn:
        migrate(conn)  # plain schema: the tables the TimescaleDB steps work on
        conn.autocommit = False
        conn.execute("DROP VIEW site_day")
        conn.execute("DROP VIEW site_hour")
        conn.execute(STUBS)
        for raw in pglast.parse_sql(text):
            stmt = raw.stmt
            loc = raw.stmt_location or 0
            end = loc + raw.stmt_len if raw.stmt_len else len(text)  # 0: to the end
            piece = text[loc:end].strip()
            assert piece, loc
            if isinstance(stmt, ast.AlterTableStmt):
                _check_compress_columns(conn, piece)
                continue
            if isinstance(stmt, ast.CreateTableAsStmt):
                piece = piece.replace("MATERIALIZED VIEW", "VIEW")
                piece = piece.replace("WITH (timescaledb.continuous)", "")
                piece = piece.replace("WITH NO DATA", "")
            conn.execute(piece.encode())
        conn.rollback()


def _check_compress_columns(conn: psycopg.Connection[tuple[object, ...]], piece: str) -> None:
    table = re.search(r"ALTER TABLE (\w+)", piece)
    assert table, piece
    cols = re.findall(r"compress_(?:segmentby|orderby) = '(\w+)'", piece)
    assert cols, piece
    for col in cols:
        row = conn.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
            (table.group(1), col),
        ).fetchone()
        assert row, f"{table.group(1)}.{col} does not exist"
