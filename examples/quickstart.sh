#!/usr/bin/env bash
# Portico quick start: the example backend on 127.0.0.1:8081 and `portico serve` on the embedded
# store with examples/petstore.yaml deployed to stage `dev`. Ctrl-C stops both.
#
# Environment: BACKEND_PORT (8081), PORTICO_PROFILE (release; `dev` for a debug build).
# Extra arguments go to `portico serve` (e.g. --listen 127.0.0.1:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
backend_port="${BACKEND_PORT:-8081}"
python3 examples/backend.py --port "$backend_port" &
backend=$!
admin=127.0.0.1:9090
prev=""
for arg in "$@"; do
  [ "$prev" = "--admin-listen" ] && admin="$arg"
  prev="$arg"
done
# Once the server is up: an API key and usage plan for /orders, the stage cache for /clock.
python3 examples/provision.py --admin "$admin" &
provision=$!
trap 'kill "$backend" "$provision" 2>/dev/null || true' EXIT INT TERM
cargo run --quiet --profile "${PORTICO_PROFILE:-release}" -p portico -- serve \
  --import examples/petstore.yaml \
  --stage dev \
  --stage-variable "backend=127.0.0.1:${backend_port}" \
  "$@"
