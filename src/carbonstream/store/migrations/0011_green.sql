-- Hourly instrument data: the generation a contract's certificates stand for,
-- hour by hour (from the generator's meter, the registry or the trading
-- platform's settlement), so matching can be computed hourly (GHG Protocol
-- Scope 2 revision, 2025-27) beside the 2015 Guidance's annual volume matching.
-- `hour` is the UTC instant of the start of a local hour of the plant: on a
-- fall-back night the two local 02:00 hours are two rows.
CREATE TABLE contract_hourly (
    contract    text NOT NULL REFERENCES contracts (id) ON DELETE CASCADE,
    hour        timestamptz NOT NULL,
    mwh         double precision NOT NULL CHECK (mwh >= 0 AND mwh < 'infinity'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    PRIMARY KEY (contract, hour)
);
