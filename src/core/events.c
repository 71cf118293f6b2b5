/*
 * events.c - which events one change emits (see events.h; reference
 * 2.10, 3.12, 4, 5.3-5.6, 7.2).
 *
 * Upstream derives ActualLRP events from the rows of one (guid, index)
 * before and after a call, in two independent ways:
 *
 *   - instance events (lrp_instances stream), per row: created, removed,
 *     changed; a row that loses its instance key (back to UNCLAIMED) is
 *     "created + removed"; a CRASHED row adds actual_lrp_crashed;
 *   - deprecated group events (events stream), from the groups (3.11)
 *     before and after: each slot (instance, evacuating) that went from
 *     empty to filled is created, filled to empty removed, otherwise
 *     changed; an instance slot whose instance key was replaced by
 *     another (suspect replaced by ordinary) is created + removed.
 *
 * Each list is then ordered stably by score: crash events, then events
 * whose resulting LRP is RUNNING, then the rest. /crash and convergence
 * use upstream's hand-written variants (enum bbs_event_rule). What this
 * module does not do: encode (src/codec/event_codec.c) or publish.
 */
#include "bbs/events.h"

#include <string.h>

const char *bbs_event_name(enum bbs_event_kind k)
{
    switch (k) {
    case BBS_EVENT_DESIRED_CREATED:
        return "desired_lrp_created";
    case BBS_EVENT_DESIRED_CHANGED:
        return "desired_lrp_changed";
    case BBS_EVENT_DESIRED_REMOVED:
        return "desired_lrp_removed";
    case BBS_EVENT_INSTANCE_CREATED:
        return "actual_lrp_instance_created";
    case BBS_EVENT_INSTANCE_CHANGED:
        return "actual_lrp_instance_changed";
    case BBS_EVENT_INSTANCE_REMOVED:
        return "actual_lrp_instance_removed";
    case BBS_EVENT_CRASHED:
        return "actual_lrp_crashed";
    case BBS_EVENT_GROUP_CREATED:
        return "actual_lrp_created";
    case BBS_EVENT_GROUP_CHANGED:
        return "actual_lrp_changed";
    case BBS_EVENT_GROUP_REMOVED:
        return "actual_lrp_removed";
    case BBS_EVENT_TASK_CREATED:
        return "task_created";
    case BBS_EVENT_TASK_CHANGED:
        return "task_changed";
    case BBS_EVENT_TASK_REMOVED:
        return "task_removed";
    }
    return "";
}

/* ---- row comparisons ---- */

static const char *s_or_empty(const char *s)
{
    return s != NULL ? s : "";
}

static int str_eq(const char *a, const char *b)
{
    return strcmp(s_or_empty(a), s_or_empty(b)) == 0;
}

static int key_eq(const struct bbs_alrp_key *a, const struct bbs_alrp_key *b)
{
    return a->index == b->index && str_eq(a->process_guid, b->process_guid) &&
           str_eq(a->domain, b->domain);
}

static int inst_eq(const struct bbs_instance_key *a, const struct bbs_instance_key *b)
{
    return str_eq(a->instance_guid, b->instance_guid) && str_eq(a->cell_id, b->cell_id);
}

static int inst_empty(const struct bbs_instance_key *k)
{
    return s_or_empty(k->instance_guid)[0] == '\0' && s_or_empty(k->cell_id)[0] == '\0';
}

/* Upstream's ActualLRP.Equal: every field (NULL rows equal only each other). */
static int alrp_eq(const struct bbs_alrp *a, const struct bbs_alrp *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return key_eq(&a->key, &b->key) && inst_eq(&a->instance, &b->instance) &&
           a->state == b->state && a->presence == b->presence && a->since_ns == b->since_ns &&
           a->crash_count == b->crash_count && str_eq(a->crash_reason, b->crash_reason) &&
           str_eq(a->placement_error, b->placement_error) &&
           bbs_blob_equal(&a->net_info, &b->net_info) &&
           bbs_blob_equal(&a->internal_routes, &b->internal_routes) &&
           bbs_blob_equal(&a->metric_tags, &b->metric_tags) && !a->routable == !b->routable &&
           str_eq(a->availability_zone, b->availability_zone) &&
           str_eq(a->mod_epoch, b->mod_epoch) && a->mod_index == b->mod_index;
}

static int same_index(const struct bbs_alrp *a, const struct bbs_alrp *b)
{
    return a->key.index == b->key.index && str_eq(a->key.process_guid, b->key.process_guid);
}

/* The row of a record entry that names its (guid, index). */
static const struct bbs_alrp *entry_row(const struct bbs_alrp_change *e)
{
    return e->before != NULL ? e->before : e->after;
}

/* ---- groups ---- */

/* Upstream's ToActualLRPGroup: the row alone, in the slot of its presence. */
static struct bbs_alrp_group single(const struct bbs_alrp *a)
{
    struct bbs_alrp_group g = {NULL, NULL};

    if (a != NULL && a->presence == BBS_PRESENCE_EVACUATING) {
        g.evacuating = a;
    } else {
        g.instance = a;
    }
    return g;
}

/* Upstream's ActualLRPGroup.Resolve: the LRP a group stands for. */
static const struct bbs_alrp *resolve(const struct bbs_alrp_group *g)
{
    if (g->instance == NULL) {
        return g->evacuating;
    }
    if (g->evacuating == NULL || g->instance->state == BBS_ALRP_RUNNING ||
        g->instance->state == BBS_ALRP_CRASHED) {
        return g->instance;
    }
    return g->evacuating;
}

static const char *cell_of(const struct bbs_alrp *a)
{
    return a != NULL ? s_or_empty(a->instance.cell_id) : "";
}

/* The rows of one (guid, index) by presence, before and after. */
struct slots {
    const struct bbs_alrp *before[3];
    const struct bbs_alrp *after[3];
    int assigned[3]; /* after[p] was written by an entry, not a sibling */
};

static struct bbs_alrp_group fold(const struct bbs_alrp *const rows[3])
{
    struct bbs_alrp_group g = {NULL, rows[BBS_PRESENCE_EVACUATING]};
    const struct bbs_alrp *o = rows[BBS_PRESENCE_ORDINARY];
    const struct bbs_alrp *s = rows[BBS_PRESENCE_SUSPECT];

    /* Ties keep the first row seen; the ordinary row comes first. */
    if (o != NULL && (s == NULL || bbs_group_instance_rank(o) >= bbs_group_instance_rank(s))) {
        g.instance = o;
    } else {
        g.instance = s;
    }
    return g;
}

static int presence_slot(const struct bbs_alrp *a)
{
    return a->presence >= BBS_PRESENCE_ORDINARY && a->presence <= BBS_PRESENCE_SUSPECT
               ? (int)a->presence
               : BBS_PRESENCE_ORDINARY;
}

/* Rows of the (guid, index) of `like` before and after the change. */
static void slots_of(const struct bbs_change *c, const struct bbs_alrp *like, struct slots *s)
{
    memset(s, 0, sizeof(*s));
    for (size_t i = 0; i < c->n_siblings; i++) {
        const struct bbs_alrp *r = c->siblings[i];
        int p = presence_slot(r);

        if (same_index(r, like) && s->before[p] == NULL) {
            s->before[p] = r;
            s->after[p] = r;
        }
    }
    for (size_t i = 0; i < c->n_alrps; i++) {
        const struct bbs_alrp_change *e = &c->alrps[i];

        if (!same_index(entry_row(e), like)) {
            continue;
        }
        if (e->before != NULL) {
            int p = presence_slot(e->before);

            s->before[p] = e->before;
            if (!s->assigned[p]) {
                s->after[p] = NULL;
            }
        }
        if (e->after != NULL) {
            int p = presence_slot(e->after);

            s->after[p] = e->after;
            s->assigned[p] = 1;
        }
    }
}

/* ---- the plan list ---- */

struct plans {
    struct bbs_arena *arena;
    struct bbs_event_plan *v;
    size_t n;
    size_t cap;
};

static struct bbs_event_plan *add(struct plans *l, enum bbs_event_kind kind, unsigned streams)
{
    struct bbs_event_plan *p;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct bbs_event_plan *v = bbs_arena_alloc(l->arena, cap * sizeof(*v));

        if (l->n > 0) {
            memcpy(v, l->v, l->n * sizeof(*v));
        }
        l->v = v;
        l->cap = cap;
    }
    p = &l->v[l->n++];
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->streams = streams;
    return p;
}

/* ---- instance events (lrp_instances stream) ---- */

static void inst_created(struct plans *l, const struct bbs_alrp *after)
{
    struct bbs_event_plan *p = add(l, BBS_EVENT_INSTANCE_CREATED, BBS_EVENT_INSTANCE);

    p->after = after;
    p->cell_ids[0] = cell_of(after);
}

static void inst_removed(struct plans *l, const struct bbs_alrp *before)
{
    struct bbs_event_plan *p = add(l, BBS_EVENT_INSTANCE_REMOVED, BBS_EVENT_INSTANCE);

    p->before = before;
    p->cell_ids[0] = cell_of(before);
}

static void inst_changed(struct plans *l, const struct bbs_alrp *before,
                         const struct bbs_alrp *after)
{
    struct bbs_event_plan *p = add(l, BBS_EVENT_INSTANCE_CHANGED, BBS_EVENT_INSTANCE);

    p->before = before;
    p->after = after;
    /* The event's instance key: the after key unless empty (2.10.1). */
    p->cell_ids[0] = cell_of(inst_empty(&after->instance) ? before : after);
}

static void crashed(struct plans *l, unsigned streams, const struct bbs_alrp *before,
                    const struct bbs_alrp *after)
{
    struct bbs_event_plan *p = add(l, BBS_EVENT_CRASHED, streams);

    p->before = before;
    p->after = after;
    p->cell_ids[0] = cell_of(before);
}

/* Upstream's generateLRPInstanceEvents. */
static void instance_events(struct plans *l, const struct bbs_alrp *before,
                            const struct bbs_alrp *after)
{
    if (alrp_eq(before, after)) {
        return;
    }
    if (after == NULL) {
        inst_removed(l, before);
        return;
    }
    if (before == NULL) {
        inst_created(l, after);
        return;
    }
    switch (after->state) {
    case BBS_ALRP_UNCLAIMED:
        /* fail: UNCLAIMED -> UNCLAIMED is a change; anything else lost
         * its instance, which is a new instance and a gone one. */
        if (before->state == BBS_ALRP_UNCLAIMED) {
            inst_changed(l, before, after);
        } else {
            inst_created(l, after);
            inst_removed(l, before);
        }
        break;
    case BBS_ALRP_CLAIMED:
    case BBS_ALRP_RUNNING:
        inst_changed(l, before, after);
        break;
    case BBS_ALRP_CRASHED:
        crashed(l, BBS_EVENT_INSTANCE, before, after);
        inst_changed(l, before, after);
        break;
    }
}

/* Upstream's EmitCrashEvents, instance half: every change is a crash. */
static void crash_instance_events(struct plans *l, const struct bbs_alrp *before,
                                  const struct bbs_alrp *after)
{
    if (alrp_eq(before, after)) {
        return;
    }
    if (after == NULL) {
        inst_removed(l, before);
    } else if (before == NULL) {
        inst_created(l, after);
    } else if (after->state == BBS_ALRP_CRASHED) {
        crashed(l, BBS_EVENT_INSTANCE, before, after);
        inst_changed(l, before, after);
    } else {
        crashed(l, BBS_EVENT_INSTANCE, before, after);
        inst_created(l, after);
        inst_removed(l, before);
    }
}

/* ---- group events (deprecated events stream) ---- */

static void grp_created(struct plans *l, struct bbs_alrp_group g)
{
    struct bbs_event_plan *p = add(l, BBS_EVENT_GROUP_CREATED, BBS_EVENT_GROUP);

    p->group_after = g;
    p->cell_ids[0] = cell_of(resolve(&g));
}

static void grp_removed(struct plans *l, struct bbs_alrp_group g)
{
    struct bbs_event_plan *p = add(l, BBS_EVENT_GROUP_REMOVED, BBS_EVENT_GROUP);

    p->group_before = g;
    p->cell_ids[0] = cell_of(resolve(&g));
}

static void grp_changed(struct plans *l, struct bbs_alrp_group b, struct bbs_alrp_group a)
{
    struct bbs_event_plan *p = add(l, BBS_EVENT_GROUP_CHANGED, BBS_EVENT_GROUP);

    p->group_before = b;
    p->group_after = a;
    p->cell_ids[0] = cell_of(resolve(&b));
    p->cell_ids[1] = cell_of(resolve(&a));
}

/* Upstream's generateLRPInstanceGroupEvents, for one slot. */
static void slot_events(struct plans *l, const struct bbs_alrp *before,
                        const struct bbs_alrp *after)
{
    if (alrp_eq(before, after)) {
        return;
    }
    if (after == NULL) {
        grp_removed(l, single(before));
        return;
    }
    if (before == NULL) {
        grp_created(l, single(after));
        return;
    }
    switch (after->state) {
    case BBS_ALRP_UNCLAIMED:
        grp_changed(l, single(before), single(after));
        break;
    case BBS_ALRP_CLAIMED:
    case BBS_ALRP_RUNNING:
        /* Another instance took the slot (a suspect replaced by the
         * ordinary row): the old one went, a new one came. */
        if (!inst_empty(&before->instance) && !inst_eq(&before->instance, &after->instance)) {
            grp_created(l, single(after));
            grp_removed(l, single(before));
        } else {
            grp_changed(l, single(before), single(after));
        }
        break;
    case BBS_ALRP_CRASHED:
        crashed(l, BBS_EVENT_GROUP, before, after);
        grp_changed(l, single(before), single(after));
        break;
    }
}

/* Upstream's EmitCrashEvents, group half, for one slot. */
static void crash_slot_events(struct plans *l, const struct bbs_alrp *before,
                              const struct bbs_alrp *after, const struct bbs_alrp_group *gb,
                              const struct bbs_alrp_group *ga)
{
    if (alrp_eq(before, after)) {
        return;
    }
    if (after == NULL) {
        grp_removed(l, single(before));
    } else if (before == NULL) {
        grp_created(l, single(after));
    } else {
        crashed(l, BBS_EVENT_GROUP, before, after);
        grp_changed(l, *gb, *ga);
    }
}

/* ---- ordering ---- */

/* Upstream's EventScore: 2 crash, 1 resulting LRP RUNNING, 0 the rest. */
static int score(const struct bbs_event_plan *p)
{
    const struct bbs_alrp *lrp = NULL;

    switch (p->kind) {
    case BBS_EVENT_CRASHED:
        return 2;
    case BBS_EVENT_GROUP_CREATED:
    case BBS_EVENT_GROUP_CHANGED:
        lrp = resolve(&p->group_after);
        break;
    case BBS_EVENT_INSTANCE_CREATED:
    case BBS_EVENT_INSTANCE_CHANGED:
        lrp = p->after;
        break;
    default:
        break;
    }
    return lrp != NULL && lrp->state == BBS_ALRP_RUNNING ? 1 : 0;
}

/* Stable: equal scores keep their order (as Go's sort does for short lists). */
static void sort_by_score(struct bbs_event_plan *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct bbs_event_plan x = v[i];
        int sx = score(&x);
        size_t j = i;

        while (j > 0 && score(&v[j - 1]) < sx) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* ---- pairing the record's rows as upstream does ---- */

struct pair {
    const struct bbs_alrp *before;
    const struct bbs_alrp *after;
};

/*
 * The evacuation dance (4.3) writes a new EVACUATING row holding the
 * instance of an ORDINARY or SUSPECT row, then unclaims (or deletes) that
 * row. Upstream reports it as the instance moving: one change from the
 * old row to the EVACUATING one, plus a new UNCLAIMED ordinary row; an
 * EVACUATING row it overwrote and the deleted SUSPECT row go unreported.
 * Returns the entry index of the row the instance left, or -1.
 */
static long dance_source(const struct bbs_change *c, size_t evac)
{
    const struct bbs_alrp_change *e = &c->alrps[evac];

    if (e->after == NULL || e->after->presence != BBS_PRESENCE_EVACUATING ||
        inst_empty(&e->after->instance) ||
        (e->before != NULL && inst_eq(&e->before->instance, &e->after->instance))) {
        return -1;
    }
    for (size_t i = 0; i < c->n_alrps; i++) {
        const struct bbs_alrp_change *f = &c->alrps[i];

        if (i == evac || f->before == NULL || f->before->presence == BBS_PRESENCE_EVACUATING ||
            !same_index(f->before, e->after) ||
            !inst_eq(&f->before->instance, &e->after->instance)) {
            continue;
        }
        if (f->after == NULL || inst_empty(&f->after->instance)) {
            return (long)i;
        }
    }
    return -1;
}

static size_t pairs_of(const struct bbs_change *c, struct bbs_arena *arena, struct pair **out)
{
    struct pair *v = bbs_arena_alloc(arena, (c->n_alrps + 1) * 2 * sizeof(*v));
    char *used = bbs_arena_alloc(arena, c->n_alrps + 1);
    size_t n = 0;

    memset(used, 0, c->n_alrps + 1);
    for (size_t i = 0; i < c->n_alrps; i++) {
        long src = c->event_rule == BBS_EVENT_RULE_LIFECYCLE ? dance_source(c, i) : -1;

        if (src >= 0 && !used[src] && !used[i]) {
            const struct bbs_alrp_change *f = &c->alrps[src];

            used[src] = 1;
            used[i] = 1;
            v[n++] = (struct pair){f->before, c->alrps[i].after};
            if (f->after != NULL) {
                v[n++] = (struct pair){NULL, f->after};
            }
        }
    }
    for (size_t i = 0; i < c->n_alrps; i++) {
        if (!used[i]) {
            v[n++] = (struct pair){c->alrps[i].before, c->alrps[i].after};
        }
    }
    *out = v;
    return n;
}

/* ---- the rules ---- */

/* The first entry of each (guid, index), in record order. */
static int first_of_index(const struct bbs_change *c, size_t i)
{
    for (size_t j = 0; j < i; j++) {
        if (same_index(entry_row(&c->alrps[j]), entry_row(&c->alrps[i]))) {
            return 0;
        }
    }
    return 1;
}

static void group_events(const struct bbs_change *c, struct plans *l)
{
    for (size_t i = 0; i < c->n_alrps; i++) {
        struct slots s;
        struct bbs_alrp_group gb;
        struct bbs_alrp_group ga;

        if (!first_of_index(c, i)) {
            continue;
        }
        slots_of(c, entry_row(&c->alrps[i]), &s);
        gb = fold(s.before);
        ga = fold(s.after);
        if (c->event_rule == BBS_EVENT_RULE_CRASH) {
            crash_slot_events(l, gb.instance, ga.instance, &gb, &ga);
            crash_slot_events(l, gb.evacuating, ga.evacuating, &gb, &ga);
        } else {
            slot_events(l, gb.instance, ga.instance);
            slot_events(l, gb.evacuating, ga.evacuating);
        }
    }
}

/* Convergence's per-row group events (7.2). */
static void row_group_events(const struct bbs_change *c, struct plans *l)
{
    for (size_t i = 0; i < c->n_alrps; i++) {
        const struct bbs_alrp *b = c->alrps[i].before;
        const struct bbs_alrp *a = c->alrps[i].after;

        if (alrp_eq(b, a)) {
            continue;
        }
        if (b == NULL) {
            grp_created(l, single(a));
        } else if (a == NULL) {
            grp_removed(l, single(b));
        } else if (a->presence == b->presence) {
            grp_changed(l, single(b), single(a));
        }
    }
}

/* Two crash events with the same bytes: one event to both streams. */
static int same_crash(const struct bbs_event_plan *x, const struct bbs_event_plan *y)
{
    return x->kind == BBS_EVENT_CRASHED && y->kind == BBS_EVENT_CRASHED &&
           key_eq(&x->after->key, &y->after->key) &&
           inst_eq(&x->before->instance, &y->before->instance) &&
           x->after->crash_count == y->after->crash_count &&
           str_eq(x->after->crash_reason, y->after->crash_reason) &&
           x->after->since_ns == y->after->since_ns;
}

static void merge_crashes(struct plans *l)
{
    size_t n = 0;

    for (size_t i = 0; i < l->n; i++) {
        int merged = 0;

        for (size_t j = 0; j < n && !merged; j++) {
            if ((l->v[j].streams & l->v[i].streams) == 0 && same_crash(&l->v[j], &l->v[i])) {
                l->v[j].streams |= l->v[i].streams;
                merged = 1;
            }
        }
        if (!merged) {
            l->v[n++] = l->v[i];
        }
    }
    l->n = n;
}

/* Desired LRP events go to both streams and pass every cell filter. */
static void desired_event(struct plans *l, enum bbs_event_kind kind)
{
    add(l, kind, BBS_EVENT_INSTANCE | BBS_EVENT_GROUP);
}

/*
 * Task events (11.5.1): one per recorded row, in the order the store
 * recorded them, on the task streams only; they pass every cell filter
 * (the task streams have none).
 */
static void task_events(const struct bbs_change *c, struct plans *l)
{
    for (size_t i = 0; i < c->n_tasks; i++) {
        const struct bbs_task_change *t = &c->tasks[i];
        struct bbs_event_plan *p;

        if (t->before == NULL && t->after == NULL) {
            continue;
        }
        p = add(l,
                t->before == NULL  ? BBS_EVENT_TASK_CREATED
                : t->after == NULL ? BBS_EVENT_TASK_REMOVED
                                   : BBS_EVENT_TASK_CHANGED,
                BBS_EVENT_TASK);
        p->task_before = t->before;
        p->task_after = t->after;
    }
}

void bbs_events_plan(const struct bbs_change *c, struct bbs_arena *arena,
                     const struct bbs_event_plan **out, size_t *n)
{
    struct plans l = {arena, NULL, 0, 0};
    struct pair *pairs = NULL;
    size_t n_pairs;
    size_t first;

    /* A new or removed desired LRP is announced before its instances;
     * an update after them (upstream emits it last). */
    if (c->dlrp_before == NULL && c->dlrp_after != NULL) {
        desired_event(&l, BBS_EVENT_DESIRED_CREATED);
    } else if (c->dlrp_before != NULL && c->dlrp_after == NULL) {
        desired_event(&l, BBS_EVENT_DESIRED_REMOVED);
    }
    first = l.n;
    n_pairs = pairs_of(c, arena, &pairs);
    for (size_t i = 0; i < n_pairs; i++) {
        if (c->event_rule == BBS_EVENT_RULE_CRASH) {
            crash_instance_events(&l, pairs[i].before, pairs[i].after);
        } else {
            instance_events(&l, pairs[i].before, pairs[i].after);
        }
    }
    switch (c->event_rule) {
    case BBS_EVENT_RULE_LIFECYCLE:
    case BBS_EVENT_RULE_CRASH:
        group_events(c, &l);
        break;
    case BBS_EVENT_RULE_ROWS:
        row_group_events(c, &l);
        break;
    case BBS_EVENT_RULE_INSTANCE_ONLY:
        break;
    }
    if (l.n > first) {
        sort_by_score(l.v + first, l.n - first);
    }
    merge_crashes(&l);
    if (c->dlrp_before != NULL && c->dlrp_after != NULL) {
        desired_event(&l, BBS_EVENT_DESIRED_CHANGED);
    }
    task_events(c, &l);
    *out = l.v;
    *n = l.n;
}
