/*
 * taskcb.h - the task completion callback worker (reference part 2, 11.6).
 *
 * A submitted callback runs three steps: the resolving transition
 * (Completed -> Resolving, bbs_store_task_resolving; its task_changed
 * event is logged by the store with the change), the POST of upstream's
 * body to the task's completion_callback_url (callback.h, through the
 * outbox: three attempts on timeout, closed connection, 503 or 504), and,
 * when an answer other than 503/504 arrived, the delete
 * (bbs_store_task_delete, whose task_removed event exists only if the
 * delete succeeded: 11.9 q10). A resolving transition that fails (task no
 * longer Completed, gone, database error) ends the callback before any
 * HTTP call; after three retryable failures the task stays Resolving
 * until convergence demotes and resubmits it (11.7 rules 4 and 6).
 *
 * Threads: the store calls run on a few threads of this module (the
 * outbox thread must never wait on the database); the POST runs on the
 * outbox thread, whose completion hands the delete back to those
 * threads. At most `workers` callbacks are in progress at once (upstream's
 * task_callback_workers); a submission beyond that is dropped with a log
 * line and counted (upstream blocks the submitter instead): the task stays
 * Completed and convergence resubmits it after kick_task_duration.
 *
 * Not done here: deciding which tasks get a callback (the store records
 * them, convergence's rule 6 finds them).
 */
#ifndef BBS_TASKCB_H
#define BBS_TASKCB_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/callback.h"
#include "bbs/error.h"
#include "bbs/store.h"
#include "bbs/task.h"

struct bbs_taskcb_config {
    int workers; /* callbacks in progress at most (task_callback_workers); >= 1 */
    int threads; /* threads running the store calls; 0 = 4 */
};

/* Counters since start, each read atomically. */
struct bbs_taskcb_stats {
    uint64_t submitted;      /* accepted */
    uint64_t skipped;        /* submitted without a callback URL: nothing to do */
    uint64_t dropped;        /* refused: `workers` in progress, or stopping */
    uint64_t resolve_failed; /* the resolving transition failed: no POST */
    uint64_t deleted;        /* callback answered, task deleted */
    uint64_t delete_failed;  /* callback answered, delete failed */
    uint64_t kept_resolving; /* no resolving answer after the attempts: stays Resolving */
};

struct bbs_taskcb;

/*
 * A worker over `store` and `callback` (borrowed; both must outlive it,
 * and `callback`'s outbox must be stopped before bbs_taskcb_free).
 * Never NULL (OOM aborts).
 */
struct bbs_taskcb *bbs_taskcb_new(const struct bbs_taskcb_config *cfg, struct bbs_store *store,
                                  struct bbs_callback *callback);

/* Start the store threads. -1 with UnknownError if none can start. */
BBS_MUST_CHECK int bbs_taskcb_start(struct bbs_taskcb *tc, struct bbs_error *err);

/*
 * Submit the callback of the Completed task `d` (strings and the task
 * copied before return; an empty url does nothing). Never blocks. `tc` is
 * a struct bbs_taskcb * (void * so struct bbs_effects can hold it as a
 * hook). Safe from any thread.
 */
void bbs_taskcb_submit(void *tc, const struct bbs_task_callback_due *d);

/*
 * Stop: queued work is dropped (counted), a store call in progress ends
 * first, the threads are joined. Work the outbox hands back later is
 * dropped. Idempotent.
 */
void bbs_taskcb_stop(struct bbs_taskcb *tc);

/* Stop, then free; only once the outbox is stopped. Accepts NULL. */
void bbs_taskcb_free(struct bbs_taskcb *tc);

/* Callbacks in progress (accepted, not finished). */
size_t bbs_taskcb_busy(struct bbs_taskcb *tc);

void bbs_taskcb_stats(struct bbs_taskcb *tc, struct bbs_taskcb_stats *out);

#endif /* BBS_TASKCB_H */
