/*
 * test_task_converge.c - task convergence decisions (task_converge.h;
 * reference part 2, 11.7): one named test per rule and boundary, and the
 * rows each write produces (11.4.2).
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bbs/task_converge.h"

#define NOW_NS   INT64_C(1700000000000000000)
#define SEC      INT64_C(1000000000)
#define KICK     (30 * SEC)
#define PENDING  (1800 * SEC)
#define COMPLETE (120 * SEC)

static const char *const CELLS[] = {"cell-a", "cell-c"}; /* sorted */

struct conv_case {
    const char *name;
    enum bbs_task_state state;
    int64_t created_ago;         /* now - created_at */
    int64_t updated_ago;         /* now - updated_at */
    int64_t first_completed_ago; /* now - first_completed_at */
    const char *cell_id;
    int believable;
    size_t n_cells; /* of CELLS */
    unsigned want;
};

static const struct conv_case cases[] = {
    /* rule 1 and 2 */
    {"pending_expired", BBS_TASK_PENDING, PENDING + 1, 0, 0, "", 1, 2,
     BBS_TASK_CONV_EXPIRE_PENDING},
    {"pending_young_is_auctioned", BBS_TASK_PENDING, 1, 1, 0, "", 1, 2, BBS_TASK_CONV_AUCTION},
    {"pending_just_created_is_auctioned", BBS_TASK_PENDING, 0, 0, 0, "", 1, 2,
     BBS_TASK_CONV_AUCTION},
    {"pending_exactly_at_cutoff_neither", BBS_TASK_PENDING, PENDING, 0, 0, "", 1, 2, 0},
    {"pending_rules_need_no_cells", BBS_TASK_PENDING, 1, 1, 0, "", 0, 0, BBS_TASK_CONV_AUCTION},
    /* rule 3 */
    {"running_on_present_cell", BBS_TASK_RUNNING, 10, 10, 0, "cell-c", 1, 2, 0},
    {"running_on_missing_cell", BBS_TASK_RUNNING, 10, 10, 0, "cell-b", 1, 2,
     BBS_TASK_CONV_CELL_GONE},
    {"running_empty_believed_set_fails_all", BBS_TASK_RUNNING, 10, 10, 0, "cell-a", 1, 0,
     BBS_TASK_CONV_CELL_GONE},
    {"running_cells_not_believable", BBS_TASK_RUNNING, 10, 10, 0, "cell-b", 0, 0, 0},
    /* rule 4 */
    {"resolving_recent", BBS_TASK_RESOLVING, 100, KICK - 1, 10, "", 1, 2, 0},
    {"resolving_at_kick_cutoff", BBS_TASK_RESOLVING, 100, KICK, 10, "", 1, 2, 0},
    {"resolving_old_demoted_and_kicked", BBS_TASK_RESOLVING, 100, KICK + 1, 40, "", 1, 2,
     BBS_TASK_CONV_DEMOTE | BBS_TASK_CONV_KICK},
    {"resolving_old_demoted_and_deleted", BBS_TASK_RESOLVING, 1000, KICK + 1, COMPLETE + 1, "", 1,
     2, BBS_TASK_CONV_DEMOTE | BBS_TASK_CONV_DELETE},
    /* rules 5 and 6 */
    {"completed_recent", BBS_TASK_COMPLETED, 100, 1, 1, "", 1, 2, 0},
    {"completed_kicked", BBS_TASK_COMPLETED, 100, KICK + 1, KICK + 1, "", 1, 2, BBS_TASK_CONV_KICK},
    {"completed_expired_deleted_not_kicked", BBS_TASK_COMPLETED, 1000, COMPLETE + 1, COMPLETE + 1,
     "", 1, 2, BBS_TASK_CONV_DELETE},
    {"completed_at_expire_cutoff_kicked", BBS_TASK_COMPLETED, 1000, COMPLETE, COMPLETE, "", 1, 2,
     BBS_TASK_CONV_KICK},
    {"completed_cell_irrelevant", BBS_TASK_COMPLETED, 100, 1, 1, "cell-b", 1, 2, 0},
};

static void test_case(void **state)
{
    const struct conv_case *c = *state;
    struct bbs_task t = {
        .guid = "t",
        .domain = "d",
        .created_at = NOW_NS - c->created_ago,
        .updated_at = NOW_NS - c->updated_ago,
        .first_completed_at = c->first_completed_ago ? NOW_NS - c->first_completed_ago : 0,
        .state = c->state,
        .cell_id = c->cell_id,
        .result = "",
        .failure_reason = "",
        .rejection_reason = "",
    };
    struct bbs_task_conv_input in = {
        NOW_NS, KICK, PENDING, COMPLETE, c->believable, c->n_cells ? CELLS : NULL, c->n_cells,
    };

    assert_int_equal(bbs_task_conv_decide(&t, &in), c->want);
}

static const struct bbs_task RUNNING_ROW = {
    .guid = "t",
    .domain = "d",
    .created_at = 1,
    .updated_at = 2,
    .first_completed_at = 0,
    .state = BBS_TASK_RUNNING,
    .cell_id = "cell-b",
    .result = "x",
    .failed = 0,
    .failure_reason = "",
    .rejection_count = 1,
    .rejection_reason = "r",
};

static void test_after_cell_gone_keeps_cell(void **state)
{
    struct bbs_task a;

    (void)state;
    assert_int_equal(bbs_task_conv_after(&RUNNING_ROW, BBS_TASK_CONV_CELL_GONE, NOW_NS, &a), 0);
    assert_int_equal(a.state, BBS_TASK_COMPLETED);
    assert_true(a.failed);
    assert_string_equal(a.failure_reason, "cell disappeared before completion");
    assert_string_equal(a.result, "");
    assert_string_equal(a.cell_id, "cell-b");
    assert_int_equal(a.first_completed_at, NOW_NS);
    assert_int_equal(a.updated_at, NOW_NS);
    assert_int_equal(a.rejection_count, 1);
    assert_int_equal(a.created_at, 1);
}

static void test_after_expire_pending(void **state)
{
    struct bbs_task b = RUNNING_ROW;
    struct bbs_task a;

    (void)state;
    b.state = BBS_TASK_PENDING;
    assert_int_equal(bbs_task_conv_after(&b, BBS_TASK_CONV_EXPIRE_PENDING, NOW_NS, &a), 0);
    assert_int_equal(a.state, BBS_TASK_COMPLETED);
    assert_true(a.failed);
    assert_string_equal(a.failure_reason, "not started within time limit");
    assert_int_equal(a.first_completed_at, NOW_NS);
    assert_int_equal(a.updated_at, NOW_NS);
}

static void test_after_demote_touches_only_state(void **state)
{
    struct bbs_task b = RUNNING_ROW;
    struct bbs_task a;

    (void)state;
    b.state = BBS_TASK_RESOLVING;
    b.first_completed_at = 5;
    assert_int_equal(bbs_task_conv_after(&b, BBS_TASK_CONV_DEMOTE, NOW_NS, &a), 0);
    assert_int_equal(a.state, BBS_TASK_COMPLETED);
    assert_int_equal(a.updated_at, 2);
    assert_int_equal(a.first_completed_at, 5);
    assert_string_equal(a.result, "x");
    assert_false(a.failed);
}

static void test_after_refuses_other_actions(void **state)
{
    struct bbs_task a;

    (void)state;
    assert_int_equal(bbs_task_conv_after(&RUNNING_ROW, BBS_TASK_CONV_DELETE, NOW_NS, &a), -1);
    assert_int_equal(bbs_task_conv_after(&RUNNING_ROW, BBS_TASK_CONV_KICK, NOW_NS, &a), -1);
}

static void test_has_cell(void **state)
{
    struct bbs_task_conv_input in = {NOW_NS, KICK, PENDING, COMPLETE, 1, CELLS, 2};

    (void)state;
    assert_true(bbs_task_conv_has_cell(&in, "cell-a"));
    assert_true(bbs_task_conv_has_cell(&in, "cell-c"));
    assert_false(bbs_task_conv_has_cell(&in, "cell-b"));
    assert_false(bbs_task_conv_has_cell(&in, ""));
}

int main(void)
{
    enum { N = sizeof(cases) / sizeof(cases[0]) };
    struct CMUnitTest tests[N + 5];
    size_t n = 0;

    for (size_t i = 0; i < N; i++) {
        tests[n++] = (struct CMUnitTest){
            .name = cases[i].name,
            .test_func = test_case,
            .initial_state = (void *)&cases[i],
        };
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_after_cell_gone_keeps_cell);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_after_expire_pending);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_after_demote_touches_only_state);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_after_refuses_other_actions);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_has_cell);
    return _cmocka_run_group_tests("task_converge", tests, n, NULL, NULL);
}
