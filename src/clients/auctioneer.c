/*
 * auctioneer.c - the auctioneer client (see auction.h; reference 9.1 and
 * 11.5.2): builds the JSON bodies and hands them to the outbox.
 *
 * bbs_auction_request() encodes the body at once (so nothing the caller
 * passed is needed after it returns) and queues one POST on the outbox,
 * which sends it without the caller waiting. A full queue drops the
 * request with an error line rather than blocking an API handler:
 * convergence re-auctions whatever was not placed. Retries are upstream's
 * (auctioneer/client.go): none, except that with a client TLS identity a
 * transport failure over https:// is repeated once over http:// unless
 * auctioneer_require_tls is set (the outbox does it).
 */
#include "bbs/auction.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/buf.h"
#include "bbs/gojson.h"
#include "bbs/log.h"
#include "bbs/xalloc.h"

struct bbs_auction {
    struct bbs_outbox *outbox; /* borrowed */
    char *lrps_url;            /* "{address}/v1/lrps"; NULL when disabled */
    char *tasks_url;           /* "{address}/v1/tasks" */
    int64_t timeout_ns;
};

/* NULL becomes "" so a missing string never loses the whole element. */
static json_t *auction_string(const char *s)
{
    return json_string(s != NULL ? s : "");
}

/* NULL array = JSON null, as Go encodes a nil slice. */
static json_t *auction_strings(const char *const *v, size_t n)
{
    json_t *arr;

    if (v == NULL) {
        return json_null();
    }
    arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++) {
        if (json_array_append_new(arr, auction_string(v[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

static json_t *auction_indices(const int32_t *v, size_t n)
{
    json_t *arr;

    if (v == NULL) {
        return json_null();
    }
    arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++) {
        if (json_array_append_new(arr, json_integer(v[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

/*
 * One element, keys in upstream's order and spelling. json_object_set_new
 * consumes its value even on failure, so a NULL value (invalid UTF-8, out
 * of memory) only has to be noticed, not freed.
 */
static json_t *auction_start_json(const struct bbs_auction_start *s)
{
    json_t *obj = json_object();
    int bad = obj == NULL;

    bad = bad || json_object_set_new(obj, "process_guid", auction_string(s->process_guid)) != 0;
    bad = bad || json_object_set_new(obj, "domain", auction_string(s->domain)) != 0;
    bad =
        bad || json_object_set_new(obj, "indices", auction_indices(s->indices, s->n_indices)) != 0;
    bad = bad || json_object_set_new(obj, "PlacementTags",
                                     auction_strings(s->placement_tags, s->n_placement_tags)) != 0;
    bad = bad || json_object_set_new(obj, "VolumeDrivers",
                                     auction_strings(s->volume_drivers, s->n_volume_drivers)) != 0;
    bad = bad || json_object_set_new(obj, "RootFs", auction_string(s->root_fs)) != 0;
    bad = bad || json_object_set_new(obj, "MemoryMB", json_integer(s->memory_mb)) != 0;
    bad = bad || json_object_set_new(obj, "DiskMB", json_integer(s->disk_mb)) != 0;
    bad = bad || json_object_set_new(obj, "MaxPids", json_integer(s->max_pids)) != 0;
    if (bad) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

char *bbs_auction_body(const struct bbs_auction_start *starts, size_t n)
{
    json_t *arr = json_array();
    char *text = NULL;

    if (arr == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(arr, auction_start_json(&starts[i])) != 0) {
            goto out;
        }
    }
    text = json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER);

out:
    json_decref(arr);
    return text;
}

static char *auction_url(const char *address, size_t len, const char *path)
{
    size_t plen = strlen(path);
    char *url = bbs_xmalloc(len + plen + 1);

    memcpy(url, address, len);
    memcpy(url + len, path, plen + 1);
    return url;
}

struct bbs_auction *bbs_auction_new(struct bbs_outbox *outbox, const char *address,
                                    int64_t timeout_ns)
{
    struct bbs_auction *a = bbs_xcalloc(1, sizeof(*a));
    size_t len;

    a->outbox = outbox;
    a->timeout_ns = timeout_ns;
    if (outbox == NULL || address == NULL || address[0] == '\0') {
        return a; /* disabled; main says so at start-up */
    }
    len = strlen(address);
    while (len > 0 && address[len - 1] == '/') {
        len--;
    }
    a->lrps_url = auction_url(address, len, "/v1/lrps");
    a->tasks_url = auction_url(address, len, "/v1/tasks");
    return a;
}

/* One POST of a JSON array to `url` (upstream's headers: auctioneer/client.go doRequest). */
static void auction_post(struct bbs_auction *a, const char *url, const char *body, size_t n,
                         const char *trace_id,
                         void (*done)(void *arg, const struct bbs_outbox_result *r), void *done_arg)
{
    char trace[320];
    const char *headers[3];
    struct bbs_outbox_request req = {0};
    size_t i;

    /* A trace id becomes a header line: refuse anything that could end it. */
    for (i = 0; trace_id != NULL && trace_id[i] != '\0' && i < 256; i++) {
        unsigned char c = (unsigned char)trace_id[i];
        if (c < 0x20 || c == 0x7f) {
            break;
        }
    }
    if (trace_id == NULL || trace_id[i] != '\0') {
        trace_id = "";
    }
    /*
     * "Name;" is curl's way to send a header with an empty value; "Name:"
     * would remove it. Upstream sends the header even without a trace id.
     */
    if (trace_id[0] == '\0') {
        snprintf(trace, sizeof(trace), "X-Vcap-Request-Id;");
    } else {
        snprintf(trace, sizeof(trace), "X-Vcap-Request-Id: %s", trace_id);
    }
    headers[0] = "Content-Type: application/json";
    headers[1] = trace;
    headers[2] = "Expect:"; /* no waiting for a 100-continue on larger bodies */

    req.kind = BBS_OUTBOX_AUCTIONEER;
    req.method = "POST";
    req.url = url;
    req.body = body;
    req.body_len = strlen(body);
    req.headers = headers;
    req.n_headers = 3;
    req.timeout_ns = a->timeout_ns;
    req.expect_status = 202;
    req.retry = BBS_OUTBOX_RETRY_HTTP_FALLBACK;
    req.log_name = "auction";
    req.items = n;
    req.trace_id = trace_id;
    req.done = done;
    req.done_arg = done_arg;
    (void)bbs_outbox_send(a->outbox, &req); /* a drop is logged and counted there */
}

/* A caller waiting for its POST: the outbox calls done exactly once. */
struct auction_waiter {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int finished;
};

static void auction_waiter_done(void *arg, const struct bbs_outbox_result *r)
{
    struct auction_waiter *w = arg;

    (void)r; /* failures are logged and counted by the outbox */
    pthread_mutex_lock(&w->mu);
    w->finished = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

/* POST `body` to `url`; with `wait`, return once the outbox is done with it. */
static void auction_post_maybe_wait(struct bbs_auction *a, const char *url, const char *body,
                                    size_t n, const char *trace_id, int wait)
{
    struct auction_waiter w;

    if (!wait) {
        auction_post(a, url, body, n, trace_id, NULL, NULL);
        return;
    }
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cond, NULL);
    w.finished = 0;
    auction_post(a, url, body, n, trace_id, auction_waiter_done, &w);
    /* Bounded by the outbox: its attempts time out, and shutdown drops what is left. */
    pthread_mutex_lock(&w.mu);
    while (!w.finished) {
        pthread_cond_wait(&w.cond, &w.mu);
    }
    pthread_mutex_unlock(&w.mu);
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.mu);
}

static void auction_lrps(struct bbs_auction *a, const struct bbs_auction_start *starts, size_t n,
                         const char *trace_id, int wait)
{
    char *body = NULL;

    if (a == NULL || n == 0) {
        return;
    }
    if (a->lrps_url == NULL) {
        bbs_log(BBS_LOG_DEBUG, "auction.disabled-dropped", "{s:I}", "starts", (json_int_t)n);
        return;
    }
    body = bbs_auction_body(starts, n);
    if (body == NULL) {
        bbs_log(BBS_LOG_ERROR, "auction.request-dropped", "{s:s, s:I, s:s}", "reason",
                "cannot encode the body (a string is not UTF-8)", "starts", (json_int_t)n,
                "trace_id", trace_id != NULL ? trace_id : "");
        return;
    }
    auction_post_maybe_wait(a, a->lrps_url, body, n, trace_id, wait);
    free(body);
}

/* A Go []string: null for nil, else the elements. */
static void task_strings(struct bbs_buf *b, const char *const *v, size_t n, int nil_is_null)
{
    if (nil_is_null && (v == NULL || n == 0)) {
        bbs_buf_printf(b, "null");
        return;
    }
    bbs_buf_putc(b, '[');
    for (size_t i = 0; v != NULL && i < n; i++) {
        if (i > 0) {
            bbs_buf_putc(b, ',');
        }
        bbs_gojson_string(b, v[i]);
    }
    bbs_buf_putc(b, ']');
}

char *bbs_auction_task_body(const struct bbs_task_start *starts, size_t n, size_t *len)
{
    struct bbs_buf b = {0};
    size_t with_nul;

    bbs_buf_putc(&b, '[');
    for (size_t i = 0; i < n; i++) {
        const struct bbs_task_start *t = &starts[i];

        bbs_buf_printf(&b, "%s{\"TaskGuid\":", i > 0 ? "," : "");
        bbs_gojson_string(&b, t->task_guid);
        bbs_buf_printf(&b, ",\"Domain\":");
        bbs_gojson_string(&b, t->domain);
        /* The definition's slice as decoded: nil (null) when empty. */
        bbs_buf_printf(&b, ",\"PlacementTags\":");
        task_strings(&b, t->placement_tags, t->n_placement_tags, 1);
        /* Built with make([]string, 0) upstream: never null. */
        bbs_buf_printf(&b, ",\"VolumeDrivers\":");
        task_strings(&b, t->volume_drivers, t->n_volume_drivers, 0);
        bbs_buf_printf(&b, ",\"RootFs\":");
        bbs_gojson_string(&b, t->root_fs);
        bbs_buf_printf(&b,
                       ",\"MemoryMB\":%d,\"DiskMB\":%d,\"MaxPids\":%d,\"state\":\"Invalid\","
                       "\"failed\":false}",
                       (int)t->memory_mb, (int)t->disk_mb, (int)t->max_pids);
    }
    bbs_buf_putc(&b, ']');
    if (len != NULL) {
        *len = b.len;
    }
    bbs_buf_putc(&b, '\0');
    return (char *)bbs_buf_take(&b, &with_nul);
}

void bbs_auction_request_task_starts(struct bbs_auction *a, const struct bbs_task_start *starts,
                                     size_t n, const char *trace_id, int wait)
{
    char *body = NULL;

    if (a == NULL || n == 0) {
        return;
    }
    if (a->tasks_url == NULL) {
        bbs_log(BBS_LOG_DEBUG, "auction.disabled-dropped", "{s:I}", "tasks", (json_int_t)n);
        return;
    }
    body = bbs_auction_task_body(starts, n, NULL);
    auction_post_maybe_wait(a, a->tasks_url, body, n, trace_id, wait);
    free(body);
}

void bbs_auction_request(struct bbs_auction *a, const struct bbs_auction_start *starts, size_t n,
                         const char *trace_id)
{
    auction_lrps(a, starts, n, trace_id, 0);
}

void bbs_auction_request_wait(struct bbs_auction *a, const struct bbs_auction_start *starts,
                              size_t n, const char *trace_id)
{
    auction_lrps(a, starts, n, trace_id, 1);
}

void bbs_auction_request_tasks(struct bbs_auction *a, const char *body, size_t n,
                               const char *trace_id)
{
    if (a == NULL || n == 0 || body == NULL) {
        return;
    }
    if (a->tasks_url == NULL) {
        bbs_log(BBS_LOG_DEBUG, "auction.disabled-dropped", "{s:I}", "tasks", (json_int_t)n);
        return;
    }
    auction_post(a, a->tasks_url, body, n, trace_id, NULL, NULL);
}

void bbs_auction_free(struct bbs_auction *a)
{
    if (a == NULL) {
        return;
    }
    free(a->lrps_url);
    free(a->tasks_url);
    free(a);
}
