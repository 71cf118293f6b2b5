/*
 * rep.c - the recording stand-in rep (see rep.h).
 */
#include "support/rep.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/certs.h"
#include "support/internal.h"
#include "support/recv.h"
#include "support/util.h"

#define MAX_CALLS 256

static struct {
    struct MHD_Daemon *d;
    int port;
    char url[64];
    struct it_certs certs;
    char *pem_cert, *pem_key, *pem_ca;
    pthread_mutex_t mu;
    struct it_rep_call *calls; /* MAX_CALLS */
    size_t n_calls;
    unsigned status;
} rep = {.mu = PTHREAD_MUTEX_INITIALIZER, .status = 202};

static void header(struct MHD_Connection *conn, const char *name, char *out, size_t cap)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);

    snprintf(out, cap, "%s", v != NULL ? v : "");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    int more = it_recv_gather(con_cls, upload_data, upload_data_size);
    const struct it_recv_conn *rc = *con_cls;
    struct it_rep_call c;
    const char *cl;
    unsigned status;

    (void)cls;
    (void)version;
    if (more >= 0) {
        return (enum MHD_Result)more;
    }
    memset(&c, 0, sizeof(c));
    snprintf(c.method, sizeof(c.method), "%s", method);
    snprintf(c.path, sizeof(c.path), "%s", url);
    header(conn, "X-Vcap-Request-Id", c.trace_id, sizeof(c.trace_id));
    header(conn, MHD_HTTP_HEADER_CONTENT_TYPE, c.content_type, sizeof(c.content_type));
    cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    c.has_content_length = cl != NULL;
    c.content_length = cl != NULL ? atol(cl) : -1;
    memcpy(c.body, rc->body, rc->len < sizeof(c.body) - 1 ? rc->len : sizeof(c.body) - 1);
    it_recv_peer(conn, &c.verified, c.cn, sizeof(c.cn));
    pthread_mutex_lock(&rep.mu);
    if (rep.n_calls < MAX_CALLS) {
        rep.calls[rep.n_calls++] = c;
    }
    status = rep.status;
    pthread_mutex_unlock(&rep.mu);
    /* A rep behind mutual TLS: no verified client certificate, no service. */
    if (!c.verified) {
        status = MHD_HTTP_FORBIDDEN;
    }
    return it_recv_answer(conn, status);
}

static char *path(const char *file)
{
    static char buf[4][300];
    static int i;
    char *out = buf[i++ % 4];

    it_certs_path(&rep.certs, file, out, sizeof(buf[0]));
    return out;
}

int it_rep_start(void)
{
    struct it_certs *c = &rep.certs;

    if (it_certs_init(c, "bbs-it-rep") != 0 || it_certs_make_ca(c, "rep-ca") != 0 ||
        it_certs_make_key(c, "rep.key") != 0 || it_certs_make_key(c, "bbs-client.key") != 0 ||
        it_certs_issue(c, "rep", "rep.key", "rep-ca", "server", NULL) != 0 ||
        it_certs_issue(c, "bbs-client", "bbs-client.key", "rep-ca", "client", NULL) != 0) {
        return -1;
    }
    rep.pem_cert = it_read_file(path("rep.pem"), NULL);
    rep.pem_key = it_read_file(path("rep.key"), NULL);
    rep.pem_ca = it_read_file(path("rep-ca.pem"), NULL);
    rep.calls = calloc(MAX_CALLS, sizeof(*rep.calls));
    if (rep.pem_cert == NULL || rep.pem_key == NULL || rep.pem_ca == NULL || rep.calls == NULL) {
        fprintf(stderr, "it_rep_start: cannot read the certificates\n");
        return -1;
    }
    rep.d = it_recv_start(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, handler, NULL,
                          rep.pem_cert, rep.pem_key, rep.pem_ca, &rep.port);
    if (rep.d == NULL) {
        fprintf(stderr, "it_rep_start: cannot start the stand-in rep\n");
        return -1;
    }
    snprintf(rep.url, sizeof(rep.url), "https://127.0.0.1:%d", rep.port);
    return rep.port > 0 ? 0 : -1;
}

void it_rep_stop(void)
{
    if (rep.d != NULL) {
        MHD_stop_daemon(rep.d);
        rep.d = NULL;
    }
    it_certs_remove(&rep.certs);
    free(rep.pem_cert);
    free(rep.pem_key);
    free(rep.pem_ca);
    free(rep.calls);
    rep.pem_cert = rep.pem_key = rep.pem_ca = NULL;
    rep.calls = NULL;
    rep.n_calls = 0;
}

const char *it_rep_url(void)
{
    return rep.url;
}

json_t *it_rep_server_config(void)
{
    return json_pack("{s:s, s:s, s:s, s:b}", "rep_ca_cert", path("rep-ca.pem"), "rep_client_cert",
                     path("bbs-client.pem"), "rep_client_key", path("bbs-client.key"),
                     "rep_require_tls", 1);
}

void it_rep_set_status(unsigned status)
{
    pthread_mutex_lock(&rep.mu);
    rep.status = status;
    pthread_mutex_unlock(&rep.mu);
}

static size_t matching(const char *prefix, struct it_rep_call *out, size_t cap)
{
    size_t n = 0;

    pthread_mutex_lock(&rep.mu);
    for (size_t i = 0; i < rep.n_calls; i++) {
        if (strncmp(rep.calls[i].path, prefix, strlen(prefix)) != 0) {
            continue;
        }
        if (out != NULL && n < cap) {
            out[n] = rep.calls[i];
        }
        n++;
    }
    pthread_mutex_unlock(&rep.mu);
    return n;
}

size_t it_rep_count(const char *prefix)
{
    return matching(prefix, NULL, 0);
}

size_t it_rep_wait(const char *prefix, size_t n, int timeout_ms, struct it_rep_call *out,
                   size_t cap)
{
    int64_t until = it_mono_ms() + timeout_ms;
    size_t got;

    while (matching(prefix, NULL, 0) < n && it_mono_ms() < until) {
        it_sleep_ms(10);
    }
    got = matching(prefix, out, cap);
    return got;
}
