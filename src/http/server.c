/*
 * server.c - the libmicrohttpd front end (http.h).
 *
 * Per request: route and method are checked on the first callback (404 /
 * 405 at once, and a declared Content-Length over the cap gets 413 before
 * any body is read); the body is gathered into the request arena up to the
 * cap; on the last callback the handler runs and its answer is queued.
 * The arena is released when libmicrohttpd reports the request completed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "bbs/codec.h"
#include "bbs/log.h"
#include "bbs/pbw.h"
#include "handlers.h"

#define PROTOBUF_TYPE "application/x-protobuf"

struct bbs_http {
    struct MHD_Daemon *daemon;
    struct bbs_ctx *ctx;
    const struct bbs_config *cfg;
    atomic_int unrecoverable;
};

struct request {
    struct bbs_arena *arena;
    const struct bbs_route *route;
    struct bbs_buf body;
    int64_t started_ns;
    int responded; /* a response was queued early (413 on Content-Length) */
    int oversized; /* the body passed the cap while arriving: discarded, 413 at its end */
};

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status, const char *type,
                             struct bbs_buf *body, const char *allow)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    size_t len = 0;
    uint8_t *data = bbs_buf_take(body, &len);

    resp = MHD_create_response_from_buffer(len, data != NULL ? data : (void *)"",
                                           data != NULL ? MHD_RESPMEM_MUST_FREE
                                                        : MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        free(data);
        return MHD_NO;
    }
    if (type != NULL) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    }
    if (allow != NULL) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    }
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result queue_text(struct MHD_Connection *conn, unsigned status, const char *text,
                                  const char *allow)
{
    struct bbs_buf b = {0};

    bbs_buf_append(&b, text, strlen(text));
    return queue(conn, status, "text/plain; charset=utf-8", &b, allow);
}

/* The route's response message carrying only `err` (and keep_container). */
static void error_body(const struct bbs_route *route, const struct bbs_error *err,
                       struct bbs_buf *out)
{
    out->len = 0;
    bbs_codec_put_error(out, err);
    if (route != NULL && (route->flags & BBS_ROUTE_KEEP_ON_ERROR)) {
        bbs_pbw_int64(out, 2, 1);
    }
}

static void log_request(const char *path, const char *method, unsigned status, int64_t start,
                        const struct bbs_error *err)
{
    json_t *data;

    if (!bbs_log_enabled(BBS_LOG_INFO)) {
        return;
    }
    data = json_pack("{s:s, s:s, s:i, s:f}", "route", path, "method", method, "status", (int)status,
                     "duration_ms", (double)(mono_ns() - start) / 1e6);
    if (data == NULL) {
        return;
    }
    if (err != NULL) {
        json_object_set_new(data, "error", json_string(bbs_error_name(err->type)));
        json_object_set_new(data, "error_message", json_string(err->message));
    }
    bbs_log_take(BBS_LOG_INFO, "request.served", data);
}

static enum MHD_Result too_large(struct bbs_http *h, struct MHD_Connection *conn, struct request *r,
                                 const char *url, const char *method)
{
    struct bbs_error err;
    struct bbs_buf b = {0};

    bbs_error_setf(&err, BBS_ERR_INVALID_REQUEST, "request body exceeds the limit of %lld bytes",
                   (long long)h->cfg->max_request_body_bytes);
    error_body(r->route, &err, &b);
    r->responded = 1;
    log_request(url, method, MHD_HTTP_CONTENT_TOO_LARGE, r->started_ns, &err);
    return queue(conn, MHD_HTTP_CONTENT_TOO_LARGE, PROTOBUF_TYPE, &b, NULL);
}

static enum MHD_Result dispatch(struct bbs_http *h, struct MHD_Connection *conn, struct request *r,
                                const char *url, const char *method)
{
    struct bbs_req req;
    struct bbs_buf out = {0};
    struct bbs_error err = {0};
    const char *trace = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Vcap-Request-Id");
    int failed;

    req.arena = r->arena;
    req.body = r->body.data != NULL ? r->body.data : (const uint8_t *)"";
    req.len = r->body.len;
    req.trace_id = trace != NULL ? trace : "";
    req.ctx = h->ctx;
    failed = r->route->handler(&req, &out, &err) != 0;
    if (failed) {
        error_body(r->route, &err, &out);
        if (err.type == BBS_ERR_UNRECOVERABLE) {
            atomic_store(&h->unrecoverable, 1);
        }
    }
    log_request(url, method, MHD_HTTP_OK, r->started_ns, failed ? &err : NULL);
    return queue(conn, MHD_HTTP_OK, PROTOBUF_TYPE, &out, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct bbs_http *h = cls;
    struct request *r = *con_cls;

    (void)version;
    if (r == NULL) {
        const struct bbs_route *route = bbs_route_find(url);
        const char *cl;

        if (route == NULL) {
            log_request(url, method, MHD_HTTP_NOT_FOUND, mono_ns(), NULL);
            return queue_text(conn, MHD_HTTP_NOT_FOUND, "404 page not found\n", NULL);
        }
        if (strcmp(method, "POST") != 0) {
            log_request(url, method, MHD_HTTP_METHOD_NOT_ALLOWED, mono_ns(), NULL);
            return queue_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed\n", "POST");
        }
        r = calloc(1, sizeof(*r));
        if (r == NULL) {
            return MHD_NO;
        }
        r->arena = bbs_arena_new();
        r->route = route;
        r->started_ns = mono_ns();
        *con_cls = r;
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoll(cl, NULL, 10) > h->cfg->max_request_body_bytes) {
            return too_large(h, conn, r, url, method);
        }
        return MHD_YES;
    }
    if (r->responded) {
        *upload_data_size = 0; /* discard what still arrives */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (mono_ns() - r->started_ns > h->cfg->http_read_timeout_ns) {
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
    return dispatch(h, conn, r, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct request *r = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (r == NULL) {
        return;
    }
    bbs_buf_free(&r->body);
    bbs_arena_free(r->arena);
    free(r);
    *con_cls = NULL;
}

static int parse_listen(const char *addr, struct sockaddr_in *sa, struct bbs_error *err)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    size_t hl;

    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    if (colon == NULL || (hl = (size_t)(colon - addr)) >= sizeof(host)) {
        goto bad;
    }
    memcpy(host, addr, hl);
    host[hl] = '\0';
    sa->sin_port = htons((uint16_t)atoi(colon + 1));
    if (hl == 0) {
        sa->sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (strcmp(host, "localhost") == 0) {
        sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
        goto bad;
    }
    return 0;
bad:
    bbs_error_setf(err, BBS_ERR_UNKNOWN, "listen_address \"%s\" is not an IPv4 host:port", addr);
    return -1;
}

struct bbs_http *bbs_http_start(const struct bbs_config *cfg, struct bbs_ctx *ctx,
                                struct bbs_error *err)
{
    struct bbs_http *h = calloc(1, sizeof(*h));
    struct sockaddr_in sa;

    if (h == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "out of memory");
        return NULL;
    }
    if (parse_listen(cfg->listen_address, &sa, err) != 0) {
        free(h);
        return NULL;
    }
    h->ctx = ctx;
    h->cfg = cfg;
    h->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG,
        ntohs(sa.sin_port), NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->http_worker_threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(cfg->http_idle_timeout_ns / 1000000000),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
    if (h->daemon == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "cannot listen on %s", cfg->listen_address);
        free(h);
        return NULL;
    }
    return h;
}

void bbs_http_stop(struct bbs_http *h)
{
    MHD_socket s;

    if (h == NULL) {
        return;
    }
    /* Stop accepting first; MHD_stop_daemon then waits for the worker
     * threads, so a handler already running completes its transaction. */
    s = MHD_quiesce_daemon(h->daemon);
    if (s != MHD_INVALID_SOCKET) {
        close(s);
    }
    MHD_stop_daemon(h->daemon);
    free(h);
}

int bbs_http_unrecoverable(const struct bbs_http *h)
{
    return atomic_load(&((struct bbs_http *)h)->unrecoverable);
}
