/*
 * task_converge_store.h - one run of task convergence against the
 * database (reference part 2, 11.7), in one transaction.
 *
 * The rows the rules can touch are read and locked (SELECT ... FOR
 * UPDATE), their definitions decoded (rows that do not decode are
 * deleted and counted as pruned, without events), the pure planner
 * (task_converge.h) decides per row, and each rule's write is one
 * statement over the guids it chose, guarded by the rule's state, with
 * RETURNING: only rows that statement actually changed are recorded, so
 * only they emit events (11.9 q7). The change record gets: one task
 * entry per row changed or deleted (task_changed for rules 1, 3, 4,
 * task_removed for rule 5, in rule order; the change log writes their
 * events in the same transaction), the task auctions of rule 2 and the
 * callbacks of rule 6 (for the caller to send after the commit).
 *
 * What this module does not do: read the cell set, send the auction or
 * the callbacks (the converger does, converger.h).
 */
#ifndef BBS_TASK_CONVERGE_STORE_H
#define BBS_TASK_CONVERGE_STORE_H

#include <stdint.h>

#include "bbs/change.h"
#include "bbs/error.h"
#include "bbs/store.h"
#include "bbs/task_converge.h"

/* What a run found and did (counts by state are read before the writes). */
struct bbs_task_conv_result {
    int64_t pending; /* rule 7: tasks by state */
    int64_t running;
    int64_t completed;
    int64_t resolving;
    int64_t expired_pending; /* rule 1 rows changed */
    int64_t cell_gone;       /* rule 3 */
    int64_t demoted;         /* rule 4 */
    int64_t deleted;         /* rule 5 */
    int64_t pruned;          /* undecodable definitions deleted */
    int64_t auctioned;       /* rule 2 start requests recorded */
    int64_t kicked;          /* rule 6 callbacks recorded */
};

/*
 * Run the rules with `in` (its cell list borrowed) and record what they
 * did in `change` (rows, auctions, callbacks in change->arena). -1 with a
 * database error: nothing was written, the record is as before.
 */
BBS_MUST_CHECK int bbs_store_task_converge(struct bbs_store *st,
                                           const struct bbs_task_conv_input *in,
                                           struct bbs_change *change,
                                           struct bbs_task_conv_result *out, struct bbs_error *err);

#endif /* BBS_TASK_CONVERGE_STORE_H */
