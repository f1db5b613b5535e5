#!/usr/bin/env bash
# Installs what building Vouch needs on a fresh Debian machine, only when it is missing, and sets
# the shared target folder. Sourced by the other scripts.
set -euo pipefail

# RocksDB's Rust bindings are generated with bindgen, which needs libclang.
if ! dpkg -s libclang-dev >/dev/null 2>&1; then
  echo "setup: installing libclang-dev (needed by RocksDB's bindings)" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libclang-dev >/dev/null
fi
command -v c++ >/dev/null || { echo "setup: a C++ compiler is needed (apt-get install g++)" >&2; exit 1; }

# One warm target folder outside the clone, so RocksDB's C++ is built once per machine.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vouch-target}"
mkdir -p "$CARGO_TARGET_DIR"
