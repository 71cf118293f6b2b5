/*
 * fuzz_events.c - what a client sends to an event stream route, and the
 * SSE records the hub writes, on arbitrary bytes.
 *
 * Input: byte 0 is the length L (mod 32) of a Last-Event-ID header value
 * taken from the next L bytes; the rest is the request body, decoded as
 * EventsByCellId with the server's decoder, and also used as an event
 * payload and as the cell ids of an event.
 *
 * Properties beyond "no crash, leak, UB or hang": an accepted
 * Last-Event-ID is all digits and prints back as itself (no leading
 * zeros aside); a record is exactly "id: N\nevent: NAME\ndata: B64\n\n"
 * with one data line whose base64 decodes back to the payload; the cell
 * filter passes an event iff the filter is empty, the event has no cell,
 * or one of its cells equals the filter.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/arena.h"
#include "bbs/buf.h"
#include "bbs/codec.h"
#include "bbs/hub.h"
#include "events.pb-c.h"
#include "fuzz.h"

static int b64val(uint8_t c)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c != 0 ? memchr(t, c, 64) : NULL;

    return p != NULL ? (int)(p - t) : -1;
}

/* Strict decode of `n` base64 bytes, compared with `want`. */
static void check_b64(const uint8_t *in, size_t n, const uint8_t *want, size_t want_len)
{
    size_t k = 0;

    if (n % 4 != 0 || n / 4 * 3 < want_len || n / 4 * 3 > want_len + 2) {
        abort();
    }
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;

        for (int j = 0; j < 4; j++) {
            if (in[i + j] == '=' && i + 4 == n && j >= 2) {
                v[j] = 0;
                pad++;
            } else if (pad > 0 || (v[j] = b64val(in[i + j])) < 0) {
                abort();
            }
        }
        uint8_t out[3] = {(uint8_t)(v[0] << 2 | v[1] >> 4), (uint8_t)(v[1] << 4 | v[2] >> 2),
                          (uint8_t)(v[2] << 6 | v[3])};
        for (int j = 0; j < 3 - pad; j++) {
            if (k >= want_len || out[j] != want[k++]) {
                abort();
            }
        }
    }
    if (k != want_len) {
        abort();
    }
}

static void check_record(int64_t id, const uint8_t *p, size_t n)
{
    struct bbs_buf b = {0};
    char head[64];
    int hl = snprintf(head, sizeof(head), "id: %" PRId64 "\nevent: ev\ndata: ", id);

    bbs_sse_record(&b, id, "ev", p, n);
    if (b.len < (size_t)hl + 2 || memcmp(b.data, head, (size_t)hl) != 0 ||
        memcmp(b.data + b.len - 2, "\n\n", 2) != 0 ||
        memchr(b.data + hl, '\n', b.len - (size_t)hl - 2) != NULL) {
        abort();
    }
    check_b64(b.data + hl, b.len - (size_t)hl - 2, p, n);
    bbs_buf_free(&b);
}

static void check_last_id(const uint8_t *p, size_t n)
{
    char s[33];
    char back[32];
    int64_t id = -1;

    /* A header value is a C string: it ends at the first NUL. */
    n = strnlen((const char *)p, n);
    memcpy(s, p, n);
    s[n] = '\0';
    if (!bbs_sse_parse_last_id(s, &id)) {
        return;
    }
    if (id < 0 || strlen(s) != n) {
        abort();
    }
    snprintf(back, sizeof(back), "%" PRId64, id);
    /* equal once leading zeros are skipped */
    const char *t = s;
    while (t[0] == '0' && t[1] != '\0') {
        t++;
    }
    if (strcmp(t, back) != 0) {
        abort();
    }
    check_record(id, p, n);
}

static void check_filter(const char *filter, const char *a, const char *b)
{
    const char *cells[2] = {a, b};
    int want = filter[0] == '\0' || (a == NULL && b == NULL) || (a != NULL && !strcmp(a, filter)) ||
               (b != NULL && !strcmp(b, filter));

    if (bbs_sse_cell_passes(filter, cells) != want) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bbs_arena *arena;
    struct bbs_error err = {0};
    const Models__EventsByCellId *m;
    size_t l;
    char *half;

    if (size == 0) {
        return 0;
    }
    l = data[0] % 32;
    if (l > size - 1) {
        l = size - 1;
    }
    check_last_id(data + 1, l);
    data += 1 + l;
    size -= 1 + l;
    check_record((int64_t)size, data, size);

    arena = bbs_arena_new();
    m = (const Models__EventsByCellId *)bbs_codec_decode(
        arena, &models__events_by_cell_id__descriptor, data, size, &err);
    half = bbs_arena_strndup(arena, (const char *)data, size / 2);
    if (m != NULL) {
        const char *filter = m->cell_id != NULL ? m->cell_id : "";

        check_filter(filter, NULL, NULL);
        check_filter(filter, half, NULL);
        check_filter(filter, half, filter);
        check_filter(filter, NULL, half);
    }
    bbs_arena_free(arena);
    return 0;
}
