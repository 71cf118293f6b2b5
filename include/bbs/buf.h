/*
 * buf.h - a growable byte buffer (heap, owned by its holder).
 */
#ifndef BBS_BUF_H
#define BBS_BUF_H

#include <stddef.h>
#include <stdint.h>

struct bbs_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

/* Make room for `extra` more bytes. Aborts on out of memory. */
void bbs_buf_reserve(struct bbs_buf *b, size_t extra);
void bbs_buf_append(struct bbs_buf *b, const void *p, size_t n);
void bbs_buf_putc(struct bbs_buf *b, uint8_t c);
void bbs_buf_printf(struct bbs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Release the storage; the buffer is empty and reusable after. */
void bbs_buf_free(struct bbs_buf *b);
/* Hand the storage to the caller (who frees it with free()); the buffer is empty after. */
uint8_t *bbs_buf_take(struct bbs_buf *b, size_t *len);

#endif /* BBS_BUF_H */
