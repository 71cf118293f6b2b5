/*
 * fuzz.h - the libFuzzer entry point every tests/fuzz/fuzz_*.c defines.
 *
 * Each driver is built twice: with clang -fsanitize=fuzzer (tests/fuzz/run.sh,
 * -DBBS_FUZZ=ON) and, in every build, with replay.c as its main() so the
 * committed seeds and past findings (tests/fuzz/corpus/<target>/,
 * tests/fuzz/regressions/<target>/) run as unit tests under ASan + UBSan.
 *
 * A driver must not keep state between inputs (except read-only tables
 * built once), must not print, and reports a broken property with abort().
 */
#ifndef BBS_FUZZ_H
#define BBS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Run one input; always returns 0 (libFuzzer's contract). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* BBS_FUZZ_H */
