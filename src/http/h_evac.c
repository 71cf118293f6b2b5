/*
 * h_evac.c - evacuation handlers (reference 4).
 *
 * Each says whether the cell keeps its container (resp->keep_container),
 * on success and on error alike, since an error and keep_container = true
 * travel together; the front end writes both fields of
 * EvacuationResponse. Decode and validation failures keep the container
 * for evacuate_claimed and evacuate_running (route flag
 * BBS_ROUTE_KEEP_ON_ERROR) and let it go for the others.
 */
#include "bbs/codec.h"
#include "bbs/log.h"
#include "bbs/store.h"
#include "effects.h"
#include "evacuation.pb-c.h"
#include "handlers.h"

static int run(struct bbs_req *req, struct bbs_evac_request *er, struct bbs_resp *resp,
               struct bbs_error *err)
{
    struct bbs_change ch;
    int keep = 0;

    bbs_change_init(&ch, req->arena);
    if (bbs_store_evacuate(req->ctx->store, er, bbs_now_ns(), &keep, &ch, err) != 0) {
        bbs_log(BBS_LOG_INFO, "evacuation.failed", "{s:s, s:i, s:s, s:b}", "process_guid",
                er->in.key.process_guid, "index", er->in.key.index, "error",
                bbs_error_name(err->type), "keep_container", keep);
        resp->keep_container = keep;
        return -1;
    }
    /*
     * Upstream's evacuation controller requests the auction inline: the
     * auctioneer has it by the time the cell reads the answer (upstream's
     * event_stream_test checks exactly that).
     */
    bbs_effects_apply_some(req->ctx->effects, &ch, req->trace_id,
                           BBS_EFFECTS_ALL | BBS_EFFECTS_AUCTIONS_WAIT);
    resp->keep_container = keep;
    return 0;
}

static void set_keys(struct bbs_evac_request *er, const Models__ActualLRPKey *k,
                     const Models__ActualLRPInstanceKey *i)
{
    er->in.key.process_guid = k->process_guid;
    er->in.key.index = k->index;
    er->in.key.domain = k->domain;
    er->in.instance.instance_guid = i->instance_guid;
    er->in.instance.cell_id = i->cell_id;
}

int bbs_h_evacuate_claimed(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                           struct bbs_error *err)
{
    const Models__EvacuateClaimedActualLRPRequest *m =
        (const Models__EvacuateClaimedActualLRPRequest *)msg;
    struct bbs_evac_request er = {0};

    er.call = BBS_EVAC_CALL_CLAIMED;
    set_keys(&er, m->actual_lrp_key, m->actual_lrp_instance_key);
    return run(req, &er, resp, err);
}

int bbs_h_evacuate_crashed(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                           struct bbs_error *err)
{
    const Models__EvacuateCrashedActualLRPRequest *m =
        (const Models__EvacuateCrashedActualLRPRequest *)msg;
    struct bbs_evac_request er = {0};

    er.call = BBS_EVAC_CALL_CRASHED;
    set_keys(&er, m->actual_lrp_key, m->actual_lrp_instance_key);
    er.reason = m->error_message;
    return run(req, &er, resp, err);
}

int bbs_h_evacuate_stopped(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                           struct bbs_error *err)
{
    const Models__EvacuateStoppedActualLRPRequest *m =
        (const Models__EvacuateStoppedActualLRPRequest *)msg;
    struct bbs_evac_request er = {0};

    er.call = BBS_EVAC_CALL_STOPPED;
    set_keys(&er, m->actual_lrp_key, m->actual_lrp_instance_key);
    return run(req, &er, resp, err);
}

/* `deprecated`: the old route treats internal routes and metric tags as
 * absent (so an update through it clears them on the evacuating row). */
static int evacuate_running(struct bbs_req *req, const Models__EvacuateRunningActualLRPRequest *m,
                            int deprecated, struct bbs_resp *resp, struct bbs_error *err)
{
    struct bbs_evac_request er = {0};

    er.call = BBS_EVAC_CALL_RUNNING;
    set_keys(&er, m->actual_lrp_key, m->actual_lrp_instance_key);
    er.in.net_info = bbs_codec_net_info(req->arena, m->actual_lrp_net_info);
    er.in.internal_routes = (struct bbs_blob){NULL, 0, 0};
    er.in.metric_tags = (struct bbs_blob){NULL, 0, 0};
    if (!deprecated) {
        struct bbs_kv *kv = bbs_arena_alloc(req->arena, (m->n_metric_tags + 1) * sizeof(*kv));

        er.in.internal_routes = bbs_codec_internal_routes(req->arena, m->actual_lrp_internal_routes,
                                                          m->n_actual_lrp_internal_routes, 0);
        for (size_t i = 0; i < m->n_metric_tags; i++) {
            kv[i].key = m->metric_tags[i]->key;
            kv[i].value = m->metric_tags[i]->value;
        }
        er.in.metric_tags = bbs_codec_string_map(req->arena, kv, m->n_metric_tags, 0);
    }
    /* Routable unset means true (quirk 2). */
    er.in.routable = m->optional_routable_case !=
                         MODELS__EVACUATE_RUNNING_ACTUAL_LRPREQUEST__OPTIONAL_ROUTABLE_ROUTABLE ||
                     m->routable;
    er.in.availability_zone = m->availability_zone;
    return run(req, &er, resp, err);
}

int bbs_h_evacuate_running_r1(struct bbs_req *req, const ProtobufCMessage *msg,
                              struct bbs_resp *resp, struct bbs_error *err)
{
    return evacuate_running(req, (const Models__EvacuateRunningActualLRPRequest *)msg, 0, resp,
                            err);
}

int bbs_h_evacuate_running_r0(struct bbs_req *req, const ProtobufCMessage *msg,
                              struct bbs_resp *resp, struct bbs_error *err)
{
    return evacuate_running(req, (const Models__EvacuateRunningActualLRPRequest *)msg, 1, resp,
                            err);
}

int bbs_h_remove_evacuating(struct bbs_req *req, const ProtobufCMessage *msg, struct bbs_resp *resp,
                            struct bbs_error *err)
{
    const Models__RemoveEvacuatingActualLRPRequest *m =
        (const Models__RemoveEvacuatingActualLRPRequest *)msg;
    struct bbs_evac_request er = {0};
    struct bbs_change ch;
    int keep = 0;

    (void)resp;
    er.call = BBS_EVAC_CALL_REMOVE;
    set_keys(&er, m->actual_lrp_key, m->actual_lrp_instance_key);
    bbs_change_init(&ch, req->arena);
    return bbs_effects_after(
        req, &ch, bbs_store_evacuate(req->ctx->store, &er, bbs_now_ns(), &keep, &ch, err));
}
