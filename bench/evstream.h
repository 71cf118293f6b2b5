/*
 * evstream.h - many event streams, read on one thread of their own.
 *
 * Opens `n_cell` cell-filtered streams (stream c asks for cell c of the
 * fleet) and `n_global` unfiltered ones on POST <path> (an EventsByCellId
 * body), over plain HTTP or TLS (GnuTLS, with the CA, client certificate
 * and verification options the other workloads take). One thread, one
 * epoll set, non-blocking sockets. Every byte goes through the strict
 * parser (sse.h); every record is decoded (evwire.h); records about the
 * fleet's instances are kept as arrivals (evmatch.h), stamped with the
 * monotonic time the bytes were read. A stream's ids must increase.
 *
 * Streams are never reopened: one the server ends or breaks stays ended,
 * and what it would have received counts as missing.
 *
 * Threading: after bench_evs_start() the reader owns everything but the
 * progress counters (atomics); the caller reads results only after
 * bench_evs_stop() has joined it.
 */
#ifndef BENCH_EVSTREAM_H
#define BENCH_EVSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "evmatch.h"
#include "fleet.h"
#include "http.h"

struct bench_evs;

struct bench_evs_opts {
    const struct bench_http_opts *http; /* URL and TLS options (borrowed until stop) */
    const struct bench_fleet *fleet;    /* borrowed until stop */
    uint32_t n_inst;                    /* instances 0 .. n_inst-1 are the workload's */
    int n_cell;                         /* <= fleet->cells */
    int n_global;                       /* <= BENCH_EV_MAX_GLOBAL */
    const char *path;                   /* e.g. "/v1/events/lrp_instances.r1" */
};

struct bench_evs_stats {
    int opened;            /* streams that answered 200 with an event-stream head */
    int failed;            /* never opened: connect, TLS, status or head */
    int ended;             /* opened, then ended by the server or broken before stop */
    uint64_t records;      /* SSE records, all streams */
    uint64_t comments;     /* SSE comment lines (heartbeats) */
    uint64_t fleet_events; /* records about the fleet's instances (the arrivals) */
    uint64_t foreign;      /* records about other LRPs: not this workload's */
    uint64_t unknown;      /* event names not of the instance stream: skipped */
    uint64_t bad_payloads; /* payloads that do not decode as their name says */
    uint64_t seq_errors;   /* an id not above the stream's previous one */
    uint64_t parse_errors; /* streams stopped by a framing error */
    uint64_t bytes;        /* read off the sockets (after TLS) */
    char first_error[200]; /* the first failure, for people */
};

/*
 * Start the reader thread and begin connecting every stream. Returns NULL
 * (after printing why) when TLS credentials cannot be loaded or the URL is
 * unusable. Raises RLIMIT_NOFILE's soft limit when the streams need it.
 */
struct bench_evs *bench_evs_start(const struct bench_evs_opts *o);

/*
 * Wait until every stream has opened or failed, or `timeout_s` passed.
 * Returns how many opened.
 */
int bench_evs_wait_open(struct bench_evs *s, double timeout_s);

/* Records about the fleet's instances so far (any thread). */
uint64_t bench_evs_arrived(const struct bench_evs *s);

/* Stop the reader and close every stream. Then the getters below may be used. */
void bench_evs_stop(struct bench_evs *s);

void bench_evs_stats(const struct bench_evs *s, struct bench_evs_stats *out);

/* The arrivals, in the order they were read; valid until bench_evs_free(). */
const struct bench_ev_arrival *bench_evs_arrivals(const struct bench_evs *s, size_t *n);

/* The stream layout for bench_ev_match(); `cell_open` is owned by `s`. */
void bench_evs_layout(const struct bench_evs *s, struct bench_ev_streams *out);

/* Stops the reader if needed. NULL is fine. */
void bench_evs_free(struct bench_evs *s);

#endif /* BENCH_EVSTREAM_H */
