#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: curl and python3 (the example backend and
# the management-API tests), and a virtualenv in .venv with boto3 and pytest from PyPI.
# Rust comes from rust-toolchain.toml. Benchmarks need more: see bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    echo "missing: ${need[*]} (install them with apt-get)" >&2
    exit 1
  fi
fi
# Optional: Apache Velocity 1.7 for the template engine's differential test (needs a JDK and root;
# the test prints why it skipped otherwise).
if command -v javac >/dev/null && [ ! -f /usr/share/java/velocity.jar ] && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq velocity) \
    || echo "note: could not install velocity; the Velocity differential test will skip" >&2
fi
if ! .venv/bin/python -c 'import boto3, pytest, awscli, h2, moto.server' 2>/dev/null; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
fi
