-- Production output per (site, minute), for emission intensity (tCO2e per unit).
ALTER TABLE site_minute ADD COLUMN production double precision NOT NULL DEFAULT 0;
