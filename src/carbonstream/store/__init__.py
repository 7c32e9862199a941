"""Storage: schema and migrations, bulk writes (binary COPY), rollups and queries.

PostgreSQL through psycopg 3; TimescaleDB hypertables, compression, retention
and continuous aggregates when the extension is present. Never imports ingest.
"""
