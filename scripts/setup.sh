#!/usr/bin/env bash
# Installs what building, running and testing the service need beyond Rust and a PostgreSQL
# server, and only what is missing: each is looked for first, and the script says what it
# found. Debian or Ubuntu; as root, or as a user with sudo. (On macOS: brew install libpq jq
# nginx, and cargo install --locked cargo-nextest.)
#   bash scripts/setup.sh
# What for: libpq-dev (the client library diesel links), jq (the tour), nginx (the
# scale-out tests put two instances behind it), python3-venv (the reminder tests run a real
# SMTP server, aiosmtpd, from a virtual environment they make under target/), cargo-nextest
# (the test command).
set -euo pipefail
as_root=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "setup: run as root, or install sudo" >&2; exit 1; }
  as_root=(sudo)
fi
missing=()
have() { echo "setup: $1 is here"; }
[ -e /usr/include/postgresql/libpq-fe.h ] && have libpq-dev || missing+=(libpq-dev)
command -v jq >/dev/null && have jq || missing+=(jq)
{ [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null; } && have nginx || missing+=(nginx)
python3 -c 'import ensurepip, venv' 2>/dev/null && have python3-venv || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  "${as_root[@]}" apt-get update -q
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if cargo nextest --version >/dev/null 2>&1; then
  have "cargo-nextest ($(cargo nextest --version | head -n1))"
else
  echo "setup: installing cargo-nextest (a prebuilt one when cargo-binstall is here, else compiled: ~14 minutes)"
  if command -v cargo-binstall >/dev/null; then
    cargo binstall --no-confirm --locked cargo-nextest
  else
    cargo install --locked cargo-nextest
  fi
fi
echo "setup: done"
