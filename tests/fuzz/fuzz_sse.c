/*
 * fuzz_sse.c - the load generator's event-stream parser (bench/sse.c) and
 * payload reader (bench/evwire.c) on arbitrary bytes.
 *
 * Input: one control byte, then the stream. Bit 0 of the control byte puts
 * a valid 200 event-stream head in front (so the fuzzer spends its time on
 * chunks and records); the rest picks a split point.
 *
 * Properties beyond "no crash, overflow, leak or hang": the outcome and the
 * records (a digest of ids, names and data) are the same whether the
 * stream arrives whole, in two pieces or one byte at a time; every record
 * has an id, a name of [a-z0-9_] and decodes (or fails to) without harm.
 */
#include <stdlib.h>
#include <string.h>

#include "evwire.h"
#include "fuzz.h"
#include "sse.h"

static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n";

struct digest {
    uint64_t h;
    uint64_t n;
};

static void mix(struct digest *d, const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++) {
        d->h = (d->h ^ b[i]) * 1099511628211ull;
    }
}

static int on_record(void *ud, const struct bench_sse_record *r)
{
    struct digest *d = ud;
    struct bench_ev_info info;
    size_t len = strlen(r->event);

    if (len == 0 || len > BENCH_SSE_MAX_EVENT ||
        strspn(r->event, "abcdefghijklmnopqrstuvwxyz0123456789_") != len) {
        abort();
    }
    d->n++;
    mix(d, &r->id, sizeof(r->id));
    mix(d, r->event, len + 1);
    mix(d, r->data, r->data_len);
    (void)bench_ev_decode(r->event, r->data, r->data_len, &info);
    return 0;
}

/* Feed `in` in pieces of `step` bytes (0: whole), and more only while the parser accepts. */
static int run(const uint8_t *in, size_t n, size_t first, size_t step, struct digest *d)
{
    struct bench_sse p;
    int rc = BENCH_SSE_MORE;
    size_t off = 0;

    d->h = 14695981039346656037ull;
    d->n = 0;
    bench_sse_init(&p, on_record, d);
    while (off < n && rc != BENCH_SSE_ERROR) {
        size_t take = off == 0 && first > 0 ? first : step > 0 ? step : n - off;

        if (take > n - off) {
            take = n - off;
        }
        rc = bench_sse_feed(&p, in + off, take);
        off += take;
    }
    bench_sse_free(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *in;
    size_t n;
    size_t hl;
    struct digest whole;
    struct digest two;
    struct digest bytes;
    int rc;

    if (size < 1) {
        return 0;
    }
    hl = (data[0] & 1) ? strlen(head) : 0;
    n = hl + size - 1;
    in = malloc(n + 1);
    if (in == NULL) {
        abort();
    }
    memcpy(in, head, hl);
    memcpy(in + hl, data + 1, size - 1);

    rc = run(in, n, 0, 0, &whole);
    if (run(in, n, n > 0 ? (size_t)(data[0] >> 1) * n / 128 + 1 : 0, 0, &two) != rc ||
        two.h != whole.h || two.n != whole.n) {
        abort();
    }
    if (run(in, n, 0, 1, &bytes) != rc || bytes.h != whole.h || bytes.n != whole.n) {
        abort();
    }
    free(in);
    return 0;
}
