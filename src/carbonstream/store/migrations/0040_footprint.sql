-- Product footprints: production lots, bills of materials and upstream (Scope 3) factors.
-- A lot id is recorded once (a second import of it is refused); bills of materials and
-- upstream factors are versioned: a new version is a new row, never an update.

CREATE TABLE lots (
    id              text PRIMARY KEY,
    product         text NOT NULL,
    line            text NOT NULL,
    start_ts        timestamptz NOT NULL,
    end_ts          timestamptz NOT NULL,
    quantity        double precision NOT NULL CHECK (quantity > 0),  -- declared unit
    declared_unit   text NOT NULL,
    given_quantity  double precision NOT NULL,
    given_unit      text NOT NULL,
    source          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text NOT NULL DEFAULT '',
    CHECK (end_ts > start_ts)
);
CREATE INDEX lots_line_time ON lots (line, start_ts, end_ts);
CREATE INDEX lots_product_end ON lots (product, end_ts);

CREATE TABLE upstream_factors (
    id          text NOT NULL,
    version     integer NOT NULL CHECK (version >= 1),
    kind        text NOT NULL,
    subject     text NOT NULL,
    row         jsonb NOT NULL,   -- the validated factor (value, unit, provenance, mark)
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL DEFAULT '',
    PRIMARY KEY (id, version)
);

CREATE TABLE boms (
    product     text NOT NULL,
    version     integer NOT NULL CHECK (version >= 1),
    valid_from  date NOT NULL,
    lines       jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL DEFAULT '',
    PRIMARY KEY (product, version)
);
