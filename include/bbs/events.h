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
 * whose resulting LRP is RUNNING, then the rest; task events (one per
 * change->tasks entry, in order) come last. A change that changed
 * nothing yields no event.
 */
#ifndef BBS_EVENTS_H
#define BBS_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/arena.h"
#include "bbs/change.h"
#include "bbs/error.h"
#include "bbs/group.h"

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
     * (5.8), or the embedded Tasks converted to V2 (11.2.5), for the
     * deprecated routes without ".r1"; NULL when the event carries
     * neither (then `payload` serves both).
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

/* The events upstream has, by SSE name (2.10.2). */
enum bbs_event_kind {
    BBS_EVENT_DESIRED_CREATED,
    BBS_EVENT_DESIRED_CHANGED,
    BBS_EVENT_DESIRED_REMOVED,
    BBS_EVENT_INSTANCE_CREATED,
    BBS_EVENT_INSTANCE_CHANGED,
    BBS_EVENT_INSTANCE_REMOVED,
    BBS_EVENT_CRASHED,
    BBS_EVENT_GROUP_CREATED, /* deprecated actual_lrp_created */
    BBS_EVENT_GROUP_CHANGED,
    BBS_EVENT_GROUP_REMOVED,
    BBS_EVENT_TASK_CREATED, /* task_created (11.5.1) */
    BBS_EVENT_TASK_CHANGED,
    BBS_EVENT_TASK_REMOVED,
};

/* "desired_lrp_created", ... */
const char *bbs_event_name(enum bbs_event_kind k);

/*
 * One event as derived, before encoding (the pure core's half; the codec
 * encodes it). Rows borrow from the change record.
 *   INSTANCE_CREATED: after.  INSTANCE_REMOVED: before.
 *   INSTANCE_CHANGED: before, after (key and instance key chosen as in
 *     2.10.1).  CRASHED: before (its instance key), after (key, count,
 *     reason, since).
 *   GROUP_CREATED: group_after.  GROUP_REMOVED: group_before.
 *   GROUP_CHANGED: group_before, group_after.
 *   DESIRED_*: the change's dlrp_before / dlrp_after.
 *   TASK_CREATED: task_after.  TASK_REMOVED: task_before.
 *   TASK_CHANGED: task_before, task_after.
 */
struct bbs_event_plan {
    enum bbs_event_kind kind;
    unsigned streams;
    const struct bbs_alrp *before;
    const struct bbs_alrp *after;
    struct bbs_alrp_group group_before;
    struct bbs_alrp_group group_after;
    const char *cell_ids[2];            /* as in struct bbs_event */
    const struct bbs_task *task_before; /* TASK_*: rows of one change->tasks entry */
    const struct bbs_task *task_after;
};

/*
 * The events of `c` in emission order, without their bytes: `*out` gets
 * `*n` plans allocated in `arena` (none for an unchanged record).
 */
void bbs_events_plan(const struct bbs_change *c, struct bbs_arena *arena,
                     const struct bbs_event_plan **out, size_t *n);

/*
 * Every event of the committed change `c`, in emission order: `*out` gets
 * `*n` events whose bytes live in `arena`. `c->trace_id` (may be NULL)
 * goes into the events that carry one. Errors: none but out-of-memory
 * (aborts); -1 only if a stored blob in the record does not decode
 * (Deserialize). Implemented in the codec (src/codec/event_codec.c),
 * which encodes the plans of bbs_events_plan().
 */
BBS_MUST_CHECK int bbs_events_of_change(const struct bbs_change *c, struct bbs_arena *arena,
                                        const struct bbs_event **out, size_t *n,
                                        struct bbs_error *err);

#endif /* BBS_EVENTS_H */
