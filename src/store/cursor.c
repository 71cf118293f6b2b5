/*
 * cursor.c - reads that hand out their rows as they arrive (store.h,
 * bbs_store_cursor_*): libpq's single-row mode on a connection held until
 * the cursor is closed, so a list of any size is never whole in memory.
 *
 * The statement runs outside a transaction block: one SELECT sees one
 * snapshot. The first row is awaited when the cursor opens, so errors of
 * the statement itself (and a dead connection, retried) show before the
 * caller has answered anything; a failure after that is reported by
 * bbs_cursor_row() and is the caller's to handle (the HTTP layer aborts
 * the connection). Closing a cursor before its end gives back a
 * connection with a statement still running: the pool closes it rather
 * than cancel the statement (a cancel request can race with the next
 * statement on the connection).
 *
 * A cursor opened with bbs_cursor_open_copy reads `COPY (SELECT ...) TO
 * STDOUT (FORMAT binary)` instead: each row arrives as one message,
 * parsed in place (row.c), where single-row mode builds a PGresult per
 * row (its 18 column descriptions copied, several allocations): a third
 * of the client's CPU for the same rows, measured. COPY takes no
 * parameters, so its statement is built per connection with the filter
 * values as escaped literals.
 */
#include <stdlib.h>
#include <time.h>

#include "bbs/buf.h"
#include "bbs/xalloc.h"
#include "store_int.h"

struct bbs_cursor {
    struct bbs_store *st;
    PGconn *conn;
    PGresult *cur;  /* the row handed out last (freed on the next call) */
    PGresult *next; /* the row awaited at open, not handed out yet */
    int ended;      /* the statement is complete (or failed): conn is idle */
    int64_t t0;     /* for the statement counters */
    /* COPY cursors: the message handed out last and the one awaited at
     * open (PQfreemem'd), whether the file header was read, and what the
     * handed-out row's sealed values were opened into. */
    char *msg;
    char *next_msg;
    int next_len;
    int started;
    void **allocs;
    size_t n_allocs;
    size_t cap_allocs;
};

/* Read results until libpq has none left (the connection is then idle). */
static void drain(PGconn *conn)
{
    PGresult *res;

    while ((res = PQgetResult(conn)) != NULL) {
        PQclear(res);
    }
}

/*
 * Await the next result. 1: a row in c->next; 0: the statement ended
 * (connection idle); -1: it failed (`err` set, connection idle or dead).
 */
static int fetch(struct bbs_cursor *c, struct bbs_error *err)
{
    PGresult *res = PQgetResult(c->conn);
    ExecStatusType s = PQresultStatus(res);

    if (s == PGRES_SINGLE_TUPLE) {
        c->next = res;
        return 1;
    }
    c->ended = 1;
    bbs_store_q_end(c->t0, s == PGRES_TUPLES_OK);
    if (s == PGRES_TUPLES_OK) {
        PQclear(res);
        drain(c->conn);
        return 0;
    }
    bbs_store_map_error(c->conn, res, err);
    PQclear(res);
    drain(c->conn);
    return -1;
}

static int start(struct bbs_cursor *c, const char *sql, const struct bbs_params *p,
                 struct bbs_error *err)
{
    c->t0 = bbs_store_q_begin();
    c->ended = 0;
    if (PQsendQueryParams(c->conn, sql, p ? p->n : 0, NULL, p ? p->values : NULL,
                          p ? p->lengths : NULL, p ? p->formats : NULL, 1) != 1) {
        c->ended = 1;
        bbs_store_q_end(c->t0, 0);
        bbs_store_map_error(c->conn, NULL, err);
        return -1;
    }
    /* Cannot fail right after a successful send (if it did, the rows would
     * arrive in one result, handed out as one row: never here). */
    (void)PQsetSingleRowMode(c->conn);
    return fetch(c, err) < 0 ? -1 : 0;
}

/* Results left after a COPY: none should be a COPY still going (then the
 * connection is not idle and the pool closes it). */
static void drain_copy(PGconn *conn)
{
    PGresult *res;

    while ((res = PQgetResult(conn)) != NULL) {
        ExecStatusType s = PQresultStatus(res);

        PQclear(res);
        if (s == PGRES_COPY_OUT || s == PGRES_COPY_IN || s == PGRES_COPY_BOTH) {
            break;
        }
    }
}

/* fetch() for a COPY: 1, a message in c->next_msg; 0, the COPY ended
 * well (connection idle); -1, it failed. */
static int copy_fetch(struct bbs_cursor *c, struct bbs_error *err)
{
    char *buf = NULL;
    int n = PQgetCopyData(c->conn, &buf, 0);
    PGresult *res;
    int ok;

    if (n > 0) {
        c->next_msg = buf;
        c->next_len = n;
        return 1;
    }
    c->ended = 1;
    res = PQgetResult(c->conn);
    ok = n == -1 && PQresultStatus(res) == PGRES_COMMAND_OK;
    bbs_store_q_end(c->t0, ok);
    if (!ok) {
        bbs_store_map_error(c->conn, PQresultStatus(res) == PGRES_COMMAND_OK ? NULL : res, err);
    }
    PQclear(res);
    drain_copy(c->conn);
    return ok ? 0 : -1;
}

static int start_copy(struct bbs_cursor *c, bbs_copy_sql_fn build, void *ctx, struct bbs_error *err)
{
    struct bbs_buf sql = {0};
    PGresult *res;
    int sent;

    c->t0 = bbs_store_q_begin();
    c->ended = 0;
    c->started = 0;
    if (build(c->conn, ctx, &sql, err) != 0) {
        bbs_buf_free(&sql);
        c->ended = 1;
        bbs_store_q_end(c->t0, 0);
        return -1;
    }
    sent = PQsendQuery(c->conn, (const char *)sql.data);
    bbs_buf_free(&sql);
    if (sent != 1) {
        c->ended = 1;
        bbs_store_q_end(c->t0, 0);
        bbs_store_map_error(c->conn, NULL, err);
        return -1;
    }
    res = PQgetResult(c->conn);
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        c->ended = 1;
        bbs_store_q_end(c->t0, 0);
        bbs_store_map_error(c->conn, res, err);
        PQclear(res);
        drain_copy(c->conn);
        return -1;
    }
    PQclear(res);
    return copy_fetch(c, err) < 0 ? -1 : 0;
}

/* Start `c` on a borrowed connection (sql/p, or build/ctx for a COPY),
 * retrying as bbs_store_run does; NULL after freeing `c` on failure. */
static struct bbs_cursor *open_with(struct bbs_cursor *c, const char *sql,
                                    const struct bbs_params *p, bbs_copy_sql_fn build, void *ctx,
                                    struct bbs_error *err)
{
    struct bbs_store *st = c->st;
    int retries = bbs_store_retries(st);

    for (int attempt = 0; attempt < retries; attempt++) {
        c->conn = bbs_store_borrow(st, err);
        if (c->conn != NULL &&
            (build != NULL ? start_copy(c, build, ctx, err) : start(c, sql, p, err)) == 0) {
            return c;
        }
        if (c->conn != NULL && PQstatus(c->conn) == CONNECTION_OK &&
            err->type != BBS_ERR_DEADLOCK) {
            break; /* the statement itself failed: not worth another go */
        }
        bbs_store_give_back(st, c->conn);
        c->conn = NULL;
        if (attempt + 1 < retries) {
            struct timespec ts = {0, (long)(20 + 40 * attempt) * 1000000L};

            nanosleep(&ts, NULL);
        }
    }
    bbs_store_give_back(st, c->conn);
    free(c);
    return NULL;
}

struct bbs_cursor *bbs_cursor_open(struct bbs_store *st, const char *sql,
                                   const struct bbs_params *p, struct bbs_error *err)
{
    struct bbs_cursor *c = bbs_xcalloc(1, sizeof(*c));

    c->st = st;
    return open_with(c, sql, p, NULL, NULL, err);
}

struct bbs_cursor *bbs_cursor_open_copy(struct bbs_store *st, bbs_copy_sql_fn build, void *ctx,
                                        struct bbs_error *err)
{
    struct bbs_cursor *c = bbs_xcalloc(1, sizeof(*c));

    c->st = st;
    return open_with(c, NULL, NULL, build, ctx, err);
}

/* bbs_copy_sql_fn for a fixed SELECT (`ctx`) with no values in it. */
static int copy_of(PGconn *conn, void *ctx, struct bbs_buf *sql, struct bbs_error *err)
{
    (void)conn;
    (void)err;
    bbs_buf_printf(sql, "COPY (%s) TO STDOUT (FORMAT binary)", (const char *)ctx);
    bbs_buf_putc(sql, 0);
    return 0;
}

struct bbs_cursor *bbs_cursor_open_copy_of(struct bbs_store *st, const char *select,
                                           struct bbs_error *err)
{
    return bbs_cursor_open_copy(st, copy_of, (void *)select, err);
}

int bbs_cursor_row(struct bbs_cursor *c, const PGresult **row, struct bbs_error *err)
{
    PQclear(c->cur);
    c->cur = NULL;
    if (c->next == NULL) {
        int rc;

        if (c->ended) {
            return 0;
        }
        rc = fetch(c, err);
        if (rc <= 0) {
            return rc;
        }
    }
    c->cur = c->next;
    c->next = NULL;
    *row = c->cur;
    return 1;
}

/* What the last row handed out held: its message and opened values. */
static void release_row(struct bbs_cursor *c)
{
    PQfreemem(c->msg);
    c->msg = NULL;
    for (size_t i = 0; i < c->n_allocs; i++) {
        free(c->allocs[i]);
    }
    c->n_allocs = 0;
}

/* A row's allocator (row.h): freed with the row. */
static void *row_alloc(void *ctx, size_t n)
{
    struct bbs_cursor *c = ctx;

    if (c->n_allocs == c->cap_allocs) {
        c->cap_allocs = c->cap_allocs ? 2 * c->cap_allocs : 4;
        c->allocs = bbs_xrealloc(c->allocs, c->cap_allocs * sizeof(*c->allocs));
    }
    c->allocs[c->n_allocs] = bbs_xmalloc(n);
    return c->allocs[c->n_allocs++];
}

int bbs_cursor_next(struct bbs_cursor *c, struct bbs_row *row, struct bbs_error *err)
{
    int rc;

    release_row(c);
    if (c->next_msg == NULL) {
        if (c->ended) {
            return 0;
        }
        rc = copy_fetch(c, err);
        if (rc <= 0) {
            return rc;
        }
    }
    c->msg = c->next_msg;
    c->next_msg = NULL;
    rc = bbs_row_parse_copy(c->msg, (size_t)c->next_len, &c->started, row);
    if (rc == 1) {
        row->st = c->st;
        row->alloc = row_alloc;
        row->alloc_ctx = c;
        return 1;
    }
    if (rc == 0) {
        /* The end-of-data marker: the COPY itself must end next. */
        rc = copy_fetch(c, err);
        if (rc != 1) {
            return rc;
        }
    }
    bbs_error_setf(err, BBS_ERR_UNKNOWN, "database error: a row of a COPY could not be read");
    return -1;
}

void bbs_store_cursor_close(struct bbs_cursor *c)
{
    if (c == NULL) {
        return;
    }
    release_row(c);
    free(c->allocs);
    PQfreemem(c->next_msg);
    PQclear(c->cur);
    PQclear(c->next);
    if (!c->ended) {
        bbs_store_q_end(c->t0, 1);
    }
    /* Not ended: the statement still runs, the pool closes the connection. */
    bbs_store_give_back(c->st, c->conn);
    free(c);
}
