#!/usr/bin/env bash
# Runs every test: installs the real peers the end-to-end tests need, then the whole
# workspace's tests with those peers required (a missing peer fails instead of skipping).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-peers.sh
TANDEM_REQUIRE_PEERS=1 cargo test --workspace --locked "$@"
