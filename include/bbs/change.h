/*
 * change.h - one record per state change (pure core data, arena-backed).
 *
 * Every store call that changes state (ActualLRP lifecycle, evacuation,
 * desired LRP calls) fills one struct bbs_change: the ActualLRP rows
 * before and after (each entry is created, changed or removed; the
 * presence is the row's own), the DesiredLRP row before and after, and
 * what must be sent out once the transaction committed: auction start
 * requests, rep stop and rep update requests. Whatever happens after COMMIT (auction
 * requests today; events, metrics and rep calls next) reads this record,
 * so no transition is emitted twice or forgotten.
 *
 * Everything a record holds lives in its arena (rows are deep-copied in;
 * auction starts copy their index list and borrow strings that the caller
 * keeps in the same arena). A transaction body rewinds the record to the
 * mark taken before the first attempt, so a retried transaction never
 * reports the changes of an attempt that rolled back.
 */
#ifndef BBS_CHANGE_H
#define BBS_CHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/alrp.h"
#include "bbs/arena.h"
#include "bbs/error.h"
#include "bbs/task.h"

/* One element of the JSON array POSTed to {auctioneer}/v1/lrps (9.1). */
struct bbs_auction_start {
    const char *process_guid;
    const char *domain;
    const int32_t *indices;
    size_t n_indices;
    const char *const *placement_tags; /* NULL = JSON null */
    size_t n_placement_tags;
    const char *const *volume_drivers; /* NULL = JSON null */
    size_t n_volume_drivers;
    const char *root_fs;
    int32_t memory_mb;
    int32_t disk_mb;
    int32_t max_pids;
};

/*
 * Ask the rep on `instance.cell_id` to stop an instance (9.2, 5.6). The
 * strings live in the record's arena. `rep_url` NULL: the cell is looked
 * up in Locket after the commit (effects.h); set: already looked up (the
 * address to use, retire). `attempts` 0 means 1.
 */
struct bbs_rep_stop {
    struct bbs_alrp_key key;
    struct bbs_instance_key instance;
    const char *rep_url;
    int attempts;
};

/*
 * Push new internal routes and/or metric tags to the rep running an
 * instance (5.4 step 5, 9.2). Strings and arrays live in the record's
 * arena; a NULL array is JSON null (not being changed). `rep_url` as in
 * struct bbs_rep_stop.
 */
struct bbs_rep_update {
    struct bbs_alrp_key key;
    struct bbs_instance_key instance;
    const char *const *internal_routes; /* hostnames */
    size_t n_internal_routes;
    const char *const *metric_tag_names; /* with metric_tag_values */
    const char *const *metric_tag_values;
    size_t n_metric_tags;
    const char *rep_url;
};

enum bbs_change_kind {
    BBS_CHANGE_CREATED, /* before NULL */
    BBS_CHANGE_CHANGED, /* both set; same presence, except convergence marking a row SUSPECT
                         * or promoting a SUSPECT row (presence changes, tag does not) */
    BBS_CHANGE_REMOVED, /* after NULL */
};

/* One ActualLRP row; never both NULL. */
struct bbs_alrp_change {
    const struct bbs_alrp *before;
    const struct bbs_alrp *after;
};

/*
 * A step after the commit that failed; the commit stands. The loop or
 * handler that applies the record logs it (the store never logs).
 */
struct bbs_change_note {
    const char *what; /* log message, e.g. "start.remove-copy-failed" */
    const char *process_guid;
    int32_t index;
    struct bbs_error err;
};

/*
 * One task row (task.h): `before` NULL = created, `after` NULL = removed.
 * Each entry is one task event (11.5.1): created, changed or removed.
 */
struct bbs_task_change {
    const struct bbs_task *before;
    const struct bbs_task *after;
};

struct bbs_dlrp_row; /* dlrp.h: the stored DesiredLRP row */

/*
 * Which of upstream's event derivations a change follows (events.h). The
 * default suits every lifecycle, evacuation and desired-LRP call; the
 * others name the calls upstream emits by hand.
 */
enum bbs_event_rule {
    /* Group events from the (guid, index) groups before/after (siblings
     * included), instance events per row (3.12). */
    BBS_EVENT_RULE_LIFECYCLE = 0,
    /* /crash of an ordinary row (3.5): upstream's crash variant. */
    BBS_EVENT_RULE_CRASH,
    /* Convergence (7.2 B, C, E, F, pruning): per row; group events for
     * rows created, removed or changed within one presence only. */
    BBS_EVENT_RULE_ROWS,
    /* Convergence missing cell (7.2 D): instance events only. */
    BBS_EVENT_RULE_INSTANCE_ONLY,
};

struct bbs_change {
    struct bbs_arena *arena;
    int committed; /* the state change is in the database */
    struct bbs_alrp_change *alrps;
    size_t n_alrps;
    const struct bbs_dlrp_row *dlrp_before; /* NULL: desired LRP created (or not touched) */
    const struct bbs_dlrp_row *dlrp_after;  /* NULL: desired LRP removed (or not touched) */
    struct bbs_auction_start *auctions;
    size_t n_auctions;
    struct bbs_rep_stop *rep_stops;
    size_t n_rep_stops;
    struct bbs_rep_update *rep_updates;
    size_t n_rep_updates;
    struct bbs_change_note *notes;
    size_t n_notes;
    /* capacities of the arrays above */
    size_t cap_alrps;
    size_t cap_auctions;
    size_t cap_rep_stops;
    size_t cap_notes;
    /* The caller's X-Vcap-Request-Id for events (desire, update, remove
     * desired LRP, retire); NULL = none. Borrowed: lives as long as the
     * record's arena. */
    const char *trace_id;
    enum bbs_event_rule event_rule;
    /* Every row of a touched (guid, index) as read (locked) before the
     * change, changed or not: the groups before and after (3.11) need
     * the rows a call did not change. */
    const struct bbs_alrp **siblings;
    size_t n_siblings;
    size_t cap_siblings;
    size_t cap_rep_updates;
    /* Tasks (task.h): rows changed (one event each, in order), auctions
     * to request (one POST for all), rep cancels, callbacks to run. */
    struct bbs_task_change *tasks;
    size_t n_tasks;
    size_t cap_tasks;
    struct bbs_task_start *task_auctions;
    size_t n_task_auctions;
    size_t cap_task_auctions;
    struct bbs_task_cancel *task_cancels;
    size_t n_task_cancels;
    size_t cap_task_cancels;
    struct bbs_task_callback_due *task_callbacks;
    size_t n_task_callbacks;
    size_t cap_task_callbacks;
};

/* Where a transaction started: bbs_change_rewind() goes back to it. */
struct bbs_change_mark {
    int committed;
    size_t n_alrps;
    const struct bbs_dlrp_row *dlrp_before;
    const struct bbs_dlrp_row *dlrp_after;
    size_t n_auctions;
    size_t n_rep_stops;
    size_t n_notes;
    enum bbs_event_rule event_rule;
    size_t n_siblings;
    size_t n_rep_updates;
    size_t n_tasks;
    size_t n_task_auctions;
    size_t n_task_cancels;
    size_t n_task_callbacks;
};

/* An empty record whose contents live in `arena` (borrowed). */
void bbs_change_init(struct bbs_change *c, struct bbs_arena *arena);

struct bbs_change_mark bbs_change_mark(const struct bbs_change *c);
void bbs_change_rewind(struct bbs_change *c, const struct bbs_change_mark *m);

/* A deep copy of `a` (strings and blobs) in `arena`. */
struct bbs_alrp *bbs_alrp_copy(struct bbs_arena *arena, const struct bbs_alrp *a);

/*
 * Record one ActualLRP row: `before` NULL = created, `after` NULL =
 * removed. Both are deep-copied. Returns the stored entry.
 */
const struct bbs_alrp_change *bbs_change_alrp(struct bbs_change *c, const struct bbs_alrp *before,
                                              const struct bbs_alrp *after);

enum bbs_change_kind bbs_alrp_change_kind(const struct bbs_alrp_change *ch);

/*
 * Record an auction start request. The struct and its index list are
 * copied; its strings and string arrays are borrowed and must live in the
 * record's arena (or longer).
 */
void bbs_change_auction(struct bbs_change *c, const struct bbs_auction_start *s);

/* Record a rep stop; the struct is copied, its strings borrowed (arena). */
void bbs_change_rep_stop(struct bbs_change *c, const struct bbs_rep_stop *s);

/*
 * Record the rows of one (guid, index) as read before the change (NULL
 * members are skipped; each row is deep-copied). Stores call it right
 * after locking the rows, whatever they then change.
 */
void bbs_change_siblings(struct bbs_change *c, const struct bbs_alrp_set *set);
/* Record a rep update; the struct is copied, its strings and arrays borrowed (arena). */
void bbs_change_rep_update(struct bbs_change *c, const struct bbs_rep_update *u);

/* A deep copy of `t` (strings and the definition) in `arena`. */
struct bbs_task *bbs_task_copy(struct bbs_arena *arena, const struct bbs_task *t);

/*
 * Record one task row: `before` NULL = created, `after` NULL = removed.
 * Both are deep-copied. Returns the stored entry.
 */
const struct bbs_task_change *bbs_change_task(struct bbs_change *c, const struct bbs_task *before,
                                              const struct bbs_task *after);

/* Record a task auction; the struct is copied, its strings and arrays borrowed (arena). */
void bbs_change_task_auction(struct bbs_change *c, const struct bbs_task_start *s);

/* Record a rep cancel; the struct is copied, its strings borrowed (arena). */
void bbs_change_task_cancel(struct bbs_change *c, const struct bbs_task_cancel *k);

/* Record a callback to run; the struct is copied, the task and strings borrowed (arena). */
void bbs_change_task_callback(struct bbs_change *c, const struct bbs_task_callback_due *d);

/* Record a failed after-commit step (`what` and `guid` are copied). */
void bbs_change_note(struct bbs_change *c, const char *what, const char *process_guid,
                     int32_t index, const struct bbs_error *err);

#endif /* BBS_CHANGE_H */
