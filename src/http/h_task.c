/*
 * h_task.c - Task handlers (reference part 2, 11.1-11.4).
 *
 * Each lifecycle route is one store call (task_store.h) that decides on
 * the locked row and records what it changed; the handler hands that
 * record to the effects (effects.h: the auction request, the rep cancel,
 * the completion callback) the same way the DesiredLRP handlers do.
 * Reads are encoded straight from the rows (task_codec.h), the .r2 routes
 * down-converted per task.
 */
#include <stdint.h>
#include <stdlib.h>

#include "bbs/arena.h"
#include "bbs/codec.h"
#include "bbs/config.h"
#include "bbs/log.h"
#include "bbs/pbw.h"
#include "bbs/task_codec.h"
#include "bbs/task_store.h"
#include "bbs/xalloc.h"
#include "effects.h"
#include "handlers.h"
#include "task_requests.pb-c.h"

/* StartTaskResponse.should_start, TasksResponse.tasks, TaskResponse.task */
enum {
    F_SHOULD_START = 2,
    F_TASKS = 2,
    F_TASK = 2,
};

/* ---- reads ---- */

static void log_unreadable(const char *guid)
{
    bbs_log(BBS_LOG_ERROR, "tasks.unreadable-row", "{s:s}", "task_guid", guid);
}

/* Write `t` at `view`; -1 (nothing written) when its definition does not decode. */
static int put(struct bbs_buf *b, uint32_t field, struct bbs_arena *arena, const struct bbs_task *t,
               enum bbs_task_view view)
{
    if (view == BBS_TASK_VIEW_V3 && !bbs_task_definition_ok(&t->definition)) {
        return -1;
    }
    return bbs_task_put(b, field, arena, t, view);
}

/*
 * A streamed list (routes.h, struct bbs_resp_stream; as h_actual.c): tasks
 * are encoded as the cursor hands them out, STREAM_CHUNK bytes or so per
 * fill. A row whose definition does not open is left out (as the whole
 * list left it out); at a row that does not decode the list stops with a
 * Deserialize error field after the tasks before it (11.9 q5), the same
 * bytes the whole answer had.
 */
#define STREAM_CHUNK (32 * 1024)

struct task_stream {
    struct bbs_cursor *cur;
    enum bbs_task_view view;
};

static int task_fill(void *ctx, struct bbs_buf *out, struct bbs_error *err)
{
    struct task_stream *s = ctx;
    struct bbs_arena *scratch = bbs_arena_new(); /* the V2 conversion's, per fill */
    size_t start = out->len;
    int rc = 1;

    while (out->len - start < STREAM_CHUNK) {
        struct bbs_task t;

        rc = bbs_store_task_next(s->cur, &t, err);
        if (rc <= 0) {
            break;
        }
        if (rc == 2) {
            rc = 1;
            continue;
        }
        if (put(out, F_TASKS, scratch, &t, s->view) != 0) {
            struct bbs_error e = {0};

            log_unreadable(t.guid);
            bbs_error_set(&e, BBS_ERR_DESERIALIZE);
            bbs_codec_put_error(out, &e);
            rc = 0;
            break;
        }
    }
    bbs_arena_free(scratch);
    return rc;
}

static void task_close(void *ctx)
{
    struct task_stream *s = ctx;

    bbs_store_cursor_close(s->cur);
    free(s);
}

static int list(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                enum bbs_task_view view, struct bbs_error *err)
{
    const Models__TasksRequest *m = (const Models__TasksRequest *)msg;
    struct bbs_task_filter f = {m->domain, m->cell_id};
    struct bbs_cursor *cur;
    struct task_stream *s;

    if (bbs_store_task_open(req->ctx->store, &f, &cur, err) != 0) {
        return -1;
    }
    s = bbs_xcalloc(1, sizeof(*s));
    s->cur = cur;
    s->view = view;
    resp->stream.fill = task_fill;
    resp->stream.close = task_close;
    resp->stream.ctx = s;
    return 0;
}

static int get(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
               enum bbs_task_view view, struct bbs_error *err)
{
    const Models__TaskByGuidRequest *m = (const Models__TaskByGuidRequest *)msg;
    struct bbs_task t;

    if (bbs_store_task_get(req->ctx->store, req->arena, m->task_guid, &t, err) != 0) {
        return -1;
    }
    if (put(&resp->body, F_TASK, req->arena, &t, view) != 0) {
        log_unreadable(t.guid);
        bbs_error_set(err, BBS_ERR_DESERIALIZE);
        return -1;
    }
    return 0;
}

BBS_HANDLER(bbs_h_tasks_list_r3)
{
    return list(req, msg, resp, BBS_TASK_VIEW_V3, err);
}

BBS_HANDLER(bbs_h_tasks_list_r2)
{
    return list(req, msg, resp, BBS_TASK_VIEW_V2, err);
}

BBS_HANDLER(bbs_h_task_get_r3)
{
    return get(req, msg, resp, BBS_TASK_VIEW_V3, err);
}

BBS_HANDLER(bbs_h_task_get_r2)
{
    return get(req, msg, resp, BBS_TASK_VIEW_V2, err);
}

/* ---- lifecycle ---- */

BBS_HANDLER(bbs_h_task_desire)
{
    const Models__DesireTaskRequest *m = (const Models__DesireTaskRequest *)msg;
    struct bbs_task t = {0};
    struct bbs_task_start start;
    struct bbs_change ch;

    (void)resp;
    /* Stored as sent (image layers included); the auction is built from
     * the same decoded definition. */
    t.guid = m->task_guid;
    t.domain = m->domain;
    t.definition = bbs_task_encode_definition(req->arena, m->task_definition);
    bbs_task_start_of(req->arena, m->task_guid, m->domain, m->task_definition, &start);
    bbs_change_init(&ch, req->arena);
    return bbs_effects_after(
        req, &ch, bbs_store_task_desire(req->ctx->store, &t, &start, bbs_now_ns(), &ch, err));
}

BBS_HANDLER(bbs_h_task_start)
{
    const Models__StartTaskRequest *m = (const Models__StartTaskRequest *)msg;
    struct bbs_change ch;
    int should_start = 0;
    int rc;

    bbs_change_init(&ch, req->arena);
    rc = bbs_store_task_start(req->ctx->store, m->task_guid, m->cell_id, bbs_now_ns(),
                              &should_start, &ch, err);
    if (rc == 0 && should_start) {
        bbs_pbw_int64(&resp->body, F_SHOULD_START, 1);
        bbs_metrics_task_event(req->ctx->metrics, m->cell_id, BBS_METRIC_TASK_STARTED);
    }
    return bbs_effects_after(req, &ch, rc);
}

BBS_HANDLER(bbs_h_task_cancel)
{
    const Models__TaskGuidRequest *m = (const Models__TaskGuidRequest *)msg;
    struct bbs_change ch;

    (void)resp;
    bbs_change_init(&ch, req->arena);
    return bbs_effects_after(
        req, &ch, bbs_store_task_cancel(req->ctx->store, m->task_guid, bbs_now_ns(), &ch, err));
}

BBS_HANDLER(bbs_h_task_fail)
{
    const Models__FailTaskRequest *m = (const Models__FailTaskRequest *)msg;
    struct bbs_change ch;

    (void)resp;
    bbs_change_init(&ch, req->arena);
    return bbs_effects_after(req, &ch,
                             bbs_store_task_fail(req->ctx->store, m->task_guid, m->failure_reason,
                                                 bbs_now_ns(), &ch, err));
}

BBS_HANDLER(bbs_h_task_reject)
{
    const Models__RejectTaskRequest *m = (const Models__RejectTaskRequest *)msg;
    struct bbs_change ch;

    (void)resp;
    bbs_change_init(&ch, req->arena);
    return bbs_effects_after(
        req, &ch,
        bbs_store_task_reject(req->ctx->store, m->task_guid, m->rejection_reason,
                              req->ctx->cfg->max_task_retries, bbs_now_ns(), &ch, err));
}

BBS_HANDLER(bbs_h_task_complete)
{
    const Models__CompleteTaskRequest *m = (const Models__CompleteTaskRequest *)msg;
    struct bbs_change ch;
    int rc;

    (void)resp;
    bbs_change_init(&ch, req->arena);
    rc = bbs_store_task_complete(req->ctx->store, m->task_guid, m->cell_id, m->failed,
                                 m->failure_reason, m->result, bbs_now_ns(), &ch, err);
    /* Upstream's TasksSucceeded / TasksFailed, counted for the completing cell. */
    if (rc == 0) {
        bbs_metrics_task_event(req->ctx->metrics, m->cell_id,
                               m->failed ? BBS_METRIC_TASK_FAILED : BBS_METRIC_TASK_SUCCEEDED);
    }
    return bbs_effects_after(req, &ch, rc);
}

BBS_HANDLER(bbs_h_task_resolving)
{
    const Models__TaskGuidRequest *m = (const Models__TaskGuidRequest *)msg;
    struct bbs_change ch;

    (void)resp;
    bbs_change_init(&ch, req->arena);
    return bbs_effects_after(
        req, &ch, bbs_store_task_resolving(req->ctx->store, m->task_guid, bbs_now_ns(), &ch, err));
}

BBS_HANDLER(bbs_h_task_delete)
{
    const Models__TaskGuidRequest *m = (const Models__TaskGuidRequest *)msg;
    struct bbs_change ch;

    (void)resp;
    bbs_change_init(&ch, req->arena);
    return bbs_effects_after(req, &ch,
                             bbs_store_task_delete(req->ctx->store, m->task_guid, &ch, err));
}
