/*
 * http.h - the load generator's HTTP/1.1 client.
 *
 * One event loop, driven from the calling thread, and any number of
 * connections (struct bench_conn), each carrying at most one request at a
 * time. A connection is the load generator's unit of concurrency: K
 * concurrent clients are K connections, and their sockets are kept alive
 * between requests, so each is opened once. Requests go through our own
 * small HTTP/1.1 client over epoll (http_raw.c; GnuTLS for https), or
 * through libcurl with --client curl (http_curl.c); see http_int.h.
 *
 * Requests are POSTs of a packed protobuf message (the BBS wire contract:
 * docs/api.md section 1). There is no request timeout: a slow server is a
 * result, never a failure. A failed transfer or an answer other than
 * HTTP 200 is a wire error; it is counted here and reported to the owner.
 *
 * Not done here: deciding what to send next (the workloads do that in their
 * `done` callbacks), statistics (stats.h), decoding answers (wire.h).
 */
#ifndef BENCH_HTTP_H
#define BENCH_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

struct bench_http;

struct bench_http_opts {
    const char *url;       /* base URL, http://host:port or https://host:port */
    const char *ca_file;   /* CA bundle for https; NULL: the system store */
    const char *cert_file; /* client certificate for mutual TLS; NULL: none */
    const char *key_file;  /* its private key */
    int insecure;          /* 1: do not verify the server certificate */
    int use_curl;          /* 1: libcurl instead of our own client */
};

struct bench_http_counters {
    uint64_t requests;    /* completed, successfully or not */
    uint64_t wire_errors; /* transport failures and answers other than 200 */
    uint64_t connects;    /* TCP connections opened */
};

/*
 * One client connection. The owner sets `done`, `ud` and `tag` freely; the
 * answer fields are valid only inside `done` (the next post reuses them).
 */
struct bench_conn {
    struct bench_http *http;
    void (*done)(struct bench_conn *c); /* called once per request, from bench_http_run() */
    void *ud;
    int64_t tag;

    /* The answer: body bytes, status (0 when the transport failed). */
    const uint8_t *resp;
    size_t resp_len;
    long status;
    int ok;             /* 1: a 200 answer arrived */
    const char *error;  /* when ok is 0: why (borrowed, valid inside `done`) */
    int64_t t0_ns;      /* monotonic time the request was posted */
    int64_t latency_ns; /* from post to the last byte of the answer */
};

/*
 * Create the client for `opts->url` (copied), sized for up to `max_conns`
 * connections. Returns NULL (after printing why) if the transport cannot
 * start (libcurl, or the TLS credentials).
 */
struct bench_http *bench_http_new(const struct bench_http_opts *opts, size_t max_conns);

/* Free `h`; its connections must have been freed. NULL is fine. */
void bench_http_free(struct bench_http *h);

/* "raw" or "libcurl". */
const char *bench_http_transport(const struct bench_http *h);

/*
 * A new idle connection. `recv_hint` is the expected answer size (0: small);
 * big list answers are read in larger chunks. Out of memory aborts.
 */
struct bench_conn *bench_conn_new(struct bench_http *h, size_t recv_hint,
                                  void (*done)(struct bench_conn *c), void *ud);

/* Free an idle connection. NULL is fine. */
void bench_conn_free(struct bench_conn *c);

/*
 * POST `msg` (packed now; NULL = empty body) to base URL + `path`. `c` must
 * be idle; `done` runs when the answer is in, inside bench_http_run().
 */
void bench_conn_post(struct bench_conn *c, const char *path, const ProtobufCMessage *msg);

/* 1 while a request of `c` is in flight. */
int bench_conn_busy(const struct bench_conn *c);

/*
 * Drive transfers until none is in flight and `tick` (may be NULL) has
 * nothing more to schedule. `tick(ud, now_ns)` runs on every turn of the
 * loop, may post requests, and returns the monotonic time it next wants to
 * run, or -1 when it has nothing left to schedule.
 */
void bench_http_run(struct bench_http *h, int64_t (*tick)(void *ud, int64_t now_ns), void *ud);

/*
 * Post one request on idle `c` and wait for it (and for anything else in
 * flight); returns c->ok. The answer fields stay valid until the next post.
 */
int bench_http_call(struct bench_conn *c, const char *path, const ProtobufCMessage *msg);

/*
 * Open the sockets of idle connections `c[0..n)` (one `h`) before a timed
 * phase, as a cell's client has its connection open long before it takes
 * an instance: each sends one /v1/ping, all at once, so their TCP and TLS
 * handshakes are not counted in the first operation of each. Returns the
 * number that failed.
 */
int bench_conns_open(struct bench_conn **c, int n);

void bench_http_counters(const struct bench_http *h, struct bench_http_counters *out);

/*
 * Raise the soft limit on open files to `need` (or the hard limit) if it is
 * lower: a thousand cells' sockets need more than the usual 1,024.
 */
void bench_raise_nofile(size_t need);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t bench_now_ns(void);

#endif /* BENCH_HTTP_H */
