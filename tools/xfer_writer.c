/*
 * xfer_writer.c - load rows into our database in one transaction (import
 * and migrate-from-upstream share it).
 *
 * The migrations are applied first through the store (src/store/migrate.c,
 * each in its own transaction, as the server does at start); then one
 * transaction locks our four tables, checks they are empty (or, forced,
 * empties them) and inserts every row with one prepared statement per
 * table. Blobs of sealed columns are sealed with the active key when one
 * is given (the server's own envelope, compact form: 0x00 + envelope,
 * plaintext 0x02 0x00 + our bytes); empty values stay plain, as the server writes them.
 */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "bbs/store.h"
#include "xfer.h"

struct xfer_writer {
    PGconn *conn;
    const struct bbs_crypt *seal;
    int in_tx;
    uint64_t counts[XFER_NTABLES];
    struct bbs_buf pt;
    struct bbs_buf sealed[XFER_MAX_COLS]; /* per column: the values of one row */
};

static int pq_fail(PGconn *conn, PGresult *res, const char *what, struct bbs_error *err)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn);
    enum bbs_error_type type = BBS_ERR_UNKNOWN;

    if (state != NULL && strcmp(state, "23505") == 0) {
        type = BBS_ERR_RESOURCE_EXISTS;
    } else if (state != NULL && strcmp(state, "22001") == 0) {
        type = BBS_ERR_INVALID_REQUEST;
    }
    bbs_error_setf(err, type, "%s: %s", what, msg);
    /* libpq's messages end in a newline */
    for (size_t n = strlen(err->message); n > 0 && err->message[n - 1] == '\n'; n--) {
        err->message[n - 1] = '\0';
    }
    PQclear(res);
    return -1;
}

static int exec_ok(PGconn *conn, const char *sql, struct bbs_error *err)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType s = PQresultStatus(res);

    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        return pq_fail(conn, res, sql, err);
    }
    PQclear(res);
    return 0;
}

static int prepare(struct xfer_writer *w, int t, struct bbs_error *err)
{
    const struct xfer_table *tb = &xfer_tables[t];
    struct bbs_buf sql = {0};
    char name[32];
    PGresult *res;
    int rc = -1;

    bbs_buf_printf(&sql, "INSERT INTO %s (", tb->name);
    for (size_t i = 0; i < tb->ncols; i++) {
        bbs_buf_printf(&sql, "%s%s", i > 0 ? ", " : "", tb->cols[i].name);
    }
    bbs_buf_printf(&sql, ") VALUES (");
    for (size_t i = 0; i < tb->ncols; i++) {
        bbs_buf_printf(&sql, "%s$%zu", i > 0 ? ", " : "", i + 1);
    }
    bbs_buf_printf(&sql, ")");
    bbs_buf_putc(&sql, '\0');
    snprintf(name, sizeof(name), "xfer_insert_%d", t);
    res = PQprepare(w->conn, name, (const char *)sql.data, 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        pq_fail(w->conn, res, "prepare", err);
        goto out;
    }
    PQclear(res);
    rc = 0;
out:
    bbs_buf_free(&sql);
    return rc;
}

/* Our tables with a row, as "domains, tasks" into `out` (empty: none). */
static int non_empty(PGconn *conn, struct bbs_buf *out, struct bbs_error *err)
{
    for (int t = 0; t < XFER_NTABLES; t++) {
        char sql[128];
        PGresult *res;

        snprintf(sql, sizeof(sql), "SELECT 1 FROM %s LIMIT 1", xfer_tables[t].name);
        res = PQexec(conn, sql);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            return pq_fail(conn, res, sql, err);
        }
        if (PQntuples(res) > 0) {
            bbs_buf_printf(out, "%s%s", out->len > 0 ? ", " : "", xfer_tables[t].name);
        }
        PQclear(res);
    }
    return 0;
}

int xfer_writer_open(const char *url, const char *migrations_dir, int force,
                     const struct bbs_crypt *seal, struct xfer_writer **out, struct bbs_error *err)
{
    struct xfer_writer *w = calloc(1, sizeof(*w));
    struct bbs_store *st = NULL;
    struct bbs_buf full = {0};
    int rc = -1;

    if (w == NULL) {
        abort();
    }
    w->seal = seal != NULL && bbs_crypt_enabled(seal) ? seal : NULL;
    st = bbs_store_new(url, 1, 1, err);
    if (st == NULL || bbs_store_migrate(st, migrations_dir, err) != 0) {
        goto out;
    }
    w->conn = PQconnectdb(url);
    if (PQstatus(w->conn) != CONNECTION_OK) {
        pq_fail(w->conn, NULL, "connect", err);
        goto out;
    }
    if (exec_ok(w->conn, "BEGIN", err) != 0) {
        goto out;
    }
    w->in_tx = 1;
    /* EXCLUSIVE: readers of a running server go on, no writer slips in. */
    if (exec_ok(w->conn, "LOCK TABLE domains, desired_lrps, actual_lrps, tasks IN EXCLUSIVE MODE",
                err) != 0 ||
        non_empty(w->conn, &full, err) != 0) {
        goto out;
    }
    if (full.len > 0 && !force) {
        bbs_buf_putc(&full, '\0');
        bbs_error_setf(err, BBS_ERR_RESOURCE_EXISTS,
                       "the target database is not empty (%s have rows); --force replaces them",
                       (const char *)full.data);
        goto out;
    }
    if (full.len > 0 &&
        exec_ok(w->conn,
                "DELETE FROM tasks; DELETE FROM actual_lrps; DELETE FROM desired_lrps; "
                "DELETE FROM domains",
                err) != 0) {
        goto out;
    }
    for (int t = 0; t < XFER_NTABLES; t++) {
        if (prepare(w, t, err) != 0) {
            goto out;
        }
    }
    *out = w;
    w = NULL;
    rc = 0;
out:
    bbs_buf_free(&full);
    bbs_store_free(st);
    xfer_writer_free(w);
    return rc;
}

int xfer_writer_put(struct xfer_writer *w, const struct xfer_row *r, struct bbs_error *err)
{
    const struct xfer_table *tb = &xfer_tables[r->table];
    const char *values[XFER_MAX_COLS];
    int lengths[XFER_MAX_COLS], formats[XFER_MAX_COLS];
    char name[32];
    PGresult *res;

    for (size_t i = 0; i < tb->ncols; i++) {
        const struct xfer_col *c = &tb->cols[i];
        const struct xfer_val *v = &r->v[i];

        values[i] = v->null ? NULL : v->b.len > 0 ? (const char *)v->b.data : "";
        lengths[i] = (int)v->b.len;
        formats[i] = c->type == XFER_BLOB;
        if (v->null || !c->sealed || w->seal == NULL || v->b.len == 0) {
            continue;
        }
        w->pt.len = 0;
        bbs_buf_append(&w->pt, "\x02\x00", 2);
        bbs_buf_append(&w->pt, v->b.data, v->b.len);
        w->sealed[i].len = 0;
        if (bbs_crypt_seal(w->seal, w->pt.data, w->pt.len, &w->sealed[i], err) != 0) {
            return -1;
        }
        values[i] = (const char *)w->sealed[i].data;
        lengths[i] = (int)w->sealed[i].len;
    }
    snprintf(name, sizeof(name), "xfer_insert_%d", r->table);
    res = PQexecPrepared(w->conn, name, (int)tb->ncols, values, lengths, formats, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        char what[300];

        snprintf(what, sizeof(what), "insert into %s (%s = %.200s)", tb->name, tb->cols[0].name,
                 r->v[0].null ? "null" : (const char *)r->v[0].b.data);
        return pq_fail(w->conn, res, what, err);
    }
    PQclear(res);
    w->counts[r->table]++;
    return 0;
}

int xfer_writer_commit(struct xfer_writer *w, struct bbs_error *err)
{
    w->in_tx = 0;
    return exec_ok(w->conn, "COMMIT", err);
}

const uint64_t *xfer_writer_counts(const struct xfer_writer *w)
{
    return w->counts;
}

void xfer_writer_free(struct xfer_writer *w)
{
    if (w == NULL) {
        return;
    }
    if (w->in_tx && PQstatus(w->conn) == CONNECTION_OK) {
        PQclear(PQexec(w->conn, "ROLLBACK"));
    }
    PQfinish(w->conn);
    bbs_buf_free(&w->pt);
    for (size_t i = 0; i < XFER_MAX_COLS; i++) {
        bbs_buf_free(&w->sealed[i]);
    }
    free(w);
}
