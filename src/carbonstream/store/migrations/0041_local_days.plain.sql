-- site_hour in UTC hours, as the TimescaleDB flavour's continuous aggregate
-- (time_bucket('1 hour')): 0002's date_trunc('hour', bucket) cut hours in the
-- reading session's TimeZone, so a session in Asia/Kolkata (+05:30) saw other
-- hours than one in UTC or on TimescaleDB. UTC hours are the plant's hours
-- wherever its offset is whole hours (China, +08:00). site_day is already in
-- the plant's days here (0002); 0041 on TimescaleDB makes it so there.
CREATE OR REPLACE VIEW site_hour AS
SELECT site,
       date_bin(INTERVAL '1 hour', bucket, timestamptz '2000-01-01 00:00+00') AS bucket,
       sum(scope1_t) AS scope1_t,
       sum(scope2_location_t) AS scope2_location_t,
       sum(scope2_market_t) AS scope2_market_t,
       sum(grid_import_mwh) AS grid_import_mwh,
       sum(generation_mwh) AS generation_mwh,
       sum(grid_export_mwh) AS grid_export_mwh
FROM site_minute
GROUP BY 1, 2;

COMMENT ON VIEW site_hour IS
    'Per site and UTC hour: sums of site_minute.';
COMMENT ON VIEW site_day IS
    'Per site and day in the plant''s time zone (plant.timezone): sums of site_minute.';
