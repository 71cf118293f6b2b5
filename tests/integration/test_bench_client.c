/*
 * test_bench_client.c - the load generator's own HTTP/1.1 client over
 * mutual TLS (bench/http_raw.c with bench/tls.c), against our server with
 * require_ssl, in-process: the figures in docs/performance.md are only as
 * good as the client that drives the server.
 *
 * Checked: every answer arrives whole and byte for byte what libcurl gets
 * (a list answer of many TLS records included); connections are opened
 * once and kept; a server that goes away under idle connections costs
 * one new connection each, no failed request; a server certificate the
 * client does not trust fails every request with a TLS error.
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

#include "actual_lrp_requests.pb-c.h"
#include "ping.pb-c.h"

#include "http.h"

#define CONNS 8

static struct it_tls_set tls;

struct answer {
    int done;
    long status;
    const char *error;
    uint8_t body[1 << 20];
    size_t len;
};

static struct answer answers[CONNS];

static void keep_answer(struct bench_conn *c)
{
    struct answer *a = c->ud;

    a->done++;
    a->status = c->status;
    a->error = c->error;
    a->len = c->resp_len < sizeof(a->body) ? c->resp_len : sizeof(a->body);
    memcpy(a->body, c->resp, a->len);
}

static struct bench_http *client(const char *ca, int use_curl)
{
    char url[64];
    struct bench_http_opts o = {.url = url,
                                .ca_file = ca,
                                .cert_file = tls.client,
                                .key_file = tls.client_key,
                                .use_curl = use_curl};

    snprintf(url, sizeof(url), "https://127.0.0.1:%d", it_server_port());
    return bench_http_new(&o, CONNS);
}

static void new_conns(struct bench_http *h, struct bench_conn **c, int n)
{
    memset(answers, 0, sizeof(answers));
    for (int i = 0; i < n; i++) {
        c[i] = bench_conn_new(h, 0, keep_answer, &answers[i]);
    }
}

static void free_conns(struct bench_conn **c, int n)
{
    for (int i = 0; i < n; i++) {
        bench_conn_free(c[i]);
    }
}

/* Ping on every connection at once; each must answer available = true. */
static void ping_all(struct bench_http *h, struct bench_conn **c, int n)
{
    for (int i = 0; i < n; i++) {
        answers[i].done = 0;
        bench_conn_post(c[i], "/v1/ping", NULL);
    }
    bench_http_run(h, NULL, NULL);
    for (int i = 0; i < n; i++) {
        Models__PingResponse *p;

        assert_int_equal(answers[i].done, 1);
        assert_int_equal(answers[i].status, 200);
        p = models__ping_response__unpack(NULL, answers[i].len, answers[i].body);
        assert_non_null(p);
        assert_true(p->available);
        models__ping_response__free_unpacked(p, NULL);
    }
}

static uint64_t connects(const struct bench_http *h)
{
    struct bench_http_counters k;

    bench_http_counters(h, &k);
    return k.connects;
}

static void test_connections_open_once_and_stay(void **state)
{
    struct bench_http *h = client(tls.ca, 0);
    struct bench_conn *c[CONNS];

    (void)state;
    assert_non_null(h);
    assert_string_equal(bench_http_transport(h), "raw");
    new_conns(h, c, CONNS);
    assert_int_equal(bench_conns_open(c, CONNS), 0);
    assert_int_equal(connects(h), CONNS);
    for (int round = 0; round < 3; round++) {
        it_sleep_ms(200); /* idle meanwhile: nothing may read as the server closing */
        ping_all(h, c, CONNS);
    }
    assert_int_equal(connects(h), CONNS);
    free_conns(c, CONNS);
    bench_http_free(h);
}

/* The list answer of `domain`'s instances through `use_curl`'s transport into answers[0]. */
static void list_through(int use_curl)
{
    struct bench_http *h = client(tls.ca, use_curl);
    struct bench_conn *c[1];
    Models__ActualLRPsRequest req = MODELS__ACTUAL_LRPS_REQUEST__INIT;
    char domain[] = "bench-client";

    assert_non_null(h);
    req.domain = domain;
    new_conns(h, c, 1);
    bench_conn_post(c[0], "/v1/actual_lrps/list", &req.base);
    bench_http_run(h, NULL, NULL);
    assert_int_equal(answers[0].done, 1);
    assert_int_equal(answers[0].status, 200);
    free_conns(c, 1);
    bench_http_free(h);
}

static void test_big_answer_whole_and_as_libcurl_gets_it(void **state)
{
    static uint8_t via_curl[1 << 20];
    size_t curl_len;
    char guid[64];

    (void)state;
    for (int i = 0; i < 5; i++) {
        it_uniq(guid, sizeof(guid), "bench-client");
        it_desire(guid, "bench-client", 200);
    }
    list_through(1);
    curl_len = answers[0].len;
    memcpy(via_curl, answers[0].body, curl_len);
    /* 1,000 instances: many TLS records (at most 16 kB each). */
    assert_true(curl_len > 3 * 16384);
    list_through(0);
    assert_int_equal(answers[0].len, curl_len);
    assert_memory_equal(answers[0].body, via_curl, curl_len);
}

static void test_server_gone_under_idle_connections(void **state)
{
    struct bench_http *h = client(tls.ca, 0);
    struct bench_conn *c[CONNS];

    (void)state;
    assert_non_null(h);
    new_conns(h, c, CONNS);
    ping_all(h, c, CONNS);
    assert_int_equal(connects(h), CONNS);
    assert_int_equal(it_server_restart(), 0);
    /* Each request meets its closed socket, then goes out once more on a new one. */
    ping_all(h, c, CONNS);
    assert_int_equal(connects(h), 2 * CONNS);
    free_conns(c, CONNS);
    bench_http_free(h);
}

static void test_untrusted_server_fails_in_tls(void **state)
{
    struct bench_http *h = client(tls.other_ca, 0);
    struct bench_conn *c[2];

    (void)state;
    assert_non_null(h);
    new_conns(h, c, 2);
    assert_int_equal(bench_conns_open(c, 2), 2);
    for (int i = 0; i < 2; i++) {
        bench_conn_post(c[i], "/v1/ping", NULL);
    }
    bench_http_run(h, NULL, NULL);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(answers[i].done, 1);
        assert_int_equal(answers[i].status, 0);
        assert_non_null(answers[i].error);
        assert_non_null(strstr(answers[i].error, "TLS handshake"));
    }
    free_conns(c, 2);
    bench_http_free(h);
}

static int setup(void **state)
{
    (void)state;
    if (it_tls_set_make(&tls, "bbs-it-bench-client") != 0) {
        return -1;
    }
    return it_tls_set_server_start(&tls, "bench_client");
}

static int teardown(void **state)
{
    (void)state;
    return it_tls_set_server_stop(&tls);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connections_open_once_and_stay),
        cmocka_unit_test(test_big_answer_whole_and_as_libcurl_gets_it),
        cmocka_unit_test(test_server_gone_under_idle_connections),
        cmocka_unit_test(test_untrusted_server_fails_in_tls),
    };

    it_set_name("bench_client");
    return it_main_exit(cmocka_run_group_tests_name("bench_client", tests, setup, teardown));
}
