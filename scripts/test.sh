#!/usr/bin/env bash
# The whole test suite: formatting, lints, every crate's unit and black-box tests, the management
# API through boto3 (pytest), and the README's quick start.
set -euo pipefail
cd "$(dirname "$0")/.."
# `part NAME` starts a timed part; the times are printed as each part ends and again at the end.
timings=()
part_name="" part_start=0
part() {
  local now=$SECONDS
  if [ -n "$part_name" ]; then
    timings+=("$(printf '%5ds  %s' $((now - part_start)) "$part_name")")
    echo "-- $part_name took $((now - part_start)) s"
  fi
  part_name="$1" part_start=$now
  [ -z "$1" ] || echo "== $1"
}
part "setup (scripts/setup.sh)"
bash scripts/setup.sh
part "cargo fmt --check"
cargo fmt --all --check
part "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
part "cargo test"
cargo test --workspace --locked 2>&1 | tee target/test-output.txt
part "management API through boto3, HTTP APIs, HTTP/2 abuse, traffic control, browser CORS (pytest)"
cargo build --locked -p portico
PORTICO_BIN=target/debug/portico .venv/bin/python -m pytest -q -rs tests/management tests/lambda tests/aws_services tests/auth tests/security tests/traffic tests/tls tests/browser tests/http_apis tests/websocket 2>&1 | tee target/pytest-output.txt
part "quick start smoke test"
bash scripts/quickstart-smoke.sh
part "mini-soak (${PORTICO_SOAK_MINUTES:-5} min; PORTICO_SOAK_MINUTES=60 for the long run)"
PORTICO_BIN=target/debug/portico .venv/bin/python scripts/soak.py --minutes "${PORTICO_SOAK_MINUTES:-5}" \
  --csv target/soak.csv
part ""
echo "== time per part"
printf '%s\n' "${timings[@]}"
cargo_passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' target/test-output.txt | awk '{s+=$4} END {print s+0}')
py_passed=$(grep -Eo '[0-9]+ passed' target/pytest-output.txt | tail -1 | awk '{print $1+0}')
echo "$((cargo_passed + py_passed + 2)) passed, 0 failed"
