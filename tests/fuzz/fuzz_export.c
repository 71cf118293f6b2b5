/*
 * fuzz_export.c - the export-format reader of `bbsctl import`
 * (tools/xfer_format.c, xfer_read) on arbitrary bytes, and upstream's
 * JSON plaintexts (xfer_plain_of) the same bytes could be.
 *
 * Properties beyond "no crash, overflow or hang": every row the reader
 * hands out survives a trip through its JSON (xfer_row_to_json then
 * xfer_row_from_json gives the same values), and the counts it reports
 * are the rows it handed out.
 */
#define _GNU_SOURCE /* fmemopen */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "xfer.h"

struct seen {
    uint64_t rows[XFER_NTABLES];
    struct xfer_row again;
};

static int check_row(void *ctx, const struct xfer_row *r, struct bbs_error *err)
{
    struct seen *s = ctx;
    const struct xfer_table *t = &xfer_tables[r->table];
    json_t *j = xfer_row_to_json(r);

    if (j == NULL || xfer_row_from_json(&s->again, r->table, j, err) != 0) {
        abort();
    }
    for (size_t i = 0; i < t->ncols; i++) {
        const struct xfer_val *a = &r->v[i], *b = &s->again.v[i];

        if (a->null != b->null ||
            (!a->null && (a->b.len != b->b.len ||
                          (a->b.len > 0 && memcmp(a->b.data, b->b.data, a->b.len) != 0)))) {
            abort();
        }
    }
    json_decref(j);
    s->rows[r->table]++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seen s = {0};
    struct bbs_error err = {0};
    struct bbs_buf out = {0};
    uint64_t counts[XFER_NTABLES];
    FILE *in;

    if (size > 0) {
        in = fmemopen((void *)data, size, "r");
        if (in == NULL) {
            abort();
        }
        if (xfer_read(in, check_row, &s, counts, &err) == 0 &&
            memcmp(counts, s.rows, sizeof(counts)) != 0) {
            abort();
        }
        fclose(in);
    }
    if (xfer_plain_of(XFER_B_ALRP_ROUTES, data, size, &out, &err) == 0 && size >= 2 &&
        data[0] == 0x02 && data[1] == 0x00 && out.len != size - 2) {
        abort(); /* the serialized form is the bytes after the prefix */
    }
    out.len = 0;
    if (xfer_plain_of(XFER_B_ALRP_TAGS, data, size, &out, &err) != 0) {
        out.len = 0;
    }
    bbs_buf_free(&out);
    xfer_row_free(&s.again);
    return 0;
}
