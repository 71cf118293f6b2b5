/*
 * test_bench_taskwire.c - the tasks workload's requests and checks
 * (bench/taskwire.c) and the varint reader it uses on start's answer
 * (bench/wire.c): guids, the desired definition as the BBS decodes it,
 * callback paths and bodies.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "taskwire.h"
#include "wire.h"

static void test_guid_is_uuid_shaped_and_distinct(void **state)
{
    char a[40];
    char b[40];
    char c[40];

    (void)state;
    bench_task_guid(a, sizeof(a), 0xdeadbeef, 16, 3, 7);
    assert_string_equal(a, "deadbeef-0010-4003-8000-000000000007");
    bench_task_guid(b, sizeof(b), 0xdeadbeef, 16, 4, 7);
    bench_task_guid(c, sizeof(c), 0xdeadbeef, 64, 3, 7);
    assert_string_not_equal(a, b);
    assert_string_not_equal(a, c);
    bench_task_guid(a, sizeof(a), 1, 64, 5000, 123456789);
    assert_int_equal(strlen(a), 36);
    assert_string_equal(a, "00000001-0040-4388-8001-0000075bcd15");
}

/* Pack the desire as the bench sends it and decode it as the BBS does. */
static void test_desire_round_trips_with_a_staging_definition(void **state)
{
    static struct bench_task_desire_msg m;
    uint8_t buf[8192];
    size_t n;
    Models__DesireTaskRequest *d;
    Models__TaskDefinition *def;

    (void)state;
    bench_task_desire_msg_init(&m, "deadbeef-0010-4003-8000-000000000007", "dom-k16",
                               "http://127.0.0.1:9/cb/dom-k16/3/7");
    n = protobuf_c_message_get_packed_size(&m.req.base);
    assert_true(n > 1000 && n < sizeof(buf));
    protobuf_c_message_pack(&m.req.base, buf);
    d = models__desire_task_request__unpack(NULL, n, buf);
    assert_non_null(d);
    assert_string_equal(d->task_guid, "deadbeef-0010-4003-8000-000000000007");
    assert_string_equal(d->domain, "dom-k16");
    def = d->task_definition;
    assert_non_null(def);
    assert_string_equal(def->root_fs, "preloaded:cflinuxfs4");
    assert_int_equal(def->memory_mb, 1024);
    assert_int_equal(def->disk_mb, 4096);
    assert_string_equal(def->completion_callback_url, "http://127.0.0.1:9/cb/dom-k16/3/7");
    assert_string_equal(def->log_guid, "deadbeef-a0a0-4003-8000-000000000007");
    assert_non_null(def->action);
    assert_non_null(def->action->serial_action);
    assert_int_equal(def->action->serial_action->n_actions, 3);
    assert_non_null(def->action->serial_action->actions[0]->download_action);
    assert_non_null(def->action->serial_action->actions[1]->run_action);
    assert_string_equal(def->action->serial_action->actions[1]->run_action->path,
                        "/tmp/lifecycle/builder");
    assert_string_equal(def->action->serial_action->actions[1]->run_action->user, "vcap");
    assert_non_null(def->action->serial_action->actions[2]->upload_action);
    assert_int_equal(def->n_egress_rules, 2);
    assert_int_equal(def->n_cached_dependencies, 1);
    assert_non_null(def->log_rate_limit);
    assert_int_equal(def->log_rate_limit->bytes_per_second, -1);
    models__desire_task_request__free_unpacked(d, NULL);
}

static void test_desire_without_callback_has_no_url(void **state)
{
    static struct bench_task_desire_msg m;

    (void)state;
    bench_task_desire_msg_init(&m, "deadbeef-0010-4003-8000-000000000007", "d", NULL);
    assert_string_equal(m.def.completion_callback_url, "");
}

static void test_callback_path_round_trips(void **state)
{
    char p[96];
    int client = -1;
    int64_t seq = -1;

    (void)state;
    bench_task_cb_path(p, sizeof(p), "b1234567-cb-k16", 15, 4711);
    assert_string_equal(p, "/cb/b1234567-cb-k16/15/4711");
    assert_int_equal(bench_task_cb_parse(p, strlen(p), "b1234567-cb-k16", &client, &seq), 0);
    assert_int_equal(client, 15);
    assert_int_equal(seq, 4711);
}

static void test_callback_path_of_another_tag_or_malformed_is_refused(void **state)
{
    static const char *const bad[] = {
        "/cb/other-k16/1/2", "/cb/tag/1/2/", "/cb/tag/1", "/cb/tag//2",   "/cb/tag/01/2",
        "/cb/tag/1/-2",      "/cb/tag/1/2x", "/cb/tag",   "/cbx/tag/1/2", "/cb/tagx/1/2",
        "/cb/tag/1/2?q",     "/cb/tag/a/2",  "",
    };
    int client;
    int64_t seq;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(bench_task_cb_parse(bad[i], strlen(bad[i]), "tag", &client, &seq), -1);
    }
    assert_int_equal(bench_task_cb_parse("/cb/tag/0/0", 11, "tag", &client, &seq), 0);
    /* Only the first n bytes count. */
    assert_int_equal(bench_task_cb_parse("/cb/tag/1/23", 11, "tag", &client, &seq), 0);
    assert_int_equal(seq, 2);
}

/* What the BBS sends (reference 2 11.6): Go's encoding of TaskCallbackResponse. */
static void callback_body(char *buf, size_t len, const char *guid, const char *failed,
                          const char *reason, const char *result)
{
    snprintf(buf, len,
             "{\"task_guid\":\"%s\",\"failed\":%s,\"failure_reason\":\"%s\",\"result\":%s,"
             "\"annotation\":\"{\\\"lifecycle\\\":\\\"buildpack\\\"}\",\"created_at\":"
             "1718200000000000000}",
             guid, failed, reason, result);
}

static void test_callback_body_of_the_completed_task_is_ok(void **state)
{
    static const char guid[] = "deadbeef-0010-4003-8000-000000000007";
    char body[1024];

    (void)state;
    callback_body(body, sizeof(body), guid, "false", "", bench_task_result_json);
    assert_int_equal(bench_task_callback_ok(body, strlen(body), guid), 1);
}

static void test_callback_body_that_differs_is_not_ok(void **state)
{
    static const char guid[] = "deadbeef-0010-4003-8000-000000000007";
    char body[1024];

    (void)state;
    callback_body(body, sizeof(body), "deadbeef-0010-4003-8000-000000000008", "false", "",
                  bench_task_result_json);
    assert_int_equal(bench_task_callback_ok(body, strlen(body), guid), 0);
    callback_body(body, sizeof(body), guid, "true", "task was cancelled", "\"\"");
    assert_int_equal(bench_task_callback_ok(body, strlen(body), guid), 0);
    callback_body(body, sizeof(body), guid, "false", "", "\"{}\"");
    assert_int_equal(bench_task_callback_ok(body, strlen(body), guid), 0);
    /* Truncated before the result. */
    callback_body(body, sizeof(body), guid, "false", "", bench_task_result_json);
    assert_int_equal(bench_task_callback_ok(body, 60, guid), 0);
}

/* The JSON form of the result is the result, escaped. */
static void test_result_json_is_the_result_escaped(void **state)
{
    char esc[1024];
    size_t n = 0;

    (void)state;
    esc[n++] = '"';
    for (const char *p = bench_task_result; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            esc[n++] = '\\';
        }
        esc[n++] = *p;
    }
    esc[n++] = '"';
    esc[n] = '\0';
    assert_string_equal(esc, bench_task_result_json);
}

static void test_varint_reads_should_start(void **state)
{
    /* StartTaskResponse{should_start: true}; then with an error before it. */
    static const uint8_t yes[] = {0x10, 0x01};
    static const uint8_t err_then_no[] = {0x0a, 0x02, 0x08, 0x05, 0x10, 0x00};
    static const uint8_t twice[] = {0x10, 0x01, 0x10, 0x00};
    uint64_t v = 99;

    (void)state;
    assert_int_equal(bench_wire_varint(yes, sizeof(yes), 2, &v), 1);
    assert_int_equal(v, 1);
    assert_int_equal(bench_wire_varint(err_then_no, sizeof(err_then_no), 2, &v), 1);
    assert_int_equal(v, 0);
    assert_int_equal(bench_wire_varint(twice, sizeof(twice), 2, &v), 1);
    assert_int_equal(v, 0); /* the last one wins */
}

static void test_varint_absent_field_and_empty_body(void **state)
{
    static const uint8_t other[] = {0x0a, 0x00, 0x18, 0x01};
    uint64_t v = 7;

    (void)state;
    assert_int_equal(bench_wire_varint(other, sizeof(other), 2, &v), 0);
    assert_int_equal(bench_wire_varint(NULL, 0, 2, &v), 0);
    assert_int_equal(v, 7);
}

static void test_varint_malformed_is_refused(void **state)
{
    static const uint8_t truncated_len[] = {0x0a, 0x05, 0x01};
    static const uint8_t truncated_varint[] = {0x10, 0x80};
    static const uint8_t field_zero[] = {0x00, 0x01};
    static const uint8_t group[] = {0x13};
    static const uint8_t fixed64_short[] = {0x09, 1, 2, 3};
    uint64_t v;

    (void)state;
    assert_int_equal(bench_wire_varint(truncated_len, sizeof(truncated_len), 2, &v), -1);
    assert_int_equal(bench_wire_varint(truncated_varint, sizeof(truncated_varint), 2, &v), -1);
    assert_int_equal(bench_wire_varint(field_zero, sizeof(field_zero), 2, &v), -1);
    assert_int_equal(bench_wire_varint(group, sizeof(group), 2, &v), -1);
    assert_int_equal(bench_wire_varint(fixed64_short, sizeof(fixed64_short), 2, &v), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guid_is_uuid_shaped_and_distinct),
        cmocka_unit_test(test_desire_round_trips_with_a_staging_definition),
        cmocka_unit_test(test_desire_without_callback_has_no_url),
        cmocka_unit_test(test_callback_path_round_trips),
        cmocka_unit_test(test_callback_path_of_another_tag_or_malformed_is_refused),
        cmocka_unit_test(test_callback_body_of_the_completed_task_is_ok),
        cmocka_unit_test(test_callback_body_that_differs_is_not_ok),
        cmocka_unit_test(test_result_json_is_the_result_escaped),
        cmocka_unit_test(test_varint_reads_should_start),
        cmocka_unit_test(test_varint_absent_field_and_empty_body),
        cmocka_unit_test(test_varint_malformed_is_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
