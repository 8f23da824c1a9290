#!/usr/bin/env bash
# `npm run demo` — a local 3-node pgwarden cluster on this machine:
#   etcd 127.0.0.1:2379, agents postgres0..2 (postgres0.yml..postgres2.yml: PostgreSQL 5432..5434,
#   REST 8008..8010), haproxy (haproxy.cfg: read-write 5000, read-only 5001, stats 7000).
# Everything lives in .demo/ (data/, etcd/, logs/). Ctrl-C stops it all cleanly.
#   scripts/demo.sh           start (reuses the data of an earlier demo run)
#   scripts/demo.sh --fresh   wipe .demo/ first
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
fresh=0
for arg in "$@"; do
  case "$arg" in
    --fresh) fresh=1 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown argument $arg (use --fresh or --help)" >&2; exit 2 ;;
  esac
done

say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

PG_BIN=/usr/lib/postgresql/15/bin
SCOPE=batman
NODES=(postgres0 postgres1 postgres2)
PG_PORTS=(5432 5433 5434)
REST_PORTS=(8008 8009 8010)
SUPERUSER_PASSWORD=postgres-demo   # postgresql.authentication.superuser.password in postgres*.yml

bash "$repo/scripts/ensure-deps.sh"

# --- which OS user runs PostgreSQL and the agents ------------------------------------------------
as_pg=()
if [ "$(id -u)" = "0" ]; then
  id postgres >/dev/null 2>&1 || die "PostgreSQL refuses to run as root and there is no 'postgres' OS user to run it as. Install postgresql-15 (it creates the user) or create one: useradd --system --home /var/lib/postgresql postgres"
  as_pg=(runuser -u postgres --)
  run_user=postgres
else
  run_user=$(id -un)
fi

# --- where the demo runs: the checkout, or a copy the postgres user can read ---------------------
app=$repo
if [ "${#as_pg[@]}" -gt 0 ] && ! "${as_pg[@]}" test -r "$repo/package.json" -a -x "$repo/node_modules" -a -r "$repo/dist/cli/agent.js"; then
  app=/tmp/pgwarden-demo-app
  say "the postgres user cannot read $repo (a parent directory lacks the x bit): running from a copy in $app"
  mkdir -p "$app"
  cp -a "$repo/bin" "$repo/dist" "$repo/node_modules" "$repo/package.json" "$repo"/postgres?.yml "$repo/haproxy.cfg" "$app/"
  chown -R postgres: "$app"
fi
demo=$app/.demo
if [ "$fresh" = "1" ] && [ -e "$demo" ]; then
  say "--fresh: removing $demo"
  rm -rf "$demo"
fi
mkdir -p "$demo/data" "$demo/logs" "$demo/etcd"
if [ "${#as_pg[@]}" -gt 0 ]; then chown postgres: "$demo" "$demo/data"; fi
chmod 700 "$demo/data"

# --- ports must be free ---------------------------------------------------------------------------
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
taken=()
for p in 2379 2380 5000 5001 7000 "${PG_PORTS[@]}" "${REST_PORTS[@]}"; do
  if port_taken "$p"; then taken+=("$p"); fi
done
if [ "${#taken[@]}" -gt 0 ]; then
  die "port(s) ${taken[*]} on 127.0.0.1 are already in use (another demo, etcd, PostgreSQL or haproxy?). Stop what uses them (see: ss -ltnp) and run the demo again."
fi

# --- process bookkeeping: only PIDs started here are ever signalled --------------------------------
etcd_pid=""
haproxy_pid=""
declare -A agent_pid=()    # node -> PID of the node process (the agent itself)
declare -A wrapper_pid=()  # node -> PID of runuser (when root)

stopping=0
cleanup() {
  [ "$stopping" = "1" ] && return
  stopping=1
  trap '' INT TERM HUP
  echo
  say "stopping: agents first (a leader stops PostgreSQL and releases the leader key), then haproxy and etcd"
  for n in "${NODES[@]}"; do
    pid=${agent_pid[$n]:-}
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for n in "${NODES[@]}"; do
    pid=${agent_pid[$n]:-}
    [ -n "$pid" ] || continue
    for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      say "$n (pid $pid) did not stop within 60 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    else
      say "$n stopped"
    fi
    w=${wrapper_pid[$n]:-}
    if [ -n "$w" ]; then wait "$w" 2>/dev/null || true; fi
  done
  # A PostgreSQL left behind by an agent that was killed with -9 during the demo.
  for n in "${NODES[@]}"; do
    pidfile=$demo/data/$n/postmaster.pid
    if [ -f "$pidfile" ] && kill -0 "$(head -n 1 "$pidfile")" 2>/dev/null; then
      say "$n's PostgreSQL still runs without its agent: pg_ctl stop -m fast"
      "${as_pg[@]}" "$PG_BIN/pg_ctl" stop -m fast -D "$demo/data/$n" >/dev/null 2>&1 || true
    fi
  done
  for pair in "haproxy:$haproxy_pid" "etcd:$etcd_pid"; do
    name=${pair%%:*}; pid=${pair#*:}
    [ -n "$pid" ] || continue
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    say "$name stopped"
  done
  say "done; data kept in $demo (scripts/demo.sh --fresh starts over)"
}
trap 'cleanup; exit 130' INT TERM HUP
trap 'cleanup' EXIT

# --- etcd ------------------------------------------------------------------------------------------
say "starting etcd on 127.0.0.1:2379 (data in $demo/etcd, log $demo/logs/etcd.log)"
setsid etcd --name demo --data-dir "$demo/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster demo=http://127.0.0.1:2380 --initial-cluster-token pgwarden-demo \
  >"$demo/logs/etcd.log" 2>&1 &
etcd_pid=$!
for i in $(seq 1 60); do
  kill -0 "$etcd_pid" 2>/dev/null || die "etcd exited at start; see $demo/logs/etcd.log"
  if ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 endpoint health >/dev/null 2>&1; then break; fi
  [ "$i" = "60" ] && die "etcd not healthy after 15 s; see $demo/logs/etcd.log"
  sleep 0.25
done

# --- agents ----------------------------------------------------------------------------------------
for i in "${!NODES[@]}"; do
  n=${NODES[$i]}
  say "starting $n as $run_user (PostgreSQL 127.0.0.1:${PG_PORTS[$i]}, REST 127.0.0.1:${REST_PORTS[$i]}, log $demo/logs/$n.log)"
  (cd "$demo" && exec setsid "${as_pg[@]}" node "$app/bin/pgwarden.js" "$app/$n.yml") >>"$demo/logs/$n.log" 2>&1 &
  w=$!
  if [ "${#as_pg[@]}" -gt 0 ]; then
    wrapper_pid[$n]=$w
    child=""
    for _ in $(seq 1 50); do child=$(pgrep -P "$w" -x node || true); [ -n "$child" ] && break; sleep 0.1; done
    [ -n "$child" ] || die "$n did not start; see $demo/logs/$n.log"
    agent_pid[$n]=$child
  else
    agent_pid[$n]=$w
  fi
  # Let the first node initialize the cluster before the others race for it.
  if [ "$i" = "0" ]; then sleep 3; fi
done

# --- haproxy ---------------------------------------------------------------------------------------
say "starting haproxy (read-write 127.0.0.1:5000, read-only 127.0.0.1:5001, stats 127.0.0.1:7000)"
haproxy -c -q -f "$app/haproxy.cfg" || die "haproxy rejected $app/haproxy.cfg"
setsid haproxy -db -f "$app/haproxy.cfg" >"$demo/logs/haproxy.log" 2>&1 &
haproxy_pid=$!

# --- wait for one leader and two streaming replicas ---------------------------------------------------
psql_at() { PGPASSWORD=$SUPERUSER_PASSWORD PGCONNECT_TIMEOUT=2 "$PG_BIN/psql" -h 127.0.0.1 -p "$1" -U postgres -d postgres -Atqc "$2" 2>/dev/null; }
say "waiting for a leader and two streaming replicas (up to 3 minutes)"
ready=0
last=""
for i in $(seq 1 180); do
  for n in "${NODES[@]}"; do
    kill -0 "${agent_pid[$n]}" 2>/dev/null || die "$n exited; last lines of $demo/logs/$n.log:
$(tail -n 15 "$demo/logs/$n.log")"
  done
  leader=$(ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 get --print-value-only "/service/$SCOPE/leader" 2>/dev/null || true)
  streaming=$(psql_at 5000 "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" || true)
  replica_ok=$(psql_at 5001 "SELECT pg_is_in_recovery()" || true)
  status="leader: ${leader:-none}, streaming replicas: ${streaming:-?}/2, read-only port: $([ "$replica_ok" = "t" ] && echo ready || echo not yet)"
  if [ "$status" != "$last" ] || [ $((i % 10)) = 0 ]; then say "  $status"; last=$status; fi
  if [ -n "$leader" ] && [ "$streaming" = "2" ] && [ "$replica_ok" = "t" ]; then ready=1; break; fi
  sleep 1
done
[ "$ready" = "1" ] || die "the cluster did not come up within 3 minutes; logs in $demo/logs/"

leader_pid=${agent_pid[$leader]:-"<pid>"}
cat <<EOF

pgwarden demo cluster "$SCOPE" is running (leader: $leader)
  write (primary):   PGPASSWORD=$SUPERUSER_PASSWORD psql -h 127.0.0.1 -p 5000 -U postgres
  read (replicas):   PGPASSWORD=$SUPERUSER_PASSWORD psql -h 127.0.0.1 -p 5001 -U postgres
  nodes:             postgres0 127.0.0.1:5432, postgres1 127.0.0.1:5433, postgres2 127.0.0.1:5434
  REST API:          curl -s http://127.0.0.1:8008/patroni   (8008..8010; /primary, /replica, /cluster)
  haproxy stats:     http://127.0.0.1:7000/
  etcd:              ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 get --prefix /service/$SCOPE/
  logs:              $demo/logs/ (etcd.log, haproxy.log, postgres0.log ..)
  data:              $demo/data/
Try a handover: kill -TERM $leader_pid (the leader's agent) and watch port 5000 follow the new leader.
Press Ctrl-C to stop everything.
EOF

# --- run until Ctrl-C; report agents that die meanwhile ------------------------------------------
declare -A reported=()
while true; do
  for n in "${NODES[@]}"; do
    if [ -z "${reported[$n]:-}" ] && ! kill -0 "${agent_pid[$n]}" 2>/dev/null; then
      say "$n's agent exited (see $demo/logs/$n.log); the others keep running"
      reported[$n]=1
    fi
  done
  sleep 1
done
