#!/usr/bin/env bash
# run.sh - build the libFuzzer drivers with clang and run each of them.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 60); TARGET names a driver (fuzz_decode,
# fuzz_routejson, fuzz_rows, fuzz_presence; default: every tests/fuzz/fuzz_*.c). CI runs
# `tests/fuzz/run.sh 20` from tests/run.sh; the 10-minute run before a
# release is `tests/fuzz/run.sh 600`.
#
# Build tree: $BBS_FUZZ_BUILD (default build-test/fuzz), configured with
# CC=clang, -DBBS_FUZZ=ON and ASan + UBSan (-fno-sanitize-recover) on every
# library, so a crash, leak, UB, out-of-memory (> 2 GiB) or an input taking
# more than 10 s stops the run with a non-zero status.
#
# Corpora, per target T:
#   tests/fuzz/corpus/T       committed seeds (fuzz_gen_corpus writes them)
#   tests/fuzz/regressions/T  every past finding, minimised; replayed by the
#                             unit test unit.replay_T in every CI run
#   $BBS_FUZZ_BUILD/work/T    what this machine found interesting so far
#                             (kept between runs, so longer runs build on it)
#   $BBS_FUZZ_BUILD/findings/T-*  crash / leak / timeout inputs of this run
#
# A finding: reproduce with `$BBS_FUZZ_BUILD/tests/T FILE`, fix the code,
# then copy the (minimised: `T -minimize_crash=1 FILE`) input into
# tests/fuzz/regressions/T/ under a name that says what it was.
#
# Last line: "N passed, M failed" over the targets.
if [ -z "${BASH_VERSION:-}" ]; then
    exec bash "$0" "$@"
fi
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
root=$PWD

seconds=${1:-60}
shift || true
case $seconds in
'' | *[!0-9]*)
    echo "usage: tests/fuzz/run.sh [SECONDS] [TARGET...]" >&2
    exit 2
    ;;
esac

build=${BBS_FUZZ_BUILD:-build-test/fuzz}
mkdir -p "$build"
build=$(cd "$build" && pwd)

if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for f in tests/fuzz/fuzz_*.c; do
        targets+=("$(basename "$f" .c)")
    done
fi

if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz/run.sh: clang not found (sh tests/deps.sh installs clang and libclang-rt-14-dev)" >&2
    echo "0 passed, ${#targets[@]} failed"
    exit 1
fi

flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
flags="$flags -fno-omit-frame-pointer -g"
if ! cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="$flags" -DBBS_FUZZ=ON -DBBS_SANITIZE=OFF >"$build/configure.log" 2>&1; then
    cat "$build/configure.log" >&2
    echo "0 passed, ${#targets[@]} failed"
    exit 1
fi
if ! cmake --build "$build" -j"${BBS_FUZZ_JOBS:-2}" --target fuzz_gen_corpus "${targets[@]}" \
    >"$build/build.log" 2>&1; then
    tail -n 60 "$build/build.log" >&2
    echo "0 passed, ${#targets[@]} failed"
    exit 1
fi

# Seeds are generated fresh (they follow the current message shapes) and
# the committed ones are read too.
rm -rf "$build/seeds"
if ! "$build/tests/fuzz_gen_corpus" "$build/seeds"; then
    echo "fuzz/run.sh: fuzz_gen_corpus failed" >&2
    echo "0 passed, ${#targets[@]} failed"
    exit 1
fi

passed=0
failed=0
for t in "${targets[@]}"; do
    work=$build/work/$t
    findings=$build/findings
    mkdir -p "$work" "$findings"
    # libFuzzer refuses a corpus directory that does not exist.
    dirs=("$work")
    for d in "$build/seeds/$t" "$root/tests/fuzz/corpus/$t" "$root/tests/fuzz/regressions/$t"; do
        if [ -d "$d" ]; then
            dirs+=("$d")
        fi
    done
    echo "== $t: ${seconds}s"
    log=$build/$t.log
    # UBSan reports abort (no recover); ASan leak checks run at every input's end.
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
        "$build/tests/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=16384 -print_final_stats=1 -artifact_prefix="$findings/$t-" \
        "${dirs[@]}" >"$log" 2>&1
    rc=$?
    grep -E '^(stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb)|cov: ' \
        "$log" | tail -n 4
    if [ "$rc" -ne 0 ]; then
        echo "fuzz/run.sh: $t FAILED (exit $rc); last lines of $log:" >&2
        tail -n 40 "$log" >&2
        ls -1 "$findings/$t-"* 2>/dev/null >&2
        failed=$((failed + 1))
    else
        passed=$((passed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
