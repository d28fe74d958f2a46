#!/usr/bin/env bash
# Runs every fuzz target at once in libFuzzer's fork mode, for machines with many cores.
#
#   fuzz/run_parallel.sh BIN_DIR WORK_DIR SECONDS [TARGET=PROCS ...]
#
# BIN_DIR holds the target binaries (`RUSTC_BOOTSTRAP=1 cargo fuzz build -a` puts them in
# fuzz/target/x86_64-unknown-linux-gnu/release). Each target's corpus starts as a copy of
# fuzz/corpus/<target> in WORK_DIR/corpus/<target>; new inputs, crash/timeout/oom artifacts
# (WORK_DIR/artifacts/<target>/) and the libFuzzer log (WORK_DIR/logs/<target>.log) land there.
# TARGET=PROCS gives a target that many worker processes (default 2); TARGET=0 skips it.
# Crashes, timeouts and OOMs are recorded and the run goes on, so one finding does not end it.
# Prints, per target, the worker-seconds spent, executions and what was found.
set -euo pipefail

bin_dir=$1 work=$2 seconds=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
declare -A procs=(
    [vtl_parse]=2 [vtl_render]=2 [jsonpath]=2 [router]=2
    [openapi_import]=2 [sigv4]=2 [access_log_format]=2 [gateway_templates]=2
)
# Per-target options, as in fuzz/README.md.
declare -A opts=(
    [vtl_parse]="-timeout=5 -max_len=8192"
    [vtl_render]="-timeout=5 -max_len=8192 -malloc_limit_mb=128"
    [jsonpath]="-timeout=5"
    [router]="-timeout=5 -max_len=512"
    [openapi_import]="-timeout=10 -max_len=8192"
    [sigv4]="-timeout=5 -max_len=2048"
    [access_log_format]="-timeout=5 -max_len=2048"
    [gateway_templates]="-timeout=10 -max_len=4096"
)
for kv in "$@"; do procs[${kv%%=*}]=${kv#*=}; done

mkdir -p "$work/logs"
pids=()
for t in "${!procs[@]}"; do
    n=${procs[$t]}
    [ "$n" -gt 0 ] || continue
    mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
    cp -n "$here/corpus/$t/"* "$work/corpus/$t/" 2>/dev/null || true
    # shellcheck disable=SC2086
    ASAN_OPTIONS=detect_odr_violation=0 "$bin_dir/$t" "$work/corpus/$t" \
        -fork="$n" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$seconds" -rss_limit_mb=2048 ${opts[$t]} \
        -artifact_prefix="$work/artifacts/$t/" >"$work/logs/$t.log" 2>&1 &
    pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=$?; done

printf '%-18s %6s %12s %8s %s\n' target procs worker_s execs found
for t in $(printf '%s\n' "${!procs[@]}" | sort); do
    n=${procs[$t]}
    [ "$n" -gt 0 ] || continue
    log=$work/logs/$t.log
    execs=$(grep -ao 'exec/s: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
    last=$(grep -a '^#[0-9]' "$log" | tail -1 || true)
    total=$(echo "$last" | grep -o '^#[0-9]*' | tr -d '#' || echo 0)
    found=$(find "$work/artifacts/$t" -type f | wc -l)
    printf '%-18s %6s %12s %8s %s\n' "$t" "$n" "$((n * seconds))" "${total:-0}" "$found (last exec/s ${execs:-0})"
done
exit "$status"
