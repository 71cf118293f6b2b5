/*
 * callback.c - the recording completion-callback stand-in (see callback.h).
 */
#include "support/callback.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "support/certs.h"
#include "support/http.h"
#include "support/internal.h"
#include "support/util.h"

#define MAX_CALLS  256
#define MAX_SCRIPT 32

struct it_cb {
    struct MHD_Daemon *d;
    int tls;
    char url[64];
    struct it_certs certs;
    char *pem_cert, *pem_key, *pem_ca;
    pthread_mutex_t mu;
    struct it_cb_call *calls;
    size_t n_calls;
    unsigned script[MAX_SCRIPT];
    size_t n_script;
    unsigned status;
    int stall_ms;
    size_t stall_left;
};

struct cb_conn {
    struct it_cb_call c;
};

static void identity(struct MHD_Connection *conn, struct it_cb_call *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    const gnutls_datum_t *chain;
    unsigned int n = 0, status = 1;
    gnutls_x509_crt_t crt;
    size_t len = sizeof(c->cn);

    if (ci == NULL || ci->tls_session == NULL) {
        return;
    }
    chain = gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n);
    if (chain == NULL || n == 0) {
        return;
    }
    c->verified =
        gnutls_certificate_verify_peers2((gnutls_session_t)ci->tls_session, &status) == 0 &&
        status == 0;
    if (gnutls_x509_crt_init(&crt) != 0) {
        return;
    }
    if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) == 0) {
        gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, c->cn, &len);
    }
    gnutls_x509_crt_deinit(crt);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    struct it_cb *cb = cls;
    struct cb_conn *cc = *con_cls;
    struct MHD_Response *r;
    const char *v;
    unsigned status;
    int stall = 0;
    enum MHD_Result ret;

    (void)version;
    if (cc == NULL) {
        cc = calloc(1, sizeof(*cc));
        *con_cls = cc;
        return cc != NULL ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size > 0) {
        size_t room = sizeof(cc->c.body) - 1 - cc->c.body_len;
        size_t n = *upload_data_size < room ? *upload_data_size : room;

        memcpy(cc->c.body + cc->c.body_len, upload_data, n);
        cc->c.body_len += n;
        *upload_data_size = 0;
        return MHD_YES;
    }
    snprintf(cc->c.method, sizeof(cc->c.method), "%s", method);
    snprintf(cc->c.path, sizeof(cc->c.path), "%s", url);
    v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    snprintf(cc->c.content_type, sizeof(cc->c.content_type), "%s", v != NULL ? v : "");
    cc->c.has_trace =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Vcap-Request-Id") != NULL;
    identity(conn, &cc->c);
    pthread_mutex_lock(&cb->mu);
    if (cb->n_calls < MAX_CALLS) {
        cb->calls[cb->n_calls++] = cc->c;
    }
    if (cb->n_script > 0) {
        status = cb->script[0];
        memmove(cb->script, cb->script + 1, (cb->n_script - 1) * sizeof(cb->script[0]));
        cb->n_script--;
    } else {
        status = cb->status;
    }
    if (cb->stall_left > 0) {
        cb->stall_left--;
        stall = cb->stall_ms;
    }
    pthread_mutex_unlock(&cb->mu);
    if (stall > 0) {
        it_sleep_ms(stall);
    }
    if (cb->tls && !cc->c.verified) {
        status = MHD_HTTP_FORBIDDEN;
    }
    r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

static const char *cert_path(const struct it_cb *cb, const char *file, char *out, size_t cap)
{
    it_certs_path(&cb->certs, file, out, cap);
    return out;
}

static int make_certs(struct it_cb *cb)
{
    struct it_certs *c = &cb->certs;
    char p[300];

    if (it_certs_init(c, "bbs-it-cb") != 0 || it_certs_make_ca(c, "cb-ca") != 0 ||
        it_certs_make_key(c, "cb.key") != 0 || it_certs_make_key(c, "bbs.key") != 0 ||
        it_certs_make_key(c, "client.key") != 0 ||
        it_certs_issue(c, "cb", "cb.key", "cb-ca", "server", NULL) != 0 ||
        /* The BBS's server certificate, presented as the callback's client one. */
        it_certs_issue(c, "bbs", "bbs.key", "cb-ca", "server", NULL) != 0 ||
        it_certs_issue(c, "client", "client.key", "cb-ca", "client", NULL) != 0) {
        return -1;
    }
    cb->pem_cert = it_read_file(cert_path(cb, "cb.pem", p, sizeof(p)), NULL);
    cb->pem_key = it_read_file(cert_path(cb, "cb.key", p, sizeof(p)), NULL);
    cb->pem_ca = it_read_file(cert_path(cb, "cb-ca.pem", p, sizeof(p)), NULL);
    if (cb->pem_cert == NULL || cb->pem_key == NULL || cb->pem_ca == NULL) {
        fprintf(stderr, "it_cb_start: cannot read the certificates\n");
        return -1;
    }
    return 0;
}

struct it_cb *it_cb_start(int tls)
{
    struct it_cb *cb = calloc(1, sizeof(*cb));
    struct sockaddr_in a = {0};
    const union MHD_DaemonInfo *info;
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;

    if (cb == NULL) {
        return NULL;
    }
    pthread_mutex_init(&cb->mu, NULL);
    cb->tls = tls;
    cb->status = 200;
    cb->calls = calloc(MAX_CALLS, sizeof(*cb->calls));
    if (cb->calls == NULL || (tls && make_certs(cb) != 0)) {
        it_cb_stop(cb);
        return NULL;
    }
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (tls) {
        /* With a trust list libmicrohttpd asks every client for its certificate. */
        cb->d =
            MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, handler, cb, MHD_OPTION_SOCK_ADDR,
                             (struct sockaddr *)&a, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                             MHD_OPTION_HTTPS_MEM_CERT, cb->pem_cert, MHD_OPTION_HTTPS_MEM_KEY,
                             cb->pem_key, MHD_OPTION_HTTPS_MEM_TRUST, cb->pem_ca, MHD_OPTION_END);
    } else {
        cb->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, cb, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&a, MHD_OPTION_NOTIFY_COMPLETED, completed,
                                 NULL, MHD_OPTION_END);
    }
    if (cb->d == NULL) {
        fprintf(stderr, "it_cb_start: cannot start the callback stand-in\n");
        it_cb_stop(cb);
        return NULL;
    }
    info = MHD_get_daemon_info(cb->d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(cb->url, sizeof(cb->url), "%s://127.0.0.1:%d", tls ? "https" : "http",
             info != NULL ? info->port : 0);
    return cb;
}

void it_cb_stop(struct it_cb *cb)
{
    if (cb == NULL) {
        return;
    }
    if (cb->d != NULL) {
        MHD_stop_daemon(cb->d);
    }
    it_certs_remove(&cb->certs);
    free(cb->pem_cert);
    free(cb->pem_key);
    free(cb->pem_ca);
    free(cb->calls);
    pthread_mutex_destroy(&cb->mu);
    free(cb);
}

const char *it_cb_url(const struct it_cb *cb)
{
    return cb->url;
}

json_t *it_cb_server_config(const struct it_cb *cb)
{
    char ca[300], cert[300], key[300];

    return json_pack("{s:b, s:s, s:s, s:s}", "require_ssl", 1, "ca_file",
                     cert_path(cb, "cb-ca.pem", ca, sizeof(ca)), "cert_file",
                     cert_path(cb, "bbs.pem", cert, sizeof(cert)), "key_file",
                     cert_path(cb, "bbs.key", key, sizeof(key)));
}

void it_cb_tls_client(const struct it_cb *cb)
{
    char ca[300], cert[300], key[300];

    it_tls_client(cert_path(cb, "cb-ca.pem", ca, sizeof(ca)),
                  cert_path(cb, "client.pem", cert, sizeof(cert)),
                  cert_path(cb, "client.key", key, sizeof(key)));
}

void it_cb_script(struct it_cb *cb, const unsigned *statuses, size_t n)
{
    pthread_mutex_lock(&cb->mu);
    for (size_t i = 0; i < n && cb->n_script < MAX_SCRIPT; i++) {
        cb->script[cb->n_script++] = statuses[i];
    }
    pthread_mutex_unlock(&cb->mu);
}

void it_cb_set_status(struct it_cb *cb, unsigned status)
{
    pthread_mutex_lock(&cb->mu);
    cb->status = status;
    pthread_mutex_unlock(&cb->mu);
}

void it_cb_stall(struct it_cb *cb, int ms, size_t count)
{
    pthread_mutex_lock(&cb->mu);
    cb->stall_ms = ms;
    cb->stall_left = count;
    pthread_mutex_unlock(&cb->mu);
}

static size_t matching(struct it_cb *cb, const char *prefix, struct it_cb_call *out, size_t cap)
{
    size_t n = 0;

    pthread_mutex_lock(&cb->mu);
    for (size_t i = 0; i < cb->n_calls; i++) {
        if (strncmp(cb->calls[i].path, prefix, strlen(prefix)) != 0) {
            continue;
        }
        if (out != NULL && n < cap) {
            out[n] = cb->calls[i];
        }
        n++;
    }
    pthread_mutex_unlock(&cb->mu);
    return n;
}

size_t it_cb_count(struct it_cb *cb, const char *prefix)
{
    return matching(cb, prefix, NULL, 0);
}

size_t it_cb_wait(struct it_cb *cb, const char *prefix, size_t n, int timeout_ms,
                  struct it_cb_call *out, size_t cap)
{
    int64_t until = it_mono_ms() + timeout_ms;

    while (matching(cb, prefix, NULL, 0) < n && it_mono_ms() < until) {
        it_sleep_ms(10);
    }
    return matching(cb, prefix, out, cap);
}
