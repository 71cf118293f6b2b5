/*
 * task_converge.c - task convergence decisions (see task_converge.h;
 * reference part 2, 11.7 and 11.4.2).
 */
#include "bbs/task_converge.h"

#include <string.h>

int bbs_task_conv_has_cell(const struct bbs_task_conv_input *in, const char *cell_id)
{
    size_t lo = 0;
    size_t hi = in->n_cells;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(in->cells[mid], cell_id);

        if (c == 0) {
            return 1;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return 0;
}

unsigned bbs_task_conv_decide(const struct bbs_task *t, const struct bbs_task_conv_input *in)
{
    int64_t pending_cut = in->now_ns - in->expire_pending_ns;
    int64_t kick_cut = in->now_ns - in->kick_ns;
    int64_t completed_cut = in->now_ns - in->expire_completed_ns;
    enum bbs_task_state state = t->state;
    unsigned a = 0;

    switch (state) {
    case BBS_TASK_PENDING:
        /* Strict on both sides: a task created exactly at the cut-off waits a run. */
        if (t->created_at < pending_cut) {
            return BBS_TASK_CONV_EXPIRE_PENDING;
        }
        if (t->created_at > pending_cut) {
            return BBS_TASK_CONV_AUCTION;
        }
        return 0;
    case BBS_TASK_RUNNING:
        if (in->cells_believable && !bbs_task_conv_has_cell(in, t->cell_id)) {
            return BBS_TASK_CONV_CELL_GONE;
        }
        return 0;
    case BBS_TASK_RESOLVING:
        if (t->updated_at >= kick_cut) {
            return 0;
        }
        a |= BBS_TASK_CONV_DEMOTE;
        state = BBS_TASK_COMPLETED; /* rules 5 and 6 see it Completed */
        break;
    default:
        break;
    }
    if (state != BBS_TASK_COMPLETED) {
        return a;
    }
    if (t->first_completed_at < completed_cut) {
        return a | BBS_TASK_CONV_DELETE;
    }
    if (t->updated_at < kick_cut) {
        a |= BBS_TASK_CONV_KICK;
    }
    return a;
}

int bbs_task_conv_after(const struct bbs_task *before, unsigned action, int64_t now_ns,
                        struct bbs_task *after)
{
    *after = *before;
    switch (action) {
    case BBS_TASK_CONV_EXPIRE_PENDING:
    case BBS_TASK_CONV_CELL_GONE:
        after->state = BBS_TASK_COMPLETED;
        after->failed = 1;
        after->failure_reason = action == BBS_TASK_CONV_EXPIRE_PENDING
                                    ? BBS_TASK_CONV_REASON_EXPIRED
                                    : BBS_TASK_CONV_REASON_CELL_GONE;
        after->result = "";
        after->first_completed_at = now_ns;
        after->updated_at = now_ns;
        return 0; /* cell_id untouched by both (q6: the cell-gone failure keeps it) */
    case BBS_TASK_CONV_DEMOTE:
        after->state = BBS_TASK_COMPLETED; /* nothing else, updated_at included */
        return 0;
    default:
        return -1;
    }
}
