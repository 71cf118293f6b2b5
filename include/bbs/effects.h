/*
 * effects.h - what happens after a state change committed, in one place:
 * the one consumer of change records (change.h), for the HTTP handlers and
 * the worker's jobs (convergence) alike.
 *
 * bbs_effects_apply() sends what a committed record asks for: the auction
 * start requests (one auctioneer POST each, as upstream sends them), the
 * task auctions (one POST for all of a record's, waited for: desire
 * answers after its auction, 11.5.2), the rep calls (stop instance,
 * update instance: 9.2; cancel task: 11.5.3), the task completion
 * callbacks (handed to the callback worker, taskcb.h) and the log lines
 * of after-commit steps that failed (notes). Everything is queued on the
 * outbox (outbox.h) and, but for the task auction, never waits on the
 * auctioneer or a rep; failures are logged and counted there. A rep call whose record carries no
 * rep_url is sent to the address of its cell, looked up in Locket here
 * (Fetch(cell_id), reference 14.1); an unknown cell or a failed lookup is
 * logged and counted, and the row is left as it is (5.6): nothing is
 * retried here, convergence repairs what is left.
 *
 * Not done here: deciding anything (the store and the core decide; the
 * record says what to send) or events (derived in the store).
 */
#ifndef BBS_EFFECTS_H
#define BBS_EFFECTS_H

#include <stdatomic.h>
#include <stdint.h>

#include "bbs/arena.h"
#include "bbs/change.h"
#include "bbs/error.h"

struct bbs_auction;
struct bbs_rep;
struct bbs_locket;

/* What the effects send with; every member borrowed, set once before use. */
struct bbs_effects {
    struct bbs_auction *auction; /* NULL: start requests are dropped */
    struct bbs_rep *rep;         /* NULL: rep calls are dropped (logged) */
    struct bbs_locket *locket;   /* NULL: no Locket, every cell is unknown */
    /* Counters (bbs_effects_stats); zero-initialise the struct. */
    atomic_uint_least64_t rep_cell_unknown;  /* cell not registered in Locket */
    atomic_uint_least64_t rep_lookup_failed; /* Locket failed, or the address unusable */
    atomic_uint_least64_t rep_calls;         /* rep calls queued on the outbox */
    /*
     * Task completion callbacks (11.6): each change->task_callbacks entry
     * is handed to `task_callback(task_callback_ctx, due)`, which copies
     * what it keeps and never blocks (bbs_taskcb_submit, taskcb.h). NULL:
     * dropped with a log line (convergence resubmits them).
     */
    void (*task_callback)(void *ctx, const struct bbs_task_callback_due *due);
    void *task_callback_ctx;
    atomic_uint_least64_t task_cancels;         /* rep cancels queued on the outbox */
    atomic_uint_least64_t task_cancel_failures; /* cell unknown, lookup failed, no rep client */
};

/* Which parts of a record bbs_effects_apply_some() sends. */
enum bbs_effects_part {
    BBS_EFFECTS_AUCTIONS = 1, /* change->auctions, change->task_auctions */
    BBS_EFFECTS_REP = 2,      /* change->rep_stops, change->rep_updates, change->task_cancels */
    BBS_EFFECTS_NOTES = 4,    /* change->notes (log lines) */
    BBS_EFFECTS_TASK_CALLBACKS = 16, /* change->task_callbacks */
    BBS_EFFECTS_ALL = 23,
    /* With BBS_EFFECTS_AUCTIONS: return only once each auction POST has
     * finished (bbs_auction_request_wait), as upstream's evacuation calls do. */
    BBS_EFFECTS_AUCTIONS_WAIT = 8,
};

/*
 * Send and log everything `change` asks for (queued: never blocks on a
 * rep, nor on the auctioneer except for a task auction, which returns once
 * its POST finished; a rep call without rep_url waits for one Locket
 * lookup). `trace_id` (may be NULL or "") becomes X-Vcap-Request-Id.
 * Does nothing for an uncommitted record. Safe from any thread.
 */
void bbs_effects_apply(struct bbs_effects *fx, const struct bbs_change *change,
                       const char *trace_id);

/*
 * As bbs_effects_apply, for the parts in `parts` (enum bbs_effects_part
 * bits) only. Convergence sends its start requests itself, as one batched
 * POST per run: BBS_EFFECTS_ALL & ~BBS_EFFECTS_AUCTIONS.
 */
void bbs_effects_apply_some(struct bbs_effects *fx, const struct bbs_change *change,
                            const char *trace_id, unsigned parts);

/*
 * Where the rep of `cell_id` is (struct bbs_cell_lookup of store.h, `fx`
 * as its context): Locket's Fetch(cell_id), then the address rule of
 * rep.h (bbs_rep_url). 0 with `*rep_url` (in `arena`); 1 when the cell is
 * unknown (also with no Locket); -1 with UnknownError when Locket fails
 * or the cell has no address this server may call. Blocks for one Locket
 * call at most.
 */
BBS_MUST_CHECK int bbs_effects_cell_url(void *fx, struct bbs_arena *arena, const char *cell_id,
                                        const char **rep_url, struct bbs_error *err);

/* The counters, each read atomically. */
struct bbs_effects_stats {
    uint64_t rep_cell_unknown;
    uint64_t rep_lookup_failed;
    uint64_t rep_calls;
    uint64_t task_cancels;
    uint64_t task_cancel_failures;
};

void bbs_effects_stats(struct bbs_effects *fx, struct bbs_effects_stats *out);

#endif /* BBS_EFFECTS_H */
