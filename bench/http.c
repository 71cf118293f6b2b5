/*
 * http.c - connections, the event loop and the choice of transport (see
 * http.h; the transports are http_raw.c and http_curl.c).
 *
 * Everything runs on the caller's thread: bench_http_run() alternates
 * waiting for I/O with the workload's `tick`, and each finished request is
 * handed to its connection's `done` callback, which usually posts the next
 * request on the same connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "http_int.h"

#define BENCH_POLL_MAX_MS 1000

void http_oom(void)
{
    fputs("bbs-bench: out of memory\n", stderr);
    abort();
}

void *http_realloc(void *p, size_t n)
{
    void *q = realloc(p, n);

    if (q == NULL) {
        http_oom();
    }
    return q;
}

static char *dup_or_null(const char *s)
{
    char *d;

    if (s == NULL) {
        return NULL;
    }
    d = strdup(s);
    if (d == NULL) {
        http_oom();
    }
    return d;
}

void bench_raise_nofile(size_t need)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need) {
        return;
    }
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
}

int64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct bench_http *bench_http_new(const struct bench_http_opts *opts, size_t max_conns)
{
    struct bench_http *h = calloc(1, sizeof(*h));
    size_t n;
    int rc;

    if (h == NULL) {
        http_oom();
    }
    h->epfd = -1;
    h->base = dup_or_null(opts->url);
    n = strlen(h->base);
    while (n > 0 && h->base[n - 1] == '/') {
        h->base[--n] = '\0';
    }
    h->ca_file = dup_or_null(opts->ca_file);
    h->cert_file = dup_or_null(opts->cert_file);
    h->key_file = dup_or_null(opts->key_file);
    h->insecure = opts->insecure;
    h->max_conns = max_conns;
    /* Our own HTTP/1.1 (over GnuTLS for https) unless libcurl is asked for. */
    h->use_curl = opts->use_curl ||
                  (strncmp(h->base, "http://", 7) != 0 && strncmp(h->base, "https://", 8) != 0);
    rc = h->use_curl ? http_curl_init(h) : http_raw_init(h);
    if (rc != 0) {
        bench_http_free(h);
        return NULL;
    }
    return h;
}

void bench_http_free(struct bench_http *h)
{
    if (h == NULL) {
        return;
    }
    if (h->use_curl) {
        http_curl_free(h);
    } else {
        http_raw_free(h);
    }
    free(h->base);
    free(h->ca_file);
    free(h->cert_file);
    free(h->key_file);
    free(h);
}

const char *bench_http_transport(const struct bench_http *h)
{
    return h->use_curl ? "libcurl" : "raw";
}

struct bench_conn *bench_conn_new(struct bench_http *h, size_t recv_hint,
                                  void (*done)(struct bench_conn *c), void *ud)
{
    struct conn_impl *ci = calloc(1, sizeof(*ci));

    if (ci == NULL) {
        http_oom();
    }
    ci->pub.http = h;
    ci->pub.done = done;
    ci->pub.ud = ud;
    ci->recv_hint = recv_hint;
    ci->req_cap = 256;
    ci->req = http_realloc(NULL, ci->req_cap);
    ci->fd = -1;
    if (h->use_curl) {
        http_curl_conn_init(ci);
    } else {
        http_raw_conn_init(ci);
    }
    return &ci->pub;
}

void bench_conn_free(struct bench_conn *c)
{
    struct conn_impl *ci = (struct conn_impl *)c;

    if (ci == NULL) {
        return;
    }
    if (c->http->use_curl) {
        http_curl_conn_free(ci);
    } else {
        http_raw_conn_free(ci);
    }
    free(ci->req);
    free(ci->buf);
    free(ci);
}

int bench_conn_busy(const struct bench_conn *c)
{
    return ((const struct conn_impl *)c)->busy;
}

void http_reserve(struct conn_impl *ci, size_t more)
{
    size_t cap;

    if (ci->len + more <= ci->cap) {
        return;
    }
    cap = ci->cap ? ci->cap : 4096;
    while (cap < ci->len + more) {
        cap *= 2;
    }
    ci->buf = http_realloc(ci->buf, cap);
    ci->cap = cap;
}

void bench_conn_post(struct bench_conn *c, const char *path, const ProtobufCMessage *msg)
{
    struct conn_impl *ci = (struct conn_impl *)c;
    struct bench_http *h = c->http;

    if (ci->busy) {
        fputs("bbs-bench: internal error: post on a busy connection\n", stderr);
        abort();
    }
    ci->req_len = 0;
    if (msg != NULL) {
        ci->req_len = protobuf_c_message_get_packed_size(msg);
        if (ci->req_len > ci->req_cap) {
            ci->req_cap = ci->req_len;
            ci->req = http_realloc(ci->req, ci->req_cap);
        }
        protobuf_c_message_pack(msg, ci->req);
    }
    ci->path = path;
    ci->len = 0;
    ci->errbuf[0] = '\0';
    ci->busy = 1;
    h->inflight++;
    h->posted++;
    c->t0_ns = bench_now_ns();
    if (h->use_curl) {
        http_curl_post(ci);
    } else {
        http_raw_post(ci);
    }
}

void http_complete(struct conn_impl *ci, long status, const uint8_t *body, size_t len,
                   const char *error)
{
    struct bench_conn *c = &ci->pub;
    struct bench_http *h = c->http;

    ci->busy = 0;
    h->inflight--;
    h->counters.requests++;
    c->latency_ns = bench_now_ns() - c->t0_ns;
    c->resp = body;
    c->resp_len = len;
    c->status = status;
    c->ok = status == 200;
    c->error = NULL;
    if (status == 0) {
        c->error = error != NULL ? error : "transport failure";
    } else if (status != 200) {
        snprintf(ci->errbuf, sizeof(ci->errbuf), "HTTP status %ld", status);
        c->error = ci->errbuf;
    }
    if (!c->ok) {
        h->counters.wire_errors++;
    }
    if (c->done != NULL) {
        c->done(c);
    }
}

void bench_http_run(struct bench_http *h, int64_t (*tick)(void *ud, int64_t now_ns), void *ud)
{
    int64_t next = tick != NULL ? 0 : -1;
    uint64_t seen = h->posted - 1; /* forces a first turn without sleeping */

    for (;;) {
        int64_t now = bench_now_ns();
        int timeout_ms = BENCH_POLL_MAX_MS;

        if (next >= 0 && now >= next) {
            next = tick(ud, now);
        }
        if (h->inflight == 0 && next < 0) {
            break;
        }
        if (next >= 0) {
            int64_t wait_ms = (next - now + 999999) / 1000000;

            if (wait_ms < timeout_ms) {
                timeout_ms = wait_ms < 0 ? 0 : (int)wait_ms;
            }
        }
        if (h->use_curl && h->posted != seen) {
            /* libcurl sends only from curl_multi_perform(): do that before sleeping. */
            timeout_ms = 0;
            seen = h->posted;
        }
        if (h->use_curl) {
            http_curl_turn(h, timeout_ms);
        } else {
            http_raw_turn(h, timeout_ms);
        }
    }
}

static void call_done(struct bench_conn *c)
{
    (void)c;
}

int bench_http_call(struct bench_conn *c, const char *path, const ProtobufCMessage *msg)
{
    void (*saved)(struct bench_conn *) = c->done;

    c->done = call_done;
    bench_conn_post(c, path, msg);
    bench_http_run(c->http, NULL, NULL);
    c->done = saved;
    return c->ok;
}

int bench_conns_open(struct bench_conn **c, int n)
{
    void (**saved)(struct bench_conn *) = calloc((size_t)n, sizeof(*saved));
    int failed = 0;

    if (n == 0) {
        free(saved);
        return 0;
    }
    if (saved == NULL) {
        http_oom();
    }
    for (int i = 0; i < n; i++) {
        saved[i] = c[i]->done;
        c[i]->done = call_done;
        bench_conn_post(c[i], "/v1/ping", NULL);
    }
    bench_http_run(c[0]->http, NULL, NULL);
    for (int i = 0; i < n; i++) {
        failed += !c[i]->ok;
        c[i]->done = saved[i];
    }
    free(saved);
    return failed;
}

void bench_http_counters(const struct bench_http *h, struct bench_http_counters *out)
{
    *out = h->counters;
}
