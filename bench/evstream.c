/*
 * evstream.c - the event-stream reader thread (see evstream.h).
 *
 * Each stream is a small state machine: CONNECTING (non-blocking
 * connect), HANDSHAKE (TLS only), SENDING (the POST), OPEN (reading the
 * head and then records until the server ends the stream), DONE. All of
 * them live in one epoll set with an eventfd that bench_evs_stop() writes
 * to. Reads loop until EAGAIN (for TLS: until GnuTLS has nothing buffered
 * either, which its EAGAIN also says), so edge cases of level-triggered
 * epoll and TLS buffering cannot leave bytes unread.
 */
#include "evstream.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "events.pb-c.h"
#include "evwire.h"
#include "sse.h"
#include "tls.h"

#define EVS_EVENTS   256
#define EVS_READ_BUF 65536

enum evs_state { EVS_CONNECTING, EVS_HANDSHAKE, EVS_SENDING, EVS_OPEN, EVS_DONE };

struct evs_conn {
    struct bench_evs *s;
    int idx; /* stream number: < n_cell a cell's, then the globals */
    int fd;
    gnutls_session_t tls;
    enum evs_state state;
    int opened;
    uint32_t events;
    char *out;
    size_t out_len;
    size_t out_off;
    struct bench_sse sse;
    int have_id;
    uint64_t last_id;
    int64_t now; /* when the bytes being parsed were read */
};

struct bench_evs {
    struct bench_evs_opts o;
    int n;
    struct evs_conn *conn;
    int epfd;
    int stopfd;
    pthread_t thread;
    int running;
    int tls;
    int insecure;
    gnutls_certificate_credentials_t cred;
    char host[256];
    char host_header[320];
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint8_t *cell_open;
    uint8_t rbuf[EVS_READ_BUF];

    struct bench_ev_arrival *arr;
    size_t n_arr;
    size_t cap_arr;

    atomic_int settled; /* streams opened or failed */
    atomic_int opened;
    atomic_uint_fast64_t arrived;
    struct bench_evs_stats st;
};

static void evs_oom(void)
{
    fputs("bbs-bench: out of memory\n", stderr);
    abort();
}

static void note_error(struct bench_evs *s, int idx, const char *what)
{
    if (s->st.first_error[0] == '\0') {
        snprintf(s->st.first_error, sizeof(s->st.first_error), "stream %d: %s", idx, what);
    }
}

/* ---- setup ----------------------------------------------------------------------------- */

static int parse_url(struct bench_evs *s, const char *url)
{
    const char *hp;
    const char *colon;
    const char *end;
    char port[16];
    struct addrinfo hints;
    struct addrinfo *ai = NULL;
    int rc;

    if (strncmp(url, "http://", 7) == 0) {
        hp = url + 7;
        snprintf(port, sizeof(port), "80");
    } else if (strncmp(url, "https://", 8) == 0) {
        hp = url + 8;
        s->tls = 1;
        snprintf(port, sizeof(port), "443");
    } else {
        fprintf(stderr, "bbs-bench: %s: not an http(s) URL\n", url);
        return -1;
    }
    end = hp + strcspn(hp, "/");
    snprintf(s->host_header, sizeof(s->host_header), "%.*s", (int)(end - hp), hp);
    if (hp[0] == '[') {
        const char *close = memchr(hp, ']', (size_t)(end - hp));

        if (close == NULL) {
            fprintf(stderr, "bbs-bench: %s: bad host\n", url);
            return -1;
        }
        snprintf(s->host, sizeof(s->host), "%.*s", (int)(close - hp - 1), hp + 1);
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(hp, ':', (size_t)(end - hp));
        snprintf(s->host, sizeof(s->host), "%.*s", (int)((colon != NULL ? colon : end) - hp), hp);
    }
    if (colon != NULL) {
        snprintf(port, sizeof(port), "%.*s", (int)(end - colon - 1), colon + 1);
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(s->host, port, &hints, &ai);
    if (rc != 0 || ai == NULL) {
        fprintf(stderr, "bbs-bench: %s: %s\n", url, gai_strerror(rc));
        return -1;
    }
    memcpy(&s->addr, ai->ai_addr, ai->ai_addrlen);
    s->addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static int tls_setup(struct bench_evs *s)
{
    const struct bench_http_opts *h = s->o.http;

    s->insecure = h->insecure;
    return bench_tls_cred_new(h->ca_file, h->cert_file, h->key_file, h->insecure, &s->cred);
}

/* ---- one stream ------------------------------------------------------------------------ */

static void want(struct evs_conn *c, uint32_t events)
{
    struct epoll_event ev;

    if (c->events == events) {
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = c;
    if (epoll_ctl(c->s->epfd, c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        perror("bbs-bench: epoll_ctl");
        abort();
    }
    c->events = events;
}

static void finish(struct evs_conn *c, const char *why)
{
    struct bench_evs *s = c->s;

    if (c->state == EVS_DONE) {
        return;
    }
    if (why != NULL) {
        note_error(s, c->idx, why);
    }
    if (c->opened) {
        s->st.ended++;
    } else {
        s->st.failed++;
        atomic_fetch_add(&s->settled, 1);
    }
    if (c->tls != NULL) {
        gnutls_deinit(c->tls);
        c->tls = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->state = EVS_DONE;
}

static void push_arrival(struct bench_evs *s, const struct bench_ev_arrival *a)
{
    if (s->n_arr == s->cap_arr) {
        size_t cap = s->cap_arr ? s->cap_arr * 2 : 65536;
        struct bench_ev_arrival *p = realloc(s->arr, cap * sizeof(*p));

        if (p == NULL) {
            evs_oom();
        }
        s->arr = p;
        s->cap_arr = cap;
    }
    s->arr[s->n_arr++] = *a;
}

static int on_record(void *ud, const struct bench_sse_record *r)
{
    struct evs_conn *c = ud;
    struct bench_evs *s = c->s;
    struct bench_ev_info info;
    struct bench_ev_arrival a;
    int64_t g;

    s->st.records++;
    if (c->have_id && r->id <= c->last_id) {
        s->st.seq_errors++;
        note_error(s, c->idx, "an event id not above the previous one");
    }
    c->have_id = 1;
    c->last_id = r->id;
    if (bench_ev_decode(r->event, r->data, r->data_len, &info) != 0) {
        s->st.bad_payloads++;
        note_error(s, c->idx, "an event payload that does not decode");
        return 0;
    }
    if (info.kind == BENCH_EV_UNKNOWN) {
        s->st.unknown++;
        return 0;
    }
    g = bench_fleet_parse(s->o.fleet, info.guid, info.index >= 0 ? info.index : 0);
    if (g < 0 || g >= (int64_t)s->o.n_inst) {
        s->st.foreign++;
        return 0;
    }
    memset(&a, 0, sizeof(a));
    a.t_ns = c->now;
    a.g = (uint32_t)g;
    a.stream = (uint16_t)c->idx;
    a.state = (uint8_t)info.after;
    if (info.kind == BENCH_EV_INSTANCE_CHANGED) {
        char cell[40];

        bench_fleet_cell(s->o.fleet, (int)(g % s->o.fleet->cells), cell, sizeof(cell));
        a.ok = strcmp(cell, info.cell) == 0;
    }
    push_arrival(s, &a);
    s->st.fleet_events++;
    atomic_fetch_add(&s->arrived, 1);
    return 0;
}

static void build_request(struct evs_conn *c)
{
    struct bench_evs *s = c->s;
    Models__EventsByCellId req = MODELS__EVENTS_BY_CELL_ID__INIT;
    char cell[40] = "";
    uint8_t body[64];
    size_t blen;
    size_t cap;
    int n;

    if (c->idx < s->o.n_cell) {
        bench_fleet_cell(s->o.fleet, c->idx, cell, sizeof(cell));
        req.cell_id = cell;
    }
    blen = models__events_by_cell_id__pack(&req, body);
    cap = strlen(s->o.path) + strlen(s->host_header) + 200 + blen;
    c->out = malloc(cap);
    if (c->out == NULL) {
        evs_oom();
    }
    n = snprintf(c->out, cap,
                 "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-protobuf\r\n"
                 "Accept: text/event-stream\r\nContent-Length: %zu\r\n\r\n",
                 s->o.path, s->host_header, blen);
    memcpy(c->out + n, body, blen);
    c->out_len = (size_t)n + blen;
    c->out_off = 0;
}

static void do_read(struct evs_conn *c)
{
    struct bench_evs *s = c->s;

    while (c->state == EVS_OPEN) {
        ssize_t n;
        int rc;

        if (c->tls != NULL) {
            n = gnutls_record_recv(c->tls, s->rbuf, sizeof(s->rbuf));
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                return;
            }
            if (n == GNUTLS_E_PREMATURE_TERMINATION) {
                n = 0;
            }
            if (n < 0) {
                finish(c, gnutls_strerror((int)n));
                return;
            }
        } else {
            n = recv(c->fd, s->rbuf, sizeof(s->rbuf), 0);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                return;
            }
            if (n < 0) {
                finish(c, strerror(errno));
                return;
            }
        }
        if (n == 0) {
            finish(c, c->opened ? "the server closed the stream" : "closed before a head");
            return;
        }
        s->st.bytes += (uint64_t)n;
        c->now = bench_now_ns();
        rc = bench_sse_feed(&c->sse, s->rbuf, (size_t)n);
        if (!c->opened && rc != BENCH_SSE_ERROR && bench_sse_opened(&c->sse)) {
            c->opened = 1;
            s->st.opened++;
            atomic_fetch_add(&s->opened, 1);
            atomic_fetch_add(&s->settled, 1);
        }
        if (rc == BENCH_SSE_ERROR) {
            if (c->opened) {
                s->st.parse_errors++;
            }
            finish(c, bench_sse_error(&c->sse));
            return;
        }
        if (rc == BENCH_SSE_END) {
            finish(c, "the server ended the stream (last chunk)");
            return;
        }
    }
}

static void do_send(struct evs_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n;

        if (c->tls != NULL) {
            n = gnutls_record_send(c->tls, c->out + c->out_off, c->out_len - c->out_off);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                want(c, EPOLLOUT);
                return;
            }
            if (n < 0) {
                finish(c, gnutls_strerror((int)n));
                return;
            }
        } else {
            n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                want(c, EPOLLOUT);
                return;
            }
            if (n < 0) {
                finish(c, strerror(errno));
                return;
            }
        }
        c->out_off += (size_t)n;
    }
    c->state = EVS_OPEN;
    want(c, EPOLLIN);
    do_read(c);
}

static void do_handshake(struct evs_conn *c)
{
    int rc = gnutls_handshake(c->tls);

    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
        want(c, gnutls_record_get_direction(c->tls) ? EPOLLOUT : EPOLLIN);
        return;
    }
    if (rc < 0) {
        finish(c, gnutls_strerror(rc));
        return;
    }
    c->state = EVS_SENDING;
    do_send(c);
}

static void connected(struct evs_conn *c)
{
    struct bench_evs *s = c->s;

    if (!s->tls) {
        c->state = EVS_SENDING;
        do_send(c);
        return;
    }
    if (bench_tls_session_new(&c->tls, s->cred, s->host, s->insecure, c->fd) != 0) {
        finish(c, "TLS session setup failed");
        return;
    }
    c->state = EVS_HANDSHAKE;
    do_handshake(c);
}

static void start_connect(struct evs_conn *c)
{
    struct bench_evs *s = c->s;
    int one = 1;

    c->fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        finish(c, strerror(errno));
        return;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    bench_sse_init(&c->sse, on_record, c);
    build_request(c);
    if (connect(c->fd, (struct sockaddr *)&s->addr, s->addrlen) == 0) {
        want(c, EPOLLIN);
        connected(c);
        return;
    }
    if (errno != EINPROGRESS) {
        finish(c, strerror(errno));
        return;
    }
    c->state = EVS_CONNECTING;
    want(c, EPOLLOUT);
}

static void on_event(struct evs_conn *c)
{
    int err = 0;
    socklen_t elen = sizeof(err);

    switch (c->state) {
    case EVS_CONNECTING:
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0) {
            err = errno;
        }
        if (err != 0) {
            finish(c, strerror(err));
            return;
        }
        want(c, EPOLLIN);
        connected(c);
        return;
    case EVS_HANDSHAKE:
        do_handshake(c);
        return;
    case EVS_SENDING:
        do_send(c);
        return;
    case EVS_OPEN:
        do_read(c);
        return;
    case EVS_DONE:
        return;
    }
}

/* ---- the thread ------------------------------------------------------------------------ */

static void *reader(void *arg)
{
    struct bench_evs *s = arg;
    struct epoll_event evs[EVS_EVENTS];

    for (int i = 0; i < s->n; i++) {
        start_connect(&s->conn[i]);
    }
    for (;;) {
        int n = epoll_wait(s->epfd, evs, EVS_EVENTS, 1000);

        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                return NULL; /* the stop eventfd */
            }
            on_event(evs[i].data.ptr);
        }
    }
}

struct bench_evs *bench_evs_start(const struct bench_evs_opts *o)
{
    struct bench_evs *s = calloc(1, sizeof(*s));
    struct epoll_event ev;

    if (s == NULL) {
        evs_oom();
    }
    s->o = *o;
    s->n = o->n_cell + o->n_global;
    s->epfd = -1;
    s->stopfd = -1;
    if (o->n_global > BENCH_EV_MAX_GLOBAL || o->n_cell > o->fleet->cells || s->n > 65535) {
        fprintf(stderr, "bbs-bench: at most %d global streams and one per cell\n",
                BENCH_EV_MAX_GLOBAL);
        goto fail;
    }
    if (parse_url(s, o->http->url) != 0 || (s->tls && tls_setup(s) != 0)) {
        goto fail;
    }
    bench_raise_nofile((size_t)s->n * 2 + 4096);
    s->conn = calloc((size_t)s->n + 1, sizeof(*s->conn));
    s->cell_open = calloc((size_t)o->n_cell + 1, 1);
    if (s->conn == NULL || s->cell_open == NULL) {
        evs_oom();
    }
    for (int i = 0; i < s->n; i++) {
        s->conn[i].s = s;
        s->conn[i].idx = i;
        s->conn[i].fd = -1;
        s->conn[i].state = EVS_CONNECTING;
    }
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->epfd < 0 || s->stopfd < 0) {
        perror("bbs-bench: epoll/eventfd");
        goto fail;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->stopfd, &ev) != 0) {
        perror("bbs-bench: epoll_ctl");
        goto fail;
    }
    if (pthread_create(&s->thread, NULL, reader, s) != 0) {
        fputs("bbs-bench: cannot start the stream reader thread\n", stderr);
        goto fail;
    }
    s->running = 1;
    return s;
fail:
    bench_evs_free(s);
    return NULL;
}

int bench_evs_wait_open(struct bench_evs *s, double timeout_s)
{
    int64_t deadline = bench_now_ns() + (int64_t)(timeout_s * 1e9);

    while (atomic_load(&s->settled) < s->n && bench_now_ns() < deadline) {
        {
            struct timespec ts = {0, 10 * 1000000L};

            nanosleep(&ts, NULL);
        }
    }
    return atomic_load(&s->opened);
}

uint64_t bench_evs_arrived(const struct bench_evs *s)
{
    return atomic_load(&((struct bench_evs *)s)->arrived);
}

void bench_evs_stop(struct bench_evs *s)
{
    uint64_t one = 1;

    if (s == NULL || !s->running) {
        return;
    }
    if (write(s->stopfd, &one, sizeof(one)) != (ssize_t)sizeof(one)) {
        perror("bbs-bench: eventfd write");
        abort();
    }
    pthread_join(s->thread, NULL);
    s->running = 0;
    for (int i = 0; i < s->n; i++) {
        struct evs_conn *c = &s->conn[i];

        if (i < s->o.n_cell) {
            s->cell_open[i] = (uint8_t)c->opened;
        }
        if (c->state != EVS_DONE) {
            if (!c->opened) {
                /* Still connecting when stopped: it never opened. */
                note_error(s, i, "not open when the run ended");
                s->st.failed++;
            }
            if (c->tls != NULL) {
                gnutls_deinit(c->tls);
                c->tls = NULL;
            }
            if (c->fd >= 0) {
                close(c->fd);
                c->fd = -1;
            }
            c->state = EVS_DONE;
        }
    }
}

void bench_evs_stats(const struct bench_evs *s, struct bench_evs_stats *out)
{
    *out = s->st;
}

const struct bench_ev_arrival *bench_evs_arrivals(const struct bench_evs *s, size_t *n)
{
    *n = s->n_arr;
    return s->arr;
}

void bench_evs_layout(const struct bench_evs *s, struct bench_ev_streams *out)
{
    memset(out, 0, sizeof(*out));
    out->n_inst = s->o.n_inst;
    out->cells = s->o.fleet->cells;
    out->n_cell = s->o.n_cell;
    out->n_global = s->o.n_global;
    out->cell_open = s->cell_open;
    for (int j = 0; j < s->o.n_global; j++) {
        if (s->conn[s->o.n_cell + j].opened) {
            out->global_open |= (uint64_t)1 << j;
        }
    }
}

void bench_evs_free(struct bench_evs *s)
{
    if (s == NULL) {
        return;
    }
    bench_evs_stop(s);
    for (int i = 0; s->conn != NULL && i < s->n; i++) {
        bench_sse_free(&s->conn[i].sse);
        free(s->conn[i].out);
    }
    if (s->cred != NULL) {
        gnutls_certificate_free_credentials(s->cred);
    }
    if (s->epfd >= 0) {
        close(s->epfd);
    }
    if (s->stopfd >= 0) {
        close(s->stopfd);
    }
    free(s->conn);
    free(s->cell_open);
    free(s->arr);
    free(s);
}
