/*
 * db.c - see db.h: the group's database, created on the fixture cluster
 * named by BBS_TEST_PGDIR (whose conninfo file the pg fixture writes) and
 * dropped WITH (FORCE) at the end.
 */
#include "support/db.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "support/internal.h"
#include "support/server.h"

static struct {
    char dbname[128];
    char *admin_conninfo_src; /* the fixture's conninfo text */
    char *conninfo;           /* key=value string naming our database */
    int created;
} db;

static void conninfo_append(struct it_buf *b, const char *key, const char *val)
{
    it_buf_append(b, key, strlen(key));
    it_buf_append(b, "='", 2);
    for (const char *p = val; *p; p++) {
        if (*p == '\'' || *p == '\\') {
            it_buf_append(b, "\\", 1);
        }
        it_buf_append(b, p, 1);
    }
    it_buf_append(b, "' ", 2);
}

/* Rebuild the fixture conninfo as key=value text with dbname replaced. */
static char *conninfo_with_db(const char *src, const char *dbname)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(src, &errmsg);
    struct it_buf b = {0};

    if (opts == NULL) {
        fprintf(stderr, "harness: cannot parse conninfo \"%s\": %s\n", src, errmsg ? errmsg : "?");
        PQfreemem(errmsg);
        return NULL;
    }
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || o->val[0] == '\0' || strcmp(o->keyword, "dbname") == 0) {
            continue;
        }
        conninfo_append(&b, o->keyword, o->val);
    }
    conninfo_append(&b, "dbname", dbname);
    PQconninfoFree(opts);
    return (char *)b.data;
}

static int admin_exec(const char *sql)
{
    char *ci = conninfo_with_db(db.admin_conninfo_src, "postgres");
    PGconn *conn = NULL;
    PGresult *res = NULL;
    int rc = -1;

    if (ci == NULL) {
        return -1;
    }
    conn = PQconnectdb(ci);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "harness: cannot connect to the test PostgreSQL (%s): %s\n", ci,
                PQerrorMessage(conn));
        goto out;
    }
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "harness: %s: %s\n", sql, PQerrorMessage(conn));
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    PQfinish(conn);
    free(ci);
    return rc;
}

int it_db_create(const char *name)
{
    const char *pgdir = getenv("BBS_TEST_PGDIR");
    char path[1024];
    char sql[256];
    char *text;

    if (pgdir == NULL || pgdir[0] == '\0') {
        fprintf(stderr, "harness: BBS_TEST_PGDIR is not set\n");
        return -1;
    }
    snprintf(path, sizeof(path), "%s/conninfo", pgdir);
    text = it_read_file(path, NULL);
    if (text == NULL) {
        fprintf(stderr, "harness: cannot read %s (is the pg fixture running?)\n", path);
        return -1;
    }
    for (size_t n = strlen(text); n > 0 && isspace((unsigned char)text[n - 1]); n--) {
        text[n - 1] = '\0';
    }
    db.admin_conninfo_src = text;
    snprintf(db.dbname, sizeof(db.dbname), "bbs_it_%s_%ld", name, (long)getpid());
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db.dbname);
    if (admin_exec(sql) != 0) {
        return -1;
    }
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db.dbname);
    if (admin_exec(sql) != 0) {
        return -1;
    }
    db.created = 1;
    db.conninfo = conninfo_with_db(text, db.dbname);
    return db.conninfo ? 0 : -1;
}

int it_db_drop(void)
{
    char sql[256];
    int rc = 0;

    if (db.created) {
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db.dbname);
        db.created = 0;
        rc = admin_exec(sql);
    }
    free(db.admin_conninfo_src);
    db.admin_conninfo_src = NULL;
    free(db.conninfo);
    db.conninfo = NULL;
    return rc;
}

const char *it_db_conninfo(void)
{
    return db.conninfo;
}

int it_db_exec(const char *sql, int n, const char *const *params)
{
    PGconn *conn = NULL;
    PGresult *res = NULL;
    ExecStatusType st;
    int rc = -1;

    if (db.conninfo == NULL) {
        fprintf(stderr, "harness: it_db_exec without a test database\n");
        return -1;
    }
    conn = PQconnectdb(db.conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "harness: cannot connect to %s: %s\n", db.dbname, PQerrorMessage(conn));
        goto out;
    }
    res = n > 0 ? PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0) : PQexec(conn, sql);
    st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK) {
        rc = PQntuples(res);
    } else if (st == PGRES_COMMAND_OK) {
        rc = atoi(PQcmdTuples(res));
    } else {
        fprintf(stderr, "harness: %s: %s\n", sql, PQerrorMessage(conn));
    }
out:
    PQclear(res);
    PQfinish(conn);
    return rc;
}

/* ---- a private cluster ---------------------------------------------------------------------- */

static char private_dir[128];
static char shared_dir[512]; /* BBS_TEST_PGDIR before: the fixture's cluster */

static int private_script(const char *script)
{
    char path[600];
    char log[300];
    const char *dir = getenv("BBS_FIXTURES_DIR");
    const char *argv[] = {path, private_dir, NULL};

    if (dir == NULL || dir[0] == '\0') {
        fprintf(stderr, "private cluster: BBS_FIXTURES_DIR is not set\n");
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, script);
    snprintf(log, sizeof(log), "%s.log", private_dir);
    if (it_run(argv, log) != 0) {
        fprintf(stderr, "private cluster: %s %s failed; see %s\n", script, private_dir, log);
        return -1;
    }
    return 0;
}

int it_pg_private_begin(const char *name)
{
    snprintf(private_dir, sizeof(private_dir), "/tmp/bbs-it-%spg-XXXXXX", name);
    if (mkdtemp(private_dir) == NULL || chmod(private_dir, 0755) != 0) {
        fprintf(stderr, "private cluster: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    if (private_script("pg_start.sh") != 0) {
        return -1;
    }
    snprintf(shared_dir, sizeof(shared_dir), "%s",
             getenv("BBS_TEST_PGDIR") != NULL ? getenv("BBS_TEST_PGDIR") : "");
    setenv("BBS_TEST_PGDIR", private_dir, 1);
    return 0;
}

int it_pg_private_stop(void)
{
    return private_script("pg_stop.sh");
}

int it_pg_private_start(void)
{
    return private_script("pg_start.sh");
}

int it_pg_private_end(void)
{
    const char *rm[] = {"rm", "-rf", private_dir, NULL};
    char path[300];
    const char *rmlog[] = {"rm", "-f", path, NULL};
    int rc;

    snprintf(path, sizeof(path), "%s/sock/.s.PGSQL.5432", private_dir);
    if (access(path, F_OK) != 0) {
        private_script("pg_start.sh");
    }
    rc = it_server_stop();
    if (private_script("pg_stop.sh") != 0) {
        rc = -1;
    }
    it_run(rm, NULL);
    setenv("BBS_TEST_PGDIR", shared_dir, 1);
    snprintf(path, sizeof(path), "%s.log", private_dir);
    if (rc == 0) {
        it_run(rmlog, NULL);
    }
    return rc;
}
