/*
 * dlrp_store.h - DesiredLRP persistence: desire, update, remove and the
 * reads (reference 5.3-5.7, 6.5).
 *
 * Every state change is one transaction that locks the desired row
 * (SELECT ... FOR UPDATE) before deciding, then, once committed, creates
 * or stops the actual LRPs it implies (store.h); everything it did and
 * the auctions to request are recorded in one change record (change.h).
 * Reads run as single statements and return rows, stored as dlrp_codec.h
 * describes; the codec encodes them.
 *
 * What this module does not do: validate requests, encode responses, or
 * send anything (the caller applies the change record after the call).
 */
#ifndef BBS_DLRP_STORE_H
#define BBS_DLRP_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/arena.h"
#include "bbs/buf.h"
#include "bbs/change.h"
#include "bbs/dlrp_codec.h"
#include "bbs/error.h"
#include "bbs/store.h"
#include "desired_lrp.pb-c.h"

/* Read filters; every member combines with AND, an empty one matches all. */
struct bbs_dlrp_filter {
    const char *domain;               /* NULL or "" = any domain */
    const char *const *process_guids; /* process_guid IN (...); n = 0: any */
    size_t n_process_guids;
    const char *const *app_guids; /* process_guid starts with one of them; n = 0: any */
    size_t n_app_guids;
};

/*
 * Desire (5.3): insert `row` (from bbs_dlrp_split, living in
 * change->arena) with a fresh modification tag epoch and index 0, then,
 * once committed, create its UNCLAIMED instances and record their
 * auction (bbs_store_alrp_create_unclaimed, even when every index had a
 * row already). `change` gets dlrp_after = `row`, the created rows and
 * the auction; a failure after the commit is a note. Errors (nothing
 * committed): ResourceExists (process guid taken), InvalidRequest (a
 * value longer than its column), database errors.
 */
BBS_MUST_CHECK int bbs_store_dlrp_desire(struct bbs_store *st, const struct bbs_dlrp_row *row,
                                         int64_t now_ns, struct bbs_change *change,
                                         struct bbs_error *err);

/*
 * Every row matching `f`, as a view whose rows borrow from a result that
 * `arena` owns. `view` only chooses the columns read (the scheduling and
 * routing views leave run_info in the table, an empty blob here); the
 * codec encodes (bbs_dlrp_put_rows). Errors: database errors only.
 */
BBS_MUST_CHECK int bbs_store_dlrp_list(struct bbs_store *st, struct bbs_arena *arena,
                                       const struct bbs_dlrp_filter *f, enum bbs_dlrp_view view,
                                       struct bbs_dlrp_rows *out, struct bbs_error *err);

/*
 * The rows of bbs_store_dlrp_list(), streamed (store.h, struct
 * bbs_cursor): `arena` is used only while opening; close with
 * bbs_store_cursor_close(). bbs_store_dlrp_next: 1 with `*out` (borrowing
 * from the cursor until the next call), 2 for a row whose sealed values do
 * not open (skip it, as the whole list leaves it out), 0 at the end, -1
 * with `err` when the database failed mid-way.
 */
struct bbs_cursor;
BBS_MUST_CHECK int bbs_store_dlrp_open(struct bbs_store *st, struct bbs_arena *arena,
                                       const struct bbs_dlrp_filter *f, enum bbs_dlrp_view view,
                                       struct bbs_cursor **out, struct bbs_error *err);
BBS_MUST_CHECK int bbs_store_dlrp_next(struct bbs_cursor *c, struct bbs_dlrp_row *out,
                                       struct bbs_error *err);

/*
 * The row of `guid` into `*out`, borrowing from a result `arena` owns;
 * columns as for bbs_store_dlrp_list. ResourceNotFound when there is none.
 */
BBS_MUST_CHECK int bbs_store_dlrp_get(struct bbs_store *st, struct bbs_arena *arena,
                                      const char *guid, enum bbs_dlrp_view view,
                                      struct bbs_dlrp_row *out, struct bbs_error *err);

/* The row before and after an update; both copied into the caller's arena. */
struct bbs_dlrp_updated {
    struct bbs_dlrp_row before;
    struct bbs_dlrp_row after;
};

/*
 * Update (5.4 step 2) in one transaction: lock the row (none:
 * ResourceNotFound, whatever `u` carries), bump the tag index (always),
 * then apply instances / annotation (oneofs set), routes (present;
 * invalid JSON: InvalidRequest and nothing changes), metric tags
 * (non-empty) and image credentials (rewrites run_info). Once committed,
 * more instances are created (with their auction) or those above the
 * new count stopped (5.6), and when the internal-router route or the
 * metric tags changed a rep update is recorded for every CLAIMED/RUNNING
 * non-evacuating instance (5.4 step 5, rep_push.h). `change` gets the row
 * before and after (in change->arena) and the instance changes; `u` is
 * borrowed.
 */
BBS_MUST_CHECK int bbs_store_dlrp_update(struct bbs_store *st, const char *guid,
                                         const Models__DesiredLRPUpdate *u, int64_t now_ns,
                                         struct bbs_change *change, struct bbs_error *err);

/*
 * Remove (5.5): lock and delete the row of `guid`, then stop its
 * instances (5.6). `change` gets dlrp_before (the deleted row, in
 * change->arena) and the removed instances. ResourceNotFound when there
 * is none.
 */
BBS_MUST_CHECK int bbs_store_dlrp_remove(struct bbs_store *st, const char *guid,
                                         struct bbs_change *change, struct bbs_error *err);

#endif /* BBS_DLRP_STORE_H */
