/*
 * task_converge.h - what task convergence does to one task (reference
 * part 2, 11.7), decided from the row alone (pure core: no I/O, clock or
 * allocation; the caller passes `now_ns` and the cell set).
 *
 * The rules, in upstream's order (a task can meet two: a Resolving task
 * demoted by rule 4 is then Completed for rules 5 and 6):
 *   1 Pending, created before now - expire_pending: fail it ("not started
 *     within time limit").
 *   2 Pending, created after that cut-off: auction it again (exactly at
 *     the cut-off: neither, as upstream).
 *   3 Running on a cell not in the cell set: fail it ("cell disappeared
 *     before completion", cell_id kept). Only with a believable cell set
 *     (the caller decides: Locket answered and the set passed the LRP
 *     convergence's safety rule); an empty believable set fails every
 *     Running task (11.9 q12).
 *   4 Resolving, updated before now - kick: back to Completed (updated_at
 *     untouched).
 *   5 Completed, first completed before now - expire_completed: delete.
 *   6 Completed (and not deleted), updated before now - kick: submit its
 *     completion callback again.
 *
 * Not done here: reading rows, writing, events (task_converge_store.h).
 */
#ifndef BBS_TASK_CONVERGE_H
#define BBS_TASK_CONVERGE_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/task.h"

struct bbs_task_conv_input {
    int64_t now_ns;
    int64_t kick_ns;             /* kick_task_duration */
    int64_t expire_pending_ns;   /* expire_pending_task_duration */
    int64_t expire_completed_ns; /* expire_completed_task_duration */
    int cells_believable;        /* 0: rule 3 is skipped */
    const char *const *cells;    /* cell ids present, sorted by strcmp */
    size_t n_cells;
};

/* What to do with one task: a set of these bits. */
enum bbs_task_conv_action {
    BBS_TASK_CONV_EXPIRE_PENDING = 1, /* rule 1 */
    BBS_TASK_CONV_AUCTION = 2,        /* rule 2 */
    BBS_TASK_CONV_CELL_GONE = 4,      /* rule 3 */
    BBS_TASK_CONV_DEMOTE = 8,         /* rule 4 */
    BBS_TASK_CONV_DELETE = 16,        /* rule 5 */
    BBS_TASK_CONV_KICK = 32,          /* rule 6 */
};

/* The bits of enum bbs_task_conv_action that apply to `t` (0: nothing). */
unsigned bbs_task_conv_decide(const struct bbs_task *t, const struct bbs_task_conv_input *in);

/* 1 when `cell_id` is in the (sorted) cell set of `in`. */
int bbs_task_conv_has_cell(const struct bbs_task_conv_input *in, const char *cell_id);

/*
 * The row after the write of rule 1, 3 or 4 (`action` one of
 * EXPIRE_PENDING, CELL_GONE, DEMOTE), fields as 11.4.2; `after`
 * borrows strings from `before` and static text. 0, or -1 for another
 * action.
 */
int bbs_task_conv_after(const struct bbs_task *before, unsigned action, int64_t now_ns,
                        struct bbs_task *after);

/* Failure reasons written by rules 1 and 3 (upstream's text). */
#define BBS_TASK_CONV_REASON_EXPIRED   "not started within time limit"
#define BBS_TASK_CONV_REASON_CELL_GONE "cell disappeared before completion"

#endif /* BBS_TASK_CONVERGE_H */
