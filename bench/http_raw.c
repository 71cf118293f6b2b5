/*
 * http_raw.c - HTTP/1.1 over non-blocking keep-alive sockets and epoll, for
 * http:// and https:// URLs (see http_int.h) unless --client curl.
 *
 * A connection owns at most one socket and one request at a time. The
 * request (headers and body) is written with one send(); the answer is
 * read into the connection's buffer and parsed as it arrives: status line,
 * then Content-Length, chunked or close-delimited body. The socket stays
 * registered for input while idle, so a server closing an idle keep-alive
 * socket is noticed then, and a request whose reused socket turns out
 * closed before any answer byte is sent once more on a new socket (as
 * browsers and libcurl do).
 *
 * Over https each socket carries a GnuTLS session (tls.h), its handshake
 * driven by the same loop after the connect, and every send and receive
 * goes through the session's records. What a server sends once its
 * handshake is done (TLS 1.3 session tickets) comes before the first
 * answer, so it is read with that answer, never on an idle socket.
 *
 * Per request this costs one send(), one recv() for a small answer and a
 * share of one epoll_wait(); no epoll_ctl() unless a send would block.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "http_int.h"
#include "tls.h"

#define RAW_EVENTS   256
#define RAW_MIN_READ 16384

enum raw_state { RAW_IDLE, RAW_CONNECTING, RAW_HANDSHAKE, RAW_SENDING, RAW_READING };
enum ck_state { CK_SIZE, CK_DATA, CK_DATA_CRLF, CK_TRAILER };

int http_raw_init(struct bench_http *h)
{
    int tls = strncmp(h->base, "https://", 8) == 0;
    const char *hostport = h->base + (tls ? strlen("https://") : strlen("http://"));
    char *host = h->host;
    char port[16];
    const char *colon;
    const char *slash = strchr(hostport, '/');
    size_t hl = slash != NULL ? (size_t)(slash - hostport) : strlen(hostport);
    struct addrinfo hints;
    struct addrinfo *ai = NULL;
    int rc;

    snprintf(port, sizeof(port), "%s", tls ? "443" : "80");
    if (slash != NULL) {
        fprintf(stderr, "bbs-bench: %s: the URL must not have a path\n", h->base);
        return -1;
    }
    if (hostport[0] == '[') {
        const char *close = memchr(hostport, ']', hl);

        if (close == NULL || (size_t)(close - hostport - 1) >= sizeof(h->host)) {
            fprintf(stderr, "bbs-bench: %s: bad host\n", h->base);
            return -1;
        }
        memcpy(host, hostport + 1, (size_t)(close - hostport - 1));
        host[close - hostport - 1] = '\0';
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(hostport, ':', hl);
        size_t n = colon != NULL ? (size_t)(colon - hostport) : hl;

        if (n == 0 || n >= sizeof(h->host)) {
            fprintf(stderr, "bbs-bench: %s: bad host\n", h->base);
            return -1;
        }
        memcpy(host, hostport, n);
        host[n] = '\0';
    }
    if (colon != NULL) {
        snprintf(port, sizeof(port), "%.*s", (int)(hostport + hl - colon - 1), colon + 1);
    }
    snprintf(h->host_header, sizeof(h->host_header), "%.*s", (int)hl, hostport);

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0 || ai == NULL) {
        fprintf(stderr, "bbs-bench: %s: %s\n", h->base, gai_strerror(rc));
        return -1;
    }
    memcpy(&h->addr, ai->ai_addr, ai->ai_addrlen);
    h->addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);

    h->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (h->epfd < 0) {
        perror("bbs-bench: epoll_create1");
        return -1;
    }
    bench_raise_nofile(h->max_conns + 1024);
    h->tls = tls;
    if (tls &&
        bench_tls_cred_new(h->ca_file, h->cert_file, h->key_file, h->insecure, &h->cred) != 0) {
        return -1;
    }
    return 0;
}

void http_raw_free(struct bench_http *h)
{
    if (h->epfd >= 0) {
        close(h->epfd);
        h->epfd = -1;
    }
    if (h->cred != NULL) {
        gnutls_certificate_free_credentials(h->cred);
        h->cred = NULL;
    }
}

void http_raw_conn_init(struct conn_impl *ci)
{
    ci->fd = -1;
    ci->state = RAW_IDLE;
}

static void raw_close(struct conn_impl *ci)
{
    if (ci->tls != NULL) {
        gnutls_deinit(ci->tls);
        ci->tls = NULL;
    }
    if (ci->fd >= 0) {
        close(ci->fd); /* also leaves the epoll set */
        ci->fd = -1;
    }
    ci->events = 0;
}

void http_raw_conn_free(struct conn_impl *ci)
{
    raw_close(ci);
    free(ci->out);
    ci->out = NULL;
}

static void want(struct conn_impl *ci, uint32_t events)
{
    struct epoll_event ev;

    if (ci->events == events) {
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = ci;
    if (epoll_ctl(ci->pub.http->epfd, ci->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, ci->fd,
                  &ev) != 0) {
        perror("bbs-bench: epoll_ctl");
        abort();
    }
    ci->events = events;
}

static void fail(struct conn_impl *ci, const char *what, int err)
{
    snprintf(ci->errbuf, sizeof(ci->errbuf), "%s: %s", what, err ? strerror(err) : "closed");
    raw_close(ci);
    ci->state = RAW_IDLE;
    http_complete(ci, 0, NULL, 0, ci->errbuf);
}

/* fail() for a TLS error: `rc` is GnuTLS's code. */
static void fail_tls(struct conn_impl *ci, const char *what, int rc)
{
    snprintf(ci->errbuf, sizeof(ci->errbuf), "%s: %s", what, gnutls_strerror(rc));
    raw_close(ci);
    ci->state = RAW_IDLE;
    http_complete(ci, 0, NULL, 0, ci->errbuf);
}

static void reset_parse(struct conn_impl *ci)
{
    ci->len = 0;
    ci->scan = 0;
    ci->hdr_end = 0;
    ci->status = 0;
    ci->clen = -1;
    ci->chunked = 0;
    ci->close_after = 0;
    ci->ck_state = CK_SIZE;
    ci->ck_left = 0;
    ci->ck_in = 0;
    ci->ck_out = 0;
}

static void send_some(struct conn_impl *ci);

static void handshake(struct conn_impl *ci)
{
    int rc = gnutls_handshake(ci->tls);

    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
        want(ci, gnutls_record_get_direction(ci->tls) ? EPOLLOUT : EPOLLIN);
        return;
    }
    if (rc < 0) {
        fail_tls(ci, "TLS handshake", rc);
        return;
    }
    ci->state = RAW_SENDING;
    send_some(ci);
}

/* The TCP connection is up: the TLS handshake, if any, then the request. */
static void connected(struct conn_impl *ci)
{
    struct bench_http *h = ci->pub.http;

    h->counters.connects++;
    if (!h->tls) {
        ci->state = RAW_SENDING;
        send_some(ci);
        return;
    }
    if (bench_tls_session_new(&ci->tls, h->cred, h->host, h->insecure, ci->fd) != 0) {
        snprintf(ci->errbuf, sizeof(ci->errbuf), "TLS session setup failed");
        raw_close(ci);
        ci->state = RAW_IDLE;
        http_complete(ci, 0, NULL, 0, ci->errbuf);
        return;
    }
    ci->state = RAW_HANDSHAKE;
    handshake(ci);
}

static void start_connect(struct conn_impl *ci)
{
    struct bench_http *h = ci->pub.http;
    int one = 1;

    ci->fd = socket(h->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ci->fd < 0) {
        fail(ci, "socket", errno);
        return;
    }
    setsockopt(ci->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ci->reused = 0;
    if (connect(ci->fd, (struct sockaddr *)&h->addr, h->addrlen) == 0) {
        want(ci, EPOLLIN);
        connected(ci);
        return;
    }
    if (errno != EINPROGRESS) {
        fail(ci, "connect", errno);
        return;
    }
    ci->state = RAW_CONNECTING;
    want(ci, EPOLLOUT);
}

static void send_some(struct conn_impl *ci)
{
    while (ci->out_off < ci->out_len) {
        ssize_t n;

        if (ci->tls != NULL) {
            /* After GNUTLS_E_AGAIN the same bytes are offered again, as GnuTLS asks. */
            n = gnutls_record_send(ci->tls, ci->out + ci->out_off, ci->out_len - ci->out_off);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                want(ci, EPOLLIN | EPOLLOUT);
                return;
            }
            if (n < 0 && !(ci->reused && !ci->retried)) {
                fail_tls(ci, "send", (int)n);
                return;
            }
        } else {
            n = send(ci->fd, ci->out + ci->out_off, ci->out_len - ci->out_off, MSG_NOSIGNAL);
        }
        if (n > 0) {
            ci->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && ci->tls == NULL && errno == EINTR) {
            continue;
        }
        if (n < 0 && ci->tls == NULL && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            want(ci, EPOLLIN | EPOLLOUT);
            return;
        }
        if (ci->reused && !ci->retried) {
            /* The server closed the idle socket under us: once more on a new one. */
            ci->retried = 1;
            raw_close(ci);
            ci->out_off = 0;
            start_connect(ci);
            return;
        }
        fail(ci, "send", n < 0 ? errno : 0);
        return;
    }
    ci->state = RAW_READING;
    want(ci, EPOLLIN);
}

void http_raw_post(struct conn_impl *ci)
{
    struct bench_http *h = ci->pub.http;
    size_t need = strlen(ci->path) + strlen(h->host_header) + 200 + ci->req_len;
    int n;

    if (need > ci->out_cap) {
        ci->out_cap = need;
        ci->out = http_realloc(ci->out, need);
    }
    n = snprintf(ci->out, ci->out_cap,
                 "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-protobuf\r\n"
                 "Accept: application/x-protobuf\r\nContent-Length: %zu\r\n\r\n",
                 ci->path, h->host_header, ci->req_len);
    memcpy(ci->out + n, ci->req, ci->req_len);
    ci->out_len = (size_t)n + ci->req_len;
    ci->out_off = 0;
    ci->retried = 0;
    reset_parse(ci);
    if (ci->fd < 0) {
        start_connect(ci);
        return;
    }
    ci->reused = 1;
    ci->state = RAW_SENDING;
    send_some(ci);
}

/* Offset of "\r\n" in buf[from..to), or -1. */
static ssize_t find_crlf(const uint8_t *buf, size_t from, size_t to)
{
    for (size_t i = from; i + 1 < to; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n') {
            return (ssize_t)i;
        }
    }
    return -1;
}

static int header_is(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);

    return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

/* Does the value contain `token` (case-insensitive)? */
static int value_has(const char *v, size_t len, const char *token)
{
    size_t n = strlen(token);

    for (size_t i = 0; i + n <= len; i++) {
        if (strncasecmp(v + i, token, n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Status line and headers in buf[0..end): 0, or -1 when they are not HTTP/1.x. */
static int parse_head(struct conn_impl *ci, size_t end)
{
    const char *p = (const char *)ci->buf;
    size_t i;

    if (end < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ') {
        return -1;
    }
    ci->status = strtol(p + 9, NULL, 10);
    ci->close_after = p[7] == '0';
    i = (size_t)find_crlf(ci->buf, 0, end + 2) + 2;
    while (i < end) {
        ssize_t e = find_crlf(ci->buf, i, end + 2);
        size_t len;
        const char *line = p + i;
        const char *v;
        size_t vlen;

        if (e < 0) {
            return -1;
        }
        len = (size_t)e - i;
        v = memchr(line, ':', len);
        if (v != NULL) {
            v++;
            vlen = len - (size_t)(v - line);
            if (header_is(line, len, "content-length")) {
                ci->clen = strtoll(v, NULL, 10);
            } else if (header_is(line, len, "transfer-encoding")) {
                ci->chunked = value_has(v, vlen, "chunked");
            } else if (header_is(line, len, "connection")) {
                ci->close_after = value_has(v, vlen, "close");
            }
        }
        i = (size_t)e + 2;
    }
    return 0;
}

/*
 * Decode chunks in place: decoded bytes go to buf[hdr_end + ck_out ..], which
 * never passes the read cursor ck_in. 1 when the last chunk is in, 0 when
 * more bytes are needed, -1 on a malformed body.
 */
static int dechunk(struct conn_impl *ci)
{
    for (;;) {
        ssize_t e;
        size_t take;

        switch (ci->ck_state) {
        case CK_SIZE:
            e = find_crlf(ci->buf, ci->ck_in, ci->len);
            if (e < 0) {
                return 0;
            }
            {
                char *end;
                long long sz = strtoll((const char *)ci->buf + ci->ck_in, &end, 16);

                if (end == (const char *)ci->buf + ci->ck_in || sz < 0) {
                    return -1;
                }
                ci->ck_left = sz;
            }
            ci->ck_in = (size_t)e + 2;
            ci->ck_state = ci->ck_left == 0 ? CK_TRAILER : CK_DATA;
            break;
        case CK_DATA:
            take = ci->len - ci->ck_in;
            if ((int64_t)take > ci->ck_left) {
                take = (size_t)ci->ck_left;
            }
            if (take == 0) {
                return 0;
            }
            memmove(ci->buf + ci->hdr_end + ci->ck_out, ci->buf + ci->ck_in, take);
            ci->ck_out += take;
            ci->ck_in += take;
            ci->ck_left -= (int64_t)take;
            if (ci->ck_left == 0) {
                ci->ck_state = CK_DATA_CRLF;
            }
            break;
        case CK_DATA_CRLF:
            if (ci->len - ci->ck_in < 2) {
                return 0;
            }
            if (ci->buf[ci->ck_in] != '\r' || ci->buf[ci->ck_in + 1] != '\n') {
                return -1;
            }
            ci->ck_in += 2;
            ci->ck_state = CK_SIZE;
            break;
        case CK_TRAILER:
            /* Trailer lines, if any, end with an empty line. */
            e = find_crlf(ci->buf, ci->ck_in, ci->len);
            if (e < 0) {
                return 0;
            }
            if ((size_t)e == ci->ck_in) {
                return 1;
            }
            ci->ck_in = (size_t)e + 2;
            break;
        default:
            return -1;
        }
    }
}

static void finish(struct conn_impl *ci, const uint8_t *body, size_t len)
{
    if (ci->close_after) {
        raw_close(ci);
    }
    ci->state = RAW_IDLE;
    http_complete(ci, ci->status, body, len, NULL);
}

/* Parse what has arrived; finish the request when the answer is complete. */
static void parse(struct conn_impl *ci, int eof)
{
    if (ci->hdr_end == 0) {
        size_t from = ci->scan;

        for (size_t i = from; i + 3 < ci->len; i++) {
            if (ci->buf[i] == '\r' && memcmp(ci->buf + i, "\r\n\r\n", 4) == 0) {
                ci->hdr_end = i + 4;
                break;
            }
        }
        if (ci->hdr_end == 0) {
            ci->scan = ci->len > 3 ? ci->len - 3 : 0;
            if (eof) {
                fail(ci, "answer", 0);
            }
            return;
        }
        if (parse_head(ci, ci->hdr_end - 2) != 0) {
            snprintf(ci->errbuf, sizeof(ci->errbuf), "answer is not HTTP/1.x");
            raw_close(ci);
            ci->state = RAW_IDLE;
            http_complete(ci, 0, NULL, 0, ci->errbuf);
            return;
        }
        ci->ck_in = ci->hdr_end;
    }
    if (ci->chunked) {
        int rc = dechunk(ci);

        if (rc == 1) {
            finish(ci, ci->buf + ci->hdr_end, ci->ck_out);
        } else if (rc < 0 || eof) {
            fail(ci, "chunked answer", 0);
        }
        return;
    }
    if (ci->clen >= 0) {
        if (ci->len - ci->hdr_end >= (size_t)ci->clen) {
            finish(ci, ci->buf + ci->hdr_end, (size_t)ci->clen);
        } else if (eof) {
            fail(ci, "answer shorter than its Content-Length", 0);
        }
        return;
    }
    if (eof) {
        ci->close_after = 1; /* the body ran to the end of the connection */
        finish(ci, ci->buf + ci->hdr_end, ci->len - ci->hdr_end);
    }
}

static void read_some(struct conn_impl *ci)
{
    size_t chunk = ci->recv_hint > 65536 ? 1024 * 1024 : RAW_MIN_READ;

    while (ci->state == RAW_READING) {
        ssize_t n;

        http_reserve(ci, chunk);
        if (ci->tls != NULL) {
            n = gnutls_record_recv(ci->tls, ci->buf + ci->len, ci->cap - ci->len);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                return;
            }
            if (n == GNUTLS_E_PREMATURE_TERMINATION) {
                n = 0; /* closed without a close_notify: an end like any other */
            }
            if (n < 0 && !(ci->len == 0 && ci->reused && !ci->retried)) {
                fail_tls(ci, "recv", (int)n);
                return;
            }
        } else {
            n = recv(ci->fd, ci->buf + ci->len, ci->cap - ci->len, 0);
        }
        if (n > 0) {
            ci->len += (size_t)n;
            parse(ci, 0);
            continue;
        }
        if (n < 0 && ci->tls == NULL && errno == EINTR) {
            continue;
        }
        if (n < 0 && ci->tls == NULL && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (ci->len == 0 && ci->reused && !ci->retried) {
            /* Closed before answering a request sent on a reused socket: once more. */
            ci->retried = 1;
            raw_close(ci);
            ci->out_off = 0;
            start_connect(ci);
            return;
        }
        if (n == 0) {
            parse(ci, 1);
        } else {
            fail(ci, "recv", errno);
        }
        return;
    }
}

static void on_event(struct conn_impl *ci, uint32_t ev)
{
    int err = 0;
    socklen_t elen = sizeof(err);

    switch (ci->state) {
    case RAW_CONNECTING:
        if (getsockopt(ci->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0) {
            err = errno;
        }
        if (err != 0) {
            fail(ci, "connect", err);
            return;
        }
        connected(ci);
        return;
    case RAW_HANDSHAKE:
        handshake(ci);
        return;
    case RAW_SENDING:
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
            send_some(ci);
        }
        return;
    case RAW_READING:
        read_some(ci);
        return;
    case RAW_IDLE:
    default:
        /* An idle keep-alive socket became readable: the server closed it. */
        raw_close(ci);
        return;
    }
}

void http_raw_turn(struct bench_http *h, int timeout_ms)
{
    struct epoll_event evs[RAW_EVENTS];
    int n = epoll_wait(h->epfd, evs, RAW_EVENTS, timeout_ms);

    for (int i = 0; i < n; i++) {
        on_event(evs[i].data.ptr, evs[i].events);
    }
}
