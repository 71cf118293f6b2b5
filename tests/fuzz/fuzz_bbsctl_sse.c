/*
 * fuzz_bbsctl_sse.c - bbsctl's event stream reader (tools/client.c:
 * bbsctl_sse_feed, bbsctl_base64_decode) on arbitrary bytes.
 *
 * Properties beyond "no crash, overflow or hang": the events and the
 * verdict do not depend on how the bytes are split into reads (the whole
 * input at once, one byte at a time, and halves give the same events in
 * the same order); every event has a non-empty name; a decoded payload is
 * never longer than 3/4 of the base64 text it came from.
 */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "fuzz.h"

struct trace {
    uint8_t *buf;
    size_t len, cap;
    size_t events;
};

static void put(struct trace *t, const void *p, size_t n)
{
    if (t->len + n > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        while (cap < t->len + n) {
            cap *= 2;
        }
        t->buf = realloc(t->buf, cap);
        if (t->buf == NULL) {
            abort();
        }
        t->cap = cap;
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
}

static void on_event(void *ud, int stream, const char *name, const uint8_t *data, size_t len)
{
    struct trace *t = ud;
    size_t nl = strlen(name);

    (void)stream;
    if (nl == 0) {
        abort();
    }
    t->events++;
    put(t, &nl, sizeof(nl));
    put(t, name, nl);
    put(t, &len, sizeof(len));
    put(t, data, len);
}

/* Feed `data` in pieces of `step` bytes (0: all at once); returns the verdict. */
static int feed(const uint8_t *data, size_t size, size_t step, struct trace *t)
{
    struct bbsctl_sse p;
    char why[256];
    int rc = 0;

    memset(&p, 0, sizeof(p));
    if (step == 0) {
        step = size ? size : 1;
    }
    for (size_t off = 0; off < size && rc == 0; off += step) {
        size_t n = size - off < step ? size - off : step;
        rc = bbsctl_sse_feed(&p, (const char *)data + off, n, on_event, t, why, sizeof(why));
    }
    bbsctl_sse_clear(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trace a = {0}, b = {0}, c = {0};
    int ra = feed(data, size, 0, &a);
    int rb = feed(data, size, 1, &b);
    int rc = feed(data, size, size / 2 + 1, &c);

    if (ra != rb || ra != rc || a.len != b.len || a.len != c.len || a.events != b.events ||
        (a.len > 0 && (memcmp(a.buf, b.buf, a.len) != 0 || memcmp(a.buf, c.buf, a.len) != 0))) {
        abort();
    }
    free(a.buf);
    free(b.buf);
    free(c.buf);

    /* base64 on its own: the output bound. */
    uint8_t *out = malloc(size / 4 * 3 + 3);
    if (out == NULL) {
        abort();
    }
    long n = bbsctl_base64_decode((const char *)data, size, out);
    if (n > (long)(size / 4 * 3)) {
        abort();
    }
    free(out);
    return 0;
}
