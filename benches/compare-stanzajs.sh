#!/usr/bin/env bash
# Jingle <-> SDP translations per second on one core: tandem (divan bench
# translations/benches/translate.rs) and StanzaJS 12.22.1 (benches/stanzajs/bench.js), on the same
# WebRTC offer, in the same run, each pinned to the same core. Prints both rates and the ratio.
# See benches/README.md, "tandem vs StanzaJS: SDP <-> Jingle translation".
#
#   benches/compare-stanzajs.sh
#   SECS=5 CPU=1 benches/compare-stanzajs.sh
#
# Variables:
#   SDP          the input the node bench reads (default fixtures/bench/webrtc_offer_10_candidates.sdp)
#   BENCH_ARG    the divan arg of translate.rs that embeds the same file (default webrtc10)
#   SECS         measuring time per benchmark, both tools (divan --min-time; bench.js --secs); 3
#   WARMUP_SECS  bench.js warm-up per measurement (lets V8 optimise); 1
#   CPU          core both are pinned to with taskset (empty: no pinning); 0
#   TARGET       the ratio the table is checked against (issue: tandem >= 20x StanzaJS per core); 20
#   DIVAN_OUTPUT a saved divan output to parse instead of running cargo bench (tests the parser)
#
# Exit status: 0 when both sides were measured (whatever the ratio), 1 on any failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
NODE_DIR=$HERE/stanzajs

SDP=${SDP:-$ROOT/fixtures/bench/webrtc_offer_10_candidates.sdp}
BENCH_ARG=${BENCH_ARG:-webrtc10}
SECS=${SECS:-3}
WARMUP_SECS=${WARMUP_SECS:-1}
CPU=${CPU-0}
TARGET=${TARGET:-20}
DIVAN_OUTPUT=${DIVAN_OUTPUT:-}

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'compare-stanzajs: %s\n' "$*" >&2; exit 1; }

# The divan benches (same names in bench.js) and the StanzaJS-only extra rows.
DIRECTIONS=(sdp_to_jingle_xml jingle_xml_to_sdp)
EXTRA=(sdp_to_jingle_obj jingle_obj_to_sdp)

# divan_median_ns FILE BENCH ARG: the median column of row BENCH/ARG of a divan table, in ns.
# divan prints e.g.
#   translate             fastest       │ slowest       │ median        │ mean          │ samples │ iters
#   ├─ jingle_xml_to_sdp                │               │               │               │         │
#   │  ╰─ webrtc10        135.9 µs      │ 4.517 ms      │ 150 µs        │ 217.4 µs      │ 13484   │ 13484
# The tree's own '│' is the column separator too, so columns are counted from the right: the median
# is the 4th field from the end. A row with an empty median column opens a benchmark function; the
# rows after it are its args.
divan_median_ns() {
    LC_ALL=C awk -F '│' -v bench="$2" -v arg="$3" '
        function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
        function to_ns(s,   p, n, v, u) {
            n = split(trim(s), p, / +/)
            if (n != 2 || p[1] !~ /^[0-9]+(\.[0-9]+)?$/) return ""
            v = p[1] + 0; u = p[2]
            if (u == "ps") return v / 1000
            if (u == "ns") return v
            if (u == "µs" || u == "μs" || u == "us") return v * 1000
            if (u == "ms") return v * 1000000
            if (u == "s") return v * 1000000000
            return ""
        }
        NF >= 6 {
            line = $0
            sub(/^[^A-Za-z0-9_]+/, "", line)        # tree drawing in front of the name
            split(line, w, /[ \t]+/); name = w[1]
            median = trim($(NF - 3))
            if (median == "") { current = name; next }   # a benchmark function with args below
            if (current == bench && name == arg) {
                ns = to_ns(median)
                if (ns == "") { printf "unparsed median \"%s\"\n", median > "/dev/stderr"; exit 1 }
                printf "%.3f\n", ns; found = 1; exit 0
            }
        }
        END { if (!found) exit 1 }
    ' "$1"
}

# node_field FILE NAME KEY: KEY=value of the "result name=NAME ..." line bench.js printed.
node_field() {
    awk -v name="$2" -v key="$3" '
        $1 == "result" && $2 == "name=" name {
            for (i = 3; i <= NF; i++) if (index($i, key "=") == 1) { print substr($i, length(key) + 2); found = 1; exit }
        }
        END { if (!found) exit 1 }
    ' "$1"
}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

[[ -f $SDP ]] || die "no such SDP file: $SDP"
# bench.js reads $SDP at run time, translate.rs embeds its file at compile time: they must agree.
if ! grep -q "$(basename "$SDP")" "$ROOT/translations/benches/translate.rs"; then
    log "warning: $(basename "$SDP") is not named in translations/benches/translate.rs; check that BENCH_ARG=$BENCH_ARG uses the same input"
fi

PIN=()
if [[ -n $CPU ]]; then
    if command -v taskset >/dev/null; then
        PIN=(taskset -c "$CPU")
    else
        log "taskset not found: running unpinned"
    fi
fi

# ---- node and StanzaJS -------------------------------------------------------------------------
command -v node >/dev/null || die "node not found (Debian: apt-get install nodejs npm)"
want_version=$(sed -n 's/.*"stanza": *"\([^"]*\)".*/\1/p' "$NODE_DIR/package.json")
have_version=$(cd "$NODE_DIR" && node -p 'require("stanza/package.json").version' 2>/dev/null || true)
if [[ $have_version != "$want_version" ]]; then
    command -v npm >/dev/null || die "npm not found (Debian: apt-get install npm)"
    log "installing StanzaJS $want_version: npm ci in benches/stanzajs"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund >&2)
fi

# ---- tandem (divan) ----------------------------------------------------------------------------
filter="^translate::($(IFS='|'; echo "${DIRECTIONS[*]}"))::${BENCH_ARG}\$"
if [[ -n $DIVAN_OUTPUT ]]; then
    log "tandem: parsing saved divan output $DIVAN_OUTPUT"
    cp "$DIVAN_OUTPUT" "$WORK/divan.txt"
else
    log "tandem: building the translate bench (not pinned)"
    (cd "$ROOT" && cargo bench -p tandem-translations --bench translate --no-run >&2)
    log "tandem: divan ${PIN[*]:-(unpinned)}, --min-time $SECS, filter $filter"
    (cd "$ROOT" && "${PIN[@]}" cargo bench -q -p tandem-translations --bench translate -- \
        --color never --min-time "$SECS" "$filter") >"$WORK/divan.txt" \
        || { cat "$WORK/divan.txt" >&2; die "cargo bench failed"; }
fi
cat "$WORK/divan.txt"

# ---- StanzaJS ------------------------------------------------------------------------------------
log "StanzaJS: node ${PIN[*]:-(unpinned)}, $SECS s per measurement after $WARMUP_SECS s warm-up"
only=$(IFS=,; echo "${DIRECTIONS[*]},${EXTRA[*]}")
"${PIN[@]}" node "$NODE_DIR/bench.js" "$SDP" --secs "$SECS" --warmup-secs "$WARMUP_SECS" \
    --only "$only" >"$WORK/node.txt" || { cat "$WORK/node.txt" >&2; die "bench.js failed"; }
cat "$WORK/node.txt"

# ---- table ---------------------------------------------------------------------------------------
label() {
    case $1 in
        sdp_to_jingle_xml) echo 'SDP -> Jingle XML (text to text)' ;;
        jingle_xml_to_sdp) echo 'Jingle XML -> SDP (text to text)' ;;
        sdp_to_jingle_obj) echo 'SDP -> Jingle JSON (StanzaJS: no XML) *' ;;
        jingle_obj_to_sdp) echo 'Jingle JSON -> SDP (StanzaJS: no XML) *' ;;
    esac
}

declare -A tandem_ns
for d in "${DIRECTIONS[@]}"; do
    tandem_ns[$d]=$(divan_median_ns "$WORK/divan.txt" "$d" "$BENCH_ARG") \
        || die "no divan row $d/$BENCH_ARG in the output above (does translate.rs have the arg '$BENCH_ARG'?)"
done

rows=()
below=0
for d in "${DIRECTIONS[@]}" "${EXTRA[@]}"; do
    case $d in
        sdp_to_jingle_*) t=${tandem_ns[sdp_to_jingle_xml]} ;;
        *) t=${tandem_ns[jingle_xml_to_sdp]} ;;
    esac
    s=$(node_field "$WORK/node.txt" "$d" median_ns) || die "bench.js printed no result for $d"
    row=$(awk -v t="$t" -v s="$s" -v target="$TARGET" 'BEGIN {
        r = s / t
        printf "%.0f|%.1f|%.0f|%.1f|%.1fx|%s", 1e9 / t, t / 1000, 1e9 / s, s / 1000, r, (r >= target ? "yes" : "NO")
    }')
    if [[ $d == *_obj* ]]; then
        row=${row%|*}'|-'               # not like for like: no target check
    elif [[ ${row##*|} == NO ]]; then
        below=1
    fi
    rows+=("$(label "$d")|$row")
done

echo
echo "Translations per second on one core (${PIN[*]:-unpinned}), median time per translation;"
echo "input $(realpath --relative-to="$ROOT" "$SDP" 2>/dev/null || echo "$SDP"), tandem bench arg '$BENCH_ARG', $SECS s per measurement."
echo
printf '| %-40s | %12s | %10s | %14s | %10s | %7s | %s |\n' \
    direction 'tandem ops/s' '(median)' 'StanzaJS ops/s' '(median)' ratio ">= ${TARGET}x"
printf '|%s|%s:|%s:|%s:|%s:|%s:|%s|\n' \
    "$(printf -- '-%.0s' {1..42})" "$(printf -- '-%.0s' {1..13})" "$(printf -- '-%.0s' {1..11})" \
    "$(printf -- '-%.0s' {1..15})" "$(printf -- '-%.0s' {1..11})" "$(printf -- '-%.0s' {1..8})" \
    "$(printf -- '-%.0s' {1..8})"
for r in "${rows[@]}"; do
    IFS='|' read -r dir tops tmed sops smed ratio ok <<<"$r"
    printf '| %-40s | %12s | %7s µs | %14s | %7s µs | %7s | %-6s |\n' \
        "$dir" "$tops" "$tmed" "$sops" "$smed" "$ratio" "$ok"
done
echo
echo "ops/s = 1 / median time per translation (divan's median for tandem; median of ~2 ms samples"
echo "for StanzaJS, after warm-up). Both take text and give text; tandem's Jingle XML and StanzaJS's"
echo "are each their own rendering of the same SDP."
echo "* StanzaJS's SDP <-> JSON conversion alone, without its XML layer, next to tandem's full"
echo "  text-to-text figure: not like for like (hence no target check); it shows where StanzaJS's"
echo "  time goes (SDP parsing one way, XML parsing + JXT import the other)."
if ((below)); then
    echo "Below the ${TARGET}x target in at least one text-to-text direction."
fi
