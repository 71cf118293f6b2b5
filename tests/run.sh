#!/usr/bin/env bash
# run.sh - the whole test suite, as CI runs it (.ci/run).
#
#   1. tests/deps.sh (installs packages when root, else checks them)
#   2. clang-format --dry-run -Werror over src/ include/ tests/
#   3. build-test/asan:     -DBBS_SANITIZE=ON,  ctest -L unit
#   4. build-test/fuzz:     clang + libFuzzer,  tests/fuzz/run.sh for
#      $BBS_CI_FUZZ_SECONDS (default 20) per target (the committed corpus
#      and past findings also replay as unit tests in step 3)
#   5. build-test/valgrind: no sanitizers,      ctest -L integration with
#      BBS_VALGRIND=1 (the harness runs the server under valgrind; ASan and
#      valgrind do not mix, hence separate trees)
#
# Every step runs even if an earlier one failed, so one run shows all the
# problems. Exits non-zero on any failure; the last line is
# "N passed, M failed" summed over both ctest runs. Works from any cwd, as
# `sh tests/run.sh` or `./tests/run.sh`.

# Under `sh tests/run.sh` this is dash: switch to bash before any bashism.
if [ -z "${BASH_VERSION:-}" ]; then
    exec bash "$0" "$@"
fi
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1

JOBS=2
passed=0
failed=0
failed_steps=()

fail_step() {
    failed_steps+=("$1")
    echo "run.sh: FAILED: $1" >&2
}

# run_ctest DIR LABEL [ctest args...]: run, show, and add the summary line
# ("80% tests passed, 1 tests failed out of 5") to the totals.
run_ctest() {
    local dir=$1 label=$2 log rc summary
    shift 2
    log=$dir/ctest-$label.log
    (cd "$dir" && ctest -L "$label" --output-on-failure --no-tests=error "$@") 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    summary=$(grep -Eo '[0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
    if [ -n "$summary" ]; then
        local f t
        f=$(echo "$summary" | awk '{print $1}')
        t=$(echo "$summary" | awk '{print $NF}')
        passed=$((passed + t - f))
        failed=$((failed + f))
    fi
    if [ "$rc" -ne 0 ] || [ -z "$summary" ]; then
        fail_step "ctest -L $label in $dir"
    fi
}

# build DIR [cmake args...]: configure (output kept in DIR/configure.log) and build.
build() {
    local dir=$1
    shift
    mkdir -p "$dir"
    if ! cmake -S . -B "$dir" "$@" >"$dir/configure.log" 2>&1; then
        cat "$dir/configure.log" >&2
        fail_step "configure $dir"
        return 1
    fi
    if ! cmake --build "$dir" -j"$JOBS"; then
        fail_step "build $dir"
        return 1
    fi
}

echo "== dependencies"
if ! sh tests/deps.sh; then
    fail_step "tests/deps.sh"
    echo "run.sh: cannot go on without the dependencies" >&2
    echo "0 passed, 0 failed"
    exit 1
fi

echo "== clang-format"
mapfile -d '' sources < <(find src include tests -type f \( -name '*.c' -o -name '*.h' \) -print0 |
    sort -z)
if [ "${#sources[@]}" -gt 0 ] && ! clang-format --dry-run -Werror "${sources[@]}"; then
    fail_step "clang-format (fix with: clang-format -i <files above>)"
fi

echo "== unit tests (ASan + UBSan)"
if build build-test/asan -DBBS_SANITIZE=ON; then
    run_ctest build-test/asan unit -j"$JOBS"
fi

echo "== fuzzing (libFuzzer, ${BBS_CI_FUZZ_SECONDS:-20} s per target)"
mkdir -p build-test
BBS_FUZZ_BUILD=build-test/fuzz tests/fuzz/run.sh "${BBS_CI_FUZZ_SECONDS:-20}" 2>&1 |
    tee build-test/fuzz.log
fuzz_rc=${PIPESTATUS[0]}
fuzz_summary=$(tail -n 1 build-test/fuzz.log)
if [[ $fuzz_summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    passed=$((passed + BASH_REMATCH[1]))
    failed=$((failed + BASH_REMATCH[2]))
fi
if [ "$fuzz_rc" -ne 0 ]; then
    fail_step "tests/fuzz/run.sh (findings in build-test/fuzz/findings/)"
fi

echo "== integration tests (server under valgrind)"
if build build-test/valgrind -DBBS_SANITIZE=OFF; then
    # Serial: the tests share one PostgreSQL fixture and start servers.
    BBS_VALGRIND=1 run_ctest build-test/valgrind integration
fi

status=0
if [ "${#failed_steps[@]}" -gt 0 ]; then
    echo "run.sh: failed steps:" >&2
    printf '  %s\n' "${failed_steps[@]}" >&2
    status=1
fi
echo "$passed passed, $failed failed"
exit "$status"
