/*
 * outbox.h - one bounded queue for every outbound HTTP call the server
 * makes: auction requests, rep calls, task completion callbacks.
 *
 * Callers enqueue a request (method, URL, body, headers, timeout, the kind
 * of destination) and return at once: the call goes out later on the one
 * outbox thread, which drives many transfers at a time with libcurl's multi
 * interface (connections to a destination are kept alive and reused). A
 * failure is logged and counted there, never returned to the caller: the
 * state change that caused the call is already committed, and the next
 * convergence repairs what a lost call left undone. A full queue drops the
 * request with a log line and a counter; enqueueing never blocks and takes
 * no lock (a lock-free list and atomic counters).
 *
 * Each destination kind has its own client TLS identity (CA, certificate,
 * key), used when the URL is https://; an http:// URL is sent in plain
 * HTTP whatever the identity, as upstream's Go clients do.
 *
 * Retries follow upstream, per request (enum bbs_outbox_retry):
 *  - auctioneer (auctioneer/client.go): one attempt; if an https:// attempt
 *    fails at transport level and require_tls is off, it is repeated once
 *    over http:// with the same body. A non-202 answer is not retried.
 *  - rep (rep/client.go): stop and update are one attempt each; update's
 *    404 fallback to the v1 route is a second request the caller makes from
 *    its completion function (BBS_OUTBOX_RETRY_NONE here).
 *  - task callbacks (bbs taskworkpool/taskcallback.go): up to 3 attempts
 *    while the attempt timed out or its connection was closed, or the answer
 *    was 503 or 504; other transport errors end at once.
 *
 * On shutdown queued requests get a bounded time to go out; the rest are
 * dropped and counted.
 */
#ifndef BBS_OUTBOX_H
#define BBS_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "bbs/error.h"

enum bbs_outbox_kind {
    BBS_OUTBOX_AUCTIONEER,
    BBS_OUTBOX_REP,
    BBS_OUTBOX_CALLBACK,
    BBS_OUTBOX_KINDS,
};

enum bbs_outbox_retry {
    BBS_OUTBOX_RETRY_NONE,          /* one attempt */
    BBS_OUTBOX_RETRY_HTTP_FALLBACK, /* https transport failure: once more over http:// */
    BBS_OUTBOX_RETRY_CALLBACK,      /* up to 3 attempts on timeout/closed/503/504 */
};

/* A client identity; all three "" (or NULL) = none (system CAs, no certificate). */
struct bbs_outbox_tls {
    const char *ca_file;
    const char *cert_file;
    const char *key_file;
    int require_tls; /* with RETRY_HTTP_FALLBACK: never fall back to http:// */
};

struct bbs_outbox_config {
    size_t queue_max;                            /* requests waiting at most; 0 = 10000 */
    size_t max_in_flight;                        /* transfers at once; 0 = 64 */
    int64_t default_timeout_ns;                  /* per attempt when a request says 0; 0 = 10 s */
    int64_t drain_ns;                            /* shutdown: time queued requests get; 0 = 2 s */
    struct bbs_outbox_tls tls[BBS_OUTBOX_KINDS]; /* strings copied */
};

/* The outcome of a request, given to its completion function. */
struct bbs_outbox_result {
    int ok;            /* the status was the expected one */
    long status;       /* HTTP status of the last attempt; 0 when none arrived */
    int attempts;      /* 1 + retries */
    const char *error; /* transport error of the last attempt, or NULL */
};

struct bbs_outbox_request {
    enum bbs_outbox_kind kind;
    const char *method; /* "POST", "PUT", ... */
    const char *url;
    const char *body; /* NULL = no body */
    size_t body_len;
    const char *const *headers; /* "Name: value" lines */
    size_t n_headers;
    int64_t timeout_ns; /* per attempt; 0 = the outbox default */
    long expect_status; /* success status; 0 = any 2xx (RETRY_CALLBACK: any but 503/504) */
    enum bbs_outbox_retry retry;
    int follow_redirects; /* follow up to 10 redirects, as Go's client does */
    const char *log_name; /* log line prefix, e.g. "auction"; NULL = "outbox" */
    size_t items;         /* logged with failures (e.g. number of start requests) */
    const char *trace_id; /* logged; NULL = "" */
    /*
     * Called once on the outbox thread with the outcome (also when the
     * request is dropped at shutdown or because the queue is full, with
     * attempts 0): must not block. NULL = none.
     */
    void (*done)(void *arg, const struct bbs_outbox_result *r);
    void *done_arg;
};

/* Counters since start; each read atomically (the set is not one snapshot). */
struct bbs_outbox_stats {
    uint64_t queued;       /* accepted into the queue */
    uint64_t sent;         /* finished with the expected status */
    uint64_t failed;       /* finished otherwise (transport error or status), retries spent */
    uint64_t dropped_full; /* refused: queue full */
    uint64_t dropped;      /* queued but never sent: shutdown drain over, or shutting down */
    uint64_t retried;      /* extra attempts made */
};

struct bbs_outbox;

/*
 * Start the outbox thread. Checks every configured TLS identity first (files
 * readable, certificate and key match, CA parses): -1 with InvalidRequest
 * naming the file otherwise. An identity with some but not all of its three
 * files is refused too.
 */
struct bbs_outbox *bbs_outbox_new(const struct bbs_outbox_config *cfg, struct bbs_error *err);

/*
 * Queue `req`; everything it points to is copied before return. Never
 * blocks; returns 0 when queued, -1 when dropped (queue full, shutting
 * down), which is already logged and counted: callers may ignore it.
 */
int bbs_outbox_send(struct bbs_outbox *ob, const struct bbs_outbox_request *req);

/* Read the counters (lock-free). */
void bbs_outbox_stats(const struct bbs_outbox *ob, struct bbs_outbox_stats *out);

/* Check one identity as bbs_outbox_new does (used at start-up and by tests). */
BBS_MUST_CHECK int bbs_outbox_tls_check(const struct bbs_outbox_tls *tls, const char *what,
                                        struct bbs_error *err);

/*
 * Let queued requests go out (bounded by drain_ns), then stop the thread;
 * what did not go out is dropped and counted. Later sends are dropped.
 * Idempotent; no bbs_outbox_send may run concurrently with it.
 */
void bbs_outbox_stop(struct bbs_outbox *ob);

/* bbs_outbox_stop, then free. Accepts NULL. */
void bbs_outbox_free(struct bbs_outbox *ob);

#endif /* BBS_OUTBOX_H */
