/*
 * changelog.h - the change log in PostgreSQL (table event_log, migration
 * 0003, 0007): what the event hub marks, reads and prunes.
 *
 * Writers never call this: bbs_store_tx_change (store) derives a change's
 * events (events.h) and inserts them in the transaction of the change,
 * then calls the store's commit hook (bbs_store_on_commit) once it ended.
 * A row takes its SSE id (seq) from a sequence at insert (migration 0007):
 * increasing in insert order, not dense (a rolled-back insert leaves a
 * hole), and not in commit order for unrelated writers. So that a reader
 * never passes an id whose row may still commit, every writing
 * transaction holds a ticket (a number from one counter of the store) from
 * before its insert is queued until its outcome is known; only the leader
 * writes, so the leader's process holds every ticket there is.
 */
#ifndef BBS_CHANGELOG_H
#define BBS_CHANGELOG_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/arena.h"
#include "bbs/error.h"
#include "bbs/store.h"

/* One event as read; every pointer lives in the reader's arena. */
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
 * A mark: `*last` the largest id handed out so far (committed or not; 0
 * when none), then `*ticket` the number the next ticket will get. Every
 * row with an id up to `*last` is committed or never will be once no
 * ticket below `*ticket` is held (bbs_store_ticket_oldest). Read in a
 * fenced transaction (a server that lost leadership gets BB001). Errors:
 * database errors only.
 */
BBS_MUST_CHECK int bbs_store_changelog_mark(struct bbs_store *st, int64_t *last, uint64_t *ticket,
                                            struct bbs_error *err);

/* The number the next ticket will get. */
uint64_t bbs_store_ticket_next(struct bbs_store *st);

/*
 * The smallest ticket still held, or bbs_store_ticket_next() when none: a
 * transaction whose COMMIT outcome is unknown (the connection went with the
 * answer) keeps its ticket for BBS_TICKET_GRACE_NS, time for a COMMIT
 * that did arrive to become visible.
 */
uint64_t bbs_store_ticket_oldest(struct bbs_store *st);

#define BBS_TICKET_GRACE_NS INT64_C(10000000000)

/*
 * Rows with after < seq <= upto, ascending, at most `limit`, into `*out`
 * (`*n` rows in `arena`).
 */
BBS_MUST_CHECK int bbs_store_changelog_read(struct bbs_store *st, struct bbs_arena *arena,
                                            int64_t after, int64_t upto, int limit,
                                            struct bbs_changelog_row **out, size_t *n,
                                            struct bbs_error *err);

/*
 * A resuming subscriber's page: the rows with after < seq <= upto whose
 * stream mask meets `streams` and that pass the cell filter `cell_id` (""
 * = none; bbs_sse_cell_passes), ascending, at most `limit`; and, from the
 * same snapshot, the largest id pruning has removed (`*pruned`, 0 when
 * none): when it is above `after`, events after `after` are gone.
 */
BBS_MUST_CHECK int bbs_store_changelog_backlog(struct bbs_store *st, struct bbs_arena *arena,
                                               int64_t after, int64_t upto, int limit,
                                               unsigned streams, const char *cell_id,
                                               int64_t *pruned, struct bbs_changelog_row **out,
                                               size_t *n, struct bbs_error *err);

/*
 * Delete rows older than `max_age_ns` (by their transaction's time) or
 * more than `keep` ids behind the newest, oldest ids first, `batch` rows
 * per statement (each its own short transaction, so writers never wait on
 * it, raising the pruning watermark with its delete), at most
 * `max_batches` statements. `*deleted` gets how many.
 */
BBS_MUST_CHECK int bbs_store_changelog_prune(struct bbs_store *st, int64_t max_age_ns, int64_t keep,
                                             int batch, int max_batches, int64_t *deleted,
                                             struct bbs_error *err);

/*
 * Call `fn(ctx)` after every transaction that queued change-log entries,
 * once its ticket is given back (committed, or surely not), on the
 * writer's thread (so it must be quick and must not block: the hub only
 * sets a flag and writes to a pipe). Set once, before any state change.
 */
void bbs_store_on_commit(struct bbs_store *st, void (*fn)(void *ctx), void *ctx);

/*
 * Open pooled connections (each prepared) until `n` are idle or the pool
 * is at its maximum; never waits for one in use. The hub warms the pool
 * at start so its first read after the first change finds an idle
 * connection instead of opening one (a new backend and every statement
 * prepared: tens of milliseconds, which delayed a fresh server's first
 * event past what upstream's suite allows). A connection that cannot be
 * opened stops the warming quietly: requests open their own as before.
 */
void bbs_store_warm(struct bbs_store *st, int n);

#endif /* BBS_CHANGELOG_H */
