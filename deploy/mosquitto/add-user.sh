#!/bin/sh
# Add (or reset) a broker user with a random password; prints the password once.
#   deploy/mosquitto/add-user.sh gw-assembly          # a gateway: user name = gateway id
#   deploy/mosquitto/add-user.sh carbonstream-ingest  # ingest
#   deploy/mosquitto/add-user.sh healthcheck          # the compose health check
# Uses mosquitto_passwd from the host (Debian package mosquitto) or, without it,
# from the eclipse-mosquitto image. The passwd file is never committed.
set -eu
name=${1:?usage: add-user.sh NAME}
case "$name" in
    *[!A-Za-z0-9_.:-]*|"") echo "bad user name: $name" >&2; exit 2 ;;
esac
dir=$(cd "$(dirname "$0")" && pwd)
file="$dir/passwd"
password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | cut -c1-32)
[ -f "$file" ] || { touch "$file"; chmod 600 "$file"; }
if command -v mosquitto_passwd >/dev/null 2>&1; then
    mosquitto_passwd -b "$file" "$name" "$password"
else
    docker run --rm -v "$dir:/mosquitto/config" eclipse-mosquitto:2 \
        mosquitto_passwd -b /mosquitto/config/passwd "$name" "$password"
fi
echo "$password"
