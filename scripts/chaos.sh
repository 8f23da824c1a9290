#!/usr/bin/env bash
# `npm run chaos`: a randomized fault campaign against a 3-node pgwarden cluster on a private test
# network (chaos/run.ts; `npm run chaos -- --help`). Installs what is missing first
# (scripts/ensure-deps.sh). PostgreSQL refuses to run as root, so as root the campaign re-runs
# itself as the `postgres` user; it runs inside scripts/in-test-netns.sh (no root needed there).
# Results land in chaos-results/ of this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

if [ "${PGWARDEN_CHAOS_AS_USER:-}" != "1" ]; then
  bash scripts/ensure-deps.sh
  if [ "$(id -u)" = "0" ]; then
    . scripts/as-postgres.sh
    rerun_as_postgres chaos.sh "$repo" "$repo/chaos-results" PGWARDEN_CHAOS_AS_USER "$repo/scripts/chaos.sh" "$@"
  fi
fi

exec bash scripts/in-test-netns.sh node --import tsx chaos/run.ts "$@"
