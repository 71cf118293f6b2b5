/*
 * alrp_read.c - ActualLRP list and group reads (reference 3.11).
 *
 * The filter set varies per request, so the SQL is built per call (only
 * the filters given appear, letting the planner use the indexes) and run
 * with binary parameters and results. The rows are returned as a view
 * over the result (group.h), which the request's arena owns: the codec
 * encodes each row straight from it, with no per-row copies.
 */
#include <string.h>

#include "bbs/buf.h"
#include "store_int.h"

struct read_ctx {
    struct bbs_arena *arena;
    const struct bbs_alrp_filter *f;
    int order; /* 1: ORDER BY guid, index (groups fold adjacent rows) */
    PGresult *res;
};

/* The SELECT for `f` into `sql` (NUL-terminated), its parameters into `p`. */
static void build_sql(struct bbs_arena *arena, const struct bbs_alrp_filter *f, int order,
                      struct bbs_buf *sql, struct bbs_params *p)
{
    const char *glue = " WHERE ";

    bbs_buf_printf(sql, "SELECT " BBS_ALRP_COLUMNS " FROM actual_lrps");
    if (f->domain != NULL && f->domain[0] != '\0') {
        bbs_buf_printf(sql, "%sdomain = $%d::text", glue, bbs_params_text(p, f->domain));
        glue = " AND ";
    }
    if (f->cell_id != NULL && f->cell_id[0] != '\0') {
        bbs_buf_printf(sql, "%scell_id = $%d::text", glue, bbs_params_text(p, f->cell_id));
        glue = " AND ";
    }
    if (f->process_guid != NULL && f->process_guid[0] != '\0') {
        bbs_buf_printf(sql, "%sprocess_guid = $%d::text", glue,
                       bbs_params_text(p, f->process_guid));
        glue = " AND ";
    }
    if (f->has_index) {
        bbs_buf_printf(sql, "%sinstance_index = $%d::int4", glue, bbs_params_int4(p, f->index));
        glue = " AND ";
    }
    if (f->process_guids != NULL) {
        bbs_buf_printf(sql, "%sprocess_guid = ANY($%d::text[])", glue,
                       bbs_params_text_array(p, arena, f->process_guids, f->n_process_guids));
    }
    if (order) {
        bbs_buf_printf(sql, " ORDER BY process_guid, instance_index, presence");
    }
    bbs_buf_putc(sql, 0);
}

static int read_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct read_ctx *c = arg;
    struct bbs_params p = {0};
    struct bbs_buf sql = {0};

    build_sql(c->arena, c->f, c->order, &sql, &p);
    c->res = bbs_exec_sql(conn, (const char *)sql.data, &p, err);
    bbs_buf_free(&sql);
    return c->res == NULL ? -1 : 0;
}

static int row_get(const void *src, size_t i, struct bbs_alrp *out)
{
    return bbs_alrp_from_row(src, (int)i, out);
}

static void result_free(void *res)
{
    PQclear(res);
}

static int read_rows(struct bbs_store *st, struct bbs_arena *arena, const struct bbs_alrp_filter *f,
                     int order, struct bbs_alrp_rows *out, struct bbs_error *err)
{
    struct read_ctx c = {arena, f, order, NULL};

    memset(out, 0, sizeof(*out));
    if (bbs_store_run(st, read_tx, &c, err) != 0) {
        return -1;
    }
    /* The rows borrow from the result: the request's arena owns it. */
    bbs_arena_defer(arena, result_free, c.res);
    out->n = (size_t)PQntuples(c.res);
    out->src = c.res;
    out->get = row_get;
    return 0;
}

int bbs_store_alrp_list(struct bbs_store *st, struct bbs_arena *arena,
                        const struct bbs_alrp_filter *f, struct bbs_alrp_rows *out,
                        struct bbs_error *err)
{
    return read_rows(st, arena, f, 0, out, err);
}

int bbs_store_alrp_list_ordered(struct bbs_store *st, struct bbs_arena *arena,
                                const struct bbs_alrp_filter *f, struct bbs_alrp_rows *out,
                                struct bbs_error *err)
{
    return read_rows(st, arena, f, 1, out, err);
}

int bbs_store_alrp_open(struct bbs_store *st, struct bbs_arena *arena,
                        const struct bbs_alrp_filter *f, struct bbs_cursor **out,
                        struct bbs_error *err)
{
    struct bbs_params p = {0};
    struct bbs_buf sql = {0};

    build_sql(arena, f, 0, &sql, &p);
    *out = bbs_cursor_open(st, (const char *)sql.data, &p, err);
    bbs_buf_free(&sql);
    return *out == NULL ? -1 : 0;
}

int bbs_store_alrp_next(struct bbs_cursor *c, struct bbs_alrp *out, struct bbs_error *err)
{
    const PGresult *row;
    int rc = bbs_cursor_row(c, &row, err);

    if (rc <= 0) {
        return rc;
    }
    return bbs_alrp_from_row(row, 0, out) == 0 ? 1 : 2;
}
