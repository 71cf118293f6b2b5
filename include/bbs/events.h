/*
 * events.h - the events one committed change emits (reference 2.10, 3.12,
 * 7.2), derived from its change record (change.h). Pure: no I/O.
 *
 * The store writes these to the change log in the same transaction as the
 * change (so none is lost or invented across a crash); the hub
 * (src/events/) reads the log and fans each event out to the subscribers
 * of the streams named in `streams` whose cell filter it passes.
 *
 * Order within one change is upstream's: crash events first, then events
 * whose resulting LRP is RUNNING, then the rest. A change that changed
 * nothing yields no event.
 */
#ifndef BBS_EVENTS_H
#define BBS_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/arena.h"
#include "bbs/change.h"
#include "bbs/error.h"

/* The streams an event goes to (a mask). */
enum bbs_event_stream {
    BBS_EVENT_INSTANCE = 1, /* /v1/events/lrp_instances(.r1) */
    BBS_EVENT_GROUP = 2,    /* deprecated /v1/events(.r1) */
    BBS_EVENT_TASK = 4,     /* /v1/events/tasks(.r1) */
};

struct bbs_event {
    const char *name; /* SSE event name (2.10.2), e.g. "actual_lrp_instance_changed" */
    unsigned streams; /* enum bbs_event_stream mask */
    /* The protobuf-encoded event message; desired LRPs (and tasks) at V3. */
    const uint8_t *payload;
    size_t payload_len;
    /*
     * The same message with the embedded DesiredLRP down-converted to V0
     * (5.8), for the deprecated routes without ".r1"; NULL when the event
     * carries no desired LRP (then `payload` serves both).
     */
    const uint8_t *payload_v0;
    size_t payload_v0_len;
    /*
     * Cell filter (2.10.3 item 7): a subscriber with a non-empty cell_id
     * receives the event iff cell_id equals one of these. Both NULL: the
     * event passes every filter (desired LRP and task events).
     */
    const char *cell_ids[2];
};

/*
 * Every event of the committed change `c`, in emission order: `*out` gets
 * `*n` events whose bytes live in `arena`. `c->trace_id` (may be NULL)
 * goes into the events that carry one. Errors: none but out-of-memory
 * (aborts); -1 only if a stored blob in the record does not decode
 * (Deserialize).
 */
BBS_MUST_CHECK int bbs_events_of_change(const struct bbs_change *c, struct bbs_arena *arena,
                                        const struct bbs_event **out, size_t *n,
                                        struct bbs_error *err);

#endif /* BBS_EVENTS_H */
