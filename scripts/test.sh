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
# The owner's pages (node/tests/passkeys.rs) are tested in a real browser: Debian's Chromium,
# headless, with a virtual WebAuthn authenticator.
source scripts/chromium.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# The clients, against real nodes and wallet daemons started by their tests (`vouch-testnet up`
# and `agents`) from this build's binaries: `cargo test` built them (each crate with binaries has
# integration tests), with the features of every other build of this script and of the demo
# (`--all-targets`). A `cargo build --bins` here would resolve other features — without the
# dev-dependencies — and rebuild most dependencies, RocksDB's C++ included.
if [ "$status" -eq 0 ] && [ $# -eq 0 ]; then
  export VOUCH_BIN_DIR="$CARGO_TARGET_DIR/debug"
  source scripts/python-env.sh
  set +e
  (cd clients/python && "$VOUCH_VENV/bin/python" -m pytest -q -p no:cacheprovider) 2>&1 | tee -a "$log"
  status=${PIPESTATUS[0]}
  set -e
  # Installed again whenever clients/typescript/package-lock.json changed since the last install.
  lock=$(sha256sum clients/typescript/package-lock.json | cut -c1-16)
  if [ "$(cat clients/typescript/node_modules/.vouch-lock 2>/dev/null)" != "$lock" ]; then
    echo "test: installing the TypeScript client's compiler and test libraries (clients/typescript/package-lock.json)" >&2
    npm ci --prefix clients/typescript --no-audit --no-fund --silent
    echo "$lock" > clients/typescript/node_modules/.vouch-lock
  fi
  set +e
  npm test --prefix clients/typescript --silent 2>&1 | tee -a "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  set -e
fi

# One closing line for the whole suite, over every test binary and the clients' tests.
awk '/^test result:/ { passed += $4; failed += $6; next }
     /^# pass [0-9]+$/ { passed += $3; next }
     /^# fail [0-9]+$/ { failed += $3; next }
     /^[0-9]+ (passed|failed).* in [0-9.]+s/ {
       for (i = 2; i <= NF; i++) {
         if ($i ~ /^passed/) passed += $(i-1)
         if ($i ~ /^failed/) failed += $(i-1)
       }
     }
     END { printf "%d passed, %d failed\n", passed, failed }' "$log"
exit "$status"
