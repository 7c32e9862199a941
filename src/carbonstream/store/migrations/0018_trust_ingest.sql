-- Trust at the edges, ingest side.
-- Dead letters keep at most a configured prefix of the raw payload, so the whole
-- payload's length and SHA-256 are kept beside it (an operator can match the
-- evidence against a copy from the gateway or the broker).
ALTER TABLE dead_letters ADD COLUMN payload_bytes integer, ADD COLUMN payload_sha256 bytea;
UPDATE dead_letters SET payload_bytes = length(payload), payload_sha256 = sha256(payload);
ALTER TABLE dead_letters ALTER COLUMN payload_bytes SET NOT NULL,
    ALTER COLUMN payload_sha256 SET NOT NULL;

-- A reading for a stored (meter, time) with a different value or quality: the
-- stored one stays (first wins, so a restatement is an explicit act), the other
-- is recorded here with both values. An identical redelivery is not a conflict.
CREATE TABLE reading_conflicts (
    meter           integer NOT NULL REFERENCES meters (key),
    ts              timestamptz NOT NULL,
    stored_value    double precision,       -- NULL: the stored reading is not good
    stored_quality  smallint NOT NULL,
    value           double precision,       -- the value that arrived (NULL: not good)
    quality         smallint NOT NULL,
    first_seen      timestamptz NOT NULL DEFAULT now(),
    last_seen       timestamptz NOT NULL DEFAULT now(),
    seen            integer NOT NULL DEFAULT 1
);
-- One row per distinct arriving value: a redelivered conflicting message counts in `seen`.
CREATE UNIQUE INDEX reading_conflicts_key
    ON reading_conflicts (meter, ts, quality, (coalesce(value, 'NaN'::float8)));
CREATE INDEX reading_conflicts_meter_last ON reading_conflicts (meter, last_seen);

-- Implausible readings (core/plausible.py) are stored with a quality of their own
-- (64 negative, 65 above rating or register range, 66 a counter jump beyond its
-- rating) and their value. The meter's state carries the previous plausible reading
-- for the next jump check, and how many implausible readings it has had.
ALTER TABLE meter_state ADD COLUMN plausible_ts_ns bigint,
    ADD COLUMN plausible_value double precision NOT NULL DEFAULT 0,
    ADD COLUMN implausible bigint NOT NULL DEFAULT 0;

-- The inventory's data quality per meter and period: of the stored readings (0017's
-- reading_counts), how many were implausible.
ALTER TABLE reading_counts ADD COLUMN implausible bigint NOT NULL DEFAULT 0;
