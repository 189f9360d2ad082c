#!/usr/bin/env bash
# `tandem replay` speed (issue 6): a generated pcap of MESSAGES SIP messages (calls from a
# phone to alice, answered at once and hung up: INVITE/100/200/ACK/BYE/200, both sides as
# a capture holds them) replayed offline on one core. Prints messages/s and tandem's peak
# RSS, for this trace and for one twice as long: memory should not grow with length once
# the transactions' 32 s timers have reached steady state (about 50,000 messages here).
#
#   benches/replay-load.sh                  # MESSAGES=100000 CPU=0
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MESSAGES=${MESSAGES:-100000}
CPU=${CPU:-0}
cargo build -q --release --manifest-path "$ROOT/Cargo.toml" -p tandem
TANDEM="$ROOT/target/release/tandem"
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT

generate() { # generate FILE MESSAGES
python3 - "$1" "$2" <<'PY'
import struct, sys
path, total = sys.argv[1], int(sys.argv[2])
PHONE, TANDEM = ("192.0.2.10", 5060), ("192.0.2.20", 5060)
def ip(a): return bytes(int(x) for x in a.split("."))
def frame(src, dst, payload):
    udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, ip(src[0]), ip(dst[0]))
    return b"\x02" * 6 + b"\x01" * 6 + b"\x08\x00" + hdr + udp
SDP = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
def msg(first, branch, tag, call, cseq, method, body="", via=PHONE):
    to = "<sip:alice@example.test>" + (f";tag={tag}" if tag else "")
    head = (f"{first}\r\nVia: SIP/2.0/UDP {via[0]}:{via[1]};branch=z9hG4bK{branch};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:+1555@192.0.2.10>;tag=p{call}\r\nTo: {to}\r\n"
            f"Call-ID: c{call}@192.0.2.10\r\nCSeq: {cseq} {method}\r\n")
    if body:
        head += "Content-Type: application/sdp\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n{body}").encode()
out = open(path, "wb")
out.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
n = 0
call = 0
uri = "sip:tandem@192.0.2.20:5060;transport=udp"
while n < total:
    t = call * 0.004  # 250 calls per second of capture
    steps = [
        (0.000, PHONE, TANDEM, msg("INVITE sip:alice@example.test SIP/2.0", f"i{call}", None, call, 1, "INVITE", SDP)),
        (0.001, TANDEM, PHONE, msg("SIP/2.0 100 Trying", f"i{call}", f"t{call}", call, 1, "INVITE")),
        (0.002, TANDEM, PHONE, msg("SIP/2.0 200 OK", f"i{call}", f"t{call}", call, 1, "INVITE", SDP)),
        (0.010, PHONE, TANDEM, msg(f"ACK {uri} SIP/2.0", f"a{call}", f"t{call}", call, 1, "ACK")),
        (0.050, PHONE, TANDEM, msg(f"BYE {uri} SIP/2.0", f"b{call}", f"t{call}", call, 2, "BYE")),
        (0.051, TANDEM, PHONE, msg("SIP/2.0 200 OK", f"b{call}", f"t{call}", call, 2, "BYE")),
    ]
    for (dt, src, dst, payload) in steps:
        if n >= total: break
        f = frame(src, dst, payload)
        ts = 1_700_000_000 + t + dt
        out.write(struct.pack("<IIII", int(ts), int((ts % 1) * 1e6), len(f), len(f)) + f)
        n += 1
    call += 1
PY
}

cat > "$DIR/fixture.toml" <<'TOML'
domain = "example.test"
ring_timeout = 60
[[user]]
name = "alice"
resources = ["laptop"]
answer = "accept"
answer_after = 0.0
TOML
for n in "$MESSAGES" $((MESSAGES * 2)); do
    generate "$DIR/trace$n.pcap" "$n"
    cp "$DIR/fixture.toml" "$DIR/trace$n.toml"
    start=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$DIR/rss" taskset -c "$CPU" "$TANDEM" replay "$DIR/trace$n.pcap" --update > "$DIR/out" 2>&1 || { cat "$DIR/out"; exit 1; }
    end=$(date +%s.%N)
    python3 - "$n" "$start" "$end" "$(cat "$DIR/rss")" "$(wc -c < "$DIR/trace$n.pcap")" <<'PY'
import sys
n, start, end, rss, size = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
secs = end - start
print(f"{n} messages ({size / 1e6:.1f} MB pcap): {secs:.2f} s = {n / secs:,.0f} messages/s, peak RSS {rss / 1024:.1f} MiB")
PY
    tail -1 "$DIR/out"
done
