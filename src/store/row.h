/*
 * row.h - one row of a read, whichever way it came: borrowed from a
 * PGresult (bbs_row_of) or parsed in place from one message of a binary
 * COPY (bbs_row_parse_copy, no PGresult per row). Values are in binary
 * format (the same bytes either way) and each is followed by a NUL, so a
 * text column reads as a C string.
 */
#ifndef BBS_STORE_ROW_H
#define BBS_STORE_ROW_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/alrp.h"

#define BBS_ROW_MAX_COLS 32

struct bbs_store;

struct bbs_row {
    int n;
    const char *v[BBS_ROW_MAX_COLS]; /* NULL: SQL NULL */
    int len[BBS_ROW_MAX_COLS];
    /* For sealed values (bbs_row_sealed): whose keys open them, and
     * memory that lives as long as the row's values. */
    struct bbs_store *st;
    void *(*alloc)(void *ctx, size_t n);
    void *alloc_ctx;
};

/*
 * Parse one message of `COPY ... TO STDOUT (FORMAT binary)` in place:
 * `buf` holds `len` bytes and one more (libpq's PQgetCopyData ends every
 * message with a NUL), which may be overwritten. `*started` is 0 before
 * the first message (which begins with the file header) and set once the
 * header is read. 1: a row in `row` (its values point into `buf`; st and
 * alloc are left for the caller); 0: the end-of-data marker; -1: not a
 * well-formed message (or more than BBS_ROW_MAX_COLS columns).
 */
int bbs_row_parse_copy(char *buf, size_t len, int *started, struct bbs_row *row);

/* Readers, as the PGresult ones (store_int.h): a NULL (or a value of the
 * wrong size, or a column past the row's end) reads as 0, "" or absent. */
int32_t bbs_row_int4(const struct bbs_row *r, int col);
int64_t bbs_row_int8(const struct bbs_row *r, int col);
int bbs_row_bool(const struct bbs_row *r, int col);
const char *bbs_row_text(const struct bbs_row *r, int col);
struct bbs_blob bbs_row_blob(const struct bbs_row *r, int col);

#endif /* BBS_STORE_ROW_H */
