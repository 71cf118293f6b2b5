/*
 * auction.c - auctioneer client (see auction.h; reference 9.1).
 *
 * bbs_auction_request() encodes the body at once (so nothing the caller
 * passed is needed after it returns) and appends it to a bounded queue.
 * One thread owns one curl easy handle, so connections to the auctioneer
 * are kept alive between POSTs, and sends them in order. A full queue
 * drops the request with an error line rather than blocking an API
 * handler: convergence re-auctions whatever was not placed.
 *
 * Not done here: TLS client certificates (the header has no TLS settings
 * yet) and retries (upstream does not retry either).
 */
#include "bbs/auction.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bbs/log.h"

#define AUCTION_QUEUE_MAX 10000
/* How long bbs_auction_free() lets queued POSTs go on before dropping them. */
#define AUCTION_DRAIN_NS INT64_C(2000000000)
/* Used when timeout_ns is not positive: upstream's communication timeout. */
#define AUCTION_DEFAULT_TIMEOUT_NS INT64_C(10000000000)

struct auction_job {
    struct auction_job *next;
    char *body;     /* JSON array, NUL-terminated */
    char *trace_id; /* "" when none */
    size_t n_starts;
};

struct bbs_auction {
    char *url; /* "{address}/v1/lrps"; NULL when disabled (no thread) */
    long timeout_ms;
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;  /* signalled on enqueue and on stop */
    struct auction_job *head;
    struct auction_job *tail;
    size_t len;
    int stopping;
    int64_t deadline_ns; /* CLOCK_MONOTONIC; meaningful once stopping */
    pthread_t thread;
};

static pthread_once_t auction_once = PTHREAD_ONCE_INIT;

__attribute__((noreturn)) static void auction_oom(void)
{
    bbs_log(BBS_LOG_FATAL, "auction.out-of-memory", NULL);
    abort();
}

static int64_t auction_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

/* curl_global_init is not thread-safe: exactly once, before any handle. */
static void auction_global_init(void)
{
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

    if (rc != CURLE_OK) {
        /* The thread's curl_easy_init() will then fail and drop requests. */
        bbs_log(BBS_LOG_ERROR, "auction.curl-init-failed", "{s:s}", "error",
                curl_easy_strerror(rc));
    }
}

static void auction_job_free(struct auction_job *job)
{
    if (job == NULL) {
        return;
    }
    free(job->body);
    free(job->trace_id);
    free(job);
}

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

static size_t auction_discard(char *data, size_t size, size_t nmemb, void *user)
{
    (void)data;
    (void)user;
    return size * nmemb;
}

/* Abort an in-flight POST once the shutdown drain time is over. */
static int auction_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                            curl_off_t ulnow)
{
    struct bbs_auction *a = user;
    int late;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    pthread_mutex_lock(&a->mu);
    late = a->stopping && auction_now_ns() >= a->deadline_ns;
    pthread_mutex_unlock(&a->mu);
    return late;
}

static void auction_post(struct bbs_auction *a, CURL *curl, const struct auction_job *job)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    struct curl_slist *h;
    char trace[320];
    long status = 0;
    CURLcode rc;

    /*
     * "Name;" is curl's way to send a header with an empty value; "Name:"
     * would remove it. Upstream sends the header even without a trace id.
     */
    if (job->trace_id[0] == '\0') {
        snprintf(trace, sizeof(trace), "X-Vcap-Request-Id;");
    } else {
        snprintf(trace, sizeof(trace), "X-Vcap-Request-Id: %s", job->trace_id);
    }
    /* "Expect:" stops curl waiting for a 100-continue on larger bodies. */
    const char *lines[] = {"Content-Type: application/json", trace, "Expect:"};
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        h = curl_slist_append(headers, lines[i]);
        if (h == NULL) {
            auction_oom();
        }
        headers = h;
    }

    curl_easy_reset(curl); /* keeps the connection cache */
    curl_easy_setopt(curl, CURLOPT_URL, a->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM in a threaded server */
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, job->body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(job->body));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, a->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, auction_discard);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, auction_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, a);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);

    rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    }
    if (rc != CURLE_OK) {
        bbs_log(BBS_LOG_ERROR, "auction.request-failed", "{s:s, s:I, s:s, s:s}", "url", a->url,
                "starts", (json_int_t)job->n_starts, "trace_id", job->trace_id, "error",
                errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
    } else if (status != 202) {
        bbs_log(BBS_LOG_ERROR, "auction.request-failed", "{s:s, s:I, s:s, s:I}", "url", a->url,
                "starts", (json_int_t)job->n_starts, "trace_id", job->trace_id, "status",
                (json_int_t)status);
    } else {
        bbs_log(BBS_LOG_DEBUG, "auction.requested", "{s:I, s:s}", "starts",
                (json_int_t)job->n_starts, "trace_id", job->trace_id);
    }
    /* The handle keeps pointers to these until the next reset. */
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(headers);
}

static void *auction_main(void *arg)
{
    struct bbs_auction *a = arg;
    CURL *curl = curl_easy_init();
    struct auction_job *job;
    size_t dropped_posts = 0;
    size_t dropped_starts = 0;
    int late;

    if (curl == NULL) {
        bbs_log(BBS_LOG_ERROR, "auction.curl-init-failed", "{s:s}", "error",
                "curl_easy_init returned NULL; dropping every request");
    }
    for (;;) {
        pthread_mutex_lock(&a->mu);
        while (a->head == NULL && !a->stopping) {
            pthread_cond_wait(&a->cv, &a->mu);
        }
        job = a->head;
        if (job != NULL) {
            a->head = job->next;
            if (a->head == NULL) {
                a->tail = NULL;
            }
            a->len--;
        }
        late = a->stopping && auction_now_ns() >= a->deadline_ns;
        pthread_mutex_unlock(&a->mu);

        if (job == NULL) {
            break; /* stopping and drained */
        }
        if (late || curl == NULL) {
            /* Counted and logged once below: a full queue would be 10000 lines. */
            dropped_posts++;
            dropped_starts += job->n_starts;
        } else {
            auction_post(a, curl, job);
        }
        auction_job_free(job);
    }
    if (dropped_posts > 0) {
        bbs_log(BBS_LOG_ERROR, "auction.dropped", "{s:I, s:I, s:s}", "posts",
                (json_int_t)dropped_posts, "starts", (json_int_t)dropped_starts, "reason",
                curl == NULL ? "no curl handle" : "shutdown drain time over");
    }
    curl_easy_cleanup(curl);
    return NULL;
}

struct bbs_auction *bbs_auction_new(const char *address, int64_t timeout_ns)
{
    struct bbs_auction *a = calloc(1, sizeof(*a));
    size_t len;
    int rc;

    if (a == NULL) {
        auction_oom();
    }
    if (timeout_ns <= 0) {
        timeout_ns = AUCTION_DEFAULT_TIMEOUT_NS;
    }
    /* Round up: a sub-millisecond timeout must not become 0 (= none). */
    a->timeout_ms = (long)((timeout_ns + 999999) / 1000000);
    if (pthread_mutex_init(&a->mu, NULL) != 0 || pthread_cond_init(&a->cv, NULL) != 0) {
        auction_oom();
    }
    if (address == NULL || address[0] == '\0') {
        return a; /* disabled; main says so at start-up */
    }

    len = strlen(address);
    while (len > 0 && address[len - 1] == '/') {
        len--;
    }
    a->url = malloc(len + sizeof("/v1/lrps"));
    if (a->url == NULL) {
        auction_oom();
    }
    memcpy(a->url, address, len);
    memcpy(a->url + len, "/v1/lrps", sizeof("/v1/lrps"));

    pthread_once(&auction_once, auction_global_init);
    rc = pthread_create(&a->thread, NULL, auction_main, a);
    if (rc != 0) {
        /* Like out of memory: the process cannot do its job without it. */
        bbs_log(BBS_LOG_FATAL, "auction.thread-create-failed", "{s:s}", "error", strerror(rc));
        abort();
    }
    return a;
}

void bbs_auction_request(struct bbs_auction *a, const struct bbs_auction_start *starts, size_t n,
                         const char *trace_id)
{
    struct auction_job *job = NULL;
    const char *why = NULL;
    size_t i;

    if (a == NULL || n == 0) {
        return;
    }
    if (a->url == NULL) {
        bbs_log(BBS_LOG_DEBUG, "auction.disabled-dropped", "{s:I}", "starts", (json_int_t)n);
        return;
    }

    job = calloc(1, sizeof(*job));
    if (job == NULL) {
        auction_oom();
    }
    job->n_starts = n;
    job->body = bbs_auction_body(starts, n);
    if (job->body == NULL) {
        why = "cannot encode the body (a string is not UTF-8)";
        goto out;
    }
    /* A trace id becomes a header line: refuse anything that could end it. */
    for (i = 0; trace_id != NULL && trace_id[i] != '\0' && i < 256; i++) {
        unsigned char c = (unsigned char)trace_id[i];
        if (c < 0x20 || c == 0x7f) {
            break;
        }
    }
    job->trace_id = strdup(trace_id != NULL && trace_id[i] == '\0' ? trace_id : "");
    if (job->trace_id == NULL) {
        auction_oom();
    }

    pthread_mutex_lock(&a->mu);
    if (a->stopping) {
        why = "client is shutting down";
    } else if (a->len >= AUCTION_QUEUE_MAX) {
        why = "queue full";
    } else {
        if (a->tail != NULL) {
            a->tail->next = job;
        } else {
            a->head = job;
        }
        a->tail = job;
        a->len++;
        job = NULL; /* the queue owns it now */
        pthread_cond_signal(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);

out:
    if (why != NULL) {
        bbs_log(BBS_LOG_ERROR, "auction.request-dropped", "{s:s, s:I, s:s}", "reason", why,
                "starts", (json_int_t)n, "trace_id",
                job != NULL && job->trace_id != NULL ? job->trace_id : "");
    }
    auction_job_free(job);
}

void bbs_auction_free(struct bbs_auction *a)
{
    struct auction_job *job;

    if (a == NULL) {
        return;
    }
    if (a->url != NULL) {
        pthread_mutex_lock(&a->mu);
        a->stopping = 1;
        a->deadline_ns = auction_now_ns() + AUCTION_DRAIN_NS;
        pthread_cond_broadcast(&a->cv);
        pthread_mutex_unlock(&a->mu);
        /*
         * Bounded: past the deadline the thread drops what is queued, and
         * the progress callback aborts an in-flight POST (curl calls it at
         * least about once a second).
         */
        pthread_join(a->thread, NULL);
    }
    while ((job = a->head) != NULL) {
        a->head = job->next;
        auction_job_free(job);
    }
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a->url);
    free(a);
}
