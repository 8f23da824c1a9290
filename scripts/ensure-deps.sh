#!/usr/bin/env bash
# Installs what pgwarden's demo and tests need, and only what is missing (safe to run again):
#   etcd + etcdctl + haproxy + pgbouncer (Debian: etcd-server, etcd-client, haproxy, pgbouncer),
#   PostgreSQL 15 binaries in /usr/lib/postgresql/15/bin (Debian: postgresql-15),
#   patronictl for the compatibility scenario (Debian: patroni; optional),
#   node_modules (npm ci), dist/ (npm run build).
# As root it installs system packages with apt-get; as any other user it prints what to install
# and exits 1. One progress line per step.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_BIN=/usr/lib/postgresql/15/bin
say() { printf 'ensure-deps: %s\n' "$*"; }
is_root() { [ "$(id -u)" = "0" ]; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" = "0" ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  say "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# 1. etcd, etcdctl, haproxy, pgbouncer (the watcher feature rewrites its configuration)
missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
# The partition features build their test network with ip, unshare and nsenter.
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || missing+=(iproute2)
command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
if [ "${#missing[@]}" -eq 0 ]; then
  say "etcd, etcdctl, haproxy and pgbouncer: present"
elif is_root; then
  apt_install "${missing[@]}"
else
  say "missing: ${missing[*]}. Install them as root: apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi

# 2. PostgreSQL 15 binaries
if [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] && [ -x "$PG_BIN/postgres" ] \
   && [ -x "$PG_BIN/pg_basebackup" ] && [ -x "$PG_BIN/pg_rewind" ]; then
  say "PostgreSQL 15 binaries: present in $PG_BIN"
elif is_root; then
  # The Debian package would otherwise create and start a 'main' cluster on port 5432, which
  # the demo uses for postgres0: tell postgresql-common not to create it.
  apt_install postgresql-common
  conf=/etc/postgresql-common/createcluster.conf
  if [ -f "$conf" ] && ! grep -Eq '^\s*create_main_cluster\s*=' "$conf"; then
    echo 'create_main_cluster = false' >>"$conf"
    say "set create_main_cluster = false in $conf (no default cluster on port 5432)"
  fi
  apt_install postgresql-15
else
  say "PostgreSQL 15 binaries missing in $PG_BIN. Install them as root: apt-get update && apt-get install -y postgresql-15" >&2
  exit 1
fi

# 2b. patronictl (optional: only the patronictl-compatibility feature uses it; skipped without it)
if ! command -v patronictl >/dev/null 2>&1; then
  if is_root; then
    apt_install patroni || say "could not install patroni; the patronictl compatibility scenario will be skipped"
  else
    say "patronictl not found (optional): as root, apt-get install -y patroni to run the patronictl compatibility scenario"
  fi
fi

# 3. node_modules (npm writes node_modules/.package-lock.json on every install)
if ! command -v npm >/dev/null 2>&1; then
  say "npm not found: install Node.js 20 (with npm) first" >&2
  exit 1
fi
stamp=node_modules/.package-lock.json
if [ ! -d node_modules ] || [ ! -e "$stamp" ] || { [ -f package-lock.json ] && [ package-lock.json -nt "$stamp" ]; }; then
  if [ -f package-lock.json ]; then
    say "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
  else
    say "npm install (no package-lock.json)"
    npm install --no-audit --no-fund --loglevel=error
  fi
else
  say "node_modules: up to date"
fi

# 4. dist/ (compiled agent): rebuild when missing, when the last build failed, or when any source
#    file is newer than the last successful build (dist/.build-ok is written only on success).
marker=dist/.build-ok
if [ ! -f dist/cli/agent.js ] || [ ! -f "$marker" ] \
   || [ -n "$(find src tsconfig.json package.json -newer "$marker" -print -quit 2>/dev/null)" ]; then
  say "npm run build"
  rm -f "$marker"
  npm run --silent build
  touch "$marker"
else
  say "dist/: up to date"
fi
