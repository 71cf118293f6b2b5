/*
 * fuzz_bench_sink.c - the request parser of the load generator's HTTP
 * receiver (bench/sinkparse.c) on arbitrary bytes.
 *
 * Properties beyond "no crash, overflow or hang": a complete request lies
 * inside the input (method, path and body within the bytes, the path
 * starting with '/', the body ending where `consumed` says); every shorter
 * prefix of it wants more; bytes after it change nothing; a request the
 * parser refuses stays refused with more bytes behind it.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sink.h"

static int inside(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct bench_sink_req r;
    struct bench_sink_req r2;
    int rc = bench_sink_parse(buf, size, &r);
    char *more;

    if (rc == BENCH_SINK_DONE) {
        if (r.consumed == 0 || r.consumed > size || !inside(r.method, r.method_len, buf, size) ||
            !inside(r.path, r.path_len, buf, size) || r.path_len == 0 || r.path[0] != '/' ||
            r.body + r.body_len != buf + r.consumed || !r.head_done) {
            abort();
        }
        /* The smallest prefix that parses is the request itself. */
        if (bench_sink_parse(buf, r.consumed - 1, &r2) != BENCH_SINK_MORE ||
            bench_sink_parse(buf, r.consumed, &r2) != BENCH_SINK_DONE ||
            r2.consumed != r.consumed) {
            abort();
        }
    }
    /* Appending bytes: DONE stays DONE with the same request, BAD stays BAD. */
    more = malloc(size + 4);
    if (more == NULL) {
        abort();
    }
    if (size > 0) {
        memcpy(more, data, size);
    }
    memcpy(more + size, "x\r\n\r", 4);
    if (rc == BENCH_SINK_DONE &&
        (bench_sink_parse(more, size + 4, &r2) != BENCH_SINK_DONE || r2.consumed != r.consumed)) {
        abort();
    }
    if (rc == BENCH_SINK_BAD && bench_sink_parse(more, size + 4, &r2) != BENCH_SINK_BAD) {
        abort();
    }
    free(more);
    return 0;
}
