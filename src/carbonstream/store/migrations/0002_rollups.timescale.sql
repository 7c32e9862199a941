-- TimescaleDB: hypertables, compression and retention of raw readings, and
-- continuous aggregates for hour and day rollups. Checked for syntax in the
-- tests (TimescaleDB is not installable on the CI machine); run for real
-- wherever the extension is present.

SELECT create_hypertable('readings', by_range('ts', INTERVAL '1 day'), migrate_data => true);
SELECT create_hypertable('emission_lines', by_range('bucket', INTERVAL '7 days'),
                         migrate_data => true);
SELECT create_hypertable('site_minute', by_range('bucket', INTERVAL '30 days'),
                         migrate_data => true);

-- Raw readings compress well per meter; late data (within the ingest
-- lateness, default 1 day) arrives long before a chunk is compressed.
ALTER TABLE readings SET (timescaledb.compress,
                          timescaledb.compress_segmentby = 'meter',
                          timescaledb.compress_orderby = 'ts');
SELECT add_compression_policy('readings', compress_after => INTERVAL '7 days');
ALTER TABLE emission_lines SET (timescaledb.compress,
                                timescaledb.compress_segmentby = 'meter',
                                timescaledb.compress_orderby = 'bucket');
SELECT add_compression_policy('emission_lines', compress_after => INTERVAL '30 days');

-- Raw readings are kept 5 years (verification periods); lines and rollups,
-- which carry the account and its lineage, are never dropped by policy.
SELECT add_retention_policy('readings', drop_after => INTERVAL '5 years');

CREATE MATERIALIZED VIEW site_hour WITH (timescaledb.continuous) AS
SELECT site,
       time_bucket(INTERVAL '1 hour', bucket) AS bucket,
       sum(scope1_t) AS scope1_t,
       sum(scope2_location_t) AS scope2_location_t,
       sum(scope2_market_t) AS scope2_market_t,
       sum(grid_import_mwh) AS grid_import_mwh,
       sum(generation_mwh) AS generation_mwh,
       sum(grid_export_mwh) AS grid_export_mwh
FROM site_minute
GROUP BY site, time_bucket(INTERVAL '1 hour', bucket)
WITH NO DATA;

SELECT add_continuous_aggregate_policy('site_hour',
    start_offset => INTERVAL '3 days',
    end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '1 minute');

-- Hierarchical aggregate: days from hours (UTC days; the API renders the
-- plant's zone from hours where the offset is not whole days).
CREATE MATERIALIZED VIEW site_day WITH (timescaledb.continuous) AS
SELECT site,
       time_bucket(INTERVAL '1 day', bucket) AS bucket,
       sum(scope1_t) AS scope1_t,
       sum(scope2_location_t) AS scope2_location_t,
       sum(scope2_market_t) AS scope2_market_t,
       sum(grid_import_mwh) AS grid_import_mwh,
       sum(generation_mwh) AS generation_mwh,
       sum(grid_export_mwh) AS grid_export_mwh
FROM site_hour
GROUP BY site, time_bucket(INTERVAL '1 day', bucket)
WITH NO DATA;

SELECT add_continuous_aggregate_policy('site_day',
    start_offset => INTERVAL '7 days',
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '15 minutes');
