/*
 * sink.c - the sink's thread: accept, read, parse, answer (see sink.h).
 */
#define _GNU_SOURCE /* memmem, accept4 */
#include "sink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"

#define SINK_EVENTS  64
#define SINK_POLL_MS 50

struct sink_conn {
    int fd;
    char *buf;
    size_t len;
    size_t cap;
    int continued; /* "100 Continue" sent for the request being read */
    struct sink_conn *prev;
    struct sink_conn *next;
};

struct bench_sink {
    int lfd;
    int epfd;
    pthread_t thread;
    atomic_int stop;
    struct sink_conn *conns; /* every open connection (the sink's thread only, then stop) */
    char url[64];

    pthread_mutex_t mu; /* guards handle/ud and is held while the handler runs */
    int (*handle)(void *ud, const struct bench_sink_req *req, int64_t t_ns);
    void *ud;

    atomic_uint_least64_t requests;
    atomic_uint_least64_t connections;
    atomic_uint_least64_t task_auctions;
    atomic_uint_least64_t task_auction_tasks;
    atomic_uint_least64_t lrp_auctions;
    atomic_uint_least64_t callbacks;
    atomic_uint_least64_t stray;
    atomic_uint_least64_t bad_requests;
};

static void conn_close(struct bench_sink *s, struct sink_conn *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->buf);
    free(c);
}

/* Send all of `p` now or fail: answers are a few dozen bytes. */
static int send_all(int fd, const char *p, size_t n)
{
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

    return w == (ssize_t)n ? 0 : -1;
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Status";
    }
}

static uint64_t count_of(const char *body, size_t len, const char *needle)
{
    size_t nl = strlen(needle);
    uint64_t n = 0;
    const char *p = body;
    const char *end = body + len;

    while (p < end) {
        const char *q = memmem(p, (size_t)(end - p), needle, nl);

        if (q == NULL) {
            break;
        }
        n++;
        p = q + nl;
    }
    return n;
}

static int path_is(const struct bench_sink_req *r, const char *lit)
{
    size_t n = strlen(lit);

    return r->path_len == n && memcmp(r->path, lit, n) == 0;
}

/* The status for one complete request. */
static int route(struct bench_sink *s, const struct bench_sink_req *r)
{
    int post = r->method_len == 4 && memcmp(r->method, "POST", 4) == 0;
    int status = 404;

    atomic_fetch_add(&s->requests, 1);
    if (post && path_is(r, "/v1/tasks")) {
        atomic_fetch_add(&s->task_auctions, 1);
        atomic_fetch_add(&s->task_auction_tasks, count_of(r->body, r->body_len, "\"TaskGuid\":"));
        return 202;
    }
    if (post && path_is(r, "/v1/lrps")) {
        atomic_fetch_add(&s->lrp_auctions, 1);
        return 202;
    }
    if (r->path_len >= 4 && memcmp(r->path, "/cb/", 4) == 0) {
        atomic_fetch_add(&s->callbacks, 1);
        pthread_mutex_lock(&s->mu);
        status = s->handle != NULL ? s->handle(s->ud, r, bench_now_ns()) : 200;
        pthread_mutex_unlock(&s->mu);
        return status;
    }
    atomic_fetch_add(&s->stray, 1);
    return status;
}

/* Read what is there and answer every complete request; -1 when `c` is to be closed. */
static int on_readable(struct bench_sink *s, struct sink_conn *c)
{
    for (;;) {
        ssize_t n;

        if (c->cap - c->len < 4096) {
            size_t cap = c->cap ? c->cap * 2 : 8192;
            char *b;

            if (cap > BENCH_SINK_MAX_HEAD + BENCH_SINK_MAX_BODY + 8192) {
                return -1;
            }
            b = realloc(c->buf, cap);
            if (b == NULL) {
                fputs("bbs-bench: out of memory\n", stderr);
                abort();
            }
            c->buf = b;
            c->cap = cap;
        }
        n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n == 0) {
            return -1;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return 0;
            }
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        c->len += (size_t)n;
        for (;;) {
            struct bench_sink_req r;
            char head[96];
            int rc = bench_sink_parse(c->buf, c->len, &r);
            int status;
            int len;

            if (rc == BENCH_SINK_BAD) {
                static const char bad[] =
                    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

                atomic_fetch_add(&s->bad_requests, 1);
                (void)send_all(c->fd, bad, sizeof(bad) - 1);
                return -1;
            }
            if (rc == BENCH_SINK_MORE) {
                if (r.head_done && r.expect_continue && !c->continued) {
                    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

                    c->continued = 1;
                    if (send_all(c->fd, cont, sizeof(cont) - 1) != 0) {
                        atomic_fetch_add(&s->bad_requests, 1);
                        return -1;
                    }
                }
                break;
            }
            status = route(s, &r);
            len = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n%s\r\n",
                           status, reason(status), r.keep_alive ? "" : "Connection: close\r\n");
            if (send_all(c->fd, head, (size_t)len) != 0) {
                atomic_fetch_add(&s->bad_requests, 1);
                return -1;
            }
            if (!r.keep_alive) {
                return -1;
            }
            memmove(c->buf, c->buf + r.consumed, c->len - r.consumed);
            c->len -= r.consumed;
            c->continued = 0;
        }
    }
}

static void on_accept(struct bench_sink *s)
{
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct sink_conn *c;
        struct epoll_event ev;
        int one = 1;

        if (fd < 0) {
            return; /* EAGAIN, or out of descriptors: the peer retries */
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            fputs("bbs-bench: out of memory\n", stderr);
            abort();
        }
        c->fd = fd;
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = s->conns;
        if (c->next != NULL) {
            c->next->prev = c;
        }
        s->conns = c;
        atomic_fetch_add(&s->connections, 1);
    }
}

static void *sink_main(void *arg)
{
    struct bench_sink *s = arg;
    struct epoll_event evs[SINK_EVENTS];

    while (!atomic_load(&s->stop)) {
        int n = epoll_wait(s->epfd, evs, SINK_EVENTS, SINK_POLL_MS);

        for (int i = 0; i < n; i++) {
            struct sink_conn *c = evs[i].data.ptr;

            if (c == NULL) {
                on_accept(s);
            } else if (on_readable(s, c) != 0) {
                conn_close(s, c);
            }
        }
    }
    return NULL;
}

struct bench_sink *bench_sink_start(const char *addr, char *err, size_t errlen)
{
    struct bench_sink *s = NULL;
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    struct epoll_event ev;
    char host[48];
    const char *colon = strrchr(addr, ':');
    char *end;
    long port;
    int one = 1;

    if (colon == NULL || (size_t)(colon - addr) >= sizeof(host)) {
        snprintf(err, errlen, "sink address \"%s\" is not HOST:PORT", addr);
        return NULL;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    port = strtol(colon + 1, &end, 10);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    if (*end != '\0' || end == colon + 1 || port < 0 || port > 65535 ||
        inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "sink address \"%s\" is not IPv4-ADDRESS:PORT", addr);
        return NULL;
    }
    sa.sin_port = htons((uint16_t)port);
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        fputs("bbs-bench: out of memory\n", stderr);
        abort();
    }
    s->epfd = -1;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(s->lfd, 1024) != 0 ||
        getsockname(s->lfd, (struct sockaddr *)&sa, &salen) != 0) {
        snprintf(err, errlen, "sink: cannot listen on %s: %s", addr, strerror(errno));
        goto fail;
    }
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    ev.events = EPOLLIN;
    ev.data.ptr = NULL; /* the listening socket */
    if (s->epfd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) != 0) {
        snprintf(err, errlen, "sink: epoll: %s", strerror(errno));
        goto fail;
    }
    snprintf(s->url, sizeof(s->url), "http://%s:%u",
             strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1" : host, (unsigned)ntohs(sa.sin_port));
    pthread_mutex_init(&s->mu, NULL);
    if (pthread_create(&s->thread, NULL, sink_main, s) != 0) {
        snprintf(err, errlen, "sink: cannot start its thread");
        pthread_mutex_destroy(&s->mu);
        goto fail;
    }
    return s;
fail:
    if (s->lfd >= 0) {
        close(s->lfd);
    }
    if (s->epfd >= 0) {
        close(s->epfd);
    }
    free(s);
    return NULL;
}

void bench_sink_stop(struct bench_sink *s)
{
    if (s == NULL) {
        return;
    }
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    while (s->conns != NULL) {
        conn_close(s, s->conns);
    }
    close(s->lfd);
    close(s->epfd);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

const char *bench_sink_url(const struct bench_sink *s)
{
    return s->url;
}

void bench_sink_set_handler(struct bench_sink *s,
                            int (*handle)(void *ud, const struct bench_sink_req *req, int64_t t_ns),
                            void *ud)
{
    pthread_mutex_lock(&s->mu);
    s->handle = handle;
    s->ud = ud;
    pthread_mutex_unlock(&s->mu);
}

void bench_sink_counters(const struct bench_sink *s, struct bench_sink_counters *out)
{
    struct bench_sink *m = (struct bench_sink *)s; /* atomics are read-only here */

    out->requests = atomic_load(&m->requests);
    out->connections = atomic_load(&m->connections);
    out->task_auctions = atomic_load(&m->task_auctions);
    out->task_auction_tasks = atomic_load(&m->task_auction_tasks);
    out->lrp_auctions = atomic_load(&m->lrp_auctions);
    out->callbacks = atomic_load(&m->callbacks);
    out->stray = atomic_load(&m->stray);
    out->bad_requests = atomic_load(&m->bad_requests);
}
