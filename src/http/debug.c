/*
 * debug.c - the debug server (http.h; reference-2 13.3): plain HTTP on
 * debug_address, one polling thread, no TLS and no authentication (bind it
 * to loopback, as BOSH does with 127.0.0.1:17017). It runs on a standby
 * too.
 *
 * POST (any method) /log-level with the body debug/DEBUG/d/0,
 * info/INFO/i/1, error/ERROR/e/2 or fatal/FATAL/f/3 sets the minimum log
 * level at run time; any other body changes nothing; the answer is always
 * 200 with an empty body, as upstream's debugserver. Every other path is
 * 404: Go's pprof profiles have no honest C equivalent here (see
 * docs/operations.md, "Debug server").
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "bbs/http.h"
#include "bbs/log.h"
#include "bbs/xalloc.h"
#include "server.h"

/* A level name longer than this is no level: the rest of the body is not kept. */
#define DEBUG_BODY_MAX 16

struct bbs_debug {
    struct MHD_Daemon *daemon;
};

struct debug_req {
    char body[DEBUG_BODY_MAX + 1];
    size_t len;
    int overflow;
};

int bbs_debug_log_level(const char *body, size_t len)
{
    static const char *const names[4][4] = {
        {"debug", "DEBUG", "d", "0"},
        {"info", "INFO", "i", "1"},
        {"error", "ERROR", "e", "2"},
        {"fatal", "FATAL", "f", "3"},
    };

    for (int level = 0; level < 4; level++) {
        for (int i = 0; i < 4; i++) {
            if (strlen(names[level][i]) == len && memcmp(names[level][i], body, len) == 0) {
                return level;
            }
        }
    }
    return -1;
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *text)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret;

    if (resp == NULL) {
        return MHD_NO;
    }
    if (text[0] != '\0') {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    }
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_debug(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **con_cls)
{
    struct debug_req *r = *con_cls;
    int level;

    (void)cls;
    (void)method;
    (void)version;
    if (r == NULL) {
        *con_cls = bbs_xcalloc(1, sizeof(*r));
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;

        if (r->len + n > DEBUG_BODY_MAX) {
            r->overflow = 1;
        } else {
            memcpy(r->body + r->len, upload_data, n);
            r->len += n;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/log-level") != 0) {
        return answer(conn, MHD_HTTP_NOT_FOUND, "404 page not found\n");
    }
    level = r->overflow ? -1 : bbs_debug_log_level(r->body, r->len);
    if (level >= 0) {
        /* Logged before and after the change, so the line shows at either level. */
        bbs_log(BBS_LOG_INFO, "debug-server.log-level", "{s:i}", "log_level", level);
        bbs_log_set_level((enum bbs_log_level)level);
    }
    return answer(conn, MHD_HTTP_OK, "");
}

static void on_debug_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

struct bbs_debug *bbs_debug_start(const struct bbs_config *cfg, int listen_fd,
                                  struct bbs_error *err)
{
    struct bbs_debug *d = bbs_xcalloc(1, sizeof(*d));

    d->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, on_debug, NULL, MHD_OPTION_EXTERNAL_LOGGER, bbs_http_mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd, MHD_OPTION_NOTIFY_COMPLETED, on_debug_done,
        NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)16, MHD_OPTION_END);
    if (d->daemon == NULL) {
        bbs_error_setf(err, BBS_ERR_UNKNOWN, "cannot listen on debug_address %s",
                       cfg->debug_address);
        /* Taken on failure too (http.h): libmicrohttpd leaves it open when it refuses it. */
        close(listen_fd);
        free(d);
        return NULL;
    }
    return d;
}

void bbs_debug_stop(struct bbs_debug *d)
{
    if (d == NULL) {
        return;
    }
    MHD_stop_daemon(d->daemon);
    free(d);
}
