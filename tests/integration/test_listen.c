/*
 * test_listen.c - start-up with a port in use, and the request log line.
 *
 * A server whose listen_address or health_address is taken exits 1 with
 * the OS error in its fatal line ("cannot listen on 127.0.0.1:P: Address
 * already in use") before anything slow has run: the embedded PostgreSQL's
 * data_dir is not created, and no migration touches the database. The
 * harness server of this group supplies the test database cluster; the
 * servers under test are separate processes started with it_run.
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>

/* A loopback socket listening on a port of its own; `*port` receives the port. */
static int hold_port(int *port)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A port nobody listens on right now. */
static int free_port(void)
{
    int port;
    int fd = hold_port(&port);

    close(fd);
    return port;
}

/* The whole file at `path` (malloc'd, NUL-terminated); asserts it is readable. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 1 << 20);
    size_t n;

    assert_non_null(f);
    assert_non_null(buf);
    n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/*
 * Run the binary with `cfg` (a JSON object, consumed) from a fresh temp
 * dir; returns its exit status and its log in `*log` (free it).
 */
static int run_server(json_t *cfg, const char *dir, char **log)
{
    char cfg_path[512];
    char log_path[512];
    const char *argv[4];
    int rc;

    snprintf(cfg_path, sizeof(cfg_path), "%s/config.json", dir);
    snprintf(log_path, sizeof(log_path), "%s/log", dir);
    if (getenv("BBS_MIGRATIONS_DIR") != NULL) {
        json_object_set_new(cfg, "migrations_dir", json_string(getenv("BBS_MIGRATIONS_DIR")));
    }
    json_object_set_new(cfg, "log_level", json_string("info"));
    assert_int_equal(json_dump_file(cfg, cfg_path, 0), 0);
    json_decref(cfg);
    argv[0] = getenv("BBS_BINARY");
    argv[1] = "-config";
    argv[2] = cfg_path;
    argv[3] = NULL;
    rc = it_run(argv, log_path);
    *log = slurp(log_path);
    unlink(cfg_path);
    unlink(log_path);
    return rc;
}

static void assert_refused(int rc, const char *log, int port)
{
    char want[128];

    snprintf(want, sizeof(want), "cannot listen on 127.0.0.1:%d: Address already in use", port);
    if (rc != 1 || strstr(log, want) == NULL || strstr(log, "bbs.listen.failed") == NULL) {
        fail_msg("exit %d, expected 1 and \"%s\" in the log:\n%s", rc, want, log);
    }
}

/* Embedded PostgreSQL (no connection string): the health port is checked before initdb. */
static void test_health_port_in_use_stops_before_initdb(void **state)
{
    char dir[] = "/tmp/bbs-it-listen-XXXXXX";
    char data_dir[600];
    char listen[64], health[64];
    struct stat st;
    char *log = NULL;
    int port;
    int held = hold_port(&port);
    int rc;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(data_dir, sizeof(data_dir), "%s/data", dir);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", free_port());
    snprintf(health, sizeof(health), "127.0.0.1:%d", port);
    rc = run_server(json_pack("{s:s, s:s, s:s}", "listen_address", listen, "health_address", health,
                              "data_dir", data_dir),
                    dir, &log);
    close(held);
    assert_refused(rc, log, port);
    assert_null(strstr(log, "embedded-postgres"));
    assert_int_equal(stat(data_dir, &st), -1);
    assert_int_equal(errno, ENOENT);
    free(log);
    rmdir(dir);
}

/* Count the tables named `table` in database `dbname` of the fixture cluster. */
static int tables_named(const char *dbname, const char *table)
{
    char conninfo[1024];
    const char *params[1] = {table};
    PGconn *c;
    PGresult *r;
    int n;

    snprintf(conninfo, sizeof(conninfo), "%s dbname=%s", it_db_conninfo(), dbname);
    c = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    r = PQexecParams(c, "SELECT count(*) FROM pg_tables WHERE tablename = $1", 1, NULL, params,
                     NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return n;
}

/* External database: the API port is checked before the migrations run. */
static void test_listen_port_in_use_stops_before_migrations(void **state)
{
    char dir[] = "/tmp/bbs-it-listen-XXXXXX";
    char dbname[64], sql[128], conninfo[1024];
    char listen[64], health[64];
    char *log = NULL;
    int port;
    int held;
    int rc;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(dbname, sizeof(dbname), "bbs_it_listen_fresh_%d", (int)getpid());
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", dbname);
    assert_true(it_db_exec(sql, 0, NULL) >= 0);
    snprintf(conninfo, sizeof(conninfo), "%s dbname=%s", it_db_conninfo(), dbname);
    held = hold_port(&port);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(health, sizeof(health), "127.0.0.1:%d", free_port());
    rc = run_server(json_pack("{s:s, s:s, s:s}", "listen_address", listen, "health_address", health,
                              "database_connection_string", conninfo),
                    dir, &log);
    close(held);
    assert_refused(rc, log, port);
    assert_int_equal(tables_named(dbname, "schema_migrations"), 0);
    snprintf(sql, sizeof(sql), "DROP DATABASE %s", dbname);
    assert_true(it_db_exec(sql, 0, NULL) >= 0);
    free(log);
    rmdir(dir);
}

/* duration_ms of bbs.request.served is in ms with at most three decimals (whole µs). */
static void test_duration_ms_is_rounded_to_microseconds(void **state)
{
    struct it_resp r;
    char *log;
    const char *p;
    int seen = 0;
    (void)state;

    for (int i = 0; i < 20; i++) {
        it_post_raw("/v1/ping", NULL, 0, &r);
        assert_int_equal(r.status, 200);
        it_resp_free(&r);
    }
    it_sleep_ms(200); /* let the log lines reach the file */
    log = it_server_log();
    assert_non_null(log);
    for (p = strstr(log, "\"duration_ms\":"); p != NULL; p = strstr(p, "\"duration_ms\":")) {
        const char *num = p + strlen("\"duration_ms\":");
        size_t len = strspn(num, "0123456789.eE-+");
        const char *dot = memchr(num, '.', len);

        if (len == 0 || memchr(num, 'e', len) != NULL || memchr(num, 'E', len) != NULL ||
            (dot != NULL && (size_t)(num + len - dot - 1) > 3)) {
            fail_msg("duration_ms %.*s has more than three decimals", (int)(len + 1), num);
        }
        seen++;
        p = num;
    }
    assert_true(seen >= 20);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_port_in_use_stops_before_initdb),
        cmocka_unit_test(test_listen_port_in_use_stops_before_migrations),
        cmocka_unit_test(test_duration_ms_is_rounded_to_microseconds),
    };

    it_set_name("listen");
    return it_main_exit(
        cmocka_run_group_tests_name("listen", tests, it_group_setup, it_group_teardown));
}
