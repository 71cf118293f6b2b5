/*
 * evmatch.h - did every event reach every stream it belongs to, once and
 * in order, and how long after its request was answered?
 *
 * Pure: the workload records what it caused (expectations: an instance g
 * went to a state, with the times its request was sent and answered) and
 * the stream reader records what arrived (arrivals: on which stream, for
 * which instance, what state, when); bench_ev_match() compares them once
 * the run is over. No I/O, clock or threads.
 *
 * Streams are numbered: 0 .. n_cell-1 are the cell-filtered streams, the
 * stream of cell c being number c (instance g lives on cell g % cells);
 * n_cell .. n_cell+n_global-1 are the unfiltered ones. An expectation for
 * g belongs to the stream of g's cell (if there is one and it opened) and
 * to every global stream that opened.
 *
 * The verdict for each arrival, on its stream:
 *   - matched: the earliest expectation of its instance with the same state
 *     not yet delivered on this stream (a delay sample: arrival minus
 *     answer, 0 when it arrived before the answer was read);
 *   - out_of_order: matched, but a later expectation of the same instance
 *     had already arrived on this stream;
 *   - duplicate: every expectation with its state was already delivered
 *     here;
 *   - unexpected: nothing was expected (another event name or state, a
 *     wrong instance key, an instance the workload did not touch);
 *   - filter_error: also unexpected: a cell stream got another cell's event.
 * What was expected and never matched is missing.
 */
#ifndef BENCH_EVMATCH_H
#define BENCH_EVMATCH_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_EV_MAX_GLOBAL 63

struct bench_ev_expect {
    int64_t t_sent; /* request posted (monotonic ns) */
    int64_t t_resp; /* answer read: the change was committed before this */
    uint32_t g;     /* fleet instance number */
    uint8_t state;  /* enum bench_ev_state: the instance's state after the change */
};

struct bench_ev_arrival {
    int64_t t_ns;    /* read off the socket (monotonic ns) */
    uint32_t g;      /* fleet instance number */
    uint16_t stream; /* see above */
    uint8_t state;   /* enum bench_ev_state after the change; BENCH_ST_OTHER if not a change */
    uint8_t ok;      /* 1: an actual_lrp_instance_changed with g's instance key; 0: anything else */
};

struct bench_ev_streams {
    uint32_t n_inst;          /* instances 0 .. n_inst-1; arrivals for others are unexpected */
    int cells;                /* fleet cells: g lives on g % cells */
    int n_cell;               /* cell streams 0 .. n_cell-1 (n_cell <= cells) */
    int n_global;             /* <= BENCH_EV_MAX_GLOBAL */
    const uint8_t *cell_open; /* n_cell flags: 1 if the stream opened (its events are expected) */
    uint64_t global_open;     /* bit j: global stream j opened */
};

struct bench_ev_result {
    uint64_t expected; /* deliveries expected: expectations x the streams each belongs to */
    uint64_t delivered;
    uint64_t missing;
    uint64_t duplicates;
    uint64_t out_of_order;
    uint64_t unexpected;
    uint64_t filter_errors;
    uint64_t early; /* delivered before the answer to the request was read */
    /* One sample per delivery, in ns: from the answer (clamped at 0), and from the request sent. */
    int64_t *delay_ns;
    int64_t *send_delay_ns;
    size_t n_delay;
};

/*
 * Compare. `ex` in the order the workload recorded them (per instance, the
 * order of its changes), `arr` in the order they arrived (per stream, the
 * order of the stream). Fills `out` (its arrays malloc'd; free with
 * bench_ev_result_free). Out of memory aborts.
 */
void bench_ev_match(const struct bench_ev_streams *s, const struct bench_ev_expect *ex, size_t n_ex,
                    const struct bench_ev_arrival *arr, size_t n_arr, struct bench_ev_result *out);

void bench_ev_result_free(struct bench_ev_result *r);

#endif /* BENCH_EVMATCH_H */
