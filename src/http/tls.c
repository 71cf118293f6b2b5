/*
 * tls.c - TLS for the API listener: the files (bbs_http_tls_load, checked
 * at start-up so that a bad one is refused with its config key named) and
 * each connection's GnuTLS session (tls.h): client certificates are
 * required and verified in the handshake, a refused client is told why
 * with an alert and logged, and a plain-HTTP request gets a plain-text 400
 * instead of a silent close.
 *
 * What this module does not do: decide whether TLS is on (the config;
 * main.c warns about plain HTTP) or start the listener (server.c).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "bbs/log.h"
#include "bbs/xalloc.h"
#include "tls.h"

/* What Go's net/http answers to plain HTTP on a TLS port, byte for byte. */
#define PLAIN_ON_TLS_ANSWER                                                                        \
    "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"

#define TLS_FILE_MAX (1024 * 1024)

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
    buf = bbs_xmalloc(TLS_FILE_MAX + 1);
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
        bbs_out_of_memory(0); /* its only failure; the size is GnuTLS's own */
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
    t = bbs_xcalloc(1, sizeof(*t));
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
static void answer_plain_on_tls(struct bbs_conn *c)
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
    struct bbs_conn *c = p;
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
    const struct bbs_conn *c = p;

    return send(c->fd, data, size, MSG_NOSIGNAL);
}

static int tls_pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
    const struct bbs_conn *c = p;
    struct pollfd pfd = {c->fd, POLLIN, 0};

    return poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

/*
 * After a refusal alert: a TLS 1.3 client considers its handshake done
 * once it has sent its Finished and sends its request at once. Closing
 * with those bytes unread makes the kernel send a reset, which can reach
 * the client before it reads the alert (it then reports a broken pipe,
 * not why it was refused). So stop writing and read what the client sends
 * until it closes (having read the alert), for a bounded time. This runs
 * inside the handshake on the connection's thread: with a thread per
 * connection nobody else waits, but in the thread pool every connection of
 * that thread does, so there the wait is kept short (a loopback or LAN
 * client's request follows its Finished within microseconds), so that
 * refused clients cannot stall the pool.
 */
#define REFUSAL_LINGER_MS_OWN_THREAD 250
#define REFUSAL_LINGER_MS_POOL       10

static void linger_for_alert(const struct bbs_conn *c)
{
    char sink[4096];
    int64_t ms = c->h->cfg->http_thread_per_connection ? REFUSAL_LINGER_MS_OWN_THREAD
                                                       : REFUSAL_LINGER_MS_POOL;
    int64_t deadline = bbs_http_mono_ns() + ms * 1000000;

    shutdown(c->fd, SHUT_WR);
    for (;;) {
        struct pollfd pfd = {c->fd, POLLIN, 0};
        int64_t left_ms = (deadline - bbs_http_mono_ns()) / 1000000;

        if (left_ms <= 0 || poll(&pfd, 1, (int)left_ms) <= 0 ||
            recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0) {
            return;
        }
    }
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
    struct bbs_conn *c = gnutls_transport_get_ptr(s);
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
    linger_for_alert(c);
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
    const struct bbs_conn *c = gnutls_transport_get_ptr(s);

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
void bbs_tls_session_setup(struct MHD_Connection *mc, struct bbs_conn *c)
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
