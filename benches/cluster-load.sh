#!/usr/bin/env bash
# Cross-cluster message latency and throughput against the same load inside one cluster, on
# loopback, in the same run: two tandem instances as clusters eu-1 and us-1 of one domain
# (one shared SQLite database, a private redis-server), tandem-loadgen's `messages` mode.
#   local: senders and receivers on eu-1
#   cross: senders on eu-1, receivers on us-1 (every message crosses the cluster link)
# Both tandems are pinned to SERVER_CPU, the load generator to LOADGEN_CPU.
#
#   benches/cluster-load.sh
#   PAIRS=20 COUNT=100000 WINDOW=50 benches/cluster-load.sh
#   PROFILE=1 benches/cluster-load.sh     # also prints where both tandems spend the cross run
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PAIRS=${PAIRS:-20}
COUNT=${COUNT:-50000}
WINDOW=${WINDOW:-20}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
cargo build -q --release --manifest-path "$ROOT/Cargo.toml" -p tandem -p tandem-loadgen
TANDEM="$ROOT/target/release/tandem"
LG="$ROOT/target/release/tandem-loadgen"
DIR=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    redis-cli -p "${REDIS:-0}" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
REDIS=$(free_port)
redis-server --bind 127.0.0.1 --port "$REDIS" --save '' --appendonly no --daemonize yes \
    --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" --dir "$DIR"
until redis-cli -p "$REDIS" ping >/dev/null 2>&1; do sleep 0.05; done

# A CA and one link certificate per cluster, naming the cluster.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=bench-ca -keyout "$DIR/ca.key" -out "$DIR/ca.pem" 2>/dev/null
for c in eu-1 us-1; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$c" \
        -keyout "$DIR/$c.key" -out "$DIR/$c.csr" 2>/dev/null
    printf 'subjectAltName=DNS:%s\n' "$c" > "$DIR/$c.ext"
    openssl x509 -req -in "$DIR/$c.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" -CAcreateserial \
        -days 2 -extfile "$DIR/$c.ext" -out "$DIR/$c.pem" 2>/dev/null
done

declare -A C2S
for c in eu-1 us-1; do
    C2S[$c]=$(free_port)
    mkdir -p "$DIR/$c"
    cat > "$DIR/$c/tandem.toml" <<CFG
[server]
domain = "localhost"
data_dir = "$DIR/$c"
[xmpp]
listen = ["127.0.0.1:${C2S[$c]}"]
tls_listen = []
[sip]
listen = []
[storage]
url = "sqlite://$DIR/shared.db"
[cluster]
name = "$c"
redis = "redis://127.0.0.1:$REDIS"
listen = "127.0.0.1:$(free_port)"
ca = "$DIR/ca.pem"
cert = "$DIR/$c.pem"
key = "$DIR/$c.key"
[log]
level = "warn"
CFG
done
for i in $(seq 0 $((2 * PAIRS - 1))); do
    "$TANDEM" user add "msg$i@localhost" --password pw --config "$DIR/eu-1/tandem.toml" >/dev/null
done
for c in eu-1 us-1; do
    (ulimit -n 20000 && exec taskset -c "$SERVER_CPU" "$TANDEM" serve --config "$DIR/$c/tandem.toml") &
    PIDS+=($!)
done
sleep 1
lg() {
    taskset -c "$LOADGEN_CPU" "$LG" --addr "127.0.0.1:${C2S[eu-1]}" --domain localhost \
        --user-prefix msg --password pw messages "$@"
}
CROSS=(--receivers-at "127.0.0.1:${C2S[us-1]}")
LOADED=(--pairs "$PAIRS" --count "$COUNT" --window "$WINDOW")
# One message in flight per pair: the latency a link adds, without queueing.
LIGHT=(--pairs 5 --count 5000 --window 1)
echo "== throughput, local: $COUNT messages over $PAIRS pairs, window $WINDOW, all on eu-1"
lg "${LOADED[@]}"
echo "== throughput, cross-cluster: senders on eu-1, receivers on us-1"
if [ -n "${PROFILE:-}" ]; then
    # Where the two tandems spend their time on the cross-cluster load (perf, both pids).
    perf record -q -F 999 -p "$(IFS=,; echo "${PIDS[*]}")" -o "$DIR/perf.data" 2>/dev/null &
    PERF=$!
    sleep 0.5
fi
lg "${LOADED[@]}" "${CROSS[@]}"
if [ -n "${PROFILE:-}" ]; then
    kill -INT "$PERF"; wait "$PERF" 2>/dev/null || true
    perf report -i "$DIR/perf.data" --no-children --percent-limit 1 --stdio 2>/dev/null \
        | grep -E '^ +[0-9]' | head -40
fi
echo "== latency at light load, local (5 pairs, one message in flight each)"
lg "${LIGHT[@]}"
echo "== latency at light load, cross-cluster"
lg "${LIGHT[@]}" "${CROSS[@]}"
