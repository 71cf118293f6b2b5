/*
 * hub.h - the event hub: reads the change log (changelog.h) and fans each
 * event out to the subscribers of the streams it belongs to, with its
 * change-log id; resumes a subscriber from an id (docs/architecture.md,
 * "Event log and hub").
 *
 * One thread wakes when a writer of this process ended a transaction that
 * wrote change-log entries (the store's commit hook) or every poll
 * interval, marks the newest id handed out, reads the rows after the last
 * one delivered up to the newest settled mark (bbs_hub_marks_settle: no
 * transaction that may hold a smaller id is still open) and formats each
 * event once per payload variant (V3, V0) as an SSE record shared by every
 * subscriber. A subscriber is a sink (the HTTP stream) with a bound of
 * `queue_max` records written but not yet taken by the client: a sink that
 * is full is ended (after what it holds is flushed, so the client can
 * resume from its last id) and dropped; a sink whose client left is
 * dropped. Writers never wait for the hub, the hub never waits for a
 * client. While nobody subscribes, the hub reads nothing: writers do not
 * wake it, it marks at its poll interval and passes what settled
 * (bbs_hub_pass); a subscriber wakes it when it comes.
 *
 * Not done here: the SSE wire (the HTTP target's stream), leadership (the
 * hub serves the leader's subscribers; only the leader writes, so its
 * process holds every change-log ticket there is).
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef BBS_HUB_H
#define BBS_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/buf.h"
#include "bbs/changelog.h"
#include "bbs/error.h"
#include "bbs/store.h"

/* The event a resuming client gets when its id is no longer retained. */
#define BBS_EVENT_RESYNC "resync_required"

/* Where a subscriber's records go. Called with the hub's lock held: never calls back into it. */
struct bbs_hub_sink {
    /*
     * Append `n` bytes (one record) unless more than `max` records sent
     * earlier are still waiting for the client. Returns 0 appended, 1 full
     * (nothing appended), -1 the sink has ended (client gone, server stopping).
     */
    int (*send)(void *ctx, const void *p, size_t n, size_t max);
    void (*end)(void *ctx);     /* end after what was appended (idempotent) */
    void (*release)(void *ctx); /* the hub is done with the sink: the last call */
    void *ctx;
};

struct bbs_hub_config {
    size_t queue_max;     /* records per subscriber not yet taken by its client */
    int64_t heartbeat_ns; /* an SSE comment on every stream this often */
    int64_t poll_ns;      /* read the log this often without a poke (the commit hook) */
    int batch;            /* rows per read */
};

struct bbs_hub;

/* A hub over `st` (borrowed; NULL for tests that feed rows with bbs_hub_deliver). */
struct bbs_hub *bbs_hub_new(struct bbs_store *st, const struct bbs_hub_config *cfg);

/*
 * Start delivering after the newest id in the log (older events are only
 * for resuming clients) and start the thread. -1 with err on a database
 * error or a thread that cannot start.
 */
BBS_MUST_CHECK int bbs_hub_start(struct bbs_hub *hub, struct bbs_error *err);

/* Stop the thread, end and release every subscriber, free. Accepts NULL. */
void bbs_hub_free(struct bbs_hub *hub);

/* What a subscriber asks for. */
struct bbs_hub_sub_opts {
    unsigned streams;    /* enum bbs_event_stream mask (events.h) */
    int v0;              /* the V0 payloads (routes without ".r1") */
    const char *cell_id; /* "" or NULL: every cell (copied) */
    int resume;          /* the client sent Last-Event-ID ... */
    int64_t last_id;     /* ... with this id */
};

/*
 * Subscribe `sink` (the hub owns it from now on, on failure too: it calls
 * sink->release). With `resume`, the events after `last_id` still in the log
 * are sent first, then the live ones, none twice and none missed; an id the
 * log no longer holds (pruned, or from another log) gets one
 * BBS_EVENT_RESYNC event instead, then the live ones. -1 with err
 * (database error reading the backlog).
 */
BBS_MUST_CHECK int bbs_hub_subscribe(struct bbs_hub *hub, const struct bbs_hub_sink *sink,
                                     const struct bbs_hub_sub_opts *o, struct bbs_error *err);

/*
 * Marks (pure; the thread's step): each says every id up to `last` was
 * handed out before ticket number `ticket` (bbs_store_changelog_mark). A
 * mark is settled once no ticket below its own is held: then every row up
 * to its `last` is committed or never will be, and the hub delivers up to
 * it. A few are kept, oldest first; when full the oldest goes (a newer
 * mark settles no earlier, so nothing is passed too soon).
 */
#define BBS_HUB_MARKS 8
struct bbs_hub_marks {
    int64_t last[BBS_HUB_MARKS];
    uint64_t ticket[BBS_HUB_MARKS];
    int n;
};

/* Add a mark (none when `last` is the newest mark's already). */
void bbs_hub_marks_push(struct bbs_hub_marks *m, int64_t last, uint64_t ticket);

/*
 * With `oldest_held` the smallest ticket still held (bbs_store_ticket_oldest):
 * drop the settled marks and return the largest `last` among them, or -1
 * when none settled.
 */
int64_t bbs_hub_marks_settle(struct bbs_hub_marks *m, uint64_t oldest_held);

/* Fan `n` rows (ascending ids, after the last delivered) out. The thread's step. */
void bbs_hub_deliver(struct bbs_hub *hub, const struct bbs_changelog_row *rows, size_t n);

/* Send an SSE comment to every subscriber (dropping the gone and the full). */
void bbs_hub_heartbeat(struct bbs_hub *hub);

/*
 * The thread's step with nobody subscribed: move the last id delivered to
 * `upto` (settled) without reading the rows, and return 1; nobody would
 * get them (a new subscriber skips every id handed out before it came, a
 * resuming one reads its backlog up to the last id delivered). With a
 * subscriber: 0, nothing moves.
 */
int bbs_hub_pass(struct bbs_hub *hub, int64_t upto);

/* How many steps read the log so far. */
uint64_t bbs_hub_log_reads(struct bbs_hub *hub);

/* Subscribers now; the last id delivered. */
size_t bbs_hub_subscribers(struct bbs_hub *hub);
int64_t bbs_hub_last_id(struct bbs_hub *hub);

/* ---- SSE records (pure) ---- */

/* Append "id: <id>\nevent: <name>\ndata: <base64 of p>\n\n" to `b`. */
void bbs_sse_record(struct bbs_buf *b, int64_t id, const char *name, const uint8_t *p, size_t n);

/* Append the standard base64 (with padding) of `p` to `b`. */
void bbs_base64(struct bbs_buf *b, const uint8_t *p, size_t n);

/* 1 when a subscriber filtering on `cell_id` ("" = none) gets an event for `cell_ids`. */
int bbs_sse_cell_passes(const char *cell_id, const char *const cell_ids[2]);

/*
 * A Last-Event-ID header as this server gives ids: decimal digits only, no
 * sign, at most INT64_MAX. Returns 1 with `*out`, or 0 (NULL, empty,
 * anything else: the client is not resuming).
 */
int bbs_sse_parse_last_id(const char *s, int64_t *out);

#endif /* BBS_HUB_H */
