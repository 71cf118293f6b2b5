/*
 * server.h - private to the HTTP target: the API listener's state, shared
 * by the request state machine (server.c), connections (conn.c), responses
 * (respond.c) and streams (stream.c), and small helpers they all use.
 */
#ifndef BBS_HTTP_SERVER_H
#define BBS_HTTP_SERVER_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>

#include <microhttpd.h>

#include "bbs/config.h"
#include "bbs/error.h"
#include "bbs/http.h"

struct bbs_conn;
struct bbs_streams;
struct request;

struct bbs_http {
    struct MHD_Daemon *daemon;
    struct bbs_ctx *ctx;
    const struct bbs_config *cfg;
    int tls;
    atomic_int unrecoverable;
    atomic_int inflight; /* unary requests between their first callback and completion */
    atomic_int draining; /* bbs_http_stop is waiting for requests in flight */

    pthread_mutex_t mu; /* guards conns and every conn's deadline */
    struct bbs_conn *conns;
    struct bbs_streams *streams; /* open long-lived responses (stream.c) */
    atomic_int list_streams;     /* streamed list answers being sent (respond.c) */

    /* The handler threads (server.c; none when handlers run on the I/O threads) and the
     * requests waiting for one, oldest first. */
    pthread_mutex_t jobs_mu;
    pthread_cond_t jobs_cv;
    struct request *jobs_head;
    struct request *jobs_tail;
    int jobs_stopping;
    int n_handlers; /* set at start, never changed */
    int n_started;  /* threads to join */
    pthread_t *handlers;
};

/*
 * Queue `resp` as the answer to `conn`'s request, with `status`, and drop
 * the caller's reference to it (MHD_queue_response, then
 * MHD_destroy_response). On a handler thread the answer is kept for the
 * connection's I/O thread, which queues it when the connection resumes.
 */
enum MHD_Result bbs_http_answer(struct MHD_Connection *conn, unsigned status,
                                struct MHD_Response *resp);

/*
 * Turn off libmicrohttpd's idle timeout for `conn` (a stream, quiet for as
 * long as nothing happens). A connection's options belong to its I/O
 * thread: on a handler thread this is done by the I/O thread when it
 * queues the answer.
 */
void bbs_http_untime(struct MHD_Connection *conn);

/* CLOCK_MONOTONIC in ns. */
int64_t bbs_http_mono_ns(void);

/*
 * libmicrohttpd's logger (MHD_OPTION_EXTERNAL_LOGGER): one JSON line per
 * message; failed TLS handshakes go to debug (the refusal is logged by
 * tls.c with its reason).
 */
__attribute__((format(printf, 2, 0))) void bbs_http_mhd_log(void *cls, const char *fmt, va_list ap);

#endif /* BBS_HTTP_SERVER_H */
