/*
 * test_rep_calls.c - the calls the BBS makes to reps (reference 3.8, 5.4
 * step 5, 5.6, 9.2, 14): cells registered in the Locket stand-in
 * (support/locket.h) whose rep_url is a recording stand-in rep over
 * mutual TLS (support/rep.h).
 *
 *  - scale-down and desired-LRP removal ask the rep of every CLAIMED or
 *    RUNNING instance at or above the new count to stop it (exact URL,
 *    method, headers, the BBS's client certificate) and leave its row;
 *    UNCLAIMED rows are deleted as before;
 *  - retire of a RUNNING instance on a registered cell asks its rep to stop
 *    it and keeps the row (5 attempts when the rep fails); on a cell Locket
 *    does not know, the row is deleted; when Locket fails, UnknownError and
 *    nothing changes;
 *  - an update that changes the internal-router routes or the metric tags
 *    sends UpdateLRPInstance with the exact JSON body;
 *  - a rep that does not answer never fails the API call: the failure is
 *    logged and counted (the outbox's counters, logged at shutdown).
 *
 * One server with Locket and the stand-in rep; the last group stops it
 * itself to read the counters of its shutdown log line.
 */
#include "harness.h"

#include "cells.pb-c.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CELL      "rep-cell-1"
#define CELL_DOWN "rep-cell-down"
#define TRACE     "trace-rep-calls-1"
#define WAIT_MS   10000

static int down_port; /* a loopback port nothing listens on */

#define LIFECYCLE  (&models__actual_lrplifecycle_response__descriptor)
#define DLIFECYCLE (&models__desired_lrplifecycle_response__descriptor)

/* ---- helpers ------------------------------------------------------------------------------- */

/* A port that was free a moment ago: bound, then closed. */
static int closed_port(void)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port = 0;

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

/* POST `req` with X-Vcap-Request-Id: TRACE; returns the answer's error type. */
static int call_traced(const char *path, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *desc)
{
    static const char *const headers[] = {"X-Vcap-Request-Id: " TRACE, NULL};
    struct it_resp r = {0};
    size_t len = 0;
    uint8_t *body = it_pack(req, &len);
    ProtobufCMessage *m;
    int type;

    it_request("POST", path, body, len, headers, &r);
    free(body);
    assert_int_equal(r.status, 200);
    m = protobuf_c_message_unpack(desc, NULL, r.len, r.body);
    assert_non_null(m);
    type = it_err_type(m);
    protobuf_c_message_free_unpacked(m, NULL);
    it_resp_free(&r);
    return type;
}

static int update_instances_traced(const char *guid, int32_t instances)
{
    Models__UpdateDesiredLRPRequest req = MODELS__UPDATE_DESIRED_LRPREQUEST__INIT;
    Models__DesiredLRPUpdate u = MODELS__DESIRED_LRPUPDATE__INIT;

    u.optional_instances_case = MODELS__DESIRED_LRPUPDATE__OPTIONAL_INSTANCES_INSTANCES;
    u.instances = instances;
    req.process_guid = (char *)guid;
    req.update = &u;
    return call_traced("/v1/desired_lrp/update", &req.base, DLIFECYCLE);
}

static int retire_traced(const char *guid, int32_t index)
{
    Models__RetireActualLRPRequest req = MODELS__RETIRE_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;

    key.process_guid = (char *)guid;
    key.index = index;
    key.domain = (char *)IT_DOMAIN;
    req.actual_lrp_key = &key;
    return call_traced("/v1/actual_lrps/retire", &req.base, LIFECYCLE);
}

/* "ig-<guid>-<index>" */
static void instance_guid(char *out, size_t len, const char *guid, int32_t index)
{
    snprintf(out, len, "ig-%s-%d", guid, (int)index);
}

/* Claim and start (guid, index) on `cell`. */
static void run_on(const char *guid, int32_t index, const char *cell)
{
    char ig[300];

    instance_guid(ig, sizeof(ig), guid, index);
    assert_int_equal(it_claim(guid, index, ig, cell), IT_OK);
    assert_int_equal(it_start(guid, index, NULL, ig, cell, "10.0.0.1"), IT_OK);
}

static void claim_on(const char *guid, int32_t index, const char *cell)
{
    char ig[300];

    instance_guid(ig, sizeof(ig), guid, index);
    assert_int_equal(it_claim(guid, index, ig, cell), IT_OK);
}

/* The stop path of (guid, index). */
static void stop_path(char *out, size_t len, const char *guid, int32_t index)
{
    char ig[300];

    instance_guid(ig, sizeof(ig), guid, index);
    snprintf(out, len, "/v1/lrps/%s/instances/%s/stop", guid, ig);
}

/* Assert one stop call for (guid, index) arrived, exactly as upstream's rep client sends it. */
static void assert_stopped(const char *guid, int32_t index, const char *trace)
{
    char path[700];
    struct it_rep_call c;

    stop_path(path, sizeof(path), guid, index);
    if (it_rep_wait(path, 1, WAIT_MS, &c, 1) != 1) {
        fail_msg("no stop call for %s", path);
    }
    assert_string_equal(c.method, "POST");
    assert_string_equal(c.path, path);
    assert_string_equal(c.content_type, "application/json");
    assert_true(!c.has_content_length || c.content_length == 0);
    assert_string_equal(c.body, "");
    assert_string_equal(c.trace_id, trace);
    assert_true(c.verified);
    assert_string_equal(c.cn, "bbs-client");
}

/* ---- groups ------------------------------------------------------------------------------- */

static int setup(void **state)
{
    json_t *extra;
    json_t *rep_cfg;
    json_t *over;
    char down_url[64];
    int rc;

    (void)state;
    if (it_locket_start() != 0 || it_rep_start() != 0) {
        return -1;
    }
    extra = it_locket_server_config();
    rep_cfg = it_rep_server_config();
    json_object_update(extra, rep_cfg);
    json_decref(rep_cfg);
    it_server_config(extra);
    rc = it_server_start("rep_calls", NULL);
    it_server_config(NULL);
    json_decref(extra);
    if (rc != 0) {
        return -1;
    }
    /* The first Locket call dials (TLS, HTTP/2): slow under valgrind, so
     * make it here, until Locket answers, not inside a test's wait. */
    for (int i = 0; i < 10; i++) {
        void *r = it_call("/v1/cells/list.r1", NULL, &models__cells_response__descriptor);
        int ok = it_err_type(r) == IT_OK;

        it_free(r);
        if (ok) {
            break;
        }
    }
    over = json_pack("{s:s}", "rep_url", it_rep_url());
    rc = it_locket_register_cell(CELL, "z1", over);
    json_decref(over);
    down_port = closed_port();
    snprintf(down_url, sizeof(down_url), "https://127.0.0.1:%d", down_port);
    over = json_pack("{s:s}", "rep_url", down_url);
    rc |= it_locket_register_cell(CELL_DOWN, "z1", over);
    json_decref(over);
    return rc;
}

static int teardown(void **state)
{
    int rc;

    (void)state;
    rc = it_server_stop();
    it_rep_stop();
    it_locket_stop();
    return rc;
}

/* ---- scale-down and removal (5.6) --------------------------------------------------------- */

static void test_scale_down_stops_instances_on_their_reps(void **state)
{
    char guid[64];
    char path[700];
    struct it_alrp a;
    long before;

    (void)state;
    it_uniq(guid, sizeof(guid), "down");
    it_desire(guid, NULL, 4);
    run_on(guid, 0, CELL);
    run_on(guid, 1, CELL);
    claim_on(guid, 2, CELL);
    /* index 3 stays UNCLAIMED */
    before = it_locket_calls("Fetch");
    assert_int_equal(update_instances_traced(guid, 1), IT_OK);
    /* Two instances on one cell: Locket is asked once. */
    assert_int_equal(it_locket_calls("Fetch") - before, 1);

    assert_stopped(guid, 1, TRACE);
    assert_stopped(guid, 2, TRACE);
    stop_path(path, sizeof(path), guid, 0);
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(it_rep_count(path), 0);
    snprintf(path, sizeof(path), "/v1/lrps/%s/", guid);
    assert_int_equal(it_rep_count(path), 2);

    /* The rows stay until the reps call remove; UNCLAIMED index 3 is gone. */
    it_assert_state(guid, 0, "RUNNING", &a);
    it_assert_state(guid, 1, "RUNNING", &a);
    it_assert_state(guid, 2, "CLAIMED", &a);
    assert_int_equal(it_actual(guid, 3, &a), 0);
}

static void test_remove_stops_every_instance(void **state)
{
    Models__RemoveDesiredLRPRequest req = MODELS__REMOVE_DESIRED_LRPREQUEST__INIT;
    char guid[64];
    char path[300];
    struct it_alrp a;

    (void)state;
    it_uniq(guid, sizeof(guid), "rm");
    it_desire(guid, NULL, 2);
    run_on(guid, 0, CELL);
    run_on(guid, 1, CELL);
    req.process_guid = guid;
    assert_int_equal(call_traced("/v1/desired_lrp/remove", &req.base, DLIFECYCLE), IT_OK);
    assert_stopped(guid, 0, TRACE);
    assert_stopped(guid, 1, TRACE);
    snprintf(path, sizeof(path), "/v1/lrps/%s/", guid);
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(it_rep_count(path), 2);
    it_assert_state(guid, 0, "RUNNING", &a);
    it_assert_state(guid, 1, "RUNNING", &a);
}

/* An instance whose cell Locket does not know: logged, nothing sent, row left (5.6). */
static void test_scale_down_on_unknown_cell_leaves_row(void **state)
{
    char guid[64];
    char path[300];
    struct it_alrp a;

    (void)state;
    it_uniq(guid, sizeof(guid), "unk");
    it_desire(guid, NULL, 1);
    run_on(guid, 0, "no-such-cell");
    assert_int_equal(update_instances_traced(guid, 0), IT_OK);
    it_sleep_ms(it_quiet_ms());
    snprintf(path, sizeof(path), "/v1/lrps/%s/", guid);
    assert_int_equal(it_rep_count(path), 0);
    it_assert_state(guid, 0, "RUNNING", &a);
}

/* Locket failing: the rows stay, nothing is sent, and Locket is asked once, not once per cell. */
static void test_scale_down_when_locket_fails_asks_once(void **state)
{
    char guid[64];
    char path[300];
    struct it_alrp a;
    long before;

    (void)state;
    it_uniq(guid, sizeof(guid), "lkfail");
    it_desire(guid, NULL, 2);
    run_on(guid, 0, CELL);
    run_on(guid, 1, CELL_DOWN);
    assert_int_equal(it_locket_fail("UNAVAILABLE", "locket is resting"), 0);
    before = it_locket_calls("Fetch");
    assert_int_equal(update_instances_traced(guid, 0), IT_OK);
    assert_int_equal(it_locket_calls("Fetch") - before, 1);
    assert_int_equal(it_locket_fail("OK", NULL), 0);
    it_sleep_ms(it_quiet_ms());
    snprintf(path, sizeof(path), "/v1/lrps/%s/", guid);
    assert_int_equal(it_rep_count(path), 0);
    it_assert_state(guid, 0, "RUNNING", &a);
    it_assert_state(guid, 1, "RUNNING", &a);
}

/* ---- retire (3.8) -------------------------------------------------------------------------- */

static void test_retire_running_on_registered_cell_asks_its_rep(void **state)
{
    char guid[64];
    struct it_alrp a;

    (void)state;
    it_uniq(guid, sizeof(guid), "ret");
    it_desire(guid, NULL, 1);
    run_on(guid, 0, CELL);
    assert_int_equal(retire_traced(guid, 0), IT_OK);
    assert_stopped(guid, 0, TRACE);
    it_assert_state(guid, 0, "RUNNING", &a); /* kept until the rep's remove */
}

static void test_retire_on_unknown_cell_deletes(void **state)
{
    char guid[64];
    char path[300];
    struct it_alrp a;

    (void)state;
    it_uniq(guid, sizeof(guid), "retunk");
    it_desire(guid, NULL, 1);
    run_on(guid, 0, "cell-locket-never-saw");
    assert_int_equal(retire_traced(guid, 0), IT_OK);
    assert_int_equal(it_actual(guid, 0, &a), 0);
    snprintf(path, sizeof(path), "/v1/lrps/%s/", guid);
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(it_rep_count(path), 0);
}

static void test_retire_when_locket_fails_is_unknown_error(void **state)
{
    char guid[64];
    struct it_alrp a;
    int type;

    (void)state;
    it_uniq(guid, sizeof(guid), "retfail");
    it_desire(guid, NULL, 1);
    run_on(guid, 0, CELL);
    assert_int_equal(it_locket_fail("UNAVAILABLE", "locket is resting"), 0);
    type = retire_traced(guid, 0);
    assert_int_equal(it_locket_fail("OK", NULL), 0);
    assert_int_equal(type, MODELS__ERROR__TYPE__UnknownError);
    it_assert_state(guid, 0, "RUNNING", &a);
}

/* A rep that refuses: upstream's retire asks up to 5 times; the API call still succeeds. */
static void test_retire_rep_failing_tried_five_times(void **state)
{
    char guid[64];
    char path[700];
    struct it_rep_call calls[8];
    struct it_alrp a;

    (void)state;
    it_uniq(guid, sizeof(guid), "ret5");
    it_desire(guid, NULL, 1);
    run_on(guid, 0, CELL);
    it_rep_set_status(500);
    assert_int_equal(retire_traced(guid, 0), IT_OK);
    stop_path(path, sizeof(path), guid, 0);
    assert_int_equal(it_rep_wait(path, 5, WAIT_MS, calls, 8), 5);
    it_sleep_ms(it_quiet_ms());
    it_rep_set_status(202);
    assert_int_equal(it_rep_count(path), 5);
    it_assert_state(guid, 0, "RUNNING", &a);
}

/* ---- update (5.4 step 5) ------------------------------------------------------------------- */

static void test_route_change_updates_the_rep(void **state)
{
    static const char hosts[] = "[{\"hostname\":\"app.apps.internal\"}]";
    Models__UpdateDesiredLRPRequest req = MODELS__UPDATE_DESIRED_LRPREQUEST__INIT;
    Models__DesiredLRPUpdate u = MODELS__DESIRED_LRPUPDATE__INIT;
    Models__ProtoRoutes routes = MODELS__PROTO_ROUTES__INIT;
    Models__ProtoRoutes__RoutesEntry e = MODELS__PROTO_ROUTES__ROUTES_ENTRY__INIT;
    Models__ProtoRoutes__RoutesEntry *ep[1] = {&e};
    char guid[64];
    char ig[300];
    char path[700];
    char want[1024];
    struct it_rep_call c;

    (void)state;
    it_uniq(guid, sizeof(guid), "route");
    it_desire(guid, NULL, 2);
    run_on(guid, 0, CELL);
    /* index 1 stays UNCLAIMED: no rep runs it */
    e.key = (char *)"internal-router";
    e.value.data = (uint8_t *)hosts;
    e.value.len = strlen(hosts);
    routes.n_routes = 1;
    routes.routes = ep;
    u.routes = &routes;
    req.process_guid = guid;
    req.update = &u;
    assert_int_equal(call_traced("/v1/desired_lrp/update", &req.base, DLIFECYCLE), IT_OK);

    instance_guid(ig, sizeof(ig), guid, 0);
    snprintf(path, sizeof(path), "/v2/lrps/%s/instances/%s", guid, ig);
    if (it_rep_wait(path, 1, WAIT_MS, &c, 1) != 1) {
        fail_msg("no update call for %s", path);
    }
    assert_string_equal(c.method, "PUT");
    assert_string_equal(c.path, path);
    assert_string_equal(c.content_type, "application/json");
    assert_string_equal(c.trace_id, TRACE);
    snprintf(want, sizeof(want),
             "{\"instance_guid\":\"%s\",\"process_guid\":\"%s\",\"index\":0,\"domain\":\"%s\","
             "\"internal_routes\":[{\"hostname\":\"app.apps.internal\"}],\"metric_tags\":null}",
             ig, guid, IT_DOMAIN);
    assert_string_equal(c.body, want);
    it_sleep_ms(it_quiet_ms());
    snprintf(path, sizeof(path), "/v2/lrps/%s/", guid);
    assert_int_equal(it_rep_count(path), 1);

    /* The same routes again change nothing: no second update. */
    assert_int_equal(call_traced("/v1/desired_lrp/update", &req.base, DLIFECYCLE), IT_OK);
    it_sleep_ms(it_quiet_ms());
    assert_int_equal(it_rep_count(path), 1);
}

static void test_metric_tag_change_updates_the_rep(void **state)
{
    Models__UpdateDesiredLRPRequest req = MODELS__UPDATE_DESIRED_LRPREQUEST__INIT;
    Models__DesiredLRPUpdate u = MODELS__DESIRED_LRPUPDATE__INIT;
    Models__DesiredLRPUpdate__MetricTagsEntry t[2] = {
        MODELS__DESIRED_LRPUPDATE__METRIC_TAGS_ENTRY__INIT,
        MODELS__DESIRED_LRPUPDATE__METRIC_TAGS_ENTRY__INIT};
    Models__MetricTagValue v[2] = {MODELS__METRIC_TAG_VALUE__INIT, MODELS__METRIC_TAG_VALUE__INIT};
    Models__DesiredLRPUpdate__MetricTagsEntry *tp[2] = {&t[0], &t[1]};
    char guid[64];
    char ig[300];
    char path[700];
    char want[1024];
    struct it_rep_call c;

    (void)state;
    it_uniq(guid, sizeof(guid), "tags");
    it_desire(guid, NULL, 1);
    run_on(guid, 0, CELL);
    t[0].key = (char *)"source_id";
    v[0].static_ = guid;
    t[0].value = &v[0];
    t[1].key = (char *)"instance_index";
    v[1].dynamic = MODELS__METRIC_TAG_VALUE__DYNAMIC_VALUE__INDEX;
    t[1].value = &v[1];
    u.n_metric_tags = 2;
    u.metric_tags = tp;
    req.process_guid = guid;
    req.update = &u;
    assert_int_equal(call_traced("/v1/desired_lrp/update", &req.base, DLIFECYCLE), IT_OK);

    instance_guid(ig, sizeof(ig), guid, 0);
    snprintf(path, sizeof(path), "/v2/lrps/%s/instances/%s", guid, ig);
    if (it_rep_wait(path, 1, WAIT_MS, &c, 1) != 1) {
        fail_msg("no update call for %s", path);
    }
    snprintf(want, sizeof(want),
             "{\"instance_guid\":\"%s\",\"process_guid\":\"%s\",\"index\":0,\"domain\":\"%s\","
             "\"internal_routes\":null,\"metric_tags\":{\"instance_index\":\"0\","
             "\"source_id\":\"%s\"}}",
             ig, guid, IT_DOMAIN, guid);
    assert_string_equal(c.body, want);
}

/* ---- a rep that does not answer ------------------------------------------------------------ */

static void test_rep_down_never_fails_the_call(void **state)
{
    char guid[64];
    char *log;
    struct it_alrp a;
    int64_t until;

    (void)state;
    it_uniq(guid, sizeof(guid), "repdown");
    it_desire(guid, NULL, 1);
    run_on(guid, 0, CELL_DOWN);
    assert_int_equal(update_instances_traced(guid, 0), IT_OK);
    it_assert_state(guid, 0, "RUNNING", &a);
    /* The failure is logged, naming the call and its URL. */
    until = it_mono_ms() + WAIT_MS;
    do {
        it_sleep_ms(50);
        log = it_server_log();
        if (log != NULL && strstr(log, "rep.stop-lrp.request-failed") != NULL &&
            strstr(log, guid) != NULL) {
            break;
        }
        free(log);
        log = NULL;
    } while (it_mono_ms() < until);
    assert_non_null(log);
    free(log);
}

/* Last: stop the server ourselves and read the outbox counters of its shutdown line. */
static void test_failures_counted_at_shutdown(void **state)
{
    int status = 0;
    char *log;
    const char *line;
    json_t *j;
    json_error_t jerr;
    const char *end;

    (void)state;
    assert_int_equal(kill(it_server_pid(), SIGTERM), 0);
    assert_int_equal(it_server_wait_exit(30000, &status), 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    log = it_server_log();
    assert_non_null(log);
    line = strstr(log, "outbox.stats\"");
    assert_non_null(line);
    while (line > log && line[-1] != '\n') {
        line--;
    }
    end = strchr(line, '\n');
    j = json_loadb(line, end != NULL ? (size_t)(end - line) : strlen(line), 0, &jerr);
    assert_non_null(j);
    /* At least: the stop to the rep that is down, and the five refused retire attempts. */
    assert_true(json_integer_value(json_object_get(json_object_get(j, "data"), "failed")) >= 6);
    json_decref(j);
    /* The instances whose cell was unknown or whose lookup failed are counted too. */
    line = strstr(log, "effects.stats\"");
    assert_non_null(line);
    while (line > log && line[-1] != '\n') {
        line--;
    }
    end = strchr(line, '\n');
    j = json_loadb(line, end != NULL ? (size_t)(end - line) : strlen(line), 0, &jerr);
    assert_non_null(j);
    assert_true(
        json_integer_value(json_object_get(json_object_get(j, "data"), "rep_cell_unknown")) >= 1);
    assert_true(
        json_integer_value(json_object_get(json_object_get(j, "data"), "rep_lookup_failed")) >= 2);
    assert_true(json_integer_value(json_object_get(json_object_get(j, "data"), "rep_calls")) >= 8);
    json_decref(j);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scale_down_stops_instances_on_their_reps),
        cmocka_unit_test(test_remove_stops_every_instance),
        cmocka_unit_test(test_scale_down_on_unknown_cell_leaves_row),
        cmocka_unit_test(test_scale_down_when_locket_fails_asks_once),
        cmocka_unit_test(test_retire_running_on_registered_cell_asks_its_rep),
        cmocka_unit_test(test_retire_on_unknown_cell_deletes),
        cmocka_unit_test(test_retire_when_locket_fails_is_unknown_error),
        cmocka_unit_test(test_retire_rep_failing_tried_five_times),
        cmocka_unit_test(test_route_change_updates_the_rep),
        cmocka_unit_test(test_metric_tag_change_updates_the_rep),
        cmocka_unit_test(test_rep_down_never_fails_the_call),
        cmocka_unit_test(test_failures_counted_at_shutdown),
    };

    return it_main_exit(cmocka_run_group_tests_name("rep_calls", tests, setup, teardown));
}
