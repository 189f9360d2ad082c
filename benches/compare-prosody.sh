#!/usr/bin/env bash
# Side-by-side c2s benchmark: tandem vs Prosody, same run, same conditions.
#
#   benches/compare-prosody.sh            # defaults below; needs root (apt, runuser, taskset)
#   SERVERS=prosody benches/compare-prosody.sh
#   IDLE_N=5000 LOGIN_N=5000 MSG_COUNT=300000 benches/compare-prosody.sh
#
# Same conditions for both servers: TLS 1.3 only (full handshakes, no resumption), the same
# ECDSA P-256 certificate, the same SASL mechanism, SCRAM/PBKDF2 iteration count reported
# as seen on the wire, logging at warn, no rate limiting, nofile >= 20000, server pinned to
# SERVER_CPU and the load generator to LOADGEN_CPU, median of RUNS runs for every rate.
# See benches/README.md for what each number means.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

SERVERS=${SERVERS:-"prosody tandem"}
IDLE_N=${IDLE_N:-1000}                  # idle authenticated TLS sessions (RSS per connection)
HOLD_SECS=${HOLD_SECS:-5}               # how long they are held; RSS is read 2 s into the hold
[ "$HOLD_SECS" -ge 3 ] || HOLD_SECS=3
LOGIN_N=${LOGIN_N:-2000}                # login cycles per run
LOGIN_CONC=${LOGIN_CONC:-50}            # logins in flight
LOGIN_MECHS=${LOGIN_MECHS:-"SCRAM-SHA-1 PLAIN"}  # one logins row per mechanism
MECH=${MECH:-SCRAM-SHA-1}               # mechanism for the idle and messages phases
MSG_COUNT=${MSG_COUNT:-100000}          # messages per run
MSG_PAIRS=${MSG_PAIRS:-50}              # sender/receiver pairs
MSG_WINDOW=${MSG_WINDOW:-100}           # in-flight messages per sender
RUNS=${RUNS:-3}                         # runs per rate; the median run is reported
ITERATIONS=${ITERATIONS:-4096}          # Prosody's PBKDF2 iterations (tandem's default is 4096)
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
PROSODY_PORT=${PROSODY_PORT:-15222}
TANDEM_PORT=${TANDEM_PORT:-15223}
DOMAIN=localhost
PREFIX=${PREFIX:-user}
PASSWORD=${PASSWORD:-pw}
KEEP=${KEEP:-0}                         # 1: keep the work dir (configs, logs, raw JSON)
WORK=${WORK:-$(mktemp -d /tmp/tandem-bench.XXXXXX)}

LG="$ROOT/target/release/tandem-loadgen"
TANDEM="$ROOT/target/release/tandem"
NUSERS=$(( IDLE_N > 2 * MSG_PAIRS ? IDLE_N : 2 * MSG_PAIRS ))

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt-get, runuser -u prosody, raising nofile)"
command -v jq >/dev/null || apt-get install -y -q jq >/dev/null
ulimit -n 20000 2>/dev/null || die "cannot raise nofile to 20000 (ulimit -Hn is $(ulimit -Hn))"
if [ "$(nproc)" -lt 2 ]; then
    log "only $(nproc) CPU: server and load generator share it"; SERVER_CPU=0; LOADGEN_CPU=0
fi
mkdir -p "$WORK"; chmod 755 "$WORK"
mkdir -p "$WORK/tls" "$WORK/raw"

SERVER_PID=""
SERVER_WAIT_PID=""
cleanup() {
    local rc=$?
    stop_server
    if [ "$KEEP" = 1 ] || [ $rc -ne 0 ]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SERVER_PID" 2>/dev/null || true
    fi
    [ -n "$SERVER_WAIT_PID" ] && wait "$SERVER_WAIT_PID" 2>/dev/null || true
    SERVER_PID=""; SERVER_WAIT_PID=""
}

wait_port() {  # port pid-to-watch
    for _ in $(seq 300); do
        if timeout 0.5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; then return 0; fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

port_free() { ! timeout 0.5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
nofile_of() { awk '/Max open files/ {print $4}' "/proc/$1/limits"; }

# loadgen PORT SUBCOMMAND ARGS... : runs pinned, JSON on stdout, human lines to the log.
# The SCRAM salted-password cache is kept per server across runs (as real clients keep it),
# so after the idle phase the load generator does no PBKDF2 and stays far from its core's limit.
loadgen() {
    local port=$1; shift
    taskset -c "$LOADGEN_CPU" "$LG" "$@" --addr "127.0.0.1:$port" --domain "$DOMAIN" \
        --user-prefix "$PREFIX" --password "$PASSWORD" --scram-cache-file "$LG_CACHE" --json
}

# ---------------------------------------------------------------- shared setup
log "building tandem-loadgen (release)"
(cd "$ROOT" && cargo build --release -q -p tandem-loadgen) || die "loadgen build failed"

log "certificate: self-signed ECDSA P-256 for $DOMAIN (shared by both servers)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=$DOMAIN" -addext "subjectAltName=DNS:$DOMAIN" \
    -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" 2>/dev/null
chmod 755 "$WORK/tls"; chmod 644 "$WORK/tls/cert.pem" "$WORK/tls/key.pem"

declare -A R   # R[server.metric] = value
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
STATUS=0

# measure SERVER PORT PID : fills R[SERVER.*]
measure() {
    local s=$1 port=$2 pid=$3 f
    LG_CACHE="$WORK/raw/$s-scram.cache"
    R[$s.nofile]=$(nofile_of "$pid")
    sleep 1
    # 1. idle sessions: RSS before / after
    R[$s.rss0]=$(rss_kib "$pid")
    f="$WORK/raw/$s-idle"
    loadgen "$port" idle --n "$IDLE_N" --concurrency 50 --hold-secs "$HOLD_SECS" --mech "$MECH" \
        >"$f.json" 2>"$f.log" &
    local lgpid=$!
    for _ in $(seq $(( (IDLE_N / 10 + 120) * 10 ))); do
        grep -q READY "$f.log" 2>/dev/null && break
        kill -0 $lgpid 2>/dev/null || break
        sleep 0.1
    done
    sleep 2
    R[$s.rss1]=$(rss_kib "$pid")
    wait $lgpid || { log "$s idle run failed: $(tail -3 "$f.log")"; return 1; }
    R[$s.idle_ok]=$(jq -r .connected "$f.json")
    R[$s.idle_failed]=$(jq -r .failed "$f.json")
    R[$s.tls]=$(jq -r .tls "$f.json")
    R[$s.iters]=$(jq -r '.scram_iterations // "-"' "$f.json")
    if [ "${R[$s.idle_ok]}" -gt 0 ]; then
        R[$s.kib_per_conn]=$(( (R[$s.rss1] - R[$s.rss0]) / R[$s.idle_ok] ))
    fi
    log "$s idle: ${R[$s.idle_ok]} up, ${R[$s.idle_failed]} failed, RSS ${R[$s.rss0]} -> ${R[$s.rss1]} KiB"
    sleep 1

    # 2. logins/s per mechanism, median of RUNS
    local mech run lines
    for mech in $LOGIN_MECHS; do
        lines=""
        for run in $(seq "$RUNS"); do
            f="$WORK/raw/$s-logins-$mech-$run"
            local c0 t0 c1 t1
            c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
            loadgen "$port" logins --n "$LOGIN_N" --concurrency "$LOGIN_CONC" --users "$NUSERS" \
                --mech "$mech" >"$f.json" 2>"$f.log" || { log "$s logins $mech failed: $(tail -3 "$f.log")"; return 1; }
            c1=$(cpu_ticks "$pid"); t1=$(date +%s.%N)
            local rate p99 failed cpu lgcpu
            rate=$(jq -r .logins_per_sec "$f.json"); p99=$(jq -r .latency.p99_ms "$f.json")
            failed=$(jq -r .failed "$f.json"); lgcpu=$(jq -r .loadgen_cpu_pct "$f.json")
            cpu=$(awk -v a="$c0" -v b="$c1" -v x="$t0" -v y="$t1" 'BEGIN{printf "%.0f", (b-a)/(y-x)}')
            log "$s logins $mech run $run: $rate/s p99 $p99 ms, $failed failed, server cpu $cpu%, loadgen cpu $lgcpu%"
            if [ "$mech" != PLAIN ]; then R[$s.iters_$mech]=$(jq -r '.scram_iterations // "-"' "$f.json"); fi
            lines+="$rate $p99 $failed $cpu $lgcpu"$'\n'
        done
        read -r "R[$s.logins_$mech]" "R[$s.logins_p99_$mech]" "R[$s.logins_failed_$mech]" "R[$s.logins_cpu_$mech]" "R[$s.logins_lgcpu_$mech]" \
            < <(printf '%s' "$lines" | sort -g | awk '{a[NR]=$0} END{print a[int((NR+1)/2)]}')
    done

    # 3. messages/s, median of RUNS
    lines=""
    for run in $(seq "$RUNS"); do
        f="$WORK/raw/$s-messages-$run"
        local c0 t0 c1 t1
        c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
        loadgen "$port" messages --pairs "$MSG_PAIRS" --count "$MSG_COUNT" --window "$MSG_WINDOW" \
            --mech "$MECH" --first-user 0 >"$f.json" 2>"$f.log" || { log "$s messages failed: $(tail -3 "$f.log")"; return 1; }
        c1=$(cpu_ticks "$pid"); t1=$(date +%s.%N)
        local rate p99 lost lgcpu
        rate=$(jq -r .msgs_per_sec "$f.json"); p99=$(jq -r .latency.p99_ms "$f.json")
        lost=$(jq -r .not_received "$f.json"); lgcpu=$(jq -r .loadgen_cpu_pct "$f.json")
        log "$s messages run $run: $rate msg/s p99 $p99 ms, $lost not received (server cpu incl. logins: $(awk -v a="$c0" -v b="$c1" -v x="$t0" -v y="$t1" 'BEGIN{printf "%.0f", (b-a)/(y-x)}')%, loadgen cpu $lgcpu%)"
        lines+="$rate $p99 $lost $lgcpu"$'\n'
    done
    read -r "R[$s.msgs]" "R[$s.msgs_p99]" "R[$s.msgs_lost]" "R[$s.msgs_lgcpu]" \
        < <(printf '%s' "$lines" | sort -g | awk '{a[NR]=$0} END{print a[int((NR+1)/2)]}')
    R[$s.rss_end]=$(rss_kib "$pid")
    R[$s.ok]=1
}

# register_users PARALLELISM 'SHELL CMD using $0 as the user index' : runs it for every user
register_users() {
    seq 0 $((NUSERS - 1)) | xargs -P "$1" -I{} bash -c "$2" {} || return 1
}

# ---------------------------------------------------------------- Prosody
run_prosody() {
    if ! command -v prosody >/dev/null; then
        log "installing prosody (apt, daemon start suppressed via policy-rc.d)"
        local created=0
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d; created=1
        fi
        apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q prosody >/dev/null
        [ $created = 1 ] && rm -f /usr/sbin/policy-rc.d
    fi
    R[prosody.version]=$(prosodyctl about 2>/dev/null | awk 'NR==1 {print $2}')
    port_free "$PROSODY_PORT" || { log "port $PROSODY_PORT busy"; return 1; }
    local d="$WORK/prosody"; mkdir -p "$d/data"
    cat > "$d/prosody.cfg.lua" <<EOF
-- written by benches/compare-prosody.sh
pidfile = "$d/prosody.pid"
data_path = "$d/data"
certificates = "$WORK/tls"
log = { warn = "$d/prosody.log" }
daemonize = false
interfaces = { "127.0.0.1" }; c2s_ports = { $PROSODY_PORT }
s2s_ports = { }; http_ports = { }; https_ports = { }; c2s_direct_tls_ports = { }
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping" }
-- mod_limits is not loaded (no shaping); this line only matters if someone loads it
limits = { c2s = { rate = "1000kb/s"; }; }
authentication = "internal_hashed"; storage = "internal"; c2s_require_encryption = true
default_iteration_count = $ITERATIONS
ssl = { certificate = "$WORK/tls/cert.pem"; key = "$WORK/tls/key.pem"; }
VirtualHost "$DOMAIN"
EOF
    chown -R prosody:prosody "$d"
    log "prosody: registering $NUSERS users with prosodyctl"
    export PROSODY_CFG="$d/prosody.cfg.lua" DOMAIN PREFIX PASSWORD
    # shellcheck disable=SC2016
    register_users 2 'prosodyctl --config "$PROSODY_CFG" register "$PREFIX$0" "$DOMAIN" "$PASSWORD" 2>/dev/null' \
        || { log "prosodyctl register failed"; return 1; }
    log "prosody ${R[prosody.version]}: starting on 127.0.0.1:$PROSODY_PORT, cpu $SERVER_CPU"
    taskset -c "$SERVER_CPU" runuser -u prosody -- sh -c \
        "ulimit -n 20000 && exec prosody -F --config '$d/prosody.cfg.lua'" >"$d/stdout.log" 2>&1 &
    SERVER_WAIT_PID=$!
    wait_port "$PROSODY_PORT" "$SERVER_WAIT_PID" || { log "prosody did not start: $(tail -5 "$d/stdout.log" "$d/prosody.log")"; return 1; }
    for _ in $(seq 50); do [ -s "$d/prosody.pid" ] && break; sleep 0.1; done
    SERVER_PID=$(cat "$d/prosody.pid")
    measure prosody "$PROSODY_PORT" "$SERVER_PID" || return 1
    stop_server
}

# ---------------------------------------------------------------- tandem
run_tandem() {
    log "building tandem (release)"
    (cd "$ROOT" && cargo build --release -q -p tandem --bin tandem) || { log "tandem build failed"; return 1; }
    port_free "$TANDEM_PORT" || { log "port $TANDEM_PORT busy"; return 1; }
    local d="$WORK/tandem"; mkdir -p "$d/data"
    cat > "$d/tandem.toml" <<EOF
# written by benches/compare-prosody.sh
[server]
domain = "$DOMAIN"
data_dir = "$d/data"

[xmpp]
listen = ["127.0.0.1:$TANDEM_PORT"]
tls_listen = []

[tls]
cert = "$WORK/tls/cert.pem"
key = "$WORK/tls/key.pem"
EOF
    log "tandem: adding $NUSERS users with 'tandem user add'"
    export TANDEM TANDEM_CFG="$d/tandem.toml" DOMAIN PREFIX PASSWORD
    # shellcheck disable=SC2016
    # one at a time: concurrent writers to tandem's SQLite database get "database is locked"
    register_users 1 '"$TANDEM" user add "$PREFIX$0@$DOMAIN" --password "$PASSWORD" --config "$TANDEM_CFG" >/dev/null' \
        || { log "tandem user add failed"; return 1; }
    R[tandem.version]=$("$TANDEM" --version 2>/dev/null | awk '{print $2}' || true)
    log "tandem: starting on 127.0.0.1:$TANDEM_PORT, cpu $SERVER_CPU"
    (ulimit -n 20000 && RUST_LOG=warn exec taskset -c "$SERVER_CPU" "$TANDEM" serve --config "$d/tandem.toml") \
        >"$d/stdout.log" 2>&1 &
    SERVER_PID=$!; SERVER_WAIT_PID=$SERVER_PID
    wait_port "$TANDEM_PORT" "$SERVER_PID" || { log "tandem did not start: $(tail -5 "$d/stdout.log")"; return 1; }
    measure tandem "$TANDEM_PORT" "$SERVER_PID" || return 1
    stop_server
}

for s in $SERVERS; do
    case $s in
        prosody) run_prosody || { log "prosody half FAILED"; stop_server; STATUS=2; } ;;
        tandem) run_tandem || { log "tandem half FAILED (see above)"; stop_server; STATUS=2; } ;;
        *) die "unknown server $s" ;;
    esac
done

# ---------------------------------------------------------------- report
v() { local x=${R[$1]:-}; printf '%s' "${x:-n/a}"; }
num() { local x=${R[$1]:-}; if [ -n "$x" ]; then awk -v x="$x" -v d="${2:-0}" 'BEGIN{printf "%.*f", d, x}'; else printf 'n/a'; fi; }
mib() { local x=${R[$1]:-}; if [ -n "$x" ]; then awk -v k="$x" 'BEGIN{printf "%.1f", k/1024}'; else printf 'n/a'; fi; }
row() { printf '%-44s' "$1"; shift; for c in "$@"; do printf ' %-26s' "$c"; done; printf '\n'; }

echo
echo "== tandem vs Prosody, c2s, $(date -u +%F) on $(nproc) cores ($(uname -r)) =="
echo "conditions: TLS 1.3 only, full handshakes (no resumption), shared ECDSA P-256 cert, STARTTLS;"
echo "  server on cpu $SERVER_CPU, loadgen on cpu $LOADGEN_CPU; rates are the median of $RUNS runs;"
echo "  idle/messages phases log in with $MECH; Prosody default_iteration_count=$ITERATIONS;"
echo "  users: $NUSERS (${PREFIX}0..), logging at warn, no rate limits"
echo "  load average at start: $LOAD0, at end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews rates)"
echo
hdr=(); for s in $SERVERS; do
    case $s in prosody) hdr+=("prosody ${R[prosody.version]:-}");; tandem) hdr+=("tandem ${R[tandem.version]:-}");; esac
done
row "" "${hdr[@]}"
line() { local label=$1 fmt=$2; local cols=(); for s in $SERVERS; do cols+=("$(eval "$fmt")"); done; row "$label" "${cols[@]}"; }
line "nofile (server)"                               'v $s.nofile'
line "TLS"                                           'v $s.tls | cut -d" " -f1,2 | sed "s/ TLS13_/ /"'
line "SCRAM PBKDF2 iterations (seen on the wire)"     'v $s.iters'
line "RSS before idle sessions (MiB)"                'mib $s.rss0'
line "RSS with $IDLE_N idle TLS sessions (MiB)"      'mib $s.rss1'
line "idle sessions up / failed"                     'echo "$(v $s.idle_ok) / $(v $s.idle_failed)"'
line "KiB per idle connection"                       'v $s.kib_per_conn'
for mech in $LOGIN_MECHS; do
line "logins/s $mech, conc $LOGIN_CONC (p99 ms)"      'echo "$(num $s.logins_$mech) ($(num $s.logins_p99_$mech))"'
line "  server / loadgen CPU % ($mech logins)"        'echo "$(v $s.logins_cpu_$mech) / $(num $s.logins_lgcpu_$mech)"'
done
line "messages/s, $MSG_PAIRS pairs, window $MSG_WINDOW (p99 ms)" 'echo "$(num $s.msgs) ($(num $s.msgs_p99))"'
line "  messages not received (median run)"          'v $s.msgs_lost'
line "  loadgen CPU % (messages)"                    'num $s.msgs_lgcpu'
echo
{
    printf 'server\tmetric\tvalue\n'
    for k in "${!R[@]}"; do printf '%s\t%s\t%s\n' "${k%%.*}" "${k#*.}" "${R[$k]}"; done | sort
} > "$WORK/results.tsv"
[ "$KEEP" = 1 ] && log "raw results: $WORK/results.tsv, $WORK/raw/"
[ $STATUS = 0 ] || log "one server half failed; its column shows n/a"
exit $STATUS
