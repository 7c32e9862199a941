#!/bin/sh
# Make deploy/secrets/ once, before the first `docker compose up`: random
# passwords for the database roles, Grafana's admin and the broker users
# ingest and the health check use. Nothing here is ever committed
# (.gitignore); back the folder up with the database.
#
#   deploy/make-secrets.sh            # refuses to overwrite existing secrets
#
# Gateways get their own broker users: deploy/mosquitto/add-user.sh gw-<id>.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
s="$dir/secrets"
if [ -e "$s/db.env" ]; then
    echo "$s already holds secrets: not overwriting them" >&2
    exit 1
fi
umask 077
mkdir -p "$s" "$s/mosquitto"        # the broker's TLS certificate goes in secrets/mosquitto/
rand() { head -c 48 /dev/urandom | base64 | tr -d '/+=\n' | cut -c1-32; }

pg=$(rand); app=$(rand); grafana=$(rand); admin=$(rand)
ingest_mqtt=$("$dir/mosquitto/add-user.sh" carbonstream-ingest | tail -n 1)
health_mqtt=$("$dir/mosquitto/add-user.sh" healthcheck | tail -n 1)

cat > "$s/db.env" <<END
POSTGRES_PASSWORD=$pg
CARBONSTREAM_DB_PASSWORD=$app
CARBONSTREAM_GRAFANA_DB_PASSWORD=$grafana
END
cat > "$s/carbonstream.env" <<END
CARBONSTREAM_DB_URL=postgresql://carbonstream:$app@db:5432/carbonstream
END
cat > "$s/ingest.env" <<END
CARBONSTREAM_MQTT_PASSWORD=$ingest_mqtt
END
cat > "$s/api.env" <<END
CARBONSTREAM_WEBHOOK_SECRET=$(rand)
END
cat > "$s/grafana.env" <<END
GF_SECURITY_ADMIN_PASSWORD=$admin
CARBONSTREAM_GRAFANA_DB_PASSWORD=$grafana
END
cat > "$s/mosquitto.env" <<END
MQTT_HEALTHCHECK_PASSWORD=$health_mqtt
END
rand > "$s/alertmanager_webhook_token"
# Filled after the first start: carbonstream keys create --name prometheus --role viewer
: > "$s/prometheus_api_key"

echo "secrets written to $s"
echo "Grafana admin password: $admin"
echo "next: TLS certificate for the broker in $s/mosquitto/ (server.crt, server.key),"
echo "      gateway users (mosquitto/add-user.sh gw-<id>), then docs/deploy.md step 4."
