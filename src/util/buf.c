/*
 * buf.c - growable byte buffer (see buf.h).
 */
#include "bbs/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/xalloc.h"

void bbs_buf_reserve(struct bbs_buf *b, size_t extra)
{
    size_t cap;

    if (b->cap - b->len >= extra) {
        return;
    }
    cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) {
        cap *= 2;
    }
    b->data = bbs_xrealloc(b->data, cap);
    b->cap = cap;
}

void bbs_buf_append(struct bbs_buf *b, const void *p, size_t n)
{
    if (n == 0) {
        return;
    }
    bbs_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void bbs_buf_putc(struct bbs_buf *b, uint8_t c)
{
    bbs_buf_reserve(b, 1);
    b->data[b->len++] = c;
}

void bbs_buf_printf(struct bbs_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0) {
        return;
    }
    bbs_buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void bbs_buf_free(struct bbs_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

uint8_t *bbs_buf_take(struct bbs_buf *b, size_t *len)
{
    uint8_t *p = b->data;

    *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
