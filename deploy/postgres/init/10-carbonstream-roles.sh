#!/bin/sh
# Runs once, when the database volume is first created (the image's
# /docker-entrypoint-initdb.d): the application role that owns the schema and
# a read-only role for Grafana. Passwords from deploy/secrets/db.env.
set -eu
: "${CARBONSTREAM_DB_PASSWORD:?set in deploy/secrets/db.env}"
: "${CARBONSTREAM_GRAFANA_DB_PASSWORD:?set in deploy/secrets/db.env}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v app_password="$CARBONSTREAM_DB_PASSWORD" \
     -v grafana_password="$CARBONSTREAM_GRAFANA_DB_PASSWORD" \
     -v db="$POSTGRES_DB" <<'SQL'
-- TimescaleDB needs a superuser to install; carbonstream migrate then finds it.
SELECT format('CREATE EXTENSION IF NOT EXISTS timescaledb')
WHERE EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') \gexec

CREATE ROLE carbonstream LOGIN PASSWORD :'app_password';
ALTER DATABASE :"db" OWNER TO carbonstream;
ALTER SCHEMA public OWNER TO carbonstream;

-- Grafana reads what the migrations create, and can change nothing.
CREATE ROLE grafana_reader LOGIN PASSWORD :'grafana_password';
ALTER ROLE grafana_reader SET default_transaction_read_only = on;
ALTER ROLE grafana_reader SET statement_timeout = '30s';
GRANT CONNECT ON DATABASE :"db" TO grafana_reader;
GRANT USAGE ON SCHEMA public TO grafana_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE carbonstream IN SCHEMA public
    GRANT SELECT ON TABLES TO grafana_reader;
SQL
