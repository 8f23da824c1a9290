#!/usr/bin/env bash
# `npm run bench`: pgwarden vs Patroni side by side (bench/run.ts; `npm run bench -- --help`).
# Installs what is missing first (scripts/ensure-deps.sh: etcd, haproxy, PostgreSQL 15, Patroni,
# npm packages). PostgreSQL refuses to run as root, so as root the bench re-runs itself as the
# `postgres` user; results land in bench-results/ of this checkout either way.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

if [ "${PGWARDEN_BENCH_AS_USER:-}" != "1" ]; then
  bash scripts/ensure-deps.sh
  # wrk measures the REST scenario (Patroni's HTTP/1.0 answers defeat autocannon); optional.
  if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null || echo "bench.sh: could not install wrk; the REST scenario will be skipped"
    else
      echo "bench.sh: wrk not found: as root, apt-get install -y wrk (the REST scenario is skipped without it)"
    fi
  fi
  if [ "$(id -u)" = "0" ]; then
    . scripts/as-postgres.sh
    rerun_as_postgres bench.sh "$repo" "$repo/bench-results" PGWARDEN_BENCH_AS_USER "$repo/scripts/bench.sh" "$@"
  fi
fi

exec node --import tsx bench/run.ts "$@"
