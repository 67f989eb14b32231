#!/usr/bin/env bash
# Installs the system packages the test suite drives for real: headless Chromium (dashboard
# tests) and a PostgreSQL server (Postgres I/O manager tests). Idempotent: does nothing when both
# are present. Needs root (CI runs as root) or passwordless sudo; Debian/Ubuntu only.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
