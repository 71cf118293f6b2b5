/*
 * locket.c - the Locket client (locket.h; reference-2 12.5, 12.6): unary
 * gRPC calls over HTTP/2 with mutual TLS, made with libcurl.
 *
 * A call is one POST of a length-prefixed protobuf to
 * https://<address>/models.Locket/<Method> with content-type
 * application/grpc and te: trailers. The status arrives as grpc-status
 * (and grpc-message) either among the response headers (a Trailers-Only
 * error) or in the trailers after the body; libcurl hands both to the
 * header callback, so the last value seen wins. An HTTP status other than
 * 200 or an answer over HTTP/1.x is gRPC's transport error.
 *
 * Each call borrows a curl easy handle from a small pool of idle ones
 * (made on demand, at most LOCKET_IDLE_MAX kept), so consecutive calls
 * reuse the handle's HTTP/2 connection; TCP keepalive notices a dead peer
 * and a dropped connection is re-dialled by the next call. This module
 * does not do the Locket lock (leadership).
 */
#include "bbs/locket.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "bbs/log.h"
#include "bbs/outbox.h"
#include "bbs/xalloc.h"
#include "cells.pb-c.h"
#include "locket.pb-c.h"

#define LOCKET_IDLE_MAX 8

/* Largest answer accepted by default (gRPC's own default receive limit is 4 MiB;
 * FetchAll of thousands of cells stays far below this). */
#define LOCKET_MAX_BODY ((size_t)64 << 20)

struct bbs_locket {
    char *base_url; /* "https://<address>/models.Locket/" */
    char *ca_file;
    char *cert_file;
    char *key_file;
    long timeout_ms;
    size_t max_body;
    pthread_mutex_t mu; /* guards idle[] */
    CURL *idle[LOCKET_IDLE_MAX];
    size_t n_idle;
};

/* ---- gRPC pieces ---------------------------------------------------------------------- */

const char *bbs_grpc_code_name(int code)
{
    static const char *const names[] = {
        "OK",
        "Canceled",
        "Unknown",
        "InvalidArgument",
        "DeadlineExceeded",
        "NotFound",
        "AlreadyExists",
        "PermissionDenied",
        "ResourceExhausted",
        "FailedPrecondition",
        "Aborted",
        "OutOfRange",
        "Unimplemented",
        "Internal",
        "Unavailable",
        "DataLoss",
        "Unauthenticated",
    };

    if (code < 0 || (size_t)code >= sizeof(names) / sizeof(names[0])) {
        return "Unknown";
    }
    return names[code];
}

int bbs_grpc_code_from_http(long http_status)
{
    switch (http_status) {
    case 400:
        return BBS_GRPC_INTERNAL;
    case 401:
        return BBS_GRPC_UNAUTHENTICATED;
    case 403:
        return BBS_GRPC_PERMISSION_DENIED;
    case 404:
        return BBS_GRPC_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
        return BBS_GRPC_UNAVAILABLE;
    default:
        return BBS_GRPC_UNKNOWN;
    }
}

void bbs_grpc_frame(const ProtobufCMessage *msg, struct bbs_buf *out)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t prefix[5];

    prefix[0] = 0; /* not compressed */
    prefix[1] = (uint8_t)(n >> 24);
    prefix[2] = (uint8_t)(n >> 16);
    prefix[3] = (uint8_t)(n >> 8);
    prefix[4] = (uint8_t)n;
    bbs_buf_reserve(out, 5 + n);
    bbs_buf_append(out, prefix, 5);
    out->len += protobuf_c_message_pack(msg, out->data + out->len);
}

int bbs_grpc_unframe(const uint8_t *body, size_t len, const uint8_t **msg, size_t *msg_len,
                     struct bbs_error *err)
{
    size_t n;

    if (len < 5) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "gRPC answer of %zu bytes has no message", len);
        return -1;
    }
    if (body[0] != 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "gRPC answer is compressed (flag %u)",
                       (unsigned)body[0]);
        return -1;
    }
    n = (size_t)body[1] << 24 | (size_t)body[2] << 16 | (size_t)body[3] << 8 | (size_t)body[4];
    if (n != len - 5) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN,
                       "gRPC answer announces %zu bytes and holds %zu (one message expected)", n,
                       len - 5);
        return -1;
    }
    *msg = body + 5;
    *msg_len = n;
    return 0;
}

static int grpc_hex(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

void bbs_grpc_message_decode(const char *in, char *out, size_t size)
{
    size_t o = 0;

    for (size_t i = 0; in[i] != '\0' && o + 1 < size; i++) {
        int hi;
        int lo;

        /* A '%' not followed by two hex digits is kept as it is (grpc-go does too). */
        if (in[i] == '%' && (hi = grpc_hex((unsigned char)in[i + 1])) >= 0 &&
            (lo = grpc_hex((unsigned char)in[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = in[i];
        }
    }
    out[o] = '\0';
}

/* ---- the client ----------------------------------------------------------------------- */

static pthread_once_t locket_curl_once = PTHREAD_ONCE_INIT;

static void locket_curl_init(void)
{
    /* Reference-counted by libcurl; the outbox may have called it already. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        bbs_log(BBS_LOG_ERROR, "locket.curl-init-failed", NULL);
    }
}

static int locket_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

struct bbs_locket *bbs_locket_new(const struct bbs_locket_config *cfg, struct bbs_error *err)
{
    struct bbs_locket *l = NULL;
    struct bbs_outbox_tls tls = {cfg->ca_file, cfg->cert_file, cfg->key_file, 1};
    size_t n;

    if (!locket_set(cfg->address)) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST, "locket: no address");
        return NULL;
    }
    if (!locket_set(cfg->ca_file) || !locket_set(cfg->cert_file) || !locket_set(cfg->key_file)) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                       "locket: mutual TLS needs the CA, certificate and key files");
        return NULL;
    }
    if (bbs_outbox_tls_check(&tls, "locket", err) != 0) {
        return NULL;
    }
    pthread_once(&locket_curl_once, locket_curl_init);
    l = bbs_xcalloc(1, sizeof(*l));
    n = strlen(cfg->address) + sizeof("https:///models.Locket/");
    l->base_url = bbs_xmalloc(n);
    snprintf(l->base_url, n, "https://%s/models.Locket/", cfg->address);
    l->ca_file = bbs_xstrdup(cfg->ca_file);
    l->cert_file = bbs_xstrdup(cfg->cert_file);
    l->key_file = bbs_xstrdup(cfg->key_file);
    /* Round up: a sub-millisecond timeout must not become 0 (= none). */
    l->timeout_ms = cfg->timeout_ns > 0 ? (long)((cfg->timeout_ns + 999999) / 1000000) : 10000;
    l->max_body = cfg->max_response_bytes > 0 ? cfg->max_response_bytes : LOCKET_MAX_BODY;
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

void bbs_locket_free(struct bbs_locket *l)
{
    if (l == NULL) {
        return;
    }
    for (size_t i = 0; i < l->n_idle; i++) {
        curl_easy_cleanup(l->idle[i]);
    }
    pthread_mutex_destroy(&l->mu);
    free(l->base_url);
    free(l->ca_file);
    free(l->cert_file);
    free(l->key_file);
    free(l);
}

static CURL *locket_handle_get(struct bbs_locket *l)
{
    CURL *h = NULL;

    pthread_mutex_lock(&l->mu);
    if (l->n_idle > 0) {
        h = l->idle[--l->n_idle];
    }
    pthread_mutex_unlock(&l->mu);
    if (h == NULL) {
        h = curl_easy_init();
        if (h == NULL) {
            bbs_out_of_memory(0); /* curl_easy_init fails only on allocation */
        }
    }
    return h;
}

static void locket_handle_put(struct bbs_locket *l, CURL *h)
{
    pthread_mutex_lock(&l->mu);
    if (l->n_idle < LOCKET_IDLE_MAX) {
        l->idle[l->n_idle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&l->mu);
    curl_easy_cleanup(h); /* NULL-safe */
}

/* What one transfer collects. */
struct locket_call {
    struct bbs_buf body;
    int grpc_status; /* -1 until a grpc-status header or trailer arrives */
    size_t max_body;
    int too_big; /* the answer passed max_body: transfer aborted */
    char grpc_message[512];
};

static size_t locket_on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct locket_call *c = arg;

    if (c->body.len + size * nmemb > c->max_body) {
        c->too_big = 1;
        return 0; /* libcurl ends the transfer (CURLE_WRITE_ERROR) */
    }
    bbs_buf_append(&c->body, p, size * nmemb);
    return size * nmemb;
}

/* A header or trailer line "name: value\r\n": is it `name`? Then its trimmed value. */
static int locket_header(const char *line, size_t n, const char *name, char *value, size_t size)
{
    size_t k = strlen(name);
    size_t v;
    size_t end;

    if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':') {
        return 0;
    }
    v = k + 1;
    while (v < n && (line[v] == ' ' || line[v] == '\t')) {
        v++;
    }
    end = n;
    while (end > v && (line[end - 1] == '\r' || line[end - 1] == '\n' || line[end - 1] == ' ')) {
        end--;
    }
    if (end - v >= size) {
        end = v + size - 1;
    }
    memcpy(value, line + v, end - v);
    value[end - v] = '\0';
    return 1;
}

static size_t locket_on_header(char *p, size_t size, size_t nmemb, void *arg)
{
    struct locket_call *c = arg;
    size_t n = size * nmemb;
    char value[sizeof(c->grpc_message)];

    if (locket_header(p, n, "grpc-status", value, sizeof(value))) {
        char *end = NULL;
        long code = strtol(value, &end, 10);

        c->grpc_status =
            end != value && *end == '\0' && code >= 0 && code < 1000 ? (int)code : BBS_GRPC_UNKNOWN;
    } else if (locket_header(p, n, "grpc-message", value, sizeof(value))) {
        bbs_grpc_message_decode(value, c->grpc_message, sizeof(c->grpc_message));
    }
    return n;
}

/* gRPC's code for a transfer libcurl could not complete. */
static int locket_code_from_curl(CURLcode rc)
{
    return rc == CURLE_OPERATION_TIMEDOUT ? BBS_GRPC_DEADLINE_EXCEEDED : BBS_GRPC_UNAVAILABLE;
}

static void locket_rpc_error(struct bbs_error *err, int code, const char *desc)
{
    bbs_error_setf(err, BBS_ERR_UNKNOWN, "rpc error: code = %s desc = %s", bbs_grpc_code_name(code),
                   desc);
}

void bbs_grpc_timeout_header(long ms, char *out, size_t size)
{
    if (ms <= 99999999L) {
        snprintf(out, size, "grpc-timeout: %ldm", ms);
    } else {
        long s = ms / 1000 + (ms % 1000 != 0);

        snprintf(out, size, "grpc-timeout: %ldS", s <= 99999999L ? s : 99999999L);
    }
}

/* One transfer on `h`; fills `c` and returns the gRPC code (0 = a message in c->body). */
static int locket_transfer(struct bbs_locket *l, CURL *h, const char *method,
                           const struct bbs_buf *req, struct locket_call *c, char *desc,
                           size_t desc_size)
{
    struct curl_slist *headers = NULL;
    char url[512];
    char errbuf[CURL_ERROR_SIZE] = "";
    char timeout[64];
    CURLcode rc;
    long http_status = 0;
    long version = 0;
    int code;

    snprintf(url, sizeof(url), "%s%s", l->base_url, method);
    bbs_grpc_timeout_header(l->timeout_ms, timeout, sizeof(timeout));
    headers = curl_slist_append(headers, "Content-Type: application/grpc");
    headers = curl_slist_append(headers, "TE: trailers");
    headers = curl_slist_append(headers, "Expect:");
    headers = curl_slist_append(headers, "Accept:");
    headers = curl_slist_append(headers, timeout);
    if (headers == NULL) {
        bbs_out_of_memory(0);
    }
    curl_easy_reset(h); /* keeps the connection cache */
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)req->data);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_SSLCERT, l->cert_file);
    curl_easy_setopt(h, CURLOPT_SSLKEY, l->key_file);
    curl_easy_setopt(h, CURLOPT_CAINFO, l->ca_file);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, l->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, l->timeout_ms);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, locket_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, locket_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    rc = curl_easy_perform(h);
    curl_slist_free_all(headers);
    /*
     * A server may answer (Trailers-Only) before it has read the whole
     * request and then reset the stream with NO_ERROR, which libcurl
     * reports as a stream error. The status it sent is the answer.
     */
    if ((rc == CURLE_HTTP2_STREAM || rc == CURLE_HTTP2) && c->grpc_status > 0) {
        rc = CURLE_OK;
    }
    if (rc != CURLE_OK && c->too_big) {
        snprintf(desc, desc_size, "grpc: received message larger than max (%zu bytes)",
                 c->max_body);
        return BBS_GRPC_RESOURCE_EXHAUSTED;
    }
    if (rc != CURLE_OK) {
        code = locket_code_from_curl(rc);
        snprintf(desc, desc_size, "%s", errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
        return code;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http_status);
    curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &version);
    if (version != CURL_HTTP_VERSION_2_0) {
        snprintf(desc, desc_size, "%s answered over HTTP/1.x, not HTTP/2 (not a gRPC server)", url);
        return BBS_GRPC_UNAVAILABLE;
    }
    if (http_status != 200) {
        snprintf(desc, desc_size, "unexpected HTTP status code received from server: %ld",
                 http_status);
        return bbs_grpc_code_from_http(http_status);
    }
    if (c->grpc_status < 0) {
        snprintf(desc, desc_size, "server closed the stream without sending a grpc-status");
        return BBS_GRPC_UNKNOWN;
    }
    snprintf(desc, desc_size, "%s", c->grpc_message);
    return c->grpc_status;
}

int bbs_locket_unary(struct bbs_locket *l, const char *method, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *resp_desc, struct bbs_arena *arena,
                     ProtobufCMessage **resp, int *status, struct bbs_error *err)
{
    struct bbs_buf framed = {0};
    struct locket_call c = {.grpc_status = -1, .max_body = l->max_body};
    char desc[1024] = "";
    const uint8_t *msg = NULL;
    size_t msg_len = 0;
    CURL *h = NULL;
    int code;
    int rc = -1;

    *resp = NULL;
    bbs_grpc_frame(req, &framed);
    h = locket_handle_get(l);
    code = locket_transfer(l, h, method, &framed, &c, desc, sizeof(desc));
    locket_handle_put(l, h);
    if (code != BBS_GRPC_OK) {
        goto fail;
    }
    if (bbs_grpc_unframe(c.body.data, c.body.len, &msg, &msg_len, err) != 0) {
        code = BBS_GRPC_INTERNAL;
        snprintf(desc, sizeof(desc), "%.900s", err->message);
        goto fail;
    }
    *resp = protobuf_c_message_unpack(resp_desc, bbs_arena_pb_allocator(arena), msg_len, msg);
    if (*resp == NULL) {
        code = BBS_GRPC_INTERNAL;
        snprintf(desc, sizeof(desc), "grpc: failed to unmarshal the received message");
        goto fail;
    }
    rc = 0;
    goto out;
fail:
    *status = code;
    locket_rpc_error(err, code, desc);
out:
    if (rc == 0) {
        *status = BBS_GRPC_OK;
    }
    bbs_buf_free(&framed);
    bbs_buf_free(&c.body);
    return rc;
}

int bbs_locket_cells(struct bbs_locket *l, struct bbs_arena *arena, struct bbs_cell **out,
                     size_t *n, struct bbs_error *err)
{
    Models__FetchAllRequest req = MODELS__FETCH_ALL_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    const Models__FetchAllResponse *resp;
    struct bbs_cell *cells = NULL;
    size_t count = 0;
    int status = 0;

    *out = NULL;
    *n = 0;
    if (l == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "locket not configured");
        return -1;
    }
    req.type = (char *)"presence";
    req.type_code = MODELS__TYPE_CODE__PRESENCE;
    if (bbs_locket_unary(l, "FetchAll", &req.base, &models__fetch_all_response__descriptor, arena,
                         &m, &status, err) != 0) {
        /* Never sent by FetchAll, but the contract of upstream's callers (12.7 n2). */
        return status == BBS_GRPC_NOT_FOUND ? 0 : -1;
    }
    resp = (const Models__FetchAllResponse *)m;
    if (resp->n_resources > 0) {
        cells = bbs_arena_zalloc(arena, resp->n_resources * sizeof(*cells));
    }
    for (size_t i = 0; i < resp->n_resources; i++) {
        const Models__Resource *r = resp->resources[i];
        struct bbs_cell cell;
        struct bbs_error perr = {0};
        size_t j;

        if (bbs_cell_presence_parse(arena, r->value, strlen(r->value), &cell, &perr) != 0) {
            bbs_log(BBS_LOG_ERROR, "locket.failed-to-unmarshal-presence", "{s:s, s:s}", "key",
                    r->key, "error", perr.message);
            continue;
        }
        /* Keyed by cell_id as upstream's CellSet: a later presence replaces an earlier one. */
        for (j = 0; j < count && strcmp(cells[j].cell_id, cell.cell_id) != 0; j++) {
        }
        cells[j] = cell;
        if (j == count) {
            count++;
        }
    }
    *out = count > 0 ? cells : NULL;
    *n = count;
    return 0;
}

int bbs_locket_cell(struct bbs_locket *l, struct bbs_arena *arena, const char *cell_id,
                    struct bbs_cell *out, struct bbs_error *err)
{
    Models__FetchRequest req = MODELS__FETCH_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    const Models__FetchResponse *resp;
    struct bbs_error perr = {0};
    int status = 0;

    memset(out, 0, sizeof(*out));
    if (l == NULL) {
        return 1;
    }
    req.key = (char *)cell_id;
    if (bbs_locket_unary(l, "Fetch", &req.base, &models__fetch_response__descriptor, arena, &m,
                         &status, err) != 0) {
        return status == BBS_GRPC_NOT_FOUND ? 1 : -1;
    }
    resp = (const Models__FetchResponse *)m;
    if (resp->resource == NULL) {
        return 1;
    }
    if (bbs_cell_presence_parse(arena, resp->resource->value, strlen(resp->resource->value), out,
                                &perr) != 0) {
        bbs_log(BBS_LOG_ERROR, "locket.failed-to-unmarshal-presence", "{s:s, s:s}", "key", cell_id,
                "error", perr.message);
        memset(out, 0, sizeof(*out));
        return 1;
    }
    return 0;
}
