#!/usr/bin/env bash
# `npm test`: the whole suite — unit and property tests, the DCS contract suite (in-memory fake
# and real etcd), integration tests on real etcd + PostgreSQL 15, and the Gherkin features on real
# processes (etcd, PostgreSQL, pgwarden agents, haproxy). Installs what is missing first.
# PostgreSQL refuses to run as root, so as root the suite re-runs itself as the `postgres` user.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

if [ "${PGWARDEN_TEST_AS_USER:-}" != "1" ]; then
  bash scripts/ensure-deps.sh
  if [ "$(id -u)" = "0" ]; then
    . scripts/as-postgres.sh
    require_postgres_user test.sh
    if ! postgres_can_read "$repo"; then
      copy=$(mktemp -d /tmp/pgwarden-suite.XXXXXX)
      echo "test.sh: the postgres user cannot read $repo (a parent directory lacks the x bit); running from a copy in $copy"
      cp -a "$repo/." "$copy/"
      chown -R postgres: "$copy"
      repo=$copy
    fi
    exec runuser -u postgres -- env PGWARDEN_TEST_AS_USER=1 HOME=/tmp PATH="$PATH" bash "$repo/scripts/test.sh"
  fi
fi

cd "$repo"
step() { printf '\n==== %s ====\n' "$1"; }
step "type check (src, tests, bench, features)"
npx tsc -p tsconfig.test.json
npx tsc -p features/tsconfig.json
step "unit and property tests"
# Node 20's test runner takes files, not globs.
node --import tsx --test --test-reporter=spec $(find test/unit -name '*.test.ts' | sort)
step "integration tests (real etcd and PostgreSQL 15)"
node --import tsx --test --test-concurrency=1 --test-reporter=spec $(find test/integration features/harness-selftest -name '*.test.ts' | sort)
step "acceptance features (etcd, PostgreSQL, pgwarden agents, haproxy)"
status=0
npx cucumber-js --tags 'not @netns' || status=$?
step "network partition features (in a private user + network namespace: scripts/in-test-netns.sh)"
bash scripts/in-test-netns.sh npx cucumber-js --tags @netns || status=$?
exit "$status"
