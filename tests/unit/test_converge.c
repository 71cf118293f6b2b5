/*
 * test_converge.c - the convergence planner (reference 7.2): one named
 * test per step and work-item list, the crash back-off table of 3.9, the
 * cell-set safety rule and the counts.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "bbs/converge.h"

#define S       INT64_C(1000000000)
#define NOW     (INT64_C(100000) * S)
#define MAXROWS 16

static const char *const fresh[] = {"fresh"};
static const char *const cells_ab[] = {"cell-a", "cell-b"};

struct fixture {
    struct bbs_conv_desired d[MAXROWS];
    size_t nd;
    struct bbs_conv_actual a[MAXROWS];
    size_t na;
    struct bbs_conv_snapshot snap;
    struct bbs_conv_plan plan;
};

static void fx_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->snap.cells_state = BBS_CONV_CELLS_KNOWN;
    f->snap.cells = cells_ab;
    f->snap.n_cells = 2;
    f->snap.prev_cells = BBS_CONV_PREV_CELLS;
    f->snap.fresh_domains = fresh;
    f->snap.n_fresh_domains = 1;
    f->snap.now_ns = NOW;
}

static struct bbs_conv_desired *desired(struct fixture *f, const char *guid, const char *domain,
                                        int32_t instances)
{
    struct bbs_conv_desired *d = &f->d[f->nd++];

    d->process_guid = guid;
    d->domain = domain;
    d->instances = instances;
    return d;
}

static struct bbs_conv_actual *actual(struct fixture *f, const char *guid, int32_t index,
                                      enum bbs_presence presence, enum bbs_alrp_state state,
                                      const char *cell)
{
    struct bbs_conv_actual *a = &f->a[f->na++];

    a->process_guid = guid;
    a->index = index;
    a->presence = presence;
    a->state = state;
    a->domain = "fresh";
    a->cell_id = cell;
    a->instance_guid = cell[0] != '\0' ? "ig" : "";
    a->since_ns = NOW;
    return a;
}

/* Shorthands for the usual rows. */
#define ORD(f, g, i, st, cell)  actual(f, g, i, BBS_PRESENCE_ORDINARY, BBS_ALRP_##st, cell)
#define SUSP(f, g, i, st, cell) actual(f, g, i, BBS_PRESENCE_SUSPECT, BBS_ALRP_##st, cell)
#define EVAC(f, g, i, st, cell) actual(f, g, i, BBS_PRESENCE_EVACUATING, BBS_ALRP_##st, cell)

static void run(struct fixture *f)
{
    f->snap.desired = f->d;
    f->snap.n_desired = f->nd;
    f->snap.actual = f->a;
    f->snap.n_actual = f->na;
    bbs_conv_plan(&f->snap, &f->plan);
}

static void done(struct fixture *f)
{
    bbs_conv_plan_free(&f->plan);
}

static void assert_item(const struct bbs_conv_list *l, size_t i, const char *guid, int32_t index)
{
    assert_true(i < l->n);
    assert_int_equal(l->items[i].index, index);
    if (l->items[i].actual != NULL) {
        assert_string_equal(l->items[i].actual->process_guid, guid);
    } else {
        assert_string_equal(l->items[i].desired->process_guid, guid);
    }
}

/* Every list the snapshot does not ask for stays empty. */
static void assert_quiet(const struct bbs_conv_plan *p)
{
    assert_int_equal(p->prune_evacuating.n + p->stale_unclaimed.n + p->missing_cell.n +
                         p->missing_cell_unclaim.n + p->missing.n + p->retire.n +
                         p->retire_suspect.n + p->promote.n + p->crashed.n + p->route_update.n +
                         p->tag_update.n,
                     0);
}

static void test_converged_nothing_to_do(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    desired(&f, "pg", "fresh", 2);
    ORD(&f, "pg", 0, RUNNING, "cell-a");
    ORD(&f, "pg", 1, RUNNING, "cell-b");
    run(&f);
    assert_quiet(&f.plan);
    assert_int_equal(f.plan.verdict, BBS_CONV_CELLS_OK);
    assert_int_equal(f.plan.next_prev_cells, BBS_CONV_PREV_CELLS);
    done(&f);
}

static void test_step2_prune_evacuating(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    desired(&f, "pg", "fresh", 2);
    ORD(&f, "pg", 0, RUNNING, "cell-a");
    EVAC(&f, "pg", 0, RUNNING, "cell-gone");
    ORD(&f, "pg", 1, RUNNING, "cell-b");
    EVAC(&f, "pg", 1, RUNNING, "cell-a"); /* its cell is still there: kept */
    run(&f);
    assert_int_equal(f.plan.prune_evacuating.n, 1);
    assert_item(&f.plan.prune_evacuating, 0, "pg", 0);
    assert_int_equal(f.plan.prune_evacuating.items[0].actual->presence, BBS_PRESENCE_EVACUATING);
    done(&f);
}

static void test_step3_stale_unclaimed(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    desired(&f, "pg", "fresh", 3);
    ORD(&f, "pg", 0, UNCLAIMED, "")->since_ns = NOW - 31 * S; /* stale */
    ORD(&f, "pg", 1, UNCLAIMED, "")->since_ns = NOW - 29 * S; /* not yet */
    ORD(&f, "pg", 2, UNCLAIMED, "")->since_ns = NOW - 30 * S; /* exactly 30 s: not yet */
    ORD(&f, "orphan", 0, UNCLAIMED, "")->since_ns = 0;        /* no desired LRP: retired, */
    f.a[f.na - 1].domain = "stale";                           /* not re-auctioned */
    run(&f);
    assert_int_equal(f.plan.stale_unclaimed.n, 1);
    assert_item(&f.plan.stale_unclaimed, 0, "pg", 0);
    assert_int_equal(f.plan.retire.n, 0);
    done(&f);
}

static void test_step4_missing_cell_marks_suspect(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    desired(&f, "pg", "fresh", 3);
    ORD(&f, "pg", 0, RUNNING, "cell-gone");
    ORD(&f, "pg", 1, CLAIMED, "cell-gone");
    ORD(&f, "pg", 2, RUNNING, "cell-a");
    ORD(&f, "orphan", 0, RUNNING, "cell-x")->domain = "stale"; /* no desired: not step 4 */
    run(&f);
    assert_int_equal(f.plan.missing_cell.n, 2);
    assert_item(&f.plan.missing_cell, 0, "pg", 0);
    assert_item(&f.plan.missing_cell, 1, "pg", 1);
    assert_int_equal(f.plan.missing_cell_unclaim.n, 0);
    assert_int_equal(f.plan.n_missing_cells, 1);
    assert_string_equal(f.plan.missing_cells[0], "cell-gone");
    assert_int_equal(f.plan.counts.suspect_cells, 1);
    assert_int_equal(f.plan.route_update.n + f.plan.tag_update.n, 0);
    done(&f);
}

static void test_step4_missing_cell_replacement_unclaimed(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    desired(&f, "pg", "fresh", 1);
    ORD(&f, "pg", 0, CLAIMED, "cell-gone-too"); /* the replacement */
    SUSP(&f, "pg", 0, RUNNING, "cell-gone");
    run(&f);
    assert_int_equal(f.plan.missing_cell.n, 0);
    assert_int_equal(f.plan.missing_cell_unclaim.n, 1);
    assert_item(&f.plan.missing_cell_unclaim, 0, "pg", 0);
    assert_int_equal(f.plan.missing_cell_unclaim.items[0].actual->presence, BBS_PRESENCE_ORDINARY);
    assert_int_equal(f.plan.n_missing_cells, 2); /* both cells, suspect rows included */
    done(&f);
}

static void test_step5_missing_by_index_set(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    desired(&f, "pg", "fresh", 3);
    ORD(&f, "pg", 0, RUNNING, "cell-a");
    ORD(&f, "pg", 1, RUNNING, "cell-a");
    ORD(&f, "pg", 5, UNCLAIMED, ""); /* right count, wrong indices */
    desired(&f, "none", "fresh", 2); /* no rows at all */
    desired(&f, "zero", "fresh", 0);
    run(&f);
    assert_int_equal(f.plan.missing.n, 3);
    assert_item(&f.plan.missing, 0, "none", 0);
    assert_item(&f.plan.missing, 1, "none", 1);
    assert_item(&f.plan.missing, 2, "pg", 2);
    assert_null(f.plan.missing.items[2].actual);
    assert_int_equal(f.plan.retire.n, 1);
    assert_item(&f.plan.retire, 0, "pg", 5);
    assert_int_equal(f.plan.counts.missing, 3);
    assert_int_equal(f.plan.counts.extra, 1);
    done(&f);
}

static void test_step5_missing_next_to_suspect(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    desired(&f, "pg", "fresh", 1);
    SUSP(&f, "pg", 0, RUNNING, "cell-gone"); /* a suspect alone is not an instance */
    run(&f);
    assert_int_equal(f.plan.missing.n, 1);
    assert_item(&f.plan.missing, 0, "pg", 0);
    done(&f);
}

static void test_step5_extra_only_in_fresh_domain(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    desired(&f, "pg", "fresh", 1);
    ORD(&f, "pg", 0, RUNNING, "cell-a");
    ORD(&f, "pg", 1, RUNNING, "cell-a");
    desired(&f, "old", "stale", 1);
    ORD(&f, "old", 0, RUNNING, "cell-a");
    ORD(&f, "old", 1, RUNNING, "cell-a");
    run(&f);
    assert_int_equal(f.plan.retire.n, 1);
    assert_item(&f.plan.retire, 0, "pg", 1);
    assert_int_equal(f.plan.retire.items[0].retire, BBS_CONV_RETIRE_STOP_REP);
    done(&f);
}

static void test_step5_extra_not_restarted(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    desired(&f, "pg", "fresh", 1);
    ORD(&f, "pg", 0, RUNNING, "cell-a");
    ORD(&f, "pg", 1, UNCLAIMED, "")->since_ns = 0;
    ORD(&f, "pg", 2, CRASHED, "")->crash_count = 1;
    run(&f);
    assert_int_equal(f.plan.retire.n, 2);
    assert_int_equal(f.plan.retire.items[0].retire, BBS_CONV_RETIRE_DELETE);
    assert_int_equal(f.plan.retire.items[1].retire, BBS_CONV_RETIRE_DELETE);
    assert_int_equal(f.plan.stale_unclaimed.n + f.plan.crashed.n, 0);
    done(&f);
}

static void test_step6_orphans(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    ORD(&f, "gone", 0, RUNNING, "cell-a");
    ORD(&f, "gone", 1, RUNNING, "cell-gone"); /* its cell is gone too: deleted */
    ORD(&f, "kept", 0, RUNNING, "cell-a")->domain = "stale";
    run(&f);
    assert_int_equal(f.plan.retire.n, 2);
    assert_item(&f.plan.retire, 0, "gone", 0);
    assert_null(f.plan.retire.items[0].desired);
    assert_int_equal(f.plan.retire.items[0].retire, BBS_CONV_RETIRE_STOP_REP);
    assert_item(&f.plan.retire, 1, "gone", 1);
    assert_int_equal(f.plan.retire.items[1].retire, BBS_CONV_RETIRE_DELETE);
    assert_int_equal(f.plan.missing_cell.n, 0);
    done(&f);
}

static void test_step7_orphaned_suspects(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    SUSP(&f, "gone", 0, RUNNING, "cell-gone");
    SUSP(&f, "kept", 0, RUNNING, "cell-gone")->domain = "stale";
    run(&f);
    assert_int_equal(f.plan.retire_suspect.n, 1);
    assert_item(&f.plan.retire_suspect, 0, "gone", 0);
    assert_int_equal(f.plan.retire_suspect.items[0].actual->presence, BBS_PRESENCE_SUSPECT);
    done(&f);
}

static void test_step8_extra_suspects(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    desired(&f, "pg", "fresh", 2);
    ORD(&f, "pg", 0, RUNNING, "cell-a"); /* the replacement runs */
    SUSP(&f, "pg", 0, RUNNING, "cell-a");
    ORD(&f, "pg", 1, CLAIMED, "cell-b"); /* still starting: suspect kept */
    SUSP(&f, "pg", 1, RUNNING, "cell-gone");
    run(&f);
    assert_int_equal(f.plan.retire_suspect.n, 1);
    assert_item(&f.plan.retire_suspect, 0, "pg", 0);
    assert_int_equal(f.plan.promote.n, 0); /* retiring wins over promoting */
    done(&f);
}

static void test_step9_suspect_back(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    desired(&f, "pg", "fresh", 2);
    ORD(&f, "pg", 0, UNCLAIMED, "");
    SUSP(&f, "pg", 0, RUNNING, "cell-a"); /* its cell is back */
    ORD(&f, "pg", 1, UNCLAIMED, "");
    SUSP(&f, "pg", 1, RUNNING, "cell-gone");
    run(&f);
    assert_int_equal(f.plan.promote.n, 1);
    assert_item(&f.plan.promote, 0, "pg", 0);
    assert_int_equal(f.plan.promote.items[0].actual->presence, BBS_PRESENCE_SUSPECT);
    done(&f);
}

static void test_step10_suspect_counts(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    desired(&f, "pg", "fresh", 3);
    ORD(&f, "pg", 0, UNCLAIMED, "");
    SUSP(&f, "pg", 0, RUNNING, "cell-gone");
    ORD(&f, "pg", 1, UNCLAIMED, "");
    SUSP(&f, "pg", 1, CLAIMED, "cell-gone");
    ORD(&f, "pg", 2, UNCLAIMED, "");
    SUSP(&f, "pg", 2, RUNNING, "cell-gone");
    run(&f);
    assert_int_equal(f.plan.counts.suspect_running, 2);
    assert_int_equal(f.plan.counts.suspect_claimed, 1);
    assert_int_equal(f.plan.counts.unclaimed, 3);
    done(&f);
}

/* Reference 3.9: crash count after the crash -> restart delay (-1 = never). */
static void test_step11_crash_backoff_table(void **state)
{
    static const struct {
        int32_t count;
        int64_t delay_s;
    } rows[] = {
        {1, 0},   {2, 0},   {3, 30},  {4, 60},    {5, 120},  {6, 240},
        {7, 480}, {8, 960}, {9, 960}, {199, 960}, {200, -1}, {500, -1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct fixture f;
        struct bbs_conv_actual *a;

        fx_init(&f);
        desired(&f, "pg", "fresh", 1);
        a = ORD(&f, "pg", 0, CRASHED, "");
        a->crash_count = rows[i].count;
        a->since_ns = NOW - (rows[i].delay_s < 0 ? 86400 : rows[i].delay_s) * S;
        run(&f);
        assert_int_equal(f.plan.crashed.n, rows[i].delay_s < 0 ? 0 : 1);
        assert_int_equal(f.plan.counts.crashed, 1);
        assert_int_equal(f.plan.counts.crashing_desired, 1);
        done(&f);
        if (rows[i].delay_s > 0) {
            /* One second early: not yet. */
            fx_init(&f);
            desired(&f, "pg", "fresh", 1);
            a = ORD(&f, "pg", 0, CRASHED, "");
            a->crash_count = rows[i].count;
            a->since_ns = NOW - (rows[i].delay_s - 1) * S;
            run(&f);
            assert_int_equal(f.plan.crashed.n, 0);
            done(&f);
        }
    }
}

static void test_step11_crashed_without_desired_left(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    ORD(&f, "gone", 0, CRASHED, "")->domain = "stale";
    run(&f);
    assert_quiet(&f.plan);
    done(&f);
}

static void test_step12_route_drift(void **state)
{
    static const char *const want[] = {"a.internal", "b.internal"};
    static const char *const same[] = {"b.internal", "a.internal"};
    static const char *const less[] = {"a.internal"};
    struct fixture f;
    struct bbs_conv_desired *d;
    struct bbs_conv_actual *a;

    (void)state;
    fx_init(&f);
    d = desired(&f, "pg", "fresh", 4);
    d->hostnames = want;
    d->n_hostnames = 2;
    a = ORD(&f, "pg", 0, RUNNING, "cell-a"); /* same set, other order */
    a->hostnames = same;
    a->n_hostnames = 2;
    a = ORD(&f, "pg", 1, RUNNING, "cell-a"); /* one missing */
    a->hostnames = less;
    a->n_hostnames = 1;
    ORD(&f, "pg", 2, RUNNING, "cell-a"); /* none stored */
    ORD(&f, "pg", 3, CLAIMED, "cell-a"); /* not running: left alone */
    run(&f);
    assert_int_equal(f.plan.route_update.n, 2);
    assert_item(&f.plan.route_update, 0, "pg", 1);
    assert_item(&f.plan.route_update, 1, "pg", 2);
    assert_ptr_equal(f.plan.route_update.items[0].desired, &f.d[0]);
    done(&f);

    /* Desired has none, the instance still has one: drift. */
    fx_init(&f);
    desired(&f, "pg", "fresh", 1);
    a = ORD(&f, "pg", 0, RUNNING, "cell-a");
    a->hostnames = less;
    a->n_hostnames = 1;
    run(&f);
    assert_int_equal(f.plan.route_update.n, 1);
    done(&f);
}

static void test_step13_tag_drift(void **state)
{
    static const struct bbs_conv_tag tags[] = {
        {"index", BBS_CONV_TAG_INDEX, NULL},
        {"source_id", BBS_CONV_TAG_STATIC, "app"},
    };
    static const char *const names[] = {"index", "source_id"};
    static const char *const ok0[] = {"0", "app"};
    static const char *const bad1[] = {"1", "other"};
    static const char *const wrong_index[] = {"7", "app"};
    struct fixture f;
    struct bbs_conv_desired *d;
    struct bbs_conv_actual *a;

    (void)state;
    fx_init(&f);
    d = desired(&f, "pg", "fresh", 4);
    d->tags = tags;
    d->n_tags = 2;
    a = ORD(&f, "pg", 0, RUNNING, "cell-a"); /* resolved tags match */
    a->tags_present = 1;
    a->tag_names = names;
    a->tag_values = ok0;
    a->n_tags = 2;
    a = ORD(&f, "pg", 1, RUNNING, "cell-a"); /* static value differs */
    a->tags_present = 1;
    a->tag_names = names;
    a->tag_values = bad1;
    a->n_tags = 2;
    a = ORD(&f, "pg", 2, RUNNING, "cell-a"); /* index tag differs */
    a->tags_present = 1;
    a->tag_names = names;
    a->tag_values = wrong_index;
    a->n_tags = 2;
    ORD(&f, "pg", 3, RUNNING, "cell-a"); /* no stored tags: left alone */
    run(&f);
    assert_int_equal(f.plan.tag_update.n, 2);
    assert_item(&f.plan.tag_update, 0, "pg", 1);
    assert_item(&f.plan.tag_update, 1, "pg", 2);
    done(&f);
}

static void test_tag_value(void **state)
{
    struct bbs_conv_tag t = {"i", BBS_CONV_TAG_INDEX, NULL};
    char buf[12];

    (void)state;
    assert_string_equal(bbs_conv_tag_value(&t, 42, "ig", buf), "42");
    t.kind = BBS_CONV_TAG_INSTANCE_GUID;
    assert_string_equal(bbs_conv_tag_value(&t, 42, "ig", buf), "ig");
    t.kind = BBS_CONV_TAG_STATIC;
    t.value = "v";
    assert_string_equal(bbs_conv_tag_value(&t, 42, "ig", buf), "v");
    t.kind = BBS_CONV_TAG_INVALID;
    assert_null(bbs_conv_tag_value(&t, 42, "ig", buf));
}

/* A snapshot with one row for every cell step. */
static void cell_steps_fixture(struct fixture *f)
{
    desired(f, "pg", "fresh", 4);
    ORD(f, "pg", 0, RUNNING, "cell-a");
    EVAC(f, "pg", 0, RUNNING, "cell-a");
    ORD(f, "pg", 1, UNCLAIMED, "");
    SUSP(f, "pg", 1, RUNNING, "cell-a");
    ORD(f, "pg", 2, RUNNING, "cell-a");
    ORD(f, "pg", 3, CRASHED, "")->crash_count = 1;
    ORD(f, "pg", 4, RUNNING, "cell-a"); /* extra */
    ORD(f, "pg", 5, CRASHED, "");       /* extra */
}

static void assert_cell_steps_skipped(const struct bbs_conv_plan *p)
{
    assert_int_equal(p->prune_evacuating.n, 0);
    assert_int_equal(p->missing_cell.n, 0);
    assert_int_equal(p->missing_cell_unclaim.n, 0);
    assert_int_equal(p->promote.n, 0);
    assert_int_equal(p->n_missing_cells, 0);
    assert_int_equal(p->counts.cell_steps_skipped, 1);
    /* Everything else still runs. */
    assert_int_equal(p->retire.n, 2);
    assert_int_equal(p->crashed.n, 1);
}

static void test_cells_empty_after_cells_distrusted(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    cell_steps_fixture(&f);
    f.snap.n_cells = 0;
    run(&f);
    assert_int_equal(f.plan.verdict, BBS_CONV_CELLS_EMPTY_DISTRUSTED);
    assert_cell_steps_skipped(&f.plan);
    assert_int_equal(f.plan.retire.items[0].retire, BBS_CONV_RETIRE_DEFER);
    assert_int_equal(f.plan.retire.items[1].retire, BBS_CONV_RETIRE_DELETE); /* CRASHED */
    assert_int_equal(f.plan.counts.retires_deferred, 1);
    assert_int_equal(f.plan.next_prev_cells, BBS_CONV_PREV_CELLS); /* still distrusted next run */
    done(&f);
}

static void test_cells_locket_failed(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    cell_steps_fixture(&f);
    f.snap.cells_state = BBS_CONV_CELLS_FAILED;
    run(&f);
    assert_int_equal(f.plan.verdict, BBS_CONV_CELLS_LOCKET_FAILED);
    assert_cell_steps_skipped(&f.plan);
    assert_int_equal(f.plan.retire.items[0].retire, BBS_CONV_RETIRE_DEFER);
    assert_int_equal(f.plan.counts.present_cells, 0);
    done(&f);
}

static void test_cells_no_locket(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    cell_steps_fixture(&f);
    f.snap.cells_state = BBS_CONV_CELLS_UNKNOWN;
    f.snap.prev_cells = BBS_CONV_PREV_NONE;
    run(&f);
    assert_int_equal(f.plan.verdict, BBS_CONV_CELLS_NO_LOCKET);
    assert_cell_steps_skipped(&f.plan);
    /* Every cell is unknown: retiring a running instance deletes its row. */
    assert_int_equal(f.plan.retire.items[0].retire, BBS_CONV_RETIRE_DELETE);
    assert_int_equal(f.plan.counts.retires_deferred, 0);
    assert_int_equal(f.plan.next_prev_cells, BBS_CONV_PREV_NONE);
    done(&f);
}

static void test_cells_first_answer_empty(void **state)
{
    struct fixture f;

    (void)state;
    /* Rows are placed on cells: an empty first answer is still believed
     * (as upstream), and their rows are on missing cells. */
    fx_init(&f);
    cell_steps_fixture(&f);
    f.snap.n_cells = 0;
    f.snap.prev_cells = BBS_CONV_PREV_NONE;
    run(&f);
    assert_int_equal(f.plan.verdict, BBS_CONV_CELLS_OK);
    assert_true(f.plan.missing_cell.n > 0);
    assert_int_equal(f.plan.next_prev_cells, BBS_CONV_PREV_EMPTY);
    done(&f);

    /* Nothing placed: believed, and remembered as empty. */
    fx_init(&f);
    desired(&f, "pg", "fresh", 1);
    ORD(&f, "pg", 0, UNCLAIMED, "");
    f.snap.n_cells = 0;
    f.snap.prev_cells = BBS_CONV_PREV_NONE;
    run(&f);
    assert_int_equal(f.plan.verdict, BBS_CONV_CELLS_OK);
    assert_int_equal(f.plan.next_prev_cells, BBS_CONV_PREV_EMPTY);
    done(&f);
}

static void test_cells_empty_after_empty_believed(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    desired(&f, "pg", "fresh", 1);
    ORD(&f, "pg", 0, RUNNING, "cell-a");
    f.snap.n_cells = 0;
    f.snap.prev_cells = BBS_CONV_PREV_EMPTY;
    run(&f);
    assert_int_equal(f.plan.verdict, BBS_CONV_CELLS_OK);
    assert_int_equal(f.plan.missing_cell.n, 1);
    done(&f);
}

static void test_cells_back_after_distrust(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    cell_steps_fixture(&f);
    f.snap.cells = cells_ab + 1; /* only cell-b: cell-a is gone */
    f.snap.n_cells = 1;
    run(&f);
    assert_int_equal(f.plan.verdict, BBS_CONV_CELLS_OK);
    assert_int_equal(f.plan.counts.cell_steps_skipped, 0);
    assert_int_equal(f.plan.prune_evacuating.n, 1);
    assert_int_equal(f.plan.missing_cell.n, 2); /* indices 0 and 2 (4 is retired) */
    assert_int_equal(f.plan.retire.items[0].retire, BBS_CONV_RETIRE_DELETE);
    done(&f);
}

static void test_counts(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    desired(&f, "a", "fresh", 4);
    desired(&f, "b", "fresh", 2);
    ORD(&f, "a", 0, UNCLAIMED, "");
    ORD(&f, "a", 1, CLAIMED, "cell-a");
    ORD(&f, "a", 2, RUNNING, "cell-a");
    ORD(&f, "a", 3, CRASHED, "")->crash_count = 150;
    ORD(&f, "b", 0, CRASHED, "")->crash_count = 150;
    ORD(&f, "b", 1, CRASHED, "")->crash_count = 150;
    run(&f);
    assert_int_equal(f.plan.counts.desired_instances, 6);
    assert_int_equal(f.plan.counts.unclaimed, 1);
    assert_int_equal(f.plan.counts.claimed, 1);
    assert_int_equal(f.plan.counts.running, 1);
    assert_int_equal(f.plan.counts.crashed, 3);
    assert_int_equal(f.plan.counts.crashing_desired, 2);
    assert_int_equal(f.plan.counts.present_cells, 2);
    assert_int_equal(f.plan.counts.fresh_domains, 1);
    assert_int_equal(f.plan.counts.missing, 0);
    assert_int_equal(f.plan.counts.extra, 0);
    done(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_converged_nothing_to_do),
        cmocka_unit_test(test_step2_prune_evacuating),
        cmocka_unit_test(test_step3_stale_unclaimed),
        cmocka_unit_test(test_step4_missing_cell_marks_suspect),
        cmocka_unit_test(test_step4_missing_cell_replacement_unclaimed),
        cmocka_unit_test(test_step5_missing_by_index_set),
        cmocka_unit_test(test_step5_missing_next_to_suspect),
        cmocka_unit_test(test_step5_extra_only_in_fresh_domain),
        cmocka_unit_test(test_step5_extra_not_restarted),
        cmocka_unit_test(test_step6_orphans),
        cmocka_unit_test(test_step7_orphaned_suspects),
        cmocka_unit_test(test_step8_extra_suspects),
        cmocka_unit_test(test_step9_suspect_back),
        cmocka_unit_test(test_step10_suspect_counts),
        cmocka_unit_test(test_step11_crash_backoff_table),
        cmocka_unit_test(test_step11_crashed_without_desired_left),
        cmocka_unit_test(test_step12_route_drift),
        cmocka_unit_test(test_step13_tag_drift),
        cmocka_unit_test(test_tag_value),
        cmocka_unit_test(test_cells_empty_after_cells_distrusted),
        cmocka_unit_test(test_cells_locket_failed),
        cmocka_unit_test(test_cells_no_locket),
        cmocka_unit_test(test_cells_first_answer_empty),
        cmocka_unit_test(test_cells_empty_after_empty_believed),
        cmocka_unit_test(test_cells_back_after_distrust),
        cmocka_unit_test(test_counts),
    };

    return cmocka_run_group_tests_name("converge", tests, NULL, NULL);
}
