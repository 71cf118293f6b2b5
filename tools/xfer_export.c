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

#include "bbs/pbjson.h"
#include "xfer.h"

#define CMD "export"

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

/* `j` as compact JSON text on `f`, escaped as Go escapes it (as every JSON bbsctl prints). */
static void dumpf(const json_t *j, FILE *f)
{
    struct bbs_buf b = {0};

    bbs_pbjson_dump(j, &b);
    fwrite(b.data, 1, b.len, f);
    bbs_buf_free(&b);
}

static void emit(struct exporter *ex, int table, int first)
{
    json_t *j = xfer_row_to_json(&ex->row);

    if (ex->lines) {
        json_t *line = json_pack("{s:s, s:o}", "table", xfer_tables[table].name, "row", j);

        dumpf(line, ex->out);
        fputc('\n', ex->out);
        json_decref(line);
        return;
    }
    if (!first) {
        fputc(',', ex->out);
    }
    dumpf(j, ex->out);
    json_decref(j);
}

/* The table being read (xfer_cursor_each's context). */
struct export_pass {
    struct exporter *ex;
    int table;
    int first;
};

static int export_row(void *ctx, const PGresult *res, int i)
{
    struct export_pass *ps = ctx;
    struct exporter *ex = ps->ex;

    xfer_row_reset(&ex->row, ps->table);
    for (size_t c = 0; c < xfer_tables[ps->table].ncols; c++) {
        if (take_value(ex, res, i, c, ps->table) != 0) {
            return -1;
        }
    }
    emit(ex, ps->table, ps->first);
    ps->first = 0;
    ex->counts[ps->table]++;
    xfer_progress_tick(&ex->progress, ex->counts);
    return 0;
}

static int export_table(struct exporter *ex, int table)
{
    const struct xfer_table *tb = &xfer_tables[table];
    struct export_pass ps = {ex, table, 1};
    struct bbs_buf sql = {0};
    int rc;

    bbs_buf_printf(&sql, "SELECT ");
    for (size_t i = 0; i < tb->ncols; i++) {
        bbs_buf_printf(&sql, "%s%s", i > 0 ? ", " : "", tb->cols[i].name);
    }
    bbs_buf_printf(&sql, " FROM %s ORDER BY %s", tb->name, tb->order_by);
    bbs_buf_putc(&sql, '\0');
    if (!ex->lines) {
        fprintf(ex->out, "%s\"%s\":[", table > 0 ? "," : "", tb->name);
    }
    rc = xfer_cursor_each(CMD, ex->conn, (const char *)sql.data, export_row, &ps);
    if (rc == 0 && !ex->lines) {
        fputc(']', ex->out);
    }
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
    dumpf(end, ex->out);
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
        int st = xfer_common_opt(c, optarg, &keys, NULL, usage);

        if (st >= 0) {
            return st;
        }
        switch (st == XFER_OPT_OWN ? c : 0) {
        case 'd':
            url = optarg;
            break;
        case 'l':
            ex.lines = 1;
            break;
        default:
            break;
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
        xfer_pq_error(CMD, ex.conn, NULL, "connect");
        goto out;
    }
    if (xfer_exec_ok(CMD, ex.conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0) {
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
