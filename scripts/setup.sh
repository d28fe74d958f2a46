#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: curl and python3 (the example backend and
# the management-API tests), and a virtualenv in .venv with boto3 and pytest from PyPI; optionally
# Debian's chromium and playwright-core (npm) for the real-browser tests in tests/browser.
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
if ! .venv/bin/python -c 'import boto3, pytest, awscli, h2, moto.server, jwt, websockets' 2>/dev/null; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
fi
# Optional: the real-browser CORS tests (tests/browser) drive Debian's headless Chromium through
# playwright-core, pinned in tests/browser/package-lock.json and installed with the machine's node
# (>= 20). Playwright never downloads a browser: it runs /usr/bin/chromium. Without either, those
# tests print why they skip. Quick when both are already there (no apt, no npm call).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null) \
      || echo "note: could not install chromium; the browser tests will skip" >&2
  else
    echo "note: /usr/bin/chromium is missing (apt-get install chromium, as root); the browser tests will skip" >&2
  fi
fi
browser=tests/browser
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "note: node/npm are missing; the browser tests will skip" >&2
elif [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "note: node $(node -v) is older than 20 (playwright-core needs 20); the browser tests will skip" >&2
elif ! cmp -s "$browser/package-lock.json" "$browser/node_modules/.portico-installed-lock" \
    || [ ! -f "$browser/node_modules/playwright-core/package.json" ]; then
  # Missing or stale node_modules: reinstall exactly the lock file, then stamp it.
  if (cd "$browser" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
    cp "$browser/package-lock.json" "$browser/node_modules/.portico-installed-lock"
  else
    echo "note: npm ci in $browser failed; the browser tests will skip" >&2
  fi
fi
# Optional: Autobahn|Testsuite (wstest fuzzingclient) for the WebSocket framing test. It runs only
# on Python 2.7 (PyPI's autobahntestsuite); installed into target/autobahn from a pyenv 2.7 or a
# python2.7 on PATH. `--ignore-installed` keeps pip from removing that Python's own setuptools.
# Without Python 2.7 the test prints why it skips.
py27=""
for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/2.7*/bin/python "$(command -v python2.7 || true)"; do
  [ -x "$p" ] && { py27=$p; break; }
done
if [ -n "$py27" ] && [ ! -f target/autobahn/.installed ]; then
  mkdir -p target/autobahn
  if "$py27" -m pip install --quiet --disable-pip-version-check --ignore-installed \
      --prefix "$PWD/target/autobahn" autobahntestsuite==25.10.1 >/dev/null 2>&1; then
    echo "$py27" > target/autobahn/.installed
  else
    echo "note: could not install autobahntestsuite for $py27; the Autobahn test will skip" >&2
  fi
fi
