/*
 * test_api_diag.c - the operator's questions (docs/api.md, "Diagnostics"):
 * GET /v1/discover, /v1/diagnostics and /v1/stats on the API listener and
 * on the health listener; the X-Vcap-Request-Id of a request in its log
 * line (upstream lager's "trace-id"); and upstream's main_test "when the
 * metron agent isn't up, exit with non-zero status code".
 *
 * Group "diag" runs its own PostgreSQL cluster (tests/fixtures/pg_start.sh
 * on a private directory, as test_faults.c does) so that stopping it, the
 * last test, disturbs no other test. Two encryption keys are configured so
 * that each gets its own check. The auctioneer is the harness's stub; one
 * test points the server at a socket that accepts connections and never
 * answers.
 *
 * Group "metron": the loggregator agent stand-in (support/ingress.h); a
 * server whose agent port has nobody listening, or whose client
 * certificate the agent refuses, exits 1 at start-up with upstream's
 * failed-to-initialize-metron-client.
 */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <curl/curl.h>

#include "support/ingress.h"
#include "support/prom.h"
#include "task_it.h"

#define DOMAIN "diag-domain"

static char pgdir[128];
static char shared_pgdir[512]; /* the fixture's cluster, for the groups after "diag" */

static int wait_ms(void)
{
    return it_valgrind() ? 60000 : 20000;
}

static int pg_script(const char *script)
{
    char path[600];
    char log[300];
    const char *dir = getenv("BBS_FIXTURES_DIR");
    const char *argv[] = {path, pgdir, NULL};

    if (dir == NULL || dir[0] == '\0') {
        fprintf(stderr, "test_api_diag: BBS_FIXTURES_DIR is not set\n");
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, script);
    snprintf(log, sizeof(log), "%s.log", pgdir);
    if (it_run(argv, log) != 0) {
        fprintf(stderr, "test_api_diag: %s %s failed; see %s\n", script, pgdir, log);
        return -1;
    }
    return 0;
}

/* GET `path` on the API listener (`health` 0) or the health listener; the body parsed as JSON. */
static json_t *get_json(int health, const char *path, long *status, char *ctype, size_t ctlen)
{
    struct it_resp r = {0};
    struct it_client *c = it_client_new();
    char err[256];
    json_error_t jerr;
    json_t *v;

    assert_non_null(c);
    if (!health) {
        assert_int_equal(it_client_request(c, "GET", path, NULL, 0, NULL, 0, &r, err, sizeof(err)),
                         0);
    } else {
        CURL *h = curl_easy_init();
        char url[300];
        FILE *mem;
        char *buf = NULL;
        size_t len = 0;
        char *ct = NULL;

        assert_non_null(h);
        mem = open_memstream(&buf, &len);
        assert_non_null(mem);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", it_health_port(), path);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, mem);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
        assert_int_equal(curl_easy_perform(h), CURLE_OK);
        fclose(mem);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
        curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(r.content_type, sizeof(r.content_type), "%s", ct != NULL ? ct : "");
        r.body = (uint8_t *)buf;
        r.len = len;
        curl_easy_cleanup(h);
    }
    *status = r.status;
    if (ctype != NULL) {
        snprintf(ctype, ctlen, "%s", r.content_type);
    }
    v = json_loadb((const char *)r.body, r.len, 0, &jerr);
    if (v == NULL) {
        fail_msg("%s: not JSON (%s): %.*s", path, jerr.text, (int)r.len, (const char *)r.body);
    }
    if (!health) {
        it_resp_free(&r);
    } else {
        free(r.body);
    }
    it_client_free(c);
    return v;
}

/* The check named `name` of a diagnostics answer, or NULL. */
static json_t *find_check(json_t *diag, const char *name)
{
    json_t *checks = json_object_get(diag, "checks");
    size_t i;
    json_t *c;

    json_array_foreach(checks, i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0) {
            return c;
        }
    }
    return NULL;
}

static const char *check_status(json_t *diag, const char *name)
{
    json_t *c = find_check(diag, name);

    if (c == NULL) {
        fail_msg("no check \"%s\" in %s", name, json_dumps(diag, JSON_COMPACT));
    }
    return json_string_value(json_object_get(c, "status"));
}

/* Every check is {name, status: PASS|FAIL, reason: non-empty string} and nothing else. */
static void assert_shape(json_t *diag)
{
    json_t *checks = json_object_get(diag, "checks");
    const char *overall = json_string_value(json_object_get(diag, "status"));
    int all_pass = 1;
    size_t i;
    json_t *c;

    assert_non_null(overall);
    assert_true(json_is_array(checks));
    assert_true(json_array_size(checks) > 0);
    assert_int_equal(json_object_size(diag), 2);
    json_array_foreach(checks, i, c)
    {
        const char *st = json_string_value(json_object_get(c, "status"));

        assert_int_equal(json_object_size(c), 3);
        assert_non_null(json_string_value(json_object_get(c, "name")));
        assert_non_null(st);
        assert_true(strcmp(st, "PASS") == 0 || strcmp(st, "FAIL") == 0);
        assert_true(strlen(json_string_value(json_object_get(c, "reason"))) > 0);
        all_pass &= strcmp(st, "PASS") == 0;
    }
    assert_string_equal(overall, all_pass ? "PASS" : "FAIL");
}

/* ---- discover ----------------------------------------------------------------------------- */

static void test_discover(void **state)
{
    (void)state;
    for (int health = 0; health < 2; health++) {
        long status = 0;
        char ctype[128];
        json_t *d = get_json(health, "/v1/discover", &status, ctype, sizeof(ctype));
        json_t *routes = json_object_get(d, "routes");
        json_t *revs = json_object_get(d, "revisions");
        json_t *start = json_object_get(revs, "/v1/actual_lrps/start");
        json_t *list = json_object_get(revs, "/v1/desired_lrps/list");
        int saw_ping = 0;
        int saw_diag = 0;
        int saw_stream = 0;
        size_t i;
        json_t *r;

        assert_int_equal(status, 200);
        assert_string_equal(ctype, "application/json");
        assert_string_equal(json_string_value(json_object_get(d, "version")), "0.1");
        assert_true(strlen(json_string_value(json_object_get(d, "release"))) > 0);
        json_array_foreach(routes, i, r)
        {
            const char *p = json_string_value(json_object_get(r, "path"));
            const char *m = json_string_value(json_object_get(r, "method"));
            const char *k = json_string_value(json_object_get(r, "kind"));

            saw_ping |=
                strcmp(p, "/v1/ping") == 0 && strcmp(m, "POST") == 0 && strcmp(k, "protobuf") == 0;
            saw_diag |= strcmp(p, "/v1/diagnostics") == 0 && strcmp(m, "GET") == 0 &&
                        strcmp(k, "json") == 0;
            saw_stream |= strcmp(p, "/v1/events/tasks.r1") == 0 && strcmp(k, "events") == 0;
        }
        assert_true(saw_ping);
        assert_true(saw_diag);
        assert_true(saw_stream);
        /* start.r1 and the unsuffixed start (revision 0), in table order. */
        assert_int_equal(json_array_size(start), 2);
        assert_int_equal(json_integer_value(json_array_get(start, 0)), 1);
        assert_int_equal(json_integer_value(json_array_get(start, 1)), 0);
        assert_int_equal(json_array_size(list), 2);
        assert_int_equal(json_integer_value(json_array_get(list, 0)), 3);
        assert_int_equal(json_integer_value(json_array_get(list, 1)), 2);
        json_decref(d);
    }
}

/* ---- diagnostics -------------------------------------------------------------------------- */

static void test_diagnostics_pass_when_all_up(void **state)
{
    static const char *const names[] = {"database",   "migrations",        "leader",
                                        "auctioneer", "encryption_key:k1", "encryption_key:k2"};
    (void)state;

    for (int health = 0; health < 2; health++) {
        long status = 0;
        char ctype[128];
        json_t *d = get_json(health, "/v1/diagnostics", &status, ctype, sizeof(ctype));

        assert_int_equal(status, 200);
        assert_string_equal(ctype, "application/json");
        assert_shape(d);
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            assert_string_equal(check_status(d, names[i]), "PASS");
        }
        /* Locket is not configured here: no check for it. */
        assert_null(find_check(d, "locket"));
        assert_string_equal(json_string_value(json_object_get(d, "status")), "PASS");
        json_decref(d);
    }
}

/* A listening socket that is never accepted from: connections open, nothing answers. */
static int silent_listener(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static json_t *base_extra(void);

static atomic_int slow_diag_done;

/* A diagnostics request on the health listener (slow: the silent auctioneer's timeout). */
static void *slow_diag(void *arg)
{
    CURL *h = curl_easy_init();
    char url[128];
    FILE *null = fopen("/dev/null", "w");

    (void)arg;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/diagnostics", it_health_port());
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, null);
    curl_easy_perform(h);
    curl_easy_cleanup(h);
    fclose(null);
    atomic_store(&slow_diag_done, 1);
    return NULL;
}

/* GET /ping on the health listener: its status. */
static long health_ping(void)
{
    CURL *h = curl_easy_init();
    char url[128];
    long status = 0;
    FILE *null = fopen("/dev/null", "w");

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ping", it_health_port());
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, null);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    fclose(null);
    return status;
}

static void test_diagnostics_fail_for_silent_auctioneer(void **state)
{
    int port = 0;
    int fd = silent_listener(&port);
    json_t *extra = base_extra();
    long status = 0;
    json_t *d;
    json_t *c;
    int64_t t0;
    (void)state;

    json_object_set_new(extra, "auctioneer_address", json_sprintf("http://127.0.0.1:%d", port));
    assert_int_equal(it_server_restart_config(extra), 0);
    t0 = it_mono_ms();
    d = get_json(0, "/v1/diagnostics", &status, NULL, 0);
    /* Bounded: the auctioneer check gives up after its timeout (2 s). */
    assert_true(it_mono_ms() - t0 < 15000);
    assert_int_equal(status, 200);
    assert_shape(d);
    assert_string_equal(json_string_value(json_object_get(d, "status")), "FAIL");
    assert_string_equal(check_status(d, "auctioneer"), "FAIL");
    c = find_check(d, "auctioneer");
    assert_non_null(strstr(json_string_value(json_object_get(c, "reason")), "127.0.0.1"));
    assert_string_equal(check_status(d, "database"), "PASS");
    json_decref(d);

    /* While a diagnostics answer waits for the auctioneer, the health listener still answers a
     * monitor's probe (a thread per connection): the probe is answered first. */
    {
        pthread_t t;

        atomic_store(&slow_diag_done, 0);
        assert_int_equal(pthread_create(&t, NULL, slow_diag, NULL), 0);
        it_sleep_ms(300);
        assert_int_equal(health_ping(), 200);
        assert_int_equal(atomic_load(&slow_diag_done), 0);
        pthread_join(t, NULL);
        assert_int_equal(atomic_load(&slow_diag_done), 1);
    }
    close(fd);
    json_decref(extra);
    /* Back to the stub auctioneer. */
    extra = base_extra();
    assert_int_equal(it_server_restart_config(extra), 0);
    json_decref(extra);
    d = get_json(1, "/v1/diagnostics", &status, NULL, 0);
    assert_string_equal(json_string_value(json_object_get(d, "status")), "PASS");
    json_decref(d);
}

/* ---- stats -------------------------------------------------------------------------------- */

static json_int_t num(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);

    if (b != NULL) {
        v = json_object_get(v, b);
    }
    if (!json_is_integer(v)) {
        fail_msg("stats: %s%s%s is not an integer", a, b ? "." : "", b ? b : "");
    }
    return json_integer_value(v);
}

static void test_stats_counts_move(void **state)
{
    char guid[64];
    char task[64];
    long status = 0;
    json_t *before;
    json_t *after;
    json_t *h;
    (void)state;

    it_uniq(guid, sizeof(guid), "diag-lrp");
    it_uniq(task, sizeof(task), "diag-task");
    before = get_json(0, "/v1/stats", &status, NULL, 0);
    assert_int_equal(status, 200);
    assert_null(json_object_get(before, "counts_error"));
    it_desire(guid, DOMAIN, 3);
    assert_int_equal(task_desire(task, DOMAIN, NULL, NULL, NULL, 0), IT_OK);
    after = get_json(0, "/v1/stats", &status, NULL, 0);
    assert_int_equal(num(after, "desired_lrps", NULL), num(before, "desired_lrps", NULL) + 1);
    assert_int_equal(num(after, "actual_lrps", "UNCLAIMED"),
                     num(before, "actual_lrps", "UNCLAIMED") + 3);
    assert_int_equal(num(after, "actual_lrps", "RUNNING"), num(before, "actual_lrps", "RUNNING"));
    assert_int_equal(num(after, "tasks", "Pending"), num(before, "tasks", "Pending") + 1);
    assert_int_equal(num(after, "tasks", "Running"), num(before, "tasks", "Running"));
    assert_int_equal(num(after, "evacuating_actual_lrps", NULL), 0);
    /* The stats request itself and the two writes at least. */
    assert_true(num(after, "requests_served", NULL) >= num(before, "requests_served", NULL) + 3);
    assert_true(json_real_value(json_object_get(after, "uptime_seconds")) >=
                json_real_value(json_object_get(before, "uptime_seconds")));
    assert_true(json_real_value(json_object_get(after, "uptime_seconds")) > 0);
    /* The health listener answers the same counts. */
    h = get_json(1, "/v1/stats", &status, NULL, 0);
    assert_int_equal(status, 200);
    assert_int_equal(num(h, "desired_lrps", NULL), num(after, "desired_lrps", NULL));
    assert_int_equal(num(h, "tasks", "Pending"), num(after, "tasks", "Pending"));
    json_decref(h);
    json_decref(before);
    json_decref(after);
}

/* ---- Prometheus: EncryptionDuration and the start time ------------------------------------ */

/* GET /metrics on the health listener, parsed strictly; `name` (no labels) in *v. 0 if absent. */
static int prom_value(const char *name, double *v)
{
    CURL *h = curl_easy_init();
    char url[128];
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    struct it_prom p;
    int found;

    assert_non_null(h);
    assert_non_null(mem);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", it_health_port());
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, mem);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    fclose(mem);
    curl_easy_cleanup(h);
    if (it_prom_parse(&p, buf, len) != 0) {
        fail_msg("/metrics does not parse: %s", p.error);
    }
    found = it_prom_get(&p, name, "", v);
    it_prom_free(&p);
    free(buf);
    return found;
}

static void test_prometheus_encryption_duration_and_start_time(void **state)
{
    int64_t t0 = it_mono_ms();
    double v = 0;
    (void)state;

    /* The start-up re-keying pass (two keys configured) finishes and is reported once. */
    for (;;) {
        assert_true(prom_value("bbs_encryption_duration_seconds", &v));
        if (v > 0) {
            break;
        }
        assert_true(it_mono_ms() - t0 < wait_ms());
        it_sleep_ms(100);
    }
    assert_true(prom_value("bbs_process_start_time_seconds", &v));
    assert_true(v > 1.7e9); /* seconds since the epoch, not since boot */
}

/* ---- request ids in the request log line --------------------------------------------------- */

/* The server's request.served line for `path`, or NULL (malloc'd copy of the line). */
static char *served_line(const char *path)
{
    char *log = it_server_log();
    char needle[300];
    char *hit;
    char *end;
    char *line = NULL;

    if (log == NULL) {
        return NULL;
    }
    snprintf(needle, sizeof(needle), "\"route\":\"%s\"", path);
    hit = strstr(log, needle);
    if (hit != NULL) {
        char *start = hit;

        while (start > log && start[-1] != '\n') {
            start--;
        }
        end = strchr(hit, '\n');
        line = strndup(start, end != NULL ? (size_t)(end - start) : strlen(start));
    }
    free(log);
    return line;
}

static char *wait_served_line(const char *path)
{
    int64_t t0 = it_mono_ms();
    char *line;

    while ((line = served_line(path)) == NULL) {
        assert_true(it_mono_ms() - t0 < wait_ms());
        it_sleep_ms(50);
    }
    return line;
}

static void test_request_id_in_log_line(void **state)
{
    static const char *const hdr[] = {"X-Vcap-Request-Id: 3F1C2D4E-5B6A-4C7D-8E9F-0A1B2C3D4E5F",
                                      NULL};
    static const char *const plain[] = {"X-Vcap-Request-Id: not-a-trace-id", NULL};
    static const char *const short_id[] = {"X-Vcap-Request-Id: abc", NULL};
    char path[128];
    char err[256];
    struct it_resp r = {0};
    struct it_client *c = it_client_new();
    char *line;
    (void)state;

    /* Unrouted paths of our own make the line easy to find; 404s are logged too. */
    it_uniq(path, sizeof(path), "/v1/diag-trace");
    assert_int_equal(it_client_request(c, "POST", path, NULL, 0, hdr, 0, &r, err, sizeof(err)), 0);
    assert_int_equal(r.status, 404);
    it_resp_free(&r);
    line = wait_served_line(path);
    assert_non_null(strstr(line, "\"trace-id\":\"3f1c2d4e5b6a4c7d8e9f0a1b2c3d4e5f\""));
    free(line);

    /* A value lager cannot read as a trace id: no trace-id, as upstream. */
    it_uniq(path, sizeof(path), "/v1/diag-notrace");
    assert_int_equal(it_client_request(c, "POST", path, NULL, 0, plain, 0, &r, err, sizeof(err)),
                     0);
    it_resp_free(&r);
    line = wait_served_line(path);
    assert_null(strstr(line, "trace-id"));
    free(line);

    /* A short id is zero-padded to 16 digits (zipkin's 64-bit form). */
    it_uniq(path, sizeof(path), "/v1/diag-short");
    assert_int_equal(it_client_request(c, "POST", path, NULL, 0, short_id, 0, &r, err, sizeof(err)),
                     0);
    it_resp_free(&r);
    line = wait_served_line(path);
    assert_non_null(strstr(line, "\"trace-id\":\"0000000000000abc\""));
    free(line);

    /* A routed request carries it too. */
    assert_int_equal(
        it_client_request(c, "POST", "/v1/ping", NULL, 0, hdr, 0, &r, err, sizeof(err)), 0);
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    {
        int64_t t0 = it_mono_ms();
        char *log;

        for (;;) {
            log = it_server_log();
            if (log != NULL && strstr(log, "\"route\":\"/v1/ping\"") != NULL &&
                strstr(strstr(log, "\"route\":\"/v1/ping\""), "3f1c2d4e5b6a4c7d8e9f0a1b2c3d4e5f") !=
                    NULL) {
                break;
            }
            free(log);
            assert_true(it_mono_ms() - t0 < wait_ms());
            it_sleep_ms(50);
        }
        free(log);
    }
    it_client_free(c);
}

/* ---- the database stopped under the server (last: the cluster comes back at the end) ------ */

static void test_diagnostics_fail_for_stopped_database(void **state)
{
    long status = 0;
    json_t *d;
    json_t *c;
    int64_t t0;
    (void)state;

    assert_int_equal(pg_script("pg_stop.sh"), 0);
    for (int health = 0; health < 2; health++) {
        t0 = it_mono_ms();
        d = get_json(health, "/v1/diagnostics", &status, NULL, 0);
        assert_true(it_mono_ms() - t0 < 15000);
        assert_int_equal(status, 200);
        assert_shape(d);
        assert_string_equal(json_string_value(json_object_get(d, "status")), "FAIL");
        assert_string_equal(check_status(d, "database"), "FAIL");
        assert_string_equal(check_status(d, "migrations"), "FAIL");
        c = find_check(d, "database");
        assert_non_null(strstr(json_string_value(json_object_get(c, "reason")), "unreachable"));
        /* What does not need the database still passes. */
        assert_string_equal(check_status(d, "auctioneer"), "PASS");
        assert_string_equal(check_status(d, "encryption_key:k1"), "PASS");
        json_decref(d);
    }
    /* Stats still answer, saying why there are no counts. */
    d = get_json(1, "/v1/stats", &status, NULL, 0);
    assert_int_equal(status, 200);
    assert_non_null(json_string_value(json_object_get(d, "counts_error")));
    assert_null(json_object_get(d, "desired_lrps"));
    json_decref(d);

    assert_int_equal(pg_script("pg_start.sh"), 0);
    t0 = it_mono_ms();
    for (;;) {
        d = get_json(0, "/v1/diagnostics", &status, NULL, 0);
        if (strcmp(json_string_value(json_object_get(d, "status")), "PASS") == 0) {
            json_decref(d);
            break;
        }
        json_decref(d);
        assert_true(it_mono_ms() - t0 < wait_ms());
        it_sleep_ms(200);
    }
}

/* ---- group "diag" ------------------------------------------------------------------------- */

static json_t *base_extra(void)
{
    json_t *keys = json_pack("{s:s, s:s}", "k1", "passphrase-one", "k2", "passphrase-two");

    return json_pack("{s:s, s:o, s:s, s:s}", "database_connect_timeout", "2s", "encryption_keys",
                     keys, "active_key_label", "k1", "report_interval", "100ms");
}

static int diag_setup(void **state)
{
    json_t *extra;
    int rc;

    (void)state;
    snprintf(pgdir, sizeof(pgdir), "/tmp/bbs-it-diagpg-XXXXXX");
    if (mkdtemp(pgdir) == NULL || chmod(pgdir, 0755) != 0) {
        fprintf(stderr, "test_api_diag: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    if (pg_script("pg_start.sh") != 0) {
        return -1;
    }
    snprintf(shared_pgdir, sizeof(shared_pgdir), "%s",
             getenv("BBS_TEST_PGDIR") != NULL ? getenv("BBS_TEST_PGDIR") : "");
    setenv("BBS_TEST_PGDIR", pgdir, 1);
    extra = base_extra();
    it_server_config(extra);
    rc = it_server_start("diag", NULL);
    it_server_config(NULL);
    json_decref(extra);
    return rc;
}

static int diag_teardown(void **state)
{
    const char *rm[] = {"rm", "-rf", pgdir, NULL};
    char path[300];
    const char *rmlog[] = {"rm", "-f", path, NULL};
    int rc;

    (void)state;
    snprintf(path, sizeof(path), "%s/sock/.s.PGSQL.5432", pgdir);
    if (access(path, F_OK) != 0) {
        pg_script("pg_start.sh");
    }
    rc = it_server_stop();
    if (pg_script("pg_stop.sh") != 0) {
        rc = -1;
    }
    it_run(rm, NULL);
    setenv("BBS_TEST_PGDIR", shared_pgdir, 1);
    snprintf(path, sizeof(path), "%s.log", pgdir);
    if (rc == 0) {
        it_run(rmlog, NULL);
    }
    return rc;
}

/* ---- group "metron": upstream's main_test, the agent not up -------------------------------- */

static int metron_setup(void **state)
{
    json_t *extra;
    int rc;

    (void)state;
    if (it_ingress_start() != 0) {
        return -1;
    }
    extra = it_ingress_server_config(0);
    it_server_config(extra);
    rc = it_server_start("diag_metron", NULL);
    it_server_config(NULL);
    json_decref(extra);
    return rc;
}

static int metron_teardown(void **state)
{
    int rc;

    (void)state;
    rc = it_server_stop();
    it_ingress_stop();
    return rc;
}

static void assert_exits_metron(json_t *extra)
{
    int status = 0;
    char *log;

    assert_int_equal(it_server_try_config(extra, it_valgrind() ? 120000 : 30000, &status), 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    log = it_server_log();
    assert_non_null(log);
    assert_non_null(strstr(log, "failed-to-initialize-metron-client"));
    free(log);
}

static void test_metron_not_up_exits_non_zero(void **state)
{
    json_t *extra = it_ingress_server_config(0);
    json_t *lg = json_object_get(extra, "loggregator");
    int port = 0;
    int fd = silent_listener(&port);
    (void)state;

    /* Started with the agent up (setup): it serves. Now the agent's port has nobody. */
    close(fd);
    json_object_set_new(lg, "loggregator_api_port", json_integer(port));
    assert_exits_metron(extra);
    json_decref(extra);
}

static void test_metron_refusing_our_certificate_exits_non_zero(void **state)
{
    json_t *extra = it_ingress_server_config(1);
    (void)state;

    /* The agent is up but refuses the client certificate: no HTTP/2 connection, as grpc's
     * blocking dial in upstream never becomes ready. */
    assert_exits_metron(extra);
    json_decref(extra);
}

int main(void)
{
    const struct CMUnitTest diag[] = {
        cmocka_unit_test(test_discover),
        cmocka_unit_test(test_diagnostics_pass_when_all_up),
        cmocka_unit_test(test_stats_counts_move),
        cmocka_unit_test(test_prometheus_encryption_duration_and_start_time),
        cmocka_unit_test(test_request_id_in_log_line),
        cmocka_unit_test(test_diagnostics_fail_for_silent_auctioneer),
        cmocka_unit_test(test_diagnostics_fail_for_stopped_database),
    };
    const struct CMUnitTest metron[] = {
        cmocka_unit_test(test_metron_not_up_exits_non_zero),
        cmocka_unit_test(test_metron_refusing_our_certificate_exits_non_zero),
    };
    int rc = 0;

    rc |= cmocka_run_group_tests_name("diag", diag, diag_setup, diag_teardown);
    rc |= cmocka_run_group_tests_name("diag_metron", metron, metron_setup, metron_teardown);
    return it_main_exit(rc);
}
