/*
 * event_codec.c - the bytes of each event of a change (events.h): the
 * core's plans (src/core/events.c) encoded as upstream's event messages
 * (2.10.1), written field by field like the other responses built from
 * rows. Desired LRPs are written as stored (V3) and, for the deprecated
 * routes, down-converted to V0; tasks likewise at V3 and V2 (11.2.5).
 * Pure: no I/O.
 */
#include <string.h>

#include "bbs/codec.h"
#include "bbs/dlrp_codec.h"
#include "bbs/events.h"
#include "bbs/pbw.h"
#include "bbs/task_codec.h"

static void put_key(struct bbs_buf *b, uint32_t field, const struct bbs_alrp_key *k)
{
    size_t m = bbs_pbw_open(b, field);

    bbs_pbw_string(b, 1, k->process_guid);
    bbs_pbw_int64(b, 2, k->index);
    bbs_pbw_string(b, 3, k->domain);
    bbs_pbw_close(b, m);
}

static void put_instance_key(struct bbs_buf *b, uint32_t field, const struct bbs_instance_key *k)
{
    size_t m = bbs_pbw_open(b, field);

    bbs_pbw_string(b, 1, k->instance_guid);
    bbs_pbw_string(b, 2, k->cell_id);
    bbs_pbw_close(b, m);
}

/* ActualLRPInfo: the key-less part of an ActualLRP, numbered from 3. */
static void put_info(struct bbs_buf *b, uint32_t field, const struct bbs_alrp *a)
{
    size_t m = bbs_pbw_open(b, field);
    size_t tag;

    bbs_pbw_bytes_always(b, 3, a->net_info.data, a->net_info.len);
    bbs_pbw_int64(b, 4, a->crash_count);
    bbs_pbw_string(b, 5, a->crash_reason);
    bbs_pbw_string(b, 6, bbs_alrp_state_name(a->state));
    bbs_pbw_string(b, 7, a->placement_error);
    bbs_pbw_int64(b, 8, a->since_ns);
    tag = bbs_pbw_open(b, 9);
    bbs_pbw_string(b, 1, a->mod_epoch);
    bbs_pbw_uint64(b, 2, a->mod_index);
    bbs_pbw_close(b, tag);
    bbs_pbw_int64(b, 10, a->presence);
    /* Copied from the LRP, where upstream always sets it. */
    bbs_pbw_int64_always(b, 11, a->routable ? 1 : 0);
    bbs_pbw_string(b, 12, a->availability_zone);
    bbs_pbw_close(b, m);
}

static void put_group(struct bbs_buf *b, uint32_t field, const struct bbs_alrp_group *g)
{
    size_t m = bbs_pbw_open(b, field);

    if (g->instance != NULL) {
        bbs_codec_put_alrp(b, 1, g->instance);
    }
    if (g->evacuating != NULL) {
        bbs_codec_put_alrp(b, 2, g->evacuating);
    }
    bbs_pbw_close(b, m);
}

static int key_empty(const struct bbs_alrp_key *k)
{
    return (k->process_guid == NULL || k->process_guid[0] == '\0') && k->index == 0 &&
           (k->domain == NULL || k->domain[0] == '\0');
}

static int instance_key_empty(const struct bbs_instance_key *k)
{
    return (k->instance_guid == NULL || k->instance_guid[0] == '\0') &&
           (k->cell_id == NULL || k->cell_id[0] == '\0');
}

/* The message of an ActualLRP event (the same bytes for every route). */
static void put_actual(struct bbs_buf *b, const struct bbs_event_plan *p, const char *trace)
{
    const struct bbs_alrp *before = p->before;
    const struct bbs_alrp *after = p->after;

    switch (p->kind) {
    case BBS_EVENT_INSTANCE_CREATED:
        bbs_codec_put_alrp(b, 1, after);
        bbs_pbw_string(b, 2, trace);
        break;
    case BBS_EVENT_INSTANCE_REMOVED:
        bbs_codec_put_alrp(b, 1, before);
        bbs_pbw_string(b, 2, trace);
        break;
    case BBS_EVENT_INSTANCE_CHANGED:
        /* The after key unless empty, else the before key (2.10.1). */
        put_key(b, 1, key_empty(&after->key) ? &before->key : &after->key);
        put_instance_key(
            b, 2, instance_key_empty(&after->instance) ? &before->instance : &after->instance);
        put_info(b, 3, before);
        put_info(b, 4, after);
        bbs_pbw_string(b, 5, trace);
        break;
    case BBS_EVENT_CRASHED:
        put_key(b, 1, &after->key);
        put_instance_key(b, 2, &before->instance);
        bbs_pbw_int64(b, 3, after->crash_count);
        bbs_pbw_string(b, 4, after->crash_reason);
        bbs_pbw_int64(b, 5, after->since_ns);
        break;
    case BBS_EVENT_GROUP_CREATED:
        put_group(b, 1, &p->group_after);
        break;
    case BBS_EVENT_GROUP_REMOVED:
        put_group(b, 1, &p->group_before);
        break;
    case BBS_EVENT_GROUP_CHANGED:
        put_group(b, 1, &p->group_before);
        put_group(b, 2, &p->group_after);
        break;
    default:
        break;
    }
}

/* A desired LRP event with its LRPs in `view`; -1 if a stored blob is bad. */
static int put_desired(struct bbs_buf *b, struct bbs_arena *arena, enum bbs_event_kind kind,
                       const struct bbs_change *c, enum bbs_dlrp_view view, const char *trace)
{
    uint32_t trace_field = 2;

    switch (kind) {
    case BBS_EVENT_DESIRED_CREATED:
        if (bbs_dlrp_put(b, 1, arena, c->dlrp_after, view) != 0) {
            return -1;
        }
        break;
    case BBS_EVENT_DESIRED_REMOVED:
        if (bbs_dlrp_put(b, 1, arena, c->dlrp_before, view) != 0) {
            return -1;
        }
        break;
    default:
        if (bbs_dlrp_put(b, 1, arena, c->dlrp_before, view) != 0 ||
            bbs_dlrp_put(b, 2, arena, c->dlrp_after, view) != 0) {
            return -1;
        }
        trace_field = 3;
        break;
    }
    bbs_pbw_string(b, trace_field, trace);
    return 0;
}

/*
 * A task event (11.2.4) with its tasks in `view`: TaskCreatedEvent /
 * TaskRemovedEvent carry the task as field 1, TaskChangedEvent before 1
 * and after 2. -1 if a stored definition does not decode (V2 only).
 */
static int put_task_event(struct bbs_buf *b, struct bbs_arena *arena,
                          const struct bbs_event_plan *p, enum bbs_task_view view)
{
    switch (p->kind) {
    case BBS_EVENT_TASK_CREATED:
        return bbs_task_put(b, 1, arena, p->task_after, view);
    case BBS_EVENT_TASK_REMOVED:
        return bbs_task_put(b, 1, arena, p->task_before, view);
    default:
        if (bbs_task_put(b, 1, arena, p->task_before, view) != 0 ||
            bbs_task_put(b, 2, arena, p->task_after, view) != 0) {
            return -1;
        }
        return 0;
    }
}

static int is_task_event(enum bbs_event_kind k)
{
    return k == BBS_EVENT_TASK_CREATED || k == BBS_EVENT_TASK_CHANGED ||
           k == BBS_EVENT_TASK_REMOVED;
}

static const uint8_t *keep(struct bbs_arena *arena, const struct bbs_buf *b, size_t *len)
{
    *len = b->len;
    return bbs_arena_memdup(arena, b->len > 0 ? b->data : (const uint8_t *)"", b->len);
}

int bbs_events_of_change(const struct bbs_change *c, struct bbs_arena *arena,
                         const struct bbs_event **out, size_t *n, struct bbs_error *err)
{
    const struct bbs_event_plan *plans = NULL;
    struct bbs_event *events;
    struct bbs_buf b = {0};
    const char *trace = c->trace_id != NULL ? c->trace_id : "";
    size_t count = 0;
    int rc = -1;

    *out = NULL;
    *n = 0;
    bbs_events_plan(c, arena, &plans, &count);
    events = bbs_arena_alloc(arena, (count ? count : 1) * sizeof(*events));
    for (size_t i = 0; i < count; i++) {
        const struct bbs_event_plan *p = &plans[i];
        struct bbs_event *e = &events[i];

        memset(e, 0, sizeof(*e));
        e->name = bbs_event_name(p->kind);
        e->streams = p->streams;
        e->cell_ids[0] = p->cell_ids[0];
        e->cell_ids[1] = p->cell_ids[1];
        b.len = 0;
        if (p->kind == BBS_EVENT_DESIRED_CREATED || p->kind == BBS_EVENT_DESIRED_CHANGED ||
            p->kind == BBS_EVENT_DESIRED_REMOVED) {
            if (put_desired(&b, arena, p->kind, c, BBS_DLRP_VIEW_EVENT_V3, trace) != 0) {
                goto bad;
            }
            e->payload = keep(arena, &b, &e->payload_len);
            b.len = 0;
            if (put_desired(&b, arena, p->kind, c, BBS_DLRP_VIEW_EVENT_V0, trace) != 0) {
                goto bad;
            }
            e->payload_v0 = keep(arena, &b, &e->payload_v0_len);
        } else if (is_task_event(p->kind)) {
            /* V3 on /v1/events/tasks.r1, V2 on the deprecated /v1/events/tasks. */
            if (put_task_event(&b, arena, p, BBS_TASK_VIEW_V3) != 0) {
                goto bad;
            }
            e->payload = keep(arena, &b, &e->payload_len);
            b.len = 0;
            if (put_task_event(&b, arena, p, BBS_TASK_VIEW_V2) != 0) {
                goto bad;
            }
            e->payload_v0 = keep(arena, &b, &e->payload_v0_len);
        } else {
            put_actual(&b, p, trace);
            e->payload = keep(arena, &b, &e->payload_len);
        }
    }
    *out = events;
    *n = count;
    rc = 0;
    goto out;
bad:
    bbs_error_set(err, BBS_ERR_DESERIALIZE);
out:
    bbs_buf_free(&b);
    return rc;
}
