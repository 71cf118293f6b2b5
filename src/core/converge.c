/*
 * converge.c - the LRP convergence planner (see converge.h).
 *
 * One pass over the snapshot: desired LRPs sorted by process guid, actual
 * rows sorted by (process guid, index, presence), walked side by side so
 * each process guid is seen once with all its rows; per index the
 * ordinary, evacuating and suspect rows are at hand together. Sorting
 * here rather than in SQL keeps the order byte-wise (strcmp) whatever the
 * database's collation. Cells and fresh domains are sorted once and
 * looked up by binary search.
 */
#include "bbs/converge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/xalloc.h"

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_desired(const void *a, const void *b)
{
    const struct bbs_conv_desired *x = *(const struct bbs_conv_desired *const *)a;
    const struct bbs_conv_desired *y = *(const struct bbs_conv_desired *const *)b;

    return strcmp(x->process_guid, y->process_guid);
}

static int cmp_actual(const void *a, const void *b)
{
    const struct bbs_conv_actual *x = *(const struct bbs_conv_actual *const *)a;
    const struct bbs_conv_actual *y = *(const struct bbs_conv_actual *const *)b;
    int c = strcmp(x->process_guid, y->process_guid);

    if (c != 0) {
        return c;
    }
    if (x->index != y->index) {
        return x->index < y->index ? -1 : 1;
    }
    return (int)x->presence - (int)y->presence;
}

/* A sorted string set for lookups. */
struct str_set {
    const char **v;
    size_t n;
};

static void set_init(struct str_set *s, const char *const *v, size_t n)
{
    s->n = n;
    s->v = NULL;
    if (n > 0) {
        s->v = bbs_xmalloc(n * sizeof(*s->v));
        memcpy(s->v, v, n * sizeof(*s->v));
        qsort(s->v, n, sizeof(*s->v), cmp_str_ptr);
    }
}

static int set_has(const struct str_set *s, const char *x)
{
    return s->n > 0 && bsearch(&x, s->v, s->n, sizeof(*s->v), cmp_str_ptr) != NULL;
}

static void list_add(struct bbs_conv_list *l, const struct bbs_conv_desired *d,
                     const struct bbs_conv_actual *a, int32_t index)
{
    if (l->n == l->cap) {
        l->cap = l->cap == 0 ? 16 : l->cap * 2;
        l->items = bbs_xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    l->items[l->n++] = (struct bbs_conv_item){d, a, index, BBS_CONV_RETIRE_DELETE};
}

const char *bbs_conv_tag_value(const struct bbs_conv_tag *t, int32_t index,
                               const char *instance_guid, char *buf)
{
    switch (t->kind) {
    case BBS_CONV_TAG_STATIC:
        return t->value != NULL ? t->value : "";
    case BBS_CONV_TAG_INDEX:
        snprintf(buf, 12, "%d", (int)index);
        return buf;
    case BBS_CONV_TAG_INSTANCE_GUID:
        return instance_guid;
    case BBS_CONV_TAG_INVALID:
        break;
    }
    return NULL;
}

const char *bbs_conv_verdict_name(enum bbs_conv_cells_verdict v)
{
    switch (v) {
    case BBS_CONV_CELLS_OK:
        return "ok";
    case BBS_CONV_CELLS_NO_LOCKET:
        return "no-locket";
    case BBS_CONV_CELLS_LOCKET_FAILED:
        return "locket-failed";
    case BBS_CONV_CELLS_EMPTY_DISTRUSTED:
        return "empty-cell-set-distrusted";
    }
    return "unknown";
}

/* Do the stored internal routes differ from the desired ones, as sets of hostnames? */
static int routes_drift(const struct bbs_conv_desired *d, const struct bbs_conv_actual *a)
{
    for (size_t i = 0; i < d->n_hostnames; i++) {
        size_t j = 0;

        while (j < a->n_hostnames && strcmp(a->hostnames[j], d->hostnames[i]) != 0) {
            j++;
        }
        if (j == a->n_hostnames) {
            return 1;
        }
    }
    for (size_t j = 0; j < a->n_hostnames; j++) {
        size_t i = 0;

        while (i < d->n_hostnames && strcmp(a->hostnames[j], d->hostnames[i]) != 0) {
            i++;
        }
        if (i == d->n_hostnames) {
            return 1;
        }
    }
    return 0;
}

/*
 * Do the stored metric tags differ from the desired ones resolved for
 * this instance? Only rows that have stored tags are compared (upstream
 * leaves rows without any alone); a tag that cannot be resolved leaves
 * the row alone too.
 */
static int tags_drift(const struct bbs_conv_desired *d, const struct bbs_conv_actual *a)
{
    char buf[12];

    if (!a->tags_present) {
        return 0;
    }
    for (size_t i = 0; i < d->n_tags; i++) {
        if (bbs_conv_tag_value(&d->tags[i], a->index, a->instance_guid, buf) == NULL) {
            return 0;
        }
    }
    if (d->n_tags != a->n_tags) {
        return 1;
    }
    for (size_t i = 0; i < d->n_tags; i++) {
        const char *want = bbs_conv_tag_value(&d->tags[i], a->index, a->instance_guid, buf);
        size_t j = 0;

        while (j < a->n_tags && strcmp(a->tag_names[j], d->tags[i].name) != 0) {
            j++;
        }
        if (j == a->n_tags || strcmp(a->tag_values[j], want) != 0) {
            return 1;
        }
    }
    return 0;
}

static int placed(const struct bbs_conv_actual *a)
{
    return (a->state == BBS_ALRP_CLAIMED || a->state == BBS_ALRP_RUNNING) && a->cell_id[0] != '\0';
}

struct planner {
    const struct bbs_conv_snapshot *snap;
    struct bbs_conv_plan *plan;
    struct str_set cells;
    struct str_set fresh;
    int cells_ok;
    const char **missing_cells;
    size_t n_missing_cells;
    size_t cap_missing_cells;
};

static int on_missing_cell(struct planner *p, const struct bbs_conv_actual *a)
{
    return p->cells_ok && placed(a) && !set_has(&p->cells, a->cell_id);
}

/* Step 4's "missing cells" set: every placed row of a desired LRP whose cell is gone. */
static void note_missing_cell(struct planner *p, const struct bbs_conv_actual *a)
{
    if (p->n_missing_cells == p->cap_missing_cells) {
        p->cap_missing_cells = p->cap_missing_cells == 0 ? 16 : p->cap_missing_cells * 2;
        p->missing_cells =
            bbs_xrealloc(p->missing_cells, p->cap_missing_cells * sizeof(*p->missing_cells));
    }
    p->missing_cells[p->n_missing_cells++] = a->cell_id;
}

/* The rows of one (guid, index), at most one per presence. */
struct index_rows {
    int32_t index;
    const struct bbs_conv_actual *ord;
    const struct bbs_conv_actual *evac;
    const struct bbs_conv_actual *susp;
};

static void plan_index(struct planner *p, const struct bbs_conv_desired *d,
                       const struct index_rows *r)
{
    struct bbs_conv_plan *plan = p->plan;
    const struct bbs_conv_actual *o = r->ord;
    const struct bbs_conv_actual *s = r->susp;
    int retiring = 0;

    /* Step 2: an evacuating copy whose cell is gone. */
    if (r->evac != NULL && p->cells_ok && !set_has(&p->cells, r->evac->cell_id)) {
        list_add(&plan->prune_evacuating, d, r->evac, r->index);
    }
    if (d != NULL && r->evac != NULL && on_missing_cell(p, r->evac)) {
        note_missing_cell(p, r->evac);
    }

    if (o != NULL) {
        switch (o->state) {
        case BBS_ALRP_UNCLAIMED:
            plan->counts.unclaimed++;
            break;
        case BBS_ALRP_CLAIMED:
            plan->counts.claimed++;
            break;
        case BBS_ALRP_RUNNING:
            plan->counts.running++;
            break;
        case BBS_ALRP_CRASHED:
            plan->counts.crashed++;
            break;
        }
        if (d == NULL) {
            /* Step 6: an orphan, retired only while its domain is fresh. */
            if (set_has(&p->fresh, o->domain)) {
                list_add(&plan->retire, NULL, o, r->index);
            }
        } else {
            /* Step 5 (extra): an index beyond `instances`, domain fresh. */
            if (r->index >= d->instances && set_has(&p->fresh, d->domain)) {
                list_add(&plan->retire, d, o, r->index);
                retiring = 1;
            }
            if (on_missing_cell(p, o)) {
                note_missing_cell(p, o);
            }
        }
    }

    if (o != NULL && d != NULL && !retiring) {
        int cell_gone = on_missing_cell(p, o);

        /* Step 3: stale UNCLAIMED. */
        if (o->state == BBS_ALRP_UNCLAIMED &&
            o->since_ns < p->snap->now_ns - BBS_CONV_STALE_UNCLAIMED_NS) {
            list_add(&plan->stale_unclaimed, d, o, r->index);
        }
        /* Step 11: CRASHED whose back-off (3.9) is over. */
        if (o->state == BBS_ALRP_CRASHED &&
            bbs_crash_should_restart(p->snap->now_ns, o->since_ns, o->crash_count)) {
            list_add(&plan->crashed, d, o, r->index);
        }
        /* Step 4 / D: placed on a cell that is gone. */
        if (cell_gone) {
            if (s != NULL && (s->state == BBS_ALRP_RUNNING || s->state == BBS_ALRP_CLAIMED)) {
                list_add(&plan->missing_cell_unclaim, d, o, r->index);
            } else {
                list_add(&plan->missing_cell, d, o, r->index);
            }
        }
        /* Steps 12, 13: drift pushed to the rep of a running instance. */
        if (o->state == BBS_ALRP_RUNNING && !cell_gone && !d->opaque && !o->opaque) {
            if (routes_drift(d, o)) {
                list_add(&plan->route_update, d, o, r->index);
            }
            if (tags_drift(d, o)) {
                list_add(&plan->tag_update, d, o, r->index);
            }
        }
    }

    if (s != NULL) {
        if (s->state == BBS_ALRP_RUNNING) {
            plan->counts.suspect_running++;
        } else if (s->state == BBS_ALRP_CLAIMED) {
            plan->counts.suspect_claimed++;
        }
        if (d != NULL && on_missing_cell(p, s)) {
            note_missing_cell(p, s);
        }
        if (d == NULL && set_has(&p->fresh, s->domain)) {
            list_add(&plan->retire_suspect, NULL, s, r->index); /* step 7 */
        } else if (o != NULL && o->state == BBS_ALRP_RUNNING && s->state == BBS_ALRP_RUNNING) {
            list_add(&plan->retire_suspect, d, s, r->index); /* step 8 */
        } else if (p->cells_ok && p->cells.n > 0 && set_has(&p->cells, s->cell_id)) {
            list_add(&plan->promote, d, s, r->index); /* step 9 */
        }
    }
}

/* One process guid: its desired LRP (or NULL) and its rows [a, a + n), sorted. */
static void plan_guid(struct planner *p, const struct bbs_conv_desired *d,
                      const struct bbs_conv_actual *const *a, size_t n)
{
    int32_t next_missing = 0; /* every index below this was handled */
    int crashing = 0;
    size_t i = 0;

    while (i < n) {
        struct index_rows r = {a[i]->index, NULL, NULL, NULL};

        for (; i < n && a[i]->index == r.index; i++) {
            switch (a[i]->presence) {
            case BBS_PRESENCE_ORDINARY:
                r.ord = a[i];
                break;
            case BBS_PRESENCE_EVACUATING:
                r.evac = a[i];
                break;
            case BBS_PRESENCE_SUSPECT:
                r.susp = a[i];
                break;
            }
        }
        if (r.ord != NULL && r.ord->state == BBS_ALRP_CRASHED) {
            crashing = 1;
        }
        /* Step 5 (missing): desired indices below this one without an ordinary row. */
        if (d != NULL) {
            for (; next_missing < d->instances && next_missing < r.index; next_missing++) {
                list_add(&p->plan->missing, d, NULL, next_missing);
            }
            if (next_missing == r.index && next_missing < d->instances) {
                if (r.ord == NULL) {
                    list_add(&p->plan->missing, d, NULL, next_missing);
                }
                next_missing++;
            }
        }
        plan_index(p, d, &r);
    }
    if (d != NULL) {
        for (; next_missing < d->instances; next_missing++) {
            list_add(&p->plan->missing, d, NULL, next_missing);
        }
    }
    p->plan->counts.crashing_desired += crashing;
}

static enum bbs_conv_cells_verdict cells_verdict(const struct bbs_conv_snapshot *snap)
{
    switch (snap->cells_state) {
    case BBS_CONV_CELLS_UNKNOWN:
        return BBS_CONV_CELLS_NO_LOCKET;
    case BBS_CONV_CELLS_FAILED:
        return BBS_CONV_CELLS_LOCKET_FAILED;
    case BBS_CONV_CELLS_KNOWN:
        break;
    }
    /*
     * Only an empty answer after a believable one with cells is refused
     * (the rule). An empty first answer since start is taken as
     * upstream takes it: upstream's own suite registers no presence and
     * expects a placed instance to become suspect.
     */
    if (snap->n_cells == 0 && snap->prev_cells == BBS_CONV_PREV_CELLS) {
        return BBS_CONV_CELLS_EMPTY_DISTRUSTED;
    }
    return BBS_CONV_CELLS_OK;
}

/* Decide how each retire item goes away (3.8 with the run's cell set). */
static void decide_retires(struct planner *p)
{
    struct bbs_conv_list *l = &p->plan->retire;

    for (size_t i = 0; i < l->n; i++) {
        struct bbs_conv_item *it = &l->items[i];
        const struct bbs_conv_actual *a = it->actual;

        if (a->state == BBS_ALRP_UNCLAIMED || a->state == BBS_ALRP_CRASHED) {
            it->retire = BBS_CONV_RETIRE_DELETE;
        } else if (p->plan->verdict == BBS_CONV_CELLS_NO_LOCKET) {
            it->retire = BBS_CONV_RETIRE_DELETE;
        } else if (p->plan->verdict != BBS_CONV_CELLS_OK) {
            it->retire = BBS_CONV_RETIRE_DEFER;
            p->plan->counts.retires_deferred++;
        } else {
            it->retire =
                set_has(&p->cells, a->cell_id) ? BBS_CONV_RETIRE_STOP_REP : BBS_CONV_RETIRE_DELETE;
        }
    }
}

void bbs_conv_plan(const struct bbs_conv_snapshot *snap, struct bbs_conv_plan *plan)
{
    struct planner p = {snap, plan, {NULL, 0}, {NULL, 0}, 0, NULL, 0, 0};
    const struct bbs_conv_desired **d = NULL;
    const struct bbs_conv_actual **a = NULL;
    size_t i = 0;
    size_t j = 0;

    memset(plan, 0, sizeof(*plan));
    plan->verdict = cells_verdict(snap);
    plan->next_prev_cells = snap->prev_cells;
    if (plan->verdict == BBS_CONV_CELLS_OK && snap->cells_state == BBS_CONV_CELLS_KNOWN) {
        plan->next_prev_cells = snap->n_cells > 0 ? BBS_CONV_PREV_CELLS : BBS_CONV_PREV_EMPTY;
    }
    p.cells_ok = plan->verdict == BBS_CONV_CELLS_OK;
    plan->counts.cell_steps_skipped = !p.cells_ok;
    if (snap->cells_state == BBS_CONV_CELLS_KNOWN) {
        set_init(&p.cells, snap->cells, snap->n_cells);
        plan->counts.present_cells = (int64_t)snap->n_cells;
    }
    set_init(&p.fresh, snap->fresh_domains, snap->n_fresh_domains);
    plan->counts.fresh_domains = (int64_t)snap->n_fresh_domains;

    if (snap->n_desired > 0) {
        d = bbs_xmalloc(snap->n_desired * sizeof(*d));
    }
    for (size_t k = 0; k < snap->n_desired; k++) {
        d[k] = &snap->desired[k];
        plan->counts.desired_instances += snap->desired[k].instances;
    }
    if (snap->n_actual > 0) {
        a = bbs_xmalloc(snap->n_actual * sizeof(*a));
    }
    for (size_t k = 0; k < snap->n_actual; k++) {
        a[k] = &snap->actual[k];
    }
    if (snap->n_desired > 1) {
        qsort(d, snap->n_desired, sizeof(*d), cmp_desired);
    }
    if (snap->n_actual > 1) {
        qsort(a, snap->n_actual, sizeof(*a), cmp_actual);
    }

    /* Merge the two sorted sequences one process guid at a time. */
    while (i < snap->n_desired || j < snap->n_actual) {
        const char *guid;
        const struct bbs_conv_desired *dd = NULL;
        size_t j0 = j;
        int c;

        if (i == snap->n_desired) {
            c = 1;
        } else if (j == snap->n_actual) {
            c = -1;
        } else {
            c = strcmp(d[i]->process_guid, a[j]->process_guid);
        }
        if (c <= 0) {
            dd = d[i++];
        }
        guid = dd != NULL ? dd->process_guid : a[j]->process_guid;
        if (c >= 0) {
            while (j < snap->n_actual && strcmp(a[j]->process_guid, guid) == 0) {
                j++;
            }
        }
        plan_guid(&p, dd, a + j0, j - j0);
    }

    decide_retires(&p);
    plan->counts.missing = (int64_t)plan->missing.n;
    plan->counts.extra = (int64_t)plan->retire.n;

    /* Distinct missing cells. */
    if (p.n_missing_cells > 1) {
        size_t k = 0;

        qsort(p.missing_cells, p.n_missing_cells, sizeof(*p.missing_cells), cmp_str_ptr);
        for (size_t m = 0; m < p.n_missing_cells; m++) {
            if (k == 0 || strcmp(p.missing_cells[k - 1], p.missing_cells[m]) != 0) {
                p.missing_cells[k++] = p.missing_cells[m];
            }
        }
        p.n_missing_cells = k;
    }
    plan->missing_cells = p.missing_cells;
    plan->n_missing_cells = p.n_missing_cells;
    plan->counts.suspect_cells = (int64_t)p.n_missing_cells;

    free(d);
    free(a);
    free(p.cells.v);
    free(p.fresh.v);
}

void bbs_conv_plan_free(struct bbs_conv_plan *plan)
{
    struct bbs_conv_list *lists[] = {
        &plan->prune_evacuating,     &plan->stale_unclaimed, &plan->missing_cell,
        &plan->missing_cell_unclaim, &plan->missing,         &plan->retire,
        &plan->retire_suspect,       &plan->promote,         &plan->crashed,
        &plan->route_update,         &plan->tag_update,
    };

    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        free(lists[i]->items);
        lists[i]->items = NULL;
        lists[i]->n = lists[i]->cap = 0;
    }
    free(plan->missing_cells);
    plan->missing_cells = NULL;
    plan->n_missing_cells = 0;
}
