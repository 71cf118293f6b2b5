/*
 * auctioneer.c - see auctioneer.h. libmicrohttpd with its internal
 * polling thread: the handler records each valid body under a mutex, the
 * test thread reads copies.
 */
#include "support/auctioneer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>

#include "support/internal.h"
#include "support/util.h"

static struct {
    pthread_mutex_t mu;
    json_t *posts; /* array of arrays: every valid POST body, in arrival order */
    size_t bad;
    /* POSTs to /v1/tasks: {"body": raw text, "starts": array, "trace": header or null} */
    json_t *task_posts;
    struct MHD_Daemon *daemon;
    int port;
} as = {.mu = PTHREAD_MUTEX_INITIALIZER};

struct auct_conn {
    struct it_buf body;
};

static enum MHD_Result auct_respond(struct MHD_Connection *conn, unsigned int status)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* A task auction (11.5.2): kept with its raw bytes and its X-Vcap-Request-Id header. */
static int auct_record_tasks(const char *url, const char *method, const char *ctype,
                             const char *trace, const struct it_buf *body)
{
    json_error_t jerr;
    json_t *doc = NULL;
    json_t *post;

    if (strcmp(url, "/v1/tasks") != 0) {
        return 0;
    }
    if (strcmp(method, "POST") == 0 && ctype != NULL &&
        strncmp(ctype, "application/json", 16) == 0 && body->data != NULL) {
        doc = json_loadb((const char *)body->data, body->len, 0, &jerr);
    }
    pthread_mutex_lock(&as.mu);
    if (doc != NULL && json_is_array(doc)) {
        post = json_pack("{s:s%, s:O, s:s?}", "body", (const char *)body->data, body->len, "starts",
                         doc, "trace", trace);
        json_array_append_new(as.task_posts, post);
    } else {
        as.bad++;
    }
    pthread_mutex_unlock(&as.mu);
    json_decref(doc);
    return 1;
}

static void auct_record(const char *url, const char *method, const char *ctype,
                        const struct it_buf *body)
{
    json_error_t jerr;
    json_t *doc = NULL;
    int ok = strcmp(url, "/v1/lrps") == 0 && strcmp(method, "POST") == 0 && ctype != NULL &&
             strncmp(ctype, "application/json", 16) == 0;

    if (ok && body->data != NULL) {
        doc = json_loadb((const char *)body->data, body->len, 0, &jerr);
    }
    pthread_mutex_lock(&as.mu);
    if (doc != NULL && json_is_array(doc)) {
        json_array_append(as.posts, doc);
    } else {
        as.bad++;
    }
    pthread_mutex_unlock(&as.mu);
    json_decref(doc);
}

static enum MHD_Result auct_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls)
{
    struct auct_conn *c = *con_cls;
    (void)cls;
    (void)version;

    if (c == NULL) {
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            return MHD_NO;
        }
        *con_cls = c;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        it_buf_append(&c->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (auct_record_tasks(
            url, method,
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Vcap-Request-Id"), &c->body)) {
        return auct_respond(conn, MHD_HTTP_ACCEPTED);
    }
    auct_record(url, method,
                MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
                &c->body);
    return auct_respond(conn,
                        strcmp(url, "/v1/lrps") == 0 ? MHD_HTTP_ACCEPTED : MHD_HTTP_NOT_FOUND);
}

static void auct_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
    struct auct_conn *c = *con_cls;
    (void)cls;
    (void)conn;
    (void)toe;
    if (c != NULL) {
        free(c->body.data);
        free(c);
        *con_cls = NULL;
    }
}

int it_auct_start(void)
{
    struct sockaddr_in a;
    const union MHD_DaemonInfo *info;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    as.posts = json_array();
    as.task_posts = json_array();
    as.bad = 0;
    as.daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                                 auct_handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
                                 MHD_OPTION_NOTIFY_COMPLETED, auct_completed, NULL,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_END);
    if (as.daemon == NULL) {
        fprintf(stderr, "harness: cannot start the stub auctioneer\n");
        return -1;
    }
    info = MHD_get_daemon_info(as.daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0) {
        fprintf(stderr, "harness: stub auctioneer has no port\n");
        return -1;
    }
    as.port = info->port;
    return 0;
}

void it_auct_stop(void)
{
    if (as.daemon != NULL) {
        MHD_stop_daemon(as.daemon);
        as.daemon = NULL;
    }
    json_decref(as.posts);
    as.posts = NULL;
    json_decref(as.task_posts);
    as.task_posts = NULL;
}

static json_t *auct_collect(const char *guid, size_t *posts_out)
{
    json_t *out = json_array();
    size_t i, j, posts = 0;
    json_t *post, *el;

    pthread_mutex_lock(&as.mu);
    json_array_foreach(as.posts, i, post)
    {
        int hit = 0;
        json_array_foreach(post, j, el)
        {
            const char *pg = json_string_value(json_object_get(el, "process_guid"));
            if (pg != NULL && strcmp(pg, guid) == 0) {
                json_array_append_new(out, json_deep_copy(el));
                hit = 1;
            }
        }
        posts += (size_t)hit;
    }
    pthread_mutex_unlock(&as.mu);
    if (posts_out != NULL) {
        *posts_out = posts;
    }
    return out;
}

json_t *it_auction_starts(const char *guid)
{
    return auct_collect(guid, NULL);
}

json_t *it_auction_wait(const char *guid, size_t n, int timeout_ms)
{
    int64_t deadline = it_mono_ms() + timeout_ms;
    for (;;) {
        json_t *got = auct_collect(guid, NULL);
        if (json_array_size(got) >= n || it_mono_ms() >= deadline) {
            return got;
        }
        json_decref(got);
        it_sleep_ms(20);
    }
}

size_t it_auction_posts_for(const char *guid)
{
    size_t posts = 0;
    json_decref(auct_collect(guid, &posts));
    return posts;
}

size_t it_auction_bad_requests(void)
{
    size_t bad;
    pthread_mutex_lock(&as.mu);
    bad = as.bad;
    pthread_mutex_unlock(&as.mu);
    return bad;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

size_t it_auction_indices(const json_t *start, int32_t *out, size_t cap)
{
    const json_t *arr = json_object_get(start, "indices");
    size_t i, n = 0;
    json_t *v;

    json_array_foreach(arr, i, v)
    {
        if (n < cap) {
            out[n++] = (int32_t)json_integer_value(v);
        }
    }
    qsort(out, n, sizeof(out[0]), cmp_i32);
    return n;
}

int it_auct_port(void)
{
    return as.port;
}

/* The task POSTs with an element whose TaskGuid is `guid` (copies, arrival order). */
json_t *it_auction_task_posts(const char *guid)
{
    json_t *out = json_array();
    size_t i, j;
    json_t *post, *el;

    pthread_mutex_lock(&as.mu);
    json_array_foreach(as.task_posts, i, post)
    {
        json_array_foreach(json_object_get(post, "starts"), j, el)
        {
            const char *g = json_string_value(json_object_get(el, "TaskGuid"));

            if (g != NULL && strcmp(g, guid) == 0) {
                json_array_append_new(out, json_deep_copy(post));
                break;
            }
        }
    }
    pthread_mutex_unlock(&as.mu);
    return out;
}

json_t *it_auction_task_wait(const char *guid, size_t n, int timeout_ms)
{
    int64_t deadline = it_mono_ms() + timeout_ms;

    for (;;) {
        json_t *got = it_auction_task_posts(guid);

        if (json_array_size(got) >= n || it_mono_ms() >= deadline) {
            return got;
        }
        json_decref(got);
        it_sleep_ms(20);
    }
}
