#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: curl and python3 (the example backend).
# Rust comes from rust-toolchain.toml. Benchmarks need more: see bench/README.md.
set -euo pipefail
need=()
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    echo "missing: ${need[*]} (install them with apt-get)" >&2
    exit 1
  fi
fi
