/*
 * task_store.h - Task persistence (reference part 2, 11.4, 11.8): every
 * lifecycle call is one transaction that locks the task row (SELECT ...
 * FOR UPDATE), decides with the pure core (task.h) and writes; what it did
 * goes into the change record (change.h): the row before and after (one
 * task event each), the auction to request, the rep cancel, the callback
 * to run. Reads are single statements.
 *
 * What this module does not do: validate requests, encode responses, or
 * send anything (the caller applies the change record after the call).
 *
 * Errors, for every call: ResourceNotFound (no row for the guid),
 * InvalidStateTransition with upstream's message (11.4), InvalidRequest
 * (a value longer than its column), database errors. `now_ns` is taken
 * once per call by the caller. The strings of rows returned live in
 * `arena` (reads) or `change->arena` (changes).
 */
#ifndef BBS_TASK_STORE_H
#define BBS_TASK_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/arena.h"
#include "bbs/change.h"
#include "bbs/error.h"
#include "bbs/store.h"
#include "bbs/task.h"

/* Read filter (TasksRequest): equality, AND-ed; NULL or "" = any. */
struct bbs_task_filter {
    const char *domain;
    const char *cell_id;
};

struct bbs_task_rows {
    struct bbs_task *rows;
    size_t n;
};

BBS_MUST_CHECK int bbs_store_task_list(struct bbs_store *st, struct bbs_arena *arena,
                                       const struct bbs_task_filter *f, struct bbs_task_rows *out,
                                       struct bbs_error *err);

/*
 * The rows of bbs_store_task_list(), streamed (store.h, struct
 * bbs_cursor); close with bbs_store_cursor_close(). bbs_store_task_next:
 * 1 with `*out` (borrowing from the cursor until the next call), 2 for a
 * row whose definition does not open (skip it, as the whole list leaves it
 * out), 0 at the end, -1 with `err` when the database failed mid-way.
 */
struct bbs_cursor;
BBS_MUST_CHECK int bbs_store_task_open(struct bbs_store *st, const struct bbs_task_filter *f,
                                       struct bbs_cursor **out, struct bbs_error *err);
BBS_MUST_CHECK int bbs_store_task_next(struct bbs_cursor *c, struct bbs_task *out,
                                       struct bbs_error *err);

BBS_MUST_CHECK int bbs_store_task_get(struct bbs_store *st, struct bbs_arena *arena,
                                      const char *guid, struct bbs_task *out,
                                      struct bbs_error *err);

/*
 * Desire: insert `t` (state Pending, created_at = updated_at = now) and
 * record it as created, with its auction `start` (strings in
 * change->arena). ResourceExists when the guid is taken.
 */
BBS_MUST_CHECK int bbs_store_task_desire(struct bbs_store *st, const struct bbs_task *t,
                                         const struct bbs_task_start *start, int64_t now_ns,
                                         struct bbs_change *change, struct bbs_error *err);

/* Start on `cell_id`: `*should_start` as 11.4.1; no write on a repeat from the same cell. */
BBS_MUST_CHECK int bbs_store_task_start(struct bbs_store *st, const char *guid, const char *cell_id,
                                        int64_t now_ns, int *should_start,
                                        struct bbs_change *change, struct bbs_error *err);

/* Cancel (records the rep cancel when the locked row had a cell) and the callback. */
BBS_MUST_CHECK int bbs_store_task_cancel(struct bbs_store *st, const char *guid, int64_t now_ns,
                                         struct bbs_change *change, struct bbs_error *err);

/* Deprecated fail with the caller's reason; records the callback. */
BBS_MUST_CHECK int bbs_store_task_fail(struct bbs_store *st, const char *guid, const char *reason,
                                       int64_t now_ns, struct bbs_change *change,
                                       struct bbs_error *err);

/*
 * Reject: count it (rejection_count + 1) and go back to Pending; when the
 * locked row's count was already >= `max_retries`, fail the task with
 * the reason instead (11.4.1, 11.9 q3: one transaction, the count from
 * the locked row). Records the callback when it failed.
 */
BBS_MUST_CHECK int bbs_store_task_reject(struct bbs_store *st, const char *guid, const char *reason,
                                         int32_t max_retries, int64_t now_ns,
                                         struct bbs_change *change, struct bbs_error *err);

/* Complete from `cell_id` (RunningOnDifferentCell); records the callback. */
BBS_MUST_CHECK int bbs_store_task_complete(struct bbs_store *st, const char *guid,
                                           const char *cell_id, int failed,
                                           const char *failure_reason, const char *result,
                                           int64_t now_ns, struct bbs_change *change,
                                           struct bbs_error *err);

/* Completed -> Resolving (the resolving route and the callback worker). */
BBS_MUST_CHECK int bbs_store_task_resolving(struct bbs_store *st, const char *guid, int64_t now_ns,
                                            struct bbs_change *change, struct bbs_error *err);

/* Delete a Resolving task (the delete route and the callback worker). */
BBS_MUST_CHECK int bbs_store_task_delete(struct bbs_store *st, const char *guid,
                                         struct bbs_change *change, struct bbs_error *err);

#endif /* BBS_TASK_STORE_H */
