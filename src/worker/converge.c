/*
 * converge.c - the LRP convergence loop (see converger.h).
 *
 * One thread sleeps until the next run or the next cell poll. A run reads
 * everything it decides on up front (cells, then the snapshot), lets the
 * pure planner decide, and then applies the plan: the lists that write
 * are cut into batches applied by up to `workers` short-lived threads
 * (each batch one transaction on its own pooled connection), the rep
 * calls are queued on the outbox from the run's thread, and one auction
 * request goes out at the end with every start request of the run.
 */
#include "bbs/converger.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bbs/dlrp_codec.h"
#include "bbs/dlrp_store.h"
#include "bbs/log.h"
#include "bbs/xalloc.h"

#define DEFAULT_BATCH 500

struct bbs_converger {
    struct bbs_converger_config cfg;
    struct bbs_store *store;
    struct bbs_auction *auction;
    struct bbs_rep *rep;
    struct bbs_conv_cell_source cells;
    enum bbs_conv_prev_cells prev_cells; /* guarded by run_mu */
    pthread_mutex_t run_mu;              /* one run at a time */
    pthread_mutex_t mu;                  /* guards what follows */
    pthread_cond_t cv;
    int stopping;
    int started;
    pthread_t thread;
    struct bbs_conv_run last;
    /* The cell ids the last poll saw (malloc'd, sorted). */
    char **polled;
    size_t n_polled;
    int has_tasks; /* task convergence configured */
    struct bbs_converger_tasks tasks;
};

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

static int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

struct bbs_converger *bbs_converger_new(const struct bbs_converger_config *cfg,
                                        struct bbs_store *store, struct bbs_auction *auction,
                                        struct bbs_rep *rep,
                                        const struct bbs_conv_cell_source *cells)
{
    struct bbs_converger *c = bbs_xcalloc(1, sizeof(*c));
    pthread_condattr_t attr;

    c->cfg = *cfg;
    if (c->cfg.workers < 1) {
        c->cfg.workers = 1;
    }
    if (c->cfg.batch == 0) {
        c->cfg.batch = DEFAULT_BATCH;
    }
    c->store = store;
    c->auction = auction;
    c->rep = rep;
    if (cells != NULL) {
        c->cells = *cells;
    }
    if (pthread_mutex_init(&c->run_mu, NULL) != 0 || pthread_mutex_init(&c->mu, NULL) != 0 ||
        pthread_condattr_init(&attr) != 0) {
        bbs_log_fatal("converge.init-failed", NULL);
    }
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (pthread_cond_init(&c->cv, &attr) != 0) {
        bbs_log_fatal("converge.init-failed", NULL);
    }
    pthread_condattr_destroy(&attr);
    return c;
}

void bbs_converger_set_tasks(struct bbs_converger *c, const struct bbs_converger_tasks *t)
{
    c->tasks = *t;
    c->has_tasks = 1;
}

/* ---- the work phase ---- */

/* A (guid, index) to auction; strings live in the run's arena. */
struct start_key {
    const char *guid;
    int32_t index;
};

struct batch {
    enum bbs_conv_work kind;
    const struct bbs_conv_item *items;
    size_t n;
};

struct work {
    struct bbs_converger *c;
    struct bbs_arena *arena; /* the run's; guarded by mu */
    int64_t now_ns;
    struct batch *batches;
    size_t n_batches;
    _Atomic size_t next;
    pthread_mutex_t mu; /* guards what follows and `arena` */
    struct bbs_conv_run *run;
    struct start_key *starts;
    size_t n_starts;
    size_t cap_starts;
};

static void add_start(struct work *w, const char *guid, int32_t index)
{
    if (w->n_starts == w->cap_starts) {
        w->cap_starts = w->cap_starts == 0 ? 64 : w->cap_starts * 2;
        w->starts = bbs_xrealloc(w->starts, w->cap_starts * sizeof(*w->starts));
    }
    w->starts[w->n_starts].guid = bbs_arena_strdup(w->arena, guid);
    w->starts[w->n_starts].index = index;
    w->n_starts++;
}

/* What a committed batch did, into the run's totals; its rows that need an auction. */
static void batch_done(struct work *w, const struct batch *b, const struct bbs_change *ch,
                       size_t applied)
{
    struct bbs_conv_run *r = w->run;

    pthread_mutex_lock(&w->mu);
    switch (b->kind) {
    case BBS_CONV_WORK_PRUNE_EVACUATING:
        r->evacuating_pruned += (int64_t)applied;
        break;
    case BBS_CONV_WORK_MISSING:
        r->created += (int64_t)applied;
        break;
    case BBS_CONV_WORK_CRASHED:
        r->crashed_restarted += (int64_t)applied;
        break;
    case BBS_CONV_WORK_MISSING_CELL:
        break; /* counted below from the record */
    case BBS_CONV_WORK_MISSING_CELL_UNCLAIM:
        r->replacements_unclaimed += (int64_t)applied;
        break;
    case BBS_CONV_WORK_RETIRE_DELETE:
        r->retired += (int64_t)applied;
        break;
    case BBS_CONV_WORK_PROMOTE:
        r->promoted += (int64_t)applied;
        break;
    case BBS_CONV_WORK_RETIRE_SUSPECT:
        r->suspects_retired += (int64_t)applied;
        break;
    }
    /*
     * Auctions: every ORDINARY UNCLAIMED row created (B, the replacements
     * of D) and every CRASHED row restarted (C). A replacement unclaimed
     * because its cell vanished too is not auctioned (7.2 D): the stale
     * rule picks it up 30 s later.
     */
    for (size_t i = 0; i < ch->n_alrps; i++) {
        const struct bbs_alrp *before = ch->alrps[i].before;
        const struct bbs_alrp *after = ch->alrps[i].after;

        if (after == NULL || after->presence != BBS_PRESENCE_ORDINARY ||
            after->state != BBS_ALRP_UNCLAIMED) {
            if (b->kind == BBS_CONV_WORK_MISSING_CELL && before != NULL && after != NULL &&
                after->presence == BBS_PRESENCE_SUSPECT) {
                r->suspects_marked++;
            }
            continue;
        }
        if (before == NULL) {
            if (b->kind == BBS_CONV_WORK_MISSING_CELL) {
                r->created++;
            }
            add_start(w, after->key.process_guid, after->key.index);
        } else if (before->state == BBS_ALRP_CRASHED) {
            add_start(w, after->key.process_guid, after->key.index);
        }
    }
    pthread_mutex_unlock(&w->mu);
}

static void *work_main(void *arg)
{
    struct work *w = arg;

    for (;;) {
        size_t i = atomic_fetch_add(&w->next, 1);
        const struct batch *b;
        struct bbs_arena *arena;
        struct bbs_change ch;
        struct bbs_error err = {0};
        size_t applied = 0;

        if (i >= w->n_batches) {
            break;
        }
        b = &w->batches[i];
        arena = bbs_arena_new();
        bbs_change_init(&ch, arena);
        /* Upstream emits convergence events per row (7.2); the missing-cell
         * step sends instance events only (events.h). */
        ch.event_rule =
            b->kind == BBS_CONV_WORK_MISSING_CELL || b->kind == BBS_CONV_WORK_MISSING_CELL_UNCLAIM
                ? BBS_EVENT_RULE_INSTANCE_ONLY
                : BBS_EVENT_RULE_ROWS;
        if (bbs_store_conv_apply(w->c->store, b->kind, b->items, b->n, w->now_ns, &ch, &applied,
                                 &err) != 0) {
            bbs_log(BBS_LOG_ERROR, "converge.batch-failed", "{s:i, s:I, s:s}", "work", (int)b->kind,
                    "items", (json_int_t)b->n, "error", err.message);
            pthread_mutex_lock(&w->mu);
            w->run->failed_batches++;
            pthread_mutex_unlock(&w->mu);
        } else {
            batch_done(w, b, &ch, applied);
        }
        bbs_arena_free(arena);
    }
    return NULL;
}

static void add_batches(struct work *w, size_t *cap, enum bbs_conv_work kind,
                        const struct bbs_conv_list *l, size_t batch)
{
    for (size_t i = 0; i < l->n; i += batch) {
        if (w->n_batches == *cap) {
            *cap = *cap == 0 ? 16 : *cap * 2;
            w->batches = bbs_xrealloc(w->batches, *cap * sizeof(*w->batches));
        }
        w->batches[w->n_batches++] =
            (struct batch){kind, l->items + i, l->n - i < batch ? l->n - i : batch};
    }
}

/* Retire items by kind: deletions go to the batches, rep stops out now. */
static struct bbs_conv_list retire_deletes(const struct bbs_conv_list *retire)
{
    struct bbs_conv_list out = {NULL, 0, 0};

    if (retire->n > 0) {
        out.items = bbs_xmalloc(retire->n * sizeof(*out.items));
    }
    for (size_t i = 0; i < retire->n; i++) {
        if (retire->items[i].retire == BBS_CONV_RETIRE_DELETE) {
            out.items[out.n++] = retire->items[i];
        }
    }
    return out;
}

static int cmp_cell(const void *a, const void *b)
{
    return strcmp(((const struct bbs_cell *)a)->cell_id, ((const struct bbs_cell *)b)->cell_id);
}

/*
 * The address to call the rep of `cell_id` at, by the rep client's rule
 * (rep.h bbs_rep_url: rep_url, else rep_address, https when required);
 * NULL when the cell is not in the set or neither address is usable.
 */
static const char *rep_url_of(const struct bbs_rep *rep, const struct bbs_cell *cells, size_t n,
                              const char *cell_id)
{
    struct bbs_cell key;
    const struct bbs_cell *found;
    const char *url = NULL;
    struct bbs_error err = {0};

    memset(&key, 0, sizeof(key));
    key.cell_id = cell_id;
    found = n > 0 ? bsearch(&key, cells, n, sizeof(*cells), cmp_cell) : NULL;
    if (rep == NULL || found == NULL ||
        bbs_rep_url(rep, found->rep_address, found->rep_url, &url, &err) != 0) {
        return NULL;
    }
    return url;
}

/* Rep stops (A) and updates (G, H): queued on the outbox, never waited for. */
static void rep_calls(struct bbs_converger *c, const struct bbs_conv_plan *plan,
                      const struct bbs_cell *cells, size_t n_cells, struct bbs_conv_run *r)
{
    for (size_t i = 0; i < plan->retire.n; i++) {
        const struct bbs_conv_item *it = &plan->retire.items[i];
        const char *url;

        if (it->retire != BBS_CONV_RETIRE_STOP_REP) {
            continue;
        }
        url = rep_url_of(c->rep, cells, n_cells, it->actual->cell_id);
        if (c->rep == NULL || url == NULL) {
            r->rep_skipped++;
            continue;
        }
        bbs_rep_stop_lrp(c->rep, url, it->actual->process_guid, it->actual->instance_guid, NULL);
        r->rep_stops++;
    }
    for (int tags = 0; tags < 2; tags++) {
        const struct bbs_conv_list *l = tags ? &plan->tag_update : &plan->route_update;

        for (size_t i = 0; i < l->n; i++) {
            const struct bbs_conv_item *it = &l->items[i];
            const struct bbs_conv_desired *d = it->desired;
            const char *url = rep_url_of(c->rep, cells, n_cells, it->actual->cell_id);
            struct bbs_rep_lrp_update u;
            const char **names = NULL;
            const char **values = NULL;
            char(*bufs)[12] = NULL;

            if (c->rep == NULL || url == NULL) {
                r->rep_skipped++;
                continue;
            }
            memset(&u, 0, sizeof(u));
            u.instance_guid = it->actual->instance_guid;
            u.process_guid = it->actual->process_guid;
            u.index = it->index;
            u.domain = it->actual->domain;
            if (!tags) {
                /* An empty desired set goes out as null, as upstream sends it. */
                u.internal_routes = d->n_hostnames > 0 ? d->hostnames : NULL;
                u.n_internal_routes = d->n_hostnames;
            } else {
                names = bbs_xcalloc(d->n_tags + 1, sizeof(*names));
                values = bbs_xcalloc(d->n_tags + 1, sizeof(*values));
                bufs = bbs_xcalloc(d->n_tags + 1, sizeof(*bufs));
                for (size_t k = 0; k < d->n_tags; k++) {
                    names[k] = d->tags[k].name;
                    values[k] = bbs_conv_tag_value(&d->tags[k], it->index,
                                                   it->actual->instance_guid, bufs[k]);
                }
                u.metric_tag_names = names;
                u.metric_tag_values = values;
                u.n_metric_tags = d->n_tags;
            }
            bbs_rep_update_lrp(c->rep, url, &u, NULL);
            if (tags) {
                r->tag_updates++;
            } else {
                r->route_updates++;
            }
            free(names);
            free(values);
            free(bufs);
        }
    }
}

static int cmp_start(const void *a, const void *b)
{
    const struct start_key *x = a;
    const struct start_key *y = b;
    int c = strcmp(x->guid, y->guid);

    if (c != 0) {
        return c;
    }
    return (x->index > y->index) - (x->index < y->index);
}

/* ONE auction request for every start of the run, one start per process guid. */
static void auction_all(struct bbs_converger *c, struct work *w)
{
    struct bbs_arena *arena = w->arena;
    struct bbs_dlrp_filter f;
    struct bbs_dlrp_rows rows;
    struct bbs_error err = {0};
    struct bbs_auction_start *starts = NULL;
    const char **guids = NULL;
    int32_t *indices = NULL;
    size_t n_guids = 0;
    size_t n_starts = 0;
    size_t k = 0;

    if (w->n_starts == 0) {
        return;
    }
    qsort(w->starts, w->n_starts, sizeof(*w->starts), cmp_start);
    /* Distinct keys, then distinct guids. */
    for (size_t i = 0; i < w->n_starts; i++) {
        if (k == 0 || cmp_start(&w->starts[k - 1], &w->starts[i]) != 0) {
            w->starts[k++] = w->starts[i];
        }
    }
    w->n_starts = k;
    guids = bbs_arena_alloc(arena, w->n_starts * sizeof(*guids));
    indices = bbs_arena_alloc(arena, w->n_starts * sizeof(*indices));
    for (size_t i = 0; i < w->n_starts; i++) {
        indices[i] = w->starts[i].index;
        if (n_guids == 0 || strcmp(guids[n_guids - 1], w->starts[i].guid) != 0) {
            guids[n_guids++] = w->starts[i].guid;
        }
    }
    memset(&f, 0, sizeof(f));
    f.process_guids = guids;
    f.n_process_guids = n_guids;
    if (bbs_store_dlrp_list(c->store, arena, &f, BBS_DLRP_VIEW_SCHED, &rows, &err) != 0) {
        bbs_log(BBS_LOG_ERROR, "converge.auction-lookup-failed", "{s:s}", "error", err.message);
        return;
    }
    starts = bbs_arena_alloc(arena, (rows.n > 0 ? rows.n : 1) * sizeof(*starts));
    for (size_t i = 0; i < rows.n; i++) {
        struct bbs_dlrp_row row;
        struct start_key key;
        size_t lo = 0;
        size_t hi = w->n_starts;

        rows.get(rows.src, i, &row);
        /* First start of this guid (starts are sorted by guid, then index). */
        key.guid = row.process_guid;
        key.index = INT32_MIN;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;

            if (cmp_start(&w->starts[mid], &key) < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        hi = lo;
        while (hi < w->n_starts && strcmp(w->starts[hi].guid, row.process_guid) == 0) {
            hi++;
        }
        if (hi == lo || bbs_dlrp_auction_start(arena, &row, &starts[n_starts]) != 0) {
            continue;
        }
        starts[n_starts].indices = indices + lo;
        starts[n_starts].n_indices = hi - lo;
        w->run->auctioned += (int64_t)(hi - lo);
        n_starts++;
    }
    if (n_starts > 0) {
        bbs_auction_request(c->auction, starts, n_starts, NULL);
    }
}

static void log_run(const struct bbs_conv_run *r)
{
    const struct bbs_conv_counts *k = &r->counts;

    bbs_log(
        BBS_LOG_INFO, "converge.run",
        "{s:I, s:I, s:I, s:I, s:I, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
        "s:I, "
        "s:I, s:I,"
        " s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
        "run", (json_int_t)r->runs, "cell_skipped_runs", (json_int_t)r->cell_skipped_runs,
        "duration_ns", (json_int_t)r->duration_ns, "read_ns", (json_int_t)r->read_ns, "plan_ns",
        (json_int_t)r->plan_ns, "cells", bbs_conv_verdict_name(r->verdict), "cell_steps_skipped",
        k->cell_steps_skipped, "LRPsDesired", (json_int_t)k->desired_instances, "LRPsUnclaimed",
        (json_int_t)k->unclaimed, "LRPsClaimed", (json_int_t)k->claimed, "LRPsRunning",
        (json_int_t)k->running, "CrashedActualLRPs", (json_int_t)k->crashed, "CrashingDesiredLRPs",
        (json_int_t)k->crashing_desired, "LRPsMissing", (json_int_t)k->missing, "LRPsExtra",
        (json_int_t)k->extra, "SuspectRunningActualLRPs", (json_int_t)k->suspect_running,
        "SuspectClaimedActualLRPs", (json_int_t)k->suspect_claimed, "PresentCells",
        (json_int_t)k->present_cells, "SuspectCells", (json_int_t)k->suspect_cells,
        "domains_pruned", (json_int_t)r->domains_pruned, "evacuating_pruned",
        (json_int_t)r->evacuating_pruned, "created", (json_int_t)r->created, "crashed_restarted",
        (json_int_t)r->crashed_restarted, "suspects_marked", (json_int_t)r->suspects_marked,
        "replacements_unclaimed", (json_int_t)r->replacements_unclaimed, "retired",
        (json_int_t)r->retired, "retires_deferred", (json_int_t)k->retires_deferred, "rep_stops",
        (json_int_t)r->rep_stops, "promoted", (json_int_t)r->promoted, "suspects_retired",
        (json_int_t)r->suspects_retired, "route_updates", (json_int_t)r->route_updates,
        "tag_updates", (json_int_t)r->tag_updates, "rep_skipped", (json_int_t)r->rep_skipped,
        "auctioned", (json_int_t)r->auctioned, "failed_batches", (json_int_t)r->failed_batches);
}

/* Read the cell set: KNOWN (cells in `arena`), FAILED, or UNKNOWN without Locket. */
static enum bbs_conv_cells read_cells(struct bbs_converger *c, struct bbs_arena *arena,
                                      struct bbs_cell **cells, size_t *n)
{
    struct bbs_error err = {0};

    *cells = NULL;
    *n = 0;
    if (c->cells.cells == NULL) {
        return BBS_CONV_CELLS_UNKNOWN;
    }
    if (c->cells.cells(c->cells.ctx, arena, cells, n, &err) != 0) {
        bbs_log(BBS_LOG_ERROR, "converge.cells-failed", "{s:s}", "error", err.message);
        *cells = NULL;
        *n = 0;
        return BBS_CONV_CELLS_FAILED;
    }
    if (*n > 1) {
        qsort(*cells, *n, sizeof(**cells), cmp_cell);
    }
    return BBS_CONV_CELLS_KNOWN;
}

/*
 * Task convergence (11.7) after the LRP part, with the run's cell set
 * (`ids`, sorted; believed only when the LRP part's verdict was "ok").
 * The writes and their events are one transaction; then one auction POST
 * for every Pending task and the kicked callbacks to the callback worker.
 */
static void tasks_run(struct bbs_converger *c, struct bbs_conv_run *r, int64_t now,
                      const char *const *ids, size_t n_cells, int believable)
{
    struct bbs_arena *arena = bbs_arena_new();
    struct bbs_task_conv_input in = {
        now, c->tasks.kick_ns, c->tasks.expire_pending_ns, c->tasks.expire_completed_ns, believable,
        ids, n_cells,
    };
    struct bbs_change change;
    struct bbs_error err = {0};
    int64_t t0 = mono_ns();

    bbs_change_init(&change, arena);
    if (believable && n_cells == 0) {
        /* Upstream takes it literally (11.9 q12); the LRP part believed it too. */
        bbs_log(BBS_LOG_ERROR, "converge.tasks.empty-cell-set", "{s:s}", "action",
                "every Running task fails: cell disappeared before completion");
    }
    if (bbs_store_task_converge(c->store, &in, &change, &r->tasks, &err) != 0) {
        bbs_log(BBS_LOG_ERROR, "converge.tasks.failed", "{s:s}", "error", err.message);
        bbs_arena_free(arena);
        return;
    }
    r->tasks_ran = 1;
    r->tasks_cells_checked = believable;
    if (change.n_task_auctions > 0) {
        bbs_auction_request_task_starts(c->auction, change.task_auctions, change.n_task_auctions,
                                        NULL, 0);
    }
    for (size_t i = 0; i < change.n_task_callbacks; i++) {
        if (c->tasks.submit == NULL) {
            bbs_log(BBS_LOG_ERROR, "task-callback.disabled", "{s:s}", "task_guid",
                    change.task_callbacks[i].task->guid);
            continue;
        }
        c->tasks.submit(c->tasks.submit_ctx, &change.task_callbacks[i]);
    }
    r->tasks_duration_ns = mono_ns() - t0;
    bbs_log(BBS_LOG_INFO, "converge.tasks",
            "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I}", "TasksPending",
            (json_int_t)r->tasks.pending, "TasksRunning", (json_int_t)r->tasks.running,
            "TasksCompleted", (json_int_t)r->tasks.completed, "TasksResolving",
            (json_int_t)r->tasks.resolving, "expired_pending", (json_int_t)r->tasks.expired_pending,
            "cell_gone", (json_int_t)r->tasks.cell_gone, "ConvergenceTasksKicked",
            (json_int_t)(r->tasks.expired_pending + r->tasks.auctioned + r->tasks.cell_gone +
                         r->tasks.kicked),
            "demoted", (json_int_t)r->tasks.demoted, "deleted", (json_int_t)r->tasks.deleted,
            "ConvergenceTasksPruned", (json_int_t)(r->tasks.pruned + r->tasks.deleted), "auctioned",
            (json_int_t)r->tasks.auctioned, "cells_checked", believable, "duration_ns",
            (json_int_t)r->tasks_duration_ns);
    bbs_arena_free(arena);
}

static void run_locked(struct bbs_converger *c, struct bbs_conv_run *r)
{
    struct bbs_arena *arena = bbs_arena_new();
    int64_t t0 = mono_ns();
    int64_t now = wall_ns();
    struct bbs_conv_snapshot snap;
    struct bbs_conv_plan plan;
    struct bbs_cell *cells = NULL;
    size_t n_cells = 0;
    enum bbs_conv_cells cstate;
    struct bbs_error err = {0};
    struct bbs_conv_list deletes = {NULL, 0, 0};
    struct work w;
    size_t cap = 0;
    int pruned = 0;
    const char **ids = NULL;
    int believable = 0;

    memset(&plan, 0, sizeof(plan));
    memset(&w, 0, sizeof(w));
    if (bbs_store_conv_prune_domains(c->store, now, &pruned, &err) != 0) {
        bbs_log(BBS_LOG_ERROR, "converge.prune-domains-failed", "{s:s}", "error", err.message);
    }
    r->domains_pruned = pruned;
    cstate = read_cells(c, arena, &cells, &n_cells);
    if (n_cells > 0) {
        ids = bbs_arena_alloc(arena, n_cells * sizeof(*ids));
        for (size_t i = 0; i < n_cells; i++) {
            ids[i] = cells[i].cell_id;
        }
    }
    if (bbs_store_conv_snapshot(c->store, arena, now, &snap, &err) != 0) {
        bbs_log(BBS_LOG_ERROR, "converge.snapshot-failed", "{s:s}", "error", err.message);
        r->failed = 1;
        goto out;
    }
    r->read_ns = mono_ns() - t0;
    snap.cells_state = cstate;
    snap.cells = ids;
    snap.n_cells = n_cells;
    snap.prev_cells = c->prev_cells;
    bbs_conv_plan(&snap, &plan);
    r->plan_ns = mono_ns() - t0 - r->read_ns;
    c->prev_cells = plan.next_prev_cells;
    r->counts = plan.counts;
    r->verdict = plan.verdict;
    believable = plan.verdict == BBS_CONV_CELLS_OK;
    if (plan.verdict != BBS_CONV_CELLS_OK && plan.verdict != BBS_CONV_CELLS_NO_LOCKET) {
        bbs_log(BBS_LOG_ERROR, "converge.cell-steps-skipped", "{s:s, s:I}", "reason",
                bbs_conv_verdict_name(plan.verdict), "cells", (json_int_t)n_cells);
    }

    /* The writes, in batches. */
    w.c = c;
    w.arena = arena;
    w.now_ns = now;
    w.run = r;
    pthread_mutex_init(&w.mu, NULL);
    deletes = retire_deletes(&plan.retire);
    add_batches(&w, &cap, BBS_CONV_WORK_PRUNE_EVACUATING, &plan.prune_evacuating, c->cfg.batch);
    add_batches(&w, &cap, BBS_CONV_WORK_MISSING_CELL, &plan.missing_cell, c->cfg.batch);
    add_batches(&w, &cap, BBS_CONV_WORK_MISSING_CELL_UNCLAIM, &plan.missing_cell_unclaim,
                c->cfg.batch);
    add_batches(&w, &cap, BBS_CONV_WORK_MISSING, &plan.missing, c->cfg.batch);
    add_batches(&w, &cap, BBS_CONV_WORK_CRASHED, &plan.crashed, c->cfg.batch);
    add_batches(&w, &cap, BBS_CONV_WORK_RETIRE_DELETE, &deletes, c->cfg.batch);
    add_batches(&w, &cap, BBS_CONV_WORK_PROMOTE, &plan.promote, c->cfg.batch);
    add_batches(&w, &cap, BBS_CONV_WORK_RETIRE_SUSPECT, &plan.retire_suspect, c->cfg.batch);
    if (w.n_batches == 1) {
        work_main(&w);
    } else if (w.n_batches > 1) {
        size_t nt = w.n_batches < (size_t)c->cfg.workers ? w.n_batches : (size_t)c->cfg.workers;
        pthread_t *threads = bbs_xcalloc(nt, sizeof(*threads));
        size_t started = 0;

        for (; started < nt; started++) {
            if (pthread_create(&threads[started], NULL, work_main, &w) != 0) {
                break;
            }
        }
        if (started == 0) {
            work_main(&w); /* no thread: do it here */
        }
        for (size_t i = 0; i < started; i++) {
            pthread_join(threads[i], NULL);
        }
        free(threads);
    }
    rep_calls(c, &plan, cells, n_cells, r);
    /* Stale UNCLAIMED rows are auctioned as they are: nothing to write. */
    for (size_t i = 0; i < plan.stale_unclaimed.n; i++) {
        add_start(&w, plan.stale_unclaimed.items[i].actual->process_guid,
                  plan.stale_unclaimed.items[i].index);
    }
    r->duration_ns = mono_ns() - t0; /* as upstream: the auction POST is not timed */
    auction_all(c, &w);
    pthread_mutex_destroy(&w.mu);
out:
    if (r->duration_ns == 0) {
        r->duration_ns = mono_ns() - t0;
    }
    /* Any Locket error skips the task run (11.7); no Locket: no cell rule. */
    if (c->has_tasks && cstate != BBS_CONV_CELLS_FAILED) {
        tasks_run(c, r, now, ids, n_cells, believable);
    }
    free(w.batches);
    free(w.starts);
    free(deletes.items);
    bbs_conv_plan_free(&plan);
    bbs_arena_free(arena);
#ifdef __GLIBC__
    /* A pass over every instance is the process's largest allocation, once
     * every 30 s: give the pages back rather than keep the peak resident. */
    malloc_trim(0);
#endif
}

void bbs_converger_run(struct bbs_converger *c, struct bbs_conv_run *out)
{
    struct bbs_conv_run r;

    memset(&r, 0, sizeof(r));
    pthread_mutex_lock(&c->run_mu);
    run_locked(c, &r);
    pthread_mutex_lock(&c->mu);
    r.runs = c->last.runs + 1;
    r.task_runs = c->last.task_runs + (r.tasks_ran != 0);
    /* Upstream's ConvergenceTasksKicked / Pruned make-up (reference part 2, 13.2). */
    r.tasks_kicked_total = c->last.tasks_kicked_total +
                           (r.tasks_ran ? (uint64_t)(r.tasks.expired_pending + r.tasks.auctioned +
                                                     r.tasks.cell_gone + r.tasks.kicked)
                                        : 0);
    r.tasks_pruned_total = c->last.tasks_pruned_total +
                           (r.tasks_ran ? (uint64_t)(r.tasks.pruned + r.tasks.deleted) : 0);
    r.cell_skipped_runs =
        c->last.cell_skipped_runs +
        (r.verdict == BBS_CONV_CELLS_LOCKET_FAILED || r.verdict == BBS_CONV_CELLS_EMPTY_DISTRUSTED);
    c->last = r;
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_unlock(&c->run_mu);
    log_run(&r);
    if (out != NULL) {
        *out = r;
    }
}

void bbs_converger_last(struct bbs_converger *c, struct bbs_conv_run *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->last;
    pthread_mutex_unlock(&c->mu);
}

/* ---- the loop ---- */

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void polled_free(struct bbs_converger *c)
{
    for (size_t i = 0; i < c->n_polled; i++) {
        free(c->polled[i]);
    }
    free(c->polled);
    c->polled = NULL;
    c->n_polled = 0;
}

/* Poll the cell set; 1 when a cell seen by the last poll is gone. */
static int cell_vanished(struct bbs_converger *c)
{
    struct bbs_arena *arena = bbs_arena_new();
    struct bbs_cell *cells = NULL;
    size_t n = 0;
    int vanished = 0;

    if (read_cells(c, arena, &cells, &n) == BBS_CONV_CELLS_KNOWN) {
        /* cells are sorted by id, as the last poll's list. */
        size_t j = 0;

        for (size_t i = 0; i < c->n_polled; i++) {
            while (j < n && strcmp(cells[j].cell_id, c->polled[i]) < 0) {
                j++;
            }
            if (j == n || strcmp(cells[j].cell_id, c->polled[i]) != 0) {
                vanished = 1;
                break;
            }
        }
        polled_free(c);
        c->polled = bbs_xcalloc(n + 1, sizeof(*c->polled));
        for (size_t i = 0; i < n; i++) {
            c->polled[i] = bbs_xstrdup(cells[i].cell_id);
        }
        c->n_polled = n;
        qsort(c->polled, n, sizeof(*c->polled), cmp_strp);
    }
    bbs_arena_free(arena);
    return vanished;
}

static void *loop_main(void *arg)
{
    struct bbs_converger *c = arg;
    int64_t next_run = mono_ns() + c->cfg.interval_ns;
    int64_t next_poll = mono_ns() + c->cfg.cell_poll_ns;
    int poll = c->cells.cells != NULL && c->cfg.cell_poll_ns > 0;

    for (;;) {
        int64_t now = mono_ns();
        int64_t until = poll && next_poll < next_run ? next_poll : next_run;
        int stop;
        int due = 0;

        pthread_mutex_lock(&c->mu);
        if (!c->stopping && until > now) {
            struct timespec ts = {(time_t)(until / 1000000000), (long)(until % 1000000000)};

            pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        }
        stop = c->stopping;
        pthread_mutex_unlock(&c->mu);
        if (stop) {
            break;
        }
        now = mono_ns();
        if (poll && now >= next_poll) {
            if (cell_vanished(c)) {
                bbs_log(BBS_LOG_INFO, "converge.cell-vanished", "{s:s}", "action", "run now");
                due = 1;
            }
            next_poll = mono_ns() + c->cfg.cell_poll_ns;
        }
        if (due || now >= next_run) {
            bbs_converger_run(c, NULL);
            next_run = mono_ns() + c->cfg.interval_ns; /* never stacked, never overlapping */
        }
    }
    return NULL;
}

int bbs_converger_start(struct bbs_converger *c, struct bbs_error *err)
{
    int rc;

    if (c->started) {
        return 0;
    }
    rc = pthread_create(&c->thread, NULL, loop_main, c);
    if (rc != 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "converge: cannot start its thread: %s", strerror(rc));
        return -1;
    }
    c->started = 1;
    return 0;
}

void bbs_converger_stop(struct bbs_converger *c)
{
    if (c == NULL || !c->started) {
        return;
    }
    pthread_mutex_lock(&c->mu);
    c->stopping = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    c->started = 0;
}

void bbs_converger_free(struct bbs_converger *c)
{
    if (c == NULL) {
        return;
    }
    bbs_converger_stop(c);
    polled_free(c);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->run_mu);
    free(c);
}
