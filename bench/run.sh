#!/usr/bin/env bash
# Builds Portico in release mode and runs the Portico-vs-nginx benchmark (bench/harness.py).
# Needs nginx, wrk and taskset (bench/setup.sh installs them). Arguments go to the harness.
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/setup.sh
cargo build --release --locked -p portico
python3 bench/harness.py --portico target/release/portico "$@"
