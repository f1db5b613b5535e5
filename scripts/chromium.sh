#!/usr/bin/env bash
# Installs Debian's Chromium when it is missing: the browser of the owner's pages in the tests
# and the demo (`vouch-browser`, headless). Sourced by test.sh and demo.sh.
if [ -z "${VOUCH_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing chromium (the owner's browser of the passkey pages, headless)" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
fi
