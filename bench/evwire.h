/*
 * evwire.h - what an instance-stream event says about one ActualLRP, read
 * from its SSE event name and protobuf payload (reference 2.10.1-2.10.2).
 *
 * Pure: no I/O. Decodes with the generated protobuf-c code, keeps only the
 * (process_guid, index), the cell of the instance key and the states the
 * workload checks, and frees the message before returning.
 *
 * Not done here: the framing (sse.h), deciding whether an event was
 * expected (evmatch.h).
 */
#ifndef BENCH_EVWIRE_H
#define BENCH_EVWIRE_H

#include <stddef.h>
#include <stdint.h>

enum bench_ev_kind {
    BENCH_EV_UNKNOWN = 0, /* a name this client does not know: skipped, as upstream's clients do */
    BENCH_EV_INSTANCE_CHANGED,
    BENCH_EV_INSTANCE_CREATED,
    BENCH_EV_INSTANCE_REMOVED,
    BENCH_EV_CRASHED,
    BENCH_EV_DESIRED, /* desired_lrp_created/changed/removed */
};

/* ActualLRP states as the workload sees them. */
enum bench_ev_state {
    BENCH_ST_OTHER = 0, /* absent, or a state the workload never makes */
    BENCH_ST_UNCLAIMED,
    BENCH_ST_CLAIMED,
    BENCH_ST_RUNNING,
    BENCH_ST_CRASHED,
};

struct bench_ev_info {
    enum bench_ev_kind kind;
    char guid[128]; /* process guid ("" when the event has none); truncated guids never match */
    int32_t index;
    char cell[64]; /* cell of the event's instance key ("" when none) */
    enum bench_ev_state before;
    enum bench_ev_state after; /* for created/removed: the LRP's state */
};

/* The kind for an SSE event name (BENCH_EV_UNKNOWN for names not listed in 2.10.2's instance
 * stream). */
enum bench_ev_kind bench_ev_kind_of(const char *name);

/* "RUNNING" -> BENCH_ST_RUNNING, ...; NULL and anything else -> BENCH_ST_OTHER. */
enum bench_ev_state bench_ev_state_of(const char *s);

/*
 * Decode the payload of an event named `name`. Returns 0 and fills `out`
 * (kind BENCH_EV_UNKNOWN for an unknown name, payload not read), or -1 when
 * the payload is not a valid encoding of the named message or lacks the
 * keys the reference says are always there.
 */
int bench_ev_decode(const char *name, const uint8_t *data, size_t len, struct bench_ev_info *out);

#endif /* BENCH_EVWIRE_H */
