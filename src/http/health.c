/*
 * health.c - the health listener (http.h): plain HTTP on health_address,
 * a thread per connection, 200 with an empty body for any path and method
 * (reference 1.1), so process monitors need no certificate; and GET
 * /metrics, the Prometheus text of the metrics object (metrics.h); GET
 * /v1/discover, /v1/diagnostics and /v1/stats, the operator JSON of
 * h_diag.c, so that a standby answers them too.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "bbs/http.h"
#include "bbs/xalloc.h"
#include "diag.h"
#include "server.h"

struct bbs_health {
    struct MHD_Daemon *daemon;
    struct bbs_metrics *metrics; /* NULL: /metrics is an empty 200 like any path */
    pthread_mutex_t mu;          /* guards ctx, held while a diagnostics answer uses it */
    struct bbs_ctx *ctx;         /* NULL until start-up made it (bbs_health_set_ctx) */
    atomic_int leader;           /* X-BBS-Role: leader / standby (lead.h) */
};

#define JSON_TYPE "application/json"

/* GET /v1/discover, /v1/diagnostics, /v1/stats (diag.h); MHD_NO when `url` is none of them. */
static enum MHD_Result diag_page(struct bbs_health *hl, const char *url,
                                 struct MHD_Connection *conn)
{
    struct bbs_buf b = {0};
    struct MHD_Response *resp;
    enum MHD_Result ret;
    size_t len = 0;
    uint8_t *data;
    int found;

    pthread_mutex_lock(&hl->mu);
    found = bbs_diag_answer(url, hl->ctx, &b);
    pthread_mutex_unlock(&hl->mu);
    if (!found) {
        return MHD_NO;
    }
    data = bbs_buf_take(&b, &len);
    resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, JSON_TYPE);
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

static int is_diag_path(const char *url)
{
    return strcmp(url, "/v1/discover") == 0 || strcmp(url, "/v1/diagnostics") == 0 ||
           strcmp(url, "/v1/stats") == 0;
}

void bbs_health_set_leader(struct bbs_health *hl, int leader)
{
    if (hl != NULL) {
        atomic_store(&hl->leader, leader);
    }
}

#define PROMETHEUS_TYPE "text/plain; version=0.0.4; charset=utf-8"

static enum MHD_Result metrics_page(struct bbs_metrics *m, struct MHD_Connection *conn)
{
    struct bbs_buf b = {0};
    struct MHD_Response *resp;
    enum MHD_Result ret;
    size_t len = 0;
    uint8_t *data;

    bbs_metrics_prometheus(m, &b);
    data = bbs_buf_take(&b, &len);
    resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, PROMETHEUS_TYPE);
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* 200 with an empty body for any path and method (reference 1.1); the body is never read. */
static enum MHD_Result on_health(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    static char seen;
    struct bbs_health *hl = cls;
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void)version;
    (void)upload_data;
    if (*con_cls == NULL) {
        *con_cls = &seen;
        if (hl->metrics != NULL && strcmp(url, "/metrics") == 0 &&
            (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)) {
            return metrics_page(hl->metrics, conn);
        }
        if (strcmp(method, "GET") == 0 && is_diag_path(url)) {
            return diag_page(hl, url, conn);
        }
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (resp == NULL) {
            return MHD_NO;
        }
        /* Leader or standby: 200 either way (monitors see the process alive). */
        MHD_add_response_header(resp, "X-BBS-Role",
                                atomic_load(&hl->leader) ? "leader" : "standby");
        ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    *upload_data_size = 0;
    return MHD_YES;
}

struct bbs_health *bbs_health_start(const struct bbs_config *cfg, int listen_fd,
                                    struct bbs_metrics *metrics, struct bbs_error *err)
{
    struct bbs_health *hl = bbs_xcalloc(1, sizeof(*hl));

    hl->metrics = metrics;
    pthread_mutex_init(&hl->mu, NULL);
    /* A thread per connection (at most 64), short timeouts: a diagnostics answer that takes
     * seconds (its checks' timeouts) never holds a monitor's probe on another connection. */
    hl->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                      MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG,
                                  0, NULL, NULL, on_health, hl, MHD_OPTION_EXTERNAL_LOGGER,
                                  bbs_http_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET,
                                  (MHD_socket)listen_fd, MHD_OPTION_CONNECTION_TIMEOUT,
                                  (unsigned)10, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                                  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)8192, MHD_OPTION_END);
    if (hl->daemon == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "cannot listen on health_address %s",
                       cfg->health_address);
        pthread_mutex_destroy(&hl->mu);
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
    pthread_mutex_destroy(&hl->mu);
    free(hl);
}

void bbs_health_set_ctx(struct bbs_health *hl, struct bbs_ctx *ctx)
{
    if (hl == NULL) {
        return;
    }
    pthread_mutex_lock(&hl->mu);
    hl->ctx = ctx;
    pthread_mutex_unlock(&hl->mu);
}
