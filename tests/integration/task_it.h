/*
 * task_it.h - small Task API helpers shared by the task effects tests
 * (test_api_task_events.c, test_task_callbacks.c, test_task_convergence.c):
 * each wraps one route (reference part 2, 11.1) and returns the error type
 * of the answer (IT_OK on success). Static: included by each test file.
 */
#ifndef BBS_IT_TASK_IT_H
#define BBS_IT_TASK_IT_H

#include "harness.h"

#include <stdio.h>
#include <string.h>

#include "events.pb-c.h"
#include "task.pb-c.h"
#include "task_requests.pb-c.h"

/* Desire a valid task: root_fs, a run action; `url`/`annotation` may be NULL. */
static inline int task_desire(const char *guid, const char *domain, const char *url,
                              const char *annotation, const char *const *tags, size_t n_tags)
{
    Models__DesireTaskRequest req = MODELS__DESIRE_TASK_REQUEST__INIT;
    Models__TaskDefinition def = MODELS__TASK_DEFINITION__INIT;
    Models__Action action = MODELS__ACTION__INIT;
    Models__RunAction run = MODELS__RUN_ACTION__INIT;

    run.path = (char *)"/bin/true";
    run.user = (char *)"vcap";
    action.run_action = &run;
    def.root_fs = (char *)"preloaded:cflinuxfs4";
    def.action = &action;
    def.memory_mb = 256;
    def.disk_mb = 1024;
    def.completion_callback_url = (char *)(url != NULL ? url : "");
    def.annotation = (char *)(annotation != NULL ? annotation : "");
    def.placement_tags = (char **)tags;
    def.n_placement_tags = n_tags;
    req.task_guid = (char *)guid;
    req.domain = (char *)domain;
    req.task_definition = &def;
    return it_call_err("/v1/tasks/desire.r2", &req.base,
                       &models__task_lifecycle_response__descriptor);
}

/* Start on `cell`; `*should_start` (may be NULL) gets the answer. */
static inline int task_start(const char *guid, const char *cell, int *should_start)
{
    Models__StartTaskRequest req = MODELS__START_TASK_REQUEST__INIT;
    Models__StartTaskResponse *r;
    int e;

    req.task_guid = (char *)guid;
    req.cell_id = (char *)cell;
    r = it_call("/v1/tasks/start", &req.base, &models__start_task_response__descriptor);
    e = it_err_type(r);
    if (should_start != NULL) {
        *should_start = r->should_start;
    }
    it_free(r);
    return e;
}

static inline int task_complete(const char *guid, const char *cell, int failed, const char *reason,
                                const char *result)
{
    Models__CompleteTaskRequest req = MODELS__COMPLETE_TASK_REQUEST__INIT;

    req.task_guid = (char *)guid;
    req.cell_id = (char *)cell;
    req.failed = failed;
    req.failure_reason = (char *)reason;
    req.result = (char *)result;
    return it_call_err("/v1/tasks/complete", &req.base,
                       &models__task_lifecycle_response__descriptor);
}

/* cancel, resolving, delete: the TaskGuidRequest routes. */
static inline int task_guid_call(const char *path, const char *guid)
{
    Models__TaskGuidRequest req = MODELS__TASK_GUID_REQUEST__INIT;

    req.task_guid = (char *)guid;
    return it_call_err(path, &req.base, &models__task_lifecycle_response__descriptor);
}

/* The task as get_by_task_guid.r3 answers it (it_free), NULL when not found. */
static inline Models__Task *task_get(const char *guid, Models__TaskResponse **resp)
{
    Models__TaskByGuidRequest req = MODELS__TASK_BY_GUID_REQUEST__INIT;

    req.task_guid = (char *)guid;
    *resp = it_call("/v1/tasks/get_by_task_guid.r3", &req.base, &models__task_response__descriptor);
    return it_err_type(*resp) == IT_OK ? (*resp)->task : NULL;
}

/* The task's state, or -1 when it does not exist. */
static inline int task_state(const char *guid)
{
    Models__TaskResponse *r = NULL;
    Models__Task *t = task_get(guid, &r);
    int st = t != NULL ? (int)t->state : -1;

    it_free(r);
    return st;
}

/* Wait up to `ms` for the task to reach `state` (-1: gone); returns the last state seen. */
static inline int task_wait_state(const char *guid, int state, int ms)
{
    int64_t until = it_mono_ms() + ms;
    int st;

    while ((st = task_state(guid)) != state && it_mono_ms() < until) {
        it_sleep_ms(20);
    }
    return st;
}

/*
 * The next task event of `s` for `guid` within `ms` (others skipped),
 * decoded; its name in `name`. Asserts one arrives.
 */
static inline ProtobufCMessage *task_next_event(struct it_sse *s, const char *guid, int ms,
                                                char *name, size_t len)
{
    int64_t until = it_mono_ms() + ms;

    while (it_mono_ms() < until) {
        struct it_sse_event ev = {0};
        ProtobufCMessage *m;
        const Models__Task *t = NULL;
        int rc = it_sse_next(s, 1000, &ev);

        if (rc == 0) {
            continue;
        }
        assert_int_equal(rc, 1);
        m = it_sse_decode(&ev);
        assert_non_null(m);
        if (strcmp(ev.name, "task_changed") == 0) {
            t = ((Models__TaskChangedEvent *)m)->after;
        } else if (strcmp(ev.name, "task_created") == 0) {
            t = ((Models__TaskCreatedEvent *)m)->task;
        } else if (strcmp(ev.name, "task_removed") == 0) {
            t = ((Models__TaskRemovedEvent *)m)->task;
        }
        if (t != NULL && strcmp(t->task_guid, guid) == 0) {
            snprintf(name, len, "%s", ev.name);
            it_sse_event_clear(&ev);
            return m;
        }
        protobuf_c_message_free_unpacked(m, NULL);
        it_sse_event_clear(&ev);
    }
    fail_msg("no task event for %s within %d ms", guid, ms);
    return NULL;
}

#endif /* BBS_IT_TASK_IT_H */
