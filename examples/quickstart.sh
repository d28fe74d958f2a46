#!/usr/bin/env bash
# Portico quick start: the example backend on 127.0.0.1:8081 and `portico serve` on the embedded
# store with examples/petstore.yaml deployed to stage `dev`. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 examples/backend.py --port "${BACKEND_PORT:-8081}" &
backend=$!
trap 'kill "$backend" 2>/dev/null || true' EXIT
cargo run --release -p portico -- serve \
  --import examples/petstore.yaml \
  --stage dev \
  --stage-variable "backend=127.0.0.1:${BACKEND_PORT:-8081}" \
  "$@"
