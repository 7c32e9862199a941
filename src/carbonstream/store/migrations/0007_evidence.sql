-- The hash chain over stored readings: one row per sealed local day, each
-- digest covering that day's readings and the previous digest (see
-- carbonstream.core.chain). Append-only: a sealed day is never re-sealed.
CREATE TABLE evidence_chain (
    day        date PRIMARY KEY,
    readings   bigint NOT NULL,
    digest     text NOT NULL,
    prev       text NOT NULL,
    sealed_at  timestamptz NOT NULL DEFAULT now()
);
