/*
 * test_outbox.c - the outbound queue: counters, expected status, upstream's
 * callback retries, a full queue that never blocks, the bounded shutdown
 * drain, and the client identity check.
 *
 * The peer is a tiny HTTP/1.1 responder on a loopback socket inside this
 * process (no network beyond 127.0.0.1): it answers each request with the
 * next status of a script and closes the connection. A listener that never
 * accepts stands in for an auctioneer that hangs.
 */
#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bbs/auction.h"
#include "bbs/callback.h"
#include "bbs/effects.h"
#include "bbs/outbox.h"
#include "bbs/rep.h"

/* ---- the loopback peer ------------------------------------------------------------------ */

struct peer {
    int fd;
    int port;
    int accept; /* 0: never accept (a hung peer) */
    long script[8];
    size_t n_script;
    _Atomic size_t n_requests;
    char last_request[2048];
    char requests[8][2048]; /* the first eight, in arrival order */
    _Atomic int stop;
    pthread_t thread;
};

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Read one request (headers + Content-Length body) into `buf`; returns its length or -1. */
static ssize_t read_request(int c, char *buf, size_t cap)
{
    size_t len = 0;

    for (;;) {
        ssize_t n = read(c, buf + len, cap - 1 - len);
        char *end;

        if (n <= 0) {
            return -1;
        }
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end != NULL) {
            const char *cl = strstr(buf, "Content-Length: ");
            size_t body = cl != NULL ? (size_t)atol(cl + 16) : 0;

            if (len >= (size_t)(end + 4 - buf) + body || len == cap - 1) {
                return (ssize_t)len;
            }
        }
        if (len == cap - 1) {
            return (ssize_t)len;
        }
    }
}

static void *peer_main(void *arg)
{
    struct peer *p = arg;

    while (!atomic_load(&p->stop)) {
        struct pollfd pfd = {p->fd, POLLIN, 0};
        char buf[2048];
        char resp[128];
        size_t i;
        long status;
        int c;

        if (!p->accept || poll(&pfd, 1, 20) <= 0) {
            sleep_ms(p->accept ? 0 : 20);
            continue;
        }
        c = accept(p->fd, NULL, NULL);
        if (c < 0) {
            continue;
        }
        if (read_request(c, buf, sizeof(buf)) > 0) {
            i = atomic_fetch_add(&p->n_requests, 1);
            memcpy(p->last_request, buf, sizeof(buf));
            if (i < 8) {
                memcpy(p->requests[i], buf, sizeof(buf));
            }
            status = i < p->n_script ? p->script[i] : p->script[p->n_script - 1];
            /* A redirect status sends the client to /moved on this peer. */
            snprintf(resp, sizeof(resp),
                     "HTTP/1.1 %ld X\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n", status,
                     status >= 301 && status <= 308 ? "Location: /moved\r\n" : "");
            if (write(c, resp, strlen(resp)) < 0) {
                /* the client gave up; nothing to do */
            }
        }
        close(c);
    }
    return NULL;
}

static struct peer *peer_start(int accept_conns, const long *script, size_t n)
{
    struct peer *p = calloc(1, sizeof(*p));
    struct sockaddr_in sa = {0};
    socklen_t sl = sizeof(sa);

    assert_non_null(p);
    p->accept = accept_conns;
    memcpy(p->script, script, n * sizeof(*script));
    p->n_script = n;
    p->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(p->fd >= 0);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(p->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(p->fd, 16), 0);
    assert_int_equal(getsockname(p->fd, (struct sockaddr *)&sa, &sl), 0);
    p->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&p->thread, NULL, peer_main, p), 0);
    return p;
}

static void peer_stop(struct peer *p)
{
    atomic_store(&p->stop, 1);
    pthread_join(p->thread, NULL);
    close(p->fd);
    free(p);
}

/* ---- requests -------------------------------------------------------------------------- */

struct outcome {
    _Atomic int calls;
    int ok;
    long status;
    int attempts;
};

static void on_done(void *arg, const struct bbs_outbox_result *r)
{
    struct outcome *o = arg;

    o->ok = r->ok;
    o->status = r->status;
    o->attempts = r->attempts;
    atomic_fetch_add(&o->calls, 1);
}

static int send_one(struct bbs_outbox *ob, int port, enum bbs_outbox_retry retry, long expect,
                    struct outcome *o)
{
    static const char *const headers[] = {"Content-Type: application/json", "X-Test: 1"};
    char url[64];
    struct bbs_outbox_request req = {0};

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/lrps", port);
    req.kind = BBS_OUTBOX_AUCTIONEER;
    req.method = "POST";
    req.url = url;
    req.body = "[{\"a\":1}]";
    req.body_len = strlen(req.body);
    req.headers = headers;
    req.n_headers = 2;
    req.timeout_ns = INT64_C(2000000000);
    req.expect_status = expect;
    req.retry = retry;
    req.log_name = "test";
    req.items = 1;
    req.done = on_done;
    req.done_arg = o;
    return bbs_outbox_send(ob, &req);
}

static void wait_calls(struct outcome *o, int n)
{
    int64_t until = mono_ms() + 5000;

    while (atomic_load(&o->calls) < n && mono_ms() < until) {
        sleep_ms(2);
    }
    assert_int_equal(atomic_load(&o->calls), n);
}

static struct bbs_outbox *outbox(size_t queue_max, size_t in_flight, int64_t drain_ns)
{
    struct bbs_outbox_config cfg = {0};
    struct bbs_error err = {0};
    struct bbs_outbox *ob;

    cfg.queue_max = queue_max;
    cfg.max_in_flight = in_flight;
    cfg.drain_ns = drain_ns;
    ob = bbs_outbox_new(&cfg, &err);
    assert_non_null(ob);
    return ob;
}

static void test_sent_with_body_and_headers(void **state)
{
    static const long script[] = {202};
    struct peer *p = peer_start(1, script, 1);
    struct bbs_outbox *ob = outbox(0, 0, 0);
    struct outcome o = {0};
    struct bbs_outbox_stats st;

    (void)state;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(send_one(ob, p->port, BBS_OUTBOX_RETRY_NONE, 202, &o), 0);
    }
    wait_calls(&o, 3);
    assert_int_equal(o.ok, 1);
    assert_int_equal(o.status, 202);
    assert_int_equal(o.attempts, 1);
    assert_int_equal(atomic_load(&p->n_requests), 3);
    assert_non_null(strstr(p->last_request, "POST /v1/lrps HTTP/1.1\r\n"));
    assert_non_null(strstr(p->last_request, "\r\nX-Test: 1\r\n"));
    assert_non_null(strstr(p->last_request, "\r\n\r\n[{\"a\":1}]"));
    bbs_outbox_stats(ob, &st);
    assert_int_equal(st.queued, 3);
    assert_int_equal(st.sent, 3);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.retried, 0);
    bbs_outbox_free(ob);
    peer_stop(p);
}

/* The auctioneer's 500 (or even a 200) is a failure: only 202 counts, and it is not retried. */
static void test_unexpected_status_failed_not_retried(void **state)
{
    static const long script[] = {200};
    struct peer *p = peer_start(1, script, 1);
    struct bbs_outbox *ob = outbox(0, 0, 0);
    struct outcome o = {0};
    struct bbs_outbox_stats st;

    (void)state;
    assert_int_equal(send_one(ob, p->port, BBS_OUTBOX_RETRY_HTTP_FALLBACK, 202, &o), 0);
    wait_calls(&o, 1);
    assert_int_equal(o.ok, 0);
    assert_int_equal(o.status, 200);
    assert_int_equal(o.attempts, 1);
    bbs_outbox_stats(ob, &st);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.sent, 0);
    assert_int_equal(st.retried, 0);
    bbs_outbox_free(ob);
    peer_stop(p);
}

/* taskcallback.go: 503/504 are retried, up to 3 attempts in all. */
static void test_callback_retried_until_answered(void **state)
{
    static const long script[] = {503, 504, 200};
    struct peer *p = peer_start(1, script, 3);
    struct bbs_outbox *ob = outbox(0, 0, 0);
    struct outcome o = {0};
    struct bbs_outbox_stats st;

    (void)state;
    assert_int_equal(send_one(ob, p->port, BBS_OUTBOX_RETRY_CALLBACK, 0, &o), 0);
    wait_calls(&o, 1);
    assert_int_equal(o.ok, 1);
    assert_int_equal(o.attempts, 3);
    assert_int_equal(atomic_load(&p->n_requests), 3);
    bbs_outbox_stats(ob, &st);
    assert_int_equal(st.sent, 1);
    assert_int_equal(st.retried, 2);
    bbs_outbox_free(ob);
    peer_stop(p);
}

static void test_callback_gives_up_after_three(void **state)
{
    static const long script[] = {503};
    struct peer *p = peer_start(1, script, 1);
    struct bbs_outbox *ob = outbox(0, 0, 0);
    struct outcome o = {0};
    struct bbs_outbox_stats st;

    (void)state;
    assert_int_equal(send_one(ob, p->port, BBS_OUTBOX_RETRY_CALLBACK, 0, &o), 0);
    wait_calls(&o, 1);
    assert_int_equal(o.ok, 0);
    assert_int_equal(o.status, 503);
    assert_int_equal(o.attempts, 3);
    assert_int_equal(atomic_load(&p->n_requests), 3);
    bbs_outbox_stats(ob, &st);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.retried, 2);
    bbs_outbox_free(ob);
    peer_stop(p);
}

/*
 * A hung peer: one request in flight, two queued, the rest refused at once;
 * shutdown gives them the drain time and then drops them, all counted.
 */
static void test_full_queue_never_blocks_and_drain_is_bounded(void **state)
{
    static const long script[] = {202};
    struct peer *p = peer_start(0, script, 1);
    struct bbs_outbox *ob = outbox(2, 1, INT64_C(100000000));
    struct outcome o = {0};
    struct bbs_outbox_stats st;
    int64_t t;

    (void)state;
    assert_int_equal(send_one(ob, p->port, BBS_OUTBOX_RETRY_NONE, 202, &o), 0);
    sleep_ms(300); /* the outbox thread takes it in flight */
    t = mono_ms();
    assert_int_equal(send_one(ob, p->port, BBS_OUTBOX_RETRY_NONE, 202, &o), 0);
    assert_int_equal(send_one(ob, p->port, BBS_OUTBOX_RETRY_NONE, 202, &o), 0);
    assert_int_equal(send_one(ob, p->port, BBS_OUTBOX_RETRY_NONE, 202, &o), -1);
    assert_int_equal(send_one(ob, p->port, BBS_OUTBOX_RETRY_NONE, 202, &o), -1);
    assert_true(mono_ms() - t < 100);
    assert_int_equal(atomic_load(&o.calls), 2); /* the two refused ones, at once */
    bbs_outbox_stats(ob, &st);
    assert_int_equal(st.queued, 3);
    assert_int_equal(st.dropped_full, 2);

    t = mono_ms();
    bbs_outbox_stop(ob);
    assert_true(mono_ms() - t < 1000);
    assert_int_equal(atomic_load(&o.calls), 5);
    assert_int_equal(o.ok, 0);
    bbs_outbox_stats(ob, &st);
    assert_int_equal(st.dropped, 3);
    assert_int_equal(st.sent + st.failed, 0);
    /* After stop a send is refused at once, and counted nowhere but its callback. */
    assert_int_equal(send_one(ob, p->port, BBS_OUTBOX_RETRY_NONE, 202, &o), -1);
    assert_int_equal(atomic_load(&o.calls), 6);
    bbs_outbox_free(ob);
    peer_stop(p);
}

static void test_dropped_counted_on_shutdown(void **state)
{
    static const long script[] = {202};
    struct peer *p = peer_start(0, script, 1);
    struct bbs_outbox *ob = outbox(10, 1, INT64_C(50000000));
    struct outcome o = {0};
    struct bbs_outbox_stats st;

    (void)state;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(send_one(ob, p->port, BBS_OUTBOX_RETRY_NONE, 202, &o), 0);
    }
    sleep_ms(50);
    bbs_outbox_stats(ob, &st);
    assert_int_equal(st.queued, 4);
    assert_int_equal(st.dropped, 0);
    bbs_outbox_stop(ob);
    bbs_outbox_stats(ob, &st);
    assert_int_equal(st.dropped, 4); /* one in flight, three queued */
    assert_int_equal(atomic_load(&o.calls), 4);
    bbs_outbox_free(ob);
    peer_stop(p);
}

static void test_identity_check(void **state)
{
    struct bbs_outbox_tls none = {NULL, NULL, NULL, 0};
    struct bbs_outbox_tls partial = {"/x/ca.pem", "", "/x/key.pem", 0};
    struct bbs_outbox_tls missing = {"/x/ca.pem", "/x/cert.pem", "/x/key.pem", 1};
    struct bbs_outbox_config cfg = {0};
    struct bbs_error err = {0};

    (void)state;
    assert_int_equal(bbs_outbox_tls_check(&none, "auctioneer", &err), 0);
    assert_int_equal(bbs_outbox_tls_check(&partial, "auctioneer", &err), -1);
    assert_non_null(strstr(err.message, "all required"));
    assert_int_equal(bbs_outbox_tls_check(&missing, "auctioneer", &err), -1);
    assert_non_null(strstr(err.message, "/x/cert.pem"));
    cfg.tls[BBS_OUTBOX_AUCTIONEER] = missing;
    assert_null(bbs_outbox_new(&cfg, &err));
    assert_non_null(strstr(err.message, "auctioneer client TLS"));
}

/* Wait up to 5 s until the peer has seen `n` requests, then a little longer for extras. */
static void wait_requests(struct peer *p, size_t n)
{
    int64_t until = mono_ms() + 5000;

    while (atomic_load(&p->n_requests) < n && mono_ms() < until) {
        sleep_ms(2);
    }
    sleep_ms(100);
    assert_int_equal(atomic_load(&p->n_requests), n);
}

static void test_rep_stop_and_cancel(void **state)
{
    static const long script[] = {202};
    struct peer *p = peer_start(1, script, 1);
    struct bbs_outbox *ob = outbox(0, 1, 0);
    struct bbs_rep *rep = bbs_rep_new(ob, 0);
    struct bbs_outbox_stats st;
    char base[64];

    (void)state;
    snprintf(base, sizeof(base), "http://127.0.0.1:%d/", p->port);
    bbs_rep_stop_lrp(rep, base, "pg 1", "ig/2", "trace-1");
    wait_requests(p, 1);
    bbs_rep_cancel_task(rep, base, "t-1", "");
    wait_requests(p, 2);
    assert_non_null(
        strstr(p->requests[0], "POST /v1/lrps/pg%201/instances/ig%2F2/stop HTTP/1.1\r\n"));
    assert_non_null(strstr(p->requests[0], "\r\nX-Vcap-Request-Id: trace-1\r\n"));
    assert_non_null(strstr(p->requests[0], "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(p->requests[1], "POST /v1/tasks/t-1/cancel HTTP/1.1\r\n"));
    assert_null(strstr(p->requests[1], "X-Vcap-Request-Id"));
    bbs_outbox_stats(ob, &st);
    assert_int_equal(st.sent, 2);
    bbs_rep_free(rep);
    bbs_outbox_free(ob);
    peer_stop(p);
}

/* rep/client.go: a 404 (old rep) gets the v1 route once, with metric tags left out. */
static void test_rep_update_falls_back_to_v1(void **state)
{
    static const long script[] = {404, 202};
    static const char *const routes[] = {"a.internal"};
    static const char *const names[] = {"app"};
    static const char *const values[] = {"a"};
    struct bbs_rep_lrp_update u = {"ig-1", "pg-1", 0, "d", routes, 1, names, values, 1};
    struct peer *p = peer_start(1, script, 2);
    struct bbs_outbox *ob = outbox(0, 0, 0);
    struct bbs_rep *rep = bbs_rep_new(ob, 0);

    (void)state;
    bbs_rep_update_lrp(rep, "http://127.0.0.1:1", &u, NULL); /* refused: no fallback */
    sleep_ms(100);
    assert_int_equal(atomic_load(&p->n_requests), 0);
    {
        char base[64];

        snprintf(base, sizeof(base), "http://127.0.0.1:%d", p->port);
        bbs_rep_update_lrp(rep, base, &u, NULL);
    }
    wait_requests(p, 2);
    assert_non_null(strstr(p->requests[0], "PUT /v2/lrps/pg-1/instances/ig-1 HTTP/1.1\r\n"));
    assert_non_null(strstr(p->requests[0], "\"metric_tags\":{\"app\":\"a\"}}"));
    assert_non_null(strstr(p->requests[1], "PUT /v1/lrps/pg-1/instances/ig-1 HTTP/1.1\r\n"));
    assert_non_null(strstr(p->requests[1], "\"metric_tags\":null}"));
    bbs_rep_free(rep);
    bbs_outbox_free(ob);
    peer_stop(p);
}

static void test_rep_update_404_without_routes_stops(void **state)
{
    static const long script[] = {404, 202};
    struct bbs_rep_lrp_update u = {"ig-1", "pg-1", 0, "d", NULL, 0, NULL, NULL, 0};
    struct peer *p = peer_start(1, script, 2);
    struct bbs_outbox *ob = outbox(0, 0, 0);
    struct bbs_rep *rep = bbs_rep_new(ob, 0);
    char base[64];

    (void)state;
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", p->port);
    bbs_rep_update_lrp(rep, base, &u, NULL);
    wait_requests(p, 1);
    bbs_rep_free(rep);
    bbs_outbox_free(ob);
    peer_stop(p);
}

/* Retire (3.8) asks a rep up to 5 times: each failure sends the stop again. */
static void test_rep_stop_retries_until_accepted(void **state)
{
    static const long script[] = {500, 503, 202};
    struct peer *p = peer_start(1, script, 3);
    struct bbs_outbox *ob = outbox(0, 0, 0);
    struct bbs_rep *rep = bbs_rep_new(ob, 0);
    struct bbs_outbox_stats st;
    char base[64];

    (void)state;
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", p->port);
    bbs_rep_stop_lrp_retry(rep, base, "pg-1", "ig-1", "t-9", 5);
    wait_requests(p, 3);
    for (int i = 0; i < 3; i++) {
        assert_non_null(strstr(p->requests[i], "POST /v1/lrps/pg-1/instances/ig-1/stop HTTP/1.1"));
        assert_non_null(strstr(p->requests[i], "\r\nX-Vcap-Request-Id: t-9\r\n"));
    }
    bbs_outbox_stats(ob, &st);
    assert_int_equal(st.sent, 1);
    assert_int_equal(st.failed, 2);
    bbs_rep_free(rep);
    bbs_outbox_free(ob);
    peer_stop(p);
}

static void test_rep_stop_retry_gives_up(void **state)
{
    static const long script[] = {500};
    struct peer *p = peer_start(1, script, 1);
    struct bbs_outbox *ob = outbox(0, 0, 0);
    struct bbs_rep *rep = bbs_rep_new(ob, 0);
    struct bbs_outbox_stats st;
    char base[64];

    (void)state;
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", p->port);
    bbs_rep_stop_lrp_retry(rep, base, "pg-1", "ig-1", NULL, 3);
    wait_requests(p, 3); /* exactly three, then no more */
    bbs_outbox_stats(ob, &st);
    assert_int_equal(st.failed, 3);
    bbs_rep_free(rep);
    bbs_outbox_free(ob);
    peer_stop(p);
}

/*
 * The effects of a record: rep calls go to the recorded rep_url; one
 * without a rep_url and no Locket is a cell unknown (counted, not sent);
 * a part left out is not sent; an uncommitted record sends nothing.
 */
static void test_effects_rep_calls(void **state)
{
    static const long script[] = {202};
    static const char *const hosts[] = {"h.apps.internal"};
    struct peer *p = peer_start(1, script, 1);
    struct bbs_outbox *ob = outbox(0, 0, 0);
    struct bbs_effects fx = {0};
    struct bbs_effects_stats st;
    struct bbs_arena *arena = bbs_arena_new();
    struct bbs_change ch;
    char base[64];

    (void)state;
    fx.rep = bbs_rep_new(ob, 0);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", p->port);
    bbs_change_init(&ch, arena);
    bbs_change_rep_stop(&ch, &(struct bbs_rep_stop){{"pg-1", 3, "d"}, {"ig-3", "c1"}, base, 0});
    bbs_change_rep_stop(&ch, &(struct bbs_rep_stop){{"pg-1", 4, "d"}, {"ig-4", "c2"}, NULL, 0});
    bbs_change_rep_update(
        &ch,
        &(struct bbs_rep_update){{"pg-1", 0, "d"}, {"ig-0", "c1"}, hosts, 1, NULL, NULL, 0, base});

    bbs_effects_apply(&fx, &ch, "t"); /* not committed */
    ch.committed = 1;
    bbs_effects_apply_some(&fx, &ch, "t", BBS_EFFECTS_ALL & ~BBS_EFFECTS_REP);
    sleep_ms(100);
    assert_int_equal(atomic_load(&p->n_requests), 0);

    bbs_effects_apply_some(&fx, &ch, "t", BBS_EFFECTS_ALL & ~BBS_EFFECTS_AUCTIONS);
    wait_requests(p, 2);
    assert_non_null(strstr(p->requests[0], "POST /v1/lrps/pg-1/instances/ig-3/stop HTTP/1.1"));
    assert_non_null(strstr(p->requests[1], "PUT /v2/lrps/pg-1/instances/ig-0 HTTP/1.1"));
    assert_non_null(strstr(p->requests[1], "{\"instance_guid\":\"ig-0\",\"process_guid\":"
                                           "\"pg-1\",\"index\":0,\"domain\":\"d\",\"internal_"
                                           "routes\":[{\"hostname\":\"h.apps.internal\"}],"
                                           "\"metric_tags\":null}"));
    bbs_effects_stats(&fx, &st);
    assert_int_equal(st.rep_calls, 2);
    assert_int_equal(st.rep_cell_unknown, 1);
    assert_int_equal(st.rep_lookup_failed, 0);
    bbs_rep_free(fx.rep);
    bbs_outbox_free(ob);
    bbs_arena_free(arena);
    peer_stop(p);
}

struct resolution {
    _Atomic int calls;
    int yes;
    long status;
};

static void on_resolved(void *arg, int yes, long status)
{
    struct resolution *r = arg;

    r->yes = yes;
    r->status = status;
    atomic_fetch_add(&r->calls, 1);
}

/*
 * Send task `t`'s callback once to a peer answering `sa` and once to one
 * answering `sb`, and wait for both resolutions; the peers are kept for the
 * caller's assertions (free with callbacks_end).
 */
struct two_callbacks {
    struct peer *p;
    struct peer *q;
    struct bbs_outbox *ob;
    struct bbs_callback *cb;
    struct resolution r1;
    struct resolution r2;
};

static void callbacks_run(struct two_callbacks *tc, const struct bbs_task_callback *t,
                          const long *sa, size_t na, const long *sb, size_t nb)
{
    char url[64];
    int64_t until = mono_ms() + 5000;

    memset(tc, 0, sizeof(*tc));
    tc->p = peer_start(1, sa, na);
    tc->q = peer_start(1, sb, nb);
    tc->ob = outbox(0, 0, 0);
    tc->cb = bbs_callback_new(tc->ob, 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/done", tc->p->port);
    bbs_callback_send(tc->cb, url, t, on_resolved, &tc->r1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/done", tc->q->port);
    bbs_callback_send(tc->cb, url, t, on_resolved, &tc->r2);
    while ((atomic_load(&tc->r1.calls) < 1 || atomic_load(&tc->r2.calls) < 1) &&
           mono_ms() < until) {
        sleep_ms(2);
    }
    assert_int_equal(atomic_load(&tc->r1.calls), 1);
    assert_int_equal(atomic_load(&tc->r2.calls), 1);
}

static void callbacks_end(struct two_callbacks *tc)
{
    bbs_callback_free(tc->cb);
    bbs_outbox_free(tc->ob);
    peer_stop(tc->p);
    peer_stop(tc->q);
}

/* taskcallback.go: a 500 resolves the task (no retry); 503 three times does not. */
static void test_task_callback_resolution(void **state)
{
    static const long s500[] = {500};
    static const long s503[] = {503};
    struct bbs_task_callback t = {"t-1", 0, "", "r", "", 1};
    struct two_callbacks tc;

    (void)state;
    callbacks_run(&tc, &t, s500, 1, s503, 1);
    assert_int_equal(tc.r1.yes, 1);
    assert_int_equal(tc.r1.status, 500);
    assert_int_equal(atomic_load(&tc.p->n_requests), 1);
    assert_non_null(strstr(tc.p->requests[0], "POST /done HTTP/1.1\r\n"));
    assert_non_null(strstr(tc.p->requests[0], "\r\n\r\n{\"task_guid\":\"t-1\",\"failed\":false,"));
    assert_null(strstr(tc.p->requests[0], "X-Vcap-Request-Id"));
    assert_int_equal(tc.r2.yes, 0);
    assert_int_equal(atomic_load(&tc.q->n_requests), 3);
    callbacks_end(&tc);
}

/*
 * A task callback follows redirects as Go's client does: a 302 turns the
 * POST into a GET without a body, a 307 repeats the POST with its body.
 */
static void test_task_callback_redirects(void **state)
{
    static const long s302[] = {302, 200};
    static const long s307[] = {307, 200};
    struct bbs_task_callback t = {"t-2", 0, "", "r", "", 1};
    struct two_callbacks tc;

    (void)state;
    callbacks_run(&tc, &t, s302, 2, s307, 2);
    assert_int_equal(tc.r1.status, 200);
    assert_int_equal(atomic_load(&tc.p->n_requests), 2);
    assert_non_null(strstr(tc.p->requests[0], "POST /done HTTP/1.1\r\n"));
    assert_non_null(strstr(tc.p->requests[1], "GET /moved HTTP/1.1\r\n"));
    assert_null(strstr(tc.p->requests[1], "task_guid"));
    assert_int_equal(tc.r2.status, 200);
    assert_int_equal(atomic_load(&tc.q->n_requests), 2);
    assert_non_null(strstr(tc.q->requests[1], "POST /moved HTTP/1.1\r\n"));
    assert_non_null(strstr(tc.q->requests[1], "{\"task_guid\":\"t-2\""));
    callbacks_end(&tc);
}

/* The auctioneer client on the outbox: both routes, upstream's headers, a 202 is success. */
static void test_auctioneer_requests(void **state)
{
    static const long script[] = {202};
    static const int32_t indices[] = {0, 1};
    struct bbs_auction_start start = {0};
    struct peer *p = peer_start(1, script, 1);
    struct bbs_outbox *ob = outbox(0, 1, 0);
    struct bbs_auction *a;
    struct bbs_outbox_stats st;
    char base[64];

    (void)state;
    snprintf(base, sizeof(base), "http://127.0.0.1:%d/", p->port);
    a = bbs_auction_new(ob, base, 0);
    start.process_guid = "pg-1";
    start.domain = "d";
    start.indices = indices;
    start.n_indices = 2;
    bbs_auction_request(a, &start, 1, "");
    wait_requests(p, 1);
    bbs_auction_request_tasks(a, "[{\"task_guid\":\"t\"}]", 1, "tr-9");
    wait_requests(p, 2);
    assert_non_null(strstr(p->requests[0], "POST /v1/lrps HTTP/1.1\r\n"));
    assert_non_null(strstr(p->requests[0], "\r\nX-Vcap-Request-Id:\r\n"));
    assert_non_null(strstr(p->requests[0], "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(p->requests[0], "\r\n\r\n[{\"process_guid\":\"pg-1\",\"domain\":\"d\","
                                           "\"indices\":[0,1],"));
    assert_non_null(strstr(p->requests[1], "POST /v1/tasks HTTP/1.1\r\n"));
    assert_non_null(strstr(p->requests[1], "\r\nX-Vcap-Request-Id: tr-9\r\n"));
    assert_non_null(strstr(p->requests[1], "\r\n\r\n[{\"task_guid\":\"t\"}]"));
    bbs_outbox_stats(ob, &st);
    assert_int_equal(st.sent, 2);
    bbs_auction_free(a);

    /* Disabled (no address): nothing is queued. */
    a = bbs_auction_new(ob, "", 0);
    bbs_auction_request(a, &start, 1, NULL);
    bbs_outbox_stats(ob, &st);
    assert_int_equal(st.queued, 2);
    bbs_auction_free(a);
    bbs_outbox_free(ob);
    peer_stop(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sent_with_body_and_headers),
        cmocka_unit_test(test_unexpected_status_failed_not_retried),
        cmocka_unit_test(test_callback_retried_until_answered),
        cmocka_unit_test(test_callback_gives_up_after_three),
        cmocka_unit_test(test_full_queue_never_blocks_and_drain_is_bounded),
        cmocka_unit_test(test_dropped_counted_on_shutdown),
        cmocka_unit_test(test_identity_check),
        cmocka_unit_test(test_rep_stop_and_cancel),
        cmocka_unit_test(test_rep_update_falls_back_to_v1),
        cmocka_unit_test(test_rep_update_404_without_routes_stops),
        cmocka_unit_test(test_rep_stop_retries_until_accepted),
        cmocka_unit_test(test_rep_stop_retry_gives_up),
        cmocka_unit_test(test_effects_rep_calls),
        cmocka_unit_test(test_task_callback_resolution),
        cmocka_unit_test(test_task_callback_redirects),
        cmocka_unit_test(test_auctioneer_requests),
    };

    return cmocka_run_group_tests_name("outbox", tests, NULL, NULL);
}
