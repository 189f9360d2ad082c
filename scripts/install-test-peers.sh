#!/usr/bin/env bash
# Installs the real peers the end-to-end tests run against, from Debian packages:
#   postgresql  - the PostgreSQL storage backend (tests start a private server on loopback)
#   baresip     - a real SIP phone (registers with digest, answers OPTIONS and calls)
#   sipsak      - one-shot SIP OPTIONS/REGISTER probes over UDP and TCP
#   python3-slixmpp - a third-party XMPP client for certificate logins (SASL EXTERNAL)
#   kamailio    - a real SIP proxy, the trunk behind [sip] outbound_proxy in the call tests
#   redis-server - the global route table of [cluster] (tests start private servers on loopback)
# Safe to run again; does nothing for what is already there. Needs root (apt-get).
set -euo pipefail

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v baresip >/dev/null 2>&1 || need+=(baresip)
command -v sipsak >/dev/null 2>&1 || need+=(sipsak)
/usr/bin/python3 -c 'import slixmpp' >/dev/null 2>&1 || need+=(python3-slixmpp)
command -v kamailio >/dev/null 2>&1 || need+=(kamailio)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)

if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-test-peers: need root to install: ${need[*]}" >&2
    exit 1
fi
# Keep packages from starting their own daemons: tests start private instances.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
