-- The API's ledgers: factor versions added through the API, contracts
-- (certificates, green-power trades, PPAs) and their allocations, offsets
-- (CCER) and their retirements. A serial is claimed once: the ledger rules
-- check it (with a readable reason) and these exclusion constraints make it
-- impossible in the database, whatever races past the checks.

CREATE EXTENSION IF NOT EXISTS btree_gist;  -- text equality inside a GiST exclusion

-- --- factors -------------------------------------------------------------------

-- Factor versions added through the API, in the library's own columns (the
-- built-in tables and the plant's factor files stay files). Append-only:
-- a correction is a new version, never an edit.
CREATE TABLE factor_library (
    factor_id    text NOT NULL,
    version      integer NOT NULL CHECK (version >= 1),
    series       text NOT NULL DEFAULT '',
    region       text NOT NULL DEFAULT 'global',
    value        double precision NOT NULL CHECK (value >= 0 AND value < 'infinity'),
    unit         text NOT NULL,
    gas          text NOT NULL DEFAULT '',
    valid_from   date,
    valid_to     date,
    data_year    integer,
    source       text NOT NULL CHECK (btrim(source) <> ''),
    source_table text NOT NULL DEFAULT '',
    verified     text NOT NULL DEFAULT 'unknown',
    description  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL,
    PRIMARY KEY (factor_id, version),
    CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_from <= valid_to)
);

CREATE FUNCTION carbonstream_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never changed or deleted: add a new version', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END $$;

CREATE TRIGGER factor_library_append_only BEFORE UPDATE OR DELETE ON factor_library
    FOR EACH ROW EXECUTE FUNCTION carbonstream_append_only();

-- A factor a stored figure used is never edited (deleting it is already
-- refused by lineage_factors' foreign key).
CREATE FUNCTION carbonstream_used_factor_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM lineage_factors
               WHERE factor_id = OLD.factor_id AND version = OLD.version) THEN
        RAISE EXCEPTION 'factor % v% is used by stored figures: add a new version',
            OLD.factor_id, OLD.version USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER factors_used_frozen BEFORE UPDATE ON factors
    FOR EACH ROW EXECUTE FUNCTION carbonstream_used_factor_frozen();

-- --- ledger version ----------------------------------------------------------------

-- Bumped by every change to instruments made through the API, in the same
-- transaction: ingest compares it in each transaction and reloads the
-- instruments when it moved. Its row lock also serialises ledger writes.
CREATE TABLE ledger_version (
    id       boolean PRIMARY KEY DEFAULT true CHECK (id),
    version  bigint NOT NULL DEFAULT 0
);
INSERT INTO ledger_version DEFAULT VALUES;

-- --- contracts: certificates, green-power trades, PPAs ---------------------------------

CREATE TABLE contracts (
    id               text PRIMARY KEY,
    type             text NOT NULL CHECK (type IN ('gec', 'green_power_trade', 'ppa')),
    serial_prefix    text NOT NULL,
    serial_start     bigint NOT NULL CHECK (serial_start >= 0),
    serial_end       bigint NOT NULL,
    generation_start date NOT NULL,
    generation_end   date NOT NULL,
    market           text NOT NULL,
    ef_t_per_mwh     double precision NOT NULL DEFAULT 0 CHECK (ef_t_per_mwh >= 0),
    project          text NOT NULL DEFAULT '',
    source           text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    created_by       text NOT NULL,
    CHECK (serial_end >= serial_start),
    CHECK (generation_end >= generation_start),
    -- the same certificate is never held twice
    CONSTRAINT contracts_serials_once EXCLUDE USING gist
        (serial_prefix WITH =, int8range(serial_start, serial_end, '[]') WITH &&)
);

-- An allocation claims part of a contract's serials for a site's consumption
-- period; it is also an `instruments` row, which ingest allocates to
-- consumption (market-based Scope 2).
CREATE TABLE contract_allocations (
    instrument     text PRIMARY KEY REFERENCES instruments (id),
    contract       text NOT NULL REFERENCES contracts (id),
    serial_prefix  text NOT NULL,
    serial_start   bigint NOT NULL,
    serial_end     bigint NOT NULL,
    site           integer NOT NULL REFERENCES sites (key),
    period_start   date NOT NULL,
    period_end     date NOT NULL,
    allocated_on   date NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     text NOT NULL,
    CHECK (serial_end >= serial_start),
    CHECK (period_end >= period_start),
    -- a serial is claimed once
    CONSTRAINT contract_allocations_serials_once EXCLUDE USING gist
        (serial_prefix WITH =, int8range(serial_start, serial_end, '[]') WITH &&)
);
CREATE INDEX contract_allocations_contract ON contract_allocations (contract);

-- --- offsets (CCER) ------------------------------------------------------------------

ALTER TABLE offsets
    ADD COLUMN serial_prefix text,
    ADD COLUMN serial_start bigint,
    ADD COLUMN serial_end bigint,
    ADD COLUMN created_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN created_by text,
    ADD CONSTRAINT offsets_serials_ordered CHECK (serial_end >= serial_start),
    -- the same credits are never held twice
    ADD CONSTRAINT offsets_serials_once EXCLUDE USING gist
        (serial_prefix WITH =, int8range(serial_start, serial_end, '[]') WITH &&);

CREATE TABLE offset_retirements (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    offset_id      text NOT NULL REFERENCES offsets (id),
    serial_prefix  text NOT NULL,
    serial_start   bigint NOT NULL,
    serial_end     bigint NOT NULL,
    retired_on     date NOT NULL,
    purpose        text NOT NULL CHECK (btrim(purpose) <> ''),
    site           integer REFERENCES sites (key),
    period_start   date NOT NULL,   -- the emissions this retirement offsets
    period_end     date NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     text NOT NULL,
    CHECK (serial_end >= serial_start),
    CHECK (period_end >= period_start),
    -- a retired credit is never used again
    CONSTRAINT offset_retirements_serials_once EXCLUDE USING gist
        (serial_prefix WITH =, int8range(serial_start, serial_end, '[]') WITH &&)
);
CREATE INDEX offset_retirements_period ON offset_retirements (period_start, period_end);

-- Claims stay inside what is held (the ledger checks it first; this is the backstop).
CREATE FUNCTION carbonstream_claim_within_holding() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    held record;
BEGIN
    IF TG_TABLE_NAME = 'contract_allocations' THEN
        SELECT serial_prefix, serial_start, serial_end INTO held
            FROM contracts WHERE id = NEW.contract;
    ELSE
        SELECT serial_prefix, serial_start, serial_end INTO held
            FROM offsets WHERE id = NEW.offset_id;
    END IF;
    IF held.serial_prefix IS DISTINCT FROM NEW.serial_prefix
       OR NEW.serial_start < held.serial_start OR NEW.serial_end > held.serial_end THEN
        RAISE EXCEPTION 'serials %-% are outside the holding', NEW.serial_start, NEW.serial_end
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER contract_allocations_within BEFORE INSERT OR UPDATE ON contract_allocations
    FOR EACH ROW EXECUTE FUNCTION carbonstream_claim_within_holding();
CREATE TRIGGER offset_retirements_within BEFORE INSERT OR UPDATE ON offset_retirements
    FOR EACH ROW EXECUTE FUNCTION carbonstream_claim_within_holding();
CREATE TRIGGER contract_allocations_append_only BEFORE UPDATE OR DELETE ON contract_allocations
    FOR EACH ROW EXECUTE FUNCTION carbonstream_append_only();
CREATE TRIGGER offset_retirements_append_only BEFORE UPDATE OR DELETE ON offset_retirements
    FOR EACH ROW EXECUTE FUNCTION carbonstream_append_only();
