-- Plain PostgreSQL: BRIN time indexes (tiny, good for append-mostly time
-- order) and hour/day rollups as views over the service-maintained minutes.

CREATE INDEX readings_ts_brin ON readings USING brin (ts);
CREATE INDEX emission_lines_bucket_brin ON emission_lines USING brin (bucket);
CREATE INDEX site_minute_bucket_brin ON site_minute USING brin (bucket);
CREATE INDEX dead_letters_received_brin ON dead_letters USING brin (received_at);

CREATE VIEW site_hour AS
SELECT site,
       date_trunc('hour', bucket) AS bucket,
       sum(scope1_t) AS scope1_t,
       sum(scope2_location_t) AS scope2_location_t,
       sum(scope2_market_t) AS scope2_market_t,
       sum(grid_import_mwh) AS grid_import_mwh,
       sum(generation_mwh) AS generation_mwh,
       sum(grid_export_mwh) AS grid_export_mwh
FROM site_minute
GROUP BY 1, 2;

-- Days in the plant's time zone (from the plant row).
CREATE VIEW site_day AS
SELECT m.site,
       date_trunc('day', m.bucket, p.timezone) AS bucket,
       sum(m.scope1_t) AS scope1_t,
       sum(m.scope2_location_t) AS scope2_location_t,
       sum(m.scope2_market_t) AS scope2_market_t,
       sum(m.grid_import_mwh) AS grid_import_mwh,
       sum(m.generation_mwh) AS generation_mwh,
       sum(m.grid_export_mwh) AS grid_export_mwh
FROM site_minute AS m CROSS JOIN plant AS p
GROUP BY 1, 2;
