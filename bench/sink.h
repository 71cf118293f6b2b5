/*
 * sink.h - a tiny HTTP/1.1 server inside the load generator: what the BBS
 * calls out to while the tasks workload runs.
 *
 * It stands in for the auctioneer (POST /v1/tasks and /v1/lrps answered
 * 202 at once, counted: the BBS waits for that answer before it answers a
 * task desire) and receives completion callbacks (POST /cb/..., handed to
 * the workload's handler, which answers the status; 200 when none is set).
 * Anything else is answered 404 and counted as stray.
 *
 * One thread of its own (epoll, non-blocking sockets, keep-alive, any
 * number of connections); the handler runs on that thread. Request bodies
 * need a Content-Length (the BBS's libcurl sends one); chunked bodies are
 * refused with 400. `Expect: 100-continue` is answered. Responses are a
 * status line and `Content-Length: 0`; if one does not fit the socket
 * buffer at once (never with the BBS as the peer) the connection is
 * closed and counted in `bad_requests`.
 *
 * Not done here: TLS (callbacks to https URLs are not measured), deciding
 * what a callback means (the workload's handler does).
 */
#ifndef BENCH_SINK_H
#define BENCH_SINK_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_SINK_MAX_HEAD 8192
#define BENCH_SINK_MAX_BODY (1u << 20)

/* One parsed request; pointers into the caller's buffer. */
struct bench_sink_req {
    const char *method;
    size_t method_len;
    const char *path; /* the request target as sent (origin form) */
    size_t path_len;
    const char *body;
    size_t body_len;
    size_t consumed;     /* bytes of head + body */
    int head_done;       /* the head is complete (also when the body is not yet) */
    int expect_continue; /* "Expect: 100-continue" */
    int keep_alive;      /* 0 after "Connection: close", or HTTP/1.0 without keep-alive */
};

enum { BENCH_SINK_BAD = -1, BENCH_SINK_MORE = 0, BENCH_SINK_DONE = 1 };

/*
 * Parse the request at the start of `buf[0..len)`. DONE: a whole request
 * is there (`out` filled, `consumed` bytes belong to it). MORE: not yet;
 * when `out->head_done` is set the head was valid and the body is still
 * coming. BAD: not a request we accept (malformed request line or header
 * line, bare CR or LF, NUL, a head over BENCH_SINK_MAX_HEAD, a
 * Content-Length that is not digits, over BENCH_SINK_MAX_BODY or given
 * twice with different values, any Transfer-Encoding).
 */
int bench_sink_parse(const char *buf, size_t len, struct bench_sink_req *out);

struct bench_sink;

/* Requests answered so far, by kind (read at any time, from any thread). */
struct bench_sink_counters {
    uint64_t requests;
    uint64_t connections;
    uint64_t task_auctions;      /* POSTs to /v1/tasks */
    uint64_t task_auction_tasks; /* tasks in them ("TaskGuid" keys) */
    uint64_t lrp_auctions;       /* POSTs to /v1/lrps */
    uint64_t callbacks;          /* requests to /cb/... */
    uint64_t stray;              /* any other path */
    uint64_t bad_requests;       /* refused by the parser, or a response that did not fit */
};

/*
 * Listen on `addr` ("HOST:PORT", an IPv4 address; port 0 = any free one)
 * and start the thread. Returns NULL with a reason in `err` on failure.
 */
struct bench_sink *bench_sink_start(const char *addr, char *err, size_t errlen);

/* Stop the thread, close every socket, free `s`. NULL is fine. */
void bench_sink_stop(struct bench_sink *s);

/* "http://HOST:PORT" of the listening socket (0.0.0.0 shows as 127.0.0.1). */
const char *bench_sink_url(const struct bench_sink *s);

/*
 * The callback handler: called on the sink's thread for every request to
 * /cb/..., with the time the request was complete (bench_now_ns()); returns
 * the HTTP status to answer. Setting a new handler (or NULL) waits for a
 * call in progress to end, so `ud` may be freed once this returns.
 */
void bench_sink_set_handler(struct bench_sink *s,
                            int (*handle)(void *ud, const struct bench_sink_req *req, int64_t t_ns),
                            void *ud);

void bench_sink_counters(const struct bench_sink *s, struct bench_sink_counters *out);

#endif /* BENCH_SINK_H */
