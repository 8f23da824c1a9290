# Sourced by test.sh, bench.sh and chaos.sh. PostgreSQL refuses to run as root, so as root those
# scripts re-run themselves as the `postgres` OS user; these are the checks and the re-run.

# require_postgres_user WHO: exits with the install hint when the postgres OS user does not exist.
require_postgres_user() {
  id postgres >/dev/null 2>&1 && return 0
  echo "$1: PostgreSQL runs as the 'postgres' OS user, which does not exist; install postgresql-15 (apt-get install -y postgresql-15)" >&2
  exit 1
}

# postgres_can_read DIR: the postgres user can read the checkout in DIR and run its tsx.
postgres_can_read() {
  runuser -u postgres -- test -r "$1/package.json" -a -x "$1/node_modules/.bin/tsx"
}

# rerun_as_postgres WHO REPO RESULTS MARKER SCRIPT [ARGS...]: for tools that write their results
# into the checkout (bench, chaos): checks, hands RESULTS to postgres, then execs SCRIPT as postgres
# with MARKER=1 in its environment (so it does not come back here).
rerun_as_postgres() {
  local who=$1 repo=$2 results=$3 marker=$4 script=$5
  shift 5
  require_postgres_user "$who"
  if ! postgres_can_read "$repo"; then
    echo "$who: the postgres user cannot read $repo (a parent directory lacks the x bit); move the checkout or chmod o+x its parents" >&2
    exit 1
  fi
  mkdir -p "$results"
  chown postgres: "$results"
  exec runuser -u postgres -- env "$marker=1" HOME=/tmp PATH="$PATH" bash "$script" "$@"
}
