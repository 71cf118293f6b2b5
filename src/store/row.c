/*
 * row.c - rows read from a binary COPY, and the readers of a row
 * (row.h). No libpq here: the parser is fuzzed on its own.
 */
#include <string.h>

#include "row.h"

/* "PGCOPY\n\377\r\n\0": the binary COPY signature. */
static const char SIGNATURE[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};

static uint32_t be32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;

    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | (uint32_t)u[3];
}

static uint64_t be64(const char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* The file header: signature, flags (bit 16: OIDs included, never asked
 * for), then an extension area to skip. */
static int header(const char **p, const char *end)
{
    uint32_t flags;
    uint32_t ext;

    if (end - *p < 19 || memcmp(*p, SIGNATURE, sizeof(SIGNATURE)) != 0) {
        return -1;
    }
    flags = be32(*p + 11);
    ext = be32(*p + 15);
    *p += 19;
    if ((flags & 0xffff0000u) != 0 || ext > (uint32_t)(end - *p)) {
        return -1; /* OIDs, or a critical flag this reader does not know */
    }
    *p += ext;
    return 0;
}

int bbs_row_parse_copy(char *buf, size_t len, int *started, struct bbs_row *row)
{
    const char *p = buf;
    const char *end = buf + len;
    int n;

    if (!*started) {
        if (header(&p, end) != 0) {
            return -1;
        }
        *started = 1;
    }
    if (end - p < 2) {
        return -1;
    }
    n = (int)((unsigned char)p[0] << 8 | (unsigned char)p[1]);
    p += 2;
    if (n == 0xffff) {
        return p == end ? 0 : -1; /* the trailer ends the data */
    }
    if (n > BBS_ROW_MAX_COLS) {
        return -1;
    }
    row->n = n;
    for (int i = 0; i < n; i++) {
        uint32_t l;

        if (end - p < 4) {
            return -1;
        }
        l = be32(p);
        p += 4;
        if (l == 0xffffffffu) {
            row->v[i] = NULL;
            row->len[i] = 0;
            continue;
        }
        if (l > (uint32_t)(end - p)) {
            return -1;
        }
        row->v[i] = p;
        row->len[i] = (int)l;
        p += l;
    }
    if (p != end) {
        return -1;
    }
    /* Every length is read: end each value with a NUL, over the next
     * value's length or on the byte past the message. */
    for (int i = 0; i < n; i++) {
        if (row->v[i] != NULL) {
            buf[row->v[i] - buf + row->len[i]] = '\0';
        }
    }
    return 1;
}

/* Column `col` when it is there, not NULL and (for want > 0) `want` bytes. */
static const char *value(const struct bbs_row *r, int col, int want)
{
    if (col < 0 || col >= r->n || r->v[col] == NULL || (want > 0 && r->len[col] != want)) {
        return NULL;
    }
    return r->v[col];
}

int32_t bbs_row_int4(const struct bbs_row *r, int col)
{
    const char *v = value(r, col, 4);

    return v == NULL ? 0 : (int32_t)be32(v);
}

int64_t bbs_row_int8(const struct bbs_row *r, int col)
{
    const char *v = value(r, col, 8);

    return v == NULL ? 0 : (int64_t)be64(v);
}

int bbs_row_bool(const struct bbs_row *r, int col)
{
    const char *v = value(r, col, 1);

    return v != NULL && v[0] != 0;
}

const char *bbs_row_text(const struct bbs_row *r, int col)
{
    const char *v = value(r, col, 0);

    return v == NULL ? "" : v;
}

struct bbs_blob bbs_row_blob(const struct bbs_row *r, int col)
{
    struct bbs_blob b = {NULL, 0, 0};
    const char *v = value(r, col, 0);

    if (v != NULL) {
        b.data = (const uint8_t *)v;
        b.len = (size_t)r->len[col];
        b.present = 1;
    }
    return b;
}
