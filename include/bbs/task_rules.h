/*
 * task_rules.h - the Task state machine (pure core, reference part 2,
 * 11.4): given the locked row and a call, the next row or upstream's
 * error with its exact message.
 *
 * No I/O, clock, allocation or logging: the store locks and loads the row,
 * passes `now_ns`, and persists `*next`. `next` borrows strings from `cur`,
 * from the arguments and from `trunc_buf` (BBS_REASON_MAX + 1 bytes, see
 * alrp.h) where a reason is stored truncated (11.4.3). `cur` is never
 * modified. Errors: InvalidStateTransition "Cannot transition from <From>
 * to <To>", RunningOnDifferentCell, InvalidRequest (reject of a finished
 * task), each with upstream's message.
 */
#ifndef BBS_TASK_RULES_H
#define BBS_TASK_RULES_H

#include <stdint.h>

#include "bbs/error.h"
#include "bbs/task.h"

/* "Cannot transition from <from> to <to>" as InvalidStateTransition. */
void bbs_task_transition_error(struct bbs_error *err, enum bbs_task_state from,
                               enum bbs_task_state to);

/*
 * Start on `cell_id`. Pending: `*next` Running on the cell, `*should_start`
 * 1. Running on the same cell: `*next` = `*cur` and `*should_start` 0 (a
 * no-op: nothing to write or record). Anything else: an error.
 */
BBS_MUST_CHECK int bbs_task_on_start(const struct bbs_task *cur, const char *cell_id,
                                     int64_t now_ns, struct bbs_task *next, int *should_start,
                                     struct bbs_error *err);

/* Cancel (Pending or Running): Completed, failed, "task was cancelled", cell cleared. */
BBS_MUST_CHECK int bbs_task_on_cancel(const struct bbs_task *cur, int64_t now_ns,
                                      struct bbs_task *next, struct bbs_error *err);

/* Deprecated fail with `reason` (Pending or Running): as cancel with the reason, truncated. */
BBS_MUST_CHECK int bbs_task_on_fail(const struct bbs_task *cur, const char *reason, int64_t now_ns,
                                    char *trunc_buf, struct bbs_task *next, struct bbs_error *err);

/*
 * Complete from `cell_id` (Running on that cell): Completed with the
 * cell's outcome; the reason truncated, the result as sent.
 */
BBS_MUST_CHECK int bbs_task_on_complete(const struct bbs_task *cur, const char *cell_id, int failed,
                                        const char *failure_reason, const char *result,
                                        int64_t now_ns, char *trunc_buf, struct bbs_task *next,
                                        struct bbs_error *err);

/*
 * Reject with `reason` (Pending or Running): Pending, rejection_count + 1,
 * the reason truncated, the cell kept. Completed or Resolving:
 * InvalidRequest "the request received is invalid".
 */
BBS_MUST_CHECK int bbs_task_on_reject(const struct bbs_task *cur, const char *reason,
                                      int64_t now_ns, char *trunc_buf, struct bbs_task *next,
                                      struct bbs_error *err);

/*
 * Reject counted against `max_retries` (11.4.1, 11.9 q3): when the locked
 * row's count is below the limit, exactly bbs_task_on_reject (`*failed`
 * 0, `*rejected` = `*next`). Otherwise the reject is applied first and
 * the task then failed with the same reason: `*rejected` is the row
 * between the two steps (the `before` of the change recorded, 11.10),
 * `*next` the failed row, `*failed` 1. When the task is finished already
 * the answer is the fail step's error (InvalidStateTransition to
 * Completed), as upstream returns fail's result.
 */
BBS_MUST_CHECK int bbs_task_on_reject_max(const struct bbs_task *cur, const char *reason,
                                          int32_t max_retries, int64_t now_ns, char *trunc_buf,
                                          struct bbs_task *rejected, struct bbs_task *next,
                                          int *failed, struct bbs_error *err);

/* Completed -> Resolving. */
BBS_MUST_CHECK int bbs_task_on_resolving(const struct bbs_task *cur, int64_t now_ns,
                                         struct bbs_task *next, struct bbs_error *err);

/* Delete: allowed from Resolving only ("Cannot transition from X to Resolving" otherwise). */
BBS_MUST_CHECK int bbs_task_on_delete(const struct bbs_task *cur, struct bbs_error *err);

#endif /* BBS_TASK_RULES_H */
