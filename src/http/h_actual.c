/*
 * h_actual.c - ActualLRP reads and lifecycle handlers (reference 3).
 *
 * Each handler gets the decoded, validated request (routes.c) and hands
 * the decision to the store, which runs it as one transaction through the
 * pure core.
 */
#include <stdlib.h>
#include <string.h>

#include "actual_lrp_requests.pb-c.h"
#include "bbs/codec.h"
#include "bbs/log.h"
#include "bbs/store.h"
#include "bbs/xalloc.h"
#include "effects.h"
#include "handlers.h"

static struct bbs_alrp_key key_of(const Models__ActualLRPKey *k)
{
    struct bbs_alrp_key key = {k->process_guid, k->index, k->domain};

    return key;
}

static struct bbs_instance_key instance_of(const Models__ActualLRPInstanceKey *k)
{
    struct bbs_instance_key inst = {k->instance_guid, k->cell_id};

    return inst;
}

/* ---- reads ---- */

static void log_skipped(const struct bbs_codec_skipped *sk)
{
    if (sk->n > 0) {
        bbs_log(BBS_LOG_ERROR, "actual-lrps.unreadable-row", "{s:s, s:i, s:I}", "process_guid",
                sk->first.process_guid, "index", sk->first.index, "rows", (json_int_t)sk->n);
    }
}

/*
 * A streamed list (routes.h, struct bbs_resp_stream): rows are encoded as
 * the cursor hands them out, STREAM_CHUNK bytes or so per fill. Unreadable
 * rows are skipped and logged at the end, as put_groups does.
 */
#define STREAM_CHUNK (32 * 1024)

struct alrp_stream {
    struct bbs_cursor *cur;
    size_t skipped;
    char *first_guid; /* the first skipped row's key (copied: rows do not outlive a fill) */
    int32_t first_index;
};

static int alrp_fill(void *ctx, struct bbs_buf *out, struct bbs_error *err)
{
    struct alrp_stream *s = ctx;
    size_t start = out->len;

    while (out->len - start < STREAM_CHUNK) {
        struct bbs_alrp a;
        int rc = bbs_store_alrp_next(s->cur, &a, err);

        if (rc <= 0) {
            return rc;
        }
        if (rc == 2) {
            if (s->skipped++ == 0) {
                s->first_guid = strdup(a.key.process_guid);
                s->first_index = a.key.index;
            }
            continue;
        }
        bbs_codec_put_alrp(out, 2, &a);
    }
    return 1;
}

static void alrp_close(void *ctx)
{
    struct alrp_stream *s = ctx;

    if (s->skipped > 0) {
        bbs_log(BBS_LOG_ERROR, "actual-lrps.unreadable-row", "{s:s, s:i, s:I}", "process_guid",
                s->first_guid != NULL ? s->first_guid : "", "index", s->first_index, "rows",
                (json_int_t)s->skipped);
    }
    bbs_store_cursor_close(s->cur);
    free(s->first_guid);
    free(s);
}

/* Answer `f`'s rows as ActualLRPsResponse.actual_lrps, streamed. */
static int stream_list(struct bbs_req *req, const struct bbs_alrp_filter *f, struct bbs_resp *resp,
                       struct bbs_error *err)
{
    struct alrp_stream *s;
    struct bbs_cursor *cur;

    if (bbs_store_alrp_open(req->ctx->store, req->arena, f, &cur, err) != 0) {
        return -1;
    }
    s = bbs_xcalloc(1, sizeof(*s));
    s->cur = cur;
    resp->stream.fill = alrp_fill;
    resp->stream.close = alrp_close;
    resp->stream.ctx = s;
    return 0;
}

/* Read `f` and append the groups as field 2; `*n` counts them. */
static int put_groups(struct bbs_req *req, const struct bbs_alrp_filter *f, struct bbs_buf *out,
                      size_t *n, struct bbs_error *err)
{
    struct bbs_alrp_rows rows;
    struct bbs_codec_skipped sk;

    if (bbs_store_alrp_list_ordered(req->ctx->store, req->arena, f, &rows, err) != 0) {
        return -1;
    }
    *n = bbs_codec_put_groups(out, 2, &rows, &sk);
    log_skipped(&sk);
    bbs_arena_release(req->arena, rows.src);
    return 0;
}

int bbs_h_alrp_list(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                    struct bbs_error *err)
{
    const Models__ActualLRPsRequest *m = (const Models__ActualLRPsRequest *)msg;
    struct bbs_alrp_filter f = {0};

    f.domain = m->domain;
    f.cell_id = m->cell_id;
    f.process_guid = m->process_guid;
    f.has_index = m->optional_index_case == MODELS__ACTUAL_LRPS_REQUEST__OPTIONAL_INDEX_INDEX;
    f.index = m->index;
    return stream_list(req, &f, resp, err);
}

int bbs_h_alrp_list_by_guids(struct bbs_req *req, const ProtobufCMessage *msg,
                             struct bbs_resp *resp, struct bbs_error *err)
{
    const Models__ActualLRPsByProcessGuidsRequest *m =
        (const Models__ActualLRPsByProcessGuidsRequest *)msg;
    struct bbs_alrp_filter f = {0};

    f.process_guids = (const char *const *)m->process_guids;
    f.n_process_guids = m->n_process_guids;
    return stream_list(req, &f, resp, err);
}

int bbs_h_groups_list(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                      struct bbs_error *err)
{
    const Models__ActualLRPGroupsRequest *m = (const Models__ActualLRPGroupsRequest *)msg;
    struct bbs_alrp_filter f = {0};
    size_t n;

    f.domain = m->domain;
    f.cell_id = m->cell_id;
    return put_groups(req, &f, &resp->body, &n, err);
}

int bbs_h_groups_by_guid(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                         struct bbs_error *err)
{
    const Models__ActualLRPGroupsByProcessGuidRequest *m =
        (const Models__ActualLRPGroupsByProcessGuidRequest *)msg;
    struct bbs_alrp_filter f = {0};
    size_t n;

    f.process_guid = m->process_guid;
    return put_groups(req, &f, &resp->body, &n, err);
}

int bbs_h_group_by_guid_index(struct bbs_req *req, const ProtobufCMessage *msg,
                              struct bbs_resp *resp, struct bbs_error *err)
{
    const Models__ActualLRPGroupByProcessGuidAndIndexRequest *m =
        (const Models__ActualLRPGroupByProcessGuidAndIndexRequest *)msg;
    struct bbs_alrp_filter f = {0};
    size_t n;

    f.process_guid = m->process_guid;
    f.has_index = 1;
    f.index = m->index;
    if (put_groups(req, &f, &resp->body, &n, err) != 0) {
        return -1;
    }
    if (n == 0) {
        bbs_error_set(err, BBS_ERR_RESOURCE_NOT_FOUND);
        return -1;
    }
    return 0;
}

/* ---- lifecycle ---- */

int bbs_h_claim(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                struct bbs_error *err)
{
    const Models__ClaimActualLRPRequest *m = (const Models__ClaimActualLRPRequest *)msg;
    struct bbs_instance_key inst;
    struct bbs_change ch;

    (void)resp;
    inst = instance_of(m->actual_lrp_instance_key);
    bbs_change_init(&ch, req->arena);
    return bbs_effects_after(req, &ch,
                             bbs_store_alrp_claim(req->ctx->store, m->process_guid, m->index, &inst,
                                                  bbs_now_ns(), &ch, err));
}

/* A quick run's answer from the heartbeat read's (bbs_store_alrp_start_peek_queue). */
static int quick_answer(struct bbs_req *req, int peek)
{
    if (peek == BBS_PEEK_QUEUED) {
        return BBS_ROUTE_WAIT;
    }
    if (peek == 1) {
        return 0; /* changes nothing: answered now */
    }
    req->known_change = peek == 0;
    return BBS_ROUTE_HAND_OVER;
}

/* `deprecated`: the old /start stores internal routes as an empty list
 * and metric tags as absent, whatever the request carried (3.4). */
static int start(struct bbs_req *req, const Models__StartActualLRPRequest *m, int deprecated,
                 struct bbs_error *err)
{
    struct bbs_start_input in;
    struct bbs_change ch;

    if (req->quick && req->waited) {
        return quick_answer(req, req->wait_answer); /* the queued read's (below) */
    }
    in.key = key_of(m->actual_lrp_key);
    in.instance = instance_of(m->actual_lrp_instance_key);
    in.net_info = bbs_codec_net_info(req->arena, m->actual_lrp_net_info);
    if (deprecated) {
        in.internal_routes = (struct bbs_blob){NULL, 0, 1};
        in.metric_tags = (struct bbs_blob){NULL, 0, 0};
    } else {
        in.internal_routes = bbs_codec_internal_routes(req->arena, m->actual_lrp_internal_routes,
                                                       m->n_actual_lrp_internal_routes, 0);
        struct bbs_kv *kv = bbs_arena_alloc(req->arena, (m->n_metric_tags + 1) * sizeof(*kv));

        for (size_t i = 0; i < m->n_metric_tags; i++) {
            kv[i].key = m->metric_tags[i]->key;
            kv[i].value = m->metric_tags[i]->value;
        }
        in.metric_tags = bbs_codec_string_map(req->arena, kv, m->n_metric_tags, 0);
    }
    /* Routable unset means true (quirk 2). */
    in.routable =
        m->optional_routable_case != MODELS__START_ACTUAL_LRPREQUEST__OPTIONAL_ROUTABLE_ROUTABLE ||
        m->routable;
    in.availability_zone = m->availability_zone;
    if (req->quick) {
        /* A heartbeat that changes nothing is answered at once (an empty
         * change); a start known to change something skips that read when
         * handed over. While another read is in flight the start is queued
         * for the next one (`in` points into the request's arena) and
         * waits without its I/O thread. */
        return quick_answer(req, bbs_store_alrp_start_peek_queue(req->ctx->store, &in, bbs_now_ns(),
                                                                 req->wait_done, req->wait_ud));
    }
    bbs_change_init(&ch, req->arena);
    return bbs_effects_after(
        req, &ch,
        bbs_store_alrp_start(req->ctx->store, &in, bbs_now_ns(), req->known_change, &ch, err));
}

int bbs_h_start_r1(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                   struct bbs_error *err)
{
    (void)resp;
    return start(req, (const Models__StartActualLRPRequest *)msg, 0, err);
}

int bbs_h_start_r0(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                   struct bbs_error *err)
{
    (void)resp;
    return start(req, (const Models__StartActualLRPRequest *)msg, 1, err);
}

int bbs_h_crash(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                struct bbs_error *err)
{
    const Models__CrashActualLRPRequest *m = (const Models__CrashActualLRPRequest *)msg;
    struct bbs_alrp_key key;
    struct bbs_instance_key inst;
    struct bbs_change ch;

    (void)resp;
    key = key_of(m->actual_lrp_key);
    inst = instance_of(m->actual_lrp_instance_key);
    /* A crash that restarts at once records the placement of its index.
     * If the desired LRP is gone the crash stays committed and the caller
     * hears ResourceNotFound, as upstream answers (quirk 7). */
    bbs_change_init(&ch, req->arena);
    return bbs_effects_after(req, &ch,
                             bbs_store_alrp_crash(req->ctx->store, &key, &inst, m->error_message,
                                                  bbs_now_ns(), &ch, err));
}

int bbs_h_fail(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
               struct bbs_error *err)
{
    const Models__FailActualLRPRequest *m = (const Models__FailActualLRPRequest *)msg;
    struct bbs_alrp_key key;
    struct bbs_change ch;

    (void)resp;
    key = key_of(m->actual_lrp_key);
    bbs_change_init(&ch, req->arena);
    return bbs_effects_after(
        req, &ch,
        bbs_store_alrp_fail(req->ctx->store, &key, m->error_message, bbs_now_ns(), &ch, err));
}

int bbs_h_remove(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                 struct bbs_error *err)
{
    const Models__RemoveActualLRPRequest *m = (const Models__RemoveActualLRPRequest *)msg;
    struct bbs_instance_key inst;
    struct bbs_change ch;

    (void)resp;
    if (m->actual_lrp_instance_key != NULL) {
        inst = instance_of(m->actual_lrp_instance_key);
    }
    bbs_change_init(&ch, req->arena);
    return bbs_effects_after(
        req, &ch,
        bbs_store_alrp_remove(req->ctx->store, m->process_guid, m->index,
                              m->actual_lrp_instance_key != NULL ? &inst : NULL, &ch, err));
}

int bbs_h_retire(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                 struct bbs_error *err)
{
    const Models__RetireActualLRPRequest *m = (const Models__RetireActualLRPRequest *)msg;
    struct bbs_cell_lookup cells = {bbs_effects_cell_url, req->ctx->effects};
    struct bbs_change ch;

    (void)resp;
    /* The domain of the request key is not compared (quirk 25). */
    bbs_change_init(&ch, req->arena);
    ch.trace_id = req->trace_id;
    return bbs_effects_after(req, &ch,
                             bbs_store_alrp_retire(req->ctx->store, m->actual_lrp_key->process_guid,
                                                   m->actual_lrp_key->index, &cells, &ch, err));
}
