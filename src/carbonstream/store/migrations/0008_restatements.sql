-- Restatements: an account of a past period recomputed with another factor set,
-- stored beside the live account (site_minute), never over it.
CREATE TABLE restatements (
    id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    label         text NOT NULL,
    first_day     date NOT NULL,
    last_day      date NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    code_version  text NOT NULL,
    factor_files  jsonb NOT NULL,   -- [{name, sha256}] of the plant's and the extra factor files
    factors       jsonb NOT NULL,   -- [{factor_id, version, value, unit}] used
    note          text NOT NULL DEFAULT ''
);

CREATE TABLE restated_site_day (
    restatement  integer NOT NULL REFERENCES restatements (id),
    site         integer NOT NULL REFERENCES sites (key),
    day          date NOT NULL,
    totals       jsonb NOT NULL,    -- the core's SITE_COLUMNS for that site and day
    PRIMARY KEY (restatement, site, day)
);
