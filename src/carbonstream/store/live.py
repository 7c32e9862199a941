"""Queries behind the live view: recent site minutes, running totals, meter status.

Every query reads the service-maintained ``site_minute`` rollup, the meters'
state and the newest reading per meter through its primary key, so the cost
does not grow with the history kept. Times are bound parameters (tz-aware UTC);
site and meter ids come back as the plant's ids.
"""

from __future__ import annotations

# Complete minutes of every site in [lo, hi): rates and the trend line.
MINUTES_SQL = """
SELECT s.id, m.bucket, m.scope1_t, m.scope2_location_t, m.scope2_market_t
FROM site_minute AS m JOIN sites AS s ON s.key = m.site
WHERE m.bucket >= %(lo)s AND m.bucket < %(hi)s
ORDER BY s.id, m.bucket
"""

# Totals per site over [lo, hi) (the current, still filling minute included).
TOTALS_SQL = """
SELECT s.id, sum(m.scope1_t), sum(m.scope2_location_t), sum(m.scope2_market_t)
FROM site_minute AS m JOIN sites AS s ON s.key = m.site
WHERE m.bucket >= %(lo)s AND m.bucket < %(hi)s
GROUP BY s.id
"""

# When each site's data begins: its meters' oldest reading, one index probe each.
DATA_START_SQL = """
SELECT s.id, min(r.ts)
FROM sites AS s
JOIN meters AS m ON m.site = s.key
CROSS JOIN LATERAL (
    SELECT ts FROM readings WHERE meter = m.key ORDER BY ts LIMIT 1
) AS r
GROUP BY s.id
"""

# Per meter: the newest reading (any quality) and the newest good one the core used.
METERS_SQL = """
SELECT m.id, s.id, r.ts, r.quality,
       CASE WHEN st.last_ts_ns IS NULL THEN NULL
            ELSE to_timestamp(st.last_ts_ns / 1e9) END
FROM meters AS m
JOIN sites AS s ON s.key = m.site
LEFT JOIN meter_state AS st ON st.meter = m.key
LEFT JOIN LATERAL (
    SELECT ts, quality FROM readings WHERE meter = m.key ORDER BY ts DESC LIMIT 1
) AS r ON true
"""
