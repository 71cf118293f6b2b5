#!/bin/sh
# bench_scripts.sh - the benchmark's scripts still work on this tree:
# bench/run (a small claimstart over mutual TLS with one thread per
# connection, its data kept) and
# bench/pgfloor on the cluster it kept, with both pgbench scripts
# (bench/pg/pair.sql and pair-cas.sql must still fit the schema the
# migrations make). It checks what each prints, not how fast.
#
#   sh tests/integration/bench_scripts.sh BUILD_DIR BBS_BINARY
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$1
bbs=$2
out=$(mktemp -d)
kept=""
cleanup() {
    rm -rf "$out"
    if [ -n "$kept" ]; then rm -rf "$kept"; fi
}
trap cleanup EXIT

fail() {
    echo "bench_scripts: $*" >&2
    exit 1
}

# A line of JSON per configuration; `check` runs a Python expression over
# the list of them (`lines`) and fails with the file shown when it is false.
check() {
    python3 - "$1" "$2" <<'EOF' || { cat "$1" >&2; fail "$2"; }
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sys.exit(0 if eval("(" + sys.argv[2] + ")", {"lines": lines}) else 1)
EOF
}

rc=0
"$root/bench/run" --tls --keep --per-connection --build "$build" --bbs "$bbs" -- \
    --workloads claimstart --claimstart-k 2 --claimstart-m 40 --quiet \
    >"$out/run.jsonl" 2>"$out/run.err" || rc=$?
kept=$(sed -n 's/^bench\/run: kept //p' "$out/run.err") # removed on exit, failed or not
if [ "$rc" -ne 0 ]; then
    cat "$out/run.err" >&2
    fail "bench/run failed ($rc)"
fi
if [ -z "$kept" ] || [ ! -d "$kept/data/postgres" ]; then
    fail "bench/run kept no data directory"
fi
grep -q '"http_thread_per_connection": true' "$kept/bbs.json" ||
    fail "bench/run --per-connection did not set http_thread_per_connection"
check "$out/run.jsonl" 'len(lines) == 1 and lines[0]["workload"] == "claimstart" and
    lines[0]["k"] == 2 and lines[0]["ops"] == 40 and lines[0]["errors"] == 0 and
    lines[0]["wire_errors"] == 0'

"$root/bench/pgfloor" --help | grep -q "bench/pgfloor DIR" || fail "pgfloor --help"
"$root/bench/pgfloor" "$kept" --seconds 1 --rows 500 1 2 >"$out/floor.jsonl" ||
    fail "bench/pgfloor (pair.sql) failed"
# The event sizes come from the events the server logged in the run above.
check "$out/floor.jsonl" '[l["clients"] for l in lines] == [1, 2] and
    all(l["pairs"] > 0 and l["p50_ms"] > 0 and l["p99_ms"] >= l["p50_ms"] and
        l["cpu_us_per_pair"] > 0 for l in lines) and
    all(int(x) > 0 for l in lines for x in l["event_bytes"].split("+"))'
"$root/bench/pgfloor" "$kept" --seconds 1 --rows 500 --script "$root/bench/pg/pair-cas.sql" 1 \
    >"$out/cas.jsonl" || fail "bench/pgfloor (pair-cas.sql) failed"
check "$out/cas.jsonl" 'len(lines) == 1 and lines[0]["clients"] == 1 and lines[0]["pairs"] > 0'
echo "bench_scripts: bench/run and bench/pgfloor (both scripts) ran"
