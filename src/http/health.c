/*
 * health.c - the health listener (http.h): plain HTTP on health_address,
 * one polling thread, 200 with an empty body for any path and method
 * (reference 1.1), so process monitors need no certificate; and GET
 * /metrics, the Prometheus text of the metrics object (metrics.h).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "bbs/http.h"
#include "bbs/xalloc.h"
#include "server.h"

struct bbs_health {
    struct MHD_Daemon *daemon;
    struct bbs_metrics *metrics; /* NULL: /metrics is an empty 200 like any path */
    atomic_int leader;           /* X-BBS-Role: leader / standby (lead.h) */
};

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
    /* One polling thread, a few connections, short timeouts: monitors only. */
    hl->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, on_health, hl, MHD_OPTION_EXTERNAL_LOGGER, bbs_http_mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)10, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)8192, MHD_OPTION_END);
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
