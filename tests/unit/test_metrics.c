/*
 * test_metrics.c - the metrics module (metrics.h): request counting and
 * the latency maximum, per-route histograms, gauges and counters, per-cell
 * task counters from many threads, domains, and the Prometheus text
 * checked with the strict parser (tests/support/prom.c).
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/metrics.h"
#include "support/prom.h"

static const char *const routes[] = {"POST /v1/ping", "POST /v1/domains/list",
                                     "GET /v1/events \"quoted\\\""};

static void render(struct bbs_metrics *m, struct it_prom *p)
{
    struct bbs_buf b = {0};
    int rc;

    bbs_metrics_prometheus(m, &b);
    rc = it_prom_parse(p, (const char *)b.data, b.len);
    if (rc != 0) {
        fprintf(stderr, "%s\n%.*s", p->error, (int)b.len, (const char *)b.data);
    }
    assert_int_equal(rc, 0);
    bbs_buf_free(&b);
}

static double value(const struct it_prom *p, const char *name, const char *label)
{
    double v = -1;

    if (!it_prom_get(p, name, label, &v)) {
        fail_msg("no series %s{%s}", name, label ? label : "");
    }
    return v;
}

static void test_requests_and_max_latency(void **state)
{
    struct bbs_metrics *m = bbs_metrics_new(routes, 3);
    (void)state;

    assert_int_equal(bbs_metrics_requests(m), 0);
    assert_int_equal(bbs_metrics_take_max_latency(m), 0);
    bbs_metrics_request(m, 0, 2000000);
    bbs_metrics_request(m, 1, 7000000);
    bbs_metrics_request(m, 0, 3000000);
    bbs_metrics_request(m, 2, -1); /* a stream: counted, no latency */
    bbs_metrics_request(m, 99, 1); /* unknown route: counted in the total only */
    assert_int_equal(bbs_metrics_requests(m), 5);
    assert_int_equal(bbs_metrics_take_max_latency(m), 7000000);
    assert_int_equal(bbs_metrics_take_max_latency(m), 0); /* reset by the take */
    bbs_metrics_request(NULL, 0, 1);                      /* no metrics: nothing */
    bbs_metrics_free(m);
}

static void test_histograms(void **state)
{
    struct bbs_metrics *m = bbs_metrics_new(routes, 3);
    struct it_prom p;
    (void)state;

    bbs_metrics_request(m, 0, 400000);      /* 0.4 ms: first bucket (0.0005) */
    bbs_metrics_request(m, 0, 1000000);     /* 1 ms: exactly the 0.001 bound, included */
    bbs_metrics_request(m, 0, 30000000);    /* 30 ms: 0.05 */
    bbs_metrics_request(m, 0, 20000000000); /* 20 s: only +Inf */
    bbs_metrics_request(m, 2, -1);
    render(m, &p);
    assert_true(value(&p, "bbs_request_duration_seconds_bucket",
                      "route=\"POST /v1/ping\",le=\"0.0005\"") == 1);
    assert_true(value(&p, "bbs_request_duration_seconds_bucket",
                      "route=\"POST /v1/ping\",le=\"0.001\"") == 2);
    assert_true(value(&p, "bbs_request_duration_seconds_bucket",
                      "route=\"POST /v1/ping\",le=\"0.025\"") == 2);
    assert_true(value(&p, "bbs_request_duration_seconds_bucket",
                      "route=\"POST /v1/ping\",le=\"0.05\"") == 3);
    assert_true(
        value(&p, "bbs_request_duration_seconds_bucket", "route=\"POST /v1/ping\",le=\"10\"") == 3);
    assert_true(value(&p, "bbs_request_duration_seconds_bucket",
                      "route=\"POST /v1/ping\",le=\"+Inf\"") == 4);
    assert_true(value(&p, "bbs_request_duration_seconds_count", "route=\"POST /v1/ping\"") == 4);
    assert_true(value(&p, "bbs_request_duration_seconds_sum", "route=\"POST /v1/ping\"") > 20.03);
    /* The stream counts as a request, not as a latency (labels are compared unescaped). */
    assert_true(value(&p, "bbs_route_requests_total", "route=\"GET /v1/events \"quoted\\\"\"") ==
                1);
    assert_true(value(&p, "bbs_request_duration_seconds_count",
                      "route=\"GET /v1/events \"quoted\\\"\"") == 0);
    assert_true(value(&p, "bbs_requests_total", "") == 5);
    it_prom_free(&p);
    bbs_metrics_free(m);
}

static void test_table_values(void **state)
{
    struct bbs_metrics *m = bbs_metrics_new(routes, 0);
    const char *domains[] = {"cf-apps", "with \"quote\""};
    struct it_prom p;
    (void)state;

    for (int i = 0; i < BBS_METRIC_COUNT; i++) {
        const struct bbs_metric_info *t = bbs_metric_info((enum bbs_metric)i);

        assert_non_null(t->prom);
        assert_non_null(t->unit);
        assert_non_null(t->help);
    }
    assert_string_equal(bbs_metric_info(BBS_METRIC_LRPS_RUNNING)->name, "LRPsRunning");
    bbs_metrics_set(m, BBS_METRIC_LRPS_RUNNING, 7);
    bbs_metrics_add(m, BBS_METRIC_CONVERGENCE_LRP_RUNS, 2);
    bbs_metrics_add(m, BBS_METRIC_CONVERGENCE_LRP_RUNS, 1);
    bbs_metrics_set(m, BBS_METRIC_CONVERGENCE_LRP_DURATION, 1500000000);
    bbs_metrics_max(m, BBS_METRIC_DB_QUERY_DURATION_MAX, 5);
    bbs_metrics_max(m, BBS_METRIC_DB_QUERY_DURATION_MAX, 3);
    assert_int_equal(bbs_metrics_get(m, BBS_METRIC_DB_QUERY_DURATION_MAX), 5);
    bbs_metrics_set_domains(m, domains, 2);
    bbs_metrics_set_domains(m, domains, 2); /* replaced, not appended */
    {
        const char *twice[] = {"cf-apps", "with \"quote\"", "cf-apps"};

        bbs_metrics_set_domains(m, twice, 3); /* a series appears once (the parser checks) */
    }
    render(m, &p);
    assert_true(value(&p, "bbs_lrps_running", "") == 7);
    assert_true(value(&p, "bbs_convergence_lrp_runs_total", "") == 3);
    assert_true(value(&p, "bbs_convergence_lrp_duration_seconds", "") == 1.5);
    assert_true(value(&p, "bbs_domain_fresh", "domain=\"cf-apps\"") == 1);
    assert_true(value(&p, "bbs_domain_fresh", "domain=\"with \"quote\"\"") == 1);
    assert_true(value(&p, "bbs_open_file_descriptors", "") >= 3);
    it_prom_free(&p);
    bbs_metrics_set_domains(m, NULL, 0);
    render(m, &p);
    {
        double v;

        assert_false(it_prom_get(&p, "bbs_domain_fresh", NULL, &v));
    }
    it_prom_free(&p);
    bbs_metrics_free(m);
}

struct cell_thread {
    struct bbs_metrics *m;
    int id;
};

static void *cell_worker(void *arg)
{
    struct cell_thread *t = arg;
    char cell[32];

    for (int i = 0; i < 2000; i++) {
        snprintf(cell, sizeof(cell), "cell-%d", i % 10);
        bbs_metrics_task_event(t->m, cell, (enum bbs_metric_task_event)(i % 3));
    }
    return NULL;
}

struct totals {
    int cells;
    uint64_t sum[3];
};

static void count_cell(void *ctx, const char *cell_id, uint64_t started, uint64_t succeeded,
                       uint64_t failed)
{
    struct totals *t = ctx;

    assert_memory_equal(cell_id, "cell-", 5);
    t->cells++;
    t->sum[0] += started;
    t->sum[1] += succeeded;
    t->sum[2] += failed;
}

/* Four threads racing to create the same ten cells: ten slots, no count lost. */
static void test_task_cells_concurrent(void **state)
{
    struct bbs_metrics *m = bbs_metrics_new(routes, 0);
    pthread_t th[4];
    struct cell_thread ct[4];
    struct totals t = {0};
    struct it_prom p;
    (void)state;

    for (int i = 0; i < 4; i++) {
        ct[i] = (struct cell_thread){m, i};
        assert_int_equal(pthread_create(&th[i], NULL, cell_worker, &ct[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
    }
    bbs_metrics_task_cells(m, count_cell, &t);
    assert_int_equal(t.cells, 10);
    assert_int_equal(t.sum[0] + t.sum[1] + t.sum[2], 8000);
    assert_int_equal(t.sum[0], 4 * 667);
    render(m, &p);
    assert_true(value(&p, "bbs_tasks_started_total", "cell_id=\"cell-0\"") > 0);
    it_prom_free(&p);
    bbs_metrics_free(m);
}

/* The test parser itself refuses what the format forbids. */
static void test_parser_refuses(void **state)
{
    static const char *const bad[] = {
        "# TYPE a counter\na 1",                     /* no final newline */
        "a 1\n",                                     /* no TYPE */
        "# TYPE a counter\n# TYPE a counter\na 1\n", /* TYPE twice */
        "# TYPE a counter\na{x=\"\\t\"} 1\n",        /* bad escape */
        "# TYPE a counter\na 1\na 2\n",              /* same series twice */
        "# TYPE a counter\na -1\n",                  /* negative counter */
        "# TYPE a gauge\na one\n",                   /* not a number */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n", /* no +Inf */
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 1\n",
        "# TYPE a gauge\nb 1\n", /* outside its family */
        "# TYPE 1a gauge\n",
    };
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct it_prom p;

        if (it_prom_parse(&p, bad[i], strlen(bad[i])) == 0) {
            fail_msg("accepted: %s", bad[i]);
        }
        it_prom_free(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_and_max_latency),
        cmocka_unit_test(test_histograms),
        cmocka_unit_test(test_table_values),
        cmocka_unit_test(test_task_cells_concurrent),
        cmocka_unit_test(test_parser_refuses),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
