/*
 * task.c - the Task state machine (see task_rules.h and task.h).
 *
 * Upstream's ValidateTransitionTo allows Pending -> Running, Running ->
 * Completed and Completed -> Resolving; cancel and fail also accept
 * Pending, reject accepts Pending and Running (11.4.1). Every field a
 * transition writes is the one 11.4.2 lists; the rest is carried over.
 */
#include <string.h>

#include "bbs/alrp.h" /* bbs_reason_truncate */
#include "bbs/task.h"
#include "bbs/task_rules.h"

const char *bbs_task_state_name(enum bbs_task_state s)
{
    switch (s) {
    case BBS_TASK_INVALID:
        return "Invalid";
    case BBS_TASK_PENDING:
        return "Pending";
    case BBS_TASK_RUNNING:
        return "Running";
    case BBS_TASK_COMPLETED:
        return "Completed";
    case BBS_TASK_RESOLVING:
        return "Resolving";
    }
    /* Go prints an unnamed enum value as its number; a stored state is 1..4. */
    return "Invalid";
}

void bbs_task_transition_error(struct bbs_error *err, enum bbs_task_state from,
                               enum bbs_task_state to)
{
    bbs_error_setf(err, BBS_ERR_INVALID_STATE_TRANSITION, "Cannot transition from %s to %s",
                   bbs_task_state_name(from), bbs_task_state_name(to));
}

int bbs_task_on_start(const struct bbs_task *cur, const char *cell_id, int64_t now_ns,
                      struct bbs_task *next, int *should_start, struct bbs_error *err)
{
    *should_start = 0;
    *next = *cur;
    if (cur->state == BBS_TASK_RUNNING && strcmp(cur->cell_id, cell_id) == 0) {
        return 0; /* the cell asks again: it already runs the task (11.10) */
    }
    if (cur->state != BBS_TASK_PENDING) {
        bbs_task_transition_error(err, cur->state, BBS_TASK_RUNNING);
        return -1;
    }
    next->state = BBS_TASK_RUNNING;
    next->cell_id = cell_id;
    next->updated_at = now_ns;
    *should_start = 1;
    return 0;
}

/* Pending or Running may complete by cancel or fail; the rest is refused. */
static int may_finish(const struct bbs_task *cur, struct bbs_error *err)
{
    if (cur->state == BBS_TASK_PENDING || cur->state == BBS_TASK_RUNNING) {
        return 0;
    }
    bbs_task_transition_error(err, cur->state, BBS_TASK_COMPLETED);
    return -1;
}

/* upstream's completeTask: every Completed row looks like this. */
static void complete(const struct bbs_task *cur, int failed, const char *reason, const char *result,
                     int64_t now_ns, struct bbs_task *next)
{
    *next = *cur;
    next->state = BBS_TASK_COMPLETED;
    next->updated_at = now_ns;
    next->first_completed_at = now_ns;
    next->failed = failed ? 1 : 0;
    next->failure_reason = reason;
    next->result = result;
    next->cell_id = "";
}

int bbs_task_on_cancel(const struct bbs_task *cur, int64_t now_ns, struct bbs_task *next,
                       struct bbs_error *err)
{
    if (may_finish(cur, err) != 0) {
        return -1;
    }
    complete(cur, 1, "task was cancelled", "", now_ns, next);
    return 0;
}

int bbs_task_on_fail(const struct bbs_task *cur, const char *reason, int64_t now_ns,
                     char *trunc_buf, struct bbs_task *next, struct bbs_error *err)
{
    if (may_finish(cur, err) != 0) {
        return -1;
    }
    complete(cur, 1, bbs_reason_truncate(reason, trunc_buf), "", now_ns, next);
    return 0;
}

int bbs_task_on_complete(const struct bbs_task *cur, const char *cell_id, int failed,
                         const char *failure_reason, const char *result, int64_t now_ns,
                         char *trunc_buf, struct bbs_task *next, struct bbs_error *err)
{
    /* The cell is checked only while Running (11.4.1 notes). */
    if (cur->state == BBS_TASK_RUNNING && strcmp(cur->cell_id, cell_id) != 0) {
        bbs_error_setf(err, BBS_ERR_RUNNING_ON_DIFFERENT_CELL, "Running on cell %s not %s",
                       cur->cell_id, cell_id);
        return -1;
    }
    if (cur->state != BBS_TASK_RUNNING) {
        bbs_task_transition_error(err, cur->state, BBS_TASK_COMPLETED);
        return -1;
    }
    complete(cur, failed, bbs_reason_truncate(failure_reason, trunc_buf), result, now_ns, next);
    return 0;
}

int bbs_task_on_reject(const struct bbs_task *cur, const char *reason, int64_t now_ns,
                       char *trunc_buf, struct bbs_task *next, struct bbs_error *err)
{
    if (cur->state != BBS_TASK_PENDING && cur->state != BBS_TASK_RUNNING) {
        bbs_error_set(err, BBS_ERR_INVALID_REQUEST);
        return -1;
    }
    *next = *cur;
    next->state = BBS_TASK_PENDING;
    next->rejection_count = cur->rejection_count + 1;
    next->rejection_reason = bbs_reason_truncate(reason, trunc_buf);
    next->updated_at = now_ns;
    return 0;
}

int bbs_task_on_reject_max(const struct bbs_task *cur, const char *reason, int32_t max_retries,
                           int64_t now_ns, char *trunc_buf, struct bbs_task *rejected,
                           struct bbs_task *next, int *failed, struct bbs_error *err)
{
    struct bbs_error reject_err = {0};

    *failed = 0;
    if (cur->rejection_count < max_retries) {
        if (bbs_task_on_reject(cur, reason, now_ns, trunc_buf, next, err) != 0) {
            return -1;
        }
        *rejected = *next;
        return 0;
    }
    /* Past the limit: upstream rejects (its failure only logged), then
     * fails whatever the row then is, and answers fail's result. */
    if (bbs_task_on_reject(cur, reason, now_ns, trunc_buf, rejected, &reject_err) != 0) {
        *rejected = *cur;
    }
    if (bbs_task_on_fail(rejected, reason, now_ns, trunc_buf, next, err) != 0) {
        return -1;
    }
    *failed = 1;
    return 0;
}

int bbs_task_on_resolving(const struct bbs_task *cur, int64_t now_ns, struct bbs_task *next,
                          struct bbs_error *err)
{
    if (cur->state != BBS_TASK_COMPLETED) {
        bbs_task_transition_error(err, cur->state, BBS_TASK_RESOLVING);
        return -1;
    }
    *next = *cur;
    next->state = BBS_TASK_RESOLVING;
    next->updated_at = now_ns;
    return 0;
}

int bbs_task_on_delete(const struct bbs_task *cur, struct bbs_error *err)
{
    if (cur->state != BBS_TASK_RESOLVING) {
        bbs_task_transition_error(err, cur->state, BBS_TASK_RESOLVING);
        return -1;
    }
    return 0;
}
