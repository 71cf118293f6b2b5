/*
 * change.c - the change record's helpers (see change.h).
 */
#include "bbs/change.h"

#include <string.h>

void bbs_change_init(struct bbs_change *c, struct bbs_arena *arena)
{
    memset(c, 0, sizeof(*c));
    c->arena = arena;
}

struct bbs_change_mark bbs_change_mark(const struct bbs_change *c)
{
    struct bbs_change_mark m = {
        .committed = c->committed,
        .n_alrps = c->n_alrps,
        .dlrp_before = c->dlrp_before,
        .dlrp_after = c->dlrp_after,
        .n_auctions = c->n_auctions,
        .n_rep_stops = c->n_rep_stops,
        .n_notes = c->n_notes,
        .event_rule = c->event_rule,
        .n_siblings = c->n_siblings,
        .n_rep_updates = c->n_rep_updates,
        .n_tasks = c->n_tasks,
        .n_task_auctions = c->n_task_auctions,
        .n_task_cancels = c->n_task_cancels,
        .n_task_callbacks = c->n_task_callbacks,
    };

    return m;
}

void bbs_change_rewind(struct bbs_change *c, const struct bbs_change_mark *m)
{
    c->committed = m->committed;
    c->n_alrps = m->n_alrps;
    c->dlrp_before = m->dlrp_before;
    c->dlrp_after = m->dlrp_after;
    c->n_auctions = m->n_auctions;
    c->n_rep_stops = m->n_rep_stops;
    c->n_notes = m->n_notes;
    c->event_rule = m->event_rule;
    c->n_siblings = m->n_siblings;
    c->n_rep_updates = m->n_rep_updates;
    c->n_tasks = m->n_tasks;
    c->n_task_auctions = m->n_task_auctions;
    c->n_task_cancels = m->n_task_cancels;
    c->n_task_callbacks = m->n_task_callbacks;
}

/*
 * Room for one more element of `size` bytes in `*arr` (of `*n` used and
 * `*cap` allocated): the arena cannot grow in place, so a full array is
 * copied into one twice its size.
 */
static void *grow(struct bbs_arena *arena, void *arr, size_t n, size_t *cap, size_t size)
{
    void *bigger;

    if (n < *cap) {
        return arr;
    }
    *cap = *cap ? *cap * 2 : 4;
    bigger = bbs_arena_alloc(arena, *cap * size);
    if (n > 0) {
        memcpy(bigger, arr, n * size);
    }
    return bigger;
}

static struct bbs_blob blob_copy(struct bbs_arena *arena, const struct bbs_blob *b)
{
    struct bbs_blob c = *b;

    if (b->data != NULL) {
        c.data = bbs_arena_memdup(arena, b->data, b->len);
    }
    return c;
}

static const char *str_copy(struct bbs_arena *arena, const char *s)
{
    return s != NULL ? bbs_arena_strdup(arena, s) : NULL;
}

struct bbs_alrp *bbs_alrp_copy(struct bbs_arena *arena, const struct bbs_alrp *a)
{
    struct bbs_alrp *c = bbs_arena_alloc(arena, sizeof(*c));

    *c = *a;
    c->key.process_guid = str_copy(arena, a->key.process_guid);
    c->key.domain = str_copy(arena, a->key.domain);
    c->instance.instance_guid = str_copy(arena, a->instance.instance_guid);
    c->instance.cell_id = str_copy(arena, a->instance.cell_id);
    c->crash_reason = str_copy(arena, a->crash_reason);
    c->placement_error = str_copy(arena, a->placement_error);
    c->net_info = blob_copy(arena, &a->net_info);
    c->internal_routes = blob_copy(arena, &a->internal_routes);
    c->metric_tags = blob_copy(arena, &a->metric_tags);
    c->availability_zone = str_copy(arena, a->availability_zone);
    c->mod_epoch = str_copy(arena, a->mod_epoch);
    return c;
}

const struct bbs_alrp_change *bbs_change_alrp(struct bbs_change *c, const struct bbs_alrp *before,
                                              const struct bbs_alrp *after)
{
    struct bbs_alrp_change *e;

    c->alrps = grow(c->arena, c->alrps, c->n_alrps, &c->cap_alrps, sizeof(*c->alrps));
    e = &c->alrps[c->n_alrps++];
    e->before = before != NULL ? bbs_alrp_copy(c->arena, before) : NULL;
    e->after = after != NULL ? bbs_alrp_copy(c->arena, after) : NULL;
    return e;
}

enum bbs_change_kind bbs_alrp_change_kind(const struct bbs_alrp_change *ch)
{
    if (ch->before == NULL) {
        return BBS_CHANGE_CREATED;
    }
    if (ch->after == NULL) {
        return BBS_CHANGE_REMOVED;
    }
    return BBS_CHANGE_CHANGED;
}

void bbs_change_auction(struct bbs_change *c, const struct bbs_auction_start *s)
{
    struct bbs_auction_start *e;

    c->auctions =
        grow(c->arena, c->auctions, c->n_auctions, &c->cap_auctions, sizeof(*c->auctions));
    e = &c->auctions[c->n_auctions++];
    *e = *s;
    /* A non-NULL empty list is "indices": [], so keep it non-NULL. */
    e->indices = bbs_arena_memdup(c->arena, s->indices != NULL ? s->indices : (const int32_t *)"",
                                  s->n_indices * sizeof(int32_t));
}

void bbs_change_rep_stop(struct bbs_change *c, const struct bbs_rep_stop *s)
{
    c->rep_stops =
        grow(c->arena, c->rep_stops, c->n_rep_stops, &c->cap_rep_stops, sizeof(*c->rep_stops));
    c->rep_stops[c->n_rep_stops++] = *s;
}

void bbs_change_rep_update(struct bbs_change *c, const struct bbs_rep_update *u)
{
    c->rep_updates = grow(c->arena, c->rep_updates, c->n_rep_updates, &c->cap_rep_updates,
                          sizeof(*c->rep_updates));
    c->rep_updates[c->n_rep_updates++] = *u;
}

void bbs_change_note(struct bbs_change *c, const char *what, const char *process_guid,
                     int32_t index, const struct bbs_error *err)
{
    struct bbs_change_note *e;

    c->notes = grow(c->arena, c->notes, c->n_notes, &c->cap_notes, sizeof(*c->notes));
    e = &c->notes[c->n_notes++];
    e->what = bbs_arena_strdup(c->arena, what);
    e->process_guid = bbs_arena_strdup(c->arena, process_guid);
    e->index = index;
    e->err = *err;
}

void bbs_change_siblings(struct bbs_change *c, const struct bbs_alrp_set *set)
{
    const struct bbs_alrp *rows[3] = {set->ordinary, set->evacuating, set->suspect};

    for (size_t i = 0; i < 3; i++) {
        if (rows[i] == NULL) {
            continue;
        }
        c->siblings =
            grow(c->arena, c->siblings, c->n_siblings, &c->cap_siblings, sizeof(*c->siblings));
        c->siblings[c->n_siblings++] = bbs_alrp_copy(c->arena, rows[i]);
    }
}

struct bbs_task *bbs_task_copy(struct bbs_arena *arena, const struct bbs_task *t)
{
    struct bbs_task *c = bbs_arena_alloc(arena, sizeof(*c));

    *c = *t;
    c->guid = str_copy(arena, t->guid);
    c->domain = str_copy(arena, t->domain);
    c->cell_id = str_copy(arena, t->cell_id);
    c->result = str_copy(arena, t->result);
    c->failure_reason = str_copy(arena, t->failure_reason);
    c->rejection_reason = str_copy(arena, t->rejection_reason);
    c->definition = blob_copy(arena, &t->definition);
    return c;
}

const struct bbs_task_change *bbs_change_task(struct bbs_change *c, const struct bbs_task *before,
                                              const struct bbs_task *after)
{
    struct bbs_task_change *e;

    c->tasks = grow(c->arena, c->tasks, c->n_tasks, &c->cap_tasks, sizeof(*c->tasks));
    e = &c->tasks[c->n_tasks++];
    e->before = before != NULL ? bbs_task_copy(c->arena, before) : NULL;
    e->after = after != NULL ? bbs_task_copy(c->arena, after) : NULL;
    return e;
}

void bbs_change_task_auction(struct bbs_change *c, const struct bbs_task_start *s)
{
    c->task_auctions = grow(c->arena, c->task_auctions, c->n_task_auctions, &c->cap_task_auctions,
                            sizeof(*c->task_auctions));
    c->task_auctions[c->n_task_auctions++] = *s;
}

void bbs_change_task_cancel(struct bbs_change *c, const struct bbs_task_cancel *k)
{
    c->task_cancels = grow(c->arena, c->task_cancels, c->n_task_cancels, &c->cap_task_cancels,
                           sizeof(*c->task_cancels));
    c->task_cancels[c->n_task_cancels++] = *k;
}

void bbs_change_task_callback(struct bbs_change *c, const struct bbs_task_callback_due *d)
{
    c->task_callbacks = grow(c->arena, c->task_callbacks, c->n_task_callbacks,
                             &c->cap_task_callbacks, sizeof(*c->task_callbacks));
    c->task_callbacks[c->n_task_callbacks++] = *d;
}
