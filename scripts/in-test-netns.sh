#!/usr/bin/env bash
# Runs a command inside a private user + network namespace in which the calling (unprivileged)
# user holds CAP_NET_ADMIN, with loopback up and PGWARDEN_NETNS=1 set. The partition features and
# `npm run chaos` build their test network there (features/support/netns.ts); the machine's own
# network is never touched and no root is needed.
#   bash scripts/in-test-netns.sh npx cucumber-js --tags @netns
set -euo pipefail
if [ "$#" -eq 0 ]; then
  echo "usage: scripts/in-test-netns.sh COMMAND [ARGS...]" >&2
  exit 2
fi
if [ "$(id -u)" = "0" ]; then
  echo "in-test-netns.sh: run as the unprivileged user that runs PostgreSQL (e.g. runuser -u postgres -- bash $0 ...), not as root" >&2
  exit 1
fi
if ! unshare --user --map-current-user --net --keep-caps true 2>/dev/null; then
  echo "in-test-netns.sh: cannot create a user + network namespace (unshare --user --net failed); unprivileged user namespaces must be enabled (sysctl user.max_user_namespaces > 0)" >&2
  exit 1
fi
exec unshare --user --map-current-user --net --keep-caps -- \
  bash -c 'ip link set lo up && PGWARDEN_NETNS=1 exec "$@"' in-test-netns "$@"
