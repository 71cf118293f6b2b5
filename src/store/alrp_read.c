/*
 * alrp_read.c - ActualLRP list and group reads (reference 3.11).
 *
 * The filter set varies per request, so the SQL is built per call (only
 * the filters given appear, letting the planner use the indexes) and run
 * with binary parameters and results. The rows are returned as a view
 * over the result (group.h), which the request's arena owns: the codec
 * encodes each row straight from it, with no per-row copies. A streamed
 * list (bbs_store_alrp_open) is a binary COPY of the same SELECT, its
 * filter values escaped as literals (cursor.c).
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

/*
 * Where a filter value goes: a binary parameter ($n), or, in a COPY
 * (which takes no parameters), a literal escaped for `conn`.
 */
struct sqlb {
    struct bbs_buf *sql;
    struct bbs_params *p; /* NULL: literals */
    PGconn *conn;
    struct bbs_arena *arena;
    int failed; /* a value could not be escaped (PQerrorMessage says why) */
};

static void put_literal(struct sqlb *b, const char *v)
{
    char *lit = PQescapeLiteral(b->conn, v, strlen(v));

    if (lit == NULL) {
        b->failed = 1;
        return;
    }
    bbs_buf_append(b->sql, lit, strlen(lit));
    PQfreemem(lit);
}

static void put_text(struct sqlb *b, const char *v)
{
    if (b->p != NULL) {
        bbs_buf_printf(b->sql, "$%d::text", bbs_params_text(b->p, v));
        return;
    }
    put_literal(b, v);
    bbs_buf_printf(b->sql, "::text");
}

static void put_text_array(struct sqlb *b, const char *const *v, size_t n)
{
    if (b->p != NULL) {
        bbs_buf_printf(b->sql, "$%d::text[]", bbs_params_text_array(b->p, b->arena, v, n));
        return;
    }
    bbs_buf_printf(b->sql, "ARRAY[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            bbs_buf_putc(b->sql, ',');
        }
        put_literal(b, v[i]);
    }
    bbs_buf_printf(b->sql, "]::text[]");
}

/* The SELECT for `f`, appended to b->sql (not NUL-terminated). */
static void build_sql(struct sqlb *b, const struct bbs_alrp_filter *f, int order)
{
    const char *glue = " WHERE ";

    bbs_buf_printf(b->sql, "SELECT " BBS_ALRP_COLUMNS " FROM actual_lrps");
    if (f->domain != NULL && f->domain[0] != '\0') {
        bbs_buf_printf(b->sql, "%sdomain = ", glue);
        put_text(b, f->domain);
        glue = " AND ";
    }
    if (f->cell_id != NULL && f->cell_id[0] != '\0') {
        bbs_buf_printf(b->sql, "%scell_id = ", glue);
        put_text(b, f->cell_id);
        glue = " AND ";
    }
    if (f->process_guid != NULL && f->process_guid[0] != '\0') {
        bbs_buf_printf(b->sql, "%sprocess_guid = ", glue);
        put_text(b, f->process_guid);
        glue = " AND ";
    }
    if (f->has_index) {
        if (b->p != NULL) {
            bbs_buf_printf(b->sql, "%sinstance_index = $%d::int4", glue,
                           bbs_params_int4(b->p, f->index));
        } else {
            bbs_buf_printf(b->sql, "%sinstance_index = %d", glue, (int)f->index);
        }
        glue = " AND ";
    }
    if (f->process_guids != NULL) {
        bbs_buf_printf(b->sql, "%sprocess_guid = ANY(", glue);
        put_text_array(b, f->process_guids, f->n_process_guids);
        bbs_buf_putc(b->sql, ')');
    }
    if (order) {
        bbs_buf_printf(b->sql, " ORDER BY process_guid, instance_index, presence");
    }
}

static int read_tx(PGconn *conn, void *arg, struct bbs_error *err)
{
    struct read_ctx *c = arg;
    struct bbs_params p = {0};
    struct bbs_buf sql = {0};
    struct sqlb b = {&sql, &p, conn, c->arena, 0};

    build_sql(&b, c->f, c->order);
    bbs_buf_putc(&sql, 0);
    c->res = bbs_exec_sql(conn, (const char *)sql.data, &p, err);
    bbs_buf_free(&sql);
    return c->res == NULL ? -1 : 0;
}

static int row_get(const void *src, size_t i, struct bbs_alrp *out)
{
    return bbs_alrp_from_result(src, (int)i, out);
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

struct copy_ctx {
    struct bbs_arena *arena;
    const struct bbs_alrp_filter *f;
};

static int copy_sql(PGconn *conn, void *arg, struct bbs_buf *sql, struct bbs_error *err)
{
    struct copy_ctx *c = arg;
    struct sqlb b = {sql, NULL, conn, c->arena, 0};

    bbs_buf_printf(sql, "COPY (");
    build_sql(&b, c->f, 0);
    bbs_buf_printf(sql, ") TO STDOUT (FORMAT binary)");
    bbs_buf_putc(sql, 0);
    if (b.failed) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "database error: %s", PQerrorMessage(conn));
        return -1;
    }
    return 0;
}

int bbs_store_alrp_open(struct bbs_store *st, struct bbs_arena *arena,
                        const struct bbs_alrp_filter *f, struct bbs_cursor **out,
                        struct bbs_error *err)
{
    struct copy_ctx c = {arena, f};

    *out = bbs_cursor_open_copy(st, copy_sql, &c, err);
    return *out == NULL ? -1 : 0;
}

int bbs_store_alrp_next(struct bbs_cursor *c, struct bbs_alrp *out, struct bbs_error *err)
{
    struct bbs_row row;
    int rc = bbs_cursor_next(c, &row, err);

    if (rc <= 0) {
        return rc;
    }
    return bbs_alrp_from_row(&row, out) == 0 ? 1 : 2;
}
