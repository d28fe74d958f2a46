#!/usr/bin/env bash
# Portico quick start: the example backend on 127.0.0.1:8081 and `portico serve` on the embedded
# store with examples/petstore.yaml deployed to stage `dev`; when moto_server is installed
# (`bash scripts/setup.sh` puts it in .venv), also examples/orders-aws.yaml, whose AWS service
# integrations (SQS, DynamoDB, Step Functions) go to a local moto_server on 127.0.0.1:5000.
# Ctrl-C stops them all.
#
# Environment: BACKEND_PORT (8081), AWS_PORT (5000), MOTO_SERVER (.venv/bin/moto_server),
# PORTICO_PROFILE (release; `dev` for a debug build).
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
python3 examples/provision.py --admin "$admin" --backend "127.0.0.1:$backend_port" &
provision=$!
# The AWS service example, against a local moto_server when there is one.
aws_args=()
moto="${MOTO_SERVER:-.venv/bin/moto_server}"
pids=("$backend" "$provision")
if [ -x "$moto" ]; then
  aws_port="${AWS_PORT:-5000}"
  "$moto" -H 127.0.0.1 -p "$aws_port" >/dev/null 2>&1 &
  pids+=($!)
  "$(dirname "$moto")/python" examples/provision_aws.py --endpoint "http://127.0.0.1:$aws_port" \
    --admin "$admin" &
  pids+=($!)
  aws_args=(--import examples/orders-aws.yaml --aws-endpoint "*=http://127.0.0.1:$aws_port")
  # moto checks no signature; keys already in the environment are used as they are.
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
else
  echo "quickstart: $moto not found (bash scripts/setup.sh installs it): examples/orders-aws.yaml is not served" >&2
fi
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT INT TERM
cargo run --quiet --profile "${PORTICO_PROFILE:-release}" -p portico -- serve \
  --import examples/petstore.yaml \
  --aws-config examples/portico-aws.yaml \
  "${aws_args[@]}" \
  --stage dev \
  --stage-variable "backend=127.0.0.1:${backend_port}" \
  "$@"
