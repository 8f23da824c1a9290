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
    if ! id postgres >/dev/null 2>&1; then
      echo "chaos.sh: the campaign runs PostgreSQL as the 'postgres' OS user, which does not exist; install postgresql-15 (apt-get install -y postgresql-15)" >&2
      exit 1
    fi
    if ! runuser -u postgres -- test -r "$repo/package.json" -a -x "$repo/node_modules/.bin/tsx"; then
      echo "chaos.sh: the postgres user cannot read $repo (a parent directory lacks the x bit); move the checkout or chmod o+x its parents" >&2
      exit 1
    fi
    mkdir -p "$repo/chaos-results"
    chown postgres: "$repo/chaos-results"
    exec runuser -u postgres -- env PGWARDEN_CHAOS_AS_USER=1 HOME=/tmp PATH="$PATH" bash "$repo/scripts/chaos.sh" "$@"
  fi
fi

exec bash scripts/in-test-netns.sh node --import tsx chaos/run.ts "$@"
