/*
 * server.c - the libmicrohttpd front end (http.h): the API listener with
 * optional mutual TLS, its limits and its drain, and the health listener.
 *
 * Per request: route and method are checked on the first callback (404 /
 * 405 at once); the body is gathered into the request arena up to the
 * cap (past it, it is read and thrown away, and answered 413 at its end:
 * see on_request); on the last callback the handler runs and its answer
 * is queued.
 * The arena is released when libmicrohttpd reports the request completed.
 *
 * Per connection (MHD_OPTION_NOTIFY_CONNECTION): a `struct conn` is kept
 * in a list with a read deadline. A reaper thread shuts down connections
 * whose request has not fully arrived in time, because libmicrohttpd's own
 * timeout only measures inactivity and a client trickling a byte at a time
 * would never meet it (slowloris). Under TLS the same hook takes over the
 * GnuTLS session before its handshake: client certificates are required
 * and verified in the handshake, and a plain-HTTP request gets a
 * plain-text 400 instead of a silent close.
 *
 * What this module does not do: decode or validate requests (handlers),
 * or decide whether TLS is on (the config; main.c warns about plain HTTP).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "bbs/codec.h"
#include "bbs/log.h"
#include "bbs/pbw.h"
#include "handlers.h"

#define PROTOBUF_TYPE "application/x-protobuf"

/*
 * Upstream's policy for TLS 1.2 (ECDHE-RSA with AES-GCM, reference 1.1),
 * plus TLS 1.3 with its AES-GCM suites. SECURE128 supplies the groups and
 * signature algorithms; everything older than 1.2 is off.
 */
#define TLS_PRIORITIES                                                                             \
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:"         \
    "-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-RSA:%SERVER_PRECEDENCE"

/* What Go's net/http answers to plain HTTP on a TLS port, byte for byte. */
#define PLAIN_ON_TLS_ANSWER                                                                        \
    "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"

#define TLS_FILE_MAX (1024 * 1024)

/* An over-cap body announced as more than this many times the cap is refused unread. */
#define DISCARD_FACTOR 8

struct bbs_http_tls {
    char *cert; /* PEM text, NUL-terminated (libmicrohttpd takes C strings) */
    char *key;
    char *ca;
};

struct conn;

struct bbs_http {
    struct MHD_Daemon *daemon;
    struct bbs_ctx *ctx;
    const struct bbs_config *cfg;
    int tls;
    atomic_int unrecoverable;
    atomic_int inflight; /* requests between their first callback and completion */
    atomic_int draining; /* bbs_http_stop is waiting for requests in flight */

    pthread_mutex_t mu; /* guards conns and every conn's deadline */
    pthread_cond_t cv;
    struct conn *conns;
    int reaper_stop;
    int reaper_started;
    pthread_t reaper;
};

/*
 * One accepted connection (libmicrohttpd's socket context). Created in
 * the STARTED notification, unlinked and freed in CLOSED, which
 * libmicrohttpd sends before it closes the socket: while the entry is in
 * the list (under h->mu) `fd` is this connection's socket and no other's.
 */
struct conn {
    struct bbs_http *h;
    int fd;
    int64_t deadline_ns; /* CLOCK_MONOTONIC; 0 = none (a request is being answered) */
    int sniffed;         /* TLS: the first bytes were looked at */
    int verified;        /* TLS: the client certificate passed verification */
    char peer[64];
    struct conn *prev;
    struct conn *next;
};

struct request {
    struct bbs_arena *arena;
    const struct bbs_route *route;
    struct bbs_buf body;
    int64_t started_ns;
    int responded; /* a response was queued early (413 on Content-Length) */
    int oversized; /* the body passed the cap while arriving: discarded, 413 at its end */
};

/* con_cls of a request answered on its first callback (404, 405): nothing to free. */
static char answered_early;

static int64_t mono_ns(void)
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
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
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

/* ---- TLS files ------------------------------------------------------------------------- */

/* Read a whole PEM file into a NUL-terminated string; errors name `key`. */
static char *read_pem(const char *path, const char *key, struct bbs_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;

    if (f == NULL) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST, "config key %s: cannot read \"%s\": %s", key,
                       path, strerror(errno));
        return NULL;
    }
    buf = malloc(TLS_FILE_MAX + 1);
    if (buf == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "out of memory");
        goto out;
    }
    n = fread(buf, 1, TLS_FILE_MAX + 1, f);
    if (ferror(f) || n > TLS_FILE_MAX) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST, "config key %s: cannot read \"%s\"%s", key,
                       path, n > TLS_FILE_MAX ? ": larger than 1 MiB" : "");
        free(buf);
        buf = NULL;
        goto out;
    }
    buf[n] = '\0';
out:
    fclose(f);
    return buf;
}

/* Count PEM certificates in `pem`; -1 if there is none or one does not parse. */
static int pem_certs(const char *pem, gnutls_x509_crt_t **crts, unsigned *n)
{
    gnutls_datum_t d = {(unsigned char *)(uintptr_t)pem, (unsigned)strlen(pem)};

    *crts = NULL;
    *n = 0;
    if (gnutls_x509_crt_list_import2(crts, n, &d, GNUTLS_X509_FMT_PEM, 0) < 0 || *n == 0) {
        return -1;
    }
    return 0;
}

static void free_certs(gnutls_x509_crt_t *crts, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        gnutls_x509_crt_deinit(crts[i]);
    }
    gnutls_free(crts);
}

/*
 * Check the three files as libmicrohttpd will use them, so that a bad one
 * is refused at start-up with its key named rather than as "cannot
 * listen": certificates parse, the server key is RSA (the TLS 1.2 suites
 * are ECDHE-RSA only) and matches its certificate.
 */
static int tls_check(const struct bbs_config *cfg, const struct bbs_http_tls *t,
                     struct bbs_error *err)
{
    gnutls_x509_crt_t *crts = NULL;
    unsigned n = 0;
    gnutls_x509_privkey_t key = NULL;
    gnutls_certificate_credentials_t cred = NULL;
    gnutls_datum_t kd = {(unsigned char *)t->key, (unsigned)strlen(t->key)};
    gnutls_datum_t cd = {(unsigned char *)t->cert, (unsigned)strlen(t->cert)};
    int alg;
    int rc = -1;
    int r;

    if (pem_certs(t->ca, &crts, &n) != 0) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                       "config key ca_file: \"%s\" holds no readable PEM certificate",
                       cfg->ca_file);
        goto out;
    }
    free_certs(crts, n);
    if (pem_certs(t->cert, &crts, &n) != 0) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                       "config key cert_file: \"%s\" holds no readable PEM certificate",
                       cfg->cert_file);
        goto out;
    }
    alg = gnutls_x509_crt_get_pk_algorithm(crts[0], NULL);
    free_certs(crts, n);
    if (alg != GNUTLS_PK_RSA) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                       "config key cert_file: the certificate's key is %s; only RSA is served "
                       "(the TLS 1.2 suites are ECDHE-RSA)",
                       gnutls_pk_get_name((gnutls_pk_algorithm_t)alg) != NULL
                           ? gnutls_pk_get_name((gnutls_pk_algorithm_t)alg)
                           : "unknown");
        goto out;
    }
    if (gnutls_x509_privkey_init(&key) < 0 ||
        gnutls_x509_privkey_import2(key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0) < 0) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST,
                       "config key key_file: \"%s\" holds no readable unencrypted PEM private key",
                       cfg->key_file);
        goto out;
    }
    if (gnutls_certificate_allocate_credentials(&cred) < 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "out of memory");
        goto out;
    }
    r = gnutls_certificate_set_x509_key_mem(cred, &cd, &kd, GNUTLS_X509_FMT_PEM);
    if (r < 0) {
        bbs_error_setf(err, BBS_ERR_INVALID_REQUEST, "config key key_file: %s (cert_file \"%s\")",
                       r == GNUTLS_E_CERTIFICATE_KEY_MISMATCH ? "the key does not match cert_file"
                                                              : gnutls_strerror(r),
                       cfg->cert_file);
        goto out;
    }
    rc = 0;
out:
    gnutls_x509_privkey_deinit(key);
    if (cred != NULL) {
        gnutls_certificate_free_credentials(cred);
    }
    return rc;
}

int bbs_http_tls_load(const struct bbs_config *cfg, struct bbs_http_tls **out,
                      struct bbs_error *err)
{
    struct bbs_http_tls *t = NULL;
    int rc = -1;

    *out = NULL;
    if (!cfg->require_ssl) {
        return 0;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "out of memory");
        return -1;
    }
    if ((t->cert = read_pem(cfg->cert_file, "cert_file", err)) == NULL ||
        (t->key = read_pem(cfg->key_file, "key_file", err)) == NULL ||
        (t->ca = read_pem(cfg->ca_file, "ca_file", err)) == NULL) {
        goto out;
    }
    if (tls_check(cfg, t, err) != 0) {
        goto out;
    }
    *out = t;
    t = NULL;
    rc = 0;
out:
    bbs_http_tls_free(t);
    return rc;
}

void bbs_http_tls_free(struct bbs_http_tls *tls)
{
    if (tls == NULL) {
        return;
    }
    if (tls->key != NULL) {
        memset(tls->key, 0, strlen(tls->key)); /* do not leave the key in freed memory */
    }
    free(tls->cert);
    free(tls->key);
    free(tls->ca);
    free(tls);
}

/* ---- TLS sessions ----------------------------------------------------------------------- */

/*
 * Transport functions for a connection's GnuTLS session: plain
 * send/recv on its socket, except that the first bytes a client sends are
 * looked at. A TLS record starts with a content type byte (20..24); an
 * upper-case letter is an HTTP method, i.e. a client speaking plain HTTP
 * to this port. It gets the plain-text 400 Go gives, then the connection
 * is closed.
 */
static void answer_plain_on_tls(struct conn *c)
{
    static const char answer[] = PLAIN_ON_TLS_ANSWER;
    char sink[4096];
    int spins = 0;

    /* One small write to a fresh socket; a short write only loses the text. */
    if (send(c->fd, answer, sizeof(answer) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        return;
    }
    shutdown(c->fd, SHUT_WR);
    /* Read what is already there so that the close sends FIN, not a reset
     * that could destroy the answer before the client reads it. */
    while (spins++ < 16 && recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0) {
    }
    bbs_log(BBS_LOG_INFO, "http.plain-http-on-tls", "{s:s}", "peer", c->peer);
}

static ssize_t tls_pull(gnutls_transport_ptr_t p, void *data, size_t size)
{
    struct conn *c = p;
    ssize_t n = recv(c->fd, data, size, 0);

    if (n > 0 && !c->sniffed) {
        const unsigned char first = *(const unsigned char *)data;

        c->sniffed = 1;
        if (first >= 'A' && first <= 'Z') {
            answer_plain_on_tls(c);
            errno = ECONNRESET;
            return -1;
        }
    }
    return n;
}

static ssize_t tls_push(gnutls_transport_ptr_t p, const void *data, size_t size)
{
    const struct conn *c = p;

    return send(c->fd, data, size, MSG_NOSIGNAL);
}

static int tls_pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
    const struct conn *c = p;
    struct pollfd pfd = {c->fd, POLLIN, 0};

    return poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

/* The TLS alert that tells a refused client why (RFC 8446 6.2, RFC 5246 7.2). */
static gnutls_alert_description_t refusal_alert(gnutls_session_t s, int r, unsigned status)
{
    if (r == GNUTLS_E_NO_CERTIFICATE_FOUND) {
        return gnutls_protocol_get_version(s) == GNUTLS_TLS1_3 ? GNUTLS_A_CERTIFICATE_REQUIRED
                                                               : GNUTLS_A_HANDSHAKE_FAILURE;
    }
    if (status & GNUTLS_CERT_EXPIRED) {
        return GNUTLS_A_CERTIFICATE_EXPIRED;
    }
    if (status & GNUTLS_CERT_SIGNER_NOT_FOUND) {
        return GNUTLS_A_UNKNOWN_CA;
    }
    if (status & GNUTLS_CERT_PURPOSE_MISMATCH) {
        return GNUTLS_A_UNSUPPORTED_CERTIFICATE;
    }
    return GNUTLS_A_BAD_CERTIFICATE;
}

/*
 * Called by GnuTLS inside the handshake once the client's certificate
 * message has arrived (also when it sent none). Non-zero fails the
 * handshake: the client never gets to send a request. The certificate
 * must chain to ca_file, be within its validity period, and, if it has
 * an extended key usage, allow client authentication (as Go checks).
 * The client is told why with a fatal alert (libmicrohttpd would only
 * close the connection), and the refusal is logged with its reason.
 */
static int tls_verify_client(gnutls_session_t s)
{
    struct conn *c = gnutls_transport_get_ptr(s);
    gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID,
                                     (unsigned char *)(uintptr_t)GNUTLS_KP_TLS_WWW_CLIENT, 0};
    gnutls_datum_t text = {NULL, 0};
    unsigned status = 0;
    int r = gnutls_certificate_verify_peers(s, &purpose, 1, &status);

    if (r == GNUTLS_E_SUCCESS && status == 0) {
        c->verified = 1;
        return 0;
    }
    if (r == GNUTLS_E_SUCCESS &&
        gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) == 0) {
        bbs_log(BBS_LOG_INFO, "http.tls-client-refused", "{s:s, s:s}", "peer", c->peer, "reason",
                (const char *)text.data);
        gnutls_free(text.data);
    } else {
        bbs_log(BBS_LOG_INFO, "http.tls-client-refused", "{s:s, s:s}", "peer", c->peer, "reason",
                r == GNUTLS_E_NO_CERTIFICATE_FOUND ? "no client certificate" : gnutls_strerror(r));
    }
    /* Best effort: a few bytes on a socket that has room for them. */
    (void)gnutls_alert_send(s, GNUTLS_AL_FATAL, refusal_alert(s, r, status));
    return -1;
}

/*
 * Before GnuTLS handles a ClientHello: one whose version is below TLS 1.2
 * (legacy_version < 3.3; a TLS 1.3 client sends 3.3 there too) is refused
 * with a protocol_version alert. GnuTLS would refuse it as well, but by
 * closing the connection without a word.
 */
static int tls_hello_hook(gnutls_session_t s, unsigned htype, unsigned when, unsigned incoming,
                          const gnutls_datum_t *msg)
{
    const struct conn *c = gnutls_transport_get_ptr(s);

    (void)htype;
    (void)when;
    if (!incoming || msg == NULL || msg->size < 2 || msg->data[0] > 3 ||
        (msg->data[0] == 3 && msg->data[1] >= 3)) {
        return 0;
    }
    bbs_log(BBS_LOG_INFO, "http.tls-client-refused", "{s:s, s:s}", "peer", c->peer, "reason",
            "client offers no TLS version from 1.2 on");
    (void)gnutls_alert_send(s, GNUTLS_AL_FATAL, GNUTLS_A_PROTOCOL_VERSION);
    return GNUTLS_E_UNSUPPORTED_VERSION_PACKET;
}

/* Take over a new connection's TLS session before its handshake starts. */
static void tls_session_setup(struct MHD_Connection *mc, struct conn *c)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t s;

    if (info == NULL || info->tls_session == NULL) {
        return; /* c->verified stays 0: on_request refuses every request */
    }
    s = info->tls_session;
    gnutls_transport_set_ptr(s, c);
    gnutls_transport_set_pull_function(s, tls_pull);
    gnutls_transport_set_push_function(s, tls_push);
    gnutls_transport_set_pull_timeout_function(s, tls_pull_timeout);
    /* REQUEST, not REQUIRE: a client without a certificate then reaches
     * tls_verify_client too, which refuses it with a log line saying so. */
    gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
    gnutls_session_set_verify_function(s, tls_verify_client);
    gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_CLIENT_HELLO, GNUTLS_HOOK_PRE,
                                       tls_hello_hook);
}

/* ---- connections and their deadlines ----------------------------------------------------- */

static void conn_set_deadline(struct conn *c, int64_t deadline_ns)
{
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&c->h->mu);
    c->deadline_ns = deadline_ns;
    pthread_mutex_unlock(&c->h->mu);
}

static struct conn *conn_of(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return info != NULL ? info->socket_context : NULL;
}

static void peer_text(struct MHD_Connection *mc, char *out, size_t len)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr_in *sin;
    char ip[INET_ADDRSTRLEN] = "?";

    snprintf(out, len, "?");
    if (info == NULL || info->client_addr == NULL || info->client_addr->sa_family != AF_INET) {
        return;
    }
    sin = (const struct sockaddr_in *)(const void *)info->client_addr;
    inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
    snprintf(out, len, "%s:%u", ip, (unsigned)ntohs(sin->sin_port));
}

/*
 * A new connection must deliver its first request within
 * http_read_timeout; CLOSED unlinks it. Runs on the connection's worker
 * thread, before any byte is read.
 */
static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct bbs_http *h = cls;
    struct conn *c = *socket_context;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);

        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            bbs_log(BBS_LOG_FATAL, "out-of-memory", NULL);
            abort();
        }
        c->h = h;
        c->fd = fd != NULL ? fd->connect_fd : -1;
        peer_text(mc, c->peer, sizeof(c->peer));
        c->deadline_ns = mono_ns() + h->cfg->http_read_timeout_ns;
        if (h->tls) {
            tls_session_setup(mc, c);
        }
        pthread_mutex_lock(&h->mu);
        c->next = h->conns;
        if (h->conns != NULL) {
            h->conns->prev = c;
        }
        h->conns = c;
        pthread_mutex_unlock(&h->mu);
        *socket_context = c;
        return;
    }
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        h->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    pthread_mutex_unlock(&h->mu);
    free(c);
    *socket_context = NULL;
}

/*
 * Shut down every connection past its deadline. shutdown() wakes the
 * connection's worker, whose next read sees end-of-file and closes it
 * through libmicrohttpd's normal path (CLOSED included). Runs every
 * 100 ms until bbs_http_stop.
 */
static void *reaper_main(void *arg)
{
    struct bbs_http *h = arg;

    pthread_mutex_lock(&h->mu);
    while (!h->reaper_stop) {
        struct timespec until;
        int64_t now = mono_ns();
        int reaped = 0;

        for (struct conn *c = h->conns; c != NULL; c = c->next) {
            if (c->deadline_ns != 0 && now > c->deadline_ns && c->fd >= 0) {
                shutdown(c->fd, SHUT_RDWR);
                c->deadline_ns = 0;
                reaped++;
            }
        }
        if (reaped > 0) {
            bbs_log(BBS_LOG_INFO, "http.read-deadline", "{s:i, s:s}", "connections", reaped,
                    "reason", "request not complete within http_read_timeout: closed");
        }
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&h->cv, &h->mu, &until);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* ---- responses -------------------------------------------------------------------------- */

static enum MHD_Result queue(struct bbs_http *h, struct MHD_Connection *conn, unsigned status,
                             const char *type, struct bbs_buf *body, const char *allow)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    size_t len = 0;
    uint8_t *data = bbs_buf_take(body, &len);

    /* Answered (or about to be): the read deadline no longer applies. */
    conn_set_deadline(conn_of(conn), 0);
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

static enum MHD_Result queue_text(struct bbs_http *h, struct MHD_Connection *conn, unsigned status,
                                  const char *text, const char *allow)
{
    struct bbs_buf b = {0};

    bbs_buf_append(&b, text, strlen(text));
    return queue(h, conn, status, "text/plain; charset=utf-8", &b, allow);
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
    return queue(h, conn, MHD_HTTP_CONTENT_TOO_LARGE, PROTOBUF_TYPE, &b, NULL);
}

static enum MHD_Result dispatch(struct bbs_http *h, struct MHD_Connection *conn, struct request *r,
                                const char *url, const char *method)
{
    struct bbs_req req;
    struct bbs_buf out = {0};
    struct bbs_error err = {0};
    const char *trace = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Vcap-Request-Id");
    int failed;

    /* The request has fully arrived: however long the handler takes (a
     * database outage), the connection is not reaped under it. */
    conn_set_deadline(conn_of(conn), 0);
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
    return queue(h, conn, MHD_HTTP_OK, PROTOBUF_TYPE, &out, NULL);
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
        const char *cl;
        const struct conn *c = conn_of(conn);

        /* Every request counts as in flight from here until on_completed. */
        atomic_fetch_add(&h->inflight, 1);
        *con_cls = &answered_early;
        if (h->tls && (c == NULL || !c->verified)) {
            /* Unreachable while the handshake verifies clients; if that ever
             * failed open, no request would be processed regardless. */
            bbs_log(BBS_LOG_ERROR, "http.tls-unverified-request", "{s:s}", "route", url);
            return MHD_NO;
        }
        route = bbs_route_find(url);
        if (route == NULL) {
            log_request(url, method, MHD_HTTP_NOT_FOUND, mono_ns(), NULL);
            return queue_text(h, conn, MHD_HTTP_NOT_FOUND, "404 page not found\n", NULL);
        }
        if (strcmp(method, "POST") != 0) {
            log_request(url, method, MHD_HTTP_METHOD_NOT_ALLOWED, mono_ns(), NULL);
            return queue_text(h, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed\n", "POST");
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
    conn_set_deadline(conn_of(conn),
                      mono_ns() + h->cfg->http_idle_timeout_ns + h->cfg->http_read_timeout_ns);
    if (r == NULL) {
        return;
    }
    atomic_fetch_sub(&h->inflight, 1);
    *con_cls = NULL;
    if ((void *)r == (void *)&answered_early) {
        return;
    }
    bbs_buf_free(&r->body);
    bbs_arena_free(r->arena);
    free(r);
}

static int parse_listen(const char *key, const char *addr, struct sockaddr_in *sa,
                        struct bbs_error *err)
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
    bbs_error_setf(err, BBS_ERR_UNKNOWN, "%s \"%s\" is not an IPv4 host:port", key, addr);
    return -1;
}

static void http_free(struct bbs_http *h)
{
    if (h->reaper_started) {
        pthread_mutex_lock(&h->mu);
        h->reaper_stop = 1;
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->reaper, NULL);
    }
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}

struct bbs_http *bbs_http_start(const struct bbs_config *cfg, struct bbs_ctx *ctx,
                                const struct bbs_http_tls *tls, struct bbs_error *err)
{
    struct bbs_http *h = calloc(1, sizeof(*h));
    struct sockaddr_in sa;
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
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)(uintptr_t)TLS_PRIORITIES},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_OptionItem no_opts[] = {{MHD_OPTION_END, 0, NULL}};

    if (h == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    if (parse_listen("listen_address", cfg->listen_address, &sa, err) != 0) {
        goto fail;
    }
    h->ctx = ctx;
    h->cfg = cfg;
    h->tls = tls != NULL;
    if (tls != NULL) {
        flags |= MHD_USE_TLS;
    }
    if (pthread_create(&h->reaper, NULL, reaper_main, h) != 0) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "cannot start the connection reaper thread");
        goto fail;
    }
    h->reaper_started = 1;
    h->daemon = MHD_start_daemon(
        flags, ntohs(sa.sin_port), NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
        cfg->http_thread_per_connection ? 0u : (unsigned)cfg->http_worker_threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(cfg->http_idle_timeout_ns / 1000000000),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_ARRAY,
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
 * Drain, as SIGTERM asks: stop accepting, let every request that has
 * started (its headers arrived) finish and be answered, closing each
 * connection after its answer, for up to http_shutdown_timeout; then close
 * what is left (idle keep-alive connections, requests still arriving).
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
    deadline = mono_ns() + h->cfg->http_shutdown_timeout_ns;
    while (atomic_load(&h->inflight) > 0 && mono_ns() < deadline) {
        struct timespec ts = {0, 10 * 1000000L};

        nanosleep(&ts, NULL);
    }
    if (atomic_load(&h->inflight) > 0) {
        bbs_log(BBS_LOG_ERROR, "http.drain-timeout", "{s:i}", "requests",
                atomic_load(&h->inflight));
    }
    MHD_stop_daemon(h->daemon);
    http_free(h);
}

int bbs_http_unrecoverable(const struct bbs_http *h)
{
    return atomic_load(&((struct bbs_http *)h)->unrecoverable);
}

/* ---- the health listener --------------------------------------------------------------- */

struct bbs_health {
    struct MHD_Daemon *daemon;
};

/* 200 with an empty body for any path and method (reference 1.1); the body is never read. */
static enum MHD_Result on_health(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    static char seen;
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    if (*con_cls == NULL) {
        *con_cls = &seen;
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (resp == NULL) {
            return MHD_NO;
        }
        ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    *upload_data_size = 0;
    return MHD_YES;
}

struct bbs_health *bbs_health_start(const struct bbs_config *cfg, struct bbs_error *err)
{
    struct bbs_health *hl = calloc(1, sizeof(*hl));
    struct sockaddr_in sa;

    if (hl == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "out of memory");
        return NULL;
    }
    if (parse_listen("health_address", cfg->health_address, &sa, err) != 0) {
        free(hl);
        return NULL;
    }
    /* One polling thread, a few connections, short timeouts: monitors only. */
    hl->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG,
        ntohs(sa.sin_port), NULL, NULL, on_health, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)8192,
        MHD_OPTION_END);
    if (hl->daemon == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "cannot listen on health_address %s",
                       cfg->health_address);
        free(hl);
        return NULL;
    }
    return hl;
}

void bbs_health_stop(struct bbs_health *hl)
{
    if (hl == NULL) {
        return;
    }
    MHD_stop_daemon(hl->daemon);
    free(hl);
}
