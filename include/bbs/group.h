/*
 * group.h - ActualLRP row views and their folding into ActualLRPGroups
 * (pure core; reference 3.11).
 *
 * A read returns its rows as a view: a count and a function that decodes
 * row i into a struct bbs_alrp whose strings and blobs borrow from
 * wherever the rows live (a database result the request owns, or an
 * array). Encoders and the folder walk the view once, so a list of any
 * size is encoded without copying a row.
 *
 * The deprecated group reads fold rows, ordered by (process guid, index),
 * one group per (guid, index): the EVACUATING row goes to `evacuating`;
 * among ORDINARY and SUSPECT rows `instance` gets, by priority, ordinary
 * RUNNING, else suspect RUNNING, else suspect CLAIMED, else ordinary
 * CLAIMED, else the first row seen. No I/O, clock or allocation.
 */
#ifndef BBS_GROUP_H
#define BBS_GROUP_H

#include <stddef.h>

#include "bbs/alrp.h"

struct bbs_alrp_rows {
    size_t n;
    const void *src;
    /* Row `i` (< n) into `out`; -1 when the stored row is unreadable. */
    int (*get)(const void *src, size_t i, struct bbs_alrp *out);
};

/* A view over `n` rows of an array (borrowed). */
struct bbs_alrp_rows bbs_alrp_rows_of(const struct bbs_alrp *rows, size_t n);

/* One ActualLRPGroup; NULL = the slot is empty (never both). */
struct bbs_alrp_group {
    const struct bbs_alrp *instance;
    const struct bbs_alrp *evacuating;
};

/*
 * The rank of `a` for the `instance` slot: higher wins, ties keep the row
 * seen first. 0 for the rows that only win by being first.
 */
int bbs_group_instance_rank(const struct bbs_alrp *a);

/*
 * Streaming fold. Feed rows in (guid, index) order with
 * bbs_group_fold_add(); it returns 1 and fills `*done` when the row began
 * a new group (so the previous one is complete), else 0. After the last
 * row bbs_group_fold_finish() returns 1 with the last group, if any.
 * `*done` points into `g` and stays valid until the next call.
 */
struct bbs_group_fold {
    struct bbs_alrp cur[2];  /* the group being built: instance, evacuating */
    struct bbs_alrp done[2]; /* the group last handed out */
    int has[2];
};

void bbs_group_fold_init(struct bbs_group_fold *g);
int bbs_group_fold_add(struct bbs_group_fold *g, const struct bbs_alrp *row,
                       struct bbs_alrp_group *done);
int bbs_group_fold_finish(struct bbs_group_fold *g, struct bbs_alrp_group *done);

#endif /* BBS_GROUP_H */
