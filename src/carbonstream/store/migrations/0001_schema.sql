-- carbonstream schema v1: the same on plain PostgreSQL and TimescaleDB.
-- Times are timestamptz (UTC instants); meter state keeps exact ns as bigint.

CREATE TABLE plant (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),  -- one row
    name        text NOT NULL,
    timezone    text NOT NULL,
    config      jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sites (
    key          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           text NOT NULL UNIQUE,
    name         text NOT NULL DEFAULT '',
    grid_region  text
);

CREATE TABLE meters (
    key        integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         text NOT NULL UNIQUE,
    site       integer NOT NULL REFERENCES sites (key),
    kind       text NOT NULL,
    measures   text NOT NULL,
    unit       text NOT NULL,
    config     jsonb NOT NULL
);

-- Emission factors used by any stored figure (the library is versioned: a new
-- version is a new row, never an update of a used one).
CREATE TABLE factors (
    factor_id  text NOT NULL,
    version    integer NOT NULL,
    value      double precision NOT NULL,
    unit       text NOT NULL,
    source     text NOT NULL,
    source_table text NOT NULL DEFAULT '',
    data_year  integer,
    verified   text NOT NULL DEFAULT '',
    PRIMARY KEY (factor_id, version)
);

-- How one meter's quantity in one month becomes emissions (content-addressed:
-- digest of the record, so every worker and restart maps it to the same id).
CREATE TABLE lineage (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    digest         text NOT NULL UNIQUE,
    subject        text NOT NULL,          -- meter id, or site id for a residual factor
    month          text NOT NULL,          -- YYYY-MM in the plant's time zone
    method         text NOT NULL,
    gwp            text NOT NULL,
    quantity_unit  text NOT NULL,
    ef_co2         double precision NOT NULL,
    ef_ch4         double precision NOT NULL,
    ef_n2o         double precision NOT NULL,
    ef_co2e        double precision NOT NULL,
    flags          integer NOT NULL,
    record         jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE lineage_factors (
    lineage_id  bigint NOT NULL REFERENCES lineage (id),
    role        text NOT NULL,
    factor_id   text NOT NULL,
    version     integer NOT NULL,
    fallback    text,
    PRIMARY KEY (lineage_id, role),
    FOREIGN KEY (factor_id, version) REFERENCES factors (factor_id, version)
);

-- Raw readings as received: one per (meter, source time). Bad-quality ones
-- are kept with value NULL. The primary key is the de-duplication key.
CREATE TABLE readings (
    meter    integer NOT NULL,
    ts       timestamptz NOT NULL,
    value    double precision,
    quality  smallint NOT NULL,
    PRIMARY KEY (meter, ts)
);

-- Readings older than the configured lateness: stored above, but not in the
-- account (reported here until an explicit restatement takes them in).
CREATE TABLE late_readings (
    meter        integer NOT NULL,
    ts           timestamptz NOT NULL,
    lateness_s   double precision NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter, ts)
);

-- Interval quantities and their emissions per (meter, 1-minute bucket).
-- Append-only partial lines: a bucket filled by several batches has several
-- rows; totals are sums. Late data replaces a meter's rows from a bucket on.
CREATE TABLE emission_lines (
    meter        integer NOT NULL,
    bucket       timestamptz NOT NULL,
    site         integer NOT NULL,
    role         smallint NOT NULL,
    quantity     double precision NOT NULL,  -- canonical unit (MWh, GJ, t, Nm3...)
    covered_s    double precision NOT NULL,
    n_intervals  integer NOT NULL,
    flags        integer NOT NULL,
    co2_t        double precision NOT NULL,
    ch4_t        double precision NOT NULL,
    n2o_t        double precision NOT NULL,
    co2e_t       double precision NOT NULL,
    lineage_id   bigint NOT NULL
);
CREATE INDEX emission_lines_meter_bucket ON emission_lines (meter, bucket);
CREATE INDEX emission_lines_site_bucket ON emission_lines (site, bucket);

-- Per (site, 1-minute bucket) rollup: one column per scope and quantity
-- (the core's SITE_COLUMNS). Kept by the service: additive per batch,
-- rebuilt from emission_lines when late data changes a bucket.
CREATE TABLE site_minute (
    site                integer NOT NULL,
    bucket              timestamptz NOT NULL,
    scope1_t            double precision NOT NULL DEFAULT 0,
    scope1_co2_t        double precision NOT NULL DEFAULT 0,
    scope1_ch4_t        double precision NOT NULL DEFAULT 0,
    scope1_n2o_t        double precision NOT NULL DEFAULT 0,
    scope2_location_t   double precision NOT NULL DEFAULT 0,
    scope2_market_t     double precision NOT NULL DEFAULT 0,
    scope2_heat_t       double precision NOT NULL DEFAULT 0,
    grid_import_mwh     double precision NOT NULL DEFAULT 0,
    covered_mwh         double precision NOT NULL DEFAULT 0,
    supplier_mwh        double precision NOT NULL DEFAULT 0,
    residual_mwh        double precision NOT NULL DEFAULT 0,
    heat_import_gj      double precision NOT NULL DEFAULT 0,
    grid_export_mwh     double precision NOT NULL DEFAULT 0,
    heat_export_gj      double precision NOT NULL DEFAULT 0,
    export_deduction_t  double precision NOT NULL DEFAULT 0,
    generation_mwh      double precision NOT NULL DEFAULT 0,
    residual_lineage_id bigint,
    PRIMARY KEY (site, bucket)
);

-- The same minute rollup, one row per scope (what dashboards ask for).
CREATE VIEW site_scope_minute AS
SELECT site, bucket, s.scope, s.tco2e
FROM site_minute,
     LATERAL (VALUES ('scope1', scope1_t),
                     ('scope2_location', scope2_location_t),
                     ('scope2_market', scope2_market_t)) AS s (scope, tco2e);

-- Contractual instruments (market-based Scope 2) and carbon offsets. Synced
-- from the plant file for now; the API manages them later.
CREATE TABLE instruments (
    id            text PRIMARY KEY,
    type          text NOT NULL,
    site          integer NOT NULL REFERENCES sites (key),
    mwh           double precision,             -- NULL: supplier factor, unlimited
    generation_start date NOT NULL,
    generation_end   date NOT NULL,
    claim_start   date NOT NULL,
    claim_end     date NOT NULL,
    ef_t_per_mwh  double precision NOT NULL,
    market        text NOT NULL,
    source        text NOT NULL DEFAULT '',
    serials       text NOT NULL DEFAULT ''
);

CREATE TABLE instrument_usage (
    instrument  text PRIMARY KEY REFERENCES instruments (id),
    used_mwh    double precision NOT NULL DEFAULT 0
);

CREATE TABLE allocations (
    instrument  text NOT NULL REFERENCES instruments (id),
    site        integer NOT NULL,
    bucket      timestamptz NOT NULL,
    mwh         double precision NOT NULL,
    PRIMARY KEY (instrument, site, bucket)
);
CREATE INDEX allocations_site_bucket ON allocations (site, bucket);

CREATE TABLE offsets (
    id           text PRIMARY KEY,
    project      text NOT NULL,
    registry     text NOT NULL,
    serials      text NOT NULL DEFAULT '',
    vintage      integer NOT NULL,
    tco2e        double precision NOT NULL CHECK (tco2e > 0),
    site         integer REFERENCES sites (key),
    retired_on   date,
    note         text NOT NULL DEFAULT ''
);

-- Per-meter core state, written in the same transaction as the rows it
-- produced. max_ts_ns: newest stored reading of any quality (de-dup fast path).
CREATE TABLE meter_state (
    meter       integer PRIMARY KEY REFERENCES meters (key),
    last_ts_ns  bigint,
    last_value  double precision NOT NULL DEFAULT 0,
    max_ts_ns   bigint,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Gateway stream positions: gaps and replays are detected and counted.
CREATE TABLE stream_positions (
    gateway     text NOT NULL,
    stream      text NOT NULL,
    last_seq    bigint NOT NULL,
    messages    bigint NOT NULL DEFAULT 0,
    gaps        bigint NOT NULL DEFAULT 0,
    missing     bigint NOT NULL DEFAULT 0,
    replays     bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (gateway, stream)
);

-- Payloads that did not decode or validate: the raw bytes, where and when
-- they came, and why. The digest makes a redelivered bad payload one row.
CREATE TABLE dead_letters (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    topic        text NOT NULL,
    payload      bytea NOT NULL,
    reason       text NOT NULL,
    digest       bytea NOT NULL UNIQUE,
    seen         integer NOT NULL DEFAULT 1
);
