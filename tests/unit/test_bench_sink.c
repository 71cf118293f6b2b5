/*
 * test_bench_sink.c - the request parser of the load generator's HTTP
 * receiver (bench/sinkparse.c): one named test per rule of sink.h.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "sink.h"

static int parse(const char *s, struct bench_sink_req *r)
{
    return bench_sink_parse(s, strlen(s), r);
}

static void test_post_with_body(void **state)
{
    static const char in[] = "POST /cb/x/1/2 HTTP/1.1\r\nHost: a\r\nContent-Type: "
                             "application/json\r\nContent-Length: 5\r\n\r\nhello";
    struct bench_sink_req r;

    (void)state;
    assert_int_equal(parse(in, &r), BENCH_SINK_DONE);
    assert_int_equal(r.method_len, 4);
    assert_memory_equal(r.method, "POST", 4);
    assert_int_equal(r.path_len, 9);
    assert_memory_equal(r.path, "/cb/x/1/2", 9);
    assert_int_equal(r.body_len, 5);
    assert_memory_equal(r.body, "hello", 5);
    assert_int_equal(r.consumed, strlen(in));
    assert_int_equal(r.keep_alive, 1);
    assert_int_equal(r.expect_continue, 0);
}

static void test_no_content_length_is_empty_body(void **state)
{
    struct bench_sink_req r;

    (void)state;
    assert_int_equal(parse("GET / HTTP/1.1\r\n\r\n", &r), BENCH_SINK_DONE);
    assert_int_equal(r.body_len, 0);
    assert_int_equal(r.consumed, 18);
}

static void test_pipelined_requests_consume_one(void **state)
{
    static const char in[] = "POST /v1/tasks HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]"
                             "POST /v1/lrps HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
    struct bench_sink_req r;
    size_t first;

    (void)state;
    assert_int_equal(parse(in, &r), BENCH_SINK_DONE);
    first = r.consumed;
    assert_int_equal(first, strlen("POST /v1/tasks HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]"));
    assert_int_equal(parse(in + first, &r), BENCH_SINK_DONE);
    assert_int_equal(r.path_len, 8);
    assert_memory_equal(r.path, "/v1/lrps", 8);
}

static void test_every_prefix_wants_more(void **state)
{
    static const char in[] = "POST /cb/a/0/0 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
    struct bench_sink_req r;

    (void)state;
    for (size_t n = 0; n < strlen(in); n++) {
        assert_int_equal(bench_sink_parse(in, n, &r), BENCH_SINK_MORE);
    }
    assert_int_equal(bench_sink_parse(in, strlen(in), &r), BENCH_SINK_DONE);
}

static void test_head_done_while_body_is_coming(void **state)
{
    struct bench_sink_req r;

    (void)state;
    assert_int_equal(
        parse("POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\nabc", &r),
        BENCH_SINK_MORE);
    assert_int_equal(r.head_done, 1);
    assert_int_equal(r.expect_continue, 1);
}

static void test_header_names_and_values_are_case_insensitive(void **state)
{
    struct bench_sink_req r;

    (void)state;
    assert_int_equal(
        parse("POST /x HTTP/1.1\r\ncOnTeNt-LeNgTh:   2 \r\nCONNECTION: Close\r\n\r\nab", &r),
        BENCH_SINK_DONE);
    assert_int_equal(r.body_len, 2);
    assert_int_equal(r.keep_alive, 0);
}

static void test_http10_closes_unless_keep_alive(void **state)
{
    struct bench_sink_req r;

    (void)state;
    assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &r), BENCH_SINK_DONE);
    assert_int_equal(r.keep_alive, 0);
    assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r),
                     BENCH_SINK_DONE);
    assert_int_equal(r.keep_alive, 1);
}

static void test_same_content_length_twice_is_fine(void **state)
{
    struct bench_sink_req r;

    (void)state;
    assert_int_equal(
        parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", &r),
        BENCH_SINK_DONE);
}

static void test_conflicting_content_lengths_are_bad(void **state)
{
    struct bench_sink_req r;

    (void)state;
    assert_int_equal(
        parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy", &r),
        BENCH_SINK_BAD);
}

static void test_content_length_not_digits_is_bad(void **state)
{
    struct bench_sink_req r;

    (void)state;
    assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &r), BENCH_SINK_BAD);
    assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", &r), BENCH_SINK_BAD);
    assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", &r), BENCH_SINK_BAD);
}

static void test_content_length_over_the_limit_is_bad(void **state)
{
    char in[128];
    struct bench_sink_req r;

    (void)state;
    snprintf(in, sizeof(in), "POST / HTTP/1.1\r\nContent-Length: %u\r\n\r\n",
             BENCH_SINK_MAX_BODY + 1);
    assert_int_equal(parse(in, &r), BENCH_SINK_BAD);
    snprintf(in, sizeof(in), "POST / HTTP/1.1\r\nContent-Length: %u\r\n\r\n", BENCH_SINK_MAX_BODY);
    assert_int_equal(parse(in, &r), BENCH_SINK_MORE);
}

static void test_transfer_encoding_is_refused(void **state)
{
    struct bench_sink_req r;

    (void)state;
    assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", &r),
                     BENCH_SINK_BAD);
}

static void test_malformed_request_lines_are_bad(void **state)
{
    static const char *const bad[] = {
        "POST  /x HTTP/1.1\r\n\r\n", "POST x HTTP/1.1\r\n\r\n",   "POST /x HTTP/2.0\r\n\r\n",
        "POST /x HTTP/1.1 \r\n\r\n", "POST /x\r\n\r\n",           " POST /x HTTP/1.1\r\n\r\n",
        "PO(ST /x HTTP/1.1\r\n\r\n", "POST /x HTTP/1.12\r\n\r\n", "\r\n\r\n",
    };
    struct bench_sink_req r;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], &r), BENCH_SINK_BAD);
    }
}

static void test_malformed_header_lines_are_bad(void **state)
{
    static const char *const bad[] = {
        "POST /x HTTP/1.1\r\nNoColon\r\n\r\n",
        "POST /x HTTP/1.1\r\nName : v\r\n\r\n",
        "POST /x HTTP/1.1\r\n: v\r\n\r\n",
        "POST /x HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
    };
    struct bench_sink_req r;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], &r), BENCH_SINK_BAD);
    }
}

static void test_bare_cr_or_lf_is_bad(void **state)
{
    struct bench_sink_req r;

    (void)state;
    assert_int_equal(parse("POST /x HTTP/1.1\nA: b\r\n\r\n", &r), BENCH_SINK_BAD);
    assert_int_equal(parse("POST /x HTTP/1.1\r\nA: b\rc\r\n\r\n", &r), BENCH_SINK_BAD);
}

static void test_nul_is_bad_even_before_the_head_ends(void **state)
{
    static const char in[] = "POST /x\0 HTTP/1.1\r\n";
    struct bench_sink_req r;

    (void)state;
    assert_int_equal(bench_sink_parse(in, sizeof(in) - 1, &r), BENCH_SINK_BAD);
}

static void test_head_over_the_limit_is_bad(void **state)
{
    static char in[BENCH_SINK_MAX_HEAD + 64];
    struct bench_sink_req r;
    size_t n;

    (void)state;
    n = (size_t)snprintf(in, sizeof(in), "POST /x HTTP/1.1\r\nX: ");
    memset(in + n, 'a', sizeof(in) - n - 1);
    in[sizeof(in) - 1] = '\0';
    assert_int_equal(bench_sink_parse(in, BENCH_SINK_MAX_HEAD - 1, &r), BENCH_SINK_MORE);
    assert_int_equal(bench_sink_parse(in, BENCH_SINK_MAX_HEAD, &r), BENCH_SINK_BAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_with_body),
        cmocka_unit_test(test_no_content_length_is_empty_body),
        cmocka_unit_test(test_pipelined_requests_consume_one),
        cmocka_unit_test(test_every_prefix_wants_more),
        cmocka_unit_test(test_head_done_while_body_is_coming),
        cmocka_unit_test(test_header_names_and_values_are_case_insensitive),
        cmocka_unit_test(test_http10_closes_unless_keep_alive),
        cmocka_unit_test(test_same_content_length_twice_is_fine),
        cmocka_unit_test(test_conflicting_content_lengths_are_bad),
        cmocka_unit_test(test_content_length_not_digits_is_bad),
        cmocka_unit_test(test_content_length_over_the_limit_is_bad),
        cmocka_unit_test(test_transfer_encoding_is_refused),
        cmocka_unit_test(test_malformed_request_lines_are_bad),
        cmocka_unit_test(test_malformed_header_lines_are_bad),
        cmocka_unit_test(test_bare_cr_or_lf_is_bad),
        cmocka_unit_test(test_nul_is_bad_even_before_the_head_ends),
        cmocka_unit_test(test_head_over_the_limit_is_bad),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
