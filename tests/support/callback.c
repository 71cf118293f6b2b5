/*
 * callback.c - the recording completion-callback stand-in (see callback.h).
 */
#include "support/callback.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/certs.h"
#include "support/http.h"
#include "support/internal.h"
#include "support/recv.h"
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

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    struct it_cb *cb = cls;
    int more = it_recv_gather(con_cls, upload_data, upload_data_size);
    const struct it_recv_conn *rc = *con_cls;
    struct it_cb_call c;
    const char *v;
    unsigned status;
    int stall = 0;

    (void)version;
    if (more >= 0) {
        return (enum MHD_Result)more;
    }
    memset(&c, 0, sizeof(c));
    memcpy(c.body, rc->body, rc->len);
    c.body_len = rc->len;
    snprintf(c.method, sizeof(c.method), "%s", method);
    snprintf(c.path, sizeof(c.path), "%s", url);
    v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    snprintf(c.content_type, sizeof(c.content_type), "%s", v != NULL ? v : "");
    c.has_trace = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Vcap-Request-Id") != NULL;
    it_recv_peer(conn, &c.verified, c.cn, sizeof(c.cn));
    pthread_mutex_lock(&cb->mu);
    if (cb->n_calls < MAX_CALLS) {
        cb->calls[cb->n_calls++] = c;
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
    if (cb->tls && !c.verified) {
        status = MHD_HTTP_FORBIDDEN;
    }
    return it_recv_answer(conn, status);
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
    int port = 0;
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
    cb->d = it_recv_start(flags, handler, cb, tls ? cb->pem_cert : NULL, cb->pem_key, cb->pem_ca,
                          &port);
    if (cb->d == NULL) {
        fprintf(stderr, "it_cb_start: cannot start the callback stand-in\n");
        it_cb_stop(cb);
        return NULL;
    }
    snprintf(cb->url, sizeof(cb->url), "%s://127.0.0.1:%d", tls ? "https" : "http", port);
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
