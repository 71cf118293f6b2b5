/*
 * pbw.c - protobuf wire writer (see pbw.h).
 */
#include "bbs/pbw.h"

#include <string.h>

static size_t varint_len(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

void bbs_pbw_varint(struct bbs_buf *b, uint64_t v)
{
    bbs_buf_reserve(b, 10);
    while (v >= 0x80) {
        b->data[b->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b->data[b->len++] = (uint8_t)v;
}

void bbs_pbw_tag(struct bbs_buf *b, uint32_t field, enum bbs_pb_wire wt)
{
    bbs_pbw_varint(b, ((uint64_t)field << 3) | (uint64_t)wt);
}

void bbs_pbw_int64_always(struct bbs_buf *b, uint32_t field, int64_t v)
{
    bbs_pbw_tag(b, field, BBS_PB_VARINT);
    bbs_pbw_varint(b, (uint64_t)v);
}

void bbs_pbw_int64(struct bbs_buf *b, uint32_t field, int64_t v)
{
    if (v != 0) {
        bbs_pbw_int64_always(b, field, v);
    }
}

void bbs_pbw_uint64(struct bbs_buf *b, uint32_t field, uint64_t v)
{
    if (v != 0) {
        bbs_pbw_tag(b, field, BBS_PB_VARINT);
        bbs_pbw_varint(b, v);
    }
}

void bbs_pbw_bytes_always(struct bbs_buf *b, uint32_t field, const void *p, size_t n)
{
    bbs_pbw_tag(b, field, BBS_PB_LEN);
    bbs_pbw_varint(b, n);
    bbs_buf_append(b, p, n);
}

void bbs_pbw_bytes(struct bbs_buf *b, uint32_t field, const void *p, size_t n)
{
    if (n > 0) {
        bbs_pbw_bytes_always(b, field, p, n);
    }
}

void bbs_pbw_string(struct bbs_buf *b, uint32_t field, const char *s)
{
    if (s != NULL && s[0] != '\0') {
        bbs_pbw_bytes_always(b, field, s, strlen(s));
    }
}

void bbs_pbw_raw(struct bbs_buf *b, const void *p, size_t n)
{
    bbs_buf_append(b, p, n);
}

/* The body is written after a one-byte length guess; close() widens the
 * length in place when the body turned out to be 128 bytes or more. */
size_t bbs_pbw_open(struct bbs_buf *b, uint32_t field)
{
    bbs_pbw_tag(b, field, BBS_PB_LEN);
    bbs_buf_putc(b, 0);
    return b->len;
}

void bbs_pbw_close(struct bbs_buf *b, size_t mark)
{
    size_t body = b->len - mark;
    size_t vl = varint_len(body);
    uint64_t v = body;
    size_t at = mark - 1;

    if (vl > 1) {
        bbs_buf_reserve(b, vl - 1);
        memmove(b->data + mark + vl - 1, b->data + mark, body);
        b->len += vl - 1;
    }
    while (v >= 0x80) {
        b->data[at++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b->data[at] = (uint8_t)v;
}

static int read_varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;

    for (int shift = 0; shift < 64 && *pos < n; shift += 7) {
        uint8_t c = p[(*pos)++];

        v |= (uint64_t)(c & 0x7F) << shift;
        if ((c & 0x80) == 0) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

int bbs_pbr_next_len(const uint8_t *p, size_t n, size_t *pos, uint32_t *field, const uint8_t **data,
                     size_t *len)
{
    while (*pos < n) {
        uint64_t key;
        uint64_t v;

        if (read_varint(p, n, pos, &key) != 0 || (key >> 3) == 0 || (key >> 3) > UINT32_MAX) {
            return -1;
        }
        switch (key & 7) {
        case BBS_PB_VARINT:
            if (read_varint(p, n, pos, &v) != 0) {
                return -1;
            }
            continue;
        case BBS_PB_I64:
            if (n - *pos < 8) {
                return -1;
            }
            *pos += 8;
            continue;
        case BBS_PB_I32:
            if (n - *pos < 4) {
                return -1;
            }
            *pos += 4;
            continue;
        case BBS_PB_LEN:
            if (read_varint(p, n, pos, &v) != 0 || v > n - *pos) {
                return -1;
            }
            *field = (uint32_t)(key >> 3);
            *data = p + *pos;
            *len = (size_t)v;
            *pos += (size_t)v;
            return 1;
        default:
            return -1;
        }
    }
    return 0;
}

int bbs_pbw_retag(struct bbs_buf *b, uint32_t field, const uint8_t *p, size_t n)
{
    size_t pos = 0;
    uint32_t f;
    const uint8_t *d;
    size_t len;
    int rc;

    while ((rc = bbs_pbr_next_len(p, n, &pos, &f, &d, &len)) == 1) {
        bbs_pbw_bytes_always(b, field, d, len);
    }
    return rc;
}
