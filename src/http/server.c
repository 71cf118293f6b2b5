/*
 * server.c - the request state machine of the API listener (http.h):
 * start, the per-request callbacks with the body cap, stop with its drain.
 *
 * Per request: route and method are checked on the first callback (404 /
 * 405 at once); the body is gathered into the request arena up to the
 * cap (past it, it is read and thrown away, and answered 413 at its end:
 * see on_request); on the last callback the handler runs and its answer
 * is queued.
 * The arena is released when libmicrohttpd reports the request completed.
 *
 * Connections and their read deadlines are conn.c's (the reaper is
 * bbs_http_reap), TLS sessions tls.c's, answers and the log line
 * respond.c's, the health listener health.c's.
 *
 * What this module does not do: decode or validate requests (handlers),
 * or decide whether TLS is on (the config; main.c warns about plain HTTP).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "bbs/changelog.h"
#include "bbs/log.h"
#include "bbs/store.h"
#include "bbs/xalloc.h"
#include "conn.h"
#include "handlers.h"
#include "respond.h"
#include "server.h"
#include "stream.h"
#include "tls.h"

/* Server-sent events (BBS_ROUTE_STREAM). */
#define BBS_EVENT_STREAM_TYPE "text/event-stream; charset=utf-8"

/* An over-cap body announced as more than this many times the cap is refused unread. */
#define DISCARD_FACTOR 8

struct request {
    struct bbs_arena *arena;
    const struct bbs_route *route;
    struct bbs_buf body;
    int64_t started_ns;
    int responded; /* a response was queued early (413 on Content-Length) */
    int oversized; /* the body passed the cap while arriving: discarded, 413 at its end */
    int streaming; /* a stream's response was queued: no longer counted in flight */
    int quick;     /* dispatch runs the handler on the I/O thread first (BBS_ROUTE_QUICK_FIRST) */
    int hand_back; /* ... and it asked for a handler thread (BBS_ROUTE_HAND_OVER) */
    int known_change; /* ... having read that it changes state (struct bbs_req) */
    /* ... or it queued a read (BBS_ROUTE_WAIT): the connection is suspended until the
     * read's callback and the I/O thread have both passed `gate` (the second resumes). */
    int waiting;
    int waited;
    int wait_answer;
    atomic_int gate;

    /* Handed to a handler thread (connection suspended meanwhile): */
    int handed;                  /* the handler has been asked for */
    atomic_int done;             /* it has run: `result` and `answer` are set */
    struct MHD_Connection *conn; /* for the handler thread */
    const char *url;
    const char *method;
    enum MHD_Result result;      /* dispatch's */
    struct MHD_Response *answer; /* what dispatch queued, queued again by the I/O thread */
    unsigned status;
    int untimed; /* bbs_http_untime was asked for: the I/O thread does it */
    struct request *next_job;
};

/* The request whose handler this thread runs (bbs_http_answer keeps its answer), or NULL. */
static _Thread_local struct request *running;

/*
 * Metrics (metrics.h): a unary request counts when its handler has run
 * (or its 413 is queued), with the time since its headers arrived; a
 * stream counts when it ends, without a latency. 404 and 405 are not
 * counted (reference-2 13.2).
 */
static void count_request(struct bbs_http *h, const struct request *r, int stream)
{
    bbs_metrics_request(h->ctx->metrics, bbs_route_index(r->route),
                        stream ? -1 : bbs_http_mono_ns() - r->started_ns);
}

/* con_cls of a request answered on its first callback (404, 405): nothing to free. */
static char answered_early;

int64_t bbs_http_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- libmicrohttpd's own messages -------------------------------------------------------- */

/*
 * libmicrohttpd reports to this logger (printf-style, one message per
 * call). A failed TLS handshake is routine (the refusal is logged by us
 * with its reason), so that one goes to debug; the rest to info.
 */
void bbs_http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
        msg[--n] = '\0';
    }
    bbs_log(strstr(msg, "handshake") != NULL ? BBS_LOG_DEBUG : BBS_LOG_INFO, "http.libmicrohttpd",
            "{s:s}", "detail", msg);
}

static enum MHD_Result too_large(struct bbs_http *h, struct MHD_Connection *conn, struct request *r,
                                 const char *url, const char *method)
{
    struct bbs_error err;
    struct bbs_buf b = {0};

    bbs_error_setf(&err, BBS_ERR_INVALID_REQUEST, "request body exceeds the limit of %lld bytes",
                   (long long)h->cfg->max_request_body_bytes);
    bbs_respond_error_body(r->route, r->arena, &err, &b);
    r->responded = 1;
    count_request(h, r, 0);
    bbs_respond_log(conn, url, method, MHD_HTTP_CONTENT_TOO_LARGE, r->started_ns, &err);
    if (r->route->kind == BBS_ROUTE_UNARY && bbs_respond_json_wanted(conn)) {
        bbs_respond_to_json(r->route, &err, &b);
        return bbs_respond_queue(h, conn, MHD_HTTP_CONTENT_TOO_LARGE, BBS_JSON_TYPE, &b, NULL);
    }
    return bbs_respond_queue(h, conn, MHD_HTTP_CONTENT_TOO_LARGE, BBS_PROTOBUF_TYPE, &b, NULL);
}

/*
 * A queued read has answered (bbs_req.wait_done; the store's reader
 * thread). The connection is resumed by whichever of this and the I/O
 * thread's suspend comes second: libmicrohttpd must not be asked to resume
 * a connection before it is suspended.
 */
static void wait_done(void *ud, int answer)
{
    struct request *r = ud;

    r->wait_answer = answer;
    if (atomic_fetch_add(&r->gate, 1) == 1) {
        MHD_resume_connection(r->conn);
    }
}

static enum MHD_Result dispatch(struct bbs_http *h, struct MHD_Connection *conn, struct request *r,
                                const char *url, const char *method)
{
    struct bbs_req req = {0};
    struct bbs_resp resp = {0};
    struct bbs_buf out = {0};
    struct bbs_error err = {0};
    const char *trace = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Vcap-Request-Id");
    int failed;
    int json;

    /* The request has fully arrived: however long the handler takes (a
     * database outage), the connection is not reaped under it. */
    bbs_conn_set_deadline(bbs_conn_of(conn), 0);
    req.arena = r->arena;
    req.body = r->body.data != NULL ? r->body.data : (const uint8_t *)"";
    req.len = r->body.len;
    req.trace_id = trace != NULL ? trace : "";
    req.last_event_id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
    req.ctx = h->ctx;
    if (r->route->kind == BBS_ROUTE_JSON) {
        /* Operator JSON (h_diag.c): the handler writes the JSON text; its answer is never an
         * error (a failed check is part of the text). */
        failed = bbs_route_run(r->route, &req, &resp, &err) != 0;
        count_request(h, r, 0);
        if (failed) {
            bbs_buf_free(&resp.body);
            bbs_buf_printf(&resp.body, "{\"error\":{\"type\":\"%s\"}}\n", bbs_error_name(err.type));
        }
        bbs_respond_log(conn, url, method, MHD_HTTP_OK, r->started_ns, failed ? &err : NULL);
        return bbs_respond_queue(h, conn, MHD_HTTP_OK, BBS_JSON_TYPE, &resp.body, NULL);
    }
    if (r->route->kind == BBS_ROUTE_STREAM) {
        req.stream = bbs_stream_new(h->streams, conn, h->cfg->http_thread_per_connection);
    }
    /* JSON (docs/api.md): a JSON body becomes the protobuf body the route decodes, and the
     * protobuf answer is re-encoded below; event streams stay as they are. */
    json = r->route->kind == BBS_ROUTE_UNARY && bbs_respond_json_wanted(conn);
    if (json && bbs_respond_json_body(conn) &&
        bbs_respond_json_request(r->route, r->arena, &req.body, &req.len, &err) != 0) {
        resp.keep_container = (r->route->flags & BBS_ROUTE_KEEP_ON_ERROR) != 0;
        failed = 1;
    } else {
        int rc;

        req.quick = r->quick;
        req.known_change = r->known_change;
        req.wait_done = wait_done;
        req.wait_ud = r;
        req.waited = r->waited;
        req.wait_answer = r->wait_answer;
        rc = bbs_route_run(r->route, &req, &resp, &err);
        if (req.quick && rc == BBS_ROUTE_HAND_OVER) {
            r->hand_back = 1; /* nothing queued, counted or logged: the caller hands it over */
            r->known_change = req.known_change;
            return MHD_YES;
        }
        if (req.quick && rc == BBS_ROUTE_WAIT) {
            r->waiting = 1; /* nothing queued, counted or logged: the caller suspends */
            return MHD_YES;
        }
        failed = rc != 0;
    }
    if (resp.stream.fill != NULL && failed) {
        resp.stream.close(resp.stream.ctx);
    } else if (resp.stream.fill != NULL && json) {
        /* The JSON hook converts a whole protobuf answer: a JSON list is
         * read to its end first, then answered as any other. */
        failed = bbs_respond_stream_drain(&resp.stream, &resp.body, &err) < 0;
    } else if (resp.stream.fill != NULL) {
        /* A list answered as it is read (respond.c): a small one whole, with
         * a Content-Length; past the admission limit, read whole as well. */
        int more = bbs_respond_stream_prefill(&resp.stream, &resp.body, BBS_STREAM_PREFILL, &err);

        if (more > 0 && bbs_respond_stream_admit(h)) {
            count_request(h, r, 0);
            bbs_respond_log(conn, url, method, MHD_HTTP_OK, r->started_ns, NULL);
            return bbs_respond_stream(h, conn, BBS_PROTOBUF_TYPE, r->route->path, &resp.stream,
                                      &resp.body);
        }
        if (more > 0) {
            more = bbs_respond_stream_drain(&resp.stream, &resp.body, &err);
        }
        failed = more < 0;
    }
    if (req.stream != NULL && !failed) {
        /* The stream lives on after this callback: the drain must not wait
         * for it (bbs_http_stop ends it instead). */
        bbs_buf_free(&resp.body);
        r->streaming = 1;
        atomic_fetch_sub(&h->inflight, 1);
        bbs_respond_log(conn, url, method, MHD_HTTP_OK, r->started_ns, NULL);
        return bbs_stream_queue(conn, req.stream, BBS_EVENT_STREAM_TYPE);
    }
    bbs_stream_unref(req.stream);
    count_request(h, r, r->route->kind == BBS_ROUTE_STREAM);
    if (r->route->kind == BBS_ROUTE_STREAM) {
        /* A stream that cannot start (body not an EventsByCellId, the backlog
         * unreadable): HTTP 500 with an empty body, as upstream answers. */
        bbs_respond_log(conn, url, method, MHD_HTTP_INTERNAL_SERVER_ERROR, r->started_ns, &err);
        return bbs_respond_text(h, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "", NULL);
    }
    bbs_respond_encode(r->route, r->arena, &resp, failed ? &err : NULL, &out);
    if (failed && err.type == BBS_ERR_UNRECOVERABLE) {
        atomic_store(&h->unrecoverable, 1);
    }
    bbs_respond_log(conn, url, method, MHD_HTTP_OK, r->started_ns, failed ? &err : NULL);
    if (json) {
        bbs_respond_to_json(r->route, failed ? &err : NULL, &out);
    }
    return bbs_respond_queue(h, conn, MHD_HTTP_OK, json ? BBS_JSON_TYPE : BBS_PROTOBUF_TYPE, &out,
                             NULL);
}

enum MHD_Result bbs_http_answer(struct MHD_Connection *conn, unsigned status,
                                struct MHD_Response *resp)
{
    enum MHD_Result ret;

    if (running != NULL && running->conn == conn && running->answer == NULL) {
        running->answer = resp; /* the caller's reference, now the request's */
        running->status = status;
        return MHD_YES;
    }
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

void bbs_http_untime(struct MHD_Connection *conn)
{
    if (running != NULL && running->conn == conn) {
        running->untimed = 1;
        return;
    }
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
}

/* ---- handler threads ------------------------------------------------------------------- */

/*
 * In the thread pool (http_thread_per_connection false) a connection
 * stays on the I/O thread that accepted it. A handler run there would
 * hold up every other connection of that thread for as long as its
 * transaction takes (a lock wait, a slow disk, a database outage). So the
 * I/O thread suspends the connection and hands the request to the
 * handler threads (http_handler_threads), which take requests in the
 * order they became complete; the answer goes back to the I/O thread,
 * which queues it once the connection is resumed.
 */
static void *handler_main(void *arg)
{
    struct bbs_http *h = arg;

    for (;;) {
        struct request *r;

        pthread_mutex_lock(&h->jobs_mu);
        while (h->jobs_head == NULL && !h->jobs_stopping) {
            pthread_cond_wait(&h->jobs_cv, &h->jobs_mu);
        }
        r = h->jobs_head;
        if (r == NULL) {
            pthread_mutex_unlock(&h->jobs_mu);
            return NULL; /* stopping, and every request handed over has run */
        }
        h->jobs_head = r->next_job;
        if (h->jobs_head == NULL) {
            h->jobs_tail = NULL;
        }
        pthread_mutex_unlock(&h->jobs_mu);

        running = r;
        r->result = dispatch(h, r->conn, r, r->url, r->method);
        running = NULL;
        atomic_store(&r->done, 1);
        MHD_resume_connection(r->conn);
    }
}

/*
 * Suspend `r`'s connection and queue `r` for the handler threads: 1; or 0
 * when they are stopping (the caller runs the handler itself: a
 * connection left suspended would stop libmicrohttpd's shutdown).
 */
static int hand_over(struct bbs_http *h, struct MHD_Connection *conn, struct request *r,
                     const char *url, const char *method)
{
    pthread_mutex_lock(&h->jobs_mu);
    if (h->jobs_stopping) {
        pthread_mutex_unlock(&h->jobs_mu);
        return 0;
    }
    r->handed = 1;
    r->conn = conn;
    r->url = url;
    r->method = method;
    /* The request has fully arrived: waiting for a handler thread, it is
     * not reaped for a read deadline (dispatch clears it as well). */
    bbs_conn_set_deadline(bbs_conn_of(conn), 0);
    MHD_suspend_connection(conn);
    r->next_job = NULL;
    if (h->jobs_tail != NULL) {
        h->jobs_tail->next_job = r;
    } else {
        h->jobs_head = r;
    }
    h->jobs_tail = r;
    pthread_cond_signal(&h->jobs_cv);
    pthread_mutex_unlock(&h->jobs_mu);
    return 1;
}

/* Start the handler threads (none with n == 0). */
static int handlers_start(struct bbs_http *h, int n)
{
    pthread_mutex_init(&h->jobs_mu, NULL);
    pthread_cond_init(&h->jobs_cv, NULL);
    h->handlers = n > 0 ? bbs_xcalloc((size_t)n, sizeof(*h->handlers)) : NULL;
    while (h->n_started < n) {
        if (pthread_create(&h->handlers[h->n_started], NULL, handler_main, h) != 0) {
            return -1; /* http_free ends those started */
        }
        h->n_started++;
    }
    h->n_handlers = n;
    return 0;
}

/* Let the handler threads run what was handed over, then end them. */
static void handlers_stop(struct bbs_http *h)
{
    pthread_mutex_lock(&h->jobs_mu);
    h->jobs_stopping = 1;
    pthread_cond_broadcast(&h->jobs_cv);
    pthread_mutex_unlock(&h->jobs_mu);
    for (int i = 0; i < h->n_started; i++) {
        pthread_join(h->handlers[i], NULL);
    }
    h->n_started = 0;
}

/* ---- the API listener ------------------------------------------------------------------ */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct bbs_http *h = cls;
    struct request *r = *con_cls;

    (void)version;
    if (r == NULL) {
        const struct bbs_route *route;
        char allow[64];
        const char *cl;
        const struct bbs_conn *c = bbs_conn_of(conn);

        /* Every request counts as in flight from here until on_completed. */
        atomic_fetch_add(&h->inflight, 1);
        *con_cls = &answered_early;
        if (h->tls && (c == NULL || !c->verified)) {
            /* Unreachable while the handshake verifies clients; if that ever
             * failed open, no request would be processed regardless. */
            bbs_log(BBS_LOG_ERROR, "http.tls-unverified-request", "{s:s}", "route", url);
            return MHD_NO;
        }
        route = bbs_route_find(url, method, allow, sizeof(allow));
        if (route == NULL && allow[0] == '\0') {
            bbs_respond_log(conn, url, method, MHD_HTTP_NOT_FOUND, bbs_http_mono_ns(), NULL);
            return bbs_respond_text(h, conn, MHD_HTTP_NOT_FOUND, "404 page not found\n", NULL);
        }
        if (route == NULL) {
            bbs_respond_log(conn, url, method, MHD_HTTP_METHOD_NOT_ALLOWED, bbs_http_mono_ns(),
                            NULL);
            return bbs_respond_text(h, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed\n",
                                    allow);
        }
        r = bbs_xcalloc(1, sizeof(*r));
        r->arena = bbs_arena_new();
        r->route = route;
        r->started_ns = bbs_http_mono_ns();
        *con_cls = r;
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoll(cl, NULL, 10) > h->cfg->max_request_body_bytes) {
            const char *expect =
                MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);

            /* Answering before the body is read makes libmicrohttpd close
             * the connection with request bytes still unread, so the
             * kernel resets it, which can destroy the 413 before the client
             * reads it (and the client sees a broken pipe instead). So the
             * body is read and thrown away (within http_read_timeout) and
             * answered at its end, on a connection that stays usable;
             * except for a client waiting for 100 Continue (it sends no
             * body until told) and a body so large that reading it would
             * cost more than the reset. */
            if ((expect != NULL && strcasecmp(expect, "100-continue") == 0) ||
                strtoll(cl, NULL, 10) / DISCARD_FACTOR > h->cfg->max_request_body_bytes) {
                return too_large(h, conn, r, url, method);
            }
            r->oversized = 1;
        }
        return MHD_YES;
    }
    if ((void *)r == (void *)&answered_early) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->responded) {
        *upload_data_size = 0; /* discard what still arrives */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (bbs_http_mono_ns() - r->started_ns > h->cfg->http_read_timeout_ns) {
            bbs_log(BBS_LOG_ERROR, "request.read-timeout", "{s:s}", "route", url);
            return MHD_NO; /* close the connection */
        }
        /* A body without Content-Length (chunked) can only be answered once
         * it has ended (libmicrohttpd queues no response mid-body): past the
         * cap nothing more is kept, and the read timeout bounds the wait. */
        if (r->oversized ||
            (int64_t)(r->body.len + *upload_data_size) > h->cfg->max_request_body_bytes) {
            r->oversized = 1;
            bbs_buf_free(&r->body);
            *upload_data_size = 0;
            return MHD_YES;
        }
        bbs_buf_append(&r->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->oversized) {
        return too_large(h, conn, r, url, method);
    }
    if (r->handed) {
        /* Resumed: the handler thread has run (nothing else resumes this
         * connection before its answer is queued). */
        struct MHD_Response *answer;

        if (!atomic_load(&r->done)) {
            return MHD_YES; /* not yet (never expected): wait for the resume */
        }
        answer = r->answer;
        r->answer = NULL;
        if (answer == NULL) {
            return r->result;
        }
        if (r->result != MHD_YES) {
            MHD_destroy_response(answer);
            return MHD_NO;
        }
        if (r->untimed) {
            MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
        }
        return bbs_http_answer(conn, r->status, answer);
    }
    if (r->waiting) {
        /* Resumed: the read it was queued for has answered; the handler
         * runs again below with that answer. */
        if (atomic_load(&r->gate) < 2) {
            return MHD_YES; /* not yet (never expected): wait for the resume */
        }
        r->waiting = 0;
        r->waited = 1;
    }
    if (h->n_handlers > 0 && (r->route->flags & BBS_ROUTE_QUICK_FIRST) != 0) {
        /* What needs no wait is answered here, without the hand-over's two
         * thread switches (a cell's heartbeat starts, most of the load). */
        enum MHD_Result ret;

        r->quick = 1;
        r->conn = conn;
        ret = dispatch(h, conn, r, url, method);
        r->quick = 0;
        if (r->waiting) {
            /* Queued behind a read in flight: this I/O thread serves its
             * other connections meanwhile (wait_done). */
            MHD_suspend_connection(conn);
            if (atomic_fetch_add(&r->gate, 1) == 1) {
                MHD_resume_connection(conn);
            }
            return MHD_YES;
        }
        if (!r->hand_back) {
            return ret;
        }
    }
    if (h->n_handlers > 0 && hand_over(h, conn, r, url, method)) {
        return MHD_YES;
    }
    return dispatch(h, conn, r, url, method);
}

/*
 * The request is over (answered, or its connection died). A keep-alive
 * connection may now idle for http_idle_timeout (libmicrohttpd closes it
 * after that much silence), and its next request must be complete within
 * http_read_timeout after that.
 */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct bbs_http *h = cls;
    struct request *r = *con_cls;

    (void)toe;
    bbs_conn_set_deadline(bbs_conn_of(conn), bbs_http_mono_ns() + h->cfg->http_idle_timeout_ns +
                                                 h->cfg->http_read_timeout_ns);
    if (r == NULL) {
        return;
    }
    *con_cls = NULL;
    if ((void *)r == (void *)&answered_early) {
        atomic_fetch_sub(&h->inflight, 1);
        return;
    }
    if (!r->streaming) {
        atomic_fetch_sub(&h->inflight, 1);
    } else {
        count_request(h, r, 1); /* the stream has ended */
    }
    if (r->answer != NULL) {
        MHD_destroy_response(r->answer);
    }
    bbs_buf_free(&r->body);
    bbs_arena_free(r->arena);
    free(r);
}

static void http_free(struct bbs_http *h)
{
    handlers_stop(h);
    pthread_mutex_destroy(&h->jobs_mu);
    pthread_cond_destroy(&h->jobs_cv);
    free(h->handlers);
    bbs_streams_release(h->streams);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

struct bbs_http *bbs_http_start(const struct bbs_config *cfg, struct bbs_ctx *ctx,
                                const struct bbs_http_tls *tls, int listen_fd,
                                struct bbs_error *err)
{
    struct bbs_http *h = bbs_xcalloc(1, sizeof(*h));
    /*
     * A handler blocks for its whole transaction. In the thread pool a
     * connection stays with the thread that accepted it, so busy clients
     * bunched on one thread queue behind each other while others idle
     * (docs/performance.md); a thread per connection lets every client have
     * a transaction in flight, bounded by the database pool.
     */
    unsigned flags =
        cfg->http_thread_per_connection
            ? (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC |
               MHD_USE_ERROR_LOG)
            : (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG);
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_KEY, 0, tls != NULL ? tls->key : NULL},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, tls != NULL ? tls->cert : NULL},
        {MHD_OPTION_HTTPS_MEM_TRUST, 0, tls != NULL ? tls->ca : NULL},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)(uintptr_t)BBS_TLS_PRIORITIES},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_OptionItem no_opts[] = {{MHD_OPTION_END, 0, NULL}};

    pthread_mutex_init(&h->mu, NULL);
    if (handlers_start(h, cfg->http_thread_per_connection ? 0 : cfg->http_handler_threads) != 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "cannot start %d handler threads",
                       cfg->http_handler_threads);
        goto fail;
    }
    h->ctx = ctx;
    h->cfg = cfg;
    if (h->n_handlers > 0 && ctx->store != NULL) {
        /* Busy handler threads hold a connection each; a start tried on an
         * I/O thread first (BBS_ROUTE_QUICK_FIRST) needs one more, idle at
         * that moment, or is handed over. Opened now, not by the first
         * burst (at most max_open_database_connections). */
        bbs_store_warm(ctx->store, h->n_handlers + cfg->http_worker_threads + 2);
    }
    h->streams = bbs_streams_new();
    h->tls = tls != NULL;
    if (tls != NULL) {
        flags |= MHD_USE_TLS;
    }
    /*
     * In the thread pool a stream waits for its producer by suspending its
     * connection (stream.c). The flag is set only when the table has a
     * stream route, so a table without one runs libmicrohttpd exactly as
     * before (the flag changes its close timing: it made the TLS refusal
     * race, now closed by tls.c's linger, show up more often).
     */
    if (!cfg->http_thread_per_connection &&
        (bbs_route_any(BBS_ROUTE_STREAM) || h->n_handlers > 0)) {
        flags |= MHD_ALLOW_SUSPEND_RESUME;
    }
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, bbs_http_mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd, MHD_OPTION_THREAD_POOL_SIZE,
        cfg->http_thread_per_connection ? 0u : (unsigned)cfg->http_worker_threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(cfg->http_idle_timeout_ns / 1000000000),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_NOTIFY_CONNECTION, bbs_conn_notify, h, MHD_OPTION_ARRAY,
        tls != NULL ? tls_opts : no_opts, MHD_OPTION_END);
    if (h->daemon == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "cannot listen on %s%s", cfg->listen_address,
                       tls != NULL ? " with TLS" : "");
        goto fail;
    }
    return h;
fail:
    http_free(h);
    return NULL;
}

/*
 * Drain, as SIGTERM asks: stop accepting, end every stream at once, let
 * every unary request that has started (its headers arrived) finish and be
 * answered, closing each connection after its answer, for up to
 * http_shutdown_timeout; then close what is left (idle keep-alive
 * connections, requests still arriving).
 * MHD_stop_daemon also waits for a handler still running past the timeout,
 * so no transaction is cut short.
 */
void bbs_http_stop(struct bbs_http *h)
{
    MHD_socket s;
    int64_t deadline;

    if (h == NULL) {
        return;
    }
    atomic_store(&h->draining, 1);
    s = MHD_quiesce_daemon(h->daemon);
    if (s != MHD_INVALID_SOCKET) {
        close(s);
    }
    /* Streams never finish by themselves: end them now (what was sent is
     * flushed), and every one opened from now on at birth. */
    bbs_streams_end_all(h->streams);
    deadline = bbs_http_mono_ns() + h->cfg->http_shutdown_timeout_ns;
    while (atomic_load(&h->inflight) > 0 && bbs_http_mono_ns() < deadline) {
        struct timespec ts = {0, 10 * 1000000L};

        nanosleep(&ts, NULL);
        /* The worker (and its reaper job) has stopped by now: a request
         * still trickling in is closed at its read deadline, not waited for. */
        bbs_http_reap(h);
    }
    if (atomic_load(&h->inflight) > 0) {
        bbs_log(BBS_LOG_ERROR, "http.drain-timeout", "{s:i}", "requests",
                atomic_load(&h->inflight));
    }
    /* Before the daemon: a handler thread, or the store's heartbeat reader
     * (BBS_ROUTE_WAIT), resumes its connection when done. */
    if (h->ctx->store != NULL) {
        bbs_store_peeks_stop(h->ctx->store);
    }
    handlers_stop(h);
    MHD_stop_daemon(h->daemon);
    http_free(h);
}

int bbs_http_unrecoverable(const struct bbs_http *h)
{
    return atomic_load(&((struct bbs_http *)h)->unrecoverable);
}
