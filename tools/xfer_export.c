/*
 * xfer_export.c - `bbsctl export`: our four tables as one JSON document, or
 * JSON lines, on stdout (the format: xfer.h).
 *
 * One read-only REPEATABLE READ transaction, so the export is one
 * consistent snapshot of a running server's database; each table is read
 * through a cursor, FETCH_ROWS rows at a time, and written as it is read,
 * so memory stays flat however big the deployment (in both forms). Sealed
 * values are opened with the given keys and exported plain; a value that
 * does not open fails the export (nothing is left out silently).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "xfer.h"

#define FETCH_ROWS 500
#define FETCH_SQL  "FETCH FORWARD 500 FROM xfer_cur"

struct exporter {
    PGconn *conn;
    const struct bbs_crypt *keys;
    int lines;
    FILE *out;
    uint64_t counts[XFER_NTABLES];
    struct xfer_progress progress;
    struct xfer_row row;
    struct bbs_buf pt;
};

static int pq_error(PGconn *conn, PGresult *res, const char *what)
{
    fprintf(stderr, "export: %s: %s", what,
            res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn));
    PQclear(res);
    return -1;
}

static int exec_ok(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        return pq_error(conn, res, sql);
    }
    PQclear(res);
    return 0;
}

/* Column `c` of result row `i` into the row being built. */
static int take_value(struct exporter *ex, const PGresult *res, int i, size_t c, int table)
{
    const struct xfer_col *col = &xfer_tables[table].cols[c];
    struct xfer_val *v = &ex->row.v[c];
    unsigned char *raw;
    size_t n;
    struct bbs_error err = {0};

    if (PQgetisnull(res, i, (int)c)) {
        v->null = 1;
        return 0;
    }
    if (col->type != XFER_BLOB) {
        xfer_val_setstr(v, PQgetvalue(res, i, (int)c));
        return 0;
    }
    raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, (int)c), &n);
    if (raw == NULL) {
        abort();
    }
    if (col->sealed && bbs_crypt_is_sealed(raw, n)) {
        ex->pt.len = 0;
        v->b.len = 0;
        v->null = 0;
        if (xfer_open(ex->keys, raw, n, &ex->pt, NULL, &err) != 0 ||
            xfer_plain_of(col->blob, ex->pt.data, ex->pt.len, &v->b, &err) != 0) {
            fprintf(stderr, "export: %s %s: column %s: %s\n", xfer_tables[table].name,
                    PQgetvalue(res, i, 0), col->name, err.message);
            PQfreemem(raw);
            return -1;
        }
        bbs_buf_reserve(&v->b, 1);
        v->b.data[v->b.len] = '\0';
    } else {
        xfer_val_set(v, raw, n);
    }
    PQfreemem(raw);
    return 0;
}

static void emit(struct exporter *ex, int table, int first)
{
    json_t *j = xfer_row_to_json(&ex->row);

    if (ex->lines) {
        json_t *line = json_pack("{s:s, s:o}", "table", xfer_tables[table].name, "row", j);

        json_dumpf(line, ex->out, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fputc('\n', ex->out);
        json_decref(line);
        return;
    }
    if (!first) {
        fputc(',', ex->out);
    }
    json_dumpf(j, ex->out, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
}

static int export_table(struct exporter *ex, int table)
{
    const struct xfer_table *tb = &xfer_tables[table];
    struct bbs_buf sql = {0};
    int rc = -1, first = 1;

    bbs_buf_printf(&sql, "DECLARE xfer_cur NO SCROLL CURSOR FOR SELECT ");
    for (size_t i = 0; i < tb->ncols; i++) {
        bbs_buf_printf(&sql, "%s%s", i > 0 ? ", " : "", tb->cols[i].name);
    }
    bbs_buf_printf(&sql, " FROM %s ORDER BY %s", tb->name, tb->order_by);
    bbs_buf_putc(&sql, '\0');
    if (exec_ok(ex->conn, (const char *)sql.data) != 0) {
        goto out;
    }
    if (!ex->lines) {
        fprintf(ex->out, "%s\"%s\":[", table > 0 ? "," : "", tb->name);
    }
    for (;;) {
        PGresult *res = PQexec(ex->conn, FETCH_SQL);
        int n;

        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            pq_error(ex->conn, res, "fetch");
            goto out;
        }
        n = PQntuples(res);
        for (int i = 0; i < n; i++) {
            xfer_row_reset(&ex->row, table);
            for (size_t c = 0; c < tb->ncols; c++) {
                if (take_value(ex, res, i, c, table) != 0) {
                    PQclear(res);
                    goto out;
                }
            }
            emit(ex, table, first);
            first = 0;
            ex->counts[table]++;
            xfer_progress_tick(&ex->progress, ex->counts);
        }
        PQclear(res);
        if (n < FETCH_ROWS) {
            break;
        }
    }
    if (!ex->lines) {
        fputc(']', ex->out);
    }
    rc = exec_ok(ex->conn, "CLOSE xfer_cur");
out:
    bbs_buf_free(&sql);
    return rc;
}

static void emit_end(struct exporter *ex)
{
    json_t *end = json_object();

    for (int t = 0; t < XFER_NTABLES; t++) {
        json_object_set_new(end, xfer_tables[t].name, json_integer((json_int_t)ex->counts[t]));
    }
    fputs(ex->lines ? "{\"end\":" : "},\"end\":", ex->out);
    json_dumpf(end, ex->out, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fputs("}\n", ex->out);
    json_decref(end);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bbsctl export --database-url URL [--encryption-key label:passphrase ...] "
               "[--lines]\n"
               "Writes every domain, desired LRP, actual LRP and task of the database on stdout\n"
               "as one JSON document (--lines: JSON lines, streamed). Sealed values are opened\n"
               "with the given keys and written plain: keep the export safe.\n");
}

int xfer_cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"database-url", required_argument, NULL, 'd'},
        {"encryption-key", required_argument, NULL, 'k'},
        {"lines", no_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct exporter ex = {.out = stdout};
    struct xfer_keys keys = {0};
    struct bbs_crypt *ring = NULL;
    const char *url = NULL;
    int c, rc = 1;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            url = optarg;
            break;
        case 'k':
            if (xfer_keys_add(&keys, optarg) != 0) {
                return 2;
            }
            break;
        case 'l':
            ex.lines = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (url == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (xfer_keys_ring(&keys, &ring) != 0) {
        return 2;
    }
    ex.keys = ring;
    ex.conn = PQconnectdb(url);
    if (PQstatus(ex.conn) != CONNECTION_OK) {
        pq_error(ex.conn, NULL, "connect");
        goto out;
    }
    if (exec_ok(ex.conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0) {
        goto out;
    }
    xfer_progress_start(&ex.progress, "export");
    fprintf(ex.out, ex.lines ? "{\"bbs_export\":%d}\n" : "{\"bbs_export\":%d,\"tables\":{",
            XFER_FORMAT_VERSION);
    for (int t = 0; t < XFER_NTABLES; t++) {
        if (export_table(&ex, t) != 0) {
            goto out;
        }
    }
    emit_end(&ex);
    if (fflush(ex.out) != 0 || ferror(ex.out)) {
        fprintf(stderr, "export: writing stdout failed\n");
        goto out;
    }
    xfer_counts_print(stderr, "exported", ex.counts);
    rc = 0;
out:
    PQfinish(ex.conn);
    bbs_crypt_free(ring);
    xfer_row_free(&ex.row);
    bbs_buf_free(&ex.pt);
    return rc;
}
