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
sampler_pid=""
LOAD_LOG="$(mktemp)"
stop_hogs() {
    if [ -n "$sampler_pid" ]; then
        kill "$sampler_pid" 2>/dev/null || true
        wait "$sampler_pid" 2>/dev/null || true
        sampler_pid=""
    fi
    for pid in "${hog_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${hog_pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    hog_pids=()
}
# The 1-minute load average, sampled every 15 s while a round runs (min / mean / max printed).
load_summary() {
    awk 'NR == 1 { min = $1; max = $1 } { sum += $1; if ($1 < min) min = $1; if ($1 > max) max = $1 }
         END { if (NR) printf "min %.1f, mean %.1f, max %.1f over %d samples", min, sum / NR, max, NR }' "$LOAD_LOG"
}
trap 'stop_hogs; rm -f "$LOAD_LOG"' EXIT
trap 'stop_hogs; exit 130' INT TERM

for _ in $(seq "$HOGS"); do
    python3 -c 'while 1: pass' &
    hog_pids+=("$!")
done
echo "started ${HOGS} CPU hogs (PIDs ${hog_pids[*]}); load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"

( while true; do cut -d' ' -f1 /proc/loadavg >> "$LOAD_LOG"; sleep 15; done ) &
sampler_pid="$!"

for round in $(seq "$ROUNDS"); do
    : > "$LOAD_LOG"
    echo "round ${round}/${ROUNDS} at $(date -u +%H:%M:%S): ${PYTHON} -m pytest $*"
    if ! "$PYTHON" -m pytest "$@"; then
        echo "round ${round} FAILED at $(date -u +%H:%M:%S); load average during the round: $(load_summary)"
        exit 1
    fi
    echo "round ${round} passed at $(date -u +%H:%M:%S); load average during the round: $(load_summary)"
done
