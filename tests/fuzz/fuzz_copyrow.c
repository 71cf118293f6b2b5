/*
 * fuzz_copyrow.c - one message of a binary COPY (row.h), as the streamed
 * ActualLRP list reads it from the database, on arbitrary bytes.
 *
 * Input: byte 0's low bit says whether the file header was already read
 * (0: this is the first message, which begins with it); the rest is the
 * message, given to the parser as libpq gives it (one NUL byte past the
 * end). Properties beyond "no crash or overflow": a row's values lie
 * inside the message, each ends with a NUL, NULL values have no bytes,
 * the readers stay inside the row; a first message that parses sets
 * `started`.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "row.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bbs_row row;
    int started;
    char *buf;
    size_t len;
    int rc;

    if (size < 1) {
        return 0;
    }
    started = data[0] & 1;
    len = size - 1;
    buf = malloc(len + 1);
    if (buf == NULL) {
        abort();
    }
    memcpy(buf, data + 1, len);
    buf[len] = '\0';
    memset(&row, 0, sizeof(row));
    rc = bbs_row_parse_copy(buf, len, &started, &row);
    if (rc < -1 || rc > 1 || (rc >= 0 && !started)) {
        abort();
    }
    if (rc == 1) {
        if (row.n < 0 || row.n > BBS_ROW_MAX_COLS) {
            abort();
        }
        for (int i = 0; i < row.n; i++) {
            struct bbs_blob b = bbs_row_blob(&row, i);

            if (row.v[i] == NULL) {
                if (b.present || row.len[i] != 0 || bbs_row_text(&row, i)[0] != '\0') {
                    abort();
                }
                continue;
            }
            if (row.len[i] < 0 || row.v[i] < buf || row.v[i] + row.len[i] > buf + len ||
                row.v[i][row.len[i]] != '\0' || b.len != (size_t)row.len[i]) {
                abort();
            }
            (void)bbs_row_int4(&row, i);
            (void)bbs_row_int8(&row, i);
            (void)bbs_row_bool(&row, i);
        }
        if (bbs_row_text(&row, row.n)[0] != '\0' || bbs_row_int4(&row, -1) != 0) {
            abort();
        }
    }
    free(buf);
    return 0;
}
