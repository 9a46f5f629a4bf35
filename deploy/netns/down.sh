#!/usr/bin/env bash
# Tear down what up.sh built: its processes (by the pids it recorded, then anything left inside its namespaces),
# the PostgreSQL instance, the namespaces, the bridge and the state folder. Safe to run twice.
set -uo pipefail
STATE="${CHAOYUN_NETNS_STATE:-/var/tmp/chaoyun-netns}"
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
NAMESPACES="cy-db cy-nats1 cy-nats2 cy-nats3 cy-ing1 cy-ing2 cy-web1 cy-web2 cy-lb"
[ "$(id -u)" = 0 ] || { echo "down.sh: run as root" >&2; exit 2; }

for f in "$STATE"/pids/*.pid; do
    [ -e "$f" ] || continue
    pid="$(cat "$f")"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
done
if [ -f "$STATE/pg/postmaster.pid" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$STATE/pg" -m fast -w -t 20 stop >/dev/null 2>&1
fi
sleep 0.5
for ns in $NAMESPACES; do  # anything still running inside our namespaces was started by up.sh
    ip netns list 2>/dev/null | grep -qw "^$ns" || continue
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
done
for ns in $NAMESPACES; do
    ip link del "cyh-$ns" 2>/dev/null
    ip netns list 2>/dev/null | grep -qw "^$ns" && ip netns del "$ns"
done
ip link del cy-br0 2>/dev/null
rm -rf "$STATE"
left="$(ip netns list 2>/dev/null | grep -E '^cy-' || true)"
[ -z "$left" ] || { echo "down.sh: namespaces left: $left" >&2; exit 1; }
echo "down: nothing left"
