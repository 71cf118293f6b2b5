/*
 * fuzz_decode.c - every route's decode -> validate -> pure-core path.
 *
 * Input: byte 0 picks the route (low 5 bits, modulo the table) and a
 * variant (high 3 bits: crash counts and clock of the synthetic rows); the
 * rest is the request body, exactly as a client would send it. The body is
 * decoded as the route's request message with the server's decoder
 * (bbs_codec_decode, unknown fields dropped), run through the route's
 * validator, and, when valid, through what the handler does before the
 * store: the lifecycle and evacuation decisions of the pure core against a
 * fixed set of synthetic stored rows (built around the request's own key
 * and instance key, so transitions succeed as well as fail), encoding of
 * every decided row, and for DesiredLRPs the split / compose / auction
 * path of dlrp_codec. Nothing here touches a database or the network.
 *
 * Properties beyond "no crash, leak, UB or hang": a decided row is
 * encodable, and what the encoder writes decodes again as an ActualLRP.
 */
#include <stdlib.h>
#include <string.h>

#include "actual_lrp.pb-c.h"
#include "actual_lrp_requests.pb-c.h"
#include "bbs/alrp.h"
#include "bbs/arena.h"
#include "bbs/buf.h"
#include "bbs/codec.h"
#include "bbs/dlrp_codec.h"
#include "bbs/evac.h"
#include "bbs/pbw.h"
#include "bbs/validate.h"
#include "desired_lrp.pb-c.h"
#include "domains.pb-c.h"
#include "evacuation.pb-c.h"
#include "fuzz.h"

#define NOW_NS INT64_C(1700000000000000000)

enum kind {
    K_DECODE,       /* decode only (reads without validation, ping-like routes) */
    K_BY_GUIDS,     /* actual_lrps/list_by_process_guids */
    K_GROUPS_GUID,  /* actual_lrp_groups/list_by_process_guid */
    K_GROUP_INDEX,  /* actual_lrp_groups/get_by_process_guid_and_index */
    K_CLAIM,        /* actual_lrps/claim */
    K_START_R1,     /* actual_lrps/start.r1 */
    K_START_R0,     /* actual_lrps/start */
    K_CRASH,        /* actual_lrps/crash */
    K_FAIL,         /* actual_lrps/fail */
    K_REMOVE,       /* actual_lrps/remove */
    K_RETIRE,       /* actual_lrps/retire */
    K_EVAC_CLAIMED, /* evacuation routes */
    K_EVAC_CRASHED,
    K_EVAC_STOPPED,
    K_EVAC_RUN_R1,
    K_EVAC_RUN_R0,
    K_EVAC_REMOVE,
    K_DESIRE,      /* desired_lrp/desire.r2 */
    K_UPDATE,      /* desired_lrp/update */
    K_REMOVE_DLRP, /* desired_lrp/remove */
    K_DLRP_GET,    /* desired_lrps/get_by_process_guid.*, scheduling info get */
    K_DOMAIN,      /* domains/upsert */
};

struct route {
    const ProtobufCMessageDescriptor *desc;
    enum kind kind;
};

/* One row per routed request type (router.c); order is the seed file names' order. */
static const struct route routes[] = {
    {&models__actual_lrps_request__descriptor, K_DECODE},
    {&models__actual_lrps_by_process_guids_request__descriptor, K_BY_GUIDS},
    {&models__actual_lrpgroups_request__descriptor, K_DECODE},
    {&models__actual_lrpgroups_by_process_guid_request__descriptor, K_GROUPS_GUID},
    {&models__actual_lrpgroup_by_process_guid_and_index_request__descriptor, K_GROUP_INDEX},
    {&models__claim_actual_lrprequest__descriptor, K_CLAIM},
    {&models__start_actual_lrprequest__descriptor, K_START_R1},
    {&models__start_actual_lrprequest__descriptor, K_START_R0},
    {&models__crash_actual_lrprequest__descriptor, K_CRASH},
    {&models__fail_actual_lrprequest__descriptor, K_FAIL},
    {&models__remove_actual_lrprequest__descriptor, K_REMOVE},
    {&models__retire_actual_lrprequest__descriptor, K_RETIRE},
    {&models__evacuate_claimed_actual_lrprequest__descriptor, K_EVAC_CLAIMED},
    {&models__evacuate_crashed_actual_lrprequest__descriptor, K_EVAC_CRASHED},
    {&models__evacuate_stopped_actual_lrprequest__descriptor, K_EVAC_STOPPED},
    {&models__evacuate_running_actual_lrprequest__descriptor, K_EVAC_RUN_R1},
    {&models__evacuate_running_actual_lrprequest__descriptor, K_EVAC_RUN_R0},
    {&models__remove_evacuating_actual_lrprequest__descriptor, K_EVAC_REMOVE},
    {&models__desire_lrprequest__descriptor, K_DESIRE},
    {&models__update_desired_lrprequest__descriptor, K_UPDATE},
    {&models__remove_desired_lrprequest__descriptor, K_REMOVE_DLRP},
    {&models__desired_lrps_request__descriptor, K_DECODE},
    {&models__desired_lrpby_process_guid_request__descriptor, K_DLRP_GET},
    {&models__upsert_domain_request__descriptor, K_DOMAIN},
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* ---- synthetic stored rows ---------------------------------------------------------- */

static const struct bbs_instance_key NOBODY = {"", ""};
static const struct bbs_instance_key OTHER = {"ig-other", "cell-other"};
static const uint8_t STORED_NET_INFO[] = {0x0a, 0x08, '1', '0', '.', '0', '.', '0', '.', '1'};

/*
 * The clock and the stored `since` are wall-clock nanoseconds the server
 * itself wrote, never client input, so they stay in that domain (from the
 * epoch to 2262): around the reset window and backoff boundaries, and far
 * off. Values near INT64_MIN / INT64_MAX are outside what the core is
 * asked to handle.
 */
static const int32_t crash_counts[8] = {0, 1, 2, 3, 5, 199, 200, INT32_MAX};
static const int64_t clocks[8] = {
    NOW_NS,
    0,
    NOW_NS - 1000 - 1,
    NOW_NS - 1000 + BBS_CRASH_RESET_WINDOW_NS,
    NOW_NS - 1000 + BBS_CRASH_RESET_WINDOW_NS + 1,
    NOW_NS + BBS_CRASH_MAX_BACKOFF_NS,
    NOW_NS * 2,
    INT64_MAX / 2,
};

static struct bbs_alrp row(const struct bbs_alrp_key *key, enum bbs_alrp_state state,
                           const struct bbs_instance_key *inst, enum bbs_presence presence,
                           int32_t crash_count)
{
    struct bbs_alrp r;

    memset(&r, 0, sizeof(r));
    r.key = *key;
    r.instance = *inst;
    r.state = state;
    r.presence = presence;
    r.since_ns = NOW_NS - 1000;
    r.crash_count = crash_count;
    r.crash_reason = "";
    r.placement_error = "";
    r.net_info = (struct bbs_blob){STORED_NET_INFO, sizeof(STORED_NET_INFO), 1};
    r.internal_routes = (struct bbs_blob){NULL, 0, 0};
    r.metric_tags = (struct bbs_blob){NULL, 0, 0};
    r.routable = 1;
    r.availability_zone = "z1";
    r.mod_epoch = "epoch-1";
    r.mod_index = 7;
    return r;
}

#define N_SETS 11

struct rows {
    struct bbs_alrp r[16];
    struct bbs_alrp_set sets[N_SETS];
};

/*
 * The stored situations every lifecycle call is tried against: no row,
 * each state owned by the requester or by another cell, and the
 * evacuating / suspect combinations of reference 4.
 */
static void build_sets(struct rows *rs, const struct bbs_alrp_key *key,
                       const struct bbs_instance_key *me, int32_t crash_count)
{
    struct bbs_alrp *r = rs->r;
    struct bbs_alrp_set *s = rs->sets;

    r[0] = row(key, BBS_ALRP_UNCLAIMED, &NOBODY, BBS_PRESENCE_ORDINARY, crash_count);
    r[1] = row(key, BBS_ALRP_CLAIMED, me, BBS_PRESENCE_ORDINARY, crash_count);
    r[2] = row(key, BBS_ALRP_CLAIMED, &OTHER, BBS_PRESENCE_ORDINARY, crash_count);
    r[3] = row(key, BBS_ALRP_RUNNING, me, BBS_PRESENCE_ORDINARY, crash_count);
    r[4] = row(key, BBS_ALRP_RUNNING, &OTHER, BBS_PRESENCE_ORDINARY, crash_count);
    r[5] = row(key, BBS_ALRP_CRASHED, &NOBODY, BBS_PRESENCE_ORDINARY, crash_count);
    r[6] = row(key, BBS_ALRP_RUNNING, me, BBS_PRESENCE_EVACUATING, crash_count);
    r[7] = row(key, BBS_ALRP_RUNNING, &OTHER, BBS_PRESENCE_EVACUATING, crash_count);
    r[8] = row(key, BBS_ALRP_RUNNING, me, BBS_PRESENCE_SUSPECT, crash_count);
    r[9] = row(key, BBS_ALRP_RUNNING, &OTHER, BBS_PRESENCE_SUSPECT, crash_count);
    r[10] = row(key, BBS_ALRP_CLAIMED, me, BBS_PRESENCE_EVACUATING, crash_count);

    memset(s, 0, sizeof(rs->sets));
    s[1].ordinary = &r[0];
    s[2].ordinary = &r[1];
    s[3].ordinary = &r[2];
    s[4].ordinary = &r[3];
    s[5].ordinary = &r[4];
    s[6].ordinary = &r[5];
    s[7] = (struct bbs_alrp_set){&r[0], &r[6], NULL};
    s[8] = (struct bbs_alrp_set){&r[2], NULL, &r[8]};
    s[9] = (struct bbs_alrp_set){&r[3], &r[7], &r[9]};
    s[10] = (struct bbs_alrp_set){NULL, &r[10], &r[8]};
}

/* Encode a decided row and check the bytes decode as an ActualLRP. */
static void emit(struct bbs_arena *arena, const struct bbs_alrp *a)
{
    struct bbs_buf b = {0};
    struct bbs_error err = {0};
    const uint8_t *data = NULL;
    size_t pos = 0;
    size_t len = 0;
    uint32_t field = 0;

    bbs_codec_put_alrp(&b, 2, a);
    if (bbs_pbr_next_len(b.data, b.len, &pos, &field, &data, &len) != 1 || field != 2) {
        abort();
    }
    if (bbs_codec_decode(arena, &models__actual_lrp__descriptor, data, len, &err) == NULL) {
        abort();
    }
    bbs_buf_free(&b);
}

static void emit_write(struct bbs_arena *arena, enum bbs_alrp_write w, const struct bbs_alrp *a)
{
    if (w == BBS_ALRP_WRITE_UPDATE || w == BBS_ALRP_WRITE_INSERT) {
        emit(arena, a);
    }
}

static void emit_decision(struct bbs_arena *arena, const struct bbs_evac_decision *d)
{
    emit_write(arena, d->evac_write, &d->evac);
    emit_write(arena, d->ordinary_write, &d->ordinary);
}

static struct bbs_alrp_key key_of(const Models__ActualLRPKey *k)
{
    struct bbs_alrp_key key = {k->process_guid, k->index, k->domain};

    return key;
}

static struct bbs_instance_key inst_of(const Models__ActualLRPInstanceKey *k)
{
    struct bbs_instance_key inst = {k->instance_guid, k->cell_id};

    return inst;
}

/* The start / evacuate_running input, as the handlers build it. */
static void start_input(struct bbs_arena *arena, struct bbs_start_input *in,
                        const Models__ActualLRPNetInfo *net,
                        Models__ActualLRPInternalRoute *const *routes_, size_t n_routes,
                        void *const *tags, size_t n_tags, int deprecated)
{
    in->net_info = bbs_codec_net_info(arena, net);
    if (deprecated) {
        in->internal_routes = (struct bbs_blob){NULL, 0, 1};
        in->metric_tags = (struct bbs_blob){NULL, 0, 0};
        return;
    }
    in->internal_routes = bbs_codec_internal_routes(arena, routes_, n_routes, 0);
    struct bbs_kv *kv = bbs_arena_alloc(arena, (n_tags + 1) * sizeof(*kv));
    for (size_t i = 0; i < n_tags; i++) {
        /* Both map entry types are {base, key, value} with string values. */
        const Models__StartActualLRPRequest__MetricTagsEntry *e = tags[i];

        kv[i].key = e->key;
        kv[i].value = e->value;
    }
    in->metric_tags = bbs_codec_string_map(arena, kv, n_tags, 0);
}

/* ---- lifecycle -------------------------------------------------------------------- */

static void lifecycle(struct bbs_arena *arena, enum kind kind, void *msg, int variant)
{
    struct rows rs;
    struct bbs_alrp next;
    struct bbs_evac_decision d;
    enum bbs_alrp_write w;
    enum bbs_presence target;
    struct bbs_error err;
    struct bbs_alrp_key key;
    struct bbs_instance_key inst = NOBODY;
    struct bbs_start_input in;
    char trunc[BBS_REASON_MAX + 1];
    int64_t now = clocks[variant];
    int restart = 0;
    int rc = 0;

    memset(&in, 0, sizeof(in));
    switch (kind) {
    case K_CLAIM: {
        Models__ClaimActualLRPRequest *m = msg;

        key = (struct bbs_alrp_key){m->process_guid, m->index, "domain"};
        inst = inst_of(m->actual_lrp_instance_key);
        break;
    }
    case K_START_R1:
    case K_START_R0: {
        Models__StartActualLRPRequest *m = msg;

        key = key_of(m->actual_lrp_key);
        inst = inst_of(m->actual_lrp_instance_key);
        in.key = key;
        in.instance = inst;
        start_input(arena, &in, m->actual_lrp_net_info, m->actual_lrp_internal_routes,
                    m->n_actual_lrp_internal_routes, (void *const *)m->metric_tags,
                    m->n_metric_tags, kind == K_START_R0);
        in.routable = m->optional_routable_case !=
                          MODELS__START_ACTUAL_LRPREQUEST__OPTIONAL_ROUTABLE_ROUTABLE ||
                      m->routable;
        in.availability_zone = m->availability_zone;
        break;
    }
    case K_EVAC_RUN_R1:
    case K_EVAC_RUN_R0: {
        Models__EvacuateRunningActualLRPRequest *m = msg;

        key = key_of(m->actual_lrp_key);
        inst = inst_of(m->actual_lrp_instance_key);
        in.key = key;
        in.instance = inst;
        start_input(arena, &in, m->actual_lrp_net_info, m->actual_lrp_internal_routes,
                    m->n_actual_lrp_internal_routes, (void *const *)m->metric_tags,
                    m->n_metric_tags, kind == K_EVAC_RUN_R0);
        in.routable = m->optional_routable_case !=
                          MODELS__EVACUATE_RUNNING_ACTUAL_LRPREQUEST__OPTIONAL_ROUTABLE_ROUTABLE ||
                      m->routable;
        in.availability_zone = m->availability_zone;
        break;
    }
    case K_CRASH: {
        Models__CrashActualLRPRequest *m = msg;

        key = key_of(m->actual_lrp_key);
        inst = inst_of(m->actual_lrp_instance_key);
        break;
    }
    case K_FAIL: {
        Models__FailActualLRPRequest *m = msg;

        key = key_of(m->actual_lrp_key);
        break;
    }
    case K_REMOVE: {
        Models__RemoveActualLRPRequest *m = msg;

        key = (struct bbs_alrp_key){m->process_guid, m->index, "domain"};
        if (m->actual_lrp_instance_key != NULL) {
            inst = inst_of(m->actual_lrp_instance_key);
        }
        break;
    }
    case K_RETIRE: {
        Models__RetireActualLRPRequest *m = msg;

        key = key_of(m->actual_lrp_key);
        break;
    }
    case K_EVAC_CLAIMED: {
        Models__EvacuateClaimedActualLRPRequest *m = msg;

        key = key_of(m->actual_lrp_key);
        inst = inst_of(m->actual_lrp_instance_key);
        break;
    }
    case K_EVAC_CRASHED: {
        Models__EvacuateCrashedActualLRPRequest *m = msg;

        key = key_of(m->actual_lrp_key);
        inst = inst_of(m->actual_lrp_instance_key);
        break;
    }
    case K_EVAC_STOPPED: {
        Models__EvacuateStoppedActualLRPRequest *m = msg;

        key = key_of(m->actual_lrp_key);
        inst = inst_of(m->actual_lrp_instance_key);
        break;
    }
    case K_EVAC_REMOVE: {
        Models__RemoveEvacuatingActualLRPRequest *m = msg;

        key = key_of(m->actual_lrp_key);
        inst = inst_of(m->actual_lrp_instance_key);
        break;
    }
    default:
        return;
    }

    build_sets(&rs, &key, &inst, crash_counts[variant]);
    for (int i = 0; i < N_SETS; i++) {
        const struct bbs_alrp_set *s = &rs.sets[i];

        memset(&err, 0, sizeof(err));
        memset(&next, 0, sizeof(next));
        w = BBS_ALRP_WRITE_NONE;
        switch (kind) {
        case K_CLAIM:
            rc = bbs_alrp_claim(s, &inst, now, &next, &w, &err);
            break;
        case K_START_R1:
        case K_START_R0:
            rc = bbs_alrp_start(s, &in, now, &next, &w, &err);
            (void)bbs_alrp_start_matches_suspect(s, &inst);
            break;
        case K_CRASH: {
            const Models__CrashActualLRPRequest *m = msg;

            rc = bbs_alrp_crash(s, &key, &inst, m->error_message, trunc, now, &next, &w, &target,
                                &restart, &err);
            break;
        }
        case K_FAIL: {
            const Models__FailActualLRPRequest *m = msg;

            rc = bbs_alrp_fail(s, m->error_message, trunc, now, &next, &w, &err);
            break;
        }
        case K_REMOVE: {
            const Models__RemoveActualLRPRequest *m = msg;

            rc = bbs_alrp_remove(s, m->actual_lrp_instance_key != NULL ? &inst : NULL, &err);
            break;
        }
        case K_RETIRE:
            if (s->ordinary != NULL) {
                (void)bbs_alrp_retire_action(s->ordinary);
                for (int stale = 0; stale < 2; stale++) {
                    if (bbs_alrp_unclaim(s->ordinary, stale, now, &next, &err) == 0) {
                        emit(arena, &next);
                    }
                }
            }
            break;
        case K_EVAC_CLAIMED:
            rc = bbs_evac_claimed(s, &inst, now, &d, &err);
            break;
        case K_EVAC_CRASHED: {
            const Models__EvacuateCrashedActualLRPRequest *m = msg;

            rc = bbs_evac_crashed(s, &inst, m->error_message, trunc, now, &d, &err);
            break;
        }
        case K_EVAC_STOPPED:
            rc = bbs_evac_stopped(s, &inst, &d, &err);
            break;
        case K_EVAC_RUN_R1:
        case K_EVAC_RUN_R0: {
            /* found / recreate / counts: every combination the store can pass */
            for (int v = 0; v < 8; v++) {
                struct bbs_evac_desired des = {v & 1, (v >> 1) & 1, (v & 4) ? 1 : 3,
                                               (v & 4) ? 3 : 1};

                memset(&err, 0, sizeof(err));
                if (bbs_evac_running(s, &in, &des, now, &d, &err) == 0) {
                    emit_decision(arena, &d);
                }
            }
            rc = -1;
            break;
        }
        case K_EVAC_REMOVE:
            (void)bbs_evac_target(s, &inst);
            rc = bbs_evac_remove(s, &inst, &d, &err);
            break;
        default:
            rc = -1;
            break;
        }
        if (rc != 0) {
            continue;
        }
        if (kind >= K_EVAC_CLAIMED && kind <= K_EVAC_REMOVE) {
            emit_decision(arena, &d);
        } else {
            emit_write(arena, w, &next);
        }
    }
    (void)bbs_crash_should_restart(now, NOW_NS, crash_counts[variant]);
    if (crash_counts[variant] >= BBS_CRASH_IMMEDIATE_RESTARTS) {
        (void)bbs_crash_backoff_ns(crash_counts[variant]);
    }
}

/* ---- desired LRPs ----------------------------------------------------------------- */

static void compose_all(struct bbs_arena *arena, const struct bbs_dlrp_row *r)
{
    static const enum bbs_dlrp_view views[] = {BBS_DLRP_VIEW_V3, BBS_DLRP_VIEW_V2,
                                               BBS_DLRP_VIEW_SCHED, BBS_DLRP_VIEW_ROUTING};
    struct bbs_auction_start start;

    for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
        struct bbs_buf b = {0};

        if (bbs_dlrp_put(&b, 2, arena, r, views[i]) != 0) {
            abort(); /* a row we split ourselves must compose */
        }
        bbs_buf_free(&b);
    }
    if (bbs_dlrp_auction_start(arena, r, &start) != 0) {
        abort();
    }
}

/* A valid stored row to apply updates to (what desire of a minimal LRP stores). */
static int base_row(struct bbs_arena *arena, struct bbs_dlrp_row *out)
{
    Models__DesiredLRP lrp = MODELS__DESIRED_LRP__INIT;
    Models__Action act = MODELS__ACTION__INIT;
    Models__RunAction run = MODELS__RUN_ACTION__INIT;
    struct bbs_error err = {0};

    run.path = (char *)"/bin/app";
    run.user = (char *)"vcap";
    act.run_action = &run;
    lrp.action = &act;
    lrp.process_guid = (char *)"base";
    lrp.domain = (char *)"d";
    lrp.root_fs = (char *)"preloaded:cflinuxfs4";
    lrp.instances = 1;
    if (bbs_dlrp_split(arena, &lrp, NOW_NS, out, &err) != 0) {
        return -1;
    }
    /* The split borrows strings from `lrp`: pin the ones a compose reads. */
    out->process_guid = "base";
    out->domain = "d";
    out->rootfs = "preloaded:cflinuxfs4";
    out->log_guid = "";
    out->annotation = "";
    out->metrics_guid = "";
    out->mod_epoch = "epoch";
    return 0;
}

static void desired(struct bbs_arena *arena, enum kind kind, void *msg)
{
    struct bbs_dlrp_row r;
    struct bbs_dlrp_row after;
    struct bbs_error err = {0};

    if (kind == K_DESIRE) {
        const Models__DesireLRPRequest *m = msg;

        if (bbs_dlrp_split(arena, m->desired_lrp, NOW_NS, &r, &err) == 0) {
            r.mod_epoch = "epoch";
            compose_all(arena, &r);
        }
        return;
    }
    if (kind == K_UPDATE) {
        const Models__UpdateDesiredLRPRequest *m = msg;
        const Models__DesiredLRPUpdate *u = m->update;

        if (u == NULL || base_row(arena, &r) != 0) {
            return;
        }
        /* The rules the store applies; a route value that is not JSON is
         * refused, and the stored run_info is ours, so it must decode. */
        if (bbs_dlrp_apply_update(arena, &r, u, &bbs_dlrp_update_codec, &after, &err) != 0) {
            if (err.type != BBS_ERR_INVALID_REQUEST) {
                abort();
            }
            return;
        }
        compose_all(arena, &after);
    }
}

/* ---- entry ------------------------------------------------------------------------ */

static int validate(enum kind kind, void *msg)
{
    struct bbs_problems p = {0};

    switch (kind) {
    case K_BY_GUIDS:
        return bbs_validate_by_guids(msg, &p);
    case K_GROUPS_GUID:
        return bbs_validate_groups_by_guid(msg, &p);
    case K_GROUP_INDEX:
        return bbs_validate_group_by_guid_index(msg, &p);
    case K_CLAIM:
        return bbs_validate_claim(msg, &p);
    case K_START_R1:
    case K_START_R0:
        return bbs_validate_start(msg, &p);
    case K_CRASH:
        return bbs_validate_crash(msg, &p);
    case K_FAIL:
        return bbs_validate_fail(msg, &p);
    case K_REMOVE:
        return bbs_validate_remove_actual(msg, &p);
    case K_RETIRE:
        return bbs_validate_retire(msg, &p);
    case K_EVAC_CLAIMED:
        return bbs_validate_evacuate_claimed(msg, &p);
    case K_EVAC_CRASHED:
        return bbs_validate_evacuate_crashed(msg, &p);
    case K_EVAC_STOPPED:
        return bbs_validate_evacuate_stopped(msg, &p);
    case K_EVAC_RUN_R1:
    case K_EVAC_RUN_R0:
        return bbs_validate_evacuate_running(msg, &p);
    case K_EVAC_REMOVE:
        return bbs_validate_remove_evacuating(msg, &p);
    case K_DESIRE:
        return bbs_validate_desire(msg, &p);
    case K_UPDATE:
        return bbs_validate_update(msg, &p);
    case K_REMOVE_DLRP:
        return bbs_validate_remove_desired(msg, &p);
    case K_DLRP_GET:
        return bbs_validate_desired_by_guid(msg, &p);
    case K_DOMAIN:
        return bbs_validate_upsert_domain(msg, &p);
    case K_DECODE:
        break;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bbs_arena *arena = NULL;
    const struct route *r;
    struct bbs_error err = {0};
    struct bbs_buf out = {0};
    ProtobufCMessage *msg;
    int variant;

    if (size < 1) {
        return 0;
    }
    r = &routes[(data[0] & 0x1f) % N_ROUTES];
    variant = data[0] >> 5;
    arena = bbs_arena_new();
    msg = bbs_codec_decode(arena, r->desc, data + 1, size - 1, &err);
    if (msg == NULL) {
        if (err.type != BBS_ERR_INVALID_REQUEST) {
            abort(); /* a decode failure is always InvalidRequest */
        }
        bbs_codec_put_error(&out, &err);
        goto out;
    }
    if (validate(r->kind, msg) > 0) {
        goto out;
    }
    lifecycle(arena, r->kind, msg, variant);
    desired(arena, r->kind, msg);
out:
    bbs_buf_free(&out);
    bbs_arena_free(arena);
    return 0;
}
