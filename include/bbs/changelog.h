/*
 * changelog.h - the change log in PostgreSQL (table event_log, migration
 * 0003): what the event hub reads, sequences and prunes.
 *
 * Writers never call this: bbs_store_tx_change (store) derives a change's
 * events (events.h) and inserts them in the transaction of the change,
 * then calls the store's commit hook (bbs_store_on_commit) after COMMIT.
 * A row is born with seq NULL; bbs_store_changelog_sequence gives the
 * committed ones their SSE ids (dense, increasing, in the order it sees
 * them). Readers only ever see sequenced rows.
 */
#ifndef BBS_CHANGELOG_H
#define BBS_CHANGELOG_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/arena.h"
#include "bbs/error.h"
#include "bbs/store.h"

/* One sequenced event; every pointer lives in the reader's arena. */
struct bbs_changelog_row {
    int64_t seq;
    const char *name;
    unsigned streams;        /* enum bbs_event_stream mask (events.h) */
    const char *cell_ids[2]; /* NULL = no cell (events.h) */
    const uint8_t *payload;  /* NULL: a sealed payload that did not open; skip the row */
    size_t payload_len;
    const uint8_t *payload_v0; /* NULL: `payload` serves the V0 routes too */
    size_t payload_v0_len;
};

/*
 * Give every committed unsequenced row (at most `limit`, oldest id first)
 * the next ids after the largest one given, in one transaction under an
 * advisory lock (two servers never hand out the same id). `*assigned`
 * gets how many. Errors: database errors only.
 */
BBS_MUST_CHECK int bbs_store_changelog_sequence(struct bbs_store *st, int limit, int64_t *assigned,
                                                struct bbs_error *err);

/* The largest id given so far (0 when none). */
BBS_MUST_CHECK int bbs_store_changelog_last(struct bbs_store *st, int64_t *last,
                                            struct bbs_error *err);

/*
 * Rows with after < seq <= upto (upto < 0: no upper bound), ascending, at
 * most `limit`, into `*out` (`*n` rows in `arena`).
 */
BBS_MUST_CHECK int bbs_store_changelog_read(struct bbs_store *st, struct bbs_arena *arena,
                                            int64_t after, int64_t upto, int limit,
                                            struct bbs_changelog_row **out, size_t *n,
                                            struct bbs_error *err);

/*
 * A resuming subscriber's page: the rows with after < seq <= upto whose
 * stream mask meets `streams` and that pass the cell filter `cell_id` (""
 * = none; bbs_sse_cell_passes), ascending, at most `limit`; and, from the
 * same snapshot, the oldest id retained (`*oldest`, 0 when the log is
 * empty): when it is above after + 1, events after `after` were pruned.
 */
BBS_MUST_CHECK int bbs_store_changelog_backlog(struct bbs_store *st, struct bbs_arena *arena,
                                               int64_t after, int64_t upto, int limit,
                                               unsigned streams, const char *cell_id,
                                               int64_t *oldest, struct bbs_changelog_row **out,
                                               size_t *n, struct bbs_error *err);

/*
 * Delete sequenced rows older than `max_age_ns` (by commit time) or more
 * than `keep` ids behind the newest, `batch` rows per statement (each its
 * own short transaction, so writers never wait on it), at most
 * `max_batches` statements. `*deleted` gets how many.
 */
BBS_MUST_CHECK int bbs_store_changelog_prune(struct bbs_store *st, int64_t max_age_ns, int64_t keep,
                                             int batch, int max_batches, int64_t *deleted,
                                             struct bbs_error *err);

/*
 * Call `fn(ctx)` after every COMMIT that wrote change-log entries, on the
 * committing thread (so it must be quick and must not block: the hub only
 * sets a flag and writes to a pipe). Set once, before any state change.
 */
void bbs_store_on_commit(struct bbs_store *st, void (*fn)(void *ctx), void *ctx);

/*
 * Open pooled connections (each prepared) until `n` are idle or the pool
 * is at its maximum; never waits for one in use. The hub warms the pool
 * at start so its first numbering after the first change finds an idle
 * connection instead of opening one (a new backend and every statement
 * prepared: tens of milliseconds, which delayed a fresh server's first
 * event past what upstream's suite allows). A connection that cannot be
 * opened stops the warming quietly: requests open their own as before.
 */
void bbs_store_warm(struct bbs_store *st, int n);

#endif /* BBS_CHANGELOG_H */
