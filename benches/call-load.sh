#!/usr/bin/env bash
# SIP -> XMPP call load against tandem's gateway on loopback: tandem-loadgen's `calls` mode
# places SIP calls (from a trusted address) to users who auto-answer over Jingle, measuring
# setups/s and INVITE -> 200 p50/p99; a second run keeps calls up to measure tandem's
# memory per active call. Server on one core, load generator on the other.
# Then the reverse: `outcalls` logs in CONCURRENCY XMPP callers that place Jingle calls to
# `n{k}@sip.localhost`; tandem sends each INVITE through `outbound_proxy` to the load
# generator's auto-answering SIP UAS (session-initiate -> session-accept latency).
#
#   benches/call-load.sh                 # CALLS=5000 HELD=1000 CALLEES=50 CONCURRENCY=50
#   DIRECTIONS=out benches/call-load.sh  # only XMPP -> SIP (default: "in out")
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CALLS=${CALLS:-5000}
HELD=${HELD:-1000}
CALLEES=${CALLEES:-50}
CONCURRENCY=${CONCURRENCY:-50}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
cargo build -q --release --manifest-path "$ROOT/Cargo.toml" -p tandem -p tandem-loadgen
TANDEM="$ROOT/target/release/tandem"
LG="$ROOT/target/release/tandem-loadgen"
DIR=$(mktemp -d)
trap 'kill "${PID:-}" 2>/dev/null || true; rm -rf "$DIR"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
C2S=$(free_port); C2S_TLS=$(free_port); SIP=$(free_port); UAS=$(free_port)
DIRECTIONS=${DIRECTIONS:-in out}
cat > "$DIR/tandem.toml" <<CFG
[server]
domain = "localhost"
data_dir = "$DIR"
[xmpp]
listen = ["127.0.0.1:$C2S"]
tls_listen = ["127.0.0.1:$C2S_TLS"]
[sip]
listen = ["udp:127.0.0.1:$SIP"]
trusted_peers = ["127.0.0.1"]
outbound_proxy = "sip:127.0.0.1:$UAS"
[gateway]
sip_domain = "sip.localhost"
[log]
level = "warn"
CFG
USERS=$(( CALLEES > CONCURRENCY ? CALLEES : CONCURRENCY ))
for i in $(seq 0 $((USERS - 1))); do
    "$TANDEM" user add "callee$i@localhost" --password pw --config "$DIR/tandem.toml" >/dev/null
done
start() {
    (ulimit -n 20000 && exec taskset -c "$SERVER_CPU" "$TANDEM" serve --config "$DIR/tandem.toml") &
    PID=$!
    sleep 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }
lg() {
    taskset -c "$LOADGEN_CPU" "$LG" --addr "127.0.0.1:$C2S" --domain localhost --user-prefix callee --password pw "$@" --pid "$PID"
}
if [[ " $DIRECTIONS " == *" in "* ]]; then
    echo "== SIP -> XMPP: $CALLS calls set up and torn down (INVITE/200/ACK/BYE), $CONCURRENCY in setup at once"
    start; lg calls --sip "127.0.0.1:$SIP" --callees "$CALLEES" --concurrency "$CONCURRENCY" --count "$CALLS"; stop
    echo "== SIP -> XMPP: $HELD calls held up at once (memory per active call)"
    start; lg calls --sip "127.0.0.1:$SIP" --callees "$CALLEES" --concurrency "$CONCURRENCY" --count "$HELD" --hold; stop
fi
if [[ " $DIRECTIONS " == *" out "* ]]; then
    echo "== XMPP -> SIP: $CALLS calls set up and torn down (session-initiate/accept/terminate), $CONCURRENCY in setup at once"
    start; lg outcalls --uas "127.0.0.1:$UAS" --callers "$CONCURRENCY" --count "$CALLS"; stop
    echo "== XMPP -> SIP: $HELD calls held up at once (memory per active call)"
    start; lg outcalls --uas "127.0.0.1:$UAS" --callers "$CONCURRENCY" --count "$HELD" --hold; stop
fi
