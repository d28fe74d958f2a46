#!/usr/bin/env bash
# The whole test suite: formatting, lints, every crate's unit and black-box tests, the management
# API through boto3 (pytest), and the README's quick start.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked 2>&1 | tee target/test-output.txt
echo "== management API through boto3, HTTP/2 abuse (pytest)"
cargo build --locked -p portico
PORTICO_BIN=target/debug/portico .venv/bin/python -m pytest -q tests/management tests/security 2>&1 | tee target/pytest-output.txt
echo "== quick start smoke test"
bash scripts/quickstart-smoke.sh
echo "== mini-soak (${PORTICO_SOAK_MINUTES:-5} min; PORTICO_SOAK_MINUTES=60 for the long run)"
PORTICO_BIN=target/debug/portico .venv/bin/python scripts/soak.py --minutes "${PORTICO_SOAK_MINUTES:-5}" \
  --csv target/soak.csv
cargo_passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' target/test-output.txt | awk '{s+=$4} END {print s+0}')
py_passed=$(grep -Eo '[0-9]+ passed' target/pytest-output.txt | tail -1 | awk '{print $1+0}')
echo "$((cargo_passed + py_passed + 2)) passed, 0 failed"
