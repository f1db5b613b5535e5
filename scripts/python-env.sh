#!/usr/bin/env bash
# A virtual environment for the Python client and its tests, outside the clone and reused:
# `pip install` of the client (as a user would, from the repo) and pytest from PyPI, again only
# when the client's files changed. Sourced; sets VOUCH_VENV.
export VOUCH_VENV="${VOUCH_VENV:-$HOME/.cache/vouch-venv}"
if [ ! -x "$VOUCH_VENV/bin/python" ]; then
  echo "python-env: creating $VOUCH_VENV" >&2
  python3 -m venv "$VOUCH_VENV"
fi
stamp=$(cd clients/python && find . -path ./build -prune -o -name '*.egg-info' -prune -o -type f \( -name '*.py' -o -name '*.toml' -o -name '*.typed' -o -name '*.md' \) -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
if [ "$(cat "$VOUCH_VENV/.vouch-client" 2>/dev/null)" != "$stamp" ]; then
  echo "python-env: installing the Python client and pytest" >&2
  # setuptools builds in the source tree; a stale build/ would ship files since removed.
  rm -rf clients/python/build
  "$VOUCH_VENV/bin/python" -m pip install -q --disable-pip-version-check './clients/python[test]'
  rm -rf clients/python/build
  echo "$stamp" > "$VOUCH_VENV/.vouch-client"
fi
