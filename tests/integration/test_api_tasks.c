/*
 * test_api_tasks.c - the Task routes over HTTP (reference part 2, 11.1-11.4,
 * 11.8, 11.9): every route, every error row of the transition table with
 * upstream's messages, validation messages, concurrent starts (exactly one
 * winner), reject up to and past max_task_retries (set to 2 here), the .r2
 * reads down-converted, list filters, column limits, an undecodable stored
 * definition, and 404 for unknown task paths. Some results are also checked
 * in the tasks table (it_db_exec with a condition: 1 row = holds).
 */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_requests.pb-c.h"

#define E(x) MODELS__ERROR__TYPE__##x

#define R_LIST_R3    "/v1/tasks/list.r3"
#define R_GET_R3     "/v1/tasks/get_by_task_guid.r3"
#define R_LIST_R2    "/v1/tasks/list.r2"
#define R_GET_R2     "/v1/tasks/get_by_task_guid.r2"
#define R_DESIRE     "/v1/tasks/desire.r2"
#define R_START      "/v1/tasks/start"
#define R_CANCEL     "/v1/tasks/cancel"
#define R_FAIL       "/v1/tasks/fail"
#define R_REJECT     "/v1/tasks/reject"
#define R_COMPLETE   "/v1/tasks/complete"
#define R_RESOLVING  "/v1/tasks/resolving"
#define R_DELETE     "/v1/tasks/delete"
#define LIFECYCLE    (&models__task_lifecycle_response__descriptor)
#define MAX_RETRIES  2
#define N_CONCURRENT 8

/* ---- builders ---- */

static Models__RunAction run_action = MODELS__RUN_ACTION__INIT;
static Models__Action action = MODELS__ACTION__INIT;

static Models__TaskDefinition definition(void)
{
    Models__TaskDefinition d = MODELS__TASK_DEFINITION__INIT;

    run_action.path = IT_S("/bin/true");
    run_action.user = IT_S("vcap");
    action.run_action = &run_action;
    d.root_fs = IT_S("preloaded:cflinuxfs4");
    d.action = &action;
    d.memory_mb = 256;
    d.disk_mb = 1024;
    d.log_guid = IT_S("log-guid");
    d.result_file = IT_S("/tmp/result");
    d.annotation = IT_S("an annotation");
    return d;
}

/* Desire `guid` in `domain` with `d`; returns the error type (IT_OK). */
static int desire_with(const char *guid, const char *domain, Models__TaskDefinition *d)
{
    Models__DesireTaskRequest r = MODELS__DESIRE_TASK_REQUEST__INIT;

    r.task_guid = (char *)guid;
    r.domain = (char *)domain;
    r.task_definition = d;
    return it_call_err(R_DESIRE, &r.base, LIFECYCLE);
}

static void desire(const char *guid, const char *domain)
{
    Models__TaskDefinition d = definition();

    assert_int_equal(desire_with(guid, domain, &d), IT_OK);
}

/* The task as get.r3 (or .r2) returns it; asserts success. it_free() it. */
static Models__TaskResponse *get_as(const char *route, const char *guid)
{
    Models__TaskByGuidRequest r = MODELS__TASK_BY_GUID_REQUEST__INIT;
    Models__TaskResponse *resp;

    r.task_guid = (char *)guid;
    resp = it_call(route, &r.base, &models__task_response__descriptor);
    assert_int_equal(it_err_type(resp), IT_OK);
    assert_non_null(resp->task);
    return resp;
}

static Models__TaskResponse *get(const char *guid)
{
    return get_as(R_GET_R3, guid);
}

static int get_err(const char *guid)
{
    Models__TaskByGuidRequest r = MODELS__TASK_BY_GUID_REQUEST__INIT;

    r.task_guid = (char *)guid;
    return it_call_err(R_GET_R3, &r.base, &models__task_response__descriptor);
}

/* Start; returns should_start and the error in *err_type / err_msg (may be NULL). */
static int start(const char *guid, const char *cell, int *err_type, char *err_msg, size_t len)
{
    Models__StartTaskRequest r = MODELS__START_TASK_REQUEST__INIT;
    Models__StartTaskResponse *resp;
    int should;

    r.task_guid = (char *)guid;
    r.cell_id = (char *)cell;
    resp = it_call(R_START, &r.base, &models__start_task_response__descriptor);
    should = resp->should_start;
    *err_type = it_err_type(resp);
    if (err_msg != NULL) {
        snprintf(err_msg, len, "%s", it_err_msg(resp));
    }
    it_free(resp);
    return should;
}

static void start_ok(const char *guid, const char *cell)
{
    int e;

    assert_true(start(guid, cell, &e, NULL, 0));
    assert_int_equal(e, IT_OK);
}

/* Call a lifecycle route; check the error type and (when non-NULL) message. */
static void expect(const char *route, const ProtobufCMessage *req, int type, const char *msg)
{
    Models__TaskLifecycleResponse *resp = it_call(route, req, LIFECYCLE);

    assert_int_equal(it_err_type(resp), type);
    if (msg != NULL) {
        assert_string_equal(it_err_msg(resp), msg);
    }
    it_free(resp);
}

static void complete(const char *guid, const char *cell, int failed, const char *reason,
                     const char *result, int type, const char *msg)
{
    Models__CompleteTaskRequest r = MODELS__COMPLETE_TASK_REQUEST__INIT;

    r.task_guid = (char *)guid;
    r.cell_id = (char *)cell;
    r.failed = failed;
    r.failure_reason = (char *)reason;
    r.result = (char *)result;
    expect(R_COMPLETE, &r.base, type, msg);
}

static void by_guid(const char *route, const char *guid, int type, const char *msg)
{
    Models__TaskGuidRequest r = MODELS__TASK_GUID_REQUEST__INIT;

    r.task_guid = (char *)guid;
    expect(route, &r.base, type, msg);
}

static void fail_task(const char *guid, const char *reason, int type, const char *msg)
{
    Models__FailTaskRequest r = MODELS__FAIL_TASK_REQUEST__INIT;

    r.task_guid = (char *)guid;
    r.failure_reason = (char *)reason;
    expect(R_FAIL, &r.base, type, msg);
}

static void reject(const char *guid, const char *reason, int type, const char *msg)
{
    Models__RejectTaskRequest r = MODELS__REJECT_TASK_REQUEST__INIT;

    r.task_guid = (char *)guid;
    r.rejection_reason = (char *)reason;
    expect(R_REJECT, &r.base, type, msg);
}

/* A guid of this test run. */
static void uniq(char *buf, size_t len)
{
    it_uniq(buf, len, "task");
}

/* 1 when `cond` (SQL over the tasks row of guid $1) holds. */
static int row_holds(const char *guid, const char *cond)
{
    char sql[512];
    const char *params[1] = {guid};

    snprintf(sql, sizeof(sql), "SELECT 1 FROM tasks WHERE guid = $1 AND (%s)", cond);
    return it_db_exec(sql, 1, params) == 1;
}

/* A running task on `cell`. */
static void running(const char *guid, const char *cell)
{
    desire(guid, "d");
    start_ok(guid, cell);
}

/* A completed (by its cell) task. */
static void completed(const char *guid)
{
    running(guid, "cell-a");
    complete(guid, "cell-a", 0, "", "ok", IT_OK, NULL);
}

/* ---- desire and reads ---- */

static void test_desire_then_get_r3(void **state)
{
    char guid[64];
    Models__TaskDefinition d = definition();
    Models__TaskResponse *resp;
    Models__Task *t;
    char diff[512];
    int64_t before = it_now_ns();

    (void)state;
    uniq(guid, sizeof(guid));
    assert_int_equal(desire_with(guid, "d1", &d), IT_OK);
    resp = get(guid);
    t = resp->task;
    assert_string_equal(t->task_guid, guid);
    assert_string_equal(t->domain, "d1");
    assert_int_equal(t->state, MODELS__TASK__STATE__Pending);
    assert_true(t->created_at >= before);
    assert_int_equal(t->updated_at, t->created_at);
    assert_int_equal(t->first_completed_at, 0);
    assert_string_equal(t->cell_id, "");
    assert_string_equal(t->result, "");
    assert_false(t->failed);
    assert_int_equal(t->rejection_count, 0);
    assert_int_equal(it_pb_diff(&d.base, &t->task_definition->base, NULL, diff, sizeof(diff)), 0);
    it_free(resp);
    /* result stays NULL in the table until the task completes (11.4.2) */
    assert_true(row_holds(guid, "result IS NULL AND state = 1"));
}

static void test_desire_twice_is_resource_exists(void **state)
{
    char guid[64];
    Models__TaskDefinition d = definition();

    (void)state;
    uniq(guid, sizeof(guid));
    desire(guid, "d");
    assert_int_equal(desire_with(guid, "d", &d), E(ResourceExists));
}

static void test_desire_empty_request_is_invalid(void **state)
{
    Models__DesireTaskRequest r = MODELS__DESIRE_TASK_REQUEST__INIT;

    (void)state;
    it_expect_invalid(R_DESIRE, &r.base, LIFECYCLE,
                      "Invalid field: task_guid, Invalid field: domain, Invalid field: "
                      "task_definition");
}

static void test_desire_empty_definition_is_invalid_and_stores_nothing(void **state)
{
    char guid[64];
    Models__DesireTaskRequest r = MODELS__DESIRE_TASK_REQUEST__INIT;
    Models__TaskDefinition d = MODELS__TASK_DEFINITION__INIT;

    (void)state;
    uniq(guid, sizeof(guid));
    r.task_guid = guid;
    r.domain = IT_S("d");
    r.task_definition = &d;
    it_expect_invalid(R_DESIRE, &r.base, LIFECYCLE, "Invalid field: rootfs, invalid action type");
    assert_int_equal(get_err(guid), E(ResourceNotFound));
}

static void test_desire_empty_action_wrapper_is_invalid(void **state)
{
    char guid[64];
    Models__DesireTaskRequest r = MODELS__DESIRE_TASK_REQUEST__INIT;
    Models__TaskDefinition d = definition();
    Models__Action none = MODELS__ACTION__INIT;

    (void)state;
    uniq(guid, sizeof(guid));
    d.action = &none;
    r.task_guid = guid;
    r.domain = IT_S("d");
    r.task_definition = &d;
    it_expect_invalid(R_DESIRE, &r.base, LIFECYCLE,
                      "Invalid field: action, Invalid field: inner-action");
}

static void test_desire_oversized_guid_is_invalid_request(void **state)
{
    char guid[300];
    Models__TaskDefinition d = definition();

    (void)state;
    memset(guid, 'g', sizeof(guid) - 1);
    guid[sizeof(guid) - 1] = '\0';
    assert_int_equal(desire_with(guid, "d", &d), E(InvalidRequest));
    {
        Models__DesireTaskRequest r = MODELS__DESIRE_TASK_REQUEST__INIT;

        r.task_guid = guid;
        r.domain = IT_S("d");
        r.task_definition = &d;
        it_expect_invalid(R_DESIRE, &r.base, LIFECYCLE, IT_MSG_INVALID);
    }
}

static void test_desire_oversized_domain_is_invalid_request(void **state)
{
    char guid[64];
    char domain[300];
    Models__DesireTaskRequest r = MODELS__DESIRE_TASK_REQUEST__INIT;
    Models__TaskDefinition d = definition();

    (void)state;
    uniq(guid, sizeof(guid));
    memset(domain, 'd', sizeof(domain) - 1);
    domain[sizeof(domain) - 1] = '\0';
    r.task_guid = guid;
    r.domain = domain;
    r.task_definition = &d;
    it_expect_invalid(R_DESIRE, &r.base, LIFECYCLE, IT_MSG_INVALID);
    assert_int_equal(get_err(guid), E(ResourceNotFound));
}

static void test_undecodable_body_is_invalid(void **state)
{
    struct it_resp raw = {0};
    Models__TaskLifecycleResponse *resp;

    (void)state;
    it_post_raw(R_DESIRE, "\xff\xff\xff", 3, &raw);
    assert_int_equal(raw.status, 200);
    resp = (Models__TaskLifecycleResponse *)it_unpack(LIFECYCLE, raw.body, raw.len);
    it_assert_invalid(resp, IT_MSG_INVALID);
    it_free(resp);
    it_resp_free(&raw);
}

static void test_get_missing_is_not_found(void **state)
{
    Models__TaskByGuidRequest r = MODELS__TASK_BY_GUID_REQUEST__INIT;
    Models__TaskResponse *resp;

    (void)state;
    r.task_guid = IT_S("no-such-task");
    resp = it_call(R_GET_R3, &r.base, &models__task_response__descriptor);
    assert_int_equal(it_err_type(resp), E(ResourceNotFound));
    assert_string_equal(it_err_msg(resp), IT_MSG_NOT_FOUND);
    assert_null(resp->task);
    it_free(resp);
}

static void test_get_empty_guid_is_invalid(void **state)
{
    Models__TaskByGuidRequest r = MODELS__TASK_BY_GUID_REQUEST__INIT;

    (void)state;
    it_expect_invalid(R_GET_R3, &r.base, &models__task_response__descriptor,
                      "Invalid field: task_guid");
    it_expect_invalid(R_GET_R2, &r.base, &models__task_response__descriptor,
                      "Invalid field: task_guid");
}

/* The tasks list.r3 / .r2 returns for a filter; it_free() it. */
static Models__TasksResponse *list_as(const char *route, const char *domain, const char *cell)
{
    Models__TasksRequest r = MODELS__TASKS_REQUEST__INIT;

    r.domain = (char *)domain;
    r.cell_id = (char *)cell;
    return it_call(route, &r.base, &models__tasks_response__descriptor);
}

static int has_task(const Models__TasksResponse *resp, const char *guid)
{
    for (size_t i = 0; i < resp->n_tasks; i++) {
        if (strcmp(resp->tasks[i]->task_guid, guid) == 0) {
            return 1;
        }
    }
    return 0;
}

static void test_list_filters_domain_and_cell(void **state)
{
    char a[64], b[64], c[64], domain[64], other[64];
    Models__TasksResponse *resp;

    (void)state;
    uniq(a, sizeof(a));
    uniq(b, sizeof(b));
    uniq(c, sizeof(c));
    it_uniq(domain, sizeof(domain), "dom");
    it_uniq(other, sizeof(other), "dom");
    desire(a, domain);
    desire(b, domain);
    desire(c, other);
    start_ok(b, "cell-list");

    resp = list_as(R_LIST_R3, domain, NULL);
    assert_int_equal(it_err_type(resp), IT_OK);
    assert_int_equal(resp->n_tasks, 2);
    assert_true(has_task(resp, a) && has_task(resp, b));
    it_free(resp);

    resp = list_as(R_LIST_R3, NULL, "cell-list");
    assert_int_equal(resp->n_tasks, 1);
    assert_string_equal(resp->tasks[0]->task_guid, b);
    it_free(resp);

    resp = list_as(R_LIST_R3, other, "cell-list"); /* AND-ed */
    assert_int_equal(resp->n_tasks, 0);
    it_free(resp);

    resp = list_as(R_LIST_R3, NULL, NULL);
    assert_true(has_task(resp, a) && has_task(resp, b) && has_task(resp, c));
    it_free(resp);

    resp = list_as(R_LIST_R2, other, NULL);
    assert_int_equal(resp->n_tasks, 1);
    assert_string_equal(resp->tasks[0]->task_guid, c);
    it_free(resp);
}

/* A definition with a shared and an exclusive image layer. */
static Models__ImageLayer shared_layer = MODELS__IMAGE_LAYER__INIT;
static Models__ImageLayer excl_layer = MODELS__IMAGE_LAYER__INIT;
static Models__ImageLayer *layers[2] = {&shared_layer, &excl_layer};

static Models__TaskDefinition layered(void)
{
    Models__TaskDefinition d = definition();

    shared_layer.name = IT_S("shared");
    shared_layer.url = IT_S("https://layers/shared.tgz");
    shared_layer.destination_path = IT_S("/shared");
    shared_layer.layer_type = MODELS__IMAGE_LAYER__TYPE__SHARED;
    shared_layer.media_type = MODELS__IMAGE_LAYER__MEDIA_TYPE__TGZ;
    excl_layer.name = IT_S("excl");
    excl_layer.url = IT_S("https://layers/excl.tgz");
    excl_layer.destination_path = IT_S("/excl");
    excl_layer.layer_type = MODELS__IMAGE_LAYER__TYPE__EXCLUSIVE;
    excl_layer.media_type = MODELS__IMAGE_LAYER__MEDIA_TYPE__TGZ;
    excl_layer.digest_algorithm = MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA256;
    excl_layer.digest_value = IT_S("abc123");
    d.image_layers = layers;
    d.n_image_layers = 2;
    d.legacy_download_user = IT_S("root");
    return d;
}

static void check_v2(const Models__TaskDefinition *v2)
{
    const Models__Action *a = v2->action;
    const Models__DownloadAction *dl;

    assert_int_equal(v2->n_image_layers, 0);
    assert_int_equal(v2->n_cached_dependencies, 1);
    assert_string_equal(v2->cached_dependencies[0]->name, "shared");
    assert_string_equal(v2->cached_dependencies[0]->from, "https://layers/shared.tgz");
    assert_string_equal(v2->cached_dependencies[0]->to, "/shared");
    assert_string_equal(v2->cached_dependencies[0]->cache_key, "https://layers/shared.tgz");
    assert_non_null(a->serial_action);
    assert_int_equal(a->serial_action->n_actions, 2);
    dl = a->serial_action->actions[0]->parallel_action->actions[0]->download_action;
    assert_string_equal(dl->artifact, "excl");
    assert_string_equal(dl->from, "https://layers/excl.tgz");
    assert_string_equal(dl->to, "/excl");
    assert_string_equal(dl->cache_key, "sha256:abc123");
    assert_string_equal(dl->user, "root");
    assert_string_equal(dl->checksum_algorithm, "sha256");
    assert_string_equal(dl->checksum_value, "abc123");
    assert_string_equal(a->serial_action->actions[1]->run_action->path, "/bin/true");
}

static void test_r2_reads_are_down_converted(void **state)
{
    char guid[64], domain[64];
    Models__TaskDefinition d = layered();
    Models__TaskResponse *resp;
    Models__TasksResponse *list;

    (void)state;
    uniq(guid, sizeof(guid));
    it_uniq(domain, sizeof(domain), "dom");
    assert_int_equal(desire_with(guid, domain, &d), IT_OK);
    resp = get_as(R_GET_R3, guid); /* stored as sent */
    assert_int_equal(resp->task->task_definition->n_image_layers, 2);
    it_free(resp);
    resp = get_as(R_GET_R2, guid);
    check_v2(resp->task->task_definition);
    assert_string_equal(resp->task->task_guid, guid);
    assert_int_equal(resp->task->state, MODELS__TASK__STATE__Pending);
    it_free(resp);
    list = list_as(R_LIST_R2, domain, NULL);
    assert_int_equal(list->n_tasks, 1);
    check_v2(list->tasks[0]->task_definition);
    it_free(list);
}

static void test_undecodable_definition_is_deserialize(void **state)
{
    char guid[64], domain[64];
    const char *params[1];
    Models__TasksResponse *list;
    Models__TaskByGuidRequest g = MODELS__TASK_BY_GUID_REQUEST__INIT;

    (void)state;
    uniq(guid, sizeof(guid));
    it_uniq(domain, sizeof(domain), "dom");
    desire(guid, domain);
    params[0] = guid;
    assert_int_equal(
        it_db_exec("UPDATE tasks SET task_definition = '\\xff'::bytea WHERE guid = $1", 1, params),
        1);
    g.task_guid = guid;
    assert_int_equal(it_call_err(R_GET_R3, &g.base, &models__task_response__descriptor),
                     E(Deserialize));
    assert_int_equal(it_call_err(R_GET_R2, &g.base, &models__task_response__descriptor),
                     E(Deserialize));
    list = list_as(R_LIST_R3, domain, NULL);
    assert_int_equal(it_err_type(list), E(Deserialize));
    assert_int_equal(list->n_tasks, 0);
    it_free(list);
    by_guid(R_CANCEL, guid, E(Deserialize), NULL);
    assert_true(row_holds(guid, "state = 1")); /* nothing changed */
    assert_int_equal(it_db_exec("DELETE FROM tasks WHERE guid = $1", 1, params), 1);
}

/* ---- start ---- */

static void test_start_pending_then_repeat_and_other_cell(void **state)
{
    char guid[64], msg[256];
    Models__TaskResponse *resp;
    int64_t updated;
    int e;

    (void)state;
    uniq(guid, sizeof(guid));
    desire(guid, "d");
    start_ok(guid, "cell-a");
    resp = get(guid);
    assert_int_equal(resp->task->state, MODELS__TASK__STATE__Running);
    assert_string_equal(resp->task->cell_id, "cell-a");
    updated = resp->task->updated_at;
    assert_true(updated > resp->task->created_at);
    it_free(resp);

    /* the running cell again: no error, should_start false, nothing written (11.10) */
    assert_false(start(guid, "cell-a", &e, NULL, 0));
    assert_int_equal(e, IT_OK);
    resp = get(guid);
    assert_int_equal(resp->task->updated_at, updated);
    it_free(resp);

    assert_false(start(guid, "cell-b", &e, msg, sizeof(msg)));
    assert_int_equal(e, E(InvalidStateTransition));
    assert_string_equal(msg, "Cannot transition from Running to Running");
}

static void test_start_missing_is_not_found(void **state)
{
    char msg[256];
    int e;

    (void)state;
    assert_false(start("no-such-task", "cell-a", &e, msg, sizeof(msg)));
    assert_int_equal(e, E(ResourceNotFound));
    assert_string_equal(msg, IT_MSG_NOT_FOUND);
}

static void test_start_completed_and_resolving_are_refused(void **state)
{
    char guid[64], msg[256];
    int e;

    (void)state;
    uniq(guid, sizeof(guid));
    completed(guid);
    assert_false(start(guid, "cell-a", &e, msg, sizeof(msg)));
    assert_int_equal(e, E(InvalidStateTransition));
    assert_string_equal(msg, "Cannot transition from Completed to Running");
    by_guid(R_RESOLVING, guid, IT_OK, NULL);
    assert_false(start(guid, "cell-a", &e, msg, sizeof(msg)));
    assert_string_equal(msg, "Cannot transition from Resolving to Running");
}

static void test_start_validation(void **state)
{
    Models__StartTaskRequest r = MODELS__START_TASK_REQUEST__INIT;

    (void)state;
    it_expect_invalid(R_START, &r.base, &models__start_task_response__descriptor,
                      "Invalid field: task_guid, Invalid field: cell_id");
    r.task_guid = IT_S("bad guid");
    r.cell_id = IT_S("c");
    it_expect_invalid(R_START, &r.base, &models__start_task_response__descriptor,
                      "Invalid field: task_guid");
}

struct starter {
    pthread_t thread;
    pthread_barrier_t *barrier;
    const char *guid;
    char cell[32];
    int should_start;
    int err_type;
    char msg[256];
    char err[256];
};

static void *starter_main(void *arg)
{
    struct starter *s = arg;
    struct it_client *c = it_client_new();
    Models__StartTaskRequest r = MODELS__START_TASK_REQUEST__INIT;
    Models__StartTaskResponse *resp;

    r.task_guid = (char *)s->guid;
    r.cell_id = s->cell;
    pthread_barrier_wait(s->barrier);
    resp = it_client_call(c, R_START, &r.base, &models__start_task_response__descriptor, s->err,
                          sizeof(s->err));
    s->err_type = -2;
    if (resp != NULL) {
        s->should_start = resp->should_start;
        s->err_type = it_err_type(resp);
        snprintf(s->msg, sizeof(s->msg), "%s", it_err_msg(resp));
        it_free(resp);
    }
    it_client_free(c);
    return NULL;
}

/* N concurrent starts of one Pending task; `same_cell`: all from one cell. */
static void concurrent_starts(int same_cell)
{
    char guid[64];
    struct starter s[N_CONCURRENT];
    pthread_barrier_t barrier;
    int winners = 0;

    uniq(guid, sizeof(guid));
    desire(guid, "d");
    assert_int_equal(pthread_barrier_init(&barrier, NULL, N_CONCURRENT), 0);
    for (int i = 0; i < N_CONCURRENT; i++) {
        memset(&s[i], 0, sizeof(s[i]));
        s[i].barrier = &barrier;
        s[i].guid = guid;
        snprintf(s[i].cell, sizeof(s[i].cell), "cell-%d", same_cell ? 0 : i);
        assert_int_equal(pthread_create(&s[i].thread, NULL, starter_main, &s[i]), 0);
    }
    for (int i = 0; i < N_CONCURRENT; i++) {
        pthread_join(s[i].thread, NULL);
    }
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < N_CONCURRENT; i++) {
        if (s[i].err_type == -2) {
            fail_msg("start %d: transport: %s", i, s[i].err);
        }
        if (s[i].should_start) {
            winners++;
            assert_int_equal(s[i].err_type, IT_OK);
        } else if (same_cell) {
            assert_int_equal(s[i].err_type, IT_OK); /* the running cell asking again */
        } else {
            assert_int_equal(s[i].err_type, E(InvalidStateTransition));
            assert_string_equal(s[i].msg, "Cannot transition from Running to Running");
        }
    }
    assert_int_equal(winners, 1);
}

static void test_concurrent_starts_from_different_cells_one_winner(void **state)
{
    (void)state;
    concurrent_starts(0);
}

static void test_concurrent_starts_from_one_cell_one_winner(void **state)
{
    (void)state;
    concurrent_starts(1);
}

/* ---- complete ---- */

static void test_complete_running_then_resolve_and_delete(void **state)
{
    char guid[64];
    Models__TaskResponse *resp;

    (void)state;
    uniq(guid, sizeof(guid));
    running(guid, "cell-a");
    complete(guid, "cell-a", 0, "", "the result", IT_OK, NULL);
    resp = get(guid);
    assert_int_equal(resp->task->state, MODELS__TASK__STATE__Completed);
    assert_false(resp->task->failed);
    assert_string_equal(resp->task->result, "the result");
    assert_string_equal(resp->task->cell_id, "");
    assert_true(resp->task->first_completed_at > 0);
    assert_int_equal(resp->task->first_completed_at, resp->task->updated_at);
    it_free(resp);
    assert_true(row_holds(guid, "state = 3 AND cell_id = '' AND result = 'the result'"));

    by_guid(R_RESOLVING, guid, IT_OK, NULL);
    resp = get(guid);
    assert_int_equal(resp->task->state, MODELS__TASK__STATE__Resolving);
    it_free(resp);
    by_guid(R_DELETE, guid, IT_OK, NULL);
    assert_int_equal(get_err(guid), E(ResourceNotFound));
    by_guid(R_DELETE, guid, E(ResourceNotFound), IT_MSG_NOT_FOUND);
}

static void test_complete_failed_keeps_result_and_truncates_reason(void **state)
{
    char guid[64];
    char *reason = malloc(1100);
    Models__TaskResponse *resp;

    (void)state;
    memset(reason, 'r', 1099);
    reason[1099] = '\0';
    uniq(guid, sizeof(guid));
    running(guid, "cell-a");
    complete(guid, "cell-a", 1, reason, "partial", IT_OK, NULL);
    resp = get(guid);
    assert_true(resp->task->failed);
    assert_string_equal(resp->task->result, "partial");
    assert_int_equal(strlen(resp->task->failure_reason), 1024);
    assert_string_equal(resp->task->failure_reason + 1013, "(truncated)");
    it_free(resp);
    free(reason);
}

static void test_complete_other_cell_is_running_on_different_cell(void **state)
{
    char guid[64];

    (void)state;
    uniq(guid, sizeof(guid));
    running(guid, "cell-a");
    complete(guid, "cell-b", 0, "", "", E(RunningOnDifferentCell),
             "Running on cell cell-a not cell-b");
    assert_true(row_holds(guid, "state = 2 AND cell_id = 'cell-a'"));
}

static void test_complete_pending_completed_resolving_are_refused(void **state)
{
    char guid[64];

    (void)state;
    uniq(guid, sizeof(guid));
    desire(guid, "d");
    complete(guid, "cell-a", 0, "", "", E(InvalidStateTransition),
             "Cannot transition from Pending to Completed");
    start_ok(guid, "cell-a");
    complete(guid, "cell-a", 0, "", "", IT_OK, NULL);
    complete(guid, "cell-a", 0, "", "", E(InvalidStateTransition),
             "Cannot transition from Completed to Completed");
    by_guid(R_RESOLVING, guid, IT_OK, NULL);
    complete(guid, "cell-a", 0, "", "", E(InvalidStateTransition),
             "Cannot transition from Resolving to Completed");
    complete("no-such-task", "cell-a", 0, "", "", E(ResourceNotFound), IT_MSG_NOT_FOUND);
}

static void test_complete_validation(void **state)
{
    Models__CompleteTaskRequest r = MODELS__COMPLETE_TASK_REQUEST__INIT;

    (void)state;
    it_expect_invalid(R_COMPLETE, &r.base, LIFECYCLE,
                      "Invalid field: task_guid, Invalid field: cell_id");
}

/* ---- cancel and fail ---- */

static void check_cancelled(const char *guid, const char *reason)
{
    Models__TaskResponse *resp = get(guid);

    assert_int_equal(resp->task->state, MODELS__TASK__STATE__Completed);
    assert_true(resp->task->failed);
    assert_string_equal(resp->task->failure_reason, reason);
    assert_string_equal(resp->task->result, "");
    assert_string_equal(resp->task->cell_id, "");
    assert_true(resp->task->first_completed_at > 0);
    it_free(resp);
}

static void test_cancel_pending_and_running(void **state)
{
    char a[64], b[64];

    (void)state;
    uniq(a, sizeof(a));
    uniq(b, sizeof(b));
    desire(a, "d");
    by_guid(R_CANCEL, a, IT_OK, NULL);
    check_cancelled(a, "task was cancelled");
    running(b, "cell-a");
    /* no cell is registered: the rep cancel is only logged, the answer is success */
    by_guid(R_CANCEL, b, IT_OK, NULL);
    check_cancelled(b, "task was cancelled");
    assert_true(row_holds(b, "cell_id = '' AND state = 3"));
}

static void test_cancel_finished_is_refused(void **state)
{
    char guid[64];

    (void)state;
    uniq(guid, sizeof(guid));
    completed(guid);
    by_guid(R_CANCEL, guid, E(InvalidStateTransition),
            "Cannot transition from Completed to Completed");
    by_guid(R_RESOLVING, guid, IT_OK, NULL);
    by_guid(R_CANCEL, guid, E(InvalidStateTransition),
            "Cannot transition from Resolving to Completed");
    by_guid(R_CANCEL, "no-such-task", E(ResourceNotFound), IT_MSG_NOT_FOUND);
}

static void test_guid_request_validation(void **state)
{
    (void)state;
    by_guid(R_CANCEL, "", E(InvalidRequest), "Invalid field: task_guid");
    by_guid(R_RESOLVING, "", E(InvalidRequest), "Invalid field: task_guid");
    by_guid(R_DELETE, "", E(InvalidRequest), "Invalid field: task_guid");
    /* no charset check on these (11.3): a lookup miss */
    by_guid(R_CANCEL, "not a guid", E(ResourceNotFound), IT_MSG_NOT_FOUND);
}

static void test_fail_pending_and_running(void **state)
{
    char a[64], b[64];

    (void)state;
    uniq(a, sizeof(a));
    uniq(b, sizeof(b));
    desire(a, "d");
    fail_task(a, "gave up", IT_OK, NULL);
    check_cancelled(a, "gave up");
    running(b, "cell-a");
    fail_task(b, "gave up too", IT_OK, NULL);
    check_cancelled(b, "gave up too");
    fail_task(b, "again", E(InvalidStateTransition),
              "Cannot transition from Completed to Completed");
    fail_task("no-such-task", "x", E(ResourceNotFound), IT_MSG_NOT_FOUND);
}

static void test_fail_validation(void **state)
{
    (void)state;
    fail_task("", "", E(InvalidRequest), "Invalid field: task_guid, Invalid field: failure_reason");
    fail_task("t-1", "", E(InvalidRequest), "Invalid field: failure_reason");
}

/* ---- reject ---- */

static void test_reject_up_to_and_past_the_limit(void **state)
{
    char guid[64];
    Models__TaskResponse *resp;

    (void)state;
    uniq(guid, sizeof(guid));
    running(guid, "cell-r");
    for (int i = 1; i <= MAX_RETRIES; i++) {
        reject(guid, "no room", IT_OK, NULL);
        resp = get(guid);
        assert_int_equal(resp->task->state, MODELS__TASK__STATE__Pending);
        assert_int_equal(resp->task->rejection_count, i);
        assert_string_equal(resp->task->rejection_reason, "no room");
        assert_false(resp->task->failed);
        it_free(resp);
    }
    /* the reject from Running kept the cell (11.9 q2) */
    assert_true(row_holds(guid, "cell_id = 'cell-r'"));
    {
        Models__TasksResponse *list = list_as(R_LIST_R3, NULL, "cell-r");

        assert_true(has_task(list, guid));
        it_free(list);
    }
    /* count == max: this reject fails the task, in one transaction */
    reject(guid, "still no room", IT_OK, NULL);
    resp = get(guid);
    assert_int_equal(resp->task->state, MODELS__TASK__STATE__Completed);
    assert_true(resp->task->failed);
    assert_string_equal(resp->task->failure_reason, "still no room");
    assert_int_equal(resp->task->rejection_count, MAX_RETRIES + 1);
    assert_string_equal(resp->task->rejection_reason, "still no room");
    assert_string_equal(resp->task->cell_id, "");
    it_free(resp);
    /* past the limit on a finished task: fail's error */
    reject(guid, "x", E(InvalidStateTransition), "Cannot transition from Completed to Completed");
}

static void test_reject_finished_below_limit_is_invalid_request(void **state)
{
    char guid[64];

    (void)state;
    uniq(guid, sizeof(guid));
    completed(guid);
    reject(guid, "x", E(InvalidRequest), IT_MSG_INVALID);
    assert_true(row_holds(guid, "rejection_count = 0 AND state = 3"));
    reject("no-such-task", "x", E(ResourceNotFound), IT_MSG_NOT_FOUND);
}

static void test_reject_validation(void **state)
{
    (void)state;
    reject("t-1", "", E(InvalidRequest), "Invalid field: failure_reason");
    reject("bad/guid", "r", E(InvalidRequest), "Invalid field: task_guid");
}

/* ---- resolving and delete ---- */

static void test_resolving_refusals(void **state)
{
    char guid[64];

    (void)state;
    uniq(guid, sizeof(guid));
    desire(guid, "d");
    by_guid(R_RESOLVING, guid, E(InvalidStateTransition),
            "Cannot transition from Pending to Resolving");
    start_ok(guid, "cell-a");
    by_guid(R_RESOLVING, guid, E(InvalidStateTransition),
            "Cannot transition from Running to Resolving");
    complete(guid, "cell-a", 0, "", "", IT_OK, NULL);
    by_guid(R_RESOLVING, guid, IT_OK, NULL);
    by_guid(R_RESOLVING, guid, E(InvalidStateTransition),
            "Cannot transition from Resolving to Resolving");
    by_guid(R_RESOLVING, "no-such-task", E(ResourceNotFound), IT_MSG_NOT_FOUND);
}

static void test_delete_refusals(void **state)
{
    char guid[64];

    (void)state;
    uniq(guid, sizeof(guid));
    desire(guid, "d");
    by_guid(R_DELETE, guid, E(InvalidStateTransition),
            "Cannot transition from Pending to Resolving");
    start_ok(guid, "cell-a");
    by_guid(R_DELETE, guid, E(InvalidStateTransition),
            "Cannot transition from Running to Resolving");
    complete(guid, "cell-a", 0, "", "", IT_OK, NULL);
    by_guid(R_DELETE, guid, E(InvalidStateTransition),
            "Cannot transition from Completed to Resolving");
    assert_true(row_holds(guid, "state = 3"));
}

/* ---- unknown paths ---- */

static void test_unknown_task_paths_are_404(void **state)
{
    static const char *const paths[] = {"/v1/tasks/list", "/v1/tasks/get_by_task_guid",
                                        "/v1/tasks/desire", "/v1/tasks/nope", "/v1/tasks/"};

    (void)state;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct it_resp raw = {0};

        it_post_raw(paths[i], "", 0, &raw);
        assert_int_equal(raw.status, 404);
        it_resp_free(&raw);
    }
}

static int setup(void **state)
{
    json_t *extra = json_pack("{s:i}", "max_task_retries", MAX_RETRIES);
    int rc;

    (void)state;
    it_server_config(extra);
    rc = it_server_start("tasks", NULL);
    it_server_config(NULL);
    json_decref(extra);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_desire_then_get_r3),
        cmocka_unit_test(test_desire_twice_is_resource_exists),
        cmocka_unit_test(test_desire_empty_request_is_invalid),
        cmocka_unit_test(test_desire_empty_definition_is_invalid_and_stores_nothing),
        cmocka_unit_test(test_desire_empty_action_wrapper_is_invalid),
        cmocka_unit_test(test_desire_oversized_guid_is_invalid_request),
        cmocka_unit_test(test_desire_oversized_domain_is_invalid_request),
        cmocka_unit_test(test_undecodable_body_is_invalid),
        cmocka_unit_test(test_get_missing_is_not_found),
        cmocka_unit_test(test_get_empty_guid_is_invalid),
        cmocka_unit_test(test_list_filters_domain_and_cell),
        cmocka_unit_test(test_r2_reads_are_down_converted),
        cmocka_unit_test(test_undecodable_definition_is_deserialize),
        cmocka_unit_test(test_start_pending_then_repeat_and_other_cell),
        cmocka_unit_test(test_start_missing_is_not_found),
        cmocka_unit_test(test_start_completed_and_resolving_are_refused),
        cmocka_unit_test(test_start_validation),
        cmocka_unit_test(test_concurrent_starts_from_different_cells_one_winner),
        cmocka_unit_test(test_concurrent_starts_from_one_cell_one_winner),
        cmocka_unit_test(test_complete_running_then_resolve_and_delete),
        cmocka_unit_test(test_complete_failed_keeps_result_and_truncates_reason),
        cmocka_unit_test(test_complete_other_cell_is_running_on_different_cell),
        cmocka_unit_test(test_complete_pending_completed_resolving_are_refused),
        cmocka_unit_test(test_complete_validation),
        cmocka_unit_test(test_cancel_pending_and_running),
        cmocka_unit_test(test_cancel_finished_is_refused),
        cmocka_unit_test(test_guid_request_validation),
        cmocka_unit_test(test_fail_pending_and_running),
        cmocka_unit_test(test_fail_validation),
        cmocka_unit_test(test_reject_up_to_and_past_the_limit),
        cmocka_unit_test(test_reject_finished_below_limit_is_invalid_request),
        cmocka_unit_test(test_reject_validation),
        cmocka_unit_test(test_resolving_refusals),
        cmocka_unit_test(test_delete_refusals),
        cmocka_unit_test(test_unknown_task_paths_are_404),
    };

    it_set_name("tasks");
    return it_main_exit(cmocka_run_group_tests_name("api_tasks", tests, setup, it_group_teardown));
}
