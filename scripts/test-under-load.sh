#!/usr/bin/env bash
# Run the test suite beside CPU hogs, as on a loaded machine (issue 12: tests must assert
# behaviour, not speed). Starts HOGS busy-looping Python processes, runs pytest, and kills the
# hogs by their PIDs when it ends, however it ends (Ctrl-C included).
#
# Usage: scripts/test-under-load.sh [pytest arguments...]
#   HOGS=4 (default) busy loops; ROUNDS=1 (default) runs in a row, stopping at the first failure.
#   Without arguments it runs the README's command: -n 2 -q (the whole suite).
#   Example: HOGS=6 ROUNDS=3 scripts/test-under-load.sh tests/reliability -q -n 2
set -euo pipefail
cd "$(dirname "$0")/.."

HOGS="${HOGS:-4}"
ROUNDS="${ROUNDS:-1}"
PYTHON="${PYTHON:-.venv/bin/python}"
if [ "$#" -eq 0 ]; then
    set -- -n 2 -q
fi

hog_pids=()
stop_hogs() {
    for pid in "${hog_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${hog_pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    hog_pids=()
}
trap stop_hogs EXIT
trap 'stop_hogs; exit 130' INT TERM

for _ in $(seq "$HOGS"); do
    python3 -c 'while 1: pass' &
    hog_pids+=("$!")
done
echo "started ${HOGS} CPU hogs (PIDs ${hog_pids[*]}); load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"

for round in $(seq "$ROUNDS"); do
    echo "round ${round}/${ROUNDS}: ${PYTHON} -m pytest $*"
    "$PYTHON" -m pytest "$@"
    echo "round ${round} passed; load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
done
