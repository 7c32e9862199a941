-- site_day in the plant's days, as in the plain flavour. 0002 made it here a
-- continuous aggregate of UTC days: for a plant in China a "day" ran 08:00 to
-- 08:00, while the plain flavour's site_day ran midnight to midnight. A
-- continuous aggregate buckets in one constant zone fixed when it is created,
-- and the plant's zone is known only once the plant is synced (and may change
-- with the plant file), so site_day is a view over site_minute in both
-- flavours, with the zone read from the plant row: exact for every offset
-- (:30 and :45 zones included) and DST-correct. site_hour stays the
-- continuous aggregate (UTC hours) for fast reads.
DROP MATERIALIZED VIEW site_day;  -- its refresh policy goes with it

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

COMMENT ON VIEW site_day IS
    'Per site and day in the plant''s time zone (plant.timezone): sums of site_minute.';
