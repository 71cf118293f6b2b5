/*
 * sse.c - SSE records and the cell filter (hub.h), pure: no I/O.
 *
 * Framing of reference 2.10.3 item 4, except that `id` is the change-log
 * id rather than a per-connection counter (clients that ignore ids are
 * unaffected; resuming clients send it back as Last-Event-ID).
 */
#include <inttypes.h>
#include <string.h>

#include "bbs/hub.h"

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void bbs_base64(struct bbs_buf *b, const uint8_t *p, size_t n)
{
    uint8_t *at;
    size_t i = 0;

    bbs_buf_reserve(b, (n + 2) / 3 * 4);
    at = b->data + b->len;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

        *at++ = (uint8_t)B64[v >> 18];
        *at++ = (uint8_t)B64[(v >> 12) & 63];
        *at++ = (uint8_t)B64[(v >> 6) & 63];
        *at++ = (uint8_t)B64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;

        *at++ = (uint8_t)B64[v >> 18];
        *at++ = (uint8_t)B64[(v >> 12) & 63];
        *at++ = '=';
        *at++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

        *at++ = (uint8_t)B64[v >> 18];
        *at++ = (uint8_t)B64[(v >> 12) & 63];
        *at++ = (uint8_t)B64[(v >> 6) & 63];
        *at++ = '=';
    }
    b->len = (size_t)(at - b->data);
}

void bbs_sse_record(struct bbs_buf *b, int64_t id, const char *name, const uint8_t *p, size_t n)
{
    bbs_buf_printf(b, "id: %" PRId64 "\nevent: %s\ndata: ", id, name);
    bbs_base64(b, p, n);
    bbs_buf_append(b, "\n\n", 2);
}

int bbs_sse_cell_passes(const char *cell_id, const char *const cell_ids[2])
{
    if (cell_id == NULL || cell_id[0] == '\0') {
        return 1;
    }
    if (cell_ids[0] == NULL && cell_ids[1] == NULL) {
        return 1; /* desired LRP and task events pass every filter */
    }
    for (int i = 0; i < 2; i++) {
        if (cell_ids[i] != NULL && strcmp(cell_ids[i], cell_id) == 0) {
            return 1;
        }
    }
    return 0;
}

int bbs_sse_parse_last_id(const char *s, int64_t *out)
{
    int64_t v = 0;

    if (s == NULL || s[0] == '\0') {
        return 0;
    }
    /* Digits only (no sign, space or suffix), without overflow. */
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || v > (INT64_MAX - (*p - '0')) / 10) {
            return 0;
        }
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 1;
}
