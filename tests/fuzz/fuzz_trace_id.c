/*
 * fuzz_trace_id.c - the X-Vcap-Request-Id to trace id parser (trace.h) on
 * arbitrary bytes: every request's header goes through it.
 *
 * Properties beyond "no crash or overflow": an accepted value gives 16 or
 * 32 lower-case hex digits (32 only with a non-zero high half), and parsing
 * that output again gives the same trace id; a refused value leaves "".
 */
#include <stdlib.h>
#include <string.h>

#include "bbs/trace.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[BBS_TRACE_ID_MAX];
    char again[BBS_TRACE_ID_MAX];
    size_t n;

    if (bbs_trace_id((const char *)data, size, out) != 0) {
        if (out[0] != '\0') {
            abort();
        }
        return 0;
    }
    n = strlen(out);
    if (n != 16 && n != 32) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        if (!((out[i] >= '0' && out[i] <= '9') || (out[i] >= 'a' && out[i] <= 'f'))) {
            abort();
        }
    }
    if (n == 32 && strspn(out, "0") >= 16) {
        abort(); /* a zero high half prints as 16 digits */
    }
    if (bbs_trace_id(out, n, again) != 0 || strcmp(out, again) != 0) {
        abort();
    }
    return 0;
}
