/*
 * migrate.c - applies migrations/NNNN_name.sql at start-up.
 *
 * Files are applied in numeric order, each in its own transaction together
 * with its row in schema_migrations, under a session advisory lock: a
 * second server starting at the same moment waits, then finds every file
 * recorded and applies nothing. A database that has a version newer than
 * any file here was migrated by a newer server: refuse to start.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/buf.h"
#include "bbs/log.h"
#include "bbs/xalloc.h"
#include "store_int.h"

#define MIGRATE_LOCK_KEY "7308447151239120531" /* arbitrary, fixed: "bbs migrate" */
#define MAX_MIGRATIONS   1000

struct migration {
    long version;
    char name[256];
};

static int cmp_migration(const void *a, const void *b)
{
    const struct migration *x = a;
    const struct migration *y = b;

    return (x->version > y->version) - (x->version < y->version);
}

static int list_files(const char *dir, struct migration *out, int *n, struct bbs_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    *n = 0;
    if (d == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "cannot open migrations dir %s", dir);
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char *end = NULL;
        long v = strtol(e->d_name, &end, 10);

        if (len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0 || end == e->d_name ||
            *end != '_' || v <= 0 || len >= sizeof(out[0].name)) {
            continue;
        }
        if (*n >= MAX_MIGRATIONS) {
            break;
        }
        out[*n].version = v;
        snprintf(out[*n].name, sizeof(out[*n].name), "%s", e->d_name);
        (*n)++;
    }
    closedir(d);
    qsort(out, (size_t)*n, sizeof(out[0]), cmp_migration);
    for (int i = 1; i < *n; i++) {
        if (out[i].version == out[i - 1].version) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN, "two migrations numbered %ld", out[i].version);
            return -1;
        }
    }
    return 0;
}

static int exec_ok(PGconn *conn, const char *sql, struct bbs_error *err)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType s = PQresultStatus(res);
    int rc = 0;

    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "%s", PQresultErrorMessage(res));
        rc = -1;
    }
    PQclear(res);
    return rc;
}

static int read_file(const char *path, struct bbs_buf *out, struct bbs_error *err)
{
    FILE *f = fopen(path, "rb");
    char chunk[4096];
    size_t n;

    if (f == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "cannot read %s", path);
        return -1;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        bbs_buf_append(out, chunk, n);
    }
    fclose(f);
    bbs_buf_putc(out, 0);
    return 0;
}

static int apply_one(PGconn *conn, const char *dir, const struct migration *m,
                     struct bbs_error *err)
{
    struct bbs_buf sql = {0};
    char path[4096];
    struct bbs_params p = {0};
    char cause[sizeof(err->message)];
    PGresult *res = NULL;
    int rc = -1;

    snprintf(path, sizeof(path), "%s/%s", dir, m->name);
    if (read_file(path, &sql, err) != 0) {
        goto out;
    }
    if (exec_ok(conn, "BEGIN", err) != 0) {
        goto out;
    }
    if (exec_ok(conn, (const char *)sql.data, err) != 0) {
        /* err->message cannot be both source and target of the format. */
        snprintf(cause, sizeof(cause), "%s", err->message);
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "migration %s failed: %.3000s", m->name, cause);
        goto out;
    }
    bbs_params_int8(&p, m->version);
    bbs_params_text(&p, m->name);
    res = bbs_exec_sql(conn,
                       "INSERT INTO schema_migrations (version, name, applied_at) "
                       "VALUES ($1::int8, $2::text, now())",
                       &p, err);
    if (res == NULL) {
        snprintf(cause, sizeof(cause), "%s", err->message);
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "recording %s: %.3000s", m->name, cause);
        goto out;
    }
    if (exec_ok(conn, "COMMIT", err) != 0) {
        goto out;
    }
    bbs_log(BBS_LOG_INFO, "migrate.applied", "{s:s}", "migration", m->name);
    rc = 0;
out:
    PQclear(res);
    if (rc != 0 && PQtransactionStatus(conn) != PQTRANS_IDLE) {
        PQclear(PQexec(conn, "ROLLBACK"));
    }
    bbs_buf_free(&sql);
    return rc;
}

int bbs_store_migrate(struct bbs_store *st, const char *dir, struct bbs_error *err)
{
    struct migration *files = bbs_xcalloc(MAX_MIGRATIONS, sizeof(*files));
    PGconn *conn = NULL;
    PGresult *res = NULL;
    int n = 0;
    int locked = 0;
    int rc = -1;
    long newest_applied = 0;

    if (list_files(dir, files, &n, err) != 0) {
        goto out;
    }
    conn = bbs_store_conn_open(st, err);
    if (conn == NULL) {
        goto out;
    }
    if (exec_ok(conn, "SET client_min_messages = warning", err) != 0 ||
        exec_ok(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err) != 0) {
        goto out;
    }
    locked = 1;
    if (exec_ok(conn,
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version BIGINT PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at TIMESTAMPTZ NOT NULL)",
                err) != 0) {
        goto out;
    }
    res = PQexec(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "%s", PQresultErrorMessage(res));
        goto out;
    }
    newest_applied = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    res = NULL;
    if (n > 0 && newest_applied > files[n - 1].version) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN,
                       "database schema version %ld is newer than this server knows (%ld)",
                       newest_applied, files[n - 1].version);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        char q[128];

        snprintf(q, sizeof(q), "SELECT 1 FROM schema_migrations WHERE version = %ld",
                 files[i].version);
        res = PQexec(conn, q);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            bbs_error_setf(err, BBS_ERR_UNKNOWN, "%s", PQresultErrorMessage(res));
            goto out;
        }
        if (PQntuples(res) == 0 && apply_one(conn, dir, &files[i], err) != 0) {
            goto out;
        }
        PQclear(res);
        res = NULL;
    }
    rc = 0;
out:
    PQclear(res);
    if (locked && PQstatus(conn) == CONNECTION_OK) {
        PQclear(PQexec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
    }
    PQfinish(conn);
    free(files);
    return rc;
}

int bbs_store_migrations_newest(const char *dir, long *version, struct bbs_error *err)
{
    struct migration *files = bbs_xcalloc(MAX_MIGRATIONS, sizeof(*files));
    int n = 0;
    int rc = list_files(dir, files, &n, err);

    *version = rc == 0 && n > 0 ? files[n - 1].version : 0;
    free(files);
    return rc;
}
