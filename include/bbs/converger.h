/*
 * converger.h - the LRP convergence loop (reference 7): its own thread,
 * one run every converge_repeat_interval and at once when a cell leaves
 * the presence set (polled cheaply, every second by default).
 *
 * A run: prune expired domains (step 1), read the cell set and the
 * snapshot, plan (converge.h), then carry out the work items in batches,
 * each batch one transaction, at most `workers` batches at a time; rep
 * stops and updates are queued on the rep client; finally ONE auction
 * request with every start request of the run. Runs never overlap. Each
 * run ends with one JSON log line ("converge.run") with its counts and
 * duration, kept for the metrics endpoint (bbs_converger_last).
 *
 * Task convergence (reference part 2, 11.7; task_converge_store.h) runs
 * in the same run after the LRP part when configured
 * (bbs_converger_set_tasks): skipped when Locket failed; its rule 3
 * (Running tasks on vanished cells) only when the LRP part believed the
 * cell set (verdict "ok"). Its auction is one POST; its callbacks go to
 * the callback worker.
 *
 * Not done here: Locket itself (the cell source is a callback, NULL = no
 * Locket: the cell steps are skipped, see converge.h).
 */
#ifndef BBS_CONVERGER_H
#define BBS_CONVERGER_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/arena.h"
#include "bbs/auction.h"
#include "bbs/converge.h"
#include "bbs/error.h"
#include "bbs/locket.h"
#include "bbs/rep.h"
#include "bbs/store.h"
#include "bbs/task_converge_store.h"

/*
 * The cell set: 0 with `*out`/`*n` (in `arena`), or -1 when Locket
 * failed (bbs_locket_cells has this shape). `cells` NULL = no Locket.
 */
struct bbs_conv_cell_source {
    int (*cells)(void *ctx, struct bbs_arena *arena, struct bbs_cell **out, size_t *n,
                 struct bbs_error *err);
    void *ctx;
};

struct bbs_converger_config {
    int64_t interval_ns;  /* converge_repeat_interval; > 0 */
    int workers;          /* convergence_workers: batches applied at once; >= 1 */
    int64_t cell_poll_ns; /* how often the cell set is polled for a vanished cell; 0 = never */
    size_t batch;         /* items per transaction; 0 = 500 */
};

/* What one run did (the counts of converge.h plus what the work phase achieved). */
struct bbs_conv_run {
    uint64_t runs;              /* runs completed since start, this one included */
    uint64_t cell_skipped_runs; /* of those, runs whose cell steps were skipped (not no-locket) */
    struct bbs_conv_counts counts;
    enum bbs_conv_cells_verdict verdict;
    int64_t duration_ns; /* from before the cell read to the end of the work phase */
    int64_t read_ns;     /* of which: domains, cells and the snapshot */
    int64_t plan_ns;     /* of which: the planner */
    int64_t domains_pruned;
    int64_t evacuating_pruned;
    int64_t created; /* B + the replacements of D */
    int64_t crashed_restarted;
    int64_t suspects_marked;
    int64_t replacements_unclaimed;
    int64_t retired;   /* rows deleted by A */
    int64_t rep_stops; /* A through the rep */
    int64_t promoted;
    int64_t suspects_retired;
    int64_t route_updates;
    int64_t tag_updates;
    int64_t rep_skipped;    /* rep calls not sent: no rep client or no rep_url */
    int64_t auctioned;      /* start requests (indices) in the run's auction request */
    int64_t failed_batches; /* transactions that failed (logged; the next run retries) */
    int failed;             /* the run stopped early (snapshot unreadable) */
    /* Task convergence (11.7): ran (0: not configured, Locket failed, or its
     * transaction failed), whether rule 3 ran, and what it did. */
    int tasks_ran;
    int tasks_cells_checked;
    struct bbs_task_conv_result tasks;
    int64_t tasks_duration_ns;
};

/* Task convergence settings (config durations, 11.7) and where rule 6 callbacks go. */
struct bbs_converger_tasks {
    int64_t kick_ns;
    int64_t expire_pending_ns;
    int64_t expire_completed_ns;
    /* Gets each kicked task's callback (bbs_taskcb_submit); NULL = dropped, logged. */
    void (*submit)(void *ctx, const struct bbs_task_callback_due *due);
    void *submit_ctx;
};

struct bbs_converger;

/*
 * A converger over `store`, `auction` and `rep` (borrowed; each must
 * outlive it; `rep` NULL = no rep calls, counted as skipped). `cells`
 * is copied (NULL = no Locket). Never NULL (OOM aborts).
 */
struct bbs_converger *bbs_converger_new(const struct bbs_converger_config *cfg,
                                        struct bbs_store *store, struct bbs_auction *auction,
                                        struct bbs_rep *rep,
                                        const struct bbs_conv_cell_source *cells);

/* Run task convergence in every run with `t` (copied). Before bbs_converger_start. */
void bbs_converger_set_tasks(struct bbs_converger *c, const struct bbs_converger_tasks *t);

/* Start the loop thread (first run one interval from now). -1 with UnknownError if it cannot. */
BBS_MUST_CHECK int bbs_converger_start(struct bbs_converger *c, struct bbs_error *err);

/* Stop the thread; a run in progress finishes first. Idempotent. */
void bbs_converger_stop(struct bbs_converger *c);

/* Stop, then free. Accepts NULL. */
void bbs_converger_free(struct bbs_converger *c);

/*
 * One run now on the caller's thread (waits for a run in progress: runs
 * never overlap). `out` (may be NULL) gets what it did.
 */
void bbs_converger_run(struct bbs_converger *c, struct bbs_conv_run *out);

/* The last completed run (zeroed before the first). */
void bbs_converger_last(struct bbs_converger *c, struct bbs_conv_run *out);

#endif /* BBS_CONVERGER_H */
