#!/usr/bin/env bash
# DID resolution over HTTP under load from a separate process: a release vouch-node alone on
# loopback, and wrk (Debian's package, installed when missing) resolving the org's did:vouch and
# a did:key. Both share the machine's cores, as they would on one 2-core box.
#   BENCH_SECONDS=N (default 30), BENCH_CONNECTIONS=N (default 64)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
for tool in wrk nginx; do
  if ! command -v "$tool" >/dev/null && [ ! -x "/usr/sbin/$tool" ]; then
    echo "bench-http: installing $tool" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null; }
  fi
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
SECONDS_EACH=${BENCH_SECONDS:-30}
CONNECTIONS=${BENCH_CONNECTIONS:-64}

# The same command every time, so the release build is reused.
cargo build --release --locked -p vouch-node --bin vouch-node
NODE="$CARGO_TARGET_DIR/release/vouch-node"

dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; [ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
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

# Side by side: Debian's nginx serving the identical resolution bytes, precomputed, from files
# (the node's answer for each DID saved as it is, with its content type), same wrk, same run.
nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$dir/www/1.0/identifiers"
for target in "$did" did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK; do
  curl -sf "http://127.0.0.1:$port/1.0/identifiers/$target" > "$dir/www/1.0/identifiers/$target"
done
type=$(curl -sf -o /dev/null -w '%{content_type}' "http://127.0.0.1:$port/1.0/identifiers/$did")
cat > "$dir/nginx.conf" <<NGINX
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$nginx_port;
    root $dir/www;
    default_type "$type";
  }
}
NGINX
# nginx's workers run as www-data: the files must be theirs to read.
chmod -R a+rX "$dir/www" && chmod a+x "$dir"
"$NGINX" -c "$dir/nginx.conf"
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$nginx_port/1.0/identifiers/$did" >/dev/null && break
  sleep 0.1
done
for target in "$did" did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK; do
  url="http://127.0.0.1:$nginx_port/1.0/identifiers/$target"
  cmp -s <(curl -sf "$url") <(curl -sf "http://127.0.0.1:$port/1.0/identifiers/$target") \
    || { echo "bench-http: nginx's bytes differ from the node's for $target" >&2; exit 1; }
  echo "== nginx, the same bytes for $target: wrk -t1 -c$CONNECTIONS -d${SECONDS_EACH}s --latency"
  wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency "$url" \
    | grep -E "Requests/sec|Latency|50%|75%|90%|99%|requests in|Non-2xx"
done
