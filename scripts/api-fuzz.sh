#!/usr/bin/env bash
# Fuzzes a live node's HTTP API from its OpenAPI document with schemathesis (from PyPI, pinned,
# in a virtualenv outside the clone): every operation, every check (no 5xx, status codes,
# content types, headers and bodies as documented, negative data refused, Allow on 405…).
#   scripts/api-fuzz.sh [extra schemathesis options]   (EXAMPLES=N, default 100; SEED, default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
VENV=${VOUCH_API_FUZZ_VENV:-$HOME/.cache/vouch-api-fuzz}
if [ ! -x "$VENV/bin/schemathesis" ]; then
  echo "api-fuzz: installing schemathesis 4.32.5 into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet schemathesis==4.32.5
fi
cargo build --workspace --all-targets --locked --quiet
NODE="$CARGO_TARGET_DIR/debug/vouch-node"
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'data_dir = "data"\n[http]\nlisten = "127.0.0.1:%s"\n' "$PORT" > "$WORK/node.toml"
"$NODE" --config "$WORK/node.toml" init > /dev/null
RUST_LOG=info "$NODE" --config "$WORK/node.toml" run 2> "$WORK/node.log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
# Up once it logs that it started (it does once its HTTP server listens).
# (tail ends by SIGPIPE once grep has seen the line, hence the `|| true`.)
if ! (timeout 30 tail -n +1 -f "$WORK/node.log" || true) | grep -q -m1 "node started"; then
  echo "api-fuzz: the node did not start; its log:" >&2
  cat "$WORK/node.log" >&2
  exit 1
fi
TOKEN=$(cat "$WORK/data/admin.token")
set +e
"$VENV/bin/schemathesis" --config-file scripts/api-fuzz.toml run docs/openapi.yaml --url "http://127.0.0.1:$PORT" \
  -H "Authorization: Bearer $TOKEN" --max-examples "${EXAMPLES:-100}" \
  --seed "${SEED:-1}" --workers 1 --report junit --report-dir "$WORK/report" "$@"
status=$?
set -e
echo "api-fuzz: node log lines at ERROR: $(grep -c ' ERROR ' "$WORK/node.log" || true)"
exit "$status"
