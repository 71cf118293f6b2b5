/*
 * respond.c - how answers leave: queueing a body on a connection (with
 * Connection: close while draining), the error body of a route, and the
 * request log line.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include <jansson.h>

#include "bbs/codec.h"
#include "bbs/log.h"
#include "bbs/pbjson.h"
#include "bbs/trace.h"
#include "conn.h"
#include "error.pb-c.h"
#include "respond.h"

enum MHD_Result bbs_respond_queue(struct bbs_http *h, struct MHD_Connection *conn, unsigned status,
                                  const char *type, struct bbs_buf *body, const char *allow)
{
    struct MHD_Response *resp;
    size_t len = 0;
    uint8_t *data = bbs_buf_take(body, &len);

    /* Answered (or about to be): the read deadline no longer applies. */
    bbs_conn_set_deadline(bbs_conn_of(conn), 0);
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
    if (atomic_load(&h->draining)) {
        /* Shutting down: this answer is the connection's last. */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    return bbs_http_answer(conn, status, resp);
}

enum MHD_Result bbs_respond_text(struct bbs_http *h, struct MHD_Connection *conn, unsigned status,
                                 const char *text, const char *allow)
{
    struct bbs_buf b = {0};

    bbs_buf_append(&b, text, strlen(text));
    return bbs_respond_queue(h, conn, status, "text/plain; charset=utf-8", &b, allow);
}

/* The field `name` of `d` if it is a singular field of `type`, else NULL. */
static const ProtobufCFieldDescriptor *singular(const ProtobufCMessageDescriptor *d,
                                                const char *name, ProtobufCType type)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, name);

    if (f == NULL || f->type != type || f->label == PROTOBUF_C_LABEL_REPEATED) {
        return NULL;
    }
    return f;
}

/* Set bool field `f` of `m` (proto3: no presence; proto2 optional: has_ set too). */
static void set_bool(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, int v)
{
    *(protobuf_c_boolean *)(void *)((char *)m + f->offset) = v != 0;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0) {
        *(protobuf_c_boolean *)(void *)((char *)m + f->quantifier_offset) = 1;
    }
}

void bbs_respond_encode(const struct bbs_route *route, struct bbs_arena *arena,
                        struct bbs_resp *resp, const struct bbs_error *err, struct bbs_buf *out)
{
    const ProtobufCMessageDescriptor *d = route->response;
    const ProtobufCFieldDescriptor *ef = singular(d, "error", PROTOBUF_C_TYPE_MESSAGE);
    const ProtobufCFieldDescriptor *kf = singular(d, "keep_container", PROTOBUF_C_TYPE_BOOL);
    ProtobufCMessage *m = NULL;
    const uint8_t *packed;
    size_t len = 0;

    out->len = 0;
    if (err == NULL && resp->msg == NULL && resp->body.len > 0) {
        bbs_buf_free(out);
        *out = resp->body;
        resp->body = (struct bbs_buf){0};
        return;
    }
    bbs_buf_free(&resp->body);
    if (err != NULL && (ef == NULL || ef->descriptor != &models__error__descriptor)) {
        bbs_codec_put_error(out, err);
        return;
    }
    if (err == NULL && resp->msg != NULL) {
        m = resp->msg;
    } else {
        m = bbs_arena_zalloc(arena, d->sizeof_message);
        protobuf_c_message_init(d, m);
    }
    if (err != NULL) {
        Models__Error *e = bbs_arena_zalloc(arena, sizeof(*e));

        models__error__init(e);
        e->type = (Models__Error__Type)err->type;
        e->message = bbs_arena_strdup(arena, err->message);
        *(ProtobufCMessage **)(void *)((char *)m + ef->offset) = &e->base;
    }
    if (kf != NULL) {
        set_bool(m, kf, resp->keep_container);
    }
    packed = bbs_codec_pack(arena, m, &len);
    bbs_buf_append(out, packed, len);
}

void bbs_respond_error_body(const struct bbs_route *route, struct bbs_arena *arena,
                            const struct bbs_error *err, struct bbs_buf *out)
{
    struct bbs_resp resp = {0};

    resp.keep_container = (route->flags & BBS_ROUTE_KEEP_ON_ERROR) != 0;
    bbs_respond_encode(route, arena, &resp, err, out);
}

/* Does the media type list `v` (a header value, NULL when absent) name application/json? */
static int names_json(const char *v, int list)
{
    const char *p = v;

    while (p != NULL && *p != '\0') {
        size_t n;

        p += strspn(p, " \t");
        n = strcspn(p, list ? ";," : ";");
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
            n--;
        }
        if (n == strlen(BBS_JSON_TYPE) && strncasecmp(p, BBS_JSON_TYPE, n) == 0) {
            return 1;
        }
        if (!list) {
            return 0;
        }
        p = strchr(p, ',');
        p = p != NULL ? p + 1 : NULL;
    }
    return 0;
}

int bbs_respond_json_body(struct MHD_Connection *conn)
{
    return names_json(
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE), 0);
}

int bbs_respond_json_wanted(struct MHD_Connection *conn)
{
    return bbs_respond_json_body(conn) ||
           names_json(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT),
                      1);
}

int bbs_respond_json_request(const struct bbs_route *route, struct bbs_arena *arena,
                             const uint8_t **body, size_t *len, struct bbs_error *err)
{
    struct bbs_buf pb = {0};
    int rc = 0;

    if (route->request == NULL) {
        return 0;
    }
    rc = bbs_pbjson_to_pb(route->request, (const char *)*body, *len, &pb, err);
    if (rc == 0) {
        *len = pb.len;
        *body = pb.len > 0 ? bbs_arena_memdup(arena, pb.data, pb.len) : (const uint8_t *)"";
    }
    bbs_buf_free(&pb);
    return rc;
}

void bbs_respond_to_json(const struct bbs_route *route, const struct bbs_error *err,
                         struct bbs_buf *out)
{
    struct bbs_buf text = {0};
    struct bbs_error perr;

    /* The response message as it is, `error` and keep_container included (an error answer
     * is {"error": {...}} because every other field is empty and omitted). */
    if (bbs_pbjson_from_pb(route->response, out->data != NULL ? out->data : (const uint8_t *)"",
                           out->len, &text, &perr) == 0) {
        bbs_buf_free(out);
        *out = text;
        return;
    }
    bbs_buf_free(&text);
    /* A PingResponse carries its 413 error where its `available` field is: written by hand. */
    if (err == NULL) {
        /* Our own answer did not decode as its type: a bug, answered as one. */
        bbs_log(BBS_LOG_ERROR, "http.json-encode-failed", "{s:s}", "route", route->path);
        err = &perr;
        bbs_error_setf(&perr, BBS_ERR_UNKNOWN, "the answer could not be written as JSON");
    }
    {
        const ProtobufCFieldDescriptor *kf =
            singular(route->response, "keep_container", PROTOBUF_C_TYPE_BOOL);
        json_t *j = json_pack("{s:{s:s, s:s}}", "error", "type", bbs_error_name(err->type),
                              "message", err->message);

        if (j != NULL && kf != NULL) {
            json_object_set_new(j, "keep_container",
                                json_boolean((route->flags & BBS_ROUTE_KEEP_ON_ERROR) != 0));
        }
        out->len = 0;
        if (j != NULL) {
            bbs_pbjson_dump(j, out);
        }
        json_decref(j);
    }
}

void bbs_respond_log(struct MHD_Connection *conn, const char *path, const char *method,
                     unsigned status, int64_t start, const struct bbs_error *err)
{
    json_t *data;
    int64_t us;
    const char *header;
    char trace[BBS_TRACE_ID_MAX];

    if (!bbs_log_enabled(BBS_LOG_INFO)) {
        return;
    }
    /* Whole microseconds: k / 1000.0 prints with at most three decimals. */
    us = (bbs_http_mono_ns() - start + 500) / 1000;
    data = json_pack("{s:s, s:s, s:i, s:f}", "route", path, "method", method, "status", (int)status,
                     "duration_ms", (double)us / 1e3);
    if (data == NULL) {
        return;
    }
    if (err != NULL) {
        json_object_set_new(data, "error", json_string(bbs_error_name(err->type)));
        json_object_set_new(data, "error_message", json_string(err->message));
    }
    header = conn != NULL ? MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Vcap-Request-Id")
                          : NULL;
    if (header != NULL && bbs_trace_id(header, strlen(header), trace) == 0) {
        json_object_set_new(data, "trace-id", json_string(trace));
    }
    bbs_log_take(BBS_LOG_INFO, "request.served", data);
}

/* ---- streamed list answers ---- */

/* libmicrohttpd asks for at most this much at a time. */
#define STREAM_BLOCK (64 * 1024)

struct streamed {
    struct bbs_http *h;
    struct bbs_resp_stream src;
    const char *path;
    struct bbs_buf pending; /* produced, not yet handed to libmicrohttpd */
    size_t off;
    int ended;
    int64_t deadline_ns;
};

static void stream_cut(struct streamed *s, const char *reason, const struct bbs_error *err)
{
    bbs_log(BBS_LOG_ERROR, "http.list-stream-cut", "{s:s, s:s, s:s}", "route", s->path, "reason",
            reason, "error", err != NULL ? err->message : "");
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct streamed *s = cls;
    struct bbs_error err = {0};
    size_t n;

    (void)pos;
    while (s->off == s->pending.len) {
        int rc;

        if (s->ended) {
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (bbs_http_mono_ns() > s->deadline_ns) {
            stream_cut(s, "not sent within the time a list may take", NULL);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        s->pending.len = 0;
        s->off = 0;
        rc = s->src.fill(s->src.ctx, &s->pending, &err);
        if (rc < 0) {
            stream_cut(s, "the list could not be read to its end", &err);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (rc == 0) {
            s->ended = 1;
        }
    }
    n = s->pending.len - s->off;
    if (n > max) {
        n = max;
    }
    memcpy(buf, s->pending.data + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    struct streamed *s = cls;

    s->src.close(s->src.ctx);
    bbs_buf_free(&s->pending);
    atomic_fetch_sub(&s->h->list_streams, 1);
    free(s);
}

int bbs_respond_stream_admit(struct bbs_http *h)
{
    int limit = h->cfg->max_open_database_connections / 2;

    if (limit < 1) {
        limit = 1;
    }
    if (atomic_fetch_add(&h->list_streams, 1) >= limit) {
        atomic_fetch_sub(&h->list_streams, 1);
        return 0;
    }
    return 1;
}

int bbs_respond_stream_prefill(struct bbs_resp_stream *src, struct bbs_buf *out, size_t limit,
                               struct bbs_error *err)
{
    int rc = 1;

    while (out->len < limit && (rc = src->fill(src->ctx, out, err)) > 0) {
    }
    if (rc <= 0) {
        src->close(src->ctx);
        memset(src, 0, sizeof(*src));
        if (rc < 0) {
            bbs_buf_free(out);
        }
    }
    return rc;
}

enum MHD_Result bbs_respond_stream(struct bbs_http *h, struct MHD_Connection *conn,
                                   const char *type, const char *path, struct bbs_resp_stream *src,
                                   struct bbs_buf *first)
{
    struct streamed *s = calloc(1, sizeof(*s));
    struct MHD_Response *resp;

    bbs_conn_set_deadline(bbs_conn_of(conn), 0);
    if (s == NULL) {
        bbs_buf_free(first);
        src->close(src->ctx);
        atomic_fetch_sub(&h->list_streams, 1);
        return MHD_NO;
    }
    s->h = h;
    s->src = *src;
    s->path = path;
    s->pending = *first;
    *first = (struct bbs_buf){0};
    s->deadline_ns = bbs_http_mono_ns() + BBS_LIST_STREAM_MAX_NS;
    memset(src, 0, sizeof(*src));
    /* From here stream_free releases `s` and the source, whatever happens. */
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, s,
                                             stream_free);
    if (resp == NULL) {
        stream_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (atomic_load(&h->draining)) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    return bbs_http_answer(conn, MHD_HTTP_OK, resp);
}

int bbs_respond_stream_drain(struct bbs_resp_stream *src, struct bbs_buf *out,
                             struct bbs_error *err)
{
    int rc;

    while ((rc = src->fill(src->ctx, out, err)) > 0) {
    }
    src->close(src->ctx);
    memset(src, 0, sizeof(*src));
    if (rc < 0) {
        bbs_buf_free(out);
        return -1;
    }
    return 0;
}
