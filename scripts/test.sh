#!/usr/bin/env bash
# The whole test suite: unit, property, vector and end-to-end tests of every crate.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# The differential test of rdfc canonicalization (core/tests/interop.rs) runs jsonld.js, a JSON-LD
# implementation independent of ours, offline against the bundled contexts; its version is pinned
# in core/tests/interop/package-lock.json.
if [ ! -d core/tests/interop/node_modules/jsonld ]; then
  echo "test: installing jsonld.js (the independent JSON-LD implementation of the interop test)" >&2
  npm ci --prefix core/tests/interop --no-audit --no-fund --silent
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole suite, over every test binary.
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "%d passed, %d failed\n", passed, failed }' "$log"
exit "$status"
