#!/usr/bin/env bash
# A multi-host Chaoyun deployment on this machine, in network namespaces (run as root; see docs/deployment.md,
# "A multi-host deployment in network namespaces"). Hosts on bridge cy-br0 (10.77.0.0/24, this machine .1):
#   cy-db    10.77.0.10  PostgreSQL (a dedicated instance from the installed version; the machine's own is untouched)
#                        and Redis :6379 (the job queue, CHAOYUN_JOBS_URL)
#   cy-nats1..3 .21-.23  nats-server: JetStream (R3) + MQTT :1883, client :4222, cluster :6222
#   cy-ing1..2  .31-.32  chaoyun ingest-worker --source nats, and chaoyun worker (jobs, periodic tasks)
#   cy-web1..2  .41-.42  chaoyun serve :8000 (CHAOYUN_BACKGROUND=0)
#   cy-lb       .50      haproxy :80 -> web1, web2
# Idempotent: it first tears down whatever a previous run left (down.sh), then builds everything afresh.
# Settings: CHAOYUN_NETNS_DEVICES (default 50), CHAOYUN_NETNS_STATE (default /var/tmp/chaoyun-netns).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
STATE="${CHAOYUN_NETNS_STATE:-/var/tmp/chaoyun-netns}"
NDEV="${CHAOYUN_NETNS_DEVICES:-50}"
PY="$REPO/.venv/bin/python"
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
NET=10.77.0
DB_URL="postgresql+psycopg://postgres@$NET.10:5432/chaoyun"

[ "$(id -u)" = 0 ] || { echo "up.sh: run as root (network namespaces)" >&2; exit 2; }
"$HERE/down.sh" >/dev/null 2>&1 || true
on_exit() {  # a failed start shows the logs' ends and tears down what it built
    local rc=$?
    [ "$rc" = 0 ] && return
    echo "up.sh: failed ($rc); last log lines:" >&2
    tail -n 5 "$STATE"/log/*.log "$STATE"/pglog/*.log >&2 2>/dev/null
    [ -n "${CHAOYUN_NETNS_KEEP_ON_FAIL:-}" ] || "$HERE/down.sh" >&2
}
trap on_exit EXIT
command -v haproxy >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y haproxy >/dev/null
mkdir -p "$STATE/pids" "$STATE/log"

# --- network: a bridge on this machine, one veth pair per host ------------------------------------------------
ip link add cy-br0 type bridge
ip addr add "$NET.1/24" dev cy-br0
ip link set cy-br0 up
add_host() {  # name last-octet
    ip netns add "$1"
    ip link add "cyh-$1" type veth peer name eth0 netns "$1"
    ip link set "cyh-$1" master cy-br0 up
    ip -n "$1" addr add "$NET.$2/24" dev eth0
    ip -n "$1" link set eth0 up
    ip -n "$1" link set lo up
}
add_host cy-db 10
add_host cy-nats1 21; add_host cy-nats2 22; add_host cy-nats3 23
add_host cy-ing1 31; add_host cy-ing2 32
add_host cy-web1 41; add_host cy-web2 42
add_host cy-lb 50

# start NS PIDNAME LOG CMD...: a daemon in a namespace, its pid in STATE/pids
start() {
    local ns="$1" name="$2"; shift 2
    setsid ip netns exec "$ns" "$@" >>"$STATE/log/$name.log" 2>&1 </dev/null &
    echo $! >"$STATE/pids/$name.pid"
}
wait_tcp() {  # ip port seconds
    for _ in $(seq 1 $(( $3 * 5 ))); do
        (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
        sleep 0.2
    done
    echo "up.sh: $1:$2 did not open; see $STATE/log" >&2; return 1
}

# --- PostgreSQL in cy-db ---------------------------------------------------------------------------------------
mkdir -p "$STATE/pg" "$STATE/pgsock" "$STATE/pglog"; chown postgres: "$STATE/pg" "$STATE/pgsock" "$STATE/pglog"
chmod 0755 "$STATE"
runuser -u postgres -- "$PGBIN/initdb" -D "$STATE/pg" -A trust -U postgres >/dev/null
echo "host all all $NET.0/24 trust" >>"$STATE/pg/pg_hba.conf"
ip netns exec cy-db runuser -u postgres -- "$PGBIN/pg_ctl" -D "$STATE/pg" -l "$STATE/pglog/postgres.log" -w \
    -o "-c listen_addresses=$NET.10 -c port=5432 -c unix_socket_directories=$STATE/pgsock -c max_connections=200" \
    start >/dev/null
ip netns exec cy-db runuser -u postgres -- "$PGBIN/createdb" -h "$STATE/pgsock" chaoyun
export CHAOYUN_DATABASE_URL="$DB_URL"
export CHAOYUN_JOBS_URL="redis://$NET.10:6379/1"
start cy-db redis redis-server --bind "$NET.10" --port 6379 --save '' --appendonly no --protected-mode no \
    --dir "$STATE"
"$PY" -m chaoyun.cli db upgrade >/dev/null

# --- registry, NATS configs, brokers ---------------------------------------------------------------------------
PLATFORM_PW="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
echo "$PLATFORM_PW" >"$STATE/platform.pw"; chmod 0600 "$STATE/platform.pw"
"$PY" "$HERE/provision.py" "$STATE" "$NDEV" "$PLATFORM_PW" "$NET.21,$NET.22,$NET.23"
for i in 1 2 3; do
    start "cy-nats$i" "nats$i" /usr/sbin/nats-server -c "$STATE/nats/n$i.conf"
done
for i in 1 2 3; do wait_tcp "$NET.2$i" 1883 60; done
NATS_URLS="nats://platform:$PLATFORM_PW@$NET.21:4222,nats://platform:$PLATFORM_PW@$NET.22:4222,nats://platform:$PLATFORM_PW@$NET.23:4222"

SECRET="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# --- ingest hosts ----------------------------------------------------------------------------------------------
export CHAOYUN_MQTT_URL="mqtt://platform:$PLATFORM_PW@$NET.21:1883"
for _ in 1 2 3 4 5 6; do  # JetStream needs its quorum (a few seconds after the nodes start)
    ip netns exec cy-ing1 "$PY" -m chaoyun.cli ingest-worker --source nats --nats-url "$NATS_URLS" --setup-only \
        >>"$STATE/log/setup.log" 2>&1 && break
    sleep 3
done
for i in 1 2; do
    start "cy-ing$i" "ing$i" "$PY" -m chaoyun.cli ingest-worker --source nats --nats-url "$NATS_URLS" \
        --client-id "ing$i" --batch 1000
    mkdir -p "$STATE/jobs$i"
    start "cy-ing$i" "jobs$i" env CHAOYUN_VAR_DIR="$STATE/jobs$i" CHAOYUN_SECRET_KEY="$SECRET" \
        "$PY" -m chaoyun.cli worker --threads 2
done

# --- web hosts and the balancer --------------------------------------------------------------------------------
for i in 1 2; do
    mkdir -p "$STATE/web$i"
    start "cy-web$i" "web$i" env CHAOYUN_BACKGROUND=0 CHAOYUN_MQTT_INGEST=0 CHAOYUN_SECRET_KEY="$SECRET" \
        CHAOYUN_VAR_DIR="$STATE/web$i" "$PY" -m chaoyun.cli serve --host "$NET.4$i" --port 8000
done
cat >"$STATE/haproxy.cfg" <<EOF
global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout check 10s
    retries 3
    option redispatch
    option forwardfor
frontend www
    bind $NET.50:80
    default_backend web
backend web
    balance roundrobin
    option httpchk GET /login
    server web1 $NET.41:8000 check inter 2s fall 5 rise 1
    server web2 $NET.42:8000 check inter 2s fall 5 rise 1
EOF
start cy-lb haproxy haproxy -db -f "$STATE/haproxy.cfg"
for i in 1 2; do wait_tcp "$NET.4$i" 8000 90; done
wait_tcp "$NET.50" 80 20
lb_ok=0
for _ in $(seq 1 120); do  # the balancer's health checks mark the web hosts up
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$NET.50/login")" = 200 ] && { lb_ok=1; break; }
    sleep 0.5
done
[ "$lb_ok" = 1 ] || { echo "up.sh: the balancer answers no 200 on /login; see $STATE/log/haproxy.log" >&2; exit 1; }
echo "up: balancer http://$NET.50/  MQTT $NET.21-23:1883  PostgreSQL $NET.10:5432  ($NDEV devices, state $STATE)"
