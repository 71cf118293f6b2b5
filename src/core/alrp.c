/*
 * alrp.c - ActualLRP lifecycle rules (reference section 3).
 *
 * Pure functions: every decision is made from the rows the store locked,
 * the request and `now_ns`. Nothing here allocates or logs.
 */
#include "bbs/alrp.h"

#include <string.h>

static const char *const state_names[] = {
    [BBS_ALRP_UNCLAIMED] = "UNCLAIMED",
    [BBS_ALRP_CLAIMED] = "CLAIMED",
    [BBS_ALRP_RUNNING] = "RUNNING",
    [BBS_ALRP_CRASHED] = "CRASHED",
};

const char *bbs_alrp_state_name(enum bbs_alrp_state s)
{
    if ((unsigned)s > BBS_ALRP_CRASHED) {
        return "";
    }
    return state_names[s];
}

int bbs_alrp_state_parse(const char *s, size_t len)
{
    for (int i = BBS_ALRP_UNCLAIMED; i <= BBS_ALRP_CRASHED; i++) {
        if (strlen(state_names[i]) == len && memcmp(state_names[i], s, len) == 0) {
            return i;
        }
    }
    return -1;
}

int bbs_instance_key_equal(const struct bbs_instance_key *a, const struct bbs_instance_key *b)
{
    return strcmp(a->instance_guid, b->instance_guid) == 0 && strcmp(a->cell_id, b->cell_id) == 0;
}

int bbs_instance_key_empty(const struct bbs_instance_key *k)
{
    return k->instance_guid[0] == '\0' && k->cell_id[0] == '\0';
}

int bbs_blob_equal(const struct bbs_blob *a, const struct bbs_blob *b)
{
    if (a->present != b->present || a->len != b->len) {
        return 0;
    }
    return a->len == 0 || memcmp(a->data, b->data, a->len) == 0;
}

static int alrp_key_equal(const struct bbs_alrp_key *a, const struct bbs_alrp_key *b)
{
    return a->index == b->index && strcmp(a->process_guid, b->process_guid) == 0 &&
           strcmp(a->domain, b->domain) == 0;
}

int bbs_alrp_allows(const struct bbs_alrp *cur, const struct bbs_alrp_key *key,
                    const struct bbs_instance_key *inst, enum bbs_alrp_state to)
{
    int same = bbs_instance_key_equal(&cur->instance, inst);

    if (!alrp_key_equal(&cur->key, key)) {
        return 0;
    }
    /* Every column but UNCLAIMED demands the stored instance key, except
     * from UNCLAIMED (anyone may claim or start it) and CLAIMED -> RUNNING
     * (a start from another cell wins). */
    switch (to) {
    case BBS_ALRP_UNCLAIMED:
        return cur->state == BBS_ALRP_UNCLAIMED || bbs_instance_key_empty(inst);
    case BBS_ALRP_CLAIMED:
        return cur->state == BBS_ALRP_UNCLAIMED || same;
    case BBS_ALRP_RUNNING:
        return cur->state == BBS_ALRP_UNCLAIMED || cur->state == BBS_ALRP_CLAIMED || same;
    case BBS_ALRP_CRASHED:
        return (cur->state == BBS_ALRP_CLAIMED || cur->state == BBS_ALRP_RUNNING) && same;
    }
    return 0;
}

static int suspect_matches(const struct bbs_alrp_set *set, const struct bbs_instance_key *inst)
{
    return set->suspect != NULL && bbs_instance_key_equal(&set->suspect->instance, inst);
}

static const struct bbs_instance_key empty_instance = {"", ""};

int bbs_alrp_claim(const struct bbs_alrp_set *set, const struct bbs_instance_key *claimer,
                   int64_t now_ns, struct bbs_alrp *next, enum bbs_alrp_write *write,
                   struct bbs_error *err)
{
    const struct bbs_alrp *cur = set->ordinary;

    *write = BBS_ALRP_WRITE_NONE;
    if (suspect_matches(set, claimer)) {
        return 0;
    }
    if (cur == NULL) {
        bbs_error_set(err, BBS_ERR_RESOURCE_NOT_FOUND);
        return -1;
    }
    if (!bbs_alrp_allows(cur, &cur->key, claimer, BBS_ALRP_CLAIMED)) {
        bbs_error_set(err, BBS_ERR_ACTUAL_LRP_CANNOT_BE_CLAIMED);
        return -1;
    }
    if (cur->state == BBS_ALRP_CLAIMED && bbs_instance_key_equal(&cur->instance, claimer)) {
        return 0; /* idempotent re-claim */
    }
    *next = *cur;
    next->state = BBS_ALRP_CLAIMED;
    next->instance = *claimer;
    next->placement_error = "";
    next->net_info = (struct bbs_blob){NULL, 0, 1};
    next->since_ns = now_ns;
    next->mod_index = cur->mod_index + 1;
    *write = BBS_ALRP_WRITE_UPDATE;
    return 0;
}

int bbs_alrp_start_matches_suspect(const struct bbs_alrp_set *set,
                                   const struct bbs_instance_key *inst)
{
    return suspect_matches(set, inst);
}

static void start_fill(struct bbs_alrp *next, const struct bbs_start_input *in)
{
    next->key = in->key;
    next->instance = in->instance;
    next->net_info = in->net_info;
    next->internal_routes = in->internal_routes;
    next->metric_tags = in->metric_tags;
    next->routable = in->routable;
    next->availability_zone = in->availability_zone;
    next->state = BBS_ALRP_RUNNING;
    next->placement_error = "";
}

static int start_is_identical(const struct bbs_alrp *cur, const struct bbs_start_input *in)
{
    return cur->state == BBS_ALRP_RUNNING && alrp_key_equal(&cur->key, &in->key) &&
           bbs_instance_key_equal(&cur->instance, &in->instance) &&
           bbs_blob_equal(&cur->net_info, &in->net_info) &&
           bbs_blob_equal(&cur->internal_routes, &in->internal_routes) &&
           bbs_blob_equal(&cur->metric_tags, &in->metric_tags) &&
           (cur->routable != 0) == (in->routable != 0) &&
           strcmp(cur->availability_zone, in->availability_zone) == 0;
}

int bbs_alrp_start(const struct bbs_alrp_set *set, const struct bbs_start_input *in, int64_t now_ns,
                   struct bbs_alrp *next, enum bbs_alrp_write *write, struct bbs_error *err)
{
    const struct bbs_alrp *cur = set->ordinary;

    *write = BBS_ALRP_WRITE_NONE;
    if (suspect_matches(set, &in->instance)) {
        return 0;
    }
    if (cur == NULL) {
        /* Cells re-register instances the BBS lost: create it RUNNING. */
        memset(next, 0, sizeof(*next));
        start_fill(next, in);
        next->presence = BBS_PRESENCE_ORDINARY;
        next->crash_reason = "";
        next->since_ns = now_ns;
        next->mod_epoch = "";
        next->mod_index = 0;
        *write = BBS_ALRP_WRITE_INSERT;
        return 0;
    }
    if (start_is_identical(cur, in)) {
        return 0; /* the cell's periodic heartbeat */
    }
    if (!bbs_alrp_allows(cur, &in->key, &in->instance, BBS_ALRP_RUNNING)) {
        bbs_error_set(err, BBS_ERR_ACTUAL_LRP_CANNOT_BE_STARTED);
        return -1;
    }
    *next = *cur;
    start_fill(next, in);
    next->since_ns = now_ns;
    next->mod_index = cur->mod_index + 1;
    *write = BBS_ALRP_WRITE_UPDATE;
    return 0;
}

int bbs_alrp_crash(const struct bbs_alrp_set *set, const struct bbs_alrp_key *key,
                   const struct bbs_instance_key *inst, const char *reason, char *trunc_buf,
                   int64_t now_ns, struct bbs_alrp *next, enum bbs_alrp_write *write,
                   enum bbs_presence *target, int *restart_now, struct bbs_error *err)
{
    const struct bbs_alrp *cur = set->ordinary;
    int32_t count;

    *write = BBS_ALRP_WRITE_NONE;
    *restart_now = 0;
    *target = BBS_PRESENCE_ORDINARY;
    if (suspect_matches(set, inst)) {
        /* The instance on a vanished cell died: drop the suspect copy, no
         * crash accounting (the replacement has its own row). */
        *target = BBS_PRESENCE_SUSPECT;
        *write = BBS_ALRP_WRITE_DELETE;
        return 0;
    }
    if (cur == NULL) {
        bbs_error_set(err, BBS_ERR_RESOURCE_NOT_FOUND);
        return -1;
    }
    /* Healthy for longer than the reset window: the count starts over. */
    if (cur->state == BBS_ALRP_RUNNING && now_ns > cur->since_ns &&
        (uint64_t)now_ns - (uint64_t)cur->since_ns > (uint64_t)BBS_CRASH_RESET_WINDOW_NS) {
        count = 1;
    } else {
        count = cur->crash_count == INT32_MAX ? INT32_MAX : cur->crash_count + 1;
    }
    /* Only the stored key is compared for crash (3.2); the request's key
     * selected the row. */
    (void)key;
    if (!bbs_alrp_allows(cur, &cur->key, inst, BBS_ALRP_CRASHED)) {
        bbs_error_set(err, BBS_ERR_ACTUAL_LRP_CANNOT_BE_CRASHED);
        return -1;
    }
    *next = *cur;
    next->mod_index = cur->mod_index + 1;
    next->instance = empty_instance;
    next->net_info = (struct bbs_blob){NULL, 0, 1};
    next->crash_count = count;
    next->crash_reason = bbs_reason_truncate(reason, trunc_buf);
    next->since_ns = now_ns;
    *restart_now = bbs_crash_should_restart(0, 0, count);
    next->state = *restart_now ? BBS_ALRP_UNCLAIMED : BBS_ALRP_CRASHED;
    *write = BBS_ALRP_WRITE_UPDATE;
    return 0;
}

int bbs_alrp_fail(const struct bbs_alrp_set *set, const char *message, char *trunc_buf,
                  int64_t now_ns, struct bbs_alrp *next, enum bbs_alrp_write *write,
                  struct bbs_error *err)
{
    const struct bbs_alrp *cur = set->ordinary;

    *write = BBS_ALRP_WRITE_NONE;
    if (cur == NULL) {
        return 0; /* upstream swallows ResourceNotFound here */
    }
    if (cur->state != BBS_ALRP_UNCLAIMED) {
        bbs_error_set(err, BBS_ERR_ACTUAL_LRP_CANNOT_BE_FAILED);
        return -1;
    }
    *next = *cur;
    next->placement_error = bbs_reason_truncate(message, trunc_buf);
    next->since_ns = now_ns;
    next->mod_index = cur->mod_index + 1;
    *write = BBS_ALRP_WRITE_UPDATE;
    return 0;
}

int bbs_alrp_unclaim(const struct bbs_alrp *cur, int stale, int64_t now_ns, struct bbs_alrp *next,
                     struct bbs_error *err)
{
    if (cur == NULL) {
        bbs_error_set(err, BBS_ERR_RESOURCE_NOT_FOUND);
        return -1;
    }
    if (cur->state == BBS_ALRP_UNCLAIMED || (stale && cur->state == BBS_ALRP_CLAIMED)) {
        bbs_error_set(err, BBS_ERR_ACTUAL_LRP_CANNOT_BE_UNCLAIMED);
        return -1;
    }
    *next = *cur;
    next->state = BBS_ALRP_UNCLAIMED;
    next->instance = empty_instance;
    next->net_info = (struct bbs_blob){NULL, 0, 1};
    next->since_ns = now_ns;
    next->mod_index = cur->mod_index + 1;
    return 0;
}

int bbs_alrp_remove(const struct bbs_alrp_set *set, const struct bbs_instance_key *inst,
                    struct bbs_error *err)
{
    if (set->ordinary == NULL ||
        (inst != NULL && !bbs_instance_key_equal(&set->ordinary->instance, inst))) {
        bbs_error_set(err, BBS_ERR_RESOURCE_NOT_FOUND);
        return -1;
    }
    return 0;
}

enum bbs_retire_action bbs_alrp_retire_action(const struct bbs_alrp *cur)
{
    if (cur->state == BBS_ALRP_CLAIMED || cur->state == BBS_ALRP_RUNNING) {
        return BBS_RETIRE_STOP_REP;
    }
    return BBS_RETIRE_DELETE;
}

int64_t bbs_crash_backoff_ns(int32_t count)
{
    int exp = count - BBS_CRASH_IMMEDIATE_RESTARTS;
    int64_t wait;

    if (exp < 0) {
        exp = 0;
    }
    if (exp > BBS_CRASH_MAX_BACKOFF_EXPONENT) {
        exp = BBS_CRASH_MAX_BACKOFF_EXPONENT;
    }
    wait = BBS_CRASH_MIN_BACKOFF_NS << exp;
    return wait > BBS_CRASH_MAX_BACKOFF_NS ? BBS_CRASH_MAX_BACKOFF_NS : wait;
}

int bbs_crash_should_restart(int64_t now_ns, int64_t crashed_at_ns, int32_t count)
{
    if (count < BBS_CRASH_IMMEDIATE_RESTARTS) {
        return 1;
    }
    if (count >= BBS_CRASH_MAX_RESTART_ATTEMPTS) {
        return 0;
    }
    /* crashed_at + backoff <= now, without overflowing at the extremes */
    return now_ns >= crashed_at_ns &&
           (uint64_t)now_ns - (uint64_t)crashed_at_ns >= (uint64_t)bbs_crash_backoff_ns(count);
}

const char *bbs_reason_truncate(const char *s, char *buf)
{
    static const char suffix[] = "(truncated)";
    size_t keep = BBS_REASON_MAX - (sizeof(suffix) - 1); /* 1013 */
    size_t len = strlen(s);

    if (len < BBS_REASON_MAX) {
        return s;
    }
    /* Back up over UTF-8 continuation bytes so no character is split. */
    while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80) {
        keep--;
    }
    memcpy(buf, s, keep);
    memcpy(buf + keep, suffix, sizeof(suffix));
    return buf;
}
