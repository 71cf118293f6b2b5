/*
 * test_task_convergence.c - task convergence in the binary (reference
 * part 2, 11.7) with shortened durations (runs every 500 ms, kick 1 s,
 * pending expiry 4 s, completed expiry 6 s), cells from the Locket
 * stand-in: a Pending task is auctioned again by convergence (upstream's
 * body, empty trace id), then expires, then is deleted once its completion
 * expired; a Running task whose cell left Locket fails with its cell kept;
 * a failing Locket fails nothing; a callback that kept its task Resolving
 * is resubmitted after the kick and then deletes it. And the rep cancel
 * (11.5.3): through Locket to the cell's rep (mutual TLS stand-in) with
 * the caller's X-Vcap-Request-Id and no Content-Type; an unknown cell is
 * only logged.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/callback.h"
#include "support/locket.h"
#include "support/rep.h"
#include "task_it.h"

#define DOMAIN   "tconv"
#define WAIT_MS  30000
#define REP_CELL "tc-cell-rep"

static struct it_cb *plain;

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

static void wait_task_runs(int k)
{
    int until = log_count("converge.tasks\"") + k;
    int64_t t0 = it_mono_ms();

    while (log_count("converge.tasks\"") < until) {
        if (it_mono_ms() - t0 > WAIT_MS) {
            fail_msg("no task convergence run within %d ms", WAIT_MS);
        }
        it_sleep_ms(50);
    }
}

static void get_task(const char *guid, Models__TaskResponse **r, Models__Task **t)
{
    *t = task_get(guid, r);
    assert_non_null(*t);
}

static void test_pending_reauctioned_expired_then_deleted(void **state)
{
    char guid[64], want[512];
    json_t *posts;
    Models__TaskResponse *r = NULL;
    Models__Task *t;

    (void)state;
    it_uniq(guid, sizeof(guid), "tcpend");
    assert_int_equal(task_desire(guid, DOMAIN, NULL, NULL, NULL, 0), IT_OK);
    /* The desire's POST, then convergence's (rule 2). */
    posts = it_auction_task_wait(guid, 2, WAIT_MS);
    assert_true(json_array_size(posts) >= 2);
    snprintf(want, sizeof(want),
             "{\"TaskGuid\":\"%s\",\"Domain\":\"%s\",\"PlacementTags\":null,"
             "\"VolumeDrivers\":[],\"RootFs\":\"preloaded:cflinuxfs4\",\"MemoryMB\":256,"
             "\"DiskMB\":1024,\"MaxPids\":0,\"state\":\"Invalid\",\"failed\":false}",
             guid, DOMAIN);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_array_get(posts, 1), "body")), want));
    assert_string_equal(json_string_value(json_object_get(json_array_get(posts, 1), "trace")), "");
    json_decref(posts);
    /* Rule 1 after 4 s. */
    assert_int_equal(task_wait_state(guid, MODELS__TASK__STATE__Completed, WAIT_MS),
                     MODELS__TASK__STATE__Completed);
    get_task(guid, &r, &t);
    assert_true(t->failed);
    assert_string_equal(t->failure_reason, "not started within time limit");
    assert_true(t->first_completed_at > 0);
    it_free(r);
    /* Rule 5 after 6 more. */
    assert_int_equal(task_wait_state(guid, -1, WAIT_MS), -1);
}

static void test_cell_gone_fails_running_task(void **state)
{
    char guid[64];
    Models__TaskResponse *r = NULL;
    Models__Task *t;
    int should = 0;

    (void)state;
    it_uniq(guid, sizeof(guid), "tcgone");
    assert_int_equal(it_locket_register_cell("tc-cell-a", "z1", NULL), 0);
    assert_int_equal(task_desire(guid, DOMAIN, NULL, NULL, NULL, 0), IT_OK);
    assert_int_equal(task_start(guid, "tc-cell-a", &should), IT_OK);
    assert_true(should);
    wait_task_runs(2);
    assert_int_equal(task_state(guid), MODELS__TASK__STATE__Running);
    assert_int_equal(it_locket_remove("tc-cell-a"), 0);
    assert_int_equal(task_wait_state(guid, MODELS__TASK__STATE__Completed, WAIT_MS),
                     MODELS__TASK__STATE__Completed);
    get_task(guid, &r, &t);
    assert_true(t->failed);
    assert_string_equal(t->failure_reason, "cell disappeared before completion");
    assert_string_equal(t->cell_id, "tc-cell-a"); /* kept (11.9 q6) */
    it_free(r);
}

static void test_locket_failing_fails_nothing(void **state)
{
    char guid[64];
    int should = 0;

    (void)state;
    it_uniq(guid, sizeof(guid), "tcdown");
    assert_int_equal(it_locket_register_cell("tc-cell-b", "z1", NULL), 0);
    assert_int_equal(task_desire(guid, DOMAIN, NULL, NULL, NULL, 0), IT_OK);
    assert_int_equal(task_start(guid, "tc-cell-b", &should), IT_OK);
    wait_task_runs(1);
    assert_int_equal(it_locket_fail("UNAVAILABLE", "locket is down"), 0);
    {
        int until = log_count("\"cells\":\"locket-failed\"") + 3;
        int64_t t0 = it_mono_ms();

        while (log_count("\"cells\":\"locket-failed\"") < until) {
            if (it_mono_ms() - t0 > WAIT_MS) {
                fail_msg("no failed-Locket runs within %d ms", WAIT_MS);
            }
            it_sleep_ms(50);
        }
    }
    assert_int_equal(task_state(guid), MODELS__TASK__STATE__Running);
    assert_int_equal(it_locket_fail("OK", NULL), 0);
    assert_int_equal(it_locket_remove("tc-cell-b"), 0);
}

/* 503 three times: Resolving; after the kick convergence demotes and resubmits it. */
static void test_resolving_kicked_and_callback_resubmitted(void **state)
{
    static const unsigned script[] = {503, 503, 503};
    char guid[64], path[128], url[256];
    int should = 0;

    (void)state;
    it_uniq(guid, sizeof(guid), "tckick");
    snprintf(path, sizeof(path), "/cb/%s", guid);
    snprintf(url, sizeof(url), "%s%s", it_cb_url(plain), path);
    it_cb_script(plain, script, 3);
    assert_int_equal(task_desire(guid, DOMAIN, url, NULL, NULL, 0), IT_OK);
    assert_int_equal(task_start(guid, REP_CELL, &should), IT_OK);
    assert_int_equal(task_complete(guid, REP_CELL, 0, "", "r"), IT_OK);
    assert_int_equal(it_cb_wait(plain, path, 3, WAIT_MS, NULL, 0), 3);
    /* The fourth attempt comes from convergence (rules 4 and 6), answered 200. */
    assert_int_equal(it_cb_wait(plain, path, 4, WAIT_MS, NULL, 0), 4);
    assert_int_equal(task_wait_state(guid, -1, WAIT_MS), -1);
    assert_true(log_count("\"demoted\":1") + log_count("\"demoted\":2") >= 1);
}

static void test_cancel_calls_the_rep_through_locket(void **state)
{
    static const char *const headers[] = {"X-Vcap-Request-Id: trace-cancel-1",
                                          "Content-Type: application/x-protobuf"};
    Models__TaskGuidRequest req = MODELS__TASK_GUID_REQUEST__INIT;
    char guid[64], path[128];
    struct it_rep_call call;
    struct it_resp resp = {0};
    uint8_t *body;
    size_t len;
    int should = 0;

    (void)state;
    it_uniq(guid, sizeof(guid), "tccancel");
    snprintf(path, sizeof(path), "/v1/tasks/%s/cancel", guid);
    assert_int_equal(task_desire(guid, DOMAIN, NULL, NULL, NULL, 0), IT_OK);
    assert_int_equal(task_start(guid, REP_CELL, &should), IT_OK);
    req.task_guid = guid;
    body = it_pack(&req.base, &len);
    it_request("POST", "/v1/tasks/cancel", body, len, headers, &resp);
    free(body);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.len, 0); /* TaskLifecycleResponse without error */
    it_resp_free(&resp);
    assert_int_equal(it_rep_wait(path, 1, WAIT_MS, &call, 1), 1);
    assert_string_equal(call.method, "POST");
    assert_string_equal(call.trace_id, "trace-cancel-1");
    assert_string_equal(call.content_type, "");
    assert_true(call.verified);
    assert_int_equal(task_state(guid), MODELS__TASK__STATE__Completed);
}

/* 11.9 q4 changed: a cell Locket does not know is logged, the cancel answers success. */
static void test_cancel_on_unknown_cell_succeeds(void **state)
{
    Models__RejectTaskRequest rej = MODELS__REJECT_TASK_REQUEST__INIT;
    char guid[64];
    int should = 0;

    (void)state;
    it_uniq(guid, sizeof(guid), "tcnocell");
    assert_int_equal(task_desire(guid, DOMAIN, NULL, NULL, NULL, 0), IT_OK);
    /* The cell is known while the task runs on it (a Running task on an unknown cell would be
     * failed by the next convergence run, racing the reject below), then leaves Locket. */
    assert_int_equal(it_locket_register_cell(REP_CELL "-gone", "z1", NULL), 0);
    assert_int_equal(task_start(guid, REP_CELL "-gone", &should), IT_OK);
    rej.task_guid = guid;
    rej.rejection_reason = (char *)"no room";
    /* Rejected back to Pending, the cell kept (11.9 q2): convergence leaves it alone. */
    assert_int_equal(
        it_call_err("/v1/tasks/reject", &rej.base, &models__task_lifecycle_response__descriptor),
        IT_OK);
    assert_int_equal(it_locket_remove(REP_CELL "-gone"), 0);
    assert_int_equal(task_guid_call("/v1/tasks/cancel", guid), IT_OK);
    assert_true(log_count("task.cancel.cell-not-found") >= 1);
    assert_int_equal(task_state(guid), MODELS__TASK__STATE__Completed);
    /* Every task run of this server committed. */
    assert_int_equal(log_count("converge.tasks.failed"), 0);
    assert_true(log_count("converge.tasks\"") >= 1);
}

static int setup(void **state)
{
    json_t *extra;
    json_t *rep_cfg;
    json_t *over;
    int rc;

    (void)state;
    plain = it_cb_start(0);
    if (plain == NULL || it_locket_start() != 0 || it_rep_start() != 0) {
        return -1;
    }
    extra = it_locket_server_config();
    rep_cfg = it_rep_server_config();
    json_object_update(extra, rep_cfg);
    json_decref(rep_cfg);
    json_object_set_new(extra, "converge_repeat_interval", json_string("500ms"));
    json_object_set_new(extra, "kick_task_duration", json_string("1s"));
    json_object_set_new(extra, "expire_pending_task_duration", json_string("4s"));
    json_object_set_new(extra, "expire_completed_task_duration", json_string("6s"));
    /* BOSH's value: a reject sends the task back to Pending (the cancel test needs it). */
    json_object_set_new(extra, "max_task_retries", json_integer(3));
    /* Register the cells before the server's first run (an empty first set is believed). */
    if (it_locket_register_cell("tc-cell-keep", "z1", NULL) != 0) {
        json_decref(extra);
        return -1;
    }
    over = json_pack("{s:s}", "rep_url", it_rep_url());
    rc = it_locket_register_cell(REP_CELL, "z1", over);
    json_decref(over);
    if (rc != 0) {
        json_decref(extra);
        return -1;
    }
    it_server_config(extra);
    rc = it_server_start("task_convergence", NULL);
    it_server_config(NULL);
    json_decref(extra);
    return rc;
}

static int teardown(void **state)
{
    int rc = it_group_teardown(state);

    it_rep_stop();
    it_locket_stop();
    it_cb_stop(plain);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pending_reauctioned_expired_then_deleted),
        cmocka_unit_test(test_cell_gone_fails_running_task),
        cmocka_unit_test(test_locket_failing_fails_nothing),
        cmocka_unit_test(test_resolving_kicked_and_callback_resubmitted),
        cmocka_unit_test(test_cancel_calls_the_rep_through_locket),
        cmocka_unit_test(test_cancel_on_unknown_cell_succeeds),
    };

    it_set_name("task_convergence");
    return it_main_exit(cmocka_run_group_tests_name("task_convergence", tests, setup, teardown));
}
