-- Signed batches as received (payload v2): the exact bytes the gateway signed,
-- the signature and the key id, so a verifier can check them again without
-- ingest. A stored reading names the batch it came in (readings.batch); NULL
-- marks an unsigned reading (v1 or Sparkplug B input accepted by configuration).
CREATE TABLE batches (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    digest       bytea NOT NULL UNIQUE,      -- SHA-256 of body
    gateway      text NOT NULL,
    kid          text NOT NULL,              -- key id: sha256(public key)[:8], hex
    signature    bytea NOT NULL,             -- Ed25519 over 'carbonstream.readings.v2' || 0x00 || body
    body         bytea NOT NULL,             -- the signed bytes, exactly as received
    received_at  timestamptz NOT NULL
);

ALTER TABLE readings ADD COLUMN batch bigint;

-- Stored readings per (meter, hour), and how many of them came unsigned: the
-- inventory's data quality reads the share of unsigned readings per meter from
-- here (per hour: local days are whole hours in the plant zones we serve).
-- Kept by ingest in the transaction that stores the readings.
CREATE TABLE reading_counts (
    meter     integer NOT NULL,
    hour      timestamptz NOT NULL,
    readings  bigint NOT NULL,
    unsigned  bigint NOT NULL,
    PRIMARY KEY (meter, hour)
);
