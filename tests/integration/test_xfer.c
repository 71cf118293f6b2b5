/*
 * test_xfer.c - `bbsctl export`, `import` and `migrate-from-upstream`
 * (docs/operations.md "Export, import, moving over from upstream").
 *
 * State is made through the API of the group's server; export and import
 * are then compared table by table, value by value, against fresh
 * databases created on the fixture cluster (this is what the tools
 * promise: every row reproduced, so the tables are read directly). The
 * migration test lays out a database as upstream's (reference 6.1), fills
 * it with rows in upstream's encodings (6.3: values sealed under two key
 * labels with our key ring, which implements exactly that envelope, JSON
 * and serialized plaintexts), migrates it and reads every LRP and task
 * back through the API of a server restarted on the migrated database.
 */
#define _GNU_SOURCE /* asprintf */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "bbs/arena.h"
#include "bbs/crypt.h"
#include "domains.pb-c.h"
#include "harness.h"
#include "task_it.h"

static char guid_full[64], guid_min[64], task_a[64], task_b[64];
static char tmpdir[256];

/* ---- helpers ---- */

/* A conninfo for database `db` on the fixture cluster (static buffer per call site). */
static char *db_url(const char *db)
{
    char *s = NULL;

    assert_true(asprintf(&s, "%s dbname=%s", it_db_conninfo(), db) > 0);
    return s;
}

static void create_db(const char *db)
{
    char sql[256];

    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", db);
    assert_true(it_db_exec(sql, 0, NULL) >= 0);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
    assert_true(it_db_exec(sql, 0, NULL) >= 0);
}

static PGconn *connect_to(const char *url)
{
    PGconn *c = PQconnectdb(url);

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    return c;
}

static void exec_on(const char *url, const char *sql)
{
    PGconn *c = connect_to(url);
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(r));
        fail();
    }
    PQclear(r);
    PQfinish(c);
}

/* Run bbsctl with `args` (NULL-terminated), stdin from `in` (may be NULL),
 * stdout into `out` and stderr into `errp` (paths, may be NULL); exit status. */
static int bbsctl(const char *in, const char *out, const char *errp, const char *const *args)
{
    const char *bin = getenv("BBSCTL_BINARY");
    const char *argv[32];
    int n = 0, status = 0;
    pid_t pid;

    assert_non_null(bin);
    if (it_valgrind()) { /* bbsctl too: no leak, no error (exit 99 otherwise) */
        argv[n++] = "/usr/bin/valgrind";
        argv[n++] = "--quiet";
        argv[n++] = "--leak-check=full";
        argv[n++] = "--errors-for-leak-kinds=definite,indirect";
        argv[n++] = "--error-exitcode=99";
    }
    argv[n++] = bin;
    for (int i = 0; args[i] != NULL && n < 31; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd;

        if (in != NULL && (fd = open(in, O_RDONLY)) >= 0) {
            dup2(fd, 0);
        }
        if (out != NULL && (fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0) {
            dup2(fd, 1);
        }
        if (errp != NULL && (fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0) {
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

static char *tmp_path(const char *name)
{
    char *p = NULL;

    assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
    return p;
}

static const char *const TABLES[][2] = {
    {"domains", "domain"},
    {"desired_lrps", "process_guid"},
    {"actual_lrps", "process_guid, instance_index, presence"},
    {"tasks", "guid"},
};

/* Every row of every table of `a` equals the one of `b`, column by column;
 * returns the number of rows compared. */
static int compare_dbs(const char *a, const char *b)
{
    PGconn *ca = connect_to(a), *cb = connect_to(b);
    int total = 0;

    for (size_t t = 0; t < sizeof(TABLES) / sizeof(TABLES[0]); t++) {
        char sql[256];
        PGresult *ra, *rb;

        snprintf(sql, sizeof(sql), "SELECT * FROM %s ORDER BY %s", TABLES[t][0], TABLES[t][1]);
        ra = PQexec(ca, sql);
        rb = PQexec(cb, sql);
        assert_int_equal(PQresultStatus(ra), PGRES_TUPLES_OK);
        assert_int_equal(PQresultStatus(rb), PGRES_TUPLES_OK);
        assert_int_equal(PQntuples(ra), PQntuples(rb));
        assert_int_equal(PQnfields(ra), PQnfields(rb));
        for (int i = 0; i < PQntuples(ra); i++) {
            for (int c = 0; c < PQnfields(ra); c++) {
                if (PQgetisnull(ra, i, c) != PQgetisnull(rb, i, c) ||
                    strcmp(PQgetvalue(ra, i, c), PQgetvalue(rb, i, c)) != 0) {
                    fprintf(stderr, "%s row %d column %s: \"%s\" != \"%s\"\n", TABLES[t][0], i,
                            PQfname(ra, c), PQgetvalue(ra, i, c), PQgetvalue(rb, i, c));
                    fail();
                }
            }
        }
        total += PQntuples(ra);
        PQclear(ra);
        PQclear(rb);
    }
    PQfinish(ca);
    PQfinish(cb);
    return total;
}

static int count_rows(const char *url, const char *table)
{
    PGconn *c = connect_to(url);
    char sql[128];
    PGresult *r;
    int n;

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return n;
}

/* ---- state made through the API ---- */

static int setup(void **state)
{
    Models__UpsertDomainRequest dom = MODELS__UPSERT_DOMAIN_REQUEST__INIT;
    struct bbs_arena *a;
    Models__DesiredLRP *full;
    int started = 0;

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/bbs-it-xfer-%d", (int)getpid());
    if (mkdir(tmpdir, 0700) != 0 || it_group_setup(state) != 0) {
        return -1;
    }
    it_uniq(guid_full, sizeof(guid_full), "xfer-full");
    it_uniq(guid_min, sizeof(guid_min), "xfer-min");
    it_uniq(task_a, sizeof(task_a), "xfer-task-a");
    it_uniq(task_b, sizeof(task_b), "xfer-task-b");
    dom.domain = (char *)IT_DOMAIN;
    dom.ttl = 0;
    if (it_call_err("/v1/domains/upsert", &dom.base, &models__upsert_domain_response__descriptor) !=
        IT_OK) {
        return -1;
    }
    dom.domain = (char *)"xfer-expiring";
    dom.ttl = 3600;
    if (it_call_err("/v1/domains/upsert", &dom.base, &models__upsert_domain_response__descriptor) !=
        IT_OK) {
        return -1;
    }
    a = bbs_arena_new();
    full = it_dlrp_full(bbs_arena_pb_allocator(a), guid_full, IT_DOMAIN, 2);
    if (it_desire_lrp(full) != IT_OK) {
        return -1;
    }
    bbs_arena_free(a);
    it_desire(guid_min, NULL, 3);
    if (it_claim(guid_full, 0, "ig-0", "cell-a") != IT_OK ||
        it_start(guid_full, 0, NULL, "ig-0", "cell-a", "10.0.0.1") != IT_OK ||
        it_start(guid_full, 1, NULL, "ig-1", "cell-b", "10.0.0.2") != IT_OK ||
        it_crash(guid_full, 1, NULL, "ig-1", "cell-b", "oom") != IT_OK ||
        it_fail(guid_min, 2, NULL, "no cells") != IT_OK) {
        return -1;
    }
    if (task_desire(task_a, IT_DOMAIN, NULL, "a", NULL, 0) != IT_OK ||
        task_desire(task_b, IT_DOMAIN, NULL, NULL, NULL, 0) != IT_OK ||
        task_start(task_b, "cell-a", &started) != IT_OK ||
        task_complete(task_b, "cell-a", 1, "boom", "") != IT_OK) {
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    int rc = it_group_teardown(state);

    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0) {
        return -1;
    }
    return rc;
}

/* ---- export and import ---- */

static void roundtrip(const char *form, const char *db)
{
    char *url = db_url(db);
    char *file = tmp_path(form);
    char *errf = tmp_path("stderr");
    const char *exp_lines[] = {"export", "--database-url", it_db_conninfo(), "--lines", NULL};
    const char *exp_doc[] = {"export", "--database-url", it_db_conninfo(), NULL};
    const char *imp[] = {"import", "--database-url", url, NULL};
    char *text;

    create_db(db);
    assert_int_equal(bbsctl(NULL, file, errf, strcmp(form, "lines") == 0 ? exp_lines : exp_doc), 0);
    text = slurp(errf);
    assert_non_null(strstr(text, "exported: domains 2, desired_lrps 2, actual_lrps 5, tasks 2"));
    free(text);
    /* Whole-message blobs appear as the objects upstream's models print. */
    text = slurp(file);
    assert_non_null(strstr(text, "\"routes\":{\"routes\":{\"cf-router\":"));
    assert_non_null(strstr(text, "\"volume_placement\":{\"driver_names\":[\"my-driver\""));
    assert_non_null(strstr(text, "\"task_definition\":{"));
    assert_non_null(strstr(text, "\"net_info\":{\"address\":\"10.0.0.1\""));
    free(text);
    assert_int_equal(bbsctl(file, NULL, errf, imp), 0);
    text = slurp(errf);
    assert_non_null(strstr(text, "imported: domains 2, desired_lrps 2, actual_lrps 5, tasks 2"));
    free(text);
    assert_int_equal(compare_dbs(it_db_conninfo(), url), 11);
    free(url);
    free(file);
    free(errf);
}

static void test_export_import_lines_reproduces_every_row(void **state)
{
    (void)state;
    roundtrip("lines", "bbs_it_xfer_lines");
}

static void test_export_import_document_reproduces_every_row(void **state)
{
    (void)state;
    roundtrip("document", "bbs_it_xfer_doc");
}

static void test_import_refuses_non_empty_unless_forced(void **state)
{
    char *url = db_url("bbs_it_xfer_lines"); /* filled by the first test */
    char *file = tmp_path("lines");
    char *errf = tmp_path("stderr");
    const char *imp[] = {"import", "--database-url", url, "--file", file, NULL};
    const char *force[] = {"import", "--database-url", url, "--file", file, "--force", NULL};
    char *text;

    (void)state;
    exec_on(url, "DELETE FROM tasks WHERE state = 1");
    assert_int_equal(count_rows(url, "tasks"), 1);
    assert_int_not_equal(bbsctl(NULL, NULL, errf, imp), 0);
    text = slurp(errf);
    assert_non_null(strstr(text, "not empty"));
    free(text);
    assert_int_equal(count_rows(url, "tasks"), 1); /* nothing changed */
    assert_int_equal(bbsctl(NULL, NULL, errf, force), 0);
    assert_int_equal(compare_dbs(it_db_conninfo(), url), 11);
    free(url);
    free(file);
    free(errf);
}

static void test_import_refuses_cut_export(void **state)
{
    char *url = db_url("bbs_it_xfer_cut");
    char *file = tmp_path("lines");
    char *cut = tmp_path("cut");
    char *errf = tmp_path("stderr");
    const char *imp[] = {"import", "--database-url", url, "--file", cut, NULL};
    char *text = slurp(file);
    char *last = strstr(text, "{\"end\"");
    FILE *f;

    (void)state;
    create_db("bbs_it_xfer_cut");
    assert_non_null(last);
    f = fopen(cut, "w");
    assert_non_null(f);
    fwrite(text, 1, (size_t)(last - text), f); /* every row, no end line */
    fclose(f);
    free(text);
    assert_int_not_equal(bbsctl(NULL, NULL, errf, imp), 0);
    text = slurp(errf);
    assert_non_null(strstr(text, "no \"end\" line"));
    free(text);
    assert_int_equal(count_rows(url, "desired_lrps"), 0);
    free(url);
    free(file);
    free(cut);
    free(errf);
}

static void test_export_import_sealed(void **state)
{
    char *src = db_url("bbs_it_xfer_lines");
    char *dst = db_url("bbs_it_xfer_sealed");
    char *back = db_url("bbs_it_xfer_back");
    char *f1 = tmp_path("sealed1"), *f2 = tmp_path("sealed2"), *errf = tmp_path("stderr");
    const char *imp_sealed[] = {"import", "--database-url",   dst,           "--file",
                                f1,       "--encryption-key", "k1:pass-one", NULL};
    const char *exp_nokey[] = {"export", "--database-url", dst, NULL};
    const char *exp_key[] = {"export",           "--database-url", dst,
                             "--encryption-key", "k1:pass-one",    NULL};
    const char *exp_src[] = {"export", "--database-url", src, NULL};
    const char *imp_back[] = {"import", "--database-url", back, "--file", f2, NULL};
    char *text;
    PGconn *c;
    PGresult *r;

    (void)state;
    create_db("bbs_it_xfer_sealed");
    create_db("bbs_it_xfer_back");
    assert_int_equal(bbsctl(NULL, f1, errf, exp_src), 0);
    assert_int_equal(bbsctl(NULL, NULL, errf, imp_sealed), 0);
    /* Sealed on disk under k1. */
    c = connect_to(dst);
    r = PQexec(c, "SELECT count(*) FROM tasks WHERE " SEALED_SQL("task_definition"));
    assert_int_equal(atoi(PQgetvalue(r, 0, 0)), 2);
    PQclear(r);
    PQfinish(c);
    /* Without the key the export refuses, naming the label. */
    assert_int_not_equal(bbsctl(NULL, f2, errf, exp_nokey), 0);
    text = slurp(errf);
    assert_non_null(strstr(text, "\"k1\""));
    free(text);
    /* With it, the plain export loads back to the same rows. */
    assert_int_equal(bbsctl(NULL, f2, errf, exp_key), 0);
    assert_int_equal(bbsctl(NULL, NULL, errf, imp_back), 0);
    assert_int_equal(compare_dbs(src, back), 11);
    free(src);
    free(dst);
    free(back);
    free(f1);
    free(f2);
    free(errf);
}

/* ---- migration from upstream ---- */

/* Upstream's tables after all its migrations (reference 6.1), PostgreSQL. */
static const char UPSTREAM_DDL[] =
    "CREATE TABLE configurations (id VARCHAR(255) PRIMARY KEY, value VARCHAR(255));"
    "INSERT INTO configurations VALUES ('version', '{\"CurrentVersion\": 1772581987}');"
    "CREATE TABLE domains (domain VARCHAR(255) PRIMARY KEY, expire_time BIGINT DEFAULT 0);"
    "CREATE TABLE desired_lrps (process_guid VARCHAR(255) PRIMARY KEY, domain VARCHAR(255) NOT "
    "NULL, log_guid VARCHAR(255) NOT NULL, annotation TEXT, instances INT NOT NULL, memory_mb INT "
    "NOT NULL, disk_mb INT NOT NULL, rootfs VARCHAR(1024) NOT NULL, routes TEXT NOT NULL, "
    "volume_placement TEXT NOT NULL, modification_tag_epoch VARCHAR(255) NOT NULL, "
    "modification_tag_index INT, run_info TEXT NOT NULL, placement_tags TEXT, max_pids INTEGER "
    "DEFAULT 0, metric_tags TEXT, update_strategy INT NOT NULL DEFAULT 0);"
    "CREATE TABLE actual_lrps (process_guid VARCHAR(255), instance_index INT, evacuating BOOL "
    "DEFAULT false, domain VARCHAR(255) NOT NULL, state VARCHAR(255) NOT NULL, instance_guid "
    "VARCHAR(255) NOT NULL DEFAULT '', cell_id VARCHAR(255) NOT NULL DEFAULT '', placement_error "
    "VARCHAR(1024) NOT NULL DEFAULT '', since BIGINT DEFAULT 0, net_info TEXT NOT NULL, "
    "modification_tag_epoch VARCHAR(255) NOT NULL, modification_tag_index INT, crash_count INT NOT "
    "NULL DEFAULT 0, crash_reason VARCHAR(1024) NOT NULL DEFAULT '', expire_time BIGINT DEFAULT "
    "0, presence INT NOT NULL DEFAULT 0, internal_routes TEXT, metric_tags TEXT, routable BOOL "
    "DEFAULT false, availability_zone VARCHAR(255) NOT NULL DEFAULT '', PRIMARY KEY "
    "(process_guid, instance_index, presence));"
    "CREATE TABLE tasks (guid VARCHAR(255) PRIMARY KEY, domain VARCHAR(255) NOT NULL, updated_at "
    "BIGINT DEFAULT 0, created_at BIGINT DEFAULT 0, first_completed_at BIGINT DEFAULT 0, state "
    "INT, cell_id VARCHAR(255) NOT NULL DEFAULT '', result TEXT, failed BOOL DEFAULT false, "
    "failure_reason VARCHAR(1024) NOT NULL DEFAULT '', task_definition TEXT NOT NULL, "
    "rejection_count INT NOT NULL DEFAULT 0, rejection_reason VARCHAR(1024) NOT NULL DEFAULT '');"
    "CREATE TABLE bbs_health_check (id SERIAL PRIMARY KEY, time BIGINT NOT NULL);";

/* Upstream's encodings (6.3): "encoded" = sealed `pt` in upstream's form
 * ("02" + base64 of the envelope; we seal in the compact form, 0x00 +
 * envelope, and re-encode); "serialized" = sealed 0x02 0x00 + protobuf.
 * Returns a malloc'd NUL-terminated string. */
static char *encode(const struct bbs_crypt *ring, const void *pt, size_t n)
{
    struct bbs_buf compact = {0};
    struct bbs_buf out = {0};
    struct bbs_error err = {0};

    assert_int_equal(bbs_crypt_seal(ring, pt, n, &compact, &err), 0);
    assert_int_equal(compact.data[0], BBS_CRYPT_COMPACT);
    bbs_buf_append(&out, "02", 2);
    bbs_crypt_b64_encode(&out, compact.data + 1, compact.len - 1);
    bbs_buf_putc(&out, '\0');
    bbs_buf_free(&compact);
    return (char *)out.data;
}

static char *serialize(const struct bbs_crypt *ring, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n + 2);
    char *s;

    buf[0] = 0x02;
    buf[1] = 0x00;
    protobuf_c_message_pack(m, buf + 2);
    s = encode(ring, buf, n + 2);
    free(buf);
    return s;
}

static void insert(const char *url, const char *sql, int n, const char *const *params)
{
    PGconn *c = connect_to(url);
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(r));
        fail();
    }
    PQclear(r);
    PQfinish(c);
}

/* md5 of every upstream table's rows: the source must not change. */
static char *source_digest(const char *url)
{
    PGconn *c = connect_to(url);
    PGresult *r = PQexec(
        c, "SELECT md5((SELECT coalesce(string_agg(t::text, '|' ORDER BY t::text), '') FROM "
           "domains t) || (SELECT coalesce(string_agg(t::text, '|' ORDER BY t::text), '') FROM "
           "desired_lrps t) || (SELECT coalesce(string_agg(t::text, '|' ORDER BY t::text), '') "
           "FROM actual_lrps t) || (SELECT coalesce(string_agg(t::text, '|' ORDER BY t::text), "
           "'') FROM tasks t) || (SELECT string_agg(t::text, '|' ORDER BY t::text) FROM "
           "configurations t))");
    char *s;

    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    s = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return s;
}

static void fill_upstream(const char *url)
{
    static const struct bbs_crypt_key_cfg keys[] = {{"old-key", "old passphrase"},
                                                    {"new-key", "new passphrase"}};
    struct bbs_error err = {0};
    struct bbs_crypt *old_ring = bbs_crypt_new(keys, 2, "old-key", &err);
    struct bbs_crypt *new_ring = bbs_crypt_new(keys, 2, "new-key", &err);
    Models__DesiredLRPRunInfo ri = MODELS__DESIRED_LRPRUN_INFO__INIT;
    Models__DesiredLRPKey key = MODELS__DESIRED_LRPKEY__INIT;
    Models__Action action = MODELS__ACTION__INIT;
    Models__RunAction run = MODELS__RUN_ACTION__INIT;
    Models__EnvironmentVariable env = MODELS__ENVIRONMENT_VARIABLE__INIT, *envs[1] = {&env};
    uint32_t ports[2] = {8080, 9090};
    Models__ActualLRPNetInfo ni = MODELS__ACTUAL_LRPNET_INFO__INIT;
    Models__PortMapping pm = MODELS__PORT_MAPPING__INIT, *pms[1] = {&pm};
    Models__TaskDefinition td = MODELS__TASK_DEFINITION__INIT;
    Models__VolumePlacement vp = MODELS__VOLUME_PLACEMENT__INIT;
    char *run_info, *routes, *tags, *vol, *net, *iroutes, *atags, *tdef;

    assert_non_null(old_ring);
    assert_non_null(new_ring);
    exec_on(url, UPSTREAM_DDL);
    key.process_guid = (char *)"up-lrp";
    key.domain = (char *)"cf-apps";
    key.log_guid = (char *)"up-log";
    run.path = (char *)"/bin/app";
    run.user = (char *)"vcap";
    action.run_action = &run;
    env.name = (char *)"PORT";
    env.value = (char *)"8080";
    ri.desired_lrp_key = &key;
    ri.action = &action;
    ri.n_environment_variables = 1;
    ri.environment_variables = envs;
    ri.n_ports = 2;
    ri.ports = ports;
    ri.log_source = (char *)"APP";
    ri.metrics_guid = (char *)"up-metrics";
    ri.created_at = 1700000000123456789LL;
    ri.cpu_weight = 7;
    ri.privileged = 1;
    run_info = serialize(old_ring, &ri.base); /* an older row: sealed under the old key */
    routes = encode(new_ring, "{\"cf-router\":[{\"hostnames\":[\"a.example.com\"],\"port\":8080}]}",
                    strlen("{\"cf-router\":[{\"hostnames\":[\"a.example.com\"],\"port\":8080}]}"));
    tags = encode(new_ring, "{\"source_id\":{\"static\":\"up-src\"},\"idx\":{\"dynamic\":1}}",
                  strlen("{\"source_id\":{\"static\":\"up-src\"},\"idx\":{\"dynamic\":1}}"));
    vol = serialize(new_ring, &vp.base);
    {
        const char *p[] = {run_info, routes, tags, vol};

        insert(url, "INSERT INTO domains VALUES ('cf-apps', 9223372036854775807)", 0, NULL);
        insert(url,
               "INSERT INTO desired_lrps (process_guid, domain, log_guid, annotation, instances, "
               "memory_mb, disk_mb, rootfs, routes, volume_placement, modification_tag_epoch, "
               "modification_tag_index, run_info, placement_tags, max_pids, metric_tags, "
               "update_strategy) VALUES ('up-lrp', 'cf-apps', 'up-log', 'annotated', 2, 512, "
               "2048, 'preloaded:cflinuxfs4', $2, $4, 'epoch-up', 4, $1, '[\"zone-a\"]', 100, $3, "
               "0)",
               4, p);
    }
    pm.container_port = 8080;
    pm.host_port = 61001;
    ni.address = (char *)"10.1.0.5";
    ni.instance_address = (char *)"10.255.0.5";
    ni.n_ports = 1;
    ni.ports = pms;
    net = serialize(new_ring, &ni.base);
    iroutes = encode(new_ring, "[{\"hostname\":\"up.apps.internal\"}]",
                     strlen("[{\"hostname\":\"up.apps.internal\"}]"));
    atags = encode(new_ring, "{\"app\":\"up\"}", strlen("{\"app\":\"up\"}"));
    {
        const char *p[] = {net, iroutes, atags};

        insert(url,
               "INSERT INTO actual_lrps (process_guid, instance_index, domain, state, "
               "instance_guid, cell_id, since, net_info, modification_tag_epoch, "
               "modification_tag_index, presence, internal_routes, metric_tags, routable, "
               "availability_zone) VALUES ('up-lrp', 0, 'cf-apps', 'RUNNING', 'up-ig-0', "
               "'cell-1', 1700000000000000000, $1, 'aepoch-0', 3, 0, $2, $3, true, 'z1')",
               3, p);
        insert(url,
               "INSERT INTO actual_lrps (process_guid, instance_index, domain, state, "
               "instance_guid, cell_id, since, net_info, modification_tag_epoch, "
               "modification_tag_index, presence, evacuating, internal_routes, metric_tags, "
               "routable) VALUES ('up-lrp', 0, 'cf-apps', 'RUNNING', 'up-ig-old', 'cell-0', 17, "
               "$1, 'aepoch-e', 1, 1, true, $2, $3, true)",
               3, p);
    }
    {
        const char *p[] = {serialize(old_ring, &ni.base)}; /* empty-ish net info, no routes */
        Models__ActualLRPNetInfo empty = MODELS__ACTUAL_LRPNET_INFO__INIT;

        free((void *)p[0]);
        p[0] = serialize(old_ring, &empty.base);
        insert(url,
               "INSERT INTO actual_lrps (process_guid, instance_index, domain, state, since, "
               "net_info, modification_tag_epoch, modification_tag_index, crash_count, "
               "crash_reason, placement_error, internal_routes, metric_tags) VALUES ('up-lrp', "
               "1, 'cf-apps', 'UNCLAIMED', 5, $1, 'aepoch-1', 0, 2, 'crashed twice', 'no room', "
               "NULL, NULL)",
               1, p);
        free((void *)p[0]);
    }
    td.root_fs = (char *)"docker:///busybox";
    td.action = &action;
    td.memory_mb = 64;
    td.log_guid = (char *)"task-log";
    tdef = serialize(new_ring, &td.base);
    {
        const char *p[] = {tdef};

        insert(url,
               "INSERT INTO tasks VALUES ('up-task', 'cf-tasks', 30, 10, 20, 3, '', 'the "
               "result', false, '', $1, 1, 'rejected once')",
               1, p);
    }
    free(run_info);
    free(routes);
    free(tags);
    free(vol);
    free(net);
    free(iroutes);
    free(atags);
    free(tdef);
    bbs_crypt_free(old_ring);
    bbs_crypt_free(new_ring);
}

static void test_migrate_from_upstream(void **state)
{
    char *src = db_url("bbs_it_xfer_upstream");
    char *dst = db_url("bbs_it_xfer_migrated");
    char *errf = tmp_path("stderr");
    const char *one_key[] = {"migrate-from-upstream",  "--source", src,
                             "--database-url",         dst,        "--encryption-key",
                             "new-key:new passphrase", NULL};
    const char *both[] = {"migrate-from-upstream",
                          "--source",
                          src,
                          "--database-url",
                          dst,
                          "--encryption-key",
                          "new-key:new passphrase",
                          "--encryption-key",
                          "old-key:old passphrase",
                          "--active-key-label",
                          "new-key",
                          NULL};
    char *skip_url = db_url("bbs_it_xfer_skip");
    const char *skip[] = {"migrate-from-upstream",  "--source",   src,
                          "--database-url",         skip_url,     "--encryption-key",
                          "new-key:new passphrase", "--skip-bad", NULL};
    char *before, *after, *text;
    json_t *extra;
    Models__DesiredLRPResponse *d;
    Models__ActualLRPsResponse *al;
    const Models__ActualLRP *a0;
    Models__TaskResponse *tr = NULL;
    Models__Task *t;

    (void)state;
    create_db("bbs_it_xfer_upstream");
    create_db("bbs_it_xfer_migrated");
    fill_upstream(src);
    before = source_digest(src);

    /* A row sealed under a key not given: reported by guid and label, nothing written. */
    assert_int_not_equal(bbsctl(NULL, NULL, errf, one_key), 0);
    text = slurp(errf);
    assert_non_null(strstr(text, "desired_lrps up-lrp"));
    assert_non_null(strstr(text, "old-key"));
    assert_non_null(strstr(text, "nothing written"));
    free(text);
    assert_int_equal(count_rows(dst, "domains"), 0);

    /* --skip-bad: the rows under the missing key (the desired LRP's run info,
     * one actual LRP's net info) reported and left out, the rest migrated. */
    create_db("bbs_it_xfer_skip");
    assert_int_equal(bbsctl(NULL, NULL, errf, skip), 0);
    text = slurp(errf);
    assert_non_null(strstr(text, "skipped 2 rows"));
    assert_non_null(strstr(text, "actual_lrps up-lrp"));
    free(text);
    assert_int_equal(count_rows(skip_url, "desired_lrps"), 0);
    assert_int_equal(count_rows(skip_url, "actual_lrps"), 2);
    assert_int_equal(count_rows(skip_url, "tasks"), 1);

    assert_int_equal(bbsctl(NULL, NULL, errf, both), 0);
    text = slurp(errf);
    assert_non_null(strstr(text, "migrated: domains 1, desired_lrps 1, actual_lrps 3, tasks 1"));
    free(text);
    after = source_digest(src);
    assert_string_equal(before, after); /* the source unchanged */

    /* A migrated target is not empty any more: a second run is refused. */
    assert_int_not_equal(bbsctl(NULL, NULL, errf, both), 0);

    /* Read everything back through the API of a server on the migrated database. */
    extra = json_object();
    json_object_set_new(extra, "database_connection_string", json_string(dst));
    json_object_set_new(
        extra, "encryption_keys",
        json_pack("{s:s, s:s}", "new-key", "new passphrase", "old-key", "old passphrase"));
    json_object_set_new(extra, "active_key_label", json_string("new-key"));
    assert_int_equal(it_server_restart_config(extra), 0);

    d = it_get_desired("up-lrp");
    assert_null(d->error);
    assert_non_null(d->desired_lrp);
    assert_string_equal(d->desired_lrp->domain, "cf-apps");
    assert_string_equal(d->desired_lrp->log_guid, "up-log");
    assert_string_equal(d->desired_lrp->annotation, "annotated");
    assert_int_equal(d->desired_lrp->instances, 2);
    assert_int_equal(d->desired_lrp->memory_mb, 512);
    assert_int_equal(d->desired_lrp->max_pids, 100);
    assert_string_equal(d->desired_lrp->metrics_guid, "up-metrics");
    assert_int_equal(d->desired_lrp->cpu_weight, 7);
    assert_true(d->desired_lrp->privileged);
    assert_int_equal(d->desired_lrp->n_ports, 2);
    assert_int_equal(d->desired_lrp->n_environment_variables, 1);
    assert_string_equal(d->desired_lrp->action->run_action->path, "/bin/app");
    assert_string_equal(d->desired_lrp->modification_tag->epoch, "epoch-up");
    assert_int_equal(d->desired_lrp->modification_tag->index, 4);
    assert_int_equal(d->desired_lrp->n_placementtags, 1);
    assert_string_equal(d->desired_lrp->placementtags[0], "zone-a");
    assert_non_null(d->desired_lrp->routes);
    assert_int_equal(d->desired_lrp->routes->n_routes, 1);
    assert_string_equal(d->desired_lrp->routes->routes[0]->key, "cf-router");
    assert_non_null(
        strstr((const char *)d->desired_lrp->routes->routes[0]->value.data, "a.example.com"));
    assert_int_equal(d->desired_lrp->n_metric_tags, 2);
    it_free(d);

    al = it_list_actuals("up-lrp");
    assert_null(al->error);
    assert_int_equal(al->n_actual_lrps, 3);
    a0 = it_find_actual(al, 0, 0);
    assert_non_null(a0);
    assert_string_equal(a0->state, "RUNNING");
    assert_string_equal(a0->actual_lrp_instance_key->cell_id, "cell-1");
    assert_string_equal(a0->actual_lrp_net_info->address, "10.1.0.5");
    assert_int_equal(a0->actual_lrp_net_info->ports[0]->host_port, 61001);
    assert_string_equal(a0->modification_tag->epoch, "aepoch-0");
    assert_int_equal(a0->modification_tag->index, 3);
    assert_int_equal(a0->n_actual_lrp_internal_routes, 1);
    assert_string_equal(a0->actual_lrp_internal_routes[0]->hostname, "up.apps.internal");
    assert_int_equal(a0->n_metric_tags, 1);
    assert_string_equal(a0->availability_zone, "z1");
    assert_int_equal(a0->since, 1700000000000000000LL);
    a0 = it_find_actual(al, 0, 1); /* the evacuating copy */
    assert_non_null(a0);
    assert_string_equal(a0->actual_lrp_instance_key->instance_guid, "up-ig-old");
    a0 = it_find_actual(al, 1, 0);
    assert_non_null(a0);
    assert_string_equal(a0->state, "UNCLAIMED");
    assert_int_equal(a0->crash_count, 2);
    assert_string_equal(a0->crash_reason, "crashed twice");
    assert_string_equal(a0->placement_error, "no room");
    it_free(al);

    t = task_get("up-task", &tr);
    assert_non_null(t);
    assert_int_equal(t->state, 3);
    assert_string_equal(t->domain, "cf-tasks");
    assert_string_equal(t->result, "the result");
    assert_int_equal(t->rejection_count, 1);
    assert_string_equal(t->rejection_reason, "rejected once");
    assert_int_equal(t->created_at, 10);
    assert_int_equal(t->first_completed_at, 20);
    assert_string_equal(t->task_definition->root_fs, "docker:///busybox");
    assert_string_equal(t->task_definition->log_guid, "task-log");
    it_free(tr);

    free(before);
    free(after);
    free(skip_url);
    free(src);
    free(dst);
    free(errf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_export_import_lines_reproduces_every_row),
        cmocka_unit_test(test_export_import_document_reproduces_every_row),
        cmocka_unit_test(test_import_refuses_non_empty_unless_forced),
        cmocka_unit_test(test_import_refuses_cut_export),
        cmocka_unit_test(test_export_import_sealed),
        cmocka_unit_test(test_migrate_from_upstream), /* last: restarts the server elsewhere */
    };

    it_set_name("xfer");
    return it_main_exit(cmocka_run_group_tests_name("xfer", tests, setup, teardown));
}
