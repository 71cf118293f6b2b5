/*
 * evac.c - evacuation decisions (reference section 4).
 *
 * Upstream runs each call as several transactions (read, remove, unclaim,
 * ...); here the store locks every row of the index once and applies the
 * whole decision in one transaction, so the outcomes are upstream's
 * without the windows between its steps.
 */
#include "bbs/evac.h"

#include <string.h>

static int key_equal(const struct bbs_alrp_key *a, const struct bbs_alrp_key *b)
{
    return a->index == b->index && strcmp(a->process_guid, b->process_guid) == 0 &&
           strcmp(a->domain, b->domain) == 0;
}

const struct bbs_alrp *bbs_evac_target(const struct bbs_alrp_set *set,
                                       const struct bbs_instance_key *inst)
{
    const struct bbs_alrp *order[3] = {set->ordinary, set->evacuating, set->suspect};

    for (int i = 0; i < 3; i++) {
        if (order[i] != NULL && bbs_instance_key_equal(&order[i]->instance, inst)) {
            return order[i];
        }
    }
    return NULL;
}

static void decision_init(struct bbs_evac_decision *d, int keep)
{
    memset(d, 0, sizeof(*d));
    d->evac_write = BBS_ALRP_WRITE_NONE;
    d->ordinary_write = BBS_ALRP_WRITE_NONE;
    d->keep = keep;
}

/* An EVACUATING or SUSPECT `target` is deleted: 1 when it was one, else 0. */
static int delete_if_copy(const struct bbs_alrp *target, struct bbs_evac_decision *d)
{
    if (target->presence == BBS_PRESENCE_EVACUATING) {
        d->delete_evacuating = 1;
        return 1;
    }
    if (target->presence == BBS_PRESENCE_SUSPECT) {
        d->delete_suspect = 1;
        return 1;
    }
    return 0;
}

/*
 * "Remove or suspect" step shared by claimed, crashed and stopped: an
 * EVACUATING or SUSPECT target is simply removed. Returns 1 when it
 * decided, 0 when the target is the ordinary row, -1 when there is none.
 */
static int remove_copy(const struct bbs_alrp *target, struct bbs_evac_decision *d,
                       struct bbs_error *err)
{
    if (target == NULL) {
        bbs_error_set(err, BBS_ERR_RESOURCE_NOT_FOUND);
        return -1;
    }
    return delete_if_copy(target, d);
}

int bbs_evac_claimed(const struct bbs_alrp_set *set, const struct bbs_instance_key *inst,
                     int64_t now_ns, struct bbs_evac_decision *d, struct bbs_error *err)
{
    const struct bbs_alrp *target = bbs_evac_target(set, inst);
    int r;

    decision_init(d, 0);
    r = remove_copy(target, d, err);
    if (r != 0) {
        return r < 0 ? -1 : 0;
    }
    /* The ordinary instance goes back to the auction, whatever state the
     * row reached meanwhile (4.1 step 4). */
    if (bbs_alrp_unclaim(set->ordinary, 0, now_ns, &d->ordinary, err) != 0) {
        d->keep = 1;
        return -1;
    }
    d->ordinary_write = BBS_ALRP_WRITE_UPDATE;
    d->auction = 1;
    return 0;
}

int bbs_evac_crashed(const struct bbs_alrp_set *set, const struct bbs_instance_key *inst,
                     const char *reason, char *trunc_buf, int64_t now_ns,
                     struct bbs_evac_decision *d, struct bbs_error *err)
{
    const struct bbs_alrp *target = bbs_evac_target(set, inst);
    struct bbs_alrp_set ordinary_only = {set->ordinary, NULL, NULL};
    enum bbs_alrp_write w;
    enum bbs_presence which;
    int r;

    decision_init(d, 0);
    r = remove_copy(target, d, err);
    if (r != 0) {
        return r < 0 ? -1 : 0;
    }
    /* The ordinary row crashes exactly as /crash would, but no auction is
     * requested even for an immediate restart (quirk 8). */
    if (bbs_alrp_crash(&ordinary_only, &target->key, inst, reason, trunc_buf, now_ns, &d->ordinary,
                       &w, &which, &d->restart_now, err) != 0) {
        return -1;
    }
    d->ordinary_write = w;
    return 0;
}

int bbs_evac_stopped(const struct bbs_alrp_set *set, const struct bbs_instance_key *inst,
                     struct bbs_evac_decision *d, struct bbs_error *err)
{
    const struct bbs_alrp *target = bbs_evac_target(set, inst);
    int r;

    decision_init(d, 0);
    r = remove_copy(target, d, err);
    if (r != 0) {
        return r < 0 ? -1 : 0;
    }
    if (bbs_alrp_remove(set, inst, err) != 0) {
        return -1;
    }
    d->delete_ordinary = 1;
    return 0;
}

/*
 * Create or update the EVACUATING row from `src` (4.3, last part). The
 * same key, instance key and net info already stored: ResourceExists.
 */
static int upsert_evacuating(const struct bbs_alrp *existing, const struct bbs_alrp *src,
                             int64_t now_ns, struct bbs_evac_decision *d, struct bbs_error *err)
{
    if (existing == NULL) {
        d->evac = *src;
        d->evac.presence = BBS_PRESENCE_EVACUATING;
        d->evac.state = BBS_ALRP_RUNNING;
        d->evac.since_ns = now_ns;
        d->evac.crash_count = 0;
        d->evac.crash_reason = "";
        d->evac.placement_error = "";
        d->evac.mod_epoch = "";
        d->evac.mod_index = 0;
        d->evac_write = BBS_ALRP_WRITE_INSERT;
        return 0;
    }
    if (key_equal(&existing->key, &src->key) &&
        bbs_instance_key_equal(&existing->instance, &src->instance) &&
        bbs_blob_equal(&existing->net_info, &src->net_info)) {
        bbs_error_set(err, BBS_ERR_RESOURCE_EXISTS);
        return -1;
    }
    /* Routable and zone are not updated on this path (quirk 27). */
    d->evac = *existing;
    d->evac.key.domain = src->key.domain;
    d->evac.instance = src->instance;
    d->evac.net_info = src->net_info;
    d->evac.internal_routes = src->internal_routes;
    d->evac.metric_tags = src->metric_tags;
    d->evac.state = BBS_ALRP_RUNNING;
    d->evac.since_ns = now_ns;
    d->evac.mod_index = existing->mod_index + 1;
    d->evac_write = BBS_ALRP_WRITE_UPDATE;
    return 0;
}

static void row_from_request(const struct bbs_start_input *in, struct bbs_alrp *row)
{
    memset(row, 0, sizeof(*row));
    row->key = in->key;
    row->instance = in->instance;
    row->net_info = in->net_info;
    row->internal_routes = in->internal_routes;
    row->metric_tags = in->metric_tags;
    row->routable = in->routable;
    row->availability_zone = in->availability_zone;
}

static int running_recreate(const struct bbs_alrp_set *set, const struct bbs_alrp *target,
                            const struct bbs_evac_desired *desired, int64_t now_ns,
                            struct bbs_evac_decision *d, struct bbs_error *err)
{
    if (target == NULL) {
        return 0; /* keep = false: the cell holds an instance we do not */
    }
    if (delete_if_copy(target, d)) {
        return 0;
    }
    if (target->state != BBS_ALRP_RUNNING && target->state != BBS_ALRP_CLAIMED) {
        return 0;
    }
    /* Hand back one instance at a time, and only while every desired
     * instance runs; otherwise keep this container for now. */
    if (desired->running < desired->instances) {
        d->keep = 1;
        return 0;
    }
    if (bbs_alrp_unclaim(set->ordinary, 0, now_ns, &d->ordinary, err) != 0) {
        /* keep it either way; a refusal is no error (someone else's turn) */
        d->keep = 1;
        return err->type == BBS_ERR_ACTUAL_LRP_CANNOT_BE_UNCLAIMED ? 0 : -1;
    }
    d->ordinary_write = BBS_ALRP_WRITE_UPDATE;
    d->auction = 1;
    return 0;
}

int bbs_evac_running(const struct bbs_alrp_set *set, const struct bbs_start_input *in,
                     const struct bbs_evac_desired *desired, int64_t now_ns,
                     struct bbs_evac_decision *d, struct bbs_error *err)
{
    const struct bbs_alrp *target = bbs_evac_target(set, &in->instance);
    const struct bbs_alrp *ordinary = set->ordinary;
    struct bbs_alrp src;

    decision_init(d, 1);
    if (set->ordinary == NULL && set->evacuating == NULL && set->suspect == NULL) {
        d->keep = 0;
        return 0;
    }
    /* The desired LRP is gone (no ordinary row), or the replacement already
     * runs or crashed: drop our evacuating copy (quirk: only an EVACUATING
     * target is removed; others are left alone) and the container. */
    if (ordinary == NULL ||
        (ordinary != target &&
         (ordinary->state == BBS_ALRP_RUNNING || ordinary->state == BBS_ALRP_CRASHED)) ||
        !desired->found) {
        d->keep = 0;
        d->delete_evacuating = target != NULL && target->presence == BBS_PRESENCE_EVACUATING;
        return 0;
    }
    if (desired->recreate) {
        d->keep = 0;
        return running_recreate(set, target, desired, now_ns, d, err);
    }
    if (target == NULL || target->presence == BBS_PRESENCE_EVACUATING) {
        if (set->evacuating != NULL && set->evacuating != target) {
            d->keep = 0; /* another cell already evacuates this index */
            return 0;
        }
        row_from_request(in, &src);
        if (upsert_evacuating(set->evacuating, &src, now_ns, d, err) != 0) {
            if (err->type == BBS_ERR_RESOURCE_EXISTS) {
                return 0; /* already identical: nothing to write, keep */
            }
            return -1;
        }
        return 0;
    }
    if (target->state != BBS_ALRP_RUNNING && target->state != BBS_ALRP_CLAIMED) {
        d->keep = 0;
        return 0;
    }
    /* The evacuation dance: the stored instance becomes the EVACUATING copy
     * (a new row), and the index goes back to the auction. */
    if (upsert_evacuating(set->evacuating, target, now_ns, d, err) != 0) {
        return -1; /* keep = true, ResourceExists included */
    }
    if (target->presence == BBS_PRESENCE_SUSPECT) {
        d->delete_suspect = 1; /* the ordinary replacement already exists */
        return 0;
    }
    if (bbs_alrp_unclaim(ordinary, 0, now_ns, &d->ordinary, err) != 0) {
        return -1;
    }
    d->ordinary_write = BBS_ALRP_WRITE_UPDATE;
    d->auction = 1;
    return 0;
}

int bbs_evac_remove(const struct bbs_alrp_set *set, const struct bbs_instance_key *inst,
                    struct bbs_evac_decision *d, struct bbs_error *err)
{
    const struct bbs_alrp *target = bbs_evac_target(set, inst);

    decision_init(d, 0);
    if (target == NULL || target->presence != BBS_PRESENCE_EVACUATING) {
        bbs_error_set(err, BBS_ERR_RESOURCE_NOT_FOUND);
        return -1;
    }
    d->delete_evacuating = 1;
    return 0;
}
