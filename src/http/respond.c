/*
 * respond.c - how answers leave: queueing a body on a connection (with
 * Connection: close while draining), the error body of a route, and the
 * request log line.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bbs/codec.h"
#include "bbs/log.h"
#include "bbs/pbw.h"
#include "conn.h"
#include "respond.h"

enum MHD_Result bbs_respond_queue(struct bbs_http *h, struct MHD_Connection *conn, unsigned status,
                                  const char *type, struct bbs_buf *body, const char *allow)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
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
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result bbs_respond_text(struct bbs_http *h, struct MHD_Connection *conn, unsigned status,
                                 const char *text, const char *allow)
{
    struct bbs_buf b = {0};

    bbs_buf_append(&b, text, strlen(text));
    return bbs_respond_queue(h, conn, status, "text/plain; charset=utf-8", &b, allow);
}

/* The route's response message carrying only `err` (and keep_container). */
void bbs_respond_error_body(const struct bbs_route *route, const struct bbs_error *err,
                            struct bbs_buf *out)
{
    out->len = 0;
    bbs_codec_put_error(out, err);
    if (route != NULL && (route->flags & BBS_ROUTE_KEEP_ON_ERROR)) {
        bbs_pbw_int64(out, 2, 1);
    }
}

void bbs_respond_log(const char *path, const char *method, unsigned status, int64_t start,
                     const struct bbs_error *err)
{
    json_t *data;

    if (!bbs_log_enabled(BBS_LOG_INFO)) {
        return;
    }
    data = json_pack("{s:s, s:s, s:i, s:f}", "route", path, "method", method, "status", (int)status,
                     "duration_ms", (double)(bbs_http_mono_ns() - start) / 1e6);
    if (data == NULL) {
        return;
    }
    if (err != NULL) {
        json_object_set_new(data, "error", json_string(bbs_error_name(err->type)));
        json_object_set_new(data, "error_message", json_string(err->message));
    }
    bbs_log_take(BBS_LOG_INFO, "request.served", data);
}
