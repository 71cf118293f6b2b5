/*
 * test_api_metrics.c - metrics end to end (reference-2 13): the binary emits
 * to the loggregator agent stand-in (support/ingress.h: BatchSender over
 * mutual TLS) and serves GET /metrics on the health listener, checked
 * with the strict Prometheus parser (support/prom.h).
 *
 * Group "emit": RequestCount deltas add up to exactly the requests served
 * (404 and 405 not counted), RequestLatency in nanos, OpenFileDescriptors,
 * MigrationDuration and BBSMasterElected once, the 15 s convergence, LRP
 * and domain gauges, source id "bbs"; /metrics moves with requests.
 * Group "untrusted" (the agent lost): the agent goes away after start-up
 * (a refused client certificate is now refused at start-up, as upstream:
 * test_api_diag.c); the stream ends, what is not delivered is counted, and
 * the server keeps serving. Group "off": without the
 * loggregator config nothing is dialled, /metrics still works; and the
 * debug server's /log-level changes what is logged at run time.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "support/ingress.h"
#include "support/prom.h"
#include "task_it.h"

#define DOMAIN "metrics-domain"

static int wait_ms(void)
{
    return it_valgrind() ? 60000 : 20000;
}

/* ---- /metrics on the health listener -------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct it_resp *r = arg;
    uint8_t *grown = realloc(r->body, r->len + size * n + 1);

    assert_non_null(grown);
    r->body = grown;
    memcpy(r->body + r->len, p, size * n);
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

/* GET /metrics, parsed strictly (the test fails if it does not parse). */
static void scrape(struct it_prom *p)
{
    CURL *h = curl_easy_init();
    struct it_resp r = {0};
    char url[128];
    char *ctype = NULL;

    assert_non_null(h);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", it_health_port());
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
    assert_int_equal(r.status, 200);
    assert_non_null(ctype);
    assert_string_equal(ctype, "text/plain; version=0.0.4; charset=utf-8");
    if (it_prom_parse(p, (const char *)r.body, r.len) != 0) {
        fail_msg("/metrics does not parse: %s", p->error);
    }
    free(r.body);
    curl_easy_cleanup(h);
}

static double prom(const char *name, const char *label)
{
    struct it_prom p;
    double v = -1;

    scrape(&p);
    if (!it_prom_get(&p, name, label, &v)) {
        it_prom_free(&p);
        fail_msg("no series %s{%s}", name, label != NULL ? label : "");
    }
    it_prom_free(&p);
    return v;
}

static void ping(void)
{
    Models__PingResponse *r = it_call("/v1/ping", NULL, &models__ping_response__descriptor);

    assert_non_null(r);
    it_free(r);
}

/* ---- group "emit" --------------------------------------------------------------------- */

static int emit_setup(void **state)
{
    json_t *extra;
    Models__UpsertDomainRequest up = MODELS__UPSERT_DOMAIN_REQUEST__INIT;
    int rc;

    (void)state;
    if (it_ingress_start() != 0) {
        return -1;
    }
    extra = it_ingress_server_config(0);
    json_object_set_new(extra, "report_interval", json_string("200ms"));
    json_object_set_new(extra, "converge_repeat_interval", json_string("500ms"));
    it_server_config(extra);
    rc = it_server_start("metrics_emit", NULL);
    it_server_config(NULL);
    json_decref(extra);
    if (rc != 0) {
        return -1;
    }
    up.domain = (char *)DOMAIN;
    up.ttl = 0;
    return it_call_err("/v1/domains/upsert", &up.base,
                       &models__upsert_domain_response__descriptor) == IT_OK
               ? 0
               : -1;
}

static int emit_teardown(void **state)
{
    int rc = it_group_teardown(state);

    it_ingress_stop();
    return rc;
}

/* Wait until the agent has RequestCount deltas adding up to `want`; the final sum. */
static unsigned long long wait_request_count(unsigned long long want)
{
    int64_t t0 = it_mono_ms();
    unsigned long long sum = 0;

    for (;;) {
        json_t *env = it_ingress_envelopes();

        assert_non_null(env);
        sum = it_ingress_counter_sum(env, "RequestCount");
        json_decref(env);
        if (sum >= want || it_mono_ms() - t0 > wait_ms()) {
            return sum;
        }
        it_sleep_ms(100);
    }
}

static void test_request_count_deltas_add_up(void **state)
{
    struct it_resp r;
    double before;
    double after;
    unsigned long long sum;
    (void)state;

    before = prom("bbs_requests_total", "");
    for (int i = 0; i < 5; i++) {
        ping();
    }
    /* Not counted: an unknown path (404) and a wrong method (405). */
    it_request("POST", "/v1/no-such-route", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 404);
    it_resp_free(&r);
    it_request("GET", "/v1/ping", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 405);
    it_resp_free(&r);
    after = prom("bbs_requests_total", "");
    assert_true(after == before + 5);

    /* Every request served so far, and no more, reaches the agent as deltas. */
    sum = wait_request_count((unsigned long long)after);
    assert_int_equal(sum, (unsigned long long)after);
    it_sleep_ms(600); /* three more reports: zero deltas */
    assert_int_equal(wait_request_count((unsigned long long)after), (unsigned long long)after);
}

static void test_latency_fds_and_source(void **state)
{
    json_t *env;
    json_t *e;
    json_t *g;
    double fds = 0;
    int64_t t0 = it_mono_ms();
    (void)state;

    ping();
    for (;;) {
        env = it_ingress_envelopes();
        assert_non_null(env);
        if (it_ingress_last_gauge(env, "RequestLatency") != NULL &&
            it_ingress_last_gauge(env, "OpenFileDescriptors") != NULL) {
            break;
        }
        json_decref(env);
        assert_true(it_mono_ms() - t0 < wait_ms());
        it_sleep_ms(100);
    }
    e = it_ingress_last_gauge(env, "RequestLatency");
    g = json_object_get(json_object_get(e, "gauge"), "RequestLatency");
    assert_string_equal(json_string_value(json_object_get(g, "unit")), "nanos");
    assert_true(json_number_value(json_object_get(g, "value")) > 0);
    assert_string_equal(json_string_value(json_object_get(e, "source_id")), "bbs");
    assert_true(json_integer_value(json_object_get(e, "timestamp")) > 0);
    assert_true(it_ingress_gauge_count(env, "OpenFileDescriptors", &fds) > 0);
    assert_true(fds >= 5);
    /* Once at start-up. */
    assert_int_equal(it_ingress_gauge_count(env, "MigrationDuration", NULL), 1);
    assert_int_equal(it_ingress_gauge_count(env, "BBSMasterElected", NULL), 1);
    /* One stream carries everything (it stays open). */
    assert_int_equal(it_ingress_streams(), 1);
    json_decref(env);
}

static void test_convergence_and_domain_gauges(void **state)
{
    json_t *env = NULL;
    double desired = -1;
    double duration = -1;
    int64_t t0 = it_mono_ms();
    char guid[64];
    char domain_metric[128];
    (void)state;

    it_uniq(guid, sizeof(guid), "metrics");
    it_desire(guid, DOMAIN, 3);
    snprintf(domain_metric, sizeof(domain_metric), "Domain.%s", DOMAIN);
    /* The 15 s report after a convergence run that saw the desired LRP. */
    for (;;) {
        env = it_ingress_envelopes();
        assert_non_null(env);
        if (it_ingress_gauge_count(env, "LRPsDesired", &desired) > 0 && desired == 3 &&
            it_ingress_gauge_count(env, domain_metric, NULL) > 0) {
            break;
        }
        json_decref(env);
        assert_true(it_mono_ms() - t0 < 40000 + wait_ms());
        it_sleep_ms(500);
    }
    assert_true(it_ingress_gauge_count(env, "ConvergenceLRPDuration", &duration) > 0);
    assert_true(duration > 0);
    assert_true(it_ingress_counter_sum(env, "ConvergenceLRPRuns") > 0);
    assert_true(it_ingress_gauge_count(env, "LRPsUnclaimed", NULL) > 0);
    assert_true(it_ingress_gauge_count(env, "PresentCells", NULL) > 0);
    assert_true(it_ingress_gauge_count(env, "ConvergenceTaskDuration", NULL) > 0);
    json_decref(env);

    /* The same values on /metrics. */
    assert_true(prom("bbs_lrps_desired", "") == 3);
    assert_true(prom("bbs_domain_fresh", "domain=\"" DOMAIN "\"") == 1);
    assert_true(prom("bbs_convergence_lrp_runs_total", "") > 0);
    assert_true(prom("bbs_convergence_lrp_duration_seconds", "") > 0);
}

/* TasksStarted / Succeeded / Failed per cell from the routes; TasksPending from task
 * convergence's counts; both on /metrics and at the agent (reference part 2, 13.2). */
static void test_task_metrics(void **state)
{
    char a[64];
    char b[64];
    int should = 0;
    int64_t t0 = it_mono_ms();
    (void)state;

    it_uniq(a, sizeof(a), "mtask");
    it_uniq(b, sizeof(b), "mtask");
    assert_int_equal(task_desire(a, DOMAIN, NULL, NULL, NULL, 0), IT_OK);
    assert_int_equal(task_desire(b, DOMAIN, NULL, NULL, NULL, 0), IT_OK);
    assert_int_equal(task_start(a, "metrics-cell", &should), IT_OK);
    assert_true(should);
    assert_int_equal(task_start(a, "metrics-cell", &should), IT_OK); /* repeat: not counted */
    assert_false(should);
    assert_int_equal(task_complete(a, "metrics-cell", 1, "boom", ""), IT_OK);
    assert_true(prom("bbs_tasks_started_total", "cell_id=\"metrics-cell\"") == 1);
    assert_true(prom("bbs_tasks_failed_total", "cell_id=\"metrics-cell\"") == 1);
    assert_true(prom("bbs_tasks_succeeded_total", "cell_id=\"metrics-cell\"") == 0);
    /* b stays Pending, a Completed: the next convergence run counts them. */
    for (;;) {
        json_t *env = it_ingress_envelopes();
        double pending = -1;
        double completed = -1;

        assert_non_null(env);
        if (it_ingress_gauge_count(env, "TasksPending", &pending) > 0 && pending == 1 &&
            it_ingress_gauge_count(env, "TasksCompleted", &completed) > 0 && completed == 1) {
            json_decref(env);
            break;
        }
        json_decref(env);
        assert_true(it_mono_ms() - t0 < 40000 + wait_ms());
        it_sleep_ms(500);
    }
    assert_true(prom("bbs_tasks_pending", "") == 1);
    assert_true(prom("bbs_convergence_task_runs_total", "") > 0);
    /* Every run re-auctions b: kicked grows by each run's count, added once (q8). */
    assert_true(prom("bbs_convergence_tasks_kicked_total", "") >= 1);
}

static void test_prometheus_moves_with_requests(void **state)
{
    double count0;
    double hist0;
    (void)state;

    count0 = prom("bbs_route_requests_total", "route=\"/v1/ping\"");
    hist0 = prom("bbs_request_duration_seconds_count", "route=\"/v1/ping\"");
    for (int i = 0; i < 3; i++) {
        ping();
    }
    assert_true(prom("bbs_route_requests_total", "route=\"/v1/ping\"") == count0 + 3);
    assert_true(prom("bbs_request_duration_seconds_count", "route=\"/v1/ping\"") == hist0 + 3);
    assert_true(prom("bbs_request_duration_seconds_bucket", "route=\"/v1/ping\",le=\"+Inf\"") ==
                hist0 + 3);
    assert_true(prom("bbs_open_file_descriptors", "") > 0);
    assert_true(prom("bbs_migration_duration_seconds", "") > 0);
}

/* An event stream counts when it ends (the reaper sees the client close long before the
 * next 15 s heartbeat), with no latency. */
static void test_stream_counted_when_it_ends(void **state)
{
    struct it_sse *s;
    double total0;
    double hist0;
    (void)state;

    total0 = prom("bbs_route_requests_total", "route=\"/v1/events/lrp_instances\"");
    hist0 = prom("bbs_request_duration_seconds_count", "route=\"/v1/events/lrp_instances\"");
    s = it_sse_open("POST", "/v1/events/lrp_instances", NULL, NULL);
    assert_non_null(s);
    assert_int_equal(it_sse_status(s), 200);
    assert_true(prom("bbs_route_requests_total", "route=\"/v1/events/lrp_instances\"") == total0);
    it_sse_close(s);
    for (int64_t t0 = it_mono_ms();
         prom("bbs_route_requests_total", "route=\"/v1/events/lrp_instances\"") == total0;) {
        assert_true(it_mono_ms() - t0 < wait_ms());
        it_sleep_ms(50);
    }
    assert_true(prom("bbs_route_requests_total", "route=\"/v1/events/lrp_instances\"") ==
                total0 + 1);
    assert_true(prom("bbs_request_duration_seconds_count", "route=\"/v1/events/lrp_instances\"") ==
                hist0);
}

/* ---- group "untrusted": the agent goes away after start-up ------------------------------ */

static int untrusted_setup(void **state)
{
    json_t *extra;
    int rc;

    (void)state;
    if (it_ingress_start() != 0) {
        return -1;
    }
    /* An agent that refuses our certificate stops the server at start-up (upstream's blocking
     * dial, test_api_diag.c); one that goes away later is what this group covers. */
    extra = it_ingress_server_config(0);
    json_object_set_new(extra, "report_interval", json_string("200ms"));
    it_server_config(extra);
    rc = it_server_start("metrics_untrusted", NULL);
    it_server_config(NULL);
    json_decref(extra);
    return rc;
}

static void test_agent_lost_undelivered_counted(void **state)
{
    char *log = NULL;
    int64_t t0 = it_mono_ms();
    (void)state;

    /* The agent goes away (its certificates too): the stream breaks and cannot come back. */
    it_ingress_stop();
    /* The server logs the ended stream and keeps serving. */
    for (;;) {
        free(log);
        log = it_server_log();
        if (log != NULL && strstr(log, "loggregator.stream-ended") != NULL) {
            break;
        }
        assert_true(it_mono_ms() - t0 < wait_ms());
        it_sleep_ms(100);
    }
    free(log);
    ping();
    /* What could not be delivered is counted. */
    t0 = it_mono_ms();
    while (prom("bbs_loggregator_envelopes_failed_total", "") < 1) {
        assert_true(it_mono_ms() - t0 < wait_ms());
        it_sleep_ms(100);
    }
    assert_true(prom("bbs_requests_total", "") >= 1);
}

static int debug_port;
static int free_port(void);

/* ---- group "off": no loggregator config ------------------------------------------------ */

static int off_setup(void **state)
{
    json_t *extra;
    int rc;

    (void)state;
    if (it_ingress_start() != 0) {
        return -1;
    }
    /* The agent is there, but the config does not name it. */
    debug_port = free_port();
    if (debug_port <= 0) {
        return -1;
    }
    extra = json_pack("{s:s}", "report_interval", "100ms");
    json_object_set_new(extra, "debug_address", json_sprintf("127.0.0.1:%d", debug_port));
    it_server_config(extra);
    rc = it_server_start("metrics_off", NULL);
    it_server_config(NULL);
    json_decref(extra);
    return rc;
}

static void test_no_emission_without_config(void **state)
{
    char *log;
    double before;
    (void)state;

    before = prom("bbs_route_requests_total", "route=\"/v1/ping\"");
    ping();
    it_sleep_ms(1000); /* ten report intervals */
    assert_int_equal(it_ingress_streams(), 0);
    log = it_server_log();
    assert_non_null(log);
    assert_null(strstr(log, "loggregator."));
    free(log);
    /* Prometheus does not depend on loggregator. */
    assert_true(prom("bbs_route_requests_total", "route=\"/v1/ping\"") == before + 1);
}

/* ---- the debug server (in group "off") ------------------------------------------------ */

/* A loopback port nobody listens on now (the kernel's pick). */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

static long debug_post(const char *path, const char *body)
{
    CURL *h = curl_easy_init();
    struct it_resp r = {0};
    char url[128];
    long status = 0;

    assert_non_null(h);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", debug_port, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200) {
        assert_int_equal(r.len, 0); /* always an empty body */
    }
    free(r.body);
    curl_easy_cleanup(h);
    return status;
}

/* Lines "request.served" in the log (an info line per request). */
static int served_lines(void)
{
    char *log = it_server_log();
    int n = 0;

    for (const char *p = log; p != NULL && (p = strstr(p, "request.served")) != NULL; p++) {
        n++;
    }
    free(log);
    return n;
}

static void test_debug_log_level(void **state)
{
    int n;
    (void)state;

    ping();
    n = served_lines();
    assert_true(n > 0);
    /* error: info lines stop. */
    assert_int_equal(debug_post("/log-level", "e"), 200);
    ping();
    ping();
    assert_int_equal(served_lines(), n);
    /* Not a level: no change (still 200). */
    assert_int_equal(debug_post("/log-level", "verbose"), 200);
    ping();
    assert_int_equal(served_lines(), n);
    /* info again: they come back. */
    assert_int_equal(debug_post("/log-level", "INFO"), 200);
    ping();
    assert_int_equal(served_lines(), n + 1);
    assert_int_equal(debug_post("/debug/pprof/heap", ""), 404);
}

int main(void)
{
    const struct CMUnitTest emit[] = {
        cmocka_unit_test(test_request_count_deltas_add_up),
        cmocka_unit_test(test_latency_fds_and_source),
        cmocka_unit_test(test_prometheus_moves_with_requests),
        cmocka_unit_test(test_stream_counted_when_it_ends),
        cmocka_unit_test(test_convergence_and_domain_gauges),
        cmocka_unit_test(test_task_metrics),
    };
    const struct CMUnitTest untrusted[] = {
        cmocka_unit_test(test_agent_lost_undelivered_counted),
    };
    const struct CMUnitTest off[] = {
        cmocka_unit_test(test_no_emission_without_config),
        cmocka_unit_test(test_debug_log_level),
    };
    int rc = 0;

    it_set_name("metrics");
    rc |= cmocka_run_group_tests_name("metrics_emit", emit, emit_setup, emit_teardown);
    rc |=
        cmocka_run_group_tests_name("metrics_untrusted", untrusted, untrusted_setup, emit_teardown);
    rc |= cmocka_run_group_tests_name("metrics_off", off, off_setup, emit_teardown);
    return it_main_exit(rc);
}
