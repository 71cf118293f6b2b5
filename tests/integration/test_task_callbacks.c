/*
 * test_task_callbacks.c - task completion callbacks (reference part 2,
 * 11.6) against the recording stand-in (support/callback.h): an answered
 * callback deletes the task (200 and 500 alike, 11.9 q9); 503 and 504 are
 * tried three times and leave the task Resolving; a timed-out attempt is
 * retried (communication_timeout shortened to 1 s); the exact body with
 * Go-style escaping; no URL, no callback; and the full staging cycle with
 * its events on the task stream. Mutual TLS: test_task_callbacks_tls.c.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.pb-c.h"
#include "support/callback.h"
#include "task_it.h"

#define DOMAIN  "cb-domain"
#define WAIT_MS 20000
#define CELL    "cb-cell"

static struct it_cb *plain;

/* "<base>/cb/<guid>": each test's callbacks are told apart by path. */
static void cb_url(const struct it_cb *cb, const char *guid, char *out, size_t len)
{
    snprintf(out, len, "%s/cb/%s", it_cb_url(cb), guid);
}

static void cb_path(const char *guid, char *out, size_t len)
{
    snprintf(out, len, "/cb/%s", guid);
}

/* Desire with a callback to `cb`, start it and complete it; returns created_at. */
static int64_t run_to_completed(struct it_cb *cb, const char *guid, const char *annotation,
                                int failed, const char *reason, const char *result)
{
    char url[256];
    Models__TaskResponse *r = NULL;
    Models__Task *t;
    int should = 0;
    int64_t created;

    cb_url(cb, guid, url, sizeof(url));
    assert_int_equal(task_desire(guid, DOMAIN, url, annotation, NULL, 0), IT_OK);
    t = task_get(guid, &r);
    assert_non_null(t);
    created = t->created_at;
    it_free(r);
    assert_int_equal(task_start(guid, CELL, &should), IT_OK);
    assert_true(should);
    assert_int_equal(task_complete(guid, CELL, failed, reason, result), IT_OK);
    return created;
}

static void test_answered_callback_deletes_the_task(void **state)
{
    char guid[64], path[128], want[512];
    struct it_cb_call call;
    int64_t created;

    (void)state;
    it_uniq(guid, sizeof(guid), "cbok");
    cb_path(guid, path, sizeof(path));
    created = run_to_completed(plain, guid, "", 0, "", "the result");
    assert_int_equal(it_cb_wait(plain, path, 1, WAIT_MS, &call, 1), 1);
    assert_int_equal(task_wait_state(guid, -1, WAIT_MS), -1);
    assert_string_equal(call.method, "POST");
    assert_string_equal(call.content_type, "application/json");
    assert_false(call.has_trace);
    /* annotation omitted when empty; the other keys always present. */
    snprintf(want, sizeof(want),
             "{\"task_guid\":\"%s\",\"failed\":false,\"failure_reason\":\"\",\"result\":\"the "
             "result\",\"created_at\":%lld}",
             guid, (long long)created);
    assert_string_equal(call.body, want);
    assert_int_equal(it_cb_count(plain, path), 1);
}

/* 11.9 q9: any final answer but 503/504 resolves, 500 included. */
static void test_status_500_also_deletes(void **state)
{
    static const unsigned script[] = {500};
    char guid[64], path[128];

    (void)state;
    it_uniq(guid, sizeof(guid), "cb500");
    cb_path(guid, path, sizeof(path));
    it_cb_script(plain, script, 1);
    run_to_completed(plain, guid, NULL, 0, "", "");
    assert_int_equal(it_cb_wait(plain, path, 1, WAIT_MS, NULL, 0), 1);
    assert_int_equal(task_wait_state(guid, -1, WAIT_MS), -1);
    assert_int_equal(it_cb_count(plain, path), 1);
}

static void unavailable_keeps_resolving(unsigned status)
{
    const unsigned script[] = {status, status, status};
    char guid[64], path[128];

    it_uniq(guid, sizeof(guid), status == 503 ? "cb503" : "cb504");
    cb_path(guid, path, sizeof(path));
    it_cb_script(plain, script, 3);
    run_to_completed(plain, guid, NULL, 1, "boom", "");
    assert_int_equal(it_cb_wait(plain, path, 3, WAIT_MS, NULL, 0), 3);
    /* Three attempts, then nothing more: the task stays Resolving. */
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(it_cb_count(plain, path), 3);
    assert_int_equal(task_state(guid), MODELS__TASK__STATE__Resolving);
}

static void test_503_three_times_keeps_resolving(void **state)
{
    (void)state;
    unavailable_keeps_resolving(503);
}

static void test_504_three_times_keeps_resolving(void **state)
{
    (void)state;
    unavailable_keeps_resolving(504);
}

static void test_503_then_200_deletes_on_the_third_attempt(void **state)
{
    static const unsigned script[] = {503, 503, 200};
    char guid[64], path[128];

    (void)state;
    it_uniq(guid, sizeof(guid), "cb5032");
    cb_path(guid, path, sizeof(path));
    it_cb_script(plain, script, 3);
    run_to_completed(plain, guid, NULL, 0, "", "");
    assert_int_equal(it_cb_wait(plain, path, 3, WAIT_MS, NULL, 0), 3);
    assert_int_equal(task_wait_state(guid, -1, WAIT_MS), -1);
    assert_int_equal(it_cb_count(plain, path), 3);
}

/* An attempt that times out (communication_timeout 1 s) is tried again. */
static void test_timeout_is_retried(void **state)
{
    char guid[64], path[128];

    (void)state;
    it_uniq(guid, sizeof(guid), "cbslow");
    cb_path(guid, path, sizeof(path));
    it_cb_stall(plain, 3000, 1);
    run_to_completed(plain, guid, NULL, 0, "", "");
    assert_int_equal(it_cb_wait(plain, path, 2, WAIT_MS, NULL, 0), 2);
    assert_int_equal(task_wait_state(guid, -1, WAIT_MS), -1);
    it_cb_stall(plain, 0, 0);
}

/* Go's encoding/json: <, >, & and U+2028 escaped; the annotation from the definition. */
static void test_exact_body_go_escaping(void **state)
{
    char guid[64], path[128], want[1024];
    struct it_cb_call call;
    int64_t created;

    (void)state;
    it_uniq(guid, sizeof(guid), "cbesc");
    cb_path(guid, path, sizeof(path));
    created = run_to_completed(plain, guid, "a<b>&c\xe2\x80\xa8\"q\"", 1, "it \"failed\" <here>",
                               "r&r\n");
    assert_int_equal(it_cb_wait(plain, path, 1, WAIT_MS, &call, 1), 1);
    snprintf(want, sizeof(want),
             "{\"task_guid\":\"%s\",\"failed\":true,"
             "\"failure_reason\":\"it \\\"failed\\\" \\u003chere\\u003e\","
             "\"result\":\"r\\u0026r\\n\","
             "\"annotation\":\"a\\u003cb\\u003e\\u0026c\\u2028\\\"q\\\"\","
             "\"created_at\":%lld}",
             guid, (long long)created);
    assert_string_equal(call.body, want);
    assert_int_equal(task_wait_state(guid, -1, WAIT_MS), -1);
}

/* Cancel records the callback too: failed, "task was cancelled", empty result. */
static void test_cancelled_task_gets_its_callback(void **state)
{
    char guid[64], path[128], url[256], want[512];
    struct it_cb_call call;
    Models__TaskResponse *r = NULL;
    Models__Task *t;
    int64_t created;

    (void)state;
    it_uniq(guid, sizeof(guid), "cbcancel");
    cb_path(guid, path, sizeof(path));
    cb_url(plain, guid, url, sizeof(url));
    assert_int_equal(task_desire(guid, DOMAIN, url, "ann", NULL, 0), IT_OK);
    t = task_get(guid, &r);
    assert_non_null(t);
    created = t->created_at;
    it_free(r);
    assert_int_equal(task_guid_call("/v1/tasks/cancel", guid), IT_OK);
    assert_int_equal(it_cb_wait(plain, path, 1, WAIT_MS, &call, 1), 1);
    snprintf(want, sizeof(want),
             "{\"task_guid\":\"%s\",\"failed\":true,\"failure_reason\":\"task was cancelled\","
             "\"result\":\"\",\"annotation\":\"ann\",\"created_at\":%lld}",
             guid, (long long)created);
    assert_string_equal(call.body, want);
    assert_int_equal(task_wait_state(guid, -1, WAIT_MS), -1);
}

/* No completion_callback_url: the task stays Completed for a client to resolve. */
static void test_no_url_no_callback(void **state)
{
    char guid[64];
    int should = 0;

    (void)state;
    it_uniq(guid, sizeof(guid), "cbnone");
    assert_int_equal(task_desire(guid, DOMAIN, NULL, NULL, NULL, 0), IT_OK);
    assert_int_equal(task_start(guid, CELL, &should), IT_OK);
    assert_int_equal(task_complete(guid, CELL, 0, "", ""), IT_OK);
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(task_state(guid), MODELS__TASK__STATE__Completed);
}

static int log_count(const char *needle)
{
    char *log = it_server_log();
    int n = 0;

    for (const char *p = log; p != NULL && (p = strstr(p, needle)) != NULL; p++) {
        n++;
    }
    free(log);
    return n;
}

/*
 * task_callback_workers is 1 here: while one callback is in progress (its
 * attempts stalled), another is dropped with a log line and its task stays
 * Completed for convergence to resubmit (upstream would block the submitter).
 */
static void test_beyond_task_callback_workers_dropped(void **state)
{
    char first[64], second[64], path[128];
    int dropped = log_count("task-callback.dropped");

    (void)state;
    it_uniq(first, sizeof(first), "cbbusy");
    it_uniq(second, sizeof(second), "cbdrop");
    cb_path(first, path, sizeof(path));
    it_cb_stall(plain, 3000, 2);
    run_to_completed(plain, first, NULL, 0, "", "");
    assert_int_equal(it_cb_wait(plain, path, 1, WAIT_MS, NULL, 0), 1);
    run_to_completed(plain, second, NULL, 0, "", "");
    assert_int_equal(task_state(second), MODELS__TASK__STATE__Completed);
    assert_int_equal(log_count("task-callback.dropped"), dropped + 1);
    /* The first one ends normally: its third attempt is answered. */
    assert_int_equal(task_wait_state(first, -1, WAIT_MS), -1);
    it_sleep_ms(it_quiet_ms());
    cb_path(second, path, sizeof(path));
    assert_int_equal(it_cb_count(plain, path), 0);
    assert_int_equal(task_state(second), MODELS__TASK__STATE__Completed);
    it_cb_stall(plain, 0, 0);
}

static int changed_to(ProtobufCMessage *m, int from, int to)
{
    Models__TaskChangedEvent *e = (Models__TaskChangedEvent *)m;

    return (int)e->before->state == from && (int)e->after->state == to;
}

/* Staging: desire with a callback -> start -> complete -> callback -> deleted, events seen. */
static void test_full_staging_cycle(void **state)
{
    char guid[64], path[128], name[64];
    struct it_sse *s;
    ProtobufCMessage *m;

    (void)state;
    it_uniq(guid, sizeof(guid), "cbstage");
    cb_path(guid, path, sizeof(path));
    s = it_sse_open("POST", "/v1/events/tasks.r1", NULL, NULL);
    assert_non_null(s);
    assert_int_equal(it_sse_status(s), 200);
    run_to_completed(plain, guid, "staging", 0, "", "droplet");
    assert_int_equal(it_cb_wait(plain, path, 1, WAIT_MS, NULL, 0), 1);
    assert_int_equal(task_wait_state(guid, -1, WAIT_MS), -1);

    m = task_next_event(s, guid, WAIT_MS, name, sizeof(name));
    assert_string_equal(name, "task_created");
    protobuf_c_message_free_unpacked(m, NULL);
    m = task_next_event(s, guid, WAIT_MS, name, sizeof(name));
    assert_string_equal(name, "task_changed");
    assert_true(changed_to(m, MODELS__TASK__STATE__Pending, MODELS__TASK__STATE__Running));
    protobuf_c_message_free_unpacked(m, NULL);
    m = task_next_event(s, guid, WAIT_MS, name, sizeof(name));
    assert_string_equal(name, "task_changed");
    assert_true(changed_to(m, MODELS__TASK__STATE__Running, MODELS__TASK__STATE__Completed));
    assert_string_equal(((Models__TaskChangedEvent *)m)->after->result, "droplet");
    protobuf_c_message_free_unpacked(m, NULL);
    m = task_next_event(s, guid, WAIT_MS, name, sizeof(name));
    assert_string_equal(name, "task_changed");
    assert_true(changed_to(m, MODELS__TASK__STATE__Completed, MODELS__TASK__STATE__Resolving));
    protobuf_c_message_free_unpacked(m, NULL);
    m = task_next_event(s, guid, WAIT_MS, name, sizeof(name));
    assert_string_equal(name, "task_removed");
    assert_int_equal(((Models__TaskRemovedEvent *)m)->task->state, MODELS__TASK__STATE__Resolving);
    protobuf_c_message_free_unpacked(m, NULL);
    it_sse_close(s);
}

static int setup(void **state)
{
    json_t *extra;
    int rc;

    (void)state;
    plain = it_cb_start(0);
    if (plain == NULL) {
        return -1;
    }
    extra = json_object();
    /* The timeout test: an attempt stalled for 3 s times out after 1 s. */
    json_object_set_new(extra, "communication_timeout", json_string("1s"));
    /* Convergence stays out of the way (no kick, no expiry within a test). */
    json_object_set_new(extra, "kick_task_duration", json_string("1h"));
    json_object_set_new(extra, "expire_completed_task_duration", json_string("2h"));
    /* One callback at a time (the tests run one after the other). */
    json_object_set_new(extra, "task_callback_workers", json_integer(1));
    it_server_config(extra);
    rc = it_server_start("task_callbacks", NULL);
    it_server_config(NULL);
    json_decref(extra);
    return rc;
}

static int teardown(void **state)
{
    int rc = it_group_teardown(state);

    it_cb_stop(plain);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answered_callback_deletes_the_task),
        cmocka_unit_test(test_status_500_also_deletes),
        cmocka_unit_test(test_503_three_times_keeps_resolving),
        cmocka_unit_test(test_504_three_times_keeps_resolving),
        cmocka_unit_test(test_503_then_200_deletes_on_the_third_attempt),
        cmocka_unit_test(test_timeout_is_retried),
        cmocka_unit_test(test_exact_body_go_escaping),
        cmocka_unit_test(test_cancelled_task_gets_its_callback),
        cmocka_unit_test(test_no_url_no_callback),
        cmocka_unit_test(test_full_staging_cycle),
        cmocka_unit_test(test_beyond_task_callback_workers_dropped),
    };

    it_set_name("task_callbacks");
    return it_main_exit(cmocka_run_group_tests_name("task_callbacks", tests, setup, teardown));
}
