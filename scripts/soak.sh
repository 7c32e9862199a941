#!/usr/bin/env bash
# Runs the integration tests again and again, each time in a new random order (seeded),
# with one core kept busy by a CPU burner, and stops at the first failure printing the
# seed that replays it. A flaky test blocks everyone's landing: this is how to find one.
#
#   scripts/soak.sh [RUNS] [PYTEST ARGS...]      (make soak SOAK_RUNS=10)
#
# Without pytest args it runs the integration set below. Logs: $SOAK_LOGS (a temp dir).
set -uo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-10}
shift || true
# The tests where threads and processes meet real servers and wait on each other: ingest
# (MQTT to PostgreSQL), the gateways (Modbus, OPC UA, MQTT, disk buffer), the store, the
# evidence chain, the live server's streams and pages (real uvicorn, headless Chromium),
# admission, body limits and a one-connection pool against a real server, the API's alert
# service, and a private Mosquitto with the deploy ACL.
INTEGRATION=(tests/ingest tests/gateway tests/store tests/evidence tests/api/test_live*.py
    tests/api/test_admission.py tests/api/test_body_limit.py tests/api/test_small_pool.py
    tests/api/test_alerts.py tests/energy/test_live_page_opportunities.py
    tests/deploy/test_mosquitto.py)
if [ $# -gt 0 ]; then TESTS=("$@"); else TESTS=("${INTEGRATION[@]}"); fi
PYTEST=${PYTEST:-.venv/bin/pytest}
# Order and timing are what a soak shakes; the property tests' depth is not (CI has it).
export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-dev}
LOGS=${SOAK_LOGS:-$(mktemp -d -t carbonstream-soak-XXXX)}
mkdir -p "$LOGS"

# One busy core: the timing a test sees on a loaded CI machine.
python3 -c 'while True: pass' &
burner=$!
trap 'kill "$burner" 2>/dev/null' EXIT

echo "soak: $RUNS runs of ${TESTS[*]} (one core busy, burner pid $burner); logs in $LOGS"
for run in $(seq 1 "$RUNS"); do
    seed=$(( (RANDOM << 15) | RANDOM ))
    log="$LOGS/run-$run-seed-$seed.log"
    start=$(date +%s)
    "$PYTEST" -q -p no:cacheprovider -x --durations=20 \
        --random-order-bucket=module --random-order-seed="$seed" "${TESTS[@]}" >"$log" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    echo "run $run/$RUNS seed $seed rc $rc ${took}s load $(cut -d' ' -f1-3 /proc/loadavg): $(tail -n 1 "$log")"
    if [ "$rc" -ne 0 ]; then
        grep -E "^(FAILED|ERROR) " "$log" | head -n 20
        echo "soak: run $run failed; replay the order with:"
        echo "  $PYTEST --random-order-bucket=module --random-order-seed=$seed ${TESTS[*]}"
        echo "  (log: $log)"
        exit 1
    fi
done
echo "soak: $RUNS of $RUNS runs passed"
