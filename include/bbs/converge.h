/*
 * converge.h - the LRP convergence planner (pure core; reference 7).
 *
 * Snapshot in, actions out: given what one set of queries read (desired
 * LRPs, actual rows, the cell set, the fresh domains and the time), decide
 * every list of reference 7.2 and the run's counts. No I/O, clock or
 * globals; the store reads the snapshot and the worker carries the plan
 * out, each change guarded by the state the snapshot saw.
 *
 * Deviations from upstream, on purpose:
 * - Instance counts compare index sets, not counts (7.2 notes): with
 *   instances = 3 and rows 0, 1, 5, index 2 is missing and 5 is extra.
 * - The cell-set safety rule: the cell steps (2 prune evacuating, 4
 *   missing cells, 9 suspects back) and the retire of a CLAIMED/RUNNING
 *   row (whose rep must be asked) only run on a believable cell set. Not
 *   believable: Locket failed; or it answered no cells although the last
 *   believable answer had cells (an empty first answer since start is
 *   believed, as upstream believes it). No Locket configured: the cell set is
 *   unknown, the cell steps are skipped and a retired CLAIMED/RUNNING row
 *   is deleted (every cell is unknown, as the retire route does then).
 *   Everything else runs whatever the cell set.
 *
 * Ownership: the plan borrows the snapshot's rows (items point into the
 * snapshot) and owns its arrays; free it with bbs_conv_plan_free().
 */
#ifndef BBS_CONVERGE_H
#define BBS_CONVERGE_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/alrp.h"

/* An UNCLAIMED row older than this is auctioned again (7.2 step 3). */
#define BBS_CONV_STALE_UNCLAIMED_NS (INT64_C(30) * 1000000000)

enum bbs_conv_tag_kind {
    BBS_CONV_TAG_STATIC,
    BBS_CONV_TAG_INDEX,         /* the instance index, in decimal */
    BBS_CONV_TAG_INSTANCE_GUID, /* the instance guid */
    BBS_CONV_TAG_INVALID,       /* a dynamic value we cannot resolve */
};

/* One desired metric tag. */
struct bbs_conv_tag {
    const char *name;
    enum bbs_conv_tag_kind kind;
    const char *value; /* static value; NULL otherwise */
};

struct bbs_conv_desired {
    const char *process_guid;
    const char *domain;
    int32_t instances;
    const char *const *hostnames; /* the "internal-router" hostnames */
    size_t n_hostnames;
    const struct bbs_conv_tag *tags; /* sorted by name, unique */
    size_t n_tags;
    int opaque; /* its routes or tags could not be read (not decrypted): no drift compared */
};

struct bbs_conv_actual {
    /* Pointers and 64-bit values first, then the 32-bit ones: no padding
     * (a convergence pass holds one per actual LRP). */
    const char *process_guid;
    const char *domain;
    const char *cell_id;       /* "" when not placed */
    const char *instance_guid; /* "" when not placed */
    int64_t since_ns;
    const char *const *hostnames; /* stored internal routes (absent = none) */
    size_t n_hostnames;
    const char *const *tag_names;
    const char *const *tag_values;
    size_t n_tags;
    int32_t index;
    enum bbs_presence presence;
    enum bbs_alrp_state state;
    int32_t crash_count;
    int tags_present; /* stored metric tags are not NULL */
    int opaque;       /* its routes or tags could not be read (not decrypted): no drift compared */
};

/* What the run knows about cells. */
enum bbs_conv_cells {
    BBS_CONV_CELLS_KNOWN,   /* Locket answered (possibly no cells) */
    BBS_CONV_CELLS_FAILED,  /* Locket answered with an error */
    BBS_CONV_CELLS_UNKNOWN, /* no Locket configured */
};

/* The last believable cell set, carried from run to run by the worker. */
enum bbs_conv_prev_cells {
    BBS_CONV_PREV_NONE, /* no believable answer since start */
    BBS_CONV_PREV_EMPTY,
    BBS_CONV_PREV_CELLS,
};

struct bbs_conv_snapshot {
    const struct bbs_conv_desired *desired;
    size_t n_desired;
    const struct bbs_conv_actual *actual;
    size_t n_actual;
    enum bbs_conv_cells cells_state;
    const char *const *cells; /* cell ids, any order (KNOWN only) */
    size_t n_cells;
    enum bbs_conv_prev_cells prev_cells;
    const char *const *fresh_domains;
    size_t n_fresh_domains;
    int64_t now_ns;
};

/* How a retire-list item goes away (3.8, decided with the cell set). */
enum bbs_conv_retire {
    BBS_CONV_RETIRE_DELETE,   /* delete the row (UNCLAIMED/CRASHED, or its cell is unknown) */
    BBS_CONV_RETIRE_STOP_REP, /* ask the rep of its (present) cell to stop it */
    BBS_CONV_RETIRE_DEFER,    /* CLAIMED/RUNNING but the cell set is not believable: later */
};

/* One action on one (guid, index). */
struct bbs_conv_item {
    const struct bbs_conv_desired *desired; /* NULL for orphans */
    const struct bbs_conv_actual *actual;   /* the row as read; NULL for a missing index */
    int32_t index;
    enum bbs_conv_retire retire; /* retire list only */
};

struct bbs_conv_list {
    struct bbs_conv_item *items;
    size_t n;
    size_t cap;
};

/* Why the cell steps did not run (BBS_CONV_CELLS_OK when they did). */
enum bbs_conv_cells_verdict {
    BBS_CONV_CELLS_OK,
    BBS_CONV_CELLS_NO_LOCKET,
    BBS_CONV_CELLS_LOCKET_FAILED,
    BBS_CONV_CELLS_EMPTY_DISTRUSTED,
};

/* The counts of one run (names of reference-2 13.2 in comments). */
struct bbs_conv_counts {
    int64_t desired_instances; /* LRPsDesired */
    int64_t unclaimed;         /* LRPsUnclaimed */
    int64_t claimed;           /* LRPsClaimed */
    int64_t running;           /* LRPsRunning */
    int64_t crashed;           /* CrashedActualLRPs */
    int64_t crashing_desired;  /* CrashingDesiredLRPs */
    int64_t missing;           /* LRPsMissing */
    int64_t extra;             /* LRPsExtra */
    int64_t suspect_running;   /* SuspectRunningActualLRPs */
    int64_t suspect_claimed;   /* SuspectClaimedActualLRPs */
    int64_t present_cells;     /* PresentCells */
    int64_t suspect_cells;     /* SuspectCells */
    int64_t fresh_domains;     /* Domain.<domain> gauges */
    int64_t retires_deferred;  /* retire items left for a believable cell set */
    int cell_steps_skipped;    /* 1 when the verdict is not OK */
};

struct bbs_conv_plan {
    enum bbs_conv_cells_verdict verdict;
    enum bbs_conv_prev_cells next_prev_cells;  /* for the next run's snapshot */
    struct bbs_conv_list prune_evacuating;     /* step 2: delete the EVACUATING row */
    struct bbs_conv_list stale_unclaimed;      /* step 3 (C): auction again */
    struct bbs_conv_list missing_cell;         /* step 4 (D): mark suspect + replacement */
    struct bbs_conv_list missing_cell_unclaim; /* step 4 (D): replacement lost its cell too */
    struct bbs_conv_list missing;              /* step 5 (B): create + auction */
    struct bbs_conv_list retire;               /* steps 5, 6 (A) */
    struct bbs_conv_list retire_suspect;       /* steps 7, 8 (F) */
    struct bbs_conv_list promote;              /* step 9 (E) */
    struct bbs_conv_list crashed;              /* step 11 (C): unclaim + auction */
    struct bbs_conv_list route_update;         /* step 12 (G) */
    struct bbs_conv_list tag_update;           /* step 13 (H) */
    const char **missing_cells;                /* distinct, borrowed from the snapshot */
    size_t n_missing_cells;
    struct bbs_conv_counts counts;
};

/*
 * Plan one run. Every string and row of `snap` must outlive `plan`.
 * Never fails (out of memory aborts); `plan` is overwritten.
 */
void bbs_conv_plan(const struct bbs_conv_snapshot *snap, struct bbs_conv_plan *plan);

/* Free what bbs_conv_plan() allocated (not the snapshot). Accepts a zeroed plan. */
void bbs_conv_plan_free(struct bbs_conv_plan *plan);

/*
 * The value of desired tag `t` for instance (`index`, `instance_guid`):
 * the static value, the index written into `buf` (12 bytes), or the guid.
 * NULL for BBS_CONV_TAG_INVALID.
 */
const char *bbs_conv_tag_value(const struct bbs_conv_tag *t, int32_t index,
                               const char *instance_guid, char *buf);

/* Log name of a verdict ("ok", "no-locket", "locket-failed", "empty-cell-set-distrusted"). */
const char *bbs_conv_verdict_name(enum bbs_conv_cells_verdict v);

#endif /* BBS_CONVERGE_H */
