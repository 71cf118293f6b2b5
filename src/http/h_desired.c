/*
 * h_desired.c - DesiredLRP handlers (reference 5.3-5.7).
 *
 * Desire, update and remove are one store call each (dlrp_store.h): the
 * desired row commits first, then the store creates UNCLAIMED rows or
 * stops instances, and records all of it, with the auction to request, in
 * one change record. The handler hands that record to bbs_effects_apply
 * (effects.h); a follow-up that failed is a note there, only logged, as
 * upstream does: the desired state is what the caller changed, and
 * convergence repairs the actual side.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/arena.h"
#include "bbs/codec.h"
#include "bbs/dlrp_codec.h"
#include "bbs/dlrp_store.h"
#include "bbs/log.h"
#include "bbs/store.h"
#include "bbs/xalloc.h"
#include "desired_lrp.pb-c.h"
#include "effects.h"
#include "handlers.h"

/* ---- lifecycle ---- */

int bbs_h_desire(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                 struct bbs_error *err)
{
    const Models__DesireLRPRequest *m = (const Models__DesireLRPRequest *)msg;
    struct bbs_dlrp_row row;
    struct bbs_change ch;
    int64_t now_ns = bbs_now_ns();

    (void)resp;
    /* Route values are checked as JSON only after validation, and a bad
     * one stores nothing (2.6.3). */
    if (bbs_dlrp_split(req->arena, m->desired_lrp, now_ns, &row, err) != 0) {
        return -1;
    }
    bbs_change_init(&ch, req->arena);
    ch.trace_id = req->trace_id;
    return bbs_effects_after(req, &ch,
                             bbs_store_dlrp_desire(req->ctx->store, &row, now_ns, &ch, err));
}

int bbs_h_update_desired(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                         struct bbs_error *err)
{
    const Models__UpdateDesiredLRPRequest *m = (const Models__UpdateDesiredLRPRequest *)msg;
    struct bbs_change ch;

    (void)resp;
    if (m->update == NULL) { /* the validator reports it (quirk 10); never dereference it */
        bbs_invalid(err, "Invalid field: update");
        return -1;
    }
    bbs_change_init(&ch, req->arena);
    ch.trace_id = req->trace_id;
    return bbs_effects_after(
        req, &ch,
        bbs_store_dlrp_update(req->ctx->store, m->process_guid, m->update, bbs_now_ns(), &ch, err));
}

int bbs_h_remove_desired(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                         struct bbs_error *err)
{
    const Models__RemoveDesiredLRPRequest *m = (const Models__RemoveDesiredLRPRequest *)msg;
    struct bbs_change ch;

    (void)resp;
    bbs_change_init(&ch, req->arena);
    ch.trace_id = req->trace_id;
    return bbs_effects_after(req, &ch,
                             bbs_store_dlrp_remove(req->ctx->store, m->process_guid, &ch, err));
}

/* ---- reads ---- */

static void log_unreadable(const char *process_guid, size_t n)
{
    bbs_log(BBS_LOG_ERROR, "desired-lrps.unreadable-row", "{s:s, s:I}", "process_guid",
            process_guid, "rows", (json_int_t)n);
}

/*
 * A streamed list (routes.h, struct bbs_resp_stream; h_actual.c does the
 * same for ActualLRPs): rows are encoded as the cursor hands them out,
 * STREAM_CHUNK bytes or so per fill. A row whose sealed values do not open
 * is left out, as the whole list left it out; a row the codec cannot
 * encode is left out and counted, logged when the stream closes.
 */
#define STREAM_CHUNK (32 * 1024)

struct dlrp_stream {
    struct bbs_cursor *cur;
    enum bbs_dlrp_view view;
    size_t skipped;
    char *first_skipped; /* copied: rows do not outlive a fill */
};

static int dlrp_fill(void *ctx, struct bbs_buf *out, struct bbs_error *err)
{
    struct dlrp_stream *s = ctx;
    struct bbs_arena *scratch = bbs_arena_new(); /* the V2 conversion's, per fill */
    size_t start = out->len;
    int rc = 1;

    while (out->len - start < STREAM_CHUNK) {
        struct bbs_dlrp_row row;

        rc = bbs_store_dlrp_next(s->cur, &row, err);
        if (rc <= 0) {
            break;
        }
        if (rc == 2) {
            rc = 1;
            continue;
        }
        if (bbs_dlrp_put(out, 2, scratch, &row, s->view) != 0 && s->skipped++ == 0) {
            s->first_skipped = strdup(row.process_guid);
        }
    }
    bbs_arena_free(scratch);
    return rc;
}

static void dlrp_close(void *ctx)
{
    struct dlrp_stream *s = ctx;

    if (s->skipped > 0) {
        log_unreadable(s->first_skipped != NULL ? s->first_skipped : "", s->skipped);
    }
    bbs_store_cursor_close(s->cur);
    free(s->first_skipped);
    free(s);
}

/*
 * List `view` into field 2 of the response, streamed. Which request
 * filters apply depends on the route (5.7): `use_domain`, `use_app_guids`.
 */
static int list(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                enum bbs_dlrp_view view, int use_domain, int use_app_guids, struct bbs_error *err)
{
    const Models__DesiredLRPsRequest *m = (const Models__DesiredLRPsRequest *)msg;
    struct bbs_dlrp_filter f = {0};
    struct bbs_cursor *cur;
    struct dlrp_stream *s;

    if (use_domain) {
        f.domain = m->domain;
    }
    f.process_guids = (const char *const *)m->process_guids;
    f.n_process_guids = m->n_process_guids;
    if (use_app_guids) {
        f.app_guids = (const char *const *)m->app_guids;
        f.n_app_guids = m->n_app_guids;
    }
    if (bbs_store_dlrp_open(req->ctx->store, req->arena, &f, view, &cur, err) != 0) {
        return -1;
    }
    s = bbs_xcalloc(1, sizeof(*s));
    s->cur = cur;
    s->view = view;
    resp->stream.fill = dlrp_fill;
    resp->stream.close = dlrp_close;
    resp->stream.ctx = s;
    return 0;
}

static int get(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
               enum bbs_dlrp_view view, struct bbs_error *err)
{
    const Models__DesiredLRPByProcessGuidRequest *m =
        (const Models__DesiredLRPByProcessGuidRequest *)msg;
    struct bbs_dlrp_row row;

    if (bbs_store_dlrp_get(req->ctx->store, req->arena, m->process_guid, view, &row, err) != 0) {
        return -1;
    }
    if (bbs_dlrp_put(&resp->body, 2, req->arena, &row, view) != 0) {
        /* Upstream skips (and, on full reads, deletes) a row it cannot
         * decode: to the caller it does not exist. */
        log_unreadable(row.process_guid, 1);
        bbs_error_set(err, BBS_ERR_RESOURCE_NOT_FOUND);
        return -1;
    }
    return 0;
}

int bbs_h_desired_list_r3(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                          struct bbs_error *err)
{
    return list(req, msg, resp, BBS_DLRP_VIEW_V3, 1, 1, err);
}

int bbs_h_desired_list_r2(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                          struct bbs_error *err)
{
    return list(req, msg, resp, BBS_DLRP_VIEW_V2, 1, 1, err);
}

int bbs_h_desired_get_r3(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                         struct bbs_error *err)
{
    return get(req, msg, resp, BBS_DLRP_VIEW_V3, err);
}

int bbs_h_desired_get_r2(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                         struct bbs_error *err)
{
    return get(req, msg, resp, BBS_DLRP_VIEW_V2, err);
}

/* Scheduling infos: domain and process guids; app_guids ignored (5.7). */
int bbs_h_sched_list(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                     struct bbs_error *err)
{
    return list(req, msg, resp, BBS_DLRP_VIEW_SCHED, 1, 0, err);
}

int bbs_h_sched_get(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                    struct bbs_error *err)
{
    return get(req, msg, resp, BBS_DLRP_VIEW_SCHED, err);
}

/* Routing infos: process guids only; domain ignored (5.7). */
int bbs_h_routing_list(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                       struct bbs_error *err)
{
    return list(req, msg, resp, BBS_DLRP_VIEW_ROUTING, 0, 0, err);
}
