#!/usr/bin/env bash
# The whole test suite: formatting, lints, every crate's unit and black-box tests, and the README's
# quick start. Installs nothing system-wide beyond what scripts/setup.sh lists.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked 2>&1 | tee target/test-output.txt
echo "== quick start smoke test"
bash scripts/quickstart-smoke.sh
passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' target/test-output.txt | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' target/test-output.txt | awk '{s+=$1} END {print s+0}')
echo "$((passed + 1)) passed, $failed failed"
