/*
 * test_task.c - the Task state machine (task_rules.h): one named test per
 * cell of the transition table (reference part 2, 11.4.1) and per row of
 * the fields-written table (11.4.2), plus truncation (11.4.3).
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "bbs/alrp.h"
#include "bbs/task.h"
#include "bbs/task_rules.h"

#define NOW INT64_C(1700000000000000000)
#define T0  INT64_C(1600000000000000000)

static struct bbs_task row(enum bbs_task_state s)
{
    struct bbs_task t = {0};

    t.guid = "t-1";
    t.domain = "d";
    t.created_at = T0;
    t.updated_at = T0 + 1;
    t.first_completed_at = s >= BBS_TASK_COMPLETED ? T0 + 2 : 0;
    t.state = s;
    t.cell_id = s == BBS_TASK_RUNNING ? "cell-a" : "";
    t.result = "";
    t.failure_reason = "";
    t.rejection_reason = "";
    return t;
}

static void expect_error(int rc, const struct bbs_error *e, enum bbs_error_type type,
                         const char *message)
{
    assert_int_equal(rc, -1);
    assert_int_equal(e->type, type);
    assert_string_equal(e->message, message);
}

/* ---- start ---- */

static void start_pending_runs_on_the_cell(void **state)
{
    struct bbs_task cur = row(BBS_TASK_PENDING), next;
    struct bbs_error e = {0};
    int should = 0;

    (void)state;
    assert_int_equal(bbs_task_on_start(&cur, "cell-b", NOW, &next, &should, &e), 0);
    assert_true(should);
    assert_int_equal(next.state, BBS_TASK_RUNNING);
    assert_string_equal(next.cell_id, "cell-b");
    assert_int_equal(next.updated_at, NOW);
    assert_int_equal(next.created_at, T0);
    assert_int_equal(next.first_completed_at, 0);
}

static void start_running_same_cell_is_a_noop(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RUNNING), next;
    struct bbs_error e = {0};
    int should = 1;

    (void)state;
    assert_int_equal(bbs_task_on_start(&cur, "cell-a", NOW, &next, &should, &e), 0);
    assert_false(should);
    assert_int_equal(next.state, BBS_TASK_RUNNING);
    assert_int_equal(next.updated_at, T0 + 1);
}

static void start_running_other_cell_is_refused(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RUNNING), next;
    struct bbs_error e = {0};
    int should = 1;

    (void)state;
    expect_error(bbs_task_on_start(&cur, "cell-b", NOW, &next, &should, &e), &e,
                 BBS_ERR_INVALID_STATE_TRANSITION, "Cannot transition from Running to Running");
    assert_false(should);
}

static void start_completed_is_refused(void **state)
{
    struct bbs_task cur = row(BBS_TASK_COMPLETED), next;
    struct bbs_error e = {0};
    int should;

    (void)state;
    expect_error(bbs_task_on_start(&cur, "cell-a", NOW, &next, &should, &e), &e,
                 BBS_ERR_INVALID_STATE_TRANSITION, "Cannot transition from Completed to Running");
}

static void start_resolving_is_refused(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RESOLVING), next;
    struct bbs_error e = {0};
    int should;

    (void)state;
    expect_error(bbs_task_on_start(&cur, "cell-a", NOW, &next, &should, &e), &e,
                 BBS_ERR_INVALID_STATE_TRANSITION, "Cannot transition from Resolving to Running");
}

/* ---- cancel ---- */

static void check_cancelled(const struct bbs_task *next)
{
    assert_int_equal(next->state, BBS_TASK_COMPLETED);
    assert_true(next->failed);
    assert_string_equal(next->failure_reason, "task was cancelled");
    assert_string_equal(next->result, "");
    assert_string_equal(next->cell_id, "");
    assert_int_equal(next->first_completed_at, NOW);
    assert_int_equal(next->updated_at, NOW);
    assert_int_equal(next->created_at, T0);
}

static void cancel_pending_completes_cancelled(void **state)
{
    struct bbs_task cur = row(BBS_TASK_PENDING), next;
    struct bbs_error e = {0};

    (void)state;
    assert_int_equal(bbs_task_on_cancel(&cur, NOW, &next, &e), 0);
    check_cancelled(&next);
}

static void cancel_running_completes_cancelled_and_clears_the_cell(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RUNNING), next;
    struct bbs_error e = {0};

    (void)state;
    assert_int_equal(bbs_task_on_cancel(&cur, NOW, &next, &e), 0);
    check_cancelled(&next);
    assert_string_equal(cur.cell_id, "cell-a"); /* cur untouched */
}

static void cancel_completed_is_refused(void **state)
{
    struct bbs_task cur = row(BBS_TASK_COMPLETED), next;
    struct bbs_error e = {0};

    (void)state;
    expect_error(bbs_task_on_cancel(&cur, NOW, &next, &e), &e, BBS_ERR_INVALID_STATE_TRANSITION,
                 "Cannot transition from Completed to Completed");
}

static void cancel_resolving_is_refused(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RESOLVING), next;
    struct bbs_error e = {0};

    (void)state;
    expect_error(bbs_task_on_cancel(&cur, NOW, &next, &e), &e, BBS_ERR_INVALID_STATE_TRANSITION,
                 "Cannot transition from Resolving to Completed");
}

/* ---- fail (deprecated) ---- */

static void check_failed(const struct bbs_task *next, const char *reason)
{
    assert_int_equal(next->state, BBS_TASK_COMPLETED);
    assert_true(next->failed);
    assert_string_equal(next->failure_reason, reason);
    assert_string_equal(next->result, "");
    assert_string_equal(next->cell_id, "");
    assert_int_equal(next->first_completed_at, NOW);
    assert_int_equal(next->updated_at, NOW);
}

static void fail_pending_completes_failed(void **state)
{
    struct bbs_task cur = row(BBS_TASK_PENDING), next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];

    (void)state;
    assert_int_equal(bbs_task_on_fail(&cur, "nope", NOW, buf, &next, &e), 0);
    check_failed(&next, "nope");
}

static void fail_running_completes_failed(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RUNNING), next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];

    (void)state;
    assert_int_equal(bbs_task_on_fail(&cur, "nope", NOW, buf, &next, &e), 0);
    check_failed(&next, "nope");
}

static void fail_completed_is_refused(void **state)
{
    struct bbs_task cur = row(BBS_TASK_COMPLETED), next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];

    (void)state;
    expect_error(bbs_task_on_fail(&cur, "nope", NOW, buf, &next, &e), &e,
                 BBS_ERR_INVALID_STATE_TRANSITION, "Cannot transition from Completed to Completed");
}

static void fail_resolving_is_refused(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RESOLVING), next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];

    (void)state;
    expect_error(bbs_task_on_fail(&cur, "nope", NOW, buf, &next, &e), &e,
                 BBS_ERR_INVALID_STATE_TRANSITION, "Cannot transition from Resolving to Completed");
}

/* ---- complete ---- */

static void complete_pending_is_refused(void **state)
{
    struct bbs_task cur = row(BBS_TASK_PENDING), next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];

    (void)state;
    expect_error(bbs_task_on_complete(&cur, "cell-a", 0, "", "r", NOW, buf, &next, &e), &e,
                 BBS_ERR_INVALID_STATE_TRANSITION, "Cannot transition from Pending to Completed");
}

static void complete_running_same_cell_completes(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RUNNING), next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];

    (void)state;
    assert_int_equal(bbs_task_on_complete(&cur, "cell-a", 0, "", "out", NOW, buf, &next, &e), 0);
    assert_int_equal(next.state, BBS_TASK_COMPLETED);
    assert_false(next.failed);
    assert_string_equal(next.failure_reason, "");
    assert_string_equal(next.result, "out");
    assert_string_equal(next.cell_id, "");
    assert_int_equal(next.first_completed_at, NOW);
    assert_int_equal(next.updated_at, NOW);
}

static void complete_running_failed_keeps_result_and_reason(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RUNNING), next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];

    (void)state;
    assert_int_equal(bbs_task_on_complete(&cur, "cell-a", 1, "oom", "partial", NOW, buf, &next, &e),
                     0);
    assert_true(next.failed);
    assert_string_equal(next.failure_reason, "oom");
    assert_string_equal(next.result, "partial");
}

static void complete_running_other_cell_is_running_on_different_cell(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RUNNING), next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];

    (void)state;
    expect_error(bbs_task_on_complete(&cur, "cell-b", 0, "", "", NOW, buf, &next, &e), &e,
                 BBS_ERR_RUNNING_ON_DIFFERENT_CELL, "Running on cell cell-a not cell-b");
}

static void complete_completed_is_refused(void **state)
{
    struct bbs_task cur = row(BBS_TASK_COMPLETED), next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];

    (void)state;
    expect_error(bbs_task_on_complete(&cur, "cell-b", 0, "", "", NOW, buf, &next, &e), &e,
                 BBS_ERR_INVALID_STATE_TRANSITION, "Cannot transition from Completed to Completed");
}

static void complete_resolving_is_refused(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RESOLVING), next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];

    (void)state;
    expect_error(bbs_task_on_complete(&cur, "cell-b", 0, "", "", NOW, buf, &next, &e), &e,
                 BBS_ERR_INVALID_STATE_TRANSITION, "Cannot transition from Resolving to Completed");
}

/* ---- reject, below the limit ---- */

static void reject_pending_counts_and_stays_pending(void **state)
{
    struct bbs_task cur = row(BBS_TASK_PENDING), rej, next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];
    int failed = 1;

    (void)state;
    cur.rejection_count = 1;
    assert_int_equal(bbs_task_on_reject_max(&cur, "full", 3, NOW, buf, &rej, &next, &failed, &e),
                     0);
    assert_false(failed);
    assert_int_equal(next.state, BBS_TASK_PENDING);
    assert_int_equal(next.rejection_count, 2);
    assert_string_equal(next.rejection_reason, "full");
    assert_int_equal(next.updated_at, NOW);
    assert_false(next.failed);
}

static void reject_running_goes_pending_and_keeps_the_cell(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RUNNING), rej, next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];
    int failed = 1;

    (void)state;
    assert_int_equal(bbs_task_on_reject_max(&cur, "full", 3, NOW, buf, &rej, &next, &failed, &e),
                     0);
    assert_false(failed);
    assert_int_equal(next.state, BBS_TASK_PENDING);
    assert_int_equal(next.rejection_count, 1);
    assert_string_equal(next.cell_id, "cell-a");
}

static void reject_completed_is_invalid_request(void **state)
{
    struct bbs_task cur = row(BBS_TASK_COMPLETED), rej, next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];
    int failed;

    (void)state;
    expect_error(bbs_task_on_reject_max(&cur, "full", 3, NOW, buf, &rej, &next, &failed, &e), &e,
                 BBS_ERR_INVALID_REQUEST, "the request received is invalid");
}

static void reject_resolving_is_invalid_request(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RESOLVING), rej, next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];
    int failed;

    (void)state;
    expect_error(bbs_task_on_reject_max(&cur, "full", 3, NOW, buf, &rej, &next, &failed, &e), &e,
                 BBS_ERR_INVALID_REQUEST, "the request received is invalid");
}

/* ---- reject, at or past the limit ---- */

static void reject_past_max_pending_fails_the_task(void **state)
{
    struct bbs_task cur = row(BBS_TASK_PENDING), rej, next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];
    int failed = 0;

    (void)state;
    cur.rejection_count = 3;
    assert_int_equal(bbs_task_on_reject_max(&cur, "full", 3, NOW, buf, &rej, &next, &failed, &e),
                     0);
    assert_true(failed);
    /* the before of the change shows the rejection counted (11.10) */
    assert_int_equal(rej.state, BBS_TASK_PENDING);
    assert_int_equal(rej.rejection_count, 4);
    check_failed(&next, "full");
    assert_int_equal(next.rejection_count, 4);
    assert_string_equal(next.rejection_reason, "full");
}

static void reject_past_max_running_goes_pending_then_completed(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RUNNING), rej, next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];
    int failed = 0;

    (void)state;
    cur.rejection_count = 5;
    assert_int_equal(bbs_task_on_reject_max(&cur, "full", 3, NOW, buf, &rej, &next, &failed, &e),
                     0);
    assert_true(failed);
    assert_int_equal(rej.state, BBS_TASK_PENDING);
    assert_string_equal(rej.cell_id, "cell-a");
    check_failed(&next, "full");
}

static void reject_with_max_zero_fails_on_the_first(void **state)
{
    struct bbs_task cur = row(BBS_TASK_PENDING), rej, next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];
    int failed = 0;

    (void)state;
    assert_int_equal(bbs_task_on_reject_max(&cur, "full", 0, NOW, buf, &rej, &next, &failed, &e),
                     0);
    assert_true(failed);
    assert_int_equal(next.rejection_count, 1);
}

static void reject_past_max_completed_answers_the_fail_error(void **state)
{
    struct bbs_task cur = row(BBS_TASK_COMPLETED), rej, next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];
    int failed;

    (void)state;
    cur.rejection_count = 3;
    expect_error(bbs_task_on_reject_max(&cur, "full", 3, NOW, buf, &rej, &next, &failed, &e), &e,
                 BBS_ERR_INVALID_STATE_TRANSITION, "Cannot transition from Completed to Completed");
}

static void reject_past_max_resolving_answers_the_fail_error(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RESOLVING), rej, next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];
    int failed;

    (void)state;
    cur.rejection_count = 3;
    expect_error(bbs_task_on_reject_max(&cur, "full", 3, NOW, buf, &rej, &next, &failed, &e), &e,
                 BBS_ERR_INVALID_STATE_TRANSITION, "Cannot transition from Resolving to Completed");
}

/* ---- resolving ---- */

static void resolving_pending_is_refused(void **state)
{
    struct bbs_task cur = row(BBS_TASK_PENDING), next;
    struct bbs_error e = {0};

    (void)state;
    expect_error(bbs_task_on_resolving(&cur, NOW, &next, &e), &e, BBS_ERR_INVALID_STATE_TRANSITION,
                 "Cannot transition from Pending to Resolving");
}

static void resolving_running_is_refused(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RUNNING), next;
    struct bbs_error e = {0};

    (void)state;
    expect_error(bbs_task_on_resolving(&cur, NOW, &next, &e), &e, BBS_ERR_INVALID_STATE_TRANSITION,
                 "Cannot transition from Running to Resolving");
}

static void resolving_completed_resolves(void **state)
{
    struct bbs_task cur = row(BBS_TASK_COMPLETED), next;
    struct bbs_error e = {0};

    (void)state;
    cur.failed = 1;
    cur.failure_reason = "x";
    assert_int_equal(bbs_task_on_resolving(&cur, NOW, &next, &e), 0);
    assert_int_equal(next.state, BBS_TASK_RESOLVING);
    assert_int_equal(next.updated_at, NOW);
    assert_int_equal(next.first_completed_at, T0 + 2);
    assert_true(next.failed);
    assert_string_equal(next.failure_reason, "x");
}

static void resolving_resolving_is_refused(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RESOLVING), next;
    struct bbs_error e = {0};

    (void)state;
    expect_error(bbs_task_on_resolving(&cur, NOW, &next, &e), &e, BBS_ERR_INVALID_STATE_TRANSITION,
                 "Cannot transition from Resolving to Resolving");
}

/* ---- delete ---- */

static void delete_pending_is_refused(void **state)
{
    struct bbs_task cur = row(BBS_TASK_PENDING);
    struct bbs_error e = {0};

    (void)state;
    expect_error(bbs_task_on_delete(&cur, &e), &e, BBS_ERR_INVALID_STATE_TRANSITION,
                 "Cannot transition from Pending to Resolving");
}

static void delete_running_is_refused(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RUNNING);
    struct bbs_error e = {0};

    (void)state;
    expect_error(bbs_task_on_delete(&cur, &e), &e, BBS_ERR_INVALID_STATE_TRANSITION,
                 "Cannot transition from Running to Resolving");
}

static void delete_completed_is_refused(void **state)
{
    struct bbs_task cur = row(BBS_TASK_COMPLETED);
    struct bbs_error e = {0};

    (void)state;
    expect_error(bbs_task_on_delete(&cur, &e), &e, BBS_ERR_INVALID_STATE_TRANSITION,
                 "Cannot transition from Completed to Resolving");
}

static void delete_resolving_is_allowed(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RESOLVING);
    struct bbs_error e = {0};

    (void)state;
    assert_int_equal(bbs_task_on_delete(&cur, &e), 0);
}

/* ---- truncation (11.4.3) and names ---- */

static void long_failure_reason_is_truncated(void **state)
{
    struct bbs_task cur = row(BBS_TASK_RUNNING), next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];
    char reason[1100];

    (void)state;
    memset(reason, 'x', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = '\0';
    assert_int_equal(bbs_task_on_complete(&cur, "cell-a", 1, reason, reason, NOW, buf, &next, &e),
                     0);
    assert_int_equal(strlen(next.failure_reason), 1024);
    assert_string_equal(next.failure_reason + 1013, "(truncated)");
    assert_int_equal(strlen(next.result), 1099); /* result is not truncated */
}

static void reason_of_1023_bytes_is_kept(void **state)
{
    struct bbs_task cur = row(BBS_TASK_PENDING), next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];
    char reason[1024];

    (void)state;
    memset(reason, 'y', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = '\0';
    assert_int_equal(bbs_task_on_fail(&cur, reason, NOW, buf, &next, &e), 0);
    assert_string_equal(next.failure_reason, reason);
}

static void long_rejection_reason_is_truncated(void **state)
{
    struct bbs_task cur = row(BBS_TASK_PENDING), rej, next;
    struct bbs_error e = {0};
    char buf[BBS_REASON_MAX + 1];
    char reason[2000];
    int failed;

    (void)state;
    memset(reason, 'z', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = '\0';
    assert_int_equal(bbs_task_on_reject_max(&cur, reason, 3, NOW, buf, &rej, &next, &failed, &e),
                     0);
    assert_int_equal(strlen(next.rejection_reason), 1024);
    assert_string_equal(next.rejection_reason + 1013, "(truncated)");
}

static void state_names_are_upstreams(void **state)
{
    (void)state;
    assert_string_equal(bbs_task_state_name(BBS_TASK_INVALID), "Invalid");
    assert_string_equal(bbs_task_state_name(BBS_TASK_PENDING), "Pending");
    assert_string_equal(bbs_task_state_name(BBS_TASK_RUNNING), "Running");
    assert_string_equal(bbs_task_state_name(BBS_TASK_COMPLETED), "Completed");
    assert_string_equal(bbs_task_state_name(BBS_TASK_RESOLVING), "Resolving");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(start_pending_runs_on_the_cell),
        cmocka_unit_test(start_running_same_cell_is_a_noop),
        cmocka_unit_test(start_running_other_cell_is_refused),
        cmocka_unit_test(start_completed_is_refused),
        cmocka_unit_test(start_resolving_is_refused),
        cmocka_unit_test(cancel_pending_completes_cancelled),
        cmocka_unit_test(cancel_running_completes_cancelled_and_clears_the_cell),
        cmocka_unit_test(cancel_completed_is_refused),
        cmocka_unit_test(cancel_resolving_is_refused),
        cmocka_unit_test(fail_pending_completes_failed),
        cmocka_unit_test(fail_running_completes_failed),
        cmocka_unit_test(fail_completed_is_refused),
        cmocka_unit_test(fail_resolving_is_refused),
        cmocka_unit_test(complete_pending_is_refused),
        cmocka_unit_test(complete_running_same_cell_completes),
        cmocka_unit_test(complete_running_failed_keeps_result_and_reason),
        cmocka_unit_test(complete_running_other_cell_is_running_on_different_cell),
        cmocka_unit_test(complete_completed_is_refused),
        cmocka_unit_test(complete_resolving_is_refused),
        cmocka_unit_test(reject_pending_counts_and_stays_pending),
        cmocka_unit_test(reject_running_goes_pending_and_keeps_the_cell),
        cmocka_unit_test(reject_completed_is_invalid_request),
        cmocka_unit_test(reject_resolving_is_invalid_request),
        cmocka_unit_test(reject_past_max_pending_fails_the_task),
        cmocka_unit_test(reject_past_max_running_goes_pending_then_completed),
        cmocka_unit_test(reject_with_max_zero_fails_on_the_first),
        cmocka_unit_test(reject_past_max_completed_answers_the_fail_error),
        cmocka_unit_test(reject_past_max_resolving_answers_the_fail_error),
        cmocka_unit_test(resolving_pending_is_refused),
        cmocka_unit_test(resolving_running_is_refused),
        cmocka_unit_test(resolving_completed_resolves),
        cmocka_unit_test(resolving_resolving_is_refused),
        cmocka_unit_test(delete_pending_is_refused),
        cmocka_unit_test(delete_running_is_refused),
        cmocka_unit_test(delete_completed_is_refused),
        cmocka_unit_test(delete_resolving_is_allowed),
        cmocka_unit_test(long_failure_reason_is_truncated),
        cmocka_unit_test(reason_of_1023_bytes_is_kept),
        cmocka_unit_test(long_rejection_reason_is_truncated),
        cmocka_unit_test(state_names_are_upstreams),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
