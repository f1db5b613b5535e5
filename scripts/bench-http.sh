#!/usr/bin/env bash
# DID resolution over HTTP under load from a separate process: a release vouch-node alone on
# loopback, and wrk (Debian's package, installed when missing) resolving the org's did:vouch and
# a did:key. Both share the machine's cores, as they would on one 2-core box.
#   BENCH_SECONDS=N (default 30), BENCH_CONNECTIONS=N (default 64)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
if ! command -v wrk >/dev/null; then
  echo "bench-http: installing wrk" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
fi
SECONDS_EACH=${BENCH_SECONDS:-30}
CONNECTIONS=${BENCH_CONNECTIONS:-64}

# The same command every time, so the release build is reused.
cargo build --release --locked -p vouch-node --bin vouch-node
NODE="$CARGO_TARGET_DIR/release/vouch-node"

dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$dir/node.toml" <<TOML
data_dir = "data"
[http]
listen = "127.0.0.1:$port"
TOML
did=$("$NODE" --config "$dir/node.toml" init --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["did"])')
RUST_LOG=warn "$NODE" --config "$dir/node.toml" run 2> "$dir/node.log" &
pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  sleep 0.1
done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for target in "$did" did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK; do
  url="http://127.0.0.1:$port/1.0/identifiers/$target"
  echo "== $target: wrk -t1 -c$CONNECTIONS -d${SECONDS_EACH}s --latency"
  curl -sf "$url" >/dev/null
  wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency "$url" \
    | grep -E "Requests/sec|Latency|50%|75%|90%|99%|requests in|Non-2xx"
done
